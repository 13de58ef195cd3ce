"""Recoveries received are held to the orders dated by their day (recovery date, 003 第十三条),
also for a grant whose latest snapshot an earlier version wrote, without the orders and receipts
by date: that grant is replayed from its events, as one without its spending by date is."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ledger import snapshot_seals
from ledger.application import GrantLedger
from ledger.grant import Grant
from projections.names import COMPLIANCE, tracked
from tests.conftest import Ledger, approved_district_grant
from tests.signing import signer
from tests.test_budget_line_dates import HEADER
from tests.test_one_rulebook import plant_event
from tests.test_programme_rules import findings

SPENDS = 60  # past the grant's snapshot interval (50 events)


def _ordered_and_received(ledger: Ledger) -> None:
    """G1 receives 200,000.00; 3,000.00 ordered back on 2025-03-01 and 2,000.00 on 2025-05-01;
    3,000.00 received on 2025-04-01."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    for document, amount, day in (("追1", "3000", "2025-03-01"), ("追2", "2000", "2025-05-01")):
        ledger.ok(
            "recover", "order", "G1", "--amount", amount, "--reason", "凭证不全", "--document", document,
            "--date", day, role="approver",
        )  # fmt: skip
    ledger.ok("recover", "receive", "G1", "--amount", "3000", "--voucher", "R-1", "--date", "2025-04-01")


def _orders_then_spends(ledger: Ledger, tmp_path: Path) -> None:
    """``_ordered_and_received``, then enough spends for the grant to be snapshotted."""
    _ordered_and_received(ledger)
    rows = [HEADER]
    for n in range(SPENDS):
        on = date(2024, 5, 1) + timedelta(days=n)
        rows.append(f"{on.isoformat()},,B0001,G1,,spend,10,subsidy,equipment,,P{n},,")
    path = tmp_path / "spends.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ledger.ok("import", str(path))
    ledger.ok(
        "spend",
        "G1",
        "--amount",
        "10",
        "--category",
        "equipment",
        "--voucher",
        "P-last",
        "--date",
        "2024-08-01",
    )


def _latest_snapshot_without_recovery_days(ledger: Ledger, signed: bool) -> None:
    """The grant's snapshot at its version now as an earlier version wrote it, and (``signed``)
    signed by the officer, as their own write signs a snapshot it takes."""
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            snapshots = conn.execute(text("SELECT COUNT(*) FROM ledger_snapshots")).scalar()
    finally:
        engine.dispose()
    assert snapshots, "the history is long enough to be loaded from a snapshot"
    app = GrantLedger(ledger.url)
    try:  # the latest snapshot as an earlier version wrote it
        # one event past the grant's own latest snapshot (snapshots are append-only)
        grant = app.get_grant("G1")
        assert grant.recovery_days is not None and len(grant.recovery_days) == 3
        taken = type(grant).Snapshot.take(grant)  # type: ignore[attr-defined]
        state = {k: v for k, v in taken.state.items() if k != "recovery_days"}
    finally:
        app.close()
    app = GrantLedger(ledger.url)
    try:
        app.snapshots.put([dataclasses.replace(taken, state=state)])  # type: ignore[union-attr]
    finally:
        app.close()
    engine = create_engine(ledger.url)
    try:  # the snapshot a write starts from is this one
        with engine.connect() as conn:
            latest = conn.execute(text("SELECT MAX(originator_version) FROM ledger_snapshots")).scalar()
    finally:
        engine.dispose()
    assert latest == taken.originator_version
    if signed:
        app = GrantLedger(ledger.url)
        try:
            assert app.snapshots is not None
            (stored,) = app.snapshots.recorder.select_events(taken.originator_id, desc=True, limit=1)
        finally:
            app.close()
        assert "recovery_days" not in bytes(stored.state).decode()
        engine = create_engine(ledger.url)
        try:
            with engine.begin() as conn:
                snapshot_seals.insert(conn, snapshot_seals.sealed(signer(ledger), [stored]))
        finally:
            engine.dispose()


def _ahead_refused(ledger: Ledger) -> None:
    """2,000.00 received on 2025-04-15, when the 3,000.00 ordered by then was all received:
    refused (exit 3), nothing written."""
    before = ledger.event_count()
    receive = ["recover", "receive", "G1", "--amount", "2000", "--voucher", "R-2", "--date", "2025-04-15"]
    result = ledger(*receive)
    assert result.exit_code == 3, result.stderr
    assert "recovery date, 003 第十三条" in result.stderr and "2,000.00" in result.stderr, result.stderr
    assert ledger.event_count() == before


def test_a_receipt_ahead_of_its_order_is_refused_after_many_events(ledger: Ledger, tmp_path: Path) -> None:
    """Loaded from the grant's own snapshot, the orders and receipts by date are still known."""
    _orders_then_spends(ledger, tmp_path)
    _ahead_refused(ledger)
    assert [f for f in findings(ledger) if f["rule"] == "recovery date"] == []


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_an_earlier_version_s_snapshot_is_replayed_and_the_receipt_refused(
    ledger: Ledger, tmp_path: Path, signed: bool
) -> None:
    _orders_then_spends(ledger, tmp_path)
    _latest_snapshot_without_recovery_days(ledger, signed)
    _ahead_refused(ledger)
    ledger.ok("recover", "receive", "G1", "--amount", "2000", "--voucher", "R-2", "--date", "2025-05-01")
    assert [f for f in findings(ledger) if f["rule"] == "recovery date"] == []
    # that write stored a snapshot of this form at its own version, off the snapshot points: the
    # next write starts from it, not from a replay of every event
    app = GrantLedger(ledger.url)
    try:
        grant = app.get_grant("G1")
        assert app.snapshots is not None
        (stored,) = app.snapshots.recorder.select_events(grant.id, desc=True, limit=1)
    finally:
        app.close()
    assert stored.originator_version == grant.version
    assert "recovery_days" in bytes(stored.state).decode()


def test_an_upgraded_ledger_judges_again_the_recoveries_it_took_before(ledger: Ledger) -> None:
    """Compliance facts kept by an earlier version (no recoveries by date, the read model tracked
    at version 3), then a receipt ahead of its order stored below the command: the first command
    after the upgrade rebuilds the compliance read model, whose findings show the receipt, and
    `projections verify` finds the read models equal to a rebuild."""
    _ordered_and_received(ledger)
    ledger.ok("balance", "B0001")  # caught up
    engine = create_engine(ledger.url)
    try:  # as the earlier version left them
        with engine.begin() as conn:
            for aggregate_id, facts in conn.execute(
                text("SELECT aggregate_id, facts FROM compliance_facts")
            ).all():
                kept = json.loads(facts)
                assert kept.pop("recovery_days") is not None
                conn.execute(
                    text("UPDATE compliance_facts SET facts = :facts WHERE aggregate_id = :id"),
                    {"facts": json.dumps(kept), "id": aggregate_id},
                )
            conn.execute(
                text("UPDATE ledger_tracking SET application_name = :old WHERE application_name = :now"),
                {"old": "compliance@3", "now": tracked(COMPLIANCE)},
            )
    finally:
        engine.dispose()
    plant_event(  # written below the command after the upgrade, on a grant the facts knew before
        ledger,
        Grant.FundsRecovered,
        amount=Decimal("2000.00"),
        voucher="R-2",
        occurred_on=date(2025, 4, 15),
        actor="elsewhere",
        role="officer",
    )
    found = [f for f in findings(ledger) if f["rule"] == "recovery date"]
    assert [(f["clause"], f["date"]) for f in found] == [("003 第十三条", "2025-04-15")]
    ledger.ok("projections", "verify")


def test_many_receipts_are_kept_by_their_dates_not_one_by_one(ledger: Ledger, tmp_path: Path) -> None:
    """What the grant and the judge keep of recoveries grows with their dates, not their number:
    600 receipts over 6 dates and one order are 7 entries in each (one entry a receipt made a
    grant's receipts cost the square of their number to judge)."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(
        "recover", "order", "G1", "--amount", "1000", "--reason", "凭证不全", "--document", "追1",
        "--date", "2025-03-01", role="approver",
    )  # fmt: skip
    rows = [HEADER]
    for n in range(600):
        on = date(2025, 3, 2) + timedelta(days=n % 6)
        rows.append(f"{on.isoformat()},,B0001,G1,,recover_receive,1,subsidy,,,R{n},,")
    path = tmp_path / "receipts.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ledger.ok("import", str(path))
    app = GrantLedger(ledger.url)
    try:
        kept = app.get_grant("G1").recovery_days
    finally:
        app.close()
    assert kept is not None and len(kept) == 7 and sum(kept.values()) == Decimal("400.00")
    ledger.ok("balance", "B0001")  # caught up
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            (facts,) = conn.execute(text("SELECT facts FROM compliance_facts")).scalars().all()
    finally:
        engine.dispose()
    judged = json.loads(facts)["recovery_days"]
    assert len(judged) == 7 and sum(judged.values()) == 40000  # fen
