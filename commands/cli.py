"""The ``grant-ledger`` command line.

Exit codes: 0 done (also: already recorded); 2 bad input or usage; 3 refused by a rule;
4 not found; 5 conflict; 6 verification failed; 130 interrupted. Errors are one sentence on stderr.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
from typing import Any

import click

from commands.choices import Named
from commands.context import Settings
from ledger.errors import LedgerError, StorageError, is_storage_error, unreachable_database
from ledger.location import MAX_BUSY_TIMEOUT_MS

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
# ledger.rules.ROLES, spelled out so that start-up (--version, reports) does not import the rules
# and the policy they load; tests/test_write_latency.py holds the two equal.
ROLES = ("officer", "approver", "auditor", "admin")


class _ClickText(str):
    """One of click's messages, given to click at import and translated when click formats it
    (``message % values``), once the language is chosen."""

    def __mod__(self, values: Any) -> str:
        import gettext

        return gettext.dgettext("click", str(self)) % values


VERSION = "%(prog)s, version %(version)s"  # click's own wording, in its catalogue


def _fail(message: str, code: int) -> None:
    # one line, whatever the user typed: control characters (CR, LF, NUL...) are shown escaped
    message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    click.echo(f"grant-ledger: {message}", err=True)
    sys.exit(code)


def _terminated_as_interrupted(process: bool) -> None:
    """SIGTERM (a service manager, ``timeout``, a closed session) ends the command as Ctrl-C does:
    its clean-up runs (a half-made audit bundle is removed) and it says what it did, where the
    process had died leaving a hidden partial bundle each time."""
    import signal
    import threading

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if process and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupted)


def _done(process: bool) -> None:
    """The command has ended (done, or interrupted and about to say so): a Ctrl-C from here on is
    not taken, where it killed the process after its answer, exit status 130 ("interrupted,
    nothing written") after "recorded". ``process``: the program's own run (not a test's runner
    in its process, whose Ctrl-C is its own)."""
    import signal
    import threading

    if process and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return text[0] if text else type(error).__name__


_DISK_FAILING = (errno.ENOSPC, errno.EIO, errno.EDQUOT)


def _file_message(error: OSError) -> str:
    """A file or folder the command could not make, read or write (a path given that cannot be
    one, a full disk): the path and the system's reason, not "database error"."""
    from commands.i18n import _

    reason = error.strerror or str(error) or type(error).__name__
    if error.filename is None:
        return _("a file could not be read or written: {reason}").format(reason=reason)
    return _("cannot use {path}: {reason}").format(path=error.filename, reason=reason)


def _storage_message(error: BaseException) -> str:
    from commands.i18n import _

    first = _first_line(error)
    if "readonly" in first or "read-only" in first:
        return _("the database cannot be written (read-only file or role): {error}").format(error=first)
    # PostgreSQL's lock_timeout (a LOCK TABLE, a row, the rebuild lock), whatever language it speaks
    timed_out = getattr(getattr(error, "orig", None), "sqlstate", None) == "55P03"
    if "locked" in first or timed_out or "lock timeout" in first:
        return _("the database is locked by another writer; try again: {error}").format(error=first)
    if "disk" in first and ("full" in first or "I/O" in first):
        return _("the disk is full or failing; nothing was written: {error}").format(error=first)
    if "append-only" in first:
        return _("the database refused the change: {error}").format(error=first)
    return _("database error: {error}").format(error=first)


def _check_actor(actor: str) -> None:
    from commands.i18n import _
    from ledger.text import CONTROL, control_named

    hidden = CONTROL.search(actor)
    if hidden:
        msg = _("must be 1 to 128 characters without control characters: it holds {character}").format(
            character=control_named(hidden.group())
        )
        raise click.BadParameter(msg, param_hint="--actor")
    if not actor or len(actor) > 128:
        msg = _("must be 1 to 128 characters without control characters")
        raise click.BadParameter(msg, param_hint="--actor")


class LedgerGroup(click.Group):
    """A click group that turns every failure into one line and its documented exit code."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from commands.i18n import HelpContext, _, choose, early_lang

        choose(early_lang(sys.argv[1:] if args is None else list(args)))
        self.context_class = HelpContext  # its help put in the language chosen when shown
        _terminated_as_interrupted(args is None)
        try:
            result = super().main(
                args, prog_name or "grant-ledger", complete_var, standalone_mode=False, **extra
            )
            _done(args is None)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt) as e:
            if isinstance(e, KeyboardInterrupt) or isinstance(e.__cause__, KeyboardInterrupt):
                # Ctrl-C, which click turns into Abort where it sees it
                _done(args is None)
                if getattr(getattr(self, "_settings", None), "committed", False):
                    # after the commit (the reports' catch-up, the answer): "nothing was written"
                    # would send an officer to record the act a second time
                    _fail(
                        _(
                            "interrupted after the write was recorded: it is stored, and the reports "
                            "catch up at the next command"
                        ),
                        130,
                    )
                _fail(_("interrupted; nothing was written by the unfinished command"), 130)
            _fail(_("standard input ended before the command had what it asked for; nothing was written"), 2)
        except click.exceptions.NoArgsIsHelpError as e:
            # a group typed without a subcommand is a question, not a mistake: its help, exit 0
            click.echo(e.ctx.get_help() if e.ctx is not None else e.format_message())
            sys.exit(0)
        except click.UsageError as e:
            if e.ctx is not None and " " in e.ctx.command_path:
                see = _("{message} (see `grant-ledger {command} --help`)")
                _fail(see.format(message=e.format_message(), command=e.ctx.command_path.split(" ", 1)[-1]), 2)
            _fail(e.format_message(), 2)
        except click.ClickException as e:
            _fail(e.format_message(), e.exit_code)
        except LedgerError as e:
            _fail(e.message, e.exit_code)
        except BrokenPipeError:
            sys.exit(0)
        except Exception as e:
            from audit.verifier.errors import AuditError  # here, not at start-up: the error path only

            if isinstance(e, AuditError):
                _fail(e.message, e.exit_code)
            if type(e).__module__ != "sqlalchemy.exc" and isinstance(e, OSError):
                _fail(_file_message(e), 5 if e.errno in _DISK_FAILING else 2)
            if is_storage_error(e):
                if unreachable_database(e):
                    _fail(_("cannot connect to the database: {error}").format(error=_first_line(e)), 4)
                _fail(_storage_message(e), StorageError.exit_code)
            _fail(_("internal error ({kind}): {error}").format(kind=type(e).__name__, error=e), 1)
        finally:
            ctx_settings = getattr(self, "_settings", None)
            if ctx_settings is not None:
                ctx_settings.close()
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=LedgerGroup, context_settings=CONTEXT)
@click.option(
    "--db",
    envvar="GRANT_LEDGER_DB",
    metavar="PATH|URL",
    help="SQLite file or postgresql+psycopg:// URL [env GRANT_LEDGER_DB; default: "
    "~/.local/share/grant-ledger/ledger.db]",
)
@click.option(
    "--key",
    envvar="GRANT_LEDGER_KEY",
    metavar="FILE",
    help="your private key: every record is signed by it, and the people registry says who you "
    "are and what your role lets you record [env GRANT_LEDGER_KEY; passphrase: "
    "GRANT_LEDGER_KEY_PASSPHRASE or a prompt]",
)
@click.option(
    "--actor",
    envvar="GRANT_LEDGER_ACTOR",
    help="checked, not believed: refused unless the key is this person's [env GRANT_LEDGER_ACTOR]",
)
@click.option(
    "--role",
    envvar="GRANT_LEDGER_ROLE",
    type=Named("role", ROLES),
    help="checked, not believed: refused unless the key's person holds this role; officers record "
    "money, approvers approve, evaluate and order, auditors only read, admins manage people "
    "[env GRANT_LEDGER_ROLE]",
)
@click.option(
    "--lang",
    envvar="GRANT_LEDGER_LANG",
    default="zh",
    show_default=True,
    type=click.Choice(["zh", "en"]),
    help="language of messages, help and report labels [env GRANT_LEDGER_LANG]",
)
@click.version_option(package_name="grant-ledger", prog_name="grant-ledger", message=_ClickText(VERSION))
@click.pass_context
def cli(
    ctx: click.Context, db: str | None, key: str | None, actor: str | None, role: str | None, lang: str
) -> None:
    """grant-ledger: 高技能人才培训基地补助资金台账 — an event-sourced ledger of the subsidies
    Chongqing pays to skills-training bases.

    \b
    Examples:
      grant-ledger demo                       # a realistic scenario on a fresh file
      grant-ledger --db books.db init
      grant-ledger spend G-YZ-2024-01 --amount 3.5万 --category equipment \\
          --source subsidy --voucher 记-0042 --date 2024-05-10
      grant-ledger balance --format json

    \b
    Settings: flags win over GRANT_LEDGER_* variables, which win over the settings file
    (~/.config/grant-ledger/config.toml, or GRANT_LEDGER_CONFIG) with db, key, lang, role,
    actor, org (编制单位 on workbooks; or GRANT_LEDGER_ORG); `grant-ledger info` shows each in
    effect and where it came from.
    Shell completion: eval "$(_GRANT_LEDGER_COMPLETE=bash_source grant-ledger)"
    """
    from commands.config import resolve
    from commands.i18n import _, choose

    values, sources = resolve(ctx, {"db": db, "key": key, "lang": lang, "role": role, "actor": actor})
    db, key, role, actor = values["db"], values["key"], values["role"], values["actor"]
    lang = values["lang"] or "zh"
    actor = actor.strip() if actor is not None else None
    if actor is not None:
        _check_actor(actor)
    busy = os.environ.get("GRANT_LEDGER_BUSY_TIMEOUT", "").strip()
    if busy and not (busy.isascii() and busy.isdigit() and int(busy) <= MAX_BUSY_TIMEOUT_MS):
        raise click.BadParameter(
            _("{value!r} is not a number of milliseconds from 0 to {most}").format(
                value=busy, most=MAX_BUSY_TIMEOUT_MS
            ),
            param_hint="GRANT_LEDGER_BUSY_TIMEOUT",
        )
    choose(lang)
    settings = Settings(db=db, actor=actor, role=role, lang=lang, key=key, org=values["org"], sources=sources)
    ctx.obj = settings
    cli._settings = settings  # type: ignore[attr-defined]


# Each top-level command and the modules that build it. A module is imported only when its
# command runs, so `balance` never pays for eventsourcing or pydantic.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "init": ("setup",),
    "info": ("setup",),
    "policy": ("policy",),
    "unit": ("unit",),
    "grant": ("grant", "grant_period", "grant_pending"),
    "output": ("lifecycle",),
    "evaluate": ("lifecycle",),
    "rectify": ("lifecycle",),
    "dossier": ("lifecycle",),
    "recover": ("lifecycle",),
    "dispose": ("lifecycle",),
    "disburse": ("money",),
    "match": ("money",),
    "spend": ("money",),
    "reverse": ("money",),
    "balance": ("balance",),
    "report": ("report", "findings"),
    "history": ("report",),
    "find": ("find",),
    "projections": ("report", "follow"),
    "import": ("importer",),
    "export": ("export",),
    "keys": ("keys",),
    "people": ("people",),
    "body": ("bodies",),
    "migrate": ("people",),
    "audit": ("audit",),
    "demo": ("demo",),
    "serve": ("serve",),
}


def _lazy_list_commands(ctx: click.Context) -> list[str]:
    return list(COMMAND_MODULES)


_REGISTERED: set[str] = set()


def _lazy_get_command(ctx: click.Context, name: str) -> click.Command | None:
    # by module, not by command: `projections` loads `report` but not `findings`, which a later
    # `report findings` in the same process still needs
    for module in COMMAND_MODULES.get(name, ()):
        if module not in _REGISTERED:
            importlib.import_module(f"commands.{module}").register(cli)
            _REGISTERED.add(module)
    command = cli.commands.get(name)
    if command is not None:
        from commands.i18n import HelpContext, walk

        for each in walk(command):
            each.context_class = HelpContext  # its help put in the language chosen when shown
    return command


cli.list_commands = _lazy_list_commands  # type: ignore[method-assign]
cli.get_command = _lazy_get_command  # type: ignore[method-assign,assignment]


def main() -> None:
    """The console script: one command, one process."""
    from commands.context import starting_up

    # the ledger uses no pydantic plugin: pydantic then skips looking through every installed
    # package's entry points for one when it builds the first action's validator
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    starting_up()
    cli.main()
