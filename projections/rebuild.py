"""Rebuild projections from scratch, atomically.

Everything happens in one database transaction: the projections' rows are deleted, every stored
event is read once (in pages, so memory stays bounded), decoded once and applied to each of
them, and their tracking positions are set to the last one. Readers see the old rows until the
transaction commits and the new ones after (PostgreSQL MVCC; SQLite WAL snapshots), never a
half-built projection. A failure rolls everything back.

Projections that can compute their rows from the stored events alone, starting from empty
(``Computable``: the audit log's leaf hashes; the compliance projection, its own code run on an
in-memory SQLite database), may be computed by a second process on a large store: a forked worker
reads the pages of the store with its own connection (reads only; this process holds the write
lock), decodes each page once for them and sends each page's rows as read, with the parts
computed from them, through a pipe (by a sending thread, a page or two ahead at most, so memory
stays bounded), while this process applies the other projections (the balances, the acts) to
those very rows and writes everything, the parts with the rows they were computed from (the leaf
rows and the tree are made here): SQLite has one writer. If this process fails, the worker is
killed; if this process dies, the worker's next send fails and it exits. The rows are the ones
the projections write themselves (tests/test_rebuild_worker.py).

A rebuild checks every event's seal (``ledger.trust``), which needs each event's leaf hash, the
hash the audit log stores. When a worker computes the audit log's leaves, the check here takes
them from it rather than hashing every event a second time: they are the leaves of the rows it
sent, the rows applied here (one read, so nothing to compare).

The cyclic garbage collector is paused during a rebuild: the records are plain acyclic data freed
by reference counting, and a collection every few thousand of them cost a third of the time.
"""

from __future__ import annotations

import gc
import multiprocessing
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from multiprocessing.reduction import ForkingPickler
from typing import Any, Protocol, cast, runtime_checkable

from sqlalchemy import Index, Table, delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ledger.application import GrantLedger
from ledger.forked import failure, messages_from_fork
from ledger.i18n import T_
from projections import bulk
from projections.names import MARK, tracked
from projections.records import StoredRecord, records_of_rows
from projections.runner import (
    Projection,
    check_sealed,
    events_table,
    read_records,
    read_rows,
    standings,
    tracking_recorder,
)

BATCH = 10000
WORKER_MIN = 40000  # events in the store from which a worker process pays for its start


class Computer(Protocol):
    """A projection's rows computed from the stored events alone, from an empty projection."""

    uses_records: bool  # compute needs the page decoded
    uses_canonical: bool  # compute reads the records' canonical text, when given them

    def compute(self, rows: Sequence[Sequence[Any]], records: list[StoredRecord] | None) -> Any:
        """The part (picklable, for ``write_part``) of a page of the store as the driver gives it
        (``projections.runner.read_rows``); ``records``: the page decoded when any of the
        worker's computers uses them (else None), with canonical text when any reads it."""

    def finish(self) -> Any:
        """The last part (None: nothing more to write)."""


@runtime_checkable
class Computable(Protocol):
    """A projection whose rebuild may be computed in another process (see the module's notes)."""

    @property
    def name(self) -> str: ...

    @property
    def tables(self) -> Sequence[Table]: ...

    def apply(self, session: Session, batch: Sequence[StoredRecord]) -> None: ...

    def computer(self) -> Computer: ...

    def write_part(self, session: Session, part: Any, rows: Sequence[Sequence[Any]] | None = None) -> None:
        """Write ``part``, computed from the page ``rows`` (None: the last part)."""


@runtime_checkable
class LeafHashing(Protocol):
    """A computable projection whose computed parts hold each event's audit-log leaf hash."""

    def leaf_hexes(self, part: Any) -> list[str]:
        """The leaf hash (hex) of each event of the page ``part`` was computed from, in order."""


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
    worker: bool | None = None,
    *,
    check: bool = True,
    unbuilt_only: bool = False,
) -> int:
    """Rebuild projections together, in one pass over the store and one transaction; returns
    the number of events read. ``worker``: compute the computable projections in a second
    process (None: when the store is large enough and processes can be forked). ``check``: every
    event's seal (off only for adopting an unsigned log). ``unbuilt_only``: only those of
    ``chosen`` that still have no position under their version's key once the lock is held
    (another process may have rebuilt them meanwhile: then nothing is done).

    Rebuilds take one lock (``_rebuild_lock``), so two never interleave their deletes and
    inserts; the positions kept under every version of a chosen projection's name go."""
    recorder = tracking_recorder(app)
    assert recorder.datastore.engine is not None
    for projection in chosen:  # tables of projections kept outside this package
        for table in projection.tables:
            table.create(recorder.datastore.engine, checkfirst=True)
    tracking = recorder.tracking_table
    events = events_table(app)
    with _collector_paused(), recorder.transaction(commit=True) as session, ExitStack() as stack:
        _rebuild_lock(session)
        stack.enter_context(_deleting_fast(session.connection()))
        if unbuilt_only:
            standing = standings(session, [p.name for p in chosen])
            chosen = [p for p in chosen if not standing[p.name]]
            if not chosen:
                return 0
        # the positions first, by name, as every catch-up takes them before its rows: a writer
        # catching up meanwhile waits, then finds them gone, instead of holding one this waits for
        key = tracking.c.application_name
        for projection in sorted(chosen, key=lambda p: tracked(p.name)):
            name = projection.name
            every_version = (key == name) | key.startswith(name + MARK, autoescape=True)
            session.execute(delete(tracking).where(every_version))
        for projection in chosen:
            for table in reversed(list(projection.tables)):
                session.execute(delete(table))
        url = app.engine.url.render_as_string(hide_password=False)
        conn = session.connection()
        sealed = (lambda batch, leaves: check_sealed(app, batch, leaves)) if check else None
        deferred = _indexes_deferred(conn, events, chosen)
        done, position = replay_into(
            session,
            conn,
            url,
            events,
            chosen,
            progress,
            batch_size,
            worker,
            check=sealed,
        )
        bulk.made_again(conn, deferred)
        if position:
            positions = [{"application_name": tracked(p.name), "notification_id": position} for p in chosen]
            session.execute(insert(tracking), positions)
    return done


def _indexes_deferred(conn: Connection, events: Table, chosen: Sequence[Projection]) -> list[Index]:
    """The indexes of the emptied tables a row per event is appended to, dropped until every
    event is applied, on a large enough store (projections.bulk)."""
    head = int(conn.execute(select(func.max(events.c.id))).scalar() or 0)
    return bulk.indexes_dropped(conn, bulk.to_defer(conn, chosen, head))


@contextmanager
def _deleting_fast(conn: Connection) -> Iterator[None]:
    """SQLite as some systems build it (Debian's, among others) overwrites deleted content with
    zeros (``secure_delete``): emptying the projections' tables then wrote each of their pages
    again, 2.2 s of a 1M-event rebuild for the movements alone against 0.07 s. What a rebuild
    deletes is derived from the events, which the file keeps, and it writes rows derived from them
    back; so while it runs, a connection with the setting on overwrites pages only where that costs
    no extra write (FAST). The setting is put back before the commit, so the connection goes back
    to the pool as it came; if it cannot be put back, the connection is not used again."""
    if conn.dialect.name != "sqlite" or int(conn.exec_driver_sql("PRAGMA secure_delete").scalar() or 0) != 1:
        yield
        return
    try:
        conn.exec_driver_sql("PRAGMA secure_delete = FAST")
        yield
    except BaseException:
        _secure_delete_on(conn, quiet=True)  # the rebuild's own error is the one to report
        raise
    _secure_delete_on(conn)


def _secure_delete_on(conn: Connection, quiet: bool = False) -> None:
    try:
        conn.exec_driver_sql("PRAGMA secure_delete = 1")
    except Exception:
        conn.invalidate()  # never back in the pool with FAST
        if not quiet:
            raise


# pg_advisory_xact_lock's key for rebuilds: a fixed number ('glrb' in ASCII) and the schema the
# ledger's tables are in (the first of its search path), so that ledgers kept in schemas of one
# database rebuild apart
_REBUILD_LOCK = (
    "SELECT pg_advisory_xact_lock(1735160418, "
    "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())::integer)"
)


def _rebuild_lock(session: Session) -> None:
    """Held until the rebuild commits or rolls back. SQLite: the write lock, taken before the
    transaction reads anything (another writer's later commit would leave its snapshot stale);
    PostgreSQL: a transaction-level advisory lock, the ledger's schema's, so writers of the store
    do not wait on it."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_REBUILD_LOCK)


def replay_into(
    session: Session,
    conn: Connection,
    url: str,
    events: Table,
    chosen: Sequence[Projection],
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
    worker: bool | None = None,
    stop: int | None = None,
    check: Callable[[list[StoredRecord], Sequence[str] | None], None] | None = None,
) -> tuple[int, int]:
    """Apply every stored event (up to ``stop``, when given) read through ``conn`` (of the store
    at ``url``) to the chosen projections, starting empty, writing in ``session`` (the store's
    own, for a rebuild; a scratch database's, for ``projections.verify``); returns the number of
    events read and the last one's id. ``check`` sees every batch first (ledger.trust: nothing
    unsealed is shown), with its events' leaf hashes when a worker has computed them (else None)."""
    done = position = 0
    elsewhere: list[Computable] = []
    head = int(conn.execute(select(func.max(events.c.id))).scalar() or 0) if stop is None else stop
    if worker is not False and _can_fork():
        computable = [p for p in chosen if isinstance(p, Computable)]
        if computable and (worker or head >= WORKER_MIN):
            elsewhere = computable
    if elsewhere:
        here = [p for p in chosen if p not in elsewhere]
        hashing = None
        if check is not None:
            hashing = next((p for p in elsewhere if isinstance(p, LeafHashing)), None)
        parts = _computed_apart(url, events, elsewhere, head, batch_size)
        try:
            for kind, rows, computed in parts:
                if kind == "done":
                    for apart, last in zip(elsewhere, computed, strict=True):
                        if last is not None:
                            apart.write_part(session, last, None)
                    break
                if here or check is not None:  # decoded only when read here
                    leaves = None
                    if hashing is not None:
                        leaves = hashing.leaf_hexes(computed[elsewhere.index(hashing)])
                    batch = records_of_rows(rows, canonical=check is not None and leaves is None)
                    if check is not None:
                        check(batch, leaves)
                    for projection in here:
                        projection.apply(session, batch)
                for apart, part in zip(elsewhere, computed, strict=True):
                    apart.write_part(session, part, rows)
                position = rows[-1][0]
                done += len(rows)
                if progress is not None:
                    progress(len(rows))
        finally:
            parts.close()
    # events after the head (PostgreSQL: written meanwhile), or every event without a worker
    while batch := read_records(conn, events, position + 1, batch_size, stop):
        if check is not None:
            check(batch, None)
        for projection in chosen:
            projection.apply(session, batch)
        position = batch[-1].id
        done += len(batch)
        if progress is not None:
            progress(len(batch))
    return done, position


@contextmanager
def _collector_paused() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _can_fork() -> bool:
    """Processes can be forked here (not on Windows; not by a daemonic process)."""
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


# A worker's message: "batch" with the page's rows as read and each projection's part, then
# "done" with each projection's last part; "failed" with the error to raise.
Message = tuple[str, Any, list[Any]]


def _computed_apart(
    url: str,
    events: Table,
    elsewhere: Sequence[Computable],
    head: int,
    batch_size: int,
) -> Generator[Message, None, None]:
    """The messages of the one worker reading the store's pages up to ``head`` and computing the
    projections computed elsewhere (the audit log's leaves and the compliance judge, from one
    decoding of each page), as they come, each page's rows with their parts. Closing the iterator
    stops the worker. (A worker each, each reading for itself, cost more CPU than they saved
    waiting: with this process, three processes shared two cores.)"""
    computed = messages_from_fork(
        _compute_and_send,
        (url, events, list(elsewhere), head, batch_size),
        "done",
        T_("the rebuild's second process"),
    )
    return cast(Generator[Message, None, None], computed)


def _compute_and_send(
    url: str,
    events: Table,
    elsewhere: list[Computable],
    head: int,
    batch_size: int,
    send: Any,
    receive: Any,
) -> None:
    """The worker: every page up to ``head``, computed and sent with its rows."""
    receive.close()
    gc.disable()
    sending = _Sending(send)
    try:
        from ledger.database import make_engine

        engine = make_engine(url)
        computers = [p.computer() for p in elsewhere]
        decode = any(c.uses_records for c in computers)
        canonical = any(c.uses_canonical for c in computers)
        position = 0
        with engine.connect() as conn:
            while rows := read_rows(conn, events, position + 1, batch_size, head):
                records = records_of_rows(rows, canonical) if decode else None
                parts = [c.compute(rows, records) for c in computers]
                sending.put(("batch", rows, parts))
                position = rows[-1][0]
        sending.put(("done", None, [c.finish() for c in computers]))
        sending.close()
    except (BrokenPipeError, KeyboardInterrupt):
        return  # the rebuilding process is gone or interrupted: it rolls back
    except BaseException as e:  # one line for the user, not a traceback
        try:
            sending.put(("failed", failure(e, T_("the rebuild's second process")), []))
            sending.close()
        except (BrokenPipeError, OSError):
            return
    finally:
        send.close()


class _Sending:
    """A worker's messages sent through its pipe by a thread, in order, while the worker computes
    the next page: sent by the worker itself, each waited until the rebuilding process took it
    (1M events: about 1.3 s of the worker's, and 2.5 s of the other's waiting for the next).
    Each is pickled by ``put``, as it stands then, so a part that does not pickle fails in the
    worker's own loop (which then sends "failed"); the thread only writes the bytes. At most
    ``ahead`` wait to be written. A failed write (the rebuilding process is gone) is raised by the
    next ``put`` or by ``close``; the messages after it are dropped."""

    def __init__(self, send: Any, ahead: int = 2) -> None:
        self._send = send
        self._waiting: queue.Queue[memoryview | None] = queue.Queue(maxsize=ahead)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._sending, name="rebuild-sending", daemon=True)
        self._thread.start()

    def _sending(self) -> None:
        while (data := self._waiting.get()) is not None:
            if self.error is None:
                try:
                    self._send.send_bytes(data)
                except BaseException as e:  # raised in the worker's own thread
                    self.error = e

    def put(self, message: Message) -> None:
        if self.error is not None:
            raise self.error
        self._waiting.put(ForkingPickler.dumps(message))  # as Connection.send pickles

    def close(self) -> None:
        """Every message put is sent (or its failure raised), and the thread has ended."""
        self._waiting.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error
