"""Errors the ledger raises, each with the exit code the command line documents.

0 done (also: already recorded); 2 bad input; 3 refused by a rule; 4 not found;
5 conflict; 6 verification failed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.i18n import Text


class LedgerError(Exception):
    """Base class: one clear sentence for the user, and an exit code."""

    exit_code = 1

    def __init__(self, message: str | Text) -> None:
        message = str(message)  # a Text: in the language of the command that raises it
        super().__init__(message)
        self.message = message


class BadInputError(LedgerError):
    exit_code = 2


class RuleViolationError(LedgerError):
    """A rule of the policy refused the command; ``rule`` and ``clause`` name it."""

    exit_code = 3

    def __init__(self, message: str | Text, *, rule: str, clause: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.clause = clause

    def __reduce__(self) -> tuple[object, ...]:  # pickled across the import's two processes
        return (_rule_violation, (type(self), self.message, self.rule, self.clause))


class NotFoundError(LedgerError):
    exit_code = 4


class ConflictError(LedgerError):
    exit_code = 5


class ReversedVoucherError(ConflictError):
    """A spend of a voucher its grant has reversed. ``repeat``: with the very details recorded
    then, which an import of the history that also holds the reversal repeats harmlessly."""

    def __init__(self, message: str | Text, *, grant_id: str, voucher: str, repeat: bool) -> None:
        super().__init__(message)
        self.grant_id = grant_id
        self.voucher = voucher
        self.repeat = repeat


class VerificationError(LedgerError):
    exit_code = 6


class StorageError(LedgerError):
    """The database could not be used (locked, read-only, newer schema...)."""

    exit_code = 5


def _rule_violation(
    cls: type[RuleViolationError], message: str, rule: str, clause: str
) -> RuleViolationError:
    return cls(message, rule=rule, clause=clause)


def is_storage_error(error: BaseException) -> bool:
    """Whether ``error`` is the database's or the system's (SQLAlchemy, the event store, the file
    system): a storage error, exit 5, where the command line meets it. A library not loaded has
    raised none, and is not loaded to tell (the error path of a command that never used it)."""
    kinds: list[type[BaseException]] = [OSError]
    if "sqlalchemy.exc" in sys.modules:
        from sqlalchemy.exc import SQLAlchemyError

        kinds.append(SQLAlchemyError)
    if "eventsourcing.persistence" in sys.modules:
        from eventsourcing.persistence import PersistenceError

        kinds.append(PersistenceError)
    return isinstance(error, tuple(kinds))


def unreachable_database(error: BaseException) -> bool:
    """A PostgreSQL server that could not be reached or refused the connection (down, no such
    database, a wrong password): no ledger there to act on, exit 4 (as for a SQLite file that is
    not there). psycopg words every such failure so, whatever language the server speaks."""
    orig = getattr(error, "orig", None) or error
    if not type(orig).__module__.startswith("psycopg") or getattr(orig, "sqlstate", None) is not None:
        return False
    return str(orig).lstrip().startswith(("connection failed", "connection to server"))
