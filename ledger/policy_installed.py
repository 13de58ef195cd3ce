"""Whether a ledger holds installed policy files, asked without loading the policy book (its
aggregate, its action and the libraries they need: about a tenth of a second): every report
asks before it reads (``commands.context.Settings.load_installed_policy``), and most ledgers
hold none. And the files installed, read from the log whenever the ledger is opened
(``register_installed``): a write reads them without building the book's aggregate or action
(``ledger.policy_book``), which only ``policy install`` needs."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, uuid5

from ledger.calendar import CalendarYear, parse_year
from ledger.errors import BadInputError
from ledger.i18n import _
from ledger.policy import INSTALLED_CALENDAR, INSTALLED_VERSIONS, Policy, parse_policy
from ledger.toml_text import parsed

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Engine

INSTALLED = "grant-ledger:PolicyBook.Installed"  # the topic of ledger.policy_book.PolicyBook.Installed

# one aggregate holds every installed file: read by its id (the store's index), never by a scan
BOOK_ID = uuid5(NAMESPACE_URL, "https://grant-ledger/policy-book")


def installed_count(engine: Any) -> int:
    """How many files were installed in the ledger (0 also when it has no events table yet)."""
    from sqlalchemy import inspect

    if not inspect(engine).has_table("ledger_events"):
        return 0
    return book_events(engine)


def book_events(engine: Any) -> int:
    """How many events the policy book holds (one indexed count; the events table exists)."""
    from sqlalchemy import text

    # the store keeps an originator id as 16 bytes on SQLite and as a uuid on PostgreSQL
    key: Any = BOOK_ID.bytes if engine.dialect.name == "sqlite" else str(BOOK_ID)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT COUNT(*) FROM ledger_events WHERE originator_id = :k"), {"k": key})
        return int(found.scalar() or 0)


def forget_installed() -> None:
    """The installed calendar years and policy versions this process read, forgotten: the
    shipped ones alone are in force."""
    INSTALLED_CALENDAR.clear()
    INSTALLED_VERSIONS.clear()


@dataclass(frozen=True)
class Contents:
    """What a file installs: calendar years, or a policy version (with its own calendar years)."""

    kind: str
    calendar: dict[int, CalendarYear]
    policy: Policy | None


def read_file(name: str, text: str) -> Contents:
    """The file's contents, or BadInputError (exit 2) saying why it is not policy data."""
    try:
        data = parsed(text)
    except tomllib.TOMLDecodeError as e:
        raise BadInputError(_("{name} is not TOML: {e}").format(name=name, e=e)) from None
    except RecursionError:  # tomllib recurses once per level of nesting
        msg = _("{name} is not TOML a reader can read: nested too deep").format(name=name)
        raise BadInputError(msg) from None
    if "version" in data:
        policy = parse_policy(text, name)
        return Contents("version", dict(policy.calendar), policy)
    if set(data) != {"calendar"} or not isinstance(data["calendar"], dict) or not data["calendar"]:
        raise BadInputError(
            _(
                "{name} holds neither a policy version (version, effective_from, …) nor only "
                '[calendar."YEAR"] tables (grant-ledger policy calendar YEAR prints one)'
            ).format(name=name)
        )
    years = [parse_year(key, table, name) for key, table in data["calendar"].items()]
    return Contents("calendar", {y.year: y for y in years}, None)


def register(name: str, kind: str, text: str) -> None:
    """Make an installed file's contents the ledger's, in this process."""
    contents = read_file(name, text)
    INSTALLED_CALENDAR.update(contents.calendar)
    if contents.policy is not None:
        INSTALLED_VERSIONS[contents.policy.source] = (contents.policy, text)


@dataclass(frozen=True)
class InstalledFile:
    """A file installed in the ledger, as its sealed event holds it (``event``: the event's
    notification id)."""

    event: int
    name: str
    kind: str
    text: str


def installed_files(engine: Engine, table: Table, check: Any) -> list[InstalledFile]:
    """The installed files, read from the log (``check``: the ledger's seal check of stored rows,
    so nothing unsealed is believed) in the order they were installed."""
    from sqlalchemy import select

    c = table.c
    query = select(c.id, c.originator_id, c.originator_version, c.topic, c.state)
    with engine.connect() as conn:
        found = conn.execute(query.where(c.originator_id == BOOK_ID).order_by(c.id)).all()
    if not found:
        return []
    files = []
    for row in check(found):
        if row.topic != INSTALLED:
            continue
        state = row.state
        text = str(state.get("text", ""))
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != state.get("sha256"):
            continue
        files.append(InstalledFile(int(row.id), str(state.get("name")), str(state.get("kind")), text))
    return files


def register_installed(engine: Engine, table: Table, check: Any) -> None:
    """The installed files (``installed_files``) registered, in the order they were installed."""
    files = installed_files(engine, table, check)
    INSTALLED_CALENDAR.clear()
    INSTALLED_VERSIONS.clear()
    for file in files:
        register(file.name, file.kind, file.text)
