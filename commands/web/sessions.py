"""Server-side sessions, kept in the ledger's database so that every server process (``serve
--workers N``) sees the same ones: a sign-out or an expiry in one process ends the session in all.

The cookie carries a random token and nothing else. The table keeps, under the token's SHA-256,
the person, their role, the language, the pages' notices, and the person's signing key sealed with
AES-256-GCM under a key derived from the token and the server's secret (below). So the row alone
opens nothing: someone who can read the table (any PostgreSQL login of the ledger can) learns who
is signed in, not how to act as them; nor does the row with a cookie stolen once give the key
itself, which would sign in the person's name long after the session. The CSRF token is derived
from the cookie's token too, and is stored nowhere.

Each row carries an HMAC, under a secret the server holds in memory only (made at its start and
handed to its processes), over everything in it but the time it was last used, which has an HMAC
of its own (it is written at every use). A row written or changed below the application (a
session made up for a person, another person's name or key put in, its last use moved on) is no
session; so is every session of an earlier run of the server. A sign-out keeps the token's hash in
``ledger_web_signed_out``, to which the ledger's logins may only add: the row put back after it is
no session either.

A session ends when it is idle too long or older than its lifetime; its row is then deleted, as
at sign-out. A visitor who has not signed in gets a session too (its CSRF token guards the
sign-in form); signing in replaces it by a new one under a new token, so a token planted before
sign-in is worth nothing after.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, Float, String, Table, Text, bindparam, delete, func, insert, select, update

from commands.web.credentials import metadata
from ledger.database import Quick
from ledger.seal import Signer

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

T = TypeVar("T")

IDLE_SECONDS = 30 * 60
LIFETIME_SECONDS = 8 * 60 * 60
# sessions of visitors not signed in, at most: the oldest are dropped past it
ANONYMOUS_KEPT = 10_000
# a session's last activity is written at most this often (a page's every request would be a
# write): its idle time may end this much early
TOUCH_SECONDS = 15.0
# what the last writes did, by grant, shown once by the page each answer redirects to
NOTICES_KEPT = 16
# anonymous sessions this process makes between two trims of the table
TRIM_EVERY = 100
# times a session's language or notices are written again over another request's write of them
CHANGE_TRIES = 8
# unlocked keys a process keeps, by session: the key is opened again past it
SIGNERS_KEPT = 1024

sessions = Table(
    "ledger_web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("created", Float, nullable=False),
    Column("seen", Float, nullable=False, index=True),
    Column("lang", String(8), nullable=False),
    Column("person", String(200)),
    Column("role", String(32)),
    Column("key_fingerprint", String(64)),
    Column("nonce", String(24)),
    Column("sealed_key", String(96)),
    Column("notices", Text, nullable=False),
    Column("mac", String(64), nullable=False),
    # the last use's own HMAC: written at every use, apart from the rest (``Sessions._change``)
    Column("seen_mac", String(64), nullable=False),
)
# Sessions ended by their person: the row is deleted, and its token's hash kept here, so that the
# row put back by someone who can write the sessions' table is still no session. The ledger's
# logins may only add to it (ledger.pg_roles).
signed_out = Table(
    "ledger_web_signed_out",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("at", Float, nullable=False),
)


def _signed_out(conn: Connection, token_hashes: list[str], at: float) -> None:
    """The tokens kept as signed out (each once), so that their rows put back are no sessions."""
    c = signed_out.c
    known = {str(h) for (h,) in conn.execute(select(c.token_hash).where(c.token_hash.in_(token_hashes)))}
    fresh = [{"token_hash": h, "at": at} for h in token_hashes if h not in known]
    if fresh:
        conn.execute(insert(signed_out), fresh)


def end_sessions_of(conn: Connection, person: str, at: float) -> None:
    """End every session ``person`` is signed in to, on ``conn``'s transaction, as a sign-out ends
    one (its token kept as signed out, its row deleted): a password changed, perhaps because it
    leaked, leaves no session opened with the old one signing."""
    c = sessions.c
    ended = [str(h) for (h,) in conn.execute(select(c.token_hash).where(c.person == person))]
    if ended:
        _signed_out(conn, ended, at)
        conn.execute(delete(sessions).where(c.person == person))


# the statements every request runs, built once: built again at each request, SQLAlchemy's
# building and keying of them cost more than the database's answer
def _read(also: Sequence[Any] = ()) -> Quick:
    return Quick(
        select(sessions, *also).where(
            sessions.c.token_hash == bindparam("key"),
            ~select(signed_out.c.token_hash).where(signed_out.c.token_hash == bindparam("key")).exists(),
        )
    )


_COLUMNS = len(sessions.c)
_CHANGE = Quick(
    update(sessions)
    .where((sessions.c.token_hash == bindparam("key")) & (sessions.c.mac == bindparam("read_mac")))
    .values(lang=bindparam("new_lang"), notices=bindparam("new_notices"), mac=bindparam("new_mac"))
)


def _hash(token: str) -> str:
    return hashlib.sha256(("grant-ledger web session\n" + token).encode()).hexdigest()


def _derived(token: str, purpose: bytes) -> bytes:
    return hmac.new(token.encode(), b"grant-ledger web session\n" + purpose, hashlib.sha256).digest()


def _bound(token_hash: str, person: str, fingerprint: str) -> bytes:
    return f"grant-ledger web session key\n{token_hash}\n{person}\n{fingerprint}".encode()


@dataclass
class Session:
    id: str  # the cookie's token
    created: float
    seen: float
    lang: str
    person: str | None = None
    role: str | None = None
    key_fingerprint: str | None = None
    sealed: tuple[str, str] | None = field(default=None, repr=False)  # (nonce, sealed key), hex
    notices: dict[str, tuple[str, str]] = field(default_factory=dict)
    _signer: Signer | None = field(default=None, repr=False)
    _opened: bool = field(default=False, repr=False)
    _sealing: bytes | None = field(default=None, repr=False)  # the key the person's key is sealed under
    _at: float = field(default=0.0, repr=False)  # when the row was read
    _mac: str = field(default="", repr=False)  # the row's HMAC as read or written
    # the values of the columns read beside the row (``Sessions(also=…)``), in their order
    also: tuple[Any, ...] = field(default=(), repr=False)

    @property
    def signed_in(self) -> bool:
        return self.person is not None

    @property
    def csrf(self) -> str:
        return _derived(self.id, b"csrf").hex()

    @property
    def token_hash(self) -> str:
        return _hash(self.id)

    def forget_key(self) -> None:
        """This request has no key to sign with: the person's key was rotated since they signed in
        (their page then shows no form, and a form posted is refused as without a key)."""
        self._signer, self._opened = None, True

    @property
    def signer(self) -> Signer | None:
        """The person's key, opened with the cookie's token and the server's secret (None: no key
        on the server, or a row changed below the application)."""
        if not self._opened:
            self._signer, self._opened = _open(self), True
        return self._signer


# by (token hash, sealed key): the key and when a request of its session last used it here
_signers: dict[tuple[str, str], tuple[Signer, float]] = {}
_signers_lock = threading.Lock()


def _open(session: Session) -> Signer | None:
    if session.sealed is None or session.person is None or session.key_fingerprint is None:
        return None
    if session._sealing is None:
        return None
    nonce, sealed = session.sealed
    key = (session.token_hash, sealed)
    with _signers_lock:
        kept = _signers.get(key)
        if kept is not None:
            _signers[key] = (kept[0], session._at)
            return kept[0]
    try:
        raw = AESGCM(session._sealing).decrypt(
            bytes.fromhex(nonce),
            bytes.fromhex(sealed),
            _bound(session.token_hash, session.person, session.key_fingerprint),
        )
        signer = Signer.of(Ed25519PrivateKey.from_private_bytes(raw))
    except (InvalidTag, ValueError):
        return None
    if signer.fingerprint != session.key_fingerprint:
        return None
    with _signers_lock:
        while len(_signers) >= SIGNERS_KEPT:
            _signers.pop(next(iter(_signers)))
        _signers[key] = (signer, session._at)
    return signer


def _forget_signer(token_hash: str) -> None:
    with _signers_lock:
        for key in [k for k in _signers if k[0] == token_hash]:
            del _signers[key]


def _forget_signers_unused_since(moment: float) -> None:
    """Drop the keys no request of this process has used since ``moment``: their sessions have
    expired, or live on in other processes (and are opened again from the row if they come)."""
    with _signers_lock:
        for key in [k for k, (_, used) in _signers.items() if used < moment]:
            del _signers[key]


def _seal(sealing: bytes, token: str, person: str, signer: Signer) -> tuple[str, str]:
    raw = signer.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    nonce = os.urandom(12)
    bound = _bound(_hash(token), person, signer.fingerprint)
    sealed = AESGCM(sealing).encrypt(nonce, raw, bound)
    return nonce.hex(), sealed.hex()


class Sessions:
    def __init__(
        self,
        engine: Callable[[], Engine],
        clock: Callable[[], float],
        idle: float = IDLE_SECONDS,
        lifetime: float = LIFETIME_SECONDS,
        secret: bytes | None = None,
        also: Sequence[Any] = (),
    ) -> None:
        """``also``: columns (scalar subqueries) read in the same statement as a session's row,
        their values kept in its ``also``."""
        self.engine = engine
        self._read = _read(also)
        self.clock = clock
        self.idle = idle
        self.lifetime = lifetime
        self.secret = secret if secret is not None else secrets.token_bytes(32)
        self._made = 0
        self._swept = clock()

    def _sealing(self, token: str) -> bytes:
        """The key a session's person's key is sealed under: the cookie's token alone does not
        give it, nor the server's secret alone."""
        return hmac.new(
            self.secret, b"grant-ledger web session key\n" + _derived(token, b"key"), hashlib.sha256
        ).digest()

    def _mac(self, session: Session) -> str:
        nonce, sealed = session.sealed or (None, None)
        held = [session.token_hash, session.created, session.lang, session.person, session.role]
        held += [session.key_fingerprint, nonce, sealed, session.notices]
        return hmac.new(self.secret, json.dumps(held).encode(), hashlib.sha256).hexdigest()

    def _seen_mac(self, token_hash: str, seen: float) -> str:
        return hmac.new(self.secret, f"seen\n{token_hash}\n{seen!r}".encode(), hashlib.sha256).hexdigest()

    def _sweep(self, now: float) -> None:
        if now - self._swept >= min(TOUCH_SECONDS, self.idle / 100):
            self._swept = now
            _forget_signers_unused_since(now - self.idle)

    def new(self, lang: str) -> Session:
        now = self.clock()
        self._sweep(now)
        session = Session(secrets.token_urlsafe(32), now, now, lang)
        self._insert(session)
        self._made += 1
        if self._made % TRIM_EVERY == 0:
            self._trim(now)
        return session

    def _insert(self, session: Session) -> None:
        session._mac = self._mac(session)
        with self.engine().begin() as conn:
            conn.execute(
                insert(sessions).values(
                    token_hash=session.token_hash,
                    created=session.created,
                    seen=session.seen,
                    lang=session.lang,
                    person=session.person,
                    role=session.role,
                    key_fingerprint=session.key_fingerprint,
                    nonce=session.sealed[0] if session.sealed else None,
                    sealed_key=session.sealed[1] if session.sealed else None,
                    notices=json.dumps(session.notices),
                    mac=session._mac,
                    seen_mac=self._seen_mac(session.token_hash, session.seen),
                )
            )

    def get(self, session_id: str | None, touch: bool = True) -> Session | None:
        """The live session of this token (its idle time restarts, unless not ``touch``: a page's
        event stream is no activity), or None: unknown, or expired (and then deleted, with its
        key)."""
        if not session_id or len(session_id) > 128:
            return None
        token_hash = _hash(session_id)
        now = self.clock()
        self._sweep(now)
        found = self._read.rows(self.engine(), {"key": token_hash})
        if not found:
            return None
        # the row's values by column name, then those read beside it
        values = dict(zip(sessions.c.keys(), found[0][:_COLUMNS], strict=True))
        session = Session(
            session_id,
            values["created"],
            values["seen"],
            values["lang"],
            values["person"],
            values["role"],
            values["key_fingerprint"],
            (values["nonce"], values["sealed_key"]) if values["sealed_key"] is not None else None,
            {grant: (form, done) for grant, (form, done) in json.loads(values["notices"]).items()},
            also=tuple(found[0][_COLUMNS:]),
        )
        seen = values["seen"]
        expired = now - seen > self.idle or now - values["created"] > self.lifetime
        held = hmac.compare_digest(values["mac"], self._mac(session))
        held = held and hmac.compare_digest(values["seen_mac"], self._seen_mac(token_hash, seen))
        if expired or not held:
            self.drop(session_id)
            return None
        session._sealing, session._at, session._mac = self._sealing(session_id), now, values["mac"]
        if touch and now - seen >= min(TOUCH_SECONDS, self.idle / 100):
            session.seen = now
            self._set(session, seen=now, seen_mac=self._seen_mac(token_hash, now))
        return session

    def _set(self, session: Session, **values: object) -> None:
        with self.engine().begin() as conn:
            conn.execute(update(sessions).where(sessions.c.token_hash == session.token_hash).values(**values))

    def _change(self, session: Session, change: Callable[[Session], T]) -> T:
        """``change`` made to the session's language and notices, written with their HMAC only
        over the row as this request read it (compare-and-set on the HMAC): when another request
        of the session wrote since, the change is made again to what that one wrote, which it
        would otherwise undo (a notice lost, or shown twice; the language put back)."""
        result = change(session)
        for _ in range(CHANGE_TRIES):
            mac = self._mac(session)
            values = {
                "key": session.token_hash,
                "read_mac": session._mac,
                "new_lang": session.lang,
                "new_notices": json.dumps(session.notices),
                "new_mac": mac,
            }
            if _CHANGE.run(self.engine(), values):
                session._mac = mac
                return result
            now = self.get(session.id, touch=False)
            if now is None:  # signed out or expired meanwhile: nothing to write
                return result
            session.lang, session.notices, session._mac = now.lang, now.notices, now._mac
            result = change(session)
        return result

    def remaining(self, session_id: str) -> float | None:
        """Seconds until the session of this token expires, or None when it is gone; unlike
        ``get``, asking does not restart its idle time (a page left open does not keep it alive)."""
        session = self.get(session_id, touch=False)
        if session is None or not session.signed_in:
            return None
        left = min(session.seen + self.idle, session.created + self.lifetime) - self.clock()
        return left if left > 0 else None

    def set_lang(self, session: Session, lang: str) -> None:
        if session.lang != lang:

            def change(s: Session) -> None:
                s.lang = lang

            self._change(session, change)

    def notify(self, session: Session, grant_id: str, notice: tuple[str, str]) -> None:
        """Keep what a write on ``grant_id`` did, for its page to show once."""

        def change(s: Session) -> None:
            s.notices.pop(grant_id, None)
            s.notices[grant_id] = notice
            while len(s.notices) > NOTICES_KEPT:
                s.notices.pop(next(iter(s.notices)))

        self._change(session, change)

    def take_notice(self, session: Session, grant_id: str) -> tuple[str, str] | None:
        if grant_id not in session.notices:
            return None
        return self._change(session, lambda s: s.notices.pop(grant_id, None))

    def sign_in(self, old: Session, person: str, role: str | None, signer: Signer | None) -> Session:
        now = self.clock()
        fresh = Session(secrets.token_urlsafe(32), now, now, old.lang, person, role)
        if signer is not None:
            fresh.key_fingerprint = signer.fingerprint
            fresh.sealed = _seal(self._sealing(fresh.id), fresh.id, person, signer)
            fresh._signer, fresh._opened = signer, True
        self._insert(fresh)
        self.drop(old.id)
        return fresh

    def sign_out(self, session_id: str) -> None:
        """End the session for good: its token recorded as signed out and its row deleted, in one
        transaction."""
        self.drop(session_id, signed_out_at=self.clock())

    def drop(self, session_id: str, signed_out_at: float | None = None) -> None:
        token_hash = _hash(session_id)
        with self.engine().begin() as conn:
            if signed_out_at is not None:
                _signed_out(conn, [token_hash], signed_out_at)
            conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))
        _forget_signer(token_hash)

    def _trim(self, now: float) -> None:
        """Delete the expired sessions, and the oldest anonymous ones past ``ANONYMOUS_KEPT``."""
        c = sessions.c
        with self.engine().begin() as conn:
            expired = (c.seen < now - self.idle) | (c.created < now - self.lifetime)
            conn.execute(delete(sessions).where(expired))
            anonymous = conn.execute(select(func.count()).where(c.person.is_(None))).scalar_one()
            if anonymous > ANONYMOUS_KEPT:
                oldest = (
                    select(c.token_hash)
                    .where(c.person.is_(None))
                    .order_by(c.seen)
                    .limit(anonymous - ANONYMOUS_KEPT)
                    .scalar_subquery()
                )
                conn.execute(delete(sessions).where(c.token_hash.in_(oldest)))
