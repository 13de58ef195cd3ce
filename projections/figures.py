"""What a balance report shows for one grant: plain values, no database types."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

from ledger.money import ZERO, percent, percent_sql
from projections.measures import available, available_in, column

# The money columns of a balance, in the order reports show them.
MEASURES = (
    "approved",
    "subsidy_received",
    "subsidy_spent",
    "matching_committed",
    "matching_received",
    "matching_spent",
    "subsidy_recovered",
    "subsidy_disposed",
    "matching_disposed",
)


class Balance(NamedTuple):
    base_id: str
    grant_id: str
    base_name: str
    programme: str
    status: str
    approved: Decimal
    subsidy_received: Decimal
    subsidy_spent: Decimal
    matching_committed: Decimal
    matching_received: Decimal
    matching_spent: Decimal
    subsidy_recovered: Decimal = Decimal("0.00")
    subsidy_disposed: Decimal = Decimal("0.00")
    matching_disposed: Decimal = Decimal("0.00")
    district: str | None = None  # its unit's 行政区划代码 (ledger.district), if recorded

    @property
    def subsidy_available(self) -> Decimal:
        """Received less spent (net of reversals), recovered (returned on order) and disposed of."""
        return available_in(self._asdict(), "subsidy", ZERO)

    @property
    def matching_available(self) -> Decimal:
        return available_in(self._asdict(), "matching", ZERO)

    @property
    def execution_rate(self) -> Decimal | None:
        """Spent ÷ received, both fund sources together; None before any money arrives."""
        return execution_rate(
            self.subsidy_spent + self.matching_spent, self.subsidy_received + self.matching_received
        )


def execution_rate(spent: Decimal | int, received: Decimal | int) -> Decimal | None:
    """A balance's execution rate: what was spent ÷ what was received, in percent; None before any
    money arrives."""
    return None if received == 0 else percent(spent, received)


def derived_fen(amounts: Sequence[int]) -> tuple[int, int, Decimal | None]:
    """A balance's subsidy and matching available (in fen) and its execution rate, from its
    ``MEASURES`` in fen, in order: the ``Balance`` properties' figures without making one."""
    subsidy = available(*[0 if i is None else amounts[i] for i in _HELD_AT["subsidy"]])
    matching = available(*[0 if i is None else amounts[i] for i in _HELD_AT["matching"]])
    spent, received = _RATE_AT
    return (
        subsidy,
        matching,
        execution_rate(sum(amounts[i] for i in spent), sum(amounts[i] for i in received)),
    )


def derived_sql(named: Sequence[str]) -> tuple[str, str, str]:
    """``derived_fen`` as SQL expressions of the ``MEASURES`` columns, ``named`` in order (each an
    SQL expression of whole fen): subsidy and matching available in fen, and the execution rate's
    hundredths of a percent (NULL before any money arrives, as ``percent_sql`` gives it)."""

    # each figure's sign in ``available``, read off the function itself
    signs = [available(*(int(j == i) for j in range(5))) for i in range(5)]

    def held(source: str) -> str:
        terms = [
            f"{'+' if sign > 0 else '-'} {named[i]}"
            for i, sign in zip(_HELD_AT[source], signs, strict=True)
            if i is not None
        ]
        return "(0 " + " ".join(terms) + ")"

    spent, received = (" + ".join(named[i] for i in at) for at in _RATE_AT)
    return held("subsidy"), held("matching"), percent_sql(f"({spent})", f"({received})")


def _held_at(source: str) -> tuple[int | None, ...]:
    """Where in ``MEASURES`` stands each figure ``available`` takes of ``source`` (None: zero), as
    ``available_in`` reads them by name."""
    names = (
        [column(m, source) for m in ("received", "spent")]
        + [None]
        + [column(m, source) for m in ("recovered", "disposed")]
    )
    return tuple(None if name is None else MEASURES.index(name) for name in names)


_HELD_AT = {source: _held_at(source) for source in ("subsidy", "matching")}
_RATE_AT = tuple(
    tuple(MEASURES.index(f"{source}_{measure}") for source in ("subsidy", "matching"))
    for measure in ("spent", "received")
)
