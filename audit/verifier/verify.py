"""``audit verify``: check a bundle with nothing but its files (and this package).

Checks, each failure naming the file, event or checkpoint:
1. MANIFEST: every file's sha256, and no file missing or unlisted;
2. events.jsonl: contiguous leaf indexes, each leaf recomputed from its record, per-aggregate
   versions in order;
3. checkpoints: signature by a key of the bundle (or the auditor's own ``--public-key``), one
   origin, each checkpoint's root equal to the root recomputed over its first ``size`` leaves
   (so each is consistent with the next), the latest one covering every event;
4. the trusted checkpoint (kept by the auditor from an earlier visit): signed, and an RFC 9162
   consistency proof from it to the latest checkpoint of the bundle verifies;
5. balances replayed from the records (audit/verifier/replay.py) equal the workbook's balances sheet;
6. the workbook's event log (every "event log" sheet) shows exactly the leaves of events.jsonl.

One pass over events.jsonl does 2, 3, 4 and the replay, in memory that does not grow with the
bundle: the file is read in chunks; a line written by ``audit export`` is checked by hashing its
record's bytes as they stand (they are the canonical bytes, so the leaf hash matches only if nothing
was changed); any other line is parsed and encoded canonically. Roots at checkpoint sizes and the
consistency proof's subtrees come from compact ranges, not from a list of every leaf. A second pass,
in a second process for a large bundle, hashes events.jsonl for the manifest and encodes the event
log export would write for it, to compare with the workbook's sheets by digest; only a workbook
saved by another program is read cell by cell.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from audit.verifier import layout
from audit.verifier.background import Background, BackgroundError
from audit.verifier.canonical import CanonicalError, record_leaf_hash
from audit.verifier.checkpoint import (
    Checkpoint,
    CheckpointError,
    Ed25519PublicKey,
    KeyFileError,
    load_public_key,
    parse_signed_checkpoint,
    verify_signed_checkpoint,
)
from audit.verifier.merkle import CompactRange, consistency_ranges, verify_consistency
from audit.verifier.replay import MEASURES, Replay, ReplayError
from audit.verifier.xlsx import SheetStream, dimension, rows_per_sheet

CENT = Decimal("0.01")
EVENTS = "events.jsonl"
WORKBOOK = "report.xlsx"
_CHUNK = 1 << 22
_BATCH = 4096  # leaf hashes added to the tree at a time
_MAX_SHEET_DIFFS = 5
# A line as `audit export` writes it (audit/verifier/layout.py): the record's canonical bytes come last.
_EXPORTED = re.compile(
    rb'\{"leaf_index":(0|[1-9][0-9]*),"event_id":(0|[1-9][0-9]*),"leaf_hash":"([0-9a-f]{64})",'
)
_RECORD = b'"record":'
_WITHHELD = b'"withheld":true}'
_sha256 = hashlib.sha256
_LEAF_PREFIX = _sha256(b"\x00")  # RFC 9162 leaf hashes: SHA-256(0x00 || data)
_decode = json.JSONDecoder().decode
PARALLEL_BYTES = 64 << 20  # from this size of events.jsonl, the event log is checked in a second process


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    events: int = 0
    withheld: int = 0
    checkpoints: int = 0
    grants: int = 0
    root: bytes = b""
    event_log_rows: int = 0

    def fail(self, message: str) -> None:
        self.failures.append(message)


def _file_sha256(path: Path) -> str:
    digest = _sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_manifest(directory: Path, report: Report) -> dict[str, str]:
    """Checks every listed file but events.jsonl (hashed during the scan); returns the listing."""
    manifest = directory / "MANIFEST"
    if not manifest.is_file():
        report.fail("MANIFEST: missing")
        return {}
    listed: dict[str, str] = {}
    text = _text(manifest, "MANIFEST", report)
    for n, line in enumerate((text or "").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            report.fail(f"MANIFEST line {n}: not '<sha256>  <file>'")
            continue
        listed[name] = digest
    present = {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != "MANIFEST"
    }
    for name in sorted(set(listed) - present):
        report.fail(f"MANIFEST: {name} is listed but missing from the bundle")
    for name in sorted(present - set(listed)):
        report.fail(f"MANIFEST: {name} is in the bundle but not listed")
    for name in sorted(set(listed) & present - {EVENTS}):
        _compare_digest(name, _file_sha256(directory / name), listed, report)
    return listed


def _text(path: Path, name: str, report: Report) -> str | None:
    """The file as UTF-8 text, or None with a failure reported."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        report.fail(f"{name}: not UTF-8 text (byte {e.start})")
        return None


def _compare_digest(name: str, digest: str, listed: dict[str, str], report: Report) -> None:
    if name in listed and digest != listed[name]:
        report.fail(f"MANIFEST: sha256 of {name} differs from the manifest (file changed)")


def _keys(directory: Path, trusted_key: Path | None, report: Report) -> list[Ed25519PublicKey]:
    if trusted_key is not None:
        return [load_public_key(trusted_key)]
    keys = []
    for path in sorted((directory / "keys").glob("*.pub")):
        try:
            keys.append(load_public_key(path))
        except KeyFileError as e:
            report.fail(f"keys/{path.name}: {e.message}")
    if not keys:
        report.fail("keys: the bundle holds no public key")
    return keys


def _verified(text: str, keys: list[Ed25519PublicKey]) -> tuple[Checkpoint | None, str]:
    """The checkpoint if one of ``keys`` signed it, else None and why."""
    why = "no public key to check it with"
    for key in keys:
        try:
            return verify_signed_checkpoint(text, key), ""
        except CheckpointError as e:
            why = e.message
    return None, why


def _checkpoints(
    directory: Path, keys: list[Ed25519PublicKey], report: Report
) -> list[tuple[str, Checkpoint]]:
    cps: list[tuple[str, Checkpoint]] = []
    for path in sorted((directory / "checkpoints").glob("*.txt")):
        name = f"checkpoints/{path.name}"
        text = _text(path, name, report)
        if text is None:
            continue
        cp, why = _verified(text, keys)
        if cp is None:
            report.fail(f"{name}: signature check failed: {why}")
            try:
                cp = parse_signed_checkpoint(text).checkpoint
            except CheckpointError:
                continue
        cps.append((name, cp))
    report.checkpoints = len(cps)
    if not cps:
        report.fail("checkpoints: the bundle holds no signed checkpoint")
    origins = {cp.origin for _, cp in cps}
    if len(origins) > 1:
        report.fail(f"checkpoints: more than one log origin ({', '.join(sorted(origins))})")
    for (a_name, a), (b_name, b) in itertools.pairwise(cps):
        if b.size < a.size:
            report.fail(f"{b_name}: tree size {b.size} is smaller than {a_name}'s {a.size} (log shrank)")
    return cps


def _trusted(
    trusted: Path, keys: list[Ed25519PublicKey], cps: list[tuple[str, Checkpoint]], report: Report
) -> Checkpoint | None:
    text = _text(trusted, f"trusted checkpoint {trusted.name}", report)
    if text is None:
        return None
    trusted_cp, why = _verified(text, keys)
    if trusted_cp is None:
        report.fail(f"trusted checkpoint {trusted.name}: signature check failed: {why}")
        try:
            trusted_cp = parse_signed_checkpoint(text).checkpoint
        except CheckpointError as e:
            report.fail(f"trusted checkpoint {trusted.name}: {e.message}")
    if trusted_cp is not None and cps and trusted_cp.origin != cps[-1][1].origin:
        report.fail(f"trusted checkpoint {trusted.name}: origin {trusted_cp.origin!r} is another log's")
    return trusted_cp


class _Tree:
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
        start = self.frontier.size
        self.frontier = self.frontier.extend(self._pending)
        end = self.frontier.size
        for lo, hi in self._ranges:
            if lo < end and start < hi:
                part = self._pending[max(lo, start) - start : min(hi, end) - start]
                self._subtrees[lo, hi] = self._subtrees.get((lo, hi), CompactRange()).extend(part)
        self._pending.clear()
        if end in self._sizes:
            self.roots_at[end] = self.frontier.root()

    def finish(self) -> None:
        self._flush()
        self._flush_at = self._next_flush()

    def proof(self) -> list[bytes] | None:
        """The consistency proof over ``ranges``, or None if the leaves did not cover them."""
        subtrees = [self._subtrees.get(r) for r in self._ranges]
        if any(t is None or t.size != hi - lo for t, (lo, hi) in zip(subtrees, self._ranges, strict=True)):
            return None
        return [t.root() for t in subtrees if t is not None]


@dataclass(frozen=True)
class _EventLogCheck:
    events_sha256: str
    sheets: list[str]  # the workbook's event-log sheets
    rows: int
    matches: bool  # the sheets are byte for byte what export writes for events.jsonl


class _EventLogJob:
    """Runs ``_check_event_log`` beside the main scan, in a second process for a large bundle (it
    reads the same file; the two together use both cores), else in this one after the scan."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._background: Background | None = None

    def __enter__(self) -> _EventLogJob:
        events = self._directory / EVENTS
        if events.is_file() and events.stat().st_size >= PARALLEL_BYTES:
            self._background = Background(_check_event_log, str(self._directory))
        return self

    def result(self, report: Report) -> _EventLogCheck | None:
        if self._background is None:
            return _check_event_log(str(self._directory))
        try:
            check: _EventLogCheck | None = self._background.result()
        except BackgroundError as e:
            report.fail(
                f"{EVENTS} and {WORKBOOK}: the manifest and event-log check did not finish ({e.message})"
            )
            return None
        return check

    def __exit__(self, *exc: object) -> None:
        if self._background is not None:
            self._background.__exit__(None, None, None)


# The fields of an exported record the event log shows; the record's canonical bytes begin with
# them (keys sorted) and end with its topic.
_RECORD_HEAD = re.compile(
    rb'"record":\{"originator_id":"([^"\\]*)","originator_version":(0|-?[1-9][0-9]*),'
    rb'"recorded_at":"((?:[^"\\]|\\.)*)","state":'
)
_TOPIC = b',"topic":"'


def _json_text(raw: bytes) -> str:
    return json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode("utf-8")


def _exported_row(raw: bytes) -> list[Any] | None:
    """The event-log row of a line as ``audit export`` writes it, read off its bytes; None for any
    other line. Whether the record is genuine is the main scan's business: this only predicts the
    sheet, and a wrong prediction only sends the comparison down the slow path."""
    m = _EXPORTED.match(raw)
    if m is None:
        return None
    index, event_id, stated = int(m.group(1)), int(m.group(2)), m.group(3).decode("ascii")
    if raw[m.end() :] == _WITHHELD:
        return layout.event_log_row(index, event_id, stated, None)
    head = _RECORD_HEAD.match(raw, m.end())
    topic_at = raw.rfind(_TOPIC)
    if head is None or topic_at < head.end() or not raw.endswith(b'"}}'):
        return None
    try:
        recorded_at = _json_text(head.group(3))
        topic = _json_text(raw[topic_at + len(_TOPIC) : -3])
        originator = head.group(1).decode("utf-8")
    except ValueError:  # not UTF-8, or a bad escape: not a line export wrote
        return None
    return [index, event_id, recorded_at, topic, originator, int(head.group(2)), stated, "yes"]


def _check_event_log(directory_name: str) -> _EventLogCheck | None:
    """events.jsonl's sha256, and whether the workbook's event log is exactly what export writes
    for it (compared by digest, without parsing the sheets); None without events.jsonl."""
    directory = Path(directory_name)
    events = directory / EVENTS
    if not events.is_file():
        return None
    file_digest = _sha256()
    sheet_digest = _sha256()
    expected: list[str] = []

    def sink(name: str, data: bytes) -> None:
        if not expected or expected[-1] != name:
            expected.append(name)
        sheet_digest.update(data)

    stream = SheetStream(layout.EVENT_LOG_SHEET, layout.EVENT_LOG_HEADERS, sink)
    predictable = True
    carry = b""
    with events.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            file_digest.update(chunk)
            lines = (carry + chunk).split(b"\n")
            carry = lines.pop()
            for raw in lines if predictable else ():
                row = _exported_row(raw)
                if row is None:
                    predictable = False
                    break
                stream.append(row)
    predictable = predictable and not carry
    stream.close()
    sheets, actual = _event_log_sheets(directory / WORKBOOK, stream.rows)
    matches = predictable and sheets == expected and actual == sheet_digest.digest()
    return _EventLogCheck(file_digest.hexdigest(), sheets, stream.rows, matches)


# what reading a damaged zip may raise: bad structure, bad deflate data, a bad CRC (BadZipFile),
# a missing member, bad XML, an unknown compression method or an encrypted member
_UNREADABLE_ZIP = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    ElementTree.ParseError,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


def _event_log_sheets(path: Path, rows: int) -> tuple[list[str], bytes | None]:
    """The workbook's event-log sheet names, and the digest of their XML if the workbook holds
    ``rows`` of them as export writes them (their ``<dimension>`` left out)."""
    try:
        with zipfile.ZipFile(path) as book:
            parts = [(name, member) for name, member in _sheet_parts(book) if _is_event_log(name)]
            names = [name for name, _ in parts]
            sizes = rows_per_sheet(rows)
            if len(parts) != len(sizes):
                return names, None
            digest = _sha256()
            for (_, member), in_sheet in zip(parts, sizes, strict=True):
                _digest_sheet(book, member, dimension(len(layout.EVENT_LOG_HEADERS), in_sheet), digest)
            return names, digest.digest()
    except _UNREADABLE_ZIP:  # the slow path then says what is wrong
        return [], None


def _cell(value: Any) -> Any:
    """A value from an untrusted record as the sheet shows it: ints and strings as they are."""
    if value is None or type(value) is int or type(value) is str:
        return value
    return json.dumps(value, ensure_ascii=False)


_Line = tuple[Any, Any, dict[str, Any] | None, bytes]  # leaf index, event id, record, leaf hash


def _where(event_id: Any, index: Any) -> str:
    return f"event {event_id} (leaf {index})"


class _Scan:
    """Checks events.jsonl line by line: positions, leaves, versions, replay."""

    def __init__(self, report: Report, tree: _Tree) -> None:
        self.report = report
        self.tree = tree
        self.replay = Replay()
        self.versions: dict[str, int] = {}
        self.position = 0

    def line(self, raw: bytes) -> None:
        n = self.position
        self.position += 1
        parsed = _exported_line(raw) or self._any_line(raw, n)
        if parsed is None:
            return
        index, event_id, record, leaf = parsed
        if index != n:
            where = _where(event_id, index)
            self.report.fail(f"{where}: found at position {n}: an event was deleted, inserted or reordered")
        if record is None:
            self.report.withheld += 1
        else:
            self._replay(event_id, index, record)
        self.tree.add(leaf)

    def _replay(self, event_id: Any, index: Any, record: dict[str, Any]) -> None:
        originator = str(record.get("originator_id"))
        version = record.get("originator_version")
        before = self.versions.get(originator, 0)
        if type(version) is not int or version <= before:
            self.report.fail(
                f"{_where(event_id, index)}: version {version} of {originator} comes after version {before} "
                "(reordered or replayed)"
            )
        else:
            self.versions[originator] = version
        try:
            self.replay.feed(record)
        except ReplayError as e:
            self.report.fail(f"{_where(event_id, index)}: replay: {e.message}")

    def _any_line(self, raw: bytes, n: int) -> _Line | None:
        """A line in any JSON layout: parsed, and its record encoded canonically."""
        report = self.report
        try:
            line = json.loads(raw)
            index, event_id, stated = line["leaf_index"], line["event_id"], line["leaf_hash"]
            stated_hash = bytes.fromhex(stated)
        except (ValueError, KeyError, TypeError):
            report.fail(
                f"events.jsonl line {n + 1}: not a JSON event line with leaf_index, event_id, leaf_hash"
            )
            return None
        where = f"event {event_id} (leaf {index})"
        record = line.get("record")
        leaf = stated_hash
        if record is None:
            if not line.get("withheld"):
                report.fail(f"{where}: neither a record nor marked withheld")
        else:
            try:
                leaf = record_leaf_hash(record)
            except (CanonicalError, TypeError, ValueError, AttributeError) as e:
                report.fail(f"{where}: record cannot be encoded ({e})")
            if leaf != stated_hash:
                report.fail(f"{where}: recomputed leaf hash differs from the exported one (edited)")
            if not isinstance(record, dict):
                record = {"state": None}
        return index, event_id, record, leaf


def _exported_line(raw: bytes) -> _Line | None:
    """A line exactly as ``audit export`` writes it whose record hashes to its stated leaf; else None
    (the caller then takes the general path, which reports what is wrong)."""
    m = _EXPORTED.match(raw)
    if m is None:
        return None
    end = m.end()
    stated = m.group(3).decode("ascii")
    if not raw.startswith(_RECORD, end) or not raw.endswith(b"}"):
        if raw[end:] == _WITHHELD:
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
        record = _decode(data.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError alike
        return None
    if record.__class__ is not dict:
        return None
    return int(m.group(1)), int(m.group(2)), record, leaf


def _untrusted_row(index: Any, event_id: Any, stated: Any, record: dict[str, Any] | None) -> list[Any]:
    if record is not None:
        record = {key: _cell(record.get(key)) for key in layout.RECORD_COLUMNS}
    return [_cell(v) for v in layout.event_log_row(_cell(index), _cell(event_id), _cell(stated), record)]


def _lines(path: Path, progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The lines of ``path`` without their newline, read in large chunks."""
    carry = b""
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            lines = (carry + chunk).split(b"\n")
            carry = lines.pop()
            yield from lines
            if progress is not None:
                progress(len(chunk))
    if carry.strip():
        yield carry


def verify_bundle(
    directory: Path,
    trusted: Path | None = None,
    public_key: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    report = Report()
    listed = _check_manifest(directory, report)
    keys = _keys(directory, public_key, report)
    # Checkpoints first, so the leaf scan can note the root at each checkpoint's size.
    cps = _checkpoints(directory, keys, report)
    trusted_cp = _trusted(trusted, keys, cps, report) if trusted is not None else None
    latest = cps[-1][1] if cps else None

    ranges: list[tuple[int, int]] = []
    if trusted_cp is not None and latest is not None and 0 <= trusted_cp.size <= latest.size:
        ranges = consistency_ranges(trusted_cp.size, latest.size)
    tree = _Tree({cp.size for _, cp in cps}, ranges)
    scan = _Scan(report, tree)
    events_path = directory / EVENTS
    with _EventLogJob(directory) as job:
        if not events_path.is_file():
            report.fail(f"{EVENTS}: missing")
        else:
            for raw in _lines(events_path, progress):
                scan.line(raw)
        tree.finish()
        log = job.result(report)
    if log is not None:
        _compare_digest(EVENTS, log.events_sha256, listed, report)
    size = tree.frontier.size
    report.events = size
    report.root = tree.frontier.root()

    for name, cp in cps:
        if cp.size > size:
            report.fail(
                f"{name}: signed for {cp.size} events but the bundle has {size} (events cut off or deleted)"
            )
        elif tree.roots_at.get(cp.size) != cp.root:
            report.fail(f"{name}: root of the first {cp.size} events differs from the signed root")
    if latest is not None and latest.size < size:
        report.fail(
            f"{EVENTS}: {size - latest.size} events after the latest checkpoint are covered by no signature"
        )
    if trusted_cp is not None and trusted is not None:
        _check_trusted(trusted.name, trusted_cp, latest, tree, report)

    _compare_balances(directory, scan.replay, report)
    if log is not None and log.matches:
        report.event_log_rows = log.rows
    elif log is not None:
        _compare_event_log_values(directory, log.sheets, report)
    return report


def _check_trusted(
    name: str, trusted_cp: Checkpoint, latest: Checkpoint | None, tree: _Tree, report: Report
) -> None:
    size = tree.frontier.size
    if trusted_cp.size > size:
        report.fail(
            f"trusted checkpoint {name}: it covers {trusted_cp.size} events, the bundle only "
            f"{size} (history cut off or rewritten)"
        )
    elif latest is not None and latest.size == size:
        proof = tree.proof()
        if proof is None or not verify_consistency(
            trusted_cp.size, latest.size, trusted_cp.root, latest.root, proof
        ):
            report.fail(
                f"trusted checkpoint {name}: the bundle's log of {latest.size} events is not "
                f"an extension of the trusted {trusted_cp.size} events (history rewritten)"
            )


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)).quantize(CENT)
    except InvalidOperation:
        return None


def _compare_balances(directory: Path, replay: Replay, report: Report) -> None:
    path = directory / "report.xlsx"
    if not path.is_file():
        report.fail("report.xlsx: missing")
        return
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
        sheet = book["balances"]
        rows = list(sheet.iter_rows(values_only=True))
        book.close()
    except Exception as e:  # any unreadable workbook is one failure, not a traceback
        report.fail(f"report.xlsx: cannot read its balances sheet ({type(e).__name__})")
        return
    if not rows:
        report.fail("report.xlsx balances: empty sheet")
        return
    header = [str(h) for h in rows[0]]
    needed = ["grant_id", *MEASURES]
    if any(h not in header for h in needed):
        report.fail(f"report.xlsx balances: header lacks {', '.join(h for h in needed if h not in header)}")
        return
    col = {h: header.index(h) for h in header}
    replayed = replay.by_grant()
    report.grants = len(replayed)
    seen: set[str] = set()
    for n, row in enumerate(rows[1:], 2):
        grant_id = str(row[col["grant_id"]])
        seen.add(grant_id)
        totals = replayed.get(grant_id)
        if totals is None:
            report.fail(f"report.xlsx balances row {n}: grant {grant_id} has no application in events.jsonl")
            continue
        measures = {m: totals.amounts[m].quantize(CENT) for m in MEASURES}
        measures["subsidy_available"] = (
            measures["subsidy_received"]
            - measures["subsidy_spent"]
            - measures["subsidy_recovered"]
            - measures["subsidy_disposed"]
        )
        measures["matching_available"] = (
            measures["matching_received"] - measures["matching_spent"] - measures["matching_disposed"]
        )
        for measure, expected in measures.items():
            if measure not in col:
                continue
            shown = _decimal(row[col[measure]])
            if shown != expected:
                report.fail(
                    f"report.xlsx balances row {n}: grant {grant_id} {measure} is {shown} in the workbook "
                    f"but {expected} by replaying the events"
                )
    for grant_id in sorted(set(replayed) - seen):
        report.fail(f"report.xlsx balances: grant {grant_id} is in the events but not in the workbook")


def _sheet_parts(book: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, zip member) of every worksheet, in the workbook's order."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): str(r.get("Target")) for r in rels}
    parts = []
    for sheet in workbook.iterfind("m:sheets/m:sheet", ns):
        target = targets.get(sheet.get(rel_ns), "")
        member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        parts.append((str(sheet.get("name")), member))
    return parts


def _is_event_log(name: str) -> bool:
    return (
        name == layout.EVENT_LOG_SHEET or re.fullmatch(rf"{layout.EVENT_LOG_SHEET} \(\d+\)", name) is not None
    )


def _digest_sheet(book: zipfile.ZipFile, member: str, expected_dimension: str, digest: Any) -> None:
    """Feeds the sheet's XML to ``digest`` without its ``<dimension>``, if that states the expected
    size (the verifier learns the size only at the end of its scan, so it encodes none)."""
    with book.open(member) as handle:
        first = handle.read(_CHUNK)
        digest.update(first.replace(expected_dimension.encode("ascii"), b"", 1))
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)


def _expected_log_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    """The event-log rows of events.jsonl, parsed again line by line (the slow path)."""
    with path.open("rb") as handle:
        for raw in handle:
            try:
                line = json.loads(raw)
                index, event_id, stated = line["leaf_index"], line["event_id"], line["leaf_hash"]
            except (ValueError, KeyError, TypeError):
                continue
            record = line.get("record")
            yield _trimmed(
                _untrusted_row(index, event_id, stated, record if isinstance(record, dict) else None)
            )


def _trimmed(row: Any) -> tuple[Any, ...]:
    values = list(row)
    while values and values[-1] is None:
        values.pop()
    return tuple(values)


def _compare_event_log_values(directory: Path, names: list[str], report: Report) -> None:
    """The slow path: the event-log sheets read cell by cell against events.jsonl parsed again."""
    if not (directory / WORKBOOK).is_file():
        return
    if not names:
        report.fail(f"{WORKBOOK}: has no event log sheet")
        return
    from openpyxl import load_workbook

    def shown() -> Iterator[tuple[Any, ...]]:
        for name in names:
            rows = book[name].iter_rows(values_only=True)
            header = _trimmed(next(rows, ()))
            if list(header) != layout.EVENT_LOG_HEADERS:
                report.fail(f"{WORKBOOK} {name}: the header is not {', '.join(layout.EVENT_LOG_HEADERS)}")
            yield from (_trimmed(row) for row in rows)

    try:
        book = load_workbook(directory / WORKBOOK, read_only=True, data_only=True)
    except Exception as e:  # any unreadable workbook is one failure, not a traceback
        report.fail(f"{WORKBOOK}: cannot read its event log sheets ({type(e).__name__})")
        return
    differences = 0
    rows = 0
    try:
        expected = _expected_log_rows(directory / EVENTS) if (directory / EVENTS).is_file() else iter(())
        for n, (want, got) in enumerate(itertools.zip_longest(expected, shown()), 2):
            rows += 1
            if _same_row(want, got):
                continue
            differences += 1
            if differences <= _MAX_SHEET_DIFFS:
                report.fail(
                    f"{WORKBOOK} event log row {n}: shows {_show(got)} but events.jsonl has {_show(want)}"
                )
    except Exception as e:  # a sheet damaged past its first rows: read lazily, fails here
        report.fail(f"{WORKBOOK}: cannot read its event log sheets past row {rows + 1} ({type(e).__name__})")
        return
    finally:
        book.close()
    if differences > _MAX_SHEET_DIFFS:
        report.fail(
            f"{WORKBOOK} event log: {differences - _MAX_SHEET_DIFFS} more rows differ from events.jsonl"
        )
    if not differences:
        report.event_log_rows = rows


_WITHHELD_SHOWN = (0, 1, 6, 7)  # leaf_index, event_id, leaf_hash, included: what events.jsonl states


def _same_row(want: tuple[Any, ...] | None, got: tuple[Any, ...] | None) -> bool:
    """Equal rows; for a withheld event only what events.jsonl states is compared (bundles of
    earlier versions showed its time, topic and originator too, which nothing here can check)."""
    if want is None or got is None or want == got:
        return want == got
    if len(want) > 7 and want[7] == "withheld" and len(got) > 7:
        return all(want[i] == got[i] for i in _WITHHELD_SHOWN)
    return False


def _show(row: tuple[Any, ...] | None) -> str:
    return "no row" if row is None else "(" + ", ".join("" if v is None else str(v) for v in row) + ")"
