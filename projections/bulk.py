"""Many rows into one table with the driver's own executemany (SQLite) or COPY (PostgreSQL).

SQLAlchemy's executemany builds and type-processes a parameter dict per row, which costs three
times the insert itself on SQLite. The projections' busiest tables (a row per event) go in as
plain tuples instead; dates and times arrive as the ISO strings of the stored events and are
written exactly as SQLAlchemy's types would write them, so readers (and rows written the general
way) see no difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Index, Table, insert
from sqlalchemy.engine import Connection

from projections.records import sqlite_moment

if TYPE_CHECKING:  # a report loads this module (through projections.acts) without the ORM
    from sqlalchemy.orm import Session

# rows from which COPY is cheaper than one INSERT of them all (PostgreSQL)
FEW = 32
# rows to load (and, for an import, no fewer than the events stored) from which SQLite's tables
# that get a row per event are indexed after the load, not row by row (``indexes_dropped``):
# below a few hundred thousand their indexes fit the page cache and nothing is gained
DEFER_INDEXES_FROM = 250_000
# memory SQLite sorts an index's keys in before it merges runs (``made_again``): with 8 MB the
# writing process of 1M rows over 20,000 bases grew by 11-16 MB as it made the indexes (to 257-259
# MB); with 4 MB by none, and no slower (0.85-0.86 s against 0.90-1.06 s, 2026-12-05)
SORT_KIB = 4 * 1024
# helper threads SQLite's sorter may use then: the indexes are made after the load, when the rebuild's
# or the import's other processes are done (1M events: 2.3 s with none, 1.8 s with two)
SORT_THREADS = 2
_NUMBERS = (int, Decimal, float)


class BulkInsert:
    """INSERT of tuples in ``table``'s column order; ``dates``/``moments`` name the columns
    given as ISO date / timestamp strings."""

    def __init__(self, table: Table, dates: Sequence[str] = (), moments: Sequence[str] = ()) -> None:
        self.table = table
        self.names = [c.name for c in table.columns]
        self.dates = [self.names.index(n) for n in dates]
        self.moments = [self.names.index(n) for n in moments]
        columns = ", ".join(self.names)
        self.sqlite_sql = f"INSERT INTO {table.name} ({columns}) VALUES ({', '.join('?' * len(self.names))})"
        self.copy_sql = f"COPY {table.name} ({columns}) FROM STDIN"
        self._insert_head = f"INSERT INTO {table.name} ({columns}) VALUES "
        self._values = f"({', '.join(['%s'] * len(self.names))})"
        self._inserts: dict[int, str] = {}

    def __call__(self, session: Session, rows: list[tuple[Any, ...]], moments_written: bool = False) -> None:
        """``moments_written``: the rows carry their timestamps as SQLite stores them already
        (``written_moments`` said so: projections writing one event's timestamp to two tables
        convert it once)."""
        if not rows:
            return
        conn = session.connection()
        if conn.dialect.name == "sqlite" and conn.dialect.paramstyle == "qmark":
            if not moments_written:
                rows = self._converted(rows, [(at, sqlite_moment) for at in self.moments])
            conn.exec_driver_sql(self.sqlite_sql, rows)
        elif conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
            if len(rows) <= FEW:
                self._insert_few(conn.connection.driver_connection, rows)
            else:
                self._copy(conn.connection.driver_connection, rows)
        else:
            self.general(session, rows)

    @staticmethod
    def written_moments(session: Session) -> bool:
        """Are timestamps given to this session's inserts as SQLite stores them
        (``records.written_at``), not as the events' ISO text?"""
        dialect = session.connection().dialect
        return dialect.name == "sqlite" and dialect.paramstyle == "qmark"

    def general(self, session: Session, rows: list[tuple[Any, ...]]) -> None:
        """SQLAlchemy's types and its batched INSERT ... VALUES (any other driver)."""
        fixes = [(at, date.fromisoformat) for at in self.dates]
        fixes += [(at, datetime.fromisoformat) for at in self.moments]
        converted = self._converted(rows, fixes)
        session.execute(insert(self.table), [dict(zip(self.names, row, strict=True)) for row in converted])

    def _copy(self, driver: Any, rows: list[tuple[Any, ...]]) -> None:
        """PostgreSQL: COPY in the caller's transaction; the server reads the ISO date and
        timestamp texts by the columns' types, as it reads what SQLAlchemy binds."""
        with driver.cursor() as cursor, cursor.copy(self.copy_sql) as copy:
            for row in rows:
                copy.write_row(row)

    def _insert_few(self, driver: Any, rows: list[tuple[Any, ...]]) -> None:
        """PostgreSQL, a few rows (a write's): one INSERT, one round trip where a COPY takes two.
        Texts and numbers are sent as untyped text, so that the server reads each by its column's
        type as it reads COPY's: a fraction bound for an integer column is refused either way,
        never rounded."""
        sql = self._inserts.get(len(rows))
        if sql is None:
            sql = self._inserts[len(rows)] = self._insert_head + ", ".join([self._values] * len(rows))
        values = [str(v) if v.__class__ in _NUMBERS else v for row in rows for v in row]
        with driver.cursor() as cursor:
            cursor.execute(sql, values)

    @staticmethod
    def _converted(
        rows: list[tuple[Any, ...]], fixes: list[tuple[int, Callable[[str], Any]]]
    ) -> list[tuple[Any, ...]]:
        if not fixes:
            return rows
        if len(fixes) == 1:  # one column (the balances' recorded_at on SQLite): one comprehension
            ((at, fix),) = fixes
            return [(*row[:at], fix(row[at]), *row[at + 1 :]) for row in rows]
        out = []
        for row in rows:
            values = list(row)
            for at, fix in fixes:
                values[at] = fix(values[at])
            out.append(tuple(values))
        return out


def to_defer(conn: Connection, projections: Iterable[Any], load: int, stored: int = 0) -> list[Table]:
    """The tables of ``projections`` a row per event is appended to (``schema.APPENDED``) whose
    indexes a load of ``load`` events into a store of ``stored`` makes after it, not row by row:
    on SQLite, from ``DEFER_INDEXES_FROM`` and no fewer than the store holds (else none)."""
    if conn.dialect.name != "sqlite" or load < DEFER_INDEXES_FROM or load < stored:
        return []
    from projections.schema import APPENDED

    theirs = {table.name for projection in projections for table in projection.tables}
    return [table for table in APPENDED if table.name in theirs]


def indexes_dropped(conn: Connection, tables: Sequence[Table]) -> list[Index]:
    """SQLite: the tables' indexes (not unique, declared with the table) dropped in the caller's
    transaction, for a load to append its rows without maintaining them; ``made_again`` makes
    them again before the commit, and a rollback brings them back. A new row's key falls
    anywhere in such an index: once it outgrows the page cache every insert reads and rewrites a
    page of it (a million acts over 20,000 grants: 15.8 s appended with both indexes, 4.5 s
    without and 3.9 s to make them after). Readers keep their snapshot's indexes meanwhile.
    Elsewhere nothing is dropped: PostgreSQL's DROP INDEX would lock readers out until the
    commit."""
    if conn.dialect.name != "sqlite":
        return []
    dropped = [index for table in tables for index in sorted(table.indexes, key=_name) if not index.unique]
    for index in dropped:
        index.drop(conn, checkfirst=True)  # one missing (never made) is made at the end all the same
    return dropped


def made_again(conn: Connection, indexes: Sequence[Index]) -> None:
    """The indexes ``indexes_dropped`` dropped, made again. SQLite sorts each index's keys in
    memory up to the size of the page cache, then in runs it merges: with the import's cache at
    64 MB (32 MB since), building them raised a 10M import's writing process from 290 MB to 353 MB, so they
    are sorted with ``SORT_KIB`` of memory, by ``SORT_THREADS`` threads."""
    if not indexes:
        return
    before = None
    if conn.dialect.name == "sqlite":
        before = (
            int(conn.exec_driver_sql("PRAGMA cache_size").scalar() or 0),
            int(conn.exec_driver_sql("PRAGMA threads").scalar() or 0),
        )
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SORT_KIB}")
        conn.exec_driver_sql(f"PRAGMA threads = {SORT_THREADS}")
    try:
        for index in indexes:
            index.create(conn)
    finally:
        if before is not None:
            conn.exec_driver_sql(f"PRAGMA cache_size = {before[0]}")
            conn.exec_driver_sql(f"PRAGMA threads = {before[1]}")


def _name(index: Index) -> str:
    return str(index.name)
