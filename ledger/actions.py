"""Every act a person can record, as data: a frozen, typed value with its field rules, the role it
needs (its name in ``ledger.rules``) and the aggregate method it calls.

The command line, the importer and the demo build these and nothing else; one method of the
application (``GrantLedger.handle``) records any of them, and the importer applies them to the
aggregates it holds. So a value refused in one place is refused in every other, with the same
sentence.

Field rules, one per kind of field:

- identifiers (grant, unit and base ids): 1 to 64 characters, no control character, not starting
  with ``-`` (an id is a command's argument, where it would read as an option);
- references (vouchers, document numbers, approval and rectification references, recommenders,
  rounds): 1 to 128 characters, no control character;
- free text (names, memos, reasons, opinions): at most 500 characters, a tab but no other
  control character (:mod:`ledger.text`);
- business dates: ``YYYY-MM-DD``, or as officers write them, ``2024/5/10``, ``2024.05.10``,
  ``2024年5月10日`` (:func:`ledger.text.read_date`), and nothing else;
- amounts: :func:`ledger.money.parse_amount` (Decimal, two places, positive, bounded).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Protocol, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from ledger.errors import BadInputError, ConflictError
from ledger.grant import BUDGET_SOURCES, Grant
from ledger.money import parse_amount
from ledger.policy import Policy
from ledger.rules import (
    CHECKS_APPLICATION,
    SOURCES,
    duties_separate,
    not_dated_ahead,
    projects_count,
    raise_first,
)
from ledger.text import (
    CONTROL,
    CONTROL_CHARACTERS,
    CONTROL_CHARACTERS_BUT_TAB,
    WHITE_SPACE,
    control_named,
    read_date,
)
from ledger.unit import UNIT_KINDS, RecommendationRound, Unit

IDENTIFIER_MAX = 64
REFERENCE_MAX = 128
TEXT_MAX = 500

# an id is a command's argument (history G1, balance B0001): one starting with "-" reads as an option
IDENTIFIER_RULE = (
    f"must be 1 to {IDENTIFIER_MAX} characters without control characters, not starting with '-'"
)
REFERENCE_RULE = f"must be 1 to {REFERENCE_MAX} characters without control characters"
TEXT_RULE = f"must be at most {TEXT_MAX} characters without control characters"
DATE_RULE = "is not a date; write it as YYYY-MM-DD (or 2024/05/10, 2024.05.10, 2024年5月10日)"


# The string rules run inside pydantic-core (no Python call per field: the importer validates
# every row); ``explain`` turns their errors back into the rules' sentences.
_IDENTIFIER = f"^[^{CONTROL_CHARACTERS}-][^{CONTROL_CHARACTERS}]*$"  # and not empty
_REFERENCE = f"^(?:[^{CONTROL_CHARACTERS}])+$"  # the same rule, spelled apart to name its sentence
_TEXT = f"^[^{CONTROL_CHARACTERS_BUT_TAB}]*$"
_RULES = {
    ("string_too_long", IDENTIFIER_MAX): IDENTIFIER_RULE,
    ("string_too_long", REFERENCE_MAX): REFERENCE_RULE,
    ("string_too_long", TEXT_MAX): TEXT_RULE,
    ("string_pattern_mismatch", _IDENTIFIER): IDENTIFIER_RULE,
    ("string_pattern_mismatch", _REFERENCE): REFERENCE_RULE,
    ("string_pattern_mismatch", _TEXT): TEXT_RULE,
    ("string_too_short", 1): "must not be empty",
}


def business_date(value: Any) -> date:
    if value.__class__ is date:
        return value
    if isinstance(value, datetime):  # a workbook's date cell
        return value.date()
    if isinstance(value, str):
        value = value.strip(WHITE_SPACE)  # as the other fields are stripped, typed or imported
        found = read_date(value)
        if found is not None:
            return found
    raise ValueError(f"{value!r} {DATE_RULE}")


def _amount(value: Any) -> Decimal:
    if isinstance(value, float):
        raise ValueError(f"{value!r} is a float; write the amount as text, e.g. 200000.00")
    try:
        return parse_amount(value, field="")
    except BadInputError as e:
        raise ValueError(e.message) from None


def _whole(value: Any) -> Any:
    """A whole number typed as text: ASCII digits only (int() also takes １, ٣ and 1_0, and
    pydantic 1.0)."""
    if isinstance(value, str):
        value = value.strip(WHITE_SPACE)
        if not (value.isascii() and value.isdigit()):
            raise ValueError(f"{value!r} is not a whole number; write it in digits, e.g. 2")
        return int(value)
    return value


def _source(value: str) -> str:
    if value not in SOURCES:
        raise ValueError(f"fund source {value!r} is unknown; use subsidy (财政补助) or matching (配套经费)")
    return value


def _budget_lines(lines: dict[str, Decimal]) -> dict[str, Decimal]:
    for key, value in lines.items():
        content, _, source = key.partition("/")
        if not content or source not in BUDGET_SOURCES or CONTROL.search(content):
            raise ValueError(f"budget line {key!r} is not content/source")
        if value < 0 or value != value.quantize(Decimal("0.01")):
            raise ValueError(f"budget line {key} has amount {value}; give zero or more, in fen")
    return {key: value.quantize(Decimal("0.01")) for key, value in lines.items()}


Identifier = Annotated[str, StringConstraints(max_length=IDENTIFIER_MAX, pattern=_IDENTIFIER)]
Reference = Annotated[str, StringConstraints(max_length=REFERENCE_MAX, pattern=_REFERENCE)]
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX, pattern=_TEXT)]
RequiredText = Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX, pattern=_TEXT)]
Amount = Annotated[Decimal, BeforeValidator(_amount)]
BusinessDate = Annotated[date, BeforeValidator(business_date)]
Source = Annotated[str, AfterValidator(_source)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]


class Books(Protocol):
    """Where an action finds the aggregates it changes: the application's store (one command) or
    the aggregates an import holds. A new aggregate is handed to ``add`` to be saved with the rest."""

    policy: Policy
    actor: str
    role: str

    def grant(self, grant_id: str) -> Grant: ...

    def find_grant(self, grant_id: str) -> Grant | None: ...

    def unit(self, unit_id: str) -> Unit: ...

    def find_unit(self, unit_id: str) -> Unit | None: ...

    def find_round(self, recommender: str, round_: str) -> RecommendationRound | None: ...

    def add(self, aggregate: Grant | Unit | RecommendationRound) -> None: ...


class Action(BaseModel):
    """One act a person records on its business date ``on``."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, defer_build=True)

    # its name in ledger.rules (who may record it: rules.role_may_record)
    name: ClassVar[str]
    # what the command prints, formatted with the action's fields
    done_text: ClassVar[str]
    repeat_text: ClassVar[str]

    on: BusinessDate

    def judge(self, policy: Policy, today: date) -> None:
        """Every rule judged on the action alone, before anything is loaded: its business date is
        not after ``today`` (Asia/Shanghai), then its own checks."""
        if self.on > today:
            subject = getattr(self, "grant_id", None) or getattr(self, "unit_id", None) or "the ledger"
            what = f"grant {subject}" if hasattr(self, "grant_id") else f"unit {subject}"
            raise_first([not_dated_ahead(self.name, what, self.on, today, policy)])
        self.check(policy)

    def check(self, policy: Policy) -> None:
        """The action's own rules on its fields alone (called by ``judge``)."""

    def decide(self, books: Books) -> bool:
        """Call the aggregates' methods; False when this exact act is already recorded."""
        raise NotImplementedError

    def done(self, books: Books) -> str:
        return self.done_text.format_map(vars(self))

    def repeat(self) -> str:
        return self.repeat_text.format_map(vars(self))

    def who(self, books: Books) -> dict[str, Any]:
        """When and by whom, as the aggregates' methods take it (the money acts, which an import
        records by the million, spell it out instead: no dict per row)."""
        return {"on": self.on, "actor": books.actor, "role": books.role, "policy": books.policy}


DUTIES_CHECKED = CHECKS_APPLICATION | {"rectify complete", "recover receive"}


def check_duties(action: Action, grant: Grant, books: Books) -> None:
    """Separation of duties (rules.duties_separate), for every path that records a grant's act."""
    if action.name not in DUTIES_CHECKED:
        return
    duties = getattr(grant, "duties", {})
    step = f"rectify {getattr(action, 'ref', '')}" if action.name == "rectify complete" else "recover"
    raise_first(
        [
            duties_separate(
                action.name, books.actor, duties.get("applied", []), duties.get(step, []), books.policy
            )
        ]
    )


class GrantAction(Action):
    """An act on one grant: load it, call its method."""

    grant_id: Identifier

    def decide(self, books: Books) -> bool:
        grant = books.grant(self.grant_id)
        check_duties(self, grant, books)
        return self.apply(grant, books)

    def apply(self, grant: Grant, books: Books) -> bool:
        raise NotImplementedError


# ----------------------------------------------------------------------------- units and selection


class RegisterUnit(Action):
    name = "unit register"
    unit_id: Identifier
    unit_name: RequiredText
    kind: str = "technical_school"

    def check(self, policy: Policy) -> None:
        if self.kind not in UNIT_KINDS:
            msg = f"unit kind {self.kind!r} is unknown; use one of {', '.join(UNIT_KINDS)}"
            raise BadInputError(msg)

    def decide(self, books: Books) -> bool:
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
                )
            )
            return True
        if (unit.name, unit.kind) == (self.unit_name, self.kind):
            return False
        msg = (
            f"unit {self.unit_id} is already registered as {unit.name!r} ({unit.kind}); "
            "a unit id is registered once"
        )
        raise ConflictError(msg)

    def done(self, books: Books) -> str:
        return f"registered unit {self.unit_id} {self.unit_name}"

    def repeat(self) -> str:
        return f"unit {self.unit_id} is already registered"


class Apply(Action):
    name = "grant apply"
    done_text = "recorded the application of grant {grant_id} for base {base_id}"
    repeat_text = "grant {grant_id} is already recorded"
    grant_id: Identifier
    unit_id: Identifier
    base_id: Identifier
    base_name: Text = ""
    programme: Identifier
    projects: tuple[Text, ...]
    requested: Amount

    def check(self, policy: Policy) -> None:
        raise_first([projects_count(policy.programme(self.programme), self.projects, policy)])

    def decide(self, books: Books) -> bool:
        grant = books.find_grant(self.grant_id)
        if grant is not None:
            same = (grant.unit_id, grant.base_id, grant.programme, grant.requested) == (
                self.unit_id,
                self.base_id,
                self.programme,
                self.requested,
            )
            if same:
                return False
            msg = (
                f"grant {self.grant_id} is already recorded for unit {grant.unit_id}, base "
                f"{grant.base_id} ({grant.programme}); a grant id is used once"
            )
            raise ConflictError(msg)
        programme = books.policy.programme(self.programme)
        books.unit(self.unit_id).take_base(
            base_id=self.base_id,
            grant_id=self.grant_id,
            programme=programme,
            on=self.on,
            actor=books.actor,
            role=books.role,
            policy=books.policy,
        )
        books.add(
            Grant.create(
                grant_id=self.grant_id,
                unit_id=self.unit_id,
                base_id=self.base_id,
                base_name=self.base_name,
                programme=self.programme,
                level=programme.level,
                projects=list(self.projects),
                requested=self.requested,
                on=self.on,
                actor=books.actor,
                role=books.role,
            )
        )
        return True


class Recommend(GrantAction):
    """Counted against the recommender's quota for the round (002 五(一))."""

    name = "grant recommend"
    done_text = "recorded {recommender}'s recommendation of grant {grant_id} ({round_})"
    repeat_text = "the recommendation of grant {grant_id} is already recorded"
    recommender: Reference
    round_: Reference
    rank: int | None = Field(default=None, ge=1, le=100)

    def apply(self, grant: Grant, books: Books) -> bool:
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
    done_text = "recorded the expert review of grant {grant_id}"
    repeat_text = "the expert review of grant {grant_id} is already recorded"
    panel: int = Field(ge=0, le=1000)
    recommended: bool
    opinion: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.record_review(
            panel=self.panel, recommended=self.recommended, opinion=self.opinion, **self.who(books)
        )


class Notice(GrantAction):
    name = "grant notice"
    done_text = "recorded the public notice of grant {grant_id}"
    repeat_text = "the public notice of grant {grant_id} is already recorded"
    start: BusinessDate
    end: BusinessDate
    objections: Count = 0
    where: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.record_notice(
            start=self.start, end=self.end, objections=self.objections, where=self.where, **self.who(books)
        )


class Approve(GrantAction):
    """No bodies given: the bodies the programme requires."""

    name = "grant approve"
    done_text = "approved grant {grant_id}"
    repeat_text = "grant {grant_id} is already approved"
    amount: Amount
    document: Reference
    bodies: tuple[Text, ...] = ()
    build_start: BusinessDate | None = None
    build_end: BusinessDate | None = None

    def apply(self, grant: Grant, books: Books) -> bool:
        if grant.status == "approved" and (grant.approved, grant.document) == (self.amount, self.document):
            return False
        bodies = list(self.bodies) or list(books.policy.programme(grant.programme).approving_bodies)
        grant.approve(
            amount=self.amount,
            document=self.document,
            bodies=bodies,
            build_start=self.build_start,
            build_end=self.build_end,
            **self.who(books),
        )
        return True


class ApprovedElsewhere(Action):
    """A grant approved outside the ledger, brought in by an import: its unit (registered here
    when new), its application and its approval; the selection steps are not replayed. A grant
    applied for in this ledger is approved as ``grant approve`` approves it: after its selection."""

    name = "grant approve"
    done_text = "recorded grant {grant_id}, approved elsewhere"
    repeat_text = "grant {grant_id} is already approved"
    grant_id: Identifier
    unit_id: Identifier
    base_id: Identifier
    programme: Identifier
    amount: Amount
    document: Reference
    build_start: BusinessDate | None = None
    build_end: BusinessDate | None = None
    base_name: Text = ""
    unit_name: Text = ""

    def decide(self, books: Books) -> bool:
        programme = books.policy.programme(self.programme)
        grant = books.find_grant(self.grant_id)
        elsewhere = grant is None
        if grant is not None:
            if (grant.unit_id, grant.base_id, grant.programme) != (
                self.unit_id,
                self.base_id,
                programme.code,
            ):
                msg = (
                    f"grant {self.grant_id} is already recorded for unit {grant.unit_id}, base "
                    f"{grant.base_id} ({grant.programme})"
                )
                raise ConflictError(msg)
            same = (grant.approved, grant.document) == (self.amount, self.document)
            if grant.status != "applied" and grant.status != "rejected" and same:
                return False
            # otherwise approve refuses a grant rejected, or approved with other terms, as it
            # refuses grant approve (exit 3)
        else:
            unit = books.find_unit(self.unit_id)
            if unit is None:
                unit = Unit.register(
                    unit_id=self.unit_id,
                    name=self.unit_name or self.unit_id,
                    kind="other",
                    on=self.on,
                    actor=books.actor,
                    role=books.role,
                )
                books.add(unit)
            unit.take_base(
                base_id=self.base_id,
                grant_id=self.grant_id,
                programme=programme,
                on=self.on,
                actor=books.actor,
                role=books.role,
                policy=books.policy,
            )
            grant = Grant.create(
                grant_id=self.grant_id,
                unit_id=self.unit_id,
                base_id=self.base_id,
                base_name=self.base_name or self.base_id,
                programme=programme.code,
                level=programme.level,
                projects=[],
                requested=self.amount,
                on=self.on,
                actor=books.actor,
                role=books.role,
            )
            books.add(grant)
        grant.approve(
            amount=self.amount,
            document=self.document,
            bodies=list(programme.approving_bodies),
            build_start=self.build_start,
            build_end=self.build_end,
            imported=elsewhere,
            **self.who(books),
        )
        return True


class Reject(GrantAction):
    """The unit's base slot is released (Unit.BaseReleased)."""

    name = "grant reject"
    repeat_text = "grant {grant_id} is already rejected"
    reason: RequiredText
    document: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        if not grant.reject(reason=self.reason, document=self.document, **self.who(books)):
            return False
        books.unit(grant.unit_id).release_base(
            base_id=grant.base_id,
            reason=f"grant {self.grant_id} rejected",
            on=self.on,
            actor=books.actor,
            role=books.role,
        )
        return True

    def done(self, books: Books) -> str:
        return f"rejected grant {self.grant_id}; base {books.grant(self.grant_id).base_id} released"


class RegisterBudget(GrantAction):
    """The budget plan of 003 表4-2: ``content/source`` → amount, source a key of BUDGET_SOURCES."""

    name = "grant budget"
    repeat_text = "the budget plan of grant {grant_id} is already registered"
    lines: Annotated[dict[str, Decimal], AfterValidator(_budget_lines)]

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.register_budget(lines=dict(self.lines), **self.who(books))

    def done(self, books: Books) -> str:
        return f"registered the budget plan of grant {self.grant_id} ({len(self.lines)} lines)"


class AdjustBudget(GrantAction):
    name = "grant adjust"
    done_text = "adjusted the budget of grant {grant_id}"
    repeat_text = "this budget adjustment of grant {grant_id} is already recorded"
    lines: Annotated[dict[str, Decimal], AfterValidator(_budget_lines)]
    approval: Reference
    reason: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.adjust_budget(
            lines=dict(self.lines), approval=self.approval, reason=self.reason, **self.who(books)
        )


# ----------------------------------------------------------------------------- money


class Disburse(GrantAction):
    name = "disburse"
    done_text = "recorded disbursement {voucher} to grant {grant_id}"
    repeat_text = "disbursement {voucher} of grant {grant_id} is already recorded"
    amount: Amount
    voucher: Reference
    tranche: Annotated[int, BeforeValidator(_whole), Field(ge=1, le=100)] = 1

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.disburse(
            amount=self.amount,
            voucher=self.voucher,
            tranche=self.tranche,
            on=self.on,
            actor=books.actor,
            role=books.role,
            policy=books.policy,
        )


class CommitMatching(GrantAction):
    name = "match commit"
    done_text = "recorded matching commitment {voucher} to grant {grant_id}"
    repeat_text = "matching commitment {voucher} of grant {grant_id} is already recorded"
    amount: Amount
    voucher: Reference
    funder: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.commit_matching(
            amount=self.amount,
            voucher=self.voucher,
            funder=self.funder,
            on=self.on,
            actor=books.actor,
            role=books.role,
            policy=books.policy,
        )


class ReceiveMatching(GrantAction):
    name = "match receive"
    done_text = "recorded matching receipt {voucher} to grant {grant_id}"
    repeat_text = "matching receipt {voucher} of grant {grant_id} is already recorded"
    amount: Amount
    voucher: Reference

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.receive_matching(
            amount=self.amount,
            voucher=self.voucher,
            on=self.on,
            actor=books.actor,
            role=books.role,
            policy=books.policy,
        )


class Spend(GrantAction):
    name = "spend"
    done_text = "recorded expenditure {voucher} of grant {grant_id}"
    repeat_text = "expenditure {voucher} of grant {grant_id} is already recorded"
    amount: Amount
    category: RequiredText
    source: Source
    voucher: Reference
    content: Text = ""
    project: Text = ""
    payee: Text = ""
    memo: Text = ""
    attachments: tuple[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")], ...] = ()

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.spend(
            amount=self.amount,
            category=self.category,
            source=self.source,
            content=self.content,
            project=self.project,
            voucher=self.voucher,
            payee=self.payee,
            memo=self.memo,
            attachments=list(self.attachments),
            on=self.on,
            actor=books.actor,
            role=books.role,
            policy=books.policy,
        )


class Reverse(GrantAction):
    name = "reverse"
    done_text = "reversed expenditure {voucher} of grant {grant_id}"
    repeat_text = "the reversal of {voucher} of grant {grant_id} is already recorded"
    voucher: Reference
    reason: RequiredText

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.reverse(voucher=self.voucher, reason=self.reason, **self.who(books))


# ----------------------------------------------------------------------------- oversight


class ReportOutput(GrantAction):
    name = "output report"
    done_text = "recorded the {year} outputs of grant {grant_id}"
    repeat_text = "the {year} outputs of grant {grant_id} are already recorded"
    year: int = Field(ge=2000, le=2100)
    trainees: Count
    advanced: Count = 0
    evaluations: Count = 0
    advanced_evaluations: Count = 0

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.report_output(
            year=self.year,
            trainees=self.trainees,
            advanced=self.advanced,
            evaluations=self.evaluations,
            advanced_evaluations=self.advanced_evaluations,
            **self.who(books),
        )


class Evaluate(GrantAction):
    name = "evaluate"
    done_text = "recorded the {kind} evaluation of grant {grant_id}: {result}"
    repeat_text = "the {kind} evaluation of grant {grant_id} is already recorded"
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
    repeat_text = "rectification {ref} of grant {grant_id} is already ordered"
    ref: Reference
    finding: RequiredText
    deadline: BusinessDate

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.order_rectification(
            ref=self.ref, finding=self.finding, deadline=self.deadline, **self.who(books)
        )

    def done(self, books: Books) -> str:
        return f"ordered rectification {self.ref} of grant {self.grant_id}, due {self.deadline.isoformat()}"


class CompleteRectification(GrantAction):
    name = "rectify complete"
    done_text = "recorded rectification {ref} of grant {grant_id} as completed"
    repeat_text = "rectification {ref} of grant {grant_id} is already completed"
    ref: Reference
    note: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.complete_rectification(ref=self.ref, note=self.note, **self.who(books))


class AddToDossier(GrantAction):
    name = "dossier add"
    repeat_text = "that document is already in the dossier of grant {grant_id}"
    kind: str
    title: RequiredText
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.add_dossier(kind=self.kind, title=self.title, sha256=self.sha256, **self.who(books))

    def done(self, books: Books) -> str:
        return (
            f"recorded {self.kind} '{self.title}' (sha256 {self.sha256[:12]}…) in the dossier of "
            f"grant {self.grant_id}"
        )


# ----------------------------------------------------------------------------- end of life


class OrderRecovery(GrantAction):
    name = "recover order"
    done_text = "ordered recovery {document} from grant {grant_id}"
    repeat_text = "recovery order {document} of grant {grant_id} is already recorded"
    amount: Amount
    reason: RequiredText
    document: Reference

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.order_recovery(
            amount=self.amount, reason=self.reason, document=self.document, **self.who(books)
        )


class ReceiveRecovery(GrantAction):
    name = "recover receive"
    done_text = "recorded recovery {voucher} of grant {grant_id}"
    repeat_text = "recovery {voucher} of grant {grant_id} is already recorded"
    amount: Amount
    voucher: Reference

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.receive_recovery(amount=self.amount, voucher=self.voucher, **self.who(books))


class Dispose(GrantAction):
    name = "dispose"
    done_text = "disposed of {amount} of {source} of grant {grant_id} ({how})"
    repeat_text = "this disposal of grant {grant_id} is already recorded"
    source: Source
    amount: Amount
    how: str
    approval: Reference

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.dispose(
            source=self.source, amount=self.amount, how=self.how, approval=self.approval, **self.who(books)
        )


class Close(GrantAction):
    name = "grant close"
    done_text = "closed grant {grant_id}"
    repeat_text = "grant {grant_id} is already closed"
    document: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.close(document=self.document, **self.who(books))


# ----------------------------------------------------------------------------- building one

A = TypeVar("A", bound=Action)


def build(action: type[A], label: Callable[[str], str] = str, /, **values: Any) -> A:
    """The action, or BadInputError with one sentence: the field (as ``label`` names it: an
    option of the command line, a column of the import), the rule, the value given."""
    try:
        return action(**values)
    except ValidationError as e:
        raise BadInputError(explain(e, label)) from None


def explain(error: ValidationError, label: Callable[[str], str] = str) -> str:
    first = error.errors(include_url=False)[0]
    field = label(str(first["loc"][0])) if first["loc"] else "input"
    ctx = first.get("ctx") or {}
    limit = ctx.get("max_length", ctx.get("min_length", ctx.get("pattern")))
    message = _RULES.get((first["type"], limit)) or str(first["msg"]).removeprefix("Value error, ")
    shown = first.get("input")
    got = ""
    if isinstance(shown, str | int) and len(str(shown)) < 80 and repr(shown) not in message:
        got = f" (got {shown!r})"
    hidden = CONTROL.search(shown) if first["type"] == "string_pattern_mismatch" else None
    if hidden is not None:
        got += f": it holds {control_named(hidden.group())}"
    return f"{field}: {message}{got}"
