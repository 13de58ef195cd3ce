"""Fast encodings for bulk writes, byte for byte what the general ones produce.

``StateEncoder`` writes an event's stored state exactly as eventsourcing's ``JSONTranscoder``
(with this ledger's transcodings) would, without the encoder's per-value callbacks: strings, ints,
Decimals, dates, datetimes, UUIDs and lists of those go through orjson; an event holding
anything else is handed to the general mapper. ``fingerprint_body`` is ``json.dumps(fields,
sort_keys=True, default=str, ensure_ascii=False)`` for flat dicts of such values. Tests compare
both with the general path on random events.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

_quote: Callable[[str], str] = json.encoder.encode_basestring


class _Unusual(Exception):
    """A value the fast path does not write; the general encoder does."""


_PLAIN_TYPES = frozenset({str, int, bool, type(None)})
_TYPED: dict[type, tuple[str, Callable[[Any], str]]] = {
    Decimal: ("decimal_str", str),
    date: ("date_iso", date.isoformat),
    datetime: ("datetime_iso", datetime.isoformat),
    UUID: ("uuid_hex", lambda u: u.hex),
}


def _json_ready(value: Any) -> Any:
    """The value as the transcoder hands it to JSON: typed values as ``{"_type_", "_data_"}``."""
    kind = value.__class__
    if kind in _PLAIN_TYPES:
        return value
    typed = _TYPED.get(kind)
    if typed is not None:
        return {"_type_": typed[0], "_data_": typed[1](value)}
    if kind is list:
        return [_json_ready(v) for v in value]
    raise _Unusual


class StateEncoder:
    """Stored events for bulk writes; falls back to ``mapper.to_stored_event`` when unsure.

    orjson writes what ``json`` writes with ``separators=(",", ":")`` and ``ensure_ascii=False``
    for these values (and refuses lone surrogates, which then take the general path).
    """

    def __init__(self, mapper: Any) -> None:
        self.mapper = mapper
        self.topics: dict[type, str] = {}

    def __call__(self, event: Any) -> StoredEvent:
        cls = event.__class__
        topic = self.topics.get(cls)
        if topic is None:
            if getattr(cls, "class_version", 1) > 1 or self.mapper.compressor or self.mapper.cipher:
                return self.mapper.to_stored_event(event)
            topic = self.topics[cls] = get_topic(cls)
        state = dict(event.__dict__)
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        try:
            for key, value in state.items():
                if value.__class__ not in _PLAIN_TYPES:
                    state[key] = _json_ready(value)
            body = orjson.dumps(state)
        except (_Unusual, TypeError):
            return self.mapper.to_stored_event(event)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=body,
        )


def _plain(value: Any) -> str:
    kind = value.__class__
    if kind is str:
        return _quote(value)
    if kind is Decimal or kind is date:
        return _quote(str(value))
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    raise _Unusual


_GENERAL = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False)


def fingerprint_body(fields: dict[str, Any]) -> str:
    """``json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)``, faster."""
    try:
        return "{" + ", ".join([_quote(k) + ": " + _plain(fields[k]) for k in sorted(fields)]) + "}"
    except (_Unusual, TypeError):
        return _GENERAL.encode(fields)
