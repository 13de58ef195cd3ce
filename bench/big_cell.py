"""A small workbook holding one huge cell: the file behind the import's memory figure (issue 14,
item 9), also built by tests/test_import_bounds.py.

    .venv/bin/python -m bench.big_cell OUT.xlsx [MB]

The workbook is openpyxl's own, with its first sheet rewritten as a stream: the header, then one
row whose first cell is ``MB`` megabytes of text. A repeated letter compresses about a thousand
times, so 400 MB of cell make a file of about 400 KB.
"""

from __future__ import annotations

import random
import sys
import zipfile
from pathlib import Path
from typing import IO

from bench.generate import HEADER

SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
MB = 1 << 20
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def crafted_workbook(path: Path, cell_bytes: int, *, letters: str = "A", shared: bool = False) -> Path:
    """Write the workbook to ``path``: its second row's first cell holds ``cell_bytes`` bytes of
    ``letters`` (one letter repeated, or a seeded random mix of several, which compresses far
    less), inline in the sheet or, with ``shared``, as the first of the shared strings."""
    from openpyxl import Workbook

    template = path.with_name(path.name + ".template")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(HEADER))
    book.save(template)
    rng = random.Random(7)
    block = ("".join(rng.choice(letters) for _ in range(MB)) if len(letters) > 1 else letters * MB).encode()
    head = "".join(
        f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{h}</t></is></c>' for i, h in enumerate(HEADER)
    )
    start = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{_MAIN}"><sheetData>'
    start += f'<row r="1">{head}</row><row r="2">'
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            if info.filename not in (SHEET, STRINGS):
                out.writestr(info, source.read(info.filename))
        with out.open(SHEET, "w", force_zip64=True) as stream:
            if shared:
                stream.write(f'{start}<c r="A2" t="s"><v>0</v></c>'.encode())
            else:
                stream.write(f'{start}<c r="A2" t="inlineStr"><is><t>'.encode())
                _fill(stream, block, cell_bytes)
                stream.write(b"</t></is></c>")
            stream.write(b"</row></sheetData></worksheet>")
        with out.open(STRINGS, "w", force_zip64=True) as stream:
            stream.write(
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="{_MAIN}">'.encode()
            )
            if shared:
                stream.write(b"<si><t>")
                _fill(stream, block, cell_bytes)
                stream.write(b"</t></si>")
            stream.write(b"</sst>")
    template.unlink()
    return path


def inflated_part(workbook: Path, part: str, size: int) -> None:
    """Add to ``workbook`` the part ``part`` inflating to about ``size`` bytes (a run of one byte:
    well under a megabyte on disk), the file behind ``audit verify``'s memory figure."""
    with zipfile.ZipFile(workbook, "a", zipfile.ZIP_DEFLATED) as book:
        with book.open(part, "w", force_zip64=True) as out:
            chunk = b"<x>" + b"a" * MB
            for _ in range(size // len(chunk)):
                out.write(chunk)


def _fill(stream: IO[bytes], block: bytes, size: int) -> None:
    while size > 0:
        stream.write(block[:size])
        size -= len(block)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    crafted_workbook(target, int(sys.argv[2] if len(sys.argv) > 2 else 400) * MB)
    print(f"{target}: {target.stat().st_size:,} bytes")
