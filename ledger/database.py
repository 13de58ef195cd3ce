"""Where the events live: database URLs, engine settings, and the database-level guards
(append-only triggers, schema version, SQLite durability settings).

Kept free of eventsourcing imports so that read-only commands start fast.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import bindparam, create_engine, event, text
from sqlalchemy.engine import Connection, Engine

from ledger.errors import BadInputError
from ledger.i18n import T_
from ledger.location import (
    APP_NAME,
    EVENTS_TABLE,
    MAX_BUSY_TIMEOUT_MS,
    META_TABLE,
    OWN_TABLES,
    SCHEMA_VERSION,
    SNAPSHOTS_TABLE,
    check_version,
    database_url,
    default_db_path,
    describe_url,
    not_a_ledger,
    sqlite_file,
)

__all__ = [
    "APP_NAME",
    "EVENTS_TABLE",
    "META_TABLE",
    "SCHEMA_VERSION",
    "SNAPSHOTS_TABLE",
    "database_url",
    "default_db_path",
    "describe_url",
    "guard_records",
    "make_engine",
    "require_ledger",
    "schema_ready",
]


DEFAULT_BUSY_TIMEOUT_MS = 30000


def busy_timeout_ms() -> int:
    """How long a command waits for another writer's lock (env GRANT_LEDGER_BUSY_TIMEOUT, ms)."""
    raw = os.environ.get("GRANT_LEDGER_BUSY_TIMEOUT", "").strip()
    try:
        value = int(raw) if raw else DEFAULT_BUSY_TIMEOUT_MS
    except ValueError:
        value = DEFAULT_BUSY_TIMEOUT_MS
    return max(0, min(value, MAX_BUSY_TIMEOUT_MS))


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms()}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _pg_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # LOCK TABLE (taken by every write) waits at most the busy timeout, as on SQLite.
    # The connection may be in autocommit mode or not: commit so the setting is not rolled back.
    cursor = dbapi_connection.cursor()
    cursor.execute(f"SET lock_timeout = {busy_timeout_ms()}")
    cursor.close()
    if not getattr(dbapi_connection, "autocommit", False):
        dbapi_connection.commit()


def one_statement(engine: Engine) -> Connection:
    """A connection for one statement on its own (a read, or one UPDATE, atomic by itself): on
    PostgreSQL in autocommit, one round trip instead of three (BEGIN, the statement, ROLLBACK); a
    web server's every request makes a few. A write on it is committed with ``commit()``, which
    autocommit has done already."""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        try:
            conn.execution_options(isolation_level="AUTOCOMMIT")
        except BaseException:
            conn.close()  # back to the pool, not left checked out
            raise
    return conn


class Quick:
    """A statement run on its own many times a second (a web server's per-request reads and
    writes): built and compiled by SQLAlchemy once per dialect, then, on PostgreSQL through
    psycopg, handed to the driver's cursor on an autocommit connection (``one_statement``), each
    parameter converted by its column type's own bind processor as SQLAlchemy converts it.
    SQLAlchemy's execution around a statement cost about 0.13 ms of CPU against the driver's
    0.06 ms, three times in every web write. Elsewhere it runs through SQLAlchemy as usual."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        # by dialect: the SQL, the values bound in the statement itself, and each parameter's
        # converter (None: the driver takes the value as it is)
        self._compiled: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {}

    def _prepared(self, engine: Engine, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        compiled = self._compiled.get(engine.dialect.name)
        if compiled is None:
            dialect = engine.dialect
            made = self.statement.compile(dialect=dialect)
            if any(bind.expanding or bind.callable is not None for bind in made.binds.values()):
                raise TypeError("Quick runs statements without IN lists or callable parameters")
            binds = made.binds.items()
            converters = {n: b.type.dialect_impl(dialect).bind_processor(dialect) for n, b in binds}
            fixed = {name: bind.value for name, bind in binds if not bind.required}
            fixed = {name: converters[name](v) if converters[name] else v for name, v in fixed.items()}
            compiled = self._compiled[engine.dialect.name] = (str(made), fixed, converters)
        sql, fixed, converters = compiled
        given = {name: converters[name](v) if converters[name] else v for name, v in params.items()}
        return sql, {**fixed, **given}

    def _on_driver(
        self, conn: Connection, engine: Engine, params: dict[str, Any], take: Callable[[Any], Any]
    ) -> Any:
        """What ``take`` reads off the driver's cursor once the statement ran on it."""
        sql, values = self._prepared(engine, params)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, values)
            return take(cursor)
        except Exception as e:
            driver_failed(conn, e, sql, values, cursor)
        finally:
            cursor.close()

    def rows(self, engine: Engine, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows a SELECT gives, each a tuple in the order of its columns."""
        with one_statement(engine) as conn:
            if engine.dialect.driver != "psycopg":
                return [tuple(row) for row in conn.execute(self.statement, params)]
            return list(self._on_driver(conn, engine, params, lambda cursor: cursor.fetchall()))

    def run(self, engine: Engine, params: dict[str, Any]) -> int:
        """An UPDATE or DELETE, committed: the number of rows it changed."""
        with one_statement(engine) as conn:
            if engine.dialect.driver != "psycopg":
                changed = conn.execute(self.statement, params).rowcount
                conn.commit()
                return int(changed)
            return int(self._on_driver(conn, engine, params, lambda cursor: cursor.rowcount))


def driver_failed(conn: Connection, error: Exception, sql: str, values: Any, cursor: Any) -> NoReturn:
    """The driver's error raised as SQLAlchemy raises it for a statement of its own: wrapped in
    its DBAPIError (a lock timeout is then a storage error, exit 5, as elsewhere) and, for a lost
    connection, with the connection and the pool's older ones invalidated, so that one failed
    request, not one per pooled connection, finds the database restarted. It is SQLAlchemy's own
    handler, private to its Connection: tests/test_quick_statements.py holds it to both."""
    conn._handle_dbapi_exception(error, sql, values, cursor, None)


def streamed_rows(
    conn: Connection, sql: str, params: dict[str, Any], batch: int
) -> Generator[Sequence[Any], None, None]:
    """The rows of ``sql`` (named parameters, ``:name``) streamed ``batch`` at a time: on SQLite
    through the driver's own cursor, as SQLite gives them, without a Row object each (a tenth or
    more of a process that reads every event or leaf); elsewhere through SQLAlchemy."""
    if conn.dialect.name == "sqlite" and conn.dialect.paramstyle == "qmark":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)  # sqlite3 binds :name from a dict itself
            while rows := cursor.fetchmany(batch):
                yield from rows
        except sqlite3.Error as e:  # a storage error (exit 5), as SQLAlchemy would raise it
            driver_failed(conn, e, sql, params, cursor)
        finally:
            cursor.close()
        return
    result = conn.execute(text(sql).execution_options(yield_per=batch), params)
    try:
        yield from result
    finally:  # a reader that stops early leaves no server-side cursor open
        result.close()


def refresh_statistics(engine: Engine, tables: Sequence[str]) -> None:
    """On PostgreSQL, ANALYZE ``tables`` now (a bulk load just grew them): until autovacuum gets
    to a table its planner works from what it knew before the load, and a web server started
    right after a million-event import planned its per-write statements so that it recorded 95
    writes/s, against 207/s after ANALYZE (3.6 s at that size). A table this login does not own
    is skipped with PostgreSQL's warning, as ANALYZE does; elsewhere nothing is done."""
    if engine.dialect.name != "postgresql" or not tables:
        return
    from sqlalchemy.exc import DBAPIError

    names = ", ".join(engine.dialect.identifier_preparer.quote(name) for name in sorted(set(tables)))
    try:
        with engine.begin() as conn:
            conn.execute(text(f"ANALYZE {names}"))
    except DBAPIError:  # what was written stands: autovacuum will analyze them in its time
        return


def configure_engine(engine: Engine) -> None:
    """The ledger's settings on every connection; before the first, a SQLite file of another
    program is refused (``refuse_foreign_sqlite``)."""
    if engine.dialect.name == "sqlite":
        refuse_foreign_sqlite(engine)
        event.listen(engine, "connect", _on_sqlite_connect)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _on_pg_connect)


# The settings are looked up at each connection, not bound when the engine is made: an engine is
# kept for the process's next command (``kept_engine``), which gets the settings of its own time.
def _on_sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    _sqlite_on_connect(dbapi_connection, record)


def _on_pg_connect(dbapi_connection: Any, record: Any) -> None:
    _pg_on_connect(dbapi_connection, record)


# Connections a PostgreSQL engine keeps open between uses, and how many more it opens (and closes
# on return) when busier: a server's threads, up to this many at once, reuse theirs instead of
# opening one per request (SQLAlchemy keeps 5: with 16 clients writing at once, the web server
# opened a connection for most requests, each a new PostgreSQL process and its settings). At most
# 30 a process, as SQLAlchemy's 15: two server processes stay well inside PostgreSQL's 100.
POOL_SIZE = 20
POOL_OVERFLOW = 10


def pool_options(url: str) -> dict[str, Any]:
    """The pool's size for an engine on ``url`` (PostgreSQL's; SQLite's pool is its own)."""
    if url.startswith("postgresql"):
        return {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
    return {}


# A process that runs several commands on one database (the test suite's in-process runs, a web
# server's workspaces) keeps each engine for the next: SQLAlchemy compiles a statement once per
# engine, and a spend compiled about twenty, a third of its time in such a process. A command gets
# it without connections (``dispose``): its first connection is checked again (our
# ``first_connect`` listeners), and a SQLite file is looked at again before it. The engine object,
# its compiled statements and what its dialect learnt of the server at its first connection
# (version, default schema and isolation level) outlive the command.
KEPT_ENGINES = 8
_KEPT: OrderedDict[tuple[str, str, str], Engine] = OrderedDict()
_KEPT_LOCK = threading.Lock()


def _forget_kept() -> None:
    """A forked child opens engines of its own: a kept one's pool holds the parent's connections,
    which closing in the child would end for the parent too (a lock another thread held at the
    fork would never be released in the child)."""
    global _KEPT_LOCK
    _KEPT.clear()
    _KEPT_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_kept)


def kept_engine(purpose: str, url: str, make: Callable[[], Engine]) -> Engine:
    """The engine ``make`` made for ``purpose`` on ``url`` earlier in this process, its pool new,
    or a new one; the last ``KEPT_ENGINES`` are kept."""
    file = sqlite_file(url) if url.startswith("sqlite") else None
    # a relative file is the one in the directory the engine was made in (SQLAlchemy makes it
    # absolute then): another directory is another database
    key = (purpose, url, os.getcwd() if file is not None and not file.is_absolute() else "")
    with _KEPT_LOCK:
        engine = _KEPT.pop(key, None)
        if engine is None:
            engine = make()
        else:
            engine.dispose()  # a new pool: no connection carried over, the first one checked
            refuse_foreign_sqlite(engine)
        _KEPT[key] = engine
        while len(_KEPT) > KEPT_ENGINES:
            _KEPT.popitem(last=False)
    return engine


def ledger_engine(url: str) -> Engine:
    """A new engine on ``url`` with the ledger's pool and connection settings (the store's)."""
    engine = create_engine(url, **pool_options(url))
    configure_engine(engine)
    return engine


def _read_engine(url: str) -> Engine:
    engine = ledger_engine(url)
    event.listen(engine, "first_connect", _refuse_newer_schema)
    return engine


def make_engine(url: str) -> Engine:
    """An engine for the read side (reports), with the same settings as the store's.

    Its first connection refuses a database of a newer schema, as the write side does.
    """
    return kept_engine("read", url, lambda: _read_engine(url))


def _refuse_newer_schema(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'")
        row = cursor.fetchone()
    except Exception:  # no meta table yet: a new or foreign database, judged when written
        row = None
    finally:
        cursor.close()
        dbapi_connection.rollback()
    if row is not None:
        check_version(str(row[0]))


def require_ledger(engine: Engine, db: str) -> None:
    """NotFoundError naming the database when it holds no ledger (``init`` makes one): the
    commands other than ``init`` never create a ledger where a mistyped ``--db`` points."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            query = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = :meta"
        else:
            query = "SELECT COUNT(*) WHERE to_regclass(:meta) IS NOT NULL"
        found = conn.execute(text(query), {"meta": META_TABLE}).scalar()
    if not found:
        raise not_a_ledger(describe_url(db), describe_url(db))


def create_sqlite_file(path: Path) -> None:
    """The ledger's SQLite file, empty, readable by its owner only (0600, whatever the umask);
    SQLite gives its -wal and -shm files the mode of the database file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- guards

# Stored events and snapshots are append-only: the write side checks a snapshot against its
# events before trusting it (``GrantLedger.load``), and the database refuses to change either.
_APPEND_ONLY = (EVENTS_TABLE, SNAPSHOTS_TABLE)


def _sqlite_guards(tables: tuple[str, ...], refusal: Callable[[str], str]) -> list[str]:
    """Triggers refusing UPDATE and DELETE on ``tables``; ``refusal(table)`` begins the message."""
    return [
        f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} BEGIN
    SELECT RAISE(ABORT, '{refusal(table)}: {op} refused'); END"""
        for table in tables
        for op in ("UPDATE", "DELETE")
    ]


def _pg_guards(tables: tuple[str, ...], function: str) -> list[str]:
    """The trigger function ``function`` and the triggers refusing UPDATE, DELETE and TRUNCATE on
    ``tables``, each created only if missing (so a role that owns none of them can run them)."""
    return [
        f"""DO $$ BEGIN
      IF to_regproc('{function}') IS NULL THEN
        CREATE FUNCTION {function}() RETURNS trigger AS $f$
        BEGIN RAISE EXCEPTION 'grant-ledger % is append-only: % refused', TG_TABLE_NAME, TG_OP; END;
        $f$ LANGUAGE plpgsql;
      END IF;
    END $$""",
        *(
            f"""DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{table}_append_only'
                     AND tgrelid = to_regclass('{table}')) THEN
        CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION {function}();
      END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{table}_no_truncate'
                     AND tgrelid = to_regclass('{table}')) THEN
        CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION {function}();
      END IF;
    END $$"""
            for table in tables
        ),
    ]


_SQLITE_TRIGGERS = _sqlite_guards(
    _APPEND_ONLY, lambda table: f"grant-ledger {table.removeprefix('ledger_')} are append-only"
)
_PG_TRIGGERS = _pg_guards(_APPEND_ONLY, "grant_ledger_append_only")

_SQLITE_TRIGGER_NAMES = [f"{t}_no_{op}" for t in _APPEND_ONLY for op in ("update", "delete")]
_PG_TRIGGER_NAMES = [f"{t}_{kind}" for t in _APPEND_ONLY for kind in ("append_only", "no_truncate")]

_SQLITE_READY = text(
    "SELECT COUNT(*) FROM sqlite_master WHERE (type = 'table' AND name IN (:events, :snapshots, :meta)) "
    "OR (type = 'trigger' AND name IN :triggers)"
).bindparams(
    bindparam("triggers", _SQLITE_TRIGGER_NAMES, expanding=True),
    events=EVENTS_TABLE,
    snapshots=SNAPSHOTS_TABLE,
    meta=META_TABLE,
)
_PG_READY = text(
    "SELECT to_regclass(:events) IS NOT NULL AND to_regclass(:snapshots) IS NOT NULL "
    "AND to_regclass(:meta) IS NOT NULL AND (SELECT COUNT(*) FROM pg_trigger "
    "WHERE tgrelid IN (to_regclass(:events), to_regclass(:snapshots)) AND tgname IN :triggers) = :n"
).bindparams(
    bindparam("triggers", _PG_TRIGGER_NAMES, expanding=True),
    events=EVENTS_TABLE,
    snapshots=SNAPSHOTS_TABLE,
    meta=META_TABLE,
    n=len(_PG_TRIGGER_NAMES),
)


def schema_ready(engine: Engine) -> bool:
    """Whether the events and snapshots tables, the meta row and the append-only triggers are all
    there, read from the catalogue without DDL, so that opening a populated store creates and
    inspects nothing. Refuses a newer schema."""
    if engine.dialect.name == "sqlite":
        query, complete = _SQLITE_READY, 3 + len(_SQLITE_TRIGGER_NAMES)
    elif engine.dialect.name == "postgresql":
        query, complete = _PG_READY, True
    else:
        return False
    with engine.connect() as conn:
        if conn.execute(query).scalar() != complete:
            return False
        row = conn.execute(text(f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'")).first()
    if row is None:
        return False
    check_version(str(row[0]))
    return str(row[0]) == str(SCHEMA_VERSION)


def refuse_foreign_sqlite(engine: Engine) -> None:
    """A SQLite file that holds another program's tables is not made into a ledger: BadInputError
    before anything is written. It is looked at read-only, before the engine's first connection
    (which would switch the file to WAL). A PostgreSQL database may well host others' tables."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return
    path = Path(database).resolve()
    if not path.is_file():
        return
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        if getattr(e, "sqlite_errorcode", None) != sqlite3.SQLITE_NOTADB:
            return  # locked, or unreadable: opening it says so in its own words
        msg = T_(
            "{path} is not a SQLite database ({error}), so neither a grant-ledger one nor one it could "
            "become; nothing was written: give the ledger's file, or a new file name",
            path=path,
            error=str(e),
        )
        raise BadInputError(msg) from None
    except sqlite3.Error:
        return
    foreign = sorted(str(name) for (name,) in rows if not str(name).startswith(OWN_TABLES))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
        msg = T_(
            "{path} is another program's SQLite database (tables {shown}), not a grant-ledger one; "
            "nothing was written: give a new file name",
            path=path,
            shown=shown,
        )
        raise BadInputError(msg)


# Signed checkpoints and the leaves they signed (audit/log.py) are records like the events: no
# rebuild drops them, and the database refuses to change them. Their tables are the audit
# producer's; these guards are installed once the tables exist.
_RECORD_TABLES = ("audit_checkpoints", "audit_signed_leaves")

_SQLITE_RECORD_TRIGGERS = _sqlite_guards(_RECORD_TABLES, lambda table: f"grant-ledger {table} is append-only")
_PG_RECORD_TRIGGERS = _pg_guards(_RECORD_TABLES, "grant_ledger_records_append_only")


def guard_records(conn: Connection) -> None:
    """The append-only triggers of the signed checkpoints' tables (which must exist)."""
    postgresql = conn.dialect.name == "postgresql"
    for statement in _PG_RECORD_TRIGGERS if postgresql else _SQLITE_RECORD_TRIGGERS:
        conn.execute(text(statement))


def ensure_schema(engine: Engine) -> None:
    """Create the meta table and append-only triggers; refuse a newer schema."""
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key VARCHAR(64) PRIMARY KEY, "
                "value VARCHAR(256) NOT NULL)"
            )
        )
        row = conn.execute(text(f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'")).first()
        if row is None:
            conn.execute(
                text(f"INSERT INTO {META_TABLE} (key, value) VALUES ('schema_version', :v)"),
                {"v": str(SCHEMA_VERSION)},
            )
        else:
            check_version(str(row[0]))
        statements = _PG_TRIGGERS if engine.dialect.name == "postgresql" else _SQLITE_TRIGGERS
        for statement in statements:
            conn.execute(text(statement))
        _make_snapshot_seals(conn)
        compress_fast(conn, {"ledger_snapshots": ("state",)})


_COMPRESSION_METHODS = text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")


def compress_fast(conn: Connection, columns: dict[str, tuple[str, ...]]) -> None:
    """On PostgreSQL built with lz4, store these columns' large values compressed by lz4 instead
    of the default pglz, which costs several times more to write: a large grant's snapshot (about
    a megabyte) and its compliance facts (tens of kilobytes), written again and again. Values
    already stored keep their method (both read back the same); elsewhere nothing changes."""
    if conn.dialect.name != "postgresql":
        return
    methods = conn.execute(_COMPRESSION_METHODS).scalar()
    if not methods or "lz4" not in methods:
        return
    for table, names in sorted(columns.items()):
        changes = ", ".join(f"ALTER COLUMN {name} SET COMPRESSION lz4" for name in names)
        conn.execute(text(f"ALTER TABLE {table} {changes}"))


def _make_snapshot_seals(conn: Connection) -> None:
    """The table of signed snapshots (ledger.snapshot_seals), append-only like the records. It is
    not part of ``schema_ready``: a ledger made before it opens as it did and keeps none."""
    from ledger.snapshot_seals import TABLE, snapshot_seals

    snapshot_seals.create(conn, checkfirst=True)
    if conn.dialect.name == "postgresql":
        guards = _pg_guards((TABLE,), "grant_ledger_records_append_only")
    else:
        guards = _sqlite_guards((TABLE,), lambda table: f"grant-ledger {table} is append-only")
    for statement in guards:
        conn.execute(text(statement))
