"""The command line's contract: every command named in DESIGN.md is there, with help and
examples, and a report does not import the write side."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from commands.cli import COMMAND_MODULES, cli
from tests.loaded import loaded_by

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
    db = f"{tmp_path}/x.db"
    subprocess.run([sys.executable, "-m", "commands", "--db", db, "init"], check=True, capture_output=True)
    loaded = loaded_by(["--db", db, "balance"], ["eventsourcing", "pydantic", "openpyxl"]).modules
    assert sorted(m for m, was in loaded.items() if was) == []
