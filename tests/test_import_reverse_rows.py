"""A reverse row's amount and source, when given, are the reversed act's (README, "Bulk import"):
the act the row reverses is found as the `reverse` command finds it (the voucher's one money act,
or the one its category names), whether or not the category says which."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Ledger
from tests.test_reversed_voucher import _rows

APPROVE = {
    "date": "2024-01-20",
    "unit_id": "U1",
    "base_id": "B1",
    "grant_id": "G1",
    "programme": "district_base",
    "kind": "approve",
    "amount": "200000",
    "voucher": "批复1",
}
DISBURSE = {"date": "2024-02-01", "grant_id": "G1", "kind": "disburse", "amount": "100000", "voucher": "T1"}
SPEND = {
    "date": "2024-02-02",
    "grant_id": "G1",
    "kind": "spend",
    "amount": "100",
    "source": "subsidy",
    "category": "equipment",
    "content": "training_system",
    "voucher": "S1",
    "payee": "p",
}
MATCHED = {
    "date": "2024-02-01",
    "grant_id": "G1",
    "kind": "match_receive",
    "amount": "30000",
    "voucher": "M1",
}


def _reversal(memo: str, **cells: str) -> dict[str, str]:
    return {
        "date": "2024-02-03",
        "grant_id": "G1",
        "kind": "reverse",
        "voucher": "录入错误",
        "memo": memo,
        **cells,
    }


@pytest.fixture
def approved(sqlite_ledger: Ledger, tmp_path: Path) -> Ledger:
    sqlite_ledger.ok("import", str(_rows(tmp_path / "approve.csv", [APPROVE])), role="approver")
    return sqlite_ledger


@pytest.mark.parametrize("category", ["", "disburse"], ids=["category empty", "category disburse"])
def test_a_receipts_reversal_of_another_amount_is_refused_whether_or_not_its_category_names_it(
    approved: Ledger, tmp_path: Path, category: str
) -> None:
    events = approved.event_count()
    path = _rows(tmp_path / "books.csv", [DISBURSE, _reversal("T1", amount="5", category=category)])

    result = approved("import", "--jobs", "1", str(path))

    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "books.csv:3: reversal of T1 gives 5.00 but disburse T1 of grant G1 is 100000.00" in result.stderr
    assert approved.event_count() == events


def test_a_receipts_reversal_of_its_own_amount_without_category_is_recorded(
    approved: Ledger, tmp_path: Path
) -> None:
    path = _rows(tmp_path / "books.csv", [DISBURSE, _reversal("T1", amount="100000")])
    result = approved.ok("import", "--jobs", "1", str(path))
    assert "2 events recorded" in result.stdout


def test_an_expenditures_reversal_of_another_amount_without_category_is_still_refused(
    approved: Ledger, tmp_path: Path
) -> None:
    path = _rows(tmp_path / "books.csv", [DISBURSE, SPEND, _reversal("S1", amount="99")])
    result = approved("import", "--jobs", "1", str(path))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "books.csv:4: reversal of S1 gives 99.00 but expenditure S1 of grant G1 is 100.00" in result.stderr


def test_a_voucher_naming_two_acts_is_refused_as_the_command_refuses_it_whatever_the_amount(
    approved: Ledger, tmp_path: Path
) -> None:
    """T1 a disbursement and an expenditure: an empty category leaves the grant to say which."""
    spend_t1 = {**SPEND, "voucher": "T1"}
    path = _rows(tmp_path / "books.csv", [DISBURSE, spend_t1, _reversal("T1", amount="5")])
    result = approved("import", "--jobs", "1", str(path))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "books.csv:4: voucher T1 of grant G1 names more than one act: " in result.stderr
    assert "--kind disburse|spend" in result.stderr or "--kind spend|disburse" in result.stderr


@pytest.mark.parametrize(
    ("rows", "memo", "category", "source", "moves"),
    [
        ([DISBURSE, SPEND], "S1", "", "matching", "subsidy"),
        ([DISBURSE, SPEND], "S1", "equipment", "matching", "subsidy"),
        ([MATCHED, {**SPEND, "source": "matching", "voucher": "S2"}], "S2", "", "subsidy", "matching"),
        ([DISBURSE], "T1", "", "matching", "subsidy"),
        ([DISBURSE], "T1", "disburse", "matching", "subsidy"),
        ([MATCHED], "M1", "", "subsidy", "matching"),
    ],
    ids=[
        "spend",
        "spend by category",
        "matching spend",
        "disbursement",
        "disburse by category",
        "matching receipt",
    ],
)
def test_a_reversals_source_must_be_the_one_the_reversed_act_moved(
    approved: Ledger,
    tmp_path: Path,
    rows: list[dict[str, str]],
    memo: str,
    category: str,
    source: str,
    moves: str,
) -> None:
    events = approved.event_count()
    reversal = _reversal(memo, category=category, source=source)
    path = _rows(tmp_path / "books.csv", [*rows, reversal])

    result = approved("import", "--jobs", "1", str(path))

    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = len(rows) + 2
    assert f"books.csv:{line}: source: the reversal of {memo} moves the {moves} fund source" in result.stderr
    assert f"not {source!r}" in result.stderr
    assert approved.event_count() == events


def test_a_reversals_source_given_as_the_reversed_acts_is_recorded(approved: Ledger, tmp_path: Path) -> None:
    rows = [DISBURSE, MATCHED, SPEND, _reversal("S1", source="subsidy"), _reversal("M1", source="matching")]
    result = approved.ok("import", "--jobs", "1", str(_rows(tmp_path / "books.csv", rows)))
    assert "5 events recorded" in result.stdout


@pytest.mark.parametrize("category", ["teacher_training", "no_such_category"])
def test_an_expenditures_reversal_naming_another_category_is_refused(
    approved: Ledger, tmp_path: Path, category: str
) -> None:
    """The category column of an expenditure's reversal names the expenditure's category; another
    one, or none the policy knows, was read as "an expenditure" and the row recorded (found by a
    red-team pass)."""
    events = approved.event_count()
    path = _rows(tmp_path / "books.csv", [DISBURSE, SPEND, _reversal("S1", category=category)])
    result = approved("import", "--jobs", "1", str(path))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    expected = f"books.csv:4: category: expenditure S1 of grant G1 is equipment, not {category!r}"
    assert expected in result.stderr
    assert approved.event_count() == events


@pytest.mark.parametrize("category", ["equipment", "实训设备购置、改造与维护"])
def test_an_expenditures_reversal_naming_its_category_by_code_or_chinese_is_recorded(
    approved: Ledger, tmp_path: Path, category: str
) -> None:
    path = _rows(tmp_path / "books.csv", [DISBURSE, SPEND, _reversal("S1", category=category)])
    assert "3 events recorded" in approved.ok("import", "--jobs", "1", str(path)).stdout
