"""Catch-up runner: feeds stored events to each projection, exactly once.

A batch of events and the projection's new tracking position commit in one transaction, and the
position moves by compare-and-set, so two processes catching up at once never count an event
twice: the loser's transaction rolls back and it reads the new position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError, Mapper, Notification
from eventsourcing_sqlalchemy.recorders import SQLAlchemyTrackingRecorder
from sqlalchemy import Table, insert, select, text, update
from sqlalchemy.orm import Session

from ledger.application import GrantLedger
from ledger.database import EVENTS_TABLE
from projections.schema import TRACKING_TABLE, metadata

BATCH = 5000


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


def read_notifications(app: GrantLedger, start: int, limit: int) -> list[Notification]:
    """The store's notifications from ``start`` on, read with SQLAlchemy Core (not the ORM)."""
    table = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    query = (
        select(table.c.id, table.c.originator_id, table.c.originator_version, table.c.topic, table.c.state)
        .where(table.c.id >= start)
        .order_by(table.c.id)
        .limit(limit)
    )
    with app.engine.connect() as conn:
        return [
            Notification(
                id=row[0],
                originator_id=row[1],
                originator_version=row[2],
                topic=row[3],
                state=bytes(row[4]) if isinstance(row[4], memoryview) else row[4],
            )
            for row in conn.execute(query)
        ]


def catch_up(
    app: GrantLedger,
    only: Sequence[Projection] | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
) -> int:
    """Bring projections up to the store's head; returns the number of events processed.

    Each batch of the store is read and decoded once and offered to every projection; each
    projection commits its part with its own tracking position (compare-and-set).
    """
    recorder = tracking_recorder(app)
    chosen = list(only or projections())
    for projection in chosen:
        if projection.tables and projection.tables[0].metadata is not metadata:
            recorder.create_tables_of(projection)
    positions = {p.name: recorder.position(p.name) for p in chosen}
    done = 0
    while True:
        notifications = read_notifications(app, min(positions.values()) + 1, batch_size)
        if not notifications:
            break
        decoded: dict[int, Any] = {}
        for projection in chosen:
            position = positions[projection.name]
            mine = [n for n in notifications if n.id > position]
            if not mine:
                continue
            # A projection with ``raw = True`` (the audit log) gets the stored notifications.
            if getattr(projection, "raw", False):
                batch = [(n.id, n) for n in mine]
            else:
                for n in mine:
                    if n.id not in decoded:
                        decoded[n.id] = app.mapper.to_domain_event(n)
                batch = [(n.id, decoded[n.id]) for n in mine]

            def apply(
                session: Session, batch: list[tuple[int, Any]] = batch, projection: Projection = projection
            ) -> None:
                projection.apply(session, batch)

            if recorder.commit_batch(projection.name, position, mine[-1].id, apply):
                positions[projection.name] = mine[-1].id
                done += len(batch)
                if progress is not None:
                    progress(len(batch))
            else:  # another process moved it first: carry on from where it got to
                positions[projection.name] = recorder.position(projection.name)
    return done


class ProjectionsBehind(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def project_stored(
    session: Session,
    stored: Sequence[Notification],
    chosen: Sequence[Projection] | None = None,
    events: Sequence[Any] | None = None,
) -> None:
    """Apply notifications the caller has just inserted, in the caller's transaction (no commit here).

    ``session`` is bound to the caller's connection; ``chosen`` defaults to every projection the
    command line keeps (``commands.registry.all_projections``). Each chosen projection must stand
    at the store's head as it was before these rows (else :class:`ProjectionsBehind`); its tracking
    position moves to ``stored[-1].id`` by compare-and-set. ``events``, the domain events of
    ``stored`` in the same order, spare decoding them when the caller has them.
    """
    if not stored:
        return
    if chosen is None:
        from commands.registry import all_projections

        chosen = all_projections()
    if events is None:
        mapper = _standalone_mapper()
        events = [mapper.to_domain_event(n) for n in stored]
    first, last = stored[0].id, stored[-1].id
    for projection in chosen:
        row = session.execute(
            text(f"SELECT notification_id FROM {TRACKING_TABLE} WHERE application_name = :name"),
            {"name": projection.name},
        ).first()
        position = int(row[0]) if row is not None else 0
        between = session.execute(
            text(f"SELECT COUNT(*) FROM {EVENTS_TABLE} WHERE id > :after AND id < :first"),
            {"after": position, "first": first},
        ).scalar()
        if position >= first or between:
            msg = (
                f"the {projection.name} projection stands at {position}, not at the head before "
                f"event {first}; run `grant-ledger projections status`"
            )
            raise ProjectionsBehind(msg)
        if getattr(projection, "raw", False):
            projection.apply(session, [(n.id, n) for n in stored])
        else:
            projection.apply(session, [(n.id, e) for n, e in zip(stored, events, strict=True)])
        if row is None:
            session.execute(
                text(f"INSERT INTO {TRACKING_TABLE} (application_name, notification_id) VALUES (:n, :last)"),
                {"n": projection.name, "last": last},
            )
        else:
            moved = session.execute(
                text(
                    f"UPDATE {TRACKING_TABLE} SET notification_id = :last "
                    "WHERE application_name = :n AND notification_id = :previous"
                ),
                {"n": projection.name, "last": last, "previous": position},
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise ProjectionsBehind(f"the {projection.name} projection was moved by another process")


@cache
def _standalone_mapper() -> Mapper[Any]:
    """The application's event mapper (same transcodings), without opening the application."""
    from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

    from ledger.application import DateAsISO

    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)
