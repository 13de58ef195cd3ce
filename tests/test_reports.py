"""Reports and time travel through the command line, on both backends, in every format."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import Ledger, approved_district_grant

REPORTS = [
    ("report", "categories"),
    ("report", "sources"),
    ("report", "execution"),
    ("report", "matching"),
    ("history", "G1"),
    ("balance",),
]
FORMATS = ["table", "json", "csv", "xlsx"]


def _books(ledger: Ledger) -> str:
    """Spend A (05-01) and B (06-01); then, recorded later, a reversal of A dated 05-15."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "拨-1", "--date", "2024-04-15")
    ledger.ok(
        "match",
        "commit",
        "G1",
        "--amount",
        "200000",
        "--funder",
        "单位",
        "--voucher",
        "承-1",
        "--date",
        "2024-04-16",
    )
    ledger.ok("match", "receive", "G1", "--amount", "80000", "--voucher", "收-1", "--date", "2024-04-17")
    ledger.ok(
        "spend",
        "G1",
        "--amount",
        "30000",
        "--category",
        "equipment",
        "--source",
        "subsidy",
        "--voucher",
        "A",
        "--date",
        "2024-05-01",
    )
    ledger.ok(
        "spend",
        "G1",
        "--amount",
        "5000",
        "--category",
        "materials",
        "--source",
        "subsidy",
        "--voucher",
        "B",
        "--date",
        "2024-06-01",
    )
    time.sleep(0.05)
    moment = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    ledger.ok("reverse", "G1", "--voucher", "A", "--reason", "录入错误", "--date", "2024-05-15")
    return moment


def test_time_travel_with_a_late_reversal_dated_earlier(ledger: Ledger) -> None:
    moment = _books(ledger)

    def spent(*options: str) -> str:
        rows = json.loads(ledger.ok("balance", "--format", "json", *options).stdout)
        return str(rows[0]["subsidy_spent"])

    assert spent() == "5000.00"  # B only: A was reversed
    assert spent("--known-at", moment) == "35000.00"  # the reversal was not yet known
    assert spent("--as-of", "2024-05-20") == "0.00"  # A and its reversal (dated 05-15); B is later
    assert spent("--as-of", "2024-05-20", "--known-at", moment) == "30000.00"
    assert (
        json.loads(ledger.ok("balance", "--format", "json", "--known-at", "2000-01-01T00:00:00+00:00").stdout)
        == []
    )

    history = json.loads(ledger.ok("history", "G1", "--format", "json").stdout)
    assert [h["kind"] for h in history][-3:] == ["spend", "spend", "reverse"]
    assert history[-1]["subsidy_balance"] == "95000.00" and history[-1]["matching_balance"] == "80000.00"
    old = json.loads(ledger.ok("history", "G1", "--format", "json", "--known-at", moment).stdout)
    assert old[-1]["kind"] == "spend" and old[-1]["subsidy_balance"] == "65000.00"

    cats = json.loads(ledger.ok("report", "categories", "--format", "json", "--known-at", moment).stdout)
    assert {c["category"]: c["spent"] for c in cats} == {"equipment": "30000.00", "materials": "5000.00"}
    cats = json.loads(ledger.ok("report", "categories", "--format", "json").stdout)
    assert {c["category"]: c["spent"] for c in cats} == {"equipment": "0.00", "materials": "5000.00"}

    src = json.loads(ledger.ok("report", "sources", "--format", "json", "--as-of", "2024-05-20").stdout)
    assert [(s["source"], s["received"], s["spent"]) for s in src] == [
        ("subsidy", "100000.00", "0.00"),
        ("matching", "80000.00", "0.00"),
    ]
    ex = json.loads(ledger.ok("report", "execution", "--format", "json", "--as-of", "2024-06-30").stdout)[0]
    assert (ex["received"], ex["spent"], ex["of_received"], ex["of_approved"]) == (
        "180000.00",
        "5000.00",
        "2.78",
        "1.25",
    )
    assert ex["build_end"] == "2026-03-31" and ex["days_left"] == 639
    match = json.loads(ledger.ok("report", "matching", "--format", "json").stdout)[0]
    assert (match["required"], match["committed"], match["received"], match["committed_pct"]) == (
        "200000.00",
        "200000.00",
        "80000.00",
        "100.00",
    )
    early = json.loads(ledger.ok("report", "matching", "--format", "json", "--as-of", "2024-04-16").stdout)[0]
    assert early["received"] == "0.00" and early["received_pct"] == "0.00"


@pytest.mark.slow
def test_every_report_every_format_with_both_time_travel_options(ledger: Ledger, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    moment = _books(ledger)
    both = ["--as-of", "2024-05-20", "--known-at", moment]
    for report in REPORTS:
        for fmt in FORMATS:
            for options in (["--as-of", "2024-05-20"], ["--known-at", moment], both):
                out = tmp_path / "r.xlsx"
                extra = ["--output", str(out)] if fmt == "xlsx" else []
                result = ledger.ok(*report, "--format", fmt, *options, *extra)
                if fmt == "json":
                    assert isinstance(json.loads(result.stdout), list) and json.loads(result.stdout)
                elif fmt == "csv":
                    assert len(list(csv.reader(io.StringIO(result.stdout)))) >= 2
                elif fmt == "table":
                    assert "B0001" in result.stdout or report[0] == "history"
                else:
                    book = load_workbook(out)
                    assert len(book.worksheets) == 1
                    sheet = book.worksheets[0]
                    # title, 编制单位 line, a blank, the frozen header, a row at least, 合计
                    assert sheet.freeze_panes == "A5" and sheet.max_row >= 6


def test_xlsx_is_a_real_workbook_with_chinese_titles(ledger: Ledger, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    _books(ledger)
    out = tmp_path / "余额.xlsx"
    result = ledger.runner.invoke(
        __import__("commands.cli", fromlist=["cli"]).cli,
        ["--db", ledger.url, "--lang", "zh", "report", "sources", "--format", "xlsx", "--output", str(out)],
    )
    assert result.exit_code == 0, result.stderr
    sheet = load_workbook(out).worksheets[0]
    assert sheet.title == "资金来源"
    assert sheet["A1"].value == "资金来源"
    assert [c.value for c in sheet[4]][:4] == ["基地", "项目编号", "资金来源", "批复/承诺"]
    assert sheet.freeze_panes == "A5"
    cell = sheet["E5"]  # received, subsidy
    assert isinstance(cell.value, int | float) and float(cell.value) == 100000.0
    assert "0.00" in cell.number_format and "¥" in cell.number_format


def test_xlsx_needs_output_and_unknown_grant(ledger: Ledger) -> None:
    _books(ledger)
    result = ledger("report", "sources", "--format", "xlsx")
    assert result.exit_code == 2 and "--output" in result.stderr
    assert ledger("history", "G404").exit_code == 4
    bad = ledger("balance", "--known-at", "yesterday")
    assert bad.exit_code == 2 and "Traceback" not in bad.stderr


def test_table_aligns_chinese(ledger: Ledger) -> None:
    from commands.output import display_width

    _books(ledger)
    result = ledger.runner.invoke(
        __import__("commands.cli", fromlist=["cli"]).cli,
        ["--db", ledger.url, "--lang", "zh", "report", "categories"],
    )
    lines = result.stdout.splitlines()
    assert "实训设备购置" in result.stdout
    # the right edges of the amount column line up by display width
    ends = {display_width(line.rsplit("  ", 1)[0].rstrip()) for line in lines[2:]}  # 合计 too
    assert len(ends) == 1
