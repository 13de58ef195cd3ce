"""Rebuild a projection from scratch, atomically.

Everything happens in one database transaction: the projection's rows are deleted, every stored
event is applied again in batches, and the tracking position is set to the last one. Readers see
the old rows until the transaction commits and the new ones after (PostgreSQL MVCC; SQLite WAL
snapshots), never a half-built projection. A failure rolls everything back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, insert

from ledger.application import GrantLedger
from projections.runner import Projection, tracking_recorder

BATCH = 5000


def rebuild(
    app: GrantLedger,
    projection: Projection,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
) -> int:
    """Rebuild one projection; returns the number of events applied."""
    recorder = tracking_recorder(app)
    for table in projection.tables:  # tables of projections kept outside this package
        assert recorder.datastore.engine is not None
        table.create(recorder.datastore.engine, checkfirst=True)
    tracking = recorder.tracking_table
    raw = getattr(projection, "raw", False)
    done = 0
    with recorder.transaction(commit=True) as session:
        for table in reversed(list(projection.tables)):
            session.execute(delete(table))
        session.execute(delete(tracking).where(tracking.c.application_name == projection.name))
        position = 0
        while True:
            notifications = app.recorder.select_notifications(start=position + 1, limit=batch_size)
            if not notifications:
                break
            batch: list[tuple[int, Any]] = [
                (n.id, n if raw else app.mapper.to_domain_event(n)) for n in notifications
            ]
            projection.apply(session, batch)
            position = notifications[-1].id
            done += len(batch)
            if progress is not None:
                progress(len(batch))
        if position:
            session.execute(
                insert(tracking).values(application_name=projection.name, notification_id=position)
            )
    return done
