"""A report names its bases by base id or by grant id, and one naming neither is exit 4 with one
sentence — never an empty list that reads as "nothing to report"."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Ledger

REPORTS = ("sources", "categories", "execution", "matching", "budget")


@pytest.mark.parametrize("report", REPORTS)
def test_a_grant_id_stands_for_its_base_and_an_unknown_name_is_not_found(
    demo_sqlite_ledger: Ledger, report: str
) -> None:
    ledger = demo_sqlite_ledger
    by_base = json.loads(ledger.ok("report", report, "B0001", "--format", "json").stdout)
    by_grant = json.loads(ledger.ok("report", report, "G-YZ-2024-01", "--format", "json").stdout)
    assert by_grant and by_grant == by_base
    assert {row["base_id"] for row in by_grant} == {"B0001"}
    unknown = ledger("report", report, "G-NOPE-2024-99", "--format", "json")
    assert unknown.exit_code == 4 and unknown.stdout == ""
    assert unknown.stderr.strip() == "grant-ledger: no base or grant G-NOPE-2024-99 in the ledger"
