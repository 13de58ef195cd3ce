"""Check the read models against the events: recompute them and compare, row by row.

Every read model is recomputed by the rebuild's own machinery (``projections.rebuild.replay_into``,
the projections' own code and, on a large store, its second processes) into a scratch SQLite file,
from the events up to the position the stored read models stand at, then each table is read from
both, in the same order of its primary key, and compared column by column. A row edited, added or
deleted below the application is named with its table, key and column.

Tables that are records rather than a read model (the signed checkpoints) are not recomputable
and are left out.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, event, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.types import String, Text

from ledger.application import GrantLedger
from projections.names import tracked
from projections.rebuild import _collector_paused, replay_into
from projections.runner import Projection, events_table, tracking_recorder

# Records kept beside the read models, not computed from the events.
NOT_DERIVED = frozenset({"audit_checkpoints"})
PAGE = 20000
MISSING = "(no row)"


@dataclass(frozen=True)
class Difference:
    table: str
    key: str
    column: str
    stored: str
    recomputed: str


@dataclass(frozen=True)
class Verdict:
    events: int  # events the read models were recomputed from
    differences: list[Difference]
    more: int  # differences found beyond those listed


def verify(
    app: GrantLedger,
    chosen: Sequence[Projection],
    progress: Callable[[int], None] | None = None,
    limit: int = 1000,
    worker: bool | None = None,
) -> Verdict:
    """Recompute ``chosen`` from the events into a scratch database and compare every row of
    their tables with the stored ones; at most ``limit`` differences are listed (0: all)."""
    tables = [t for p in chosen for t in p.tables if t.name not in NOT_DERIVED]
    source = app.engine
    url = source.url.render_as_string(hide_password=False)
    events = events_table(app)
    with tempfile.TemporaryDirectory(prefix="grant-ledger-verify-") as folder:
        scratch = _scratch_engine(Path(folder) / "recomputed.db")
        try:
            for projection in chosen:
                for table in projection.tables:
                    table.create(scratch, checkfirst=True)
            with _read_snapshot(source) as conn:
                stop = _stored_position(app, conn, [tracked(p.name) for p in chosen])
                with _collector_paused(), Session(scratch) as session, session.begin():
                    done, _ = replay_into(
                        session, conn, url, events, chosen, progress, worker=worker, stop=stop
                    )
                with scratch.connect() as recomputed:
                    found = _differences(tables, conn, recomputed)
                    listed: list[Difference] = []
                    more = 0
                    for difference in found:
                        if limit and len(listed) >= limit:
                            more += 1
                        else:
                            listed.append(difference)
        finally:
            scratch.dispose()
    return Verdict(done, listed, more)


def _scratch_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    def fast(dbapi_connection: Any, _record: Any) -> None:  # a throw-away file: no journal
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=OFF")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()

    event.listen(engine, "connect", fast)
    return engine


@contextmanager
def _read_snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction over the store: positions, events and stored rows all as of one
    moment (SQLite WAL snapshot; PostgreSQL REPEATABLE READ); nothing is written through it."""
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect() as conn:
        conn = conn.execution_options(**options)
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()


def _stored_position(app: GrantLedger, conn: Connection, names: Sequence[str]) -> int:
    """Where the stored read models stand: the events they should hold are those up to here. A
    projection at another position than the others is a difference of its own, shown by the rows."""
    tracking = tracking_recorder(app).tracking_table
    query = select(func.max(tracking.c.notification_id)).where(tracking.c.application_name.in_(list(names)))
    return int(conn.execute(query).scalar() or 0)


def _differences(tables: Sequence[Table], stored: Connection, recomputed: Connection) -> Iterator[Difference]:
    # both SQLite: the rows as the driver gives them (the same types wrote the same text), as
    # fast as they can be read; otherwise SQLAlchemy's types make the two backends' values alike
    raw = stored.dialect.name == recomputed.dialect.name == "sqlite"
    for table in tables:
        yield from _table_differences(table, stored, recomputed, raw)


def _ordered(table: Table, conn: Connection, raw: bool) -> Iterator[tuple[Any, ...]]:
    """The table's rows in the order of its primary key, compared as bytes (PostgreSQL's "C"
    collation orders UTF-8 text as SQLite does, and as Python compares str)."""
    if raw:
        columns = ", ".join(c.name for c in table.columns)
        order = ", ".join(c.name for c in table.primary_key.columns)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(f"SELECT {columns} FROM {table.name} ORDER BY {order}")
            while rows := cursor.fetchmany(PAGE):
                yield from rows
        finally:
            cursor.close()
        return
    keys: list[Any] = []
    for column in table.primary_key.columns:
        if conn.dialect.name == "postgresql" and isinstance(column.type, String | Text):
            keys.append(column.collate("C"))
        else:
            keys.append(column)
    result = conn.execution_options(stream_results=True, yield_per=PAGE).execute(
        select(*table.columns).order_by(*keys)
    )
    for row in result:
        yield tuple(row)


def _table_differences(
    table: Table, stored: Connection, recomputed: Connection, raw: bool
) -> Iterator[Difference]:
    names = [c.name for c in table.columns]
    at = [names.index(c.name) for c in table.primary_key.columns]
    mine, theirs = _ordered(table, stored, raw), _ordered(table, recomputed, raw)
    left, right = next(mine, None), next(theirs, None)
    while left is not None or right is not None:
        lkey = tuple(_ranked(left[i]) for i in at) if left is not None else None
        rkey = tuple(_ranked(right[i]) for i in at) if right is not None else None
        if rkey is None or (lkey is not None and lkey < rkey):
            assert left is not None
            yield Difference(table.name, _key(lkey), "*", _row(names, left), MISSING)
            left = next(mine, None)
        elif lkey is None or rkey < lkey:
            assert right is not None
            yield Difference(table.name, _key(rkey), "*", MISSING, _row(names, right))
            right = next(theirs, None)
        else:
            assert left is not None and right is not None
            if left != right:
                for name, a, b in zip(names, left, right, strict=True):
                    if _utc(a) != _utc(b):
                        yield Difference(table.name, _key(lkey), name, str(a), str(b))
            left, right = next(mine, None), next(theirs, None)


def _ranked(value: Any) -> tuple[int, Any]:
    """A key value in SQLite's order of types (NULL, numbers, text, blobs), so that a value of
    the wrong type written below the application is a difference, not a failed comparison."""
    if value is None:
        return 0, 0
    if isinstance(value, str):
        return 2, value
    if isinstance(value, bytes):
        return 3, value
    return 1, value


def _utc(value: Any) -> Any:
    """A moment in UTC without its zone, as SQLite keeps it; any other value as it is."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _key(values: tuple[tuple[int, Any], ...] | None) -> str:
    return ", ".join(str(v) for _, v in values or ())


def _row(names: Sequence[str], row: tuple[Any, ...]) -> str:
    return ", ".join(f"{n}={v}" for n, v in zip(names, row, strict=True))
