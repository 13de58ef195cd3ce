"""Small import files that would exhaust memory or break the reader (issue 14, items 9 and 11): a
workbook of a few hundred KB holding one cell of hundreds of MB, a cell over Excel's own limit
that compresses poorly, and a csv field over the csv module's limit. Each is refused in one
sentence, exit 2, nothing written, before memory grows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.big_cell import MB, crafted_workbook
from tests.conftest import Ledger, approved_district_grant
from tests.importdata import HEADER

ROOT = Path(__file__).resolve().parent.parent
LETTERS = "abcdefghijklmnopqrstuvwxyz"


_MEASURED = """
import re, sys
from commands.cli import cli
code = 0
try:
    cli.main(sys.argv[2:], prog_name="grant-ledger")
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else 1
finally:
    status = open("/proc/self/status").read()
    open(sys.argv[1], "w").write(re.search(r"VmHWM:\\s+(\\d+)", status).group(1))
sys.exit(code)
"""


def _import_in_own_process(url: str, path: Path) -> tuple[int, str, float]:
    """Exit code, stderr and peak RSS in MB of `grant-ledger import` run as a process of its own,
    the peak read by the process itself (VmHWM): getrusage's figure for a child carries over the
    forking test worker's own, which grows over a long run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    peak = path.with_name("peak-kb.txt")
    command = [sys.executable, "-c", _MEASURED, str(peak), "--db", url, "--lang", "en", "import", str(path)]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    return done.returncode, done.stderr, int(peak.read_text()) / 1024


@pytest.fixture
def funded(sqlite_ledger: Ledger) -> Ledger:
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    return sqlite_ledger


@pytest.mark.parametrize("shared", [False, True], ids=["inline cell", "shared string"])
def test_a_small_workbook_holding_a_huge_cell_is_refused_before_memory_grows(
    funded: Ledger, tmp_path: Path, shared: bool
) -> None:
    """400 KB of file, 400 MB of cell: openpyxl peaked at 1.29 GB reading it."""
    path = crafted_workbook(tmp_path / "books.xlsx", 400 * MB, shared=shared)
    assert path.stat().st_size < 600_000
    before = funded.event_count()
    code, err, peak_mb = _import_in_own_process(funded.url, path)
    assert code == 2, err
    assert peak_mb < 300, peak_mb
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    if shared:  # a part read whole: its compression gives it away before it is read
        assert lines[0].startswith("grant-ledger: books.xlsx: its part xl/sharedStrings.xml unpacks "), err
        assert "more than 100 times" in lines[0]
    else:  # a sheet, read as a stream: the cell's length, as soon as it is seen
        assert lines[0].startswith("grant-ledger: books.xlsx: its part xl/worksheets/sheet1.xml holds a cell")
    assert funded.event_count() == before


def test_a_long_cell_that_compresses_poorly_is_refused_by_its_length(funded: Ledger, tmp_path: Path) -> None:
    """Random letters compress about 1.6 times: no ratio gives it away, the cell's length does."""
    path = crafted_workbook(tmp_path / "books.xlsx", 2 * MB, letters=LETTERS)
    result = funded("import", str(path))
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip() == (
        "grant-ledger: books.xlsx: its part xl/worksheets/sheet1.xml holds a cell or tag of more than "
        "262,136 bytes; no column of the import format comes near that (free text: 500 characters)"
    )


def test_a_long_cell_within_excels_limit_is_read_and_judged_by_the_field_rules(
    funded: Ledger, tmp_path: Path
) -> None:
    """The bound is not a rule of its own: a cell Excel could hold reaches the row's checks."""
    path = crafted_workbook(tmp_path / "books.xlsx", 30_000, letters=LETTERS)
    result = funded("import", str(path))
    assert result.exit_code == 2
    assert "books.xlsx:2: " in result.stderr
    assert "holds a cell" not in result.stderr


def test_a_workbook_declaring_entities_is_refused(funded: Ledger, tmp_path: Path) -> None:
    """A DTD's entities grow text as it is parsed (a billion laughs): a workbook has no use for one."""
    import zipfile

    plain = crafted_workbook(tmp_path / "plain.xlsx", 10)
    path = tmp_path / "books.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/sharedStrings.xml":
                data = data.replace(b"?><sst", b'?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">]><sst')
            out.writestr(info, data)
    result = funded("import", str(path))
    assert result.exit_code == 2
    assert "its part xl/sharedStrings.xml declares a DTD" in result.stderr


def test_a_csv_field_over_the_csv_limit_is_bad_input_in_one_sentence(funded: Ledger, tmp_path: Path) -> None:
    """csv.Error 'field larger than field limit (131072)' was an internal error, exit 1."""
    book = tmp_path / "books.csv"
    memo = "备" * 140_000
    book.write_text(
        f"{HEADER}\n2024-05-10,,B0001,G1,,spend,100,subsidy,equipment,,S1,,{memo}\n", encoding="utf-8"
    )
    before = funded.event_count()
    result = funded("import", str(book))
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "grant-ledger: books.csv: line 2 holds a field of more than 131,072 characters; no column of "
        "the import format is that long (free text: 500 at most)"
    )
    assert "Traceback" not in result.stderr
    assert funded.event_count() == before


def test_the_bound_check_takes_linear_time_over_a_sheet_of_long_cells(tmp_path: Path) -> None:
    """Ten thousand cells of 1,000 bytes: the first scan (an unanchored regular expression) took
    16 s over 10 MB of such cells, retrying from every byte of each."""
    import time
    import zipfile

    from commands.import_files import check_workbook

    plain = crafted_workbook(tmp_path / "plain.xlsx", 10)
    path = tmp_path / "long-cells.xlsx"
    cell = '<c t="inlineStr"><is><t>' + "备注" * 166 + "</t></is></c>"
    rows = "".join(f'<row r="{n}">{cell * 3}</row>' for n in range(3, 3400))
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", rows.encode() + b"</sheetData>")
            out.writestr(info, data)
    started = time.perf_counter()
    check_workbook(path)
    assert time.perf_counter() - started < 3


def _rewritten(source: Path, path: Path, change: Any) -> Path:
    """A copy of the workbook with each part's (name, bytes) as ``change`` gives them."""
    import zipfile

    with zipfile.ZipFile(source) as book, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in book.infolist():
            name, data = change(info.filename, book.read(info.filename))
            out.writestr(name, data)
    return path


def test_a_sheet_named_in_capitals_is_checked_all_the_same(funded: Ledger, tmp_path: Path) -> None:
    """openpyxl reads a sheet wherever the workbook's relations point: named ``sheet1.XML``, a
    200 MB cell in a file of 200 KB took the import to 688 MB before the parts were recognised by
    their content, not their name."""
    huge = crafted_workbook(tmp_path / "huge.xlsx", 200 * MB)

    def renamed(name: str, data: bytes) -> tuple[str, bytes]:
        data = data.replace(b"worksheets/sheet1.xml", b"worksheets/sheet1.XML")
        return name.replace("sheet1.xml", "sheet1.XML"), data

    path = _rewritten(huge, tmp_path / "books.xlsx", renamed)
    before = funded.event_count()
    code, err, peak_mb = _import_in_own_process(funded.url, path)
    assert code == 2, err
    assert peak_mb < 300, peak_mb
    assert err.strip() == (
        "grant-ledger: books.xlsx: its part xl/worksheets/sheet1.XML holds a cell or tag of more than "
        "262,136 bytes; no column of the import format comes near that (free text: 500 characters)"
    )
    assert funded.event_count() == before


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "xl/workbook.xml"])
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_part_in_utf16_or_utf32_is_refused(
    funded: Ledger, tmp_path: Path, part: str, encoding: str
) -> None:
    """The checks read a part's bytes: in UTF-16 a DTD's bytes are not ``<!DOCTYPE``, and its
    entity was expanded into the stored row. Excel writes UTF-8, so other encodings are refused."""
    plain = crafted_workbook(tmp_path / "plain.xlsx", 10, shared=True)

    def recoded(name: str, data: bytes) -> tuple[str, bytes]:
        if name != part:
            return name, data
        text = data.decode("utf-8").split("?>", 1)[-1]
        declared = f'<?xml version="1.0" encoding="{encoding.upper()}"?><!DOCTYPE x [<!ENTITY a "b">]>'
        return name, (declared + text).encode(encoding)

    path = _rewritten(plain, tmp_path / "books.xlsx", recoded)
    before = funded.event_count()
    result = funded("import", str(path))
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"grant-ledger: books.xlsx: its part {part} is not in UTF-8, as Excel writes a workbook's parts"
    )
    assert funded.event_count() == before


def _sheet_rewritten(path: Path, rows: list[list[object]], dimension: str | None, more: str = "") -> Path:
    """A workbook of ``rows`` (the header first), its sheet declaring ``dimension`` (None: as
    openpyxl wrote it) and holding the rows of XML ``more`` after its own."""
    import io
    import re

    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    raw = io.BytesIO()
    book.save(raw)

    def change(name: str, data: bytes) -> tuple[str, bytes]:
        if name == "xl/worksheets/sheet1.xml":
            text = data.decode()
            if dimension is not None:
                text = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="{dimension}"/>', text)
            data = text.replace("</sheetData>", more + "</sheetData>").encode()
        return name, data

    return _rewritten(raw, path, change)  # type: ignore[arg-type]


def _read(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], float]:
    """The rows read of the workbook, and the CPU time reading them took."""
    import time

    from commands.import_files import open_import
    from ledger.import_format import read_rows

    started = time.process_time()
    rows = list(read_rows(open_import(path).cells))
    return rows, time.process_time() - started


def test_a_tiny_workbook_declaring_a_huge_dimension_is_read_within_a_bound_of_columns(tmp_path: Path) -> None:
    """A 5 KB workbook declaring A1:XFD4000 had openpyxl make 16,384 cells of each of its 4,000
    rows (1.7 s of CPU; a million rows declared, some 450 s): it reads 64 columns at most."""
    from commands.import_files import COLUMNS_READ, FORMAT_COLUMNS, open_import

    assert FORMAT_COLUMNS == 18 and COLUMNS_READ >= 3 * FORMAT_COLUMNS
    last = '<row r="4000"><c r="A4000" t="inlineStr"><is><t>x</t></is></c></row>'
    path = _sheet_rewritten(tmp_path / "dim.xlsx", [HEADER.split(",")], "A1:XFD4000", last)
    assert path.stat().st_size < 6000
    assert max(len(cells) for cells in open_import(path).cells) == COLUMNS_READ
    rows, cpu = _read(path)
    assert [line for line, _ in rows] == [4000]
    assert cpu < 1, cpu


def test_rows_each_holding_a_cell_at_the_last_column_are_read_cheaply_and_refused_at_their_lines(
    funded: Ledger, tmp_path: Path
) -> None:
    """A cell at column XFD (16,384) on each row: read 64 columns wide, each row says it holds a
    value past them (never dropped unseen), and is refused at its line."""
    far = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>2024-05-01</t></is></c>'
        f'<c r="XFD{n}" t="inlineStr"><is><t>x</t></is></c></row>'
        for n in range(2, 4002)
    )
    path = _sheet_rewritten(tmp_path / "far.xlsx", [HEADER.split(",")], None, far)
    rows, cpu = _read(path)
    assert len(rows) == 4000
    assert cpu < 5, cpu  # 16,384 cells a row would take minutes; read 64 wide, under a second idle
    assert {row.overflow for _, row in rows} == {(13, 16_384, False)}  # type: ignore[attr-defined]

    spend = "2024-05-01,,,G1,,spend,100,subsidy,equipment,training_system,S1,p,m".split(",")
    far_spend = [*spend[:10], "S2", *spend[11:]]
    one = '<row r="3"><c r="A3" t="inlineStr"><is><t>2024-05-01</t></is></c>'
    one += "".join(
        f'<c r="{col}3" t="inlineStr"><is><t>{v}</t></is></c>'
        for col, v in zip("BCDEFGHIJKLM", far_spend[1:], strict=True)
    )
    one += '<c r="XFD3" t="inlineStr"><is><t>real memo</t></is></c></row>'
    path = _sheet_rewritten(tmp_path / "books.xlsx", [HEADER.split(","), spend], None, one)
    before = funded.event_count()
    result = funded("import", str(path))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0] == (
        "books.xlsx:3: the row holds 16384 cells but the header names 13; a cell past the header's "
        "columns belongs to no column: clear it, or name its column in the header"
    )
    assert funded.event_count() == before


def test_a_header_naming_a_column_past_the_columns_read_is_refused(funded: Ledger, tmp_path: Path) -> None:
    from commands.import_files import COLUMNS_READ

    header = [*HEADER.split(","), *[f"note{n}" for n in range(COLUMNS_READ - 13)], "district"]
    path = _sheet_rewritten(tmp_path / "books.xlsx", [header], None)
    result = funded("import", str(path))
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        "grant-ledger: books.xlsx: the header holds a value in column BM, past the first 64 columns that "
        "an import reads of a sheet; put the import's columns first"
    )


def test_columns_of_its_own_within_the_columns_read_are_imported(funded: Ledger, tmp_path: Path) -> None:
    """A finance system's export with columns of its own beside the import's: read and left aside."""
    from commands.import_files import COLUMNS_READ

    notes = [f"note{n}" for n in range(COLUMNS_READ - 13)]
    spend = "2024-05-01,,,G1,,spend,100,subsidy,equipment,training_system,S1,p,m".split(",")
    path = _sheet_rewritten(tmp_path / "books.xlsx", [[*HEADER.split(","), *notes], [*spend, *notes]], None)
    result = funded.ok("import", str(path))
    assert "1 events recorded" in result.stdout


def test_rows_past_the_sheets_declared_dimension_are_read_not_dropped(funded: Ledger, tmp_path: Path) -> None:
    """openpyxl stopped at the last row the sheet's <dimension> declares: a sheet declaring A1:M1
    imported its header and nothing else, without a word."""
    spend = "2024-05-01,,,G1,,spend,100,subsidy,equipment,training_system,S1,p,m".split(",")
    rows = [HEADER.split(","), spend, [*spend[:10], "S2", *spend[11:]]]
    path = _sheet_rewritten(tmp_path / "books.xlsx", rows, "A1:M1")
    result = funded.ok("import", str(path))
    assert "imported 2 rows of books.xlsx: 2 events recorded" in result.stdout


def test_a_row_holding_a_value_only_past_the_columns_read_is_refused_not_skipped(
    funded: Ledger, tmp_path: Path
) -> None:
    """A row whose one value stands past the 64 columns read looked empty and was skipped without
    a word (found by a red-team pass): it is refused at its line as any row with a value past
    the header's columns."""
    spend = "2024-05-01,,,G1,,spend,100,subsidy,equipment,training_system,S1,p,m".split(",")
    far = '<row r="3"><c r="BN3" t="inlineStr"><is><t>a note</t></is></c></row>'
    path = _sheet_rewritten(tmp_path / "books.xlsx", [HEADER.split(","), spend], None, far)
    before = funded.event_count()
    result = funded("import", str(path))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0].startswith("books.xlsx:3: the row holds 66 cells"), result.stderr
    assert funded.event_count() == before
