"""A file or folder a command cannot make, read or write is named with the system's reason in one
line: exit 2 for a path that cannot be one, 5 for a full or failing disk, never "database error"
(which it had said, exit 5, for a bundle folder under a file, a name too long or a full disk) and
never a partial bundle left behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Ledger, approved_district_grant


@pytest.fixture
def checkpointed(sqlite_ledger: Ledger) -> Ledger:
    """A file's errors are the file system's, whichever database: SQLite alone."""
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("audit", "checkpoint", role="approver")
    return sqlite_ledger


def _one_line(stderr: str) -> str:
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    return stderr


@pytest.mark.parametrize("where", ["under a file", "a name too long"])
def test_a_bundle_folder_that_cannot_be_made_is_named(
    checkpointed: Ledger, tmp_path: Path, where: str
) -> None:
    (tmp_path / "afile").write_text("", encoding="utf-8")
    target = tmp_path / "afile" / "bundle" if where == "under a file" else tmp_path / ("x" * 300) / "b"
    result = checkpointed("audit", "export", str(target), role="auditor")
    assert result.exit_code == 2, result.stderr
    line = _one_line(result.stderr)
    assert str(target.parent) in line and "database error" not in line, line
    assert [p.name for p in tmp_path.iterdir() if "bundle" in p.name or "partial" in p.name] == []


def test_a_full_disk_midway_through_an_export_is_said_and_leaves_no_bundle(
    checkpointed: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import audit.bundle

    def full(engine: Any, directory: Path, *args: Any, **kwargs: Any) -> Any:
        (directory / "events.jsonl").write_text("{", encoding="utf-8")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(directory / "events.jsonl"))

    monkeypatch.setattr(audit.bundle, "_write_bundle", full)
    result = checkpointed("audit", "export", str(tmp_path / "bundle"), role="auditor")
    assert result.exit_code == 5, result.stderr
    line = _one_line(result.stderr)
    assert "No space left on device" in line and "events.jsonl" in line and "database error" not in line
    assert [p.name for p in tmp_path.iterdir() if "bundle" in p.name] == [], "no bundle, no partial one"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_an_import_from_a_pipe_is_refused_in_one_sentence(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    ledger = sqlite_ledger
    import threading

    pipe = tmp_path / "rows.csv"
    os.mkfifo(pipe)

    def feed() -> None:  # what a shell's `import <(…)` would send; lets a reader that opens it go on
        try:
            with open(pipe, "w", encoding="utf-8") as writer:
                writer.write("date,unit_id,base_id,grant_id,programme,kind,amount\n")
        except OSError:
            pass

    threading.Thread(target=feed, daemon=True).start()
    before = ledger.event_count()
    result = ledger("import", str(pipe))
    os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK))  # the writer, unread, let go
    assert result.exit_code == 2, result.stderr
    assert "is not a regular file" in _one_line(result.stderr)
    assert ledger.event_count() == before
