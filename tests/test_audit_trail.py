"""The audit trail from the command line, on SQLite and PostgreSQL: append-only store, Merkle log,
signed checkpoints, export bundle, standalone verification and the tamper drills it must catch."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine

from audit.bundle import write_manifest
from audit.log import ORIGIN
from audit.signing import load_private_key, sign_checkpoint, utc_timestamp
from audit.verifier import forms, layout
from audit.verifier.canonical import record_from_stored, record_leaf_hash
from audit.verifier.checkpoint import Checkpoint
from audit.verifier.layout import RECORD_COLUMNS
from audit.verifier.merkle import CompactRange, root_from_leaf_hashes, verify_inclusion
from tests.conftest import DISTRICT_BODIES, Ledger, approved_district_grant, prepared


def _money(ledger: Ledger) -> None:
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("match", "receive", "G1", "--amount", "5万", "--voucher", "R1", "--date", "2024-04-11")
    for voucher, amount, source, day in (
        ("S1", "3.5万", "subsidy", "2024-05-10"),
        ("S2", "12000", "subsidy", "2024-05-11"),
        ("S3", "8000", "matching", "2024-06-01"),
    ):
        ledger.ok(
            "spend", "G1", "--amount", amount, "--category", "equipment", "--source", source,
            "--voucher", voucher, "--date", day,
        )  # fmt: skip
    ledger.ok("reverse", "G1", "--voucher", "S2", "--reason", "重复入账", "--date", "2024-06-10")


def _one_grant_s_money(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    _money(ledger)


@pytest.fixture
def keyed(backend: str, tmp_path: Path) -> Iterator[tuple[Ledger, Path]]:
    """A ledger with one grant's money, and the key of its registered approver, who signs the
    checkpoints."""
    for ledger in prepared(backend, tmp_path, _one_grant_s_money):
        yield ledger, ledger.key("approver")


def _checkpoint(ledger: Ledger, save: Path) -> str:
    result = ledger.ok("audit", "checkpoint", role="approver")
    save.write_text(result.stdout, encoding="utf-8")
    return result.stdout


def _export(ledger: Ledger, directory: Path, *options: str) -> Path:
    ledger.ok("audit", "export", str(directory), *options, role="auditor")
    return directory


def _verify(ledger: Ledger, bundle: Path, *options: str, root: bool = True) -> tuple[int, str]:
    """``audit verify`` as the auditor runs it: with the trust root they were given."""
    assert ledger.root is not None
    pinned = ["--root", ledger.root] if root else []
    result = ledger("audit", "verify", str(bundle), *pinned, *options, role="auditor")
    if result.exit_code == 6:
        assert "failed verification" in result.stderr and "Traceback" not in result.stderr
    return result.exit_code, result.stdout


def _lines(bundle: Path) -> list[dict]:
    return [json.loads(line) for line in (bundle / "events.jsonl").read_text("utf-8").splitlines()]


def _write_lines(bundle: Path, lines: list[dict], manifest: bool = True) -> None:
    body = "".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines)
    (bundle / "events.jsonl").write_text(body, encoding="utf-8")
    if manifest:  # a careful forger also rewrites the manifest
        write_manifest(bundle)


def _engine(ledger: Ledger) -> Engine:
    return create_engine(ledger.url)


# ----------------------------------------------------------------------------- append-only store


@pytest.mark.parametrize(
    "statement",
    ["UPDATE ledger_events SET topic = 'x' WHERE id = 1", "DELETE FROM ledger_events WHERE id = 1"],
)
def test_the_database_refuses_update_and_delete_of_events(ledger: Ledger, statement: str) -> None:
    approved_district_grant(ledger)
    before = ledger.event_count()
    engine = _engine(ledger)
    try:
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()
    assert ledger.event_count() == before


def test_postgresql_refuses_truncate_of_events(ledger: Ledger) -> None:
    if not ledger.url.startswith("postgresql"):
        pytest.skip("TRUNCATE is a PostgreSQL statement")
    approved_district_grant(ledger)
    before = ledger.event_count()
    engine = _engine(ledger)
    try:
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE ledger_events"))
    finally:
        engine.dispose()
    assert ledger.event_count() == before


# ----------------------------------------------------------------------------- Merkle log


def test_the_log_has_one_leaf_per_event_in_store_order_with_contiguous_indexes(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    _money(ledger)
    ledger.ok("balance")  # catches up every projection, the audit log among them
    engine = _engine(ledger)
    try:
        with engine.connect() as conn:
            events = conn.execute(
                text(
                    "SELECT id, originator_id, originator_version, topic, state FROM ledger_events "
                    "ORDER BY id"
                )
            ).all()
            log = conn.execute(
                text("SELECT leaf_index, notification_id, leaf_hash FROM audit_leaves ORDER BY leaf_index")
            ).all()
            size, root = conn.execute(text("SELECT size, root FROM audit_tree")).one()
    finally:
        engine.dispose()
    assert [row.leaf_index for row in log] == list(range(len(events)))
    assert [row.notification_id for row in log] == [e.id for e in events]
    import uuid

    expected = []
    for e in events:
        originator = (
            e.originator_id if isinstance(e.originator_id, uuid.UUID) else uuid.UUID(bytes=e.originator_id)
        )
        expected.append(
            record_leaf_hash(record_from_stored(originator, e.originator_version, e.topic, bytes(e.state)))
        )
    assert [bytes.fromhex(row.leaf_hash) for row in log] == expected
    assert size == len(events) and bytes.fromhex(root) == root_from_leaf_hashes(expected)
    # caught up again: nothing appended twice
    ledger.ok("balance")
    assert ledger.event_count() == size


# ----------------------------------------------------------------------------- checkpoints, export, verify


def test_keys_generate_writes_an_owner_only_private_key_and_refuses_to_overwrite(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.ok("keys", "generate", "--dir", str(tmp_path / "k"), "--name", "bureau")
    assert (tmp_path / "k" / "bureau.key").stat().st_mode & 0o777 == 0o600
    again = ledger("keys", "generate", "--dir", str(tmp_path / "k"), "--name", "bureau")
    assert again.exit_code == 2 and "overwrite" in again.stderr and "Traceback" not in again.stderr


def test_checkpoint_export_verify_and_prove(keyed: tuple[Ledger, Path], tmp_path: Path) -> None:
    ledger, _ = keyed
    signed = _checkpoint(ledger, tmp_path / "cp1.txt")
    lines = signed.splitlines()
    assert lines[0] == ORIGIN and int(lines[1]) == ledger.event_count() and lines[4] == ""
    assert lines[5].startswith(f"\u2014 {ledger.name('approver')} ")  # the approver's registered name
    # no new events: the same checkpoint again, nothing stored
    assert ledger.ok("audit", "checkpoint", role="approver").stdout == signed

    bundle = _export(ledger, tmp_path / "bundle")
    for name in ("events.jsonl", "MANIFEST", "report.xlsx", "bundle.json", "checkpoints/0001.txt"):
        assert (bundle / name).is_file(), name
    assert list((bundle / "keys").glob(f"{ledger.name('approver')}-*.pub")) and list(
        (bundle / "policy").glob("*.toml")
    )
    from openpyxl import load_workbook

    book = load_workbook(bundle / "report.xlsx", read_only=True)
    assert book.sheetnames == [
        *("balances", "spending", "findings", "who did what", "people registry", "event log")
    ]
    spending = list(book["spending"].iter_rows(min_row=5, values_only=True))[:-1]  # the 合计 row last
    assert {row[8] for row in spending} == {"S1", "S2", "S3"}
    book.close()

    code, out = _verify(ledger, bundle, "--trusted", str(tmp_path / "cp1.txt"))
    assert code == 0 and out.startswith("PASS") and "balances of 1 grants match" in out

    proof = ledger.ok("audit", "prove", "3", role="auditor").stdout
    fields = dict(line.split(": ", 1) for line in proof.splitlines() if ": " in line and line[0] != " ")
    hashes = [base64.b64decode(line.strip()) for line in proof.splitlines() if line.startswith("  ")]
    assert verify_inclusion(
        base64.b64decode(fields["leaf hash"]),
        int(fields["leaf index"]),
        int(fields["tree size"]),
        hashes,
        base64.b64decode(fields["root"]),
    )
    missing = ledger("audit", "prove", "99999", role="auditor")
    assert missing.exit_code == 4 and "not in the audit log" in missing.stderr


def test_export_of_one_grant_as_of_a_date_withholds_the_rest_and_still_verifies(
    keyed: tuple[Ledger, Path], tmp_path: Path
) -> None:
    ledger, _ = keyed
    approved_district_grant(ledger, grant="G2", base="B0002", unit="U2")
    _checkpoint(ledger, tmp_path / "cp.txt")
    bundle = _export(ledger, tmp_path / "b", "--grant", "G1", "--as-of", "2024-05-31")
    lines = _lines(bundle)
    kept = [line for line in lines if "record" in line]
    assert kept and len(kept) < len(lines)
    # G1 goes out whole (no version of it missing); its events after the date are not replayed;
    # the people registry and every seal go out too, whatever the filter
    grants = [line for line in kept if line["record"]["topic"].startswith("grant-ledger:Grant.")]
    later = [line for line in grants if line["record"]["state"]["occurred_on"]["_data_"] > "2024-05-31"]
    assert len({line["record"]["originator_id"] for line in grants}) == 1 and len(later) == 2
    topics = {line["record"]["topic"].split(":")[1].split(".")[0] for line in kept}
    assert topics == {"Grant", "People", "Seal"}
    withheld = json.loads((bundle / "bundle.json").read_text("utf-8"))["withheld_aggregates"]
    assert sum(withheld.values()) == len(lines) - len(kept)
    code, out = _verify(ledger, bundle, "--trusted", str(tmp_path / "cp.txt"))
    assert code == 0, out
    assert "as of 2024-05-31 (2 later events of theirs shown, not replayed)" in out
    unknown = ledger("audit", "export", str(tmp_path / "c"), "--grant", "NOPE", role="auditor")
    assert unknown.exit_code == 4


def test_export_and_prove_before_any_checkpoint_say_what_to_do(ledger: Ledger, tmp_path: Path) -> None:
    approved_district_grant(ledger)
    result = ledger("audit", "export", str(tmp_path / "b"), role="auditor")
    assert result.exit_code == 4 and "audit checkpoint" in result.stderr


def test_checkpoint_without_a_key_is_one_sentence(ledger: Ledger, tmp_path: Path) -> None:
    approved_district_grant(ledger)
    from commands.cli import cli

    result = ledger.runner.invoke(
        cli, ["--db", ledger.url, "--key", str(tmp_path / "none.key"), "audit", "checkpoint"]
    )
    assert result.exit_code == 2 and "none.key" in result.stderr and "Traceback" not in result.stderr


# ----------------------------------------------------------------------------- tamper drills


@pytest.fixture
def bundle(keyed: tuple[Ledger, Path], tmp_path: Path) -> tuple[Ledger, Path, Path]:
    ledger, _ = keyed
    _checkpoint(ledger, tmp_path / "cp.txt")
    return ledger, _export(ledger, tmp_path / "bundle"), tmp_path / "cp.txt"


def _event_of(lines: list[dict], kind: str) -> dict:
    return next(line for line in lines if line.get("record", {}).get("topic", "").endswith(kind))


def test_drill_edited_amount_is_caught(bundle: tuple[Ledger, Path, Path]) -> None:
    ledger, b, _ = bundle
    lines = _lines(b)
    target = _event_of(lines, "ExpenditureRecorded")
    target["record"]["state"]["amount"]["_data_"] = "350.00"
    _write_lines(b, lines)
    code, out = _verify(ledger, b)
    assert code == 6
    assert f"event {target['event_id']} (leaf {target['leaf_index']}): recomputed leaf hash differs" in out
    assert "differs from the signed root" in out
    assert "report.xlsx balances!G5 (补助支出): shows" in out and "but the events give" in out


def test_drill_edited_amount_with_its_leaf_hash_is_caught_by_the_root(
    bundle: tuple[Ledger, Path, Path],
) -> None:
    ledger, b, _ = bundle
    lines = _lines(b)
    target = _event_of(lines, "SubsidyDisbursed")
    target["record"]["state"]["amount"]["_data_"] = "1200.00"
    target["leaf_hash"] = record_leaf_hash(target["record"]).hex()
    _write_lines(b, lines, manifest=False)
    code, out = _verify(ledger, b)
    assert code == 6 and "MANIFEST: sha256 of events.jsonl differs" in out
    assert "checkpoints/0001.txt: root of the first" in out


@pytest.mark.parametrize("forged", [b'{"amount":', b"[1,2]", b'"text"', b'{"a":"\xff"}'])
def test_drill_forged_record_bytes_with_their_own_leaf_hash_are_a_failure_not_a_crash(
    bundle: tuple[Ledger, Path, Path], forged: bytes
) -> None:
    """Bytes that hash to the stated leaf but are no JSON object (or no UTF-8) are reported."""
    ledger, b, _ = bundle
    path = b / "events.jsonl"
    lines = path.read_bytes().split(b"\n")
    line = json.loads(lines[3])
    leaf = hashlib.sha256(b"\x00" + forged).hexdigest()
    head = f'{{"leaf_index":{line["leaf_index"]},"event_id":{line["event_id"]},"leaf_hash":"{leaf}",'
    lines[3] = head.encode() + b'"record":' + forged + b"}"
    path.write_bytes(b"\n".join(lines))
    code, out = _verify(ledger, b)
    assert code == 6
    assert "events.jsonl line 4: " in out or f"leaf {line['leaf_index']})" in out
    assert "differs from the signed root" in out or "events cut off or deleted" in out


def test_drill_deleted_event_is_caught(bundle: tuple[Ledger, Path, Path]) -> None:
    ledger, b, _ = bundle
    lines = _lines(b)
    gone = lines.pop(4)
    _write_lines(b, lines)
    code, out = _verify(ledger, b)
    assert code == 6
    assert f"leaf {gone['leaf_index'] + 1}): found at position {gone['leaf_index']}" in out
    assert "events cut off or deleted" in out


def test_drill_swapped_events_are_caught(bundle: tuple[Ledger, Path, Path]) -> None:
    ledger, b, _ = bundle
    lines = _lines(b)
    i = lines.index(_event_of(lines, "SubsidyDisbursed"))
    grant = lines[i]["record"]["originator_id"]  # with the grant's next event (not its own seal)
    j = next(j for j in range(i + 1, len(lines)) if lines[j]["record"]["originator_id"] == grant)
    lines[i], lines[j] = lines[j], lines[i]
    for n, line in enumerate(lines):  # renumbered, to hide the swap
        line["leaf_index"] = n
    _write_lines(b, lines)
    code, out = _verify(ledger, b)
    assert code == 6
    assert "(reordered or replayed)" in out and "differs from the signed root" in out


def test_drill_truncated_tail_is_caught(bundle: tuple[Ledger, Path, Path]) -> None:
    ledger, b, _ = bundle
    lines = _lines(b)
    _write_lines(b, lines[:-2])
    code, out = _verify(ledger, b)
    assert code == 6 and f"signed for {len(lines)} events but the bundle has {len(lines) - 2}" in out


def test_drill_truncation_hidden_by_dropping_checkpoints_is_caught_by_the_trusted_one(
    keyed: tuple[Ledger, Path], tmp_path: Path
) -> None:
    ledger, _ = keyed
    _checkpoint(ledger, tmp_path / "early.txt")
    early = ledger.event_count()
    approved_district_grant(ledger, grant="G2", base="B0002", unit="U2")
    _checkpoint(ledger, tmp_path / "late.txt")  # the auditor saved this one
    b = _export(ledger, tmp_path / "b")
    _write_lines(b, _lines(b)[:early], manifest=False)
    (b / "checkpoints" / "0002.txt").unlink()
    from openpyxl import load_workbook

    book = load_workbook(b / "report.xlsx")
    _drop_row(book["balances"], 6)  # G2's row: the forger hides it everywhere, 合计 made to agree
    book["event log"].delete_rows(early + 2, book["event log"].max_row)  # and G2's events
    _rewrite_who_did_what(book, _lines(b))  # and who recorded them
    book.save(b / "report.xlsx")
    meta = json.loads((b / "bundle.json").read_text("utf-8"))
    (b / "bundle.json").write_text(json.dumps({**meta, "tree_size": early}), "utf-8")  # and its size
    write_manifest(b)
    code, out = _verify(ledger, b)
    assert code == 0, out  # consistent in itself...
    code, out = _verify(ledger, b, "--trusted", str(tmp_path / "late.txt"))
    assert code == 6 and "history cut off or rewritten" in out  # ...but not with what the auditor kept


def _rewrite_who_did_what(book: Any, lines: list[dict]) -> None:
    """The forger's 'who did what' sheet, as the remaining events give it."""
    from audit.verifier.who import Activity

    activity = Activity()
    for line in lines:
        if "record" in line:
            activity.feed(line["record"])
    sheet = book["who did what"]
    sheet.delete_rows(5, sheet.max_row)
    rows = activity.rows()
    for row in rows:
        sheet.append(row)
    sheet.append(forms.total_of(layout.ACTIVITY_SHEET, rows))


def _drop_row(sheet: Any, n: int) -> None:
    """Deletes data row ``n`` and takes its figures off the 合计 row below the data."""
    dropped = [c.value for c in sheet[n]]
    sheet.delete_rows(n)
    total = sheet.max_row
    for i, value in enumerate(dropped, 1):
        if isinstance(value, int | float) and i > 1:
            sheet.cell(row=total, column=i, value=sheet.cell(row=total, column=i).value - value)


def test_drill_rewritten_history_re_signed_with_the_same_key_fails_against_the_trusted_checkpoint(
    keyed: tuple[Ledger, Path], tmp_path: Path
) -> None:
    ledger, key = keyed
    _checkpoint(ledger, tmp_path / "trusted.txt")
    ledger.ok(
        "disburse", "G1", "--amount", "1万", "--voucher", "T2", "--tranche", "2", "--date", "2024-07-01"
    )
    _checkpoint(ledger, tmp_path / "later.txt")
    b = _export(ledger, tmp_path / "b")
    # The forger rewrites a payee (no balance changes), recomputes every hash and re-signs.
    lines = _lines(b)
    target = _event_of(lines, "ExpenditureRecorded")
    target["record"]["state"]["payee"] = "另一家公司"
    target["leaf_hash"] = record_leaf_hash(target["record"]).hex()
    from openpyxl import load_workbook

    book = load_workbook(b / "report.xlsx")  # the workbook's event log shows the new hash too
    book["event log"].cell(row=target["leaf_index"] + 2, column=7, value=target["leaf_hash"])
    book.save(b / "report.xlsx")
    private = load_private_key(key)
    for path in sorted((b / "checkpoints").glob("*.txt")):
        size = int(path.read_text("utf-8").splitlines()[1])
        root = CompactRange().extend(bytes.fromhex(line["leaf_hash"]) for line in lines[:size]).root()
        signed = sign_checkpoint(
            Checkpoint(ORIGIN, size, root, utc_timestamp()), private, ledger.name("approver")
        )
        path.write_text(signed)
    _write_lines(b, lines)
    code, out = _verify(ledger, b)
    # the checkpoints are the approver's own, but the officer's seal does not cover the new payee
    assert code == 6, out
    where = f"event {target['event_id']} (leaf {target['leaf_index']}, Grant.ExpenditureRecorded of "
    assert where in out and f"by {ledger.name()}: is not among the events {ledger.name()} signed" in out
    assert out.count("  - ") == 1  # nothing else: the forgery is otherwise consistent
    code, out = _verify(ledger, b, "--trusted", str(tmp_path / "trusted.txt"))
    assert code == 6 and "(history rewritten)" in out


def test_drill_edited_workbook_balance_is_caught(bundle: tuple[Ledger, Path, Path]) -> None:
    ledger, b, _ = bundle
    from openpyxl import load_workbook

    book = load_workbook(b / "report.xlsx")
    sheet = book["balances"]
    column = [c.value for c in sheet[4]].index("补助支出") + 1
    sheet.cell(row=5, column=column, value=1000)
    book.save(b / "report.xlsx")
    code, out = _verify(ledger, b)
    assert code == 6 and "MANIFEST: sha256 of report.xlsx differs" in out
    write_manifest(b)
    code, out = _verify(ledger, b)
    assert code == 6
    assert "report.xlsx balances!G5 (补助支出): shows 1000.00 but the events give 35000.00" in out


def test_drill_edited_workbook_event_log_is_caught(bundle: tuple[Ledger, Path, Path]) -> None:
    ledger, b, _ = bundle
    from openpyxl import load_workbook

    book = load_workbook(b / "report.xlsx")
    sheet = book["event log"]
    header = [c.value for c in sheet[1]]
    sheet.cell(row=4, column=header.index("topic") + 1, value="grant-ledger:Grant.Closed")
    sheet.delete_rows(6)
    book.save(b / "report.xlsx")
    write_manifest(b)
    code, out = _verify(ledger, b)
    assert code == 6
    assert "report.xlsx event log row 4: shows (2, 3, " in out and "grant-ledger:Grant.Closed" in out
    assert "report.xlsx event log row 6: shows (5, " in out and "but events.jsonl has (4, " in out


def test_the_workbook_event_log_is_checked_cheaply_and_withholds_what_events_jsonl_withholds(
    keyed: tuple[Ledger, Path], tmp_path: Path
) -> None:
    ledger, _ = keyed
    approved_district_grant(ledger, grant="G2", base="B0002", unit="U2")
    _checkpoint(ledger, tmp_path / "cp.txt")
    b = _export(ledger, tmp_path / "b", "--grant", "G2")
    from openpyxl import load_workbook

    book = load_workbook(b / "report.xlsx", read_only=True)
    rows = list(book["event log"].iter_rows(values_only=True))[1:]
    book.close()
    lines = _lines(b)
    assert [(r[0], r[1], r[6]) for r in rows] == [
        (x["leaf_index"], x["event_id"], x["leaf_hash"]) for x in lines
    ]
    for row, line in zip(rows, lines, strict=True):
        if "record" in line:
            assert row[2:6] == tuple(line["record"][k] for k in RECORD_COLUMNS) and row[7] == "yes"
        else:  # nothing of a withheld event but its leaf hash, as in events.jsonl
            assert row[2:6] == (None,) * 4 and row[7] == "withheld"
    assert json.loads((b / "bundle.json").read_text("utf-8"))["event_log_sheets"] == ["event log"]
    code, out = _verify(ledger, b)
    assert code == 0 and f"its event log of {len(lines)} events matches events.jsonl" in out


def test_a_signature_by_another_key_is_caught(bundle: tuple[Ledger, Path, Path], tmp_path: Path) -> None:
    ledger, b, _ = bundle
    ledger.ok("keys", "generate", "--dir", str(tmp_path / "other"))
    code, out = _verify(ledger, b, "--public-key", str(tmp_path / "other" / "ledger.pub"))
    assert code == 6 and "signature check failed" in out


# ----------------------------------------------------------------------------- roles


WRITES = [
    ["unit", "register", "U9", "--name", "单位", "--date", "2024-02-01"],
    ["grant", "apply", "G9", "--unit", "U1", "--base", "B9", "--programme", "district_base",
     "--project", "电工", "--amount", "20万", "--date", "2024-03-01"],
    ["grant", "approve", "G1", "--amount", "200000", "--document", "X",
        *DISTRICT_BODIES, "--date", "2024-04-01"],
    ["disburse", "G1", "--amount", "1万", "--voucher", "A1", "--date", "2024-04-10"],
    ["match", "commit", "G1", "--amount", "1万", "--funder", "单位", "--voucher", "A2",
     "--date", "2024-04-10"],
    ["match", "receive", "G1", "--amount", "1万", "--voucher", "A3", "--date", "2024-04-10"],
    ["spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy", "--voucher", "A4",
     "--date", "2024-05-01"],
    ["reverse", "G1", "--voucher", "S1", "--reason", "x", "--date", "2024-06-01"],
    ["audit", "checkpoint"],
]  # fmt: skip


def test_the_auditor_role_is_refused_every_write(keyed: tuple[Ledger, Path]) -> None:
    ledger, _ = keyed
    before = ledger.event_count()
    for args in WRITES:
        result = ledger(*args, role="auditor")
        assert result.exit_code == 3, (args, result.exit_code, result.stderr)
        assert "auditor" in result.stderr and "Traceback" not in result.stderr
    assert ledger.event_count() == before


def test_postgresql_read_only_role_for_auditors(keyed: tuple[Ledger, Path], tmp_path: Path) -> None:
    ledger, _ = keyed
    if not ledger.url.startswith("postgresql"):
        pytest.skip("database roles are PostgreSQL's")
    _checkpoint(ledger, tmp_path / "cp.txt")
    ledger.ok("balance")  # projections current
    schema = ledger.url.rsplit("%3D", 1)[1]
    # a role is the cluster's: named by the test's own database (each ledger's schema is `ledger`),
    # so that tests running at once, or a run that stopped before its cleanup, do not share one
    role = f"auditor_{make_url(ledger.url).database}_{schema}"
    engine = _engine(ledger)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD 'read-only'"))
            conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {role}"))
            conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}"))
        _, rest = ledger.url.split("://", 1)[1].split("@", 1)
        auditor = Ledger(f"postgresql+psycopg://{role}:read-only@{rest}", ledger.runner)
        ro = create_engine(auditor.url)
        try:
            with pytest.raises(Exception, match="permission denied"), ro.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
                        "VALUES (gen_random_uuid(), 1, 'x', '\\x7b7d')"
                    )
                )
            with pytest.raises(Exception, match="permission denied"), ro.begin() as conn:
                conn.execute(text("UPDATE balance_grants SET approved = 0"))
        finally:
            ro.dispose()
        balances = auditor.balances()
        assert balances["B0001"]["subsidy_spent"] == "35000.00"
        auditor.ok("audit", "export", str(tmp_path / "b"), role="auditor")
        code, out = _verify(auditor, tmp_path / "b", "--trusted", str(tmp_path / "cp.txt"))
        assert code == 0, out
        # even with the officer's role on the command line, the database refuses the write
        refused = auditor("disburse", "G1", "--amount", "1万", "--voucher", "A9", "--date", "2024-04-10")
        assert refused.exit_code == 5 and "permission denied" in refused.stderr
        assert ledger.event_count() > 0
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}"))
            conn.execute(text(f"REVOKE USAGE ON SCHEMA {schema} FROM {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        engine.dispose()
