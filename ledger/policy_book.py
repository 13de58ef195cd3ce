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
from datetime import date
from typing import Annotated, Any, ClassVar

from eventsourcing.domain import Aggregate
from pydantic import StringConstraints

from ledger.actions import Action, RequiredText
from ledger.calendar import CalendarYear
from ledger.errors import BadInputError, RuleViolationError
from ledger.i18n import N_, _
from ledger.policy import INSTALLED_CALENDAR, Policy, all_policies, groups_fit, load_policies
from ledger.policy_installed import BOOK_ID as BOOK_ID
from ledger.policy_installed import INSTALLED as INSTALLED
from ledger.policy_installed import Contents as Contents
from ledger.policy_installed import InstalledFile as InstalledFile
from ledger.policy_installed import forget_installed as forget_installed
from ledger.policy_installed import installed_count as installed_count
from ledger.policy_installed import installed_files as installed_files
from ledger.policy_installed import read_file as read_file
from ledger.policy_installed import register as register
from ledger.policy_installed import register_installed as register_installed

OPENED = "grant-ledger:PolicyBook.Opened"
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


def _refused(message: str) -> RuleViolationError:
    return RuleViolationError(message, rule=N_("policy install"), clause="the policy data (DESIGN: policy)")


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
        contents = read_file(self.file_name, self.text)
        if contents.policy is not None:
            groups_fit(contents.policy)
        conflicts(self.file_name, contents, today)

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
