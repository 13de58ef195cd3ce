"""The one pass over events.jsonl: positions, leaves recomputed, per-aggregate versions, the
replay, and the Merkle tree's roots at the checkpoints' sizes (``Tree``), in memory that does not
grow with the bundle."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

from audit.verifier import layout
from audit.verifier.canonical import CanonicalError, record_leaf_hash
from audit.verifier.errors import AuditError
from audit.verifier.i18n import _
from audit.verifier.merkle import CompactRange
from audit.verifier.replay import Replay, ReplayError
from audit.verifier.report import CHUNK, Report
from audit.verifier.signatures import Signatures
from audit.verifier.who import Activity, is_registry, registry_row

_sha256 = hashlib.sha256
_BATCH = 4096  # leaf hashes added to the tree at a time


# A line as `audit export` writes it (audit/verifier/layout.py): the record's canonical bytes come last.
EXPORTED = re.compile(
    rb'\{"leaf_index":(0|[1-9][0-9]{0,19}),"event_id":(0|[1-9][0-9]{0,19}),"leaf_hash":"([0-9a-f]{64})",'
)
_RECORD = b'"record":'
WITHHELD = b'"withheld":true}'  # a line whose record is left out (--grant, --as-of)
_LEAF_PREFIX = _sha256(b"\x00")  # RFC 9162 leaf hashes: SHA-256(0x00 || data)
_decode = json.JSONDecoder().decode
# the decoder's own scanner (C; an attribute typeshed leaves out): what ``_decode`` runs for a text
# without whitespace around it, without the two searches for that whitespace
_scan_once: Callable[[str, int], tuple[Any, int]] = cast(Any, json.JSONDecoder()).scan_once


class Tree:
    """The Merkle tree over the streamed leaves: its root at chosen sizes, and the roots of the
    ranges a consistency proof needs, without keeping the leaves."""

    def __init__(self, sizes: set[int], ranges: list[tuple[int, int]]) -> None:
        self.frontier = CompactRange()
        self.roots_at: dict[int, bytes] = {0: self.frontier.root()}
        self._stops = sorted(s for s in sizes | {lo for lo, _ in ranges} | {hi for _, hi in ranges} if s > 0)
        self._sizes = sizes
        self._ranges = ranges
        self._subtrees: dict[tuple[int, int], CompactRange] = {}
        self._pending: list[bytes] = []
        self._size = 0
        self._flush_at = self._next_flush()
        self._window: tuple[CompactRange, list[bytes]] = (self.frontier, [])

    def _next_flush(self) -> int:
        """The size at which the pending leaves go into the tree: a batch, or the next stop."""
        stop = next((s for s in self._stops if s > self._size), None)
        batch = self._size - len(self._pending) + _BATCH
        return batch if stop is None else min(stop, batch)

    def add(self, leaf: bytes) -> None:
        self._pending.append(leaf)
        self._size += 1
        if self._size == self._flush_at:
            self._flush()
            self._flush_at = self._next_flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        before = self.frontier
        start = before.size
        self.frontier = before.extend(self._pending)
        end = self.frontier.size
        for lo, hi in self._ranges:
            if lo < end and start < hi:
                part = self._pending[max(lo, start) - start : min(hi, end) - start]
                self._subtrees[lo, hi] = self._subtrees.get((lo, hi), CompactRange()).extend(part)
        self._window = (before, self._pending[:])
        self._pending.clear()
        if end in self._sizes:
            self.roots_at[end] = self.frontier.root()

    def root_at(self, size: int) -> bytes | None:
        """The root of the first ``size`` leaves, for a size within the last batch or two (None
        further back): what an adoption, stored just after the events it adopts, signs."""
        if size in self.roots_at:
            return self.roots_at[size]
        for base, part in ((self.frontier, self._pending), self._window):
            if base.size <= size <= base.size + len(part):
                return base.extend(part[: size - base.size]).root()
        return None

    def finish(self) -> None:
        self._flush()
        self._flush_at = self._next_flush()

    def proof(self) -> list[bytes] | None:
        """The consistency proof over ``ranges``, or None if the leaves did not cover them."""
        subtrees = [self._subtrees.get(r) for r in self._ranges]
        if any(t is None or t.size != hi - lo for t, (lo, hi) in zip(subtrees, self._ranges, strict=True)):
            return None
        return [t.root() for t in subtrees if t is not None]


def cell(value: Any) -> Any:
    """A value from an untrusted record as the sheet shows it: ints and strings as they are."""
    if value is None or type(value) is int or type(value) is str:
        return value
    return json.dumps(value, ensure_ascii=False)


_Line = tuple[Any, Any, dict[str, Any] | None, bytes]  # leaf index, event id, record, leaf hash


def _where(event_id: Any, index: Any) -> str:
    return _("event {event_id} (leaf {index})").format(event_id=event_id, index=index)


class Scan:
    """Checks events.jsonl line by line: positions, leaves, versions, replay.

    Each aggregate of the bundle is there whole: its versions 1, 2, 3... with none missing (an
    export withholds only aggregates it leaves out altogether). ``as_of``: a bundle cut at a
    business date replays only the events dated up to it; later ones are shown, not replayed."""

    def __init__(
        self,
        report: Report,
        tree: Tree,
        as_of: str | None = None,
        root: str | None = None,
        checkpoint_sizes: frozenset[int] = frozenset(),
    ) -> None:
        self.report = report
        self.tree = tree
        self.replay = Replay()
        self.signatures = Signatures(report, root, tree.root_at)
        self.activity = Activity()
        self.registry_rows: list[list[Any]] = []
        self.included = 0
        self._noted = checkpoint_sizes
        if 0 in checkpoint_sizes:
            self.signatures.at(0)
        self.versions: dict[str, int] = {}
        self.position = 0
        self.as_of = as_of
        self.after_as_of = 0

    def line(self, raw: bytes) -> None:
        n = self.position
        self.position += 1
        parsed = _exported_line(raw) or self._any_line(raw, n)
        if parsed is None:
            return
        index, event_id, record, leaf = parsed
        if type(index) is not int or index != n:
            where = _where(event_id, index)
            self.report.fail(
                _("{where}: found at position {n}: an event was deleted, inserted or reordered").format(
                    where=where, n=n
                )
            )
        if record is None:
            self.report.withheld += 1
        else:
            self.included += 1
            self.signatures.event(n, event_id, record, leaf)
            if is_registry(record):
                self.registry_rows.append(registry_row(n, record))
            # the position where the line claims another (a failure reported above): the replay
            # keys acts by leaf, and a forged claim may be any number
            self._replay(event_id, index if type(index) is int and index == n else n, record)
        self.tree.add(leaf)
        if self.position in self._noted:
            self.signatures.at(self.position)

    def _replay(self, event_id: Any, index: Any, record: dict[str, Any]) -> None:
        originator = str(record.get("originator_id"))
        version = record.get("originator_version")
        before = self.versions.get(originator, 0)
        if type(version) is not int or version <= before:
            self.report.fail(
                _(
                    "{where}: version {version} of {originator} comes after version {before} (reordered or "
                    "replayed)"
                ).format(where=_where(event_id, index), version=version, originator=originator, before=before)
            )
        else:
            if version > before + 1:
                missing = f"{before + 1}" if version == before + 2 else f"{before + 1}..{version - 1}"
                self.report.fail(
                    _(
                        "{where}: {aggregate} version {version} follows version {before}: version {missing} "
                        "is missing (withheld or deleted)"
                    ).format(
                        where=_where(event_id, index),
                        aggregate=self.aggregate(originator),
                        version=version,
                        before=before,
                        missing=missing,
                    )
                )
            self.versions[originator] = version
        if self.as_of is not None and _occurred_on(record) > self.as_of:
            self.after_as_of += 1
            self.replay.recorded(record)
            return
        self.activity.feed(record)
        try:
            self.replay.feed(record, index, event_id)
        except ReplayError as e:
            self.report.fail(_("{where}: replay: {why}").format(where=_where(event_id, index), why=e.message))
        if self.replay.late:
            self._late()

    def _late(self) -> None:
        """The breaches of a write that has ended which held once all of it was in."""
        for event_id, index, why in self.replay.late:
            self.report.fail(_("{where}: replay: {why}").format(where=_where(event_id, index), why=why))
        self.replay.late.clear()

    def finish(self) -> None:
        """The replay's judgements that wait for the last event (each reversal against its act)."""
        self.replay.settle()
        self._late()
        for index, why in self.replay.finish():
            self.report.fail(_("leaf {index}: replay: {why}").format(index=index, why=why))

    def aggregate(self, originator: str) -> str:
        totals = self.replay.grants.get(originator)
        if totals is not None:
            return _("grant {grant} ({originator})").format(grant=totals.grant_id, originator=originator)
        return _("aggregate {originator}").format(originator=originator)

    def _any_line(self, raw: bytes, n: int) -> _Line | None:
        """A line in any JSON layout: parsed, and its record encoded canonically. A key given twice
        in one object fails: readers differ on which of its values they take (Python's json the
        last, the workbook's event log the first ``record``)."""
        report = self.report
        try:
            line = json.loads(raw, object_pairs_hook=_once)
            index, event_id, stated = line["leaf_index"], line["event_id"], line["leaf_hash"]
            stated_hash = bytes.fromhex(stated)
        except DuplicateKey as e:
            report.fail(
                _(
                    "events.jsonl line {line}: duplicate key {key!r} in one object; readers differ on which "
                    "of its values they take"
                ).format(line=n + 1, key=e.key)
            )
            return None
        except (ValueError, KeyError, TypeError, RecursionError):
            report.fail(
                _(
                    "events.jsonl line {line}: not a JSON event line with leaf_index, event_id, leaf_hash"
                ).format(line=n + 1)
            )
            return None
        where = _where(event_id, index)
        record = line.get("record")
        leaf = stated_hash
        if record is None:
            if not line.get("withheld"):
                report.fail(_("{where}: neither a record nor marked withheld").format(where=where))
        else:
            try:
                leaf = record_leaf_hash(record)
            except RecursionError:
                report.fail(
                    _("{where}: record cannot be encoded ({error})").format(
                        where=where, error="RecursionError"
                    )
                )
            except (CanonicalError, TypeError, ValueError, AttributeError) as e:
                report.fail(_("{where}: record cannot be encoded ({error})").format(where=where, error=e))
            if leaf != stated_hash:
                report.fail(
                    _("{where}: recomputed leaf hash differs from the exported one (edited)").format(
                        where=where
                    )
                )
            if not isinstance(record, dict):
                record = {"state": None}
        return index, event_id, record, leaf


class DuplicateKey(AuditError, ValueError):
    """A key given twice in one JSON object of events.jsonl (a ValueError, as json's own)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are each given once (``json.loads``'s ``object_pairs_hook``)."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return value


def _occurred_on(record: dict[str, Any]) -> str:
    """The record's business date as ISO text ("" without one)."""
    state = record.get("state")
    value = state.get("occurred_on") if isinstance(state, dict) else None
    value = value.get("_data_") if isinstance(value, dict) else value
    return value if isinstance(value, str) else ""


def _exported_line(raw: bytes) -> _Line | None:
    """A line exactly as ``audit export`` writes it whose record hashes to its stated leaf; else None
    (the caller then takes the general path, which reports what is wrong)."""
    m = EXPORTED.match(raw)
    if m is None:
        return None
    end = m.end()
    stated = m.group(3).decode("ascii")
    if not raw.startswith(_RECORD, end) or not raw.endswith(b"}"):
        if raw[end:] == WITHHELD:
            return int(m.group(1)), int(m.group(2)), None, bytes.fromhex(stated)
        return None
    data = raw[end + len(_RECORD) : -1]
    digest = _LEAF_PREFIX.copy()
    digest.update(data)
    leaf = digest.digest()
    if leaf.hex() != stated:
        return None
    # Bytes that hash to the stated leaf are what export wrote, unless the line was forged with
    # its hash: then they may be anything, and the general path says what is wrong.
    try:
        text = data.decode("utf-8")
        try:
            record, end = _scan_once(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):  # whitespace around the value, or none there: as ``_decode`` takes it
            record = _decode(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError alike; too deep
        return None
    if record.__class__ is not dict:
        return None
    return int(m.group(1)), int(m.group(2)), record, leaf


def untrusted_row(index: Any, event_id: Any, stated: Any, record: dict[str, Any] | None) -> list[Any]:
    if record is not None:
        record = {key: cell(record.get(key)) for key in layout.RECORD_COLUMNS}
    return [cell(v) for v in layout.event_log_row(cell(index), cell(event_id), cell(stated), record)]


class Lines:
    """A file's lines from its chunks as they are read (``feed``), without their newlines; a line
    longer than a chunk is gathered in parts and joined once (joined chunk by chunk, a line of
    512 MB took two minutes). ``rest``: what follows the last newline."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []  # the line not yet ended, in the chunks read so far

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines ``chunk`` ends."""
        if b"\n" not in chunk:
            self._parts.append(chunk)
            return []
        lines = chunk.split(b"\n")
        if self._parts:
            self._parts.append(lines[0])
            lines[0] = b"".join(self._parts)
        self._parts = [lines.pop()]
        return lines

    @property
    def rest(self) -> bytes:
        return b"".join(self._parts)


def lines(path: Path, progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The lines of ``path`` without their newline, read in large chunks (a last line of blanks
    aside)."""
    split = Lines()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            if progress is not None:
                progress(len(chunk))
            yield from split.feed(chunk)
    carry = split.rest
    if carry.strip():
        yield carry
