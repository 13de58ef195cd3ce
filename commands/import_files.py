"""Reading an import file (CSV or Excel workbook) as rows of cells, within bounds a small hostile
file cannot push memory past.

A CSV cell that the export wrote behind an apostrophe (text a spreadsheet would run as a formula,
``ledger.text.escape_formula``) is read without it; a workbook's cells are read as they are.

A workbook is a zip of XML parts, and a 400 KB file can hold a 400 MB cell: openpyxl builds each
cell's text whole (and the shared strings all at once), so such a file costed gigabytes before a
row was judged. Before openpyxl opens it, the zip's directory and every XML part are checked as
streams: uncompressed sizes (in total, and against each part's compressed size), and the longest
stretch between two tags, which bounds every cell's text. Python's zipfile stops reading a part at
the size its directory declares, so a part cannot grow past what was checked. A sheet is read
``COLUMNS_READ`` columns wide, whatever its dimension declares or its cells' columns say: a row's
value past them is seen (the row refused), not read into cells.
"""

from __future__ import annotations

import codecs
import csv
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from audit.verifier.ooxml_text import as_shown, load_as_stored
from commands.i18n import _
from ledger.errors import BadInputError
from ledger.import_format import ALIASES, HEADER, WideRow
from ledger.text import WHITE_SPACE, unescape_formula

if TYPE_CHECKING:
    from commands.workbook_seen import Unseen

# openpyxl's warnings about the workbooks it reads (a missing default style, a date out of range)
# are not an officer's to read: the import says in its own sentences what it refuses
warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\.")
# The built-in number formats Chinese Excel writes by their id alone (ECMA-376 §18.8.30, zh-cn)
# that show a whole date: openpyxl knows only the ids every locale shares, and read such a date
# cell as its serial number ('45445' is not a date, where the sheet shows 2024年6月2日). The ids
# that show a month without its day, or a day without its year, stay unknown: a date an officer
# does not see whole is refused, not guessed.
CHINESE_DATE_FORMATS = {30: "m-d-yy", 31: 'yyyy"年"m"月"d"日"'}

WORKBOOKS = (".xlsx", ".xlsm")
TEXTS = (".csv", ".tsv", ".txt")

# The longest stretch of XML between two tags (a cell's text, or a tag and its attributes): a
# cell at Excel's own limit of 32,767 characters, in four bytes of UTF-8 each, twice over. No
# field of the import format comes near it (free text: 500 characters).
RUN_MAX = 8 * 32_767
# Uncompressed sizes: all parts together, and a part read whole (the shared strings above all)
# against its compressed size: a table of distinct strings compresses some 3-10 times, a repeated
# character a thousand times. Sheets are read as streams, so only their cells' lengths matter
# (a sheet repeating one long memo on every row compresses 250 times).
TOTAL_MAX = 1 << 30
RATIO_MAX = 100
RATIO_FROM = 1 << 20  # parts smaller than this may compress as well as they like
_STREAMED = "xl/worksheets/"
_CHUNK = 1 << 20
# anchored on "<": unanchored, re retries [^<]{n} from every byte of a run (quadratic time)
_LONG_RUN = re.compile(rb"<[^<]{%d}" % (RUN_MAX + 1))
# Chinese characters (CJK ideographs and punctuation, full-width forms) as UTF-8 reads them
_CHINESE = re.compile("[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
_FOREIGN = re.compile("[^\x00-\x7f]+")  # a run of other than ASCII
# where the scripts two UTF-8 bytes write begin (Latin, IPA and modifier letters, combining marks,
# Greek, Cyrillic, Armenian, Hebrew, Arabic, Syriac and Thaana): GBK's common characters read as
# UTF-8 are letters of one of them each, two of them seldom of one (实训 as ʵѵ: a modifier letter
# and a Cyrillic one), where a word a person wrote keeps to one
_SCRIPTS = (0x80, 0x250, 0x300, 0x370, 0x400, 0x530, 0x590, 0x600, 0x700, 0x800)


def _mixed_scripts(text: str) -> bool:
    """Whether a run of other than ASCII in ``text`` holds letters of two of those scripts."""
    from bisect import bisect_right

    for run in _FOREIGN.findall(text):
        scripts = {bisect_right(_SCRIPTS, ord(c)) for c in run if ord(c) < 0x800}
        if len(scripts) > 1:
            return True
    return False


_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# The columns of a workbook's sheet an import reads: those of the import format (HEADER and the
# optional ones ALIASES names, 18) several times over, room for a finance system's own columns
# beside them. Read without a bound, openpyxl makes every row as wide as the sheet's declared
# dimension or its last cell: a 5 KB sheet declaring A1:XFD4000, or holding one cell at column
# XFD per row, had 16,384 cells made per row. A value past them is not dropped unseen: in the
# header the file is refused, in another row that row is (ledger.import_format.WideRow).
FORMAT_COLUMNS = len({*HEADER, *ALIASES.values()})
COLUMNS_READ = 64


class Opened(NamedTuple):
    """An import file opened: how many rows follow the header (for a progress bar: a text file's
    lines, a workbook's dimension), its rows as lists of cells, streamed (header first), and how
    a text file was read, said to the person importing it unless it is UTF-8 and comma-separated
    (its encoding and separator, such as ``read as GB18030, tab-separated``)."""

    rows: int
    cells: Iterator[list[Any]]
    reading: str


def open_import(path: Path) -> Opened:
    """The file, opened for reading. A workbook past the bounds is refused here, before openpyxl
    opens it; a text file is UTF-8 (with or without BOM) or else GB18030 (which includes GBK and
    GB2312), as the whole file decodes, and comma- or tab-separated as its header line is."""
    if not path.is_file():  # a pipe or a device: read twice (its encoding, then its rows), it cannot be
        msg = _("{file} is not a regular file (a pipe or a device); save it to a file and import that")
        raise BadInputError(msg.format(file=path))
    suffix = path.suffix.lower()
    if suffix in WORKBOOKS:
        check_workbook(path)
        return Opened(_workbook_rows(path), _workbook_cells(path), "")
    if suffix not in TEXTS:
        msg = _("{file}: import reads .csv, .tsv or .xlsx files").format(file=path.name)
        raise BadInputError(msg)
    encoding, lines = _encoding(path)
    delimiter = _delimiter(path, encoding)
    named = {"utf-8": "UTF-8", "utf-8-sig": _("UTF-8 (with BOM)"), "gb18030": "GB18030"}[encoding]
    tabs = delimiter == "\t"
    # said unless the file is as the export writes it: UTF-8, commas
    plain = encoding != "gb18030" and delimiter == ","
    said = _("read as {encoding}, tab-separated") if tabs else _("read as {encoding}, comma-separated")
    reading = "" if plain else said.format(encoding=named)
    return Opened(max(0, lines - 1), _csv_cells(path, encoding, delimiter), reading)


def _encoding(path: Path) -> tuple[str, int]:
    """The text's encoding, ``utf-8-sig`` (a BOM first), ``utf-8`` or ``gb18030``, whichever decodes
    the whole file first, and its count of lines; one sentence if neither does, or if the file
    mixes them (a BOM, or a line of Chinese in UTF-8, before bytes UTF-8 cannot read: GB18030
    would read that line as other characters)."""
    lines = 0
    utf8 = codecs.getincrementaldecoder("utf-8")()
    failed: int | None = None  # the offset of the first byte UTF-8 cannot read
    read = 0
    chinese_line = 0  # the first line number (1-based) read as UTF-8 holding Chinese text
    with path.open("rb") as f:
        head = f.read(4)
        f.seek(0)
        while chunk := f.read(_CHUNK):
            if failed is None:
                try:
                    text = utf8.decode(chunk)
                except UnicodeDecodeError as e:
                    failed = read + e.start
                    text = chunk[: e.start].decode("utf-8", "ignore")
                    text = text[: text.rfind("\n") + 1]  # whole lines only
                found = None if chinese_line else _CHINESE.search(text)
                if found is not None:
                    chinese_line = lines + text.count("\n", 0, found.start()) + 1
            lines += chunk.count(b"\n")
            read += len(chunk)
        if failed is None:
            try:
                utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                failed = read
        if failed is None:
            if head[:3] != codecs.BOM_UTF8 and not chinese_line:
                _gbk_read_as_utf8(path, f)
            return ("utf-8-sig" if head[:3] == codecs.BOM_UTF8 else "utf-8"), lines
        if head in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE):  # the first starts as UTF-16's does
            msg = _("{file} is UTF-32 text, which import does not read; save it as CSV UTF-8")
            raise BadInputError(msg.format(file=path.name))
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            msg = _(
                '{file} is UTF-16 text (Excel\'s "Unicode text"), which import does not read; '
                "save it as CSV UTF-8"
            ).format(file=path.name)
            raise BadInputError(msg)
        if head[:3] == codecs.BOM_UTF8 or chinese_line:
            if head[:3] == codecs.BOM_UTF8:
                mixed = _(
                    "{file} mixes encodings: starts as UTF-8 (a BOM) but byte {byte} is not UTF-8; "
                    "save it again as CSV UTF-8"
                )
            else:
                mixed = _(
                    "{file} mixes encodings: line {line} is UTF-8 but byte {byte} is not UTF-8; "
                    "save it again as CSV UTF-8"
                )
            msg = mixed.format(file=path.name, line=chinese_line, byte=failed)
            raise BadInputError(msg)
        f.seek(0)
        gb = codecs.getincrementaldecoder("gb18030")()
        read = 0
        pending = b""  # the last line read so far, not yet whole
        line = 1  # the number of pending's line
        utf8_line = None  # the first line that reads as Chinese in UTF-8
        try:
            while chunk := f.read(_CHUNK):
                whole, newline, pending = (pending + chunk).rpartition(b"\n")
                at = _utf8_chinese_line(whole)
                if at is not None:
                    utf8_line = line + at
                    break
                line += whole.count(b"\n") + len(newline)
                if len(pending) > RUN_MAX:  # longer than any line the import reads (refused there)
                    pending = b""
                gb.decode(chunk)
                read += len(chunk)
            else:
                gb.decode(b"", final=True)
        except UnicodeDecodeError as e:
            if _utf8_chinese_line(pending) is not None:  # the line GB18030 could not read
                utf8_line = line
            else:
                msg = _(
                    "{file} is neither UTF-8 nor GB18030/GBK text (byte {byte} is neither's); "
                    "save it as CSV UTF-8"
                ).format(file=path.name, byte=read + e.start)
                raise BadInputError(msg) from None
        if utf8_line is None and _utf8_chinese_line(pending) is not None:
            utf8_line = line
        if utf8_line is not None:
            mixed = _(
                "{file} mixes encodings: line {line} is UTF-8 but byte {byte} is not UTF-8; "
                "save it again as CSV UTF-8"
            )
            raise BadInputError(mixed.format(file=path.name, line=utf8_line, byte=failed))
    return "gb18030", lines


def _gbk_read_as_utf8(path: Path, f: Any) -> None:
    """Refuse a file that reads as UTF-8 without one Chinese character, whose first line of other
    than ASCII reads as GBK as common Chinese: a few GBK characters can happen to be UTF-8 (实训 is
    ʵѵ), and a file with no BOM and no Chinese read so cannot say which it is."""
    f.seek(0)
    for number, line in enumerate(f, 1):
        if line.isascii():
            continue
        try:
            gbk = line.decode("gb18030")
        except UnicodeDecodeError:
            return
        text = line.decode("utf-8")
        if not _common(gbk) or not _mixed_scripts(text):
            return  # Müller ¥200, Łódź, Jīdiàn, ООО, Αθήνα: words of one script each, as UTF-8 writes them
        as_utf8 = _FOREIGN.search(text)
        as_gbk = _FOREIGN.search(gbk)
        msg = _(
            "{file}: line {line} reads as UTF-8 as {utf8} and as GBK as {gbk}, and no line holds Chinese "
            "read as UTF-8; save it again as CSV UTF-8 (Excel's, which begins with a BOM) so it is "
            "read one way"
        ).format(
            file=path.name,
            line=number,
            utf8=as_utf8.group()[:12] if as_utf8 else "",
            gbk=as_gbk.group()[:12] if as_gbk else "",
        )
        raise BadInputError(msg)


def _utf8_chinese_line(text: bytes) -> int | None:
    """The index (0-based) of the first of ``text``'s lines that was saved as UTF-8 Chinese; None
    if none was. In a file GB18030 reads, such a line reads as UTF-8, and holds more of the common
    characters (GB2312's first level, the 3,755 most used) read so than read as GB18030, which
    makes rare characters of it (记账 as 璁拌处). GBK text seldom reads as UTF-8 at all, and then as
    rare characters: a GBK line naming 濮洪波 reads as UTF-8 姺鲨, and is GBK's."""
    if text.isascii():
        return None
    for n, line in enumerate(text.split(b"\n")):
        if line.isascii():
            continue
        try:
            decoded = line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if _CHINESE.search(decoded) and _common(decoded) > _common(line.decode("gb18030", "replace")):
            return n
    return None


def _common(text: str) -> int:
    """How many of the characters are among the 3,755 most used (GB2312's first level)."""
    count = 0
    for character in text:
        if "\u4e00" <= character <= "\u9fff":
            try:
                encoded = character.encode("gb2312")
            except UnicodeEncodeError:
                continue
            count += 0xB0 <= encoded[0] <= 0xD7
    return count


def _delimiter(path: Path, encoding: str) -> str:
    """A tab if the header line holds more tabs than commas (a .tsv file, or text copied from a
    spreadsheet), else a comma, whatever the file's name says."""
    with path.open(encoding=encoding, newline="") as f:
        header = f.readline(1 << 16)
    return "\t" if header.count("\t") > header.count(",") else ","


def _csv_cells(path: Path, encoding: str, delimiter: str) -> Iterator[list[str]]:
    try:
        with path.open(encoding=encoding, newline="") as f:
            # strict: a quote opened on the last line and never closed is refused, where the rest
            # of the file had been read into its cell (a payee "ACME, Ltd,memo" took the memo's place)
            reader = csv.reader(f, delimiter=delimiter, strict=True)
            lines = 0
            try:
                for row in reader:
                    if "'" in "".join(row):  # only a row with an apostrophe holds an escaped formula
                        row = [unescape_formula(c) if c[:1] == "'" else c for c in row]
                    yield row
                    lines += 1
                    if reader.line_num != lines:
                        # a quoted cell ran over several lines (a bad row: a line break is a control
                        # character): a blank row for each line more keeps the rows after it
                        # numbered by the file's lines, as an editor shows them
                        yield from [[]] * (reader.line_num - lines)
                        lines = reader.line_num
            except csv.Error as e:
                yield _csv_refusal(
                    path, lines + 1 if "unexpected end of data" in str(e) else reader.line_num, e
                )
    except UnicodeDecodeError as e:  # the file changed since its encoding was found
        msg = _("{file} changed while it was read: byte {byte} is no longer {encoding} text").format(
            file=path.name, byte=e.start, encoding=encoding
        )
        raise BadInputError(msg) from None


def _csv_refusal(path: Path, line: int, error: csv.Error) -> list[str]:
    if "unexpected end of data" in str(error):
        msg = _(
            '{file}: line {line} opens a quoted cell that is never closed; close its quote (") or take it out'
        ).format(file=path.name, line=line)
    elif "field larger than field limit" in str(error):
        msg = _(
            "{file}: line {line} holds a field of more than {most:,} "
            "characters; no column of the import format is that long (free text: 500 at most)"
        ).format(file=path.name, line=line, most=csv.field_size_limit())
    else:
        msg = _("{file}: line {line} is not CSV as the import reads it ({error})").format(
            file=path.name, line=line, error=error
        )
    raise BadInputError(msg)


def check_workbook(path: Path) -> None:
    """Refuse a workbook whose parts would unpack past the bounds, before anything is unpacked."""
    try:
        with zipfile.ZipFile(path) as book:
            parts = book.infolist()
            total = sum(p.file_size for p in parts)
            if total > TOTAL_MAX:
                msg = _(
                    "{file} unpacks to {total:,} bytes, more than the {most:,} an import reads; "
                    "split the file"
                ).format(file=path.name, total=total, most=TOTAL_MAX)
                raise BadInputError(msg)
            for part in parts:
                if part.filename.startswith(_STREAMED):
                    continue  # read as streams, every cell within RUN_MAX
                if part.file_size > RATIO_FROM and part.file_size > RATIO_MAX * max(part.compress_size, 1):
                    msg = _(
                        "{file}: its part {part} unpacks {size:,} bytes out of {packed:,}, more than "
                        "{ratio} times; real text does not compress so far"
                    ).format(
                        file=path.name,
                        part=part.filename,
                        size=part.file_size,
                        packed=part.compress_size,
                        ratio=RATIO_MAX,
                    )
                    raise BadInputError(msg)
            for part in parts:
                if _is_xml(path, book, part):
                    _check_part(path, book, part)
    except BadInputError:
        raise
    except Exception as e:  # zipfile and zlib raise many kinds for a damaged file
        msg = _("{file} is not a readable Excel workbook: {error}").format(file=path.name, error=e)
        raise BadInputError(msg) from None


def _is_xml(path: Path, book: zipfile.ZipFile, part: zipfile.ZipInfo) -> bool:
    """Whether the part is XML in UTF-8, by its first bytes, whatever its name says (openpyxl
    reads a sheet wherever the workbook's relations point, ``sheet1.XML`` or ``sheet1.dat``).
    A part in UTF-16 or UTF-32 is refused: Excel writes UTF-8, and the checks read bytes."""
    with book.open(part) as stream:
        head = stream.read(64)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or (
        b"\x00" in head[:2] and head.replace(b"\x00", b"")[:1] in (b"<", b" ", b"\t", b"\r", b"\n")
    ):
        msg = _("{file}: its part {part} is not in UTF-8, as Excel writes a workbook's parts").format(
            file=path.name, part=part.filename
        )
        raise BadInputError(msg)
    return head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<" or part.filename.lower().endswith(
        (".xml", ".rels", ".vml")
    )


def _check_part(path: Path, book: zipfile.ZipFile, part: zipfile.ZipInfo) -> None:
    """One XML part, read as a stream: no cell (no stretch between two tags) longer than RUN_MAX
    bytes, and no DTD, whose entities would grow the text as it is parsed."""
    carry = b"<"  # every window starts at a tag's "<", the part's first bytes included
    with book.open(part) as stream:
        while chunk := stream.read(_CHUNK):
            window = carry + chunk
            if _LONG_RUN.search(window):
                msg = _(
                    "{file}: its part {part} holds a cell or tag of more than {most:,} "
                    "bytes; no column of the import format comes near that (free text: 500 characters)"
                ).format(file=path.name, part=part.filename, most=RUN_MAX)
                raise BadInputError(msg)
            if _DECLARATION.search(window):
                msg = _("{file}: its part {part} declares a DTD, which a workbook has no use for").format(
                    file=path.name, part=part.filename
                )
                raise BadInputError(msg)
            carry = window[window.rfind(b"<") :]  # at most RUN_MAX bytes, or the search found them


def _workbook_cells(path: Path) -> Iterator[list[Any]]:
    from openpyxl.styles.numbers import BUILTIN_FORMATS

    for number, code in CHINESE_DATE_FORMATS.items():
        BUILTIN_FORMATS.setdefault(number, code)

    try:
        # not data_only: a formula cell is then seen as one (and refused), not read as the result
        # Excel last saved for it
        book = load_as_stored(path, data_only=False)
    except Exception as e:  # openpyxl raises many kinds for a damaged file
        msg = _("{file} is not a readable Excel workbook: {error}").format(file=path.name, error=e)
        raise BadInputError(msg) from None
    try:
        if not book.worksheets:  # its sheets' parts damaged past finding: openpyxl lists none
            msg = _("{file} is not a readable Excel workbook: {error}").format(
                file=path.name, error="no worksheet"
            )
            raise BadInputError(msg)
        sheet = book.worksheets[0]
        from commands.workbook_seen import refusal, sheet_seen

        unseen = sheet_seen(path, book, sheet)
        # the rows as the sheet holds them, not as its <dimension> says: openpyxl stopped at the
        # declared last row (a sheet declaring A1:M1 lost every row after the header, unseen) and
        # made every row declared but left out, each as wide as declared
        sheet.reset_dimensions()
        past = _bounded(sheet, unseen)
        rows = sheet.iter_rows(max_col=COLUMNS_READ, values_only=True)
        read = 0
        while True:
            past[0] = 0  # a row the sheet leaves out is made empty, without _get_row
            try:
                values = next(rows)
            except StopIteration:
                break
            except Exception as e:  # the sheet is read as it streams: damage shows up here
                msg = _("{file} is not a readable Excel workbook: row {row} cannot be read ({error})").format(
                    file=path.name, row=read + 1, error=e
                )
                raise BadInputError(msg) from None
            read += 1
            said = refusal(path, unseen)
            if said is not None:
                raise BadInputError(said)
            if not past[0]:
                # as the spreadsheet shows them: a voucher stored as S-_x0030_103 is S-0103
                cells = as_shown(values)
                _no_lone_surrogate(path, read, cells)
                yield cells
            elif read == 1:
                from openpyxl.utils import get_column_letter

                msg = _(
                    "{file}: the header holds a value in column {column}, past the first {most} columns "
                    "that an import reads of a sheet; put the import's columns first"
                ).format(file=path.name, column=get_column_letter(past[0]), most=COLUMNS_READ)
                raise BadInputError(msg)
            else:
                yield WideRow(values, past[0])
    finally:
        book.close()


_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_lone_surrogate(path: Path, row: int, values: list[Any]) -> None:
    """A cell's text run may stand for half of a UTF-16 pair (``_xD800_``), which is no character."""
    for column, value in enumerate(values, 1):
        found = _SURROGATE.search(value) if isinstance(value, str) else None
        if found is not None:
            from openpyxl.utils import get_column_letter

            msg = _(
                "{file}: cell {cell} holds _x{code:04X}_, which stands for half of a character (a lone "
                "surrogate) and no character on its own; write the text without it"
            ).format(file=path.name, cell=f"{get_column_letter(column)}{row}", code=ord(found.group()))
            raise BadInputError(msg)


def _bounded(sheet: Any, unseen: Unseen | None = None) -> list[int]:
    """The sheet's rows, read ``COLUMNS_READ`` cells wide (``iter_rows(max_col=...)``), noting in
    the list returned the column of the last value of each row past them (0: none), which
    ``max_col`` alone leaves out unseen. openpyxl's read-only sheet makes each row of the cells
    parsed in ``_get_row``; it is wrapped here to look at them first (tests/test_import_bounds.py
    fails if openpyxl changes it)."""
    past = [0]
    get_row = sheet._get_row

    def get_bounded_row(
        row: list[dict[str, Any]], min_col: int = 1, max_col: int | None = None, values_only: bool = False
    ) -> Any:
        far = [cell["column"] for cell in row if cell["column"] > COLUMNS_READ and _filled(cell["value"])]
        past[0] = max(far, default=0)
        if unseen is not None:  # what of the row an officer does not see (commands/workbook_seen.py)
            unseen.look(row)
        return get_row(row, min_col, max_col, values_only)

    sheet._get_row = get_bounded_row
    return past


def _filled(value: Any) -> bool:
    return value is not None and str(value).strip(WHITE_SPACE) != ""


def _workbook_rows(path: Path) -> int:
    """Rows after the header as the workbook's dimension says (0 when it cannot say)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True)
        rows = book.worksheets[0].max_row or 1
        book.close()
    except Exception:  # judged by the import itself, with a proper message
        return 0
    return max(0, rows - 1)
