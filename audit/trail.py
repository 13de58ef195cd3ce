"""Signing checkpoints of the audit log and proving one event's inclusion."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from uuid import UUID

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from audit.extension import checked_head
from audit.i18n import _
from audit.log import (
    ORIGIN,
    checkpoints,
    ensure_records,
    keep_signed_leaves,
    leaf_hashes,
    leaves,
    stored_checkpoints,
)
from audit.signing import sign_checkpoint, utc_timestamp
from audit.verifier.checkpoint import Checkpoint, parse_signed_checkpoint
from audit.verifier.merkle import inclusion_proof, verify_inclusion
from ledger.errors import BadInputError, NotFoundError, VerificationError


@dataclass(frozen=True)
class Signed:
    text: str
    size: int
    new: bool

    def repeated(self) -> str:
        """Said when the log has not grown since the latest checkpoint."""
        return _("(the log still holds {size} events: latest checkpoint repeated)").format(size=self.size)


def check_event_id(event_id: str) -> None:
    """BadInputError for a numeric id past any database's ids (before any database is opened)."""
    if event_id.isascii() and event_id.isdigit() and int(event_id) >= 1 << 63:
        raise BadInputError(
            _("event id {event_id} is larger than any event id a ledger stores").format(event_id=event_id)
        )


def sign_head(engine: Engine, private_key: Ed25519PrivateKey, key_name: str) -> Signed:
    """Sign the current tree head with ``private_key`` (the key of the person ``key_name``, an
    approver the caller has checked in the people registry) and store it."""
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    with engine.begin() as conn:
        ensure_records(conn)
        previous = stored_checkpoints(conn)
        head = checked_head(conn, previous)  # refuses a log that does not extend the last one
        if previous:
            last = previous[-1]
            if last.size == head.size and last.public_key == public_pem:
                return Signed(last.signed, head.size, False)
        checkpoint = Checkpoint(ORIGIN, head.size, head.root, utc_timestamp())
        text = sign_checkpoint(checkpoint, private_key, key_name)
        conn.execute(
            insert(checkpoints).values(
                origin=ORIGIN,
                size=head.size,
                root=head.root.hex(),
                timestamp=checkpoint.timestamp,
                key_name=key_name,
                public_key=public_pem,
                signed=text,
            )
        )
        keep_signed_leaves(conn, head.size)
    return Signed(text, head.size, True)


def _find_leaf(engine: Engine, event_id: str) -> tuple[int, int, str]:
    """(leaf index, notification id, leaf hash) of EVENT_ID: a store id or ORIGINATOR:VERSION."""
    query = select(leaves.c.leaf_index, leaves.c.notification_id, leaves.c.leaf_hash)
    text = event_id.strip()
    if text.isdigit():
        query = query.where(leaves.c.notification_id == int(text))
    elif ":" in text:
        originator, _sep, version = text.rpartition(":")
        try:
            uuid = str(UUID(originator))
            number = int(version)
        except ValueError:
            raise BadInputError(_neither(event_id)) from None
        if abs(number) >= 1 << 63:
            raise BadInputError(
                _("version {version} is larger than any version a ledger stores").format(version=version)
            )
        query = query.where(leaves.c.originator_id == uuid, leaves.c.originator_version == number)
    else:
        raise BadInputError(_neither(event_id))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(_("event {event_id} is not in the audit log").format(event_id=event_id))
    return int(row.leaf_index), int(row.notification_id), str(row.leaf_hash)


def _neither(event_id: str) -> str:
    return _("event id {event_id!r} is neither a number nor ORIGINATOR_UUID:VERSION").format(
        event_id=event_id
    )


def prove(engine: Engine, event_id: str) -> str:
    """A plain-text inclusion proof of one event against the latest checkpoint."""
    index, nid, leaf_hex = _find_leaf(engine, event_id)
    with engine.connect() as conn:
        stored = stored_checkpoints(conn)
        if not stored:
            raise NotFoundError(_("no checkpoint has been signed yet; run `grant-ledger audit checkpoint`"))
        latest = stored[-1]
        if index >= latest.size:
            raise NotFoundError(
                _(
                    "event {event_id} (leaf {index}) was recorded after the latest checkpoint of "
                    "{size} events; run `grant-ledger audit checkpoint` first"
                ).format(event_id=event_id, index=index, size=latest.size)
            )
        hashes = leaf_hashes(conn, int(latest.size))
    checkpoint = parse_signed_checkpoint(latest.signed).checkpoint
    proof = inclusion_proof(index, hashes)
    leaf = bytes.fromhex(leaf_hex)
    if not verify_inclusion(leaf, index, checkpoint.size, proof, checkpoint.root):
        raise VerificationError(
            _(
                "the stored audit log does not reproduce the root of checkpoint {seq} for event {event_id}"
            ).format(seq=latest.seq, event_id=event_id)
        )
    lines = [
        _("grant-ledger inclusion proof (RFC 9162 §2.1.3)"),
        _("event id: {value}").format(value=nid),
        _("leaf index: {value}").format(value=index),
        _("leaf hash: {value}").format(value=base64.b64encode(leaf).decode("ascii")),
        _("tree size: {value}").format(value=checkpoint.size),
        _("root: {value}").format(value=base64.b64encode(checkpoint.root).decode("ascii")),
        _("proof ({count} hashes, leaf to root):").format(count=len(proof)),
        *(f"  {base64.b64encode(h).decode('ascii')}" for h in proof),
        "",
        _("checkpoint:"),
        latest.signed.rstrip("\n"),
    ]
    return "\n".join(lines) + "\n"
