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
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ledger.conditions import application_breaches, output_breaches
from ledger.money import from_fen
from ledger.rules import (
    Breach,
    execution_on_track,
    matching_at_least_ratio,
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
            facts = conn.execute(
                select(compliance_facts.c.facts).where(compliance_facts.c.grant_id == g.grant_id)
            ).scalar()
            applied = json.loads(facts).get("applied", {}) if facts else {}
            if applied:
                judged = policy_on(g.applied_on).programme(g.programme)
                found = application_breaches(
                    g.grant_id, judged, applied.get("unit_kind", ""), applied.get("declared")
                )
                result.extend(_finding(g, b, g.applied_on) for b in found)
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
                result.extend(
                    _finding(g, b) for b in output_breaches(g.grant_id, programme, g.build_start, out)
                )
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
