"""The registry of recommending and approving bodies (推荐单位、审批部门), an aggregate of its own.

A recommendation names a body by its code, so the quota of 002 五(一) counts bodies, not spellings
(``渝中区人社局`` and ``渝中区人力社保局`` are one body only if they are one code); an approval names
the bodies that approve it, and each programme's required bodies (003 第七条, 000 第十一条, 002 六)
are judged on what the registry says each body is: its kind and its duty.

An administrator registers bodies (``body add``): the registry decides who may recommend, and so how
many recommendations a round holds; the approvers who recommend and approve are the ones it
constrains, so they do not write it (as they do not register people).
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from eventsourcing.domain import Aggregate

from ledger.district import district_name
from ledger.errors import ConflictError, NotFoundError
from ledger.i18n import T_, Text

BODIES_ID = uuid5(NAMESPACE_URL, "https://grant-ledger/bodies")

# kind -> what it is in the documents
BODY_KINDS = {
    "district_bureau": "区县人力社保、财政部门 (a district's bureau)",
    "sector_authority": "市级行业主管部门 (a municipal sector authority)",
    "municipal_bureau": "市人力社保局、市财政局 (a municipal bureau)",
}
# duty -> what a body of that duty does
DUTIES = {"hr": "人力社保", "finance": "财政", "sector": "行业主管"}
# who may recommend (002 五(一): 区县人力社保部门或市级行业主管部门; 000 第十六条 alike)
RECOMMENDERS = frozenset({"district_bureau:hr", "sector_authority:sector"})


class Body(dict[str, str]):
    """code, name, kind, duty, and a district bureau's district (its 行政区划代码, or "" where it
    was registered without one) (a dict: snapshots and JSON keep it as it is)."""

    @property
    def role(self) -> str:
        return f"{self['kind']}:{self['duty']}"

    @property
    def district(self) -> str:
        return self.get("district") or ""

    def describe(self) -> str:
        return f"{self['code']} {self['name']} ({self['kind']}, {self['duty']})"


class Bodies(Aggregate):
    TOPIC = "grant-ledger:Bodies"

    class Event(Aggregate.Event):
        TOPIC = "grant-ledger:Bodies.Event"
        actor: str
        role: str
        occurred_on: date

    class Opened(Event, Aggregate.Created):
        TOPIC = "grant-ledger:Bodies.Opened"

    class Added(Event):
        TOPIC = "grant-ledger:Bodies.Added"
        code: str
        name: str
        kind: str
        duty: str
        district: str | None = None  # a district bureau's; bodies registered before have none

        def apply(self, bodies: Bodies) -> None:
            bodies.known[self.code] = {
                "code": self.code,
                "name": self.name,
                "kind": self.kind,
                "duty": self.duty,
                "district": self.district or "",
                "on": self.occurred_on.isoformat(),
            }

    def __init__(self) -> None:
        self.known: dict[str, dict[str, str]] = {}

    @classmethod
    def open(cls, *, on: date, actor: str, role: str) -> Bodies:
        return cls._create(cls.Opened, id=BODIES_ID, actor=actor, role=role, occurred_on=on)

    def body(self, code: str) -> Body | None:
        found = self.known.get(code)
        return None if found is None else Body(found)

    def add(
        self,
        *,
        code: str,
        name: str,
        kind: str,
        duty: str,
        on: date,
        actor: str,
        role: str,
        district: str | None = None,
    ) -> bool:
        known = self.known.get(code)
        if known is not None:
            was = known.get("district") or None
            if (known["name"], known["kind"], known["duty"]) != (name, kind, duty) or was not in (
                district,
                None,
            ):
                msg = T_(
                    "body {code} is already registered as {name} ({kind}, {duty}{value}); a body's code "
                    "is registered once",
                    code=code,
                    name=known["name"],
                    kind=known["kind"],
                    duty=known["duty"],
                    value=", " + district_name(was) if was else "",
                )
                raise ConflictError(msg)
            if was == district:
                return False
            # else registered before bodies had districts: its district is given now, once
        else:
            twin = [c for c in self.known if _folded(c) == _folded(code)]
            if twin:
                msg = T_(
                    "body {code} is registered already as {value} (the same code in another case or "
                    "width); a body's code is registered once",
                    code=code,
                    value=twin[0],
                )
                raise ConflictError(msg)
            same = [b["code"] for b in self.known.values() if _folded(b["name"]) == _folded(name)]
            if same:
                msg = T_(
                    "a body named {name} is already registered, as {value}; one body has one code",
                    name=name,
                    value=same[0],
                )
                raise ConflictError(msg)
        self.trigger_event(
            self.Added,
            code=code,
            name=name,
            kind=kind,
            duty=duty,
            district=district,
            actor=actor,
            role=role,
            occurred_on=on,
        )
        return True


def _folded(text: str) -> str:
    """A code or name as a reader sees it: full-width forms as ASCII (NFKC), any case, no spaces;
    ``RS-YZ``/``ＲＳ-ＹＺ``/``rs-yz`` and ``（一）``/``(一)`` are one body, never two quotas."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def registered(books: Any, code: str, what: Text | str) -> Body:
    """The registered body ``code`` (NotFoundError, exit 4, naming ``what`` needed it)."""
    bodies = books.find_bodies()
    found = None if bodies is None else bodies.body(code)
    if found is None:
        msg = T_(
            "{what} names body {code!r}, which is not registered; an administrator registers it with "
            "`grant-ledger body add {code} --name … --kind …`",
            what=what,
            code=code,
        )
        raise NotFoundError(msg)
    return found
