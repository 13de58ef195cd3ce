"""Seals: the signatures that say who recorded which events.

Every write is one person's act. The events it stores carry the person's name (``actor``), the
role the registry gives them (``role``) and the id of the write's seal (``seal``); after them, in
the same transaction, the store gets one more event, the seal itself (topic ``SEAL_TOPIC``)::

    {"signer": <name>, "key": <fingerprint of the signer's public key>,
     "leaves": <the Merkle leaf hashes of the sealed events, hex, concatenated in log order>,
     "signature": <hex of the Ed25519 signature of seal_message(...)>}

A leaf hash covers the whole stored event, ``actor`` and ``seal`` included (audit.verifier.canonical),
so no one can claim another's act, or re-seal an event, without changing the log. A command seals
its one to three events; an import seals each batch once (one signature per 10,000 rows, not one
per row: Ed25519 costs about 20 µs to sign and 62 µs to verify, a minute per million events).

A ledger made before seals existed is adopted (``ADOPTION_TOPIC``): an administrator signs the
log's size and root at that moment, and the events before it are shown as adopted, not signed.

The fingerprint of a key is SHA-256 of its 32 raw bytes, in hex: what ``init`` prints as the
ledger's trust root and what ``audit verify --root`` pins.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.verifier.canonical import canonical_json

SEAL_TOPIC = "grant-ledger:Seal.Sealed"
ADOPTION_TOPIC = "grant-ledger:Seal.Adopted"
SEAL_ORIGIN = "grant-ledger.chongqing/seal"
HASH_HEX = 64


def key_fingerprint(raw_public_key: bytes) -> str:
    """SHA-256 of the 32 raw bytes of an Ed25519 public key, lowercase hex."""
    return hashlib.sha256(raw_public_key).hexdigest()


def seal_message(seal_id: str, signer: str, key: str, leaves: str) -> bytes:
    """The bytes a seal's signature signs."""
    return canonical_json(
        {
            "origin": SEAL_ORIGIN,
            "kind": "seal",
            "seal": seal_id,
            "signer": signer,
            "key": key,
            "leaves": leaves,
        }
    )


def adoption_message(seal_id: str, signer: str, key: str, size: int, root: str) -> bytes:
    """The bytes an adoption's signature signs: the log's size and root hash (hex) when adopted."""
    return canonical_json(
        {
            "origin": SEAL_ORIGIN,
            "kind": "adoption",
            "seal": seal_id,
            "signer": signer,
            "key": key,
            "size": size,
            "root": root,
        }
    )


def message_of(topic: str, seal_id: str, state: dict[str, Any]) -> bytes | None:
    """The signed message of a stored seal or adoption, None if its fields are not all there."""
    try:
        if topic == SEAL_TOPIC:
            return seal_message(seal_id, str(state["signer"]), str(state["key"]), str(state["leaves"]))
        if topic == ADOPTION_TOPIC:
            return adoption_message(
                seal_id, str(state["signer"]), str(state["key"]), int(state["size"]), str(state["root"])
            )
    except (KeyError, TypeError, ValueError):
        return None
    return None


def signature_verifies(message: bytes, signature_hex: Any, public_key_raw: bytes) -> bool:
    try:
        signature = bytes.fromhex(signature_hex)
        Ed25519PublicKey.from_public_bytes(public_key_raw).verify(signature, message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def covers(leaves: str, leaf_hex: str) -> bool:
    """Is ``leaf_hex`` one of the hashes concatenated in ``leaves`` (at a hash boundary)?"""
    start = leaves.find(leaf_hex)
    while start != -1:
        if start % HASH_HEX == 0:
            return True
        start = leaves.find(leaf_hex, start + 1)
    return False


def leaf_list(leaves: str) -> list[str]:
    return [leaves[i : i + HASH_HEX] for i in range(0, len(leaves), HASH_HEX)]
