"""Catch-up runner: feeds stored events to each projection, exactly once.

A batch of events and the projection's new tracking position commit in one transaction, and the
position moves by compare-and-set, so two processes catching up at once never count an event
twice: the loser's transaction rolls back and it reads the new position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError
from eventsourcing_sqlalchemy.recorders import SQLAlchemyTrackingRecorder
from sqlalchemy import Table, insert, update
from sqlalchemy.orm import Session

from ledger.application import GrantLedger
from projections.schema import metadata

BATCH = 1000


class Projection(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def tables(self) -> Sequence[Table]: ...

    def apply(self, session: Session, batch: Sequence[tuple[int, Any]]) -> None: ...


class ProjectionRecorder(SQLAlchemyTrackingRecorder):
    """The tracking table of eventsourcing-sqlalchemy, plus the read models' tables."""

    def create_table(self) -> None:
        _racing_create(super().create_table)
        assert self.datastore.engine is not None
        engine = self.datastore.engine
        _racing_create(lambda: metadata.create_all(engine, checkfirst=True))

    def create_tables_of(self, projection: Projection) -> None:
        """Tables of projections kept outside this package (the audit log's)."""
        assert self.datastore.engine is not None
        engine = self.datastore.engine
        for table in projection.tables:
            _racing_create(lambda table=table: table.create(engine, checkfirst=True))  # type: ignore[misc]

    def position(self, name: str) -> int:
        return self.max_tracking_id(name) or 0

    def commit_batch(self, name: str, previous: int, last: int, apply: Callable[[Session], None]) -> bool:
        """Apply a batch and move the position from ``previous`` to ``last``, atomically.

        False when another process moved the position first (nothing is written then).
        """
        table = self.tracking_table
        try:
            with self.transaction(commit=True) as session:
                if previous == 0:
                    session.execute(insert(table).values(application_name=name, notification_id=last))
                else:
                    moved = session.execute(
                        update(table)
                        .where(table.c.application_name == name)
                        .where(table.c.notification_id == previous)
                        .values(notification_id=last)
                    )
                    if moved.rowcount != 1:  # type: ignore[attr-defined]
                        raise _Overtaken
                apply(session)
        except (_Overtaken, IntegrityError):
            return False
        return True


class _Overtaken(Exception):
    pass


def _racing_create(create: Callable[[], None], attempts: int = 5) -> None:
    """Create tables that another process may be creating at the same moment: its check
    said 'missing', then the CREATE found the table there. Check again rather than fail."""
    for n in range(attempts):
        try:
            create()
            return
        except Exception as e:  # the driver's 'already exists' / duplicate catalogue row
            text = str(e)
            if n == attempts - 1 or ("already exists" not in text and "duplicate key" not in text):
                raise


def projections() -> list[Projection]:
    """The read models of this package; callers may add others (the audit log)."""
    from projections.balances import BalanceProjection
    from projections.compliance import ComplianceProjection

    return [BalanceProjection(), ComplianceProjection()]


def tracking_recorder(app: GrantLedger) -> ProjectionRecorder:
    recorder = app.factory.tracking_recorder(ProjectionRecorder)
    assert isinstance(recorder, ProjectionRecorder)
    return recorder


def catch_up(
    app: GrantLedger,
    only: Sequence[Projection] | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
) -> int:
    """Bring projections up to the store's head; returns the number of events processed."""
    recorder = tracking_recorder(app)
    done = 0
    for projection in only or projections():
        if projection.tables and projection.tables[0].metadata is not metadata:
            recorder.create_tables_of(projection)
        while True:
            position = recorder.position(projection.name)
            notifications = app.recorder.select_notifications(start=position + 1, limit=batch_size)
            if not notifications:
                break
            # A projection with ``raw = True`` (the audit log) gets the stored notifications.
            raw = getattr(projection, "raw", False)
            batch = [(n.id, n if raw else app.mapper.to_domain_event(n)) for n in notifications]

            def apply(
                session: Session, batch: list[tuple[int, Any]] = batch, projection: Projection = projection
            ) -> None:
                projection.apply(session, batch)

            if recorder.commit_batch(projection.name, position, notifications[-1].id, apply):
                done += len(batch)
                if progress is not None:
                    progress(len(batch))
    return done
