"""A person's signature on a snapshot their own write took or checked (ledger.snapshot_seals): their
next write reads only the events since that snapshot, not the grant's whole history. A snapshot
forged below the application is refused whatever signatures are stored beside it: another
person's, another key's under the person's name, one moved from another snapshot."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from ledger import snapshot_seals
from ledger.actions import Spend
from ledger.application import GrantLedger
from ledger.grant import grant_uuid
from ledger.seal import Signer, load_signer
from tests.conftest import Ledger
from tests.test_ring_fence_snapshots import long_history, snapshot_versions
from tests.test_snapshot_integrity import (
    drop_snapshot_triggers,
    execute,
    forged_state,
    spend_over_the_true_balance_is_refused,
)

G1 = grant_uuid("G1")


def seals(ledger: Ledger) -> list[tuple[str, int, str, str]]:
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT originator_id, originator_version, signer_key, signature "
                    "FROM ledger_snapshot_seals ORDER BY originator_version, signer_key"
                )
            )
            return [(str(a), int(b), str(c), str(d)) for a, b, c, d in rows]
    finally:
        engine.dispose()


def key_of(ledger: Ledger, role: str = "officer", actor: str = "tester") -> Signer:
    return load_signer(ledger.key(role, actor))


def drop_seal_triggers(url: str) -> list[str]:
    table = snapshot_seals.TABLE
    if url.startswith("sqlite"):
        return [f"DROP TRIGGER IF EXISTS {table}_no_{op}" for op in ("update", "delete")]
    return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"]


def signature(by: Signer, version: int, state: bytes) -> str:
    return by.sign(snapshot_seals.message(G1, version, state))


def insert_seal(ledger: Ledger, version: int, key: str, signed: str) -> None:
    execute(
        ledger.url,
        "INSERT INTO ledger_snapshot_seals (originator_id, originator_version, signer_key, form, signature) "
        "VALUES (:id, :version, :key, :form, :signature)",
        id=G1.hex,
        version=version,
        key=key,
        form=snapshot_seals.form(),
        signature=signed,
    )


def spend_reading(ledger: Ledger, voucher: str) -> list[int]:
    """A spend of 1,000.00 on G1 recorded by the officer through the application, and from which
    version on it read G1's events (``after``) each time it read them."""
    app = GrantLedger(ledger.url)
    reads: list[tuple[Any, int]] = []
    events = app._events

    def spied(key: Any, after: int = 0) -> Any:
        reads.append((key, after))
        return events(key, after)

    app._events = spied  # type: ignore[method-assign]
    try:
        spend = Spend(
            grant_id="G1",
            amount=Decimal("1000"),
            category="equipment",
            source="subsidy",
            voucher=voucher,
            on=date(2024, 7, 2),
        )
        assert app.handle(spend, signer=key_of(ledger)).recorded
    finally:
        app.close()
    return [after for key, after in reads if key == G1]


def test_an_import_signs_its_snapshots_with_the_importers_own_key(ledger: Ledger, tmp_path: Path) -> None:
    long_history(ledger, tmp_path)
    version = snapshot_versions(ledger)[-1]
    officer = key_of(ledger)
    [(originator, at, key, signed)] = seals(ledger)
    assert (originator, at, key) == (G1.hex, version, officer.fingerprint)
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            state = conn.execute(text("SELECT state FROM ledger_snapshots")).scalar_one()
    finally:
        engine.dispose()
    from audit.verifier.seals import signature_verifies

    assert signature_verifies(snapshot_seals.message(G1, version, bytes(state)), signed, officer.public_raw)


def test_the_next_write_reads_only_the_events_since_its_own_signed_snapshot(
    ledger: Ledger, tmp_path: Path
) -> None:
    long_history(ledger, tmp_path)
    version = snapshot_versions(ledger)[-1]
    assert spend_reading(ledger, "SINCE-1") == [version - 1]  # not the whole history (after 0)
    assert ledger.balances("B0001")["B0001"]["subsidy_available"] == "104000.00"


def test_a_write_checks_the_long_way_a_snapshot_someone_else_signed_and_then_signs_it(
    ledger: Ledger, tmp_path: Path
) -> None:
    long_history(ledger, tmp_path)
    version = snapshot_versions(ledger)[-1]
    other = key_of(ledger, actor="second")
    result = ledger(
        "spend", "G1", "--amount", "1000", "--category", "equipment", "--source", "subsidy",
        "--voucher", "OTHER-1", "--date", "2024-07-02", actor="second",
    )  # fmt: skip
    assert result.exit_code == 0, (result.stdout, result.stderr)
    signers = {key for _, at, key, _ in seals(ledger) if at == version}
    assert signers == {key_of(ledger).fingerprint, other.fingerprint}
    assert ledger.balances("B0001")["B0001"]["subsidy_available"] == "104000.00"


@pytest.mark.parametrize("how", ["another person's key", "the officer's name, another key's signature"])
def test_a_forged_snapshot_is_refused_whatever_signature_is_stored_beside_it(
    ledger: Ledger, tmp_path: Path, how: str
) -> None:
    long_history(ledger, tmp_path)
    version = snapshot_versions(ledger)[-1]
    forged = forged_state(ledger.url, version)
    approver, officer = key_of(ledger, "approver"), key_of(ledger)
    execute(
        ledger.url,
        *drop_snapshot_triggers(ledger.url),
        "UPDATE ledger_snapshots SET state = :state WHERE originator_version = :version",
        state=forged,
        version=version,
    )
    if how == "another person's key":
        insert_seal(ledger, version, approver.fingerprint, signature(approver, version, forged))
    else:
        execute(
            ledger.url,
            *drop_seal_triggers(ledger.url),
            "UPDATE ledger_snapshot_seals SET signature = :signature WHERE signer_key = :key",
            signature=signature(approver, version, forged),
            key=officer.fingerprint,
        )
    spend_over_the_true_balance_is_refused(ledger, version)


def test_a_signature_moved_to_a_forged_later_snapshot_does_not_vouch_for_it(
    ledger: Ledger, tmp_path: Path
) -> None:
    long_history(ledger, tmp_path)
    ledger.ok("match", "commit", "G1", "--amount", "20万", "--funder", "单位", "--voucher", "C1")
    honest = snapshot_versions(ledger)[-1]
    app = GrantLedger(ledger.url)
    try:
        version: int = app.repository.get(G1).version
        recorder: Any = app.snapshots.recorder  # type: ignore[union-attr]
        topic = recorder.select_events(G1, desc=True, limit=1)[0].topic
    finally:
        app.close()
    assert version > honest
    [(_, _, key, signed)] = [row for row in seals(ledger) if row[1] == honest]
    execute(
        ledger.url,
        "INSERT INTO ledger_snapshots (originator_id, originator_version, topic, state) "
        "VALUES (:originator, :version, :topic, :state)",
        originator=G1.bytes if ledger.url.startswith("sqlite") else G1,
        version=version,
        topic=topic,
        state=forged_state(ledger.url, version),
    )
    insert_seal(ledger, version, key, signed)
    spend_over_the_true_balance_is_refused(ledger, version)


@pytest.mark.parametrize(
    "statement", ["UPDATE ledger_snapshot_seals SET signature = 'x'", "DELETE FROM ledger_snapshot_seals"]
)
def test_the_database_refuses_to_change_or_delete_signed_snapshots(
    ledger: Ledger, tmp_path: Path, statement: str
) -> None:
    long_history(ledger, tmp_path)
    before = seals(ledger)
    assert before
    with pytest.raises(Exception, match="append-only"):
        execute(ledger.url, statement)
    assert seals(ledger) == before


def test_a_ledger_made_before_signed_snapshots_is_written_as_before(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    long_history(sqlite_ledger, tmp_path)
    execute(sqlite_ledger.url, f"DROP TABLE {snapshot_seals.TABLE}")
    for voucher in ("OLD-1", "OLD-2"):
        sqlite_ledger.ok(
            "spend", "G1", "--amount", "1000", "--category", "equipment", "--source", "subsidy",
            "--voucher", voucher, "--date", "2024-07-02",
        )  # fmt: skip
    assert sqlite_ledger.balances("B0001")["B0001"]["subsidy_available"] == "103000.00"
    version = snapshot_versions(sqlite_ledger)[-1]
    execute(
        sqlite_ledger.url,
        *drop_snapshot_triggers(sqlite_ledger.url),
        "UPDATE ledger_snapshots SET state = :state WHERE originator_version = :version",
        state=forged_state(sqlite_ledger.url, version),
        version=version,
    )
    message = sqlite_ledger(
        "spend", "G1", "--amount", "100万", "--category", "equipment", "--source", "subsidy",
        "--voucher", "FORGED-1", "--date", "2024-07-02",
    )  # fmt: skip
    assert message.exit_code == 6 and "does not match" in message.stderr


def test_a_snapshot_signed_under_other_code_is_checked_the_long_way_and_signed_again(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later release may keep a field more in its grants: a snapshot signed under the code
    before is not taken as it stands (the field would be the class default), but replayed."""
    long_history(ledger, tmp_path)
    version = snapshot_versions(ledger)[-1]
    monkeypatch.setattr(snapshot_seals, "form", lambda: "another release")
    assert spend_reading(ledger, "RELEASE-1") == [0]
    assert [at for _, at, _, _ in seals(ledger)] == [version, version]  # signed under each code
    assert ledger.balances("B0001")["B0001"]["subsidy_available"] == "104000.00"


def test_a_row_of_garbage_stored_first_under_a_persons_key_does_not_keep_their_signature_out(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Someone with the database stores a signature of nothing under the second officer's key for
    the grant's snapshot before they sign it: their own signature is stored beside it, and their
    next write starts from the snapshot."""
    long_history(ledger, tmp_path)
    version = snapshot_versions(ledger)[-1]
    second = key_of(ledger, actor="second")
    insert_seal(ledger, version, second.fingerprint, "00" * 64)
    for voucher in ("GARBAGE-1", "GARBAGE-2"):
        result = ledger(
            "spend", "G1", "--amount", "1000", "--category", "equipment", "--source", "subsidy",
            "--voucher", voucher, "--date", "2024-07-02", actor="second",
        )  # fmt: skip
        assert result.exit_code == 0, (result.stdout, result.stderr)
    theirs = [signed for _, at, key, signed in seals(ledger) if at == version and key == second.fingerprint]
    assert sorted(theirs) == sorted(["00" * 64, signature(second, version, snapshot_state(ledger, version))])
    assert ledger.balances("B0001")["B0001"]["subsidy_available"] == "103000.00"


def snapshot_state(ledger: Ledger, version: int) -> bytes:
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            state = conn.execute(
                text("SELECT state FROM ledger_snapshots WHERE originator_version = :v"), {"v": version}
            ).scalar_one()
    finally:
        engine.dispose()
    return bytes(state)
