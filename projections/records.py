"""Stored events decoded once per batch into light records, for every projection.

A record keeps the row's id, originator, version and topic, and the state parsed as
``json.loads`` parses it (with the canonical text the audit log hashes, when a reader of its batch
hashes it: ``ledger.encoding.state_and_canonical``): typed values stay as the transcoder wrote them
(``{"_type_": "decimal_str", "_data_": "120000.00"}``) and the helpers below read them the way
the application's transcodings do — without building domain event objects, which cost far more
than the projections' own work. Projections dispatch on the topic string; topics are stable
(``grant-ledger:Grant.ExpenditureRecorded``). The state must be plain JSON, as the audit log
hashes it (``audit.verifier.canonical``): no cipher or compressor on events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from audit.verifier.canonical import quote, stored_leaf_data
from ledger.encoding import json_state, state_and_canonical
from projections.measures import GRANT as GRANT
from projections.measures import Effect, effect
from projections.measures import fen as fen  # amounts in fen: read once, with the measures

_sha256 = hashlib.sha256  # a leaf hash is SHA-256 of 0x00 and the leaf data (RFC 9162)
_UNREAD: Any = object()


@dataclass(slots=True)
class StoredRecord:
    id: int
    aggregate_id: str  # the originator as the read models key it: 32 lowercase hex digits
    originator_version: int
    topic: str
    data: dict[str, Any]  # the stored state, parsed
    # its canonical JSON text in UTF-8 (audit/verifier/canonical.py), when known already
    canonical: bytes | None = None
    # what it does to the measures, once ``reading`` has read it (for every projection of its batch)
    read: Any = field(default=_UNREAD, repr=False, compare=False)
    # its timestamp as SQLite stores it, once ``written_at`` has written it (for the same projections)
    written: str | None = field(default=None, repr=False, compare=False)
    # its audit-log leaf hash, once ``hashed_leaves`` has hashed it (the seal check, the audit log)
    leaf: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def originator_id(self) -> str:
        """The originator as ``str(UUID)`` writes it."""
        h = self.aggregate_id
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    # as ``ledger.trust.Trust.check`` reads a stored event (its ``Checked``), without a copy
    @property
    def version(self) -> int:
        return self.originator_version

    @property
    def state(self) -> dict[str, Any]:
        return self.data


def reading(r: StoredRecord) -> Effect | None:
    """What the record does to the measures (``projections.measures.effect``), read once for all
    the projections its batch is applied to (the balances' movements and the acts both read it)."""
    found = r.read
    if found is _UNREAD:
        found = r.read = effect(r.topic, r.data)
    return found


def written_at(r: StoredRecord) -> str:
    """The record's timestamp as SQLite's DateTime stores it (``sqlite_moment``), written once for
    all the projections its batch is applied to (the balances' movements and the acts)."""
    found = r.written
    if found is None:
        found = r.written = sqlite_moment(r.data["timestamp"]["_data_"])
    return found


def hashed_leaves(batch: Sequence[StoredRecord]) -> list[bytes]:
    """Each record's audit-log leaf hash (``audit.verifier.canonical``'s leaf data, hashed as
    ``audit.verifier.merkle.leaf_hash`` does), hashed once for every reader of its batch: the seal
    check and the audit log. A record with its canonical text and a textual timestamp has its
    leaf data written from their parts, each originator and topic written once a batch."""
    out = []
    originators: dict[str, bytes] = {}
    topics: dict[str, bytes] = {}
    for r in batch:
        found = r.leaf
        if found is None:
            canonical = r.canonical
            stamp = r.data.get("timestamp") if canonical is not None and r.data.__class__ is dict else None
            if stamp.__class__ is dict and (recorded_at := stamp.get("_data_")).__class__ is str:
                originator = originators.get(r.aggregate_id)
                if originator is None:
                    originator = originators[r.aggregate_id] = r.originator_id.encode()
                topic = topics.get(r.topic)
                if topic is None:
                    topic = topics[r.topic] = quote(r.topic).encode()
                data = _LEAF % (
                    originator,
                    int(r.originator_version),
                    quote(recorded_at).encode(),
                    canonical,
                    topic,
                )
            else:
                data = b"\x00" + stored_leaf_data(
                    r.originator_id, r.originator_version, r.topic, r.data, canonical
                )
            found = r.leaf = _sha256(data).digest()
        out.append(found)
    return out


# 0x00 and stored_leaf_data's text, of its parts: originator, version, timestamp quoted, the
# state's canonical text and the topic quoted
_LEAF = b'\x00{"originator_id":"%b","originator_version":%d,"recorded_at":%b,"state":%b,"topic":%b}'


def records(stored: Iterable[Any]) -> list[StoredRecord]:
    """Records of stored notifications (or rows with the same fields), in the same order."""
    return records_of_rows((n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in stored)


def records_of_rows(rows: Iterable[Sequence[Any]], canonical: bool = True) -> list[StoredRecord]:
    """Records of ``(id, originator_id, originator_version, topic, state)`` rows as selected; the
    originator may come as a UUID, its 16 bytes (SQLite without type processing) or a string.
    Each state is read as ``json.loads`` reads it, by orjson where that gives the same value
    (``ledger.encoding``); without ``canonical`` the records' canonical text is left out
    (``None``), when no reader of the batch hashes it."""
    if not canonical:
        return [
            StoredRecord(nid, _hex(originator), version, topic, json_state(state))
            for nid, originator, version, topic, state in rows
        ]
    out = []
    for nid, originator, version, topic, state in rows:
        value, text = state_and_canonical(state)
        out.append(StoredRecord(nid, _hex(originator), version, topic, value, text))
    return out


def records_with_leaves(stored: Sequence[Any], leaves: Sequence[bytes]) -> list[StoredRecord]:
    """``records(stored)``, the first ``len(leaves)`` of them with their audit-log leaf hashes
    given (computed by whoever encoded them) and so without their canonical text."""
    given = len(leaves)
    known = records_of_rows(
        ((n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in stored[:given]),
        canonical=False,
    )
    for r, leaf in zip(known, leaves, strict=True):
        r.leaf = leaf
    return [*known, *records(stored[given:])]


def _hex(originator: Any) -> str:
    """An originator as the driver gives it (16 bytes, a UUID or text) as 32 lowercase hex digits."""
    kind = originator.__class__
    if kind is bytes:
        return originator.hex()
    if kind is UUID:
        return originator.hex
    return UUID(str(originator)).hex


# ---------------------------------------------------------------- typed values as transcoded


def day(value: dict[str, str]) -> date:
    return date.fromisoformat(value["_data_"])


def maybe_day(value: dict[str, str] | None) -> date | None:
    return None if value is None else date.fromisoformat(value["_data_"])


def moment(value: dict[str, str]) -> datetime:
    return datetime.fromisoformat(value["_data_"])


def sqlite_moment(iso: str) -> str:
    """An ISO timestamp as SQLAlchemy's SQLite DateTime stores it (fields as written, offset
    dropped, always six fraction digits), for rows written without its bind processing."""
    if len(iso) >= 26 and iso[10] == "T" and iso[19] == "." and iso[20:26].isdigit():
        return f"{iso[:10]} {iso[11:26]}"
    t = datetime.fromisoformat(iso)
    return f"{t.date().isoformat()} {t.strftime('%H:%M:%S.%f')}"


def amount(value: dict[str, str]) -> Decimal:
    return Decimal(value["_data_"])
