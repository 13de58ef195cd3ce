"""A row holding more cells than its header names: an unquoted comma in a csv cell (`ACME, Ltd`)
shifts every later cell one column on, so such a row is refused at its line, never cut to the
header's width; empty cells past the header (as spreadsheets export rows) are read as nothing. The
same for a workbook's rows, in one process or checked in parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Ledger, approved_district_grant
from tests.importdata import HEADER

JOBS = pytest.mark.parametrize("jobs", ["1", "3"])
DISBURSE = "2024-04-10,,,G1,,disburse,100000,,,,T1,,1"
SPEND = "2024-04-12,,,G1,,spend,100,subsidy,equipment,training_system,{voucher},{payee},{memo}"


@pytest.fixture
def approved(sqlite_ledger: Ledger) -> Ledger:
    approved_district_grant(sqlite_ledger)
    return sqlite_ledger


def _csv(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "books.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


@JOBS
def test_a_row_with_an_unquoted_comma_is_refused_at_its_line_and_nothing_is_written(
    approved: Ledger, tmp_path: Path, jobs: str
) -> None:
    events = approved.event_count()
    path = _csv(
        tmp_path,
        DISBURSE,
        SPEND.format(voucher="S1", payee="ACME, Ltd", memo="real memo"),
        SPEND.format(voucher="S2", payee="p", memo="m"),
        SPEND.format(voucher="S3", payee="ACME, Ltd, Chongqing", memo="m"),
        SPEND.format(voucher="S4", payee="p", memo="m").replace(",100,", ",abc,"),
    )

    result = approved("import", "--jobs", jobs, str(path))

    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (
        "books.csv:3: the row holds 14 cells but the header names 13; a cell holding a comma must be "
        'quoted ("ACME, Ltd"), as a spreadsheet saving csv quotes it'
    )
    assert lines[1].startswith("books.csv:5: the row holds 15 cells but the header names 13; ")
    assert lines[2].startswith("books.csv:6: amount")  # every bad row, each at its line
    assert lines[3] == "grant-ledger: 3 bad rows of 5 in books.csv; nothing was imported"
    assert approved.event_count() == events


@JOBS
def test_empty_cells_past_the_header_are_read_as_nothing(approved: Ledger, tmp_path: Path, jobs: str) -> None:
    quoted = SPEND.format(voucher="S1", payee='"ACME, Ltd"', memo="real memo")
    path = _csv(
        tmp_path, DISBURSE + ",,", quoted + ",, ,", SPEND.format(voucher="S2", payee="p", memo="m") + ","
    )

    result = approved.ok("import", "--jobs", jobs, str(path))

    assert "3 events recorded" in result.stdout
    found = approved.ok("export", "--format", "csv").stdout
    assert "ACME, Ltd" in found and "real memo" in found


@JOBS
def test_a_workbook_row_with_a_value_past_the_header_is_refused_and_empty_ones_are_not(
    approved: Ledger, tmp_path: Path, jobs: str
) -> None:
    from openpyxl import Workbook

    def row(line: str, *more: object) -> list[object]:
        return [*line.split(","), *more]

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append(row(DISBURSE, None, ""))
    sheet.append(row(SPEND.format(voucher="S1", payee="ACME", memo="Ltd"), "real memo"))
    sheet.append(row(SPEND.format(voucher="S2", payee="p", memo="m"), None, None, 7))
    sheet.append(row(SPEND.format(voucher="S3", payee="p", memo="m"), "", " "))
    path = tmp_path / "books.xlsx"
    book.save(path)
    events = approved.event_count()

    result = approved("import", "--jobs", jobs, str(path))

    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (
        "books.xlsx:3: the row holds 14 cells but the header names 13; a cell past the header's "
        "columns belongs to no column: clear it, or name its column in the header"
    )
    assert lines[1].startswith("books.xlsx:4: the row holds 16 cells but the header names 13; ")
    assert lines[2] == "grant-ledger: 2 bad rows of 4 in books.xlsx; nothing was imported"
    assert approved.event_count() == events


@JOBS
def test_rows_after_a_cell_running_over_lines_are_named_by_the_files_lines(
    approved: Ledger, tmp_path: Path, jobs: str
) -> None:
    """A quoted cell holding a line break takes two lines of the file; the bad row after it was
    named by its place among the rows (line 4), not the line an editor shows it on (5)."""
    path = _csv(
        tmp_path,
        DISBURSE,
        SPEND.format(voucher="S1", payee="p", memo='"line one\nline two"'),  # lines 3-4
        SPEND.format(voucher="S2", payee="p", memo="m").replace(",100,", ",abc,"),  # line 5
    )
    result = approved("import", "--jobs", jobs, str(path))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("books.csv:3: memo holds a control character (U+000A)"), lines
    assert lines[1].startswith("books.csv:5: amount"), lines
    assert lines[2] == "grant-ledger: 2 bad rows of 3 in books.csv; nothing was imported"


def _spaced(line: str, cell: object = "") -> list[object]:
    """A row of the format with a cell put between payee and memo, under a header that leaves that
    column's name blank."""
    cells: list[object] = list(line.split(","))
    return [*cells[:12], cell, *cells[12:]]


@JOBS
def test_a_value_under_a_blank_name_of_the_header_is_refused_at_its_line(
    approved: Ledger, tmp_path: Path, jobs: str
) -> None:
    """A header leaving a column's name blank between its names read the file and dropped that
    column's cells unseen (a name cleared: the value belonged to some column). A row holding a
    value there is refused at its line, as one past the header is; empty, the column is nothing."""
    header = ",".join(str(c) for c in _spaced(HEADER))
    rows = [
        _spaced(DISBURSE),
        _spaced(SPEND.format(voucher="S1", payee="p", memo="m"), "real memo"),
        _spaced(SPEND.format(voucher="S2", payee="p", memo="m")),
    ]
    path = tmp_path / "books.csv"
    path.write_text("\n".join([header, *(",".join(map(str, r)) for r in rows)]) + "\n", encoding="utf-8")
    events = approved.event_count()

    result = approved("import", "--jobs", jobs, str(path))

    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.strip().splitlines() == [
        "books.csv:3: the row holds a value in column 13 (M), whose name the header leaves blank; a "
        "cell under no name belongs to no column: clear it, or name its column in the header",
        "grant-ledger: 1 bad row of 3 in books.csv; nothing was imported",
    ]
    assert approved.event_count() == events
    rows[1][12] = " "
    path.write_text("\n".join([header, *(",".join(map(str, r)) for r in rows)]) + "\n", encoding="utf-8")
    assert "3 events recorded" in approved.ok("import", "--jobs", jobs, str(path)).stdout


def test_a_workbook_value_under_a_blank_name_of_the_header_is_refused_at_its_line(
    approved: Ledger, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(_spaced(HEADER, None))
    sheet.append(_spaced(DISBURSE, None))
    sheet.append(_spaced(SPEND.format(voucher="S1", payee="p", memo="m"), 7))  # a number cell
    sheet.append(_spaced(SPEND.format(voucher="S2", payee="p", memo="m"), None))
    sheet.append([None] * 12 + ["note"])  # a row holding nothing else
    path = tmp_path / "books.xlsx"
    book.save(path)
    events = approved.event_count()

    result = approved("import", str(path))

    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (
        "books.xlsx:3: the row holds a value in column 13 (M), whose name the header leaves blank; a "
        "cell under no name belongs to no column: clear it, or name its column in the header"
    )
    assert lines[1].startswith("books.xlsx:5: the row holds a value in column 13 (M), "), lines
    assert lines[2] == "grant-ledger: 2 bad rows of 4 in books.xlsx; nothing was imported"
    assert approved.event_count() == events
