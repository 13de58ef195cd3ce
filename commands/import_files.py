"""Reading an import file (CSV or Excel workbook) as rows of cells, within bounds a small hostile
file cannot push memory past.

A CSV cell that the export wrote behind an apostrophe (text a spreadsheet would run as a formula,
``ledger.text.escape_formula``) is read without it; a workbook's cells are read as they are.

A workbook is a zip of XML parts, and a 400 KB file can hold a 400 MB cell: openpyxl builds each
cell's text whole (and the shared strings all at once), so such a file costed gigabytes before a
row was judged. Before openpyxl opens it, the zip's directory and every XML part are checked as
streams: uncompressed sizes (in total, and against each part's compressed size), and the longest
stretch between two tags, which bounds every cell's text. Python's zipfile stops reading a part at
the size its directory declares, so a part cannot grow past what was checked.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ledger.errors import BadInputError
from ledger.text import unescape_formula

WORKBOOKS = (".xlsx", ".xlsm")
TEXTS = (".csv", ".txt")

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
_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def open_import(path: Path) -> tuple[int, Iterator[list[Any]]]:
    """How many rows follow the header (for a progress bar: a CSV's lines, a workbook's
    dimension), and the file's rows as lists of cells, streamed (header first). A workbook past
    the bounds is refused here, before openpyxl opens it."""
    suffix = path.suffix.lower()
    if suffix in WORKBOOKS:
        check_workbook(path)
        return _workbook_rows(path), _workbook_cells(path)
    if suffix not in TEXTS:
        msg = f"{path.name}: import reads .csv or .xlsx files"
        raise BadInputError(msg)
    return _lines(path), _csv_cells(path)


def _lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(0, lines - 1)


def _csv_cells(path: Path) -> Iterator[list[str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            try:
                for row in reader:
                    yield [unescape_formula(c) if c[:1] == "'" else c for c in row]
            except csv.Error as e:
                yield _csv_refusal(path, reader.line_num, e)
    except UnicodeDecodeError as e:
        msg = f"{path.name} is not UTF-8 text (byte {e.start}); save it as CSV UTF-8"
        raise BadInputError(msg) from None


def _csv_refusal(path: Path, line: int, error: csv.Error) -> list[str]:
    if "field larger than field limit" in str(error):
        msg = (
            f"{path.name}: line {line} holds a field of more than {csv.field_size_limit():,} "
            "characters; no column of the import format is that long (free text: 500 at most)"
        )
    else:
        msg = f"{path.name}: line {line} is not CSV as the import reads it ({error})"
    raise BadInputError(msg)


def check_workbook(path: Path) -> None:
    """Refuse a workbook whose parts would unpack past the bounds, before anything is unpacked."""
    try:
        with zipfile.ZipFile(path) as book:
            parts = book.infolist()
            total = sum(p.file_size for p in parts)
            if total > TOTAL_MAX:
                msg = (
                    f"{path.name} unpacks to {total:,} bytes, more than the {TOTAL_MAX:,} an import "
                    "reads; split the file"
                )
                raise BadInputError(msg)
            for part in parts:
                if part.filename.startswith(_STREAMED):
                    continue  # read as streams, every cell within RUN_MAX
                if part.file_size > RATIO_FROM and part.file_size > RATIO_MAX * max(part.compress_size, 1):
                    msg = (
                        f"{path.name}: its part {part.filename} unpacks {part.file_size:,} bytes out of "
                        f"{part.compress_size:,}, more than {RATIO_MAX} times; real text does not "
                        "compress so far"
                    )
                    raise BadInputError(msg)
            for part in parts:
                if part.filename.endswith((".xml", ".rels", ".vml")):
                    _check_part(path, book, part)
    except BadInputError:
        raise
    except Exception as e:  # zipfile and zlib raise many kinds for a damaged file
        msg = f"{path.name} is not a readable Excel workbook: {e}"
        raise BadInputError(msg) from None


def _check_part(path: Path, book: zipfile.ZipFile, part: zipfile.ZipInfo) -> None:
    """One XML part, read as a stream: no cell (no stretch between two tags) longer than RUN_MAX
    bytes, and no DTD, whose entities would grow the text as it is parsed."""
    carry = b"<"  # every window starts at a tag's "<", the part's first bytes included
    with book.open(part) as stream:
        while chunk := stream.read(_CHUNK):
            window = carry + chunk
            if _LONG_RUN.search(window):
                msg = (
                    f"{path.name}: its part {part.filename} holds a cell or tag of more than {RUN_MAX:,} "
                    "bytes; no column of the import format comes near that (free text: 500 characters)"
                )
                raise BadInputError(msg)
            if _DECLARATION.search(window):
                msg = f"{path.name}: its part {part.filename} declares a DTD, which a workbook has no use for"
                raise BadInputError(msg)
            carry = window[window.rfind(b"<") :]  # at most RUN_MAX bytes, or the search found them


def _workbook_cells(path: Path) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a damaged file
        msg = f"{path.name} is not a readable Excel workbook: {e}"
        raise BadInputError(msg) from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        read = 0
        while True:
            try:
                values = next(rows)
            except StopIteration:
                break
            except Exception as e:  # the sheet is read as it streams: damage shows up here
                msg = f"{path.name} is not a readable Excel workbook: row {read + 1} cannot be read ({e})"
                raise BadInputError(msg) from None
            read += 1
            yield list(values)
    finally:
        book.close()


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
