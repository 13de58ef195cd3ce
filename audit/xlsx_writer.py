"""report.xlsx written: the export's side of audit/verifier/xlsx.py, which encodes the sheets.

Each sheet's XML (``SheetStream``, exactly as the verifier encodes what it expects) is deflated as
it is encoded, by a thread of its own (ISA-L's deflate, which lets go of the interpreter), into a
file; the zip is put together when the workbook closes, each sheet's deflated bytes copied into it
as they are. So no sheet is held whole, in memory or on disk, and a sheet may be written apart:

- ``SpooledSheet``: a sheet whose rows come while another is written, and whose head (the rows it
  holds, its title) is known only at its end: its rows are deflated as they come, its head and
  tail deflated on their own later, and the three put in as one deflate stream.
- ``DeflatedSheet`` and ``Workbook.reserve``: a sheet written by another process than its
  workbook's, which ``Workbook.fill`` puts in its place.

"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import weakref
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from isal import isal_zlib

from audit.verifier.xlsx import (
    LEGACY,
    ROOT_RELS,
    STYLES,
    ZIP_EPOCH,
    Form,
    SheetStream,
    content_types,
    rows_per_sheet,
    workbook_rels,
    workbook_xml,
)

LEVEL = 1  # of ISA-L's 0 to 3: a million-event bundle's sheets about as small as zlib's level 1 makes them


def _compressor() -> Any:
    return isal_zlib.compressobj(LEVEL, zlib.DEFLATED, -15)  # raw deflate, as a zip member holds it


class _Writable(Protocol):
    def write(self, data: bytes, /) -> Any: ...


class _Writing:
    """Writes handed over in order by a second thread: deflating and the system's writes let go
    of the interpreter, so the next rows are encoded meanwhile. The thread starts at the first
    write and ends at ``stop`` (or when its owner is dropped); ``drain`` waits for every write
    handed over; a write that failed is raised at the next call."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[_Writable, bytes] | None] = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self.error is None:
                    item[0].write(item[1])
            except BaseException as e:  # raised in the writing thread at its next call
                self.error = e
            finally:
                self._queue.task_done()

    def write(self, out: _Writable, data: bytes) -> None:
        self._raise()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="xlsx-writing", daemon=True)
            self._thread.start()
        self._queue.put((out, data))

    def drain(self) -> None:
        self._queue.join()
        self._raise()

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def abandon(self) -> None:
        """The thread told to end after what it holds, without waiting (its owner dropped)."""
        if self._thread is not None:
            try:
                self._queue.put_nowait(None)
            except queue.Full:  # pragma: no cover - it ends at the interpreter's end, a daemon
                pass

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


@dataclass(frozen=True)
class DeflatedPart:
    """A sheet's XML deflated: the file holding it, between ``before`` and ``after`` (deflated
    bytes, kept here), the CRC-32 and size of the XML, and its size deflated."""

    name: str
    path: str
    crc: int
    size: int
    compressed: int
    before: bytes = b""
    after: bytes = b""


class _Deflating:
    """One sheet's XML deflated into a file as it comes. ``final``: the file ends the deflate
    stream; else it ends at a byte's edge, for a tail to follow (``_framed``)."""

    def __init__(self, name: str, path: Path, final: bool) -> None:
        self.name = name
        self._path = path
        self._final = final
        self._file = path.open("wb")
        self._deflate = _compressor()
        self._crc = self._size = self._compressed = 0

    def write(self, data: bytes) -> None:
        self._crc = isal_zlib.crc32(data, self._crc)
        self._size += len(data)
        out = self._deflate.compress(data)
        self._compressed += len(out)
        self._file.write(out)

    def finish(self) -> DeflatedPart:
        out = self._deflate.flush(zlib.Z_FINISH if self._final else zlib.Z_SYNC_FLUSH)
        self._compressed += len(out)
        self._file.write(out)
        self._file.close()
        return DeflatedPart(self.name, str(self._path), self._crc, self._size, self._compressed)

    def close(self) -> None:
        self._file.close()


def _framed(body: DeflatedPart, head: bytes, tail: bytes) -> DeflatedPart:
    """``body`` (its stream ended at a byte's edge) between ``head`` and ``tail``: each deflated on
    its own, the three one deflate stream (a stream's blocks may follow another's from a byte's
    edge, the last one marked last), the XML's CRC-32 combined from the three's."""
    first = _compressor()
    before = first.compress(head) + first.flush(zlib.Z_SYNC_FLUSH)
    last = _compressor()
    after = last.compress(tail) + last.flush(zlib.Z_FINISH)
    crc = isal_zlib.crc32_combine(isal_zlib.crc32(head), body.crc, body.size)
    crc = isal_zlib.crc32_combine(crc, isal_zlib.crc32(tail), len(tail))
    size = len(head) + body.size + len(tail)
    compressed = len(before) + body.compressed + len(after)
    return replace(body, crc=crc, size=size, compressed=compressed, before=before, after=after)


def _new_file(directory: Path) -> Path:
    handle, name = tempfile.mkstemp(suffix=".deflated", dir=directory)
    os.close(handle)
    return Path(name)


class _Sheets:
    """Where a logical sheet's XML goes: a file per sheet of it (its continuations each their
    own) in ``directory``, deflated by one writing thread."""

    def __init__(self, directory: Path, final: bool) -> None:
        self._directory = directory
        self._final = final
        self.files: list[_Deflating] = []
        self.writing = _Writing()
        weakref.finalize(self, self.writing.abandon)

    def sink(self, name: str, data: bytes) -> None:
        if not self.files or self.files[-1].name != name:
            self.files.append(_Deflating(name, _new_file(self._directory), self._final))
        self.writing.write(self.files[-1], data)

    def finish(self) -> list[DeflatedPart]:
        """Every file complete (a write that failed is raised here), in order."""
        try:
            self.writing.drain()
        finally:
            self.writing.stop()
        return [file.finish() for file in self.files]

    def abandon(self) -> None:
        self.writing.stop()
        for file in self.files:
            file.close()


class SpooledSheet:
    """A logical sheet written while another is, whose sheets' heads and tails (the rows each
    holds, the title, the total) are known only at its end: its rows are deflated as they come,
    and ``Workbook.add_spooled`` frames each sheet's with its head and tail."""

    def __init__(
        self,
        directory: Path,
        name: str,
        header: Sequence[str],
        amount_columns: Iterable[int] = (),
        form: Form = LEGACY,
    ) -> None:
        self._sheets = _Sheets(directory, final=False)
        self.stream = SheetStream(name, header, self._sheets.sink, amount_columns, form=form, heads=False)

    def append(self, values: Sequence[Any]) -> None:
        self.stream.append(values)

    def close(self) -> None:
        """Its writing thread ended and its files closed (the workbook given up)."""
        self._sheets.abandon()


class DeflatedSheet:
    """A logical sheet of ``rows`` rows written by another process than its workbook's, whose
    place the workbook keeps (``Workbook.reserve``); ``close`` gives its deflated sheets, for
    ``Workbook.fill``. An audit export writes its event log so, beside events.jsonl and from the
    same pass over the events, while the other process writes the other sheets."""

    def __init__(
        self, directory: Path, name: str, header: Sequence[str], rows: int, form: Form = LEGACY
    ) -> None:
        self._sheets = _Sheets(directory, final=True)
        self.stream = SheetStream(name, header, self._sheets.sink, rows=rows, form=form)

    def append(self, values: Sequence[Any]) -> None:
        self.stream.append(values)

    def close(self) -> list[DeflatedPart]:
        self.stream.close()
        return self._sheets.finish()

    def abandon(self) -> None:
        """Its thread ended and its files closed, the sheet given up."""
        self._sheets.abandon()


def _member(name: str) -> zipfile.ZipInfo:
    """A part stamped with the zip format's first moment, not the time of writing: the same
    ledger up to the same checkpoint gives a workbook of the same bytes, whenever exported."""
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    # the level ZipFile.open leaves at the library's default (6) for a ZipInfo given to it
    setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel", 1)
    info.external_attr = 0o600 << 16
    info.create_system = 3  # as written on Unix wherever it is
    return info


def _put_deflated(book: zipfile.ZipFile, member: str, part: DeflatedPart) -> zipfile.ZipInfo:
    """``part`` into ``book`` as ``member``, its deflated bytes as they are: written as stored,
    then stated deflated, with the XML's CRC and sizes, in the central directory ``book`` writes
    as it closes (``_state_headers`` mends the local header after). zipfile takes no member
    deflated already."""
    info = _member(member)
    info.compress_type = zipfile.ZIP_STORED
    # no zip64 fields (a part is far below 4 GiB, the verifier's budget): a reader such as SheetJS
    # refuses a local header stating its sizes as 0xFFFFFFFF beside a zip64 field
    with book.open(info, "w", force_zip64=False) as out, open(part.path, "rb") as deflated:
        out.write(part.before)
        shutil.copyfileobj(deflated, out, 1 << 20)
        out.write(part.after)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.CRC, info.file_size, info.compress_size = part.crc, part.size, part.compressed
    return info


def _state_headers(path: Path, placed: Sequence[zipfile.ZipInfo]) -> None:
    """Each member's local header, written as stored, rewritten as the central directory states it
    (the same length: without zip64 fields both times)."""
    with path.open("r+b") as book:
        for info in placed:
            book.seek(info.header_offset)
            book.write(info.FileHeader(zip64=False))


class Workbook:
    """Writes an xlsx file sheet by sheet; sheets are written one at a time, but for a
    ``SpooledSheet``, whose rows may come while others are written. Its files are kept in a
    directory of its own until it closes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._scratch = tempfile.TemporaryDirectory(prefix="grant-ledger-workbook-")
        self.directory = Path(self._scratch.name)
        self._parts: list[tuple[str, str, str]] = []  # (sheet name, part name, logical sheet)
        self._written: dict[str, DeflatedPart] = {}  # part name -> its XML deflated
        self._printed: dict[str, int] = {}  # logical sheet -> its header row, printed atop every page
        self._open: tuple[_Sheets, str] | None = None  # the sheet being written, and its logical sheet
        self._all: list[_Sheets] = []  # every sheet's, spooled or not: given up with the workbook
        self._kept: dict[str, str] = {}  # sheet name -> part, reserved and not yet filled

    def sheet(
        self,
        name: str,
        header: Sequence[str],
        amount_columns: Iterable[int] = (),
        rows: int | None = None,
        form: Form = LEGACY,
    ) -> SheetStream:
        self._end_sheet()
        if form.prints:
            self._printed[name] = form.head_rows
        sheets = _Sheets(self.directory, final=True)
        self._all.append(sheets)
        self._open = (sheets, name)
        return SheetStream(name, header, sheets.sink, amount_columns, rows, form)

    def spooled(
        self, name: str, header: Sequence[str], amount_columns: Iterable[int] = (), form: Form = LEGACY
    ) -> SpooledSheet:
        """A ``SpooledSheet`` whose files are kept with the workbook's."""
        sheet = SpooledSheet(self.directory, name, header, amount_columns, form)
        self._all.append(sheet._sheets)
        return sheet

    def _end_sheet(self) -> None:
        if self._open is not None:
            sheets, base = self._open
            self._open = None
            for part in sheets.finish():
                self._place(part, base)

    def _place(self, part: DeflatedPart, base: str) -> None:
        member = f"xl/worksheets/sheet{len(self._parts) + 1}.xml"
        self._parts.append((part.name, member, base))
        self._written[member] = part

    def reserve(self, name: str, rows: int, form: Form = LEGACY) -> list[str]:
        """Keeps the places of a logical sheet of ``rows`` data rows written apart
        (``DeflatedSheet``, in another process), in order with the others, for ``fill``; returns
        its sheets' names."""
        self._end_sheet()
        if form.prints:
            self._printed[name] = form.head_rows
        count = len(rows_per_sheet(rows, form))
        kept = [name] + [f"{name} ({k})" for k in range(2, count + 1)]
        for sheet in kept:
            member = f"xl/worksheets/sheet{len(self._parts) + 1}.xml"
            self._parts.append((sheet, member, name))
            self._kept[sheet] = member
        return kept

    def fill(self, parts: Sequence[DeflatedPart]) -> None:
        """Puts the sheets written apart in the places ``reserve`` kept for them."""
        if sorted(part.name for part in parts) != sorted(self._kept):
            raise ValueError(f"sheets {[p.name for p in parts]} written apart, {list(self._kept)} kept")
        for part in parts:
            self._written[self._kept.pop(part.name)] = part

    def add_spooled(self, spooled: SpooledSheet, form: Form | None = None) -> list[str]:
        """Puts a spooled sheet (and its continuations) into the workbook, laid out by ``form``
        (its title and total now known); returns their names."""
        self._end_sheet()
        stream = spooled.stream
        names = stream.close()
        bodies = spooled._sheets.finish()
        if form is not None:
            stream.form = form
        if stream.form.prints:
            self._printed[stream.name] = stream.form.head_rows
        sizes = rows_per_sheet(stream.rows, stream.form)
        if not bodies:  # no row at all: one sheet of its head and tail
            empty = _Deflating(stream.name, _new_file(self.directory), final=False)
            bodies = [empty.finish()]
        for k, (body, rows) in enumerate(zip(bodies, sizes, strict=True)):
            last = k == len(sizes) - 1
            head = stream.head(rows, last).encode("utf-8")
            tail = stream.tail(stream.form.head_rows + rows, last).encode("utf-8")
            self._place(_framed(body, head, tail), stream.name)
        return names

    def close(self, order: Sequence[str] = ()) -> None:
        """Writes the zip: the sheets, sheets named in ``order`` (and their continuations) first,
        and the package parts."""
        self._end_sheet()
        if self._kept:
            raise ValueError(f"sheets {list(self._kept)} kept for sheets written apart, never filled")
        rank = {name: i for i, name in enumerate(order)}
        parts = sorted(self._parts, key=lambda p: rank.get(p[2], len(rank)))  # stable: continuations stay
        printed = [(name, self._printed[base]) for name, _, base in parts if base in self._printed]
        with zipfile.ZipFile(self._path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as book:
            placed = [_put_deflated(book, member, self._written[member]) for _, member, _ in parts]
            put = book.writestr
            put(_member("[Content_Types].xml"), content_types([part for _, part, _ in parts]))
            put(_member("_rels/.rels"), ROOT_RELS)
            put(_member("xl/workbook.xml"), workbook_xml([name for name, _, _ in parts], printed))
            put(_member("xl/_rels/workbook.xml.rels"), workbook_rels([part for _, part, _ in parts]))
            put(_member("xl/styles.xml"), STYLES)
        _state_headers(self._path, placed)

    def __enter__(self) -> Workbook:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sheets in self._all:
            sheets.abandon()
        self._scratch.cleanup()
