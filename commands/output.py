"""Rendering rows as a terminal table (aligned by display width), JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ledger.money import format_yuan


def display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cell(value: Any) -> str:
    if isinstance(value, Decimal):
        return format_yuan(value)
    if value is None:
        return ""
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: set[int] | None = None) -> str:
    numeric = (
        numeric
        if numeric is not None
        else {i for i in range(len(headers)) if rows and all(isinstance(r[i], Decimal) for r in rows)}
    )
    cells = [[(c, display_width(c)) for c in map(_cell, row)] for row in rows]
    head = [(h, display_width(h)) for h in headers]
    widths = [w for _, w in head]
    for row in cells:
        for i, (_, w) in enumerate(row):
            if w > widths[i]:
                widths[i] = w

    def line(values: Sequence[tuple[str, int]]) -> str:
        parts = []
        for i, (v, w) in enumerate(values):
            pad = " " * (widths[i] - w)
            parts.append(pad + v if i in numeric else v + pad)
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *(line(r) for r in cells)])


def json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def to_json(records: Sequence[dict[str, Any]]) -> str:
    return json.dumps(
        [{k: json_value(v) for k, v in r.items()} for r in records], ensure_ascii=False, indent=2
    )


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([f"{v:.2f}" if isinstance(v, Decimal) else json_value(v) for v in row])
    return buffer.getvalue()


YUAN_FORMAT = '"¥"#,##0.00'


def to_xlsx(path: Any, sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]]) -> None:
    """A real workbook: one sheet per table, header row frozen, amounts as numbers in yuan format."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    if book.active is not None:
        book.remove(book.active)
    for title, headers, rows in sheets:
        sheet = book.create_sheet(title=title[:31])
        sheet.append(list(headers))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        widths = [display_width(str(h)) for h in headers]
        for row in rows:
            values: list[Any] = []
            for value in row:
                if isinstance(value, Decimal):
                    values.append(value.quantize(Decimal("0.01")))
                elif value is None:
                    values.append(None)
                elif isinstance(value, datetime):
                    values.append(value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value)
                elif isinstance(value, int | float | str | date):
                    values.append(value)
                else:
                    values.append(str(value))
            sheet.append(values)
            cells = sheet[sheet.max_row]
            for i, value in enumerate(row):
                if isinstance(value, Decimal):
                    cells[i].number_format = YUAN_FORMAT
                elif hasattr(value, "isoformat") and not isinstance(value, str):
                    cells[i].number_format = (
                        "yyyy-mm-dd" if len(value.isoformat()) == 10 else "yyyy-mm-dd hh:mm:ss"
                    )
                if i < len(widths):
                    widths[i] = max(widths[i], display_width(_cell(value)))
        for i, width in enumerate(widths):
            sheet.column_dimensions[_column_letter(i + 1)].width = min(width + 2, 60)
    book.save(path)


def _column_letter(n: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(n))
