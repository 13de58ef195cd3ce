"""What every command shares: the global options, the open ledger, and one way to fail."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

import click

from commands.i18n import _
from commands.secret import ask_secret
from ledger.location import database_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ledger.action_base import Action
    from ledger.application import GrantLedger, Outcome
    from ledger.seal import Signer

    A = TypeVar("A", bound=Action)


def default_actor() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name in a container
        return "unknown"


class Settings:
    """One command's global options (or one web request's), and the ledger it opened. A plain
    class: a dataclass is made at import, half a millisecond of every command's start."""

    def __init__(
        self,
        db: str | None,
        actor: str | None,  # a claim the key is checked against, not who records
        role: str | None,  # likewise
        lang: str,
        key: str | None = None,
        org: str | None = None,  # 编制单位 printed on report workbooks
        sources: dict[str, str] | None = None,
    ) -> None:
        self.db, self.actor, self.role, self.lang, self.key, self.org = db, actor, role, lang, key, org
        # where each global setting came from: flag, environment, file PATH, default
        self.sources: dict[str, str] = {} if sources is None else sources
        # only ``init`` (and the demo, on its own new file) may create the ledger
        self.creating = False
        self._ledger: GrantLedger | None = None
        self._signer: Signer | None = None
        self.committed = False  # a write of this command is stored: an interrupt says so
        self._engine: Engine | None = None

    def speaking(self, lang: str) -> Settings:
        """These settings, and what they opened, read in ``lang``."""
        from copy import copy

        other = copy(self)
        other.lang = lang
        return other

    @property
    def url(self) -> str:
        return database_url(self.db)

    def signer(self) -> Signer:
        """The signing key of the person recording: --key, else GRANT_LEDGER_KEY (exit 2 if none,
        if others may read the file, or if its passphrase is wrong)."""
        if self._signer is None:
            from pathlib import Path

            from ledger.errors import BadInputError
            from ledger.seal import PASSPHRASE_ENV, key_is_encrypted, load_signer

            if not self.key:
                raise BadInputError(
                    _(
                        "recording needs your private key: give --key FILE or set GRANT_LEDGER_KEY "
                        "(`grant-ledger keys generate` makes one; an administrator registers it)"
                    )
                )
            path = Path(self.key)
            passphrase = None
            if key_is_encrypted(path) and not os.environ.get(PASSPHRASE_ENV):
                passphrase = ask_secret(_("passphrase of {path}").format(path=path), PASSPHRASE_ENV)
            self._signer = load_signer(path, passphrase)
        return self._signer

    def ledger(self) -> GrantLedger:
        """The write side (imports eventsourcing: only commands that write or catch up)."""
        if self._ledger is None:
            from ledger.application import open_ledger

            self._require_ledger()
            work_begins()
            # another database is asked on the store's own connection, not a second one
            self._ledger = open_ledger(self.url, existing=not self.creating)
            self._ledger.after_commit = self._stored
            self._ledger.commit_guard = _interrupts_held
        return self._ledger

    def _stored(self) -> None:
        self.committed = True

    def create(self) -> None:
        """This command makes the ledger (``init``, the demo): a new SQLite file is created
        readable by its owner only."""
        from ledger.database import create_sqlite_file
        from ledger.location import sqlite_file

        self.creating = True
        path = sqlite_file(self.url)
        if path is not None:
            create_sqlite_file(path)

    def engine(self) -> Engine:
        """A plain SQLAlchemy engine for reading projections; NotFoundError (exit 4) naming the
        database when it holds no ledger, unless this command creates one."""
        if self._ledger is not None:
            return self._ledger.engine
        if self._engine is None:
            from ledger.database import make_engine

            self._require_ledger()
            work_begins()
            self._engine = make_engine(self.url)
            if not self.creating and self._engine.dialect.name != "sqlite":
                from ledger.database import require_ledger

                require_ledger(self._engine, self.url)
        return self._engine

    def _require_ledger(self) -> None:
        """NotFoundError unless the SQLite file holds a ledger or this command creates one,
        looked at read-only, creating nothing. Another database is asked on its first connection
        (the read engine's, or the store's before it would create its tables)."""
        if self.creating or not self.url.startswith("sqlite"):
            return
        from ledger.location import missing_sqlite_ledger

        missing = missing_sqlite_ledger(self.url)
        if missing is not None:
            raise missing

    def load_installed_policy(self) -> None:
        """The calendar years and policy versions installed in this ledger (``policy install``)
        join the shipped ones before anything is judged or reported (the write side reads them
        whenever it opens)."""
        if self._ledger is not None:
            return
        from ledger.policy_installed import forget_installed, installed_count

        if installed_count(self.engine()):
            self.ledger()
        else:
            forget_installed()

    def catch_up(self) -> None:
        from commands.registry import all_projections

        catch_up_as_told(self.ledger(), all_projections())

    def ensure_current(self, *, acts: bool = False) -> None:
        """Read-your-writes: bring projections up to the store's head before answering.
        ``acts``: the command reads the acts projection (history, findings). A ledger made before
        records were signed, not yet adopted (``migrate``), cannot build that projection, newer
        than its events, on them: the commands that read only the others still answer."""
        from commands.registry import projection_names
        from ledger.errors import VerificationError
        from projections.names import ACTS
        from projections.status import is_behind

        if not is_behind(self.engine(), projection_names()):
            return
        try:
            self.catch_up()
        except VerificationError:
            if acts or is_behind(self.engine(), tuple(n for n in projection_names() if n != ACTS)):
                raise

    def close(self) -> None:
        """Closes what the command opened and lets go of it: the settings, made before the
        libraries' objects were set aside (``work_begins``), live to the interpreter's end."""
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def starting_up() -> None:
    """A command's process begins without the cyclic garbage collector: loading the libraries
    makes hundreds of thousands of long-lived objects, and collecting among them is wasted work
    (about a fifth of a one-line write's time). ``work_begins`` turns it back on."""
    gc.disable()
    _START_UP.append(True)


def work_begins() -> None:
    """The libraries are loaded (the ledger or the database is about to open, or a command that
    opens neither starts its work): what they made is set aside for good (``gc.freeze``) and the
    collector runs again for everything the command makes from here on. Called before the
    command makes objects of its own: a frozen one would live to the interpreter's end."""
    if _START_UP:
        _START_UP.clear()
        gc.freeze()
        gc.enable()


_START_UP: list[bool] = []


def tell(message: str) -> None:
    """A sentence for the person at the terminal that is not the command's output (stderr)."""
    click.echo(message, err=True)


def catch_up_as_told(app: Any, chosen: Any, **options: Any) -> int:
    """``projections.current.catch_up``, telling the person at the terminal of a read model
    rebuilt because another version of grant-ledger wrote it: a bar while the store is read,
    then one sentence."""
    from projections.current import catch_up

    return catch_up(app, chosen, notice=tell, rebuilding=_rebuilding, **options)


def _rebuilding(names: Any, total: int) -> Any:
    from commands.progress import progress

    label = _("rebuilding {names}, written by another version").format(names=", ".join(names))
    return progress(total, label)


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM held while the database commits and the command notes it: arriving in
    that window, an interrupt had been told as "nothing was written" of an import stored whole
    (a red-team pass: 8 of 10 signals sent during a large import's commit). Delivered after."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def settings() -> Settings:
    obj = click.get_current_context().find_object(Settings)
    assert obj is not None
    return obj


def today() -> date:
    """The default business date of an act: today in Chongqing (or GRANT_LEDGER_TODAY)."""
    from ledger.clock import business_today

    return business_today()


# An action's fields as the command line names them (otherwise --field-name).
OPTIONS = {
    "on": "--date",
    "unit_id": "UNIT_ID",
    "grant_id": "GRANT_ID",
    "base_id": "--base",
    "unit_name": "--name",
    "build_start": "--start",
    "build_end": "--end",
    "bodies": "--body",
    "projects": "--project",
    "requested": "--amount",
    "recommender": "--by",
    "round_": "--round",
    "start": "--from",
    "end": "--to",
    "lines": "--line",
    "sha256": "--file",
    "attachments": "--attachment",
    "person": "NAME",
    "code": "CODE",
    "person_role": "--role",
}


def option(field: str) -> str:
    return OPTIONS.get(field) or "--" + field.replace("_", "-")


def action(kind: type[A], /, **values: Any) -> A:
    """The action the options describe, or one sentence naming the option (exit 2)."""
    from ledger.action_base import build

    return build(kind, option, **values)


def record(done: Action, tail: Callable[[Outcome], str] | None = None) -> Outcome:
    """Handle the action as the signed-in person, keep the projections current, print."""
    s = settings()
    outcome = s.ledger().handle(done, signer=s.signer(), role=s.role, actor=s.actor)
    s.catch_up()
    report(outcome, tail(outcome) if tail is not None else "")
    return outcome


def report(outcome: Outcome, tail: str = "") -> None:
    """Print what a write did; a repeat is a success that wrote nothing."""
    if outcome.recorded:
        click.echo(_("{done}; {more}").format(done=outcome.message, more=tail) if tail else outcome.message)
    else:
        click.echo(_("already recorded: {done}; nothing written").format(done=outcome.message))


def env_default(name: str, fallback: Any) -> Any:
    return os.environ.get(name) or fallback
