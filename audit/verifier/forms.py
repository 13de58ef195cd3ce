"""How each sheet of report.xlsx is laid out, for ``audit export`` and ``audit verify`` alike:
format 3 files the sheets a person reads (title, 编制单位 / 报表日期 / 单位：元, Chinese header on
row 4, a 合计 row) and gives the event log widths and a frozen header; format 2 bundles (still
read) have the header on row 1 and nothing else.

编制单位 is the ledger's trust root (the administrator its people registry was founded with) and
报表日期 the bundle's as-of date, else the business date of its last event: both follow from the
events, so the verifier derives every cell of the head again."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from audit.verifier import layout
from audit.verifier.xlsx import LEGACY, Form

EVENT_LOG_FORM = Form(widths=layout.EVENT_LOG_WIDTHS, frozen=True, printed=True)
_MIN_WIDTH, _MAX_WIDTH = 8, 120  # a finding's message, a key's fingerprint: shown whole


def event_log_form(fmt: int = layout.FORMAT) -> Form:
    return EVENT_LOG_FORM if fmt >= 3 else LEGACY


def headers(name: str, fmt: int = layout.FORMAT) -> list[str]:
    """The header row of a sheet a person reads, in the bundle's format."""
    if fmt >= 3:
        return list(layout.FILED[name].headers)
    return {
        layout.BALANCES_SHEET: layout.BALANCE_HEADERS,
        layout.SPENDING_SHEET: layout.SPENDING_HEADERS,
        layout.FINDINGS_SHEET: layout.FINDINGS_HEADERS,
        layout.ACTIVITY_SHEET: layout.ACTIVITY_HEADERS,
        layout.REGISTRY_SHEET: layout.REGISTRY_HEADERS,
    }[name]


def _shown(value: Any, amount: bool) -> str:
    if value is None:
        return ""
    if amount and isinstance(value, Decimal | int):
        return f"¥{value:,.2f}"
    if isinstance(value, date):
        return "2024-12-31"
    return str(value)


def fitted(
    header: Sequence[str], rows: Iterable[Sequence[Any]], amounts: Iterable[int] = ()
) -> tuple[int, ...]:
    """Column widths that show the header and every value (a CJK character is two columns wide)."""
    money = frozenset(amounts)
    widths = [layout.display_width(h) + 2 for h in header]
    for row in rows:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], layout.display_width(_shown(value, i in money)) + 2)
    return tuple(min(_MAX_WIDTH, max(_MIN_WIDTH, w)) for w in widths)


def filed(
    name: str,
    root: str | None,
    report_date: str,
    total: Sequence[Any],
    widths: tuple[int, ...] = (),
) -> Form:
    """The form of a sheet a person reads, with its 合计 row ``total``."""
    sheet = layout.FILED[name]
    width = len(sheet.headers)
    return Form(
        title=sheet.title,
        heading=tuple(layout.heading(width, root, report_date)),
        total=tuple(total),
        widths=widths or sheet.widths,
        frozen=True,
    )


AMOUNTS = {layout.BALANCES_SHEET: tuple(range(4, 15)), layout.SPENDING_SHEET: (9,)}


def total_of(name: str, rows: list[list[Any]]) -> list[Any]:
    """The 合计 row of a sheet held whole: amounts added up, or the events counted, or the rows."""
    width = len(layout.FILED[name].headers)
    if name == layout.BALANCES_SHEET:
        return layout.sum_total(width, rows, AMOUNTS[name])
    if name == layout.ACTIVITY_SHEET:
        return layout.sum_total(width, rows, (4,), zero=0)
    return layout.count_total(width, len(rows))
