"""The Unit aggregate (承建单位): the host organisation, and the bases it holds; the Base aggregate:
a base id and the one unit that holds it.

A unit enforces eligibility across bases: one base per unit per programme level, no district base
for a unit holding a municipal-or-higher base (003 第八条), one institute per unit (000 第十二条).
A base is one unit's (``ledger.rules.base_of_one_unit``): balances and reports are kept per base.
"""

from __future__ import annotations

from datetime import date
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.policy import Policy, Programme
from ledger.rules import raise_first, recommendation_quota, recommendation_rank, unit_may_hold

UNIT_NAMESPACE = uuid5(NAMESPACE_URL, "https://grant-ledger/unit")
BASE_NAMESPACE = uuid5(NAMESPACE_URL, "https://grant-ledger/base")
ROUND_NAMESPACE = uuid5(NAMESPACE_URL, "https://grant-ledger/recommendation-round")
UNIT_KINDS = (
    "technical_school",
    "senior_technical_school",
    "technician_college",
    "enterprise",
    "training_institution",
    "public_base",
    "other",
)
# 000 第三条: institutes rest mainly on 高级技工学校 and 技师学院 (含筹设: one being set up counts)
INSTITUTE_HOSTS = ("senior_technical_school", "technician_college")


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
            held = unit.bases.pop(self.base_id, None)
            if held is not None:  # a new dict: a unit read from an older snapshot has none
                unit.released = {**unit.released_bases(), self.base_id: held["grant_id"]}

    unit_id: str
    name: str
    kind: str
    national_institute: bool = False
    district: str | None = None

    def __init__(self) -> None:
        self.bases: dict[str, dict[str, str]] = {}
        self.released: dict[str, str] = {}  # base -> the grant that held it, rejected here

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
        approved: list[str] | None = None,
    ) -> None:
        """``approved``: the held bases approved by ``on`` (003 第八条 counts only those)."""
        held = [(b, v["level"]) for b, v in self.bases.items()]
        raise_first([unit_may_hold(self.unit_id, held, programme, policy, approved, self.national_institute)])
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

    def release_base(self, *, base_id: str, reason: str, on: date, actor: str, role: str) -> None:
        if base_id in self.bases:
            self.trigger_event(
                self.BaseReleased, base_id=base_id, reason=reason, actor=actor, role=role, occurred_on=on
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
    another unit's grant on it, and the grants taken before are not among the Base's."""

    TOPIC = "grant-ledger:Base"

    class Event(Aggregate.Event):
        TOPIC = "grant-ledger:Base.Event"
        actor: str
        role: str
        occurred_on: date

    class Taken(Event, Aggregate.Created):
        TOPIC = "grant-ledger:Base.Taken"
        base_id: str
        unit_id: str
        grant_id: str

        def apply(self, base: Base) -> None:
            base.base_id = self.base_id
            base.unit_id = self.unit_id
            base.grants = [self.grant_id]

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

    base_id: str
    unit_id: str  # the unit of its latest grant

    def __init__(self) -> None:
        self.grants: list[str] = []  # the grants holding it (applied for or approved, not rejected)

    @property
    def holder(self) -> str | None:
        """The unit holding the base; None once every grant that held it is rejected."""
        return self.unit_id if self.grants else None

    @classmethod
    def take_first(
        cls, *, base_id: str, unit_id: str, grant_id: str, on: date, actor: str, role: str
    ) -> Base:
        return cls._create(
            cls.Taken,
            id=base_uuid(base_id),
            base_id=base_id,
            unit_id=unit_id,
            grant_id=grant_id,
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
