"""SIGKILL a ``grant-ledger spend`` process at random moments, then retry the same commands with
the same vouchers: no acknowledged event lost, none recorded twice, projections equal to a
from-scratch rebuild, and the SQLite file passes ``PRAGMA integrity_check`` (WAL, synchronous=FULL).

Some kills are aimed at the worst moment: the event is committed but the process has not
answered yet. The officer retries; the voucher makes the retry a no-op, never a second payment.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.verifier.seals import SEAL_TOPIC
from commands.cli import cli
from tests.reliability import (
    GRANT_LEDGER,
    ROOT,
    cli_env,
    events,
    funded_grant,
    integrity_check,
    projection_dump,
    rebuilt_from_scratch,
    spend_args,
    stored_expenditures,
    versions_contiguous,
)
from tests.signing import url_key

KILLS = 50  # the issue asks for at least 50 per run
ON_COMMIT_EVERY = 4  # one kill in four waits for the commit, then kills before the answer


def _event_count(path: str) -> int:
    """The stored events that record acts: each write's seal, committed with them, is left out."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        query = "SELECT COUNT(*) FROM ledger_events WHERE topic != ?"
        return int(conn.execute(query, (SEAL_TOPIC,)).fetchone()[0])
    finally:
        conn.close()


def _retry(url: str, args: list[str]) -> tuple[int, str, str]:
    key = str(url_key(url))
    result = CliRunner().invoke(cli, ["--db", url, "--key", key, "--lang", "en", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.slow
def test_sigkill_spend_then_retry_same_vouchers(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.db")
    url = f"sqlite:///{path}"
    funded_grant(url, "200000.00")
    rng = random.Random(1)
    amounts: dict[str, Decimal] = {}
    acknowledged: set[str] = set()
    outcome = Counter[str]()
    n = 0
    started = time.monotonic()
    while outcome["killed"] < KILLS:
        voucher = f"记-{n:04d}"
        amount = Decimal(rng.randint(100, 99999)) / 100
        amounts[voucher] = amount
        args = spend_args("G1", voucher, f"{amount:.2f}")
        before = _event_count(path)
        proc = subprocess.Popen(
            [*GRANT_LEDGER, *args],
            cwd=ROOT,
            env=cli_env(url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        aimed = n % ON_COMMIT_EVERY == ON_COMMIT_EVERY - 1
        if aimed:  # kill as soon as the event is committed: before the process answers
            while proc.poll() is None and _event_count(path) == before:
                time.sleep(0.0005)
        else:
            time.sleep(rng.uniform(0.2, 0.7))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        if proc.returncode == 0:
            assert "recorded expenditure" in out, (out, err)
            acknowledged.add(voucher)
            outcome["finished"] += 1
        else:
            assert proc.returncode == -signal.SIGKILL, (proc.returncode, out, err)
            outcome["killed"] += 1
            committed = voucher in dict(stored_expenditures(url, "G1"))
            if committed:
                outcome["committed, no answer" if not out else "committed, answered"] += 1
            count = _event_count(path)
            code, rout, rerr = _retry(url, args)  # the officer runs the same command again
            assert code == 0, (code, rout, rerr)
            if committed:
                assert "already recorded" in rout, rout  # not paid twice
                assert _event_count(path) == count
            else:
                assert "recorded expenditure" in rout, rout
                assert _event_count(path) == count + 1
            acknowledged.add(voucher)
        n += 1

    stored = stored_expenditures(url, "G1")
    assert all(k == 1 for k in Counter(v for v, _ in stored).values())  # none twice
    assert dict(stored) == {v: amounts[v] for v in acknowledged} and len(acknowledged) == n  # none lost
    versions_contiguous(url)
    assert integrity_check(url) == "ok"
    code, out, err = _retry(url, ["balance", "--format", "json"])  # catches up what the kills left
    assert code == 0, err
    dump = projection_dump(url)
    assert dump["grants"][0][4] == int(sum(amounts.values()) * 100)  # subsidy spent, to the fen
    assert rebuilt_from_scratch(url, tmp_path) == dump
    assert integrity_check(url) == "ok"
    assert outcome["committed, no answer"] >= 1, outcome
    print(
        f"\n{n} spends, {outcome['killed']} SIGKILLs ({outcome['committed, no answer']} after the commit "
        f"and before the answer), {outcome['finished']} finished first; "
        f"{len(events(url))} events; {time.monotonic() - started:.1f} s"
    )


IMPORT_FILES = 4  # one SIGKILL while each file's transaction is open, then the same file again
ROWS_PER_FILE = 1500
HEADER = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"


def _write_locked(path: str) -> bool:
    """True while another process holds the database's write lock (the import's transaction)."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as e:
        if "locked" in str(e) or "busy" in str(e):
            return True
        raise
    finally:
        conn.close()


def _left_running(books: Path, wait: float = 10.0) -> list[int]:
    """Processes still running an import of ``books`` (a forked checker whose parent died)."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().split(") ")[1][0]
            except OSError:
                continue
            if str(books).encode() in cmdline and state != "Z":
                found.append(int(entry.name))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_import_then_import_the_same_file_again(tmp_path: Path) -> None:
    """An import is one transaction: killed while it is open, it leaves nothing; run again, it
    records every row once."""
    path = str(tmp_path / "ledger.db")
    url = f"sqlite:///{path}"
    funded_grant(url, "200000.00")
    rng = random.Random(2)
    rows: dict[str, Decimal] = {}
    outcome = Counter[str]()
    for k in range(IMPORT_FILES):
        chunk = {f"导-{k}-{i:04d}": Decimal(rng.randint(100, 2999)) / 100 for i in range(ROWS_PER_FILE)}
        rows.update(chunk)
        books = tmp_path / f"books-{k}.csv"
        lines = "".join(
            f"2024-05-10,,B0001,G1,,spend,{a:.2f},subsidy,equipment,,{v},某设备公司,\n"
            for v, a in chunk.items()
        )
        books.write_text(HEADER + "\n" + lines, encoding="utf-8")
        jobs = "123"[k % 3]  # files checked here, in a second process, or in two split by grant
        args = [*GRANT_LEDGER, "import", str(books), "--batch", "20", "--jobs", jobs]
        before = _event_count(path)
        proc = subprocess.Popen(
            args, cwd=ROOT, env=cli_env(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        while proc.poll() is None and not _write_locked(path):
            time.sleep(0.0005)  # until its transaction holds the write lock
        time.sleep(rng.uniform(0, 0.05))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            outcome["killed"] += 1
        proc.communicate()
        assert _left_running(books) == [], "the checking process outlived the killed import"
        written = _event_count(path) - before
        assert written in (0, ROWS_PER_FILE), written  # all or nothing, never part of a file
        outcome["killed with nothing written" if written == 0 else "finished first"] += 1
        assert integrity_check(url) == "ok"
        again = subprocess.run(args, cwd=ROOT, env=cli_env(url), capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert _event_count(path) - before == ROWS_PER_FILE  # the rest, and nothing twice
    stored = stored_expenditures(url, "G1")
    assert all(n == 1 for n in Counter(v for v, _ in stored).values())  # no row twice
    assert dict(stored) == rows  # none lost
    versions_contiguous(url)
    code, _, err = _retry(url, ["balance", "--format", "json"])
    assert code == 0, err
    dump = projection_dump(url)
    assert dump["grants"][0][4] == int(sum(rows.values()) * 100)
    assert rebuilt_from_scratch(url, tmp_path) == dump
    assert integrity_check(url) == "ok"
    assert outcome["killed with nothing written"] >= 1, outcome
    print(f"\nimport: {dict(outcome)} over {IMPORT_FILES} files of {ROWS_PER_FILE} rows")
