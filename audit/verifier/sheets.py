"""Every sheet a person reads in report.xlsx, against what the replay yields: the sheets and
their order, none hidden, no name or link that could show other content, no number format that
shows a literal, and every cell of the balances, spending and findings sheets (the event log is
``workbook``'s). Bounded first (``xlsx.check_package``), so a crafted file is refused before a
reader holds it."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree

from audit.verifier import layout
from audit.verifier.findings import expected_findings
from audit.verifier.layout import ACTIVITY_HEADERS, ACTIVITY_SHEET, REGISTRY_HEADERS, REGISTRY_SHEET
from audit.verifier.policy import BundlePolicy
from audit.verifier.replay import GrantTotals, Replay
from audit.verifier.report import EVENTS, WORKBOOK, Report
from audit.verifier.xlsx import (
    PackageError,
    check_package,
    column_letter,
    dimension,
    rows_per_sheet,
    sheet_parts,
)

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_MAX_DIFFS = 5
CENT = Decimal("0.01")
# custom number formats that show a value as it is (the bundle writes the first; Excel and
# LibreOffice write the others when they save it)
SAFE_FORMATS = frozenset(
    {"yyyy-mm-dd", "yyyy\\-mm\\-dd", "#,##0.00", "0.00", "0", "#,##0", "General", "mm-dd-yy", "yyyy/m/d"}
)
BASE_BUDGET = 16 << 20  # bytes a workbook part may inflate to, plus twice events.jsonl's size

TEXT, INT, AMOUNT, DAY = "text", "int", "amount", "date"
BALANCE_KINDS = [TEXT] * 4 + [AMOUNT] * 11
SPENDING_KINDS = [INT, DAY, *[TEXT] * 7, AMOUNT, TEXT]
FINDINGS_KINDS = [TEXT] * 4 + [DAY, TEXT]
ACTIVITY_KINDS = [TEXT] * 4 + [INT, DAY, DAY]
REGISTRY_KINDS = [INT, DAY, *[TEXT] * 5]


def part_budget(directory: Path) -> int:
    events = directory / EVENTS
    return BASE_BUDGET + 2 * (events.stat().st_size if events.is_file() else 0)


def sheet_names(name: str, rows: int) -> list[str]:
    return [name if k == 1 else f"{name} ({k})" for k in range(1, len(rows_per_sheet(rows)) + 1)]


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


def check_sheets(
    directory: Path,
    replay: Replay,
    policy: BundlePolicy | None,
    events: int,
    report: Report,
    log_as_exported: bool = False,
    who: tuple[list[list[Any]], list[list[Any]]] = ([], []),
) -> bool:
    """Checks the workbook; False if it could not be read at all (the event log check is skipped)."""
    path = directory / WORKBOOK
    if not path.is_file():
        report.fail(f"{WORKBOOK}: missing")
        return False
    try:
        log = frozenset(sheet_names(layout.EVENT_LOG_SHEET, events)) if log_as_exported else frozenset()
        check_package(path, part_budget(directory), log)
    except PackageError as e:
        report.fail(f"{WORKBOOK}: {e}")
        return False
    balances = balance_rows(replay)
    findings = expected_findings(replay, policy) if policy is not None else None
    expected_names = [
        *sheet_names(layout.BALANCES_SHEET, len(balances)),
        *sheet_names(layout.SPENDING_SHEET, len(replay.spending)),
        *sheet_names(layout.FINDINGS_SHEET, len(findings or [])),
        *sheet_names(ACTIVITY_SHEET, len(who[0])),
        *sheet_names(REGISTRY_SHEET, len(who[1])),
        *sheet_names(layout.EVENT_LOG_SHEET, events),
    ]
    try:
        shown = _structure(path, report)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError, ValueError) as e:
        report.fail(f"{WORKBOOK}: cannot read its sheets ({type(e).__name__})")
        return False
    if shown != expected_names:
        first = next(
            (i for i, (a, b) in enumerate(zip(shown, expected_names, strict=False)) if a != b),
            min(len(shown), len(expected_names)),
        )
        got = shown[first] if first < len(shown) else "no sheet"
        want = expected_names[first] if first < len(expected_names) else "no sheet"
        report.fail(
            f"{WORKBOOK}: sheet {first + 1} is {got!r} where the bundle has {want!r} "
            f"(sheets: {', '.join(shown)})"
        )
        return False
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # any unreadable workbook is one failure, not a traceback
        report.fail(f"{WORKBOOK}: cannot read it ({type(e).__name__})")
        return False
    try:
        report.grants = len(balances)
        _compare(book, layout.BALANCES_SHEET, layout.BALANCE_HEADERS, BALANCE_KINDS, balances, report)
        if not _as_exported(path, replay):
            spending = replay.spending
            _compare(book, layout.SPENDING_SHEET, layout.SPENDING_HEADERS, SPENDING_KINDS, spending, report)
        if findings is not None:
            _compare(book, layout.FINDINGS_SHEET, layout.FINDINGS_HEADERS, FINDINGS_KINDS, findings, report)
        _compare(book, ACTIVITY_SHEET, ACTIVITY_HEADERS, ACTIVITY_KINDS, who[0], report)
        _compare(book, REGISTRY_SHEET, REGISTRY_HEADERS, REGISTRY_KINDS, who[1], report)
    except Exception as e:  # a sheet damaged past its first rows: read lazily, fails here
        report.fail(f"{WORKBOOK}: cannot read its sheets ({type(e).__name__})")
    finally:
        book.close()
    return True


def _as_exported(path: Path, replay: Replay) -> bool:
    """Whether the spending sheets are byte for byte what export writes for the replay's rows."""
    expected = replay.spending.digest()
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as book:
        parts = dict(sheet_parts(book))
        sizes = rows_per_sheet(len(replay.spending))
        for name, rows in zip(replay.spending.names, sizes, strict=True):
            stated = dimension(len(layout.SPENDING_HEADERS), rows).encode("ascii")
            with book.open(parts[name]) as handle:  # its <dimension>, which the rows imply, left out
                digest.update(handle.read(1 << 20).replace(stated, b"", 1))
                for chunk in iter(lambda h=handle: h.read(1 << 20), b""):  # type: ignore[misc]
                    digest.update(chunk)
    return digest.digest() == expected


def _structure(path: Path, report: Report) -> list[str]:
    """The sheet names in order; failures for a hidden sheet, a defined name, an external link,
    and a number format that shows a literal instead of the value."""
    with zipfile.ZipFile(path) as book:
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        names = []
        for sheet in workbook.iter(f"{_NS}sheet"):
            name = str(sheet.get("name"))
            names.append(name)
            state = sheet.get("state", "visible")
            if state != "visible":
                report.fail(f"{WORKBOOK}: sheet {name!r} is {state}; a bundle hides nothing")
        for tag in ("definedName", "externalReference"):
            for element in workbook.iter(f"{_NS}{tag}"):
                report.fail(
                    f"{WORKBOOK}: has a {tag} {element.get('name') or element.get('{*}id') or ''} "
                    "(it could show content the bundle does not hold)".replace("  ", " ")
                )
        for name in book.namelist():
            if name.startswith("xl/externalLinks/"):
                report.fail(f"{WORKBOOK}: has an external link ({name})")
        if "xl/styles.xml" in book.namelist():
            styles = ElementTree.fromstring(book.read("xl/styles.xml"))
            for fmt in styles.iter(f"{_NS}numFmt"):
                code = str(fmt.get("formatCode", ""))
                if code not in SAFE_FORMATS:
                    report.fail(
                        f"{WORKBOOK}: number format {code!r} is none the bundle uses; it could show "
                        "something other than a cell's value"
                    )
    return names


def _rows(
    book: Any, name: str, rows: int, header: list[str], report: Report
) -> Iterator[tuple[str, int, tuple[Any, ...]]]:
    """(sheet, row number, values) of every data row of a logical sheet and its continuations."""
    for sheet in sheet_names(name, rows):
        it = book[sheet].iter_rows(values_only=True)
        first = _trim(next(it, ()))
        if list(first) != header:
            report.fail(f"{WORKBOOK} {sheet}!A1: the header is not {', '.join(header)}")
        for n, row in enumerate(it, 2):
            yield sheet, n, _trim(row)


def _trim(row: Iterable[Any]) -> tuple[Any, ...]:
    values = list(row)
    while values and values[-1] in (None, ""):
        values.pop()
    return tuple(values)


class _Rows(Protocol):
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[list[Any]]: ...


def _compare(
    book: Any, name: str, header: list[str], kinds: Sequence[str], expected: _Rows, report: Report
) -> None:
    diffs = 0
    shown = _rows(book, name, len(expected), header, report)
    last = (name, 1)
    for row in expected:
        got = next(shown, None)
        if got is None:
            report.fail(f"{WORKBOOK} {last[0]}!A{last[1] + 1}: no row, but the events give {_show(row)}")
            return
        sheet, n, values = got
        last = (sheet, n)
        for i, (kind, want) in enumerate(zip(kinds, row, strict=True)):
            have = values[i] if i < len(values) else None
            if not _same(kind, have, want):
                diffs += 1
                if diffs <= _MAX_DIFFS:
                    report.fail(
                        f"{WORKBOOK} {sheet}!{column_letter(i)}{n} ({header[i]}): shows {_cell(have, kind)} "
                        f"but the events give {_cell(want)}"
                    )
        if len(values) > len(kinds):
            diffs += 1
            if diffs <= _MAX_DIFFS:
                report.fail(
                    f"{WORKBOOK} {sheet}!{column_letter(len(kinds))}{n}: shows {_cell(values[len(kinds)])} "
                    "in a column the bundle does not have"
                )
    extra = next((row for row in shown if row[2]), None)  # empty rows past the end show nothing
    if extra is not None:
        sheet, n, values = extra
        report.fail(f"{WORKBOOK} {sheet}!A{n}: shows {_show(values)}, a row the events do not give")
        return
    if diffs > _MAX_DIFFS:
        report.fail(f"{WORKBOOK} {name}: {diffs - _MAX_DIFFS} more cells differ from the events")


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
        return "nothing"
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
