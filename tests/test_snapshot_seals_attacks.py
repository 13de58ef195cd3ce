"""Signed snapshots (ledger.snapshot_seals) against someone who can write the database: a snapshot
one person signed vouches for it to that person alone, also inside one long-running process (the
web server serves many people and holds each grant as the last write left it); a person signs only
the bytes their own code would have stored; the PostgreSQL groups may sign and no more; and an
event before a signed snapshot, which a write no longer reads, is still caught by the audit."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ledger.actions import Spend
from ledger.application import GrantLedger
from ledger.errors import VerificationError
from tests.conftest import Ledger, approved_district_grant
from tests.test_pg_roles import Recipe, recipe  # noqa: F401  (fixture)
from tests.test_pg_roles import refused as refused_pg
from tests.test_ring_fence_snapshots import SPENDS, long_history, snapshot_versions
from tests.test_snapshot_integrity import drop_snapshot_triggers, execute, forged_state
from tests.test_snapshot_seals import drop_seal_triggers, insert_seal, key_of, seals, signature


def spend(voucher: str, amount: str) -> Spend:
    return Spend(
        grant_id="G1", amount=Decimal(amount), category="equipment", source="subsidy",
        voucher=voucher, on=date(2024, 7, 2),
    )  # fmt: skip


def signed_forgery(ledger: Ledger, tmp_path: Path) -> int:
    """G1's latest snapshot forged (5,000,000 more received) and signed by the officer's own key,
    their honest signature of it removed: the officer holds their key and the database."""
    long_history(ledger, tmp_path)
    version = snapshot_versions(ledger)[-1]
    forged = forged_state(ledger.url, version)
    insider = key_of(ledger)
    execute(
        ledger.url,
        *drop_snapshot_triggers(ledger.url),
        *drop_seal_triggers(ledger.url),
        "UPDATE ledger_snapshots SET state = :state WHERE originator_version = :version",
        "DELETE FROM ledger_snapshot_seals",
        state=forged,
        version=version,
    )
    insert_seal(ledger, version, insider.fingerprint, signature(insider, version, forged))
    return version


@pytest.mark.parametrize("held", [False, True], ids=["a command's process", "the web server's (held)"])
def test_a_snapshot_the_insider_signed_is_not_built_on_by_another_persons_write_in_the_same_process(
    ledger: Ledger, tmp_path: Path, held: bool
) -> None:
    version = signed_forgery(ledger, tmp_path)
    app = GrantLedger(ledger.url)
    if held:
        app.hold()
    try:
        assert app.handle(spend("INSIDER-1", "1"), signer=key_of(ledger)).recorded  # on their own word
        with pytest.raises(VerificationError, match=f"G1 .*{version}"):  # the forged snapshot, named
            app.handle(spend("OTHER-1", "1000000"), signer=key_of(ledger, actor="second"))
        with pytest.raises(VerificationError, match=f"G1 .*{version}"):
            app.load_grant("G1")  # nor a read in that process
    finally:
        app.close()
    assert ledger.balances("B0001")["B0001"]["subsidy_available"] == "104999.00"


def test_on_postgresql_the_writers_groups_sign_snapshots_and_the_auditor_cannot(
    recipe: Recipe,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The README's roles: an import through the officers' login and a write through the
    approvers' each sign the snapshots they took or checked; the auditor's login can add no
    signature, and no writer's can change or remove one."""
    recipe.run_setup()
    recipe.run_logins()
    owner, officer, approver, auditor = (
        recipe.ledger(x) for x in ("owner", "officer", "approver", "auditor")
    )
    owner.ok("init")
    approved_district_grant(approver)
    header = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"
    rows = [header, "2024-04-10,,B0001,G1,,disburse,10000,subsidy,,,T1,,1"]
    rows += [
        f"2024-05-{1 + n // 2:02d},,B0001,G1,,spend,100,subsidy,equipment,,S{n},," for n in range(SPENDS)
    ]
    (tmp_path / "history.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    officer.ok("import", str(tmp_path / "history.csv"))
    assert [key for _, _, key, _ in seals(officer)] == [key_of(officer).fingerprint]
    second = approver(
        "spend",
        "G1",
        "--amount",
        "100",
        "--category",
        "equipment",
        "--source",
        "subsidy",
        "--voucher",
        "A-1",
        "--date",
        "2024-06-01",
        actor="second",
    )  # fmt: skip  (another officer, through the approvers' login)
    assert second.exit_code == 0, (second.stdout, second.stderr)
    signers = {key for _, _, key, _ in seals(officer)}
    assert signers == {key_of(officer).fingerprint, key_of(approver, actor="second").fingerprint}
    officer.ok(
        "spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
        "--voucher", "O-1", "--date", "2024-06-02",
    )  # fmt: skip
    assert officer.balances("B0001")["B0001"]["subsidy_available"] == "4800.00"
    assert auditor.balances("B0001") == officer.balances("B0001")
    refused_pg(
        recipe.urls["auditor"],
        "INSERT INTO ledger_snapshot_seals (originator_id, originator_version, signer_key, form, signature) "
        "SELECT originator_id, originator_version, 'x', form, signature FROM ledger_snapshot_seals LIMIT 1",
    )
    for login in ("officer", "approver"):
        for statement in (
            "UPDATE ledger_snapshot_seals SET signature = signature",
            "DELETE FROM ledger_snapshot_seals",
            "TRUNCATE ledger_snapshot_seals",
            "DROP TRIGGER ledger_snapshot_seals_append_only ON ledger_snapshot_seals",
        ):
            refused_pg(recipe.urls[login], statement)


def test_a_snapshot_rewritten_into_equal_values_of_another_form_is_not_signed(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """Written below the application, 100.00 as 100.0000 and false as 0 compare equal to what the
    events make, so the write takes the grant from its events without complaint; but the person
    signs only the bytes their own code would have stored, not someone else's rendering of them."""
    ledger = sqlite_ledger
    long_history(ledger, tmp_path)
    version = snapshot_versions(ledger)[-1]
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            state = bytes(conn.execute(text("SELECT state FROM ledger_snapshots")).scalar_one())
    finally:
        engine.dispose()
    rewritten = state.replace(b'"100.00"', b'"100.0000"').replace(b'"reversed":false', b'"reversed":0')
    assert rewritten != state
    execute(
        ledger.url,
        *drop_snapshot_triggers(ledger.url),
        *drop_seal_triggers(ledger.url),
        "UPDATE ledger_snapshots SET state = :state WHERE originator_version = :version",
        "DELETE FROM ledger_snapshot_seals",
        state=rewritten,
        version=version,
    )
    for voucher in ("EQ-1", "EQ-2"):
        ledger.ok(
            "spend", "G1", "--amount", "1000", "--category", "equipment", "--source", "subsidy",
            "--voucher", voucher, "--date", "2024-07-02",
        )  # fmt: skip
    assert seals(ledger) == []
    assert ledger.balances("B0001")["B0001"]["subsidy_available"] == "103000.00"


def test_an_event_before_the_signed_snapshot_changed_below_the_application_fails_the_audit(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A write from a signed snapshot no longer reads the events before it, so it does not see
    one of them changed; the auditor's verification of the exported trail does, naming it."""
    from click.testing import CliRunner

    from commands.cli import cli
    from tests.test_snapshot_seals import G1

    ledger = sqlite_ledger
    long_history(ledger, tmp_path)
    engine = create_engine(ledger.url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER IF EXISTS ledger_events_no_update"))
            row = conn.execute(
                text(
                    "SELECT id, state FROM ledger_events WHERE originator_id = :o AND originator_version = 10"
                ),
                {"o": G1.bytes},
            ).one()
            state = json.loads(bytes(row.state))
            assert state["amount"]["_data_"] == "100.00"
            state["amount"]["_data_"] = "1.00"
            conn.execute(
                text("UPDATE ledger_events SET state = :s WHERE id = :i"),
                {"s": json.dumps(state).encode(), "i": row.id},
            )
    finally:
        engine.dispose()
    ledger.ok(
        "spend", "G1", "--amount", "1000", "--category", "equipment", "--source", "subsidy",
        "--voucher", "AFTER-1", "--date", "2024-07-02",
    )  # fmt: skip
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(tmp_path / "bundle"), role="auditor")
    assert ledger.root is not None
    verified = CliRunner().invoke(
        cli, ["--lang", "en", "audit", "verify", str(tmp_path / "bundle"), "--root", ledger.root]
    )
    assert verified.exit_code == 6, (verified.stdout, verified.stderr)
    assert f"Grant.ExpenditureRecorded of {G1} version 10" in verified.stdout
    assert "changed after signing" in verified.stdout


def test_the_web_server_still_holds_a_grant_built_on_the_persons_own_signed_snapshot_for_them(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """Held for its signer alone, not dropped: their next write reads only the events since it."""
    from typing import Any

    from tests.test_snapshot_seals import G1

    long_history(sqlite_ledger, tmp_path)
    version = snapshot_versions(sqlite_ledger)[-1]
    app = GrantLedger(sqlite_ledger.url)
    app.hold()
    reads: list[int] = []
    events = app._events

    def spied(key: Any, after: int = 0) -> Any:
        if key == G1:
            reads.append(after)
        return events(key, after)

    app._events = spied  # type: ignore[method-assign]
    try:
        first = app.handle(spend("HELD-1", "1"), signer=key_of(sqlite_ledger))
        assert first.recorded and first.grant is not None
        held_at = first.grant.version
        assert app.handle(spend("HELD-2", "1"), signer=key_of(sqlite_ledger)).recorded
    finally:
        app.close()
    # from the signed snapshot on, then only from the held grant's own last event on
    assert reads == [version - 1, held_at - 1], reads
    assert held_at > version
