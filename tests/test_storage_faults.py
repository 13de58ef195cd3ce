"""Storage faults: a full disk, a read-only database, a database locked by another writer, and a
database written by a newer grant-ledger. Each gives one clear line (exit 5) and writes nothing.

A full disk is a real one for the process: its file-size limit (RLIMIT_FSIZE) makes every write
past the limit fail in the kernel, as ENOSPC would, without root, tmpfs or LD_PRELOAD.
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.reliability import (
    GRANT_LEDGER,
    ROOT,
    cli_env,
    events,
    funded_grant,
    integrity_check,
    run_cli,
    spend_args,
)

SPEND = spend_args("G1", "记-0001", "3.5万")


def _one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 5, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("grant-ledger: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture
def funded(db_url: str) -> Iterator[str]:
    funded_grant(db_url, "200000.00")
    yield db_url


def test_full_disk_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    funded_grant(url, "200000.00")
    before = events(url)
    keep = sqlite3.connect(path)  # another reader keeps the WAL index mapped, as a report would
    keep.execute("SELECT COUNT(*) FROM ledger_events").fetchall()

    def disk_full() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write (EFBIG), do not kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    result = subprocess.run(
        [*GRANT_LEDGER, *SPEND],
        env=cli_env(url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        preexec_fn=disk_full,
        timeout=60,
    )
    keep.close()
    _one_clear_line(result, "disk is full or failing", "nothing was written")
    assert events(url) == before
    assert integrity_check(url) == "ok"
    # once there is room again, the same command goes through
    assert run_cli(url, *SPEND).returncode == 0
    assert len(events(url)) == len(before) + 2  # the expenditure and its seal


def test_read_only_database_writes_nothing(funded: str) -> None:
    if funded.startswith("sqlite"):
        read_only = funded.replace("sqlite:///", "sqlite:///file:") + "?mode=ro&uri=true"
    else:  # a session the server keeps read-only (a replica, or a read-only role's default)
        read_only = funded.replace("options=-c", "options=-cdefault_transaction_read_only%3Don%20-c")
    # reports read projections: a read-only store still serves them once they are current
    assert run_cli(funded, "balance").returncode == 0
    before = events(funded)
    result = run_cli(read_only, *SPEND)
    _one_clear_line(result, "cannot be written", "read-only")
    assert events(funded) == before
    assert run_cli(read_only, "balance", "--format", "json").returncode == 0  # reading still works


def test_locked_database_fails_after_a_bounded_wait(funded: str) -> None:
    before = events(funded)
    engine = create_engine(funded.replace("sqlite:///", "sqlite:///") if "sqlite" in funded else funded)
    with engine.connect() as holder:
        # another writer holds a long write transaction
        if funded.startswith("sqlite"):
            holder.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            holder.execute(text("LOCK TABLE ledger_events IN EXCLUSIVE MODE"))
        started = time.monotonic()
        result = run_cli(funded, *SPEND, GRANT_LEDGER_BUSY_TIMEOUT="500")
        waited = time.monotonic() - started
        holder.rollback()
    engine.dispose()
    _one_clear_line(result, "locked by another writer", "nothing was written")
    assert waited < 15, waited  # bounded: the busy timeout in all, not per retry
    assert events(funded) == before
    assert run_cli(funded, *SPEND).returncode == 0  # the lock released, it goes through


def test_newer_schema_is_refused(funded: str) -> None:
    engine = create_engine(funded)
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_meta SET value = '2' WHERE key = 'schema_version'"))
    engine.dispose()
    before = events(funded)
    for args in (SPEND, ["balance"], ["info"], ["init"]):
        _one_clear_line(run_cli(funded, *args), "schema version 2", "upgrade grant-ledger")
    assert events(funded) == before


def test_busy_timeout_setting_is_bounded() -> None:
    from ledger.database import busy_timeout_ms

    for raw, expected in (("", 30000), ("250", 250), ("abc", 30000), ("-5", 0), ("99999999999", 3_600_000)):
        os.environ["GRANT_LEDGER_BUSY_TIMEOUT"] = raw
        try:
            assert busy_timeout_ms() == expected
        finally:
            del os.environ["GRANT_LEDGER_BUSY_TIMEOUT"]


@pytest.mark.parametrize("raw", ["abc", "-5", "²"])
def test_a_bad_busy_timeout_is_refused_at_the_command_line(sqlite_url: str, raw: str) -> None:
    """The library keeps a bounded value whatever it is given (above); the command line says the
    setting is wrong instead of quietly waiting 30 s or not at all (before opening any database,
    so one engine shows it)."""
    funded_grant(sqlite_url, "100000.00")
    before = events(sqlite_url)
    result = run_cli(sqlite_url, *SPEND, GRANT_LEDGER_BUSY_TIMEOUT=raw)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"grant-ledger: Invalid value for GRANT_LEDGER_BUSY_TIMEOUT: {raw!r} is not a number of "
        "milliseconds from 0 to 3600000"
    ]
    assert events(sqlite_url) == before


@pytest.mark.parametrize(
    "command",
    [
        ["balance"],
        ["init"],
        ["spend", "G1", "--amount", "1", "--category", "equipment", "--source", "subsidy", "--voucher", "V"],
        ["report", "findings"],
        ["projections", "status"],
        ["info"],
    ],
)
def test_another_program_s_sqlite_file_is_refused_and_left_byte_for_byte(
    tmp_path: Path, command: list[str]
) -> None:
    """A file with someone else's tables is not made into a ledger: no tables added, not even its
    journal mode changed (the look is read-only, before the first connection)."""
    from click.testing import CliRunner

    from commands.cli import cli

    path = tmp_path / "accounts.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('某公司')")
    conn.close()
    before = path.read_bytes()
    result = CliRunner().invoke(cli, ["--lang", "en", "--db", str(path), *command])
    assert result.exit_code == 2, result.stderr
    assert f"{path} is another program's SQLite database (tables customers), not a grant-ledger one" in (
        result.stderr
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts.db"]


SPEND_X = "spend G1 --amount 1 --category equipment --voucher X --date 2024-05-01".split()


@pytest.mark.parametrize("command", [["init"], ["balance"], SPEND_X, ["info"]])
def test_a_file_that_is_no_database_is_refused_as_bad_input_and_left_byte_for_byte(
    tmp_path: Path, command: list[str]
) -> None:
    """A --db naming a file that is not a SQLite database at all (a document, a key, random bytes)
    is the user's mistake, as another program's database is: exit 2, one sentence naming the
    file, nothing written. It had been a storage error (exit 5, the code of a conflict)."""
    from click.testing import CliRunner

    from commands.cli import cli

    path = tmp_path / "budget.db"
    path.write_bytes(b"\x89PNG not a ledger" + bytes(range(256)) * 8)
    before = path.read_bytes()
    result = CliRunner().invoke(cli, ["--lang", "en", "--db", str(path), *command])
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.startswith(f"grant-ledger: {path} is not a SQLite database (file is not a database)")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["budget.db"]


def test_an_import_whose_commit_fails_tells_that_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk filling at an import's commit was told as "database error: Can't reconnect until
    invalid transaction is rolled back": the page cache's restore after it failed on the spoilt
    connection, and its error replaced the commit's (a red-team pass, on a 110 MB tmpfs). The
    commit's failure is what is told; nothing is written."""
    from click.testing import CliRunner
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine.base import RootTransaction
    from sqlalchemy.exc import OperationalError, PendingRollbackError

    from commands.cli import cli
    from ledger.importing import IMPORT_PAGE_CACHE_KIB

    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    funded_grant(url, "200000.00")
    before = events(url)
    rows = tmp_path / "vouchers.csv"
    rows.write_text(
        "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo\n"
        + "".join(f"2024-05-10,,B0001,G1,,spend,1.00,subsidy,equipment,,记-{n},某公司,\n" for n in range(50)),
        encoding="utf-8",
    )
    importing, failed = [], []
    commit, run = RootTransaction.commit, Connection.exec_driver_sql

    def full(self: RootTransaction) -> None:
        if importing and not failed:  # the import's own transaction, which set its page cache
            failed.append(True)
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database or disk is full"))
        commit(self)

    def spoilt(self: Connection, statement: str, *args: object, **kwargs: object) -> object:
        if statement == f"PRAGMA cache_size = -{IMPORT_PAGE_CACHE_KIB}":
            importing.append(True)
        elif failed and statement.startswith("PRAGMA cache_size = "):
            raise PendingRollbackError("Can't reconnect until invalid transaction is rolled back.")
        return run(self, statement, *args, **kwargs)

    monkeypatch.setattr(RootTransaction, "commit", full)
    monkeypatch.setattr(Connection, "exec_driver_sql", spoilt)
    result = CliRunner().invoke(cli, ["--db", url, "--lang", "en", "import", str(rows)], env=cli_env(url))
    monkeypatch.undo()
    assert failed, "the import's commit was not reached"
    assert result.exit_code == 5, result.output
    (line,) = result.stderr.strip().splitlines()
    assert "disk is full or failing" in line and "Can't reconnect" not in line, line
    assert events(url) == before
