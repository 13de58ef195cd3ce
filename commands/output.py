"""Rendering rows as a terminal table (aligned by display width), CSV or a workbook, and writing
them to the file a command's --output names (JSON: ``commands.json_output``)."""

from __future__ import annotations

import io
import os
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from audit.verifier.ooxml_text import escape_ooxml
from ledger.errors import BadInputError, LedgerError, StorageError
from ledger.money import format_yuan
from ledger.text import EXCEL_ERRORS, FORMULA_STARTS, escape_formula

# lxml's words as it refuses, while openpyxl writes a row through it, a character XML does not allow
# and openpyxl's own check lets through (U+FFFE, U+FFFF)
_NOT_XML = "All strings must be XML compatible"


def not_xml_text(error: ValueError, row: int, title: str) -> BadInputError:
    """The refusal of a row holding U+FFFE or U+FFFF, which a workbook cannot store (the text
    rule lets them into the ledger); any other ValueError raised again."""
    if not str(error).startswith(_NOT_XML):
        raise error
    from commands.i18n import _

    msg = _(
        "row {row} of sheet {title} holds U+FFFE or U+FFFF, which a workbook cannot store; write "
        "--format csv instead (nothing was written)"
    ).format(row=row, title=title)
    return BadInputError(msg)


def display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cell(value: Any) -> str:
    if isinstance(value, Decimal):
        return format_yuan(value)
    if value is None:
        return ""
    return str(value)


def cell_width(value: Any) -> int:
    """How many columns ``value`` takes in a table."""
    return display_width(_cell(value))


def _numeric(value: Any) -> bool:
    return isinstance(value, Decimal | int) and not isinstance(value, bool)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    numeric: set[int] | None = None,
    total: Sequence[Any] | None = None,
) -> str:
    """Every terminal table: columns aligned by display width (a CJK character is two columns),
    numbers right-aligned (by default a column whose every filled cell is a number), and a 合计
    row below a rule when ``total`` is given."""
    if numeric is None:
        numeric = set()
        for i in range(len(headers)):
            filled = [r[i] for r in rows if r[i] is not None]
            if filled and all(_numeric(v) for v in filled):
                numeric.add(i)
    body = [*rows, total] if total is not None else rows
    cells = [[(c, display_width(c)) for c in map(_cell, row)] for row in body]
    head = [(h, display_width(h)) for h in headers]
    widths = _widest([w for _, w in head], ([w for _, w in row] for row in cells))

    def line(values: Sequence[tuple[str, int]]) -> str:
        parts = []
        for i, (v, w) in enumerate(values):
            pad = " " * (widths[i] - w)
            parts.append(pad + v if i in numeric and v else v + pad)
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [line(head), rule, *(line(r) for r in cells)]
    if total is not None:
        lines.insert(-1, rule)
    return "\n".join(lines)


def _widest(widths: list[int], rows: Iterable[Sequence[int]]) -> list[int]:
    for row in rows:
        for i, w in enumerate(row):
            if w > widths[i]:
                widths[i] = w
    return widths


def column_widths(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[int]:
    """The width of each column of ``table(headers, rows)`` (a row's cells past the headers
    are not shown, so not measured)."""
    return _widest(
        list(map(display_width, headers)),
        ([cell_width(c) for c, _ in zip(row, headers, strict=False)] for row in rows),
    )


def table_width(widths: Sequence[int]) -> int:
    """The widest line of a table whose columns are ``widths`` wide: its rule under the headers."""
    return sum(widths) + 2 * (len(widths) - 1)


def json_value(value: Any) -> Any:
    if type(value) is Decimal:
        text = str(value)  # already two places, as amounts are: str is 4x faster than format
        if text[-3:-2] == "." and "E" not in text:
            return text
        return f"{value:.2f}"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def csv_value(value: Any) -> Any:
    """A value as a CSV cell a spreadsheet opens: amounts with two places, and text that would
    start a formula behind an apostrophe (``ledger.text.escape_formula``; the import takes it off)."""
    if isinstance(value, str):
        return escape_formula(value)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return json_value(value)


def to_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Every CSV the ledger writes (reports, history, the export): text never runs as a formula."""
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_value(h) for h in headers])
    for row in rows:
        writer.writerow([csv_value(v) for v in row])
    return buffer.getvalue()


YUAN_FORMAT = '"¥"#,##0.00'
STEP_ROWS = 1000  # a workbook's rows written between two steps of its progress


def _cannot_write(path: Path, error: OSError) -> LedgerError:
    """The file could not be written: bad input (exit 2) for a path that cannot be one, a storage
    failure (exit 5) for a full or failing disk, which no other path given fixes."""
    import errno

    from commands.i18n import _

    said = _("cannot write {path}: {error}; nothing was written").format(
        path=path, error=error.strerror or error
    )
    if error.errno in (errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG):
        return StorageError(said)
    return BadInputError(said)


def _not_the_ledger(path: Path) -> None:
    """--output naming the open ledger's own SQLite file or one of its journals (by any name: a
    link, a relative path) is refused (exit 2): the report had replaced the books."""
    import click

    from commands.i18n import _
    from ledger.location import sqlite_file

    context = click.get_current_context(silent=True)
    if context is None:  # not a command (the web's downloads write to their own scratch files)
        return
    from commands.context import Settings

    found = context.find_object(Settings)
    database = sqlite_file(found.url) if found is not None else None
    if database is None:
        return
    for suffix in ("", "-wal", "-shm", "-journal"):  # a journal not there now is the ledger's when it is
        named = Path(f"{database}{suffix}")
        with suppress(OSError):
            if path.resolve() == named.resolve() or os.path.samefile(path, named):
                raise BadInputError(
                    _(
                        "{path} is the ledger's own database ({database}); write the output to another file"
                    ).format(path=path, database=f"{database}{suffix}")
                )


def _not_a_private_key(path: Path) -> None:
    """--output naming a private key (anyone's, the one in use too: PEM, encrypted or not) is
    refused (exit 2): the report had replaced it, and a lost key needs an administrator's rotation."""
    from commands.i18n import _

    try:
        with path.open("rb") as existing:
            head = existing.read(8192)  # a key after a BOM, blank lines or openssl's Bag Attributes too
    except OSError:
        return
    if b"-----BEGIN" in head and b"PRIVATE KEY-----" in head:
        raise BadInputError(_("{path} is a private key; write the output to another file").format(path=path))


@contextmanager
def replacing(path: Path) -> Iterator[IO[bytes]]:
    """The file a command writes (--output), whole or not at all: a regular file is written beside
    itself under another name, then renamed over the old one (keeping its mode). Anything else
    that exists there (a device such as /dev/null or /dev/stdout, a pipe, a symbolic link), or a
    file in a directory where no other may be made, is written through as it is, never replaced.
    A path that cannot be written is one sentence naming it (exit 2)."""
    path = Path(path)
    _not_the_ledger(path)
    if path.is_file():
        _not_a_private_key(path)
    try:
        before = path.lstat()
    except FileNotFoundError:
        before = None
    except OSError as e:
        raise _cannot_write(path, e) from None
    handle = None
    if before is None or stat.S_ISREG(before.st_mode):
        import tempfile

        try:
            handle = tempfile.NamedTemporaryFile(
                "wb", dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
            )
        except OSError as e:
            if before is None or not isinstance(e, PermissionError):
                raise _cannot_write(path, e) from None
            # a file that may be written in a directory that may not: written in place
    if handle is None:
        try:
            with path.open("wb") as through:
                yield through
        except OSError as e:
            raise _cannot_write(path, e) from None
        return
    try:
        with handle:
            yield handle
        if before is not None:
            mode = stat.S_IMODE(before.st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # as open() would have created it
        os.chmod(handle.name, mode)
        os.replace(handle.name, path)
    except OSError as e:
        Path(handle.name).unlink(missing_ok=True)
        raise _cannot_write(path, e) from None
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str | Iterable[str]) -> None:
    """A text output (csv, json, a table, a journal) in UTF-8, written whole or not at all; given
    in pieces, they are written one after another."""
    with replacing(path) as f:
        for piece in [text] if isinstance(text, str) else text:
            f.write(piece.encode("utf-8"))


def write_csv(path: Path, text: str, bom: bool = True) -> None:
    """A csv file: UTF-8, with the byte-order mark by which Excel on zh-CN Windows tells UTF-8 from
    its own code page (without it, Chinese text opens as mojibake), unless ``bom`` is False or
    the path is no file but a stream (``--output /dev/stdout``, a pipe): a stream never has one."""
    write_text(path, "\ufeff" + text if bom and _file_or_new(path) else text)


def _file_or_new(path: Path) -> bool:
    try:
        return stat.S_ISREG(Path(path).stat().st_mode)
    except FileNotFoundError:
        return True
    except OSError:  # replacing() says what is wrong with the path
        return True


def to_xlsx(
    path: Any,
    sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]],
    step: Callable[[int], None] | None = None,
) -> None:
    """A real workbook: one sheet per table, header row frozen, amounts as numbers in yuan format.

    Written in openpyxl's write-only mode: rows stream to the file, so a sheet of a million rows
    costs time in proportion to its rows, told to ``step`` as they are written (column widths are
    measured first, as the format wants
    them before the rows). Text is stored as text, never as a formula. The file is written whole
    or not at all (``replacing``)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils.exceptions import IllegalCharacterError

    with replacing(path) as f, unsaved_sheets_closed() as book:  # the path first: no work if unwritable
        for title, headers, rows in sheets:
            sheet = book.create_sheet(title=title[:31])
            widths = [display_width(str(h)) for h in headers]
            for row in rows:
                for i, value in enumerate(row[: len(widths)]):
                    width = display_width(_cell(value))
                    if width > widths[i]:
                        widths[i] = width
            for i, width in enumerate(widths):
                sheet.column_dimensions[_column_letter(i + 1)].width = min(width + 2, 60)
            sheet.freeze_panes = "A2"
            bold = Font(bold=True)
            header = []
            for h in headers:
                cell = WriteOnlyCell(sheet, value=h)
                cell.font = bold
                header.append(cell)
            sheet.append(header)
            for n, row in enumerate(rows, 2):
                try:
                    sheet.append([_xlsx_value(sheet, value, WriteOnlyCell) for value in row])
                    if step is not None and (n - 1) % STEP_ROWS == 0:  # n - 1 rows written
                        step(STEP_ROWS)
                except IllegalCharacterError:
                    from commands.i18n import _

                    msg = _(
                        "row {row} of sheet {title} holds a control character, which a workbook cannot "
                        "store; write --format csv instead (nothing was written)"
                    ).format(row=n, title=title)
                    raise BadInputError(msg) from None
                except ValueError as e:
                    raise not_xml_text(e, n, title) from None
            if step is not None:
                step(len(rows) % STEP_ROWS)
        save_book(book, f)


def save_book(book: Any, out: IO[bytes]) -> None:
    """``book.save(out)`` (openpyxl's save_workbook), its zip archive let go if the save fails (a
    full disk): the file is discarded, and the archive's own clean-up, writing its index to the
    closed file when the collector ends it, had printed "Exception ignored … seek of closed file"
    after the command's one sentence."""
    import datetime
    from zipfile import ZIP_DEFLATED, ZipFile

    from openpyxl.writer.excel import ExcelWriter

    archive = ZipFile(out, "w", ZIP_DEFLATED, allowZip64=True)
    book.properties.modified = datetime.datetime.now(tz=datetime.UTC).replace(tzinfo=None)
    try:
        ExcelWriter(book, archive).save()
    except BaseException:
        archive.fp = None  # nothing more is written to a file that is thrown away
        raise


@contextmanager
def unsaved_sheets_closed() -> Iterator[Any]:
    """A write-only workbook whose sheets are closed if it is not saved (an error, an interrupt):
    a sheet's row writer left open would write to its closed scratch file whenever the collector
    ended it, and Python would print that as an ignored exception."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    try:
        yield book
    except BaseException:
        for sheet in book.worksheets:
            with suppress(Exception):  # the file is discarded whatever its end
                sheet.close()
        raise


def _xlsx_value(sheet: Any, value: Any, cell_type: Any) -> Any:
    """A value as the sheet stores it; amounts and dates as cells carrying their number format."""
    if isinstance(value, Decimal):
        cell = cell_type(sheet, value=value.quantize(Decimal("0.01")))
        cell.number_format = YUAN_FORMAT
        return cell
    if isinstance(value, str) and (value[:1] in FORMULA_STARTS or value in EXCEL_ERRORS):
        # text as typed, stored as text: openpyxl would write "=…" as a formula and "#N/A" as an
        # error value, and the prefix keeps a spreadsheet from making either of it when edited
        cell = cell_type(sheet, value=escape_ooxml(value))
        cell.data_type = "s"
        cell.quotePrefix = True
        return cell
    if isinstance(value, str):
        return escape_ooxml(value)
    if value is None or isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        cell = cell_type(sheet, value=value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value)
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    if isinstance(value, date):
        cell = cell_type(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return escape_ooxml(str(value))


def _column_letter(n: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(n))
