"""Who did it (issue 15): people and keys in the ledger, every record signed by its person, the
role the registry gives them, separation of duties, and nothing unsigned built upon."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from commands.cli import cli
from ledger.seal import Signer
from tests.conftest import DISTRICT_BODIES, Ledger, approved_district_grant, selected

SPEND = ["spend", "G1", "--category", "equipment", "--source", "subsidy"]


def run(ledger: Ledger, key: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return ledger.runner.invoke(cli, ["--db", ledger.url, "--key", str(key), "--lang", "en", *args], env=env)


def new_key(ledger: Ledger, name: str) -> Path:
    assert ledger.keys is not None
    path = ledger.keys / f"{name}.key"
    ledger.ok("keys", "generate", "--out", str(path))
    return path


def add(ledger: Ledger, name: str, role: str, key: Path, *extra: str) -> None:
    result = run(ledger, ledger.key("admin"), "people", "add", name, "--role", role,
                 "--public-key", str(key.with_suffix(".pub")), *extra)  # fmt: skip
    assert result.exit_code == 0, (result.stdout, result.stderr)


def stored_actors(url: str) -> list[tuple[str, str, str]]:
    """(topic, actor, role) of every stored event that is not a seal, in store order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT topic, state FROM ledger_events ORDER BY id")).all()
    finally:
        engine.dispose()
    out = []
    for topic, state in rows:
        fields = json.loads(bytes(state))
        if "actor" in fields:
            out.append((str(topic).split(":")[1], fields["actor"], fields["role"]))
    return out


def test_init_prints_the_trust_root_and_info_repeats_it(tmp_path: Path) -> None:
    runner = CliRunner(env={"GRANT_LEDGER_LANG": "en"})
    db = str(tmp_path / "books.db")
    first = runner.invoke(
        cli, ["--db", db, "init", "--admin", "管理员-陈", "--admin-key", str(tmp_path / "chen.key")]
    )
    assert first.exit_code == 0, first.stderr
    root = first.stdout.split("trust root: ")[1].split()[0]
    assert len(root) == 64
    assert stat.S_IMODE((tmp_path / "chen.key").stat().st_mode) == 0o600
    again = runner.invoke(cli, ["--db", db, "init"])
    assert again.exit_code == 0 and root in again.stdout and "root administrator" not in again.stdout
    assert f"trust root: {root}" in runner.invoke(cli, ["--db", db, "info"]).stdout
    people = json.loads(runner.invoke(cli, ["--db", db, "people", "list", "--format", "json"]).stdout)
    assert [(p["name"], p["role"], p["root"]) for p in people] == [("管理员-陈", "admin", "yes")]


def test_every_record_names_the_person_of_its_key_and_their_registered_role(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    acts = stored_actors(ledger.url)
    assert ("Grant.Applied", "tester", "officer") in acts
    assert ("Grant.Approved", "tester.approver", "approver") in acts
    assert ("People.Registered", "admin", "admin") in acts


def test_an_officers_key_cannot_review_approve_or_sign_a_checkpoint(ledger: Ledger) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位", "--date", "2024-02-01")
    ledger.ok("grant", "apply", "G1", "--unit", "U1", "--base", "B0001", "--programme", "district_base",
              "--project", "电工", "--amount", "20万", "--date", "2024-03-01")  # fmt: skip
    officer = ledger.key("officer")
    before = ledger.event_count()
    for args in (
        ["grant", "review", "G1", "--panel", "5", "--recommendation", "recommend", "--date", "2024-03-08"],
        [
            "grant",
            "approve",
            "G1",
            "--amount",
            "200000",
            "--document",
            "D1",
            *DISTRICT_BODIES,
            "--date",
            "2024-04-01",
        ],
        ["audit", "checkpoint"],
    ):
        result = run(ledger, officer, *args)
        assert result.exit_code == 3, (args, result.stdout, result.stderr)
        assert "approver" in result.stderr
    # claiming another role does not help: it is checked against the registry
    claimed = ledger.runner.invoke(cli, ["--lang", "en", "--db", ledger.url, "--key", str(officer),
                                         "--role", "approver",
                                         "grant", "review", "G1", "--panel", "5", "--recommendation",
                                         "recommend", "--date", "2024-03-08"])  # fmt: skip
    assert claimed.exit_code == 3 and "registered as officer on 2024-03-08, not approver" in claimed.stderr
    assert ledger.event_count() == before


def test_an_auditor_records_nothing_and_an_unregistered_key_nothing(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    before = ledger.event_count()
    auditor = run(
        ledger, ledger.key("auditor"), *SPEND, "--amount", "100", "--voucher", "A1", "--date", "2024-05-01"
    )
    assert auditor.exit_code == 3 and "auditor role may not record" in auditor.stderr
    stranger = run(ledger, new_key(ledger, "stranger"), *SPEND, "--amount", "100", "--voucher", "A1",
                   "--date", "2024-05-01")  # fmt: skip
    assert stranger.exit_code == 3 and "not the key of anyone registered" in stranger.stderr
    none = ledger.runner.invoke(cli, ["--db", ledger.url, *SPEND, "--amount", "100", "--voucher", "A1",
                                      "--date", "2024-05-01"], env={"GRANT_LEDGER_KEY": ""})  # fmt: skip
    assert none.exit_code == 2 and "--key" in none.stderr
    assert ledger.event_count() == before


def test_an_officers_import_with_approve_rows_is_refused_naming_the_rows(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位", "--date", "2024-02-01")
    book = tmp_path / "mixed.csv"
    book.write_text(
        "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo\n"
        "2024-04-01,U1,B0001,G1,district_base,approve,200000,,,,渝中人社〔2024〕1号,,\n"
        "2024-04-10,,,G1,,disburse,120000,,,,T1,,\n",
        encoding="utf-8",
    )
    before = ledger.event_count()
    result = ledger("import", str(book))
    assert result.exit_code == 3
    assert (
        "mixed.csv:2:" in result.stderr and "the officer role may not record 'grant approve'" in result.stderr
    )
    assert "recorded by an approver" in result.stderr and "nothing was imported" in result.stderr
    assert ledger.event_count() == before
    # the approver brings in the approval alone; the officer then the money
    approve = tmp_path / "approve.csv"
    approve.write_text("\n".join(book.read_text(encoding="utf-8").splitlines()[:2]) + "\n", encoding="utf-8")
    ledger.ok("import", str(approve), role="approver")
    money = tmp_path / "money.csv"
    lines = book.read_text(encoding="utf-8").splitlines()
    money.write_text(f"{lines[0]}\n{lines[2]}\n", encoding="utf-8")
    assert ledger("import", str(money), role="approver").exit_code == 3
    ledger.ok("import", str(money))
    assert ledger.balances("B0001")["B0001"]["subsidy_received"] == "120000.00"


def test_a_revoked_key_is_refused_from_its_revocation_and_the_record_says_who(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    key = new_key(ledger, "li")
    add(ledger, "财务-李敏", "officer", key)
    assert (
        run(ledger, key, *SPEND, "--amount", "100", "--voucher", "L1", "--date", "2024-05-01").exit_code == 0
    )
    revoked = run(ledger, ledger.key("admin"), "people", "revoke", "财务-李敏", "--date", "2024-06-01")
    assert revoked.exit_code == 0, revoked.stderr
    before = ledger.event_count()
    for day in ("2024-06-01", "2024-07-01"):
        result = run(ledger, key, *SPEND, "--amount", "100", "--voucher", f"L-{day}", "--date", day)
        assert result.exit_code == 3 and "not the key of anyone registered" in result.stderr
    assert ledger.event_count() == before
    people = json.loads(ledger.ok("people", "list", "--format", "json").stdout)
    assert {"name": "财务-李敏", "until": "2024-06-01"}.items() <= next(
        p for p in people if p["name"] == "财务-李敏"
    ).items()
    # only an administrator manages people
    other = new_key(ledger, "other")
    refused_add = run(ledger, ledger.key("officer"), "people", "add", "x", "--role", "admin",
                      "--public-key", str(other.with_suffix(".pub")))  # fmt: skip
    assert refused_add.exit_code == 3 and "admin" in refused_add.stderr


def test_revoking_or_rotating_someone_never_registered_is_not_found(ledger: Ledger) -> None:
    """Exit 4 as for any unknown name (it had been 3, a rule's refusal); revoking someone already
    revoked is already recorded, exit 0, nothing written."""
    key = new_key(ledger, "nope")
    before = ledger.event_count()
    admin = ledger.key("admin")
    revoke = run(ledger, admin, "people", "revoke", "无此人", "--date", "2024-06-01")
    rotate = run(ledger, admin, "people", "rotate", "无此人", "--public-key", str(key.with_suffix(".pub")))
    for result in (revoke, rotate):
        assert result.exit_code == 4, result.stderr
        assert "无此人 is not registered" in result.stderr and result.stderr.count("\n") == 1
    assert ledger.event_count() == before
    add(ledger, "财务-甲", "officer", key)
    assert run(ledger, admin, "people", "revoke", "财务-甲", "--date", "2024-06-01").exit_code == 0
    after = ledger.event_count()
    again = run(ledger, admin, "people", "revoke", "财务-甲", "--date", "2024-07-01")
    assert again.exit_code == 0 and "already revoked" in again.stdout, again.stderr
    assert ledger.event_count() == after


def test_a_rotated_keys_old_half_is_refused_after_the_rotation(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    old, new = new_key(ledger, "old"), new_key(ledger, "new")
    add(ledger, "财务-王", "officer", old)
    assert (
        run(ledger, old, *SPEND, "--amount", "100", "--voucher", "W1", "--date", "2024-05-01").exit_code == 0
    )
    rotated = run(
        ledger,
        ledger.key("admin"),
        "people",
        "rotate",
        "财务-王",
        "--public-key",
        str(new.with_suffix(".pub")),
    )
    assert rotated.exit_code == 0, rotated.stderr
    before = ledger.event_count()
    stale = run(ledger, old, *SPEND, "--amount", "100", "--voucher", "W2", "--date", "2024-05-02")
    assert stale.exit_code == 3 and "rotated" in stale.stderr
    assert ledger.event_count() == before
    assert (
        run(ledger, new, *SPEND, "--amount", "100", "--voucher", "W2", "--date", "2024-05-02").exit_code == 0
    )
    assert [a for a in stored_actors(ledger.url) if a[0] == "Grant.ExpenditureRecorded"] == [
        ("Grant.ExpenditureRecorded", "财务-王", "officer")
    ] * 2


def test_the_root_passes_on_only_by_its_own_statement(ledger: Ledger) -> None:
    other_admin = new_key(ledger, "admin2")
    add(ledger, "管理员-二", "admin", other_admin)
    successor = new_key(ledger, "root2")
    by_other = run(
        ledger, other_admin, "people", "rotate", "admin", "--public-key", str(successor.with_suffix(".pub"))
    )
    assert by_other.exit_code == 3 and "root" in by_other.stderr
    by_root = run(
        ledger,
        ledger.key("admin"),
        "people",
        "rotate",
        "admin",
        "--public-key",
        str(successor.with_suffix(".pub")),
    )
    assert by_root.exit_code == 0, by_root.stderr
    revoke_root = run(ledger, successor, "people", "revoke", "admin", "--date", "2024-01-01")
    assert revoke_root.exit_code == 3 and "root" in revoke_root.stderr


def test_who_recorded_an_application_may_not_review_notice_or_approve_it(ledger: Ledger) -> None:
    """四眼原则: the officer 李敏 records the application, later becomes an approver; she may
    not review, notice or approve the application she recorded (exit 3, the rule named)."""
    li_officer, li_approver = new_key(ledger, "li-officer"), new_key(ledger, "li-approver")
    add(ledger, "李敏", "officer", li_officer)
    assert (
        run(ledger, li_officer, "unit", "register", "U1", "--name", "单位", "--date", "2024-02-01").exit_code
        == 0
    )
    applied = run(ledger, li_officer, "grant", "apply", "G1", "--unit", "U1", "--base", "B0001",
                  "--programme", "district_base", "--project", "电工", "--amount", "20万",
                  "--date", "2024-03-01")  # fmt: skip
    assert applied.exit_code == 0, applied.stderr
    assert run(ledger, ledger.key("admin"), "people", "revoke", "李敏", "--date", "2024-03-05").exit_code == 0
    add(ledger, "李敏", "approver", li_approver, "--date", "2024-03-05")
    before = ledger.event_count()
    for args in (
        ["grant", "review", "G1", "--panel", "5", "--recommendation", "recommend", "--date", "2024-03-08"],
        ["grant", "notice", "G1", "--from", "2024-03-11", "--to", "2024-03-15"],
        [
            "grant",
            "approve",
            "G1",
            "--amount",
            "200000",
            "--document",
            "D1",
            *DISTRICT_BODIES,
            "--date",
            "2024-04-01",
        ],
    ):
        result = run(ledger, li_approver, *args)
        assert result.exit_code == 3, (args, result.stderr)
        assert "separation of duties" in result.stderr and "李敏 recorded this application" in result.stderr
    assert ledger.event_count() == before
    selected(ledger)  # another approver may
    ledger.ok(
        "grant",
        "approve",
        "G1",
        "--amount",
        "200000",
        "--document",
        "D1",
        *DISTRICT_BODIES,
        "--date",
        "2024-04-01",
        role="approver",
    )


def test_who_ordered_a_rectification_or_recovery_may_not_record_its_completion(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    zhao_approver, zhao_officer = new_key(ledger, "zhao-a"), new_key(ledger, "zhao-o")
    add(ledger, "赵", "approver", zhao_approver)
    ordered = run(ledger, zhao_approver, "rectify", "order", "G1", "--ref", "R1", "--finding", "台账不全",
                  "--deadline", "2025-06-30", "--date", "2025-04-01")  # fmt: skip
    assert ordered.exit_code == 0, ordered.stderr
    recovery = run(ledger, zhao_approver, "recover", "order", "G1", "--amount", "1万", "--reason", "违规",
                   "--document", "追-1", "--date", "2025-04-02")  # fmt: skip
    assert recovery.exit_code == 0, recovery.stderr
    assert run(ledger, ledger.key("admin"), "people", "revoke", "赵", "--date", "2025-04-03").exit_code == 0
    add(ledger, "赵", "officer", zhao_officer, "--date", "2025-04-03")
    before = ledger.event_count()
    completed = run(ledger, zhao_officer, "rectify", "complete", "G1", "--ref", "R1", "--note", "已整改",
                    "--date", "2025-05-01")  # fmt: skip
    assert completed.exit_code == 3 and "赵 ordered this rectification" in completed.stderr
    received = run(ledger, zhao_officer, "recover", "receive", "G1", "--amount", "1万", "--voucher", "RV1",
                   "--date", "2025-05-02")  # fmt: skip
    assert received.exit_code == 3 and "赵 ordered this recovery" in received.stderr
    assert ledger.event_count() == before
    ledger.ok("rectify", "complete", "G1", "--ref", "R1", "--note", "已整改", "--date", "2025-05-01")


def _forge_copy_of_an_expenditure(url: str, amount: str) -> None:
    """INSERT below the application: a copy of the latest real expenditure, a new amount and
    voucher, the grant's next version (the append-only triggers refuse only UPDATE/DELETE)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            oid, _, topic, state = conn.execute(
                text("SELECT originator_id, originator_version, topic, state FROM ledger_events "
                     "WHERE topic = 'grant-ledger:Grant.ExpenditureRecorded' ORDER BY id DESC LIMIT 1")
            ).one()  # fmt: skip
            head = conn.execute(
                text("SELECT MAX(originator_version) FROM ledger_events WHERE originator_id = :o"), {"o": oid}
            ).scalar()
            fields = json.loads(bytes(state))
            fields["amount"] = {"_type_": "decimal_str", "_data_": amount}
            fields["voucher"] = "FORGED"
            conn.execute(
                text("INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
                     "VALUES (:o, :v, :t, :s)"),
                {"o": oid, "v": int(head) + 1, "t": topic, "s": json.dumps(fields).encode()},
            )  # fmt: skip
    finally:
        engine.dispose()


def test_an_event_inserted_below_the_application_is_named_by_the_next_command(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(*SPEND, "--amount", "3.5万", "--voucher", "S1", "--date", "2024-05-10")
    _forge_copy_of_an_expenditure(ledger.url, "5000000.00")
    before = ledger.event_count()
    for args, role in (
        (["balance", "--format", "json"], "auditor"),
        ([*SPEND, "--amount", "100", "--voucher", "S2", "--date", "2024-05-11"], "officer"),
        (["audit", "checkpoint"], "approver"),
        (["projections", "rebuild"], "officer"),
    ):
        result = ledger(*args, role=role)
        assert result.exit_code == 6, (args, result.stdout, result.stderr)
        assert "ExpenditureRecorded" in result.stderr and "is not what tester signed" in result.stderr
        assert "-438,500" not in result.stdout and "4,885,000" not in result.stdout
    assert ledger.event_count() == before


def _insert_sealed_forgery(ledger: Ledger, forger: Signer, name: str) -> None:
    """Below the application: a disbursement's copy with a new amount, the grant's next version,
    and a seal over it signed by ``forger`` in the name of ``name``."""
    from uuid import uuid4

    from ledger.seal import Seal, leaf_hex

    engine = create_engine(ledger.url)
    try:
        with engine.begin() as conn:
            oid, _, topic, state = conn.execute(
                text("SELECT originator_id, originator_version, topic, state FROM ledger_events "
                     "WHERE topic = 'grant-ledger:Grant.SubsidyDisbursed'")
            ).one()  # fmt: skip
            head = conn.execute(
                text("SELECT MAX(originator_version) FROM ledger_events WHERE originator_id = :o"), {"o": oid}
            ).scalar()
            seal_id = uuid4()
            fields = json.loads(bytes(state))
            fields.update(
                amount={"_type_": "decimal_str", "_data_": "200000.00"}, voucher="T9", seal=str(seal_id)
            )
            fields["actor"] = name
            forged = json.dumps(fields).encode()
            leaf = leaf_hex(oid, int(head) + 1, topic, forged)
            seal_event = Seal.of(seal_id, forger, name, leaf).collect_events()[0]
            seal_state = json.dumps({"signer": seal_event.signer, "key": seal_event.key, "leaves": leaf,
                                     "signature": seal_event.signature}).encode()  # fmt: skip
            insert = text("INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
                          "VALUES (:o, :v, :t, :s)")  # fmt: skip
            conn.execute(insert, {"o": oid, "v": int(head) + 1, "t": topic, "s": forged})
            sealed_id = seal_id.bytes if ledger.url.startswith("sqlite") else seal_id
            conn.execute(insert, {"o": sealed_id, "v": 1, "t": "grant-ledger:Seal.Sealed", "s": seal_state})
    finally:
        engine.dispose()


def test_a_forged_seal_with_an_unregistered_key_is_refused(ledger: Ledger) -> None:
    """The forger signs their own seal over the forged event: not a registered key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    _insert_sealed_forgery(ledger, Signer.of(Ed25519PrivateKey.generate()), "tester")
    result = ledger("balance", role="auditor")
    assert result.exit_code == 6 and "not a valid signature" in result.stderr


def test_a_forgery_sealed_with_a_stolen_retired_key_is_refused(ledger: Ledger) -> None:
    """The person's old key, rotated away (say, lost and found by someone else), signs a seal
    over an event inserted below the application after the rotation: the key held by that person
    once, but not there in the log, signs nothing (the ledger's check, before any audit)."""
    from ledger.seal import load_signer

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    old, new = new_key(ledger, "old-w"), new_key(ledger, "new-w")
    add(ledger, "财务-吴", "officer", old)
    rotated = run(
        ledger,
        ledger.key("admin"),
        "people",
        "rotate",
        "财务-吴",
        "--public-key",
        str(new.with_suffix(".pub")),
    )
    assert rotated.exit_code == 0, rotated.stderr
    _insert_sealed_forgery(ledger, load_signer(old), "财务-吴")
    for args, role in (
        (["balance"], "auditor"),
        ([*SPEND, "--amount", "1", "--voucher", "Z", "--date", "2024-05-01"], "officer"),
    ):
        result = ledger(*args, role=role)
        assert result.exit_code == 6, (args, result.stdout, result.stderr)
        assert "not a valid signature" in result.stderr


def test_an_encrypted_key_needs_its_passphrase_and_an_open_key_file_is_refused(
    ledger: Ledger, tmp_path: Path
) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    path = tmp_path / "enc.key"
    made = ledger.runner.invoke(cli, ["keys", "generate", "--out", str(path), "--encrypt"],
                                env={"GRANT_LEDGER_KEY_PASSPHRASE": "正确的口令"})  # fmt: skip
    assert made.exit_code == 0 and "encrypted" in made.stdout
    assert b"ENCRYPTED" in path.read_bytes()
    add(ledger, "财务-周", "officer", path)
    spend = [*SPEND, "--amount", "100", "--voucher", "E1", "--date", "2024-05-01"]
    wrong = run(ledger, path, *spend, env={"GRANT_LEDGER_KEY_PASSPHRASE": "错误"})
    assert wrong.exit_code == 2 and "passphrase is wrong" in wrong.stderr
    prompted = ledger.runner.invoke(
        cli, ["--db", ledger.url, "--key", str(path), *spend], input="正确的口令\n",
        env={"GRANT_LEDGER_KEY_PASSPHRASE": ""},
    )  # fmt: skip
    assert prompted.exit_code == 0, prompted.stderr
    os.chmod(path, 0o644)
    opened = run(ledger, path, *spend, env={"GRANT_LEDGER_KEY_PASSPHRASE": "正确的口令"})
    assert opened.exit_code == 2 and "chmod 600" in opened.stderr


@pytest.mark.parametrize(
    ("name", "says"),
    [("Chen-Min".replace("e", "\u0435"), "holds \u0435"), ("Chen Min", "no spaces")],
    ids=["look-alike", "space"],
)
def test_init_refuses_a_root_administrator_named_as_people_add_would_refuse(
    tmp_path: Path, name: str, says: str
) -> None:
    """`init --admin` took any name: a root administrator printing as a person registered later
    (Cyrillic е in Chen) made who did each act unreadable. Refused as `people add` refuses it (exit
    2, one line), and no ledger nor key made."""
    db, key = tmp_path / "books.db", tmp_path / "root.key"
    runner = CliRunner(env={"GRANT_LEDGER_LANG": "en"})
    refused = runner.invoke(
        cli, ["--db", f"sqlite:///{db}", "init", "--admin", name, "--admin-key", str(key)]
    )
    assert refused.exit_code == 2, (refused.stdout, refused.stderr)
    assert refused.stderr.count("\n") == 1 and says in refused.stderr and "--admin" in refused.stderr
    assert not db.exists() and not key.exists()


def test_migrate_refuses_a_root_administrator_with_a_look_alike_name(tmp_path: Path) -> None:
    """`migrate --admin` checked no name at all (a space, a '+', a Cyrillic letter): refused as
    `people add` refuses it, the unsigned ledger left as it was."""
    import shutil

    data = Path(__file__).parent / "data" / "unsigned-ledger"
    db = tmp_path / "old.db"
    shutil.copy(data / "unsigned.db", db)
    os.chmod(db, 0o600)
    before = db.read_bytes()
    runner = CliRunner(env={"GRANT_LEDGER_LANG": "en"})
    for name in ("管理员 陈", "Chen-Min".replace("e", "\u0435")):
        key = tmp_path / "chen.key"
        refused = runner.invoke(
            cli, ["--db", f"sqlite:///{db}", "migrate", "--admin", name, "--admin-key", str(key)]
        )
        assert refused.exit_code == 2, (refused.stdout, refused.stderr)
        assert refused.stderr.count("\n") == 1 and "--admin" in refused.stderr, refused.stderr
        assert not key.exists()
    assert db.read_bytes() == before


def test_a_ledger_made_before_signing_is_adopted_by_migrate(tmp_path: Path) -> None:
    """A ledger made by 05bb998 (tests/data/unsigned-ledger): refused until adopted, then every
    new record is signed and the old events stand as adopted; the log before is unchanged."""
    import shutil

    data = Path(__file__).parent / "data" / "unsigned-ledger"
    db = tmp_path / "old.db"
    shutil.copy(data / "unsigned.db", db)
    os.chmod(db, 0o600)
    runner = CliRunner(env={"GRANT_LEDGER_LANG": "en"})
    url = f"sqlite:///{db}"
    # its read models, which this version writes otherwise, are not rebuilt on unsigned events
    unread = runner.invoke(cli, ["--db", url, "balance", "--format", "json"])
    assert unread.exit_code == 6 and "migrate" in unread.stderr, unread.stderr
    key = tmp_path / "k.key"
    runner.invoke(cli, ["keys", "generate", "--out", str(key)])
    refused_write = runner.invoke(cli, ["--db", url, "--key", str(key), *SPEND, "--amount", "100",
                                        "--voucher", "X", "--date", "2024-05-11"])  # fmt: skip
    assert refused_write.exit_code == 6 and "migrate" in refused_write.stderr
    migrated = runner.invoke(
        cli, ["--db", url, "migrate", "--admin", "管理员-陈", "--admin-key", str(tmp_path / "chen.key")]
    )
    assert migrated.exit_code == 0, migrated.stderr
    assert "adopted 8 unsigned events" in migrated.stdout
    adopted = json.loads(runner.invoke(cli, ["--db", url, "balance", "--format", "json"]).stdout)
    assert adopted[0]["subsidy_spent"] == "35000.00"
    checkpoint = (data / "checkpoint.txt").read_text(encoding="utf-8")
    old_root = checkpoint.splitlines()[2]
    import base64

    assert f"root {base64.b64decode(old_root).hex()}" in migrated.stdout  # the log auditors hold
    again = runner.invoke(
        cli, ["--db", url, "migrate", "--admin", "x", "--admin-key", str(tmp_path / "x.key")]
    )
    assert again.exit_code == 5
    admin = str(tmp_path / "chen.key")
    public = str(key.with_suffix(".pub"))
    added = runner.invoke(cli, ["--db", url, "--key", admin, "people", "add", "财务-李",
                                "--role", "officer", "--public-key", public])  # fmt: skip
    assert added.exit_code == 0, added.stderr
    spent = runner.invoke(cli, ["--db", url, "--key", str(key), *SPEND, "--amount", "100", "--voucher", "X",
                                "--date", "2024-05-11"])  # fmt: skip
    assert spent.exit_code == 0, spent.stderr
    rebuilt = runner.invoke(cli, ["--db", url, "projections", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert (
        json.loads(runner.invoke(cli, ["--db", url, "balance", "--format", "json"]).stdout)[0][
            "subsidy_spent"
        ]
        == "35100.00"
    )


@pytest.mark.parametrize("statement", ["UPDATE ledger_events SET state = state", "DELETE FROM ledger_events"])
def test_the_adopted_log_cannot_be_rewritten_after_migrate(tmp_path: Path, statement: str) -> None:
    import shutil
    import sqlite3

    db = tmp_path / "old.db"
    shutil.copy(Path(__file__).parent / "data" / "unsigned-ledger" / "unsigned.db", db)
    runner = CliRunner()
    assert (
        runner.invoke(
            cli, ["--db", str(db), "migrate", "--admin", "a", "--admin-key", str(tmp_path / "a.key")]
        ).exit_code
        == 0
    )
    with sqlite3.connect(db) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute(statement)


@pytest.mark.parametrize(
    ("plain", "ascii", "c"),
    [("Chen-Min", "e", "\u0435"), ("Li-Ming", "M", "\uff2d"), ("财务-李敏1", "1", "\uff11")],
    ids=["cyrillic", "full-width", "digit"],
)
def test_a_person_named_to_print_as_another_is_refused(
    ledger: Ledger, plain: str, ascii: str, c: str
) -> None:
    """`people add` of a name holding a look-alike (Cyrillic е in Chen) registered a second person
    printing as the first: who did each act could not be told apart in the records. Refused (exit
    2, one line naming the character), nothing written; the person already registered is revoked
    by the name as written."""
    twin = plain.replace(ascii, c, 1)
    assert twin != plain
    key = new_key(ledger, "plain")
    add(ledger, plain, "officer", key)
    before = ledger.event_count()
    other = new_key(ledger, "twin")
    refused = run(ledger, ledger.key("admin"), "people", "add", twin, "--role", "officer",
                  "--public-key", str(other.with_suffix(".pub")))  # fmt: skip
    assert refused.exit_code == 2, (refused.stdout, refused.stderr)
    assert refused.stderr.count("\n") == 1 and f"holds {c}" in refused.stderr, refused.stderr
    assert ledger.event_count() == before
    revoked = run(ledger, ledger.key("admin"), "people", "revoke", plain, "--date", "2024-06-01")
    assert revoked.exit_code == 0, revoked.stderr
