"""The audit side's errors: one base, so the command line maps every one of them to one sentence
and its documented exit code (6, verification failed, unless a subclass says otherwise)."""

from __future__ import annotations


class AuditError(Exception):
    exit_code = 6

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
