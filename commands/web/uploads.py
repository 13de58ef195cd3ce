"""Files posted to the web workspace, read within bounds a hostile upload cannot push past.

The body is read as a stream and counted: past ``limit`` bytes (or a Content-Length saying so)
it is refused before more is read, and file parts go to disk (Starlette spools them), never held
in memory whole. A zipped bundle is unpacked member by member, counted the same way, under names
that stay inside the folder it is unpacked into.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response

from commands.web.i18n import _
from commands.web.numbers import whole_number
from ledger.errors import BadInputError, LedgerError

if TYPE_CHECKING:
    from commands.web.host import Host
    from commands.web.sessions import Session

# An import file or a zipped bundle the web takes: far above a district's year of books (20,000
# rows are some 2 MB of CSV), far below what the server should spool per request. Larger files
# go through the command line, which reads them from disk.
MAX_UPLOAD_BYTES = 32 << 20
# A bundle unpacked: its events.jsonl compresses some ten times over
MAX_UNPACKED_BYTES = 8 * MAX_UPLOAD_BYTES
MAX_MEMBERS = 10_000
MAX_NAME = 120
_CHUNK = 1 << 20


class TooLarge(Exception):
    """The request's body is larger than the upload allows."""


FIELD_KB = 64  # the longest text field an upload form takes (its title, its CSRF token)


class _NotUTF8(MultiPartException):
    """A text field of the form whose bytes are not UTF-8."""


class _StrictParser(MultiPartParser):
    """Starlette's parser, each text field read as UTF-8 or the form refused: Starlette read
    bytes that are not UTF-8 as Latin-1, so a dossier's title was stored as other characters."""

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is not None:
            super().on_part_end()
            return
        try:
            text = bytes(part.data).decode("utf-8")
        except UnicodeDecodeError:
            raise _NotUTF8("not UTF-8") from None
        self.items.append((part.field_name, text))


def _refusal(error: MultiPartException) -> str:
    """What a form Starlette could not take is told (in one sentence, nothing written)."""
    said = str(error)
    if isinstance(error, _NotUTF8):
        return _("The form holds text that is not UTF-8; nothing was written.")
    if said.startswith(("Part exceeded maximum size", "Field exceeded maximum size")):
        return _(
            "A field of the form is longer than the {most} KB this page takes; nothing was written."
        ).format(most=FIELD_KB)
    if said.startswith(("Too many files", "Too many fields")):
        return _("The form holds more files or fields than this page sends; nothing was written.")
    return _("The form was not sent as a file upload.")


@dataclass
class Upload:
    fields: dict[str, str]
    files: dict[str, Path]  # the form field's name: where its file was saved


async def receive(request: Request, directory: Path, limit: int = MAX_UPLOAD_BYTES) -> Upload:
    """The multipart form posted, its files saved under ``directory`` by their own (cleaned)
    names. Raises ``TooLarge`` past ``limit`` bytes, ``BadInputError`` for a body that is not a
    multipart form."""
    length = request.headers.get("content-length")
    if length is not None and ((size := whole_number(length)) is None or size > limit):
        raise TooLarge
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadInputError(_("The form was not sent as a file upload."))

    async def bounded() -> AsyncGenerator[bytes, None]:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                raise TooLarge
            yield chunk

    parser = _StrictParser(
        request.headers, bounded(), max_files=2, max_fields=8, max_part_size=FIELD_KB * 1024
    )
    try:
        form = await parser.parse()
    except MultiPartException as e:
        raise BadInputError(_refusal(e)) from None
    try:
        fields: dict[str, str] = {}
        files: dict[str, Path] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if not value.filename:
                    continue  # an optional file left empty
                folder = directory / f"part-{len(files)}"
                folder.mkdir()
                path = folder / clean_name(value.filename)
                with path.open("wb") as out:
                    shutil.copyfileobj(value.file, out, _CHUNK)
                files[key] = path
            else:
                fields[key] = value
        return Upload(fields, files)
    finally:
        await form.close()


async def received(app: Host, request: Request, session: Session, directory: Path) -> Upload | Response:
    """The upload form posted (``receive``), or the page that refuses it: 413 past the bound, 400
    for a body that is not a file upload, the CSRF refusal for a form without the session's token."""
    try:
        upload = await receive(request, directory)
    except TooLarge:
        return too_large(app, session)
    except LedgerError as e:
        return app.page("error.html", session, status=400, message=e.message)
    refused = app.csrf_refusal(session, False, upload.fields.get("csrf"))
    return upload if refused is None else refused


def too_large(app: Host, session: Session) -> Response:
    message = _("The file is larger than the {most} MB the web takes; import it with the command line.")
    return app.page("error.html", session, status=413, message=message.format(most=MAX_UPLOAD_BYTES >> 20))


def clean_name(given: str) -> str:
    """A file name as the browser sent it, without folders or characters a file name cannot hold
    (``upload`` when nothing is left), at most MAX_NAME characters with its suffix kept."""
    name = PurePosixPath(given.replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable() and c not in '/:*?"<>|').strip(" .")
    if not name:
        return "upload"
    if len(name) > MAX_NAME:
        suffix = PurePosixPath(name).suffix[:10]
        name = name[: MAX_NAME - len(suffix)] + suffix
    return name


def unpack_bundle(archive: Path, target: Path) -> None:
    """The zipped bundle ``archive`` unpacked into ``target`` (a new folder): its files at the
    top, or inside one folder that holds them all (a zipped bundle folder). Refuses, in one
    sentence naming the member, a member outside the folder, a link, and anything past
    MAX_MEMBERS members or MAX_UNPACKED_BYTES bytes in all, stopping as soon as the bytes read
    pass it whatever the zip's directory declared."""
    name = archive.name
    try:
        with zipfile.ZipFile(archive) as book:
            members = [m for m in book.infolist() if not m.is_dir()]
            if len(members) > MAX_MEMBERS:
                raise BadInputError(
                    _("{file} holds {count} files, more than the {most} a bundle may hold").format(
                        file=name, count=len(members), most=MAX_MEMBERS
                    )
                )
            paths = [_member_path(name, m) for m in members]
            tops = {p.parts[0] for p in paths if len(p.parts) > 1}
            if len(tops) == 1 and all(len(p.parts) > 1 for p in paths):
                paths = [PurePosixPath(*p.parts[1:]) for p in paths]
            target.mkdir()
            unpacked = 0
            for member, path in zip(members, paths, strict=True):
                out_path = target.joinpath(*path.parts)
                out_path.parent.mkdir(parents=True, exist_ok=True)
                with book.open(member) as stream, out_path.open("xb") as out:
                    while chunk := stream.read(_CHUNK):
                        unpacked += len(chunk)
                        if unpacked > MAX_UNPACKED_BYTES:
                            raise BadInputError(
                                _(
                                    "{file}: {member} unpacks past {most:,} bytes in all, more than a "
                                    "bundle sent here may hold; refused (verify it with `grant-ledger "
                                    "audit verify`)"
                                ).format(file=name, member=member.filename, most=MAX_UNPACKED_BYTES)
                            )
                        out.write(chunk)
    except BadInputError:
        raise
    except FileExistsError:
        raise BadInputError(_("{file} holds the same file twice").format(file=name)) from None
    except Exception as e:  # zipfile and zlib raise many kinds for a damaged file
        raise BadInputError(
            _("{file} is not a readable zip file ({error})").format(file=name, error=type(e).__name__)
        ) from None


def _member_path(name: str, member: zipfile.ZipInfo) -> PurePosixPath:
    path = PurePosixPath(member.filename)
    mode = member.external_attr >> 16
    if (
        path.is_absolute()
        or "\\" in member.filename
        or any(part in ("", ".", "..") or ":" in part for part in path.parts)
        or stat.S_ISLNK(mode)
    ):
        raise BadInputError(
            _("{file}: {member} is not a plain file inside the bundle; refused").format(
                file=name, member=member.filename
            )
        )
    return path
