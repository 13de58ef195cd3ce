"""The money reports' terminal tables as an officer reads them in a terminal of 160 columns: a 合计
row under every one (money to the fen, counts summed, rates recomputed from the totals, never
averaged), the same totals in the csv and the workbook, none in json or under --codes; numbers
right-aligned by display width (a CJK character is two columns); `balance --columns`, and a default
that fits; `report findings` as a workbook."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from commands.output import display_width
from ledger.money import percent
from tests.conftest import Ledger, approved_district_grant


def _two_grants(ledger: Ledger) -> None:
    """Two bases whose execution rates differ (10.00% and 90.00%) on receipts of different size,
    so that the mean of their rates (50.00%) is not the rate of their totals (36.67%)."""
    approved_district_grant(ledger)
    approved_district_grant(ledger, "G2", "B0002", "U2")
    for grant, received, spent in (("G1", "100000.01", "10000.00"), ("G2", "50000.00", "45000.01")):
        ledger.ok("disburse", grant, "--amount", received, "--voucher", f"T-{grant}", "--date", "2024-04-10")
        ledger.ok("spend", grant, "--amount", spent, "--category", "equipment", "--source",
                  "subsidy", "--content", "training_system", "--voucher", f"S-{grant}",
                  "--date", "2024-05-10")  # fmt: skip
    ledger.ok("spend", "G2", "--amount", "0.01", "--category", "materials", "--source", "subsidy",
              "--content", "training_system", "--voucher", "S-G2b", "--date", "2024-05-11")  # fmt: skip


def _total_line(text: str, label: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith(label)]
    return line


def _figures(line: str) -> list[str]:
    return [part for part in line.split() if part[:1].isdigit()]


REPORTS = {
    # report: (command, the json keys summed, {rate key: (part keys, whole keys)})
    "balance": (
        ("balance",),
        ("subsidy_received", "subsidy_spent", "subsidy_available"),
        {"execution_rate": (("subsidy_spent", "matching_spent"), ("subsidy_received", "matching_received"))},
    ),
    "sources": (
        ("report", "sources"),
        ("received", "spent", "available"),
        {"execution_rate": (("spent",), ("received",))},
    ),
    "execution": (
        ("report", "execution"),
        ("approved", "received", "spent"),
        {"of_received": (("spent",), ("received",)), "of_approved": (("spent",), ("approved",))},
    ),
    "matching": (("report", "matching"), ("approved", "subsidy_received", "required", "shortfall"), {}),
    "categories": (("report", "categories"), ("spent",), {}),
    "budget": (("report", "budget"), ("spent",), {}),
}  # fmt: skip


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_every_money_table_ends_in_a_total_row_of_the_figures_above(
    sqlite_ledger: Ledger, report: str
) -> None:
    _two_grants(sqlite_ledger)
    command, summed, rates = REPORTS[report]
    rows = json.loads(sqlite_ledger.ok(*command, "--format", "json").stdout)
    assert rows and all("合计" not in json.dumps(r, ensure_ascii=False) for r in rows)  # json: rows only
    for lang, label in (("zh", "合计"), ("en", "total")):
        total = _total_line(sqlite_ledger.ok("--lang", lang, *command).stdout, label)
        shown = _figures(total)
        for key in summed:
            figure = sum(Decimal(r[key]) for r in rows if r[key] is not None)
            assert f"{figure:,.2f}" in shown, (key, figure, total)
        for key, (part, whole) in rates.items():
            recomputed = percent(
                sum(Decimal(r[k]) for r in rows for k in part),
                sum(Decimal(r[k]) for r in rows for k in whole),
            )
            rated = [Decimal(r[key]) for r in rows if r[key] is not None]
            average = (sum(rated) / len(rated)).quantize(Decimal("0.01"))
            assert str(recomputed) in shown, (key, total)
            if average != recomputed:  # equal where every whole is the same (approved 20万 each)
                assert str(average) not in shown, (key, total)
        # the ids and names are blank: the label stands alone before the figures
        assert total.split()[1][:1].isdigit()


def test_the_totals_are_to_the_fen_and_the_rate_is_of_the_totals(sqlite_ledger: Ledger) -> None:
    _two_grants(sqlite_ledger)
    total = _figures(_total_line(sqlite_ledger.ok("report", "sources").stdout, "total"))
    # received 150,000.01; spent 10,000.00 + 45,000.01 + 0.01 = 55,000.02, 36.67% of it, where the
    # mean of the two subsidy rates (10.00 and 90.00) would say 50.00
    assert total == ["400,000.00", "150,000.01", "55,000.02", "94,999.99", "36.67"]
    categories = sqlite_ledger.ok("report", "categories").stdout
    assert _figures(_total_line(categories, "total")) == ["55,000.02", "3"]  # three spends


def test_csv_and_workbook_carry_the_same_total_and_machines_none(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    _two_grants(sqlite_ledger)
    zh = ("--lang", "zh")
    table = _figures(_total_line(sqlite_ledger.ok(*zh, "report", "sources").stdout, "合计"))
    (*_, last) = csv.reader(io.StringIO(sqlite_ledger.ok(*zh, "report", "sources", "--format", "csv").stdout))
    assert last[0] == "合计" and last[1:3] == ["", ""]
    assert [f"{Decimal(v):,.2f}" if "." in v and len(v) > 6 else v for v in last[3:]] == table
    coded = list(
        csv.reader(io.StringIO(sqlite_ledger.ok("report", "sources", "--format", "csv", "--codes").stdout))
    )
    assert len(coded) == 1 + 4 and all(row[0] != "total" for row in coded)  # header and four lines

    path = tmp_path / "sources.xlsx"
    sqlite_ledger.ok(*zh, "report", "sources", "--format", "xlsx", "--output", str(path))
    ws = load_workbook(path).active
    total = [c.value for c in ws[ws.max_row]]
    assert total[0] == "合计" and total[1:3] == [None, None]
    assert [Decimal(str(v)).quantize(Decimal("0.01")) for v in total[3:7]] == [
        Decimal(v.replace(",", "")) for v in table[:4]
    ]
    rate = ws.cell(ws.max_row, 8)
    assert rate.number_format == "0.00%" and rate.value == pytest.approx(0.3667)


def test_history_right_aligns_its_amounts_under_a_chinese_header(sqlite_ledger: Ledger) -> None:
    _two_grants(sqlite_ledger)
    text = sqlite_ledger.ok("--lang", "zh", "history", "G1").stdout
    lines = text.splitlines()
    header = lines[0]
    end = display_width(header[: header.index("金额")]) + display_width("金额")
    amounts = [line for line in lines[2:] if "100,000.01" in line or "10,000.00" in line]
    assert len(amounts) >= 2
    for line in [header, *amounts]:
        # the amount (or the header) ends exactly where the column ends, however wide the CJK
        # text before it: right-aligned, never left
        cut, at = "", 0
        for c in line:
            if at >= end:
                break
            cut += c
            at += display_width(c)
        assert at == end and cut[-1] != " ", line
        assert cut.rstrip().endswith(("金额", "100,000.01", "200,000.00", "10,000.00")), line


def test_balance_by_default_fits_160_columns_of_terminal(sqlite_ledger: Ledger) -> None:
    _two_grants(sqlite_ledger)
    for lang in ("zh", "en"):
        text = sqlite_ledger.ok("--lang", lang, "balance").stdout
        assert max(display_width(line) for line in text.splitlines()) <= 160, text
        # what an officer looks for first stays in view
        wanted = {
            "zh": ("基地", "补助到位", "补助支出", "补助结余", "执行率%"),
            "en": ("base", "execution %"),
        }
        for head in wanted[lang]:
            assert head in text.splitlines()[0], (lang, head)


def test_balance_columns_by_key_or_chinese_header(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    _two_grants(sqlite_ledger)
    text = sqlite_ledger.ok("--lang", "zh", "balance", "--columns", "base_id,补助支出,execution_rate").stdout
    assert text.splitlines()[0].split() == ["基地", "补助支出", "执行率%"]
    assert _total_line(text, "合计").split() == ["合计", "55,000.02", "36.67"]
    rows = json.loads(
        sqlite_ledger.ok("balance", "--columns", "grant_id,subsidy_spent", "--format", "json").stdout
    )
    assert rows == [
        {"grant_id": "G1", "subsidy_spent": "10000.00"},
        {"grant_id": "G2", "subsidy_spent": "45000.02"},
    ]
    path = tmp_path / "b.xlsx"
    sqlite_ledger.ok(
        "--lang", "zh", "balance", "--columns", "基地名称,补助到位", "--format", "xlsx", "-o", str(path)
    )
    assert [c.value for c in load_workbook(path).active[4]] == ["基地名称", "补助到位"]


@pytest.mark.parametrize("columns", ["base_id,nope", "补助", "", "base_id,,subsidy_spent"])
def test_an_unknown_column_exits_2_naming_the_valid_ones(sqlite_ledger: Ledger, columns: str) -> None:
    _two_grants(sqlite_ledger)
    result = sqlite_ledger("balance", "--columns", columns)
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "--columns" in line and "subsidy_spent (补助支出)" in line and "execution_rate (执行率%)" in line


def test_findings_as_a_workbook_and_a_csv_file(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    _two_grants(sqlite_ledger)  # no matching received at all: a 1:1 finding each
    found = json.loads(
        sqlite_ledger.ok(
            "--lang", "zh", "report", "findings", "--as-of", "2025-06-30", "--format", "json"
        ).stdout
    )  # a finding's message in the reader's language, as the workbook below is read
    assert len(found) >= 2
    path = tmp_path / "预警.xlsx"
    result = sqlite_ledger.ok("--lang", "zh", "report", "findings", "--as-of", "2025-06-30",
                              "--format", "xlsx", "--output", str(path))  # fmt: skip
    assert str(path) in result.stdout
    ws = load_workbook(path).active
    assert ws["A1"].value == "预警" and "报表日期：2025-06-30" in [c.value for c in ws[2]]
    assert [c.value for c in ws[4]] == ["基地", "项目编号", "规则", "条款", "日期", "说明"]
    assert ws.freeze_panes == "A5" and ws.print_title_rows == "$4:$4"
    assert (ws.page_setup.orientation, ws.page_setup.paperSize, ws.page_setup.fitToWidth) == (
        "landscape",
        9,
        1,
    )
    body = [[c.value for c in row] for row in ws.iter_rows(min_row=5)]
    assert [(r[0], r[1], r[5]) for r in body] == [(f["base_id"], f["grant_id"], f["message"]) for f in found]
    assert ws.column_dimensions["F"].width > ws.column_dimensions["A"].width  # the message is wide
    assert ws.column_dimensions["F"].width <= 60 and ws.cell(5, 6).alignment.wrap_text  # and wraps
    assert ws.cell(5, 5).number_format == "yyyy-mm-dd" or ws.cell(5, 5).value is None
    text = tmp_path / "预警.csv"
    sqlite_ledger.ok(
        "--lang", "zh", "report", "findings", "--as-of", "2025-06-30", "--format", "csv", "-o", str(text)
    )
    rows = list(csv.reader(io.StringIO(text.read_bytes().decode("utf-8-sig"))))
    assert rows[0][0] == "基地" and len(rows) == 1 + len(found)
    assert sqlite_ledger("report", "findings", "--format", "xlsx").exit_code == 2  # no --output
