"""The overview and every report read a base's totals from the grants' rows when nothing of the
base is dated after the day asked for, and the findings read their records a few queries for
many grants; an index added by this version is made on a ledger an earlier one made. Each fast
way must give exactly what the long way gives: the same figures to the fen, the same findings."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import create_engine, text

import projections.findings as findings_module
import projections.reports as reports_module
from tests.conftest import Ledger, approved_district_grant


def _books(ledger: Ledger) -> None:
    """Three grants: money, a spend late in June, a rectification past its deadline, a report."""
    for n in (1, 2, 3):
        grant, base = f"G{n}", f"B000{n}"
        if n > 1:
            approved_district_grant(ledger, grant, base, f"U{n}")
        else:
            approved_district_grant(ledger)
        ledger.ok("disburse", grant, "--amount", f"{n}万", "--voucher", f"拨-{n}", "--date", "2024-04-15")
        ledger.ok("spend", grant, "--amount", f"{n}000", "--category", "equipment", "--source", "subsidy",
                  "--voucher", f"记-{n}", "--date", "2024-06-20")  # fmt: skip
    ledger.ok("rectify", "order", "G2", "--ref", "R1", "--finding", "台账不全", "--deadline", "2024-09-30",
              "--date", "2024-06-30", role="approver")  # fmt: skip


def _report(ledger: Ledger, *args: str) -> Any:
    return json.loads(ledger.ok("report", *args, "--format", "json").stdout)


@pytest.mark.parametrize("as_of", ["2024-05-01", "2024-06-20", "2024-12-31"])
def test_totals_from_the_grants_rows_are_the_movements_sums(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch, as_of: str
) -> None:
    """Before 2024-06-20 the spends are still to come (the movements are summed); on and after it
    nothing is dated later (the grants' rows are read): either way the same figures."""
    _books(sqlite_ledger)
    reports = [
        _report(sqlite_ledger, name, "--as-of", as_of) for name in ("execution", "matching", "sources")
    ] + [_report(sqlite_ledger, "findings", "--as-of", as_of)]
    engine = create_engine(sqlite_ledger.url)
    try:
        fast = reports_module._nothing_dated_after(engine, ["B0001", "B0002"], date.fromisoformat(as_of))
    finally:
        engine.dispose()
    assert fast == (as_of >= "2024-06-20")
    monkeypatch.setattr(reports_module, "_nothing_dated_after", lambda *_: False)
    summed = [
        _report(sqlite_ledger, name, "--as-of", as_of) for name in ("execution", "matching", "sources")
    ] + [_report(sqlite_ledger, "findings", "--as-of", as_of)]
    assert reports == summed
    spent = {row["grant_id"]: row["spent"] for row in reports[0]}
    assert spent == (
        {"G1": "1000.00", "G2": "2000.00", "G3": "3000.00"} if fast else dict.fromkeys(spent, "0.00")
    )


def test_findings_read_in_small_lots_are_the_findings_read_at_once(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    _books(sqlite_ledger)
    at_once = _report(sqlite_ledger, "findings", "--as-of", "2024-12-31")
    monkeypatch.setattr(findings_module, "SELECT_CHUNK", 1)
    one_by_one = _report(sqlite_ledger, "findings", "--as-of", "2024-12-31")
    assert at_once == one_by_one
    rules = [(row["grant_id"], row["rule"]) for row in at_once]
    assert rules == [("G1", "matching 1:1"), ("G2", "matching 1:1"), ("G2", "rectification overdue"),
                     ("G3", "matching 1:1")]  # fmt: skip


def test_an_index_this_version_added_is_made_on_an_earlier_ledger(ledger: Ledger) -> None:
    """The check that the tables and indexes are all there (one catalogue query per command, on
    both databases) must see the one missing."""
    _books(ledger)
    before = _report(ledger, "findings", "--as-of", "2024-12-31")
    engine = create_engine(ledger.url)
    if engine.dialect.name == "sqlite":
        count = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'history_acts_kind'"
    else:
        where = "schemaname = current_schema() AND indexname = 'history_acts_kind'"
        count = f"SELECT COUNT(*) FROM pg_indexes WHERE {where}"
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX history_acts_kind"))  # as an earlier version left it
        ledger.ok("spend", "G1", "--amount", "1", "--category", "equipment", "--source", "subsidy",
                  "--voucher", "记-9", "--date", "2024-06-21")  # fmt: skip
        with engine.connect() as conn:
            found = conn.execute(text(count)).scalar_one()
    finally:
        engine.dispose()
    assert found == 1
    after = _report(ledger, "findings", "--as-of", "2024-12-31")
    assert after == before
