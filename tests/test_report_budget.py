"""report budget: budget against actual per line of a grant's plan (003 表4-2), to the fen, as the
plan stood on a day, net of reversals, with spending outside the plan shown as such; and its
figures agree with report categories."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from tests.conftest import Ledger, approved_district_grant


def _lines(ledger: Ledger, *options: str) -> dict[tuple[str, str], dict[str, str | None]]:
    shown = json.loads(ledger.ok("report", "budget", "--format", "json", *options).stdout)
    return {(row["content"], row["source"]): row for row in shown}


def _spend(ledger: Ledger, voucher: str, amount: str, content: str, source: str, on: str) -> None:
    ledger.ok("spend", "G1", "--amount", amount, "--category", "equipment", "--source", source,
              "--content", content, "--voucher", voucher, "--date", on)  # fmt: skip


def test_budget_against_actual_per_line_as_the_plan_stood(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("match", "receive", "G1", "--amount", "20万", "--voucher", "M1", "--date", "2024-04-10")
    ledger.ok("grant", "budget", "G1", "--line", "training_system:地方财政:12万",
              "--line", "cooperation:地方财政:8万", "--line", "training_system:行业企业:15万",
              "--line", "training_system:其他:5万", "--date", "2024-04-12")  # fmt: skip
    _spend(ledger, "S1", "45678.91", "training_system", "subsidy", "2024-05-10")
    _spend(ledger, "S2", "1000", "training_system", "subsidy", "2024-05-11")
    _spend(ledger, "S3", "30000", "training_system", "matching", "2024-05-12")
    ledger.ok("reverse", "G1", "--voucher", "S2", "--reason", "记错", "--date", "2024-05-20")
    ledger.ok("grant", "adjust", "G1", "--line", "cooperation:地方财政:6万",
              "--line", "patterns:地方财政:2万", "--approval", "渝中人社函〔2024〕9号",
              "--date", "2024-06-01", role="approver")  # fmt: skip

    now = _lines(ledger)
    subsidy = now[("training_system", "subsidy")]
    assert [subsidy[k] for k in ("planned", "spent", "remaining")] == ["120000.00", "45678.91", "74321.09"]
    assert subsidy["rate"] == "38.07"  # 45,678.91 of 120,000 is 38.0657…%, half-up
    matching = now[("training_system", "matching")]  # 行业企业 and 其他 both feed matching funds
    assert [matching[k] for k in ("planned", "spent", "remaining")] == ["200000.00", "30000.00", "170000.00"]
    assert now[("cooperation", "subsidy")]["planned"] == "60000.00"
    assert now[("patterns", "subsidy")]["planned"] == "20000.00"

    before = _lines(ledger, "--as-of", "2024-05-15")  # the plan before its adjustment, S2 not yet reversed
    assert before[("cooperation", "subsidy")]["planned"] == "80000.00"
    assert ("patterns", "subsidy") not in before
    assert before[("training_system", "subsidy")]["spent"] == "46678.91"

    categories = json.loads(ledger.ok("report", "categories", "--format", "json").stdout)
    for (content, source), row in now.items():
        spent = sum(
            Decimal(c["spent"]) for c in categories if (c["content"], c["source"]) == (content, source)
        )
        assert Decimal(str(row["spent"])) == spent, (content, source)


def test_spending_outside_the_plan_is_listed_with_no_plan(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    _spend(ledger, "S1", "500", "patterns", "subsidy", "2024-05-10")
    (row,) = json.loads(ledger.ok("report", "budget", "--format", "json").stdout)
    assert (row["content"], row["planned"], row["spent"], row["remaining"], row["rate"]) == (
        "patterns",
        None,
        "500.00",
        None,
        None,
    )
    from commands.cli import cli

    table = ledger.runner.invoke(cli, ["--db", ledger.url, "--lang", "zh", "report", "budget"])
    assert table.exit_code == 0 and "（计划外）" in table.stdout and "总结技能人才培养规律" in table.stdout


def test_no_plan_and_no_spending_says_so(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    result = ledger.ok("report", "budget")
    assert "no budget plan or spending recorded" in result.stdout


def test_the_total_s_rate_is_the_plan_s_whatever_is_spent_outside_it(ledger: Ledger, tmp_path: Path) -> None:
    """G1 planned and half spent, G2 with no plan and spending: the 合计's rate had been every
    spend over the planned lines (a red-team pass read 385.88%); it is the plan's own, in the csv
    and the workbook alike."""
    from openpyxl import load_workbook

    approved_district_grant(ledger)
    approved_district_grant(ledger, "G2", "B0002", "U2")
    for grant in ("G1", "G2"):
        ledger.ok("disburse", grant, "--amount", "20万", "--voucher", f"T-{grant}", "--date", "2024-04-10")
    ledger.ok("grant", "budget", "G1", "--line", "training_system:地方财政:10万", "--date", "2024-04-12")
    _spend(ledger, "S1", "40000", "training_system", "subsidy", "2024-05-10")
    ledger.ok("spend", "G2", "--amount", "150000", "--category", "equipment", "--content", "patterns",
              "--voucher", "S2", "--date", "2024-05-10")  # fmt: skip
    rows = ledger.ok("report", "budget", "--format", "csv").stdout.strip().splitlines()
    total = rows[-1].split(",")
    assert total[-4:] == ["100000.00", "190000.00", "60000.00", "40.00"], rows
    out = tmp_path / "budget.xlsx"
    ledger.ok("report", "budget", "--format", "xlsx", "--output", str(out))
    sheet = load_workbook(out, read_only=True).worksheets[0]
    figures = [row for row in sheet.iter_rows(values_only=True) if row and "total" in row]
    assert figures and Decimal(str(figures[-1][-1])) in (Decimal("40"), Decimal("0.4")), figures
