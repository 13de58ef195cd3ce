"""The Unit aggregate (承建单位): the host organisation, and the bases it holds.

It enforces eligibility across bases: one base per unit per programme level, no district base
for a unit holding a municipal-or-higher base (003 第八条), one institute per unit (000 第十二条).
"""

from __future__ import annotations

from datetime import date
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.policy import Policy, Programme
from ledger.rules import raise_first, unit_may_hold

UNIT_NAMESPACE = uuid5(NAMESPACE_URL, "https://grant-ledger/unit")
UNIT_KINDS = ("technical_school", "enterprise", "training_institution", "public_base", "other")


def unit_uuid(unit_id: str) -> UUID:
    return uuid5(UNIT_NAMESPACE, unit_id)


class Unit(Aggregate):
    TOPIC = "grant-ledger:Unit"

    class Event(Aggregate.Event):
        TOPIC = "grant-ledger:Unit.Event"
        actor: str
        role: str
        occurred_on: date

    class Registered(Event, Aggregate.Created):
        TOPIC = "grant-ledger:Unit.Registered"
        unit_id: str
        name: str
        kind: str

        def apply(self, unit: Unit) -> None:
            unit.unit_id = self.unit_id
            unit.name = self.name
            unit.kind = self.kind

    class BaseTaken(Event):
        TOPIC = "grant-ledger:Unit.BaseTaken"
        base_id: str
        grant_id: str
        programme: str
        level: str

        def apply(self, unit: Unit) -> None:
            unit.bases[self.base_id] = {
                "grant_id": self.grant_id,
                "programme": self.programme,
                "level": self.level,
            }

    class BaseReleased(Event):
        TOPIC = "grant-ledger:Unit.BaseReleased"
        base_id: str
        reason: str

        def apply(self, unit: Unit) -> None:
            unit.bases.pop(self.base_id, None)

    unit_id: str
    name: str
    kind: str

    def __init__(self) -> None:
        self.bases: dict[str, dict[str, str]] = {}

    @classmethod
    def register(cls, *, unit_id: str, name: str, kind: str, on: date, actor: str, role: str) -> Unit:
        return cls._create(
            cls.Registered,
            id=unit_uuid(unit_id),
            unit_id=unit_id,
            name=name,
            kind=kind,
            actor=actor,
            role=role,
            occurred_on=on,
        )

    def take_base(
        self,
        *,
        base_id: str,
        grant_id: str,
        programme: Programme,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
    ) -> None:
        held = [(b, v["level"]) for b, v in self.bases.items()]
        raise_first([unit_may_hold(self.unit_id, held, programme, policy)])
        self.trigger_event(
            self.BaseTaken,
            base_id=base_id,
            grant_id=grant_id,
            programme=programme.code,
            level=programme.level,
            actor=actor,
            role=role,
            occurred_on=on,
        )
