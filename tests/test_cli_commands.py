"""The command line's contract: every command named in DESIGN.md is there, with help and
examples, and a report does not import the write side."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from commands.cli import COMMAND_MODULES, cli

CONTRACT = [
    "init", "info", "demo", "policy show", "unit register", "grant apply", "grant recommend",
    "grant review", "grant notice", "grant approve", "grant reject", "grant budget", "grant adjust",
    "disburse", "match commit", "match receive", "spend", "reverse", "recover order",
    "recover receive", "dispose", "output report", "evaluate", "rectify order", "rectify complete",
    "dossier add", "grant close", "balance", "report categories", "report sources",
    "report execution", "report matching", "report findings", "history", "import", "export",
    "projections status", "projections rebuild", "audit checkpoint", "audit export",
    "audit verify", "audit prove", "keys generate",
]  # fmt: skip


@pytest.mark.parametrize("command", CONTRACT)
def test_every_contract_command_has_help(command: str) -> None:
    result = CliRunner().invoke(cli, ["--lang", "en", *command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: cli {command} " in result.output


def test_the_top_level_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--lang", "en", "--help"])
    for name in COMMAND_MODULES:
        assert f"  {name} " in result.output


def test_balance_does_not_import_the_write_side(tmp_path: object) -> None:
    code = (
        "import sys; from commands.cli import cli\n"
        "try:\n    cli.main(['--db', sys.argv[1], 'balance'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('eventsourcing', 'pydantic', 'openpyxl') if m in sys.modules))"
    )
    db = f"{tmp_path}/x.db"
    subprocess.run([sys.executable, "-m", "commands", "--db", db, "init"], check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", code, db], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
