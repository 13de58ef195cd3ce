"""Rendering rows as a terminal table (aligned by display width), JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ledger.money import format_yuan


def display_width(text: str) -> int:
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
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [display_width(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], display_width(c))

    def line(values: Sequence[str]) -> str:
        parts = []
        for i, v in enumerate(values):
            pad = " " * (widths[i] - display_width(v))
            parts.append(pad + v if i in numeric else v + pad)
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])


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
