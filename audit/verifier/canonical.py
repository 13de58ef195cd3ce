"""The canonical bytes of a stored event: what a Merkle leaf hashes.

An event is recorded as a JSON object with exactly these keys::

    {"originator_id": "<uuid, lowercase hex with dashes>", "originator_version": <int>,
     "topic": "<stable topic>", "recorded_at": "<the store's timestamp, ISO-8601>",
     "state": <the stored state, parsed from its JSON as is>}

and encoded as UTF-8 JSON with keys sorted at every level, no whitespace (separators ``,`` and
``:``) and non-ASCII characters kept as themselves. The leaf data is those bytes; the leaf hash
is SHA-256(0x00 || data) (RFC 9162). The exported ``events.jsonl`` carries each record, so an
auditor recomputes the same bytes from the bundle alone, with any JSON library that can sort keys.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from audit.verifier.errors import AuditError
from audit.verifier.i18n import _
from audit.verifier.merkle import leaf_hash

RECORD_KEYS = ("originator_id", "originator_version", "topic", "recorded_at", "state")


class CanonicalError(AuditError):
    pass


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def record_from_stored(originator_id: UUID | str, version: int, topic: str, state: bytes) -> dict[str, Any]:
    """The record of one stored event, from its row (or notification) as stored."""
    return record_from_parsed(originator_id, version, topic, json.loads(state.decode("utf-8")))


def record_from_parsed(originator_id: UUID | str, version: int, topic: str, parsed: Any) -> dict[str, Any]:
    """The record of one stored event whose state the caller has parsed already."""
    return {
        "originator_id": str(originator_id),
        "originator_version": int(version),
        "topic": topic,
        "recorded_at": _recorded_at(parsed),
        "state": parsed,
    }


def _recorded_at(parsed: Any) -> str:
    stamp = parsed.get("timestamp") if isinstance(parsed, dict) else None
    recorded_at = stamp.get("_data_") if isinstance(stamp, dict) else stamp
    return str(recorded_at or "")


def leaf_data(record: dict[str, Any]) -> bytes:
    """The canonical bytes of a record; refuses records with missing or extra keys."""
    if set(record) != set(RECORD_KEYS):
        missing = sorted(set(RECORD_KEYS) - set(record))
        extra = sorted(set(record) - set(RECORD_KEYS))
        raise CanonicalError(
            _("event record has missing keys {missing} or extra keys {extra}").format(
                missing=missing, extra=extra
            )
        )
    return canonical_json({key: record[key] for key in RECORD_KEYS})


def record_leaf_hash(record: dict[str, Any]) -> bytes:
    return leaf_hash(leaf_data(record))


_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
quote = json.encoder.encode_basestring  # what that encoder writes for a str


def stored_leaf_data(
    originator_id: UUID | str, version: int, topic: str, parsed: Any, canonical_state: bytes | None = None
) -> bytes:
    """``leaf_data(record_from_parsed(...))`` byte for byte, without building the record: the
    record's keys are fixed and already in sorted order, so only the state goes through the
    sorting encoder — unless the caller has its canonical text already (``canonical_state``,
    which must be ``canonical_json(parsed)``)."""
    head = (
        '{"originator_id":'
        + quote(str(originator_id))
        + ',"originator_version":'
        + str(int(version))
        + ',"recorded_at":'
        + quote(_recorded_at(parsed))
        + ',"state":'
    )
    tail = ',"topic":' + quote(topic) + "}"
    if canonical_state is None:
        return (head + _encode(parsed) + tail).encode("utf-8")
    return head.encode("utf-8") + canonical_state + tail.encode("utf-8")


def shaped_leaf_data(
    originator_id: str, version: int, recorded_at: str, canonical_state: str, topic: str
) -> bytes:
    """``stored_leaf_data`` from a state's canonical text and timestamp as a known shape gives
    them (``projections.shapes``), with ``topic`` already quoted as JSON: a UUID and a shape's
    timestamp need no escapes, so the record is written without encoding anything."""
    return (
        f'{{"originator_id":"{originator_id}","originator_version":{int(version)},'
        f'"recorded_at":"{recorded_at}","state":{canonical_state},"topic":{topic}}}'
    ).encode()
