"""An import checked in parts (`import --jobs 3`): two processes check the rows, each given the
rows of some grants by a third that reads the file, while the command's own process writes.

Each grant's rows reach one checking process in the file's order, so the ledger ends as one
checker leaves it: the same balances to the fen, the same events, every bad row listed by its
line, a bundle that verifies, however many grants the file holds (how the reader deals the rows:
tests/test_import_dealing.py). A process of the three that dies takes the import
with it: one sentence, nothing written, no process left behind. An approver's rows (an approve row registers
its unit, which two processes must not both change) are checked by one process."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from audit.verifier.people import Period, Person
from ledger import importing
from ledger.importing import may_part
from tests.conftest import Ledger
from tests.test_import_order import _copy, _events, _imported, _split, _write, rows


@pytest.fixture
def books(tmp_path: Path) -> tuple[Path, list[list[str]], Path]:
    """200 events over four bases by date: the approvals, the money rows and their file."""
    approvals, money = _split(list(rows(200, 7, 4, "date")))
    return _write(tmp_path / "approvals.csv", approvals), money, _write(tmp_path / "money.csv", money)


@pytest.mark.parametrize("held", [importing.HELD_AGGREGATES, 1])
def test_two_checking_processes_leave_the_ledger_one_leaves(
    sqlite_ledger: Ledger,
    tmp_path: Path,
    books: tuple[Path, list[list[str]], Path],
    monkeypatch: pytest.MonkeyPatch,
    held: int,
) -> None:
    """``held`` 1: each process holds one grant, so the reader sends it the rows of one grant at a
    time as they come and sets the others' aside, read back grouped by grant once the file is
    read."""
    approvals, _, money = books
    one = _copy(sqlite_ledger, tmp_path / "one")
    parts = _copy(sqlite_ledger, tmp_path / "parts")
    assert _imported(one, approvals, money, "--jobs", "1").exit_code == 0
    monkeypatch.setattr(importing, "HELD_AGGREGATES", held)
    monkeypatch.setattr(importing, "DEAL_ROWS", 7)  # several batches in each file set aside
    done = _imported(parts, approvals, money, "--jobs", "3")
    assert done.exit_code == 0, done.output
    assert parts.balances() == one.balances()
    assert _events(parts) == _events(one)  # each part's batches have their own seal besides

    stored = parts.event_count()
    again = parts("import", "--jobs", "3", str(money))
    assert again.exit_code == 0 and "already recorded" in again.stdout, again.output
    assert parts.event_count() == stored

    bundle = tmp_path / "bundle"
    parts.ok("audit", "checkpoint", role="approver")
    parts.ok("audit", "export", str(bundle), role="auditor")
    verified = parts("audit", "verify", str(bundle), "--root", parts.root or "", role="auditor")
    assert verified.exit_code == 0 and verified.stdout.startswith("PASS"), verified.output


def test_bad_rows_of_both_parts_are_listed_in_line_order_and_nothing_is_written(
    sqlite_ledger: Ledger, tmp_path: Path, books: tuple[Path, list[list[str]], Path]
) -> None:
    approvals, money, _ = books
    ledger = _copy(sqlite_ledger, tmp_path / "ledger")
    ledger.ok("import", str(approvals), role="approver")
    before = ledger.event_count()
    spends = [r for r in money if r[5] == "spend"]
    grants = sorted({r[3] for r in spends})
    assert len(grants) >= 3
    bad = [list(r) for r in money]
    lines = []
    reversed_ = {(r[3], r[12]) for r in money if r[5] == "reverse"}
    for grant in grants:  # a banned category in one spend of each grant: both parts see one
        spent = (i for i, r in enumerate(bad) if r[3] == grant and r[5] == "spend")
        at = next(i for i in spent if (grant, bad[i][10]) not in reversed_)
        bad[at][8] = "travel"
        lines.append(at + 2)  # the header is line 1
    refused = ledger("import", "--jobs", "3", str(_write(tmp_path / "bad.csv", bad)))
    assert refused.exit_code == 3, refused.output
    listed = [int(e.split(":")[1]) for e in refused.stderr.splitlines() if e.startswith("bad.csv:")]
    assert listed == sorted(lines)
    assert "Traceback" not in refused.stderr
    assert ledger.event_count() == before


def _dies_at(monkeypatch: pytest.MonkeyPatch, target: str, after: int) -> None:
    """The forked process that runs ``importing.<target>`` exits hard at its ``after``-th call."""
    real = getattr(importing, target)
    calls = [0]

    def dying(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] == after:
            os._exit(9)
        return real(*args, **kwargs)

    monkeypatch.setattr(importing, target, dying)


@pytest.mark.parametrize(
    ("target", "after", "says"),
    [
        ("crc32", 60, "reading process ended before the file did"),  # the reader, mid-file
        ("row_action", 40, "checking processes ended without a result (exit 9)"),  # a checker
    ],
)
def test_a_process_that_dies_takes_the_import_with_it(
    sqlite_ledger: Ledger,
    tmp_path: Path,
    books: tuple[Path, list[list[str]], Path],
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    after: int,
    says: str,
) -> None:
    approvals, money, _ = books
    ledger = _copy(sqlite_ledger, tmp_path / "ledger")
    ledger.ok("import", str(approvals), role="approver")
    before = ledger.event_count()
    path = _write(tmp_path / "money.csv", [[*r] for r in money])
    monkeypatch.setattr(importing, "DEAL_ROWS", 10)  # the checkers start before the reader ends
    _dies_at(monkeypatch, target, after)
    others = _children()  # this test process's children of other tests (a server, a tracker)
    result = ledger("import", "--jobs", "3", "--batch", "20", str(path))
    assert result.exit_code == 5, result.output
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert ledger.event_count() == before
    assert set(_children()) <= set(others), "a process of the import outlived it"
    monkeypatch.undo()
    again = ledger("import", "--jobs", "3", str(path))  # run again: all of it
    assert again.exit_code == 0 and f"{len(money)} events recorded" in again.stdout, again.output


def _children() -> list[int]:
    """This process's children still running (after an import: a forked reader or checker left
    behind, besides those it had before)."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
            except OSError:
                continue
            if stat[1] == me and stat[0] != "Z":
                found.append(int(entry.name))
    return found


def test_an_approvers_rows_are_checked_by_one_process(
    sqlite_ledger: Ledger, tmp_path: Path, books: tuple[Path, list[list[str]], Path]
) -> None:
    approvals, _, money = books
    ledger = _copy(sqlite_ledger, tmp_path / "ledger")
    done = ledger("import", "--jobs", "3", str(approvals), role="approver")
    assert done.exit_code == 0, done.output
    assert ledger("import", "--jobs", "3", str(money)).exit_code == 0
    assert len(ledger.balances()) == 4


def test_an_approve_row_reaching_a_part_is_refused_not_recorded_twice(
    sqlite_ledger: Ledger,
    tmp_path: Path,
    books: tuple[Path, list[list[str]], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were the rule that chooses parts ever wrong, a part meeting a row that changes a unit
    stops the import instead of two processes each changing it."""
    approvals, _, _ = books
    ledger = _copy(sqlite_ledger, tmp_path / "ledger")
    before = ledger.event_count()
    monkeypatch.setattr(importing, "may_part", lambda person: True)
    refused = ledger("import", "--jobs", "3", str(approvals), role="approver")
    assert refused.exit_code == 5, refused.output
    assert refused.stderr.count("not one grant's") == 4  # each approve row, by its line
    assert ledger.event_count() == before


def _person(*roles: str) -> Person:
    from datetime import date

    periods = [Period(role, date(2024, 1, 1 + n), date(2024, 1, 2 + n)) for n, role in enumerate(roles)]
    return Person("p", "f" * 64, b"", periods)


@pytest.mark.parametrize(
    ("roles", "parts"),
    [(("officer",), True), (("approver",), False), (("approver", "officer"), False), (("admin",), True)],
)
def test_parts_only_for_people_who_never_record_an_approve_row(roles: tuple[str, ...], parts: bool) -> None:
    assert may_part(_person(*roles)) is parts


def test_a_failure_of_the_writing_process_ends_the_others_at_once(
    sqlite_ledger: Ledger,
    tmp_path: Path,
    books: tuple[Path, list[list[str]], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store refusing a batch mid-file: one sentence, nothing written, and the reader and
    both checking processes are gone when the command returns (not when it is collected)."""
    from ledger.bulk_write import BulkWriter
    from ledger.errors import StorageError

    approvals, money, _ = books
    ledger = _copy(sqlite_ledger, tmp_path / "ledger")
    ledger.ok("import", str(approvals), role="approver")
    before = ledger.event_count()
    written = [0]
    real = BulkWriter.events

    def refusing(self: BulkWriter, rows: list[object], leaves: Sequence[bytes] = ()) -> None:
        written[0] += 1
        if written[0] == 2:
            raise StorageError("the disk is full")
        real(self, rows, leaves)  # type: ignore[arg-type]

    monkeypatch.setattr(BulkWriter, "events", refusing)
    monkeypatch.setattr(importing, "DEAL_ROWS", 10)
    others = _children()  # this test process's children of other tests (a server, a tracker)
    result = ledger("import", "--jobs", "3", "--batch", "20", str(_write(tmp_path / "m.csv", money)))
    assert result.exit_code == 5 and "the disk is full" in result.stderr, result.output
    assert ledger.event_count() == before
    assert set(_children()) <= set(others), "a process of the import outlived it"
