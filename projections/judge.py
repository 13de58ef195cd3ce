"""The compliance judge: stored events in, the rules they break out (pure, no database).

It replays each grant as the aggregate saw it just before every event and asks the very
function of :mod:`ledger.rules` the aggregate refuses by (:func:`ledger.rules.breaches`), under
the policy in force on the event's business date: history imported from elsewhere, or written
by an older version, may break a rule the aggregate now refuses. Amounts are kept in fen.
"""

from __future__ import annotations

import json
from bisect import insort
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from ledger.clock import CHINA
from ledger.errors import BadInputError
from ledger.money import from_fen, to_fen
from ledger.policy import INSTALLED_VERSIONS, Policy, current_policy, policy_in_force
from ledger.rules import (
    Act,
    Breach,
    LineRoom,
    approval_after_application,
    approved_before_money,
    breaches,
    first_of,
    greatest_balance,
    least_balance,
    least_line_room,
    line_book,
    lines_of,
    named_projects,
    no_money_programme,
    plan_line,
    subsidy_amount_in_range,
    unanswered_from,
)
from projections.measures import GRANT, HELD_SIGN, moved
from projections.records import StoredRecord, amount, day, fen, maybe_day


def policy_on(on: date) -> Policy:
    """The version in force on ``on``, of those shipped and installed in the open ledger."""
    if not INSTALLED_VERSIONS:  # most ledgers: the shipped versions alone (a key not built per event)
        return _policy_on(on, ())
    return _policy_on(on, tuple((name, text) for name, (_, text) in INSTALLED_VERSIONS.items()))


@lru_cache(maxsize=4096)
def _policy_on(on: date, installed: tuple[tuple[str, str], ...]) -> Policy:
    # ``installed`` keys the cache: another ledger opened, or a version installed since, is
    # another answer (a server lives through both)
    try:
        return policy_in_force(on)
    except BadInputError:  # history dated before the first version: judge by the earliest rules
        return current_policy()


# Each stored event judged by a list of rules, as the action that records it (the action
# names its rules, in ``ledger.rules.RULES``).
ACTIONS = {
    "BudgetRegistered": "grant budget",
    "BudgetAdjusted": "grant adjust",
    "Extended": "grant extend",
    "OutputReported": "output report",
    "EvaluationRecorded": "evaluate",
    "RectificationOrdered": "rectify order",
    "RectificationCompleted": "rectify complete",
    "RecoveryOrdered": "recover order",
    "Closed": "grant close",
    "SubsidyDisbursed": "disburse",
    "MatchingCommitted": "match commit",
    "MatchingReceived": "match receive",
    "ExpenditureRecorded": "spend",
    "ExpenditureReversed": "reverse",
    "FundsRecovered": "recover receive",
    "BalanceDisposed": "dispose",
    "DisbursementReversed": "reverse receipt",
    "MatchingCommitmentReversed": "reverse commitment",
    "MatchingReceiptReversed": "reverse receipt",
}
SOURCE_OF = {
    "SubsidyDisbursed": "subsidy",
    "MatchingCommitted": "matching",
    "MatchingReceived": "matching",
    "FundsRecovered": "subsidy",
    "DisbursementReversed": "subsidy",
    "MatchingCommitmentReversed": "matching",
    "MatchingReceiptReversed": "matching",
}

# The columns of ``compliance_grants`` (the findings read them); the rest is kept as ``facts``.
GRANT_FIELDS = (
    "status",
    "build_start",
    "build_end",
    "approved",
    "subsidy_received",
    "matching_received",
    "subsidy_available",
    "matching_available",
    "spent",
)


def facts_text(facts: dict[str, Any]) -> str:
    """``facts`` as ``json.dumps(facts, separators=(",", ":"))`` writes them, by orjson (a tenth of
    the time; a large grant's facts are written at every write on it) where its text is that very
    text: ASCII only, with no DEL (which json escapes and orjson does not); else by json."""
    try:
        raw = orjson.dumps(facts)
    except TypeError:  # an int past 64 bits
        pass
    else:
        if raw.isascii() and b"\x7f" not in raw:
            return raw.decode("ascii")
    return json.dumps(facts, separators=(",", ":"))


def new_facts() -> dict[str, Any]:
    return {
        "approved_on": None,
        "budget": {},
        "line_spent": {},
        # each line's spending by date, its latest date, the plan's settings by date (rules.plan_on)
        "line_days": {},
        "line_last": {},
        "plans": [],
        "days": {"subsidy": {}, "matching": {}},
        "last_day": {"subsidy": "", "matching": ""},
        "recovery_ordered": 0,
        "recovered": 0,
        "recovery_ordered_on": None,  # the earliest order's ISO date
        "recovery_days": {},  # by ISO date, the fen ordered back that day less those received
        "evaluated": [],
        # the build period's end by the ISO date it was set from ("" the approval's), and the
        # subsidy disbursed net of reversals by ISO date: the rules read both as they stood
        "extensions": {},
        "received_days": {},
    }


class JudgedGrant:
    """A grant's state just before the event being judged, read by the rules as
    :class:`ledger.rules.GrantFacts`. ``row`` holds the columns of ``compliance_grants``;
    ``facts`` what else the rules read (None: kept by an earlier version, which had none —
    such a grant's ring-fence is judged on its totals, and its recoveries not at all)."""

    __slots__ = (
        "approved_on",
        "build_end",
        "build_start",
        "dates",
        "facts",
        "grant_id",
        "programme",
        "row",
        "status",
    )

    def __init__(self, row: dict[str, Any], facts: dict[str, Any] | None) -> None:
        self.row = row
        self.facts = facts
        # what every judgement reads, as plain attributes (the row's copies are written)
        self.grant_id: str = row["grant_id"]
        self.programme: str = row["programme"]
        self.status: str = row["status"]
        self.build_start: date | None = row["build_start"]
        self.build_end: date | None = row["build_end"]
        on = None if facts is None else facts["approved_on"]
        self.approved_on: date | None = None if on is None else date.fromisoformat(on)
        # the dates of each source's book in order, built when a rule first reads an earlier date
        self.dates: dict[str, list[str]] | None = None

    @classmethod
    def applied(cls, r: StoredRecord) -> JudgedGrant:
        d = r.data
        row = {
            "grant_id": d["grant_id"],
            "aggregate_id": r.aggregate_id,
            "base_id": d["base_id"],
            "programme": d["programme"],
            "status": "applied",
            "applied_on": day(d["occurred_on"]),
            "build_start": None,
            "build_end": None,
            "approved": 0,
            "subsidy_received": 0,
            "matching_received": 0,
            "subsidy_available": 0,
            "matching_available": 0,
            "spent": 0,
        }
        facts = new_facts()
        # what the application declared, for its findings (projections.findings)
        facts["applied"] = {
            "unit_kind": d.get("unit_kind", ""),
            "declared": d.get("declared") or {},
            "projects": named_projects(d.get("projects")),
        }
        return cls(row, facts)

    def facts_json(self) -> str | None:
        return None if self.facts is None else facts_text(self.facts)

    # ------------------------------------------------------------------ GrantFacts

    @property
    def approved(self) -> Decimal:
        return from_fen(self.row["approved"])

    @property
    def subsidy_received(self) -> Decimal:
        return from_fen(self.row["subsidy_received"])

    def build_end_on(self, on: date) -> date | None:
        ends = None if self.facts is None else self.facts.get("extensions")  # absent: kept before
        if not ends or self.build_end is None:
            return self.build_end  # facts kept by an earlier version: the end now
        iso = on.isoformat()
        standing = [end for since, end in ends.items() if since <= iso]
        return date.fromisoformat(max(standing)) if standing else self.build_end

    def received_peak(self, on: date, *, coming: bool = False) -> Decimal:
        days = None if self.facts is None else self.facts.get("received_days")  # absent: kept before
        if days is None:
            return self.subsidy_received  # facts kept by an earlier version: the total
        return from_fen(greatest_balance(self.row["subsidy_received"], days, on))

    @property
    def recovery_ordered(self) -> Decimal | None:
        return None if self.facts is None else from_fen(self.facts["recovery_ordered"])

    @property
    def recovered(self) -> Decimal:
        return Decimal(0) if self.facts is None else from_fen(self.facts["recovered"])

    @property
    def recovery_ordered_on(self) -> date | None:
        on = None if self.facts is None else self.facts.get("recovery_ordered_on")  # absent: kept before
        return None if on is None else date.fromisoformat(on)

    def recovery_room(self, on: date) -> Decimal | None:
        days = None if self.facts is None else self.facts.get("recovery_days")  # absent: kept before
        return None if days is None else from_fen(unanswered_from(days, on, 0))

    def headroom(self, source: str, on: date, *, coming: bool = False) -> Decimal:
        total = self.row[f"{source}_available"]
        if self.facts is None:
            return from_fen(total)
        facts = self.facts
        last = facts["last_day"][source]
        if on.isoformat() >= last:
            return from_fen(total)
        if self.dates is None:
            self.dates = {s: sorted(book) for s, book in facts["days"].items()}
        return from_fen(least_balance(total, facts["days"][source], last, on, self.dates[source]))

    def budget_line(self, content: str, source: str) -> Decimal | None:
        if self.facts is None:
            return None
        line = plan_line(self.facts["budget"], content, source, 0)
        return None if line is None else from_fen(line)

    @property
    def plan_dated(self) -> str | None:
        facts = self.facts
        if facts is None or "plans" not in facts:
            return "" if facts is None or facts["budget"] else None
        return str(facts["plans"][0][0]) if facts["plans"] else None

    def line_room(
        self,
        content: str,
        source: str,
        on: date,
        lines: Mapping[str, Decimal] | None = None,
        also: Sequence[str] = (),
    ) -> LineRoom | None:
        facts = self.facts
        if facts is None:
            return None
        keys = [f"{text}/{source}" for text in (content, *also)]
        spent = sum(facts["line_spent"].get(key, 0) for key in keys)
        setting = {k: to_fen(v) for k, v in (lines or {}).items()}
        if "plans" not in facts:  # facts kept by an earlier version: the line on its total
            line = plan_line({**facts["budget"], **setting}, content, source, 0)
            return None if line is None else _in_yuan(LineRoom(line - spent, on.isoformat(), line))
        plans = facts["plans"] if not setting else [*facts["plans"], [on.isoformat(), setting]]
        book, last = line_book(facts["line_days"], facts["line_last"], keys, 0)
        room = least_line_room(spent, book, last, plans, content, source, on, 0)
        return None if room is None else _in_yuan(room)

    def spent_lines(self) -> list[tuple[str, str]]:
        if self.facts is None:
            return []
        return lines_of(self.facts["line_spent"])

    # ------------------------------------------------------------------ replay

    def _moved(self, source: str, on: str, change: int) -> None:
        self.row[f"{source}_available"] += change
        if self.facts is None:
            return
        book = self.facts["days"][source]
        before = book.get(on)
        if before is not None:
            book[on] = before + change
            return
        book[on] = change
        if on > self.facts["last_day"][source]:
            self.facts["last_day"][source] = on
            if self.dates is not None:
                self.dates[source].append(on)
        elif self.dates is not None:
            insort(self.dates[source], on)

    def _line(self, data: dict[str, Any], on: str, change: int) -> None:
        facts = self.facts
        if facts is not None:
            key = f"{data['content']}/{data['source']}"
            spent = facts["line_spent"]
            spent[key] = spent.get(key, 0) + change
            if "plans" in facts:
                book = facts["line_days"].setdefault(key, {})
                book[on] = book.get(on, 0) + change
                if on > facts["line_last"].get(key, ""):
                    facts["line_last"][key] = on

    def advance(self, kind: str, data: dict[str, Any]) -> None:
        """The grant's state after the event."""
        row, facts = self.row, self.facts
        on = data["occurred_on"]["_data_"]
        if kind == "Approved":
            self.status = row["status"] = "approved"
            row["approved"] = fen(data["amount"])
            self.build_start = row["build_start"] = day(data["build_start"])
            self.build_end = row["build_end"] = day(data["build_end"])
            self.approved_on = day(data["occurred_on"])
            if facts is not None:
                facts["approved_on"] = on
                if "extensions" in facts:
                    facts["extensions"][""] = data["build_end"]["_data_"]
        elif kind == "Extended":
            self.build_end = row["build_end"] = day(data["end"])
            ends = None if facts is None else facts.get("extensions")
            if ends is not None:
                end = data["end"]["_data_"]
                ends[on] = max(ends.get(on, ""), end)
        elif kind == "Rejected":
            self.status = row["status"] = "rejected"
        elif kind == "Closed":
            self.status = row["status"] = "closed"
        elif (money := moved(GRANT + kind, data)) is not None:
            measure, source, amount_fen = money
            sign = HELD_SIGN.get(measure)
            if sign is None:  # committed: a promise, not money held
                return
            self._moved(source, on, sign * amount_fen)
            if measure == "received" or measure == "unreceived":
                change = amount_fen if measure == "received" else -amount_fen
                row[f"{source}_received"] += change
                received = None if facts is None or source != "subsidy" else facts.get("received_days")
                if received is not None:
                    received[on] = received.get(on, 0) + change
            elif measure == "spent" or measure == "reversed":
                row["spent"] -= sign * amount_fen
                self._line(data, on, -sign * amount_fen)
            elif measure == "recovered" and facts is not None:
                facts["recovered"] += amount_fen
                if "recovery_days" in facts:
                    facts["recovery_days"][on] = facts["recovery_days"].get(on, 0) - amount_fen
        elif facts is not None:
            if kind == "RecoveryOrdered":
                facts["recovery_ordered"] += fen(data["amount"])
                first = facts.get("recovery_ordered_on")
                # facts kept by an earlier version lack the date: an order before this one is not known
                if "recovery_ordered_on" in facts:
                    facts["recovery_ordered_on"] = on if first is None else min(first, on)
                if "recovery_days" in facts:
                    facts["recovery_days"][on] = facts["recovery_days"].get(on, 0) + fen(data["amount"])
            elif kind == "BudgetRegistered" or kind == "BudgetAdjusted":
                lines = {k: fen(v) for k, v in data["lines"].items()}
                if kind == "BudgetRegistered":
                    facts["budget"] = lines
                else:
                    facts["budget"].update(lines)
                if "plans" in facts:
                    facts["plans"].append([on, lines])
            elif kind == "EvaluationRecorded" and "evaluated" in facts:  # the kinds a grant has had
                if data["kind"] not in facts["evaluated"]:
                    facts["evaluated"].append(data["kind"])


def _in_yuan(room: LineRoom) -> LineRoom:
    return LineRoom(from_fen(room.room), room.day, from_fen(room.line))


def recorded_day(data: dict[str, Any], on: date) -> date | None:
    """The day a stored event was recorded in Chongqing; None when its business date ``on`` is
    not after the UTC date of its timestamp (never after the day in Chongqing either)."""
    stamp = data.get("timestamp")
    if stamp is None or data["occurred_on"]["_data_"] <= stamp["_data_"][:10]:  # both ISO dates
        return None
    return datetime.fromisoformat(stamp["_data_"]).astimezone(CHINA).date()


def stored_act(kind: str, data: dict[str, Any], on: date | None = None) -> Act:
    """A stored event as the act the aggregate decided on (``on``: its date, when parsed)."""
    on = day(data["occurred_on"]) if on is None else on
    return Act(
        ACTIONS[kind],
        on,
        data["role"],
        amount(data["amount"]) if "amount" in data else Decimal(0),
        data.get("source") or SOURCE_OF.get(kind, "subsidy"),
        data.get("category", ""),
        data.get("content", ""),
        maybe_day(data.get("spent_on") or data.get("received_on")),
        recorded_day(data, on),
        {k: amount(v) for k, v in data["lines"].items()} if "lines" in data else None,
    )


def event_breaches(grant: JudgedGrant, kind: str, data: dict[str, Any], policy: Policy) -> list[Breach]:
    """The rules a stored event breaks, given its grant's state just before it. ``kind`` is the
    event's class name (its topic after ``Grant.``), ``data`` its stored state."""
    if kind == "Approved":
        found = [
            approval_after_application(
                grant.grant_id, grant.row["applied_on"], day(data["occurred_on"]), policy
            ),
            no_money_programme(grant.grant_id, policy.programme(grant.programme), amount(data["amount"])),
            subsidy_amount_in_range(policy.programme(grant.programme), amount(data["amount"])),
        ]
        return [b for b in found if b is not None]
    if kind in ACTIONS:
        return breaches(grant, stored_act(kind, data), policy)
    if grant.status == "closed" and kind != "Closed":
        found_closed = approved_before_money(grant.grant_id, grant.status, kind, policy, grant.programme)
        return [] if found_closed is None else [found_closed]
    return []


def first_breach(grant: JudgedGrant, kind: str, data: dict[str, Any]) -> Breach | None:
    """The first rule a stored event breaks (one finding per event), by the policy in force on
    its date."""
    on = day(data["occurred_on"])
    policy = policy_on(on)
    if kind in ACTIONS:  # most events: stop at the first breach, as the aggregate does
        return first_of(grant, stored_act(kind, data, on), policy)
    found = event_breaches(grant, kind, data, policy)
    return found[0] if found else None
