"""`export --runs`: the books written apart, one file per run of one role's acts, so that each
import is one person's act and the runs, imported in the printed order, give the same books."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import Ledger
from tests.test_one_reading import _books, _dispose

MONEY = ("subsidy_", "matching_", "approved")


def _money(ledger: Ledger) -> dict[str, dict[str, str]]:
    return {
        base: {k: v for k, v in row.items() if k.startswith(MONEY)} for base, row in ledger.balances().items()
    }


def _printed_imports(stdout: str) -> list[tuple[str, str]]:
    """(role, file) of each `grant-ledger --role ROLE import FILE` line the export printed."""
    found = []
    for line in stdout.splitlines():
        words = shlex.split(line)
        if words[:2] == ["grant-ledger", "--role"] and words[3] == "import":
            found.append((words[2], words[4]))
    return found


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_runs_imported_in_order_give_the_same_books(
    sqlite_ledger: Ledger, tmp_path: Path, fmt: str
) -> None:
    _books(sqlite_ledger)
    _dispose(sqlite_ledger)
    out = tmp_path / "runs"
    result = sqlite_ledger.ok("export", "--format", fmt, "--runs", str(out))
    imports = _printed_imports(result.stdout)
    # approve (approver), money (officer), the recovery order (approver), its receipt and the
    # disposals (officer): four runs, alternating roles, numbered in the order to import them
    assert [role for role, _ in imports] == ["approver", "officer", "approver", "officer"]
    assert sorted(p.name for p in out.iterdir()) == [Path(f).name for _, f in imports]

    fresh = Ledger(f"sqlite:///{tmp_path / 'fresh.db'}", CliRunner())
    for role, path in imports:
        fresh.ok("import", path, role=role)
    assert _money(fresh) == _money(sqlite_ledger)
    again = tmp_path / "again"
    fresh.ok("export", "--format", fmt, "--runs", str(again))
    if fmt == "csv":  # the same rows again, but for a base name left empty, which import names by its id
        assert _rows(again) == _rows(out)


def _rows(folder: Path) -> list[list[str]]:
    rows = []
    for path in sorted(folder.iterdir()):
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            cells = line.split(",")
            if cells[5] == "approve":
                cells[9] = ""
            rows.append(cells)
    return rows


def test_a_run_imported_by_the_other_role_is_refused_and_writes_nothing(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    _books(sqlite_ledger)
    out = tmp_path / "runs"
    imports = _printed_imports(sqlite_ledger.ok("export", "--format", "csv", "--runs", str(out)).stdout)
    fresh = Ledger(f"sqlite:///{tmp_path / 'fresh.db'}", CliRunner())
    first_role, first = imports[0]
    wrong = "officer" if first_role == "approver" else "approver"
    before = fresh.event_count()  # init's registry and the fixture's three people
    result = fresh("import", first, role=wrong)
    assert result.exit_code == 3, result.stderr
    assert "role" in result.stderr
    assert fresh.event_count() == before


def test_runs_need_a_new_or_empty_directory_and_the_import_format(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    _books(sqlite_ledger)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine", encoding="utf-8")
    result = sqlite_ledger("export", "--format", "csv", "--runs", str(busy))
    assert result.exit_code == 2
    assert "not empty" in result.stderr
    assert sorted(p.name for p in busy.iterdir()) == ["keep.txt"]
    result = sqlite_ledger("export", "--format", "beancount", "--runs", str(tmp_path / "j"))
    assert result.exit_code == 2
    assert not (tmp_path / "j").exists()
    result = sqlite_ledger(
        "export", "--format", "csv", "--runs", str(tmp_path / "r"), "-o", str(tmp_path / "x")
    )
    assert result.exit_code == 2
    assert not (tmp_path / "r").exists()
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("existing", [False, True])
def test_runs_cut_short_by_a_full_disk_leave_no_run_behind(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    """The disk fills while the second run is written: no run is left to be imported without
    the others (the first had been, and a directory the export made), exit 5 in one sentence."""
    import errno

    import commands.export as export

    _books(sqlite_ledger)
    real, written = export.write_csv, []

    def filling(path: Path, text: str, bom: bool = True) -> None:
        written.append(path)
        if len(written) == 2:
            path.write_text(text[: len(text) // 2], encoding="utf-8")
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, text, bom)

    monkeypatch.setattr(export, "write_csv", filling)
    folder = tmp_path / "runs"
    if existing:
        folder.mkdir()
    result = sqlite_ledger("export", "--format", "csv", "--runs", str(folder))
    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert "No space left on device" in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert len(written) == 2
    assert (sorted(folder.iterdir()) == []) if existing else not folder.exists()
