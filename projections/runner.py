"""Catch-up runner: feeds stored events to each projection, exactly once.

Each batch of the store is read with SQLAlchemy Core and decoded once (``projections.records``)
for every projection. The batch's rows of all projections and their new tracking positions
commit in one transaction (one fsync on SQLite), and each position moves by compare-and-set, so
two processes catching up at once never count an event twice: the loser's transaction rolls back
and it reads the new positions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import ledger.uuid_type  # noqa: F401  (before eventsourcing_sqlalchemy: its one type alone)

# isort: split
from eventsourcing.persistence import IntegrityError, Notification
from eventsourcing_sqlalchemy.recorders import SQLAlchemyTrackingRecorder
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from ledger.application import GrantLedger
from ledger.database import EVENTS_TABLE, streamed_rows
from ledger.errors import ConflictError, StorageError
from ledger.i18n import T_, _
from projections.names import standing as kept_standing
from projections.names import tracked
from projections.records import StoredRecord, hashed_leaves, records, records_of_rows, records_with_leaves
from projections.schema import TRACKING_TABLE, compress_large_columns, metadata, widen_text_columns

BATCH = 5000


class Projection(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def tables(self) -> Sequence[Table]: ...

    def apply(self, session: Session, batch: Sequence[StoredRecord]) -> None:
        """Write the read model's rows for ``batch`` (in store order) in ``session``; no commit."""


@runtime_checkable
class Remembering(Protocol):
    """A projection that keeps in memory what its rows hold (a long-running server's), told where
    each batch starts (``begin``: the rows stand at ``standing``) and whether its transaction
    committed (``settled``: the new position, or None when nothing was written). What it keeps is
    good only while its own last commit is where the next batch starts."""

    def begin(self, standing: int) -> None: ...

    def settled(self, last: int | None) -> None: ...


class ProjectionRecorder(SQLAlchemyTrackingRecorder):
    """The tracking table of eventsourcing-sqlalchemy, plus the read models' tables."""

    # where a long-running process's last catch-up left the projections (``catch_up``)
    left: dict[str, int] | None = None

    def create_table(self) -> None:
        assert self.datastore.engine is not None
        engine = self.datastore.engine
        tables = [*self.tables, self.tracking_table, *metadata.sorted_tables]
        if isinstance(engine, Engine) and _holds(engine, tables):
            return  # what create_all(checkfirst) would find, in one query instead of one per table
        _racing_create(super().create_table)
        _racing_create(lambda: metadata.create_all(engine, checkfirst=True))
        if isinstance(engine, Engine):
            widen_text_columns(engine)
            compress_large_columns(engine)
            _add_columns(engine, tables)
            _add_indexes(engine, tables)

    def create_tables_of(self, projection: Projection) -> None:
        """Tables of projections kept outside this package (the audit log's)."""
        assert self.datastore.engine is not None
        engine = self.datastore.engine
        if isinstance(engine, Engine) and _holds(engine, projection.tables):
            return
        for table in projection.tables:
            _racing_create(lambda table=table: table.create(engine, checkfirst=True))  # type: ignore[misc]

    def positions(self, names: Sequence[str]) -> dict[str, int]:
        """Where each named projection stands under its version's key (0: nothing applied yet,
        or only an earlier version's rows), in one query."""
        return standings(self, names)

    def commit_batch(self, due: Sequence[Due], last: int) -> bool:
        """Apply each projection's part of a batch and move its position from where it stood to
        ``last``, all in one transaction.

        False when another process moved any of the positions first (nothing is written then).
        """
        remembering: list[tuple[Remembering, int]] = [(p, s) for p, s, _ in due if isinstance(p, Remembering)]
        for memory, standing in remembering:
            memory.begin(standing)
        committed = False
        try:
            with self.transaction(commit=True) as session:
                move_positions(session, self.tracking_table, due, last)
                for projection, _, mine in due:
                    projection.apply(session, mine)
            committed = True
        except (_Overtaken, IntegrityError):
            return False
        finally:
            for memory, _ in remembering:
                memory.settled(last if committed else None)
        return True


# A projection, the position it stands at, and the records of the batch after it.
Due = tuple["Projection", int, Sequence[StoredRecord]]


def move_positions(session: Session, tracking: Table, due: Sequence[Due], last: int) -> None:
    """Compare-and-set of each tracking position to ``last``; raises _Overtaken (or
    IntegrityError) when one has moved. Every writer takes the rows in name order, so that two
    processes never wait on each other in a cycle: when all stood at one place (a server's
    projections, caught up together), in one statement that locks them in that order first;
    else one by one."""
    ordered = sorted(due, key=lambda d: tracked(d[0].name))
    names = [tracked(projection.name) for projection, _, _ in ordered]
    previous = {standing for _, standing, _ in ordered}
    if len(names) > 1 and len(previous) == 1 and 0 not in previous:
        moved = session.execute(
            _moving_all(tracking), {"names": names, "previous": previous.pop(), "last": last}
        )
        if moved.rowcount != len(names):  # type: ignore[attr-defined]
            raise _Overtaken(", ".join(names))
        return
    for projection, standing, _batch in ordered:
        if standing == 0:
            session.execute(
                insert(tracking).values(application_name=tracked(projection.name), notification_id=last)
            )
            continue
        moved = session.execute(
            _moving(tracking), {"name": tracked(projection.name), "previous": standing, "last": last}
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise _Overtaken(projection.name)


class _Overtaken(Exception):
    pass


# statements built once per table: used again, they skip SQLAlchemy's building and keying
_BUILT: dict[tuple[Any, ...], Any] = {}


def _moving(tracking: Table) -> Any:
    key = ("move", tracking.name, tracking.schema)
    built = _BUILT.get(key)
    if built is None:
        built = _BUILT[key] = (
            update(tracking)
            .where(tracking.c.application_name == bindparam("name"))
            .where(tracking.c.notification_id == bindparam("previous"))
            .values(notification_id=bindparam("last"))
        )
    return built


def _moving_all(tracking: Table) -> Any:
    """The positions named, all at ``previous``, moved to ``last``; on PostgreSQL the rows are
    locked in name order by the subquery (its FOR UPDATE is above its sort), SQLite has one
    writer."""
    key = ("move all", tracking.name, tracking.schema)
    built = _BUILT.get(key)
    if built is None:
        name, position = tracking.c.application_name, tracking.c.notification_id
        standing = name.in_(bindparam("names", expanding=True)) & (position == bindparam("previous"))
        locked = select(name).where(standing).order_by(name).with_for_update()
        built = _BUILT[key] = (
            update(tracking).where(name.in_(locked)).where(standing).values(notification_id=bindparam("last"))
        )
    return built


def _holds(engine: Engine, tables: Sequence[Table]) -> bool:
    """Every one of ``tables``, of their indexes and of the read models' columns is there already,
    and (PostgreSQL) none of their TEXT columns is still an earlier version's VARCHAR: one
    catalogue query, where
    ``create_all(checkfirst)`` asks one per table at every command. False: check and make table by
    table, as before (and widen columns)."""
    if engine.dialect.name not in ("sqlite", "postgresql") or any(t.schema is not None for t in tables):
        return False
    names = sorted({t.name for t in tables} | {str(i.name) for t in tables for i in t.indexes})
    with engine.connect() as conn:
        ours = [t for t in tables if t.metadata is metadata]
        every = sorted(f"{t.name}.{c.name}" for t in ours for c in t.columns)  # a later version's too
        if engine.dialect.name == "sqlite":
            marks = ", ".join("?" * len(names))
            kinds = "type IN ('table', 'index')"
            query = f"SELECT (SELECT COUNT(*) FROM sqlite_master WHERE {kinds} AND name IN ({marks})) = ?"
            if every:  # in the same query: a command asks the catalogue once
                columns_of = ", ".join("?" * len(every))
                query += (
                    " AND (SELECT COUNT(*) FROM sqlite_master m, pragma_table_info(m.name) p "
                    f"WHERE m.type = 'table' AND m.name || '.' || p.name IN ({columns_of})) = ?"
                )
            asked = (*names, len(names), *every, len(every)) if every else (*names, len(names))
            return bool(conn.exec_driver_sql(query, asked).scalar())
        columns = sorted(f"{t.name}.{c.name}" for t in ours for c in t.columns if isinstance(c.type, Text))
        held = {"names": names, "n": len(names), "columns": columns, "every": every, "m": len(every)}
        return bool(conn.execute(_PG_HOLDS, held).scalar())


# relations in the schema tables are made in (the first of the search path), as CREATE makes them
_PG_HOLDS = text(
    "SELECT (SELECT COUNT(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
    "AND relname = ANY(:names) AND relkind IN ('r', 'p', 'i', 'I')) = :n AND NOT EXISTS ("
    "SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname || '.' || a.attname = ANY(:columns) "
    "AND a.atttypid = 'varchar'::regtype AND NOT a.attisdropped) AND ("
    "SELECT COUNT(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname || '.' || a.attname = ANY(:every) "
    "AND a.attnum > 0 AND NOT a.attisdropped) = :m"
)


def _add_columns(engine: Engine, tables: Sequence[Table]) -> None:
    """The columns a later version added to the read models' tables an earlier one made
    (``create_all`` makes a table's columns only with the table), each with its database default
    so that a release from before it still writes rows there; each in a transaction of its own,
    which holds the table no longer. Only the tables' owner may add one: another login is told,
    in one sentence, that the owner runs ``init`` first after an upgrade (as for a new table)."""
    from sqlalchemy import inspect
    from sqlalchemy.schema import CreateColumn

    inspector = inspect(engine)
    for table in tables:
        if table.metadata is not metadata or not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            made = CreateColumn(column).compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {made}")
            except Exception as e:
                if _state(e) == "42701" or "duplicate column" in str(e):
                    continue  # another process added it meanwhile
                if _state(e) == "42501" or "owner" in str(e):
                    msg = T_(
                        "the table {table} lacks the column {column} that this version of grant-ledger "
                        "writes, and only the tables' owner may add it: after an upgrade the owner runs "
                        "`grant-ledger init` first",
                        table=table.name,
                        column=column.name,
                    )
                    raise StorageError(msg) from None
                raise


def _add_indexes(engine: Engine, tables: Sequence[Table]) -> None:
    """The indexes a later version added to tables an earlier one made (``create_all`` makes a
    table's indexes only with the table). Each only speeds reads: one that cannot be made here (a
    role that does not own the table) is left for the owner's next command."""
    wanted = {str(index.name): index for table in tables for index in table.indexes}
    if engine.dialect.name == "postgresql" and wanted:  # one catalogue query, not one per index
        query = text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
        with engine.connect() as conn:
            present = set(conn.execute(query).scalars())
        wanted = {name: index for name, index in wanted.items() if name not in present}
    for index in wanted.values():
        try:
            index.create(engine, checkfirst=True)
        except Exception as e:  # another process made it meanwhile, or no right to
            if not _raced(e) and _state(e) != "42501" and "owner" not in str(e):
                raise


def _racing_create(create: Callable[[], None], attempts: int = 5) -> None:
    """Create tables that another process may be creating at the same moment: its check
    said 'missing', then the CREATE found the table there. Check again rather than fail."""
    for n in range(attempts):
        try:
            create()
            return
        except Exception as e:  # the driver's 'already exists' / duplicate catalogue row
            if n == attempts - 1 or not _raced(e):
                raise


def _state(error: Exception) -> str | None:
    """PostgreSQL's SQLSTATE of a driver error (its code, whatever language the server speaks)."""
    return getattr(getattr(error, "orig", error), "sqlstate", None)


def _raced(error: Exception) -> bool:
    """Did a CREATE find what another process made meanwhile: PostgreSQL's duplicate table or
    object, or its catalogue's unique key (42P07, 42710, 23505); SQLite's 'already exists'."""
    text = str(error)
    return _state(error) in ("42P07", "42710", "23505") or "already exists" in text or "duplicate key" in text


def projections() -> list[Projection]:
    """The read models of this package; callers may add others (the audit log)."""
    from projections.acts import ActsProjection
    from projections.balances import BalanceProjection
    from projections.compliance import ComplianceProjection

    return [BalanceProjection(), ComplianceProjection(), ActsProjection()]


def prepared(app: GrantLedger, chosen: Sequence[Projection]) -> ProjectionRecorder:
    """The tracking recorder, with the tables of ``chosen`` there (made where missing)."""
    recorder = tracking_recorder(app)
    for projection in chosen:
        if projection.tables and projection.tables[0].metadata is not metadata:
            recorder.create_tables_of(projection)
    return recorder


def tracking_recorder(app: GrantLedger) -> ProjectionRecorder:
    recorder = app.factory.tracking_recorder(ProjectionRecorder)
    assert isinstance(recorder, ProjectionRecorder)
    return recorder


def events_table(app: GrantLedger) -> Table:
    table = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def read_notifications(app: GrantLedger, start: int, limit: int) -> list[Notification]:
    """The store's notifications from ``start`` on, read with SQLAlchemy Core (not the ORM)."""
    with app.engine.connect() as conn:
        return [
            Notification(id=nid, originator_id=oid, originator_version=v, topic=topic, state=bytes(state))
            for nid, oid, v, topic, state in conn.execute(_page(events_table(app), start, limit))
        ]


def read_records(
    conn: Connection,
    table: Table,
    start: int,
    limit: int,
    stop: int | None = None,
    canonical: bool = True,
) -> list[StoredRecord]:
    """The store's events from ``start`` on (up to ``stop``, when given), as records decoded once
    for every projection; ``canonical``: with their canonical text (``records_of_rows``)."""
    return records_of_rows(read_rows(conn, table, start, limit, stop), canonical)


def read_rows(
    conn: Connection, table: Table, start: int, limit: int, stop: int | None = None
) -> list[tuple[Any, ...]]:
    """The page as the driver gives it: ``(id, originator_id, originator_version, topic, state)``
    tuples (the originator as 16 bytes on SQLite, a UUID on PostgreSQL; the state as bytes)."""
    if conn.dialect.name == "sqlite" and conn.dialect.paramstyle == "qmark":
        # the driver's own cursor: the rows as SQLite gives them, without a Row object each
        sql = _SQLITE_PAGE.format(table=table.name, stop="" if stop is None else " AND id <= :stop")
        params = {"start": start, "limit": limit, **({} if stop is None else {"stop": stop})}
        return list(streamed_rows(conn, sql, params, limit))  # type: ignore[arg-type]
    key = ("page", table.name, table.schema, stop is None)
    query = _BUILT.get(key)
    if query is None:
        query = _BUILT[key] = _page(
            table, bindparam("start"), bindparam("limit"), True, None if stop is None else bindparam("stop")
        )
    bound: dict[str, int] = {"start": start, "limit": limit}
    if stop is not None:
        bound["stop"] = stop
    return [tuple(row) for row in conn.execute(query, bound)]


_SQLITE_PAGE = (
    "SELECT id, originator_id, originator_version, topic, state FROM {table}"
    " WHERE id >= :start{stop} ORDER BY id LIMIT :limit"
)


def _page(table: Table, start: Any, limit: Any, raw: bool = False, stop: Any = None) -> Select[Any]:
    """The page's query; ``raw`` skips the UUID and binary result processing (records take the
    driver's values as they come: bytes on SQLite, UUID on PostgreSQL)."""
    c = table.c
    originator, state = (
        (type_coerce(c.originator_id, NullType()), type_coerce(c.state, NullType()))
        if raw
        else (c.originator_id, c.state)
    )
    query = select(c.id, originator, c.originator_version, c.topic, state).where(c.id >= start)
    if stop is not None:
        query = query.where(c.id <= stop)
    return query.order_by(c.id).limit(limit)


def catch_up(
    app: GrantLedger,
    only: Sequence[Projection] | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
    check: bool = True,
    recorder: ProjectionRecorder | None = None,
    unbuilt: Callable[[Sequence[Projection]], int] | None = None,
) -> int:
    """Bring projections up to the store's head; returns the number of events processed (summed
    over the projections). Every event must be sealed by the person it names (``check_sealed``),
    or nothing of its batch is shown.

    ``unbuilt``: called before anything is applied, with the projections that have no position
    under their version's key while the store has events (``projections.current`` rebuilds
    those whose tables another version wrote); returns the events it read. Called again when a
    commit finds a position gone (another version of grant-ledger rebuilt that projection
    meanwhile: a process that remembered the position, or read it before, never replays the
    events onto the rows the other version wrote).

    Each batch of the store is read and decoded once; the projections behind it commit their
    parts together with their tracking positions (compare-and-set) in one transaction.
    ``recorder``: one ``prepared`` for these projections before (a long-running server's), so
    that no catch-up looks for their tables again.
    """
    chosen = list(only or projections())
    names = [p.name for p in chosen]
    kept = recorder is not None  # a long-running process's: it remembers where it left them
    if recorder is None:
        recorder = prepared(app, chosen)
    last_left = recorder.left if kept else None
    positions = dict(last_left) if last_left is not None and set(last_left) == set(names) else None
    if positions is None:
        positions = recorder.positions(names)
    table = events_table(app)
    done = stuck = 0
    ask = True  # whether to offer ``unbuilt`` the projections standing at 0
    while True:
        with app.engine.connect() as conn:
            batch = read_records(conn, table, min(positions.values()) + 1, batch_size)
        if not batch:
            break
        if ask and unbuilt is not None:
            ask = False
            fresh = [p for p in chosen if positions[p.name] == 0]
            if fresh:
                done += unbuilt(fresh)
                positions = recorder.positions(names)
                continue
        if check:
            check_sealed(app, batch)
        due = [(p, positions[p.name], _after(batch, positions[p.name])) for p in chosen]
        due = [d for d in due if d[2]]
        last = batch[-1].id
        if recorder.commit_batch(due, last):
            for projection, _, mine in due:
                positions[projection.name] = last
                done += len(mine)
                if progress is not None:
                    progress(len(mine))
            stuck = 0
            if len(batch) < batch_size:  # the store's head as read: no need to ask again
                break
        else:  # another process moved one first: carry on from where they all got to
            moved = recorder.positions(names)
            stuck = stuck + 1 if moved == positions else 0
            if stuck >= STUCK_ATTEMPTS:  # nobody moved: the rows refuse the batch, not a race
                raise _stuck(due, last)
            positions = moved
            # another version's rebuild takes this version's positions away: offer them again
            ask = 0 in moved.values()
    if kept:  # where a commit left them (compare-and-set: a stale guess is corrected at once)
        recorder.left = dict(positions)
    return done


def check_sealed(
    app: GrantLedger, batch: Sequence[StoredRecord], leaves: Sequence[str] | None = None
) -> None:
    """VerificationError (exit 6) naming the first event of ``batch`` not sealed by the person it
    names with a key the registry gives them (ledger.trust); ``leaves``: the events' leaf hashes,
    when computed already from the same stored rows (else hashed here, once for the audit log too)."""
    app.trust.check(batch, [h.hex() for h in hashed_leaves(batch)] if leaves is None else leaves)


# How many failed commits with no position moved before catch-up gives up instead of spinning.
STUCK_ATTEMPTS = 3


def _stuck(due: Sequence[Due], last: int) -> StorageError:
    names = ", ".join(sorted(p.name for p, _, _ in due))
    first = min(mine[0].id for _, _, mine in due)
    msg = T_(
        "projection {names} cannot take events {first} to {last}: its rows disagree with its recorded "
        "position; rebuild it with `grant-ledger projections rebuild`",
        names=names,
        first=first,
        last=last,
    )
    return StorageError(msg)


def _after(batch: Sequence[StoredRecord], position: int) -> Sequence[StoredRecord]:
    if batch[0].id > position:
        return batch
    return [r for r in batch if r.id > position]


class ProjectionsBehind(ConflictError):
    """A projection is not where the writer's transaction found it: another process moved it.
    The writer's transaction rolls back; the command, run again, catches up first."""


def project_stored(
    session: Session,
    stored: Sequence[Notification],
    chosen: Sequence[Projection],
    events: Sequence[Any] | None = None,
    leaves: Sequence[bytes] = (),
) -> None:
    """Apply notifications the caller has just inserted, in the caller's transaction (no commit here).

    ``session`` is bound to the caller's connection; ``chosen`` are the projections the caller
    keeps (the command line's: ``commands.registry.all_projections()``). Each chosen projection
    must stand at the store's head as it was before these rows (else :class:`ProjectionsBehind`,
    and the caller's transaction must roll back); its tracking position moves to ``stored[-1].id``
    by compare-and-set. ``events`` is accepted for callers of the first version and not needed:
    the projections read the stored state itself. ``leaves`` are the audit-log leaf hashes of
    the first of them, where the caller computed them as it encoded the events (the import's
    checking side, whose seal signs them): those events' canonical text is not written again.
    """
    del events
    if not stored:
        return
    first, last = stored[0].id, stored[-1].id
    tracking = _TRACKING
    names = [p.name for p in chosen]
    standing = standings(session, names)
    for name in names:
        _check_at_head(session, name, int(standing.get(name, 0)), first)
    batch = records_with_leaves(stored, leaves) if leaves else records(stored)
    due = [(p, int(standing.get(p.name, 0)), batch) for p in chosen]
    try:
        move_positions(session, tracking, due, last)
    except _Overtaken as e:
        raise ProjectionsBehind(
            _(
                "another process moved the {name} projection while this command wrote; nothing was "
                "written: run the command again"
            ).format(name=e)
        ) from None
    for projection in chosen:
        projection.apply(session, batch)


def kept_positions(reader: ProjectionRecorder | Session | Connection) -> dict[str, int]:
    """Every position the tracking table keeps, by key: a row per projection and version."""
    query = select(_TRACKING.c.application_name, _TRACKING.c.notification_id)
    if isinstance(reader, ProjectionRecorder):
        with reader.transaction(commit=False) as session:
            rows = session.execute(query).tuples().all()
    else:
        rows = reader.execute(query).tuples().all()
    return {str(key): int(at or 0) for key, at in rows}


def standings(reader: ProjectionRecorder | Session | Connection, names: Sequence[str]) -> dict[str, int]:
    """Each projection's position under its version's key, by name (0: none there, or another
    version's key there too: ``projections.names.standing``)."""
    kept = kept_positions(reader)
    return {name: kept_standing(kept, name) for name in names}


def _check_at_head(session: Session, name: str, position: int, first: int) -> None:
    events = _EVENTS.c
    between = session.execute(
        select(func.count()).select_from(_EVENTS).where(events.id > position).where(events.id < first)
    ).scalar()
    if position >= first or between:
        msg = T_(
            "the {name} projection stands at event {position}, not at the head before event {first} "
            "(another process moved it); nothing was written: run the command again",
            name=name,
            position=position,
            first=first,
        )
        raise ProjectionsBehind(msg)


# Just the id column, for counting rows between positions without the application at hand.
_EVENTS = Table(EVENTS_TABLE, MetaData(), Column("id", BigInteger().with_variant(Integer(), "sqlite")))
# The tracking table's columns as eventsourcing-sqlalchemy defines them, for the same reason.
_TRACKING = Table(
    TRACKING_TABLE,
    MetaData(),
    Column("application_name", String(32), primary_key=True),
    Column("notification_id", BigInteger().with_variant(Integer(), "sqlite")),
)
