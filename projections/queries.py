"""Reports' queries over the read models: never a replay of the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Join

from ledger.money import from_fen
from projections.figures import Balance
from projections.schema import MEASURES, grants, movements, units

__all__ = ["Balance", "balances", "stored_time", "with_districts"]


def stored_time(engine: Engine, moment: datetime) -> datetime:
    """A moment as the engine stores recorded times (SQLite keeps naive UTC text)."""
    aware = moment if moment.tzinfo else moment.astimezone()
    utc = aware.astimezone(UTC)
    return utc.replace(tzinfo=None) if engine.dialect.name == "sqlite" else utc


def with_districts() -> Join:
    """The grants, each with its unit's district (None where its unit names none)."""
    return grants.outerjoin(units, units.c.unit_id == grants.c.unit_id)


def balances(
    engine: Engine,
    base_ids: Sequence[str] = (),
    as_of: date | None = None,
    known_at: datetime | None = None,
    since: date | None = None,
) -> list[Balance]:
    """Balances per grant, current or as of a business date / as known at a moment; ``since``:
    the measures are the movements dated from that day (a period's, to ``as_of``)."""
    query = (
        select(grants, units.c.district)
        .select_from(with_districts())
        .order_by(grants.c.base_id, grants.c.grant_id)
    )
    if base_ids:
        query = query.where(grants.c.base_id.in_(list(base_ids)))
    when = stored_time(engine, known_at) if known_at is not None else None
    if as_of is not None:
        query = query.where(grants.c.applied_on <= as_of)
    if when is not None:
        query = query.where(grants.c.recorded_at <= when)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        if as_of is None and when is None and since is None:
            return [
                Balance(
                    base_id=r.base_id,
                    grant_id=r.grant_id,
                    base_name=r.base_name,
                    programme=r.programme,
                    status=r.status,
                    **{m: from_fen(getattr(r, m)) for m in MEASURES},
                    district=r.district,
                )
                for r in rows
            ]
        conditions: list[ColumnElement[bool]] = []
        if base_ids:
            conditions.append(movements.c.base_id.in_(list(base_ids)))
        if as_of is not None:
            conditions.append(movements.c.occurred_on <= as_of)
        if since is not None:
            conditions.append(movements.c.occurred_on >= since)
        if when is not None:
            conditions.append(movements.c.recorded_at <= when)
        sums = conn.execute(
            select(movements.c.grant_id, movements.c.measure, func.sum(movements.c.amount))
            .where(and_(*conditions))
            .group_by(movements.c.grant_id, movements.c.measure)
        ).all()
    totals: dict[str, dict[str, int]] = {}
    for grant_id, measure, fen in sums:
        totals.setdefault(grant_id, {})[measure] = int(fen or 0)
    result = []
    for r in rows:
        t = totals.get(r.grant_id, {})
        status = "approved" if t.get("approved") else "applied"
        if r.status == "closed" and status == "approved":
            status = "approved"
        result.append(
            Balance(
                base_id=r.base_id,
                grant_id=r.grant_id,
                base_name=r.base_name,
                programme=r.programme,
                status=status,
                **{m: from_fen(t.get(m, 0)) for m in MEASURES},
                district=r.district,
            )
        )
    return result
