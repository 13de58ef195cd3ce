"""A single statement runs in autocommit on PostgreSQL (ledger.database.one_statement: one round
trip, not three). The promise it must not break: the pooled connection it used goes back to the
pool as it was, so the next write on it — the event store's, under LOCK TABLE — is one
transaction, all or nothing. Checked with a pool of one connection, so the next checkout is the
very connection the autocommit statement ran on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ledger.database import configure_engine, one_statement
from tests.conftest import drop_pg_schema, fresh_pg_url, pg_unavailable

pytestmark = pytest.mark.skipif(pg_unavailable() is not None, reason=pg_unavailable() or "")


@pytest.fixture
def engine() -> Iterator[Engine]:
    url = fresh_pg_url()
    made = create_engine(url, pool_size=1, max_overflow=0)
    configure_engine(made)
    with made.begin() as conn:
        conn.execute(text("CREATE TABLE t (x int PRIMARY KEY)"))
    yield made
    made.dispose()
    drop_pg_schema(url)


def _driver(conn: Any) -> Any:
    return conn.connection.dbapi_connection


def _kept(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(conn.execute(text("SELECT x FROM t")).scalars())


def test_a_write_after_an_autocommit_statement_is_still_all_or_nothing(engine: Engine) -> None:
    with one_statement(engine) as conn:
        used = _driver(conn)
        assert used.autocommit is True
        conn.execute(text("INSERT INTO t VALUES (100)"))
        conn.commit()
    with pytest.raises(Exception, match="duplicate key"), engine.begin() as conn:
        assert _driver(conn) is used and used.autocommit is False
        conn.execute(text("LOCK TABLE t IN EXCLUSIVE MODE"))  # refused outside a transaction
        conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert _kept(engine) == [100]


def test_a_failed_autocommit_statement_leaves_no_autocommit_behind(engine: Engine) -> None:
    with pytest.raises(Exception, match="division by zero"), one_statement(engine) as conn:
        used = _driver(conn)
        conn.execute(text("SELECT 1/0"))
    with pytest.raises(Exception, match="duplicate key"), Session(engine) as session, session.begin():
        assert _driver(session.connection()) is used and used.autocommit is False
        session.execute(text("INSERT INTO t VALUES (2)"))
        session.execute(text("INSERT INTO t VALUES (2)"))
    assert _kept(engine) == []
