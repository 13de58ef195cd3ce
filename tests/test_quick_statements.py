"""``ledger.database.Quick`` runs a statement on the driver's cursor, not through SQLAlchemy's
execution, on PostgreSQL (a web request's session read, a grant's newer events). A database error
there must still be what SQLAlchemy makes of it: a lock held past the busy timeout is a storage
error (exit 5, one line, nothing written), and a lost connection costs one failed statement, not
one per connection the pool holds (the pool's older connections are invalidated with it)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, literal, select, text
from sqlalchemy.exc import DBAPIError

from ledger.database import Quick, configure_engine
from tests.conftest import drop_pg_schema, fresh_pg_url, pg_unavailable
from tests.reliability import events, funded_grant, run_cli, spend_args

pytestmark = pytest.mark.skipif(pg_unavailable() is not None, reason=pg_unavailable() or "")


@pytest.fixture
def funded() -> Iterator[str]:
    url = fresh_pg_url()
    funded_grant(url, "200000.00")
    yield url
    drop_pg_schema(url)


def test_a_lock_on_what_a_quick_read_reads_is_a_storage_error(funded: str) -> None:
    before = events(funded)
    engine = create_engine(funded)
    try:
        with engine.connect() as holder:
            # a grant's load reads its latest snapshot first, through Quick
            holder.execute(text("LOCK TABLE ledger_snapshots IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            result = run_cli(funded, *spend_args("G1", "记-Q1", "1000"), GRANT_LEDGER_BUSY_TIMEOUT="500")
            waited = time.monotonic() - started
            holder.rollback()
    finally:
        engine.dispose()
    assert result.returncode == 5, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "locked by another writer" in result.stderr, result.stderr
    assert waited < 15
    assert events(funded) == before
    assert run_cli(funded, *spend_args("G1", "记-Q1", "1000")).returncode == 0


def test_a_lost_connection_fails_one_statement_and_the_pool_recovers(funded: str) -> None:
    engine = create_engine(funded, pool_size=5)
    configure_engine(engine)
    admin = create_engine(funded, isolation_level="AUTOCOMMIT")
    quick = Quick(select(literal(1)))
    try:
        held = [engine.connect() for _ in range(3)]
        backends = []
        for conn in held:
            backends.append(conn.execute(text("SELECT pg_backend_pid()")).scalar())
            conn.rollback()
        for conn in held:
            conn.close()  # three connections in the pool
        with admin.connect() as conn:
            for pid in backends:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        failures = []
        for _ in range(5):
            try:
                assert quick.rows(engine, {}) == [(1,)]
            except DBAPIError as e:
                failures.append(e)
        assert len(failures) == 1, failures
        assert failures[0].connection_invalidated
    finally:
        engine.dispose()
        admin.dispose()


def test_the_registry_check_walks_the_registry_not_the_whole_log(funded: str) -> None:
    """Every write and every web request asks where the people registry stands. Planned without
    statistics (just after a large import), ``max(id)`` of the registry's events was a backward
    walk of the whole events table's primary key: 0.7 s a request at a million events. With the
    planner told that every event has one originator (the worst its statistics can say), the
    check still reads the registry's own index."""
    from ledger.application import GrantLedger

    app = GrantLedger(funded)
    engine = create_engine(funded)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE ledger_events ALTER COLUMN originator_id SET (n_distinct = 1)"))
            conn.execute(text("ANALYZE ledger_events"))
        sql, values = app.trust._stored_query._prepared(engine, {})
        with engine.connect() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("SET enable_seqscan = off")  # a test's few events, planned as a million
            cursor.execute("EXPLAIN " + sql, values)
            plan = "\n".join(line for (line,) in cursor.fetchall())
        assert "ledger_events_pkey" not in plan, plan
        assert "ledger_events_aggregate_idx" in plan, plan
        assert app.trust._registry_stored()[1] >= 1
    finally:
        engine.dispose()
        app.close()
