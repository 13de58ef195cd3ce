"""Chinese throughout (issue 18 item 2): under ``--lang zh`` (the default) every command's help,
output and error reads as Chinese — no English sentence left — and under ``--lang en`` the same
reads as English.

"No English sentence": three ASCII words in a row (``[A-Za-z]{2,}`` each, one space apart), once
what a Chinese text keeps as typed is taken out: option names, codes and ids, file paths, URLs,
`quoted commands` and the example lines of a help (kept unchanged by the translation).

The cases are grouped by the part of the code that writes the text, so that a failure names the
area still to translate: the command line itself (help, click's messages, errors, confirmations),
the reports (balance, report, history, find), the ledger's rule refusals, the audit commands.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from commands.cli import COMMAND_MODULES, cli
from commands.i18n import walk
from tests.conftest import Ledger

ENGLISH = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}")
_EXAMPLE = re.compile(r"^\s*(?:\S+=\S+\s+)?grant-ledger\s")
_KEPT = re.compile(
    r"`[^`]*`"  # a command quoted
    r"|grant-ledger(?: [a-z][a-z-]+)*"  # a command's path (Usage: grant-ledger grant approve)
    r"|\S+://\S+"  # a URL
    r"|(?<![\w-])--?[A-Za-z][\w-]*(?:=\S*)?"  # an option name
    r"|\S*[/\\]\S*"  # a file path
    r"|\S*\.(?:db|key|pub|csv|tsv|xlsx|toml|txt|jsonl|json|md|pdf|beancount|journal)\b"  # a file
    r"|[\w.:-]*[\d_][\w.:-]*"  # a code, an id, a number, a voucher
    r"|\b[A-Z][A-Z_]{1,}\b"  # a metavar, an environment variable
)


def english_sentences(text: str) -> list[str]:
    """The English sentences left in ``text`` once what stays as typed is taken out."""
    kept, example = [], False
    for line in text.splitlines():
        example = bool(_EXAMPLE.match(line)) or (example and kept[-1].endswith("\\"))
        kept.append("¦\\" if example and line.endswith("\\") else "¦" if example else line)
    text = "\n".join(kept)
    text = _KEPT.sub("¦", text)
    return ENGLISH.findall(text)


def test_the_detector_finds_english_and_passes_chinese() -> None:
    assert english_sentences("grant-ledger: the database is locked by another writer")
    assert english_sentences("  --db PATH|URL   SQLite file or postgresql+psycopg:// URL")
    assert not english_sentences("grant-ledger：缺少选项 '--amount'。（见 `grant-ledger spend --help`）")
    assert not english_sentences("  grant-ledger spend G-YZ-2024-01 --amount 3.5万 --category equipment \\")
    assert not english_sentences("项目 G-YZ-2024-01 的 district_base 基地 B0001，凭证号 记-0042")


def _all_commands() -> list[tuple[str, ...]]:
    for name in COMMAND_MODULES:
        cli.get_command(click.Context(cli), name)
    paths: list[tuple[str, ...]] = []

    def visit(command: click.Command, path: tuple[str, ...]) -> None:
        paths.append(path)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                visit(sub, (*path, name))

    visit(cli, ())
    assert len(list(walk(cli))) == len(paths)
    return paths


COMMANDS = _all_commands()


def run(*args: str, lang: str = "zh", env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--lang", lang, *args], env=env, prog_name="grant-ledger")


def _said(result: Result) -> str:
    return result.stdout + result.stderr


def test_every_command_is_walked() -> None:
    top = {path[0] for path in COMMANDS if path}
    assert top == set(COMMAND_MODULES)
    assert ("grant", "approve") in COMMANDS and ("audit", "verify") in COMMANDS
    assert len(COMMANDS) > 60


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "grant-ledger")
def test_help_under_zh_has_no_english_sentence(path: tuple[str, ...]) -> None:
    result = run(*path, "--help", env={"COLUMNS": "100"})
    assert result.exit_code == 0, _said(result)
    assert english_sentences(result.stdout) == [], result.stdout
    assert "用法" in result.stdout and "选项" in result.stdout
    # laid out for 100 columns (a Chinese character takes two), and a command list whose short
    # help is a sentence, not click's "..." cut of a text without spaces
    from commands.helpformat import columns

    too_wide = [
        line
        for line in result.stdout.splitlines()
        if columns(line) > 100 and "grant-ledger" not in line and not line.lstrip().startswith("-")
    ]
    assert too_wide == []
    if "命令:" in result.stdout:
        listed = result.stdout.split("命令:", 1)[1].strip().splitlines()
        assert listed and all(not line.strip().endswith(("...", " ")) for line in listed)
        assert all(re.search(r"[\u4e00-\u9fff]", line) for line in listed if not line.startswith("   ")), (
            listed
        )


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "grant-ledger")
def test_help_under_en_is_english(path: tuple[str, ...]) -> None:
    result = run(*path, "--help", lang="en")
    assert result.exit_code == 0, _said(result)
    assert "Usage:" in result.stdout and "Show this message and exit." in result.stdout
    assert "显示本帮助后退出" not in result.stdout


SPEND = ("spend", "G-YZ-2024-01", "--amount", "1", "--category", "equipment", "--voucher", "V")


def test_version_under_zh_and_en() -> None:
    assert run("--version").stdout.strip().startswith("grant-ledger，版本 ")
    assert run("--version", lang="en").stdout.strip().startswith("grant-ledger, version ")


# click's own messages and the command line's errors: (arguments, exit code, English words)
CLI_ERRORS = [
    (("spend", "G-YZ-2024-01", "--amount", "1"), 2, "Missing option"),
    (("nosuch",), 2, "No such command"),
    (("grant", "nosuch"), 2, "No such command"),
    (("balance", "--format", "pdf"), 2, "is not one of"),
    ((*SPEND, "--source", "差旅"),
     2, "is not one of"),
    (("balance", "--nosuch"), 2, "No such option"),
    (("spend",), 2, "Missing argument"),
    (("--actor", " ", "balance"), 2, "Invalid value"),
    (("balance", "--known-at", "yesterday"), 2, "is not a timestamp"),
    (("find", "记-NOSUCH"), 4, "no grant holds voucher"),
    (("history", "G-NOSUCH"), 4, "is not in the ledger"),
    (("report", "sources", "G-NOSUCH"), 4, "no base or grant"),
    (("projections", "rebuild", "nosuch"), 4, "there is no projection"),
    (("export", "--format", "beancount", "--runs", "somewhere"), 2, "--runs writes the import format"),
    (("grant", "budget", "G-YZ-2024-01", "--line", "nonsense"), 2, "is not content:source:amount"),
    (("audit", "verify", ".", "--root", "abc"), 2, "is not a trust root"),
]  # fmt: skip
# errors the ledger's field rules and look-ups write (the `i18n-ledger` branch's area)
LEDGER_ERRORS = [
    (("balance", "--as-of", "2024-13-45"), 2, "is not a date"),
    (("spend", "G-YZ-2024-01", "--amount", "abc", "--category", "equipment", "--voucher", "V"), 2,
     "is not an amount"),
    (("spend", "G-NOSUCH", "--amount", "1", "--category", "equipment", "--voucher", "V"), 4,
     "is not in the ledger"),
]  # fmt: skip


def _error_in_both_languages(ledger: Ledger, args: tuple[str, ...], code: int, english: str) -> None:
    key = ["--key", str(ledger.keys / "officer.key")] if ledger.keys else []
    zh = run("--db", ledger.url, *key, *args)
    assert zh.exit_code == code, _said(zh)
    assert zh.stderr.startswith("grant-ledger") and len(zh.stderr.strip().splitlines()) == 1
    assert english_sentences(zh.stderr) == [], zh.stderr
    assert english not in zh.stderr, zh.stderr
    assert re.search(r"[\u4e00-\u9fff]", re.sub(r"[记拨]-\S+|差旅", "", zh.stderr)), zh.stderr
    en = run("--db", ledger.url, *key, *args, lang="en")
    assert en.exit_code == code, _said(en)
    assert english in en.stderr, en.stderr


@pytest.mark.parametrize(
    "args,code,english", CLI_ERRORS, ids=lambda a: " ".join(a) if isinstance(a, tuple) else None
)
def test_command_line_errors_under_zh_are_chinese_and_under_en_english(
    demo_sqlite_ledger: Ledger, args: tuple[str, ...], code: int, english: str
) -> None:
    _error_in_both_languages(demo_sqlite_ledger, args, code, english)


@pytest.mark.parametrize(
    "args,code,english", LEDGER_ERRORS, ids=lambda a: " ".join(a) if isinstance(a, tuple) else None
)
def test_ledger_errors_under_zh_are_chinese_and_under_en_english(
    demo_sqlite_ledger: Ledger, args: tuple[str, ...], code: int, english: str
) -> None:
    _error_in_both_languages(demo_sqlite_ledger, args, code, english)


def _officer(ledger: Ledger) -> list[str]:
    assert ledger.keys is not None
    return ["--db", ledger.url, "--key", str(ledger.keys / "officer.key")]


def _approver(ledger: Ledger) -> list[str]:
    assert ledger.keys is not None
    return ["--db", ledger.url, "--key", str(ledger.keys / "approver.key")]


def _check(results: list[tuple[tuple[str, ...], Result]]) -> None:
    """No English sentence in what each command said, and no crash."""
    left = [
        f"grant-ledger {' '.join(args)}\n    "
        + "\n    ".join(line for line in _said(result).splitlines() if english_sentences(line))
        for args, result in results
        if english_sentences(_said(result))
    ]
    assert left == [], "\n".join(left)
    crashed = {" ".join(a): _said(r) for a, r in results if "Traceback" in _said(r) or r.exit_code == 1}
    assert crashed == {}


def test_command_line_outputs_under_zh(demo_sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """What the command line itself says: init on a ledger that exists, info, keys, the people
    and body registries, projections, export, the lists of grants and of pending acts, and the
    tail it adds to a recorded act (the act's own sentence is the ledger's: see below)."""
    d = demo_sqlite_ledger
    officer = _officer(d)
    assert d.keys is not None
    admin = ["--db", d.url, "--key", str(d.keys / "admin.key")]
    runs: list[tuple[str, ...]] = [
        ("init",),
        ("info",),
        ("keys", "generate", "--out", str(tmp_path / "new.key")),
        ("projections", "status"),
        ("projections", "verify"),
        ("export", "--format", "csv", "-o", str(tmp_path / "books.csv")),
        ("export", "--format", "csv", "--runs", str(tmp_path / "runs")),
        ("grant", "list"),
        ("grant", "list", "--status", "rejected"),
    ]
    results = [(args, run(*officer, *args)) for args in runs]
    results += [(args, run(*admin, *args)) for args in [("people", "list"), ("body", "list")]]
    _check(results)
    info = results[1][1].stdout
    assert "信任根" in info and "设置文件" in info and "[默认]" in info
    spent = run(*officer, "spend", "G-CQ-2024-07", "--amount", "1", "--category", "equipment",
                "--voucher", "记-ZH-1", "--date", "2025-01-03")  # fmt: skip
    assert spent.exit_code == 0 and "可用余额：财政补助" in spent.stdout, _said(spent)


def test_recorded_acts_and_policy_under_zh(demo_sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """The sentence each recorded act prints, `policy show` and an import's refusal of a bad
    header: the ledger's catalogue (the `i18n-ledger` branch's area)."""
    d = demo_sqlite_ledger
    officer, approver = _officer(d), _approver(d)
    (tmp_path / "bad.csv").write_text("date,amount\n2024-05-10,1\n", encoding="utf-8")
    officer_runs: list[tuple[str, ...]] = [
        ("unit", "register", "U-ZH-1", "--name", "重庆市测试单位", "--date", "2024-02-01"),
        ("spend", "G-CQ-2024-07", "--amount", "1", "--category", "equipment", "--voucher", "记-ZH-2",
         "--date", "2025-01-03"),
        ("reverse", "G-CQ-2024-07", "--voucher", "记-ZH-2", "--reason", "重复", "--date", "2025-01-04"),
        ("match", "receive", "G-CQ-2024-07", "--amount", "1", "--voucher", "配收-ZH-1",
         "--date", "2025-01-05"),
        ("output", "report", "G-CQ-2024-07", "--year", "2025", "--trainees", "10", "--advanced", "2"),
        ("dossier", "add", "G-CQ-2024-07", "--kind", "summary", "--title", "总结", "--date", "2025-01-06"),
        ("import", str(tmp_path / "bad.csv")),
        ("policy", "show"),
        ("grant", "pending", "--as-of", "2024-03-01"),
    ]  # fmt: skip
    approver_runs: list[tuple[str, ...]] = [
        ("rectify", "order", "G-CQ-2024-07", "--ref", "R9", "--finding", "台账不全",
         "--deadline", "2025-06-30",
         "--date", "2025-01-10"),
        ("evaluate", "G-CQ-2024-07", "--kind", "mid_term", "--result", "pass", "--date", "2025-01-11"),
        ("recover", "order", "G-CQ-2024-07", "--amount", "1", "--reason", "违规", "--document", "追-ZH",
         "--date", "2025-01-12"),
    ]  # fmt: skip
    results = [(args, run(*officer, *args)) for args in officer_runs]
    results += [(args, run(*approver, *args)) for args in approver_runs]
    _check(results)


@pytest.fixture(scope="module")
def demo_said(tmp_path_factory: pytest.TempPathFactory) -> str:
    """What `grant-ledger demo` prints under zh (run once)."""
    import os

    where = tmp_path_factory.mktemp("demo")
    before = Path.cwd()
    os.chdir(where)
    try:
        result = run("--db", f"sqlite:///{where / 'demo.db'}", "demo")
    finally:
        os.chdir(before)
    assert result.exit_code == 0, _said(result)
    return result.stdout


def test_demo_step_titles_under_zh(demo_said: str) -> None:
    """The demo's sections and step titles (what each act or refusal says is the ledger's)."""
    titles = [
        re.split(r"：|——", line, maxsplit=1)[0]
        for line in demo_said.split("8. ")[0].splitlines()
        if line.strip()
    ]
    assert len(titles) > 40
    assert [t for t in titles if english_sentences(t)] == []


def test_demo_acts_and_refusals_under_zh(demo_said: str) -> None:
    """Each act's and refusal's sentence in the demo (the `i18n-ledger` branch's area)."""
    assert [line for line in demo_said.splitlines() if english_sentences(line)] == []


def test_reports_under_zh(demo_sqlite_ledger: Ledger) -> None:
    """The reports' tables, labels and notes (the `reports` branch's area)."""
    officer = _officer(demo_sqlite_ledger)
    runs = [
        ("balance",),
        ("report", "sources"),
        ("report", "categories"),
        ("report", "execution"),
        ("report", "matching"),
        ("report", "budget"),
        ("report", "findings", "--as-of", "2025-06-30"),
        ("history", "G-YZ-2024-01"),
        ("find", "记-YZ-0101"),
    ]
    results = [(args, run(*officer, *args)) for args in runs]
    _check(results)
    table = run(*officer, "balance").stdout
    assert "已批复" in table and "approved" not in table
    # the programme is among the columns the 160-column default leaves out: asked for by its header
    chosen = run(*officer, "balance", "--columns", "基地,类型,状态").stdout
    assert "district_base" not in chosen and "区级高技能人才培训基地" in chosen
    assert "approved" in run(*officer, "balance", "--codes").stdout


def test_rule_refusals_under_zh(demo_sqlite_ledger: Ledger) -> None:
    """A refusal by a rule (the ledger's catalogue, the `i18n-ledger` branch's area)."""
    officer = _officer(demo_sqlite_ledger)
    travel = run(*officer, "spend", "G-YZ-2024-01", "--amount", "3200", "--category", "travel",
                 "--voucher", "记-ZH-T", "--date", "2024-05-09")  # fmt: skip
    assert travel.exit_code == 3, _said(travel)
    assert english_sentences(travel.stderr) == [], travel.stderr
    en = run(*officer, "spend", "G-YZ-2024-01", "--amount", "3200", "--category", "travel",
             "--voucher", "记-ZH-T", "--date", "2024-05-09", lang="en")  # fmt: skip
    assert en.exit_code == 3 and "banned" in en.stderr


def test_audit_commands_under_zh(demo_sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """Checkpoint, export and verify lines (the audit catalogues' area)."""
    d = demo_sqlite_ledger
    approver = _approver(d)
    results = [(("audit", "checkpoint"), run(*approver, "audit", "checkpoint"))]
    results.append((("audit", "export"), run(*approver, "audit", "export", str(tmp_path / "bundle"))))
    results.append(
        (("audit", "verify"), run("audit", "verify", str(tmp_path / "bundle"), "--root", d.root or ""))
    )
    _check(results)
    assert results[-1][1].exit_code == 0, _said(results[-1][1])


def test_outputs_under_en_are_english(demo_sqlite_ledger: Ledger) -> None:
    officer = _officer(demo_sqlite_ledger)
    for args, english in [
        (("info",), "trust root"),
        (("balance",), "approved"),
        (("spend", "G-CQ-2024-07", "--amount", "1", "--category", "equipment", "--voucher", "记-EN-1",
          "--date", "2025-01-03"), "recorded expenditure"),
    ]:  # fmt: skip
        result = run(*officer, *args, lang="en")
        assert result.exit_code == 0, _said(result)
        assert english in result.stdout, result.stdout
        assert (
            not re.search(r"[\u4e00-\u9fff]{4,}", result.stdout.replace("记-EN", "")) or args[0] == "balance"
        )


def test_source_by_its_chinese_or_english_name(demo_sqlite_ledger: Ledger) -> None:
    """`--source 财政补助` was refused while `--category 原材料消耗` was accepted."""
    officer = _officer(demo_sqlite_ledger)
    for name, voucher in [("财政补助", "记-ZH-S1"), ("fiscal subsidy", "记-ZH-S2"), ("配套经费", "记-ZH-S3")]:
        result = run(*officer, "spend", "G-CQ-2024-07", "--amount", "1", "--category", "equipment",
                     "--source", name, "--voucher", voucher, "--date", "2025-01-03")  # fmt: skip
        assert result.exit_code == 0, _said(result)
    history = run(*officer, "history", "G-CQ-2024-07", "--format", "json", lang="en")
    sources = {
        row.get("source")
        for row in __import__("json").loads(history.stdout)
        if str(row.get("voucher", "")).startswith("记-ZH-S")
    }
    assert sources == {"subsidy", "matching"}
    bad = run(*officer, "spend", "G-CQ-2024-07", "--amount", "1", "--category", "equipment",
              "--source", "差旅", "--voucher", "记-ZH-S4", "--date", "2025-01-03")  # fmt: skip
    assert bad.exit_code == 2 and "差旅" in bad.stderr


def test_status_and_role_by_their_names(demo_sqlite_ledger: Ledger) -> None:
    """`grant list --status 已批复` (or `approved`, or its English name) lists the approved grants;
    a name that is no status is refused in one sentence, exit 2."""
    officer = _officer(demo_sqlite_ledger)
    by_code = run(*officer, "grant", "list", "--status", "approved", "--format", "json").stdout
    for name in ("已批复", "Approved"):
        result = run(*officer, "grant", "list", "--status", name, "--format", "json")
        assert result.exit_code == 0, _said(result)
        assert result.stdout == by_code and "G-YZ-2024-01" in by_code
    bad = run(*officer, "grant", "list", "--status", "已审批完")
    assert bad.exit_code == 2 and "已审批完" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    from ledger.i18n import LANG
    from ledger.labels import label

    token = LANG.set("zh")
    try:
        officer_zh = label("role", "officer")  # the role's Chinese name, as tables show it
    finally:
        LANG.reset(token)
    assert re.search(r"[\u4e00-\u9fff]", officer_zh), officer_zh
    for name in (officer_zh, "finance officer"):
        role = run(*officer, "--role", name, "balance")
        assert role.exit_code == 0, _said(role)
