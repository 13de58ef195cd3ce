"""The settings file: db, key and lang typed once; flags and variables win over it; `info` says
where each setting came from; a bad file is one sentence and exit 2, and nothing is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from commands.cli import cli
from tests.conftest import Ledger


def run(config: Path, *args: str, env: dict[str, str] | None = None):
    runner = CliRunner()
    return runner.invoke(cli, list(args), env={"GRANT_LEDGER_CONFIG": str(config), **(env or {})})


def write(config: Path, text: str) -> Path:
    config.write_text(text, encoding="utf-8")
    return config


def test_database_key_and_language_come_from_the_file(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    from tests.conftest import approved_district_grant

    approved_district_grant(sqlite_ledger)
    key = sqlite_ledger.key("officer")
    config = write(tmp_path / "config.toml", f'db = "{sqlite_ledger.url}"\nkey = "{key}"\nlang = "en"\n')

    paid = run(config, "disburse", "G1", "--amount", "12万", "--voucher", "T-CONF", "--date", "2024-04-10")
    assert paid.exit_code == 0, (paid.stdout, paid.stderr)
    spent = run(config, "spend", "G1", "--amount", "1200", "--category", "equipment", "--source",
                "subsidy", "--voucher", "V-CONF-1", "--date", "2024-05-10")  # fmt: skip
    assert spent.exit_code == 0, (spent.stdout, spent.stderr)
    shown = run(config, "balance", "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    (row,) = json.loads(shown.stdout)
    assert row["subsidy_spent"] == "1200.00"

    info = run(config, "info")
    assert info.exit_code == 0, info.stderr
    lines = {line.split(":", 1)[0].strip(): line for line in info.stdout.splitlines()}
    assert f"[file {config}]" in lines["db"] and sqlite_ledger.url in lines["db"]
    assert f"{key}  [file {config}]" in lines["key"]
    assert "en  [file" in lines["lang"]
    assert "[default]" in lines["role"]


def test_a_flag_and_a_variable_win_over_the_file(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", f'db = "{tmp_path / "elsewhere.db"}"\nlang = "zh"\n')
    info = run(config, "--db", sqlite_ledger.url, "info", env={"GRANT_LEDGER_LANG": "en"})
    assert info.exit_code == 0, info.stderr
    assert f"{sqlite_ledger.url}  [flag]" in info.stdout
    assert "lang:  en  [environment]" in info.stdout
    assert not (tmp_path / "elsewhere.db").exists()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('db = "x.db"\nsigning_key = "k"\n', "unknown setting 'signing_key'"),
        ('lang = "fr"\n', "lang = 'fr' is not one of zh, en"),
        ("role = 3\n", "role must be a non-empty string"),
        ('db = "x.db\n', "is not valid TOML"),
    ],
)
def test_a_bad_settings_file_is_one_sentence_and_exit_2(
    sqlite_ledger: Ledger, tmp_path: Path, text: str, words: str
) -> None:
    before = sqlite_ledger.event_count()
    config = write(tmp_path / "config.toml", text)
    result = run(config, "--db", sqlite_ledger.url, "--key", str(sqlite_ledger.key()), "unit", "register",
                 "U9", "--name", "某单位", "--kind", "enterprise", "--date", "2024-01-05",
                 env={"GRANT_LEDGER_LANG": "en"})  # fmt: skip
    assert result.exit_code == 2
    assert words in result.stderr and str(config) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert sqlite_ledger.event_count() == before


def test_shell_completion_offers_the_commands(tmp_path: Path) -> None:
    env = {**os.environ, "GRANT_LEDGER_CONFIG": str(tmp_path / "none.toml")}
    exe = [sys.executable, "-m", "commands"]
    script = subprocess.run(exe, env={**env, "_GRANT_LEDGER_COMPLETE": "bash_source"},
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert script.returncode == 0 and "complete " in script.stdout, script.stderr
    words = subprocess.run(
        exe,
        env={**env, "_GRANT_LEDGER_COMPLETE": "bash_complete", "COMP_WORDS": "grant-ledger rep",
             "COMP_CWORD": "1"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "plain,report" in words.stdout.splitlines(), (words.stdout, words.stderr)


HOMES = [None, "", "relative/home", "/home/officer", "/home/officer/", "/", "//", "/h ", " /h"]
XDG_HOMES = [None, "", "relative/dir", "/srv/dir", "/srv/dir/", "//", " /srv/dir", "/srv/dir "]


@pytest.mark.skipif(sys.platform != "linux", reason="the directories named without platformdirs are Linux's")
@pytest.mark.parametrize("home", HOMES)
@pytest.mark.parametrize("xdg", XDG_HOMES)
@pytest.mark.parametrize("kind", ["config", "data"])
def test_the_user_directories_are_where_platformdirs_puts_them(
    monkeypatch: pytest.MonkeyPatch, kind: str, home: str | None, xdg: str | None
) -> None:
    import platformdirs

    from commands.config import CONFIG_ENV, config_path
    from ledger.location import default_db_path

    monkeypatch.delenv(CONFIG_ENV, raising=False)
    variable = {"config": "XDG_CONFIG_HOME", "data": "XDG_DATA_HOME"}[kind]
    for name, value in (("HOME", home), (variable, xdg)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    ours = config_path if kind == "config" else default_db_path
    try:
        theirs = platformdirs.user_config_path if kind == "config" else platformdirs.user_data_path
        expected = theirs("grant-ledger") / ("config.toml" if kind == "config" else "ledger.db")
    except RuntimeError:  # no home directory at all (no passwd entry): both say so
        with pytest.raises(RuntimeError):
            ours()
        return
    assert ours() == expected


@pytest.mark.skipif(sys.platform != "linux", reason="the directories named without platformdirs are Linux's")
def test_the_file_in_the_users_config_directory_is_read(tmp_path: Path) -> None:
    """Without GRANT_LEDGER_CONFIG the file under $HOME/.config (or $XDG_CONFIG_HOME) is the one
    read, and reading it does not load platformdirs."""
    home, xdg = tmp_path / "home", tmp_path / "xdg"
    for config_home in (home / ".config", xdg):
        folder = config_home / "grant-ledger"
        folder.mkdir(parents=True)
        write(folder / "config.toml", f'db = "{config_home / "books.db"}"\nlang = "en"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRANT_LEDGER_", "XDG_"))}
    probe = (
        "import sys; from commands.config import load_file; f = load_file(); "
        "print(f.path, f.values['db'], 'platformdirs' in sys.modules, sep='\\n')"
    )
    for extra, config_home in (({}, home / ".config"), ({"XDG_CONFIG_HOME": str(xdg)}, xdg)):
        said = subprocess.run([sys.executable, "-c", probe], env={**env, "HOME": str(home), **extra},
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        where = config_home / "grant-ledger" / "config.toml"
        assert said.stdout.splitlines() == [str(where), str(config_home / "books.db"), "False"], said.stderr
        info = subprocess.run([sys.executable, "-m", "commands", "info"],
                              env={**env, "HOME": str(home), **extra},
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        said_info = info.stdout + info.stderr
        assert str(config_home / "books.db") in info.stdout and str(where) in info.stdout, said_info


@pytest.mark.skipif(sys.platform != "linux", reason="the directories named without platformdirs are Linux's")
def test_without_a_database_named_the_default_file_is_in_the_users_data_directory(tmp_path: Path) -> None:
    """No --db, no GRANT_LEDGER_DB, no settings file: `init` makes the ledger in
    $XDG_DATA_HOME/grant-ledger/ (else ~/.local/share/grant-ledger/), and `info` reads it there."""
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRANT_LEDGER_", "XDG_"))}
    for extra, folder in (({}, home / ".local" / "share"), ({"XDG_DATA_HOME": str(data)}, data)):
        run_env = {**env, "HOME": str(home), "GRANT_LEDGER_LANG": "en", **extra}
        made = subprocess.run([sys.executable, "-m", "commands", "init"], env=run_env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        db = folder / "grant-ledger" / "ledger.db"
        assert made.returncode == 0 and db.is_file(), made.stdout + made.stderr
        info = subprocess.run([sys.executable, "-m", "commands", "info"], env=run_env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert info.returncode == 0 and str(db) in info.stdout, info.stdout + info.stderr
