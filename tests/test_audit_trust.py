"""An audit that cannot be fooled (issue 14, High): signed checkpoints survive a rebuild and a new
one must extend the last; only keys the auditor already trusts anchor a bundle; a redacted bundle
cannot withhold its own aggregates' events. Each drill is what an attacker with the files does."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from audit.bundle import write_manifest
from audit.signing import generate_keypair
from ledger.database import EVENTS_TABLE
from tests.conftest import Ledger, approved_district_grant, prepared


def _money(ledger: Ledger, grant: str = "G1") -> None:
    ledger.ok("disburse", grant, "--amount", "12万", "--voucher", f"{grant}-T1", "--date", "2024-04-10")
    for voucher, amount, day in (("S1", "3.5万", "2024-05-10"), ("S2", "12000", "2024-05-11")):
        ledger.ok(
            "spend", grant, "--amount", amount, "--category", "equipment", "--source", "subsidy",
            "--voucher", f"{grant}-{voucher}", "--date", day,
        )  # fmt: skip


def _one_grant_s_money(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    _money(ledger)


@pytest.fixture
def keyed(backend: str, tmp_path: Path) -> Iterator[tuple[Ledger, Path]]:
    """A ledger with one grant's money, and the key of its registered approver."""
    for ledger in prepared(backend, tmp_path, _one_grant_s_money):
        yield ledger, ledger.key("approver")


def _checkpoint(ledger: Ledger, save: Path | None = None) -> str:
    out = ledger.ok("audit", "checkpoint", role="approver").stdout
    if save is not None:
        save.write_text(out, encoding="utf-8")
    return out


def _export(ledger: Ledger, directory: Path, *options: str) -> Path:
    ledger.ok("audit", "export", str(directory), *options, role="auditor")
    return directory


def _verify(ledger: Ledger, bundle: Path, *options: str, root: bool = False) -> tuple[int, str]:
    """``root``: with the ledger's trust root (--root); without it, the checkpoints are anchored by
    --public-key or --trusted alone, the people registry by nothing."""
    assert ledger.root is not None
    pinned = ["--root", ledger.root] if root else []
    result = ledger("audit", "verify", str(bundle), *pinned, *options, role="auditor")
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout


def _lines(bundle: Path) -> list[dict]:
    return [json.loads(line) for line in (bundle / "events.jsonl").read_text("utf-8").splitlines()]


def _write_lines(bundle: Path, lines: list[dict]) -> None:
    body = "".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines)
    (bundle / "events.jsonl").write_text(body, encoding="utf-8")


# ----------------------------------------------------------------------------- 1. checkpoints are records


def _rewrite_payee_below_the_application(url: str, voucher: str, payee: str) -> int:
    """What someone with the SQLite file does: drop the guard, rewrite a spend, put the guard back.
    Returns the rewritten event's store id."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(text(f"SELECT id, state FROM {EVENTS_TABLE} ORDER BY id")).all()
            nid, state = next((i, bytes(s)) for i, s in rows if voucher.encode() in bytes(s))
            conn.execute(text(f"DROP TRIGGER {EVENTS_TABLE}_no_update"))
            data = json.loads(state)
            data["payee"] = payee
            conn.execute(
                text(f"UPDATE {EVENTS_TABLE} SET state = :s WHERE id = :id"),
                {"s": json.dumps(data, ensure_ascii=False).encode(), "id": nid},
            )
            conn.execute(
                text(
                    f"CREATE TRIGGER {EVENTS_TABLE}_no_update BEFORE UPDATE ON {EVENTS_TABLE} "
                    "BEGIN SELECT RAISE(ABORT, 'grant-ledger events are append-only: UPDATE refused'); END"
                )
            )
        return int(nid)
    finally:
        engine.dispose()


def test_a_rebuild_keeps_signed_checkpoints_and_they_are_still_exported(
    keyed: tuple[Ledger, Path], tmp_path: Path
) -> None:
    ledger, _ = keyed
    first = _checkpoint(ledger, tmp_path / "cp1.txt")
    ledger.ok(
        "disburse", "G1", "--amount", "1万", "--voucher", "T2", "--tranche", "2", "--date", "2024-07-01"
    )
    second = _checkpoint(ledger)
    ledger.ok("projections", "rebuild")
    # the latest checkpoint is repeated, not signed anew as sequence 1
    result = ledger.ok("audit", "checkpoint", role="approver")
    assert result.stdout == second and "latest checkpoint repeated" in result.stderr
    b = _export(ledger, tmp_path / "b")
    kept = sorted(p.read_text("utf-8") for p in (b / "checkpoints").glob("*.txt"))
    assert kept == sorted([first, second])
    code, out = _verify(ledger, b, "--trusted", str(tmp_path / "cp1.txt"))
    assert code == 0, out


@pytest.mark.parametrize("table", ["audit_checkpoints", "audit_signed_leaves"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET leaf_index = leaf_index", "DELETE FROM {t}"])
def test_the_database_refuses_to_change_signed_checkpoints(
    keyed: tuple[Ledger, Path], table: str, statement: str
) -> None:
    ledger, _ = keyed
    _checkpoint(ledger)
    if table == "audit_checkpoints":
        statement = statement.replace("leaf_index = leaf_index", "size = size + 1")
    engine = create_engine(ledger.url)
    try:
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement.format(t=table)))
        if engine.dialect.name == "postgresql":
            with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {table}"))
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar()
    finally:
        engine.dispose()


def test_checkpoint_refuses_to_sign_a_rewritten_history_after_a_rebuild(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    ledger = sqlite_ledger
    approved_district_grant(ledger)
    _money(ledger)
    signed = _checkpoint(ledger)
    nid = _rewrite_payee_below_the_application(ledger.url, "G1-S1", "另一家公司")
    _reseal(ledger.url, nid, ledger.key("officer"))  # the officer re-signs their rewritten spend
    with create_engine(ledger.url).connect() as conn:
        index, version = conn.execute(
            text("SELECT leaf_index, originator_version FROM audit_leaves WHERE notification_id = :n"),
            {"n": nid},
        ).one()
    ledger.ok("projections", "rebuild")
    ledger.ok(
        "disburse", "G1", "--amount", "1万", "--voucher", "T2", "--tranche", "2", "--date", "2024-07-01"
    )

    result = ledger("audit", "checkpoint", role="approver")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "not a consistent extension of checkpoint 1" in result.stderr
    assert f"leaf {index} (event {nid}, grant G1 (" in result.stderr
    assert f"version {version}) differs from the signed one" in result.stderr
    assert "Traceback" not in result.stderr
    # nothing was signed: the last checkpoint is still the honest one
    b = _export(ledger, tmp_path / "b")
    assert [p.read_text("utf-8") for p in sorted((b / "checkpoints").glob("*.txt"))] == [signed]


def _reseal(url: str, nid: int, key: Path) -> None:
    """The seal of event ``nid`` rewritten over the events as they now stand, signed with ``key``
    (an insider's own): the ledger's seal checks then take the rewrite."""
    from uuid import UUID

    from audit.verifier.seals import seal_message
    from ledger.seal import leaf_hex, load_signer

    signer = load_signer(key)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, originator_id, originator_version, topic, state "
                    f"FROM {EVENTS_TABLE} ORDER BY id"
                )
            ).all()
            seal_id = json.loads(bytes(next(r.state for r in rows if r.id == nid)))["seal"]
            sealed = [r for r in rows if json.loads(bytes(r.state)).get("seal") == seal_id]
            leaves = "".join(
                leaf_hex(UUID(bytes=bytes(r.originator_id)), r.originator_version, r.topic, bytes(r.state))
                for r in sealed
            )
            seal = next(r for r in rows if r.originator_id == UUID(seal_id).bytes)
            state = json.loads(bytes(seal.state))
            state["leaves"] = leaves
            state["signature"] = signer.sign(seal_message(seal_id, state["signer"], state["key"], leaves))
            conn.execute(text(f"DROP TRIGGER {EVENTS_TABLE}_no_update"))
            conn.execute(
                text(f"UPDATE {EVENTS_TABLE} SET state = :s WHERE id = :id"),
                {"s": json.dumps(state).encode(), "id": seal.id},
            )
            conn.execute(
                text(
                    f"CREATE TRIGGER {EVENTS_TABLE}_no_update BEFORE UPDATE ON {EVENTS_TABLE} "
                    "BEGIN SELECT RAISE(ABORT, 'grant-ledger events are append-only: UPDATE refused'); END"
                )
            )
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- 2. trust anchors


def test_a_checkpoint_signed_by_a_key_the_forger_put_in_the_bundle_fails_against_the_trusted_one(
    keyed: tuple[Ledger, Path], tmp_path: Path
) -> None:
    ledger, key = keyed
    if not ledger.url.startswith("sqlite"):
        pytest.skip("the forger copies the ledger's file")
    _checkpoint(ledger, tmp_path / "trusted.txt")
    # The forger: a copy of the ledger file, a spend that never happened recorded in it, a
    # checkpoint extending the honest one signed with a key pair of their own (under the same
    # name), and the bundle exported from the copy: consistent in every file, MANIFEST included.
    attacker_key, attacker_pub = generate_keypair(tmp_path / "attacker", "ledger")
    copy = tmp_path / "forged.db"
    source = sqlite3.connect(ledger.url.removeprefix("sqlite:///"))
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    forger = Ledger(f"sqlite:///{copy}", ledger.runner, create=False)
    forger.ok(
        "spend", "G1", "--amount", "5万", "--category", "equipment", "--source", "subsidy",
        "--voucher", "FORGED-1", "--date", "2024-05-11",
    )  # fmt: skip
    # the ledger lets no key outside its registry sign a checkpoint: the forger signs past it
    from audit.signing import load_private_key
    from audit.trail import sign_head

    engine = create_engine(forger.url)
    try:
        sign_head(engine, load_private_key(attacker_key), "ledger")
    finally:
        engine.dispose()
    b = _export(forger, tmp_path / "b")
    assert len(list((b / "keys").glob("*.pub"))) == 2  # the honest key and the forger's, both shipped

    # even unanchored, the bundle's own registry has no such approver
    code, out = _verify(ledger, b)
    assert code == 6 and out.count("\n  - ") == 1, out
    assert "checkpoints/0002.txt: not signed by an approver registered at its size" in out
    assert "(signed as ledger)" in out

    code, out = _verify(ledger, b, "--trusted", str(tmp_path / "trusted.txt"))
    assert code == 6, out
    assert (
        "checkpoints/0002.txt: signature check failed: not signed by the key that signed trusted.txt" in out
    )
    assert "checkpoints/0001.txt" not in out  # the honest one is anchored by the trusted checkpoint

    honest_pub = key.with_suffix(".pub")
    code, out = _verify(ledger, b, "--public-key", str(honest_pub))
    assert code == 6 and "checkpoints/0002.txt: signature check failed: not signed by your public key" in out
    code, out = _verify(
        ledger, b, "--trusted", str(tmp_path / "trusted.txt"), "--public-key", str(attacker_pub)
    )
    assert (
        code == 6
        and "trusted checkpoint trusted.txt: signature check failed: not signed by your public key" in out
    )


def test_an_honest_bundle_passes_anchored_by_the_trusted_checkpoint_alone(
    keyed: tuple[Ledger, Path], tmp_path: Path
) -> None:
    ledger, key = keyed
    _checkpoint(ledger, tmp_path / "trusted.txt")
    ledger.ok(
        "disburse", "G1", "--amount", "1万", "--voucher", "T2", "--tranche", "2", "--date", "2024-07-01"
    )
    _checkpoint(ledger)
    b = _export(ledger, tmp_path / "b")
    code, out = _verify(ledger, b, "--trusted", str(tmp_path / "trusted.txt"))
    assert code == 0, out
    # the registry was founded within the checkpoint kept, which the log extends: it is the ledger's
    assert out.startswith("PASS: ") and "NOT ANCHORED" not in out
    assert "2 checkpoints signed by the key that signed trusted.txt" in out
    code, out = _verify(ledger, b, "--trusted", str(tmp_path / "trusted.txt"), root=True)
    assert code == 0, out
    assert (
        out.startswith("PASS: ")
        and "2 checkpoints signed by approvers registered under the trust root" in out
    )
    assert "NOT ANCHORED" not in out and "consistent with the trusted checkpoint" in out
    # the key alone anchors the checkpoints, not who signed the acts: whoever holds it could found a
    # registry of their own (a red-team pass forged a whole ledger so)
    code, out = _verify(ledger, b, "--public-key", str(key.with_suffix(".pub")))
    assert code == 6 and out == ""
    code, out = _verify(ledger, b, "--public-key", str(key.with_suffix(".pub")), "--unanchored")
    assert code == 0 and out.startswith("PASS (people NOT ANCHORED)") and "signed by your public key" in out


def test_a_trusted_checkpoint_no_bundle_key_verifies_needs_the_public_key(
    keyed: tuple[Ledger, Path], tmp_path: Path
) -> None:
    ledger, key = keyed
    _checkpoint(ledger, tmp_path / "trusted.txt")
    b = _export(ledger, tmp_path / "b")
    for pub in (b / "keys").glob("*.pub"):  # the forger swaps the honest key for their own
        _, attacker_pub = generate_keypair(tmp_path / "attacker", "ledger")
        pub.write_bytes(attacker_pub.read_bytes())
    write_manifest(b)
    code, out = _verify(ledger, b, "--trusted", str(tmp_path / "trusted.txt"))
    assert code == 6
    assert "no key of the bundle verifies its signature" in out and "--public-key" in out
    code, out = _verify(
        ledger, b, "--trusted", str(tmp_path / "trusted.txt"), "--public-key", str(key.with_suffix(".pub"))
    )
    assert code == 0, out


# ----------------------------------------------------------------------------- 3. no gaps


def _withhold(bundle: Path, voucher: str) -> dict:
    """The forger turns one event's line into a withheld one (its leaf hash stays, so every
    signature still checks), books it in bundle.json under an aggregate the bundle leaves out, and
    makes the workbook agree: the event log row withheld, the balances without the spend."""
    from openpyxl import load_workbook

    from audit.verifier.layout import event_log_row

    lines = _lines(bundle)
    target = next(
        line for line in lines if line.get("record") and line["record"]["state"].get("voucher") == voucher
    )
    record = target.pop("record")
    target["withheld"] = True
    _write_lines(bundle, lines)
    meta = json.loads((bundle / "bundle.json").read_text("utf-8"))
    other = next(iter(meta["withheld_aggregates"]))
    meta["withheld_aggregates"][other] += 1
    (bundle / "bundle.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    book = load_workbook(bundle / "report.xlsx")
    log = book["event log"]
    for n, value in enumerate(
        event_log_row(target["leaf_index"], target["event_id"], target["leaf_hash"], None)
    ):
        log.cell(row=target["leaf_index"] + 2, column=n + 1, value=value)
    amount = float(record["state"]["amount"]["_data_"])
    sheet = book["balances"]
    header = [c.value for c in sheet[4]]
    for column, sign in (("补助支出", -1), ("补助结余", 1)):
        for row in (5, 6):  # the grant's row and the 合计 below it
            cell = sheet.cell(row=row, column=header.index(column) + 1)
            cell.value = float(cell.value) + sign * amount
    book.save(bundle / "report.xlsx")
    write_manifest(bundle)
    return record


def test_a_grant_bundle_withholding_one_of_its_own_events_fails_naming_the_missing_version(
    keyed: tuple[Ledger, Path], tmp_path: Path
) -> None:
    ledger, key = keyed
    approved_district_grant(ledger, grant="G2", base="B0002", unit="U2")
    _checkpoint(ledger, tmp_path / "trusted.txt")
    b = _export(ledger, tmp_path / "b", "--grant", "G1")
    code, out = _verify(ledger, b, "--trusted", str(tmp_path / "trusted.txt"))
    assert code == 0, out
    withheld = json.loads((b / "bundle.json").read_text("utf-8"))["withheld_aggregates"]
    assert f"every event of {len(withheld)} aggregates this bundle leaves out" in out

    record = _withhold(b, "G1-S1")
    pub = str(key.with_suffix(".pub"))
    code, out = _verify(ledger, b, "--trusted", str(tmp_path / "trusted.txt"), "--public-key", pub)
    assert code == 6, out
    version = record["originator_version"]
    assert f"grant G1 ({record['originator_id']}) version {version + 1} follows version {version - 1}" in out
    assert f"version {version} is missing (withheld or deleted)" in out


def test_a_bundle_that_lists_an_included_aggregate_as_withheld_fails(
    keyed: tuple[Ledger, Path], tmp_path: Path
) -> None:
    ledger, _ = keyed
    _checkpoint(ledger, tmp_path / "trusted.txt")
    b = _export(ledger, tmp_path / "b", "--grant", "G1")
    lines = _lines(b)
    # The last G1 event withheld and booked to G1 itself: no gap shows, the listing gives it away.
    last = max(
        (line for line in lines if line.get("record")), key=lambda line: line["record"]["originator_version"]
    )
    g1 = last["record"]["originator_id"]
    meta = json.loads((b / "bundle.json").read_text("utf-8"))
    meta["withheld_aggregates"][g1] = 1
    (b / "bundle.json").write_text(json.dumps(meta), encoding="utf-8")
    del last["record"]
    last["withheld"] = True
    _write_lines(b, lines)
    write_manifest(b)
    code, out = _verify(ledger, b, "--trusted", str(tmp_path / "trusted.txt"))
    assert code == 6
    assert (
        f"bundle.json: 1 events of grant G1 ({g1}) are withheld, yet the bundle includes that aggregate"
        in out
    )


def test_a_bundle_whose_listing_does_not_add_up_fails(keyed: tuple[Ledger, Path], tmp_path: Path) -> None:
    ledger, _ = keyed
    approved_district_grant(ledger, grant="G2", base="B0002", unit="U2")
    _checkpoint(ledger, tmp_path / "trusted.txt")
    b = _export(ledger, tmp_path / "b", "--grant", "G1")
    meta = json.loads((b / "bundle.json").read_text("utf-8"))
    listed = sum(meta["withheld_aggregates"].values())
    meta["withheld_aggregates"] = {}
    (b / "bundle.json").write_text(json.dumps(meta), encoding="utf-8")
    write_manifest(b)
    code, out = _verify(ledger, b, "--trusted", str(tmp_path / "trusted.txt"))
    assert code == 6
    assert f"bundle.json: lists 0 withheld events of 0 aggregates, but events.jsonl withholds {listed}" in out


def _grown_since_a_checkpoint(ledger: Ledger) -> str:
    """A checkpoint signed (its text), then a disbursement stored after it."""
    signed = _checkpoint(ledger)
    ledger.ok(
        "disburse", "G1", "--amount", "1万", "--voucher", "T2", "--tranche", "2", "--date", "2024-07-01"
    )
    return signed


def _checkpoints_stored(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM audit_checkpoints")).scalar_one())
    finally:
        engine.dispose()


def test_checkpoint_refuses_a_log_with_a_leaf_deleted_below_the_application(
    keyed: tuple[Ledger, Path],
) -> None:
    """The signer streams the stored leaves (SQLite's own cursor, PostgreSQL's server-side one):
    a leaf deleted from the read model stops the signing at that leaf, exit 6, nothing signed; the
    same connection's later statements are plain ones (a rebuild brings the leaf back, and the next
    checkpoint is signed)."""
    ledger, _ = keyed
    signed = _grown_since_a_checkpoint(ledger)
    engine = create_engine(ledger.url)
    try:
        with engine.begin() as conn:
            size = conn.execute(text("SELECT COUNT(*) FROM audit_leaves")).scalar_one()
            conn.execute(text("DELETE FROM audit_leaves WHERE leaf_index = 3"))
    finally:
        engine.dispose()
    result = ledger("audit", "checkpoint", role="approver")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert f"the audit log has no leaf 3 although it holds {size - 1}" in result.stderr
    ledger.ok("projections", "rebuild")
    again = _checkpoint(ledger)
    assert again != signed and f"\n{size}\n" in again


def test_checkpoint_refuses_a_log_whose_last_leaf_was_deleted_below_the_application(
    keyed: tuple[Ledger, Path],
) -> None:
    """The leaves' count is the size signed: with the last leaf deleted the log still looks whole,
    one event shorter. The signer asks where the audit log stands: exit 6 naming both events,
    nothing signed; a rebuild brings the leaf back and the next checkpoint covers every event."""
    ledger, _ = keyed
    _grown_since_a_checkpoint(ledger)
    engine = create_engine(ledger.url)
    try:
        with engine.begin() as conn:
            size, last = conn.execute(text("SELECT COUNT(*), MAX(notification_id) FROM audit_leaves")).one()
            conn.execute(text("DELETE FROM audit_leaves WHERE leaf_index = :i"), {"i": size - 1})
            shown = conn.execute(text("SELECT MAX(notification_id) FROM audit_leaves")).scalar_one()
    finally:
        engine.dispose()
    result = ledger("audit", "checkpoint", role="approver")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert (
        f"the audit log's leaves end at event {shown} although it has taken the events up to {last}"
        in result.stderr
    )
    assert _checkpoints_stored(ledger.url) == 1  # nothing signed
    ledger.ok("projections", "rebuild")
    assert f"\n{size}\n" in _checkpoint(ledger)


def test_checkpoint_refuses_a_last_leaf_deleted_with_the_audit_logs_position_moved_back(
    keyed: tuple[Ledger, Path],
) -> None:
    """The last leaf deleted and the audit log's tracked position moved back one event, so that
    the leaves end where the log stands: the checkpoint's own catch-up takes that event again and
    writes its leaf after the size the tree row still records, which leaves a hole the signer
    names. Exit 6, nothing signed."""
    ledger, _ = keyed
    _grown_since_a_checkpoint(ledger)
    engine = create_engine(ledger.url)
    try:
        with engine.begin() as conn:
            size = conn.execute(text("SELECT COUNT(*) FROM audit_leaves")).scalar_one()
            before = conn.execute(
                text("SELECT notification_id FROM audit_leaves WHERE leaf_index = :i"), {"i": size - 2}
            ).scalar_one()
            conn.execute(text("DELETE FROM audit_leaves WHERE leaf_index = :i"), {"i": size - 1})
            conn.execute(
                text(
                    "UPDATE ledger_tracking SET notification_id = :p WHERE application_name LIKE 'audit_log%'"
                ),
                {"p": before},
            )
    finally:
        engine.dispose()
    result = ledger("audit", "checkpoint", role="approver")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert f"the audit log has no leaf {size - 1} although it holds {size}" in result.stderr
    assert _checkpoints_stored(ledger.url) == 1  # nothing signed


def test_a_read_the_database_refuses_while_signing_is_a_storage_error(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leaf SQLite's own cursor cannot read (here refused, as a damaged page would be) is the
    database's error, exit 5 in one line, not an internal error; nothing is signed."""
    from ledger import database

    ledger = sqlite_ledger
    _one_grant_s_money(ledger)
    connect = database._sqlite_on_connect

    def refusing(dbapi_connection: object, record: object) -> None:
        connect(dbapi_connection, record)
        dbapi_connection.set_authorizer(  # type: ignore[attr-defined]
            lambda action, table, column, *_: (
                sqlite3.SQLITE_DENY
                if action == sqlite3.SQLITE_READ and (table, column) == ("audit_leaves", "leaf_hash")
                else sqlite3.SQLITE_OK
            )
        )

    with monkeypatch.context() as patched:
        patched.setattr(database, "_sqlite_on_connect", refusing)
        result = ledger("audit", "checkpoint", role="approver")
    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert result.stderr.startswith("grant-ledger: ") and result.stderr.count("\n") == 1
    assert "prohibited" in result.stderr and "internal error" not in result.stderr
    with create_engine(ledger.url).connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM audit_checkpoints")).scalar_one() == 0


@pytest.mark.parametrize("taken", ["a spend", "the last event"])
def test_an_export_refuses_a_store_missing_an_event_its_signed_checkpoint_covers(
    keyed: tuple[Ledger, Path], tmp_path: Path, taken: str
) -> None:
    """An event under the signed checkpoint deleted from the store below the application (its
    audit-log leaf kept): `audit export` says which leaf has no event, exit 6, and leaves no
    bundle; it ended in an internal error (the event log sheet one row short)."""
    ledger, _ = keyed
    _checkpoint(ledger)
    engine = create_engine(ledger.url)
    try:
        with engine.begin() as conn:
            leaves = conn.execute(text("SELECT leaf_index, notification_id FROM audit_leaves")).all()
            spends = conn.execute(
                text(f"SELECT id FROM {EVENTS_TABLE} WHERE topic LIKE '%ExpenditureRecorded'")
            ).scalars()
            nid = min(spends) if taken == "a spend" else max(n for _, n in leaves)
            leaf = next(i for i, n in leaves if n == nid)
            if engine.dialect.name == "sqlite":
                conn.execute(text(f"DROP TRIGGER {EVENTS_TABLE}_no_delete"))
            else:
                conn.execute(text(f"ALTER TABLE {EVENTS_TABLE} DISABLE TRIGGER USER"))
            conn.execute(text(f"DELETE FROM {EVENTS_TABLE} WHERE id = :id"), {"id": nid})
    finally:
        engine.dispose()
    bundle = tmp_path / "bundle"
    result = ledger("audit", "export", str(bundle), role="auditor")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    said = result.stderr.strip()
    assert (
        f"leaf {leaf} of the audit log, under the signed checkpoint of {len(leaves)} leaves, has no " in said
    )
    assert len(said.splitlines()) == 1 and "Traceback" not in said and "internal error" not in said
    assert not bundle.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".bundle")] == []
