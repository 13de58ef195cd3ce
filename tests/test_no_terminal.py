"""A command that must ask for a passphrase or a password, run where no terminal can be asked
(cron, CI, a service): one sentence naming the variable that gives it, exit 2. Python's getpass
had warned twice on stderr, said the input may be echoed, and the command ended "aborted", exit 1.
Run as such a job runs: a process of its own session, no controlling terminal, stdin from nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from commands.cli import cli

EXE = str(Path(sys.executable).with_name("grant-ledger"))


def _job(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, "--lang", "en", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        start_new_session=True,
        timeout=60,
    )


@pytest.mark.skipif(os.name != "posix", reason="a POSIX session without a controlling terminal")
def test_a_prompt_without_a_terminal_names_its_variable(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    assert (
        CliRunner().invoke(cli, ["--db", db, "init", "--admin-key", str(tmp_path / "admin.key")]).exit_code
        == 0
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRANT_LEDGER_")}
    made = CliRunner().invoke(
        cli, ["keys", "generate", "--out", str(tmp_path / "enc.key"), "--encrypt"],
        env={"GRANT_LEDGER_KEY_PASSPHRASE": "口令"},
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    jobs = {
        "GRANT_LEDGER_KEY_PASSPHRASE": ["--db", db, "--key", str(tmp_path / "enc.key"), "spend", "G1",
                                        "--amount", "5", "--category", "equipment", "--voucher", "V1"],
        "GRANT_LEDGER_PASSWORD": ["--db", db, "people", "password", "someone"],
    }  # fmt: skip
    new_key = ["keys", "generate", "--out", str(tmp_path / "new.key"), "--encrypt"]
    for variable, args in [*jobs.items(), ("GRANT_LEDGER_KEY_PASSPHRASE", new_key)]:
        result = _job(*args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "Warning" not in result.stderr, result.stderr
        assert f"there is no terminal to ask on; set {variable} instead" in result.stderr
    assert not (tmp_path / "new.key").exists()
