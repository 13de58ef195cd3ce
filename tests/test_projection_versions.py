"""A ledger whose read models an earlier version of grant-ledger wrote is rebuilt once, by the first
command that catches up, before anything reads them (projections/current.py).

The earlier version's rows are made below the application: a balance row changed in place, as a
version that wrote that column otherwise would have. The version is raised in the process
(``projections.names.VERSIONS``), as a release that changes what the balances projection writes
raises it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from projections import names
from tests.conftest import Ledger, approved_district_grant


def _funded(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("spend", "G1", "--amount", "2345.67", "--category", "equipment", "--source", "subsidy",
              "--voucher", "记-1", "--date", "2024-05-02")  # fmt: skip


def _as_an_earlier_version_wrote(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE balance_grants SET subsidy_spent = 1 WHERE grant_id = 'G1'"))
    engine.dispose()


def _current_keys() -> set[str]:
    return {names.tracked(n) for n in names.KEPT}


def _keys(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT application_name, notification_id FROM ledger_tracking")).all()
    engine.dispose()
    return {str(key): int(at) for key, at in rows}


def test_a_raised_version_rebuilds_the_projection_once_before_it_is_read(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    _funded(ledger)
    _as_an_earlier_version_wrote(ledger.url)
    # the same version reads the rows as they are: the test sees what a stale read model shows
    assert ledger.balances("B0001")["B0001"]["subsidy_spent"] == "0.01"

    raised = names.VERSIONS[names.BALANCES] + 1
    monkeypatch.setitem(names.VERSIONS, names.BALANCES, raised)
    monkeypatch.setenv("GRANT_LEDGER_PROGRESS", "1")  # the bar a terminal shows while it reads
    first = ledger.ok("balance", "B0001", "--format", "json")
    monkeypatch.delenv("GRANT_LEDGER_PROGRESS")
    assert json.loads(first.stdout)[0]["subsidy_spent"] == "2345.67"
    assert "rebuilding balances, written by another version" in first.stderr
    assert first.stderr.count("the balances read model was written by another version") == 1
    keys = _keys(ledger.url)
    assert set(keys) == _current_keys() and keys[f"balances@{raised}"] == ledger.event_count()

    again = ledger.ok("balance", "B0001", "--format", "json")
    assert again.stderr == "" and json.loads(again.stdout) == json.loads(first.stdout)
    assert "all read models agree" in ledger.ok("projections", "verify").stdout
    # a write after it moves the new key on, and the earlier one does not come back
    ledger.ok("spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
              "--voucher", "记-2", "--date", "2024-05-03")  # fmt: skip
    assert ledger.balances("B0001")["B0001"]["subsidy_spent"] == "2445.67"
    assert set(_keys(ledger.url)) == _current_keys()


def test_going_back_to_a_version_rebuilds_too(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    _funded(ledger)
    now = names.VERSIONS[names.BALANCES]
    monkeypatch.setitem(names.VERSIONS, names.BALANCES, now + 1)
    ledger.ok("balance")
    _as_an_earlier_version_wrote(ledger.url)
    monkeypatch.setitem(names.VERSIONS, names.BALANCES, now)
    back = ledger.ok("balance", "B0001", "--format", "json")
    assert json.loads(back.stdout)[0]["subsidy_spent"] == "2345.67"
    assert "rebuilt it from" in back.stderr
    assert f"balances@{now + 1}" not in _keys(ledger.url) and set(_keys(ledger.url)) == _current_keys()


def test_a_new_ledger_builds_its_projections_without_a_word(ledger: Ledger) -> None:
    _funded(ledger)
    result = ledger.ok("balance")
    assert result.stderr == ""
    assert set(_keys(ledger.url)) == _current_keys()


def test_a_write_on_an_upgraded_ledger_rebuilds_then_records(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    _funded(ledger)
    _as_an_earlier_version_wrote(ledger.url)
    monkeypatch.setitem(names.VERSIONS, names.COMPLIANCE, names.VERSIONS[names.COMPLIANCE] + 1)
    monkeypatch.setitem(names.VERSIONS, names.BALANCES, names.VERSIONS[names.BALANCES] + 1)
    spent = ledger.ok("spend", "G1", "--amount", "10", "--category", "equipment", "--source", "subsidy",
                      "--voucher", "记-3", "--date", "2024-05-04")  # fmt: skip
    told = spent.stderr
    assert "the balances read model" in told and "the compliance read model" in told
    assert ledger.balances("B0001")["B0001"]["subsidy_spent"] == "2355.67"
    keys = _keys(ledger.url)
    assert set(keys) == _current_keys()
    assert keys[names.tracked("balances")] == keys[names.tracked("compliance")] == ledger.event_count()


_UPGRADED = """
import os, sys, time
from pathlib import Path
import projections.names as n
import projections.rebuild as rebuild
n.VERSIONS[n.BALANCES] += 1
barrier, count = Path(sys.argv.pop(1)), int(sys.argv.pop(1))
real_rebuild, real_replay = rebuild.rebuild_all, rebuild.replay_into

def together(*args, **kwargs):  # every process reaches its rebuild before any begins
    (barrier / str(os.getpid())).touch()
    while len(list(barrier.iterdir())) < count:
        time.sleep(0.01)
    return real_rebuild(*args, **kwargs)

def slowly(*args, **kwargs):  # holding whatever the rebuild holds, long enough to be met
    done = real_replay(*args, **kwargs)
    time.sleep(0.5)
    return done

rebuild.rebuild_all, rebuild.replay_into = together, slowly  # projections.current imports it when due
from commands.cli import main
sys.argv = ["grant-ledger", *sys.argv[1:]]
main()
"""


def test_commands_upgrading_at_once_rebuild_it_once_and_agree(ledger: Ledger, tmp_path: Path) -> None:
    """Three processes of the new version reach the rebuild together on the earlier version's
    rows: the rebuild lock lets one rebuild; the others, finding it done, read the new rows."""
    _funded(ledger)
    _as_an_earlier_version_wrote(ledger.url)
    env = {**os.environ, "GRANT_LEDGER_LANG": "en"}
    project = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = project + os.pathsep + env.get("PYTHONPATH", "")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    command = [sys.executable, "-c", _UPGRADED, str(barrier), "3",
               "--db", ledger.url, "balance", "B0001", "--format", "json"]  # fmt: skip
    running = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(3)]  # fmt: skip
    outcomes = [process.communicate(timeout=120) for process in running]
    assert [process.returncode for process in running] == [0, 0, 0], outcomes
    assert {json.loads(out)[0]["subsidy_spent"] for out, _ in outcomes} == {"2345.67"}
    assert sum("rebuilt it from" in err for _, err in outcomes) == 1, outcomes
    raised = names.VERSIONS[names.BALANCES] + 1
    assert _keys(ledger.url)[f"balances@{raised}"] == ledger.event_count()


# What each version of each projection writes, as a digest of its tables' shape (names, columns,
# types, keys, indexes). A change to a projection's tables must raise its version in
# projections/names.py, and then its line here: an upgraded ledger rebuilds it. (A change to what
# the same columns mean cannot be seen here: its author raises the version.)
SHAPES = {
    # 2: the movements keep their recorder's role; 3: a grant's tier and kind (002 二)
    "balances": (3, "e48c2b8dc478"),
    # 2: facts keep each budget line by date and the professions named (same shape, more held);
    # 3: a plan leaving out a line spent on is a finding (same shape, another judgement);
    # 4: facts keep the recoveries ordered and received by date (same shape, more held);
    # 5: money before an approval cites its programme's approval clause (same shape, another citation)
    "compliance": (5, "58d5c9723100"),
    # 2: no row for a spend (same shape, another meaning); 3: an approval's detail names its tier,
    # an application's its kind (same shape, more said)
    "acts": (3, "5c362e32b263"),
    "audit_log": (1, "2848509114e3"),
}


def _shape(projection: object) -> str:
    lines = []
    for table in projection.tables:  # type: ignore[attr-defined]
        lines.append(f"table {table.name}")
        for column in table.columns:
            kind = f"{type(column.type).__name__}({getattr(column.type, 'length', None)})"
            lines.append(f"  {column.name} {kind} pk={column.primary_key} null={column.nullable}")
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            lines.append(f"  index {index.name} {[c.name for c in index.columns]} unique={index.unique}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]


def test_every_change_to_a_projections_tables_raises_its_version() -> None:
    from commands.registry import all_projections

    found = {p.name: (names.VERSIONS[p.name], _shape(p)) for p in all_projections()}
    assert set(found) == set(SHAPES) == set(names.KEPT)
    changed = {n: (SHAPES[n], found[n]) for n in found if found[n] != SHAPES[n]}
    assert not changed, (
        "a projection's tables changed: raise its version in projections/names.py and put "
        f"(version, shape) here: {changed}"
    )


def _unsigned_copy(tmp_path: Path) -> str:
    import shutil

    from tests.test_district import UNSIGNED

    db = tmp_path / "old.db"
    shutil.copy(UNSIGNED, db)
    os.chmod(db, 0o600)
    return f"sqlite:///{db}"


def test_a_ledger_stored_before_signing_is_not_rebuilt_from_unsigned_events_until_adopted(
    tmp_path: Path,
) -> None:
    """tests/data/unsigned-ledger: stored and projected by a release from before signing, not yet
    migrated. This version writes its read models otherwise, and will not build them on events no
    one it knows has signed: the first command says so in one sentence (exit 6) naming both
    causes, adoption by ``migrate`` or a change below the application, and builds nothing. Once an
    administrator adopts it, the read models are rebuilt and read."""
    from click.testing import CliRunner

    from commands.cli import cli

    runner = CliRunner(env={"GRANT_LEDGER_LANG": "en"})
    url = _unsigned_copy(tmp_path)
    before = _keys(url)
    assert "balances" in before and names.tracked("balances") != "balances"
    refused = runner.invoke(cli, ["--db", url, "balance", "--format", "json"])
    assert refused.exit_code == 6, (refused.stdout, refused.stderr)
    said = refused.stderr.strip()
    assert said.startswith("grant-ledger: event 1 (Unit.Registered of ") and len(said.splitlines()) == 1
    assert "carries no signature, and the ledger has no people registry; nothing was built on it" in said
    assert "adopts it with `grant-ledger migrate --admin NAME --admin-key FILE`" in said
    assert "the events table was changed below the application" in said
    assert refused.stdout == "" and _keys(url) == before

    adopted = runner.invoke(
        cli, ["--db", url, "migrate", "--admin", "管理员-陈", "--admin-key", str(tmp_path / "chen.key")]
    )
    assert adopted.exit_code == 0, adopted.stderr
    shown = runner.invoke(cli, ["--db", url, "balance", "--format", "json"])
    assert shown.exit_code == 0, shown.stderr
    assert [(r["base_id"], r["subsidy_spent"]) for r in json.loads(shown.stdout)] == [("B0001", "35000.00")]
    assert set(_keys(url)) == _current_keys()
