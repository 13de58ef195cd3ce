"""A process running several commands on one database keeps its engine for the next
(``ledger.database.kept_engine``): each command still meets the database as a new engine would.
What changed below it between two commands is seen, and a forked child never shares the parent's
connections."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from commands.cli import cli
from ledger.database import make_engine
from tests.conftest import Ledger


def _run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lang", "en", "--db", url, *args])
    return result.exit_code, result.stderr


def _events(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM ledger_events")).scalar() or 0)
    finally:
        engine.dispose()


def test_the_same_engine_is_handed_out_again_without_its_connections(ledger: Ledger) -> None:
    first = make_engine(ledger.url)
    with first.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert first.pool.checkedin() == 1
    again = make_engine(ledger.url)
    assert again is first  # kept: what it compiled is not compiled again
    assert again.pool.checkedin() == 0  # but no connection of the command before is carried over
    again.dispose()


def test_a_newer_schema_written_between_two_commands_in_one_process_is_refused(ledger: Ledger) -> None:
    ledger.ok("balance")
    ledger.ok("info")  # the read and write engines on this database are now kept
    engine = create_engine(ledger.url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_meta SET value = '2' WHERE key = 'schema_version'"))
    engine.dispose()
    before = _events(ledger.url)
    for args in (["balance"], ["info"], ["people", "list"]):
        code, err = _run(ledger.url, *args)
        assert code != 0 and "schema version 2" in err, (args, code, err)
    result = ledger("unit", "register", "U9", "--name", "单位U9", "--date", "2024-02-01")
    assert result.exit_code != 0 and "schema version 2" in result.stderr, result.stderr
    assert _events(ledger.url) == before


def test_a_file_replaced_by_another_program_s_between_two_commands_is_left_byte_for_byte(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    for args in (["init", "--admin", "admin", "--admin-key", str(tmp_path / "admin.key")], ["info"]):
        code, err = _run(url, *args)
        assert code == 0, err
    for leftover in tmp_path.glob("ledger.db*"):
        leftover.unlink()
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    before = path.read_bytes()
    code, err = _run(url, "init", "--admin", "admin", "--admin-key", str(tmp_path / "admin2.key"))
    assert code == 2 and "is another program's SQLite database (tables customers)" in err, err
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.glob("ledger.db*")) == ["ledger.db"]  # not switched to WAL


def _child(url: str, answer: multiprocessing.queues.Queue) -> None:  # type: ignore[name-defined]
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()  # as a command in the child ends: only its own connections are closed
    answer.put(os.getpid())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_close_the_parent_s_connections(ledger: Ledger) -> None:
    engine = make_engine(ledger.url)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT COUNT(*) FROM ledger_events")).scalar()
    assert engine.pool.checkedin() == 1  # held idle across the fork
    context = multiprocessing.get_context("fork")
    answer = context.Queue()
    child = context.Process(target=_child, args=(ledger.url, answer))
    child.start()
    assert answer.get(timeout=60) == child.pid
    child.join(60)
    assert child.exitcode == 0
    with engine.connect() as conn:  # the parent's idle connection, had the child closed it, fails
        assert conn.execute(text("SELECT COUNT(*) FROM ledger_events")).scalar() == before
    engine.dispose()


def test_a_table_gone_between_two_reads_in_one_process_is_made_again(ledger: Ledger) -> None:
    """What a read found of the database's tables is not carried to the next command: a table a
    ledger lacks (made by an earlier version, or copied in since) is made by its next read."""
    from tests.conftest import approved_district_grant
    from tests.test_read_model_added import _drop_units

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    for _ in range(2):
        result = ledger.ok("balance", "--format", "json")  # the read engine found every table
        assert '"subsidy_received": "100000.00"' in result.stdout, result.stdout
        _drop_units(ledger.url)


def test_one_relative_url_in_two_directories_is_two_ledgers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sqlite:///ledger.db`` is the file in the directory a command runs in: a command run in
    another directory of the same process reads and writes that directory's file, and another
    program's file there is refused and left as it was."""
    url = "sqlite:///ledger.db"
    roots = {}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        result = CliRunner().invoke(
            cli, ["--lang", "en", "--db", url, "init", "--admin", "admin", "--admin-key", "admin.key"]
        )
        assert result.exit_code == 0, result.stderr
        roots[name] = result.stdout
        assert (tmp_path / name / "admin.key").exists()
    assert roots["a"] != roots["b"]  # each its own trust root
    for name in ("a", "b"):
        assert _events(f"sqlite:///{tmp_path / name / 'ledger.db'}") > 0
    (tmp_path / "c").mkdir()
    monkeypatch.chdir(tmp_path / "c")
    with sqlite3.connect(tmp_path / "c" / "ledger.db") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    before = (tmp_path / "c" / "ledger.db").read_bytes()
    for args in (["balance"], ["init", "--admin", "admin", "--admin-key", "admin.key"]):
        code, err = _run(url, *args)
        assert code in (2, 4), (args, code, err)
    assert (tmp_path / "c" / "ledger.db").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["ledger.db"]
