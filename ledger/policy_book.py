"""Policy data an administrator installs in a running ledger (``grant-ledger policy install FILE``):
a new year of the statutory calendar, or a new policy version.

Each file is one event (``PolicyBook.Installed``, sealed like every other write) holding the
file's text and its sha256, in the log the auditor verifies: so the bundle can ship an installed
version and the verifier trusts it by the logged event (audit.verifier.policy). Whenever the
ledger is opened, the installed files are read from the log (sealed events only) and join the
shipped ones (``ledger.policy.INSTALLED_CALENDAR``, ``INSTALLED_VERSIONS``).
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, ClassVar

from eventsourcing.domain import Aggregate
from pydantic import StringConstraints
from sqlalchemy import Table, select
from sqlalchemy.engine import Engine

from ledger.actions import Action, RequiredText
from ledger.calendar import CalendarYear, parse_year
from ledger.errors import BadInputError, RuleViolationError
from ledger.i18n import N_, _
from ledger.policy import (
    INSTALLED_CALENDAR,
    INSTALLED_VERSIONS,
    Policy,
    all_policies,
    load_policies,
    parse_policy,
)
from ledger.policy_installed import BOOK_ID as BOOK_ID
from ledger.policy_installed import forget_installed as forget_installed
from ledger.policy_installed import installed_count as installed_count

OPENED = "grant-ledger:PolicyBook.Opened"
INSTALLED = "grant-ledger:PolicyBook.Installed"
MAX_TEXT = 1_000_000  # a policy version is some 20 KB; a calendar year 1 KB


class PolicyBook(Aggregate):
    """The files installed in this ledger, in order (their sha256)."""

    TOPIC = "grant-ledger:PolicyBook"

    class Event(Aggregate.Event):
        TOPIC = "grant-ledger:PolicyBook.Event"
        actor: str
        role: str
        occurred_on: date | None

    class Opened(Event, Aggregate.Created):
        TOPIC = OPENED

    class Installed(Event):
        TOPIC = INSTALLED
        name: str
        kind: str  # "calendar" or "version"
        sha256: str
        text: str

        def apply(self, book: PolicyBook) -> None:
            book.files.append(self.sha256)

    def __init__(self) -> None:
        self.files: list[str] = []


@dataclass(frozen=True)
class Contents:
    """What a file installs: calendar years, or a policy version (with its own calendar years)."""

    kind: str
    calendar: dict[int, CalendarYear]
    policy: Policy | None


def _refused(message: str) -> RuleViolationError:
    return RuleViolationError(message, rule=N_("policy install"), clause="the policy data (DESIGN: policy)")


def read_file(name: str, text: str) -> Contents:
    """The file's contents, or BadInputError (exit 2) saying why it is not policy data."""
    try:
        data = tomllib.loads(text)
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


def known_calendar() -> dict[int, CalendarYear]:
    years: dict[int, CalendarYear] = {}
    for policy in all_policies():
        years.update(policy.calendar)
    years.update(INSTALLED_CALENDAR)
    return years


def conflicts(name: str, contents: Contents, today: date) -> None:
    """RuleViolationError (exit 3) when the file would change what the ledger already judges by:
    a calendar year it holds otherwise, a version it has, or a version that takes effect no later
    than the latest one or before the day it is installed (a verdict already given would change)."""
    known = known_calendar()
    for year, days in sorted(contents.calendar.items()):
        held = known.get(year)
        if held is not None and (held.days_off, held.workdays) != (days.days_off, days.workdays):
            raise _refused(
                f"{name} lists the statutory calendar of {year} otherwise than the ledger holds it "
                f"({held.source or 'policy data'}); a year once in the ledger is never changed"
            )
    policy = contents.policy
    if policy is None:
        return
    versions = all_policies()
    same = [p for p in versions if p.version == policy.version or p.source == policy.source]
    if same:
        raise _refused(
            f"{name}: the ledger holds policy version {same[0].version} ({same[0].source}) already; "
            "a new version has a new version number and file name"
        )
    if policy.effective_from < today:
        raise _refused(
            f"{name} takes effect on {policy.effective_from.isoformat()}, before today "
            f"({today.isoformat()}): a version installed now takes effect today or later, so that "
            "no act already recorded is judged anew"
        )
    latest = versions[-1]
    if policy.effective_from <= latest.effective_from:
        raise _refused(
            f"{name} takes effect on {policy.effective_from.isoformat()}, not after the version in "
            f"force from {latest.effective_from.isoformat()} ({latest.version}): a new version "
            "never changes the rules of dates already judged"
        )


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


class InstallPolicy(Action):
    """An administrator's act: a new calendar year or policy version, from a file's text."""

    name: ClassVar[str] = "policy install"
    file_name: RequiredText
    text: Annotated[str, StringConstraints(strip_whitespace=False)]  # the file's text exactly
    on: date | None = None  # type: ignore[assignment]

    def judge(self, policy: Policy, today: date) -> None:
        if len(self.text) > MAX_TEXT:
            raise BadInputError(
                _("{file_name} is larger than {MAX_TEXT:,} characters; policy data is not").format(
                    file_name=self.file_name, MAX_TEXT=MAX_TEXT
                )
            )
        conflicts(self.file_name, read_file(self.file_name, self.text), today)

    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def decide(self, books: Any) -> bool:
        book = books._get(BOOK_ID)
        if book is not None and self.sha256() in book.files:
            return False
        who = {"actor": books.actor, "role": books.role, "occurred_on": self.on}
        if book is None:
            book = PolicyBook._create(PolicyBook.Opened, id=BOOK_ID, **who)
            books.aggregates[BOOK_ID] = book
        contents = read_file(self.file_name, self.text)
        book.trigger_event(
            PolicyBook.Installed,
            name=self.file_name,
            kind=contents.kind,
            sha256=self.sha256(),
            text=self.text,
            **who,
        )
        return True

    def done(self, books: Any) -> str:
        contents = read_file(self.file_name, self.text)
        if contents.policy is not None:
            what = f"policy version {contents.policy.version}, in force from {contents.policy.effective_from}"
        else:
            what = "the statutory calendar of " + ", ".join(str(y) for y in sorted(contents.calendar))
        return f"installed {what} ({self.file_name}, sha256 {self.sha256()[:16]}…)"

    def repeat(self) -> str:
        return f"{self.file_name} is installed already"


__all__ = [
    "INSTALLED",
    "OPENED",
    "InstallPolicy",
    "InstalledFile",
    "PolicyBook",
    "installed_files",
    "load_policies",
    "register_installed",
]
