"""Every act a person can record, as data: a frozen, typed value with its field rules, the role it
needs (its name in ``ledger.rules``) and the aggregate method it calls.

The command line, the importer and the demo build these and nothing else; one method of the
application (``GrantLedger.handle``) records any of them, and the importer applies them to the
aggregates it holds. So a value refused in one place is refused in every other, with the same
sentence.

The rules of the fields, the acts' base and ``build`` are in ``ledger.action_base``; the money
acts in ``ledger.money_actions`` (a money command builds those alone). All are here as well.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from ledger.action_base import Action as Action
from ledger.action_base import Amount as Amount
from ledger.action_base import ApprovedAmount as ApprovedAmount
from ledger.action_base import Books as Books
from ledger.action_base import BusinessDate as BusinessDate
from ledger.action_base import Count as Count
from ledger.action_base import District as District
from ledger.action_base import GrantAction as GrantAction
from ledger.action_base import Identifier as Identifier
from ledger.action_base import NewIdentifier as NewIdentifier
from ledger.action_base import NewReference as NewReference
from ledger.action_base import OptionalDate as OptionalDate
from ledger.action_base import OptionalIdentifier as OptionalIdentifier
from ledger.action_base import Reference as Reference
from ledger.action_base import RequiredText as RequiredText
from ledger.action_base import Source as Source
from ledger.action_base import Text as Text
from ledger.action_base import build as build
from ledger.action_base import business_date as business_date
from ledger.action_base import check_duties as check_duties
from ledger.action_base import explain as explain
from ledger.district import district_name
from ledger.errors import BadInputError, ConflictError
from ledger.grant import BUDGET_SOURCES, Grant
from ledger.i18n import N_, T_, _
from ledger.money import ZERO
from ledger.money_actions import CommitMatching as CommitMatching
from ledger.money_actions import Disburse as Disburse
from ledger.money_actions import ReceiveMatching as ReceiveMatching
from ledger.money_actions import Reverse as Reverse
from ledger.money_actions import Spend as Spend
from ledger.policy import Policy
from ledger.rules import (
    Breach,
    base_of_one_unit,
    bureaus_of_the_units_district,
    district_kept_for_its_bureaus,
    no_money_programme,
    programme_in_force,
    projects_count,
    raise_first,
    requested_in_range,
    tier_of_programme,
    track_of_programme,
)
from ledger.text import CONTROL, WHITE_SPACE

if TYPE_CHECKING:  # loaded by the actions on units and bodies: an act on a grant builds neither
    from ledger.bodies import Body
    from ledger.unit import Unit


# figures a unit declares at `grant apply` against its programme's application conditions
DECLARED_FIGURES = (
    "trained",
    "advanced",
    "capacity",
    "students",
    "teachers",
    "instructors",
    "senior_instructors",
    "places",
    "integrated_teachers",
    "technician_instructors",
    "skilled_workers",
    "workforce",
    "partners",
    "joint_majors",
)
# a figure that counts some of another's (of the trained, the advanced; ...): never more than it
DECLARED_PARTS = (
    ("advanced", "trained"),
    ("senior_instructors", "instructors"),
    ("technician_instructors", "instructors"),
    ("senior_instructors", "technician_instructors"),  # 高级技师 are 技师以上
    ("integrated_teachers", "teachers"),
    ("skilled_workers", "workforce"),
)


def _budget_lines(lines: dict[str, Decimal]) -> dict[str, Decimal]:
    for key, value in lines.items():
        content, _slash, source = key.partition("/")
        if not content or source not in BUDGET_SOURCES or CONTROL.search(content):
            raise ValueError(_("budget line {key!r} is not content/source").format(key=key))
        if value < 0 or value != value.quantize(Decimal("0.01")):
            raise ValueError(
                _("budget line {key} has amount {value}; give zero or more, in fen").format(
                    key=key, value=value
                )
            )
    return {key: value.quantize(Decimal("0.01")) for key, value in lines.items()}


# ----------------------------------------------------------------------------- units and selection


class RegisterUnit(Action):
    name = "unit register"
    unit_id: NewIdentifier
    unit_name: RequiredText
    kind: str = "technical_school"
    national_institute: bool = False
    district: District = None

    def check(self, policy: Policy) -> None:
        from ledger.unit_kinds import UNIT_KINDS

        if self.kind not in UNIT_KINDS:
            msg = T_(
                "unit kind {kind!r} is unknown; use one of {value}",
                kind=self.kind,
                value=", ".join(UNIT_KINDS),
            )
            raise BadInputError(msg)

    def decide(self, books: Books) -> bool:
        from ledger.unit import Unit

        unit = books.find_unit(self.unit_id)
        if unit is None:
            books.add(
                Unit.register(
                    unit_id=self.unit_id,
                    name=self.unit_name,
                    kind=self.kind,
                    on=self.on,
                    actor=books.actor,
                    role=books.role,
                    national_institute=self.national_institute,
                    district=self.district,
                )
            )
            return True
        if (unit.name, unit.kind, unit.national_institute) == (
            self.unit_name,
            self.kind,
            self.national_institute,
        ):
            if self.district is None or self.district == unit.district:
                return False
            msg = T_(
                "unit {unit_id} is already registered, in district {value}; a unit's district is "
                "changed by `grant-ledger unit set-district`",
                unit_id=self.unit_id,
                value=district_name(unit.district) or "-",
            )
            raise ConflictError(msg)
        msg = T_(
            "unit {unit_id} is already registered as {name!r} ({kind}); a unit id is registered once",
            unit_id=self.unit_id,
            name=unit.name,
            kind=unit.kind,
        )
        raise ConflictError(msg)

    def done(self, books: Books) -> str:
        return _("registered unit {unit_id} {unit_name}").format(
            unit_id=self.unit_id, unit_name=self.unit_name
        )

    def repeat(self) -> str:
        return _("unit {unit_id} is already registered").format(unit_id=self.unit_id)


class SetUnitDistrict(Action):
    """The district of a unit already registered (one registered before districts were kept, or
    with a wrong one), recorded as an amendment; its registration stays as recorded."""

    name = "unit set-district"
    done_text = N_("unit {unit_id} is now in district {district}")
    repeat_text = N_("unit {unit_id} is already in district {district}")
    unit_id: Identifier
    district: District

    def check(self, policy: Policy) -> None:
        if self.district is None:
            raise BadInputError(T_("a unit's district must be given: its 6-digit code or Chinese name"))

    def decide(self, books: Books) -> bool:
        assert self.district is not None
        unit = books.unit(self.unit_id)
        if unit.district != self.district:
            judge_bureaus_kept(unit, self.district, books)
        return unit.set_district(district=self.district, on=self.on, actor=books.actor, role=books.role)

    def done(self, books: Books) -> str:
        return _(self.done_text).format(unit_id=self.unit_id, district=district_name(self.district))

    def repeat(self) -> str:
        return _(self.repeat_text).format(unit_id=self.unit_id, district=district_name(self.district))


def judge_bureaus_kept(unit: Unit, district: str, books: Books) -> None:
    """The district bureaus that recommended or approved a grant of ``unit`` (a base it holds) are
    of ``district`` (``ledger.rules.district_kept_for_its_bureaus``), each judged under its act's
    clause, as ``judge_bureaus`` judged it."""
    registry = books.find_bodies()
    if registry is None:
        return
    for grant_id in unit.slots:
        grant = books.find_grant(grant_id)
        if grant is None or grant.status == "rejected":  # a slot outliving its grant (``standing``)
            continue
        programme = books.policy.programmes.get(grant.programme)  # one a later policy added: none
        approval = programme.approval_clause if programme else books.policy.clause("approval_first")
        acts = [(getattr(grant, "bodies", []), approval)]
        recommendation = getattr(grant, "recommendation", None)
        if recommendation:
            acts.append(([recommendation["recommender"]], books.policy.clause("recommendation_required")))
        for codes, clause in acts:
            bodies = [registry.body(code) for code in codes]  # an import's names: none of them
            bureaus = [(b.describe(), b.district) for b in bodies if b and b["kind"] == "district_bureau"]
            raise_first(
                [district_kept_for_its_bureaus(unit.unit_id, district, grant.grant_id, bureaus, clause)]
            )


class Apply(Action):
    name = "grant apply"
    done_text = N_("recorded the application of grant {grant_id} for base {base_id}")
    repeat_text = N_("grant {grant_id} is already recorded")
    grant_id: NewIdentifier
    unit_id: Identifier
    base_id: NewIdentifier
    base_name: Text = ""
    programme: Identifier
    projects: tuple[Text, ...]
    requested: Amount | None = None  # None: a programme of no money (命名支持类)
    # figures declared against the programme's application conditions (DECLARED_FIGURES)
    declared: dict[str, Count] = Field(default_factory=dict)
    track: Identifier | None = None  # a municipal base's kind (002 二(二))

    def check(self, policy: Policy) -> None:
        programme = policy.programme(self.programme)
        raise_first(
            [
                programme_in_force(programme, self.on, policy, applying=True),
                track_of_programme(self.grant_id, programme, self.track or "", policy),
            ]
        )
        unknown = sorted(set(self.declared) - set(DECLARED_FIGURES))
        if unknown:
            msg = T_(
                "declared figure {value!r} is unknown; use {value2}",
                value=unknown[0],
                value2=", ".join(DECLARED_FIGURES),
            )
            raise BadInputError(msg)
        for part, whole in DECLARED_PARTS:
            if part in self.declared and self.declared[part] > self.declared.get(whole, self.declared[part]):
                option = part.replace("_", "-")
                msg = T_(
                    "--{option} {value} is more than --{whole} {value2}",
                    option=option,
                    value=self.declared[part],
                    whole=whole.replace("_", "-"),
                    value2=self.declared[whole],
                )
                raise BadInputError(msg)
        if self.requested is None and programme.pays:
            msg = T_(
                "a {code} ({zh}) application names the requested amount (--amount)",
                code=programme.code,
                zh=programme.zh,
            )
            raise BadInputError(msg)
        if self.requested is not None and not programme.pays:
            breach = no_money_programme(self.grant_id, programme, self.requested)
            raise_first([breach])
        raise_first(
            [
                projects_count(programme, self.projects, policy),
                None if self.requested is None else requested_in_range(programme, self.requested),
            ]
        )

    def decide(self, books: Books) -> bool:
        grant = books.find_grant(self.grant_id)
        if grant is not None:
            same = (
                grant.unit_id,
                grant.base_id,
                grant.programme,
                grant.requested,
                grant.declared or {},
                grant.track,
                grant.base_name,
                list(grant.projects),
                grant.applied_on,
            ) == (
                self.unit_id,
                self.base_id,
                self.programme,
                ZERO if self.requested is None else self.requested,
                dict(self.declared),
                self.track or "",
                self.base_name,
                list(self.projects),
                self.on,
            )
            if same:
                return False
            msg = T_(
                "grant {grant_id} is already recorded for unit {unit_id}, base {base_id} "
                "({programme}); a grant id is used once",
                grant_id=self.grant_id,
                unit_id=grant.unit_id,
                base_id=grant.base_id,
                programme=grant.programme,
            )
            raise ConflictError(msg)
        programme = books.policy.programme(self.programme)
        unit = books.unit(self.unit_id)
        take_base(unit, self.base_id, self.grant_id, programme, self.on, books)
        books.add(
            Grant.create(
                grant_id=self.grant_id,
                unit_id=self.unit_id,
                base_id=self.base_id,
                base_name=self.base_name,
                programme=self.programme,
                level=programme.level,
                projects=list(self.projects),
                requested=ZERO if self.requested is None else self.requested,
                on=self.on,
                actor=books.actor,
                role=books.role,
                unit_kind=unit.kind,
                declared=dict(self.declared) or None,
                track=self.track or "",
            )
        )
        return True


def same_approval(
    grant: Grant, *, tier: str, on: date, build_start: date | None, bodies: list[str] | None = None
) -> None:
    """An approval typed again (the same amount and document) is the one recorded, a repeat (exit
    0), or else refused (exit 5): its tier, its date, its build period's start (the approval's date
    when none is given) and the bodies it names (``bodies``; an import's row names none)."""
    if grant.tier != tier:
        msg = T_(
            "grant {grant_id} is already approved with tier {value}; this approval names {value2}: "
            "an approval's tier is not changed by typing it again",
            grant_id=grant.grant_id,
            value=grant.tier or "-",
            value2=tier or "-",
        )
        raise ConflictError(msg)
    compared = [
        (N_("date"), on.isoformat(), grant.approved_on.isoformat() if grant.approved_on else ""),
        (
            N_("build start"),
            (build_start or on).isoformat(),
            grant.build_start.isoformat() if grant.build_start else "",
        ),
    ]
    if bodies is not None:
        compared.append((N_("bodies"), "、".join(sorted(set(bodies))), "、".join(sorted(set(grant.bodies)))))
    for what, given, held in compared:
        if not held or given == held:
            continue
        msg = T_(
            "grant {grant_id} is already approved under document {document} with {what} {value}; "
            "this approval names {value2}: an approval is not changed by typing it again",
            grant_id=grant.grant_id,
            document=grant.document,
            what=T_(what),
            value=held,
            value2=given,
        )
        raise ConflictError(msg)


def take_base(unit: Unit, base_id: str, grant_id: str, programme: Any, on: date, books: Books) -> None:
    """Grant ``grant_id`` of ``unit`` takes base ``base_id``: the one place an application (grant
    apply) and a grant approved elsewhere (an import's approve row) take a base. The base is no
    other unit's (``rules.base_of_one_unit``), then the unit may hold it (``rules.unit_may_hold``,
    judged by ``Unit.take_base``); the base then records its grant."""
    from ledger.unit import Base

    base = books.find_base(base_id)
    holder, held_by = (None, []) if base is None else base.held_against(unit.unit_id, on)
    raise_first([base_of_one_unit(base_id, grant_id, unit.unit_id, holder, held_by, books.policy)])
    approved, rejected = standing(unit, books, on)
    # no Base yet, though the unit's grants may stand on it: recorded before bases were kept
    earlier = (
        [g for g, slot in unit.slots.items() if slot["base_id"] == base_id and g not in rejected]
        if base is None
        else []
    )
    unit.take_base(
        base_id=base_id,
        grant_id=grant_id,
        programme=programme,
        on=on,
        actor=books.actor,
        role=books.role,
        policy=books.policy,
        approved=approved,
        rejected=rejected,
    )
    if base is None:
        books.add(
            Base.take_first(
                base_id=base_id,
                unit_id=unit.unit_id,
                grant_id=grant_id,
                on=on,
                actor=books.actor,
                role=books.role,
                earlier=earlier,
            )
        )
    else:
        base.take(unit_id=unit.unit_id, grant_id=grant_id, on=on, actor=books.actor, role=books.role)


def standing(unit: Unit, books: Books, on: date) -> tuple[set[str], set[str]]:
    """The grants of the unit's slots approved on or before ``on`` (003 第八条: 已获批), and those
    rejected: a ledger recorded before slots were kept per grant released one slot a base, so the
    second of two grants on one base rejected then still has its slot, and holds no level."""
    approved, rejected = set(), set()
    for grant_id in unit.slots:
        grant = books.find_grant(grant_id)
        if grant is None:
            continue
        if grant.status == "rejected":
            rejected.add(grant_id)
        elif grant.approved_on is not None and grant.approved_on <= on:
            approved.add(grant_id)
    return approved, rejected


def _round(value: Any) -> Any:
    """A round is its year (002 announces the 2024 round): ``2024`` or ``2024年``, kept as ``2024``,
    so one round is never counted as two."""
    if isinstance(value, str):
        text = value.strip(WHITE_SPACE).removesuffix("年")
        if len(text) == 4 and text.isascii() and text.isdigit():
            return text
        raise ValueError(_("{value!r} is not a round; a round is its year, e.g. 2024").format(value=value))
    return value


class Recommend(GrantAction):
    """Counted against the recommending body's quota for the round (002 五(一)): the recommender
    is a registered body's code, and the round its year."""

    name = "grant recommend"
    done_text = N_("recorded {recommender}'s recommendation of grant {grant_id} ({round_})")
    repeat_text = N_("the recommendation of grant {grant_id} is already recorded")
    recommender: Reference
    round_: Annotated[str, BeforeValidator(_round)]
    rank: int | None = Field(default=None, ge=1, le=100)

    def apply(self, grant: Grant, books: Books) -> bool:
        from ledger.bodies import RECOMMENDERS, registered
        from ledger.unit import RecommendationRound

        what = T_("the recommendation of grant {grant_id}", grant_id=self.grant_id)
        body = registered(books, self.recommender, what)
        if body.role not in RECOMMENDERS:
            msg = T_(
                "body {value} does not recommend: a recommendation is made by a district HR bureau "
                "(district_bureau, hr) or a municipal sector authority (sector_authority)",
                value=body.describe(),
            )
            raise_first([Breach(N_("recommender"), books.policy.clause("recommendation_required"), msg)])
        judge_bureaus(grant, books, [body], books.policy.clause("recommendation_required"))
        if not grant.recommend(
            recommender=self.recommender, round_=self.round_, rank=self.rank, **self.who(books)
        ):
            return False
        found = books.find_round(self.recommender, self.round_)
        if found is None:
            found = RecommendationRound.open(
                recommender=self.recommender,
                round_=self.round_,
                on=self.on,
                actor=books.actor,
                role=books.role,
            )
            books.add(found)
        found.add(grant_id=self.grant_id, level=grant.level, rank=self.rank, **self.who(books))
        return True


class Review(GrantAction):
    name = "grant review"
    done_text = N_("recorded the expert review of grant {grant_id}")
    repeat_text = N_("the expert review of grant {grant_id} is already recorded")
    panel: int = Field(ge=0, le=1000)
    recommended: bool
    opinion: Text = ""
    rereview_reason: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.record_review(
            panel=self.panel,
            recommended=self.recommended,
            opinion=self.opinion,
            rereview_reason=self.rereview_reason,
            **self.who(books),
        )


class Notice(GrantAction):
    name = "grant notice"
    done_text = N_("recorded the public notice of grant {grant_id}")
    repeat_text = N_("the public notice of grant {grant_id} is already recorded")
    start: BusinessDate
    end: BusinessDate
    objections: Count = 0
    where: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.record_notice(
            start=self.start, end=self.end, objections=self.objections, where=self.where, **self.who(books)
        )


class ResolveObjections(GrantAction):
    """The objections a public notice drew, settled by a document (002 五(二): 对公示无异议的，
    发文组织实施)."""

    name = "grant resolve-objections"
    done_text = N_("recorded that {document} settles the objections to grant {grant_id}'s public notice")
    repeat_text = N_("the objections to grant {grant_id}'s public notice are already settled by {document}")
    document: Reference

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.resolve_objections(document=self.document, **self.who(books))


def approving_bodies(bodies: list[Body], programme: Any) -> list[str]:
    """What each registered body is to the programme: one of its approving bodies (its name in the
    policy), or else the body's own description, which the grant refuses."""
    labels = []
    for body in bodies:
        if body.role in programme.approvers:
            labels.append(programme.approving_bodies[programme.approvers.index(body.role)])
        else:
            labels.append(f"{body.describe()}")
    return labels


def judge_bureaus(grant: Grant, books: Books, bodies: list[Body], clause: Any) -> None:
    """The district bureaus among ``bodies`` act for the grant's unit's district, and one district
    (``ledger.rules.bureaus_of_the_units_district``)."""
    bureaus = [(b.describe(), b.district) for b in bodies if b["kind"] == "district_bureau"]
    if bureaus:
        district = books.unit(grant.unit_id).district
        raise_first([bureaus_of_the_units_district(grant.grant_id, district, bureaus, clause)])


class Approve(GrantAction):
    """``bodies``: the registered codes of the bodies that approve it, each judged against the
    programme's approving bodies (003 第七条, 000 第十一条, 002 六)."""

    name = "grant approve"
    done_text = N_("approved grant {grant_id}")
    repeat_text = N_("grant {grant_id} is already approved")
    amount: Amount | None = None  # None: a programme of no money (命名支持类)
    document: Reference
    bodies: tuple[Text, ...] = ()
    build_start: BusinessDate | None = None
    build_end: BusinessDate | None = None
    tier: Identifier | None = None  # a national base's (002 二(一): A, B, C or D)

    def apply(self, grant: Grant, books: Books) -> bool:
        from ledger.bodies import registered

        programme = books.policy.programme(grant.programme)
        if self.amount is None and programme.pays:
            msg = T_(
                "grant {grant_id} is a {code}: its approval names the subsidy (--amount)",
                grant_id=self.grant_id,
                code=programme.code,
            )
            raise BadInputError(msg)
        amount = ZERO if self.amount is None else self.amount
        tier = self.tier or ""
        raise_first([tier_of_programme(self.grant_id, programme, tier, books.policy)])
        if grant.status == "approved" and (grant.approved, grant.document) == (amount, self.document):
            same_approval(
                grant, tier=tier, on=self.on, build_start=self.build_start, bodies=list(self.bodies)
            )
            return False
        codes = list(dict.fromkeys(self.bodies))
        what = T_("the approval of grant {grant_id}", grant_id=self.grant_id)
        bodies = [registered(books, code, what) for code in codes]
        labels = approving_bodies(bodies, programme)
        judge_bureaus(grant, books, bodies, programme.approval_clause)
        grant.approve(
            amount=amount,
            document=self.document,
            bodies=codes,
            approvers=labels,
            build_start=self.build_start,
            build_end=self.build_end,
            tier=self.tier or "",
            **self.who(books),
        )
        return True


class Extend(GrantAction):
    """A later end of the build period, approved by its own document (003 第三条, 002 六)."""

    name = "grant extend"
    done_text = N_("extended the build period of grant {grant_id} to {build_end}")
    repeat_text = N_("the build period of grant {grant_id} already ends on {build_end}")
    build_end: BusinessDate
    document: Reference

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.extend(end=self.build_end, document=self.document, **self.who(books))


class ApprovedElsewhere(Action):
    """A grant approved outside the ledger, brought in by an import: its unit (registered here
    when new), its application and its approval; the selection steps are not replayed. A grant
    applied for in this ledger is judged as ``grant approve`` judges it, after its selection and
    naming the registered bodies that approve it: a row names none, so it is refused."""

    name = "grant approve"
    done_text = N_("recorded grant {grant_id}, approved elsewhere")
    repeat_text = N_("grant {grant_id} is already approved")
    grant_id: NewIdentifier
    unit_id: NewIdentifier
    base_id: NewIdentifier
    programme: Identifier
    amount: ApprovedAmount
    document: Reference
    build_start: BusinessDate | None = None
    build_end: BusinessDate | None = None
    base_name: Text = ""
    unit_name: Text = ""
    district: District = None  # the unit's, when the import registers it
    tier: OptionalIdentifier = None  # a national base's (002 二(一)), as grant approve --tier
    track: OptionalIdentifier = None  # a municipal base's kind (002 二(二)), as grant apply --track
    applied_on: OptionalDate = None  # the application's date (its round's), else the approval's

    def also_dated(self) -> tuple[date, ...]:
        return () if self.applied_on is None or self.applied_on == self.on else (self.applied_on,)

    def decide(self, books: Books) -> bool:
        from ledger.policy import policy_in_force
        from ledger.unit import Unit

        programme = books.policy.programme(self.programme)
        tier, track = self.tier or "", self.track or ""
        applied = self.applied_on or self.on
        # the approval, and its tier, by the version in force on its date
        raise_first(
            [
                programme_in_force(programme, self.on, books.policy, applying=False),
                tier_of_programme(self.grant_id, programme, tier, books.policy),
            ]
        )
        grant = books.find_grant(self.grant_id)
        elsewhere = grant is None
        if grant is not None:
            if (grant.unit_id, grant.base_id, grant.programme) != (
                self.unit_id,
                self.base_id,
                programme.code,
            ):
                msg = T_(
                    "grant {grant_id} is already recorded for unit {unit_id}, base {base_id} ({programme})",
                    grant_id=self.grant_id,
                    unit_id=grant.unit_id,
                    base_id=grant.base_id,
                    programme=grant.programme,
                )
                raise ConflictError(msg)
            if self.applied_on is not None and grant.applied_on != self.applied_on:
                msg = T_(
                    "grant {grant_id} was applied for on {value}; this row names {value2}: a grant's "
                    "application date is the one recorded",
                    grant_id=self.grant_id,
                    value=grant.applied_on.isoformat(),
                    value2=self.applied_on.isoformat(),
                )
                raise ConflictError(msg)
            if track and grant.track != track:  # a row naming none leaves the application's
                msg = T_(
                    "grant {grant_id} was applied for as kind {value}; this row names {value2}: "
                    "a grant's kind is the one its application named",
                    grant_id=self.grant_id,
                    value=grant.track or "-",
                    value2=track,
                )
                raise ConflictError(msg)
            same = (grant.approved, grant.document) == (self.amount, self.document)
            if grant.status != "applied" and grant.status != "rejected" and same:
                same_approval(grant, tier=tier, on=self.on, build_start=self.build_start)
                return False
            # otherwise approve refuses a grant rejected, or approved with other terms, as it
            # refuses grant approve (exit 3)
        else:
            # the application, and its kind, by the version in force on its date; one the row dates
            # is held to its round's dates as grant apply is (without the column, the approval's
            # date stands for it, after the round closed)
            then = books.policy if applied == self.on else policy_in_force(applied)
            applying = then.programme(self.programme)
            raise_first(
                [
                    programme_in_force(applying, applied, then, applying=self.applied_on is not None),
                    track_of_programme(self.grant_id, applying, track, then),
                ]
            )
            unit = books.find_unit(self.unit_id)
            known_kind = unit is not None
            if unit is None:
                unit = Unit.register(
                    unit_id=self.unit_id,
                    name=self.unit_name or self.unit_id,
                    kind="other",
                    on=applied,
                    actor=books.actor,
                    role=books.role,
                    district=self.district,
                )
                books.add(unit)
            elif (rejected := unit.released_bases().get(self.base_id)) is not None:
                msg = T_(
                    "base {base_id} of unit {unit_id} was applied for in this ledger as grant {grant}, "
                    "which was rejected; an approve row brings a grant approved elsewhere: apply again "
                    "(grant apply) for a new selection",
                    base_id=self.base_id,
                    unit_id=self.unit_id,
                    grant=rejected,
                )
                raise ConflictError(msg)
            elif self.district is not None and unit.district != self.district:
                msg = T_(
                    "unit {unit_id} is registered in district {value}, not {value2}; a unit's "
                    "district is changed by `grant-ledger unit set-district`",
                    unit_id=self.unit_id,
                    value=district_name(unit.district) or "-",
                    value2=district_name(self.district),
                )
                raise ConflictError(msg)
            take_base(unit, self.base_id, self.grant_id, applying, applied, books)
            grant = Grant.create(
                grant_id=self.grant_id,
                unit_id=self.unit_id,
                base_id=self.base_id,
                base_name=self.base_name or self.base_id,
                programme=programme.code,
                level=programme.level,
                projects=[],
                requested=self.amount,
                on=applied,
                actor=books.actor,
                role=books.role,
                unit_kind=unit.kind if known_kind else "",  # a unit the import registers: kind unknown
                track=track,
            )
            books.add(grant)
        # A grant approved elsewhere is brought in approved by its programme's bodies; one applied
        # for here is approved as grant approve approves it, naming the registered bodies that
        # approve it, which a row cannot: so it is refused as grant approve refuses one naming none
        grant.approve(
            amount=self.amount,
            document=self.document,
            bodies=list(programme.approving_bodies) if elsewhere else [],
            build_start=self.build_start,
            build_end=self.build_end,
            imported=elsewhere,
            approvers=None if elsewhere else [],
            tier=tier,
            **self.who(books),
        )
        return True


class Reject(GrantAction):
    """The grant's slot in its unit is released (Unit.BaseReleased, naming the grant: the unit's
    other grant on the base, at another level, keeps its own), and the base lets go of the grant
    (Base.Released): free once no grant holds it, for any unit's next application."""

    name = "grant reject"
    repeat_text = N_("grant {grant_id} is already rejected")
    reason: RequiredText
    document: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        if not grant.reject(reason=self.reason, document=self.document, **self.who(books)):
            return False
        reason = f"grant {self.grant_id} rejected"
        who: dict[str, Any] = {"on": self.on, "actor": books.actor, "role": books.role}
        books.unit(grant.unit_id).release_base(
            base_id=grant.base_id, grant_id=self.grant_id, reason=reason, **who
        )
        base = books.find_base(grant.base_id)
        if base is not None:  # none: taken before bases were kept
            base.release(grant_id=self.grant_id, reason=reason, **who)
        return True

    def done(self, books: Books) -> str:
        return _("rejected grant {grant_id}; base {base_id} released").format(
            grant_id=self.grant_id, base_id=books.grant(self.grant_id).base_id
        )


class RegisterBudget(GrantAction):
    """The budget plan of 003 表4-2: ``content/source`` → amount, source a key of BUDGET_SOURCES."""

    name = "grant budget"
    repeat_text = N_("the budget plan of grant {grant_id} is already registered")
    lines: Annotated[dict[str, Decimal], AfterValidator(_budget_lines)]

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.register_budget(lines=dict(self.lines), **self.who(books))

    def done(self, books: Books) -> str:
        return _("registered the budget plan of grant {grant_id} ({n_lines} lines)").format(
            grant_id=self.grant_id, n_lines=len(self.lines)
        )


class AdjustBudget(GrantAction):
    name = "grant adjust"
    done_text = N_("adjusted the budget of grant {grant_id}")
    repeat_text = N_("this budget adjustment of grant {grant_id} is already recorded")
    lines: Annotated[dict[str, Decimal], AfterValidator(_budget_lines)]
    approval: Reference
    reason: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.adjust_budget(
            lines=dict(self.lines), approval=self.approval, reason=self.reason, **self.who(books)
        )


# ----------------------------------------------------------------------------- oversight


class ReportOutput(GrantAction):
    name = "output report"
    done_text = N_("recorded the {year} outputs of grant {grant_id}")
    repeat_text = N_("the {year} outputs of grant {grant_id} are already recorded")
    year: int = Field(ge=2000, le=2100)
    trainees: Count
    advanced: Count = 0
    evaluations: Count = 0
    advanced_evaluations: Count = 0
    corrects: bool = False  # replaces the year's earlier report

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.report_output(
            year=self.year,
            trainees=self.trainees,
            advanced=self.advanced,
            evaluations=self.evaluations,
            advanced_evaluations=self.advanced_evaluations,
            corrects=self.corrects,
            **self.who(books),
        )


class Evaluate(GrantAction):
    name = "evaluate"
    done_text = N_("recorded the {kind} evaluation of grant {grant_id}: {result}")
    repeat_text = N_("the {kind} evaluation of grant {grant_id} is already recorded")
    kind: str
    result: str
    evaluator: Text = ""
    summary: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.evaluate(
            kind=self.kind,
            result=self.result,
            evaluator=self.evaluator,
            summary=self.summary,
            **self.who(books),
        )


class OrderRectification(GrantAction):
    name = "rectify order"
    repeat_text = N_("rectification {ref} of grant {grant_id} is already ordered")
    ref: NewReference  # the rectification's identity: `rectify complete` finds it by it
    finding: RequiredText
    deadline: BusinessDate

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.order_rectification(
            ref=self.ref, finding=self.finding, deadline=self.deadline, **self.who(books)
        )

    def done(self, books: Books) -> str:
        return _("ordered rectification {ref} of grant {grant_id}, due {deadline}").format(
            ref=self.ref, grant_id=self.grant_id, deadline=self.deadline.isoformat()
        )


class CompleteRectification(GrantAction):
    name = "rectify complete"
    done_text = N_("recorded rectification {ref} of grant {grant_id} as completed")
    repeat_text = N_("rectification {ref} of grant {grant_id} is already completed")
    ref: Reference  # one ordered already, as written (one ordered before look-alikes were refused too)
    note: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.complete_rectification(ref=self.ref, note=self.note, **self.who(books))


class AddToDossier(GrantAction):
    name = "dossier add"
    repeat_text = N_("that document is already in the dossier of grant {grant_id}")
    kind: str
    title: RequiredText
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.add_dossier(kind=self.kind, title=self.title, sha256=self.sha256, **self.who(books))

    def done(self, books: Books) -> str:
        return _("recorded {kind} '{title}' (sha256 {value}…) in the dossier of grant {grant_id}").format(
            kind=self.kind, title=self.title, value=self.sha256[:12], grant_id=self.grant_id
        )


# ----------------------------------------------------------------------------- end of life


class OrderRecovery(GrantAction):
    name = "recover order"
    done_text = N_("ordered recovery {document} from grant {grant_id}")
    repeat_text = N_("recovery order {document} of grant {grant_id} is already recorded")
    amount: Amount
    reason: RequiredText
    document: NewReference  # the order's identity: one order per document

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.order_recovery(
            amount=self.amount, reason=self.reason, document=self.document, **self.who(books)
        )


class ReceiveRecovery(GrantAction):
    name = "recover receive"
    done_text = N_("recorded recovery {voucher} of grant {grant_id}")
    repeat_text = N_("recovery {voucher} of grant {grant_id} is already recorded")
    amount: Amount
    voucher: NewReference

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.receive_recovery(amount=self.amount, voucher=self.voucher, **self.who(books))


class Dispose(GrantAction):
    name = "dispose"
    done_text = N_("disposed of {amount} of {source} of grant {grant_id} ({how})")
    repeat_text = N_("this disposal of grant {grant_id} is already recorded")
    source: Source
    amount: Amount
    how: str
    approval: NewReference  # the disposal's identity: one disposal per approval

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.dispose(
            source=self.source, amount=self.amount, how=self.how, approval=self.approval, **self.who(books)
        )


class Close(GrantAction):
    name = "grant close"
    done_text = N_("closed grant {grant_id}")
    repeat_text = N_("grant {grant_id} is already closed")
    document: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.close(document=self.document, **self.who(books))
