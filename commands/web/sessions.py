"""Server-side sessions: the cookie carries only a random id; the person, their unlocked signing
key, the CSRF token and the language stay in this process's memory, and are dropped at sign-out
or when the session expires (idle too long, or older than its lifetime).

A visitor who has not signed in gets a session too (its CSRF token guards the sign-in form);
signing in replaces it by a new one under a new id, so an id planted before sign-in is worth
nothing after.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.seal import Signer

IDLE_SECONDS = 30 * 60
LIFETIME_SECONDS = 8 * 60 * 60
# sessions of visitors not signed in, at most: the oldest are dropped past it
ANONYMOUS_KEPT = 10_000


@dataclass
class Session:
    id: str
    csrf: str
    created: float
    seen: float
    lang: str
    person: str | None = None
    role: str | None = None
    signer: Signer | None = field(default=None, repr=False)
    # what the last write on each grant's page did (its form, its message), shown once by the page
    # its answer redirects to; a few grants at most (the oldest forgotten)
    notices: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return self.person is not None


class Sessions:
    def __init__(
        self,
        clock: Callable[[], float],
        idle: float = IDLE_SECONDS,
        lifetime: float = LIFETIME_SECONDS,
    ) -> None:
        self.clock = clock
        self.idle = idle
        self.lifetime = lifetime
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new(self, lang: str) -> Session:
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now, lang)
        with self._lock:
            self._by_id[session.id] = session
            self._trim(now)
        return session

    def get(self, session_id: str | None, touch: bool = True) -> Session | None:
        """The live session of this id (its idle time restarts, unless not ``touch``: a page's
        event stream is no activity), or None: unknown, or expired (and then forgotten, with its
        key)."""
        if not session_id:
            return None
        now = self.clock()
        with self._lock:
            session = self._by_id.get(session_id)
            if session is None:
                return None
            if now - session.seen > self.idle or now - session.created > self.lifetime:
                self._forget(session)
                return None
            if touch:
                session.seen = now
            return session

    def remaining(self, session_id: str) -> float | None:
        """Seconds until the session of this id expires, or None when it is gone; unlike ``get``,
        asking does not restart its idle time (a page left open does not keep it alive)."""
        now = self.clock()
        with self._lock:
            session = self._by_id.get(session_id)
            if session is None or not session.signed_in:
                return None
            left = min(session.seen + self.idle, session.created + self.lifetime) - now
            return left if left > 0 else None

    def sign_in(self, old: Session, person: str, role: str | None, signer: Signer | None) -> Session:
        fresh = self.new(old.lang)
        fresh.person, fresh.role, fresh.signer = person, role, signer
        self.drop(old.id)
        return fresh

    def drop(self, session_id: str) -> None:
        with self._lock:
            session = self._by_id.get(session_id)
            if session is not None:
                self._forget(session)

    def _forget(self, session: Session) -> None:
        session.signer = None
        session.person = None
        self._by_id.pop(session.id, None)

    def _trim(self, now: float) -> None:
        anonymous = [s for s in self._by_id.values() if not s.signed_in]
        if len(anonymous) <= ANONYMOUS_KEPT:
            return
        for session in list(self._by_id.values()):
            if now - session.seen > self.idle or now - session.created > self.lifetime:
                self._forget(session)
        anonymous = sorted((s for s in self._by_id.values() if not s.signed_in), key=lambda s: s.seen)
        for session in anonymous[: max(0, len(anonymous) - ANONYMOUS_KEPT)]:
            self._forget(session)

    def __len__(self) -> int:
        return len(self._by_id)
