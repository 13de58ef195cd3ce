"""report.xlsx is a zip, which names each part twice: a local header before its data, and the
central directory at the end. The verifier reads through the directory, as spreadsheet programs
do; a program streaming the file reads the local headers. Each forgery below shows a streaming
reader a figure the verifier never saw (or makes the two disagree), with MANIFEST recomputed, and
each passed `audit verify` before the layout was checked (audit/verifier/zip_layout.py)."""

from __future__ import annotations

import io
import shutil
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from audit.bundle import write_manifest
from tests.test_workbook_verified import _verify, exported_history

BALANCES = "xl/worksheets/sheet2.xml"  # sheet1.xml is the event log, written first
HONEST, FORGED = b"<v>120000.00</v>", b"<v>920000.00</v>"  # G1's disbursed subsidy, in yuan


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("zipped")
    exported_history(home)
    return home


@pytest.fixture
def bundle(home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(home / "bundle", copy)
    return copy


def _forged_balances(book: Path) -> bytes:
    with zipfile.ZipFile(book) as old:
        honest = old.read(BALANCES)
    assert HONEST in honest
    return honest.replace(HONEST, FORGED, 1)


def _streamed(data: bytes, name: str) -> bytes:
    """What a reader going through the local headers from the start reads first as ``name``."""
    at = 0
    while data[at : at + 4] == b"PK\x03\x04":
        flags, method, _t, _d, _crc, size, _plain, n, m = struct.unpack_from("<HHHHLLLHH", data, at + 6)
        assert not flags & 0x08, "written with sizes in the header"
        start = at + 30 + n + m
        if data[at + 30 : at + 30 + n].decode() == name:
            body = data[start : start + size]
            return zlib_inflate(body) if method == zipfile.ZIP_DEFLATED else body
        at = start + size
    raise AssertionError(f"{name} not found by streaming")


def zlib_inflate(body: bytes) -> bytes:
    import zlib

    return zlib.decompress(body, -15)


def _without_directory_entry(data: bytes, offset: int) -> bytes:
    """``data`` (a zip) with the central directory's entry of the part at ``offset`` dropped."""
    end = data.rindex(b"PK\x05\x06")
    *_, size, start, _comment = struct.unpack_from("<4sHHHHLLH", data, end)
    at, kept = start, []
    while at < start + size:
        n, m, k = struct.unpack_from("<HHH", data, at + 28)
        (local,) = struct.unpack_from("<L", data, at + 42)
        if local != offset:
            kept.append(data[at : at + 46 + n + m + k])
        at += 46 + n + m + k
    directory = b"".join(kept)
    return (
        data[:start]
        + directory
        + struct.pack("<4sHHHHLLH", b"PK\x05\x06", 0, 0, len(kept), len(kept), len(directory), start, 0)
    )


def _fails(bundle: Path, says: str) -> str:
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 6 and f"report.xlsx: {says}" in out, out
    return out


def test_a_copy_of_a_sheet_put_before_the_first_part_is_refused(bundle: Path) -> None:
    """The forged sheet's local header and data go before the zip; zipfile (and the spreadsheet
    programs) find the honest sheet through the directory, a streaming reader the forged one."""
    book = bundle / "report.xlsx"
    scratch = io.BytesIO()
    with zipfile.ZipFile(scratch, "w", zipfile.ZIP_DEFLATED) as one:
        one.writestr(BALANCES, _forged_balances(book))
        ahead = one.start_dir
    prefix = scratch.getvalue()[:ahead]
    book.write_bytes(prefix + book.read_bytes())
    with zipfile.ZipFile(book) as read:
        assert HONEST in read.read(BALANCES)
    assert FORGED in _streamed(book.read_bytes(), BALANCES)
    _fails(bundle, f"bytes 0 to {len(prefix) - 1} belong to no part (before part xl/worksheets/")


def test_a_copy_of_a_sheet_hidden_between_parts_is_refused(bundle: Path) -> None:
    """The forged sheet written just before the honest one, its entry then dropped from the
    central directory: every reader by the directory sees the honest sheet."""
    book = bundle / "report.xlsx"
    forged = _forged_balances(book)
    with zipfile.ZipFile(book) as old:
        parts = [(info.filename, old.read(info)) for info in old.infolist()]
    written = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(written, "w", zipfile.ZIP_DEFLATED) as new:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
        for name, data in parts:
            if name == BALANCES:
                new.writestr(name, forged)
                hidden = new.infolist()[-1].header_offset
            new.writestr(name, data)
    book.write_bytes(_without_directory_entry(written.getvalue(), hidden))
    with zipfile.ZipFile(book) as read:
        assert HONEST in read.read(BALANCES) and len(read.namelist()) == len(parts)
    assert FORGED in _streamed(book.read_bytes(), BALANCES)
    out = _fails(bundle, f"bytes {hidden} to ")
    assert f"belong to no part (before part {BALANCES})" in out, out


def test_a_local_header_stating_another_size_than_the_directory_is_refused(bundle: Path) -> None:
    """zipfile reads a part by the directory's sizes and ignores the local header's; a streaming
    reader takes the header's."""
    book = bundle / "report.xlsx"
    data = bytearray(book.read_bytes())
    with zipfile.ZipFile(book) as read:
        at = read.getinfo(BALANCES).header_offset
    struct.pack_into("<L", data, at + 14, 0xDEADBEEF)  # the local header's CRC
    book.write_bytes(bytes(data))
    _fails(bundle, f"part {BALANCES}: its local header states another CRC or size than the central directory")


def test_bytes_after_the_end_record_are_refused(bundle: Path) -> None:
    book = bundle / "report.xlsx"
    with zipfile.ZipFile(book, "a") as appended:
        appended.comment = b"PK\x03\x04 another file's start"
    _fails(bundle, "bytes follow its end record")


class _Unseekable(io.RawIOBase):
    def __init__(self) -> None:
        self.kept = io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return self.kept.write(data)


def test_an_honest_workbook_written_as_a_stream_passes(bundle: Path) -> None:
    """A program writing the zip as a stream states each part's CRC and sizes in a data descriptor
    after its data; laid out part after part, that is no forgery."""
    book = bundle / "report.xlsx"
    with zipfile.ZipFile(book) as old:
        parts = [(info.filename, old.read(info)) for info in old.infolist()]
    stream = _Unseekable()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in parts:
            new.writestr(name, data)
    data = stream.kept.getvalue()
    assert struct.unpack_from("<H", data, 6)[0] & 0x08  # the first part's sizes come after it
    book.write_bytes(data)
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 0, out


def test_a_descriptor_stating_another_size_is_refused(bundle: Path) -> None:
    book = bundle / "report.xlsx"
    with zipfile.ZipFile(book) as old:
        parts = [(info.filename, old.read(info)) for info in old.infolist()]
    stream = _Unseekable()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in parts:
            new.writestr(name, data)
    data = bytearray(stream.kept.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as read:
        info = read.getinfo(BALANCES)
        n = len(info.orig_filename.encode())
        m = struct.unpack_from("<H", data, info.header_offset + 28)[0]
        after = info.header_offset + 30 + n + m + info.compress_size
    assert data[after : after + 4] == b"PK\x07\x08"
    struct.pack_into("<L", data, after + 8, info.compress_size + 1)
    book.write_bytes(bytes(data))
    _fails(bundle, f"part {BALANCES}: the data descriptor after it states another CRC or size")
