"""A grant's build period as it stood: set by its approval, its end moved by each extension
(``grant extend``), read from the acts projection's per-event facts (``projections.acts``) of
the acts dated by a day and recorded by a moment. The findings and ``report execution`` read
it here alike."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from projections.queries import stored_time
from projections.schema import history_acts

Period = tuple[date | None, date | None]  # build start, build end

KINDS = ("approve", "extend")  # the acts that set or move it


def period_after(period: Period, kind: str, data: str | None) -> Period:
    """The build period after an act of the grant; an act kept by an earlier version, which did
    not keep its facts, leaves it as it was."""
    if not data:
        return period
    if kind == "approve":
        d = json.loads(data)
        return date.fromisoformat(d["build_start"]), date.fromisoformat(d["build_end"])
    if kind == "extend":
        return period[0], date.fromisoformat(json.loads(data)["end"])
    return period


def build_periods(
    engine: Engine, grants: Sequence[Any], as_of: date | None = None, known_at: datetime | None = None
) -> dict[str, Period]:
    """{grant_id: (build_start, build_end)} of ``grants`` (rows with grant_id, aggregate_id,
    build_start, build_end) from their acts dated on or before ``as_of`` and recorded by
    ``known_at``; a period kept by an earlier version, without its facts, is the grant's as it
    stands."""
    periods: dict[str, Period] = {g.grant_id: (g.build_start, g.build_end) for g in grants}
    if not grants:
        return periods
    grant_of = {g.aggregate_id: g.grant_id for g in grants}
    a = history_acts.c
    query = select(a.aggregate_id, a.kind, a.data).where(a.kind.in_(KINDS)).order_by(a.notification_id)
    if len(grant_of) < 500:
        query = query.where(a.aggregate_id.in_(list(grant_of)))
    if as_of is not None:
        query = query.where(a.occurred_on <= as_of)
    if known_at is not None:
        query = query.where(a.recorded_at <= stored_time(engine, known_at))
    with engine.connect() as conn:
        for aggregate_id, kind, data in conn.execute(query):
            grant_id = grant_of.get(aggregate_id)
            if grant_id is not None:
                periods[grant_id] = period_after(periods[grant_id], kind, data)
    return periods
