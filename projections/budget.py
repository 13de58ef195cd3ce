"""Budget against actual (预算执行): per grant, each line of its construction plan (003 表4-2:
construction content × fund source) planned, spent, remaining and the rate, as of a business date
and as known at a moment — the plan as it stood then (a registration replaces it, an adjustment
changes its lines) against the spending of the movements (net of reversals)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, select, true
from sqlalchemy.engine import Engine

from ledger.money import ZERO, from_fen, percent
from ledger.rules import BUDGET_TO_FUND
from projections.acts import in_log_order
from projections.measures import SPENDING_KINDS
from projections.queries import stored_time
from projections.reports import _conditions  # the movements as of a date and as known at a moment
from projections.schema import grants, history_acts, movements

PLAN_KINDS = ("budget", "budget_adjust")


@dataclass(frozen=True)
class BudgetLine:
    base_id: str
    grant_id: str
    content: str  # the construction content's code ("" for spending that names none)
    source: str  # the ledger's fund source: subsidy or matching
    planned: Decimal | None  # None: the plan has no such line (spending outside it)
    spent: Decimal
    spent_before: Decimal = ZERO  # a period's report: spent before the period

    @property
    def opening(self) -> Decimal | None:
        """What the line had left when the period began (the plan as it stands at its end)."""
        return None if self.planned is None else self.planned - self.spent_before

    @property
    def remaining(self) -> Decimal | None:
        """What the line has left at the end."""
        return None if self.planned is None else self.planned - self.spent_before - self.spent

    @property
    def rate(self) -> Decimal | None:
        return None if not self.planned else percent(self.spent, self.planned)


def _plans(
    engine: Engine, aggregate_ids: dict[str, str], as_of: date | None, known_at: datetime | None
) -> dict[str, dict[tuple[str, str], Decimal]]:
    """Each grant's plan (by grant id) as it stood: content × fund source -> yuan."""
    a = history_acts.c
    query = select(a.notification_id, a.aggregate_id, a.kind, a.data).where(a.kind.in_(PLAN_KINDS))
    if as_of is not None:
        query = query.where(a.occurred_on <= as_of)
    if known_at is not None:
        query = query.where(a.recorded_at <= stored_time(engine, known_at))
    if len(aggregate_ids) < 500:
        query = query.where(a.aggregate_id.in_(list(aggregate_ids)))
    raw: dict[str, dict[str, Decimal]] = {}
    with engine.connect() as conn:
        found = in_log_order(conn, query)
    for _, aggregate_id, kind, data in found:
        grant_id = aggregate_ids.get(aggregate_id)
        if grant_id is None or not data:
            continue
        lines = {k: Decimal(v) for k, v in json.loads(data)["lines"].items()}
        if kind == "budget":
            raw[grant_id] = lines
        else:
            raw.setdefault(grant_id, {}).update(lines)
    plans: dict[str, dict[tuple[str, str], Decimal]] = {}
    for grant_id, lines in raw.items():
        plan = plans.setdefault(grant_id, {})
        for key, amount in lines.items():
            content, budget_source = key.split("/")
            line = (content, BUDGET_TO_FUND[budget_source])
            plan[line] = plan.get(line, ZERO) + amount
    return plans


def budget_against_actual(
    engine: Engine,
    base_ids: Sequence[str] = (),
    as_of: date | None = None,
    known_at: datetime | None = None,
    since: date | None = None,
) -> list[BudgetLine]:
    """Every planned line of every grant with a plan, and any spending outside the plan;
    ``since``: the spending of the period from that day, and what was spent before it."""
    query = select(grants.c.grant_id, grants.c.aggregate_id, grants.c.base_id)
    if base_ids:
        query = query.where(grants.c.base_id.in_(list(base_ids)))
    with engine.connect() as conn:
        found = conn.execute(query.order_by(grants.c.base_id, grants.c.grant_id)).all()
    aggregate_ids = {aggregate_id: grant_id for grant_id, aggregate_id, _ in found}
    base_of = {grant_id: base_id for grant_id, _, base_id in found}
    plans = _plans(engine, aggregate_ids, as_of, known_at)

    spent = _spent(engine, base_of, base_ids, as_of, known_at, since)
    before = _spent(engine, base_of, base_ids, since - timedelta(days=1), known_at) if since else {}

    lines = []
    for grant_id, base_id in base_of.items():
        plan = plans.get(grant_id, {})
        actual = spent.get(grant_id, {})
        earlier = before.get(grant_id, {})
        if not plan and not actual and not earlier:
            continue
        for line in sorted(set(plan) | set(actual) | set(earlier)):
            lines.append(
                BudgetLine(
                    base_id, grant_id, *line, plan.get(line), actual.get(line, ZERO), earlier.get(line, ZERO)
                )
            )
    return lines


def _spent(
    engine: Engine,
    base_of: dict[str, str],
    base_ids: Sequence[str],
    as_of: date | None,
    known_at: datetime | None,
    since: date | None = None,
) -> dict[str, dict[tuple[str, str], Decimal]]:
    """Spending (net of reversals) per grant, content and fund source: a content stored by its
    Chinese or English name (as an import row typed it, before a spend kept its code) on its
    code's line, as the rules count it (``ledger.rules.stored_as``)."""
    from ledger.policy import current_policy

    policy = current_policy()
    conditions = [
        movements.c.kind.in_(SPENDING_KINDS),
        *_conditions(engine, base_ids, as_of, known_at, since),
    ]
    cols = (movements.c.grant_id, movements.c.content, movements.c.source)
    spent_query = select(*cols, func.sum(movements.c.amount)).where(and_(true(), *conditions)).group_by(*cols)
    spent: dict[str, dict[tuple[str, str], Decimal]] = {}
    with engine.connect() as conn:
        for grant_id, content, source, fen in conn.execute(spent_query):
            if grant_id in base_of:
                named = policy.find_content(content) if content else None
                line = ((content or "") if named is None else named.code, source)
                lines = spent.setdefault(grant_id, {})
                lines[line] = lines.get(line, ZERO) + from_fen(int(fen or 0))
    return spent
