"""The command line in the reader's language: its own catalogue, click's messages and the help
of every command.

Help texts stay English in the source (docstrings and ``help=``); they are the catalogue's
message ids, cleaned as click cleans them, and are swapped for the reader's language when a
command is about to be shown (``localize``). click's own messages ("Missing option…", "Usage:")
go through the standard library's gettext, which reads the language from the environment: the
``click`` catalogue beside ours is bound as gettext's domain and ``LANGUAGE`` is set to the
language chosen.
"""

from __future__ import annotations

import gettext
import inspect
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import click

from commands.helpformat import Context, short_help
from ledger.i18n import LANGUAGES, N_, catalogue, current, use

LOCALE = Path(__file__).parent / "locale"
CLICK_DOMAIN = "click"

_ = catalogue("commands", LOCALE)

__all__ = ["LOCALE", "N_", "HelpContext", "_", "choose", "early_lang", "help_strings", "localize", "walk"]


def choose(lang: str) -> None:
    """Every message from here on in ``lang``: the ledger's, the command line's and click's."""
    use(lang)
    gettext.bindtextdomain(CLICK_DOMAIN, str(LOCALE))
    gettext.textdomain(CLICK_DOMAIN)
    os.environ["LANGUAGE"] = lang


def early_lang(args: Sequence[str]) -> str:
    """The language asked for, read before click parses anything (so that click's own errors
    and ``--help`` are already in it): ``--lang`` among the global options, else
    ``GRANT_LEDGER_LANG``, else the settings file, else zh. The callback resolves it again with
    the other settings; the two agree."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(args) and args[i + 1] in LANGUAGES:
            return args[i + 1]
        if arg.startswith("--lang=") and arg[7:] in LANGUAGES:
            return arg[7:]
    env = os.environ.get("GRANT_LEDGER_LANG", "").strip()
    if env in LANGUAGES:
        return env
    try:
        from commands.config import load_file

        value = load_file().values.get("lang", "")
    except Exception:  # a broken settings file is reported, in full, by the callback
        value = ""
    return value if value in LANGUAGES else "zh"


def _key(text: str) -> str:
    return inspect.cleandoc(text)


def walk(command: click.Command) -> Iterator[click.Command]:
    yield command
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from walk(sub)


_ORIGINAL = "_grant_ledger_msgid"


def _swap(owner: object, attr: str) -> None:
    originals: dict[str, str] = owner.__dict__.setdefault(_ORIGINAL, {})
    text = originals.get(attr, getattr(owner, attr, None))
    if not text:
        return
    originals[attr] = text
    setattr(owner, attr, _(_key(text)))


_DERIVED = "_grant_ledger_short_help_derived"


def _short(cmd: click.Command) -> None:
    # click cuts a short help at the last space before 45 characters: a Chinese sentence has
    # none, so it became "..."; ours is the translated help's first sentence, cut by columns
    derived = cmd.__dict__.get(_DERIVED, False)
    if cmd.short_help and not derived:
        _swap(cmd, "short_help")
        return
    if current() == "zh" and cmd.help:
        cmd.short_help = short_help(cmd.help)
        setattr(cmd, _DERIVED, True)
    elif derived:
        cmd.short_help = None


def localize(command: click.Command, ctx: click.Context | None = None) -> None:
    """Show ``command`` (and what it holds) in the current language; with ``ctx``, a group's
    commands not loaded yet too."""
    if ctx is not None and isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            command.get_command(ctx, name)
    for cmd in walk(command):
        cmd.context_class = HelpContext
        cmd._help_option = None  # click keeps the first one made, with its help in that language
        _swap(cmd, "help")
        _short(cmd)
        _swap(cmd, "epilog")
        for param in cmd.params:
            if isinstance(param, click.Option):
                _swap(param, "help")


class HelpContext(Context):
    """A command's context: its help laid out by columns, in the reader's language (the texts are
    put in it when help is shown, not at every start)."""

    def get_help(self) -> str:
        localize(self.command, self)
        return super().get_help()


def help_strings(command: click.Command) -> Iterator[str]:
    """Every help text under ``command``, as the catalogue holds it (for extraction)."""
    for cmd in walk(command):
        for owner, attr in [(cmd, "help"), (cmd, "short_help"), (cmd, "epilog")] + [
            (p, "help") for p in cmd.params if isinstance(p, click.Option)
        ]:
            if attr == "short_help" and owner.__dict__.get(_DERIVED):
                continue
            text = owner.__dict__.get(_ORIGINAL, {}).get(attr, getattr(owner, attr, None))
            if text:
                yield _key(text)
