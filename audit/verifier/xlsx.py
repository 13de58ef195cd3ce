"""A small streaming writer of xlsx workbooks (Office Open XML spreadsheets) for the audit bundle.

Sheets of a million rows go out at the speed of string formatting: every row is encoded once and
written straight into the zip member, so memory does not grow with the sheet. Strings are inline
(``t="inlineStr"``), which Excel, LibreOffice and openpyxl all read; no shared-string table has to
be built by the writer or loaded whole by a reader that wants only one small sheet.

A sheet longer than Excel's 1,048,576 rows goes on in ``NAME (2)``, ``NAME (3)``…, each with the
header row again (and, laid out for filing by a ``Form``, its title rows; the 合计 row ends the
last). ``SheetStream`` emits the XML of a sheet to any sink, so a verifier can encode the rows it
expects exactly as the writer did and compare digests instead of parsing the sheet.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.parsers import expat

from audit.verifier.errors import AuditError
from audit.verifier.i18n import _
from audit.verifier.layout import HEADER_ROW, UNIT_LABEL
from audit.verifier.zip_layout import data_fault, layout_fault

MAX_ROWS = 1_048_576  # Excel's limit per sheet, header included
AMOUNT_STYLE = 1  # built-in number format 4: #,##0.00 (format 2 bundles)
DATE_STYLE = 2  # number format 164: yyyy-mm-dd
# a sheet laid out for filing (format 3): bordered cells, yuan, a bold title, header and total
TITLE_STYLE, HEAD_STYLE, YUAN_STYLE, BOX_DATE_STYLE, BOX_STYLE, TOTAL_STYLE, TOTAL_YUAN_STYLE = range(3, 10)
RIGHT_STYLE = 10
_EPOCH = date(1899, 12, 30).toordinal()
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip member can carry
_CHUNK_ROWS = 2000
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_SHEET_HEAD = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_NS}">'
_SHEET_TAIL = "</sheetData></worksheet>"
_PRINT = (  # A4 landscape, one page wide, as many pages long as it takes, page numbers below
    '<printOptions horizontalCentered="1"/>'
    '<pageMargins left="0.4" right="0.4" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'
    '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
    "<headerFooter><oddFooter>&amp;C&amp;P / &amp;N</oddFooter></headerFooter>"
)
# Characters XML 1.0 cannot carry; OOXML writes them as _xHHHH_ (as Excel does), and so a typed
# "_" that starts such a run as _x005F_, or a spreadsheet would show the run decoded.
# (An illegal character after xHHHH becomes a run starting with "_": it closes one as "_" does.)
_ILLEGAL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}[_\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff])"
)
_SPECIAL = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # or "_x": a run, maybe

Sink = Callable[[str, bytes], None]  # (sheet name, XML bytes): a new name starts a new sheet


@dataclass(frozen=True)
class Form:
    """How a sheet is laid out around its rows. Without a title: the header on row 1 (the event
    log; every sheet of a format 2 bundle). With one, for filing: the title (merged across), the
    ``heading`` row (编制单位, 报表日期, 单位), a blank row, the header on row 4 repeated on every
    printed page, the ``total`` row after the last data row, A4 landscape one page wide."""

    title: str | None = None
    heading: tuple[Any, ...] = ()
    total: tuple[Any, ...] = ()
    widths: tuple[int, ...] = ()
    frozen: bool = False  # the header stays in view (always so for filing)
    printed: bool = False  # A4 landscape one page wide, the header on every page (always so for filing)

    @property
    def filed(self) -> bool:
        return self.title is not None

    @property
    def prints(self) -> bool:
        return self.filed or self.printed

    @property
    def head_rows(self) -> int:
        return HEADER_ROW if self.filed else 1

    def per_sheet(self) -> int:
        """Data rows a sheet holds: a filed one keeps a row for its total."""
        return max(1, MAX_ROWS - self.head_rows - (1 if self.filed else 0))


LEGACY = Form()


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
    value = _ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)  # "_" is _x005F_
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def dimension(columns: int, rows: int, head: int = 1, tail: int = 0) -> str:
    """The ``<dimension>`` element of a sheet part: ``head`` rows, ``rows`` data rows, ``tail``."""
    return f'<dimension ref="A1:{column_letter(columns - 1)}{head + rows + tail}"/>'


def rows_per_sheet(rows: int, form: Form = LEGACY) -> list[int]:
    """How many data rows each sheet of a logical sheet of ``rows`` rows holds."""
    per = form.per_sheet()
    return [min(per, rows - start) for start in range(0, rows, per)] or [0]


def _cells(
    values: Sequence[Any], row: int, text: int, number: int, amounts: frozenset[int] = frozenset()
) -> str:
    """One row of a sheet's head or tail (title, heading, header, total), every cell styled."""
    cells = []
    for i, value in enumerate(values):
        ref = f"{column_letter(i)}{row}"
        if value is None:
            if text in (HEAD_STYLE, TOTAL_STYLE):  # the border runs on
                cells.append(f'<c r="{ref}" s="{text}"/>')
        elif isinstance(value, str):
            style = RIGHT_STYLE if value == UNIT_LABEL and text == 0 else text
            cells.append(
                f'<c r="{ref}" s="{style}" t="inlineStr">'
                f'<is><t xml:space="preserve">{_escape(value)}</t></is></c>'
            )
        else:
            style = number if i in amounts else text
            cells.append(f'<c r="{ref}" s="{style}"><v>{value}</v></c>')
    return f'<row r="{row}">{"".join(cells)}</row>'


_FIELD = re.compile(r"\{([0-9]+)\}")
_FSTRING_PAIRS = 14


def _compiled(template: str, arity: int, texts: Sequence[int], dates: Sequence[int]) -> Callable[..., str]:
    """A row's writer: ``template.format`` of its ``arity`` arguments (the row number as text,
    then the values) after escaping the strings at ``texts`` and turning the dates at ``dates``
    into day numbers. Made once per row plan, as an f-string, which puts each value in as
    ``format`` does (``format(value, "")``): the same text, without parsing the template again for
    every row of a million-row sheet, and with one search for characters to escape over all the
    row's strings (none joins another's into one). The template's fixed text is the closure's
    constants, never source."""
    pieces = _FIELD.split(template)
    literals, fields = pieces[0::2], [int(n) for n in pieces[1::2]]
    if any("{" in text or "}" in text for text in literals) or any(n >= arity for n in fields):
        raise ValueError(f"not a row template: {template!r}")
    names = [f"t{k}" for k in range(len(literals))]
    lines = [f"def make(special, escape, epoch, {', '.join(names)}):"]
    lines.append(f"    def write({', '.join(f'a{n}' for n in range(arity))}):")
    if texts:
        lines.append(f"        texts = {' + '.join(f'a{n}' for n in texts)}")
        lines.append('        if "_x" in texts or special(texts) is not None:')
        lines += [f"            a{n} = escape(a{n})" for n in texts]
    lines += [f"        a{n} = a{n}.toordinal() - epoch" for n in dates]
    parts = [f"{{t{k}}}{{a{n}}}" for k, n in enumerate(fields)] + [f"{{t{len(fields)}}}"]
    # f-strings of at most _FSTRING_PAIRS literal and value pairs, joined by +: CPython (3.11)
    # builds a longer one as a list and calls str.join, 15% slower for a row of eleven cells
    bodies = [
        "f'" + "".join(parts[at : at + _FSTRING_PAIRS]) + "'" for at in range(0, len(parts), _FSTRING_PAIRS)
    ]
    lines.append(f"        return {' + '.join(bodies)}")
    lines.append("    return write")
    space: dict[str, Any] = {}
    exec("\n".join(lines) + "\n", space)  # identifiers only: the text comes in as values
    write: Callable[..., str] = space["make"](_SPECIAL.search, _escape, _EPOCH, *literals)
    return write


class SheetStream:
    """Encodes rows of one logical sheet as SpreadsheetML and hands the bytes to ``sink``.

    Give ``rows``, the number of data rows to come, where it is known: each sheet then states its
    size (``<dimension>``), which spares a reader such as openpyxl a scan of the whole sheet just to
    size it; appending a different number of rows is then an error at ``close``.

    Values: ``None`` (empty cell), ``int``, ``str``, ``date`` (date cell), ``Decimal`` or ``int``
    in an ``amount_columns`` column (number shown as yuan, or #,##0.00 in a format 2 sheet).
    ``heads=False`` hands only the data rows to ``sink``, a sheet's head and tail being written
    later (``head``, ``tail``): a spooled sheet whose title and total are known only at its end.
    ``errors="surrogatepass"``: a verifier's stream, encoding what an untrusted record holds for a
    digest (a lone surrogate gives bytes no workbook holds, so the sheet is compared cell by cell).
    """

    def __init__(
        self,
        name: str,
        header: Sequence[str],
        sink: Sink,
        amount_columns: Iterable[int] = (),
        rows: int | None = None,
        form: Form = LEGACY,
        heads: bool = True,
        errors: str = "strict",
    ) -> None:
        self.name = name
        self._errors = errors
        self.declared = rows
        self.header = list(header)
        self.form = form
        self._heads = heads
        self._sink = sink
        self._amounts = frozenset(amount_columns)
        self._letters = [column_letter(i) for i in range(len(self.header))]
        self._sheet = 1
        self._row = 0  # rows written in the current sheet, its head included
        self._buffer: list[str] = []
        self._plans: dict[tuple[type, ...], Callable[..., str]] = {}
        self.rows = 0
        self._start()

    def _current_name(self) -> str:
        return self.name if self._sheet == 1 else f"{self.name} ({self._sheet})"

    def head(self, in_sheet: int | None, last: bool) -> str:
        """A sheet's XML up to its first data row: ``in_sheet`` data rows (None: not stated)."""
        form = self.form
        parts = [_SHEET_HEAD]
        if form.prints:
            parts.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
        if in_sheet is not None:
            tail = 1 if form.filed and last else 0
            parts.append(dimension(len(self.header), in_sheet, form.head_rows, tail))
        if form.frozen or form.filed:
            n = form.head_rows
            parts.append(
                '<sheetViews><sheetView workbookViewId="0">'
                f'<pane ySplit="{n}" topLeftCell="A{n + 1}" activePane="bottomLeft" state="frozen"/>'
                f'<selection pane="bottomLeft" activeCell="A{n + 1}" sqref="A{n + 1}"/>'
                "</sheetView></sheetViews>"
            )
        if form.widths:
            cols = "".join(
                f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                for i, w in enumerate(form.widths, 1)
            )
            parts.append(f"<cols>{cols}</cols>")
        parts.append("<sheetData>")
        if form.filed:
            title = [form.title, *[None] * (len(self.header) - 1)]
            parts.append(_cells(title, 1, TITLE_STYLE, TITLE_STYLE))
            parts.append(_cells(form.heading, 2, 0, 0))
            parts.append(_cells(self.header, HEADER_ROW, HEAD_STYLE, HEAD_STYLE))
        else:
            parts.append(self._encode(self.header, 1, header=True))
        return "".join(parts)

    def tail(self, row: int, last: bool) -> str:
        """A sheet's XML after its last data row (``row``): the total on the last sheet."""
        form = self.form
        if not form.filed:
            return f"</sheetData>{_PRINT}</worksheet>" if form.printed else _SHEET_TAIL
        total = _cells(form.total, row + 1, TOTAL_STYLE, TOTAL_YUAN_STYLE, self._amounts) if last else ""
        merge = f'<mergeCells count="1"><mergeCell ref="A1:{self._letters[-1]}1"/></mergeCells>'
        return f"{total}</sheetData>{merge}{_PRINT}</worksheet>"

    def _start(self) -> None:
        in_sheet, last = None, False
        if self.declared is not None:
            left = max(0, self.declared - self.rows)
            in_sheet, last = min(self.form.per_sheet(), left), left <= self.form.per_sheet()
        if self._heads:
            self._buffer.append(self.head(in_sheet, last))
        self._row = self.form.head_rows
        self._full = self.form.head_rows + self.form.per_sheet()  # the row that fills this sheet

    def _flush(self) -> None:
        if self._buffer:
            self._sink(self._current_name(), "".join(self._buffer).encode("utf-8", self._errors))
            self._buffer.clear()

    def append(self, values: Sequence[Any]) -> None:
        if self._row == self._full:
            if self._heads:
                self._buffer.append(self.tail(self._row, last=False))
            self._flush()
            self._sheet += 1
            self._start()
        row = self._row = self._row + 1
        plan = self._plans.get(tuple(map(type, values)))  # ``_encode``, without its call for every row
        self._buffer.append(self._encode(values, row) if plan is None else plan(str(row), *values))
        self.rows += 1
        if len(self._buffer) >= _CHUNK_ROWS:
            self._flush()

    def _encode(self, values: Sequence[Any], row: int, header: bool = False) -> str:
        key = tuple(map(type, values))
        plan = None if header else self._plans.get(key)
        if plan is None:
            plan = self._plan(key, header)
            if not header:
                self._plans[key] = plan
        return plan(str(row), *values)

    def _plan(self, kinds: tuple[type, ...], header: bool) -> Callable[..., str]:
        """The row's XML as a function of the row number (as text) and the values (``_compiled``):
        empty cells left out, strings escaped, dates as day numbers."""
        filed = self.form.filed
        box = f' s="{BOX_STYLE}"' if filed else ""
        parts = ['<row r="{0}">']
        texts: list[int] = []
        dates: list[int] = []
        for i, kind in enumerate(kinds):
            ref = f"{self._letters[i]}{{0}}"
            n = i + 1
            if kind is type(None):
                if filed:
                    parts.append(f'<c r="{ref}"{box}/>')
                continue
            if kind is str:
                parts.append(
                    f'<c r="{ref}"{box} t="inlineStr"><is><t xml:space="preserve">{{{n}}}</t></is></c>'
                )
                texts.append(n)
            elif kind is date:
                parts.append(f'<c r="{ref}" s="{BOX_DATE_STYLE if filed else DATE_STYLE}"><v>{{{n}}}</v></c>')
                dates.append(n)
            elif i in self._amounts and not header:
                parts.append(f'<c r="{ref}" s="{YUAN_STYLE if filed else AMOUNT_STYLE}"><v>{{{n}}}</v></c>')
            elif kind is int or issubclass(kind, Decimal):
                parts.append(f'<c r="{ref}"{box}><v>{{{n}}}</v></c>')
            else:
                raise TypeError(f"xlsx cell of type {kind.__name__} in column {self._letters[i]}")
        parts.append("</row>")
        return _compiled("".join(parts), len(kinds) + 1, texts, dates)

    def close(self) -> list[str]:
        """Ends the sheet; returns the names of the sheets written."""
        if self.declared is not None and self.rows != self.declared:
            raise ValueError(f"sheet {self.name}: {self.declared} rows announced, {self.rows} written")
        if self._heads:
            self._buffer.append(self.tail(self._row, last=True))
        self._flush()
        return [self.name] + [f"{self.name} ({k})" for k in range(2, self._sheet + 1)]


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def content_types(parts: list[str]) -> str:
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


ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)


def print_titles(sheet: str, row: int = HEADER_ROW) -> str:
    """A sheet's header row, printed at the top of every page (``_xlnm.Print_Titles``)."""
    quoted = sheet.replace("'", "''")
    return f"'{quoted}'!${row}:${row}"


def workbook_xml(names: list[str], printed: Sequence[tuple[str, int]] = ()) -> str:
    sheets = "".join(
        f'<sheet name="{_attr(name)}" sheetId="{i}" r:id="rId{i}"/>' for i, name in enumerate(names, 1)
    )
    titles = "".join(
        f'<definedName name="_xlnm.Print_Titles" localSheetId="{names.index(name)}">'
        f"{_escape(print_titles(name, row))}</definedName>"
        for name, row in printed
    )
    defined = f"<definedNames>{titles}</definedNames>" if titles else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{_NS}" xmlns:r="{_REL_NS}"><sheets>{sheets}</sheets>{defined}</workbook>'
    )


def workbook_rels(parts: list[str]) -> str:
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


_BORDER = (
    '<left style="thin"><color rgb="FF999999"/></left><right style="thin"><color rgb="FF999999"/></right>'
)
_BORDER += _BORDER.replace("left", "top").replace("right", "bottom")


def _xf(fmt: int, font: int, fill: int, border: int, applies: str = "", alignment: str = "") -> str:
    inner = f"<alignment {alignment}/>" if alignment else ""
    head = f'<xf numFmtId="{fmt}" fontId="{font}" fillId="{fill}" borderId="{border}" xfId="0"{applies}'
    return f"{head}>{inner}</xf>" if inner else f"{head}/>"


_NUMBER, _FONT, _BORDERED = ' applyNumberFormat="1"', ' applyFont="1"', ' applyBorder="1"'
STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{_NS}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="&quot;¥&quot;#,##0.00"/></numFmts>'
    '<fonts count="3"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="16"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/>'
    "</patternFill></fill>"
    "</fills>"
    '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
    f"<border>{_BORDER}<diagonal/></border></borders>"
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="11">'
    + _xf(0, 0, 0, 0)
    + _xf(4, 0, 0, 0, _NUMBER)  # AMOUNT_STYLE
    + _xf(164, 0, 0, 0, _NUMBER)  # DATE_STYLE
    + _xf(0, 1, 0, 0, _FONT + ' applyAlignment="1"', 'horizontal="center"')  # TITLE_STYLE
    + _xf(
        0,
        2,
        2,
        1,
        _FONT + ' applyFill="1"' + _BORDERED + ' applyAlignment="1"',
        'horizontal="center" vertical="center" wrapText="1"',
    )  # HEAD_STYLE
    + _xf(165, 0, 0, 1, _NUMBER + _BORDERED)  # YUAN_STYLE
    + _xf(164, 0, 0, 1, _NUMBER + _BORDERED)  # BOX_DATE_STYLE
    + _xf(0, 0, 0, 1, _BORDERED)  # BOX_STYLE
    + _xf(0, 2, 0, 1, _FONT + _BORDERED)  # TOTAL_STYLE
    + _xf(165, 2, 0, 1, _NUMBER + _FONT + _BORDERED)  # TOTAL_YUAN_STYLE
    + _xf(0, 0, 0, 0, ' applyAlignment="1"', 'horizontal="right"')  # RIGHT_STYLE
    + "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


# ----------------------------------------------------------------------------- reading, bounded
#
# A workbook is a zip of XML parts; a small file can inflate to gigabytes (a zip bomb, one huge
# shared string, a huge sheet). ``check_package`` inflates every part once, as a stream, counting
# bytes against a budget and stopping at the first part past it, so nothing larger than a chunk
# is held; a reader (openpyxl) is given the file only after it passed. The same pass refuses
# what would make a spreadsheet program show other than the values a reader reads: a part, or an
# element of a sheet or of the workbook, that export never writes (a drawing, a comment, a
# conditional format, a calculation setting...), a formula, a hidden or squeezed row or column,
# a cell past the sheet's <dimension> (where openpyxl's reader stops) or out of order, a merge
# over figures, a page header or footer of other text. Sheets are parsed as XML (expat, as a
# stream), so an attribute is read in every spelling XML allows (quotes, spaces, references).

MAX_CELL_CHARS = 32_767  # Excel's limit for the text of one cell
MAX_PARTS = 10_000
_READ = 4 << 20
# the parts export writes besides its sheets; and those a spreadsheet program adds when it saves
# the workbook unchanged, which show nothing of their own: document properties, a theme, and the
# shared strings its cells' text moves to (read as those cells' values)
_PACKAGE_PARTS = frozenset(
    {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"}
)
_SAVED_PARTS = frozenset(
    {"docProps/app.xml", "docProps/core.xml", "xl/theme/theme1.xml", "xl/sharedStrings.xml"}
)
_SHEET_PART = re.compile(r"xl/worksheets/sheet[1-9][0-9]{0,5}\.xml")
_OFFICE_REL = _REL_NS + "/"
_WORKBOOK_RELATIONS = {
    _OFFICE_REL + "worksheet": None,  # a sheet's part: one sheet_parts names
    _OFFICE_REL + "styles": "xl/styles.xml",
    _OFFICE_REL + "theme": "xl/theme/theme1.xml",
    _OFFICE_REL + "sharedStrings": "xl/sharedStrings.xml",
}
_ROOT_RELATIONS = {
    _OFFICE_REL + "officeDocument": "xl/workbook.xml",
    _OFFICE_REL + "extended-properties": "docProps/app.xml",
    _PKG_REL_NS + "/metadata/core-properties": "docProps/core.xml",
}
_WORKBOOK_VIEW = f"{{{_NS}}}workbookView"
_WORKBOOK_PR = f"{{{_NS}}}workbookPr"
_WORKBOOK_ELEMENTS = frozenset(
    f"{{{_NS}}}{name}"
    for name in (
        "workbook",
        "workbookPr",
        "bookViews",
        "workbookView",
        "sheets",
        "sheet",
        "definedNames",
        "definedName",
    )
)
_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
# a cell's text of more than MAX_CELL_CHARS characters spans at least this many bytes of UTF-8
_LONG_TEXT = re.compile(rb"[^<]{" + str(MAX_CELL_CHARS * 4 + 1).encode("ascii") + rb",}")
_OVERLAP = 256


class PackageError(AuditError):
    """The workbook cannot be read within bounds, or shows what its values are not."""


def check_package(
    path: Path,
    part_budget: int,
    checked: frozenset[str] = frozenset(),
    later: Callable[[str], bool] | None = None,
) -> None:
    """Checks every part of the xlsx at ``path``: inflated size within ``part_budget`` bytes
    each (and ``4 * part_budget`` together); only parts export writes (or a program saving it
    unchanged adds), each sheet in ``xl/worksheets/``; in its sheets only elements export writes
    and no formula, no hidden row or column, no cell outside the sheet's dimension or out of
    order, no cell text past Excel's limit. Raises ``PackageError`` naming the part, and the
    sheet and cell where it can. ``checked``: sheets already found byte for byte as export
    writes them (the event log, by digest), whose content is not scanned again; ``later``: sheets
    whose content is scanned later, unless found as export writes them (``check_sheet_parts``)."""
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as e:  # a later zip version
        raise PackageError(
            _("not a readable xlsx (zip) file ({error})").format(error=type(e).__name__)
        ) from None
    with book:
        members = book.infolist()
        if len(members) > MAX_PARTS:
            raise PackageError(
                _("holds {count} parts, more than {most}").format(count=len(members), most=MAX_PARTS)
            )
        with path.open("rb") as handle:
            fault = layout_fault(handle, book)
        if fault is not None:
            raise PackageError(fault)
        seen: set[str] = set()
        for member in members:  # what the headers say first: the cheap refusal
            if member.file_size > part_budget:
                raise PackageError(
                    _(
                        "part {part} inflates to {size:,} bytes, more than the {budget:,} this bundle "
                        "allows; refused before reading it"
                    ).format(part=member.filename, size=member.file_size, budget=part_budget)
                )
            if member.filename.lower() in seen:  # part names are case-insensitive
                raise PackageError(
                    _("holds part {part} twice; programs differ on which one they read").format(
                        part=member.filename
                    )
                )
            seen.add(member.filename.lower())
        with path.open("rb") as handle:  # each part's sizes within the budget: inflating them is bounded
            fault = data_fault(handle, book)
        if fault is not None:
            raise PackageError(fault)
        first = [name for name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", "_rels/.rels",
                                   "[Content_Types].xml") if name in book.namelist()]  # fmt: skip
        for name in first:  # bounded before they are parsed whole
            _scan_part(book, book.getinfo(name), part_budget, None)
        try:
            names = {member: name for name, member in sheet_parts(book)}
            _check_structure(book, names)
        except PackageError:
            raise
        except _UNREADABLE_LIST as e:
            raise _no_list(e) from None
        total = 0
        for member in members:
            sheet = names.get(member.filename)
            if sheet is None and member.filename not in _PACKAGE_PARTS | _SAVED_PARTS:
                raise PackageError(
                    _(
                        "part {part} is one export never writes; it could show what the bundle does not hold"
                    ).format(part=member.filename)
                )
            left = sheet is not None and (sheet in checked or (later is not None and later(sheet)))
            if left or member.filename in first:
                total += member.file_size
                continue
            total += _scan_part(book, member, part_budget, sheet)
            if total > 4 * part_budget:
                raise PackageError(
                    _("inflates to more than {size:,} bytes; refused").format(size=4 * part_budget)
                )


def check_sheet_parts(path: Path, part_budget: int, sheets: Iterable[str]) -> None:
    """The content of the ``sheets`` named, as ``check_package`` checks a sheet's (which left them
    for ``later``); raises ``PackageError``."""
    try:
        with zipfile.ZipFile(path) as book:
            parts = dict(sheet_parts(book))
            for name in sheets:
                _scan_part(book, book.getinfo(parts[name]), part_budget, name)
    except PackageError:
        raise
    except _UNREADABLE_LIST as e:
        raise _no_list(e) from None


# what reading the workbook's list of sheets may raise, each a damaged or forged package
_UNREADABLE_LIST = (KeyError, ElementTree.ParseError, zipfile.BadZipFile, zlib.error, OSError, ValueError)


def _no_list(error: Exception) -> PackageError:
    return PackageError(_("has no readable list of sheets ({error})").format(error=type(error).__name__))


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
        parts.append((str(sheet.get("name")), _member_of(target)))
    return parts


def _member_of(target: str) -> str:
    """The zip member a relationship of xl/workbook.xml targets."""
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _check_structure(book: zipfile.ZipFile, sheets: dict[str, str]) -> None:
    """Each sheet in xl/worksheets/ (where export writes every one); the workbook's elements,
    relationships and content types only those export writes (or a program saving it adds)."""
    for member, name in sheets.items():
        if not _SHEET_PART.fullmatch(member):
            raise PackageError(
                _(
                    "sheet {sheet!r} is stored at {part}, outside xl/worksheets/ where export writes "
                    "every sheet"
                ).format(sheet=name, part=member)
            )
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    for element in workbook.iter():
        if element.tag not in _WORKBOOK_ELEMENTS:
            raise _element_refused("xl/workbook.xml", None, "", str(element.tag))
        if element.tag == _WORKBOOK_VIEW:
            _window(element.attrib)
        elif element.tag == _WORKBOOK_PR:
            _date_system(element.attrib)
    wanted = {**_WORKBOOK_RELATIONS}
    for part, relations in (("xl/_rels/workbook.xml.rels", wanted), ("_rels/.rels", _ROOT_RELATIONS)):
        for rel in ElementTree.fromstring(book.read(part)):
            kind, target = str(rel.get("Type")), str(rel.get("Target"))
            member = _member_of(target) if part.startswith("xl/") else target.lstrip("/")
            expected = relations.get(kind, "")
            if (
                kind not in relations
                or (expected is None and member not in sheets)
                or (expected and member != expected)
            ):
                raise PackageError(
                    _("part {part} relates {target} as {kind}, which export never writes").format(
                        part=part, target=target, kind=kind.rpartition("/")[2]
                    )
                )
    if "[Content_Types].xml" in book.namelist():
        for entry in ElementTree.fromstring(book.read("[Content_Types].xml")):
            main = ".main+xml" in str(entry.get("ContentType"))
            named = (
                entry.tag == f"{_CONTENT_TYPES_NS}Override" and entry.get("PartName") == "/xl/workbook.xml"
            )
            if main and not named:
                raise PackageError(
                    _(
                        "part [Content_Types].xml names {name} the workbook; export's is xl/workbook.xml"
                    ).format(name=entry.get("PartName") or entry.get("Extension") or "")
                )


def _element_refused(part: str, sheet: str | None, cell: str, tag: str) -> PackageError:
    local = tag.rpartition("}")[2].rpartition(" ")[2]
    return PackageError(
        _(
            "{where} holds a {element} element, which export never writes; it could show what the "
            "bundle does not hold"
        ).format(where=_place(part, sheet, cell), element=local)
    )


def _place(part: str, sheet: str | None, cell: str = "") -> str:
    """Where in the workbook: the sheet and cell if known, else the part."""
    if sheet is not None and cell:
        return _("sheet {sheet!r} cell {cell} (part {part})").format(sheet=sheet, cell=cell, part=part)
    if sheet is not None:
        return _("part {part} (sheet {sheet!r})").format(part=part, sheet=sheet)
    return _("part {part}").format(part=part)


def _scan_part(book: zipfile.ZipFile, member: zipfile.ZipInfo, budget: int, sheet: str | None) -> int:
    """Inflates ``member`` within ``budget``; a sheet's part (``sheet`` its name) parsed as it
    streams (``_SheetScan``), its text and the shared strings' checked against Excel's limit."""
    size = 0
    scan = _SheetScan(member.filename, sheet) if sheet is not None else None
    has_text = scan is not None or member.filename == "xl/sharedStrings.xml"
    tail = b""
    try:
        with book.open(member) as handle:
            for chunk in iter(lambda: handle.read(_READ), b""):
                size += len(chunk)
                if size > budget:  # the header understated it: stop inflating now
                    raise PackageError(
                        _(
                            "part {part} inflates to more than the {budget:,} bytes this bundle allows (its "
                            "zip header says less); refused"
                        ).format(part=member.filename, budget=budget)
                    )
                window = tail + chunk  # the tail: the text check's when the part has text, else the forms'
                if has_text and _longest_text(window) > _MAX_TEXT_BYTES and (m := _LONG_TEXT.search(window)):
                    raise PackageError(
                        _("{where} holds a cell longer than {most:,} characters").format(
                            where=_long_at(member.filename, sheet, window, m.start()), most=MAX_CELL_CHARS
                        )
                    )
                _refuse_forms(member.filename, sheet, window, final=False)
                if scan is not None:
                    scan.feed(chunk)
                tail = window[-(_MAX_TAIL if has_text else _FORM_TAIL) :]
            _refuse_forms(member.filename, sheet, tail, final=True)
            if scan is not None:
                scan.feed(b"", final=True)
    except PackageError:
        raise
    except expat.ExpatError as e:
        raise PackageError(
            _("part {part} is not well-formed XML ({error})").format(
                part=member.filename, error=expat.ErrorString(e.code)
            )
        ) from None
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
        RuntimeError,
    ) as e:
        raise PackageError(
            _("part {part} cannot be read ({error})").format(part=member.filename, error=type(e).__name__)
        ) from None
    return size


_FORM_TAIL = 256  # bytes carried to the next chunk for the patterns below, each shorter


def _refuse_forms(part: str, sheet: str | None, window: bytes, final: bool) -> None:
    """A DTD in any part (an entity can make a small part huge, or a message quoting it), a sheet's
    value not written as a number, rich or phonetic text in the shared strings. A match starting
    in the window's last ``_FORM_TAIL`` bytes is judged with the next chunk, unless ``final``."""
    last = len(window) if final else len(window) - _FORM_TAIL
    found = _DECLARED.search(window)
    if found is not None and found.start() < last:
        raise _element_refused(part, sheet, "", "DOCTYPE")
    if sheet is not None:
        found = _NOT_A_NUMBER.search(window)
        if found is not None and found.start() < last:
            ref = _CELL_AT.findall(window, 0, found.start())
            raise PackageError(
                _("{where} holds a value not written as a number; programs differ on what it shows").format(
                    where=_place(part, sheet, ref[-1].decode() if ref else "")
                )
            )
    elif part == "xl/sharedStrings.xml":
        found = _RICH.search(window)
        if found is not None and found.start() < last:
            raise PackageError(
                _(
                    "part {part} holds text in several fonts or phonetic text over it; export writes "
                    "plain text"
                ).format(part=part)
            )


_MAX_TEXT_BYTES = MAX_CELL_CHARS * 4
_CELL_AT = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br\s*=\s*["\']([A-Z]{1,3}[0-9]{1,7})["\']')


def _long_at(part: str, sheet: str | None, window: bytes, at: int) -> str:
    """Where the long text at ``at`` of a part's ``window`` is: its sheet and the cell before it."""
    if sheet is None:
        return _("part {part} (shared strings)").format(part=part)
    refs = [m.group(1).decode("ascii") for m in _CELL_AT.finditer(window, max(0, at - 4096), at)]
    return _place(part, sheet, refs[-1] if refs else "")


_MAIN = _NS + " "  # expat's names: namespace, a space, local name
_CELL, _ROW, _VALUE, _INLINE, _TEXT = (_MAIN + name for name in ("c", "row", "v", "is", "t"))
# what export writes in a sheet, and what a program saving it unchanged adds (outline settings,
# the default row height, empty page headers): anything else is refused
_SHEET_ELEMENTS = frozenset(
    _MAIN + name
    for name in (
        "worksheet", "sheetPr", "outlinePr", "pageSetUpPr", "dimension", "sheetViews", "sheetView", "pane",
        "selection", "sheetFormatPr", "cols", "col", "sheetData", "row", "c", "v", "is", "t", "mergeCells",
        "mergeCell", "printOptions", "pageMargins", "pageSetup", "headerFooter", "oddHeader", "oddFooter",
        "evenHeader", "evenFooter", "firstHeader", "firstFooter",
    )
)  # fmt: skip
_PAGE_TEXTS = frozenset({"", "&C&P / &N"})  # a page header or footer: nothing, or the page number
_CELL_REF = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})")
_CELL_ATTRIBUTES = frozenset({"r", "s", "t"})
_SPACE = "http://www.w3.org/XML/1998/namespace space"  # xml:space, on a text
# a value (<v>) not written as a number: Python reads "150000_0.00" and "١٥" as numbers, which a
# program reading ASCII digits takes for others; export writes numbers and shared-string indexes
_NOT_A_NUMBER = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?v(?:\s[^>]*)?>(?!-?[0-9]{1,20}(?:\.[0-9]{1,20})?(?:[eE][-+]?[0-9]{1,3})?</)"
)
# in the shared strings, runs of text each in its own font, and phonetic text over a string
_RICH = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:r|rPh|phoneticPr)[\s/>]")
_DECLARED = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_RANGE = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})(?::([A-Z]{1,3})([1-9][0-9]{0,6}))?")
# a row lower than this many points, a column narrower than this many characters, hides what it
# holds as surely as hiding it (a line of the 11-point text export writes needs 15 points)
_LEAST_HEIGHT = 8.0
_LEAST_WIDTH = 1.0


def _column(letters: str) -> int:
    """A -> 1, Z -> 26, AA -> 27."""
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def _true(value: str) -> bool:
    """An XML boolean that is not plainly false (a value no program agrees on counts as true)."""
    return value.strip() not in ("0", "false")


# a size as export and a spreadsheet program write it: Python's float() also reads "0_8" and
# "١٥" (8 and 15), which a program reading ASCII digits takes for 0, a row or column it hides
_SIZE = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,17})?")


def _below(value: str, least: float) -> bool:
    """A size below ``least``, or not written as a plain decimal number."""
    return _SIZE.fullmatch(value) is None or float(value) < least


def _plainly_true(value: str) -> bool:
    """An XML boolean every program takes for true."""
    return value.strip() in ("1", "true")


def _anything(value: str) -> bool:
    return True


def _nothing(value: str) -> bool:
    """A setting export never writes (nor a program saving the workbook unchanged), whatever its value."""
    return False


# the workbook's window (export writes none; openpyxl, LibreOffice and Excel write one when they save
# the workbook): shown, not minimized, its sheet tabs shown from the first sheet on and given a
# tenth of its width or more (tabs hidden, scrolled past or squeezed out of sight keep a sheet from
# a reader who does not know it is there), at least two inches (2,880 twips) wide and high; which
# sheet it opens on, its place on the screen and its scroll bars show every figure as it is
_LEAST_WINDOW = 2880
_LEAST_TAB_RATIO = 100  # thousandths of the window's width
_WINDOW_AS_EXPORTED: dict[str, Callable[[str], bool]] = {
    "minimized": lambda value: not _true(value),
    "showSheetTabs": _plainly_true,
    "firstSheet": lambda value: value == "0",
    "tabRatio": lambda value: not _below(value, _LEAST_TAB_RATIO),
    "windowWidth": lambda value: not _below(value, _LEAST_WINDOW),
    "windowHeight": lambda value: not _below(value, _LEAST_WINDOW),
    "activeTab": _anything,
    "xWindow": _anything,
    "yWindow": _anything,
    "showHorizontalScroll": _anything,
    "showVerticalScroll": _anything,
    "autoFilterDateGrouping": _anything,
}


def _window(attrs: dict[str, str]) -> None:
    """The workbook's window as it shows every sheet (``_WINDOW_AS_EXPORTED``); raises
    ``PackageError`` naming the first setting that could hide one, or one export never writes."""
    if attrs.get("visibility", "visible") != "visible":
        raise PackageError(_("part xl/workbook.xml hides the workbook's window; export shows it"))
    for name, value in attrs.items():
        if name != "visibility" and not _WINDOW_AS_EXPORTED.get(name, _nothing)(value):
            raise PackageError(
                _(
                    "part xl/workbook.xml sets {attribute}={value!r} on the workbook's window, which export "
                    "never writes; it could hide a sheet or its figures"
                ).format(attribute=name[:40], value=value[:20])
            )


def _date_system(attrs: dict[str, str]) -> None:
    """The workbook's dates counted from 1899-12-30, as export writes them (it writes no
    workbookPr; LibreOffice writes date1904="false"). A sheet stores a date as a count of days:
    date1904 counts them from 1904-01-01, so a program shows every date 1,462 days (four years and
    a day) later, and dateCompatibility off drops 1900's false leap day, a day later; a reader of
    the values (or the bytes, for a sheet as export writes it) reads the dates export wrote.
    Raises ``PackageError`` naming the setting."""
    for name, shifts in (("date1904", _true), ("dateCompatibility", lambda value: not _true(value))):
        value = attrs.get(name)
        if value is not None and shifts(value):
            raise PackageError(
                _(
                    "part xl/workbook.xml sets {attribute}={value!r}, which export never writes; a program "
                    "would show every date of the workbook on another day"
                ).format(attribute=name, value=value[:20])
            )


# a sheet's view: a zoom (export writes none: 100%) of 100% to 400%, Excel's most; a view's zoom
# other than the one it opens in may also be 0, which is "as the program chooses"
_ZOOMS = frozenset({"zoomScale", "zoomScaleNormal", "zoomScalePageLayoutView", "zoomScaleSheetLayoutView"})
_ZOOM = re.compile(r"[0-9]{1,3}")
_LEAST_ZOOM, _MOST_ZOOM = 100, 400


def _readable_zoom(value: str, zero: bool) -> bool:
    return _ZOOM.fullmatch(value) is not None and (
        _LEAST_ZOOM <= int(value) <= _MOST_ZOOM or (zero and int(value) == 0)
    )


# what a program saving the workbook unchanged writes in a sheet's view, any value showing every
# figure as it is: the sheet's window, whether its tab is selected, grid lines and their colour,
# the ruler and white space of the page layout view, outline symbols, a protected window
_VIEW_HARMLESS = frozenset(
    {
        "workbookViewId", "tabSelected", "showGridLines", "defaultGridColor", "colorId", "showRuler",
        "showWhiteSpace", "showOutlineSymbols", "windowProtection",
    }
)  # fmt: skip
# the view's settings that could hide or move a figure, each as export leaves it (a program saving
# the workbook may write it so): values with their formats, not right to left (column A on the
# right), the row and column headings shown, the normal view (not pages shrunk to fit), scrolled
# to A1 (frozen panes keep the rows above the top left cell out of reach)
_VIEW_AS_EXPORTED: dict[str, Callable[[str], bool]] = {
    "showFormulas": lambda value: not _true(value),
    "rightToLeft": lambda value: not _true(value),
    "showRowColHeaders": _plainly_true,
    "showZeros": _plainly_true,
    "view": lambda value: value == "normal",
    "topLeftCell": lambda value: value == "A1",
}
# a pane as export writes it: frozen, over at most the head rows of a sheet, no column frozen
# (frozen rows or columns past the window's size would keep the rest out of sight)
_PANE_AS_EXPORTED: dict[str, Callable[[str], bool]] = {
    "state": lambda value: value == "frozen",
    "xSplit": lambda value: value == "0",
    "ySplit": lambda value: value.isdigit() and value.isascii() and int(value) <= HEADER_ROW,
    "topLeftCell": _anything,
    "activePane": _anything,
}


class _SheetScan:
    """Checks a sheet part as expat parses it, chunk by chunk: one call per element, nothing kept
    but the current row and cell. Raises ``PackageError`` at the first thing refused."""

    def __init__(self, part: str, sheet: str) -> None:
        self.part = part
        self.sheet = sheet
        self.cell = ""
        self._row = 0
        self._row_text = ""
        self._row_inside = True
        self._col = 0
        self._bounds: tuple[int, int, int, int] | None = None
        self._stated = False  # a dimension was stated
        self._data = False  # the cells have begun
        self._columns: dict[str, int] = {}
        self._text: list[str] = []
        self._held = ""
        self._kind = "n"
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.StartElementHandler = self._start
        parser.StartDoctypeDeclHandler = self._doctype
        self._parser = parser

    def feed(self, data: bytes, final: bool = False) -> None:
        self._parser.Parse(data, final)

    def _where(self) -> str:
        return _place(self.part, self.sheet, self.cell)

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        if name == _CELL:
            ref = attrs.get("r")
            m = _CELL_REF.fullmatch(ref) if ref is not None else None
            if m is None:
                raise self._unreferenced("c", ref)
            self._held = ""  # the cell's content so far: nothing, a value, an inline string, its text
            self._kind = attrs.get("t", "n")
            if len(attrs) > 3 or not attrs.keys() <= _CELL_ATTRIBUTES:
                self.cell = ref or ""
                strange = sorted(attrs.keys() - _CELL_ATTRIBUTES) or sorted(attrs)
                raise _element_refused(self.part, self.sheet, self.cell, f"c {strange[0]}=")
            letters, row = m.groups()
            col = self._columns.get(letters) or self._columns.setdefault(letters, _column(letters))
            self.cell = ref or ""
            if row != self._row_text:
                raise PackageError(
                    _("{where} lies in row {row}; programs differ on where it shows").format(
                        where=self._where(), row=self._row
                    )
                )
            if col <= self._col:
                raise self._disordered(f"{column_letter(self._col - 1)}{row}")
            self._col = col
            bounds = self._bounds
            if not self._row_inside or (bounds is not None and not bounds[0] <= col <= bounds[2]):
                raise self._outside()
        elif name == _VALUE or name == _INLINE or name == _TEXT:
            # one value, or one inline string of one text, as export writes a cell: programs differ
            # on which of two they show, and on an inline string in a cell of another type
            held = self._held
            if name == _VALUE:
                fits = held == "" and self._kind != "inlineStr"
            elif name == _INLINE:
                fits = held == "" and self._kind == "inlineStr"
            else:
                fits = held == "is"
            if not fits or attrs.keys() - {_SPACE}:
                raise PackageError(
                    _(
                        "{where} holds its content in a form export never writes; programs differ on what "
                        "it shows"
                    ).format(where=self._where())
                )
            self._held = "v" if name == _VALUE else "is" if name == _INLINE else "t"
            return
        elif name == _ROW:
            self._start_row(attrs)
        elif name in _SHEET_ELEMENTS:
            self._other(name[len(_MAIN) :], attrs)
        elif name == _MAIN + "f":
            raise PackageError(
                _("{where} holds a formula; a bundle's cells are values").format(where=self._where())
            )
        else:
            raise _element_refused(self.part, self.sheet, self.cell, name)

    def _start_row(self, attrs: dict[str, str]) -> None:
        ref = attrs.get("r", "")
        if not (ref.isdigit() and ref.isascii() and 0 < len(ref) <= 7):
            raise self._unreferenced("row", ref)
        row = int(ref)
        if row <= self._row:
            raise PackageError(
                _(
                    "part {part} (sheet {sheet!r}) row {row} is out of order (after row {before}); "
                    "programs differ on what it shows"
                ).format(part=self.part, sheet=self.sheet, row=row, before=self._row)
            )
        self._row, self._row_text, self._col = row, str(row), 0
        bounds = self._bounds
        self._row_inside = bounds is None or bounds[1] <= row <= bounds[3]
        if len(attrs) > 1 and (
            _true(attrs.get("hidden", "0")) or _below(attrs.get("ht", "15"), _LEAST_HEIGHT)
        ):
            raise PackageError(
                _("part {part} (sheet {sheet!r}) hides a row (row {row})").format(
                    part=self.part, sheet=self.sheet, row=row
                )
            )

    def _other(self, local: str, attrs: dict[str, str]) -> None:
        if local == "dimension":
            self._dimension(attrs.get("ref", ""))
        elif local == "sheetData":
            self._data = True
        elif local == "sheetView":
            self._view(attrs)
        elif local == "pane":
            self._pane(attrs)
        elif local == "col":
            if _true(attrs.get("hidden", "0")) or _below(attrs.get("width", "9"), _LEAST_WIDTH):
                try:
                    column = column_letter(int(attrs.get("min", "")) - 1)
                except ValueError:
                    column = "?"
                raise PackageError(
                    _("part {part} (sheet {sheet!r}) hides a col (column {column})").format(
                        part=self.part, sheet=self.sheet, column=column
                    )
                )
        elif local == "sheetFormatPr":
            if (
                _true(attrs.get("zeroHeight", "0"))
                or _below(attrs.get("defaultRowHeight", "15"), _LEAST_HEIGHT)
                or _below(attrs.get("defaultColWidth", "9"), _LEAST_WIDTH)
                or _below(attrs.get("baseColWidth", "8"), _LEAST_WIDTH)
            ):
                raise PackageError(
                    _("part {part} (sheet {sheet!r}) hides a row or column by default").format(
                        part=self.part, sheet=self.sheet
                    )
                )
        elif local == "mergeCell":
            ref = attrs.get("ref", "")
            m = _RANGE.fullmatch(ref)
            if m is None or m.group(2) != "1" or m.group(4) not in (None, "1"):
                raise PackageError(
                    _(
                        "part {part} (sheet {sheet!r}) merges {cells}, which shows only its first cell; "
                        "export merges only the title row"
                    ).format(part=self.part, sheet=self.sheet, cells=ref)
                )
        elif local.endswith(("Header", "Footer")):
            self._text = []
            self._parser.CharacterDataHandler = self._text.append
            self._parser.EndElementHandler = self._end_page_text

    def _view(self, attrs: dict[str, str]) -> None:
        """A sheet's view as export leaves it (at 100%, A1 top left, left to right, values shown
        with their formats, zeros and the row and column headings shown), or changed only in what
        shows every figure as it is (grid lines, the tab selected...): a program saving the
        workbook unchanged writes those settings."""
        if not _plainly_true(attrs.get("showZeros", "1")):
            raise PackageError(
                _("part {part} (sheet {sheet!r}) shows zero amounts as empty cells").format(
                    part=self.part, sheet=self.sheet
                )
            )
        for name, value in attrs.items():
            if name in _ZOOMS:
                if not _readable_zoom(value, name != "zoomScale"):
                    raise PackageError(
                        _(
                            "part {part} (sheet {sheet!r}) is zoomed to {value!r} ({attribute}), outside "
                            "100% to 400%: a figure could be too small to read; export shows it at 100%"
                        ).format(part=self.part, sheet=self.sheet, value=value[:20], attribute=name)
                    )
            elif not (name in _VIEW_HARMLESS or _VIEW_AS_EXPORTED.get(name, _nothing)(value)):
                raise PackageError(
                    _(
                        "part {part} (sheet {sheet!r}) sets {attribute}={value!r} in its view, which export "
                        "never writes; it could hide or move a figure"
                    ).format(part=self.part, sheet=self.sheet, attribute=name[:40], value=value[:20])
                )

    def _pane(self, attrs: dict[str, str]) -> None:
        """Panes as export freezes them: the rows of a sheet's head (no more), no column."""
        for name, value in {"state": "split", **attrs}.items():  # a pane without a state is split
            if not _PANE_AS_EXPORTED.get(name, _nothing)(value):
                raise PackageError(
                    _(
                        "part {part} (sheet {sheet!r}) sets {attribute}={value!r} on its pane; export only "
                        "freezes its head rows, and a larger pane or a split could keep figures out of sight"
                    ).format(part=self.part, sheet=self.sheet, attribute=name[:40], value=value[:20])
                )

    def _end_page_text(self, name: str) -> None:
        self._parser.CharacterDataHandler = None
        self._parser.EndElementHandler = None
        text = "".join(self._text)
        if text not in _PAGE_TEXTS:
            raise PackageError(
                _(
                    "part {part} (sheet {sheet!r}) prints {text!r} in its {element}; export prints only the "
                    "page number there"
                ).format(part=self.part, sheet=self.sheet, text=text, element=name[len(_MAIN) :])
            )

    def _dimension(self, ref: str) -> None:
        m = _RANGE.fullmatch(ref)
        if m is None or self._stated or self._data:
            raise PackageError(
                _(
                    "part {part} (sheet {sheet!r}) states its dimension {ref!r} twice, after its cells or "
                    "in no form a reader takes; readers differ on where the sheet ends"
                ).format(part=self.part, sheet=self.sheet, ref=ref)
            )
        first_col, first_row, last_col, last_row = m.groups()
        self._stated = True
        self._bounds = (
            _column(first_col),
            int(first_row),
            _column(last_col or first_col),
            int(last_row or first_row),
        )

    def _doctype(self, *args: object) -> None:
        raise _element_refused(self.part, self.sheet, "", "DOCTYPE")

    def _unreferenced(self, element: str, ref: str | None) -> PackageError:
        return PackageError(
            _(
                "part {part} (sheet {sheet!r}) has a {element} element whose reference is {ref!r}, not one "
                "export writes; programs differ on where it shows"
            ).format(part=self.part, sheet=self.sheet, element=element, ref=ref or "")
        )

    def _disordered(self, before: str) -> PackageError:
        return PackageError(
            _("{where} is out of order (after {before}); programs differ on what it shows").format(
                where=self._where(), before=before
            )
        )

    def _outside(self) -> PackageError:
        bounds = self._bounds
        stated = (
            ""
            if bounds is None
            else (f"{column_letter(bounds[0] - 1)}{bounds[1]}:{column_letter(bounds[2] - 1)}{bounds[3]}")
        )
        return PackageError(
            _(
                "{where} lies outside its dimension {dimension}, where a reader of its values stops but a "
                "spreadsheet program shows on"
            ).format(where=self._where(), dimension=stated)
        )


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
