"""`projections verify`: every read model recomputed from the events and compared row by row, so a
read model edited below the application is found (exit 6, naming table, key and column)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from commands.registry import all_projections
from ledger.application import GrantLedger
from projections.verify import verify
from tests.conftest import Ledger, approved_district_grant
from tests.test_audit_trail import _money


def execute(url: str, statement: str, **params: Any) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        engine.dispose()


@pytest.fixture
def funded(ledger: Ledger) -> Ledger:
    approved_district_grant(ledger)
    _money(ledger)
    ledger.ok("output", "report", "G1", "--year", "2024", "--trainees", "100", "--advanced", "10")
    return ledger


def verify_fails(ledger: Ledger) -> tuple[str, str]:
    result = ledger("projections", "verify", role="auditor")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("grant-ledger: ") and "differences between the read models" in lines[-1]
    return result.stdout, lines[-1]


def test_untouched_read_models_agree_with_the_events(funded: Ledger) -> None:
    result = funded.ok("projections", "verify", role="auditor")
    assert result.stdout.strip() == f"all read models agree with the {funded.event_count()} events"


def test_an_edited_balance_is_named_by_table_key_and_column(funded: Ledger) -> None:
    true = funded.balances("B0001")["B0001"]["subsidy_available"]
    execute(funded.url, "UPDATE balance_grants SET subsidy_spent = 0")
    # the hole: the edited read model is what `balance` shows, and nothing looks behind
    assert funded.balances("B0001")["B0001"]["subsidy_available"] == "120000.00" != true
    status = json.loads(funded.ok("projections", "status", "--format", "json").stdout)
    assert all(row["behind"] == 0 for row in status)
    stdout, sentence = verify_fails(funded)
    rows = [line.split() for line in stdout.splitlines()[2:]]
    assert rows == [["balance_grants", "G1", "subsidy_spent", "0", "3500000"]]
    assert "1 differences" in sentence and "balance_grants" in sentence


def test_a_deleted_movement_an_added_finding_and_a_removed_leaf_are_each_named(funded: Ledger) -> None:
    execute(funded.url, "DELETE FROM balance_movements WHERE voucher = 'S1'")
    execute(
        funded.url,
        "INSERT INTO compliance_events (notification_id, grant_id, base_id, occurred_on, rule, clause, "
        "message) VALUES (999999, 'G1', 'B0001', '2024-05-01', 'forged', '003', 'forged finding')",
    )
    execute(funded.url, "UPDATE audit_leaves SET leaf_hash = :h WHERE leaf_index = 3", h="0" * 64)
    stdout, _ = verify_fails(funded)
    tables = {line.split()[0] for line in stdout.splitlines()[2:]}
    assert tables == {"balance_movements", "compliance_events", "audit_leaves"}
    assert "(no row)" in stdout and "forged finding" in stdout
    assert any(line.split()[:3] == ["audit_leaves", "3", "leaf_hash"] for line in stdout.splitlines())


def test_verify_leaves_the_stored_read_models_as_they_are(funded: Ledger) -> None:
    execute(funded.url, "UPDATE balance_grants SET subsidy_spent = 0")
    verify_fails(funded)
    verify_fails(funded)  # still there: verify recomputes elsewhere, a rebuild repairs
    funded.ok("projections", "rebuild")
    funded.ok("projections", "verify", role="auditor")


def test_the_second_process_of_a_large_store_computes_the_same(funded: Ledger) -> None:
    """The rebuild's worker processes (used from 40,000 events) recompute what the one process does."""
    execute(funded.url, "UPDATE compliance_grants SET spent = 1")
    app = GrantLedger(funded.url)
    try:
        for worker in (False, True):
            verdict = verify(app, all_projections(), worker=worker)
            assert verdict.events == funded.event_count()
            assert [(d.table, d.key, d.column, d.stored) for d in verdict.differences] == [
                ("compliance_grants", "G1", "spent", "1")
            ]
    finally:
        app.close()
