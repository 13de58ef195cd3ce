"""Report workbooks a finance office can file: a title, 编制单位 / 报表日期 / 单位：元, a header
repeated on every printed page, amounts in yuan, rates as percentages, dates as dates, a 合计 row,
widths that fit, A4 landscape one page wide, and a chart where a person would rather look.

Values only, never a formula: a total is written as the figure it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import copy
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from audit.verifier.ooxml_text import escape_ooxml
from commands.chart import Chart
from commands.output import (
    YUAN_FORMAT,
    display_width,
    not_xml_text,
    replacing,
    save_book,
    unsaved_sheets_closed,
)
from ledger.errors import BadInputError
from ledger.text import EXCEL_ERRORS, FORMULA_STARTS

PERCENT_FORMAT = "0.00%"
DATE_FORMAT = "yyyy-mm-dd"
HEADER_ROW = 4  # title, 编制单位 line, a blank line, then the header
# columns whose Decimal is a rate in percent (57.62 means 57.62%), by the report's key
PERCENT_KEYS = frozenset(
    {"execution_rate", "of_received", "of_approved", "committed_pct", "received_pct", "elapsed", "rate"}
)
# Decimal columns that are neither money nor a rate, or that a total would make no sense of
PLAIN_KEYS = frozenset({"ratio"})
A4 = "9"  # the paper size code of A4 in SpreadsheetML
MAX_CHART_ROWS = 60  # more bars than this are unreadable on a page
MAX_WIDTH = 60  # a column's width at most; longer text (a finding's message) wraps within it
_PLAIN = (str, bool, int)  # style settings keyed by value; the others (fonts, borders) by identity


WORDS = {
    "zh": {"org": "编制单位：", "date": "报表日期：", "unit": "单位：元",
           "too_many": "图表：基地多于{n}个，从略（见数据）", "period": "报表期间：{0} 至 {1}"},
    "en": {"org": "Prepared by: ", "date": "Report date: ", "unit": "Unit: yuan",
           "too_many": "chart: more than {n} bases, left out (see the data)",
           "period": "Period: {0} to {1}"},
}  # fmt: skip


def _value(key: str, value: Any) -> tuple[Any, str | None]:
    """A report value as the cell stores it, with its number format."""
    if isinstance(value, Decimal):
        if key in PERCENT_KEYS:
            return float(value / 100), PERCENT_FORMAT
        if key in PLAIN_KEYS:
            return float(value), "0.##"
        return value.quantize(Decimal("0.01")), YUAN_FORMAT
    if isinstance(value, datetime):
        return value.replace(tzinfo=None), "yyyy-mm-dd hh:mm:ss"
    if isinstance(value, date):
        return value, DATE_FORMAT
    return value, None


def _shown(value: Any, fmt: str | None) -> str:
    if fmt == PERCENT_FORMAT:
        return f"{value:.2%}"
    if fmt == YUAN_FORMAT:
        return f"¥{value:,.2f}"
    if fmt == DATE_FORMAT:
        return "2024-12-31"
    return "" if value is None else str(value)


def _cell(cell: StyledCells, box: Any, column: int, key: str, value: Any, **style: Any) -> Any:
    stored, fmt = _value(key, value)
    if isinstance(stored, str):
        stored = escape_ooxml(stored)
    if isinstance(stored, str) and (stored[:1] in FORMULA_STARTS or stored in EXCEL_ERRORS):
        c = cell.column(column, stored, border=box, quotePrefix=True, **style)
        c.data_type = "s"  # text as typed, never a formula or an error value
        return c
    if fmt is not None:
        return cell.column(column, stored, border=box, number_format=fmt, **style)
    return cell.column(column, stored, border=box, **style)


def _style_key(style: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((name, s if s.__class__ in _PLAIN else id(s)) for name, s in style.items())


def _placed(cells: Sequence[Any], row: int) -> Any:
    for column, c in enumerate(cells, 1):
        if c is not None:
            c.column, c.row = column, row
            yield c


class StyledCells:
    """Write-only cells of one sheet, styled by keyword (``font=…, border=…, number_format=…``).
    openpyxl looks each style set on a cell up in the workbook's lists by its hash, which it
    computes afresh over every field each time: half the time of a 1M-event report's workbook.
    Cells styled alike take a copy of the first one's style indexes instead (openpyxl's own way
    of copying a style), keyed by the settings' values where they are plain and by the very
    objects otherwise (the callers reuse their fonts and borders); the settings are kept, so
    their ids are not reused while the sheet is written. A cell openpyxl formats by its value
    (a time, a duration) has the settings set on it, as before."""

    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet
        self._styles: dict[tuple[tuple[str, Any], ...], tuple[Any, dict[str, Any]]] = {}
        self._columns: dict[tuple[Any, ...], Any] = {}
        # openpyxl's write-only sheet first tries each appended value as a plain value, and a
        # cell fails that with an exception whose message holds the cell's repr: a fifth of a
        # report's workbook. Every value appended here is one of these cells or None.
        sheet._values_to_row = _placed

    def column(self, column: int, value: Any, **style: Any) -> Any:
        """A cell of a row's ``column``, which the sheet writes out when the row is appended: the
        same cell object serves the column's next row alike in value type and style, as openpyxl
        does for a row of plain values, instead of a new cell and a copy of its style each time."""
        key = (column, value.__class__, *_style_key(style))
        c = self._columns.get(key)
        if c is None:
            c = self._columns[key] = self(value, **style)
        else:
            c.value = value
        return c

    def __call__(self, value: Any, **style: Any) -> Any:
        from openpyxl.cell import WriteOnlyCell

        c = WriteOnlyCell(self.sheet, value=value)
        if not style:
            return c
        if c.has_style:  # openpyxl formatted it by its value (a time, a duration): set on top
            for name, setting in style.items():
                setattr(c, name, setting)
            return c
        key = _style_key(style)
        found = self._styles.get(key)
        if found is None:
            for name, setting in style.items():
                setattr(c, name, setting)
            self._styles[key] = (copy(c._style), style)
        else:
            c._style = copy(found[0])
        return c


def office_workbook(
    path: Path,
    *,
    title: str,
    keys: Sequence[str],
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    lang: str,
    org: str | None,
    report_date: date,
    chart: Chart | None = None,
    total: Sequence[Any] | None = None,
    since: date | None = None,
) -> None:
    """One sheet, laid out as the office files it, with ``total`` (the 合计 row of
    ``commands.totals``, labelled) below the rows, dated ``report_date`` or over the period
    ``since`` to ``report_date``; written whole or not at all."""
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import IllegalCharacterError
    from openpyxl.worksheet.properties import PageSetupProperties

    words = WORDS[lang]
    width = len(keys)
    last = get_column_letter(width)
    thin = Side(style="thin", color="999999")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    dated = (
        words["period"].format(since.isoformat(), report_date.isoformat())
        if since is not None
        else words["date"] + report_date.isoformat()
    )
    with replacing(path) as f, unsaved_sheets_closed() as book:
        sheet = book.create_sheet(title=title[:31])
        formats: list[str | None] = [None] * width
        widths = [display_width(str(h)) for h in headers]
        for row in [*rows, total] if total is not None else rows:
            for i, (key, value) in enumerate(zip(keys, row, strict=False)):
                stored, fmt = _value(key, value)
                formats[i] = formats[i] or fmt
                widths[i] = max(widths[i], display_width(_shown(stored, fmt)))
        for i, w in enumerate(widths):
            sheet.column_dimensions[get_column_letter(i + 1)].width = min(w + 3, MAX_WIDTH)
        wrapped = Alignment(wrap_text=True, vertical="top")
        wraps = {
            key: {"alignment": wrapped} for key, w in zip(keys, widths, strict=False) if w + 3 > MAX_WIDTH
        }

        # what precedes the rows in the file is set before the first row streams out
        sheet.freeze_panes = f"A{HEADER_ROW + 1}"
        sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = A4
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        sheet.print_options.horizontalCentered = True
        sheet.oddFooter.center.text = "&P / &N"

        cell = StyledCells(sheet)

        heading = Alignment(horizontal="center")
        sheet.append([cell(escape_ooxml(title), font=Font(bold=True, size=16), alignment=heading)])
        sheet.merged_cells.add(f"A1:{last}1")
        line: list[Any] = [None] * width
        line[0] = cell(words["org"] + escape_ooxml(org or ""))
        if width >= 3:
            line[width // 2] = cell(dated)
            line[-1] = cell(words["unit"], alignment=Alignment(horizontal="right"))
        else:
            line[0].value = f"{line[0].value}  {dated}  {words['unit']}"
        sheet.append(line)
        sheet.append([])
        head_fill = PatternFill("solid", fgColor="DDEBF7")
        sheet.append(
            [
                cell(h, font=Font(bold=True), fill=head_fill, border=box,
                     alignment=Alignment(horizontal="center", vertical="center", wrap_text=True))
                for h in headers
            ]
        )  # fmt: skip
        for n, row in enumerate(rows, HEADER_ROW + 1):
            try:
                sheet.append(
                    [
                        _cell(cell, box, i, key, value, **wraps.get(key, {}))
                        for i, (key, value) in enumerate(zip(keys, row, strict=False))
                    ]
                )
            except IllegalCharacterError:
                from commands.i18n import _

                msg = _(
                    "row {row} of {title} holds a control character, which a workbook cannot store; "
                    "write --format csv instead (nothing was written)"
                ).format(row=n, title=title)
                raise BadInputError(msg) from None
            except ValueError as e:
                raise not_xml_text(e, n, title) from None
        if total is not None:
            bold = Font(bold=True)
            sheet.append(
                [
                    _cell(cell, box, i, key, value, font=bold)
                    for i, (key, value) in enumerate(zip(keys, total, strict=True))
                ]
            )
        if chart is not None and rows:
            if len(rows) > MAX_CHART_ROWS:
                sheet.append([])
                sheet.append([cell(words["too_many"].format(n=MAX_CHART_ROWS))])
            else:
                bars = BarChart()
                bars.type = "col"
                bars.title = chart.title
                bars.y_axis.title = chart.y_title
                bars.height, bars.width = 9, max(16, min(32, 2 + len(rows)))
                first, end = HEADER_ROW, HEADER_ROW + len(rows)
                for key in chart.series:
                    col = keys.index(key) + 1
                    data = Reference(sheet, min_col=col, min_row=first, max_row=end)
                    bars.add_data(data, titles_from_data=True)
                label = keys.index(chart.label) + 1
                bars.set_categories(Reference(sheet, min_col=label, min_row=first + 1, max_row=end))
                if chart.percent:
                    bars.y_axis.number_format = "0%"
                bars.y_axis.scaling.min = 0  # bars from zero: an axis from 56% makes 57% look double
                bars.y_axis.delete = False
                bars.x_axis.delete = False
                sheet.add_chart(bars, f"A{end + 4}")
        save_book(book, f)
