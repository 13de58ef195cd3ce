"""Reports' queries over the read models: never a replay of the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import and_, func, select, true, union_all
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Join, Subquery

from ledger.money import from_fen
from projections.figures import Balance
from projections.periods import as_they_stood
from projections.schema import MEASURES, grants, movements, unit_districts, units

__all__ = ["Balance", "balances", "districts_then", "stored_time", "with_districts"]


def stored_time(engine: Engine, moment: datetime) -> datetime:
    """A moment as the engine stores recorded times (SQLite keeps naive UTC text)."""
    aware = moment if moment.tzinfo else moment.astimezone()
    utc = aware.astimezone(UTC)
    return utc.replace(tzinfo=None) if engine.dialect.name == "sqlite" else utc


def with_districts() -> Join:
    """The grants, each with its unit's district (None where its unit names none)."""
    return grants.outerjoin(units, units.c.unit_id == grants.c.unit_id)


def districts_then(engine: Engine, as_of: date | None, when: datetime | None) -> Subquery:
    """Each unit's district (unit_id, district) as it stood: the last set — its registration
    naming one, or an amendment — dated by ``as_of`` and recorded by ``when`` (a stored time).
    A unit whose district an earlier version kept without its dates (none among the settings)
    stands where it stands now."""
    d = unit_districts.c
    conditions: list[ColumnElement[bool]] = [true()]
    if as_of is not None:
        conditions.append(d.occurred_on <= as_of)
    if when is not None:
        conditions.append(d.recorded_at <= when)
    last = select(func.max(d.notification_id)).where(*conditions).group_by(d.unit_id)
    dated = select(d.unit_id, d.district).where(d.notification_id.in_(last))
    undated = select(units.c.unit_id, units.c.district).where(units.c.unit_id.not_in(select(d.unit_id)))
    return union_all(dated, undated).subquery("districts_then")


def balances(
    engine: Engine,
    base_ids: Sequence[str] = (),
    as_of: date | None = None,
    known_at: datetime | None = None,
    since: date | None = None,
) -> list[Balance]:
    """Balances per grant, current or as of a business date / as known at a moment (its status
    and its unit's district as they stood then too: the acts projection caught up); ``since``:
    the measures are the movements dated from that day (a period's, to ``as_of``)."""
    when = stored_time(engine, known_at) if known_at is not None else None
    if as_of is None and when is None:
        query = select(grants, units.c.district).select_from(with_districts())
    else:  # the district as it stood too
        then = districts_then(engine, as_of, when)
        joined = grants.outerjoin(then, then.c.unit_id == grants.c.unit_id)
        query = select(grants, then.c.district).select_from(joined)
    query = query.order_by(grants.c.base_id, grants.c.grant_id)
    if base_ids:
        query = query.where(grants.c.base_id.in_(list(base_ids)))
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
    stood = as_they_stood(engine, rows, as_of, when)
    result = []
    for r in rows:
        t = totals.get(r.grant_id, {})
        result.append(
            Balance(
                base_id=r.base_id,
                grant_id=r.grant_id,
                base_name=r.base_name,
                programme=r.programme,
                status=stood[r.grant_id].status,
                **{m: from_fen(t.get(m, 0)) for m in MEASURES},
                district=r.district,
            )
        )
    return result
