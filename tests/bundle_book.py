"""Reading the audit bundle's balances sheet as a test wants it: one dict per grant, keyed by the
machine names of its columns (audit/verifier/layout.py), the title, header and 合计 rows left out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.verifier import layout


def bundle_balances(bundle: Path) -> list[dict[str, Any]]:
    from openpyxl import load_workbook

    book = load_workbook(bundle / "report.xlsx", read_only=True)
    try:
        rows = list(book[layout.BALANCES_SHEET].iter_rows(min_row=layout.HEADER_ROW, values_only=True))
    finally:
        book.close()
    header, *body = rows
    assert list(header) == list(layout.FILED[layout.BALANCES_SHEET].headers)
    assert body and body[-1][0] == layout.TOTAL_LABEL, "the 合计 row closes the sheet"
    return [dict(zip(layout.BALANCE_HEADERS, row, strict=True)) for row in body[:-1]]
