"""A small streaming writer of xlsx workbooks (Office Open XML spreadsheets) for the audit bundle.

Sheets of a million rows go out at the speed of string formatting: every row is encoded once and
written straight into the zip member, so memory does not grow with the sheet. Strings are inline
(``t="inlineStr"``), which Excel, LibreOffice and openpyxl all read; no shared-string table has to
be built by the writer or loaded whole by a reader that wants only one small sheet.

A sheet longer than Excel's 1,048,576 rows goes on in ``NAME (2)``, ``NAME (3)``…, each with the
header row again. ``SheetStream`` emits the XML of a sheet to any sink, so a verifier can encode
the rows it expects exactly as the writer did and compare digests instead of parsing the sheet.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from xml.etree import ElementTree

from audit.verifier.errors import AuditError

MAX_ROWS = 1_048_576  # Excel's limit per sheet, header included
AMOUNT_STYLE = 1  # built-in number format 4: #,##0.00
DATE_STYLE = 2  # number format 164: yyyy-mm-dd
_EPOCH = date(1899, 12, 30).toordinal()
_CHUNK_ROWS = 2000
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_SHEET_HEAD = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_NS}">'
_SHEET_TAIL = "</sheetData></worksheet>"
# Characters XML 1.0 cannot carry; OOXML writes them as _xHHHH_ (as Excel does).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SPECIAL = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

Sink = Callable[[str, bytes], None]  # (sheet name, XML bytes): a new name starts a new sheet


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _escape(value: str) -> str:
    """Text for a ``<t>`` element."""
    value = _ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def dimension(columns: int, rows: int) -> str:
    """The ``<dimension>`` element of a sheet part: a header row and ``rows`` data rows."""
    return f'<dimension ref="A1:{column_letter(columns - 1)}{rows + 1}"/>'


def rows_per_sheet(rows: int) -> list[int]:
    """How many data rows each sheet of a logical sheet of ``rows`` rows holds."""
    per = MAX_ROWS - 1
    return [min(per, rows - start) for start in range(0, rows, per)] or [0]


class SheetStream:
    """Encodes rows of one logical sheet as SpreadsheetML and hands the bytes to ``sink``.

    Give ``rows``, the number of data rows to come, where it is known: each sheet then states its
    size (``<dimension>``), which spares a reader such as openpyxl a scan of the whole sheet just to
    size it; appending a different number of rows is then an error at ``close``.

    Values: ``None`` (empty cell), ``int``, ``str``, ``date`` (date cell), ``Decimal`` or ``int``
    in an ``amount_columns`` column (number shown as #,##0.00).
    """

    def __init__(
        self,
        name: str,
        header: Sequence[str],
        sink: Sink,
        amount_columns: Iterable[int] = (),
        rows: int | None = None,
    ) -> None:
        self.name = name
        self.declared = rows
        self.header = list(header)
        self._sink = sink
        self._amounts = frozenset(amount_columns)
        self._letters = [column_letter(i) for i in range(len(self.header))]
        self._sheet = 1
        self._row = 0  # rows written in the current sheet, header included
        self._buffer: list[str] = []
        self._plans: dict[tuple[type, ...], tuple[str, tuple[int, ...], tuple[int, ...]]] = {}
        self.rows = 0
        self._start()

    def _current_name(self) -> str:
        return self.name if self._sheet == 1 else f"{self.name} ({self._sheet})"

    def _start(self) -> None:
        self._buffer.append(_SHEET_HEAD)
        if self.declared is not None:
            in_sheet = min(MAX_ROWS - 1, max(0, self.declared - self.rows))
            self._buffer.append(dimension(len(self.header), in_sheet))
        self._buffer.append("<sheetData>")
        self._row = 0
        self._append(self.header, header=True)

    def _flush(self) -> None:
        if self._buffer:
            self._sink(self._current_name(), "".join(self._buffer).encode("utf-8"))
            self._buffer.clear()

    def append(self, values: Sequence[Any]) -> None:
        if self._row == MAX_ROWS:
            self._buffer.append(_SHEET_TAIL)
            self._flush()
            self._sheet += 1
            self._start()
        self._append(values)
        self.rows += 1
        if len(self._buffer) >= _CHUNK_ROWS:
            self._flush()

    def _append(self, values: Sequence[Any], header: bool = False) -> None:
        self._row += 1
        key = tuple(map(type, values))
        plan = None if header else self._plans.get(key)
        if plan is None:
            plan = self._plan(key, header)
            if not header:
                self._plans[key] = plan
        template, texts, dates = plan
        args = [self._row, *values]
        for i in texts:
            if _SPECIAL.search(args[i]) is not None:
                args[i] = _escape(args[i])
        for i in dates:
            args[i] = args[i].toordinal() - _EPOCH
        self._buffer.append(template.format(*args))

    def _plan(self, kinds: tuple[type, ...], header: bool) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
        """The row's XML with ``{0}`` for the row number and ``{i}`` for value i - 1 (empty cells
        left out), and the positions of the strings to escape and of the dates to convert."""
        parts = ['<row r="{0}">']
        texts: list[int] = []
        dates: list[int] = []
        for i, kind in enumerate(kinds):
            ref = f"{self._letters[i]}{{0}}"
            n = i + 1
            if kind is type(None):
                continue
            if kind is str:
                parts.append(f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{{{n}}}</t></is></c>')
                texts.append(n)
            elif kind is date:
                parts.append(f'<c r="{ref}" s="{DATE_STYLE}"><v>{{{n}}}</v></c>')
                dates.append(n)
            elif i in self._amounts and not header:
                parts.append(f'<c r="{ref}" s="{AMOUNT_STYLE}"><v>{{{n}}}</v></c>')
            elif kind is int or issubclass(kind, Decimal):
                parts.append(f'<c r="{ref}"><v>{{{n}}}</v></c>')
            else:
                raise TypeError(f"xlsx cell of type {kind.__name__} in column {self._letters[i]}")
        parts.append("</row>")
        return "".join(parts), tuple(texts), tuple(dates)

    def close(self) -> list[str]:
        """Ends the sheet; returns the names of the sheets written."""
        if self.declared is not None and self.rows != self.declared:
            raise ValueError(f"sheet {self.name}: {self.declared} rows announced, {self.rows} written")
        self._buffer.append(_SHEET_TAIL)
        self._flush()
        return [self.name] + [f"{self.name} ({k})" for k in range(2, self._sheet + 1)]


class SpooledSheet:
    """A logical sheet written while another is open: its XML goes to temporary files (in memory
    up to a few megabytes) and into the workbook later (``Workbook.add_spooled``)."""

    def __init__(self, name: str, header: Sequence[str], amount_columns: Iterable[int] = ()) -> None:
        self.parts: list[tuple[str, IO[bytes]]] = []
        self.stream = SheetStream(name, header, self._sink, amount_columns)

    def _sink(self, name: str, data: bytes) -> None:
        if not self.parts or self.parts[-1][0] != name:
            self.parts.append((name, tempfile.SpooledTemporaryFile(max_size=8 << 20)))
        self.parts[-1][1].write(data)

    def append(self, values: Sequence[Any]) -> None:
        self.stream.append(values)


class Workbook:
    """Writes an xlsx file sheet by sheet; only one sheet is open at a time."""

    def __init__(self, path: Path, compresslevel: int = 1) -> None:
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
        self._parts: list[tuple[str, str, str]] = []  # (sheet name, part name, logical sheet)
        self._out: IO[bytes] | None = None
        self._open_name = ""
        self._base = ""

    def sheet(
        self, name: str, header: Sequence[str], amount_columns: Iterable[int] = (), rows: int | None = None
    ) -> SheetStream:
        self._base = name
        return SheetStream(name, header, self._write, amount_columns, rows)

    def add_spooled(self, spooled: SpooledSheet) -> list[str]:
        """Writes a spooled sheet (and its continuations) into the workbook; returns their names."""
        names = spooled.stream.close()
        self._base = spooled.stream.name
        sizes = rows_per_sheet(spooled.stream.rows)
        columns = len(spooled.stream.header)
        for (name, handle), rows in zip(spooled.parts, sizes, strict=True):
            handle.seek(0)
            # each sheet states its size now it is known, as a sheet written directly does (a
            # reader such as openpyxl would otherwise parse the whole sheet just to size it)
            stated = dimension(columns, rows).encode("ascii")
            self._write(name, handle.read(1 << 20).replace(b"<sheetData>", stated + b"<sheetData>", 1))
            for chunk in iter(lambda h=handle: h.read(1 << 20), b""):  # type: ignore[misc]
                self._write(name, chunk)
            handle.close()
        return names

    def _write(self, name: str, data: bytes) -> None:
        if name != self._open_name or self._out is None:
            self._close_part()
            part = f"xl/worksheets/sheet{len(self._parts) + 1}.xml"
            self._parts.append((name, part, self._base))
            self._out = self._zip.open(part, "w", force_zip64=True)
            self._open_name = name
        self._out.write(data)

    def _close_part(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def close(self, order: Sequence[str] = ()) -> None:
        """Writes the package parts; sheets named in ``order`` (and their continuations) come first."""
        self._close_part()
        rank = {name: i for i, name in enumerate(order)}
        parts = sorted(self._parts, key=lambda p: rank.get(p[2], len(rank)))  # stable: continuations stay
        self._zip.writestr("[Content_Types].xml", _content_types([part for _, part, _ in parts]))
        self._zip.writestr("_rels/.rels", _ROOT_RELS)
        self._zip.writestr("xl/workbook.xml", _workbook_xml([name for name, _, _ in parts]))
        self._zip.writestr("xl/_rels/workbook.xml.rels", _workbook_rels([part for _, part, _ in parts]))
        self._zip.writestr("xl/styles.xml", _STYLES)
        self._zip.close()

    def __enter__(self) -> Workbook:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self._close_part()
            self._zip.close()


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _content_types(parts: list[str]) -> str:
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    overrides = "".join(f'<Override PartName="/{p}" ContentType="{sheet_type}"/>' for p in parts)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>"
    )


_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)


def _workbook_xml(names: list[str]) -> str:
    sheets = "".join(
        f'<sheet name="{_attr(name)}" sheetId="{i}" r:id="rId{i}"/>' for i, name in enumerate(names, 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{_NS}" xmlns:r="{_REL_NS}"><sheets>{sheets}</sheets></workbook>'
    )


def _workbook_rels(parts: list[str]) -> str:
    sheet = f"{_REL_NS}/worksheet"
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{sheet}" Target="{p.removeprefix("xl/")}"/>'
        for i, p in enumerate(parts, 1)
    )
    styles = f'<Relationship Id="rId{len(parts) + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_PKG_REL_NS}">{rels}{styles}</Relationships>'
    )


_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{_NS}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


# ----------------------------------------------------------------------------- reading, bounded
#
# A workbook is a zip of XML parts; a small file can inflate to gigabytes (a zip bomb, one huge
# shared string, a huge sheet). ``check_package`` inflates every part once, as a stream, counting
# bytes against a budget and stopping at the first part past it, so nothing larger than a chunk
# is held; a reader (openpyxl) is given the file only after it passed. The same pass refuses
# what would make a cell show other than its value: a formula, a hidden row or column.

MAX_CELL_CHARS = 32_767  # Excel's limit for the text of one cell
MAX_PARTS = 10_000
_READ = 4 << 20
# a formula element in any namespace prefix (<f>, <f t="shared" …/>, <x:f>)
_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s/>]")
_HIDDEN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|col)\b[^>]*\bhidden=\"(?:1|true)\"")
# a cell's text of more than MAX_CELL_CHARS characters spans at least this many bytes of UTF-8
_LONG_TEXT = re.compile(rb"[^<]{" + str(MAX_CELL_CHARS * 4 + 1).encode("ascii") + rb",}")
_OVERLAP = 256


class PackageError(AuditError):
    """The workbook cannot be read within bounds, or shows what its values are not."""


def check_package(path: Path, part_budget: int, checked: frozenset[str] = frozenset()) -> None:
    """Checks every part of the xlsx at ``path``: inflated size within ``part_budget`` bytes
    each (and ``4 * part_budget`` together), and in its sheets no formula, no hidden row or
    column, no cell text past Excel's limit. Raises ``PackageError`` naming the part, and the
    sheet and cell where it can. ``checked``: sheets already found byte for byte as export
    writes them (the event log, by digest), whose content is not scanned again."""
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise PackageError(f"not a readable xlsx (zip) file ({type(e).__name__})") from None
    with book:
        members = book.infolist()
        if len(members) > MAX_PARTS:
            raise PackageError(f"holds {len(members)} parts, more than {MAX_PARTS}")
        for member in members:  # what the headers say first: the cheap refusal
            if member.file_size > part_budget:
                raise PackageError(
                    f"part {member.filename} inflates to {member.file_size:,} bytes, more than the "
                    f"{part_budget:,} this bundle allows; refused before reading it"
                )
        for name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
            if name in book.namelist():
                _scan_part(book, book.getinfo(name), part_budget, "")
        try:
            names = {member: name for name, member in sheet_parts(book)}
        except (KeyError, ElementTree.ParseError, zipfile.BadZipFile, zlib.error, OSError, ValueError) as e:
            raise PackageError(f"has no readable list of sheets ({type(e).__name__})") from None
        total = 0
        for member in members:
            sheet = names.get(member.filename, "")
            if sheet and sheet in checked:
                total += member.file_size
                continue
            total += _scan_part(book, member, part_budget, sheet)
            if total > 4 * part_budget:
                raise PackageError(f"inflates to more than {4 * part_budget:,} bytes; refused")


def sheet_parts(book: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, zip member) of every worksheet, in the workbook's order."""
    ns = {"m": _NS}
    rel_ns = f"{{{_REL_NS}}}id"
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): str(r.get("Target")) for r in rels}
    parts = []
    for sheet in workbook.iterfind("m:sheets/m:sheet", ns):
        target = targets.get(sheet.get(rel_ns), "")
        member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        parts.append((str(sheet.get("name")), member))
    return parts


_CELL_REF = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br="([A-Z]{1,3}[0-9]{1,7})"')
_ROW_REF = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?row\s[^>]*?\br="([0-9]{1,7})"')


def _where(member: str, sheet: str, window: bytes, at: int) -> str:
    """Where a match at ``at`` of a sheet part's ``window`` is: its sheet and cell if known."""
    refs = [m.group(1).decode("ascii") for m in _CELL_REF.finditer(window, max(0, at - 4096), at)]
    if sheet and refs:
        return f"sheet {sheet!r} cell {refs[-1]} (part {member})"
    return f"part {member}" + (f" (sheet {sheet!r})" if sheet else "")


def _scan_part(book: zipfile.ZipFile, member: zipfile.ZipInfo, budget: int, sheet: str) -> int:
    size = 0
    is_sheet = member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml")
    is_text = member.filename == "xl/sharedStrings.xml"
    tail = b""
    try:
        with book.open(member) as handle:
            for chunk in iter(lambda: handle.read(_READ), b""):
                size += len(chunk)
                if size > budget:  # the header understated it: stop inflating now
                    raise PackageError(
                        f"part {member.filename} inflates to more than the {budget:,} bytes this "
                        "bundle allows (its zip header says less); refused"
                    )
                window = tail + chunk
                if is_sheet and (b"<f" in window or b":f" in window) and (m := _FORMULA.search(window)):
                    where = _where(member.filename, sheet, window, m.start())
                    raise PackageError(f"{where} holds a formula; a bundle's cells are values")
                if is_sheet and b"hidden" in window and (m := _HIDDEN.search(window)):
                    kind = m.group(1).decode()
                    row = _ROW_REF.match(window, m.start())
                    which = f" ({kind} {row.group(1).decode()})" if row else ""
                    raise PackageError(f"part {member.filename} (sheet {sheet!r}) hides a {kind}{which}")
                if (
                    (is_sheet or is_text)
                    and _longest_text(window) > _MAX_TEXT_BYTES
                    and (m := _LONG_TEXT.search(window))
                ):
                    where = _where(member.filename, sheet, window, m.start())
                    if not is_sheet:
                        where = f"part {member.filename} (shared strings)"
                    raise PackageError(f"{where} holds a cell longer than {MAX_CELL_CHARS:,} characters")
                tail = window[-(_MAX_TAIL):]
    except PackageError:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
        RuntimeError,
    ) as e:
        raise PackageError(f"part {member.filename} cannot be read ({type(e).__name__})") from None
    return size


_MAX_TEXT_BYTES = MAX_CELL_CHARS * 4


def _longest_text(window: bytes) -> int:
    """At least the longest run of bytes without a tag in ``window`` if that passes
    ``_MAX_TEXT_BYTES``, else 0. Such a run holds a whole aligned block of half its length with no
    "<" in it; in XML a "<" comes within a few bytes of every block's start, so each block costs
    a short search, where a regex for the run would try every start of every short text."""
    block = (_MAX_TEXT_BYTES + 1) // 2
    for start in range(0, len(window) - block + 1, block):
        if window.find(b"<", start, start + block) < 0:
            return max(map(len, window.split(b"<")))
    return 0


_MAX_TAIL = MAX_CELL_CHARS * 4 + 1 + _OVERLAP
