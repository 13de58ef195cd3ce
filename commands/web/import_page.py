"""The import page: a CSV or Excel file uploaded, read and recorded as `grant-ledger import` reads
and records it (commands.import_files, commands.importer), signed with the signed-in person's key.
Every bad row is listed with its line; nothing is written unless every row is good."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from commands.web.i18n import _
from commands.web.status import STATUS
from commands.web.uploads import MAX_UPLOAD_BYTES, received
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from commands.web.host import Host
    from commands.web.sessions import Session
    from ledger.rules import Breach


@dataclass
class Imported:
    """What the page says of one upload: how the file was read, its bad rows, or what it recorded."""

    file: str
    reading: str = ""
    bad: list[tuple[int, str]] = field(default_factory=list)
    summary: str = ""


def refusal(session: Session) -> Breach | str | None:
    """Why this session may not import (its registered role records no row kind, or its key is
    not on the server), or None. Each row is then checked against the role as `import` checks it."""
    from ledger.clock import business_today
    from ledger.import_format import ROW_ACTIONS
    from ledger.policy import policy_in_force
    from ledger.rules import role_may_import

    policy = policy_in_force(business_today())
    refused = role_may_import(session.role or "", [action.name for action in ROW_ACTIONS.values()], policy)
    if refused is not None:
        return refused
    if session.signer is None:
        return _(
            "Your signing key is not on the server: set your web password with your own key "
            "(grant-ledger people password) to record here."
        )
    return None


async def import_page(app: Host, request: Request, session: Session) -> Response:
    refused = refusal(session)
    return app.page(
        "import.html",
        session,
        status=403 if refused is not None else 200,
        refused=_describe(refused),
        result=None,
        error="",
        most=MAX_UPLOAD_BYTES >> 20,
    )


async def import_file(app: Host, request: Request, session: Session) -> Response:
    refused = refusal(session)
    if refused is not None:  # refused before a byte of the file is read
        return app.page("error.html", session, status=403, message=_describe(refused))
    with tempfile.TemporaryDirectory(prefix="grant-ledger-import-") as folder:
        upload = await received(app, request, session, Path(folder))
        if isinstance(upload, Response):
            return upload
        path = upload.files.get("file")
        if path is None:
            return _shown(app, session, 400, None, _("Choose a file to import."))
        try:
            result, code = await run_in_threadpool(_record, app, session, path)
        except LedgerError as e:
            return _shown(app, session, _status(e.exit_code), None, e.message)
    return _shown(app, session, _status(code), result, "")


def _shown(app: Host, session: Session, status: int, result: Imported | None, error: str) -> Response:
    return app.page(
        "import.html",
        session,
        status=status,
        refused="",
        result=result,
        error=error,
        most=MAX_UPLOAD_BYTES >> 20,
    )


def _record(app: Host, session: Session, path: Path) -> tuple[Imported, int]:
    """The file opened and recorded as `import` does it, and the exit code `import` gives."""
    from commands.i18n import _ as cli_text
    from commands.import_files import open_import

    _count, cells, reading = open_import(path)  # a workbook past the bounds is refused before it unpacks
    assert session.signer is not None
    done, reordered = app.workspace.record_file(
        cells, lambda: open_import(path)[1], session.signer, session.role, session.person
    )
    shown = Imported(file=path.name, reading=" ".join(filter(None, [reading, reordered])))
    if done.bad:
        shown.bad = [(e.line, e.message) for e in done.errors]  # by line
        if done.unlisted:
            from commands.importer import unlisted_text

            shown.reading = " ".join(
                filter(None, [shown.reading, unlisted_text(done.unlisted, len(done.errors))])
            )
        if done.unsettled:
            from commands.importer import unsettled_text

            shown.reading = " ".join(filter(None, [shown.reading, unsettled_text(done.unsettled)]))
        n = done.bad
        bad = (
            _("{count} bad rows of {rows} in {file}; nothing was imported")
            if n > 1
            else _("{count} bad row of {rows} in {file}; nothing was imported")
        )
        shown.summary = bad.format(count=n, rows=done.rows, file=path.name)
        return shown, done.exit_code
    if done.rows == 0:  # as the command line says it
        shown.summary = cli_text("{file} holds no rows after its header; nothing written").format(
            file=path.name
        )
    elif done.events == 0:
        said = cli_text("already recorded: all {rows} rows of {file} are in the ledger; nothing written")
        shown.summary = said.format(rows=done.rows, file=path.name)
    else:
        from commands.importer import imported_text

        shown.summary = imported_text(done, path.name)
    return shown, 0


def _describe(refused: Breach | str | None) -> str:
    if refused is None:
        return ""
    return refused if isinstance(refused, str) else refused.describe()


def _status(exit_code: int) -> int:
    return STATUS.get(exit_code, 500) if exit_code else 200
