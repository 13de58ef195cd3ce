"""Web passwords and the signing keys they unlock.

A password is not an act with public money, and its hash is a secret: it is kept in a table of its
own (``ledger_web_credentials``), never as an event. Events are the Merkle log that every audit
bundle ships in full and that can never forget; a password hash there would be handed to every
auditor for offline guessing, and an old one could never be removed after a change. The table is
not a read model either: no rebuild drops it.

Each row holds the argon2id hash of the password and, when the person's private key was given,
that key (its 32 raw bytes) sealed with AES-256-GCM under a key derived from the same password by
argon2id with a salt of its own; the associated data binds it to the person and the key's
fingerprint. The key is opened into memory at sign-in only (``unlock``).

Sign-in attempts are kept in ``ledger_web_sign_ins`` (when, which name, from which address, how it
ended); the rate limit reads them, so it holds across restarts and server processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher, low_level
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    inspect,
    or_,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from commands.web.i18n import _
from ledger.errors import BadInputError, StorageError
from ledger.seal import Signer

MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes any length; a megabyte posted as a password is refused first
# the sixth wrong password within a minute, for one name or from one address, is refused
FAILURES_ALLOWED = 5
FAILURE_WINDOW = timedelta(minutes=1)

# argon2-cffi's defaults: argon2id, RFC 9106's second recommended option (t=3, 64 MiB, p=4)
HASHER = PasswordHasher()

metadata = MetaData()
credentials = Table(
    "ledger_web_credentials",
    metadata,
    Column("person", String(200), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("key_fingerprint", String(64)),  # the key sealed below; NULL: no key on the server
    Column("kdf_salt", String(64)),
    Column("nonce", String(32)),
    Column("sealed_key", String(128)),
    Column("set_at", DateTime(), nullable=False),
    Column("set_by", String(200), nullable=False),
)
sign_ins = Table(
    "ledger_web_sign_ins",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(), nullable=False, index=True),
    Column("person", String(200), nullable=False),
    Column("address", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # signed in | wrong (limited: kept by earlier versions)
)


def utcnow() -> datetime:
    """Times in these tables are naive UTC (SQLite keeps no zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


def ensure_tables(engine: Engine) -> None:
    """The web's tables, made where missing. ``init`` makes them as the ledger's owner; a server
    whose login may not create tables finds them there, or says who makes them."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except DBAPIError:
        missing = sorted(set(metadata.tables) - set(inspect(engine).get_table_names()))
        if not missing:
            raise
        msg = _(
            "the web's tables {tables} are not in this ledger, and this login may not make them: "
            "run `grant-ledger init` as the ledger's owner first (it makes them and grants the "
            "groups what they need)"
        ).format(tables=", ".join(missing))
        raise StorageError(msg) from None


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadInputError(_("a web password has at least {count} characters").format(count=MIN_PASSWORD))
    if len(password) > MAX_PASSWORD:
        raise BadInputError(_("a web password has at most {count} characters").format(count=MAX_PASSWORD))


def _derive(password: str, salt: bytes) -> bytes:
    return low_level.hash_secret_raw(
        password.encode("utf-8"),
        salt,
        time_cost=HASHER.time_cost,
        memory_cost=HASHER.memory_cost,
        parallelism=HASHER.parallelism,
        hash_len=32,
        type=low_level.Type.ID,
    )


def _bound(person: str, fingerprint: str) -> bytes:
    return f"grant-ledger web key\n{person}\n{fingerprint}".encode()


def has_password(engine: Engine, person: str) -> bool:
    ensure_tables(engine)
    with engine.connect() as conn:
        return (
            conn.execute(select(credentials.c.person).where(credentials.c.person == person)).first()
            is not None
        )


def set_password(
    engine: Engine,
    person: str,
    password: str,
    key: Signer | None,
    set_by: str,
    also: Callable[[Connection], object] | None = None,
) -> None:
    """Store ``person``'s password (its argon2id hash) and, if given, their private key sealed
    under it; a password set before is replaced in the same transaction, in which ``also`` runs."""
    check_password(password)
    row: dict[str, object] = {
        "person": person,
        "password_hash": HASHER.hash(password),
        "set_at": utcnow(),
        "set_by": set_by,
    }
    if key is not None:
        salt, nonce = os.urandom(16), os.urandom(12)
        raw = key.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        sealed = AESGCM(_derive(password, salt)).encrypt(nonce, raw, _bound(person, key.fingerprint))
        row |= {
            "key_fingerprint": key.fingerprint,
            "kdf_salt": salt.hex(),
            "nonce": nonce.hex(),
            "sealed_key": sealed.hex(),
        }
    ensure_tables(engine)
    with engine.begin() as conn:
        conn.execute(delete(credentials).where(credentials.c.person == person))
        conn.execute(insert(credentials).values(**row))
        if also is not None:
            also(conn)


@dataclass(frozen=True)
class Unlocked:
    person: str
    signer: Signer | None  # None: no key on the server for this person


# checked against when the name has no password, so that an unknown name takes as long as a known one
_DECOY = HASHER.hash("grant-ledger: no such person")


def unlock(engine: Engine, person: str, password: str) -> Unlocked | None:
    """The person's key opened with their password, or None if the password is wrong (or the
    name has none). The key is the one sealed when the password was set; whether it is still the
    person's registered key is for the caller to check against the registry."""
    with engine.connect() as conn:
        row = conn.execute(select(credentials).where(credentials.c.person == person)).first()
    try:
        HASHER.verify(row.password_hash if row is not None else _DECOY, password[:MAX_PASSWORD])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if row.sealed_key is None:
        return Unlocked(person, None)
    try:
        raw = AESGCM(_derive(password, bytes.fromhex(row.kdf_salt))).decrypt(
            bytes.fromhex(row.nonce), bytes.fromhex(row.sealed_key), _bound(person, row.key_fingerprint)
        )
    except (InvalidTag, ValueError):
        return None  # a row changed below the application opens nothing
    signer = Signer.of(Ed25519PrivateKey.from_private_bytes(raw))
    return Unlocked(person, signer if signer.fingerprint == row.key_fingerprint else None)


def record_attempt(engine: Engine, person: str, address: str, outcome: str, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(sign_ins).values(at=at, person=person[:200], address=address[:64], outcome=outcome)
        )


def limited(
    engine: Engine, person: str, address: str, now: datetime, checking: tuple[int, int] = (0, 0)
) -> bool:
    """Whether ``FAILURES_ALLOWED`` wrong passwords were given for this name, or from this
    address, within the last minute: the next attempt is refused without being checked.
    ``checking``: the attempts for the name, and from the address, being checked now (each may
    be wrong)."""
    since = now - FAILURE_WINDOW
    c = sign_ins.c
    with engine.connect() as conn:
        by_name, by_address = conn.execute(
            select(
                func.count().filter(c.person == person[:200]),
                func.count().filter(c.address == address[:64]),
            ).where(
                and_(
                    c.at > since,
                    c.outcome == "wrong",
                    or_(c.person == person[:200], c.address == address[:64]),
                )
            )
        ).one()
    return max(int(by_name or 0) + checking[0], int(by_address or 0) + checking[1]) >= FAILURES_ALLOWED
