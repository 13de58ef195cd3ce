"""Docs that run: every `grant-ledger` command of the READMEs' usage sections, in the order
written, on a fresh SQLite ledger in an empty folder, exits as the README says.

A command's trailing comment may say what to expect: "exit N" / "退出码 N" the exit code (otherwise
0), and "prints `TEXT`" / "显示 `TEXT`" a text its output must hold. Make targets are not run here
(`make test` is this suite, `make demo` has its own tests), nor `serve`; a command that prompts
fails, as standard input is empty."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from commands.cli import cli

ROOT = Path(__file__).resolve().parent.parent
# each README and the level-2 sections of it that show a user's commands (their subsections too)
USAGE_SECTIONS = {
    "README.md": ("Using it",),
    "README.zh.md": ("第一次使用：建账与立项", "日常工作"),
}
NOT_RUN = {"serve"}
SHELL_SYNTAX = {"|", "||", "&&", ";", "<", ">>", "&"}


@dataclass(frozen=True)
class Example:
    line: int
    text: str
    args: tuple[str, ...]
    stdout_to: str | None
    exit_code: int
    prints: tuple[str, ...]


def _split_comment(line: str) -> tuple[str, str]:
    """The command and its trailing shell comment (a # outside quotes, at a word's start)."""
    quote = ""
    for i, c in enumerate(line):
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i], line[i + 1 :]
    return line, ""


def _code_blocks(readme: str, sections: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of each fenced block inside the named level-2 sections."""
    blocks: list[tuple[int, list[str]]] = []
    found: set[str] = set()
    inside = fence = False
    for number, line in enumerate(readme.splitlines(), 1):
        if line.startswith("```"):
            fence = not fence
            if fence and inside:
                blocks.append((number + 1, []))
            continue
        if fence:
            if inside:
                blocks[-1][1].append(line)
            continue
        if line.startswith("## "):
            heading = line[3:].strip()
            inside = heading in sections
            found.add(heading)
    missing = set(sections) - found
    assert not missing, f"usage sections not found (renamed?): {sorted(missing)}"
    return blocks


def parse(readme: str, sections: tuple[str, ...], name: str) -> list[Example]:
    found: list[Example] = []
    for first, lines in _code_blocks(readme, sections):
        logical: list[tuple[int, str]] = []
        continued = False
        for offset, line in enumerate(lines):
            if continued:
                logical[-1] = (logical[-1][0], logical[-1][1][:-1].rstrip() + " " + line.strip())
            else:
                logical.append((first + offset, line.strip()))
            continued = line.rstrip().endswith("\\")
        for number, text in logical:
            command, comment = _split_comment(text)
            words = shlex.split(command)
            if not words or words[0] != "grant-ledger":
                assert not words or words[0] == "make", f"{name}:{number}: not a grant-ledger command: {text}"
                continue
            if NOT_RUN & set(words):
                continue
            assert not SHELL_SYNTAX & set(words), f"{name}:{number}: shell syntax the test cannot run: {text}"
            stdout_to = None
            if ">" in words:
                at = words.index(">")
                assert at == len(words) - 2, f"{name}:{number}: '>' must end the command: {text}"
                stdout_to, words = words[-1], words[:at]
            code = re.search(r"(?:\bexit|退出码)\s*(\d+)", comment)
            found.append(
                Example(
                    line=number,
                    text=text,
                    args=tuple(words[1:]),
                    stdout_to=stdout_to,
                    exit_code=int(code.group(1)) if code else 0,
                    prints=tuple(re.findall(r"(?:\bprints|显示)\s*`([^`]+)`", comment)),
                )
            )
    return found


def examples(name: str) -> list[Example]:
    return parse((ROOT / name).read_text("utf-8"), USAGE_SECTIONS[name], name)


def test_the_parser_reads_continuations_comments_redirects_and_expectations() -> None:
    readme = "\n".join(
        [
            "# title",
            "```sh",
            "grant-ledger before-the-section",
            "```",
            "## Using it",
            "```sh",
            "make demo      # not run",
            "grant-ledger spend G1 --amount 3200 \\",
            "    --voucher '记 #1' --date 2024-05-09   # refused, exit 3",
            "",
            "# a comment line",
            "grant-ledger audit checkpoint > cp.txt   # prints `root` and 显示 `根`",
            "grant-ledger serve",
            "```",
            "## Other",
            "```sh",
            "grant-ledger never-run",
            "```",
        ]
    )
    got = parse(readme, ("Using it",), "sample")
    assert got == [
        Example(
            8,
            "grant-ledger spend G1 --amount 3200 --voucher '记 #1' --date 2024-05-09   # refused, exit 3",
            ("spend", "G1", "--amount", "3200", "--voucher", "记 #1", "--date", "2024-05-09"),
            None,
            3,
            (),
        ),
        Example(
            12,
            "grant-ledger audit checkpoint > cp.txt   # prints `root` and 显示 `根`",
            ("audit", "checkpoint"),
            "cp.txt",
            0,
            ("root", "根"),
        ),
    ]
    with pytest.raises(AssertionError, match="not found"):
        parse(readme, ("Using it", "Gone"), "sample")
    with pytest.raises(AssertionError, match="shell syntax"):
        parse("## Using it\n```\ngrant-ledger balance | head\n```\n", ("Using it",), "sample")


def test_the_readmes_show_the_same_two_commands_first() -> None:
    for name in USAGE_SECTIONS:
        text = (ROOT / name).read_text("utf-8")
        first_block = text.split("```")[1]
        commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:]]
        assert [c for c in commands if c] == ["make demo", "make test"], name


@pytest.mark.parametrize("name", sorted(USAGE_SECTIONS))
def test_every_usage_example_runs_in_order_on_a_fresh_ledger(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = examples(name)
    assert len(found) >= 5, found  # the extraction found the sequence, not a stray line
    assert found[0].args[0] == "init", "a fresh ledger starts with grant-ledger init"
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    home = tmp_path / "home"
    env = {
        "GRANT_LEDGER_DB": str(tmp_path / "ledger.db"),
        # nothing of the developer's own: no home, config, data, key or role of theirs
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "GRANT_LEDGER_KEY": None,
        "GRANT_LEDGER_ROLE": None,
        # each README read in its own language: README.md's outputs in English, README.zh.md's in Chinese
        "GRANT_LEDGER_LANG": "zh" if name.endswith(".zh.md") else "en",
        "GRANT_LEDGER_ACTOR": None,
    }
    runner = CliRunner()
    for example in found:
        result = runner.invoke(cli, list(example.args), env=env, prog_name="grant-ledger", input="")
        where = f"{name}:{example.line}: {example.text}"
        assert result.exit_code == example.exit_code, (where, result.exit_code, result.stderr, result.stdout)
        if example.exit_code:
            assert result.stderr.startswith("grant-ledger: "), (where, result.stderr)
        for text in example.prints:
            assert text in result.stdout, (where, text, result.stdout)
        if example.stdout_to:
            (work / example.stdout_to).write_text(result.stdout, "utf-8")
    assert not (home / "data").exists()  # the README's default path was never touched
