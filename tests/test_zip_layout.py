"""report.xlsx is a zip, which names each part twice: a local header before its data, and the
central directory at the end. The verifier reads through the directory, as spreadsheet programs
do; a program streaming the file reads the local headers. Each forgery below shows a streaming
reader a figure the verifier never saw (or makes the two disagree), with MANIFEST recomputed, and
each passed `audit verify` before the layout was checked (audit/verifier/zip_layout.py)."""

from __future__ import annotations

import io
import re
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest

from audit.bundle import write_manifest
from tests import test_workbook_verified
from tests.test_workbook_verified import _verify

BALANCES = "xl/worksheets/sheet2.xml"  # sheet1.xml is the event log, written first
HONEST, FORGED = b"<v>120000.00</v>", b"<v>920000.00</v>"  # G1's disbursed subsidy, in yuan


# test_workbook_verified's fixtures: a history exported once per module, each test a copy of its bundle
home, bundle = test_workbook_verified.home, test_workbook_verified.bundle


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


def _written_as_a_stream(book: Path) -> bytes:
    """The workbook's parts zipped again by a writer that cannot seek: each part's CRC and sizes
    follow its data in a data descriptor."""
    stream = _Unseekable()
    with zipfile.ZipFile(book) as old, zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, old.read(info))
    return stream.kept.getvalue()


def test_an_honest_workbook_written_as_a_stream_passes(bundle: Path) -> None:
    """A program writing the zip as a stream states each part's CRC and sizes in a data descriptor
    after its data; laid out part after part, that is no forgery."""
    book = bundle / "report.xlsx"
    data = _written_as_a_stream(book)
    assert struct.unpack_from("<H", data, 6)[0] & 0x08  # the first part's sizes come after it
    book.write_bytes(data)
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 0, out


def test_a_descriptor_stating_another_size_is_refused(bundle: Path) -> None:
    book = bundle / "report.xlsx"
    data = bytearray(_written_as_a_stream(book))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as read:
        info = read.getinfo(BALANCES)
        n = len(info.orig_filename.encode())
        m = struct.unpack_from("<H", data, info.header_offset + 28)[0]
        after = info.header_offset + 30 + n + m + info.compress_size
    assert data[after : after + 4] == b"PK\x07\x08"
    struct.pack_into("<L", data, after + 8, info.compress_size + 1)
    book.write_bytes(bytes(data))
    _fails(bundle, f"part {BALANCES}: the data descriptor after it states another CRC or size")


# a part as _packed lays it out: name, local header (with name and extra), data (and descriptor),
# CRC, full size, how far past it its central entry places it
_Entry = tuple[bytes, bytes, bytes, int, int, int]


def _deflated(data: bytes, final: bool = True) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)


def _local(
    name: bytes, crc: int, body: bytes, plain: int, extra: bytes = b"", method: int = 8, flags: int = 0
) -> bytes:
    sizes = (0, 0, 0) if flags & 0x08 else (crc, len(body), plain)
    head = struct.pack(
        "<4sHHHHHLLLHH", b"PK\x03\x04", 20, flags, method, 0, 0x21, *sizes, len(name), len(extra)
    )
    return head + name + extra


def _entry(
    name: bytes, data: bytes, body: bytes | None = None, extra: bytes = b"", method: int = 8
) -> _Entry:
    """``data`` as a part: deflated (or ``body``, as given), sizes in its local header."""
    body = (_deflated(data) if method == 8 else data) if body is None else body
    crc = zlib.crc32(data)
    return name, _local(name, crc, body, len(data), extra, method), body, crc, len(data), 0


def _packed(entries: list[_Entry], zip64_offset: int | None = None) -> bytes:
    """A zip of ``entries``; with zip64 end records placing the directory at ``zip64_offset`` (and an
    end record placing it where it is) where given."""
    out, directory = b"", b""
    for name, head, body, crc, plain, shift in entries:
        flags, method = struct.unpack_from("<HH", head, 6)
        compressed = len(body) - (16 if flags & 0x08 else 0)
        directory += struct.pack(
            "<4sHHHHHHLLLHHHHHLL", b"PK\x01\x02", 20, 20, flags, method, 0, 0x21, crc, compressed, plain,
            len(name), 0, 0, 0, 0, 0, len(out) + shift,
        ) + name  # fmt: skip
        out += head + body
    start, count = len(out), len(entries)
    out += directory
    if zip64_offset is None:
        return out + struct.pack("<4sHHHHLLH", b"PK\x05\x06", 0, 0, count, count, len(directory), start, 0)
    out += struct.pack(
        "<4sQHHLLQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory), zip64_offset
    )
    out += struct.pack("<4sLQL", b"PK\x06\x07", 0, start + len(directory), 1)
    return out + struct.pack("<4sHHHHLLH", b"PK\x05\x06", 0, 0, count, count, len(directory) + 76, start, 0)


def _parts(book: Path) -> list[tuple[bytes, bytes]]:
    with zipfile.ZipFile(book) as old:
        return [(info.filename.encode(), old.read(info)) for info in old.infolist()]


def _same_crc(honest: bytes, forged: bytes) -> bytes:
    """``forged`` with some of its attributes quoted ' instead of " (the same XML), so that its
    CRC is ``honest``'s: a reader checking the CRC takes it for the honest part."""
    target, zero, flips = zlib.crc32(honest) ^ zlib.crc32(forged), zlib.crc32(bytes(len(forged))), []
    for match in re.finditer(rb'="[^"<]*"', forged):
        change = bytearray(len(forged))
        change[match.start() + 1] = change[match.end() - 1] = 0x22 ^ 0x27
        flips.append((zlib.crc32(bytes(change)) ^ zero, (match.start() + 1, match.end() - 1)))
    basis: dict[int, tuple[int, set[int]]] = {}
    for index, (vector, _) in enumerate(flips):
        used = {index}
        for bit in reversed(range(32)):
            if vector >> bit & 1:
                if bit not in basis:
                    basis[bit] = (vector, used)
                    break
                vector, used = vector ^ basis[bit][0], used ^ basis[bit][1]
    chosen: set[int] = set()
    for bit in reversed(range(32)):
        if target >> bit & 1:
            target, chosen = target ^ basis[bit][0], chosen ^ basis[bit][1]
    out = bytearray(forged)
    for index in chosen:
        for at in flips[index][1]:
            out[at] = 0x27
    assert zlib.crc32(bytes(out)) == zlib.crc32(honest)
    return bytes(out)


def _by_directory(data: bytes, name: str) -> bytes:
    """What SheetJS (the npm package xlsx), JSZip, Go's and .NET's readers show as ``name``: the
    end record's directory (a zip64 end record only where its fields are full), each part read
    where its central entry places it (SheetJS reads no local signature), checked by its CRC."""
    *_, count, _size, at, _comment = struct.unpack_from("<4sHHHHLLH", data, len(data) - 22)
    for _ in range(count):
        method, _t, _d, crc, size, _plain, n, m, k = struct.unpack_from("<HHHLLLHHH", data, at + 10)
        (local,) = struct.unpack_from("<L", data, at + 42)
        entry, at = data[at + 46 : at + 46 + n].decode(), at + 46 + n + m + k
        if entry == name:
            n, m = struct.unpack_from("<HH", data, local + 26)
            body = data[local + 30 + n + m : local + 30 + n + m + size]
            body = zlib_inflate(body) if method == zipfile.ZIP_DEFLATED else body
            assert zlib.crc32(body) == crc
            return body
    raise AssertionError(f"{name} not found by the directory")


def test_a_zip64_end_record_placing_the_directory_elsewhere_is_refused(bundle: Path) -> None:
    """zipfile trusts a zip64 end record's place of the directory over the end record's and moves
    every part by the difference (here back by ``shift``); SheetJS, Go's and .NET's readers take a
    zip64 end record only where the end record's fields are full, and read each part where its
    central entry places it: in the extra field of the honest part's local header, a second local
    header (no signature) and the forged sheet, its CRC the honest one's. SheetJS shows 920000."""
    book = bundle / "report.xlsx"
    parts = _parts(book)
    longest = max(len(name) for name, _ in parts)
    shift = 30 + longest + 4  # into each extra field, past its own header
    entries = []
    for name, data in parts:
        shown = _same_crc(data, data.replace(HONEST, FORGED, 1)) if name == BALANCES.encode() else data
        hidden = (
            bytes(longest - len(name) + 4) + _local(name, zlib.crc32(data), shown, len(shown), method=0)[4:]
        )
        extra = struct.pack("<HH", 0x6666, len(hidden) + len(shown)) + hidden + shown
        name, head, body, crc, plain, _ = _entry(name, data, extra=extra, method=0)
        entries.append((name, head, body, crc, plain, shift))
    data = _packed(entries, zip64_offset=sum(len(e[1]) + len(e[2]) for e in entries) + shift)
    book.write_bytes(data)
    with zipfile.ZipFile(book) as read:
        assert HONEST in read.read(BALANCES) and FORGED not in read.read(BALANCES)
    assert FORGED in _by_directory(data, BALANCES)
    _fails(bundle, "its end record and its zip64 end record state different central directories")


def _streaming(data: bytes) -> dict[str, bytes]:
    """What a reader streaming the file shows (Java's ZipInputStream, which Apache POI reads an
    xlsx stream with): a part deferring its sizes ends where its deflate stream ends, its data
    descriptor follows there, the next part after it; the first other signature ends the file."""
    at, shown = 0, {}
    while data[at : at + 4] == b"PK\x03\x04":
        flags, _method, _t, _d, _crc, size, _plain, n, m = struct.unpack_from("<HHHHLLLHH", data, at + 6)
        name, start = data[at + 30 : at + 30 + n].decode(), at + 30 + n + m
        inflater = zlib.decompressobj(-15)
        if flags & 0x08:
            shown[name] = inflater.decompress(data[start:])
            at = len(data) - len(inflater.unused_data)
            at += 16 if data[at : at + 4] == b"PK\x07\x08" else 12
        else:
            shown[name], at = inflater.decompress(data[start : start + size]), start + size
    return shown


def test_a_deferred_part_running_on_past_its_deflate_stream_is_refused(bundle: Path) -> None:
    """The first part defers its sizes to a data descriptor; its data is its deflate stream, then a
    descriptor stating that stream's length, then a forged copy of every other part: zipfile reads
    the part by the directory's size and stops at the stream's end; a streaming reader (Java's
    ZipInputStream) stops there too, reads that descriptor, then the forged parts, and ends at the
    part's real descriptor, never seeing the honest parts."""
    book = bundle / "report.xlsx"
    parts = sorted(_parts(book), key=lambda part: part[0] != b"[Content_Types].xml")
    first, content = parts[0]
    body = _deflated(content)
    body += struct.pack("<4sLLL", b"PK\x07\x08", zlib.crc32(content), len(body), len(content))
    for name, data in parts[1:]:
        forged = data.replace(HONEST, FORGED, 1) if name == BALANCES.encode() else data
        body += _entry(name, forged)[1] + _deflated(forged)
    body += struct.pack("<4sLLL", b"PK\x07\x08", zlib.crc32(content), len(body), len(content))
    head = _local(first, 0, b"", 0, flags=0x08)
    data = _packed(
        [(first, head, body, zlib.crc32(content), len(content), 0)] + [_entry(*p) for p in parts[1:]]
    )
    book.write_bytes(data)
    with zipfile.ZipFile(book) as read:
        assert HONEST in read.read(BALANCES) and FORGED not in read.read(BALANCES)
    streamed = _streaming(data)
    assert FORGED in streamed[BALANCES] and len(streamed) == len(parts)
    _fails(bundle, "part [Content_Types].xml: bytes follow its compressed stream within its data")


def test_a_deflate_stream_running_on_past_its_data_is_refused(bundle: Path) -> None:
    """A part whose sizes follow its data, its stream with no last block: zipfile stops at the
    directory's size and shows the sheet; a streaming reader, which knows no size, inflates on into
    what follows (a stored block's header at the end of the data would make it take the next parts
    as this one's text, and read on from inside them). A part stating its sizes up front, as export
    writes every one, is read by that many bytes, and not inflated a second time."""
    book = bundle / "report.xlsx"
    entries = []
    for name, data in _parts(book):
        if name != BALANCES.encode():
            entries.append(_entry(name, data))
            continue
        body, crc = _deflated(data, final=False), zlib.crc32(data)
        described = body + struct.pack("<4sLLL", b"PK\x07\x08", crc, len(body), len(data))
        entries.append(
            (name, _local(name, crc, described, len(data), flags=0x08), described, crc, len(data), 0)
        )
    book.write_bytes(_packed(entries))
    with zipfile.ZipFile(book) as read:
        assert HONEST in read.read(BALANCES)
    _fails(bundle, f"part {BALANCES}: its compressed stream runs on past its data")


def test_a_zip_header_in_a_local_extra_field_is_refused(bundle: Path) -> None:
    """A reader scanning the file for local headers (as repair tools do) finds the forged sheet in
    the extra field of the honest one's local header."""
    book = bundle / "report.xlsx"
    entries = []
    for name, data in _parts(book):
        extra = b""
        if name == BALANCES.encode():
            forged = data.replace(HONEST, FORGED, 1)
            hidden = _entry(name, forged)[1] + _deflated(forged)
            extra = struct.pack("<HH", 0x6666, len(hidden)) + hidden
        entries.append(_entry(name, data, extra=extra))
    book.write_bytes(_packed(entries))
    _fails(bundle, f"part {BALANCES}: its local header's extra field holds a zip header")


def test_an_end_record_counting_other_parts_is_refused(bundle: Path) -> None:
    """zipfile reads the directory by its size; SheetJS reads as many entries as the end record
    counts (here one fewer: the last part is not there for it)."""
    book = bundle / "report.xlsx"
    data = bytearray(book.read_bytes())
    count = struct.unpack_from("<H", data, len(data) - 12)[0]
    struct.pack_into("<HH", data, len(data) - 14, count - 1, count - 1)
    book.write_bytes(bytes(data))
    _fails(bundle, f"its end record counts {count - 1} parts, its central directory holds {count}")


def _with_zip64_end_records(data: bytes) -> bytes:
    """``data`` with zip64 end records before its end record, stating what it states."""
    end = len(data) - 22
    *_, count, total, size, offset, _comment = struct.unpack_from("<4sHHHHLLH", data, end)
    zip64 = struct.pack("<4sQHHLLQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, total, size, offset)
    return data[:end] + zip64 + struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1) + data[end:]


def _rewritten(book: Path, method: int, stream: bool, zip64: bool) -> bytes:
    target = _Unseekable() if stream else None
    kept = target.kept if target is not None else io.BytesIO()
    with zipfile.ZipFile(target or kept, "w", method) as new:
        for name, data in _parts(book):
            with new.open(name.decode(), "w", force_zip64=zip64) as part:
                part.write(data)
    return kept.getvalue()


@pytest.mark.parametrize(
    "writer", ["stored, as a stream", "zip64 sizes, as a stream", "zip64 end records", "openpyxl"]
)
def test_an_honest_workbook_as_other_writers_lay_it_out_passes(bundle: Path, writer: str) -> None:
    """Stored parts whose sizes follow them, zip64 data descriptors, zip64 end records beside an
    end record stating the same (refused before), a workbook openpyxl saved: no forgery."""
    book = bundle / "report.xlsx"
    if writer == "stored, as a stream":
        data = _rewritten(book, zipfile.ZIP_STORED, stream=True, zip64=False)
    elif writer == "zip64 sizes, as a stream":
        data = _rewritten(book, zipfile.ZIP_DEFLATED, stream=True, zip64=True)
    elif writer == "zip64 end records":
        data = _with_zip64_end_records(_rewritten(book, zipfile.ZIP_DEFLATED, stream=False, zip64=False))
    else:
        from openpyxl import load_workbook

        saved = io.BytesIO()
        load_workbook(book).save(saved)
        data = saved.getvalue()
    book.write_bytes(data)
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 0, out


def test_a_deferred_part_whose_local_header_states_another_size_is_refused(bundle: Path) -> None:
    """A part whose sizes follow its data may still state sizes in its local header, and a
    streaming reader such as unzipper (npm) then reads that many bytes and looks for the next part
    there; the data descriptor and the central directory state the real ones."""
    book = bundle / "report.xlsx"
    data = bytearray(_rewritten(book, zipfile.ZIP_DEFLATED, stream=True, zip64=False))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as read:
        at = read.getinfo(BALANCES).header_offset
    struct.pack_into("<L", data, at + 18, 100)  # the local header's compressed size
    book.write_bytes(bytes(data))
    _fails(bundle, f"part {BALANCES}: its local header states another CRC or size than the central directory")


def test_export_states_each_parts_sizes_in_its_local_header(bundle: Path) -> None:
    """Export wrote every local header with zip64 fields and sizes of 0xFFFFFFFF: SheetJS, which many
    web viewers read workbooks with, refused the file ("Bad compressed size"). Each header now
    states its part's CRC and sizes, as the central directory does, with no zip64 field."""
    data = (bundle / "report.xlsx").read_bytes()
    with zipfile.ZipFile(bundle / "report.xlsx") as read:
        for info in read.infolist():
            at = info.header_offset
            flags, _method, _t, _d, crc, size, plain, n, m = struct.unpack_from("<HHHHLLLHH", data, at + 6)
            extra = data[at + 30 + n : at + 30 + n + m]
            assert not flags & 0x08 and (crc, size, plain) == (info.CRC, info.compress_size, info.file_size)
            fields, i = [], 0
            while i + 4 <= len(extra):
                kind, length = struct.unpack_from("<HH", extra, i)
                fields.append(kind)
                i += 4 + length
            assert 0x0001 not in fields and 0xFFFFFFFF not in (size, plain), info.filename
