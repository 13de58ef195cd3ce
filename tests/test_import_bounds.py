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
