"""Every sheet a person reads in report.xlsx, against what the replay yields: the sheets and
their order, none hidden, no name or link that could show other content, no number format that
shows a literal, and every cell of the balances, spending, findings and who-did-what sheets (the
event log is ``workbook``'s). Laid out for filing (format 3), also each sheet's title, its
编制单位 / 报表日期 / 单位 line, its Chinese header, its 合计 row (a figure, never a formula), an
amount shown to the fen in yuan, and what prints: the header repeated on every page and no print
area (which would leave rows off the paper). Bounded first (``xlsx.check_package``), so a crafted
file is refused before a reader holds it."""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, Protocol
from xml.etree import ElementTree

from audit.verifier import forms, layout
from audit.verifier.description import bundle_format
from audit.verifier.findings import _expected_findings, expected_findings
from audit.verifier.i18n import LANG, _
from audit.verifier.layout import ACTIVITY_SHEET, REGISTRY_SHEET
from audit.verifier.ooxml_text import as_shown, load_as_stored
from audit.verifier.policy import BundlePolicy
from audit.verifier.replay import GrantTotals, Replay
from audit.verifier.report import WORKBOOK, Report
from audit.verifier.workbook import PackageVerdict, is_spending_sheet, part_budget
from audit.verifier.xlsx import (
    LEGACY,
    STYLES,
    Form,
    PackageError,
    SheetStream,
    _anything,
    _nothing,
    _true,
    check_package,
    check_sheet_parts,
    column_letter,
    print_titles,
    rows_per_sheet,
    sheet_parts,
)

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_DRAWING = "{http://schemas.openxmlformats.org/drawingml/2006/main}"  # a theme's
THEME = "xl/theme/theme1.xml"
_MAX_DIFFS = 5
CENT = Decimal("0.01")
# custom number formats that show a value as it is (the bundle writes the first; Excel and
# LibreOffice write the others when they save it)
SAFE_FORMATS = frozenset(
    {"yyyy-mm-dd", "yyyy\\-mm\\-dd", "#,##0.00", "0.00", "0", "#,##0", "General", "mm-dd-yy", "yyyy/m/d"}
    | {layout.YUAN_FORMAT}
)
# what an amount may be shown in: to the fen ("0" would show 35,000.50 as 35,001)
AMOUNT_FORMATS = frozenset({layout.YUAN_FORMAT, "#,##0.00", "0.00"})
PRINT_TITLES = "_xlnm.Print_Titles"

TEXT, INT, AMOUNT, DAY = "text", "int", "amount", "date"
BALANCE_KINDS = [TEXT] * 4 + [AMOUNT] * 11
SPENDING_KINDS = [INT, DAY, *[TEXT] * 7, AMOUNT, TEXT]
FINDINGS_KINDS = [TEXT] * 4 + [DAY, TEXT]
ACTIVITY_KINDS = [TEXT] * 4 + [INT, DAY, DAY]
REGISTRY_KINDS = [INT, DAY, *[TEXT] * 5]


def sheet_names(name: str, rows: int, form: Form = LEGACY) -> list[str]:
    return [name if k == 1 else f"{name} ({k})" for k in range(1, len(rows_per_sheet(rows, form)) + 1)]


def balance_rows(replay: Replay) -> list[list[Any]]:
    grants = sorted(replay.grants.values(), key=lambda g: (g.base_id, g.grant_id))
    return [_balance_row(g) for g in grants]


def _balance_row(g: GrantTotals) -> list[Any]:
    a = {k: v.quantize(CENT) for k, v in g.amounts.items()}
    return [
        g.base_id,
        g.grant_id,
        g.base_name,
        g.programme,
        a["approved"],
        a["subsidy_received"],
        a["subsidy_spent"],
        g.held("subsidy").quantize(CENT),
        a["matching_committed"],
        a["matching_received"],
        a["matching_spent"],
        g.held("matching").quantize(CENT),
        a["subsidy_recovered"],
        a["subsidy_disposed"],
        a["matching_disposed"],
    ]


@dataclass(frozen=True)
class _Sheet:
    """A logical sheet a person reads: what its header, rows and (filed) head and total show."""

    name: str
    header: list[str]
    kinds: Sequence[str]
    rows: _Rows
    form: Form

    def names(self) -> list[str]:
        return sheet_names(self.name, len(self.rows), self.form)


def _expected(
    fmt: int,
    replay: Replay,
    findings: list[list[Any]] | None,
    who: tuple[list[list[Any]], list[list[Any]]],
    day: str,
) -> list[_Sheet]:
    balances = balance_rows(replay)
    root = layout.root_of(who[1])
    held: list[tuple[str, Sequence[str], _Rows]] = [
        (layout.BALANCES_SHEET, BALANCE_KINDS, balances),
        (layout.SPENDING_SHEET, SPENDING_KINDS, replay.spending),
        (layout.FINDINGS_SHEET, FINDINGS_KINDS, findings or []),
        (ACTIVITY_SHEET, ACTIVITY_KINDS, who[0]),
        (REGISTRY_SHEET, REGISTRY_KINDS, who[1]),
    ]
    sheets = []
    for name, kinds, rows in held:
        form = LEGACY
        if fmt >= 3:
            total = (
                layout.spending_total(replay.spending.net)
                if name == layout.SPENDING_SHEET
                else forms.total_of(name, rows)  # type: ignore[arg-type]
            )
            form = forms.filed(name, root, day, total)
        sheets.append(_Sheet(name, forms.headers(name, fmt), kinds, rows, form))
    return sheets


def check_sheets(
    directory: Path,
    replay: Replay,
    policy: BundlePolicy | None,
    events: int,
    report: Report,
    log_as_exported: bool = False,
    who: tuple[list[list[Any]], list[list[Any]]] = ([], []),
    as_of: str | None = None,
    package: PackageVerdict | None = None,
) -> bool:
    """Checks the workbook; False if it could not be read at all (the event log check is skipped).
    ``package``: the package check already made (by the event log's check, in its process); it
    stands for this one only if it left out the same sheets as this one would."""
    path = directory / WORKBOOK
    if not path.is_file():
        report.fail(_("{file}: missing").format(file=WORKBOOK))
        return False
    budget = part_budget(directory)
    try:
        log = frozenset(sheet_names(layout.EVENT_LOG_SHEET, events)) if log_as_exported else frozenset()
        if package is not None and package.left_out == log:
            if package.refusal is not None:
                raise PackageError(package.refusal)
        else:
            check_package(path, budget, log, is_spending_sheet)
    except PackageError as e:
        report.fail(_("{file}: {why}").format(file=WORKBOOK, why=e))
        return False
    fmt = bundle_format(directory)
    findings = _findings(fmt, replay, policy) if policy is not None else None
    sheets = _expected(fmt, replay, findings, who, as_of or replay.latest)
    expected_names = [
        *(name for sheet in sheets for name in sheet.names()),
        *sheet_names(layout.EVENT_LOG_SHEET, events),
    ]
    printed = {name: layout.HEADER_ROW for sheet in sheets if sheet.form.filed for name in sheet.names()}
    if fmt >= 3:
        printed.update(dict.fromkeys(sheet_names(layout.EVENT_LOG_SHEET, events), 1))
    try:
        shown = _structure(path, report, printed)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError, ValueError) as e:
        report.fail(
            _("{file}: cannot read its sheets ({error})").format(file=WORKBOOK, error=type(e).__name__)
        )
        return False
    if shown != expected_names:
        first = next(
            (i for i, (a, b) in enumerate(zip(shown, expected_names, strict=False)) if a != b),
            min(len(shown), len(expected_names)),
        )
        got = repr(shown[first]) if first < len(shown) else _("no sheet")
        want = repr(expected_names[first]) if first < len(expected_names) else _("no sheet")
        report.fail(
            _("{file}: sheet {n} is {got} where the bundle has {want} (sheets: {sheets})").format(
                file=WORKBOOK, n=first + 1, got=got, want=want, sheets=", ".join(shown)
            )
        )
        return False
    # the spending sheets, left out of the package check: as export writes them (by digest), or
    # else checked as every other sheet is before they are read
    spending = next(sheet for sheet in sheets if sheet.name == layout.SPENDING_SHEET)
    exported = fmt >= 3 and _as_exported(path, replay, spending.form, budget)
    try:
        if not exported:
            check_sheet_parts(path, budget, spending.names())
    except PackageError as e:
        report.fail(_("{file}: {why}").format(file=WORKBOOK, why=e))
        return False
    report.grants = len(sheets[0].rows)
    whole = _held_as_exported(path, sheets, budget) if fmt >= 3 else frozenset()
    compared = [
        sheet
        for sheet in sheets
        if not (sheet.name == layout.FINDINGS_SHEET and findings is None)
        and not (sheet.name == layout.SPENDING_SHEET and exported)
        and sheet.name not in whole
    ]
    if not compared:
        return True

    try:
        book = load_as_stored(path, data_only=True)
    except Exception as e:  # any unreadable workbook is one failure, not a traceback
        report.fail(_("{file}: cannot read it ({error})").format(file=WORKBOOK, error=type(e).__name__))
        return False
    try:
        for sheet in compared:
            _compare(book, sheet, report)
    except Exception as e:  # a sheet damaged past its first rows: read lazily, fails here
        report.fail(
            _("{file}: cannot read its sheets ({error})").format(file=WORKBOOK, error=type(e).__name__)
        )
    finally:
        book.close()
    return True


# what reading a workbook export did not write may raise: the byte paths then say "not as
# exported", and the sheets are read cell by cell (which names what is wrong)
_UNREADABLE = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


def _as_exported(path: Path, replay: Replay, form: Form, budget: int) -> bool:
    """Whether the spending sheets are byte for byte what export writes for the replay's rows:
    each sheet's head and tail (title, 编制单位 line, header, 合计) as they must be, its rows by
    digest, and the styles the cells name those export writes. Reads no part past ``budget``
    bytes (their content not yet checked); False for a workbook it cannot read so."""
    try:
        return _exported_spending(path, replay, form, budget)
    except _UNREADABLE:
        return False


def _exported_spending(path: Path, replay: Replay, form: Form, budget: int) -> bool:
    spending = replay.spending
    expected = spending.digest()
    stream = spending.stream
    stream.form = form
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as book:
        if book.read("xl/styles.xml") != STYLES.encode("utf-8"):
            return False
        parts = dict(sheet_parts(book))
        sizes = rows_per_sheet(len(spending), form)
        names = spending.names or [layout.SPENDING_SHEET]
        for k, (name, rows) in enumerate(zip(names, sizes, strict=True)):
            last = k == len(sizes) - 1
            head = stream.head(rows, last).encode("utf-8")
            tail = stream.tail(form.head_rows + rows, last).encode("utf-8")
            with book.open(parts[name]) as handle:
                if not _framed(handle, head, tail, digest, budget):
                    return False
    return digest.digest() == expected


def _held_as_exported(path: Path, sheets: Sequence[_Sheet], budget: int) -> frozenset[str]:
    """The sheets held whole (all but spending) that are byte for byte what export writes for the
    replay's rows: each part equal to those rows encoded as export encodes them, the columns fitted
    as export fits them, in a workbook whose styles are export's. A reader of such a sheet reads what
    a reader of export's reads, so it is not read cell by cell; any other is. Reads no part past the
    bytes expected of it (nor past ``budget``); none for a workbook it cannot read so."""
    try:
        with zipfile.ZipFile(path) as book:
            if book.read("xl/styles.xml") != STYLES.encode("utf-8"):
                return frozenset()
            parts = dict(sheet_parts(book))
            return frozenset(
                sheet.name
                for sheet in sheets
                if sheet.name != layout.SPENDING_SHEET
                and sheet.form.filed
                and _part_as_exported(book, parts, sheet, budget)
            )
    except _UNREADABLE:
        return frozenset()


def _part_as_exported(book: zipfile.ZipFile, parts: dict[str, str], sheet: _Sheet, budget: int) -> bool:
    rows = list(sheet.rows)
    amounts = forms.AMOUNTS.get(sheet.name, ())
    widths = forms.fitted(sheet.header, [*rows, sheet.form.total], amounts)
    encoded: dict[str, list[bytes]] = {}

    def sink(name: str, data: bytes) -> None:
        encoded.setdefault(name, []).append(data)

    form = replace(sheet.form, widths=widths)
    stream = SheetStream(sheet.name, sheet.header, sink, amounts, len(rows), form, errors="surrogatepass")
    for row in rows:
        stream.append(row)
    stream.close()
    if list(encoded) != sheet.names():
        return False
    for name, chunks in encoded.items():
        expected = b"".join(chunks)
        if len(expected) > budget or name not in parts:
            return False
        with book.open(parts[name]) as handle:
            if handle.read(len(expected) + 1) != expected:
                return False
    return True


def _framed(handle: IO[bytes], head: bytes, tail: bytes, digest: Any, budget: int) -> bool:
    """Whether the part begins with ``head`` and ends with ``tail``, within ``budget`` bytes;
    feeds what lies between to ``digest``, holding back only the tail's length at a time."""
    if handle.read(len(head)) != head:
        return False
    held = b""
    size = len(head)
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        size += len(chunk)
        if size > budget:
            return False
        held += chunk
        cut = len(held) - len(tail)
        if cut > 0:
            digest.update(held[:cut])
            held = held[cut:]
    return held == tail


def _findings(fmt: int, replay: Replay, policy: BundlePolicy) -> list[list[Any]]:
    """The findings sheet as the bundle's format files it: in Chinese from format 4, in English
    before (as bundles exported then hold it, whatever language reads them now)."""
    if fmt >= layout.CHINESE_FINDINGS:
        return expected_findings(replay, policy)
    token = LANG.set("en")
    try:
        return _expected_findings(replay, policy)
    finally:
        LANG.reset(token)


def _structure(path: Path, report: Report, printed: dict[str, int] | None = None) -> list[str]:
    """The sheet names in order; failures for a hidden sheet, a defined name (but a sheet's header
    row printed on every page, ``printed``), an external link, a number format that shows a
    literal instead of the value, and styles or a theme that could hide a figure."""
    with zipfile.ZipFile(path) as book:
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        names = []
        for sheet in workbook.iter(f"{_NS}sheet"):
            name = str(sheet.get("name"))
            names.append(name)
            state = sheet.get("state", "visible")
            if state != "visible":
                report.fail(
                    _("{file}: sheet {name!r} is {state}; a bundle hides nothing").format(
                        file=WORKBOOK, name=name, state=state
                    )
                )
        for element in workbook.iter(f"{_NS}definedName"):
            if not _prints_the_header(element, names, printed or {}):
                report.fail(
                    _("{file}: has a definedName {name} (it could show content the bundle does not hold)")
                    .format(file=WORKBOOK, name=element.get("name") or "")
                    .replace("  ", " ")
                )
        for element in workbook.iter(f"{_NS}externalReference"):
            report.fail(
                _("{file}: has a externalReference {name} (it could show content the bundle does not hold)")
                .format(file=WORKBOOK, name=element.get("{*}id") or "")
                .replace("  ", " ")
            )
        for name in book.namelist():
            if name.startswith("xl/externalLinks/"):
                report.fail(_("{file}: has an external link ({name})").format(file=WORKBOOK, name=name))
        if "xl/styles.xml" in book.namelist():
            styles = ElementTree.fromstring(book.read("xl/styles.xml"))
            for problem in _hiding_styles(styles):
                report.fail(_("{file}: {problem}").format(file=WORKBOOK, problem=problem))
            for fmt in styles.iter(f"{_NS}numFmt"):
                code = str(fmt.get("formatCode", ""))
                if code not in SAFE_FORMATS:
                    report.fail(
                        _(
                            "{file}: number format {code!r} is none the bundle uses; it could show something "
                            "other than a cell's value"
                        ).format(file=WORKBOOK, code=code)
                    )
        if THEME in book.namelist():
            for problem in _hiding_theme(ElementTree.fromstring(book.read(THEME))):
                report.fail(_("{file}: {problem}").format(file=WORKBOOK, problem=problem))
    return names


def _prints_the_header(element: ElementTree.Element, names: list[str], printed: dict[str, int]) -> bool:
    """A sheet's print titles: its header row, on every printed page, and nothing else (a print
    area, or another row printed atop every page, would change what the paper shows)."""
    if element.get("name") != PRINT_TITLES:
        return False
    try:
        sheet = names[int(element.get("localSheetId", ""))]
    except (ValueError, IndexError):
        return False
    if sheet not in printed:
        return False
    row = printed[sheet]
    return (element.text or "") in (print_titles(sheet, row), f"{sheet}!${row}:${row}")


_Shown = tuple[str, int, tuple[Any, ...], tuple[str, ...]]  # sheet, row number, values, formats


def _rows(book: Any, sheet: _Sheet, report: Report) -> Iterator[_Shown]:
    """Every row past the header of a logical sheet and its continuations; their heads checked."""
    form = sheet.form
    for name in sheet.names():
        it = book[name].iter_rows()
        if form.filed:
            _head(name, form, [_trim(_values(next(it, ()))) for _ in range(form.head_rows - 1)], report)
        first = _trim(_values(next(it, ())))
        if list(first) != sheet.header:
            cell = f"A{form.head_rows}"
            report.fail(
                _("{file} {sheet}!{cell}: the header is not {header}").format(
                    file=WORKBOOK, sheet=name, cell=cell, header=", ".join(sheet.header)
                )
            )
        for n, cells in enumerate(it, form.head_rows + 1):
            values = _values(cells)
            yield name, n, _trim(values), tuple(getattr(c, "number_format", "General") for c in cells)


def _values(cells: Iterable[Any]) -> tuple[Any, ...]:
    """The cells as a spreadsheet shows them (text with its _xHHHH_ runs decoded)."""
    return tuple(as_shown(c.value for c in cells))


def _head(name: str, form: Form, rows: list[tuple[Any, ...]], report: Report) -> None:
    """The title, the 编制单位 / 报表日期 / 单位 line and the blank row above the header."""
    title, heading, blank = [*rows, (), (), ()][:3]
    if title != (form.title,):
        report.fail(
            _("{file} {sheet}!A1: the title is {title}, not {want!r}").format(
                file=WORKBOOK, sheet=name, title=_show(title), want=form.title
            )
        )
    if heading != _trim(form.heading):
        want = " / ".join(v for v in form.heading if v)
        report.fail(
            _("{file} {sheet}!A2: the line below the title is {shown}, not {want!r}").format(
                file=WORKBOOK, sheet=name, shown=_show(heading), want=want
            )
        )
    if blank:
        report.fail(
            _("{file} {sheet}!A3: shows {shown} where the bundle has a blank row").format(
                file=WORKBOOK, sheet=name, shown=_show(blank)
            )
        )


def _trim(row: Iterable[Any]) -> tuple[Any, ...]:
    values = list(row)
    while values and values[-1] in (None, ""):
        values.pop()
    return tuple(values)


class _Rows(Protocol):
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[list[Any]]: ...


def _kinds_of(row: Sequence[Any]) -> list[str]:
    return [AMOUNT if isinstance(v, Decimal) else INT if isinstance(v, int) else TEXT for v in row]


class _Differences:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.count = 0

    def add(self, message: str) -> None:
        self.count += 1
        if self.count <= _MAX_DIFFS:
            self.report.fail(message)


def _compare(book: Any, sheet: _Sheet, report: Report) -> None:
    diffs = _Differences(report)
    shown = _rows(book, sheet, report)
    name, header = sheet.name, sheet.header
    last = (name, sheet.form.head_rows)
    for row in sheet.rows:
        got = next(shown, None)
        if got is None:
            report.fail(
                _("{file} {sheet}!A{n}: no row, but the events give {row}").format(
                    file=WORKBOOK, sheet=last[0], n=last[1] + 1, row=_show(row)
                )
            )
            return
        last = got[:2]
        _compare_row(got, row, sheet.kinds, header, diffs)
    if sheet.form.filed:
        got = next(shown, None)
        total = list(sheet.form.total)
        if got is None:
            report.fail(
                _("{file} {sheet}!A{n}: no 合计 row, but the events give {row}").format(
                    file=WORKBOOK, sheet=last[0], n=last[1] + 1, row=_show(total)
                )
            )
            return
        _compare_row(got, total, _kinds_of(total), header, diffs)
    extra = next((row for row in shown if row[2]), None)  # empty rows past the end show nothing
    if extra is not None:
        where, n, values, _formats = extra
        report.fail(
            _("{file} {sheet}!A{n}: shows {row}, a row the events do not give").format(
                file=WORKBOOK, sheet=where, n=n, row=_show(values)
            )
        )
        return
    if diffs.count > _MAX_DIFFS:
        report.fail(
            _("{file} {sheet}: {count} more cells differ from the events").format(
                file=WORKBOOK, sheet=name, count=diffs.count - _MAX_DIFFS
            )
        )


def _compare_row(
    got: _Shown, row: Sequence[Any], kinds: Sequence[str], header: list[str], diffs: _Differences
) -> None:
    sheet, n, values, formats = got
    for i, (kind, want) in enumerate(zip(kinds, row, strict=True)):
        have = values[i] if i < len(values) else None
        where = f"{WORKBOOK} {sheet}!{column_letter(i)}{n} ({header[i]})"
        if not _same(kind, have, want):
            diffs.add(
                _("{where}: shows {have} but the events give {want}").format(
                    where=where, have=_cell(have, kind), want=_cell(want)
                )
            )
        elif kind == AMOUNT and want is not None and formats[i] not in AMOUNT_FORMATS:
            diffs.add(
                _("{where}: number format {format!r} does not show the amount to the fen").format(
                    where=where, format=_quoted(formats[i])
                )
            )
    if len(values) > len(kinds):
        diffs.add(
            _("{file} {sheet}!{cell}: shows {value} in a column the bundle does not have").format(
                file=WORKBOOK,
                sheet=sheet,
                cell=f"{column_letter(len(kinds))}{n}",
                value=_cell(values[len(kinds)]),
            )
        )


def _same(kind: str, have: Any, want: Any) -> bool:
    if want is None or want == "":
        return have is None or have == ""
    if kind == TEXT:
        return isinstance(have, str) and have == want
    if kind == INT:  # an integral number, however the program that saved it typed it
        return isinstance(have, int | float) and not isinstance(have, bool) and have == want
    if kind == AMOUNT:
        return _decimal(have) == want
    if kind == DAY:
        if isinstance(have, datetime):
            return have.time() == datetime.min.time() and have.date() == want
        return isinstance(have, date) and have == want
    return False


def _decimal(value: Any) -> Decimal | None:
    """The amount a cell holds, if it is a whole number of fen (a cell holding 0.00390625 shows
    0.00 in its format but is not 0.00: a sum over it, or its formula bar, says otherwise)."""
    if value is None or isinstance(value, bool) or isinstance(value, str):
        return None
    try:
        exact = Decimal(str(value))
        return exact if exact == exact.quantize(CENT) else None
    except InvalidOperation:
        return None


def _cell(value: Any, kind: str = TEXT) -> str:
    if value is None or value == "":
        return _("nothing")
    if kind == AMOUNT and isinstance(value, int | float) and not isinstance(value, bool):
        value = Decimal(str(value))
    if isinstance(value, datetime):
        value = value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        exact = Decimal(str(value))
        return f"{exact.quantize(CENT)}" if exact == exact.quantize(CENT) else str(exact)
    return value.isoformat() if isinstance(value, date) else repr(value)


def _show(row: Sequence[Any]) -> str:
    return "(" + ", ".join(_cell(v) for v in row) + ")"


def _quoted(text: str, most: int = 200) -> str:
    """A value read from the bundle as a message quotes it: cut past ``most`` characters (an
    entity-inflated number format made one message line of 95 MB)."""
    return text if len(text) <= most else f"{text[:most]}… ({len(text):,} characters)"


_LEAST_FONT = 8.0  # points: export writes 11 and 16
_BLACK = frozenset({"FF000000", "000000"})
# a font's colour as export's black: an ARGB black, or the theme's dark text colour (theme 1, its
# dk1, which a program saving the workbook may write and ``_hiding_theme`` holds to black), each
# alone: Excel takes a theme over an rgb given beside it, programs differ on which of an rgb and
# an index they take, and a tint lightens either to white
_BLACK_COLOURS = ({"theme": "1"}, *({"rgb": black} for black in _BLACK))


def _hiding_styles(styles: ElementTree.Element) -> list[str]:
    """What in the styles could hide or change a figure where a program shows it, though a reader
    reads the value: a number format id given twice (programs differ on which they use), a font
    that could (``_hiding_font``), a fill export does not write (black under black text), a cell
    alignment or protection that could (``_hiding_alignment``), a diagonal border
    (``_striking_border``). Export writes none of them."""
    found = []
    ids = [str(fmt.get("numFmtId", "")) for fmt in styles.iter(f"{_NS}numFmt")]
    for twice in sorted({i for i in ids if ids.count(i) > 1}):
        found.append(
            _("number format {id} is given twice; programs differ on which they use").format(id=twice)
        )
    for font in styles.iter(f"{_NS}font"):
        found.extend(_hiding_font(font))
    fills = {_shown_fill(fill) for fill in styles.iter(f"{_NS}fill") if _fill_key(fill) not in _EXPORT_FILLS}
    for fill in sorted(fills):
        found.append(
            _(
                "a fill ({fill}) could hide a figure under it; export fills only its header, in light blue"
            ).format(fill=fill or _("nothing"))
        )
    for element in (*styles.iter(f"{_NS}alignment"), *styles.iter(f"{_NS}protection")):
        found.extend(_hiding_alignment(element))
    for border in styles.iter(f"{_NS}border"):
        found.extend(_striking_border(border))
    return list(dict.fromkeys(found))  # the same setting in several cell formats: one line


def _striking_border(border: ElementTree.Element) -> list[str]:
    """A diagonal line drawn across a cell (``diagonalUp``/``diagonalDown``, or a diagonal given a
    style), which strikes its figure through as ``strike`` does; export writes none."""
    diagonal = border.find(f"{_NS}diagonal")
    styled = diagonal is not None and diagonal.get("style", "none") != "none"
    if styled or _true(border.get("diagonalUp", "0")) or _true(border.get("diagonalDown", "0")):
        return [
            _(
                "a cell border draws a diagonal line across the cell, which export never writes; it could "
                "strike a figure through"
            )
        ]
    return []


def _hiding_font(font: ElementTree.Element) -> list[str]:
    """A font that could hide or change a figure: a setting given twice (programs differ on which
    they use), a typeface other than export's (a symbol font shows digits as other signs) or none,
    one taken from the theme or a symbol character set (either can stand for the name), too small,
    a colour other than black (white on white), struck through (a struck figure reads as void, and
    the line through its middle can make one digit look like another), superscript or subscript
    (digits shrunk to two thirds, off their line), hollow or shadowed. Export writes none of them."""
    found = []
    tags = [child.tag for child in font]
    for twice in sorted({tag for tag in tags if tags.count(tag) > 1}):
        found.append(
            _("a font gives {element} twice; programs differ on which they use").format(
                element=str(twice).rpartition("}")[2][:40]
            )
        )
    name = font.find(f"{_NS}name")
    if name is None:  # a program shows it in a typeface of its choosing (the theme's, in Excel)
        found.append(
            _("a font names no typeface; a program could show a figure in any; export writes {fonts}").format(
                fonts=", ".join(sorted(_FONT_NAMES))
            )
        )
    elif name.get("val") not in _FONT_NAMES:
        found.append(
            _("a font named {name!r} could show a figure as other signs; export writes {fonts}").format(
                name=_quoted(str(name.get("val", "")), 40), fonts=", ".join(sorted(_FONT_NAMES))
            )
        )
    size = font.find(f"{_NS}sz")
    value = "11" if size is None else str(size.get("val", ""))
    if _FONT_SIZE.fullmatch(value) is None or float(value) < _LEAST_FONT:
        found.append(_("a font of size {size} is too small to read a figure in").format(size=value[:20]))
    color = font.find(f"{_NS}color")
    if color is not None and dict(color.attrib) not in _BLACK_COLOURS:
        shown = " ".join(f"{k}={v[:20]}" for k, v in sorted(color.attrib.items()))
        found.append(
            _("a font coloured {color} could hide a figure; export writes black").format(color=shown)
        )
    for tag, shows in _FONT_AS_EXPORTED.items():
        element = font.find(f"{_NS}{tag}")
        given = None if element is None else element.get("val")
        if element is not None and not shows(given):
            setting = tag if given is None else f"{tag}={given[:20]!r}"
            found.append(
                _(
                    "a font sets {setting}, which export never writes; it could hide or change a figure"
                ).format(setting=setting)
            )
    return found


# a font's settings export never writes, each as it may stand (an element without a value is set):
# the typeface of the theme's fonts (its East Asian one, for a Chinese reader) in place of the
# font's name; the symbol character set, which Windows' font mapping weighs above the name (a
# symbol font may stand for Calibri); a line struck through; superscript or subscript; hollow
# (outline) or shadowed letters, which some programs draw as a white figure with a black rim
_FONT_AS_EXPORTED: dict[str, Callable[[str | None], bool]] = {
    "scheme": lambda value: value == "none",
    "charset": lambda value: value != "2",
    "strike": lambda value: value is not None and not _true(value),
    "vertAlign": lambda value: value == "baseline",
    "outline": lambda value: value is not None and not _true(value),
    "shadow": lambda value: value is not None and not _true(value),
}
# a cell's alignment as export writes it (centred, right, wrapped in the header), or any other that
# shows the whole figure where it stands; not horizontal="fill" (it repeats a cell's text across
# its width: 35 shows as 353535), no indent (it pushes a figure aside, out of a narrow column or
# to "####"), no shrinking to fit (too small to read), no rotation (a figure turned or stacked
# digit under digit, cut by its row), not right to left (a minus sign moved to the figure's end)
_ALIGNMENT_AS_EXPORTED: dict[str, Callable[[str], bool]] = {
    "horizontal": lambda value: (
        value in {"general", "left", "center", "right", "justify", "distributed", "centerContinuous"}
    ),
    "vertical": lambda value: value in {"top", "center", "bottom", "justify", "distributed"},
    "wrapText": _anything,
    "justifyLastLine": _anything,
    "indent": lambda value: value == "0",
    "relativeIndent": lambda value: value == "0",
    "textRotation": lambda value: value == "0",
    "shrinkToFit": lambda value: not _true(value),
    "readingOrder": lambda value: value in {"0", "1"},
    # a cell's protection: locked or not; hidden keeps its content out of the formula bar
    "locked": _anything,
    "hidden": lambda value: not _true(value),
}


def _hiding_alignment(element: ElementTree.Element) -> list[str]:
    """A cell format's alignment or protection setting that could hide or change a figure
    (``_ALIGNMENT_AS_EXPORTED``), or one export never writes."""
    kind = str(element.tag).rpartition("}")[2]
    return [
        _(
            "a cell {kind} sets {attribute}={value!r}, which export never writes; it could move a figure "
            "out of view, shrink, turn, repeat or hide it"
        ).format(kind=kind, attribute=str(name)[:40], value=value[:20])
        for name, value in element.attrib.items()
        if not _ALIGNMENT_AS_EXPORTED.get(name, _nothing)(value)
    ]


def _hiding_theme(theme: ElementTree.Element) -> list[str]:
    """The theme's dark text colour (dk1), which a font coloured theme=1 shows: black, as the
    system's window text or as 000000, unchanged (no tint, shade or other change under it). A
    theme is no part export writes; openpyxl and Excel write this one when they save the workbook.
    Its typefaces show nowhere: a font that takes the theme's (``scheme``) fails. A theme without
    one (or in a namespace this does not read) fails: what a program shows then is its own."""
    found = []
    for dark in [*theme.iter(f"{_DRAWING}dk1")] or [ElementTree.Element(f"{_DRAWING}dk1")]:
        colours = list(dark)
        colour = colours[0] if len(colours) == 1 else None
        black = colour is not None and len(colour) == 0 and (
            (colour.tag == f"{_DRAWING}sysClr" and colour.get("val") == "windowText"
             and colour.get("lastClr", "000000") == "000000")
            or (colour.tag == f"{_DRAWING}srgbClr" and colour.get("val") == "000000")
        )  # fmt: skip
        if not black:
            shown = " ".join(
                " ".join([c.tag.rpartition("}")[2], *(f"{k}={v[:20]}" for k, v in sorted(c.items()))])
                for c in dark.iter()
                if c is not dark
            )
            found.append(
                _(
                    "part {part} gives the theme's dark text colour as {color}; a font coloured theme=1 "
                    "shows in it and could hide a figure; export writes black"
                ).format(part=THEME, color=_quoted(shown or _("nothing"), 120))
            )
    return found


_Fill = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def _fill_key(fill: ElementTree.Element) -> _Fill:
    """A fill as what it paints: each element in it with its attributes (a pattern fill without a
    pattern type is none, as openpyxl writes the first fill when it saves the workbook)."""
    key = []
    for part in fill.iter():
        attributes = dict(part.items())
        if part.tag == f"{_NS}patternFill":
            attributes.setdefault("patternType", "none")
        key.append((str(part.tag), tuple(sorted(attributes.items()))))
    return tuple(key)


def _shown_fill(fill: ElementTree.Element) -> str:
    """A fill in a message: each element in it and its attributes, each value cut at 20 characters."""
    parts = (
        " ".join([part.tag.rpartition("}")[2], *(f"{k}={v[:20]}" for k, v in sorted(part.items()))])
        for part in fill.iter()
        if part is not fill
    )
    return _quoted(" ".join(parts))


_EXPORTED_STYLES = ElementTree.fromstring(STYLES.encode("utf-8"))
# the fills export writes: none, gray125 (the two every workbook holds) and its header's light blue
_EXPORT_FILLS = frozenset(_fill_key(fill) for fill in _EXPORTED_STYLES.iter(f"{_NS}fill"))
# the typefaces export writes (Calibri), which openpyxl writes back when it saves the workbook:
# any other could show a digit as another sign (Wingdings, Symbol, Webdings...)
_FONT_NAMES = frozenset(str(name.get("val")) for name in _EXPORTED_STYLES.iter(f"{_NS}name"))


_FONT_SIZE = re.compile(r"[0-9]{1,4}(?:\.[0-9]{1,4})?")
