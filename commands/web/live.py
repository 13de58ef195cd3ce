"""Live pages: the store's latest event position, watched once for the whole server and announced
to each signed-in page over server-sent events (``GET /events``); the page (static/live.js) then
fetches itself again and swaps its live regions, so other people's writes show without a reload.

On PostgreSQL one connection LISTENs on the store's channel: the event recorder NOTIFYs inside each
write's transaction (and an import inside its own), so the wake comes at the commit. On SQLite one
thread reads the store's last notification id every second. Either way a page's stream costs no
query: it waits on the position held in memory.

Streams are bounded: at most ``MAX_STREAMS`` at once (``PER_SESSION`` a session), and each ends when
its session does (expiry or sign-out); the browser's EventSource comes back on its own, and a stream
for a session that is gone is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from commands.web.i18n import _
from commands.web.numbers import whole_number
from commands.web.status import STATUS
from ledger.errors import LedgerError
from ledger.location import EVENTS_TABLE
from projections.status import head

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from commands.web.sessions import Session, Sessions

MAX_STREAMS = 64
PER_SESSION = 4
# a person may hold many sessions: one signed in sixteen times had taken every stream from the
# others (a red-team pass)
PER_PERSON = 8
HEARTBEAT_SECONDS = 15.0
# a stream ends after this long however live its session (the page's EventSource opens another,
# from the last position it was told): none holds a server that is stopping for longer
STREAM_SECONDS = 300.0
POLL_SECONDS = 1.0
# PostgreSQL: the position is read again this often without a wake (a NOTIFY is lost while the
# listening connection is being re-opened)
RECHECK_SECONDS = 30.0
RETRY_SECONDS = 5.0
# what each new position brought is remembered for this many positions published (a grant's page
# is told only of writes to its grant); a wider step than CHANGED_MOST events tells every page
KEPT_CHANGES = 512
CHANGED_MOST = 5000

log = logging.getLogger(__name__)

# the position the request's page was read at (taken before its figures are read: a write landing
# in between is announced again, never missed)
READ_AT: contextvars.ContextVar[int] = contextvars.ContextVar("grant_ledger_read_at", default=0)


class Feed:
    """The store's latest notification id, kept current by one thread for the whole server."""

    def __init__(self, engine: Callable[[], Engine], channel: Callable[[], str | None]) -> None:
        self._engine = engine
        self._channel = channel
        self._position = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._streams: dict[str, int] = {}
        self._people: dict[str, int] = {}  # streams open by person, whatever their sessions
        # (from, to, the aggregates stored in (from, to] as hex; None: not read), oldest first
        self._changes: deque[tuple[int, int, frozenset[str] | None]] = deque(maxlen=KEPT_CHANGES)
        self.listening = False  # PostgreSQL: LISTENing now

    @property
    def position(self) -> int:
        """The last event the store is known to hold (the watching thread starts at first use)."""
        if self._thread is None:
            self.start()
        return self._position

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._position = max(self._position, head(self._engine()))
            self._thread = threading.Thread(target=self._run, name="grant-ledger-live", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    # ------------------------------------------------------------------ watching the store

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                engine = self._engine()
                channel = self._channel()
                if engine.dialect.name == "postgresql" and channel:
                    self._listen(engine, channel)
                else:
                    self._poll(engine)
            except Exception as e:  # the database went away: try again, pages stay as they are
                log.warning("live updates paused: %s", e)
                self._stop.wait(RETRY_SECONDS)

    def _poll(self, engine: Engine) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self._publish(head(engine))

    def _listen(self, engine: Engine, channel: str) -> None:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute(f"LISTEN {channel}")
            self.listening = True
            try:
                self._publish(head(engine))  # what was written while not listening
                quiet = 0.0
                while not self._stop.is_set():
                    woken = any(True for _n in raw.notifies(timeout=1.0, stop_after=1))
                    quiet = 0.0 if woken else quiet + 1.0
                    if woken or quiet >= RECHECK_SECONDS:
                        quiet = 0.0
                        self._publish(head(engine))
            finally:
                self.listening = False
                with contextlib.suppress(Exception):
                    raw.execute(f"UNLISTEN {channel}")

    def _publish(self, position: int) -> None:
        with self._lock:
            if position <= self._position:
                return
            before = self._position
        changed = self._changed(before, position)
        with self._lock:
            self._changes.append((before, position, changed))
            self._position = position
        self.wake()

    def _changed(self, before: int, position: int) -> frozenset[str] | None:
        """The aggregates whose events were stored in (before, position], as hex."""
        if position - before > CHANGED_MOST:
            return None
        query = text(
            f"SELECT DISTINCT originator_id FROM {EVENTS_TABLE} WHERE id > :before AND id <= :position"
        )
        try:
            with self._engine().connect() as conn:
                rows = conn.execute(query, {"before": before, "position": position}).all()
        except Exception:  # unread: every page is told
            return None
        return frozenset(_hex(value) for (value,) in rows)

    def concerns(self, after: int, position: int, aggregate: str | None) -> bool:
        """Did the events stored in (after, position] touch ``aggregate`` (any, when None or
        when what they touched is not all remembered)?"""
        if aggregate is None:
            return True
        with self._lock:
            changes = list(self._changes)
        covered = position
        for start, end, changed in reversed(changes):
            if end <= after:
                break
            if start >= position:
                continue
            if changed is None or aggregate in changed:
                return True
            covered = min(covered, start)
        return covered > after

    def wake(self) -> None:
        """Every waiting stream looks again (at its session, and at the position)."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # its loop has closed
                loop.call_soon_threadsafe(event.set)

    async def wait(self, after: int, timeout: float) -> int:
        """The position, once it passes ``after``, at a wake, or when ``timeout`` ends."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.add(waiter)
        try:
            if self.position <= after:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), max(timeout, 0.0))
        finally:
            with self._lock:
                self._waiters.discard(waiter)
        return self._position

    # ------------------------------------------------------------------ bounding the streams

    def open_stream(self, session_id: str, person: str = "") -> bool:
        with self._lock:
            if (
                sum(self._streams.values()) >= MAX_STREAMS
                or self._streams.get(session_id, 0) >= PER_SESSION
                or self._people.get(person, 0) >= PER_PERSON
            ):
                return False
            self._streams[session_id] = self._streams.get(session_id, 0) + 1
            self._people[person] = self._people.get(person, 0) + 1
            return True

    def close_stream(self, session_id: str, person: str = "") -> None:
        with self._lock:
            for held, key in ((self._streams, session_id), (self._people, person)):
                left = held.get(key, 0) - 1
                if left > 0:
                    held[key] = left
                else:
                    held.pop(key, None)

    @property
    def streams(self) -> int:
        return sum(self._streams.values())


class App(Protocol):
    """What the stream needs of the web app (commands.web.app.App)."""

    live: Feed
    sessions: Sessions

    async def session(
        self, request: Request, touch: bool = True, registered: bool = False
    ) -> tuple[Session, bool, bool | LedgerError]: ...

    def finish(self, response: Response, session: Session | None) -> Response: ...


def _after(request: Request, now: int) -> int:
    """Where the page's stream starts: the page's own position (``?after=``), or the browser's
    Last-Event-ID when it reconnects; the present otherwise."""
    for given in (request.headers.get("last-event-id", ""), request.query_params.get("after", "")):
        found = whole_number(given)
        if found is not None:
            return found
    return now


def _hex(value: object) -> str:
    if isinstance(value, UUID):
        return value.hex
    if isinstance(value, bytes | bytearray | memoryview):
        return UUID(bytes=bytes(value)).hex
    return UUID(str(value)).hex


_AGGREGATE = re.compile(r"[0-9a-f]{32}")


def _aggregate(request: Request) -> str | None:
    """The aggregate a grant's page follows (``?grant=`` its id as 32 hex digits), else None."""
    given = request.query_params.get("grant", "")
    return given if _AGGREGATE.fullmatch(given) else None


def message(position: int) -> str:
    return f"id: {position}\nevent: ledger\ndata: {position}\n\n"


async def events(app: App, request: Request) -> Response:
    """``GET /events``: the event stream of a signed-in session (403 otherwise; 503 past the
    cap). Each new store position is one ``ledger`` event (for a grant's page, ``?grant=``, only
    a position that wrote to its grant); a comment line keeps it open."""
    # the browser opens the stream again each time it ends: a page left open is no activity
    session, _fresh, registered = await app.session(request, touch=False, registered=True)
    if isinstance(registered, LedgerError):  # the registry cannot be trusted (exit 6)
        status = STATUS.get(registered.exit_code, 500)
        return app.finish(PlainTextResponse(registered.message, status_code=status), None)
    if not registered:
        refused = PlainTextResponse(_("Sign in to follow the ledger live."), status_code=403)
        return app.finish(refused, None)
    feed = app.live
    if not feed.open_stream(session.id, session.person or ""):
        busy = PlainTextResponse(_("Too many live pages are open; try again shortly."), status_code=503)
        busy.headers["Retry-After"] = str(int(RETRY_SECONDS))
        return app.finish(busy, None)
    after = _after(request, feed.position)
    following = _aggregate(request)

    async def stream() -> AsyncIterator[str]:
        nonlocal after
        try:
            yield f"retry: {int(RETRY_SECONDS * 1000)}\n\n"
            ends = time.monotonic() + STREAM_SECONDS
            while time.monotonic() < ends:
                left = await run_in_threadpool(app.sessions.remaining, session.id)
                if left is None:
                    return  # signed out or expired: the stream ends with its session
                position = await feed.wait(after, min(HEARTBEAT_SECONDS, left, ends - time.monotonic()))
                if await run_in_threadpool(app.sessions.remaining, session.id) is None:
                    return
                if position > after and feed.concerns(after, position, following):
                    after = position
                    yield message(position)
                else:
                    after = max(after, position)  # nothing of this page's: not told
                    yield ": still here\n\n"
        finally:
            feed.close_stream(session.id, session.person or "")

    response = StreamingResponse(stream(), media_type="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"  # a reverse proxy passes each event on at once
    return app.finish(response, None)
