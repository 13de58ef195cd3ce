"""Progress on every long step — export (csv, xlsx, beancount, hledger), import, audit export and
verify, projections rebuild and verify: a bar with counts on stderr when it is a terminal (forced
here by GRANT_LEDGER_PROGRESS=1, as the tests' stderr is none), nothing when it is not, and
standard output the same either way."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commands.cli import cli
from tests.conftest import Ledger, approved_district_grant

ENV = "GRANT_LEDGER_PROGRESS"  # the documented switch (commands.progress)


def _books(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "T1", "--date", "2024-04-10")
    for n in range(3):
        ledger.ok("spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
                  "--content", "training_system", "--voucher", f"S{n}", "--date", "2024-05-10")  # fmt: skip


def _counts(stderr: str, label: str) -> list[tuple[int, int]]:
    """Every "n/total" the bar labelled ``label`` drew."""
    drawn = [part for part in re.split(r"[\r\n]", stderr) if label in part]
    return [(int(a), int(b)) for part in drawn for a, b in re.findall(r"(\d+)/(\d+)", part)]


def _twice(monkeypatch: pytest.MonkeyPatch, run: Callable[[], Result]) -> tuple[Result, Result]:
    """The command run on a stderr that is no terminal, then with the bar asked for."""
    monkeypatch.delenv(ENV, raising=False)
    quiet = run()
    monkeypatch.setenv(ENV, "1")
    shown = run()
    monkeypatch.delenv(ENV)
    return quiet, shown


def _finished(stderr: str, label: str, total: int) -> None:
    counts = _counts(stderr, label)
    assert counts and counts[-1] == (total, total), (label, stderr)
    assert counts[0][0] < total  # drawn as it went, not only at the end


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "beancount", "hledger"])
def test_export_draws_its_progress_on_stderr_only(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fmt: str
) -> None:
    _books(sqlite_ledger)
    events = sqlite_ledger.event_count()
    out = ["--output", str(tmp_path / f"books.{fmt}")] if fmt == "xlsx" else []
    quiet, shown = _twice(monkeypatch, lambda: sqlite_ledger.ok("export", "--format", fmt, *out))
    assert quiet.stderr == ""  # no terminal, no bar, not even its label
    assert shown.stdout == quiet.stdout and shown.stdout
    _finished(shown.stderr, "reading events", events)
    if fmt == "xlsx":
        _finished(shown.stderr, "writing the workbook", 5)  # approval, disbursement, three spends
        monkeypatch.setenv(ENV, "1")
        zh = sqlite_ledger.ok("--lang", "zh", "export", "--format", fmt, *out)
        _finished(zh.stderr, "读取事件", events)
        _finished(zh.stderr, "写入工作簿", 5)


def test_import_and_the_projections_draw_their_progress(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _books(sqlite_ledger)
    events = sqlite_ledger.event_count()
    for command, label in (
        (("projections", "rebuild"), "rebuilding"),
        (("projections", "verify"), "recomputing"),
    ):
        quiet, shown = _twice(monkeypatch, lambda c=command: sqlite_ledger.ok(*c))  # type: ignore[misc]
        assert quiet.stderr == "" and shown.stdout == quiet.stdout
        _finished(shown.stderr, label, events)

    books = tmp_path / "books.csv"
    sqlite_ledger.ok("export", "--format", "csv", "--codes", "--output", str(books))
    rows = books.read_text(encoding="utf-8-sig").splitlines()[1:]
    officer = tmp_path / "officer.csv"  # the officer's rows: the disbursement and the spends
    officer.write_text("\n".join([books.read_text(encoding="utf-8-sig").splitlines()[0], *rows[1:]]) + "\n")
    fresh = Ledger(f"sqlite:///{tmp_path / 'fresh.db'}", CliRunner())
    approved_district_grant(fresh)
    monkeypatch.setenv(ENV, "1")
    result = fresh.ok("import", str(officer))
    monkeypatch.delenv(ENV)
    _finished(result.stderr, "importing", 4)
    assert "importing" not in result.stdout


def test_audit_export_and_verify_draw_their_progress(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _books(sqlite_ledger)
    sqlite_ledger.ok("audit", "checkpoint", role="approver")
    n = iter(range(2))

    def export() -> Result:
        return sqlite_ledger.ok("audit", "export", str(tmp_path / f"bundle{next(n)}"), role="auditor")

    quiet, shown = _twice(monkeypatch, export)
    assert quiet.stderr == ""
    assert shown.stdout.replace("bundle1", "bundle0") == quiet.stdout
    assert _counts(shown.stderr, "")  # each stage drawn with its counts

    def verify() -> Result:
        assert sqlite_ledger.root is not None
        args = ["--lang", "en", "audit", "verify", str(tmp_path / "bundle0"), "--root", sqlite_ledger.root]
        return CliRunner().invoke(cli, args, catch_exceptions=False)

    quiet, shown = _twice(monkeypatch, verify)
    assert quiet.exit_code == shown.exit_code == 0 and quiet.stdout == shown.stdout
    assert quiet.stderr == ""
    size = (tmp_path / "bundle0" / "events.jsonl").stat().st_size
    _finished(shown.stderr, "verifying events", size)


def test_no_bar_when_asked_for_none(sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    _books(sqlite_ledger)
    monkeypatch.setenv(ENV, "0")
    assert sqlite_ledger.ok("projections", "rebuild").stderr == ""
