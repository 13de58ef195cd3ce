"""The settings file: database, signing key, language (and the claimed role and person) kept in
the platform's config directory, so an officer types them once.

A setting comes from, in order: the command-line flag, the environment, the settings file, the
default. ``grant-ledger info`` prints each one in effect and where it came from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import click

from ledger.i18n import catalogue
from ledger.location import user_dir

# the command line's catalogue (commands.i18n's, bound here: commands.i18n reads this module)
_ = catalogue("commands", Path(__file__).parent / "locale")

CONFIG_ENV = "GRANT_LEDGER_CONFIG"
# the settings a file may hold, with the global option that sets each and its environment variable
KEYS = {
    "db": ("--db", "GRANT_LEDGER_DB"),
    "key": ("--key", "GRANT_LEDGER_KEY"),
    "lang": ("--lang", "GRANT_LEDGER_LANG"),
    "role": ("--role", "GRANT_LEDGER_ROLE"),
    "actor": ("--actor", "GRANT_LEDGER_ACTOR"),
    "org": ("", "GRANT_LEDGER_ORG"),  # 编制单位 on report workbooks: no flag
}
CHOICES = {"lang": ("zh", "en"), "role": ("officer", "approver", "auditor", "admin")}
MAX_BYTES = 64 * 1024

EXAMPLE = """\
# grant-ledger settings (TOML); flags and GRANT_LEDGER_* variables win over these
db = "/srv/ledger/books.db"      # or "postgresql+psycopg://user@host/ledger"
key = "~/.config/grant-ledger/zhang.key"
lang = "zh"                      # zh | en
org = "重庆市渝中区人力资源和社会保障局"   # 编制单位 on report workbooks
"""


def config_path() -> Path:
    """``GRANT_LEDGER_CONFIG``, else ``config.toml`` in the platform's config directory
    (``~/.config/grant-ledger/`` on Linux)."""
    given = os.environ.get(CONFIG_ENV, "").strip()
    if given:
        return Path(given).expanduser()
    return user_dir("config") / "config.toml"


class FileSettings(NamedTuple):
    path: Path
    exists: bool
    values: dict[str, str]


def load_file() -> FileSettings:
    """The settings file's values, checked: one sentence naming the file and the setting (exit 2)
    for a file that is not TOML, an unknown setting, or a value of the wrong kind."""
    path = config_path()
    try:
        if not path.is_file():
            if path.exists():
                raise click.UsageError(_("settings file {path} is not a file").format(path=path))
            return FileSettings(path, False, {})
        if path.stat().st_size > MAX_BYTES:
            raise click.UsageError(
                _("settings file {path} is larger than {size} KB").format(path=path, size=MAX_BYTES // 1024)
            )
        raw = path.read_bytes()
    except OSError as e:
        raise click.UsageError(
            _("settings file {path} cannot be read: {error}").format(path=path, error=e.strerror or e)
        ) from None
    import tomllib  # only where a file is there to read

    from ledger.toml_text import parsed

    try:
        data = parsed(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise click.UsageError(_("settings file {path} is not UTF-8 text").format(path=path)) from None
    except tomllib.TOMLDecodeError as e:
        raise click.UsageError(
            _("settings file {path} is not valid TOML: {error}").format(path=path, error=e)
        ) from None
    except RecursionError:  # tomllib recurses once per level of nesting
        raise click.UsageError(
            _("settings file {path} is not valid TOML: nested too deep").format(path=path)
        ) from None
    values: dict[str, str] = {}
    for name, value in data.items():
        if name not in KEYS:
            raise click.UsageError(
                _("settings file {path}: unknown setting {name!r}; the settings are {names}").format(
                    path=path, name=name, names=", ".join(KEYS)
                )
            )
        if not isinstance(value, str) or not value.strip():
            raise click.UsageError(
                _("settings file {path}: {name} must be a non-empty string").format(path=path, name=name)
            )
        value = value.strip()
        if name in CHOICES and value not in CHOICES[name]:
            raise click.UsageError(
                _("settings file {path}: {name} = {value!r} is not one of {choices}").format(
                    path=path, name=name, value=value, choices=", ".join(CHOICES[name])
                )
            )
        if name == "key":
            value = str(Path(value).expanduser())
        values[name] = value
    return FileSettings(path, True, values)


SOURCE_WORDS = {
    click.core.ParameterSource.COMMANDLINE: "flag",
    click.core.ParameterSource.ENVIRONMENT: "environment",
    click.core.ParameterSource.DEFAULT: "default",
    click.core.ParameterSource.DEFAULT_MAP: "default",
    click.core.ParameterSource.PROMPT: "prompt",
}


def resolve(ctx: click.Context, given: dict[str, str | None]) -> tuple[dict[str, str | None], dict[str, str]]:
    """Each setting's value and where it came from: a flag or the environment as click read them
    (or the environment, for a setting with no flag), else the settings file, else the default."""
    loaded = load_file()
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for name in KEYS:
        source = ctx.get_parameter_source(name)
        value = given.get(name)
        word = SOURCE_WORDS.get(source, "default") if source is not None else "default"
        variable = KEYS[name][1]
        if source is None and os.environ.get(variable, "").strip():  # a setting with no flag
            value, word = os.environ[variable].strip(), "environment"
        if word == "default" and name in loaded.values:
            value, word = loaded.values[name], f"file {loaded.path}"
        if name == "org" and value is not None:
            _check_org(value, word)
        values[name] = value
        sources[name] = word
    return values, sources


ORG_MAX = 200  # an office's name; a workbook cell holds at most 32,767 characters


def _check_org(value: str, source: str) -> None:
    """编制单位 goes into every report workbook's header: no control character (a workbook cannot
    store one, and a bidirectional one prints another name), a name's length."""
    from ledger.text import CONTROL, control_named

    bad = CONTROL.search(value)
    if bad:
        raise click.UsageError(
            _("org (from {source}) holds {character}; write the office's name").format(
                source=source, character=control_named(bad.group())
            )
        )
    if len(value) > ORG_MAX:
        raise click.UsageError(
            _("org (from {source}) is {length:,} characters; an office's name is at most {most}").format(
                source=source, length=len(value), most=ORG_MAX
            )
        )
