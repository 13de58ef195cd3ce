"""The audit page: the signed checkpoints, the bundle `audit export` writes (zipped), and a zipped
bundle uploaded and checked by the auditor's verifier as `audit verify` checks it, its PASS or
FAIL shown line for line as `audit verify` prints it. Every signed-in person may use it: it reads
and verifies, it writes nothing."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from commands.web.i18n import _
from commands.web.uploads import received, unpack_bundle
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from commands.web.host import Host
    from commands.web.sessions import Session

BUNDLE_NAME = "audit-bundle"
# a checkpoint is a few hundred bytes of signed text
MAX_CHECKPOINT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Verdict:
    passed: bool
    lines: list[str]  # as `audit verify` prints them on standard output
    refusal: str  # its sentence on standard error when the bundle fails


def checkpoints(engine: Any) -> list[Any]:
    from audit.log import stored_checkpoints

    with engine.connect() as conn:
        return stored_checkpoints(conn)


async def audit_page(
    app: Host, request: Request, session: Session, *, status: int = 200, verdict: Verdict | None = None,
    error: str = "", root: str | None = None,
) -> Response:  # fmt: skip
    engine = await run_in_threadpool(app.workspace.reading)
    listed = await run_in_threadpool(checkpoints, engine)
    own_root = await run_in_threadpool(app.workspace.trust_root)
    return app.page(
        "audit.html",
        session,
        status=status,
        checkpoints=listed,
        root=(own_root or "") if root is None else root,
        verdict=verdict,
        error=error,
    )


async def download_bundle(app: Host, request: Request, session: Session) -> Response:
    """The bundle `audit export` writes, up to the latest checkpoint, zipped in one folder."""
    folder = Path(tempfile.mkdtemp(prefix="grant-ledger-bundle-"))
    try:
        archive = await run_in_threadpool(_export_zipped, app, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return app.finish(
        FileResponse(
            archive,
            media_type="application/zip",
            filename=archive.name,
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        ),
        None,
    )


def _export_zipped(app: Host, folder: Path) -> Path:
    bundle = folder / BUNDLE_NAME
    app.workspace.export_bundle(bundle)
    archive = folder / f"{BUNDLE_NAME}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as book:
        for path in sorted(bundle.rglob("*")):
            if path.is_file():
                book.write(path, str(PurePosixPath(BUNDLE_NAME, *path.relative_to(bundle).parts)))
    return archive


async def verify_upload(app: Host, request: Request, session: Session) -> Response:
    with tempfile.TemporaryDirectory(prefix="grant-ledger-verify-") as folder:
        upload = await received(app, request, session, Path(folder))
        if isinstance(upload, Response):
            return upload
        root = upload.fields.get("root", "").strip()
        archive = upload.files.get("bundle")
        if archive is None:
            error = _("Choose a zipped bundle to verify.")
            return await audit_page(app, request, session, status=400, error=error, root=root)
        trusted = upload.files.get("trusted")
        if trusted is not None and trusted.stat().st_size > MAX_CHECKPOINT_BYTES:
            error = _("{file} is too large to be a checkpoint.").format(file=trusted.name)
            return await audit_page(app, request, session, status=400, error=error, root=root)
        try:
            verdict = await run_in_threadpool(_verify, archive, trusted, root)
        except LedgerError as e:
            return await audit_page(app, request, session, status=400, error=e.message, root=root)
    status = 200 if verdict.passed else 422
    return await audit_page(app, request, session, status=status, verdict=verdict, root=root)


def _verify(archive: Path, trusted: Path | None, root: str) -> Verdict:
    """What `audit verify BUNDLE [--trusted FILE] [--root ROOT]` prints of the unpacked bundle,
    which it names by the uploaded file's name."""
    from audit.verifier.checkpoint import KeyFileError
    from audit.verifier.verify import verify_bundle
    from commands.audit import trust_root

    pinned = trust_root(root) if root else None
    directory = archive.parent / "bundle"
    unpack_bundle(archive, directory)
    shown = Path(archive.name)
    try:
        report = verify_bundle(directory, trusted, (), None, pinned)
    except KeyFileError as e:
        return Verdict(False, [], e.message.rstrip(".。"))
    if report.failures:
        lines = [line.replace(str(directory), str(shown)) for line in report.failed(shown)]
        return Verdict(False, lines, report.refusal(shown))
    if not report.anchored:  # neither a trust root nor a checkpoint the auditor kept
        return Verdict(False, [], _(
            "{file} is consistent with itself, but nothing ties it to a key you trust, and anyone can "
            "sign a bundle with keys of their own: give the ledger's trust root, or a checkpoint you kept"
        ).format(file=shown))  # fmt: skip
    if not report.people_anchored:  # a kept checkpoint from before the registry's founding
        return Verdict(False, [], _(
            "{file} extends the checkpoint you kept, but the people who signed its acts are those of a "
            "registry founded after it, which nothing you gave ties to the ledger: give the ledger's "
            "trust root"
        ).format(file=shown))  # fmt: skip
    return Verdict(True, report.passed(trusted is not None), "")
