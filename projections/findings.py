"""The findings report: what an auditor is warned about (not refusals), judged on a day.

Stored events that broke a rule were found by the judge (:mod:`projections.judge`) and kept by
the compliance projection (:mod:`projections.compliance`); the findings that depend on the day
they are read (overdue rectifications, low execution late in the build period, matching below
1:1, outputs below target) are judged here from its tables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ledger.money import from_fen
from ledger.policy import Clause, Policy
from ledger.rules import (
    Breach,
    execution_on_track,
    institute_overseen,
    matching_at_least_ratio,
    output_target,
    rectification_on_time,
)
from projections.judge import policy_on
from projections.schema import (
    compliance_events,
    compliance_facts,
    compliance_grants,
    compliance_outputs,
    compliance_rectifications,
)


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


def oversight_due(conn: Any, g: Any, level: str, today: date, policy: Policy) -> Breach | None:
    """An institute whose build period has ended without a third-party audit or a final
    evaluation recorded (000 第十五条); a grant closed had both."""
    if level != "institute" or g.status != "approved" or g.build_end is None or today <= g.build_end:
        return None
    kept = conn.execute(
        select(compliance_facts.c.facts).where(compliance_facts.c.grant_id == g.grant_id)
    ).scalar()
    evaluated = None if kept is None else json.loads(kept).get("evaluated")
    if evaluated is None:  # kept by an earlier version, which did not keep evaluations: not known
        return None
    return institute_overseen(g.grant_id, level, evaluated, policy)


def findings(engine: Engine, today: date, base_ids: Sequence[str] = ()) -> list[Finding]:
    """Every finding, per base and grant, as judged on ``today``."""
    policy = policy_on(today)
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
                clause = policy_on(e.occurred_on).clause(e.clause)
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
            result.append(_finding(g, oversight_due(conn, g, programme.level, today, policy), g.build_end))
            if g.status == "approved":
                received = from_fen(g.subsidy_received + g.matching_received)
                breach = execution_on_track(
                    g.grant_id, g.build_start, g.build_end, today, received, from_fen(g.spent), supervision
                )
                result.append(_finding(g, breach))
    return [f for f in result if f is not None]
