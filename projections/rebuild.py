"""Rebuild projections from scratch, atomically.

Everything happens in one database transaction: the projections' rows are deleted, every stored
event is read once (in pages, so memory stays bounded), decoded once and applied to each of
them, and their tracking positions are set to the last one. Readers see the old rows until the
transaction commits and the new ones after (PostgreSQL MVCC; SQLite WAL snapshots), never a
half-built projection. A failure rolls everything back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import delete, insert

from ledger.application import GrantLedger
from projections.runner import Projection, events_table, read_records, tracking_recorder

BATCH = 20000


def rebuild(
    app: GrantLedger,
    projection: Projection,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
) -> int:
    """Rebuild one projection; returns the number of events applied."""
    return rebuild_all(app, [projection], progress, batch_size)


def rebuild_all(
    app: GrantLedger,
    chosen: Sequence[Projection],
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
) -> int:
    """Rebuild projections together, in one pass over the store and one transaction; returns
    the number of events read."""
    recorder = tracking_recorder(app)
    assert recorder.datastore.engine is not None
    for projection in chosen:  # tables of projections kept outside this package
        for table in projection.tables:
            table.create(recorder.datastore.engine, checkfirst=True)
    tracking = recorder.tracking_table
    events = events_table(app)
    done = position = 0
    with recorder.transaction(commit=True) as session:
        for projection in chosen:
            for table in reversed(list(projection.tables)):
                session.execute(delete(table))
            session.execute(delete(tracking).where(tracking.c.application_name == projection.name))
        conn = session.connection()
        while batch := read_records(conn, events, position + 1, batch_size):
            for projection in chosen:
                projection.apply(session, batch)
            position = batch[-1].id
            done += len(batch)
            if progress is not None:
                progress(len(batch))
        if position:
            rows = [{"application_name": p.name, "notification_id": position} for p in chosen]
            session.execute(insert(tracking), rows)
    return done
