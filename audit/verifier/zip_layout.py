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

Where zipfile reads a zip64 end record it trusts that record's place of the central directory
over the end record's, and moves every part by the difference; most other readers (Go's, .NET's,
JSZip, SheetJS) take a zip64 end record only where the end record's fields are full, and read the
parts where the central directory places them. So the end record and a zip64 one must state the
same directory, and its count of parts. A streaming reader ends a deferred part (one whose sizes
follow in a data descriptor) where its deflate stream ends; so each deflate stream ends exactly
where the central directory says its data does (``data_fault``), and a stored deferred part holds
no descriptor's signature. A reader scanning the file for headers finds one anywhere: no extra
field or comment holds a zip signature.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
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
_MANY = 0xFFFF  # an end record's count of parts, full: the zip64 end record's counts
_DIRECTORY_ENTRY = struct.Struct("<4s6H3L5H2L")  # ... name, extra and comment lengths at 10, 11, 12
_SIGNATURES = re.compile(rb"PK(\x03\x04|\x01\x02|\x05\x06|\x06\x06|\x06\x07|\x07\x08)")
_CHUNK = 1 << 20


def layout_fault(handle: BinaryIO, book: zipfile.ZipFile) -> str | None:
    """Why the zip open as ``book`` (read from ``handle``) is not laid out part after part as its
    central directory says (see the module's notes), or None."""
    handle.seek(0, 2)
    size = handle.tell()
    position = 0
    members = sorted(book.infolist(), key=lambda m: m.header_offset)
    following = [m.header_offset for m in members[1:]] + [book.start_dir] if members else []
    for member, next_at in zip(members, following, strict=True):
        if member.header_offset != position:
            return _gap(position, member.header_offset, _("part {part}").format(part=member.filename))
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or member.volume:
            return _(
                "part {part}: compressed by a method, or placed on a disk, spreadsheet programs do not read"
            ).format(part=member.filename)
        end, why = _part_end(handle, member, next_at)
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


def _part_end(handle: BinaryIO, member: zipfile.ZipInfo, next_at: int) -> tuple[int, str | None]:
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
    if _SIGNATURES.search(extra):
        return 0, _(
            "its local header's extra field holds a zip header: a program scanning the file would read it"
        )
    if method != member.compress_type or (flags ^ member.flag_bits) & (_DEFERRED | _ENCRYPTED):
        return 0, _("its local header states another compression or encoding than the central directory")
    data_end = member.header_offset + _LOCAL.size + name_length + extra_length + member.compress_size
    wanted = (member.CRC, member.compress_size, member.file_size)
    if flags & _DEFERRED:  # a streaming reader may still take sizes the header states (unzipper does)
        if any(
            said not in (0, _FULL, value)
            for said, value in zip((crc, compressed, plain), wanted, strict=True)
        ):
            return 0, _("its local header states another CRC or size than the central directory")
        return _descriptor(handle, member, data_end, next_at)
    if _FULL in (compressed, plain):
        plain, compressed = _zip64_sizes(extra, plain, compressed)
    if (crc, compressed, plain) != wanted:
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


def _descriptor(
    handle: BinaryIO, member: zipfile.ZipInfo, data_end: int, next_at: int
) -> tuple[int, str | None]:
    """The data descriptor after a part's data (its signature optional; sizes of 8 bytes in a
    zip64 one): it must state the central directory's CRC and sizes. Of its readings, the one
    ending where the next part (or the central directory, at ``next_at``) begins."""
    handle.seek(data_end)
    found = handle.read(24)
    start = 4 if found[:4] == _DESCRIPTOR_SIGNATURE else 0
    wanted = (member.CRC, member.compress_size, member.file_size)
    ends = []
    for width in (4, 8):
        length = 4 + 2 * width
        if len(found) < start + length:
            continue
        crc = int.from_bytes(found[start : start + 4], "little")
        compressed = int.from_bytes(found[start + 4 : start + 4 + width], "little")
        plain = int.from_bytes(found[start + 4 + width : start + length], "little")
        if (crc, compressed, plain) == wanted:
            ends.append(data_end + start + length)
    if ends:
        return (next_at if next_at in ends else ends[0]), None
    return 0, _("the data descriptor after it states another CRC or size than the central directory")


def _ends(handle: BinaryIO, book: zipfile.ZipFile, position: int, size: int) -> str | None:
    """After the last part: the central directory, an end record (zip64 ones first, if any) and
    nothing more; the end record and a zip64 one stating the same directory and count of parts."""
    start = book.start_dir  # zipfile's: where it read the central directory
    if start != position:
        return _gap(position, start, _("the central directory"))
    if size < _END.size:
        return _("no end record")
    end_at = size - _END.size
    handle.seek(end_at)
    record = handle.read(_END.size)
    signature, disk, first_disk, here, entries, central_size, central_offset, comment = _END.unpack(record)
    if signature != _END_SIGNATURE or comment:
        return _(
            "bytes follow its end record (a comment, or data after it): a program may read them as "
            "another file"
        )
    stated = (here, entries, central_size, central_offset)
    full = (_MANY, _MANY, _FULL, _FULL)
    locator_at = end_at - _ZIP64_LOCATOR.size
    locator = b""
    if locator_at >= 0:
        handle.seek(locator_at)
        locator = handle.read(_ZIP64_LOCATOR.size)
    if locator[:4] == _ZIP64_LOCATOR_SIGNATURE:  # zipfile then reads the zip64 end record before it
        _sig, locator_disk, zip64_at, disks = _ZIP64_LOCATOR.unpack(locator)
        zip64 = b""
        if zip64_at == locator_at - _ZIP64_END.size >= 0:
            handle.seek(zip64_at)
            zip64 = handle.read(_ZIP64_END.size)
        if len(zip64) != _ZIP64_END.size or zip64[:4] != _ZIP64_END_SIGNATURE or locator_disk or disks != 1:
            return _("its zip64 end record cannot be found")
        _sig64, record_size, _made, _needed, disk64, first_disk64, *counted = _ZIP64_END.unpack(zip64)
        if record_size != _ZIP64_END.size - 12 or disk64 or first_disk64:
            return _("bytes lie between its central directory and its end record")
        if any(said not in (value, most) for said, value, most in zip(stated, counted, full, strict=True)):
            return _(
                "its end record and its zip64 end record state different central directories: "
                "programs differ on which one they read"
            )
        if disk not in (0, _MANY) or first_disk not in (0, _MANY):
            return _("its end record places the central directory on another disk")
        stated, end_at = tuple(counted), zip64_at
    elif _FULL in stated[2:] or _MANY in stated[:2]:
        return _("its zip64 end record cannot be found")
    elif disk or first_disk:
        return _("its end record places the central directory on another disk")
    here, entries, central_size, central_offset = stated
    if start + central_size != end_at:
        return _("bytes lie between its central directory and its end record")
    if central_offset != start:
        return _(
            "its end record places the central directory at byte {stated}, but it is at {found}: "
            "bytes were put before the first part"
        ).format(stated=central_offset, found=start)
    if here != entries or entries != len(book.infolist()):
        return _(
            "its end record counts {stated} parts, its central directory holds {found}: programs "
            "differ on which they read"
        ).format(stated=entries, found=len(book.infolist()))
    return _directory_fault(handle, start, central_size)


def _directory_fault(handle: BinaryIO, start: int, size: int) -> str | None:
    """The central directory's entries fill it exactly, and none holds a zip signature in its
    extra field or comment."""
    handle.seek(start)
    directory = handle.read(size)
    at = 0
    while at < len(directory):
        if len(directory) < at + _DIRECTORY_ENTRY.size:
            break
        fields = _DIRECTORY_ENTRY.unpack_from(directory, at)
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        after_name = at + _DIRECTORY_ENTRY.size + name_length
        at = after_name + extra_length + comment_length
        if _SIGNATURES.search(directory, after_name, min(at, len(directory))):
            return _(
                "its central directory holds a zip header in an extra field or comment: a program "
                "scanning the file would read it"
            )
    if at != len(directory):
        return _("its central directory's last entry runs past the directory")
    return None


def data_fault(handle: BinaryIO, book: zipfile.ZipFile) -> str | None:
    """Why a part's data is not one compressed stream ending where the central directory says
    (a streaming reader ends a part where its deflate stream ends, and reads on from there), or a
    stored part whose sizes follow it holds a data descriptor's signature (where such a reader
    ends it); or None. Inflates each deflated part once, never past its stated size."""
    for member in book.infolist():
        if not member.flag_bits & _DEFERRED:
            # its sizes in its local header: a streaming reader takes that many bytes (Java's
            # checks its stream ends there), so an honest export, which states them, is not
            # inflated a second time (1.8 s of CPU for a million events)
            continue
        deferred_stored = member.compress_type == zipfile.ZIP_STORED
        handle.seek(member.header_offset + 26)
        name_length, extra_length = struct.unpack("<HH", handle.read(4))
        handle.seek(member.header_offset + _LOCAL.size + name_length + extra_length)
        left, made, tail = member.compress_size, 0, b""
        inflater = zlib.decompressobj(-15)
        try:
            while left > 0:
                chunk = handle.read(min(left, _CHUNK))
                if not chunk:
                    break
                left -= len(chunk)
                if deferred_stored:
                    if _DESCRIPTOR_SIGNATURE in tail + chunk:
                        return _(
                            "part {part}: its data holds a data descriptor's signature, where a program "
                            "streaming the file ends it"
                        ).format(part=member.filename)
                    tail = chunk[-3:]
                    continue
                while chunk and not inflater.eof:
                    made += len(inflater.decompress(chunk, _CHUNK))
                    chunk = inflater.unconsumed_tail
                    if made > member.file_size:
                        return _("part {part}: it inflates to more than the central directory states").format(
                            part=member.filename
                        )
                if inflater.eof and (chunk or inflater.unused_data or left):
                    return _(
                        "part {part}: bytes follow its compressed stream within its data, where a program "
                        "streaming the file reads further parts"
                    ).format(part=member.filename)
        except zlib.error:
            return _("part {part} cannot be read ({error})").format(part=member.filename, error="error")
        if not deferred_stored and not inflater.eof:
            return _("part {part}: its compressed stream runs on past its data").format(part=member.filename)
    return None
