"""The 合计 row of a money report: one definition for the terminal table, the csv and the workbook.

Money columns are summed to the fen, counts summed, and a rate recomputed from the totals by the
report's own formula (a sum or an average of rates means nothing); every other column is blank but
the first blank one, which carries the label. JSON never has one: machines add up for themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any, NamedTuple

from ledger.money import percent

LABEL = {"zh": "合计", "en": "total"}


class Totals(NamedTuple):
    """What a report's 合计 row adds up, by its column keys: ``sums`` (money, to the fen, a
    missing figure counting as none), ``counts``, and ``rates`` (key -> the keys of its part and
    of its whole: the rate of the summed part over the summed whole, None over a whole of zero);
    ``paired``: rates whose part is summed over the rows that hold their whole only (spending on
    lines outside a plan is no part of the plan's execution)."""

    sums: tuple[str, ...]
    counts: tuple[str, ...] = ()
    rates: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = MappingProxyType({})
    paired: tuple[str, ...] = ()


def total_row(totals: Totals, keys: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Any]:
    """The figures of the 合计 row under ``rows`` (columns as ``keys``), unlabelled: a report
    showing some of its columns labels the first of those it shows blank (``labelled``)."""
    at = {key: i for i, key in enumerate(keys)}

    def summed(key: str, among: Sequence[Sequence[Any]] = rows) -> Decimal:
        i = at[key]
        return sum((row[i] for row in among if row[i] is not None), Decimal("0.00"))

    row: list[Any] = [None] * len(keys)
    for key in totals.sums:
        if key in at:
            row[at[key]] = summed(key)
    for key in totals.counts:
        if key in at:
            row[at[key]] = sum(row_[at[key]] or 0 for row_ in rows)
    for key, (part, whole) in totals.rates.items():
        if key in at:
            over = sum((summed(k) for k in whole), Decimal(0))
            among = (
                [r for r in rows if all(r[at[k]] is not None for k in whole)]
                if key in totals.paired
                else rows
            )
            done = sum((summed(k, among) for k in part), Decimal(0))
            row[at[key]] = None if over == 0 else percent(done, over)
    return row


def labelled(row: Sequence[Any], label: str) -> list[Any]:
    """``row`` with ``label`` in its first blank column (none if every column holds a figure)."""
    out = list(row)
    blank = next((i for i, value in enumerate(out) if value is None), None)
    if blank is not None:
        out[blank] = label
    return out
