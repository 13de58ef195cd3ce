"""The eventsourcing-sqlalchemy infrastructure factory with the ledger's engine settings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from threading import Semaphore
from typing import Any

import ledger.uuid_type  # noqa: F401  (before eventsourcing_sqlalchemy: its one type alone)

# isort: split
from eventsourcing.persistence import AggregateRecorder, ApplicationRecorder, StoredEvent
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ledger.database import (
    configure_engine,
    kept_engine,
    ledger_engine,
    pool_options,
    require_ledger,
    schema_ready,
)
from ledger.location import sqlite_file


class LedgerDatastore(SQLAlchemyDatastore):
    """eventsourcing-sqlalchemy's datastore, its engine's pool sized as the ledger's others
    (``ledger.database.pool_options``), with the ledger's connection settings, and kept for the
    process's next command on the same database (``ledger.database.kept_engine``)."""

    def __init__(
        self,
        *,
        url: str | None = None,
        session: Any = None,
        autoflush: bool = True,
        **options: Any,
    ) -> None:
        in_memory = url is not None and url.startswith("sqlite") and sqlite_file(url) is None
        if url is None or session is not None or options or in_memory:
            super().__init__(
                url=url,
                session=session,
                autoflush=autoflush,
                **{**(pool_options(url) if url else {}), **options},
            )
            if isinstance(self.engine, Engine):
                configure_engine(self.engine)
            return
        engine = kept_engine("store", url, lambda: ledger_engine(url))
        super().__init__(session_maker=sessionmaker(bind=engine, autoflush=autoflush))
        if engine.dialect.name == "sqlite":  # as the library sets up a SQLite file's engine
            self.is_sqlite_filedb = True
            self.write_lock = Semaphore()


def record_values(stored: Sequence[StoredEvent]) -> list[dict[str, Any]]:
    """The columns of an events (or snapshots) table's rows for ``stored``, for one INSERT."""
    return [
        {
            "originator_id": e.originator_id,
            "originator_version": e.originator_version,
            "topic": e.topic,
            "state": e.state,
        }
        for e in stored
    ]


class LedgerApplicationRecorder(SQLAlchemyApplicationRecorder):
    """eventsourcing-sqlalchemy's recorder, its events inserted by a Core INSERT ... RETURNING
    their ids in their order (on PostgreSQL one statement for up to a thousand rows, on SQLite one
    a row, as the ORM's) instead of an ORM object each and the session's unit of work; the same
    table lock first and NOTIFY after, in the caller's transaction, whose end turns a conflicting
    version into the library's IntegrityError."""

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        if not stored_events:
            return []
        if self._has_autoincrementing_ids:
            self._lock_table(session)
        table = self.events_record_cls.__table__
        returning = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        inserted = session.execute(returning, record_values(stored_events))
        ids = list(inserted.scalars())
        self._notify_channel(session)
        return ids


class LedgerFactory(SQLAlchemyFactory):
    """eventsourcing-sqlalchemy's factory with the ledger's engine settings.

    The event store's own tables (events, snapshots) are created only when one catalogue query
    says the store is not complete yet (:func:`ledger.database.schema_ready`); other recorders
    (the read models' tracking) check their tables as before. ``EXISTING_LEDGER``: the database
    must already hold a ledger (NotFoundError before any table is made), checked on the store's
    own connection.
    """

    EXISTING_LEDGER = "EXISTING_LEDGER"
    datastore_class = LedgerDatastore
    application_recorder_class = LedgerApplicationRecorder

    def __init__(self, env: Environment):
        super().__init__(env)
        engine = self.datastore.engine
        assert isinstance(engine, Engine)
        self.store_ready = schema_ready(engine)
        if not self.store_ready and self.env.get(self.EXISTING_LEDGER) == "y":
            require_ledger(engine, str(self.env.get(self.SQLALCHEMY_URL)))
        self._opening_store = False

    def env_create_table(self) -> bool:
        if self._opening_store and self.store_ready:
            return False
        return super().env_create_table()

    @contextmanager
    def _store_recorder(self) -> Iterator[None]:
        self._opening_store = True
        try:
            yield
        finally:
            self._opening_store = False

    def application_recorder(self) -> ApplicationRecorder:
        with self._store_recorder():
            return super().application_recorder()

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        with self._store_recorder():
            return super().aggregate_recorder(purpose)
