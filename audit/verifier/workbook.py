"""report.xlsx against the events: its event log
sheets show exactly the leaves of events.jsonl (by digest of what export writes, or cell by cell
for a workbook saved by another program)."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from audit.verifier import forms, layout
from audit.verifier.background import Background, BackgroundError
from audit.verifier.description import bundle_format
from audit.verifier.i18n import _
from audit.verifier.ooxml_text import as_shown, load_as_stored
from audit.verifier.report import CHUNK, EVENTS, WORKBOOK, Report
from audit.verifier.scan import EXPORTED, WITHHELD, Lines, untrusted_row
from audit.verifier.xlsx import (
    PackageError,
    SheetStream,
    check_package,
    dimension,
    rows_per_sheet,
    sheet_parts,
)

_sha256 = hashlib.sha256

CENT = Decimal("0.01")
_MAX_SHEET_DIFFS = 5
PARALLEL_BYTES = 64 << 20  # from this size of events.jsonl, the event log is checked in a second process


BASE_BUDGET = 16 << 20  # bytes a workbook part may inflate to, plus twice events.jsonl's size


def part_budget(directory: Path) -> int:
    events = directory / EVENTS
    return BASE_BUDGET + 2 * (events.stat().st_size if events.is_file() else 0)


@dataclass(frozen=True)
class PackageVerdict:
    """``check_package`` of the workbook: the sheets it left out (found as export writes them)
    and its refusal (None: none)."""

    left_out: frozenset[str]
    refusal: str | None


@dataclass(frozen=True)
class EventLogCheck:
    events_sha256: str
    sheets: list[str]  # the workbook's event-log sheets
    rows: int
    matches: bool  # the sheets are byte for byte what export writes for events.jsonl
    package: PackageVerdict | None = None  # the whole workbook's package check (None: not made)


class EventLogJob:
    """Runs ``check_event_log`` beside the main scan, in a second process for a large bundle (it
    reads the same file; the two together use both cores), else in this one after the scan."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._background: Background | None = None

    def __enter__(self) -> EventLogJob:
        events = self._directory / EVENTS
        if events.is_file() and events.stat().st_size >= PARALLEL_BYTES:
            self._background = Background(check_event_log, str(self._directory))
        return self

    def result(self, report: Report) -> EventLogCheck | None:
        if self._background is None:
            return check_event_log(str(self._directory))
        try:
            check: EventLogCheck | None = self._background.result()
        except BackgroundError as e:
            report.fail(
                _("{events} and {workbook}: the manifest and event-log check did not finish ({why})").format(
                    events=EVENTS, workbook=WORKBOOK, why=e.message
                )
            )
            return None
        return check

    def __exit__(self, *exc: object) -> None:
        if self._background is not None:
            self._background.__exit__(None, None, None)


# The fields of an exported record the event log shows; the record's canonical bytes begin with
# them (keys sorted) and end with its topic.
_RECORD_HEAD = re.compile(
    rb'"record":\{"originator_id":"([^"\\]*)","originator_version":(0|-?[1-9][0-9]{0,19}),'
    rb'"recorded_at":"((?:[^"\\]|\\.)*)","state":'
)
_TOPIC = b',"topic":"'


# A whole line's head as ``audit export`` writes it: EXPORTED and _RECORD_HEAD in one match (the
# string's pattern unrolled, which matches the same texts), for the common line; any other goes
# the two steps of ``_exported_row``.
_LOG_LINE = re.compile(
    EXPORTED.pattern + rb'"record":\{"originator_id":"([^"\\]*)","originator_version":(0|-?[1-9][0-9]{0,19}),'
    rb'"recorded_at":"([^"\\]*(?:\\.[^"\\]*)*)","state":'
)


def _log_row(raw: bytes) -> list[Any] | None:
    """``_exported_row``, quicker for a line with a record."""
    m = _LOG_LINE.match(raw)
    if m is None:
        return _exported_row(raw)
    index, event_id, stated, originator, version, recorded_at = m.groups()
    topic_at = raw.rfind(_TOPIC)
    if topic_at < m.end() or not raw.endswith(b'"}}'):
        return None
    topic = raw[topic_at + len(_TOPIC) : -3]
    try:
        if b"\\" in recorded_at or b"\\" in topic:
            recorded, shown_topic = _json_text(recorded_at), _json_text(topic)
        else:
            recorded, shown_topic = recorded_at.decode("utf-8"), topic.decode("utf-8")
        by = originator.decode("utf-8")
    except ValueError:  # not UTF-8, or a bad escape: not a line export wrote
        return None
    return [int(index), int(event_id), recorded, shown_topic, by, int(version), stated.decode("ascii"), "yes"]


def _json_text(raw: bytes) -> str:
    return json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode("utf-8")


def _exported_row(raw: bytes) -> list[Any] | None:
    """The event-log row of a line as ``audit export`` writes it, read off its bytes; None for any
    other line. Whether the record is genuine is the main scan's business: this only predicts the
    sheet, and a wrong prediction only sends the comparison down the slow path."""
    m = EXPORTED.match(raw)
    if m is None:
        return None
    index, event_id, stated = int(m.group(1)), int(m.group(2)), m.group(3).decode("ascii")
    if raw[m.end() :] == WITHHELD:
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


def check_event_log(directory_name: str) -> EventLogCheck | None:
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

    form = forms.event_log_form(bundle_format(directory))
    stream = SheetStream(
        layout.EVENT_LOG_SHEET, layout.EVENT_LOG_HEADERS, sink, form=form, errors="surrogatepass"
    )
    predictable = True
    split = Lines()
    with events.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            file_digest.update(chunk)
            lines = split.feed(chunk)
            for raw in lines if predictable else ():
                row = _log_row(raw)
                if row is None:
                    predictable = False
                    break
                stream.append(row)
    predictable = predictable and not split.rest
    stream.close()
    sheets, actual = _event_log_sheets(directory / WORKBOOK, stream.rows)
    matches = predictable and sheets == expected and actual == sheet_digest.digest()
    package = _package(directory, sheets, matches)
    return EventLogCheck(file_digest.hexdigest(), sheets, stream.rows, matches, package)


def _package(directory: Path, sheets: list[str], matches: bool) -> PackageVerdict | None:
    """The workbook's package check, made here so that a large bundle's is made in this second
    process while the scan goes on (audit/verifier/sheets.py takes it when it left out the sheets
    it would); None without a workbook."""
    path = directory / WORKBOOK
    if not path.is_file():
        return None
    left_out = frozenset(sheets) if matches else frozenset()
    try:
        check_package(path, part_budget(directory), left_out, is_spending_sheet)
    except PackageError as e:
        return PackageVerdict(left_out, e.message)
    return PackageVerdict(left_out, None)


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
            parts = [(name, member) for name, member in sheet_parts(book) if _is_event_log(name)]
            names = [name for name, _member in parts]
            sizes = rows_per_sheet(rows)
            if len(parts) != len(sizes):
                return names, None
            digest = _sha256()
            for (_name, member), in_sheet in zip(parts, sizes, strict=True):
                _digest_sheet(book, member, dimension(len(layout.EVENT_LOG_HEADERS), in_sheet), digest)
            return names, digest.digest()
    except _UNREADABLE_ZIP:  # the slow path then says what is wrong
        return [], None


def _is_event_log(name: str) -> bool:
    return (
        name == layout.EVENT_LOG_SHEET or re.fullmatch(rf"{layout.EVENT_LOG_SHEET} \(\d+\)", name) is not None
    )


def is_spending_sheet(name: str) -> bool:
    """A spending sheet or its continuation: the package check leaves its content for later
    (audit/verifier/sheets.py), when its rows by digest may show it as export writes it."""
    return (
        name == layout.SPENDING_SHEET or re.fullmatch(rf"{layout.SPENDING_SHEET} \(\d+\)", name) is not None
    )


def _digest_sheet(book: zipfile.ZipFile, member: str, expected_dimension: str, digest: Any) -> None:
    """Feeds the sheet's XML to ``digest`` without its ``<dimension>``, if that states the expected
    size (the verifier learns the size only at the end of its scan, so it encodes none)."""
    with book.open(member) as handle:
        first = handle.read(CHUNK)
        digest.update(first.replace(expected_dimension.encode("ascii"), b"", 1))
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)


def _expected_log_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    """The event-log rows of events.jsonl, parsed again line by line (the slow path)."""
    with path.open("rb") as handle:
        for raw in handle:
            try:
                line = json.loads(raw)
                index, event_id, stated = line["leaf_index"], line["event_id"], line["leaf_hash"]
            except (ValueError, KeyError, TypeError, RecursionError):
                continue
            record = line.get("record")
            yield _trimmed(
                untrusted_row(index, event_id, stated, record if isinstance(record, dict) else None)
            )


def _trimmed(row: Any) -> tuple[Any, ...]:
    """The row as a spreadsheet shows it (text with its _xHHHH_ runs decoded), without the
    empty cells at its end."""
    values = as_shown(row)
    while values and values[-1] is None:
        values.pop()
    return tuple(values)


def compare_event_log_values(directory: Path, names: list[str], report: Report) -> None:
    """The slow path: the event-log sheets read cell by cell against events.jsonl parsed again."""
    if not (directory / WORKBOOK).is_file():
        return
    if not names:
        report.fail(_("{file}: has no event log sheet").format(file=WORKBOOK))
        return

    def shown() -> Iterator[tuple[Any, ...]]:
        for name in names:
            rows = book[name].iter_rows(values_only=True)
            header = _trimmed(next(rows, ()))
            if list(header) != layout.EVENT_LOG_HEADERS:
                report.fail(
                    _("{file} {sheet}: the header is not {header}").format(
                        file=WORKBOOK, sheet=name, header=", ".join(layout.EVENT_LOG_HEADERS)
                    )
                )
            yield from (_trimmed(row) for row in rows)

    try:
        book = load_as_stored(directory / WORKBOOK, data_only=True)
    except Exception as e:  # any unreadable workbook is one failure, not a traceback
        report.fail(
            _("{file}: cannot read its event log sheets ({error})").format(
                file=WORKBOOK, error=type(e).__name__
            )
        )
        return
    differences = 0
    rows = 0
    try:
        expected = _expected_log_rows(directory / EVENTS) if (directory / EVENTS).is_file() else iter(())
        for n, (want, got) in enumerate(itertools.zip_longest(expected, shown()), 2):
            if want is None and got is not None and all(v in (None, "") for v in got):
                continue  # an empty row past the end shows nothing
            rows += 1
            if _same_row(want, got):
                continue
            differences += 1
            if differences <= _MAX_SHEET_DIFFS:
                report.fail(
                    _("{file} event log row {n}: shows {got} but events.jsonl has {want}").format(
                        file=WORKBOOK, n=n, got=_show(got), want=_show(want)
                    )
                )
    except Exception as e:  # a sheet damaged past its first rows: read lazily, fails here
        report.fail(
            _("{file}: cannot read its event log sheets past row {n} ({error})").format(
                file=WORKBOOK, n=rows + 1, error=type(e).__name__
            )
        )
        return
    finally:
        book.close()
    if differences > _MAX_SHEET_DIFFS:
        report.fail(
            _("{file} event log: {count} more rows differ from events.jsonl").format(
                file=WORKBOOK, count=differences - _MAX_SHEET_DIFFS
            )
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
    return _("no row") if row is None else "(" + ", ".join("" if v is None else str(v) for v in row) + ")"
