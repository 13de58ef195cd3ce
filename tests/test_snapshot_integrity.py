"""A snapshot is never trusted without the events it summarises: the snapshots table is
append-only in the database (as the events are), and a snapshot row forged below the application
(trigger dropped, row updated or inserted) refuses the write that would have built on it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from ledger.application import GrantLedger
from ledger.grant import Grant, grant_uuid
from tests.conftest import Ledger
from tests.signing import signer
from tests.test_core_rules import refused
from tests.test_ring_fence_snapshots import long_history, snapshot_versions

FORGED = Decimal("5000000")


def forged_state(url: str, version: int) -> bytes:
    """The stored bytes of G1's snapshot at ``version`` with 5,000,000 more received on its first
    disbursement's date, encoded as the application encodes a snapshot."""
    app = GrantLedger(url)
    try:
        grant: Any = app.repository.get(grant_uuid("G1"), version=version)
        assert isinstance(grant, Grant)
        taken = type(grant).Snapshot.take(grant)
        taken.state["subsidy_received"] += FORGED
        days = taken.state["days"]["subsidy"]
        days["2024-04-10"] = days["2024-04-10"] + FORGED
        return bytes(app.mapper.to_stored_event(taken).state)
    finally:
        app.close()


def execute(url: str, *statements: str, **params: Any) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement), params)
    finally:
        engine.dispose()


def drop_snapshot_triggers(url: str) -> list[str]:
    if url.startswith("sqlite"):
        return [f"DROP TRIGGER IF EXISTS ledger_snapshots_no_{op}" for op in ("update", "delete")]
    return ["DROP TRIGGER IF EXISTS ledger_snapshots_append_only ON ledger_snapshots"]


def spend_over_the_true_balance_is_refused(ledger: Ledger, version: int) -> None:
    message = refused(
        ledger,
        "spend", "G1", "--amount", "100万", "--category", "equipment", "--source", "subsidy",
        "--voucher", "FORGED-1", "--date", "2024-07-02",
        code=6,
    )  # fmt: skip
    assert f"snapshot of grant G1 at version {version} does not match" in message
    assert ledger.balances("B0001")["B0001"]["subsidy_available"] == "105000.00"


@pytest.mark.parametrize(
    "statement",
    ["UPDATE ledger_snapshots SET topic = 'x'", "DELETE FROM ledger_snapshots"],
)
def test_the_database_refuses_update_and_delete_of_snapshots(
    ledger: Ledger, tmp_path: Path, statement: str
) -> None:
    long_history(ledger, tmp_path)
    before = snapshot_versions(ledger)
    assert before
    with pytest.raises(Exception, match="append-only"):
        execute(ledger.url, statement)
    if ledger.url.startswith("postgresql"):
        with pytest.raises(Exception, match="append-only"):
            execute(ledger.url, "TRUNCATE ledger_snapshots")
    assert snapshot_versions(ledger) == before


def test_a_snapshot_updated_below_the_application_refuses_the_write(ledger: Ledger, tmp_path: Path) -> None:
    long_history(ledger, tmp_path)
    version = snapshot_versions(ledger)[-1]
    execute(
        ledger.url,
        *drop_snapshot_triggers(ledger.url),
        "UPDATE ledger_snapshots SET state = :state WHERE originator_version = :version",
        state=forged_state(ledger.url, version),
        version=version,
    )
    spend_over_the_true_balance_is_refused(ledger, version)


def test_a_snapshot_inserted_below_the_application_refuses_the_write(ledger: Ledger, tmp_path: Path) -> None:
    """A forged snapshot of the grant's latest version, newer than any honest one."""
    long_history(ledger, tmp_path)
    ledger.ok("match", "commit", "G1", "--amount", "20万", "--funder", "单位", "--voucher", "C1")
    app = GrantLedger(ledger.url)
    try:
        version: int = app.repository.get(grant_uuid("G1")).version
        honest = snapshot_versions(ledger)[-1]
        assert version > honest
        recorder: Any = app.snapshots.recorder  # type: ignore[union-attr]
        topic = recorder.select_events(grant_uuid("G1"), desc=True, limit=1)[0].topic
    finally:
        app.close()
    key = grant_uuid("G1")
    execute(
        ledger.url,
        "INSERT INTO ledger_snapshots (originator_id, originator_version, topic, state) "
        "VALUES (:originator, :version, :topic, :state)",
        originator=key.bytes if ledger.url.startswith("sqlite") else key,
        version=version,
        topic=topic,
        state=forged_state(ledger.url, version),
    )
    assert snapshot_versions(ledger)[-1] == version
    spend_over_the_true_balance_is_refused(ledger, version)


def test_an_honest_snapshot_is_still_used_without_complaint(ledger: Ledger, tmp_path: Path) -> None:
    long_history(ledger, tmp_path)
    assert snapshot_versions(ledger)
    ledger.ok(
        "spend", "G1", "--amount", "1000", "--category", "equipment", "--source", "subsidy",
        "--voucher", "HONEST-1", "--date", "2024-07-02",
    )  # fmt: skip
    assert ledger.balances("B0001")["B0001"]["subsidy_available"] == "104000.00"


def earlier_form_state(url: str, version: int, change: Decimal = Decimal(0)) -> bytes:
    """G1's snapshot at ``version`` as the version before compact fingerprints wrote it: each
    voucher's fingerprint of the first form (from the events' own fields), no dates in order, no
    reversal date; ``change`` added to the subsidy received (a forgery in the old form)."""
    from ledger.grant import fingerprint_v1

    app = GrantLedger(url)
    try:
        first: dict[str, str] = {}
        for event in app._events(grant_uuid("G1")):
            name = type(event).__name__
            if name == "ExpenditureRecorded":
                first[f"spend/{event.voucher}"] = fingerprint_v1("spend", Grant.spend_fields(event))
            elif name == "SubsidyDisbursed":
                first[f"disburse/{event.voucher}"] = fingerprint_v1("disburse", Grant.disburse_fields(event))
        grant: Any = app.repository.get(grant_uuid("G1"), version=version)
        taken = type(grant).Snapshot.take(grant)
        state = taken.state
        assert set(state["vouchers"]) <= set(first)
        state["vouchers"] = {key: first[key] for key in state["vouchers"]}
        del state["dates"]
        for spent in state["expenditures"].values():
            spent.pop("reversed_on", None)
        state["subsidy_received"] += change
        return bytes(app.mapper.to_stored_event(taken).state)
    finally:
        app.close()


def test_a_snapshot_of_an_earlier_version_still_lets_the_grant_be_written(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """Ledgers written before the compact fingerprints hold snapshots of the first form: they
    agree with the events on everything they hold, so writes go on (from the replayed grant)."""
    long_history(sqlite_ledger, tmp_path)
    version = snapshot_versions(sqlite_ledger)[-1]
    execute(
        sqlite_ledger.url,
        *drop_snapshot_triggers(sqlite_ledger.url),
        "UPDATE ledger_snapshots SET state = :state WHERE originator_version = :version",
        state=earlier_form_state(sqlite_ledger.url, version),
        version=version,
    )
    sqlite_ledger.ok(
        "spend", "G1", "--amount", "1000", "--category", "equipment", "--source", "subsidy",
        "--voucher", "LATER-1", "--date", "2024-07-02",
    )  # fmt: skip
    repeat = sqlite_ledger.ok(
        "spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
        "--voucher", "S0", "--date", "2024-05-01",
    )  # fmt: skip
    assert "already recorded" in repeat.stdout
    assert sqlite_ledger.balances("B0001")["B0001"]["subsidy_available"] == "104000.00"


def test_a_forged_snapshot_in_the_earlier_form_is_still_refused(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    long_history(sqlite_ledger, tmp_path)
    version = snapshot_versions(sqlite_ledger)[-1]
    execute(
        sqlite_ledger.url,
        *drop_snapshot_triggers(sqlite_ledger.url),
        "UPDATE ledger_snapshots SET state = :state WHERE originator_version = :version",
        state=earlier_form_state(sqlite_ledger.url, version, FORGED),
        version=version,
    )
    spend_over_the_true_balance_is_refused(sqlite_ledger, version)


def test_a_snapshot_leaving_out_a_field_is_never_trusted_for_a_later_write(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A snapshot without ``last_day`` agrees on every field it holds; trusted, the grant's next
    load in the same process (a retry, a long-lived process) would fall back to the class default
    and judge a back-dated spend on the total instead of the end of its date."""
    from datetime import date

    from ledger.actions import Spend
    from ledger.errors import RuleViolationError

    long_history(sqlite_ledger, tmp_path)
    version = snapshot_versions(sqlite_ledger)[-1]
    app = GrantLedger(sqlite_ledger.url)
    try:
        grant: Any = app.repository.get(grant_uuid("G1"), version=version)
        taken = type(grant).Snapshot.take(grant)
        del taken.state["last_day"]
        state = bytes(app.mapper.to_stored_event(taken).state)
    finally:
        app.close()
    execute(
        sqlite_ledger.url,
        *drop_snapshot_triggers(sqlite_ledger.url),
        "UPDATE ledger_snapshots SET state = :state WHERE originator_version = :version",
        state=state,
        version=version,
    )
    app = GrantLedger(sqlite_ledger.url)
    try:
        for voucher in ("BACK-1", "BACK-2"):  # the second is the grant's second load in this process
            spend = Spend(
                grant_id="G1",
                amount=Decimal("50000"),
                category="equipment",
                source="subsidy",
                voucher=voucher,
                on=date(2024, 6, 1),
            )
            with pytest.raises(RuleViolationError, match=r"5,000\.00"):
                app.handle(spend, signer=signer(sqlite_ledger))
    finally:
        app.close()
    assert sqlite_ledger.balances("B0001")["B0001"]["subsidy_available"] == "105000.00"
