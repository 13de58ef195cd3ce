"""A command's process loads its libraries without the cyclic garbage collector, then collects as
usual once its work begins (commands.context.starting_up, work_begins): an import, a write, a
report and the verifier end with the collector on, commands that open nothing never needed it,
and none prints anything on its way out."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Ledger, approved_district_grant

# the console script's own entry, with a line at exit saying whether the collector ran the work
RUN = (
    "import atexit, gc, sys\n"
    "said = lambda: sys.stderr.write(f'collector {gc.isenabled()} {gc.get_freeze_count() > 0}\\n')\n"
    "atexit.register(said)\n"
    "sys.argv = ['grant-ledger', *sys.argv[1:]]\n"
    "from commands.cli import main\n"
    "main()\n"
)


def _run(*args: str) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def books(sqlite_ledger: Ledger, tmp_path: Path) -> tuple[Ledger, Path]:
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    sqlite_ledger.ok("audit", "checkpoint", role="approver")
    sqlite_ledger.ok("audit", "export", str(tmp_path / "bundle"), role="auditor")
    return sqlite_ledger, tmp_path / "bundle"


def test_a_write_a_report_and_the_verifier_run_their_work_with_the_collector_on(
    books: tuple[Ledger, Path],
) -> None:
    ledger, bundle = books
    officer = str(ledger.key("officer"))
    spend = ("spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", "S1",
             "--date", "2024-05-10", "--payee", "某公司")  # fmt: skip
    books_csv = bundle.with_name("books.csv")
    rows = list(csv.reader(io.StringIO(ledger.ok("export", "--format", "csv").stdout)))
    with books_csv.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([rows[0], *(r for r in rows[1:] if r[5] != "approve")])  # an officer's
    for args in (
        ("--db", ledger.url, "--key", officer, "--lang", "en", "import", str(books_csv)),  # all known
        ("--db", ledger.url, "--key", officer, "--lang", "en", *spend),
        ("--db", ledger.url, "--lang", "en", "history", "G1"),
        ("--lang", "en", "audit", "verify", str(bundle), "--root", str(ledger.root)),
    ):
        code, out, err = _run(*args)
        assert code == 0, (args, out, err)
        assert err.splitlines()[-1] == "collector True True", (args, err)
    assert ledger.balances()["B0001"]["subsidy_spent"] == "100.00"


def test_a_command_that_opens_nothing_ends_cleanly(tmp_path: Path) -> None:
    for args in (("--help",), ("keys", "generate", "--out", str(tmp_path / "k.key")), ("--version",)):
        code, out, err = _run("--lang", "en", *args)
        assert code == 0, (args, out, err)
        assert err.splitlines() == ["collector False False"], (args, err)  # nothing else said
