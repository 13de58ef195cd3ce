"""A long-running process on PostgreSQL (the web server: a thread per request) keeps its
connections: as many threads at once as a busy office has clients each get one, and the next
requests reuse them. With SQLAlchemy's default of 5 kept, 16 clients writing at once made the
server open a new connection (a new PostgreSQL process, its settings sent again) for most
requests."""

from __future__ import annotations

import threading

import pytest

from ledger.application import GrantLedger
from ledger.database import POOL_SIZE, make_engine
from tests.conftest import Ledger

CLIENTS = 16


def _backends_used(engine: object) -> set[int]:
    """The server processes behind ``CLIENTS`` connections held at once, each by its thread."""
    seen: set[int] = set()
    all_in = threading.Barrier(CLIENTS)

    def hold() -> None:
        with engine.connect() as conn:  # type: ignore[attr-defined]
            seen.add(int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()))
            all_in.wait(timeout=30)  # every thread holds its own at once

    threads = [threading.Thread(target=hold) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return seen


def test_sixteen_threads_at_once_reuse_their_connections(ledger: Ledger, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite opens no server process per connection")
    assert POOL_SIZE >= CLIENTS
    app = GrantLedger(ledger.url)
    reading = make_engine(ledger.url)
    try:
        for engine in (app.engine, reading):  # the store's engine, and the read side's
            first = _backends_used(engine)
            assert len(first) == CLIENTS
            assert _backends_used(engine) == first  # the same connections, none opened again
    finally:
        app.close()
        reading.dispose()
