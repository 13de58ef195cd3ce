"""The compliance projection: what an auditor is warned about (not refusals).

Per grant it keeps money, build period, yearly outputs and rectifications, and it checks every
stored event against the rules of the policy in force on its business date — history imported
from elsewhere or written by an older version may break a rule the aggregate now refuses. The
checks are the very functions of :mod:`ledger.rules` the aggregates use to refuse.

Findings that depend on the day they are read (overdue rectifications, low execution late in the
build period, matching below 1:1, outputs below target) are judged by :func:`findings` at
report time from these tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, create_engine, delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ledger.errors import BadInputError
from ledger.money import from_fen
from ledger.policy import Clause, Policy, current_policy, policy_in_force
from ledger.rules import (
    Breach,
    approval_after_application,
    approved_before_money,
    category_permitted,
    execution_on_track,
    matching_at_least_ratio,
    output_target,
    rectification_on_time,
    subsidy_amount_in_range,
    tranche_within_approved,
    within_build_period,
    within_fund_source,
)
from projections.balances import APPLIED, known_grants
from projections.names import COMPLIANCE as NAME
from projections.records import GRANT, StoredRecord, amount, day, fen
from projections.schema import (
    compliance_events,
    compliance_grants,
    compliance_outputs,
    compliance_rectifications,
)

TABLES = (compliance_grants, compliance_outputs, compliance_rectifications, compliance_events)


@lru_cache(maxsize=4096)
def _policy(on: date) -> Policy:
    try:
        return policy_in_force(on)
    except BadInputError:  # history dated before the first version: judge by the earliest rules
        return current_policy()


MONEY_KINDS = frozenset(
    (
        "SubsidyDisbursed",
        "MatchingCommitted",
        "MatchingReceived",
        "ExpenditureRecorded",
        "FundsRecovered",
        "BalanceDisposed",
    )
)


def event_breaches(
    state: dict[str, Any], kind: str, data: dict[str, Any], policy: Policy
) -> list[Breach | None]:
    """The rules a stored event breaks, given its grant's state before it.

    ``kind`` is the event's class name (its topic after ``Grant.``), ``data`` its stored state.
    """
    gid, status = state["grant_id"], state["status"]
    programme = policy.programme(state["programme"])
    if kind == "Approved":
        return [
            approval_after_application(gid, state["applied_on"], day(data["occurred_on"]), policy),
            subsidy_amount_in_range(programme, amount(data["amount"])),
        ]
    if kind in MONEY_KINDS:
        found = [approved_before_money(gid, status, kind, policy)]
        if kind == "SubsidyDisbursed":
            found.append(
                tranche_within_approved(
                    gid,
                    from_fen(state["approved"]),
                    from_fen(state["subsidy_received"]),
                    amount(data["amount"]),
                    programme.subsidy_clause,
                )
            )
        elif kind == "ExpenditureRecorded":
            build_clause = programme.build_clause or policy.clause("district_build_period")
            source = data["source"]
            available = from_fen(state[f"{source}_available"])
            found += [
                category_permitted(data["category"], policy)[1],
                within_build_period(
                    gid, day(data["occurred_on"]), state["build_start"], state["build_end"], build_clause
                ),
                within_fund_source(gid, source, available, amount(data["amount"]), policy),
            ]
        return found
    if status == "closed" and kind != "Closed":
        return [approved_before_money(gid, status, kind, policy)]
    return []


def _advance(state: dict[str, Any], kind: str, data: dict[str, Any]) -> None:
    """The grant's state after the event (fen)."""
    if kind == "Approved":
        state.update(
            status="approved",
            approved=fen(data["amount"]),
            build_start=day(data["build_start"]),
            build_end=day(data["build_end"]),
        )
    elif kind == "Rejected":
        state["status"] = "rejected"
    elif kind == "Closed":
        state["status"] = "closed"
    elif kind == "SubsidyDisbursed":
        state["subsidy_received"] += fen(data["amount"])
        state["subsidy_available"] += fen(data["amount"])
    elif kind == "MatchingReceived":
        state["matching_received"] += fen(data["amount"])
        state["matching_available"] += fen(data["amount"])
    elif kind == "ExpenditureRecorded":
        spent = fen(data["amount"])
        state[f"{data['source']}_available"] -= spent
        state["spent"] += spent
    elif kind == "ExpenditureReversed":
        spent = fen(data["amount"])
        state[f"{data['source']}_available"] += spent
        state["spent"] -= spent
    elif kind == "FundsRecovered":
        state["subsidy_available"] -= fen(data["amount"])
    elif kind == "BalanceDisposed":
        state[f"{data['source']}_available"] -= fen(data["amount"])


def _spending_passes(state: dict[str, Any], data: dict[str, Any], on: date, policy: Policy) -> bool:
    """True when ``event_breaches`` of this expenditure would find nothing, decided without it
    (most events): approved, inside the build period, a plain amount (two decimals, so compared
    in fen exactly as in yuan) within the source's balance, a permitted category. False: judge
    it the full way."""
    if state["status"] not in ("approved", "closing"):
        return False
    start, end = state["build_start"], state["build_end"]
    if not (start is None or end is None or start <= on <= end):
        return False
    plain = _PLAIN_FEN.fullmatch(data["amount"]["_data_"])
    if plain is None or int(plain[1]) * 100 + int(plain[2]) > state[f"{data['source']}_available"]:
        return False
    return _spending_permitted(policy, state["programme"], data["category"])


_PLAIN_FEN = re.compile(r"([0-9]{1,15})\.([0-9]{2})")
_PERMITTED: dict[tuple[int, str, str], tuple[Policy, bool]] = {}


def _spending_permitted(policy: Policy, programme: str, category: str) -> bool:
    """The programme is known, its build clause found and the category permitted (remembered
    per policy object, programme and category)."""
    key = (id(policy), programme, category)
    known = _PERMITTED.get(key)
    if known is not None and known[0] is policy:
        return known[1]
    try:
        policy.programme(programme).build_clause or policy.clause("district_build_period")
        permitted = category_permitted(category, policy)[1] is None
    except Exception:  # judged the full way, which raises the same
        permitted = False
    if len(_PERMITTED) >= 4096:
        _PERMITTED.clear()
    _PERMITTED[key] = (policy, permitted)
    return permitted


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

_UPDATE_GRANT = (
    update(compliance_grants)
    .where(compliance_grants.c.grant_id == bindparam("key"))
    .values({k: bindparam(f"new_{k}") for k in GRANT_FIELDS})
)
_DELETE_OUTPUT = delete(compliance_outputs).where(
    (compliance_outputs.c.grant_id == bindparam("key_grant"))
    & (compliance_outputs.c.year == bindparam("key_year"))
)
_COMPLETE_RECTIFICATION = (
    update(compliance_rectifications)
    .where(compliance_rectifications.c.grant_id == bindparam("key_grant"))
    .where(compliance_rectifications.c.ref == bindparam("key_ref"))
    .values(completed_on=bindparam("done"))
)


def _new_state(r: StoredRecord) -> dict[str, Any]:
    d = r.data
    return {
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


class _Writes:
    """What a batch writes, gathered in memory and written with one executemany per statement."""

    def __init__(self) -> None:
        self.findings: list[dict[str, Any]] = []
        self.outputs: dict[tuple[str, int], dict[str, Any]] = {}  # the last report of a year wins
        self.ordered: dict[tuple[str, str], dict[str, Any]] = {}
        self.completed: list[dict[str, Any]] = []

    def output(self, gid: str, d: dict[str, Any]) -> None:
        self.outputs[(gid, d["year"])] = {
            "grant_id": gid,
            "year": d["year"],
            "trainees": d["trainees"],
            "advanced": d["advanced"],
            "evaluations": d["evaluations"],
            "advanced_evaluations": d["advanced_evaluations"],
        }

    def rectification(self, gid: str, d: dict[str, Any]) -> None:
        row = {"grant_id": gid, "ref": d["ref"], "finding": d["finding"], "deadline": day(d["deadline"])}
        self.ordered[(gid, d["ref"])] = row | {"completed_on": None}

    def completion(self, gid: str, d: dict[str, Any]) -> None:
        on = day(d["occurred_on"])
        pending = self.ordered.get((gid, d["ref"]))
        if pending is not None:  # ordered in this same batch: written complete
            pending["completed_on"] = on
        else:
            self.completed.append({"key_grant": gid, "key_ref": d["ref"], "done": on})

    def write(self, session: Session) -> None:
        if self.outputs:
            keys = [{"key_grant": gid, "key_year": year} for gid, year in self.outputs]
            session.execute(_DELETE_OUTPUT, keys)
            session.execute(insert(compliance_outputs), list(self.outputs.values()))
        if self.ordered:
            session.execute(insert(compliance_rectifications), list(self.ordered.values()))
        if self.completed:
            session.execute(_COMPLETE_RECTIFICATION, self.completed)
        if self.findings:
            session.execute(insert(compliance_events), self.findings)


class ComplianceProjection:
    name = NAME
    tables = TABLES

    def apply(self, session: Session, batch: Sequence[StoredRecord]) -> None:
        mine = [r for r in batch if r.topic.startswith(GRANT)]
        if not mine:
            return
        states, new = self._states(session, mine)
        writes = _Writes()
        for r in mine:
            state = states.get(r.aggregate_id)
            kind = r.topic[len(GRANT) :]
            if state is None or kind == "Applied":  # an event before its application: not ours to judge
                continue
            self._judge(r, kind, state, writes.findings)
            _advance(state, kind, r.data)
            gid = state["grant_id"]
            if kind == "OutputReported":
                writes.output(gid, r.data)
            elif kind == "RectificationOrdered":
                writes.rectification(gid, r.data)
            elif kind == "RectificationCompleted":
                writes.completion(gid, r.data)
        inserted = [states[a] for a in new]
        if inserted:
            session.execute(insert(compliance_grants), inserted)
        changed = [
            {"key": s["grant_id"], **{f"new_{k}": s[k] for k in GRANT_FIELDS}}
            for a, s in states.items()
            if a not in new
        ]
        if changed:
            session.execute(_UPDATE_GRANT, changed)
        writes.write(session)

    # A rebuild may compute this projection in a second process (``projections.rebuild``), by
    # this very code on a scratch database: the findings come from it batch by batch, the rows
    # kept per grant (grants, outputs, rectifications) at the end; here they are inserted.

    def computer(self) -> ComplianceComputer:
        return ComplianceComputer(self)

    def write_part(self, session: Session, part: tuple[str, dict[str, list[tuple[Any, ...]]]]) -> None:
        _, tables = part
        for table in TABLES:
            rows = tables.get(table.name)
            if rows:
                names = [c.name for c in table.columns]
                session.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])

    @staticmethod
    def _states(session: Session, mine: Sequence[StoredRecord]) -> tuple[dict[str, dict[str, Any]], set[str]]:
        states = {r.aggregate_id: _new_state(r) for r in mine if r.topic == APPLIED}
        new = set(states)
        earlier = {r.aggregate_id for r in mine} - new
        for aggregate_id, row in known_grants(session, compliance_grants, earlier).items():
            states[aggregate_id] = dict(row._mapping)
        return states, new

    @staticmethod
    def _judge(r: StoredRecord, kind: str, state: dict[str, Any], findings: list[dict[str, Any]]) -> None:
        on = day(r.data["occurred_on"])
        policy = _policy(on)
        if kind == "ExpenditureRecorded" and _spending_passes(state, r.data, on, policy):
            return
        for breach in event_breaches(state, kind, r.data, policy):
            if breach is not None:
                findings.append(
                    {
                        "notification_id": r.id,
                        "grant_id": state["grant_id"],
                        "base_id": state["base_id"],
                        "occurred_on": on,
                        "rule": breach.rule,
                        "clause": breach.clause.key,
                        "message": breach.message,
                    }
                )
                return  # one finding per event: the first rule it breaks


class ComplianceComputer:
    """The projection applied to an in-memory SQLite database, from empty."""

    def __init__(self, projection: ComplianceProjection) -> None:
        self.projection = projection
        self.engine = create_engine("sqlite://")
        self.conn = self.engine.connect()
        self.conn.begin()
        for table in TABLES:
            table.create(self.conn)
        self.session = Session(bind=self.conn)

    uses_records = True

    def compute(
        self, rows: Sequence[Any], records: Sequence[StoredRecord] | None
    ) -> tuple[str, dict[str, list[tuple[Any, ...]]]]:
        assert records is not None
        self.projection.apply(self.session, records)
        found = [tuple(r) for r in self.conn.execute(select(compliance_events))]
        if found:
            self.conn.execute(delete(compliance_events))
        return "findings", {compliance_events.name: found}

    def finish(self) -> tuple[str, dict[str, list[tuple[Any, ...]]]]:
        kept = (compliance_grants, compliance_outputs, compliance_rectifications)
        tables = {t.name: [tuple(r) for r in self.conn.execute(select(t))] for t in kept}
        self.session.close()
        self.conn.close()
        self.engine.dispose()
        return "kept", tables


# ---------------------------------------------------------------------------- the findings


@dataclass(frozen=True)
class Finding:
    base_id: str
    grant_id: str
    rule: str
    clause: str
    occurred_on: date | None
    message: str


def _finding(row: Any, breach: Breach | None, on: date | None = None) -> Finding | None:
    if breach is None:
        return None
    return Finding(row.base_id, row.grant_id, breach.rule, breach.clause.cite, on, breach.message)


TARGETS: dict[str, tuple[str, str]] = {
    # target key -> (reported measure, clause key by level "district"/"institute"/other)
    "trained_per_year": ("trainees", "outputs"),
    "advanced_share": ("advanced share", "outputs"),
    "advanced_per_year": ("advanced", "outputs"),
    "evaluated_per_year": ("evaluations", "evaluation"),
    "evaluated_advanced_per_year": ("advanced evaluations", "evaluation"),
    "high_skill_per_year_after_2y": ("advanced", "after"),
}
OUTPUT_CLAUSES = {
    ("district", "outputs"): "district_outputs",
    ("district", "after"): "district_outputs_after",
    ("institute", "outputs"): "institute_training",
    ("institute", "evaluation"): "institute_evaluation",
    ("municipal", "outputs"): "municipal_outputs",
}


def output_breaches(
    grant_id: str, level: str, targets: dict[str, Any], build_start: date | None, out: Any, policy: Policy
) -> list[Breach | None]:
    found: list[Breach | None] = []
    for key, target in targets.items():
        measure, kind = TARGETS.get(key, ("", ""))
        clause_key = OUTPUT_CLAUSES.get((level, kind), "supervision")
        clause: Clause = policy.clause(clause_key)
        goal = Decimal(str(target))
        if key == "advanced_share":
            if out.trainees == 0:
                continue
            value = (Decimal(out.advanced) / Decimal(out.trainees)).quantize(Decimal("0.01"))
        elif key == "high_skill_per_year_after_2y":
            if build_start is None or out.year < build_start.year + 2:
                continue
            value = Decimal(out.advanced)
        else:
            value = Decimal(getattr(out, measure.replace(" ", "_")))
        found.append(output_target(grant_id, out.year, measure, value, goal, clause))
    return found


def findings(engine: Engine, today: date, base_ids: Sequence[str] = ()) -> list[Finding]:
    """Every finding, per base and grant, as judged on ``today``."""
    policy = _policy(today)
    query = select(compliance_grants).order_by(compliance_grants.c.base_id, compliance_grants.c.grant_id)
    if base_ids:
        query = query.where(compliance_grants.c.base_id.in_(list(base_ids)))
    result: list[Finding | None] = []
    with engine.connect() as conn:
        grants = conn.execute(query).all()
        for g in grants:
            programme = policy.programme(g.programme)
            events = conn.execute(
                select(compliance_events)
                .where(compliance_events.c.grant_id == g.grant_id)
                .order_by(compliance_events.c.notification_id)
            ).all()
            for e in events:
                clause = _policy(e.occurred_on).clause(e.clause)
                result.append(Finding(g.base_id, g.grant_id, e.rule, clause.cite, e.occurred_on, e.message))
            if g.status not in ("approved", "closed"):
                continue
            result.append(
                _finding(
                    g,
                    matching_at_least_ratio(
                        g.grant_id, programme, from_fen(g.subsidy_received), from_fen(g.matching_received)
                    ),
                )
            )
            outputs = conn.execute(
                select(compliance_outputs)
                .where(compliance_outputs.c.grant_id == g.grant_id)
                .order_by(compliance_outputs.c.year)
            ).all()
            for out in outputs:
                for breach in output_breaches(
                    g.grant_id, programme.level, programme.targets, g.build_start, out, policy
                ):
                    result.append(_finding(g, breach))
            supervision = policy.clause(
                "institute_supervision" if programme.level == "institute" else "supervision"
            )
            rectifications = conn.execute(
                select(compliance_rectifications)
                .where(compliance_rectifications.c.grant_id == g.grant_id)
                .order_by(compliance_rectifications.c.deadline, compliance_rectifications.c.ref)
            ).all()
            for r in rectifications:
                breach = rectification_on_time(
                    g.grant_id, r.ref, r.deadline, r.completed_on, today, supervision
                )
                result.append(_finding(g, breach, r.deadline))
            if g.status == "approved":
                received = from_fen(g.subsidy_received + g.matching_received)
                breach = execution_on_track(
                    g.grant_id, g.build_start, g.build_end, today, received, from_fen(g.spent), supervision
                )
                result.append(_finding(g, breach))
    return [f for f in result if f is not None]
