"""A person's signature on a snapshot their own process took or checked, so that their next write
trusts it without replaying the whole history it summarises.

A write trusts a stored snapshot only once it is known to agree with the events (``GrantLedger.load``):
otherwise it replays every event of the aggregate and compares, a cost that grows with the grant's
history (about a fifth of a command on a grant of 2,000 events). A snapshot the person's own write
took, or that their process replayed and found equal to its events, is signed with their key and
the signature kept here. Their later writes then read only the events from the snapshot's own on,
each checked as every loaded event is, and the snapshot's last modification must be that event's.

Only the loading person's own signature is taken: an attacker below the application holds no one's
key, and no one builds on a state that only someone else vouches for. A row that does not verify
(changed, copied to another snapshot or version, made with another key) is passed over, and the
snapshot is checked the long way, which refuses one that disagrees with its events. Deleting rows
costs time, nothing else.

Ledgers made before this table existed have none: their writes check snapshots the long way.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select
from sqlalchemy.engine import Connection

from audit.verifier.seals import signature_verifies

if TYPE_CHECKING:
    from ledger.seal import Signer

TABLE = "ledger_snapshot_seals"

metadata = MetaData()
snapshot_seals = Table(
    TABLE,
    metadata,
    Column("originator_id", String(32), primary_key=True),  # hex
    Column("originator_version", Integer, primary_key=True),
    Column("signer_key", String(64), primary_key=True),  # the key's fingerprint
    Column("form", String(64), primary_key=True),  # the aggregates' code signed under (``form``)
    # in the key too: a row of garbage stored first under the person's key does not keep theirs out
    Column("signature", String(128), primary_key=True),
)

_SIGNATURE = select(snapshot_seals.c.signature).where(
    snapshot_seals.c.originator_id == bindparam("id"),
    snapshot_seals.c.originator_version == bindparam("version"),
    snapshot_seals.c.signer_key == bindparam("key"),
    snapshot_seals.c.form == bindparam("form"),
)


def message(originator_id: UUID, version: int, state: bytes) -> bytes:
    """The bytes signed: the aggregates' code (``form``), the aggregate, the snapshot's version and
    the SHA-256 of its stored state."""
    digest = hashlib.sha256(state).hexdigest()
    return f"grant-ledger snapshot\n{form()}\n{originator_id.hex}\n{version}\n{digest}".encode()


@functools.cache
def form() -> str:
    """The SHA-256 of the code that makes and reads snapshots: the aggregates snapshotted, the
    application's own encodings and the event store library's version. A release whose grants or
    units keep a field more would find it missing from a snapshot an earlier one took (the class
    default, silently), and one that reads a value otherwise would read it otherwise; so a
    snapshot signed under other code is checked the long way, which tells an earlier form from a
    forgery, and then signed again."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256()
    for module in ("grant.py", "unit.py", "application.py"):
        digest.update(Path(__file__).with_name(module).read_bytes())
    try:
        digest.update(version("eventsourcing").encode())
    except PackageNotFoundError:  # run from a source tree without the package's metadata
        digest.update(b"eventsourcing")
    return digest.hexdigest()


def sealed(signer: Signer, stored: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows signing each stored snapshot (``StoredEvent``) with ``signer``'s key."""
    rows = []
    for s in stored:
        originator_id = _uuid(s.originator_id)
        signature = signer.sign(message(originator_id, s.originator_version, bytes(s.state)))
        rows.append(
            {
                "originator_id": originator_id.hex,
                "originator_version": s.originator_version,
                "signer_key": signer.fingerprint,
                "form": form(),
                "signature": signature,
            }
        )
    return rows


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def present(conn: Connection) -> bool:
    """Whether the ledger has the table (one made before it does not)."""
    return bool(conn.dialect.has_table(conn, TABLE))


def insert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows``, any already there (the same signature) left as it is."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    conn.execute(dialect_insert(snapshot_seals).on_conflict_do_nothing(), rows)


def signed_by(conn: Connection, stored: Any, signer: Signer) -> bool:
    """Whether ``signer``'s own key signed exactly this stored snapshot."""
    originator_id = _uuid(stored.originator_id)
    found = conn.execute(
        _SIGNATURE,
        {
            "id": originator_id.hex,
            "version": stored.originator_version,
            "key": signer.fingerprint,
            "form": form(),
        },
    ).scalars()
    signed = message(originator_id, stored.originator_version, bytes(stored.state))
    return any(signature_verifies(signed, signature, signer.public_raw) for signature in found)
