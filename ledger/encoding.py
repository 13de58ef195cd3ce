"""Fast encodings for bulk writes, byte for byte what the general ones produce.

``StateEncoder`` writes an event's stored state exactly as eventsourcing's ``JSONTranscoder``
(with this ledger's transcodings) would, without the encoder's per-value callbacks: strings, ints,
Decimals, dates, datetimes, UUIDs and lists of those are written directly; an event holding
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

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

_quote: Callable[[str], str] = json.encoder.encode_basestring


class _Unusual(Exception):
    """A value the fast path does not write; the general encoder does."""


def _typed(name: str, data: str) -> str:
    return '{"_type_":"' + name + '","_data_":' + _quote(data) + "}"


def _value(value: Any) -> str:
    kind = value.__class__
    if kind is str:
        return _quote(value)
    if kind is Decimal:
        return _typed("decimal_str", str(value))
    if kind is date:
        return _typed("date_iso", value.isoformat())
    if kind is datetime:
        return _typed("datetime_iso", value.isoformat())
    if kind is int:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is UUID:
        return _typed("uuid_hex", value.hex)
    if kind is list:
        return "[" + ",".join([_value(v) for v in value]) + "]"
    raise _Unusual


class StateEncoder:
    """Stored events for bulk writes; falls back to ``mapper.to_stored_event`` when unsure."""

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
        state = event.__dict__
        try:
            body = ",".join(
                [
                    _quote(key) + ":" + _value(value)
                    for key, value in state.items()
                    if key != "originator_id" and key != "originator_version"
                ]
            )
        except _Unusual:
            return self.mapper.to_stored_event(event)
        return StoredEvent(
            originator_id=state["originator_id"],
            originator_version=state["originator_version"],
            topic=topic,
            state=("{" + body + "}").encode("utf-8"),
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
