"""Who did it, proven to the auditor offline (issue 15, item 6): `audit verify --root` replays the
people registry from the bundle and checks every event's seal, signer, role and separation of
duties, and every checkpoint's signer; each forgery an insider can make below the application —
with real keys, and a checkpoint signed after it by a real approver — FAILs naming the event and
the person (exit 6)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from audit.bundle import write_manifest
from audit.verifier.duties import ROLE_ACTIONS, TOPIC_ACTIONS
from commands.cli import cli
from tests.conftest import Ledger, approved_district_grant


def _history(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(
        "spend", "G1", "--amount", "3.5万", "--category", "equipment", "--source", "subsidy",
        "--voucher", "S1", "--date", "2024-05-10",
    )  # fmt: skip


def _verify(ledger: Ledger, bundle: Path, *options: str, root: str | None = None) -> tuple[int, str]:
    """`audit verify` as the auditor runs it, with the trust root they were given (or ``root``)."""
    pinned = root or ledger.root
    assert pinned is not None
    return _verify_bundle(bundle, pinned, *options)


def _verify_bundle(bundle: Path, pinned: str, *options: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        ["--lang", "en", "audit", "verify", str(bundle), "--root", pinned, *options],
        catch_exceptions=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    if result.exit_code == 6:
        assert "failed verification" in result.stderr
    return result.exit_code, result.stdout


def _honest_bundle(ledger: Ledger, directory: Path) -> Path:
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(directory), role="auditor")
    return directory


def insider_bundle(ledger: Ledger, directory: Path) -> Path:
    return insider_export(ledger.url, ledger.key("approver"), ledger.name("approver"), directory)


def insider_export(url: str, key: Path, name: str, directory: Path) -> Path:
    """What an insider with the database and a real approver's key exports after changing the
    events table: the projections (the audit log among them) caught up past the ledger's own
    checks, a checkpoint signed by the approver over the log as it now stands, the bundle
    written by the ledger's own export — consistent in every hash, sheet and signature."""
    from audit.bundle import export
    from audit.trail import sign_head
    from commands.registry import all_projections
    from ledger.application import open_ledger
    from ledger.seal import load_signer
    from projections.runner import catch_up

    app = open_ledger(url)
    try:
        catch_up(app, all_projections(), check=False)
        sign_head(app.engine, load_signer(key).private_key, name)
        export(app.engine, directory, installed=app.installed_policy_files())
    finally:
        app.engine.dispose()
    return directory


def _insert_copy(url: str, kind: str, **changes: Any) -> int:
    """INSERTs below the application a copy of the grant's last ``kind`` event with ``changes``,
    as the grant's next version (the append-only triggers refuse only UPDATE and DELETE); returns
    the new event's id (``None``: the field left out)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(
                text("SELECT originator_id, originator_version, topic, state FROM ledger_events ORDER BY id")
            ).all()
            source = [r for r in rows if r.topic == f"grant-ledger:Grant.{kind}"][-1]
            last = max(r.originator_version for r in rows if r.originator_id == source.originator_id)
            state = json.loads(bytes(source.state))
            for key, value in changes.items():
                if value is None:
                    state.pop(key, None)
                elif isinstance(state[key], dict):
                    state[key] = {**state[key], "_data_": value}
                else:
                    state[key] = value
            conn.execute(
                text(
                    "INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
                    "VALUES (:o, :v, :t, :s)"
                ),
                {
                    "o": source.originator_id,
                    "v": last + 1,
                    "t": source.topic,
                    "s": json.dumps(state).encode(),
                },
            )
            return int(conn.execute(text("SELECT MAX(id) FROM ledger_events")).scalar_one())
    finally:
        engine.dispose()


def _sealed_write(ledger: Ledger, key: Path, name: str, act: Callable[[Any], list[Any]]) -> None:
    """An insider's write through the ledger's own code, past its rules: ``act`` triggers events on
    aggregates it loads; they are sealed by ``key`` in the name of ``name`` and stored, exactly as
    a command stores them."""
    from ledger.application import open_ledger
    from ledger.seal import load_signer

    app = open_ledger(ledger.url)
    try:
        aggregates = act(app)
        app.save(*aggregates, app.seal(aggregates, load_signer(key), name))
    finally:
        app.engine.dispose()


def _grant(app: Any, grant_id: str = "G1") -> Any:
    from ledger.grant import grant_uuid

    return app.repository.get(grant_uuid(grant_id))


def _event_id(out: str, line: str) -> bool:
    return any(line in row for row in out.splitlines())


# ----------------------------------------------------------------------------- the honest bundle


def test_an_honest_bundle_passes_with_every_event_signed_and_shows_who_did_what(
    ledger: Ledger, tmp_path: Path
) -> None:
    _history(ledger)
    b = _honest_bundle(ledger, tmp_path / "b")
    code, out = _verify(ledger, b)
    assert code == 0 and out.startswith("PASS: "), out
    assert f"by people of the registry under trust root {ledger.root} (4 people," in out
    assert "NOT ANCHORED" not in out and "adopted" not in out
    book = load_workbook(b / "report.xlsx", read_only=True)
    who = [row for row in book["who did what"].iter_rows(min_row=4, values_only=True)]
    registry = [row for row in book["people registry"].iter_rows(min_row=4, values_only=True)]
    book.close()
    approver = ledger.name("approver")
    assert (approver, "approver", "Grant.Approved", "signed", 1) == who[who.index(next(
        r for r in who if r[:3] == (approver, "approver", "Grant.Approved")
    ))][:5]  # fmt: skip
    spend = next(r for r in who if r[:3] == ("tester", "officer", "Grant.ExpenditureRecorded"))
    assert spend[4] == 1 and spend[5].date() == spend[6].date() == date(2024, 5, 10)
    assert [r[2:5] for r in registry[1:3]] == [
        ("People.Founded", "admin", "admin"),
        ("People.Registered", "tester", "officer"),
    ]
    assert registry[1][5] == ledger.root and registry[2][6] == "admin"  # the root's key, who added


def test_without_root_the_registry_is_the_bundle_s_own_and_the_pass_says_not_anchored(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    ledger = sqlite_ledger
    _history(ledger)
    b = _honest_bundle(ledger, tmp_path / "b")
    # held to nothing the auditor brought, it does not pass, however consistent with itself
    result = CliRunner().invoke(cli, ["--lang", "en", "audit", "verify", str(b)])
    assert result.exit_code == 6 and result.stdout == "", result.stdout
    assert (
        "is consistent with itself" in result.stderr and "nothing ties it to a key you trust" in result.stderr
    )
    result = CliRunner().invoke(cli, ["--lang", "en", "audit", "verify", str(b), "--unanchored"])
    assert result.exit_code == 0
    assert result.stdout.startswith("PASS (internal consistency only)")
    assert "NOT ANCHORED: the events' signatures were checked against the bundle's own people registry" in (
        result.stdout
    )
    pub = ledger.key("approver").with_suffix(".pub")
    result = CliRunner().invoke(cli, ["--lang", "en", "audit", "verify", str(b), "--public-key", str(pub)])
    assert result.exit_code == 6 and "which nothing you hold ties to the ledger" in result.stderr
    accepted = ["--lang", "en", "audit", "verify", str(b), "--public-key", str(pub), "--unanchored"]
    result = CliRunner().invoke(cli, accepted)
    assert result.exit_code == 0 and result.stdout.startswith("PASS (people NOT ANCHORED)")


def test_a_bundle_forged_whole_with_keys_of_its_own_passes_nothing_it_is_not_held_to(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """The forger's whole ledger (their own root, people, approver, checkpoint) exported as the
    bundle: consistent with itself, so only an anchor the auditor brought can tell; a script that
    reads only the exit code is not told it passed."""
    ledger = sqlite_ledger
    _history(ledger)
    forger = Ledger(f"sqlite:///{tmp_path / 'forged.db'}", CliRunner())
    _history(forger)
    forged = _honest_bundle(forger, tmp_path / "forged")
    assert forger.root != ledger.root
    held_to_nothing = CliRunner().invoke(cli, ["--lang", "en", "audit", "verify", str(forged)])
    assert held_to_nothing.exit_code == 6 and "PASS" not in held_to_nothing.stdout
    code, out = _verify(ledger, forged, root=ledger.root)  # the auditor's root: the forgery fails
    assert code == 6 and f"not the root you were given ({ledger.root})" in out
    pub = ledger.key("approver").with_suffix(".pub")  # or the keeper's approver key
    by_key = CliRunner().invoke(
        cli, ["--lang", "en", "audit", "verify", str(forged), "--public-key", str(pub)]
    )
    assert by_key.exit_code == 6 and by_key.stdout.startswith("FAIL")
    # anchors taken from the bundle itself anchor nothing: refused before it is read
    inside = [
        ("--trusted", next((forged / "checkpoints").iterdir())),
        ("--public-key", next((forged / "keys").iterdir())),
    ]
    for option, path in inside:
        result = CliRunner().invoke(cli, ["--lang", "en", "audit", "verify", str(forged), option, str(path)])
        assert result.exit_code == 2 and "is a file of the bundle itself" in result.stderr, result.stderr


def test_a_forger_holding_one_trusted_approver_key_cannot_pass_a_registry_of_their_own(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A red-team pass: a forger's whole ledger (its own root and officers) whose checkpoint is
    signed by a real approver's key (an insider, or a key kept after its revocation), registered
    in the forged registry, passed `--public-key` of that approver (exit 0, people NOT ANCHORED):
    one key signed every other person's acts. Without --root, or a kept checkpoint covering the
    registry's founding, it fails."""
    ledger = sqlite_ledger
    _history(ledger)
    honest = _honest_bundle(ledger, tmp_path / "honest")
    kept = tmp_path / "kept.txt"
    kept.write_text(next((honest / "checkpoints").iterdir()).read_text("utf-8"), "utf-8")
    real_key = ledger.key("approver")
    forger = Ledger(f"sqlite:///{tmp_path / 'forged.db'}", CliRunner())
    _history(forger)
    insider = str(real_key.with_suffix(".pub"))
    forger.ok("people", "add", "内鬼", "--role", "approver", "--public-key", insider, role="admin")
    signed = CliRunner().invoke(cli, ["--db", forger.url, "--key", str(real_key), "audit", "checkpoint"])
    assert signed.exit_code == 0, signed.stderr
    forged = tmp_path / "forged"
    forger.ok("audit", "export", str(forged), role="auditor")
    pub = str(real_key.with_suffix(".pub"))
    result = CliRunner().invoke(cli, ["--lang", "en", "audit", "verify", str(forged), "--public-key", pub])
    assert result.exit_code == 6 and result.stdout == "", result.stdout
    assert f"its own registry (trust root {forger.root})" in result.stderr
    for anchor in (["--root", str(ledger.root)], ["--trusted", str(kept)]):
        result = CliRunner().invoke(cli, ["--lang", "en", "audit", "verify", str(forged), *anchor])
        assert result.exit_code == 6 and result.stdout.startswith("FAIL"), (anchor, result.stdout)
    honest_ok = CliRunner().invoke(
        cli, ["--lang", "en", "audit", "verify", str(honest), "--trusted", str(kept)]
    )
    assert honest_ok.exit_code == 0 and honest_ok.stdout.startswith("PASS: "), honest_ok.stdout


def test_the_wrong_root_fails(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    ledger = sqlite_ledger
    _history(ledger)
    b = _honest_bundle(ledger, tmp_path / "b")
    other = Ledger(f"sqlite:///{tmp_path / 'other.db'}", CliRunner())  # another ledger's root
    assert other.root is not None and other.root != ledger.root
    code, out = _verify(ledger, b, root=other.root)
    assert code == 6
    assert (
        f"people registry: its trust root is {ledger.root}, not the root you were given ({other.root})" in out
    )
    bad = CliRunner().invoke(cli, ["--lang", "en", "audit", "verify", str(b), "--root", "abc"])
    assert bad.exit_code == 2 and "64 hexadecimal digits" in bad.stderr


def test_a_forged_registry_under_the_forger_s_own_root_fails_against_the_auditor_s_root(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """The forger rebuilds the whole history under a root of their own, every seal and
    checkpoint consistent: only the pinned root tells it apart."""
    ledger = sqlite_ledger
    forged = Ledger(f"sqlite:///{tmp_path / 'forged.db'}", CliRunner())
    _history(forged)
    b = _honest_bundle(forged, tmp_path / "b")
    assert _verify(forged, b)[0] == 0
    code, out = _verify(ledger, b)
    assert code == 6 and "not the root you were given" in out


# ----------------------------------------------------------------------------- forged events


def test_an_inserted_expenditure_fails_naming_it_even_under_a_later_approver_checkpoint(
    ledger: Ledger, tmp_path: Path
) -> None:
    _history(ledger)
    forged = _insert_copy(ledger.url, "ExpenditureRecorded", amount="100.00", voucher="F1")
    refused = ledger("balance", role="auditor")  # the ledger itself builds nothing on it
    assert refused.exit_code == 6 and f"event {forged} " in refused.stderr
    b = insider_bundle(ledger, tmp_path / "b")
    code, out = _verify(ledger, b)
    assert code == 6
    assert _event_id(
        out,
        f"event {forged} (leaf {forged - 1}, Grant.ExpenditureRecorded of ",
    ), out
    assert (
        "by tester: names seal " in out and "which does not follow it (stored after the seal it names" in out
    )
    # the checkpoint is the real approver's, the workbook the ledger's own, the amount within
    # the ring-fence: only the seal tells
    assert out.count("\n  - ") == 1, out


def test_an_event_re_sealed_with_a_key_not_in_the_registry_fails(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    from ledger.grant import Grant
    from ledger.seal import generate_key

    ledger = sqlite_ledger
    _history(ledger)
    outsider = tmp_path / "outsider.key"
    generate_key(outsider)

    def spend(app: Any) -> list[Any]:
        grant = _grant(app)
        stored = app.repository.event_store.get(grant.id)
        last = [e for e in stored if isinstance(e, Grant.ExpenditureRecorded)][-1]
        fields = {
            k: v for k, v in vars(last).items() if k not in ("originator_id", "originator_version", "seal")
        }
        grant.trigger_event(Grant.ExpenditureRecorded, **{**fields, "voucher": "F2", "amount": Decimal(9)})
        return [grant]

    _sealed_write(ledger, outsider, "tester", spend)
    b = insider_bundle(ledger, tmp_path / "b")
    code, out = _verify(ledger, b)
    assert code == 6
    assert "by tester: key " in out and "is not tester's registered key (not in the registry)" in out
    assert "(leaf " in out and "Grant.ExpenditureRecorded of " in out and "not signed: its seal" in out


def test_an_approval_sealed_by_an_officer_s_registered_key_fails_on_the_role(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    from ledger.grant import Grant

    ledger = sqlite_ledger
    approved_district_grant(ledger, grant="G2", base="B0002", unit="U2")
    ledger.ok("unit", "register", "U3", "--name", "单位U3", "--date", "2024-02-01")
    ledger.ok(
        "grant", "apply", "G3", "--unit", "U3", "--base", "B0003", "--programme", "district_base",
        "--project", "电工", "--amount", "20万", "--date", "2024-03-01",
    )  # fmt: skip

    def approve(app: Any) -> list[Any]:
        grant = _grant(app, "G3")
        grant.trigger_event(
            Grant.Approved, amount=Decimal(200000), document="X", bodies=[], build_start=date(2024, 4, 1),
            build_end=date(2026, 3, 31), actor="tester", role="approver", occurred_on=date(2024, 4, 1),
        )  # fmt: skip
        return [grant]

    _sealed_write(ledger, ledger.key("officer"), "tester", approve)
    b = insider_bundle(ledger, tmp_path / "b")
    code, out = _verify(ledger, b)
    assert code == 6
    assert "Grant.Approved of " in out
    assert (
        "by tester: tester is registered as finance officer on 2024-04-01; 'grant approve' is recorded "
        "by approver" in out
    )


def test_a_separation_of_duties_breach_fails(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """李 records G2's application as an officer, becomes an approver (revoked, registered again
    with a new key), and approves it past the ledger's rules: every signature is real."""
    from ledger.grant import Grant
    from ledger.seal import generate_key

    ledger = sqlite_ledger
    approved_district_grant(ledger)
    admin = ledger.key("admin")
    li_officer, li_approver = tmp_path / "li1.key", tmp_path / "li2.key"
    generate_key(li_officer)
    generate_key(li_approver)

    def run(*args: str, key: Path = admin) -> None:
        result = ledger.runner.invoke(cli, ["--db", ledger.url, "--lang", "en", "--key", str(key), *args])
        assert result.exit_code == 0, result.stderr

    run("people", "add", "li", "--role", "officer", "--public-key", str(li_officer.with_suffix(".pub")))
    run("unit", "register", "U2", "--name", "单位U2", "--date", "2024-02-01", key=li_officer)
    run(
        "grant", "apply", "G2", "--unit", "U2", "--base", "B0002", "--programme", "district_base",
        "--project", "电工", "--amount", "20万", "--date", "2024-03-01", key=li_officer,
    )  # fmt: skip
    run("people", "revoke", "li", "--date", "2024-03-02")
    run("people", "add", "li", "--role", "approver", "--public-key", str(li_approver.with_suffix(".pub")))
    refused = ledger.runner.invoke(
        cli,
        ["--db", ledger.url, "--lang", "en", "--key", str(li_approver), "grant", "review", "G2",
         "--panel", "5", "--recommendation", "recommend", "--date", "2024-03-08"],
    )  # fmt: skip
    assert refused.exit_code == 3 and "separation of duties" in refused.stderr  # the ledger refuses

    def review(app: Any) -> list[Any]:
        grant = _grant(app, "G2")
        grant.trigger_event(
            Grant.ReviewRecorded, panel=5, recommended=True, opinion="", actor="li", role="approver",
            occurred_on=date(2024, 3, 8),
        )  # fmt: skip
        return [grant]

    _sealed_write(ledger, li_approver, "li", review)
    b = insider_bundle(ledger, tmp_path / "b")
    code, out = _verify(ledger, b)
    assert code == 6
    assert "Grant.ReviewRecorded of " in out
    assert (
        "by li: separation of duties: li recorded this grant's application and may not also record its review"
        in (out)
    )


def test_a_revoked_key_and_a_rotated_away_key_sign_nothing_after(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    from ledger.grant import Grant
    from ledger.seal import generate_key

    ledger = sqlite_ledger
    _history(ledger)
    admin = ledger.key("admin")
    clerk, officer_old, officer_new = tmp_path / "clerk.key", ledger.key("officer"), tmp_path / "new.key"
    generate_key(clerk)
    generate_key(officer_new)

    def run(*args: str) -> None:
        result = ledger.runner.invoke(cli, ["--db", ledger.url, "--lang", "en", "--key", str(admin), *args])
        assert result.exit_code == 0, result.stderr

    run("people", "add", "clerk", "--role", "officer", "--public-key", str(clerk.with_suffix(".pub")))
    run("people", "revoke", "clerk", "--date", "2024-06-01")
    run("people", "rotate", "tester", "--public-key", str(officer_new.with_suffix(".pub")))

    def disburse(actor: str, voucher: str) -> Callable[[Any], list[Any]]:
        def act(app: Any) -> list[Any]:
            grant = _grant(app)
            grant.trigger_event(
                Grant.SubsidyDisbursed, amount=Decimal(100), voucher=voucher, tranche=2, actor=actor,
                role="officer", occurred_on=date(2024, 5, 20),
            )  # fmt: skip
            return [grant]

        return act

    _sealed_write(ledger, clerk, "clerk", disburse("clerk", "V-CLERK"))  # dated before the revocation
    _sealed_write(ledger, officer_old, "tester", disburse("tester", "V-OLD"))
    b = insider_bundle(ledger, tmp_path / "b")
    code, out = _verify(ledger, b)
    assert code == 6
    assert "by clerk: clerk was revoked before this seal" in out
    assert "by tester: key " in out and "was rotated away before this seal" in out
    assert out.count("Grant.SubsidyDisbursed of ") == 2


# ----------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("signer", ["outsider", "officer"])
def test_a_checkpoint_not_signed_by_a_registered_approver_fails(
    sqlite_ledger: Ledger, tmp_path: Path, signer: str
) -> None:
    """The bundle's checkpoint re-signed (same size and root) by a key outside the registry, or by
    the registered officer's key under the approver's name: --root alone catches both."""
    from audit.signing import sign_note
    from audit.verifier.checkpoint import parse_signed_checkpoint
    from ledger.seal import generate_key, load_signer

    ledger = sqlite_ledger
    _history(ledger)
    b = _honest_bundle(ledger, tmp_path / "b")
    if signer == "outsider":
        generate_key(tmp_path / "x.key")
        key = load_signer(tmp_path / "x.key").private_key
    else:
        key = load_signer(ledger.key("officer")).private_key
    path = b / "checkpoints" / "0001.txt"
    body = parse_signed_checkpoint(path.read_text("utf-8")).body
    path.write_text(sign_note(body, key, ledger.name("approver")), "utf-8")
    for pub in (b / "keys").glob("*.pub"):
        pub.unlink()
    from cryptography.hazmat.primitives import serialization

    (b / "keys" / "forged.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    write_manifest(b)
    code, out = _verify(ledger, b)
    assert code == 6
    size = len((b / "events.jsonl").read_text().splitlines())
    assert (
        f"checkpoints/0001.txt: not signed by an approver registered at its size {size} with their key "
        "then (signed as tester.approver)"
    ) in out


# ----------------------------------------------------------------------------- adoption


def _unsigned_ledger(path: Path) -> str:
    """A ledger as it was before records were signed: a unit, and a grant approved elsewhere,
    recorded without seals or a people registry; its projections and audit log caught up, and a
    checkpoint signed with a key of that time (no person's: `keys generate`)."""
    from audit.log import ensure_records
    from audit.trail import sign_head
    from commands.registry import all_projections
    from ledger.application import open_ledger
    from ledger.database import create_sqlite_file
    from ledger.grant import Grant
    from ledger.policy import current_policy
    from ledger.seal import generate_key
    from ledger.unit import Unit
    from projections.runner import catch_up

    create_sqlite_file(path)
    url = f"sqlite:///{path}"
    app = open_ledger(url)
    try:
        policy = current_policy()
        programme = policy.programme("district_base")
        officer = {"actor": "财务-李敏", "role": "officer"}
        unit = Unit.register(unit_id="U1", name="单位", kind="other", on=date(2024, 2, 1), **officer)
        unit.take_base(
            base_id="B0001", grant_id="G1", programme=programme, on=date(2024, 3, 1), policy=policy, **officer
        )
        grant = Grant.create(
            grant_id="G1", unit_id="U1", base_id="B0001", base_name="基地", programme=programme.code,
            level=programme.level, projects=[], requested=Decimal(200000), on=date(2024, 3, 1), **officer,
        )  # fmt: skip
        grant.approve(
            amount=Decimal(200000), document="X", bodies=list(programme.approving_bodies), build_start=None,
            build_end=None, on=date(2024, 4, 1), actor="区人力社保局-王强", role="approver", policy=policy,
            imported=True,
        )  # fmt: skip
        app.save(unit, grant)
        catch_up(app, all_projections(), check=False)
        with app.engine.begin() as conn:
            ensure_records(conn)
        legacy = generate_key(path.with_name("legacy.key"))
        path.with_name("legacy.txt").write_text(
            sign_head(app.engine, legacy.private_key, "ledger").text, "utf-8"
        )
    finally:
        app.engine.dispose()
    return url


def test_a_migrated_ledger_s_old_events_are_shown_as_adopted_and_verify(tmp_path: Path) -> None:
    from ledger.seal import generate_key

    runner = CliRunner()
    url = _unsigned_ledger(tmp_path / "old.db")
    admin, wang, li = tmp_path / "chen.key", tmp_path / "wang", tmp_path / "li"  # li.pub beside li
    migrated = runner.invoke(
        cli, ["--db", url, "--lang", "en", "migrate", "--admin", "chen", "--admin-key", str(admin)]
    )
    assert migrated.exit_code == 0, migrated.stderr
    root = migrated.stdout.split("trust root: ")[1].split()[0]
    generate_key(wang)
    generate_key(li)
    for args in (
        ["--key", str(admin), "people", "add", "wang", "--role", "approver", "--public-key", f"{wang}.pub"],
        ["--key", str(admin), "people", "add", "li", "--role", "officer", "--public-key", f"{li}.pub"],
        ["--key", str(li), "disburse", "G1", "--amount", "1万", "--voucher", "T1", "--date", "2024-04-10"],
        ["--key", str(wang), "audit", "checkpoint"],
        ["--key", str(wang), "audit", "export", str(tmp_path / "b")],
    ):  # fmt: skip
        result = runner.invoke(cli, ["--db", url, "--lang", "en", *args])
        assert result.exit_code == 0, (args, result.stderr)
    bundle = tmp_path / "b"
    adopted = _count_unsealed(bundle)
    assert adopted == 4  # the unit's two events, the grant's two
    # the checkpoint the auditor kept from before the migration stays valid
    kept = str(tmp_path / "legacy.txt")
    result = runner.invoke(
        cli, ["--lang", "en", "audit", "verify", str(bundle), "--root", root, "--trusted", kept]
    )
    assert result.exit_code == 0, result.stdout
    assert (
        "; 4 older events adopted, not signed" in result.stdout
        and "consistent with the trusted" in result.stdout
    )
    book = load_workbook(bundle / "report.xlsx", read_only=True)
    rows = list(book["who did what"].iter_rows(min_row=2, values_only=True))
    book.close()
    assert ("区人力社保局-王强", "approver", "Grant.Approved", "adopted", 1) in [r[:5] for r in rows]
    assert ("li", "officer", "Grant.SubsidyDisbursed", "signed", 1) in [r[:5] for r in rows]

    # an unsigned event stored after the adoption is no adopted one
    forged = _insert_copy(url, "SubsidyDisbursed", voucher="T9", seal=None)
    code, out = _verify_bundle(insider_export(url, wang, "wang", tmp_path / "b2"), root)
    assert code == 6 and f"event {forged} (leaf " in out and "carries no signature" in out


def _count_unsealed(bundle: Path) -> int:
    records = [
        json.loads(line)["record"] for line in (bundle / "events.jsonl").read_text("utf-8").splitlines()
    ]
    return sum(
        1 for r in records if "seal" not in r["state"] and not r["topic"].startswith("grant-ledger:Seal.")
    )


# ----------------------------------------------------------------------------- the verifier's table


def test_the_verifier_s_table_of_who_may_record_what_agrees_with_the_ledger_s() -> None:
    """The verifier's own copy of the roles' actions is the ledger's, and it knows every kind of
    event an aggregate of the ledger records (a kind it did not know would be recorded by no one)."""
    import importlib
    import pkgutil

    from eventsourcing.domain import Aggregate

    import ledger
    from ledger import rules
    from ledger.seal import Seal

    for module in pkgutil.walk_packages(ledger.__path__, "ledger."):  # every aggregate of the ledger
        importlib.import_module(module.name)

    assert ROLE_ACTIONS == {role: set(actions) for role, actions in rules.ROLE_ACTIONS.items()}
    every = set().union(*rules.ROLE_ACTIONS.values())
    assert {a for actions in TOPIC_ACTIONS.values() for a in actions} - every == {"init"}

    def aggregates(cls: type) -> set[type]:
        found = {c for c in cls.__subclasses__() if c.__module__.startswith("ledger.")}
        return found.union(*(aggregates(c) for c in cls.__subclasses__()))

    recorded = set()
    for aggregate in aggregates(Aggregate) - {Seal}:
        for value in vars(aggregate).values():
            if isinstance(value, type) and issubclass(value, Aggregate.Event):
                if value.__name__ not in ("Event", "Created"):
                    recorded.add(value.TOPIC)
    assert recorded == set(TOPIC_ACTIONS)


def test_an_adoption_stretched_over_later_events_fails(tmp_path: Path) -> None:
    """The adoption's size raised so that an unsigned event stored after it passes as adopted;
    the insider re-signs the checkpoints with the approver's key: the root's signature fails."""
    from audit.log import ORIGIN
    from audit.signing import load_private_key, sign_checkpoint, utc_timestamp
    from audit.verifier.canonical import record_leaf_hash
    from audit.verifier.checkpoint import Checkpoint
    from audit.verifier.merkle import CompactRange
    from ledger.seal import generate_key

    runner = CliRunner()
    url = _unsigned_ledger(tmp_path / "old.db")
    admin, wang = tmp_path / "chen.key", tmp_path / "wang"
    migrated = runner.invoke(
        cli, ["--db", url, "--lang", "en", "migrate", "--admin", "chen", "--admin-key", str(admin)]
    )
    assert migrated.exit_code == 0, migrated.stderr
    root = migrated.stdout.split("trust root: ")[1].split()[0]
    generate_key(wang)
    add = ["people", "add", "wang", "--role", "approver", "--public-key", f"{wang}.pub"]
    added = runner.invoke(cli, ["--db", url, "--key", str(admin), *add])
    assert added.exit_code == 0, added.stderr
    bundle = insider_export(url, wang, "wang", tmp_path / "b")
    assert _verify_bundle(bundle, root)[0] == 0

    path = bundle / "events.jsonl"
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    adoption = next(x for x in lines if x["record"]["topic"] == "grant-ledger:Seal.Adopted")
    adoption["record"]["state"]["size"] += 1
    adoption["leaf_hash"] = record_leaf_hash(adoption["record"]).hex()
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")
    private = load_private_key(wang)
    for cp in sorted((bundle / "checkpoints").glob("*.txt")):
        size = int(cp.read_text("utf-8").splitlines()[1])
        tree = CompactRange().extend(bytes.fromhex(x["leaf_hash"]) for x in lines[:size]).root()
        cp.write_text(
            sign_checkpoint(Checkpoint(ORIGIN, size, tree, utc_timestamp()), private, "wang"), "utf-8"
        )
    write_manifest(bundle)
    code, out = _verify_bundle(bundle, root)
    assert code == 6
    assert (
        "adoption seal " in out
        and "by chen: its signature does not verify under chen's registered key" in out
    )
    assert "carries no signature (and the ledger was never adopted)" in out  # the old events are not adopted
