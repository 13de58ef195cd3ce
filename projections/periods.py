"""A grant's status and build period as they stood: the status after its approval, rejection or
closure, the period set by its approval, its end moved by each extension (``grant extend``),
read from the acts projection's per-event facts (``projections.acts``) of the acts dated by a
day and recorded by a moment. The findings, ``report execution`` and ``balance`` read them here
alike."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from projections.acts import STATUS_AFTER, in_log_order
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


@dataclass(frozen=True)
class Stood:
    """A grant's status and build period as they stood."""

    status: str  # applied | approved | rejected | closed
    build_start: date | None
    build_end: date | None


def as_they_stood(
    engine: Engine, grants: Sequence[Any], as_of: date | None = None, when: datetime | None = None
) -> dict[str, Stood]:
    """{grant_id: Stood} of ``grants`` (rows with grant_id, aggregate_id, build_start, build_end)
    from their acts dated on or before ``as_of`` and recorded by ``when`` (a stored time:
    ``projections.queries.stored_time``); a period kept by an earlier version, without its
    facts, is the grant's as it stands."""
    status = dict.fromkeys((g.grant_id for g in grants), "applied")
    periods: dict[str, Period] = {g.grant_id: (g.build_start, g.build_end) for g in grants}
    if grants:
        grant_of = {g.aggregate_id: g.grant_id for g in grants}
        a = history_acts.c
        query = select(a.notification_id, a.aggregate_id, a.kind, a.data).where(
            a.kind.in_((*KINDS, *STATUS_AFTER))
        )
        if len(grant_of) < 500:
            query = query.where(a.aggregate_id.in_(list(grant_of)))
        if as_of is not None:
            query = query.where(a.occurred_on <= as_of)
        if when is not None:
            query = query.where(a.recorded_at <= when)
        with engine.connect() as conn:
            found = in_log_order(conn, query)
        for _, aggregate_id, kind, data in found:
            grant_id = grant_of.get(aggregate_id)
            if grant_id is not None:
                status[grant_id] = STATUS_AFTER.get(kind, status[grant_id])
                periods[grant_id] = period_after(periods[grant_id], kind, data)
    return {g: Stood(status[g], *periods[g]) for g in status}
