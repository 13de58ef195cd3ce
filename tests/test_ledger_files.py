"""Where a ledger lives and who may read it: only `init` creates a ledger (a mistyped --db is
named, exit 4, and nothing is created), a database in memory is refused, the SQLite files are the
owner's alone, and a private key others may read signs nothing."""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from commands.cli import cli
from tests.conftest import Ledger, approved_district_grant, drop_pg_schema, fresh_pg_url, pg_unavailable

READS = [
    ["balance"],
    ["report", "findings"],
    ["projections", "status"],
    ["projections", "verify"],
    ["history", "G1"],
    ["info"],
]
WRITES = [
    ["spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy", "--voucher", "V1"],
    ["unit", "register", "U1", "--name", "单位", "--date", "2024-02-01"],
    ["import", "rows.csv"],
]


def run(db: str, *args: str, role: str = "officer") -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", db, "--role", role, "--lang", "en", *args])
    return result.exit_code, result.stdout, result.stderr


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("grant-ledger: "), stderr
    return lines[-1]


@pytest.mark.parametrize("role", ["officer", "approver", "auditor"])
@pytest.mark.parametrize("command", READS + WRITES, ids=lambda c: " ".join(c[:2]))
def test_a_mistyped_db_is_named_and_nothing_is_created(
    tmp_path: Path, command: list[str], role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("rows.csv").write_text("date,unit_id,base_id,grant_id,programme,kind,amount\n", encoding="utf-8")
    missing = tmp_path / "typo" / "ledgr.db"
    code, _, stderr = run(str(missing), *command, role=role)
    assert code == 4, stderr
    assert f"there is no ledger at {missing}" in one_line(stderr)
    assert "init" in one_line(stderr)
    assert not missing.parent.exists(), "nothing is created where a mistyped --db points"


def test_an_empty_file_is_no_ledger_either(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    code, _, stderr = run(str(empty), "balance")
    assert code == 4 and str(empty) in stderr
    assert empty.stat().st_size == 0


def test_init_creates_the_ledger_and_then_the_others_find_it(tmp_path: Path) -> None:
    db = tmp_path / "new" / "ledger.db"
    code, stdout, _ = run(str(db), "init")
    assert code == 0 and "ledger ready" in stdout
    code, stdout, _ = run(str(db), "balance")
    assert code == 0 and "no grants" in stdout.lower()


@pytest.mark.parametrize("db", ["sqlite://", "sqlite:///:memory:", "sqlite:///file::memory:?uri=true"])
@pytest.mark.parametrize("command", [["init"], ["balance"], ["info"]], ids=lambda c: c[0])
def test_a_ledger_in_memory_is_refused(db: str, command: list[str]) -> None:
    code, stdout, stderr = run(db, *command)
    assert code == 2, (stdout, stderr)
    assert "in memory" in one_line(stderr) and "give a file name" in one_line(stderr)


@pytest.fixture
def empty_pg_schema() -> Iterator[str]:
    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    url = fresh_pg_url()
    yield url
    drop_pg_schema(url)


def pg_tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            return [str(r[0]) for r in conn.execute(text(query))]
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", [["balance"], WRITES[0], ["projections", "status"]], ids=lambda c: c[0])
def test_a_postgresql_database_without_a_ledger_is_named_and_left_empty(
    empty_pg_schema: str, command: list[str], tmp_path: Path
) -> None:
    code, _, stderr = run(empty_pg_schema, *command)
    assert code == 4, stderr
    line = one_line(stderr)
    assert "there is no ledger at postgresql+psycopg://grant_ledger:***@" in line
    assert "grant_ledger:grant_ledger@" not in line, "the password is not shown"
    assert pg_tables(empty_pg_schema) == []
    admin_key = str(tmp_path / "admin.key")  # not ./grant-ledger.admin.key, shared by every run
    assert run(empty_pg_schema, "init", "--admin-key", admin_key)[0] == 0
    assert "ledger_events" in pg_tables(empty_pg_schema)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("command", [["init"], *READS[:3], *WRITES[:2]], ids=lambda c: " ".join(c[:2]))
def test_a_postgresql_server_not_reached_is_not_found_in_one_line(command: list[str]) -> None:
    """No server listening where --db points: exit 4, as for a SQLite file that is not there (it
    had been exit 5, a "conflict"), one line, the password not shown."""
    url = f"postgresql+psycopg://grant_ledger:s3cret-pw@127.0.0.1:{_closed_port()}/ledger"
    code, stdout, stderr = run(url, *command)
    assert code == 4, (stdout, stderr)
    line = one_line(stderr)
    assert line.startswith("grant-ledger: cannot connect to the database") and "refused" in line, line
    assert "s3cret-pw" not in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("change", ["password", "database"])
def test_a_postgresql_server_refusing_the_connection_is_not_found(empty_pg_schema: str, change: str) -> None:
    """The server is up but refuses us (a wrong password, a database it has not): exit 4 with the
    server's own reason, and nothing is written where the right URL points."""
    scheme, rest = empty_pg_schema.split("://", 1)
    creds, where = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    host = where.split("/", 1)[0]
    if change == "password":
        url = f"{scheme}://{user}:not-the-password@{where}"
    else:
        url = f"{scheme}://{creds}@{host}/no_such_database_here"
    code, _, stderr = run(url, *WRITES[0])
    assert code == 4, stderr
    assert one_line(stderr).startswith("grant-ledger: cannot connect to the database")
    assert ("password" if change == "password" else "no_such_database_here") in stderr
    assert "not-the-password" not in stderr
    assert pg_tables(empty_pg_schema) == []


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_the_sqlite_files_are_the_owners_alone(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    previous = os.umask(0o022)
    try:
        ledger = Ledger(f"sqlite:///{db}", CliRunner())
        assert mode(db) == 0o600
        keep = sqlite3.connect(db)  # a reader keeps the -wal and -shm files in place
        try:
            keep.execute("SELECT COUNT(*) FROM ledger_events").fetchall()
            approved_district_grant(ledger)
            for companion in (Path(f"{db}-wal"), Path(f"{db}-shm")):
                assert companion.exists() and mode(companion) == 0o600, companion
        finally:
            keep.close()
    finally:
        os.umask(previous)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o660])
def test_a_private_key_others_may_read_signs_nothing(
    sqlite_ledger: Ledger, tmp_path: Path, loose: int
) -> None:
    """A registered approver's own key, made by `keys generate`, signs no checkpoint (nor
    anything else) while others may read it."""
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("keys", "generate", "--dir", str(tmp_path / "keys"))
    key = tmp_path / "keys" / "ledger.key"
    assert mode(key) == 0o600
    public = str(key.with_suffix(".pub"))
    sqlite_ledger.ok("people", "add", "王强", "--role", "approver", "--public-key", public, role="admin")
    before = sqlite_ledger.event_count()
    key.chmod(loose)
    result = checkpoint(sqlite_ledger, key)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = one_line(result.stderr)
    assert str(key) in line and f"mode {loose:04o}" in line and f"chmod 600 {key}" in line
    assert result.stdout == "" and signed_checkpoints(sqlite_ledger) == 0
    assert sqlite_ledger.event_count() == before
    key.chmod(0o600)
    result = checkpoint(sqlite_ledger, key)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert signed_checkpoints(sqlite_ledger) == 1


def checkpoint(ledger: Ledger, key: Path) -> Result:
    return ledger.runner.invoke(
        cli, ["--db", ledger.url, "--key", str(key), "--lang", "en", "audit", "checkpoint"]
    )


def signed_checkpoints(ledger: Ledger) -> int:
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM audit_checkpoints")).scalar() or 0)
    finally:
        engine.dispose()


@pytest.mark.skipif(os.name != "posix", reason="POSIX files")
def test_a_key_that_is_no_regular_file_or_too_long_is_refused_at_once(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A FIFO given as the key waited for ever, /dev/zero filled memory until the kernel killed
    the command, and an encrypted key others may read asked its passphrase before being refused
    (a red-team pass): each is one sentence, exit 2, before anything is read or asked."""
    import subprocess
    import sys

    approved_district_grant(sqlite_ledger)
    fifo = tmp_path / "fifo.key"
    os.mkfifo(fifo, 0o600)
    long = tmp_path / "long.key"
    long.write_bytes(b"-----BEGIN PRIVATE KEY-----\n" + b"A" * 200_000)
    long.chmod(0o600)
    encrypted = tmp_path / "open.key"
    encrypted.write_bytes(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIGbMFcGCSqGSIb3DQEFDTBKMCkG\n")
    encrypted.chmod(0o644)
    for key, said in (
        (fifo, "is not a regular file"),
        (Path("/dev/zero"), "others may read it"),
        (long, "is not a PEM private key"),
        (encrypted, "others may read it"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "commands", "--db", sqlite_ledger.url, "--key", str(key), "--lang", "en",
             "audit", "checkpoint"],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 2, (key, done.returncode, done.stderr)
        assert said in one_line(done.stderr), (key, done.stderr)
    assert signed_checkpoints(sqlite_ledger) == 0
