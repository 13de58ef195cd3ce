"""Reports over a period, `--from DATE --to DATE` (a fiscal year's 决算): the movements dated
within it — a movement the day before, on its first and last day and after it each where it
belongs — and, where a balance is shown, the balance at its opening and at its close, to the fen;
`--as-of` stays the as-of view, and a period that ends before it begins is refused."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from ledger.money import percent
from tests.conftest import Ledger, approved_district_grant

PERIOD = ("--from", "2024-06-01", "--to", "2024-12-31")


def _spend(ledger: Ledger, voucher: str, amount: str, on: str) -> None:
    ledger.ok("spend", "G1", "--amount", amount, "--category", "equipment", "--source", "subsidy",
              "--content", "training_system", "--voucher", voucher, "--date", on)  # fmt: skip


def _books(ledger: Ledger) -> None:
    approved_district_grant(ledger)  # approved 2024-04-01, before the period
    ledger.ok("grant", "budget", "G1", "--line", "training_system:地方财政:12万", "--date", "2024-04-12")
    ledger.ok("disburse", "G1", "--amount", "100000.01", "--voucher", "T1", "--date", "2024-04-10")
    _spend(ledger, "S-before", "1000.10", "2024-05-10")
    _spend(ledger, "S-eve", "0.02", "2024-05-31")  # the day before the period
    _spend(ledger, "S-first", "0.01", "2024-06-01")  # its first day
    ledger.ok("disburse", "G1", "--amount", "50000.00", "--voucher", "T2", "--date", "2024-07-01")
    ledger.ok("match", "receive", "G1", "--amount", "30000.03", "--voucher", "M1", "--date", "2024-07-02")
    _spend(ledger, "S-inside", "2345.67", "2024-08-01")
    _spend(ledger, "S-last", "10.00", "2024-12-31")  # its last day
    _spend(ledger, "S-after", "999.99", "2025-01-01")  # the day after


def _json(ledger: Ledger, *command: str) -> list[dict[str, Any]]:
    rows = json.loads(ledger.ok(*command, "--format", "json").stdout)
    assert isinstance(rows, list)
    return rows


def test_a_years_balance_opens_moves_and_closes_to_the_fen(ledger: Ledger) -> None:
    _books(ledger)
    (year,) = _json(ledger, "balance", *PERIOD)
    assert year["subsidy_opening"] == "98999.89"  # 100,000.01 − 1,000.10 − 0.02
    assert year["subsidy_approved"] == "0.00"  # approved before the period
    assert (year["subsidy_received"], year["subsidy_spent"]) == (
        "50000.00",
        "2355.68",
    )  # 0.01 + 2,345.67 + 10
    assert year["subsidy_available"] == "146644.21"  # the close: opening + received − spent
    assert (year["matching_opening"], year["matching_received"], year["matching_available"]) == (
        "0.00",
        "30000.03",
        "30000.03",
    )
    assert year["execution_rate"] == str(
        percent(Decimal("2355.68"), Decimal("80000.03"))
    )  # the period's figures
    # the close is the as-of view of its last day, and the opening that of the day before it
    (close,) = _json(ledger, "balance", "--as-of", "2024-12-31")
    (eve,) = _json(ledger, "balance", "--as-of", "2024-05-31")
    assert year["subsidy_available"] == close["subsidy_available"]
    assert year["subsidy_opening"] == eve["subsidy_available"]
    assert "subsidy_opening" not in close  # --as-of stays the as-of view
    assert _json(ledger, "balance", "--to", "2024-12-31") == [close]  # --to alone: the books to that day
    # --from without --to runs to today: the spend after the year is in
    (since,) = _json(ledger, "balance", "--from", "2024-06-01")
    assert since["subsidy_spent"] == "3355.67" and since["subsidy_available"] == "145644.22"
    # the one date rule: 2024年6月1日 is 2024-06-01
    assert _json(ledger, "balance", "--from", "2024年6月1日", "--to", "2024/12/31") == [year]


def test_every_money_report_over_the_period(ledger: Ledger) -> None:
    _books(ledger)
    subsidy, matching = _json(ledger, "report", "sources", *PERIOD)
    assert [subsidy[k] for k in ("opening", "received", "spent", "available")] == [
        "98999.89", "50000.00", "2355.68", "146644.21"
    ]  # fmt: skip
    assert [matching[k] for k in ("opening", "received", "spent", "available")] == [
        "0.00", "30000.03", "0.00", "30000.03"
    ]  # fmt: skip
    (category,) = _json(ledger, "report", "categories", *PERIOD)
    assert (category["spent"], category["entries"]) == ("2355.68", 3)
    (execution,) = _json(ledger, "report", "execution", *PERIOD)
    assert (execution["approved"], execution["received"], execution["spent"]) == (
        "0.00",
        "80000.03",
        "2355.68",
    )
    assert execution["build_end"] is not None  # approved before the period, still a build period
    (match,) = _json(ledger, "report", "matching", *PERIOD)
    assert match["received"] == "30000.03"
    (line,) = _json(ledger, "report", "budget", *PERIOD)
    assert [line[k] for k in ("planned", "opening", "spent", "remaining", "rate")] == [
        "120000.00", "118999.88", "2355.68", "116644.20", "1.96"
    ]  # fmt: skip
    (now,) = _json(ledger, "report", "budget", "--as-of", "2024-12-31")
    assert now["remaining"] == line["remaining"] and "opening" not in now
    for report in ("sources", "categories", "execution", "matching", "budget"):  # --to alone: --as-of
        assert _json(ledger, "report", report, "--to", "2024-05-31") == _json(
            ledger, "report", report, "--as-of", "2024-05-31"
        ), report


def test_the_period_table_totals_and_workbook(ledger: Ledger, tmp_path: Path) -> None:
    _books(ledger)
    text = ledger.ok("--lang", "zh", "report", "sources", *PERIOD).stdout
    assert "期初结余" in text.splitlines()[0] and "期末结余" in text.splitlines()[0]
    (total,) = [line for line in text.splitlines() if line.startswith("合计")]
    assert total.split()[1:] == ["98,999.89", "0.00", "80,000.03", "2,355.68", "176,644.24", "2.94"]
    path = tmp_path / "决算.xlsx"
    ledger.ok("--lang", "zh", "balance", *PERIOD, "--format", "xlsx", "--output", str(path))
    ws = load_workbook(path).active
    assert "报表期间：2024-06-01 至 2024-12-31" in [c.value for c in ws[2]]
    assert "补助期初结余" in [c.value for c in ws[4]]


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (("--from", "2024-12-31", "--to", "2024-06-01"), "--from 2024-12-31 is after --to 2024-06-01"),
        (("--from", "2024-06-01", "--as-of", "2024-05-31"), "--from 2024-06-01 is after --as-of 2024-05-31"),
        (("--from", "2099-01-01"), "--from 2099-01-01 is after today"),
        (("--to", "2024-12-31", "--as-of", "2024-06-30"), "--to 2024-12-31 and --as-of 2024-06-30"),
        (("--from", "2024-13-01"), "Invalid value for '--from': '2024-13-01' is not a date"),
    ],
)
@pytest.mark.parametrize("command", [("balance",), ("report", "sources"), ("report", "budget")])
def test_a_period_that_cannot_be_is_refused_in_one_sentence(
    sqlite_ledger: Ledger, command: tuple[str, ...], options: tuple[str, ...], said: str
) -> None:
    approved_district_grant(sqlite_ledger)
    result = sqlite_ledger(*command, *options)
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert said in line, line


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (
            ("--from", "2024-12-31", "--to", "2024-06-01"),
            "--from 2024-12-31 晚于 --to 2024-06-01：期间不能在开始之前结束",
        ),
        (("--from", "2099-01-01"), "--from 2099-01-01 晚于 今日"),
        (
            ("--to", "2024-12-31", "--as-of", "2024-06-30"),
            "--to 2024-12-31 与 --as-of 2024-06-30 都指定了账目的最后一天",
        ),
    ],
)
def test_a_period_that_cannot_be_is_refused_in_chinese_under_zh(
    sqlite_ledger: Ledger, options: tuple[str, ...], said: str
) -> None:
    """These sentences were English whatever --lang said, on the command line and the web's
    report pages alike (a red-team pass)."""
    from commands.cli import cli

    approved_district_grant(sqlite_ledger)
    result = sqlite_ledger.runner.invoke(
        cli, ["--db", sqlite_ledger.url, "--lang", "zh", "balance", *options]
    )
    assert result.exit_code == 2, result.stderr
    assert said in result.stderr, result.stderr
