"""Report workbooks a finance office can file: titled, 编制单位 / 报表日期 / 单位：元, headed in
Chinese, amounts in yuan, rates as percentages, a 合计 row that adds up, frozen header repeated on
every printed page, A4 landscape one page wide, widths that fit, a chart, and no formula."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from commands.balance import HEADERS as BALANCE_HEADERS
from commands.cli import cli
from commands.output import YUAN_FORMAT, display_width
from ledger.money import percent
from tests.conftest import Ledger

ORG = "重庆市渝中区人力资源和社会保障局"


def read(ledger: Ledger, *args: str) -> str:
    env = {"GRANT_LEDGER_ORG": ORG}
    result = CliRunner().invoke(cli, ["--db", ledger.url, "--lang", "zh", *args], env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def workbook(ledger: Ledger, tmp_path: Path, *command: str) -> Any:
    path = tmp_path / f"{'-'.join(command)}.xlsx"
    read(ledger, *command, "--format", "xlsx", "--output", str(path), "--as-of", "2024-12-31")
    return load_workbook(path).active


def laid_out_for_filing(sheet: Any, title: str, headers: list[str]) -> None:
    ws = sheet
    assert ws["A1"].value == title and ws["A1"].font.bold
    assert next(str(r) for r in ws.merged_cells.ranges).startswith("A1:")
    line = [c.value for c in ws[2] if c.value is not None]
    assert line[0] == f"编制单位：{ORG}" and "报表日期：2024-12-31" in line and line[-1] == "单位：元"
    assert [c.value for c in ws[4]] == headers
    assert ws.freeze_panes == "A5"
    assert ws.print_title_rows == "$4:$4"  # the header repeats on every printed page
    setup = ws.page_setup
    assert (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight) == ("landscape", 9, 1, 0)
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    for i, header in enumerate(headers, 1):
        letter = ws.cell(row=4, column=i).column_letter
        assert ws.column_dimensions[letter].width >= display_width(header), header
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row), "a formula in the workbook"
    assert len(ws._charts) == 1


def test_the_balance_workbook_is_fit_to_file(demo_sqlite_ledger: Ledger, tmp_path: Path) -> None:
    ws = workbook(demo_sqlite_ledger, tmp_path, "balance")
    laid_out_for_filing(ws, "余额表", BALANCE_HEADERS["zh"])
    books = json.loads(read(demo_sqlite_ledger, "balance", "--format", "json", "--as-of", "2024-12-31"))
    keys = list(books[0])
    rows = list(ws.iter_rows(min_row=5, max_row=4 + len(books)))
    received = keys.index("subsidy_received")
    rate = keys.index("execution_rate")
    for row, base in zip(rows, books, strict=True):
        assert row[0].value == base["base_id"]
        assert Decimal(str(row[received].value)) == Decimal(base["subsidy_received"])
        assert row[received].number_format == YUAN_FORMAT
        assert row[rate].number_format == "0.00%"  # not ¥57.62
        assert row[rate].value == pytest.approx(float(Decimal(base["execution_rate"]) / 100))
    total = list(ws[5 + len(books)])
    assert total[0].value == "合计"
    for key in ("subsidy_received", "subsidy_spent", "matching_available"):
        i = keys.index(key)
        assert Decimal(str(total[i].value)) == sum(Decimal(b[key]) for b in books), key
    spent = sum(Decimal(b[k]) for b in books for k in ("subsidy_spent", "matching_spent"))
    received = sum(Decimal(b[k]) for b in books for k in ("subsidy_received", "matching_received"))
    # the totals' rate, not a mean of the rates
    assert total[rate].value == pytest.approx(float(percent(spent, received) / 100))


def test_the_execution_workbook_charts_rate_against_time_elapsed(
    demo_sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    from commands.report_execution import HEADERS

    ws = workbook(demo_sqlite_ledger, tmp_path, "report", "execution")
    laid_out_for_filing(ws, "执行率", HEADERS["zh"])
    shown = read(demo_sqlite_ledger, "report", "execution", "--format", "json", "--as-of", "2024-12-31")
    lines = json.loads(shown)
    for line in lines:  # the build period has run for part of its two years by the end of 2024
        assert line["elapsed"] is not None and Decimal("0") < Decimal(line["elapsed"]) < Decimal("100")
    chart = ws._charts[0]
    assert len(chart.series) == 2


def test_the_matching_and_categories_workbooks(demo_sqlite_ledger: Ledger, tmp_path: Path) -> None:
    from commands.report_categories import HEADERS as CATEGORY_HEADERS
    from commands.report_matching import HEADERS as MATCHING_HEADERS

    matching = workbook(demo_sqlite_ledger, tmp_path, "report", "matching")
    laid_out_for_filing(matching, "配套资金", MATCHING_HEADERS["zh"])
    ws = workbook(demo_sqlite_ledger, tmp_path, "report", "categories")
    laid_out_for_filing(ws, "支出分类", CATEGORY_HEADERS["zh"])
    spent = CATEGORY_HEADERS["zh"].index("支出")
    body = [r for r in ws.iter_rows(min_row=5) if r[0].value not in (None, "合计")]
    total = next(r for r in ws.iter_rows(min_row=5) if r[0].value == "合计")
    assert Decimal(str(total[spent].value)) == sum(Decimal(str(r[spent].value)) for r in body)


def test_a_chart_of_too_many_bases_is_left_out_with_a_word(tmp_path: Path) -> None:
    from datetime import date

    from commands.chart import Chart
    from commands.workbook import MAX_CHART_ROWS, office_workbook

    rows = [[f"B{n:04d}", Decimal("10.00")] for n in range(MAX_CHART_ROWS + 1)]
    path = tmp_path / "many.xlsx"
    office_workbook(path, title="余额表", keys=["base_id", "execution_rate"], headers=["基地", "执行率%"],
                    rows=rows, lang="zh", org=None, report_date=date(2024, 12, 31),
                    chart=Chart("执行率", "base_id", ("execution_rate",), percent=True))  # fmt: skip
    ws = load_workbook(path).active
    assert not ws._charts
    assert any("从略" in str(c.value) for row in ws.iter_rows() for c in row)


def test_each_cell_keeps_its_own_style(demo_sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """Cells styled alike share one set of style indexes (commands.workbook): each kind of cell
    still shows its own: the header bold on its fill, the rows plain, the 合计 row bold, every
    cell of the table boxed, money in yuan and rates in percent, column by column."""
    ws = workbook(demo_sqlite_ledger, tmp_path, "balance")
    keys = list(
        json.loads(read(demo_sqlite_ledger, "balance", "--format", "json", "--as-of", "2024-12-31"))[0]
    )
    table = list(ws.iter_rows(min_row=4))
    header, body, total = table[0], table[1:-1], table[-1]
    assert total[0].value == "合计" and body
    for c in header:
        assert c.font.bold and c.fill.fgColor.rgb.endswith("DDEBF7") and c.alignment.horizontal == "center"
    for row in body:
        assert not any(c.font.bold for c in row)
    assert all(c.font.bold for c in total)
    for row in table:
        for c in row:
            assert {c.border.left.style, c.border.right.style, c.border.top.style, c.border.bottom.style} == {
                "thin"
            }
    for i, key in enumerate(keys):
        formats = {row[i].number_format for row in [*body, total] if row[i].value is not None}
        if key == "execution_rate":
            assert formats == {"0.00%"}
        elif key in ("subsidy_received", "matching_available"):
            assert formats == {YUAN_FORMAT}
        elif key == "base_id":
            assert formats == {"General"}
    assert not ws["A1"].border.left.style  # the title is not boxed


def test_cells_styled_alike_share_and_others_keep_theirs(tmp_path: Path) -> None:
    from datetime import time, timedelta

    from openpyxl import Workbook
    from openpyxl.styles import Border, Font, Side

    from commands.workbook import StyledCells

    book = Workbook(write_only=True)
    sheet = book.create_sheet("s")
    cell = StyledCells(sheet)
    bold, italic = Font(bold=True), Font(italic=True)
    box = Border(left=Side(style="thin"))
    cells = [
        cell(1, font=bold, border=box, number_format="0.00%"),
        cell(2, font=italic, border=box, number_format="0.00%"),
        cell(3, font=bold, border=box, number_format="yyyy-mm-dd"),
        cell(4, font=bold, border=box, number_format="0.00%"),
        cell(5),
        cell(time(8, 30), font=bold, border=box),
        cell(timedelta(hours=5), font=bold, border=box),
        cell(6, font=bold, border=box),
    ]
    sheet.append(cells)
    book.save(tmp_path / "s.xlsx")
    row = next(load_workbook(tmp_path / "s.xlsx")["s"].iter_rows())
    shown = [(c.font.bold, c.font.italic, c.number_format, c.border.left.style) for c in row]
    assert shown == [
        (True, False, "0.00%", "thin"),
        (False, True, "0.00%", "thin"),
        (True, False, "yyyy-mm-dd", "thin"),
        (True, False, "0.00%", "thin"),
        (False, False, "General", None),
        (True, False, "h:mm:ss", "thin"),  # openpyxl's own formats, by the value
        (True, False, "[hh]:mm:ss", "thin"),
        (True, False, "General", "thin"),
    ]


def test_a_column_cell_serves_the_next_rows_each_with_its_own_value_and_style(tmp_path: Path) -> None:
    from datetime import date, time

    from openpyxl import Workbook
    from openpyxl.styles import Font

    from commands.workbook import StyledCells

    book = Workbook(write_only=True)
    sheet = book.create_sheet("s")
    cell = StyledCells(sheet)
    bold, typed, yuan = Font(bold=True), {"quotePrefix": True}, {"number_format": "0.00"}
    rows = [
        [("=1+2", typed), (Decimal("1.50"), yuan), (date(2024, 1, 2), {})],
        [("payee", {}), (Decimal("2.25"), yuan), (time(8, 30), {})],
        [("=3+4", typed), (7, {"font": bold}), (None, {})],
        [("payee 2", {}), (Decimal("3.00"), yuan), (date(2024, 3, 4), {})],
    ]
    for row in rows:
        placed = []
        for column, (value, style) in enumerate(row):
            c = cell.column(column, value, **style)
            if style.get("quotePrefix"):
                c.data_type = "s"
            placed.append(c)
        sheet.append(placed)
    book.save(tmp_path / "s.xlsx")
    got = [
        [(c.value, c.data_type, c.quotePrefix, c.number_format, c.font.bold) for c in row]
        for row in load_workbook(tmp_path / "s.xlsx")["s"].iter_rows()
    ]
    from datetime import datetime

    assert got == [
        [("=1+2", "s", True, "General", False), (1.5, "n", False, "0.00", False),
         (datetime(2024, 1, 2), "d", False, "yyyy-mm-dd", False)],
        [("payee", "s", False, "General", False), (2.25, "n", False, "0.00", False),
         (time(8, 30), "d", False, "h:mm:ss", False)],
        [("=3+4", "s", True, "General", False), (7, "n", False, "General", True),
         (None, "n", False, "General", False)],
        [("payee 2", "s", False, "General", False), (3, "n", False, "0.00", False),
         (datetime(2024, 3, 4), "d", False, "yyyy-mm-dd", False)],
    ]  # fmt: skip


def test_a_report_workbook_is_written_through_lxml_without_the_orm(
    demo_sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """openpyxl writes a workbook's XML with lxml when it is installed (a dependency: a third
    faster than its own writer for boxed and formatted cells), and a report loads no ORM: its
    projections name the ORM's session in type hints only. The workbook is the one asked for."""
    from commands.report_categories import HEADERS as CATEGORY_HEADERS
    from tests.loaded import loaded_by

    asked = ["lxml.etree", "sqlalchemy.orm"]
    out = tmp_path / "categories.xlsx"
    args = ["--db", demo_sqlite_ledger.url, "--lang", "en", "report", "categories", "--format", "xlsx"]
    done = loaded_by([*args, "--output", str(out)], asked)

    assert done.code == 0, done
    assert done.modules == {"lxml.etree": True, "sqlalchemy.orm": False}
    sheet = load_workbook(out).active
    assert sheet is not None
    texts = {str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None}
    assert set(CATEGORY_HEADERS["en"]) <= texts, texts
