"""An `init` or `keys generate` that fails leaves nothing behind: no ledger file without its root
(which had then answered `balance`, exit 0, and a write with "made before records were signed"),
and no empty or cut private key (which a full disk had left, refusing the next try)."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from commands.cli import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["--lang", "en", *args])


def _left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_init_with_an_existing_key_file_makes_no_ledger(tmp_path: Path) -> None:
    (tmp_path / "admin.key").write_text("mine", encoding="utf-8")
    result = run("--db", str(tmp_path / "l.db"), "init", "--admin-key", str(tmp_path / "admin.key"))
    assert result.exit_code == 2 and "refusing to overwrite the existing key file" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert _left(tmp_path) == ["admin.key"] and (tmp_path / "admin.key").read_text("utf-8") == "mine"
    again = run("--db", str(tmp_path / "l.db"), "balance")
    assert again.exit_code == 4 and "there is no ledger" in again.stderr


def test_init_whose_key_cannot_be_created_makes_no_ledger(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("", encoding="utf-8")
    result = run("--db", str(tmp_path / "l.db"), "init", "--admin-key", str(tmp_path / "afile" / "x.key"))
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert "cannot create the key file" in result.stderr and result.stderr.count("\n") == 1
    assert _left(tmp_path) == ["afile"]


_fdopen = os.fdopen


class _FullDisk:
    """A file object whose writes fail as on a full disk."""

    def __init__(self, fd: int, *args: Any, **kwargs: Any) -> None:
        self._handle = _fdopen(fd, *args, **kwargs)

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def fileno(self) -> int:
        return self._handle.fileno()

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("command", ["init", "keys generate"])
def test_a_key_not_written_for_a_full_disk_is_not_left_and_the_retry_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    import ledger.seal

    key = tmp_path / "keys" / "a.key"
    args = ["--db", str(tmp_path / "l.db"), "init", "--admin-key", str(key)]
    if command == "keys generate":
        args = ["keys", "generate", "--out", str(key)]
    monkeypatch.setattr(ledger.seal.os, "fdopen", _FullDisk)
    result = run(*args)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert "No space left on device" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not key.exists() and not key.with_suffix(".pub").exists(), "no empty or cut key is left"
    assert not (tmp_path / "l.db").exists(), "no ledger without its root"
    monkeypatch.undo()
    assert run(*args).exit_code == 0
    assert key.stat().st_size > 0 and key.with_suffix(".pub").stat().st_size > 0


@pytest.mark.parametrize(
    ("option", "value"),
    [("--out", ""), ("--out", "newdir/"), ("--name", "../../outside"), ("--name", ".."), ("--name", "")],
)
def test_keys_generate_writes_only_the_file_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, value: str
) -> None:
    """``--out ''`` had been an internal error, ``--out newdir/`` a private key written as the file
    ``newdir``, and ``--dir D --name ../../x`` a key written outside D."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    args = ["keys", "generate", option, value] + (
        ["--dir", str(tmp_path / "d")] if option == "--name" else []
    )
    result = run(*args)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert f"Invalid value for '{option}'" in result.stderr and "internal error" not in result.stderr
    assert _left(tmp_path) == ["d"] and _left(tmp_path / "d") == []
    assert not (tmp_path.parent / "outside.key").exists()
