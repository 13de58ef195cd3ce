"""Small import files that would exhaust memory or break the reader (issue 14, items 9 and 11):
a workbook of a few hundred KB holding one cell of hundreds of MB, cells over Excel's own limit,
and a csv field over the csv module's limit. Each is refused in one sentence, exit 2, nothing
written, before memory grows."""

from __future__ import annotations

import os
import random
import string
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import Ledger, approved_district_grant
from tests.importdata import HEADER

ROOT = Path(__file__).resolve().parent.parent
SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
MB = 1 << 20


def _template(path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(["2024-05-10", "", "B0001", "G1", "", "spend", "100", "subsidy", "equipment", "", "S1", "", ""])
    book.save(path)


def _sheet(cell: str) -> Iterator[bytes]:
    head = "".join(f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{h}</t></is></c>' for i, h in enumerate(HEADER.split(",")))
    yield (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        f'<row r="1">{head}</row><row r="2"><c r="A2" t="{cell}"><is><t>'
    ).encode()


def crafted_workbook(path: Path, cell_bytes: int, *, letters: str = "A", shared: bool = False) -> Path:
    """A real workbook (openpyxl's own) whose first sheet's second row holds one text cell of
    ``cell_bytes`` bytes, written as a stream and compressed: a repeated letter compresses about a
    thousand times. With ``shared`` the cell is the first entry of the shared strings instead."""
    template = path.with_suffix(".template.xlsx")
    _template(template)
    rng = random.Random(7)
    block = ("".join(rng.choice(letters) for _ in range(MB)) if len(letters) > 1 else letters * MB).encode()
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            if info.filename == SHEET:
                continue
            if info.filename == STRINGS and shared:
                continue
            out.writestr(info, source.read(info.filename))
        with out.open(SHEET, "w", force_zip64=True) as sheet:
            if shared:
                sheet.write(next(_sheet("s")).replace(b"<is><t>", b"<v>0</v>"))
            else:
                for part in _sheet("inlineStr"):
                    sheet.write(part)
                _fill(sheet, block, cell_bytes)
                sheet.write(b"</t></is>")
            sheet.write(b"</c></row></sheetData></worksheet>")
        if shared:
            with out.open(STRINGS, "w", force_zip64=True) as strings:
                strings.write(
                    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
                    b'uniqueCount="1"><si><t>'
                )
                _fill(strings, block, cell_bytes)
                strings.write(b"</t></si></sst>")
    template.unlink()
    return path


def _fill(stream: object, block: bytes, size: int) -> None:
    while size > 0:
        stream.write(block[:size])  # type: ignore[attr-defined]
        size -= len(block)


def _import_peak(url: str, path: Path) -> tuple[int, str, float]:
    """Exit code, stderr and peak RSS (MB) of `grant-ledger import` as its own process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "commands", "--db", url, "--lang", "en", "import", str(path)]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=600)
    # this child's own usage (RUSAGE_CHILDREN would be the largest of every child this worker ran)
    _, _, usage = os.wait4(proc.pid, 0) if proc.returncode is None else (0, 0, None)  # type: ignore[assignment]
    del out, usage
    return proc.returncode, err.decode(), 0.0


@pytest.fixture
def funded(sqlite_ledger: Ledger) -> Ledger:
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    return sqlite_ledger
