"""The Unit aggregate (承建单位): the host organisation, and the bases it holds; the Base aggregate:
a base id and the one unit that holds it.

A unit enforces eligibility across bases: one base per unit per programme level, no district base
for a unit holding a municipal-or-higher base (003 第八条), one institute per unit (000 第十二条).
It keeps a slot per grant (``Unit.slots``): two grants of the unit on one base id at two levels (a
district base applying to become a municipal one) each hold their own level, and a rejection
releases its own grant's slot. A base is one unit's (``ledger.rules.base_of_one_unit``): balances
and reports are kept per base.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.errors import VerificationError
from ledger.i18n import T_
from ledger.policy import Policy, Programme
from ledger.rules import raise_first, recommendation_quota, recommendation_rank, unit_may_hold
from ledger.snapshot_points import snapshot_every

UNIT_NAMESPACE = uuid5(NAMESPACE_URL, "https://grant-ledger/unit")
BASE_NAMESPACE = uuid5(NAMESPACE_URL, "https://grant-ledger/base")
ROUND_NAMESPACE = uuid5(NAMESPACE_URL, "https://grant-ledger/recommendation-round")
# 000 第三条: institutes rest mainly on 高级技工学校 and 技师学院 (含筹设: one being set up counts)
INSTITUTE_HOSTS = ("senior_technical_school", "technician_college")


def unit_uuid(unit_id: str) -> UUID:
    return uuid5(UNIT_NAMESPACE, unit_id)


def _rejected_grant(reason: str) -> str:
    """The grant a release's reason names (``Reject``: "grant G1 rejected"), or ""."""
    if reason.startswith("grant ") and reason.endswith(" rejected"):
        return reason[len("grant ") : -len(" rejected")]
    return ""


@snapshot_every(50)
class Unit(Aggregate):
    TOPIC = "grant-ledger:Unit"
    # 2: slots kept per grant (``slots``). A snapshot of form 1 kept ``bases`` by base id (each
    # base's latest grant, let go of by a rejection of any grant on it): it is checked against
    # the events (``agrees_with_form_1``) and never restored as it stands (``upcast_v1_v2``)
    class_version = 2

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
        # it has a national institute (国家级技工院校职业训练院): 000 第十二条 (absent before)
        national_institute: bool = False
        # its district's 行政区划代码 (ledger.district); absent before, and when not given
        district: str | None = None

        def apply(self, unit: Unit) -> None:
            unit.unit_id = self.unit_id
            unit.name = self.name
            unit.kind = self.kind
            unit.national_institute = self.national_institute
            unit.district = self.district

    class DistrictSet(Event):
        """The district of a unit registered without one (or with a wrong one): an amendment of
        its own; the registration stays as it was recorded."""

        TOPIC = "grant-ledger:Unit.DistrictSet"
        unit_id: str
        district: str
        previous: str | None

        def apply(self, unit: Unit) -> None:
            unit.district = self.district

    class BaseTaken(Event):
        TOPIC = "grant-ledger:Unit.BaseTaken"
        base_id: str
        grant_id: str
        programme: str
        level: str

        def apply(self, unit: Unit) -> None:
            unit.slots[self.grant_id] = {
                "base_id": self.base_id,
                "programme": self.programme,
                "level": self.level,
            }

    class BaseReleased(Event):
        """A grant's slot released (``grant reject``)."""

        TOPIC = "grant-ledger:Unit.BaseReleased"
        base_id: str
        reason: str
        # the grant whose slot it releases; None in one recorded before slots were kept per grant
        grant_id: str | None = None

        def apply(self, unit: Unit) -> None:
            for grant_id in unit.releasing(self.base_id, self.grant_id, self.reason):
                slot = unit.slots.pop(grant_id)
                # a new dict, as below: the date it was let go of (``held_on``)
                unit.let_go = {**unit.slots_let_go(), grant_id: {**slot, "on": self.occurred_on.isoformat()}}
                # a new dict: a unit read from an older snapshot has none
                unit.released = {**unit.released_bases(), self.base_id: grant_id}

    unit_id: str
    name: str
    kind: str
    national_institute: bool = False
    district: str | None = None

    def __init__(self) -> None:
        # grant -> the base it holds for the unit, with its programme and level (applied for or
        # approved, not rejected)
        self.slots: dict[str, dict[str, str]] = {}
        self.released: dict[str, str] = {}  # base -> the grant that held it, rejected here
        # grant -> the slot it held, released, with the date of its release ("on", ISO): an
        # application dated before that date meets it still held (``held_on``)
        self.let_go: dict[str, dict[str, str]] = {}

    def releasing(self, base_id: str, grant_id: str | None, reason: str) -> list[str]:
        """The grants whose slots a release of ``base_id`` lets go of: ``grant_id``'s. A release
        recorded before slots were kept per grant names none: the grant its reason names, if it
        holds a slot on the base, else every grant holding one there (as the base was let go
        of then, when the unit kept one grant a base)."""
        named = grant_id if grant_id is not None else _rejected_grant(reason)
        held = self.slots.get(named)
        if held is not None and held["base_id"] == base_id:
            return [named]
        if grant_id is not None:
            return []
        return [g for g, slot in self.slots.items() if slot["base_id"] == base_id]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Never: a snapshot of form 1 kept one grant a base, and could have lost a grant's slot
        (``ledger.application.GrantLedger.load`` replays the unit from its events instead)."""
        msg = T_(
            "the stored snapshot of unit {unit_id} is of an earlier form (its bases kept by base id) and "
            "is not read as it stands; nothing was written",
            unit_id=state.get("unit_id"),
        )
        raise VerificationError(msg)

    @staticmethod
    def agrees_with_form_1(kept: dict[str, Any], now: dict[str, Any]) -> bool:
        """Whether ``kept``, a snapshot's state of form 1, is of the unit replayed from its events
        as ``now`` (this form's state): every other field equal, each base it holds held by its
        grant's own slot now, the same bases released (by the grant named, where the form kept
        another of the base's grants). Checked only: the replayed unit is used."""
        slots, released = now.get("slots", {}), now.get("released", {})
        for name, value in kept.items():
            if name == "bases":
                if not isinstance(value, dict) or not all(
                    isinstance(held, dict)
                    and slots.get(held.get("grant_id"))
                    == {"base_id": base_id, "programme": held.get("programme"), "level": held.get("level")}
                    for base_id, held in value.items()
                ):
                    return False
            elif name == "released":
                if not isinstance(value, dict) or value.keys() != released.keys():
                    return False
            elif name in ("slots", "class_version") or name not in now or now[name] != value:
                return False
        return True

    def slots_let_go(self) -> dict[str, dict[str, str]]:
        """Each slot released, by grant, with its date (none known of a unit read from a snapshot
        taken before units kept them)."""
        return getattr(self, "let_go", {})

    def held_on(self, on: date) -> dict[str, dict[str, str]]:
        """The slots of grants released after ``on``: on ``on`` they still stood (an application
        dated before a rejection recorded earlier meets the rejected grant's level as it stood)."""
        day = on.isoformat()
        return {g: slot for g, slot in self.slots_let_go().items() if slot["on"] > day}

    def released_bases(self) -> dict[str, str]:
        """Each base this unit's grants held and were rejected from, with the grant (none known of
        a unit read from a snapshot taken before units kept them)."""
        return getattr(self, "released", {})

    @classmethod
    def register(
        cls,
        *,
        unit_id: str,
        name: str,
        kind: str,
        on: date,
        actor: str,
        role: str,
        national_institute: bool = False,
        district: str | None = None,
    ) -> Unit:
        return cls._create(
            cls.Registered,
            id=unit_uuid(unit_id),
            unit_id=unit_id,
            name=name,
            kind=kind,
            national_institute=national_institute,
            district=district,
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
        approved: Collection[str] | None = None,
        rejected: Collection[str] = (),
    ) -> None:
        """``approved``: the grants of its slots approved by ``on`` (003 第八条 counts only those;
        None: all of them); ``rejected``: those rejected, their slots not released (recorded
        before slots were kept per grant, a second rejection on one base released none). A slot
        released after ``on`` still stood on ``on`` (``held_on``): a grant rejected was never
        approved (``rules.in_selection``)."""
        held = [
            (slot["base_id"], slot["level"], approved is None or grant in approved)
            for grant, slot in self.slots.items()
            if grant not in rejected
        ]
        held += [(slot["base_id"], slot["level"], False) for slot in self.held_on(on).values()]
        raise_first([unit_may_hold(self.unit_id, held, programme, policy, self.national_institute)])
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

    def set_district(self, *, district: str, on: date, actor: str, role: str) -> bool:
        """False when the unit already stands in ``district``."""
        if self.district == district:
            return False
        self.trigger_event(
            self.DistrictSet,
            unit_id=self.unit_id,
            district=district,
            previous=self.district,
            actor=actor,
            role=role,
            occurred_on=on,
        )
        return True

    def release_base(
        self, *, base_id: str, grant_id: str, reason: str, on: date, actor: str, role: str
    ) -> None:
        """Grant ``grant_id``'s slot on ``base_id`` released; the unit's other grants on the base
        keep theirs."""
        if self.releasing(base_id, grant_id, reason):
            self.trigger_event(
                self.BaseReleased,
                base_id=base_id,
                reason=reason,
                grant_id=grant_id,
                actor=actor,
                role=role,
                occurred_on=on,
            )


def base_uuid(base_id: str) -> UUID:
    return uuid5(BASE_NAMESPACE, base_id)


class Base(Aggregate):
    """A base id (基地编号) and the unit that holds it: the unit of the first grant applied for on
    it (or brought in on it by an import's approve row), as long as a grant of that unit holds it.
    A grant rejected lets go of it (``release``); once none holds it, it is free, and the next
    grant on it, of any unit, takes it. Another unit's grant on a base held is refused
    (``ledger.rules.base_of_one_unit``): balances and reports are kept per base.

    A base taken before bases were kept (a ledger recorded by an earlier version) has no Base
    until a grant is next applied for on it (or brought in on it); until then nothing refuses
    another unit's grant on it. The Base then kept is held by the applying unit's grants taken
    before, too (``Taken.earlier``), not by another unit's."""

    TOPIC = "grant-ledger:Base"

    class Event(Aggregate.Event):
        TOPIC = "grant-ledger:Base.Event"
        actor: str
        role: str
        occurred_on: date

    class Taken(Event, Aggregate.Created):
        """The base first kept: by ``grant_id``, and by the unit's grants on it recorded before
        bases were kept (``earlier``), which hold it as well."""

        TOPIC = "grant-ledger:Base.Taken"
        base_id: str
        unit_id: str
        grant_id: str
        earlier: tuple[str, ...] = ()

        def apply(self, base: Base) -> None:
            base.base_id = self.base_id
            base.unit_id = self.unit_id
            base.grants = [*self.earlier, self.grant_id]

    class TakenAgain(Event):
        """Another grant on the base: of the unit holding it, or of any unit once it is free."""

        TOPIC = "grant-ledger:Base.TakenAgain"
        unit_id: str
        grant_id: str

        def apply(self, base: Base) -> None:
            base.unit_id = self.unit_id
            base.grants = [*base.grants, self.grant_id]

    class Released(Event):
        """A grant holding the base rejected (``grant reject``)."""

        TOPIC = "grant-ledger:Base.Released"
        grant_id: str
        reason: str

        def apply(self, base: Base) -> None:
            base.grants = [g for g in base.grants if g != self.grant_id]
            base.let_go[self.grant_id] = {"unit_id": base.unit_id, "on": self.occurred_on.isoformat()}

    base_id: str
    unit_id: str  # the unit of its latest grant

    def __init__(self) -> None:
        self.grants: list[str] = []  # the grants holding it (applied for or approved, not rejected)
        # grant -> its unit and the date it let go of the base ("on", ISO): an application dated
        # before that date meets the base held (``held_on``)
        self.let_go: dict[str, dict[str, str]] = {}

    def held_against(self, unit_id: str, on: date) -> tuple[str | None, list[str]]:
        """The unit other than ``unit_id`` holding the base on ``on``, with its grants holding it:
        the unit holding it now, else one whose grants let go of it after ``on`` (an application
        dated before a rejection recorded earlier meets the base held); (None, []) for none."""
        if self.grants and self.unit_id != unit_id:
            return self.unit_id, list(self.grants)
        day = on.isoformat()
        others = {g: held["unit_id"] for g, held in self.let_go.items() if held["on"] > day}
        others = {g: u for g, u in others.items() if u != unit_id}
        if not others:
            return None, []
        holder = next(iter(others.values()))
        return holder, [g for g, u in others.items() if u == holder]

    @classmethod
    def take_first(
        cls,
        *,
        base_id: str,
        unit_id: str,
        grant_id: str,
        on: date,
        actor: str,
        role: str,
        earlier: Iterable[str] = (),
    ) -> Base:
        return cls._create(
            cls.Taken,
            id=base_uuid(base_id),
            base_id=base_id,
            unit_id=unit_id,
            grant_id=grant_id,
            earlier=tuple(earlier),
            actor=actor,
            role=role,
            occurred_on=on,
        )

    def take(self, *, unit_id: str, grant_id: str, on: date, actor: str, role: str) -> None:
        """Judged by the caller (``ledger.actions.take_base``)."""
        self.trigger_event(
            self.TakenAgain, unit_id=unit_id, grant_id=grant_id, actor=actor, role=role, occurred_on=on
        )

    def release(self, *, grant_id: str, reason: str, on: date, actor: str, role: str) -> None:
        if grant_id in self.grants:
            self.trigger_event(
                self.Released, grant_id=grant_id, reason=reason, actor=actor, role=role, occurred_on=on
            )


def round_uuid(recommender: str, round_: str) -> UUID:
    return uuid5(ROUND_NAMESPACE, f"{recommender}\x00{round_}")


class RecommendationRound(Aggregate):
    """One recommender's recommendations in one round: at most 1 national and 2 ranked municipal
    bases (002 五(一))."""

    TOPIC = "grant-ledger:RecommendationRound"

    class Event(Aggregate.Event):
        TOPIC = "grant-ledger:RecommendationRound.Event"
        actor: str
        role: str
        occurred_on: date

    class Opened(Event, Aggregate.Created):
        TOPIC = "grant-ledger:RecommendationRound.Opened"
        recommender: str
        round: str

        def apply(self, r: RecommendationRound) -> None:
            r.recommender = self.recommender
            r.round = self.round

    class Made(Event):
        TOPIC = "grant-ledger:RecommendationRound.Made"
        grant_id: str
        level: str
        rank: int | None

        def apply(self, r: RecommendationRound) -> None:
            r.made[self.grant_id] = {"level": self.level, "rank": self.rank}

    recommender: str
    round: str

    def __init__(self) -> None:
        self.made: dict[str, dict[str, object]] = {}

    @classmethod
    def open(cls, *, recommender: str, round_: str, on: date, actor: str, role: str) -> RecommendationRound:
        return cls._create(
            cls.Opened,
            id=round_uuid(recommender, round_),
            recommender=recommender,
            round=round_,
            actor=actor,
            role=role,
            occurred_on=on,
        )

    def add(
        self, *, grant_id: str, level: str, rank: int | None, on: date, actor: str, role: str, policy: Policy
    ) -> None:
        others = {g: v for g, v in self.made.items() if g != grant_id}
        same = [v for v in others.values() if v["level"] == level]
        taken = [int(str(v["rank"])) for v in same if v["rank"] is not None]
        raise_first(
            [
                recommendation_quota(self.recommender, self.round, level, len(same), policy),
                recommendation_rank(level, rank, taken, policy),
            ]
        )
        self.trigger_event(
            self.Made, grant_id=grant_id, level=level, rank=rank, actor=actor, role=role, occurred_on=on
        )
