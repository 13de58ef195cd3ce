"""Fast encodings for bulk writes, byte for byte what the general ones produce.

``StateEncoder`` writes an event's stored state exactly as eventsourcing's ``JSONTranscoder``
(with this ledger's transcodings) would, without the encoder's per-value callbacks: strings, ints,
Decimals, dates, datetimes, UUIDs, and lists and str-keyed dicts (a snapshot's state) of those go
through orjson; an event holding anything else is handed to the general mapper.
``fingerprint_body`` is ``json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)``
for flat dicts of such values. Tests compare both with the general path on random events.
``json_state`` reads a stored state back as ``json.loads`` does, by orjson where that is the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
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
    if kind is dict:
        return _dict(value)
    raise _Unusual


def _dict(value: dict[Any, Any]) -> dict[str, Any]:
    """A dict of str keys (an aggregate's state in a snapshot), its values made ready."""
    ready = {}
    for key, item in value.items():
        if key.__class__ is not str:  # json would write other keys as text: the general path
            raise _Unusual
        kind = item.__class__
        if kind in _PLAIN_TYPES:
            ready[key] = item
        elif kind is dict:  # a snapshot's records (expenditures) and books (days): one call less
            ready[key] = _dict(item)
        elif kind is Decimal:
            ready[key] = {"_type_": "decimal_str", "_data_": str(item)}
        else:
            ready[key] = _json_ready(item)
    return ready


def _decimal(value: Decimal) -> dict[str, Any]:
    return {"_type_": "decimal_str", "_data_": str(value)}


def _date(value: date) -> dict[str, Any]:
    return {"_type_": "date_iso", "_data_": value}  # orjson writes a date as isoformat() does


def _datetime(value: datetime) -> dict[str, Any]:
    if value.tzinfo is UTC:  # orjson writes these as isoformat() does (tests/test_encoding.py)
        return {"_type_": "datetime_iso", "_data_": value}
    return {"_type_": "datetime_iso", "_data_": value.isoformat()}


def _uuid(value: UUID) -> dict[str, Any]:
    return {"_type_": "uuid_hex", "_data_": value.hex}


def _list(value: list[Any]) -> list[Any]:
    if _PLAIN_TYPES.issuperset(map(type, value)):
        return value
    return [_json_ready(v) for v in value]


# How each value not written as it is gets ready for orjson (what the transcoder writes).
_READY: dict[type, Callable[[Any], Any]] = {
    Decimal: _decimal,
    date: _date,
    datetime: _datetime,
    UUID: _uuid,
    list: _list,
    dict: _dict,
}

# A stored event as the bulk writer takes it: originator id, version, topic, state
EventRow = tuple[UUID, int, str, bytes]


class StateEncoder:
    """Stored events for bulk writes; falls back to ``mapper.to_stored_event`` when unsure.

    orjson writes what ``json`` writes with ``separators=(",", ":")`` and ``ensure_ascii=False``
    for these values (and refuses lone surrogates, which then take the general path). Events
    of one class with values of the same types (a shape) are prepared the same way: the shape's
    plan names the values to convert.
    """

    def __init__(self, mapper: Any) -> None:
        self.mapper = mapper
        self.topics: dict[type, str] = {}
        # (event class, *keys, *value types) -> [(key, how to make it ready)], or None: the general
        # path
        self.plans: dict[tuple[Any, ...], list[tuple[str, Callable[[Any], Any]]] | None] = {}
        self.prepared: dict[str, Any] | None = None  # the last row's state, ready for orjson
        # (originator, topic) -> the leaf's bytes before the version and after the state
        self._heads: dict[tuple[Any, str], tuple[bytes, bytes]] = {}

    def __call__(self, event: Any) -> StoredEvent:
        originator_id, originator_version, topic, state = self.row(event)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=state,
        )

    def row(self, event: Any) -> EventRow:
        """The stored event as a tuple ``(originator_id, originator_version, topic, state)``."""
        cls = event.__class__
        topic = self.topics.get(cls)
        if topic is None:
            if getattr(cls, "class_version", 1) > 1 or self.mapper.compressor or self.mapper.cipher:
                return self._general(event)
            topic = self.topics[cls] = get_topic(cls)
        state = event.__dict__.copy()
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        shape = (cls, *state, *map(type, state.values()))  # the keys, then their values' types
        try:
            plan = self.plans[shape]
        except KeyError:
            plan = self._plan(state, shape)
        if plan is None:
            return self._general(event)
        try:
            for key, ready in plan:
                state[key] = ready(state[key])
            # copied: the bytes orjson returns keep the buffer they were written in (4 KB for
            # a 400-byte event), and a checking process holds a batch of thousands
            body = memoryview(orjson.dumps(state)).tobytes()
        except (_Unusual, TypeError):
            return self._general(event)
        self.prepared = state
        return originator_id, originator_version, topic, body

    def row_and_leaf(self, event: Any) -> tuple[EventRow, str]:
        """The stored event and its Merkle leaf hash (audit.verifier.canonical), in hex. On the fast
        path the state is written once more with sorted keys, which is its canonical JSON, so the
        leaf is hashed without parsing the state again."""
        row = self.row(event)
        originator_id, version, topic, body = row
        stamp = getattr(event, "timestamp", None)
        if self.prepared is not None and isinstance(stamp, datetime):
            head = self._heads.get((originator_id, topic))
            if head is None:
                if len(self._heads) >= 4096:
                    self._heads.clear()
                head = self._heads[originator_id, topic] = (
                    b'{"originator_id":"' + str(originator_id).encode() + b'","originator_version":',
                    b',"topic":' + _quote(topic).encode("utf-8") + b"}",
                )
            data = b"".join(
                (
                    b"\x00",
                    head[0],
                    str(int(version)).encode(),
                    b',"recorded_at":',
                    orjson.dumps(stamp),  # '"' + isoformat() + '"', as the transcoder writes it
                    b',"state":',
                    orjson.dumps(self.prepared, option=orjson.OPT_SORT_KEYS),
                    head[1],
                )
            )
            return row, hashlib.sha256(data).hexdigest()
        from ledger.seal import leaf_hex

        return row, leaf_hex(originator_id, version, topic, body)

    def _plan(
        self, state: dict[str, Any], shape: tuple[Any, ...]
    ) -> list[tuple[str, Callable[[Any], Any]]] | None:
        steps = [
            (key, _READY.get(kind))
            for key, kind in zip(state, shape[1 + len(state) :], strict=True)
            if kind not in _PLAIN_TYPES
        ]
        ready = [(key, how) for key, how in steps if how is not None]
        plan = ready if len(ready) == len(steps) else None
        if len(self.plans) < 1024:
            self.plans[shape] = plan
        return plan

    def _general(self, event: Any) -> EventRow:
        self.prepared = None
        stored = self.mapper.to_stored_event(event)
        return stored.originator_id, stored.originator_version, stored.topic, stored.state


_quote = json.encoder.encode_basestring  # as audit.verifier.canonical quotes a str
_GENERAL = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False)
# the keys of each shape of fields seen, sorted, each with its '"key": ' written out
_ORDERS: dict[tuple[Any, ...], list[tuple[Any, str]]] = {}


def fingerprint_body(fields: dict[str, Any]) -> str:
    """``json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)``, faster."""
    keys = tuple(fields)
    order = _ORDERS.get(keys)
    try:
        if order is None:
            order = [(k, _quote(k) + ": ") for k in sorted(keys)]
            if len(_ORDERS) < 1024:
                _ORDERS[keys] = order
        parts = []
        for key, head in order:
            value = fields[key]
            kind = value.__class__
            if kind is str:
                parts.append(head + _quote(value))
            elif kind is Decimal or kind is date:  # digits, '.', '-', 'E', letters: nothing to escape
                parts.append(head + '"' + str(value) + '"')
            elif kind is int:
                parts.append(head + str(value))
            elif value is None:
                parts.append(head + "null")
            else:
                raise _Unusual
    except (_Unusual, TypeError):
        return _GENERAL.encode(fields)
    return "{" + ", ".join(parts) + "}"


_loads = orjson.loads
_LOADS_REFUSED = orjson.JSONDecodeError


def json_state(state: bytes | bytearray | memoryview | str) -> Any:
    """``json.loads`` of a stored state (bytes: UTF-8), read by orjson in under half the time
    where orjson gives the very same value: one with no float at any depth (orjson reads an
    integer past 64 bits as a float where json gives the integer; a float is json's to read).
    Where orjson refuses the text (a lone surrogate's escape or NaN, which json reads; anything
    json refuses as well), or nests it deeper than ``_DEEPEST``, json reads it, and raises what
    json raises."""
    value = _read_as_json_reads(state)
    if value is _LEFT_TO_JSON:  # json called here, not deeper: the same nesting it can read
        return json.loads(state if isinstance(state, str) else bytes(state).decode("utf-8"))
    return value


_LEFT_TO_JSON: Any = object()


def _read_as_json_reads(state: bytes | bytearray | memoryview | str) -> Any:
    """orjson's reading of ``state`` where it is json's (``json_state``), else ``_LEFT_TO_JSON``."""
    try:
        value = _loads(state)
    except _LOADS_REFUSED:
        return _LEFT_TO_JSON
    kind = value.__class__
    if kind is dict or kind is list:
        return value if _floatless(value) else _LEFT_TO_JSON
    return _LEFT_TO_JSON if kind is float else value


# nesting from which json_state leaves a state to json: json gives up near the interpreter's
# recursion limit where orjson reads on to 1024 levels (the ledger writes states two levels deep)
_DEEPEST = 64


def _floatless(value: Any, depth: int = 0) -> bool:
    """No float in the dict or list ``value`` at any depth, and no deeper than ``_DEEPEST``."""
    if depth > _DEEPEST:
        return False
    for v in value.values() if value.__class__ is dict else value:
        kind = v.__class__
        if kind is str or kind is int or kind is bool or v is None:
            continue
        if kind is dict:
            # a typed value ({"_type_": …, "_data_": …} of two texts), most states' every other one
            if len(v) == 2 and v.get("_data_").__class__ is str and v.get("_type_").__class__ is str:
                continue
            if not _floatless(v, depth + 1):
                return False
        elif kind is not list or (v and not _floatless(v, depth + 1)):  # a float
            return False
    return True


_dumps = orjson.dumps
_SORTED = orjson.OPT_SORT_KEYS
_DUMPS_REFUSED = orjson.JSONEncodeError


def state_and_canonical(state: bytes | bytearray | memoryview | str) -> tuple[Any, bytes | None]:
    """``json_state(state)``, and its canonical text as the audit log hashes it, in UTF-8
    (``json.dumps`` with keys sorted, compact separators and non-ASCII kept:
    ``audit.verifier.canonical``) where orjson writes that very text, else None (the caller's to
    write). orjson escapes what json escapes (quotes, backslashes and control characters, in the
    same forms) and sorts keys by code point as json does; the value is orjson's own reading, so
    none of its numbers is a float and none past 64 bits, the two that orjson and json write
    differently."""
    value = _read_as_json_reads(state)
    if value is _LEFT_TO_JSON:
        return json.loads(state if isinstance(state, str) else bytes(state).decode("utf-8")), None
    try:
        # a copy of its size: 10,000 of orjson's own bytes of 650 held 90 MB, not 18, and took
        # 2.1 us each to write, not 0.3 (a rebuild's worker holds a page of them)
        return value, memoryview(_dumps(value, option=_SORTED)).tobytes()
    except _DUMPS_REFUSED:  # nested past orjson's depth
        return value, None
