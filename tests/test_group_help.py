"""A command group typed without a subcommand (the first thing a new user types: `grant-ledger`,
`grant-ledger report`, `grant-ledger grant`) prints its help, formatted, on stdout, and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from commands.cli import cli

ROOT = Path(__file__).resolve().parent.parent
# the groups a user meets first; the test also finds every other group of the command line
FIRST_MET = {(), ("report",), ("grant",), ("audit",)}


def _groups() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = [()]

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                found.append((*path, name))
                walk(command, (*path, name))

    walk(cli, ())
    return found


GROUPS = _groups()


def test_the_groups_found_include_those_a_user_meets_first() -> None:
    assert set(GROUPS) >= FIRST_MET
    assert len(GROUPS) >= 10  # policy, unit, grant, output, rectify, dossier, recover, match, …


def _subcommands(path: tuple[str, ...]) -> list[str]:
    group: click.Command = cli
    for name in path:
        assert isinstance(group, click.Group)
        found = group.get_command(click.Context(group), name)
        assert found is not None
        group = found
    assert isinstance(group, click.Group)
    return group.list_commands(click.Context(group))


def _assert_formatted_help(path: tuple[str, ...], stdout: str) -> None:
    assert "\\n" not in stdout, stdout[:300]
    lines = stdout.splitlines()
    assert lines[0] == "Usage: grant-ledger " + " ".join((*path, "[OPTIONS] COMMAND [ARGS]...")), lines[0]
    assert "Commands:" in lines
    listed = {line.split()[0] for line in lines[lines.index("Commands:") + 1 :] if line.startswith("  ")}
    assert set(_subcommands(path)) <= listed, (path, listed)
    assert not stdout.startswith("grant-ledger:")  # not an error line


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "grant-ledger")
def test_a_group_without_subcommand_prints_its_help_and_exits_0(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, list(path), prog_name="grant-ledger", env={"GRANT_LEDGER_LANG": "en"})
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    assert result.stderr == ""
    _assert_formatted_help(path, result.stdout)


@pytest.mark.parametrize("path", [(), ("report",)], ids=["grant-ledger", "report"])
def test_the_installed_command_prints_group_help_in_a_terminal(path: tuple[str, ...], tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRANT_LEDGER_DB": str(tmp_path / "never.db")}
    env["GRANT_LEDGER_LANG"] = "en"
    done = subprocess.run(
        [sys.executable, "-m", "commands", *path],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    _assert_formatted_help(path, done.stdout)
    assert not (tmp_path / "never.db").exists()  # help alone opens no ledger


def test_a_group_given_an_unknown_subcommand_is_still_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["report", "nonesuch"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "nonesuch" in result.stderr and len(result.stderr.strip().splitlines()) == 1
