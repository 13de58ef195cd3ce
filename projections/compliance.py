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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ledger.errors import BadInputError
from ledger.grant import Grant
from ledger.money import from_fen, to_fen
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
from projections.schema import (
    compliance_events,
    compliance_grants,
    compliance_outputs,
    compliance_rectifications,
)

NAME = "compliance"
TABLES = (compliance_grants, compliance_outputs, compliance_rectifications, compliance_events)


def _policy(on: date) -> Policy:
    try:
        return policy_in_force(on)
    except BadInputError:  # history dated before the first version: judge by the earliest rules
        return current_policy()


def event_breaches(state: dict[str, Any], event: Any, policy: Policy) -> list[Breach | None]:
    """The rules a stored event breaks, given its grant's state before it."""
    gid, status = state["grant_id"], state["status"]
    programme = policy.programme(state["programme"])
    if isinstance(event, Grant.Approved):
        return [
            approval_after_application(gid, state["applied_on"], event.occurred_on, policy),
            subsidy_amount_in_range(programme, event.amount),
        ]
    money = (
        Grant.SubsidyDisbursed,
        Grant.MatchingCommitted,
        Grant.MatchingReceived,
        Grant.ExpenditureRecorded,
        Grant.FundsRecovered,
        Grant.BalanceDisposed,
    )
    if isinstance(event, money):
        found = [approved_before_money(gid, status, type(event).__name__, policy)]
        if isinstance(event, Grant.SubsidyDisbursed):
            found.append(
                tranche_within_approved(
                    gid,
                    from_fen(state["approved"]),
                    from_fen(state["subsidy_received"]),
                    event.amount,
                    programme.subsidy_clause,
                )
            )
        if isinstance(event, Grant.ExpenditureRecorded):
            build_clause = programme.build_clause or policy.clause("district_build_period")
            available = from_fen(state[f"{event.source}_available"])
            found += [
                category_permitted(event.category, policy)[1],
                within_build_period(
                    gid, event.occurred_on, state["build_start"], state["build_end"], build_clause
                ),
                within_fund_source(gid, event.source, available, event.amount, policy),
            ]
        return found
    if status == "closed" and not isinstance(event, Grant.Closed):
        return [approved_before_money(gid, status, type(event).__name__, policy)]
    return []


def _advance(state: dict[str, Any], event: Any) -> None:
    """The grant's state after the event (fen)."""
    if isinstance(event, Grant.Approved):
        state.update(
            status="approved",
            approved=to_fen(event.amount),
            build_start=event.build_start,
            build_end=event.build_end,
        )
    elif isinstance(event, Grant.Rejected):
        state["status"] = "rejected"
    elif isinstance(event, Grant.Closed):
        state["status"] = "closed"
    elif isinstance(event, Grant.SubsidyDisbursed):
        state["subsidy_received"] += to_fen(event.amount)
        state["subsidy_available"] += to_fen(event.amount)
    elif isinstance(event, Grant.MatchingReceived):
        state["matching_received"] += to_fen(event.amount)
        state["matching_available"] += to_fen(event.amount)
    elif isinstance(event, Grant.ExpenditureRecorded):
        state[f"{event.source}_available"] -= to_fen(event.amount)
        state["spent"] += to_fen(event.amount)
    elif isinstance(event, Grant.ExpenditureReversed):
        state[f"{event.source}_available"] += to_fen(event.amount)
        state["spent"] -= to_fen(event.amount)
    elif isinstance(event, Grant.FundsRecovered):
        state["subsidy_available"] -= to_fen(event.amount)
    elif isinstance(event, Grant.BalanceDisposed):
        state[f"{event.source}_available"] -= to_fen(event.amount)


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


class ComplianceProjection:
    name = NAME
    tables = TABLES

    def apply(self, session: Session, batch: Sequence[tuple[int, Any]]) -> None:
        states: dict[Any, dict[str, Any]] = {}
        new: set[Any] = set()
        findings: list[dict[str, Any]] = []

        def state_of(event: Any) -> dict[str, Any] | None:
            if event.originator_id not in states:
                row = session.execute(
                    select(compliance_grants).where(
                        compliance_grants.c.aggregate_id == event.originator_id.hex
                    )
                ).first()
                if row is None:
                    return None
                states[event.originator_id] = dict(row._mapping)
            return states[event.originator_id]

        for nid, event in batch:
            if not isinstance(event, Grant.Event):
                continue
            if isinstance(event, Grant.Applied):
                states[event.originator_id] = {
                    "grant_id": event.grant_id,
                    "aggregate_id": event.originator_id.hex,
                    "base_id": event.base_id,
                    "programme": event.programme,
                    "status": "applied",
                    "applied_on": event.occurred_on,
                    "build_start": None,
                    "build_end": None,
                    "approved": 0,
                    "subsidy_received": 0,
                    "matching_received": 0,
                    "subsidy_available": 0,
                    "matching_available": 0,
                    "spent": 0,
                }
                new.add(event.originator_id)
                continue
            state = state_of(event)
            if state is None:  # pragma: no cover - an event before its grant's application
                continue
            policy = _policy(event.occurred_on)
            for breach in event_breaches(state, event, policy):
                if breach is not None:
                    findings.append(
                        {
                            "notification_id": nid,
                            "grant_id": state["grant_id"],
                            "base_id": state["base_id"],
                            "occurred_on": event.occurred_on,
                            "rule": breach.rule,
                            "clause": breach.clause.key,
                            "message": breach.message,
                        }
                    )
                    break  # one finding per event: the first rule it breaks
            _advance(state, event)
            gid = state["grant_id"]
            if isinstance(event, Grant.OutputReported):
                key = (compliance_outputs.c.grant_id == gid) & (compliance_outputs.c.year == event.year)
                session.execute(delete(compliance_outputs).where(key))
                session.execute(
                    insert(compliance_outputs).values(
                        grant_id=gid,
                        year=event.year,
                        trainees=event.trainees,
                        advanced=event.advanced,
                        evaluations=event.evaluations,
                        advanced_evaluations=event.advanced_evaluations,
                    )
                )
            elif isinstance(event, Grant.RectificationOrdered):
                session.execute(
                    insert(compliance_rectifications).values(
                        grant_id=gid, ref=event.ref, finding=event.finding, deadline=event.deadline
                    )
                )
            elif isinstance(event, Grant.RectificationCompleted):
                session.execute(
                    update(compliance_rectifications)
                    .where(compliance_rectifications.c.grant_id == gid)
                    .where(compliance_rectifications.c.ref == event.ref)
                    .values(completed_on=event.occurred_on)
                )
        for originator, state in states.items():
            if originator in new:
                session.execute(insert(compliance_grants).values(**state))
            else:
                session.execute(
                    update(compliance_grants)
                    .where(compliance_grants.c.grant_id == state["grant_id"])
                    .values(**{k: state[k] for k in GRANT_FIELDS})
                )
        if findings:
            session.execute(insert(compliance_events), findings)


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
