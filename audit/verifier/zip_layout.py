"""Every byte of an xlsx (a zip) belongs to one part, and each part says the same in both places.

A zip names its parts twice: a local header before each part's data, and the central directory at
the end. Spreadsheet programs and this verifier read through the central directory; a reader that
streams the file reads the local headers. A forger can add a second copy of a sheet that no
central entry points at (a streaming reader shows it; the verifier never sees it), put bytes
before the first part or after the end record, or give a local header another method or size than
its central entry. So the parts must lie one after the other from the first byte, each local
header agreeing with its central entry (name, method, CRC, sizes, with the data descriptor after
the data where the header defers them), then the central directory, then the end record, with no
comment and nothing after it. What zipfile (the verifier's reader), openpyxl, LibreOffice and
export write all lie so.
"""

from __future__ import annotations

import struct
import zipfile
from typing import BinaryIO

from audit.verifier.i18n import _

_LOCAL = struct.Struct(
    "<4sHHHHHLLLHH"
)  # signature, version, flags, method, time, date, crc, sizes, name, extra
_LOCAL_SIGNATURE = b"PK\x03\x04"
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"
_END = struct.Struct("<4sHHHHLLH")  # signature, disks, entries, central size and offset, comment
_END_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_END = struct.Struct("<4sQHHLLQQQQ")
_ZIP64_END_SIGNATURE = b"PK\x06\x06"
_DEFERRED = 0x08  # general purpose flag: CRC and sizes in a data descriptor after the data
_ENCRYPTED = 0x01
_ZIP64_EXTRA = 0x0001
_FULL = 0xFFFFFFFF


def layout_fault(handle: BinaryIO, book: zipfile.ZipFile) -> str | None:
    """Why the zip open as ``book`` (read from ``handle``) is not laid out part after part as its
    central directory says (see the module's notes), or None."""
    handle.seek(0, 2)
    size = handle.tell()
    position = 0
    for member in sorted(book.infolist(), key=lambda m: m.header_offset):
        if member.header_offset != position:
            return _gap(position, member.header_offset, _("part {part}").format(part=member.filename))
        end, why = _part_end(handle, member)
        if why is not None:
            return _("part {part}: {why}").format(part=member.filename, why=why)
        position = end
    return _ends(handle, book, position, size)


def _gap(position: int, offset: int, what: str) -> str:
    """``what`` (a part, or the central directory) is placed at ``offset``, the part before it
    ending at ``position``."""
    if offset < position:
        return _("{what} begins at byte {offset}, inside the part before it: the two overlap").format(
            what=what, offset=offset
        )
    return _(
        "bytes {start} to {end} belong to no part (before {what}): a program reading the file "
        "from its start could show them"
    ).format(start=position, end=offset - 1, what=what)


def _part_end(handle: BinaryIO, member: zipfile.ZipInfo) -> tuple[int, str | None]:
    """Where the part's data (and its data descriptor) ends, and why its local header disagrees
    with the central directory, if it does."""
    handle.seek(member.header_offset)
    head = handle.read(_LOCAL.size)
    if len(head) < _LOCAL.size or head[:4] != _LOCAL_SIGNATURE:
        return 0, _("no local header where the central directory says it begins")
    _sig, _version, flags, method, _time, _date, crc, compressed, plain, name_length, extra_length = (
        _LOCAL.unpack(head)
    )
    name, extra = handle.read(name_length), handle.read(extra_length)
    if len(extra) != extra_length or name.decode("utf-8" if flags & 0x800 else "cp437", "replace") != (
        member.orig_filename
    ):
        return 0, _("its local header names another part")
    if method != member.compress_type or (flags ^ member.flag_bits) & (_DEFERRED | _ENCRYPTED):
        return 0, _("its local header states another compression or encoding than the central directory")
    data_end = member.header_offset + _LOCAL.size + name_length + extra_length + member.compress_size
    if flags & _DEFERRED:
        return _descriptor(handle, member, data_end)
    if _FULL in (compressed, plain):
        plain, compressed = _zip64_sizes(extra, plain, compressed)
    if (crc, compressed, plain) != (member.CRC, member.compress_size, member.file_size):
        return 0, _("its local header states another CRC or size than the central directory")
    return data_end, None


def _zip64_sizes(extra: bytes, plain: int, compressed: int) -> tuple[int, int]:
    """The sizes a local header's zip64 field gives (in its order: the full size, then the
    compressed), each in place of a header size of 0xFFFFFFFF."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, at)
        field = extra[at + 4 : at + 4 + length]
        if kind == _ZIP64_EXTRA:
            values = [int.from_bytes(field[i : i + 8], "little") for i in range(0, len(field) - 7, 8)]
            if plain == _FULL and values:
                plain = values.pop(0)
            if compressed == _FULL and values:
                compressed = values.pop(0)
            break
        at += 4 + length
    return plain, compressed


def _descriptor(handle: BinaryIO, member: zipfile.ZipInfo, data_end: int) -> tuple[int, str | None]:
    """The data descriptor after a part's data (its signature optional; sizes of 8 bytes in a
    zip64 one): it must state the central directory's CRC and sizes."""
    handle.seek(data_end)
    found = handle.read(24)
    start = 4 if found[:4] == _DESCRIPTOR_SIGNATURE else 0
    wanted = (member.CRC, member.compress_size, member.file_size)
    for width in (4, 8):
        length = 4 + 2 * width
        if len(found) < start + length:
            continue
        crc = int.from_bytes(found[start : start + 4], "little")
        compressed = int.from_bytes(found[start + 4 : start + 4 + width], "little")
        plain = int.from_bytes(found[start + 4 + width : start + length], "little")
        if (crc, compressed, plain) == wanted:
            return data_end + start + length, None
    return 0, _("the data descriptor after it states another CRC or size than the central directory")


def _ends(handle: BinaryIO, book: zipfile.ZipFile, position: int, size: int) -> str | None:
    """After the last part: the central directory, an end record (zip64 ones first, if any) and
    nothing more."""
    start = book.start_dir  # zipfile's: where it read the central directory
    if start != position:
        return _gap(position, start, _("the central directory"))
    if size < _END.size:
        return _("no end record")
    handle.seek(size - _END.size)
    record = handle.read(_END.size)
    signature, _disk, _first, _here, _entries, central_size, central_offset, comment = _END.unpack(record)
    if signature != _END_SIGNATURE or comment:
        return _(
            "bytes follow its end record (a comment, or data after it): a program may read them as "
            "another file"
        )
    end_of_central = start + central_size
    if central_offset == _FULL or central_size == _FULL:
        locator_at = size - _END.size - _ZIP64_LOCATOR.size
        handle.seek(locator_at)
        locator = handle.read(_ZIP64_LOCATOR.size)
        if len(locator) != _ZIP64_LOCATOR.size or locator[:4] != _ZIP64_LOCATOR_SIGNATURE:
            return _("its zip64 end record cannot be found")
        zip64_at = _ZIP64_LOCATOR.unpack(locator)[2]
        handle.seek(zip64_at)
        zip64 = handle.read(_ZIP64_END.size)
        if len(zip64) != _ZIP64_END.size or zip64[:4] != _ZIP64_END_SIGNATURE:
            return _("its zip64 end record cannot be found")
        fields = _ZIP64_END.unpack(zip64)
        central_size, central_offset, record_size = fields[8], fields[9], fields[1]
        end_of_central = start + central_size
        if zip64_at != end_of_central or zip64_at + 12 + record_size != locator_at:
            return _("bytes lie between its central directory and its end record")
    elif end_of_central != size - _END.size:
        return _("bytes lie between its central directory and its end record")
    if central_offset != start:
        return _(
            "its end record places the central directory at byte {stated}, but it is at {found}: "
            "bytes were put before the first part"
        ).format(stated=central_offset, found=start)
    return None
