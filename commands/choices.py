"""Options that take a code the ledger stores (``--source subsidy``, ``--status approved``,
``--role officer``) take its name too, in Chinese or English (``--source 财政补助``): the one
list of names is ``ledger.labels``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click


class Named(click.Choice):
    """One of ``choices``, typed as the code or as its name (``ledger.labels``, kind ``kind``)."""

    def __init__(self, kind: str, choices: Sequence[str]) -> None:
        super().__init__(list(choices))
        self.kind = kind

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            from ledger.labels import code_of

            code = code_of(self.kind, value)
            if code is not None and code in self.choices:
                return code
        return super().convert(value, param, ctx)


def named(kind: str) -> Any:
    """A callback for an option whose codes the policy holds (a programme, a construction
    content): the code a name stands for, or the text as typed (the ledger judges it)."""

    def to_code(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if not value:
            return value
        from ledger.labels import code_of

        return code_of(kind, value) or value

    return to_code
