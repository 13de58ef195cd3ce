"""Reports' queries over the balance projection's stored rows (never a replay of the store).

Every query takes ``as_of`` (business date: events dated later are left out) and ``known_at``
(recorded time: events recorded later are left out, including a reversal recorded later but
dated earlier); the money queries ``since`` too (a period's report: events dated earlier are left
out, and a balance shown is opened as of the day before). Amounts come back as Decimal yuan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, literal, select, true, union_all
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from ledger.clock import business_today
from ledger.i18n import Text
from ledger.money import ZERO, from_fen, percent, share_of
from ledger.rules import matching_gap
from projections.measures import (
    MATCHING,
    REVERSAL_KINDS,
    SOURCES,
    SPEND,
    SPENDING_KINDS,
    SUBSIDY,
    available,
    available_in,
    column,
)
from projections.periods import as_they_stood
from projections.queries import stored_time, with_districts
from projections.schema import MEASURES, grants, history_acts, movements, units

ONE_DAY = timedelta(days=1)


def _conditions(
    engine: Engine,
    base_ids: Sequence[str],
    as_of: date | None,
    known_at: datetime | None,
    since: date | None = None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if base_ids:
        conditions.append(movements.c.base_id.in_(list(base_ids)))
    if since is not None:
        conditions.append(movements.c.occurred_on >= since)
    if as_of is not None:
        conditions.append(movements.c.occurred_on <= as_of)
    if known_at is not None:
        conditions.append(movements.c.recorded_at <= stored_time(engine, known_at))
    return conditions


def _grant_rows(
    engine: Engine,
    base_ids: Sequence[str],
    as_of: date | None,
    known_at: datetime | None,
    grant_id: str | None = None,
) -> list[Any]:
    query = select(grants).order_by(grants.c.base_id, grants.c.grant_id)
    if grant_id is not None:
        query = query.where(grants.c.grant_id == grant_id)
    if base_ids:
        query = query.where(grants.c.base_id.in_(list(base_ids)))
    if as_of is not None:
        query = query.where(grants.c.applied_on <= as_of)
    if known_at is not None:
        query = query.where(grants.c.recorded_at <= stored_time(engine, known_at))
    with engine.connect() as conn:
        return list(conn.execute(query).all())


def _totals(
    engine: Engine,
    base_ids: Sequence[str],
    as_of: date | None,
    known_at: datetime | None,
    since: date | None = None,
) -> dict[str, dict[str, int]]:
    """Each grant's total in fen per measure column, of the movements the cut keeps."""
    if known_at is None and since is None and _nothing_dated_after(engine, base_ids, as_of):
        return _standing_totals(engine, base_ids)
    query = (
        select(movements.c.grant_id, movements.c.measure, func.sum(movements.c.amount))
        .where(and_(true(), *_conditions(engine, base_ids, as_of, known_at, since)))
        .group_by(movements.c.grant_id, movements.c.measure)
    )
    totals: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for grant_id, measure, fen in conn.execute(query).all():
            totals.setdefault(grant_id, {})[measure] = int(fen or 0)
    return totals


def _nothing_dated_after(engine: Engine, base_ids: Sequence[str], as_of: date | None) -> bool:
    """No movement of the bases is dated after ``as_of`` (always so without one): the cut keeps
    every movement, whose sums the grants' rows hold already. One index seek per base; with no
    bases named, False rather than a look at every movement."""
    if as_of is None:
        return True
    if not base_ids:
        return False
    later = (
        select(movements.c.notification_id)
        .where(movements.c.base_id.in_(list(base_ids)), movements.c.occurred_on > as_of)
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(later).first() is None


def _standing_totals(engine: Engine, base_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """``_totals`` of every movement, read from the grants' rows (the balances projection keeps
    each measure column the sum of its movements; `projections verify` checks that it does)."""
    query = select(grants.c.grant_id, *(grants.c[m] for m in MEASURES))
    if base_ids:
        query = query.where(grants.c.base_id.in_(list(base_ids)))
    totals: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for grant_id, *fen in conn.execute(query).all():
            kept = {m: int(v) for m, v in zip(MEASURES, fen, strict=True) if v}
            if kept:
                totals[grant_id] = kept
    return totals


def _fen(t: dict[str, int], measure: str, *sources: str) -> int:
    """A measure's total in fen over the given fund sources (all of them by default)."""
    return sum(t.get(name, 0) for s in sources or SOURCES if (name := column(measure, s)) is not None)


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    return None if whole == 0 else percent(part, whole)


# ----------------------------------------------------------------------------- categories


@dataclass(frozen=True)
class CategoryLine:
    base_id: str
    grant_id: str
    category: str
    source: str
    content: str
    spent: Decimal
    count: int


def categories(
    engine: Engine,
    base_ids: Sequence[str] = (),
    as_of: date | None = None,
    known_at: datetime | None = None,
    since: date | None = None,
) -> list[CategoryLine]:
    """Spent (net of reversals) per base × category × fund source × construction content."""
    conditions = _conditions(engine, base_ids, as_of, known_at, since)
    conditions.append(movements.c.kind.in_(SPENDING_KINDS))
    cols = (movements.c.base_id, movements.c.grant_id, movements.c.category, movements.c.source)
    query = (
        select(
            *cols,
            movements.c.content,
            func.sum(movements.c.amount),
            func.sum(movements.c.amount / func.abs(movements.c.amount)),
        )
        .where(and_(true(), *conditions))
        .group_by(*cols, movements.c.content)
        .order_by(*cols, movements.c.content)
    )
    with engine.connect() as conn:
        return [
            CategoryLine(b, g, c, s, ct, from_fen(int(fen or 0)), int(n or 0))
            for b, g, c, s, ct, fen, n in conn.execute(query).all()
        ]


# ----------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class SourceLine:
    base_id: str
    grant_id: str
    source: str
    planned: Decimal  # approved subsidy, or matching committed
    received: Decimal
    spent: Decimal  # net of reversals
    recovered: Decimal = ZERO
    disposed: Decimal = ZERO
    opening: Decimal = ZERO  # what the source held before the period (none without one)

    @property
    def available(self) -> Decimal:
        """What the source holds at the end: the opening balance and the movements after it."""
        return self.opening + available(self.received, self.spent, ZERO, self.recovered, self.disposed)

    @property
    def execution_rate(self) -> Decimal | None:
        return _pct(self.spent, self.received)


def sources(
    engine: Engine,
    base_ids: Sequence[str] = (),
    as_of: date | None = None,
    known_at: datetime | None = None,
    since: date | None = None,
) -> list[SourceLine]:
    """Per base and fund source: planned (approved / committed), received, spent, available;
    ``since``: the movements of the period from that day, opened by what each source held the
    day before."""
    totals = _totals(engine, base_ids, as_of, known_at, since)
    before = _totals(engine, base_ids, since - ONE_DAY, known_at) if since is not None else {}
    lines = []
    for r in _grant_rows(engine, base_ids, as_of, known_at):
        t = totals.get(r.grant_id, {})
        for source in SOURCES:
            o = before.get(r.grant_id, {})
            opening = from_fen(
                available(_fen(o, "received", source), _fen(o, "spent", source), 0,
                          _fen(o, "recovered", source), _fen(o, "disposed", source))
            )  # fmt: skip
            lines.append(
                SourceLine(
                    r.base_id,
                    r.grant_id,
                    source,
                    from_fen(_fen(t, "approved", source) + _fen(t, "committed", source)),
                    from_fen(_fen(t, "received", source)),
                    from_fen(_fen(t, "spent", source)),
                    from_fen(_fen(t, "recovered", source)),
                    from_fen(_fen(t, "disposed", source)),
                    opening,
                )
            )
    return lines


# ----------------------------------------------------------------------------- execution


@dataclass(frozen=True)
class ExecutionLine:
    base_id: str
    grant_id: str
    programme: str
    approved: Decimal  # approved subsidy + matching committed
    received: Decimal
    spent: Decimal
    build_end: date | None
    days_left: int | None
    build_start: date | None = None

    @property
    def elapsed(self) -> Decimal | None:
        """How much of the build period has passed, in percent (0 before it starts, 100 after)."""
        if self.build_start is None or self.build_end is None or self.days_left is None:
            return None
        length = (self.build_end - self.build_start).days
        if length <= 0:
            return None
        passed = min(max(length - self.days_left, 0), length)
        return _pct(Decimal(passed), Decimal(length))

    @property
    def of_received(self) -> Decimal | None:
        return _pct(self.spent, self.received)

    @property
    def of_approved(self) -> Decimal | None:
        return _pct(self.spent, self.approved)


def execution(
    engine: Engine,
    base_ids: Sequence[str] = (),
    as_of: date | None = None,
    known_at: datetime | None = None,
    today: date | None = None,
    since: date | None = None,
) -> list[ExecutionLine]:
    """执行率 per base: spent ÷ received and spent ÷ approved (both fund sources), days left;
    as of a day or as known at a moment, in the build period as it stood then (an extension dated
    or recorded later not yet in it)."""
    totals = _totals(engine, base_ids, as_of, known_at, since)
    upto = _totals(engine, base_ids, as_of, known_at) if since is not None else totals
    on = as_of or today or business_today()
    rows = _grant_rows(engine, base_ids, as_of, known_at)
    stood = {r.grant_id: (r.build_start, r.build_end) for r in rows}
    if as_of is not None or known_at is not None:  # an extension dated or recorded later not yet in it
        when = stored_time(engine, known_at) if known_at is not None else None
        stood = {g: (s.build_start, s.build_end) for g, s in as_they_stood(engine, rows, as_of, when).items()}
    lines = []
    for r in rows:
        t = totals.get(r.grant_id, {})
        approved = _fen(upto.get(r.grant_id, {}), "approved") != 0  # by the period's end
        start, end = stood[r.grant_id] if approved else (None, None)
        lines.append(
            ExecutionLine(
                r.base_id,
                r.grant_id,
                r.programme,
                from_fen(_fen(t, "approved") + _fen(t, "committed")),
                from_fen(_fen(t, "received")),
                from_fen(_fen(t, "spent")),
                end,
                (end - on).days if end is not None else None,
                start,
            )
        )
    return lines


# ----------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class MatchingLine:
    base_id: str
    grant_id: str
    programme: str
    ratio: Decimal | None  # matching asked per yuan of subsidy (1 = 1:1); None: the programme asks none
    approved: Decimal
    required: Decimal
    committed: Decimal
    received: Decimal
    subsidy_received: Decimal = ZERO

    @property
    def committed_pct(self) -> Decimal | None:
        return _pct(self.committed, self.required)

    @property
    def received_pct(self) -> Decimal | None:
        return _pct(self.received, self.required)

    @property
    def shortfall(self) -> Decimal:
        """Matching received short of the ratio × the subsidy received: the 1:1 finding's figure."""
        return matching_gap(self.ratio, self.subsidy_received, self.received)


def matching(
    engine: Engine,
    base_ids: Sequence[str] = (),
    as_of: date | None = None,
    known_at: datetime | None = None,
    ratios: dict[str, Decimal | None] | None = None,
    since: date | None = None,
) -> list[MatchingLine]:
    """Matching committed and received against what the programme asks (approved × ratio)."""
    totals = _totals(engine, base_ids, as_of, known_at, since)
    ratios = ratios or {}
    lines = []
    for r in _grant_rows(engine, base_ids, as_of, known_at):
        t = totals.get(r.grant_id, {})
        ratio = ratios.get(r.programme)
        approved = from_fen(_fen(t, "approved"))
        lines.append(
            MatchingLine(
                r.base_id,
                r.grant_id,
                r.programme,
                ratio,
                approved,
                share_of(approved, ratio) if ratio is not None else ZERO,
                from_fen(_fen(t, "committed", MATCHING)),
                from_fen(_fen(t, "received", MATCHING)),
                from_fen(_fen(t, "received", SUBSIDY)),
            )
        )
    return lines


# ----------------------------------------------------------------------------- history


@dataclass(frozen=True)
class HistoryLine:
    occurred_on: date
    recorded_at: datetime
    actor: str
    kind: str
    source: str
    category: str
    voucher: str
    amount: Decimal | None
    subsidy_balance: Decimal
    matching_balance: Decimal
    role: str = ""
    detail: str = ""
    event_id: int = 0  # its notification id in the store


def grant_exists(engine: Engine, grant_id: str) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(select(grants.c.grant_id).where(grants.c.grant_id == grant_id)).first() is not None
        )


def history(
    engine: Engine, grant_id: str, as_of: date | None = None, known_at: datetime | None = None
) -> list[HistoryLine]:
    """Every recorded event of a grant, in the order recorded — its selection, money, oversight
    and closure — with who recorded it, and running balances per source after each."""
    return history_page(engine, grant_id, as_of, known_at)[0]


@cache
def _history_statements(
    paged: bool, as_of: bool, known: bool, before: bool
) -> tuple[Select[Any], Select[Any]]:
    """The statements of ``history_page`` for one shape of its question (a page or the whole
    history; which cuts it makes), made once: building them was a fifth of a grant's web page.
    Bound at run time: ``aggregate``, ``grant``, and ``take`` (a page's lines, one more to tell
    whether earlier ones exist), ``as_of``, ``known``, ``before``, ``page_from`` as used."""
    a, m = history_acts.c, movements.c

    def cut(table: Any, paging: bool = True) -> list[ColumnElement[bool]]:
        at: list[ColumnElement[bool]] = []
        if as_of:
            at.append(table.occurred_on <= bindparam("as_of"))
        if known:
            at.append(table.recorded_at <= bindparam("known"))
        if before and paging:
            at.append(table.notification_id < bindparam("before"))
        return at

    # a grant's lines: its acts (each with its movement, if a money act), and its spends, which
    # are movements alone (projections.acts)
    money = (m.source, m.category, m.voucher, m.measure, m.amount)
    acts = (
        select(a.notification_id, a.occurred_on, a.recorded_at, a.actor, a.role, a.kind, a.detail, *money)
        .select_from(history_acts.outerjoin(movements, m.notification_id == a.notification_id))
        .where(a.aggregate_id == bindparam("aggregate"), *cut(a))
    )
    spends = select(
        m.notification_id, m.occurred_on, m.recorded_at, m.actor, m.role, m.kind,
        literal("").label("detail"), *money,
    ).where(m.grant_id == bindparam("grant"), m.kind == SPEND, *cut(m))  # fmt: skip
    # the grant's money before a page's first line
    earlier = [m.grant_id == bindparam("grant"), m.notification_id < bindparam("page_from")]
    totals = select(m.measure, func.sum(m.amount)).where(*earlier, *cut(m, paging=False)).group_by(m.measure)
    if not paged:
        whole = union_all(acts, spends).subquery()
        return select(whole).order_by(whole.c.notification_id), totals
    # each part's last lines by its own index, then the last of both
    take: BindParameter[int] = bindparam("take")
    parts = [
        select(part.order_by(part.selected_columns.notification_id.desc()).limit(take).subquery())
        for part in (acts, spends)
    ]
    both = union_all(*parts).subquery()
    return select(both).order_by(both.c.notification_id.desc()).limit(take), totals


def history_page(
    engine: Engine,
    grant_id: str,
    as_of: date | None = None,
    known_at: datetime | None = None,
    *,
    last: int | None = None,
    before: int | None = None,
) -> tuple[list[HistoryLine], int | None]:
    """``history``'s lines, or only the ``last`` of them recorded before event ``before`` (the
    running balances still counting every earlier event), and the event to page back from when
    earlier lines exist (None: none do)."""
    head = next(iter(_grant_rows(engine, (), as_of, known_at, grant_id)), None)
    if head is None:
        return [], None
    known = None if known_at is None else stored_time(engine, known_at)
    cut = {"as_of": as_of, "known": known, "before": before}
    given = {name: value for name, value in cut.items() if value is not None}
    lines_of, totals = _history_statements(last is not None, *(value is not None for value in cut.values()))
    values = {"aggregate": head.aggregate_id, "grant": grant_id, **given}
    columns: dict[str, int] = {}
    earlier = None
    with engine.connect() as conn:
        if last is None:
            found = conn.execute(lines_of, values).all()
        else:
            found = conn.execute(lines_of, {**values, "take": last + 1}).all()[::-1]
            if len(found) > last:
                found = found[1:]
                earlier = found[0].notification_id
            if found:
                # the grant's money events before the page, read from the movements alone (each
                # carries its event's business date and recorded time, as its history line does)
                page_from = {**values, "page_from": found[0].notification_id}
                columns = {measure: int(total) for measure, total in conn.execute(totals, page_from)}
    lines = []
    for r in found:
        if r.measure is not None:
            columns[r.measure] = columns.get(r.measure, 0) + r.amount
        lines.append(
            HistoryLine(
                r.occurred_on,
                r.recorded_at,
                r.actor,
                r.kind,
                r.source or "",
                r.category or "",
                r.voucher or "",
                None if r.amount is None else from_fen(r.amount),
                from_fen(available_in(columns, "subsidy", 0)),
                from_fen(available_in(columns, "matching", 0)),
                r.role,
                str(Text.loads(r.detail)) if r.detail else r.detail,
                r.notification_id,
            )
        )
    return lines, earlier


def reversals(engine: Engine, grant_id: str) -> list[tuple[str, str]]:
    """(kind, voucher) of every reversal recorded on the grant, as its history names them."""
    a, m = history_acts.c, movements.c
    # sought by the grant's acts of these kinds (history_acts_kind), not among its every movement
    aggregate = select(grants.c.aggregate_id).where(grants.c.grant_id == grant_id).scalar_subquery()
    query = (
        select(a.kind, m.voucher)
        .select_from(history_acts.join(movements, m.notification_id == a.notification_id))
        .where(a.aggregate_id == aggregate, a.kind.in_(REVERSAL_KINDS))
    )
    with engine.connect() as conn:
        return [(kind, voucher) for kind, voucher in conn.execute(query)]


@dataclass(frozen=True)
class VoucherFound:
    event_id: int
    grant_id: str
    base_id: str
    occurred_on: date
    kind: str
    source: str
    amount: Decimal
    actor: str


def find_voucher(engine: Engine, voucher: str) -> list[VoucherFound]:
    """Every money act recorded under ``voucher``, in any grant, in store order."""
    m = movements.c
    query = select(movements).where(m.voucher == voucher).order_by(m.notification_id)
    with engine.connect() as conn:
        return [
            VoucherFound(
                r.notification_id,
                r.grant_id,
                r.base_id,
                r.occurred_on,
                r.kind,
                r.source,
                from_fen(r.amount),
                r.actor,
            )
            for r in conn.execute(query)
        ]


@dataclass(frozen=True)
class GrantListed:
    grant_id: str
    base_id: str
    base_name: str
    unit_id: str
    programme: str
    status: str
    applied_on: date
    approved: Decimal
    district: str | None = None  # its unit's (ledger.district), if recorded
    tier: str = ""  # a national base's tier, as its approval named it (002 二(一))
    track: str = ""  # a municipal base's kind, as its application named it (002 二(二))


def districts_present(engine: Engine) -> list[str]:
    """The districts (codes) of the units that hold a grant, in code order."""
    query = select(units.c.district).select_from(with_districts()).where(units.c.district.is_not(None))
    with engine.connect() as conn:
        return sorted(set(conn.scalars(query.distinct())))


def list_grants(
    engine: Engine,
    programme: str | None = None,
    status: str | None = None,
    base_id: str | None = None,
    district: str | None = None,
    *,
    page: tuple[int, int] | None = None,
) -> list[GrantListed]:
    """The grants, filtered by programme, status, base and their unit's district, by grant id;
    ``page`` (offset, limit): that page of them by base, then grant."""
    g = grants.c
    query = (
        select(grants, units.c.district)
        .select_from(with_districts())
        .where(*_listed(programme, status, base_id, district))
    )
    if page is None:
        query = query.order_by(g.grant_id)
    else:
        query = query.order_by(g.base_id, g.grant_id).offset(page[0]).limit(page[1])
    with engine.connect() as conn:
        return [
            GrantListed(
                r.grant_id,
                r.base_id,
                r.base_name,
                r.unit_id,
                r.programme,
                r.status,
                r.applied_on,
                from_fen(r.approved),
                r.district,
                r.tier,
                r.track,
            )
            for r in conn.execute(query)
        ]


def count_grants(
    engine: Engine,
    programme: str | None = None,
    status: str | None = None,
    base_id: str | None = None,
    district: str | None = None,
) -> int:
    """How many grants ``list_grants`` gives for the same filters."""
    query = (
        select(func.count())
        .select_from(with_districts())
        .where(*_listed(programme, status, base_id, district))
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def _listed(
    programme: str | None, status: str | None, base_id: str | None, district: str | None
) -> list[ColumnElement[bool]]:
    g = grants.c
    conditions: list[ColumnElement[bool]] = [true()]
    if district:
        conditions.append(units.c.district == district)
    if programme:
        conditions.append(g.programme == programme)
    if status:
        conditions.append(g.status == status)
    if base_id:
        conditions.append(g.base_id == base_id)
    return conditions
