"""report.xlsx's writer (audit/xlsx_writer.py): each sheet deflated apart and put into the zip as
it is. What a reader of the zip checks: every member inflates, by the standard library's zlib, to
XML of the CRC and size its headers state (the local header as well as the central directory), and
a sheet written by another process and put in its place gives the very workbook written in one."""

from __future__ import annotations

import struct
import zipfile
import zlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from audit.verifier import forms, xlsx
from audit.xlsx_writer import DeflatedSheet, Workbook, _Deflating, _framed

HEADER = ["n", "day", "text", "amount"]
FORM = forms.EVENT_LOG_FORM


def _rows(n: int) -> list[list[object]]:
    return [[k, date(2024, 1, 1 + k % 28), f"<&> 设备 {k}", Decimal(k) / 100] for k in range(n)]


def _local_headers_agree(path: Path) -> None:
    """Each member's local header states what the central directory does, and its bytes inflate
    (zlib, not zipfile) to that CRC and size."""
    with zipfile.ZipFile(path) as book, path.open("rb") as raw:
        assert book.testzip() is None
        for info in book.infolist():
            raw.seek(info.header_offset)
            fields = struct.unpack("<IHHHHHIIIHH", raw.read(30))
            sig, method, crc, name_len, extra_len = fields[0], fields[3], fields[6], fields[9], fields[10]
            assert sig == 0x04034B50 and method == info.compress_type == zipfile.ZIP_DEFLATED, info.filename
            assert crc == info.CRC, info.filename
            raw.seek(info.header_offset + 30 + name_len + extra_len)
            xml = zlib.decompressobj(-15).decompress(raw.read(info.compress_size))
            assert len(xml) == info.file_size and zlib.crc32(xml) == info.CRC, info.filename


def _write(path: Path, log_rows: int, spent: int, apart: Path | None) -> None:
    spending_form = forms.filed("spending", None, "2024-12-31", ["合计", None, None, Decimal(1)])
    with Workbook(path) as book:
        if apart is None:
            log = book.sheet("event log", HEADER, rows=log_rows, form=FORM)
            for row in _rows(log_rows):
                log.append(row)
            log.close()
        else:
            book.reserve("event log", log_rows, FORM)
        spooled = book.spooled("spending", HEADER, amount_columns=[3], form=spending_form)
        for row in _rows(spent):
            spooled.append(row)
        book.add_spooled(spooled, spending_form)
        if apart is not None:  # written as by the other process, and put in its place
            sheet = DeflatedSheet(apart, "event log", HEADER, log_rows, FORM)
            for row in _rows(log_rows):
                sheet.append(row)
            book.fill(sheet.close())
        book.close(["spending", "event log"])


@pytest.mark.parametrize(("log_rows", "spent"), [(10, 7), (0, 0), (3, 1)])
def test_a_sheet_written_apart_and_put_in_its_place_gives_the_very_same_workbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_rows: int, spent: int
) -> None:
    monkeypatch.setattr(xlsx, "MAX_ROWS", 6)  # sheets go on in "NAME (2)"… after a few rows
    (tmp_path / "apart").mkdir()
    _write(tmp_path / "one.xlsx", log_rows, spent, None)
    _write(tmp_path / "two.xlsx", log_rows, spent, tmp_path / "apart")
    assert (tmp_path / "one.xlsx").read_bytes() == (tmp_path / "two.xlsx").read_bytes()
    _local_headers_agree(tmp_path / "two.xlsx")
    book = load_workbook(tmp_path / "two.xlsx", read_only=True)
    logs = [name for name in book.sheetnames if name.startswith("event log")]
    shown = [row for name in logs for row in list(book[name].values)[1:]]
    assert [row[0] for row in shown] == list(range(log_rows))
    spending = [r for name in book.sheetnames if name.startswith("spending") for r in book[name].values]
    assert sorted(r[0] for r in spending if isinstance(r[0], int)) == list(range(spent))
    book.close()


def test_a_place_kept_is_filled_by_the_sheets_it_was_kept_for_or_the_workbook_is_not_written(
    tmp_path: Path,
) -> None:
    (tmp_path / "apart").mkdir()
    with Workbook(tmp_path / "a.xlsx") as book:
        book.reserve("event log", 2, FORM)
        other = DeflatedSheet(tmp_path / "apart", "elsewhere", HEADER, 2, FORM)
        for row in _rows(2):
            other.append(row)
        with pytest.raises(ValueError, match="written apart"):
            book.fill(other.close())
        with pytest.raises(ValueError, match="never filled"):
            book.close()


@settings(max_examples=60, deadline=None)
@given(
    head=st.binary(max_size=300),
    chunks=st.lists(st.binary(max_size=70_000), max_size=5),
    tail=st.binary(max_size=300),
)
def test_a_spooled_sheet_s_head_and_tail_framing_its_rows_inflate_to_the_three_in_order(
    tmp_path_factory: pytest.TempPathFactory, head: bytes, chunks: list[bytes], tail: bytes
) -> None:
    """Three deflate streams run on as one (the first two ended at a byte's edge), whatever the
    rows; the CRC combined from the three's is the whole text's."""
    folder = tmp_path_factory.mktemp("framed")
    body = _Deflating("s", folder / "body", final=False)
    for chunk in chunks:
        body.write(chunk)
    part = _framed(body.finish(), head, tail)
    deflated = part.before + (folder / "body").read_bytes() + part.after
    inflate = zlib.decompressobj(-15)
    text = inflate.decompress(deflated)
    whole = head + b"".join(chunks) + tail
    assert inflate.eof and not inflate.unused_data
    assert text == whole and part.size == len(whole) and part.crc == zlib.crc32(whole)
    assert part.compressed == len(deflated)
