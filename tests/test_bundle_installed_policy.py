"""An audit bundle ships every policy version in force for the ledger, the shipped ones and those
an administrator installed (`policy install`), with the events that install them, whatever
--grant and --as-of say: so a ledger that followed its rules passes `audit verify`, and a bundle
whose installed version is altered or dropped fails.

The red-team case: a version installed in force from 2026-12-10 lets the training institute
(G-CQ-2024-07) spend on infrastructure; a spend of 2026-12-15 is accepted. `audit export` in a
fresh process never read the installed versions, so it shipped the shipped version alone and
verify FAILED ("'infrastructure' ... is not a permitted use ... in the policy v1-2023.toml");
and a one-grant bundle left the policy book's events out, so the installed file it did ship (in
a process that had read it) was "not a policy version this verifier knows"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from audit.bundle import write_manifest
from commands.cli import cli
from tests import test_web
from tests.conftest import Ledger

# test_web's fixtures: a ledger with G1 and two web passwords, its clock, and a client of its app
books, clock, client = test_web.books, test_web.clock, test_web.client

GRANT = "G-CQ-2024-07"  # the demo's training institute
V2 = "v2-2026.toml"
BEFORE, IN_FORCE, SPENT, TODAY = "2026-12-01", "2026-12-10", "2026-12-15", "2026-12-20"


def _v2() -> str:
    """The shipped version, in force from 2026-12-10, whose training institutes may spend on
    infrastructure."""
    text = (resources.files("ledger") / "policy" / "v1-2023.toml").read_text("utf-8")
    allowed = '[spending.training_institute]\nallowed = ["equipment", '
    assert allowed in text and 'version = "2023.1"' in text and "effective_from = 2023-03-15\n" in text
    text = text.replace('version = "2023.1"', 'version = "2026.1"')
    text = text.replace("effective_from = 2023-03-15\n", f"effective_from = {IN_FORCE}\n", 1)
    return text.replace(allowed, allowed + '"infrastructure", ', 1)


def _verify(bundle: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["--lang", "en", "--role", "auditor", "audit", "verify", "--unanchored", str(bundle)]
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, result.stdout + result.stderr


def _export_fresh(ledger: Ledger, bundle: Path, *options: str) -> None:
    """`audit export` in a new process, as an auditor runs it another day: nothing it knows of
    the ledger comes from the process that installed the version."""
    command = [sys.executable, "-m", "commands", "--db", ledger.url, "--key", str(ledger.key("auditor")),
               "--role", "auditor", "--lang", "en", "audit", "export", str(bundle), *options]  # fmt: skip
    env = dict(os.environ, GRANT_LEDGER_TODAY=TODAY)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def _install(ledger: Ledger, version: Path) -> None:
    """`policy install` by the demo's administrator, with the demo's key."""
    from tests.conftest import KEYRING

    assert ledger.root is not None
    key = KEYRING[ledger.root]["admin"]
    args = ["--db", ledger.url, "--key", str(key), "--role", "admin", "--lang", "en"]
    result = ledger.runner.invoke(cli, [*args, "policy", "install", str(version)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr


@pytest.fixture
def installed(demo_sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """The demo's ledger with v2 installed on 2026-12-01, an infrastructure spend of 2026-12-15
    under it, and a checkpoint signed over both; the process then forgets the installed version,
    as a new one never read it."""
    ledger = demo_sqlite_ledger
    monkeypatch.setenv("GRANT_LEDGER_TODAY", BEFORE)
    version = tmp_path / V2
    version.write_text(_v2(), encoding="utf-8")
    _install(ledger, version)
    monkeypatch.setenv("GRANT_LEDGER_TODAY", TODAY)
    ledger.ok("spend", GRANT, "--amount", "1000", "--category", "infrastructure", "--source", "subsidy",
              "--voucher", "记-CQ-0900", "--date", SPENT)  # fmt: skip
    ledger.ok("audit", "checkpoint", role="approver")
    from ledger.policy_installed import forget_installed

    forget_installed()
    return ledger


def _policy_files(bundle: Path) -> list[str]:
    return sorted(p.name for p in (bundle / "policy").iterdir())


def _installs(bundle: Path) -> list[dict[str, Any]]:
    """The bundle's `policy install` events, as its log holds them (None: withheld)."""
    found = []
    for line in (bundle / "events.jsonl").read_text("utf-8").splitlines():
        record = json.loads(line).get("record")
        if record is not None and record["topic"].startswith("grant-ledger:PolicyBook."):
            found.append(record)
    return found


def test_a_bundle_exported_in_a_new_process_ships_the_installed_version_and_passes(
    installed: Ledger, tmp_path: Path
) -> None:
    bundle = tmp_path / "b"
    _export_fresh(installed, bundle)
    assert _policy_files(bundle) == ["v1-2023.toml", V2]
    assert (bundle / "policy" / V2).read_text("utf-8") == _v2()
    assert json.loads((bundle / "bundle.json").read_text("utf-8"))["policy"] == V2
    code, out = _verify(bundle)
    assert code == 0 and out.startswith("PASS"), out


def test_the_command_line_export_reads_the_installed_version_from_the_log(
    installed: Ledger, tmp_path: Path
) -> None:
    """The same through the command line in this process, which forgot the installed version."""
    bundle = tmp_path / "b"
    installed.ok("audit", "export", str(bundle), role="auditor")
    assert _policy_files(bundle) == ["v1-2023.toml", V2]
    code, out = _verify(bundle)
    assert code == 0 and out.startswith("PASS"), out


def test_the_workbook_written_by_a_second_process_is_judged_by_the_same_version(
    installed: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large log's workbook is written by a spawned process, which never read the installed
    version either: it is given the bundle's, and writes the same workbook."""
    from audit import bundle as exporter

    installed.ok("audit", "export", str(tmp_path / "here"), role="auditor")
    monkeypatch.setattr(exporter, "PARALLEL_EVENTS", 0)
    installed.ok("audit", "export", str(tmp_path / "beside"), role="auditor")
    for name in ("report.xlsx", "bundle.json", f"policy/{V2}", "MANIFEST"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "beside" / name).read_bytes(), name
    code, out = _verify(tmp_path / "beside")
    assert code == 0 and out.startswith("PASS"), out


def test_a_one_grant_bundle_ships_the_policy_book_in_full_and_passes(
    installed: Ledger, tmp_path: Path
) -> None:
    for grant in (GRANT, "G-YZ-2024-01"):  # the grant that spent under v2, and one that did not
        bundle = tmp_path / grant
        installed.ok("audit", "export", str(bundle), "--grant", grant, role="auditor")
        assert _policy_files(bundle) == ["v1-2023.toml", V2]
        installs = [r for r in _installs(bundle) if r["topic"] == "grant-ledger:PolicyBook.Installed"]
        assert [r["state"]["name"] for r in installs] == [V2]
        meta = json.loads((bundle / "bundle.json").read_text("utf-8"))
        book = {str(r["originator_id"]) for r in installs}
        assert not book & set(meta["withheld_aggregates"])
        code, out = _verify(bundle)
        assert code == 0 and out.startswith("PASS"), (grant, out)


def test_an_as_of_bundle_ships_the_versions_in_force_by_its_date_and_every_install(
    installed: Ledger, tmp_path: Path
) -> None:
    """Cut after v2 takes effect, the bundle ships both versions; cut before, the version in force
    then alone (its findings are judged by it), yet the event installing v2 still goes out whole."""
    for as_of, files in ((TODAY, ["v1-2023.toml", V2]), ("2026-06-30", ["v1-2023.toml"])):
        for grant in ((), ("--grant", GRANT)):
            bundle = tmp_path / f"{as_of}{''.join(grant)}"
            installed.ok("audit", "export", str(bundle), "--as-of", as_of, *grant, role="auditor")
            assert _policy_files(bundle) == files, (as_of, grant)
            assert any(r["topic"] == "grant-ledger:PolicyBook.Installed" for r in _installs(bundle))
            code, out = _verify(bundle)
            assert code == 0 and out.startswith("PASS"), (as_of, grant, out)


def test_a_bundle_whose_installed_version_is_altered_or_dropped_fails(
    installed: Ledger, tmp_path: Path
) -> None:
    import shutil

    bundle = tmp_path / "b"
    installed.ok("audit", "export", str(bundle), role="auditor")
    # altered: the installed file allows travel too, its MANIFEST line recomputed
    altered = tmp_path / "altered"
    shutil.copytree(bundle, altered)
    file = altered / "policy" / V2
    allowed = '[spending.training_institute]\nallowed = ["equipment", "infrastructure", '
    text = file.read_text("utf-8")
    assert allowed in text
    file.write_text(text.replace(allowed, allowed + '"travel", ', 1), encoding="utf-8")
    write_manifest(altered)
    code, out = _verify(altered)
    assert code == 6 and f"policy/{V2}: not a policy version this verifier knows" in out, out
    # dropped, and bundle.json made to name the shipped version: the spend under v2 fails, and so
    # does the bundle on its own account (its log installs a version it does not ship)
    dropped = tmp_path / "dropped"
    shutil.copytree(bundle, dropped)
    (dropped / "policy" / V2).unlink()
    meta = json.loads((dropped / "bundle.json").read_text("utf-8"))
    meta["policy"] = "v1-2023.toml"
    (dropped / "bundle.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    write_manifest(dropped)
    code, out = _verify(dropped)
    assert code == 6 and "not a permitted use" in out, out
    assert f"installs the policy version 2026.1 ({V2}), in force from {IN_FORCE}" in out, out
    # the shipped version dropped: the spending of 2024 and 2025 is before every version shipped
    first = tmp_path / "first"
    shutil.copytree(bundle, first)
    (first / "policy" / "v1-2023.toml").unlink()
    write_manifest(first)
    code, out = _verify(first)
    assert code == 6 and "before every policy version the bundle ships" in out, out


def test_a_version_installed_after_the_latest_checkpoint_stays_out_of_the_bundle(
    demo_sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bundle ends at the latest checkpoint: a version installed since is not in its log, so
    the bundle does not ship it (the verifier would know it from nothing), and it passes."""
    ledger = demo_sqlite_ledger
    ledger.ok("audit", "checkpoint", role="approver")
    monkeypatch.setenv("GRANT_LEDGER_TODAY", BEFORE)
    version = tmp_path / V2
    version.write_text(_v2(), encoding="utf-8")
    _install(ledger, version)
    bundle = tmp_path / "b"
    ledger.ok("audit", "export", str(bundle), role="auditor")
    assert _policy_files(bundle) == ["v1-2023.toml"]
    code, out = _verify(bundle)
    assert code == 0 and out.startswith("PASS"), out


def _travel_from(day: str) -> str:
    """The shipped version, in force from ``day``, whose district bases may spend on travel."""
    text = (resources.files("ledger") / "policy" / "v1-2023.toml").read_text("utf-8")
    text = text.replace('version = "2023.1"', 'version = "2026.1"')
    text = text.replace("effective_from = 2023-03-15\n", f"effective_from = {day}\n", 1)
    travel = '[categories.travel]\nzh = "差旅费"\nen = "travel"\nallowed = false'
    district = "[spending.district_base]\nallowed = ["
    banned = 'banned = ["travel", "labour", "unrelated"]\nbanned_clause = "banned_uses"'
    assert travel in text and district in text and banned in text
    text = text.replace(travel, travel.replace("false", "true"), 1)
    text = text.replace(district, district + '"travel", ', 1)
    return text.replace(banned, banned.replace('"travel", ', ""), 1)


def test_the_web_s_bundle_ships_the_installed_version_as_the_command_line_s_does(
    books: Ledger, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit page's download (`/audit/bundle`), from a server started before the version was
    installed, is the bundle `audit export` writes in a new process, byte for byte, and passes."""
    import io
    import zipfile

    from ledger.policy_installed import forget_installed
    from tests.test_web import AUDITOR_PASSWORD, sign_in

    monkeypatch.setenv("GRANT_LEDGER_TODAY", BEFORE)
    version = tmp_path / V2
    version.write_text(_travel_from(IN_FORCE), encoding="utf-8")
    books.ok("policy", "install", str(version), role="admin")
    monkeypatch.setenv("GRANT_LEDGER_TODAY", TODAY)
    books.ok("grant", "extend", "G1", "--end", "2099-12-31", "--document", "渝中人社〔2026〕7号",
             "--date", "2026-03-01", role="approver")  # fmt: skip
    books.ok("spend", "G1", "--amount", "500", "--category", "travel", "--source", "subsidy",
             "--voucher", "X1", "--date", SPENT)  # fmt: skip
    books.ok("audit", "checkpoint", role="approver")
    forget_installed()  # the server's process never read the version installed meanwhile
    sign_in(client, "tester.auditor", AUDITOR_PASSWORD)
    got = client.get("/audit/bundle")
    assert got.status_code == 200, got.text
    web = tmp_path / "web"
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        archive.extractall(web)
    (downloaded,) = web.iterdir()
    assert _policy_files(downloaded) == ["v1-2023.toml", V2]
    exported = tmp_path / "exported"
    _export_fresh(books, exported)
    names = sorted(str(p.relative_to(exported)) for p in exported.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(downloaded)) for p in downloaded.rglob("*") if p.is_file())
    for name in names:
        assert (downloaded / name).read_bytes() == (exported / name).read_bytes(), name
    code, out = _verify(downloaded)
    assert code == 0 and out.startswith("PASS"), out


def test_the_verifier_knows_the_policy_book_by_the_ledger_s_id() -> None:
    """The verifier imports nothing of the ledger: its copy of the policy book's id is the ledger's."""
    from audit.verifier.policy import BOOK_ID
    from ledger.policy_installed import BOOK_ID as LEDGER_BOOK_ID

    assert BOOK_ID == str(LEDGER_BOOK_ID)
