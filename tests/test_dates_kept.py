"""A business date outside the years the ledger keeps (1900-01-01 to 2999-12-31) is bad input:
exit 2, one sentence naming the bounds, nothing written, by any command or file. A red-team review
found a build period starting 9999-01-01 ending in "internal error (ValueError): year 10001 is out
of range" (exit 1), and `balance --from 0001-01-01` in an OverflowError."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.action_base import business_date
from tests.conftest import DISTRICT_BODIES, Ledger, approved_district_grant, selected
from tests.importdata import HEADER

APPROVE = [
    "grant",
    "approve",
    "G2",
    "--amount",
    "200000",
    "--document",
    "渝中人社〔2024〕2号",
    *DISTRICT_BODIES,
]
COMMANDS = {
    "approve, a build period from 9999-01-01": (
        [*APPROVE, "--date", "2024-04-01", "--start", "9999-01-01"],
        "approver",
    ),
    "approve dated 0001-01-01": ([*APPROVE, "--date", "0001-01-01"], "approver"),
    "spend dated 9999-12-31": (
        ["spend", "G1", "--amount", "100", "--voucher", "V9", "--date", "9999-12-31"],
        "officer",
    ),
    "extend to 3000-01-01": (
        ["grant", "extend", "G1", "--end", "3000-01-01", "--document", "延-1"],
        "approver",
    ),
    "balance from 0001-01-01": (
        ["balance", "B0001", "--from", "0001-01-01", "--to", "2024-12-31"],
        "officer",
    ),
    "report sources from 0001-01-01": (["report", "sources", "--from", "0001-01-01"], "officer"),
}


@pytest.fixture
def books(sqlite_ledger: Ledger) -> Ledger:
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("unit", "register", "U2", "--name", "单位U2", "--date", "2024-02-01")
    sqlite_ledger.ok(
        "grant", "apply", "G2", "--unit", "U2", "--base", "B0002", "--programme", "district_base",
        "--project", "焊工", "--amount", "20万", "--date", "2024-03-01",
    )  # fmt: skip
    selected(sqlite_ledger, "G2")
    return sqlite_ledger


@pytest.mark.parametrize("command", COMMANDS)
def test_a_date_outside_the_years_kept_is_bad_input(books: Ledger, command: str) -> None:
    args, role = COMMANDS[command]
    before = books.event_count()

    result = books(*args, role=role)

    assert result.exit_code == 2, result.output
    assert "is outside the dates the ledger keeps, 1900-01-01 to 2999-12-31" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert books.event_count() == before


def test_an_imported_row_dated_past_the_years_kept_is_refused_and_nothing_written(
    books: Ledger, tmp_path: Path
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(
        f"{HEADER}\n"
        "2024-05-01,U1,B0001,G1,district_base,spend,100,subsidy,equipment,,V1,,\n"
        "9999-12-31,U1,B0001,G1,district_base,spend,100,subsidy,equipment,,V2,,\n",
        encoding="utf-8",
    )
    before = books.event_count()

    result = books("import", str(path))

    assert result.exit_code == 2, result.output
    assert "9999-12-31 is outside the dates the ledger keeps" in result.stderr
    assert "Traceback" not in result.output
    assert books.event_count() == before


@pytest.mark.parametrize("text", ["1900-01-01", "2999-12-31", "2024/5/10", "2024年5月10日"])
def test_the_bounds_themselves_and_every_form_are_kept(text: str) -> None:
    assert business_date(text).year in (1900, 2999, 2024)
