"""The Grant aggregate: one base's subsidy under one programme, its lifecycle and its money.

Fund sources are ring-fenced sub-ledgers (003 第十条): ``subsidy`` (财政补助) and ``matching``
(配套经费). Every event carries who recorded it (actor, role) and its business date
(``occurred_on``); the store adds the recorded time (``timestamp``).
"""

from __future__ import annotations

import hashlib
from bisect import insort
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import MISSING, fields
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.encoding import fingerprint_body
from ledger.errors import BadInputError, ConflictError, NotFoundError, ReversedVoucherError
from ledger.i18n import N_, T_, Text, _
from ledger.money import ZERO, format_yuan
from ledger.policy import Policy
from ledger.rules import (
    BUDGET_SOURCES,
    BUDGET_TO_FUND,
    Act,
    Breach,
    LineRoom,
    approval_after_application,
    approval_reference,
    approved_before_money,
    approved_by_its_bodies,
    balance_settled,
    build_period_extended,
    build_period_of_programme,
    built_from_approval,
    closed_after_its_acts,
    completed_after_ordered,
    final_evaluation_passed,
    greatest_balance,
    in_selection,
    institute_overseen,
    last_day_of_years,
    least_balance,
    least_line_room,
    line_book,
    lines_of,
    no_money_programme,
    no_open_rectification,
    notice_long_enough,
    panel_size,
    plan_changed,
    plan_line,
    plan_on,
    plan_within_subsidy,
    raise_first,
    recommended_first,
    recommended_in_time,
    recoveries_settled,
    refuse_breaches,
    reviewed_by_its_authority_first,
    selection_complete,
    subsidy_amount_in_range,
    unanswered_from,
)
from ledger.snapshot_points import snapshot_every

# Receipts an import file will bring in after the row being judged, by grant, fund source and ISO
# business date (ledger.importing: ``coming``), counted in the ring-fence's headroom of that
# import alone. The import is one transaction and checks, at its end, that every date's balance
# holds without them; per thread, so no other act in the process is judged with them.
COMING: ContextVar[Mapping[str, Mapping[str, Mapping[str, Decimal]]] | None] = ContextVar(
    "coming_receipts", default=None
)
# COMING's book of the tranches the file reverses later (negative): counted in the subsidy received
# that a tranche is judged against, as its receipts are in the ring-fence
RECEIVED_LESS = "received_less"

# the clauses of the district's selection order (003 第七条), which other programmes do not cite
DISTRICT_SELECTION = frozenset({"approval_first", "expert_review"})

__all__ = ["BUDGET_SOURCES", "BUDGET_TO_FUND", "Grant", "budget_source", "fingerprint", "grant_uuid"]

GRANT_NAMESPACE = uuid5(NAMESPACE_URL, "https://grant-ledger/grant")
EVALUATION_KINDS = ("mid_term", "final", "third_party_audit", "performance")
EVALUATION_RESULTS = ("pass", "rectify", "fail")
DOSSIER_KINDS = ("application", "approval", "activity", "achievement", "summary", "image")
DISPOSALS = ("returned", "carried_forward")
# what ``reverse`` takes a voucher of: its kind -> what it is called
REVERSIBLE = {
    "spend": N_("expenditure"),
    "disburse": N_("disbursement"),
    "match_commit": N_("matching commitment"),
    "match_receive": N_("matching receipt"),
}


def kinds_named(kinds: Sequence[str]) -> str:
    """Kinds of money act (``REVERSIBLE``'s) named for a person: ``disbursement (disburse) and
    matching receipt (match_receive)``."""
    named = [f"{_(REVERSIBLE[k])} ({k})" for k in kinds]
    if len(named) == 2:
        return _("{first} and {second}").format(first=named[0], second=named[1])
    return ", ".join(named)


# a receipt's kind -> the rules' action of its reversal and the fund source it moves
RECEIPT_ACTIONS = {
    "disburse": ("reverse receipt", "subsidy"),
    "match_commit": ("reverse commitment", "matching"),
    "match_receive": ("reverse receipt", "matching"),
}


def budget_source(text: str) -> str:
    key = text.strip()
    for code, zh in BUDGET_SOURCES.items():
        if key in (code, zh):
            return code
    msg = T_(
        "budget source {text!r} is unknown; use local_finance (地方财政), industry (行业企业) or other "
        "(其他)",
        text=text,
    )
    raise BadInputError(msg)


def grant_uuid(grant_id: str) -> UUID:
    return uuid5(GRANT_NAMESPACE, grant_id)


def fingerprint(kind: str, fields: dict[str, Any]) -> str:
    """What makes two recordings of one voucher 'the same command' (idempotent retries): the
    kind and the fields' values in the order of their sorted names, joined by U+001F (which no
    field may hold), as ``2|…``, or ``2#`` and the sha256 of that text when it is long.

    Stored snapshots hold these, so their form never changes; snapshots taken before this form
    hold :func:`fingerprint_v1` values, still recognised (``Grant.already_recorded``).
    """
    names = tuple(fields)
    order = _ORDERS.get(names)
    if order is None:
        order = _ORDERS[names] = tuple(sorted(names))
    values = [str(fields[name]) for name in order]
    body = "\x1f".join([kind, *values])
    if body.count("\x1f") != len(values):  # a value holding the separator: never ambiguous
        return "2#" + fingerprint_v1(kind, fields)
    if len(body) > 62:
        return "2#" + hashlib.sha256(body.encode()).hexdigest()
    return "2|" + body


_ORDERS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _attached(attachments: list[str]) -> str:
    """A spend's attachments (sha256 digests) as the grant keeps them: each once, in order."""
    return ",".join(sorted(set(attachments)))


def _memo_kept(memo: str) -> str:
    """A spend's memo as the grant keeps it to compare a retype with: nothing for none, else a
    digest (the memo itself is in the event; a long one would weigh on every snapshot)."""
    return hashlib.sha256(memo.encode()).hexdigest()[:32] if memo else ""


def _same_memo(spent: dict[str, Any], memo: str) -> bool:
    """Whether a spend typed again has the memo recorded (DESIGN: the same content). One kept by
    an earlier version's snapshot is not known, and any is taken (the fingerprint, which leaves
    the memo out, decides the rest)."""
    kept = spent.get("memo")
    return kept is None or kept == _memo_kept(memo)


def fingerprint_v1(kind: str, fields: dict[str, Any]) -> str:
    """The first form: the sha256 of ``json.dumps({"kind": kind, **fields}, sort_keys=True,
    default=str, ensure_ascii=False)`` (64 hexadecimal digits)."""
    return hashlib.sha256(fingerprint_body({"kind": kind, **fields}).encode()).hexdigest()


class _Shape(NamedTuple):
    names: frozenset[str]
    required: frozenset[str]
    defaults: dict[str, Any]
    plain: bool  # no field made by a default factory: the event can be built from a dict


_SHAPES: dict[type, _Shape] = {}


def _shape(event_class: type) -> _Shape:
    shape = _SHAPES.get(event_class)
    if shape is None:
        every = fields(event_class)
        defaults = {f.name: f.default for f in every if f.default is not MISSING}
        names = frozenset(f.name for f in every)
        plain = all(f.default_factory is MISSING for f in every)
        shape = _SHAPES[event_class] = _Shape(names, names - defaults.keys(), defaults, plain)
    return shape


def line_books(expenditures: Any) -> tuple[dict[str, dict[str, Decimal]], dict[str, str]]:
    """Each budget line's ("content/source") net spending per ISO date and its latest date, from a
    grant's expenditures (each reversed one out again on its reversal's date)."""
    days: dict[str, dict[str, Decimal]] = {}
    last: dict[str, str] = {}
    for voucher in expenditures:
        spent = expenditures.get(voucher)  # not [] : an import's kept entries stay on disk
        key = f"{spent['content']}/{spent['source']}"
        book = days.setdefault(key, {})
        moves = [(spent["on"], spent["amount"])]
        if spent["reversed"]:
            moves.append((spent["reversed_on"], -spent["amount"]))
        for on, change in moves:
            book[on] = book.get(on, ZERO) + change
            if on > last.get(key, ""):
                last[key] = on
    return days, last


def _with_coming(held: Mapping[str, Decimal], coming: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """A book by ISO date (a dict, or an import's index of it: keys and items by key) with what an
    import's file brings in later (``COMING``) added on its dates."""
    book = {day: held[day] for day in held}
    for day, amount in coming.items():
        book[day] = book.get(day, ZERO) + amount
    return book


@snapshot_every(50)
class Grant(Aggregate):
    TOPIC = "grant-ledger:Grant"

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        """Aggregate.trigger_event, built without the frozen dataclass's ``__init__`` (a
        ``setattr`` per field: a fifth of the cost of an imported row); every event class of
        this module is a frozen dataclass whose ``__post_init__`` only checks the UUID it is
        given here."""
        kwargs["originator_id"] = self.id
        kwargs["originator_version"] = self.version + 1
        kwargs["timestamp"] = event_class.create_timestamp()
        shape = _shape(event_class)
        if shape.plain and shape.required <= kwargs.keys() <= shape.names:
            event = object.__new__(event_class)
            event.__dict__.update(shape.defaults, **kwargs)
        else:  # the dataclass's own __init__: its default factories, its TypeError naming a field
            event = event_class(**kwargs)
        event.apply(self)  # what Event.mutate does, but for its checks of the id and version set here
        self.version = kwargs["originator_version"]
        self.modified_on = kwargs["timestamp"]
        self._pending_events.append(event)

    class Event(Aggregate.Event):
        TOPIC = "grant-ledger:Grant.Event"
        actor: str
        role: str
        occurred_on: date

    class Applied(Event, Aggregate.Created):
        TOPIC = "grant-ledger:Grant.Applied"
        grant_id: str
        unit_id: str
        base_id: str
        base_name: str
        programme: str
        level: str
        projects: list[str]
        requested: Decimal
        # the unit's kind when it applied, and the figures it declared against the programme's
        # application conditions (absent from events stored before them)
        unit_kind: str = ""
        declared: dict[str, int] | None = None
        track: str = ""  # a municipal base's kind (002 二(二): 国际合作类, 数字技能类, 其他类); "": none

        def apply(self, grant: Grant) -> None:
            grant.grant_id = self.grant_id
            grant.unit_id = self.unit_id
            grant.base_id = self.base_id
            grant.base_name = self.base_name
            grant.programme = self.programme
            grant.level = self.level
            grant.projects = list(self.projects)
            grant.requested = self.requested
            grant.declared = dict(self.declared) if self.declared else None
            grant.applied_on = self.occurred_on
            grant.track = self.track
            grant.status = "applied"
            grant.duties = {"applied": [self.actor]}

    class Approved(Event):
        TOPIC = "grant-ledger:Grant.Approved"
        amount: Decimal
        document: str
        bodies: list[str]
        build_start: date
        build_end: date
        tier: str = ""  # a national base's tier (002 二(一): A, B, C or D); "": none given

        def apply(self, grant: Grant) -> None:
            grant.status = "approved"
            grant.approved = self.amount
            grant.document = self.document
            grant.bodies = list(self.bodies)
            grant.approved_on = self.occurred_on
            grant.build_start = self.build_start
            grant.build_end = self.build_end
            grant.tier = self.tier
            if grant.extensions is not None:
                grant.extensions[""] = self.build_end.isoformat()  # "": the approval's, before any date

    class Extended(Event):
        """The build period extended by its own approval document (``grant extend``)."""

        TOPIC = "grant-ledger:Grant.Extended"
        end: date
        document: str

        def apply(self, grant: Grant) -> None:
            grant.build_end = self.end
            if grant.extensions is not None:
                day, end = self.occurred_on.isoformat(), self.end.isoformat()
                grant.extensions[day] = max(grant.extensions.get(day, ""), end)

    class SubsidyDisbursed(Event):
        TOPIC = "grant-ledger:Grant.SubsidyDisbursed"
        amount: Decimal
        voucher: str
        tranche: int

        def apply(self, grant: Grant) -> None:
            grant.subsidy_received += self.amount
            grant.received_on(self.occurred_on, self.amount)
            grant.moved("subsidy", self.occurred_on, self.amount)
            grant.remember("disburse", self.voucher, grant.disburse_fields(self))
            grant.receipts[f"disburse/{self.voucher}"] = [self.amount, self.occurred_on.isoformat()]

    class MatchingCommitted(Event):
        TOPIC = "grant-ledger:Grant.MatchingCommitted"
        amount: Decimal
        voucher: str
        funder: str

        def apply(self, grant: Grant) -> None:
            grant.matching_committed += self.amount
            grant.remember("match_commit", self.voucher, grant.commit_fields(self))
            grant.receipts[f"match_commit/{self.voucher}"] = [self.amount, self.occurred_on.isoformat()]

    class MatchingReceived(Event):
        TOPIC = "grant-ledger:Grant.MatchingReceived"
        amount: Decimal
        voucher: str

        def apply(self, grant: Grant) -> None:
            grant.matching_received += self.amount
            grant.moved("matching", self.occurred_on, self.amount)
            grant.remember("match_receive", self.voucher, grant.receive_fields(self))
            grant.receipts[f"match_receive/{self.voucher}"] = [self.amount, self.occurred_on.isoformat()]

    class ExpenditureRecorded(Event):
        TOPIC = "grant-ledger:Grant.ExpenditureRecorded"
        amount: Decimal
        category: str
        source: str
        content: str
        project: str
        voucher: str
        payee: str
        memo: str
        attachments: list[str]

        def apply(self, grant: Grant) -> None:
            grant.spent[self.source] += self.amount
            grant.moved(self.source, self.occurred_on, -self.amount)
            grant.moved_line(f"{self.content}/{self.source}", self.occurred_on, self.amount)
            grant.expenditures[self.voucher] = {
                "amount": self.amount,
                "source": self.source,
                "category": self.category,
                "content": self.content,
                "reversed": False,
                "on": self.occurred_on.isoformat(),
                # its memo, compared when the spend is typed again (a snapshot an earlier version
                # took holds none: nothing to compare with then, _same_memo)
                "memo": _memo_kept(self.memo),
            }
            if self.attachments:  # what a spend typed again must name (Grant._same_attachments)
                grant.expenditures[self.voucher]["attachments"] = _attached(self.attachments)
            grant.remember("spend", self.voucher, grant.spend_fields(self))

    class ExpenditureReversed(Event):
        TOPIC = "grant-ledger:Grant.ExpenditureReversed"
        voucher: str
        reason: str
        amount: Decimal
        source: str
        category: str
        content: str
        # the reversed expenditure's date, for the judge (not in events stored before it)
        spent_on: date | None

        def apply(self, grant: Grant) -> None:
            grant.spent[self.source] -= self.amount
            grant.moved(self.source, self.occurred_on, self.amount)
            grant.moved_line(f"{self.content}/{self.source}", self.occurred_on, -self.amount)
            grant.expenditures[self.voucher]["reversed"] = True
            grant.expenditures[self.voucher]["reversed_on"] = self.occurred_on.isoformat()
            grant.remember("reverse", self.voucher, grant.reverse_fields(self))

    # The reversal of a receipt or commitment (a compensating event: the original stays): one
    # class per act reversed, so each has one reading (projections.measures.MOVES).
    class DisbursementReversed(Event):
        TOPIC = "grant-ledger:Grant.DisbursementReversed"
        voucher: str
        reason: str
        amount: Decimal
        received_on: date  # the reversed act's date

        def apply(self, grant: Grant) -> None:
            grant.subsidy_received -= self.amount
            grant.received_on(self.occurred_on, -self.amount)
            grant.moved("subsidy", self.occurred_on, -self.amount)
            grant.undo_receipt("disburse", self.voucher, self.reason, self.occurred_on)

    class MatchingCommitmentReversed(Event):
        TOPIC = "grant-ledger:Grant.MatchingCommitmentReversed"
        voucher: str
        reason: str
        amount: Decimal
        received_on: date

        def apply(self, grant: Grant) -> None:
            grant.matching_committed -= self.amount
            grant.undo_receipt("match_commit", self.voucher, self.reason, self.occurred_on)

    class MatchingReceiptReversed(Event):
        TOPIC = "grant-ledger:Grant.MatchingReceiptReversed"
        voucher: str
        reason: str
        amount: Decimal
        received_on: date

        def apply(self, grant: Grant) -> None:
            grant.matching_received -= self.amount
            grant.moved("matching", self.occurred_on, -self.amount)
            grant.undo_receipt("match_receive", self.voucher, self.reason, self.occurred_on)

    class Recommended(Event):
        TOPIC = "grant-ledger:Grant.Recommended"
        recommender: str
        round: str
        rank: int | None

        def apply(self, grant: Grant) -> None:
            grant.recommendation = {"recommender": self.recommender, "round": self.round, "rank": self.rank}

    class ReviewRecorded(Event):
        TOPIC = "grant-ledger:Grant.ReviewRecorded"
        panel: int
        recommended: bool
        opinion: str
        # why an earlier review is replaced (empty on a first review, and in events stored before it)
        rereview_reason: str = ""

        def apply(self, grant: Grant) -> None:
            grant.review = {"panel": self.panel, "recommended": self.recommended}
            grant.reviews += 1
            grant.review_on = self.occurred_on
            grant.review_reason = self.rereview_reason

    class NoticeRecorded(Event):
        TOPIC = "grant-ledger:Grant.NoticeRecorded"
        start: date
        end: date
        objections: int
        where: str

        def apply(self, grant: Grant) -> None:
            grant.notice = {"start": self.start, "end": self.end, "objections": self.objections}
            grant.notice_review = grant.reviews
            grant.objections_resolved = None

    class ObjectionsResolved(Event):
        TOPIC = "grant-ledger:Grant.ObjectionsResolved"
        document: str
        objections: int

        def apply(self, grant: Grant) -> None:
            grant.objections_resolved = self.document

    class Rejected(Event):
        TOPIC = "grant-ledger:Grant.Rejected"
        reason: str
        document: str

        def apply(self, grant: Grant) -> None:
            grant.status = "rejected"

    class BudgetRegistered(Event):
        TOPIC = "grant-ledger:Grant.BudgetRegistered"
        lines: dict[str, Decimal]

        def apply(self, grant: Grant) -> None:
            grant.budget = dict(self.lines)
            if grant.plans is not None:
                grant.plans.append([self.occurred_on.isoformat(), dict(self.lines)])
                grant.line_days, grant.line_last = line_books(grant.expenditures)

    class BudgetAdjusted(Event):
        TOPIC = "grant-ledger:Grant.BudgetAdjusted"
        lines: dict[str, Decimal]
        approval: str
        reason: str

        def apply(self, grant: Grant) -> None:
            grant.budget.update(self.lines)
            if grant.plans is not None:
                grant.plans.append([self.occurred_on.isoformat(), dict(self.lines)])

    class OutputReported(Event):
        TOPIC = "grant-ledger:Grant.OutputReported"
        year: int
        trainees: int
        advanced: int
        evaluations: int
        advanced_evaluations: int
        # True: a correction of the year's earlier report (output report --corrects YEAR), which
        # it replaces; events stored before it hold no such field and read False
        corrects: bool = False

        def apply(self, grant: Grant) -> None:
            grant.outputs[str(self.year)] = [
                self.trainees,
                self.advanced,
                self.evaluations,
                self.advanced_evaluations,
            ]
            # the date of the year's latest report; snapshots taken before it was kept hold none
            grant.__dict__.setdefault("output_dates", {})[str(self.year)] = self.occurred_on.isoformat()

    class EvaluationRecorded(Event):
        TOPIC = "grant-ledger:Grant.EvaluationRecorded"
        kind: str
        result: str
        evaluator: str
        summary: str

        def apply(self, grant: Grant) -> None:
            grant.evaluations.append({"kind": self.kind, "result": self.result, "on": self.occurred_on})

    class RectificationOrdered(Event):
        TOPIC = "grant-ledger:Grant.RectificationOrdered"
        ref: str
        finding: str
        deadline: date

        def apply(self, grant: Grant) -> None:
            grant.rectifications[self.ref] = {
                "finding": self.finding,
                "deadline": self.deadline,
                "done": None,
                "ordered_on": self.occurred_on,
            }
            grant.duties.setdefault(f"rectify {self.ref}", []).append(self.actor)

    class RectificationCompleted(Event):
        TOPIC = "grant-ledger:Grant.RectificationCompleted"
        ref: str
        note: str

        def apply(self, grant: Grant) -> None:
            grant.rectifications[self.ref]["done"] = self.occurred_on

    class DossierRecorded(Event):
        TOPIC = "grant-ledger:Grant.DossierRecorded"
        kind: str
        title: str
        sha256: str

        def apply(self, grant: Grant) -> None:
            grant.dossier.append(self.sha256)

    class RecoveryOrdered(Event):
        TOPIC = "grant-ledger:Grant.RecoveryOrdered"
        amount: Decimal
        reason: str
        document: str

        def apply(self, grant: Grant) -> None:
            grant.recovery_ordered += self.amount
            first = grant.recovery_ordered_on
            grant.recovery_ordered_on = self.occurred_on if first is None else min(first, self.occurred_on)
            if grant.recovery_days is not None:
                day = self.occurred_on.isoformat()
                grant.recovery_days[day] = grant.recovery_days.get(day, ZERO) + self.amount
            grant.remember("recover_order", self.document, {"amount": self.amount, "reason": self.reason})
            grant.duties.setdefault("recover", []).append(self.actor)

    class FundsRecovered(Event):
        TOPIC = "grant-ledger:Grant.FundsRecovered"
        amount: Decimal
        voucher: str

        def apply(self, grant: Grant) -> None:
            grant.recovered += self.amount
            if grant.recovery_days is not None:
                day = self.occurred_on.isoformat()
                grant.recovery_days[day] = grant.recovery_days.get(day, ZERO) - self.amount
            grant.moved("subsidy", self.occurred_on, -self.amount)
            grant.remember("recover", self.voucher, {"amount": self.amount, "on": self.occurred_on})

    class BalanceDisposed(Event):
        TOPIC = "grant-ledger:Grant.BalanceDisposed"
        source: str
        amount: Decimal
        how: str
        approval: str

        def apply(self, grant: Grant) -> None:
            grant.disposed[self.source] += self.amount
            grant.moved(self.source, self.occurred_on, -self.amount)
            fields = {"source": self.source, "amount": self.amount, "how": self.how}
            grant.remember("dispose", self.approval, fields)

    class Closed(Event):
        TOPIC = "grant-ledger:Grant.Closed"
        document: str

        def apply(self, grant: Grant) -> None:
            grant.status = "closed"

    # ------------------------------------------------------------------ state

    grant_id: str
    unit_id: str
    base_id: str
    base_name: str
    programme: str
    level: str
    projects: list[str]
    requested: Decimal
    applied_on: date
    status: str
    # Each fund source's net change per business date (ISO date -> amount) and its latest
    # date, for the ring-fence at the end of every date. A snapshot taken by an earlier version
    # has neither (these class defaults): GrantLedger.load_grant replays such a grant instead.
    days: dict[str, dict[str, Decimal]] | None = None
    last_day: dict[str, str] | None = None
    # the dates of ``days`` in order (None: not kept by the snapshot this grant came from)
    dates: dict[str, list[str]] | None = None
    # The plan's settings as [ISO date, lines] in the order recorded, and, once it has a plan,
    # each budget line's ("content/source") net spending per business date and its latest date
    # (``line_books``), for the line at the end of every date; a grant with no plan keeps no
    # books of its lines, which its expenditures hold. plans None: a snapshot of an earlier
    # version, replayed instead, as for ``days``.
    plans: list[list[Any]] | None = None
    line_days: dict[str, dict[str, Decimal]] | None = None
    line_last: dict[str, str] | None = None
    # the figures declared at application (None: none, or a snapshot taken before they were kept)
    declared: dict[str, int] | None = None
    # the selection's order (a snapshot of an earlier version has none: these class defaults)
    reviews: int = 0
    review_on: date | None = None
    review_reason: str = ""
    notice_review: int = 0
    objections_resolved: str | None = None
    # the earliest recovery order's date (None: no order, or a snapshot taken before it was kept)
    recovery_ordered_on: date | None = None
    # by ISO date, the recoveries ordered that day less those received (None: a snapshot taken
    # before they were kept)
    recovery_days: dict[str, Decimal] | None = None
    # by ISO date, the subsidy disbursed that day less the disbursements reversed that day (None:
    # a snapshot taken before they were kept)
    received_days: dict[str, Decimal] | None = None
    # the build period's end set by the approval ("") and by each extension, by ISO business date
    extensions: dict[str, str] | None = None
    # a national base's tier named at approval, a municipal base's kind named at application (002
    # 二): "" for none, and for a snapshot taken before they were kept (none could be named then)
    tier: str = ""
    track: str = ""

    def __init__(self) -> None:
        self.approved = ZERO
        self.document = ""
        self.bodies: list[str] = []
        self.approved_on: date | None = None
        self.build_start: date | None = None
        self.build_end: date | None = None
        self.subsidy_received = ZERO
        self.matching_committed = ZERO
        self.matching_received = ZERO
        self.spent: dict[str, Decimal] = {"subsidy": ZERO, "matching": ZERO}
        self.expenditures: dict[str, dict[str, Any]] = {}
        self.vouchers: dict[str, str] = {}
        # "kind/voucher" of each disbursement, matching commitment and receipt -> [amount, ISO date]
        self.receipts: dict[str, list[Any]] = {}
        self.recommendation: dict[str, Any] | None = None
        self.review: dict[str, Any] | None = None
        self.notice: dict[str, Any] | None = None
        # reviews recorded, the latest one's date and reason; the review a notice follows (by
        # count); the document that settled the notice's objections
        self.reviews = 0
        self.review_on: date | None = None
        self.review_reason = ""
        self.notice_review = 0
        self.objections_resolved: str | None = None
        self.budget: dict[str, Decimal] = {}
        self.line_spent: dict[str, Decimal] = {}
        self.outputs: dict[str, list[int]] = {}  # by str(year): JSON snapshots keep str keys
        self.evaluations: list[dict[str, Any]] = []
        self.rectifications: dict[str, dict[str, Any]] = {}
        # who recorded the steps a later step must not be recorded by (rules.duties_separate)
        self.duties: dict[str, list[str]] = {}
        self.dossier: list[str] = []
        self.recovery_ordered = ZERO
        self.recovered = ZERO
        self.recovery_days = {}
        self.received_days = {}
        self.extensions = {}
        self.disposed: dict[str, Decimal] = {"subsidy": ZERO, "matching": ZERO}
        self.days = {"subsidy": {}, "matching": {}}
        self.last_day = {"subsidy": "", "matching": ""}
        self.dates = {"subsidy": [], "matching": []}
        self.plans = []
        self.line_days = None
        self.line_last = None

    @classmethod
    def create(
        cls,
        *,
        grant_id: str,
        unit_id: str,
        base_id: str,
        base_name: str,
        programme: str,
        level: str,
        projects: list[str],
        requested: Decimal,
        on: date,
        actor: str,
        role: str,
        unit_kind: str = "",
        declared: dict[str, int] | None = None,
        track: str = "",
    ) -> Grant:
        return cls._create(
            cls.Applied,
            id=grant_uuid(grant_id),
            grant_id=grant_id,
            unit_id=unit_id,
            base_id=base_id,
            base_name=base_name,
            programme=programme,
            level=level,
            projects=projects,
            requested=requested,
            unit_kind=unit_kind,
            declared=declared,
            actor=actor,
            role=role,
            occurred_on=on,
            track=track,
        )

    # ------------------------------------------------------------------ derived

    def received(self, source: str) -> Decimal:
        return self.subsidy_received if source == "subsidy" else self.matching_received

    def available(self, source: str) -> Decimal:
        """Received, less spent, recovered (subsidy only) and disposed of."""
        recovered = self.recovered if source == "subsidy" else ZERO
        return self.received(source) - self.spent[source] - recovered - self.disposed[source]

    def budget_line(self, content: str, source: str) -> Decimal | None:
        """The plan's amount for content × ledger fund source; None when no plan exists."""
        return plan_line(self.budget, content, source, ZERO)

    @property
    def plan_dated(self) -> str | None:
        if self.plans is None:
            return "" if self.budget else None
        return self.plans[0][0] if self.plans else None

    def line_room(
        self,
        content: str,
        source: str,
        on: date,
        lines: Mapping[str, Decimal] | None = None,
        also: Sequence[str] = (),
    ) -> LineRoom | None:
        keys = [f"{text}/{source}" for text in (content, *also)]
        spent = sum((self.line_spent.get(key, ZERO) for key in keys), ZERO)
        if self.plans is None:
            line = plan_line({**self.budget, **(lines or {})}, content, source, ZERO)
            return None if line is None else LineRoom(line - spent, on.isoformat(), line)
        plans = self.plans if lines is None else [*self.plans, [on.isoformat(), lines]]
        days, last = (self.line_days, self.line_last)
        if days is None or last is None:  # no plan yet: the books of its lines, from its expenditures
            days, last = line_books(self.expenditures)
        book, latest = line_book(days, last, keys, ZERO)
        return least_line_room(spent, book, latest, plans, content, source, on, ZERO)

    def spent_lines(self) -> list[tuple[str, str]]:
        return lines_of(self.line_spent)

    def moved_line(self, line: str, on: date, amount: Decimal) -> None:
        self.line_spent[line] = self.line_spent.get(line, ZERO) + amount
        if self.line_days is None or self.line_last is None:
            return
        day = on.isoformat()
        book = self.line_days.setdefault(line, {})
        book[day] = book.get(day, ZERO) + amount
        if day > self.line_last.get(line, ""):
            self.line_last[line] = day

    def received_on(self, on: date, amount: Decimal) -> None:
        if self.received_days is not None:
            day = on.isoformat()
            self.received_days[day] = self.received_days.get(day, ZERO) + amount

    def build_end_on(self, on: date) -> date | None:
        """The end of the build period as it stood on ``on``: the approval's, or the latest an
        extension dated on or before ``on`` set."""
        ends = self.extensions
        if not ends or self.build_end is None:
            return self.build_end
        day = on.isoformat()
        standing = [end for since, end in ends.items() if since <= day]
        return date.fromisoformat(max(standing)) if standing else self.build_end

    def received_peak(self, on: date, *, coming: bool = False) -> Decimal:
        """The greatest subsidy received at the end of ``on`` and of every later date;
        ``coming``: with the tranches an import's file reverses later (``COMING``), which the
        import checks at its end as if they were not."""
        if self.received_days is None:
            return self.subsidy_received
        receipts = COMING.get() if coming else None
        less = receipts.get(self.grant_id, {}).get(RECEIVED_LESS) if receipts is not None else None
        if less:
            book = _with_coming(self.received_days, less)
            return greatest_balance(self.subsidy_received + sum(less.values(), ZERO), book, on)
        return greatest_balance(self.subsidy_received, self.received_days, on)

    def recovery_room(self, on: date) -> Decimal | None:
        if self.recovery_days is None:
            return None
        return unanswered_from(self.recovery_days, on, ZERO)

    def headroom(self, source: str, on: date, *, coming: bool = False) -> Decimal:
        """The least balance of ``source`` at the end of ``on`` and of every later date;
        ``coming``: with the receipts an import's file brings in later (``COMING``), which only
        the ring-fence counts: the import checks at its end that every date holds without them."""
        receipts = COMING.get() if coming else None
        if receipts is not None:
            more = receipts.get(self.grant_id, {}).get(source)
            if more:
                return self._headroom_with(source, on, more)
        if self.days is None or self.last_day is None:
            return self.available(source)
        if self.dates is None:
            self.dates = {s: sorted(book) for s, book in self.days.items()}
        book = self.days[source]
        return least_balance(self.available(source), book, self.last_day[source], on, self.dates[source])

    def _headroom_with(self, source: str, on: date, more: Mapping[str, Decimal]) -> Decimal:
        """``headroom`` as it stands once the receipts ``more`` (by ISO date) are in too."""
        total = self.available(source) + sum(more.values(), ZERO)
        if self.days is None or self.last_day is None:
            return total
        book = _with_coming(self.days[source], more)
        return least_balance(total, book, max(self.last_day[source], *more), on)

    def moved(self, source: str, on: date, amount: Decimal) -> None:
        if self.days is None or self.last_day is None:
            return
        day = on.isoformat()
        book = self.days[source]
        before = book.get(day)
        if before is not None:
            book[day] = before + amount
            return
        book[day] = amount
        if day > self.last_day[source]:
            self.last_day[source] = day
            if self.dates is not None:
                self.dates[source].append(day)
        elif self.dates is not None:
            insort(self.dates[source], day)

    # ------------------------------------------------------------------ idempotency

    @staticmethod
    def disburse_fields(e: Any) -> dict[str, Any]:
        return {"amount": e.amount, "tranche": e.tranche, "on": e.occurred_on}

    @staticmethod
    def commit_fields(e: Any) -> dict[str, Any]:
        return {"amount": e.amount, "funder": e.funder, "on": e.occurred_on}

    @staticmethod
    def receive_fields(e: Any) -> dict[str, Any]:
        return {"amount": e.amount, "on": e.occurred_on}

    @staticmethod
    def spend_fields(e: Any) -> dict[str, Any]:
        return {
            "amount": e.amount,
            "category": e.category,
            "source": e.source,
            "content": e.content,
            "project": e.project,
            "payee": e.payee,
            "on": e.occurred_on,
        }

    @staticmethod
    def reverse_fields(e: Any) -> dict[str, Any]:
        return {"reason": e.reason, "on": e.occurred_on}

    def remember(self, kind: str, voucher: str, fields: dict[str, Any]) -> None:
        self.vouchers[f"{kind}/{voucher}"] = fingerprint(kind, fields)

    def undo_receipt(self, kind: str, voucher: str, reason: str, on: date) -> None:
        self.remember(f"reverse_{kind}", voucher, {"reason": reason, "on": on})

    def _not_reversed(self, kind: str, voucher: str, what: str) -> None:
        """A reversed receipt's voucher is not recorded again (the new act takes a new number)."""
        if f"reverse_{kind}/{voucher}" in self.vouchers:
            msg = T_(
                "{what} {voucher} of grant {grant_id} was reversed; a reversed voucher is not recorded "
                "again: record it under a new voucher number",
                what=T_(REVERSIBLE[kind]),
                voucher=voucher,
                grant_id=self.grant_id,
            )
            raise ConflictError(msg)

    def already_recorded(self, kind: str, voucher: str, fields: dict[str, Any]) -> bool:
        """True if this exact recording exists; ConflictError if the voucher differs."""
        known = self.vouchers.get(f"{kind}/{voucher}")
        if known is None:
            return False
        if known == fingerprint(kind, fields):
            return True
        if len(known) == 64 and known == fingerprint_v1(kind, fields):  # kept by an older snapshot
            return True
        raise self._other_content(kind, voucher)

    def _other_content(self, kind: str, voucher: str) -> ConflictError:
        msg = T_(
            "voucher {voucher} is already recorded as a {kind} of grant {grant_id} with different "
            "content; a voucher number is used once per grant and kind",
            voucher=voucher,
            kind=kind,
            grant_id=self.grant_id,
        )
        return ConflictError(msg)

    def _same_attachments(self, voucher: str, attachments: list[str]) -> None:
        """A spend typed again naming attachments names those recorded, in any order (an import's
        row names none, and is its repeat whatever the spend holds). A snapshot taken before they
        were kept holds none: a retype naming some is refused then too, as one naming others."""
        if attachments and _attached(attachments) != self.expenditures[voucher].get("attachments", ""):
            raise self._other_content("spend", voucher)

    def _reversed_voucher(self, voucher: str, spent: dict[str, Any]) -> str:
        spent_on = f" on {spent['on']}" if spent.get("on") else ""
        reversed_on = f" on {spent['reversed_on']}" if spent.get("reversed_on") else ""
        return (
            f"voucher {voucher} of grant {self.grant_id} was spent{spent_on} and reversed{reversed_on}; "
            "a reversed voucher is not spent again: record the new spending under a new voucher number"
        )

    # ------------------------------------------------------------------ commands

    def approve(
        self,
        *,
        amount: Decimal,
        document: str,
        bodies: list[str],
        build_start: date | None,
        build_end: date | None,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
        imported: bool = False,
        approvers: list[str] | None = None,
        tier: str = "",
    ) -> None:
        """``imported``: a grant approved elsewhere (bulk import) skips only the selection steps.
        ``approvers``: which of the programme's approving bodies the registered ``bodies`` are (None:
        ``bodies`` are those names themselves, as an import gives them)."""
        programme = policy.programme(self.programme)
        if self.status != "applied":
            msg = T_(
                "grant {grant_id} is {status}; only an application can be approved",
                grant_id=self.grant_id,
                status=self.status,
            )
            raise Breach(N_("approval first"), programme.approval_clause, msg).error()
        start = build_start or on
        if build_end is None:
            if programme.build_years is None:
                msg = T_(
                    "the {code} programme sets no build period; give the build period's end with --end",
                    code=programme.code,
                )
                raise BadInputError(msg)
            build_end = last_day_of_years(start, programme.build_years)
        if build_end < start:
            msg = T_(
                "the build period ends {build_end}, before it starts {start}",
                build_end=build_end.isoformat(),
                start=start.isoformat(),
            )
            raise BadInputError(msg)
        raise_first(
            [
                built_from_approval(self.grant_id, programme, start, on),
                build_period_of_programme(self.grant_id, programme, start, build_end, policy),
                self.own_clause(
                    approval_after_application(self.grant_id, self.applied_on, on, policy), policy
                ),
                no_money_programme(self.grant_id, programme, amount),
                subsidy_amount_in_range(programme, amount),
            ]
        )
        if not imported:
            recommended = self.recommendation is not None
            raise_first(
                [
                    recommended_first(self.grant_id, programme, recommended, policy),
                    reviewed_by_its_authority_first(self.grant_id, programme, recommended, policy),
                ]
            )
            review = self.review or {}
            notice = self.current_notice() or {}
            if self.objections_resolved is not None:
                notice = {**notice, "objections": 0}
            raise_first(
                [
                    self.own_clause(
                        selection_complete(
                            self.grant_id,
                            self.review is not None,
                            bool(review.get("recommended")),
                            notice.get("end"),
                            int(notice.get("objections", 0)),
                            on,
                            policy,
                        ),
                        policy,
                    )
                ]
            )
        # the tier is judged by the action (grant approve), before it looks for a repeat
        raise_first([approved_by_its_bodies(self.grant_id, programme, bodies, approvers)])
        self.trigger_event(
            self.Approved,
            amount=amount,
            document=document,
            bodies=bodies,
            build_start=start,
            build_end=build_end,
            actor=actor,
            role=role,
            occurred_on=on,
            tier=tier,
        )

    def disburse(
        self,
        *,
        amount: Decimal,
        voucher: str,
        tranche: int,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
    ) -> bool:
        fields = {"amount": amount, "tranche": tranche, "on": on}
        self._not_reversed("disburse", voucher, "disbursement")
        if self.already_recorded("disburse", voucher, fields):
            return False
        refuse_breaches(self, Act("disburse", on, role, amount), policy)
        self.trigger_event(
            self.SubsidyDisbursed,
            amount=amount,
            voucher=voucher,
            tranche=tranche,
            actor=actor,
            role=role,
            occurred_on=on,
        )
        return True

    def commit_matching(
        self,
        *,
        amount: Decimal,
        voucher: str,
        funder: str,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
    ) -> bool:
        fields = {"amount": amount, "funder": funder, "on": on}
        self._not_reversed("match_commit", voucher, "matching commitment")
        if self.already_recorded("match_commit", voucher, fields):
            return False
        refuse_breaches(self, Act("match commit", on, role, amount, "matching"), policy)
        self.trigger_event(
            self.MatchingCommitted,
            amount=amount,
            voucher=voucher,
            funder=funder,
            actor=actor,
            role=role,
            occurred_on=on,
        )
        return True

    def receive_matching(
        self, *, amount: Decimal, voucher: str, on: date, actor: str, role: str, policy: Policy
    ) -> bool:
        fields = {"amount": amount, "on": on}
        self._not_reversed("match_receive", voucher, "matching receipt")
        if self.already_recorded("match_receive", voucher, fields):
            return False
        refuse_breaches(self, Act("match receive", on, role, amount, "matching"), policy)
        self.trigger_event(
            self.MatchingReceived,
            amount=amount,
            voucher=voucher,
            actor=actor,
            role=role,
            occurred_on=on,
        )
        return True

    def spend(
        self,
        *,
        amount: Decimal,
        category: str,
        source: str,
        content: str,
        project: str,
        voucher: str,
        payee: str,
        memo: str,
        attachments: list[str],
        on: date,
        actor: str,
        role: str,
        policy: Policy,
    ) -> bool:
        found = policy.find_category(category)
        code = found.code if found is not None else category
        # a construction content by its code, as a budget line names it: typed by its Chinese or
        # English name (an import's column), it would be a line of its own, outside the plan
        named = policy.find_content(content) if content else None
        content = named.code if named is not None else content
        fields = {
            "amount": amount,
            "category": code,
            "source": source,
            "content": content,
            "project": project,
            "payee": payee,
            "on": on,
        }
        spent = self.expenditures.get(voucher)
        stored = None if spent is None else spent.get("content")
        again = policy.find_content(stored) if named is not None and stored and stored != content else None
        if again is not None and again.code == content:
            # recorded by an earlier version with the content as an import row typed it: this
            # content again, however it is typed now (the command line maps a name to its code)
            fields["content"] = stored
        if spent is not None and spent["reversed"]:
            known = self.vouchers.get(f"spend/{voucher}", "")
            same = known in (fingerprint("spend", fields), fingerprint_v1("spend", fields))
            repeat = same and _same_memo(spent, memo)
            message = self._reversed_voucher(voucher, spent)
            raise ReversedVoucherError(message, grant_id=self.grant_id, voucher=voucher, repeat=repeat)
        if self.already_recorded("spend", voucher, fields):
            self._same_attachments(voucher, attachments)
            if not _same_memo(self.expenditures[voucher], memo):
                raise self._other_content("spend", voucher)
            return False
        refuse_breaches(self, Act("spend", on, role, amount, source, code, content), policy)
        self.trigger_event(
            self.ExpenditureRecorded,
            amount=amount,
            category=code,
            source=source,
            content=content,
            project=project,
            voucher=voucher,
            payee=payee,
            memo=memo,
            attachments=attachments,
            actor=actor,
            role=role,
            occurred_on=on,
        )
        return True

    def reverse(
        self,
        *,
        voucher: str,
        reason: str,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
        kind: str | None = None,
    ) -> bool:
        """Reverse the money act recorded under ``voucher``: an expenditure, a disbursement, a
        matching commitment or receipt (``kind`` names which when the voucher is several)."""
        held = self.kinds_under(voucher)
        if (kind is not None and kind not in held) or not held:
            what = T_("money act") if kind is None else T_(REVERSIBLE[kind])
            msg = T_(
                "grant {grant_id} has no {what} with voucher {voucher} to reverse",
                grant_id=self.grant_id,
                what=what,
                voucher=voucher,
            )
            raise NotFoundError(msg)
        if kind is None:
            if len(held) > 1:
                msg = T_(
                    "voucher {voucher} of grant {grant_id} names more than one act: {acts}; say which "
                    "to reverse with --kind {value} (in a file, the reversal's category column)",
                    voucher=voucher,
                    grant_id=self.grant_id,
                    acts=kinds_named(held),
                    value="|".join(held),
                )
                raise BadInputError(msg)
            kind = held[0]
        if kind != "spend":
            return self._reverse_receipt(kind, voucher, reason, on, actor, role, policy)
        if self.already_recorded("reverse", voucher, {"reason": reason, "on": on}):
            return False
        original = self.expenditures.get(voucher)
        if original is None:
            msg = T_(
                "grant {grant_id} has no expenditure with voucher {voucher} to reverse",
                grant_id=self.grant_id,
                voucher=voucher,
            )
            raise NotFoundError(msg)
        if original["reversed"]:  # pragma: no cover - caught by already_recorded as a conflict
            msg = T_(
                "expenditure {voucher} of grant {grant_id} is already reversed",
                voucher=voucher,
                grant_id=self.grant_id,
            )
            raise ConflictError(msg)
        spent_on = original.get("on")  # None: kept by a snapshot of an earlier version
        spent = None if spent_on is None else date.fromisoformat(spent_on)
        refuse_breaches(self, Act("reverse", on, role, reverses_on=spent), policy)
        self.trigger_event(
            self.ExpenditureReversed,
            voucher=voucher,
            reason=reason,
            amount=original["amount"],
            source=original["source"],
            category=original["category"],
            content=original["content"],
            spent_on=spent,
            actor=actor,
            role=role,
            occurred_on=on,
        )
        return True

    def kinds_under(self, voucher: str) -> list[str]:
        """The kinds of money act recorded under ``voucher`` (``REVERSIBLE``'s), reversed or not."""
        return [k for k in REVERSIBLE if self._holds(k, voucher)]

    def _holds(self, kind: str, voucher: str) -> bool:
        if kind == "spend":
            return voucher in self.expenditures
        return f"{kind}/{voucher}" in self.receipts

    def _reverse_receipt(
        self, kind: str, voucher: str, reason: str, on: date, actor: str, role: str, policy: Policy
    ) -> bool:
        if self.already_recorded(f"reverse_{kind}", voucher, {"reason": reason, "on": on}):
            return False
        amount, received_on = self.receipts[f"{kind}/{voucher}"]
        received = date.fromisoformat(received_on)
        # a commitment is a promise, not money held: its reversal touches no balance
        action, source = RECEIPT_ACTIONS[kind]
        refuse_breaches(self, Act(action, on, role, amount, source, reverses_on=received), policy)
        event = {
            "disburse": self.DisbursementReversed,
            "match_commit": self.MatchingCommitmentReversed,
            "match_receive": self.MatchingReceiptReversed,
        }[kind]
        return self._event(
            event, on, actor, role, voucher=voucher, reason=reason, amount=amount, received_on=received
        )

    # ------------------------------------------------------------------ selection

    def _event(self, cls: Any, on: date, actor: str, role: str, **fields: Any) -> bool:
        self.trigger_event(cls, actor=actor, role=role, occurred_on=on, **fields)
        return True

    def _not_before_application(self, step: Text, on: date, policy: Policy) -> None:
        if on < self.applied_on:
            msg = T_(
                "{step} of grant {grant_id} dated {on} is before its application of {applied_on}",
                step=step,
                grant_id=self.grant_id,
                on=on.isoformat(),
                applied_on=self.applied_on.isoformat(),
            )
            raise Breach(N_("selection order"), self.selection_clause(policy), msg).error()

    def recommend(
        self,
        *,
        recommender: str,
        round_: str,
        rank: int | None,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
    ) -> bool:
        wanted = {"recommender": recommender, "round": round_, "rank": rank}
        if self.recommendation == wanted:
            return False
        raise_first(
            [
                self.own_clause(
                    in_selection(self.grant_id, self.status, T_("a recommendation"), policy), policy
                )
            ]
        )
        self._not_before_application(T_("the recommendation"), on, policy)
        raise_first(
            [recommended_in_time(self.grant_id, policy.programme(self.programme), on, policy, round_)]
        )
        return self._event(
            self.Recommended, on, actor, role, recommender=recommender, round=round_, rank=rank
        )

    def selection_clause(self, policy: Policy) -> Any:
        """The clause that orders this programme's selection: review, notice, then approval."""
        key = {"district": "review_order", "institute": "institute_approval"}.get(
            self.level, "municipal_approval"
        )
        return policy.clause(key)

    def own_clause(self, breach: Breach | None, policy: Policy) -> Breach | None:
        """A selection breach citing the district's order (003 第七条) cites, for another
        programme, that programme's own selection clause."""
        if breach is None or self.level == "district" or breach.clause.key not in DISTRICT_SELECTION:
            return breach
        return Breach(breach.rule, self.selection_clause(policy), breach.text)

    def current_notice(self) -> dict[str, Any] | None:
        """The public notice of the latest expert review (None: it has none yet)."""
        return self.notice if self.notice is not None and self.notice_review == self.reviews else None

    def record_review(
        self,
        *,
        panel: int,
        recommended: bool,
        opinion: str,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
        rereview_reason: str = "",
    ) -> bool:
        if (
            self.review == {"panel": panel, "recommended": recommended}
            and self.review_reason == rereview_reason
        ):
            return False
        raise_first(
            [
                self.own_clause(
                    in_selection(self.grant_id, self.status, T_("an expert review"), policy), policy
                ),
                panel_size(panel, policy),
            ]
        )
        self._not_before_application(T_("the expert review"), on, policy)
        clause = self.selection_clause(policy)
        if self.review is not None and self.review_on is not None:
            said = "recommend" if self.review.get("recommended") else "reject"
            if not rereview_reason:
                msg = T_(
                    "grant {grant_id} already has an expert review ({said}, panel of {panel}, dated "
                    "{review_on}); a review is never overwritten: a new review replaces it only with "
                    "--rereview-reason, and the earlier one stays in the history",
                    grant_id=self.grant_id,
                    said=said,
                    panel=self.review["panel"],
                    review_on=self.review_on.isoformat(),
                )
                raise Breach(N_("selection order"), clause, msg).error()
            if on < self.review_on:
                msg = T_(
                    "the re-review of grant {grant_id} dated {on} is before the review it replaces, "
                    "dated {review_on}",
                    grant_id=self.grant_id,
                    on=on.isoformat(),
                    review_on=self.review_on.isoformat(),
                )
                raise Breach(N_("selection order"), clause, msg).error()
        elif rereview_reason:
            msg = T_(
                "grant {grant_id} has no expert review to re-review; record its first review without "
                "--rereview-reason",
                grant_id=self.grant_id,
            )
            raise BadInputError(msg)
        return self._event(
            self.ReviewRecorded,
            on,
            actor,
            role,
            panel=panel,
            recommended=recommended,
            opinion=opinion,
            rereview_reason=rereview_reason,
        )

    def record_notice(
        self,
        *,
        start: date,
        end: date,
        objections: int,
        where: str,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
    ) -> bool:
        current = self.current_notice()
        if current == {"start": start, "end": end, "objections": objections}:
            return False
        raise_first(
            [self.own_clause(in_selection(self.grant_id, self.status, T_("a public notice"), policy), policy)]
        )
        if self.review is None:
            msg = T_(
                "grant {grant_id} has no expert review yet; the notice publishes the review's result",
                grant_id=self.grant_id,
            )
            raise Breach(N_("selection order"), self.selection_clause(policy), msg).error()
        if current is not None:
            span = T_("{start} to {end}", start=current["start"].isoformat(), end=current["end"].isoformat())
            if current["objections"] and self.objections_resolved is None:
                msg = T_(
                    "the public notice of grant {grant_id} ({span}) drew {objections} objection(s); it "
                    "is not recorded again to change them: they are settled by `grant-ledger grant "
                    "resolve-objections {grant_id} --document DOC`",
                    grant_id=self.grant_id,
                    span=span,
                    objections=current["objections"],
                )
                raise Breach(N_("objections settled"), policy.clause("objections"), msg).error()
            msg = T_(
                "grant {grant_id} already has the public notice ({span}, {objections} objection(s)) of "
                "its latest expert review; a notice is never overwritten: a new notice follows only a "
                "new review (grant review --rereview-reason)",
                grant_id=self.grant_id,
                span=span,
                objections=current["objections"],
            )
            raise Breach(N_("selection order"), self.selection_clause(policy), msg).error()
        if self.review_on is not None and start < self.review_on:
            msg = T_(
                "the public notice of grant {grant_id} starts {start}, before its expert review dated "
                "{review_on}; the notice publishes the review's result",
                grant_id=self.grant_id,
                start=start.isoformat(),
                review_on=self.review_on.isoformat(),
            )
            raise Breach(N_("selection order"), self.selection_clause(policy), msg).error()
        raise_first([notice_long_enough(start, end, policy)])
        self._not_before_application(T_("the public notice"), start, policy)
        return self._event(
            self.NoticeRecorded, on, actor, role, start=start, end=end, objections=objections, where=where
        )

    def resolve_objections(self, *, document: str, on: date, actor: str, role: str, policy: Policy) -> bool:
        """Settle the objections the latest notice drew, by the document that settled them."""
        current = self.current_notice()
        if self.objections_resolved is not None and current is not None:
            if self.objections_resolved == document:
                return False
            msg = T_(
                "the objections to the public notice of grant {grant_id} are already settled by "
                "{objections_resolved}",
                grant_id=self.grant_id,
                objections_resolved=self.objections_resolved,
            )
            raise ConflictError(msg)
        raise_first(
            [
                self.own_clause(
                    in_selection(self.grant_id, self.status, T_("settling objections"), policy), policy
                )
            ]
        )
        clause = policy.clause("objections")
        if current is None or not current["objections"]:
            msg = (
                T_(
                    "grant {grant_id} has no public notice of its latest review; there are no objections to "
                    "settle",
                    grant_id=self.grant_id,
                )
                if current is None
                else T_(
                    "grant {grant_id} drew no objection; there are no objections to settle",
                    grant_id=self.grant_id,
                )
            )
            raise Breach(N_("objections settled"), clause, msg).error()
        if on < current["start"]:
            msg = T_(
                "objections to grant {grant_id}'s public notice are settled on {on}, before the notice "
                "began on {start}",
                grant_id=self.grant_id,
                on=on.isoformat(),
                start=current["start"].isoformat(),
            )
            raise Breach(N_("objections settled"), clause, msg).error()
        return self._event(
            self.ObjectionsResolved, on, actor, role, document=document, objections=current["objections"]
        )

    def reject(self, *, reason: str, document: str, on: date, actor: str, role: str, policy: Policy) -> bool:
        if self.status == "rejected":
            return False
        raise_first(
            [self.own_clause(in_selection(self.grant_id, self.status, T_("a rejection"), policy), policy)]
        )
        self._not_before_application(T_("the rejection"), on, policy)
        return self._event(self.Rejected, on, actor, role, reason=reason, document=document)

    def extend(self, *, end: date, document: str, on: date, actor: str, role: str, policy: Policy) -> bool:
        """A later end of the build period, by its own approval document; False: it already ends then."""
        if self.status == "approved" and self.build_end == end:
            return False
        self._open("grant extend", on, role, policy)
        raise_first([build_period_extended(self.grant_id, self.programme, self.build_end, end, policy)])
        return self._event(self.Extended, on, actor, role, end=end, document=document)

    # ------------------------------------------------------------------ budget

    def _open(self, action: str, on: date, role: str, policy: Policy, amount: Decimal = ZERO) -> None:
        refuse_breaches(self, Act(action, on, role, amount), policy)

    def register_budget(
        self, *, lines: dict[str, Decimal], on: date, actor: str, role: str, policy: Policy
    ) -> bool:
        if self.budget and self.budget == lines:
            return False
        self._open("grant budget", on, role, policy)
        if self.budget:
            msg = T_(
                "grant {grant_id} already has a budget plan; change it with `grant adjust` and an "
                "approval reference",
                grant_id=self.grant_id,
            )
            raise Breach(N_("approval reference"), policy.clause("budget_plan"), msg).error()
        self._plan_within_subsidy(lines, on, policy)
        refuse_breaches(self, Act("grant budget", on, role, lines=lines), policy)
        return self._event(self.BudgetRegistered, on, actor, role, lines=lines)

    def _plan_within_subsidy(self, lines: dict[str, Decimal], on: date, policy: Policy) -> None:
        """The plan with ``lines`` set on ``on`` stays within the approved subsidy on that date and
        on each later date another setting changes it (as ``report budget --as-of`` reads it)."""
        day = on.isoformat()
        if self.plans is None:  # the state of an earlier version: the plan as it stands
            plans: list[list[Any]] = [[day, {**self.budget, **lines}]]
        else:
            plans = [*self.plans, [day, lines]]
        largest, when = ZERO, day
        for point in sorted({day, *(d for d, _lines in plans if d > day)}):
            plan = plan_on(plans, point)
            subsidy = sum((v for k, v in plan.items() if BUDGET_TO_FUND[k.split("/")[1]] == "subsidy"), ZERO)
            if subsidy > largest:
                largest, when = subsidy, point
        programme = policy.programme(self.programme)
        raise_first([plan_within_subsidy(self.grant_id, programme, largest, self.approved, when, policy)])

    def adjust_budget(
        self,
        *,
        lines: dict[str, Decimal],
        approval: str,
        reason: str,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
    ) -> bool:
        raise_first([approval_reference(approval, T_("a budget adjustment"), policy)])
        if self.budget and not (
            plan_changed(self.plans, on.isoformat(), lines)
            if self.plans is not None
            else any(self.budget.get(k) != v for k, v in lines.items())
        ):
            return False  # every date from ``on`` on already has these lines
        refuse_breaches(self, Act("grant adjust", on, role, lines=lines), policy)
        self._plan_within_subsidy(lines, on, policy)
        return self._event(
            self.BudgetAdjusted, on, actor, role, lines=lines, approval=approval, reason=reason
        )

    # ------------------------------------------------------------------ oversight

    def report_output(
        self,
        *,
        year: int,
        trainees: int,
        advanced: int,
        evaluations: int,
        advanced_evaluations: int,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
        corrects: bool = False,
    ) -> bool:
        """``corrects``: replace the year's earlier report (its own event; the earlier one stays)."""
        figures = [trainees, advanced, evaluations, advanced_evaluations]
        known = self.outputs.get(str(year))
        if known == figures:
            return False
        self._open("output report", on, role, policy)
        if advanced > trainees or advanced_evaluations > evaluations:
            msg = T_("advanced-level figures cannot exceed the totals they are part of")
            raise BadInputError(msg)
        if year > on.year:
            msg = T_(
                "the {year} outputs of grant {grant_id} cannot be reported on {on}, before {year} has begun",
                year=year,
                grant_id=self.grant_id,
                on=on.isoformat(),
            )
            raise BadInputError(msg)
        if known is not None and not corrects:
            msg = T_(
                "the {year} outputs of grant {grant_id} are already reported ({value} trained, "
                "{value2} advanced); a report is replaced only by a correction: output report "
                "--corrects {year}",
                year=year,
                grant_id=self.grant_id,
                value=known[0],
                value2=known[1],
            )
            raise ConflictError(msg)
        if known is None and corrects:
            msg = T_(
                "grant {grant_id} has no {year} output report to correct",
                grant_id=self.grant_id,
                year=year,
            )
            raise NotFoundError(msg)
        reported_on = self.__dict__.get("output_dates", {}).get(str(year))
        if corrects and reported_on is not None and on.isoformat() < reported_on:
            msg = T_(
                "a correction dated {on} is before the {year} output report of grant {grant_id} it "
                "corrects, dated {reported_on}; date it on or after that",
                on=on.isoformat(),
                year=year,
                grant_id=self.grant_id,
                reported_on=reported_on,
            )
            raise Breach(N_("correction date"), policy.clause("supervision"), msg).error()
        return self._event(
            self.OutputReported,
            on,
            actor,
            role,
            year=year,
            trainees=trainees,
            advanced=advanced,
            evaluations=evaluations,
            advanced_evaluations=advanced_evaluations,
            **({"corrects": True} if corrects else {}),
        )

    def evaluate(
        self,
        *,
        kind: str,
        result: str,
        evaluator: str,
        summary: str,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
    ) -> bool:
        if kind not in EVALUATION_KINDS or result not in EVALUATION_RESULTS:
            msg = T_(
                "evaluation kind must be one of {value} and result one of {value2}",
                value=", ".join(EVALUATION_KINDS),
                value2=", ".join(EVALUATION_RESULTS),
            )
            raise BadInputError(msg)
        if any(e == {"kind": kind, "result": result, "on": on} for e in self.evaluations):
            return False
        self._open("evaluate", on, role, policy)
        return self._event(
            self.EvaluationRecorded,
            on,
            actor,
            role,
            kind=kind,
            result=result,
            evaluator=evaluator,
            summary=summary,
        )

    def order_rectification(
        self, *, ref: str, finding: str, deadline: date, on: date, actor: str, role: str, policy: Policy
    ) -> bool:
        known = self.rectifications.get(ref)
        if known is not None:
            if (known["finding"], known["deadline"]) == (finding, deadline):
                return False
            msg = T_(
                "rectification {ref} of grant {grant_id} is already ordered with different content",
                ref=ref,
                grant_id=self.grant_id,
            )
            raise ConflictError(msg)
        self._open("rectify order", on, role, policy)
        if deadline < on:
            msg = T_(
                "the deadline {deadline} is before the order's date {on}",
                deadline=deadline.isoformat(),
                on=on.isoformat(),
            )
            raise BadInputError(msg)
        return self._event(
            self.RectificationOrdered, on, actor, role, ref=ref, finding=finding, deadline=deadline
        )

    def complete_rectification(
        self, *, ref: str, note: str, on: date, actor: str, role: str, policy: Policy
    ) -> bool:
        known = self.rectifications.get(ref)
        if known is None:
            msg = T_("grant {grant_id} has no rectification {ref}", grant_id=self.grant_id, ref=ref)
            raise NotFoundError(msg)
        if known["done"] is not None:
            return False
        self._open("rectify complete", on, role, policy)
        raise_first([completed_after_ordered(self.grant_id, ref, on, _day(known.get("ordered_on")), policy)])
        return self._event(self.RectificationCompleted, on, actor, role, ref=ref, note=note)

    def add_dossier(
        self, *, kind: str, title: str, sha256: str, on: date, actor: str, role: str, policy: Policy
    ) -> bool:
        if kind not in DOSSIER_KINDS:
            kinds = ", ".join(DOSSIER_KINDS)
            msg = T_(
                "dossier kind {kind!r} is unknown; use one of {kinds} ({cite})",
                kind=kind,
                kinds=kinds,
                cite=policy.clause("dossier").cite,
            )
            raise BadInputError(msg)
        if sha256 in self.dossier:
            return False
        if self.status in ("closed", "rejected"):
            raise_first(
                [approved_before_money(self.grant_id, self.status, "dossier add", policy, self.programme)]
            )
        return self._event(self.DossierRecorded, on, actor, role, kind=kind, title=title, sha256=sha256)

    # ------------------------------------------------------------------ end of life

    def order_recovery(
        self, *, amount: Decimal, reason: str, document: str, on: date, actor: str, role: str, policy: Policy
    ) -> bool:
        if self.already_recorded("recover_order", document, {"amount": amount, "reason": reason}):
            return False
        self._open("recover order", on, role, policy, amount)
        return self._event(
            self.RecoveryOrdered, on, actor, role, amount=amount, reason=reason, document=document
        )

    def receive_recovery(
        self, *, amount: Decimal, voucher: str, on: date, actor: str, role: str, policy: Policy
    ) -> bool:
        if self.already_recorded("recover", voucher, {"amount": amount, "on": on}):
            return False
        refuse_breaches(self, Act("recover receive", on, role, amount), policy)
        return self._event(self.FundsRecovered, on, actor, role, amount=amount, voucher=voucher)

    def dispose(
        self,
        *,
        source: str,
        amount: Decimal,
        how: str,
        approval: str,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
    ) -> bool:
        if how not in DISPOSALS:
            msg = T_(
                "a balance is disposed of as {value}, not {how!r}",
                value=" or ".join(DISPOSALS),
                how=how,
            )
            raise BadInputError(msg)
        fields = {"source": source, "amount": amount, "how": how}
        if self.already_recorded("dispose", approval, fields):
            return False
        raise_first([approval_reference(approval, T_("disposing of a balance"), policy)])
        refuse_breaches(self, Act("dispose", on, role, amount, source), policy)
        return self._event(
            self.BalanceDisposed, on, actor, role, source=source, amount=amount, how=how, approval=approval
        )

    def latest_act_day(self) -> date | None:
        """The latest business date of an act a closure settles: money moved from either source,
        an evaluation, a rectification completed (None: none, or a snapshot of an earlier version
        that kept no dates of its money)."""
        days = [_day(d) for d in (self.last_day or {}).values()]
        days += [_day(e.get("on")) for e in self.evaluations]
        days += [_day(r.get("done")) for r in self.rectifications.values()]
        known = [d for d in days if d is not None]
        return max(known) if known else None

    def final_result(self) -> str | None:
        finals = [e["result"] for e in self.evaluations if e["kind"] == "final"]
        return finals[-1] if finals else None

    def close(self, *, document: str, on: date, actor: str, role: str, policy: Policy) -> bool:
        if self.status == "closed":
            return False
        self._open("grant close", on, role, policy)
        raise_first(
            [
                closed_after_its_acts(self.grant_id, on, self.latest_act_day(), policy),
                institute_overseen(self.grant_id, self.level, [e["kind"] for e in self.evaluations], policy),
                final_evaluation_passed(self.grant_id, self.final_result(), policy),
                no_open_rectification(
                    self.grant_id, [r for r, v in self.rectifications.items() if v["done"] is None], policy
                ),
                recoveries_settled(self.grant_id, self.recovery_ordered, self.recovered, policy),
                balance_settled(self.grant_id, "subsidy", self.available("subsidy"), policy),
                balance_settled(self.grant_id, "matching", self.available("matching"), policy),
            ]
        )
        return self._event(self.Closed, on, actor, role, document=document)

    def summary(self) -> str:
        return (
            f"{self.grant_id} ({self.base_id}) subsidy {format_yuan(self.available('subsidy'))} "
            f"available, matching {format_yuan(self.available('matching'))} available"
        )


def _day(value: Any) -> date | None:
    """A date kept in the grant's state: a date, its ISO text (as some states keep it), or none."""
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))
