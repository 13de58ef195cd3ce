"""An import checked in parts (`import --jobs 3`) attacked where it could differ from one process:
each case is run with one process and in parts, and the two must refuse the same rows, by line,
with the same exit code, and write nothing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from zlib import crc32

import pytest
from click.testing import Result

from commands.cli import cli
from ledger import importing
from ledger.seal import generate_key
from tests.conftest import KEYRING, Ledger
from tests.test_import_order import _copy, _split, _write, rows


@pytest.fixture
def books(tmp_path: Path) -> tuple[Path, list[list[str]]]:
    """200 events over four bases by date: the approvals' file and the money rows."""
    approvals, money = _split(list(rows(200, 7, 4, "date")))
    return _write(tmp_path / "approvals.csv", approvals), money


def _officer_from(ledger: Ledger, folder: Path, start: str) -> Path:
    """The key of an officer whose role begins on ``start`` (registered with --date)."""
    key = folder / "late.key"
    generate_key(key)
    assert ledger.root is not None
    admin = KEYRING[ledger.root]["admin"]
    added = ledger.runner.invoke(
        cli,
        ["--db", ledger.url, "--key", str(admin), "--lang", "en", "people", "add", "late-officer",
         "--role", "officer", "--public-key", str(key.with_suffix(".pub")), "--date", start],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    return key


def _import(ledger: Ledger, key: Path, path: Path, jobs: str) -> Result:
    return ledger.runner.invoke(
        cli, ["--db", ledger.url, "--key", str(key), "--lang", "en", "import", "--jobs", jobs, str(path)]
    )


def test_rows_dated_before_the_importer_held_a_role_are_each_refused_as_with_one_process(
    sqlite_ledger: Ledger, tmp_path: Path, books: tuple[Path, list[list[str]]]
) -> None:
    """An officer registered from 1 March imports a year's rows: every earlier row is refused at
    its line (the second row of a date was an internal error: the role was looked up once a date),
    by one process and by two alike."""
    approvals, money = books
    start = "2024-03-01"
    early = [n + 2 for n, r in enumerate(money) if r[0] < start]  # the header is line 1
    assert len(early) > len({r[0] for r in money if r[0] < start}) > 1  # dates of several rows
    path = _write(tmp_path / "money.csv", money)
    said = {}
    for jobs in ("1", "3"):
        ledger = _copy(sqlite_ledger, tmp_path / jobs)
        ledger.ok("import", str(approvals), role="approver")
        key = _officer_from(ledger, tmp_path / jobs, start)
        before = ledger.event_count()
        done = _import(ledger, key, path, jobs)
        lines = [e for e in done.stderr.splitlines() if e.startswith("money.csv:")]
        no_role = [int(e.split(":")[1]) for e in lines if "holds no role on" in e]
        assert no_role == early, done.output  # (later rows may miss the money refused then)
        assert "internal error" not in done.stderr and "failed" not in done.stderr, done.output
        assert ledger.event_count() == before
        said[jobs] = (done.exit_code, done.stderr)
    assert said["1"] == said["3"]
    assert said["1"][0] not in (0, 1, 5)


@pytest.mark.parametrize(
    ("batch", "lang", "says"),
    [
        ("20", "en", "one of the import's checking processes ended without a result (exit 9)"),
        ("2000", "en", "one of the import's checking processes ended without a result (exit 9)"),
        ("20", "zh", "导入的校验进程之一 未返回结果即结束（退出码 9）"),
    ],
)
def test_a_checker_that_dies_is_named_with_its_exit_status(
    sqlite_ledger: Ledger,
    tmp_path: Path,
    books: tuple[Path, list[list[str]]],
    monkeypatch: pytest.MonkeyPatch,
    batch: str,
    lang: str,
    says: str,
) -> None:
    """One checking process (the one of the grants that hash odd) exits hard mid-file while the
    other goes on: the import says which process ended and how, not "exit None" (the process
    not yet reaped when the message was written), in the reader's language (the process was
    named in English), and writes nothing."""
    approvals, money = books
    ledger = _copy(sqlite_ledger, tmp_path / "ledger")
    ledger.ok("import", str(approvals), role="approver")
    before = ledger.event_count()
    real = importing.row_action
    calls = [0]

    def dying(cells: Any, kind: str) -> Any:
        if crc32(cells["grant_id"].encode()) % 2:
            calls[0] += 1
            if calls[0] == 40:
                os._exit(9)
        return real(cells, kind)

    monkeypatch.setattr(importing, "row_action", dying)
    monkeypatch.setattr(importing, "DEAL_ROWS", 10)
    assert {crc32(r[3].encode()) % 2 for r in money} == {0, 1}  # both processes have grants
    ledger.lang = lang
    done = ledger("import", "--jobs", "3", "--batch", batch, str(_write(tmp_path / "money.csv", money)))
    assert done.exit_code == 5, done.output
    assert done.stderr == f"grant-ledger: {says}\n", done.stderr
    assert ledger.event_count() == before


class _GoneReader:
    """The feed of a checking process whose reader has ended (its pipe closed)."""

    def recv(self) -> Any:
        raise EOFError

    def close(self) -> None:
        pass


def test_a_checker_outliving_a_killed_import_prints_no_traceback(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import's own process is killed (SIGKILL): the reader fails on a checker's closed pipe
    and ends, and the other checker, finding its feed ended, has no one to tell. It printed two
    tracebacks on the terminal (its error, then the broken pipe it met telling it); it ends
    quietly, as it does when its own sends fail."""
    import multiprocessing

    def reads(app: Any, rows: Any, **options: Any) -> Any:
        for _ in rows:
            pass
        yield "result", None

    monkeypatch.setattr(importing, "_check", reads)
    receive, send = multiprocessing.Pipe(duplex=False)
    receive.close()  # the writing process is gone
    importing._check_part(sqlite_ledger.url, {}, _GoneReader(), send)  # returns, raises nothing


def test_a_full_disk_when_the_rows_set_aside_are_read_back_is_named(
    sqlite_ledger: Ledger,
    tmp_path: Path,
    books: tuple[Path, list[list[str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each process holds one grant, so the reader sets the others' rows aside in temporary files
    and sends them once the file is read; the disk is full as it does. The import says so in one
    sentence and writes nothing (the reader's error escaped it there: it printed a traceback and
    the import said only that the reading process "ended before the file did")."""
    approvals, money = books
    ledger = _copy(sqlite_ledger, tmp_path / "ledger")
    ledger.ok("import", str(approvals), role="approver")
    before = ledger.event_count()

    def full(self: Any) -> Any:
        raise OSError(28, "No space left on device")
        yield  # a generator, as the real one

    monkeypatch.setattr(importing._Aside, "batches", full)
    monkeypatch.setattr(importing, "HELD_AGGREGATES", 1)
    done = ledger("import", "--jobs", "3", str(_write(tmp_path / "money.csv", money)))
    assert done.exit_code == 5, done.output
    assert done.stderr == (
        "grant-ledger: the import's reading process failed: [Errno 28] No space left on device\n"
    ), done.stderr
    assert ledger.event_count() == before


@pytest.mark.parametrize("jobs", ["1", "2", "3"])
def test_a_bug_while_checking_exits_1_in_every_mode_and_a_full_disk_5(
    sqlite_ledger: Ledger,
    tmp_path: Path,
    books: tuple[Path, list[list[str]]],
    monkeypatch: pytest.MonkeyPatch,
    jobs: str,
) -> None:
    """A fault in the checking (a bug, here a ValueError; the system's, here a full disk) is
    reported as the command line reports it in its own process, whichever process met it: a bug
    as an internal error, exit 1; the disk as a storage error, exit 5. One sentence, nothing written.
    (In a checking process a bug was a storage error, exit 5.)"""
    approvals, money = books
    path = _write(tmp_path / "money.csv", money)
    for fault, code, said in (
        (ValueError("no such thing"), 1, "internal error"),
        (OSError(28, "No space left on device"), 5, "No space left on device"),
    ):
        ledger = _copy(sqlite_ledger, tmp_path / f"ledger-{code}")
        ledger.ok("import", str(approvals), role="approver")
        before = ledger.event_count()

        def broken(*args: Any, fault: BaseException = fault, **kwargs: Any) -> Any:
            raise fault

        with monkeypatch.context() as patch:
            patch.setattr(importing._Books, "apply", broken)  # the forked processes inherit it
            done = ledger("import", "--jobs", jobs, str(path))
        assert done.exit_code == code, done.output
        assert said in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert ledger.event_count() == before
