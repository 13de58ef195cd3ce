"""MANIFEST: every file of the bundle listed with its sha256, none missing, none unlisted."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from audit.verifier.i18n import N_, _
from audit.verifier.report import CHUNK, EVENTS, Report, read_text

_sha256 = hashlib.sha256


def file_sha256(path: Path) -> str:
    digest = _sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


FOLDERS = ("checkpoints", "keys", "policy")  # the folders export writes; every other entry is a file
_KINDS = (
    (stat.S_ISLNK, N_("a symbolic link")),
    (stat.S_ISDIR, N_("a directory")),
    (stat.S_ISFIFO, N_("a FIFO")),
    (stat.S_ISSOCK, N_("a socket")),
)


def check_files(directory: Path, report: Report) -> bool:
    """Whether every entry of the bundle is a regular file (or one of ``FOLDERS``), looked at
    without following a link or opening anything: a FIFO read would never end, a directory or a
    dangling link where a file belongs fails its reader, a link may lead out of the bundle.
    Each other entry is a failure; nothing of such a bundle should then be read."""
    clean = True

    def walk(folder: Path, prefix: str) -> None:
        nonlocal clean
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:
            name = prefix + entry.name
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISREG(mode):
                continue
            if not prefix and entry.name in FOLDERS and stat.S_ISDIR(mode):
                walk(Path(entry.path), f"{name}/")
                continue
            clean = False
            kind = next((kind for test, kind in _KINDS if test(mode)), N_("a device"))
            report.fail(
                _(
                    "{name}: not a regular file but {kind}; a bundle holds only regular files (and the "
                    "folders checkpoints/, keys/ and policy/)"
                ).format(name=name, kind=_(kind))
            )

    try:
        walk(directory, "")
    except OSError as e:
        report.fail(_("{name}: cannot be listed ({error})").format(name=directory, error=e.strerror))
        return False
    return clean


def check_manifest(directory: Path, report: Report) -> dict[str, str]:
    """Checks every listed file but events.jsonl (hashed during the scan); returns the listing."""
    manifest = directory / "MANIFEST"
    if not manifest.is_file():
        report.fail("MANIFEST: missing")
        return {}
    listed: dict[str, str] = {}
    text = read_text(manifest, "MANIFEST", report)
    for n, line in enumerate((text or "").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            report.fail(f"MANIFEST line {n}: not '<sha256>  <file>'")
            continue
        listed[name] = digest
    present = {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != "MANIFEST"
    }
    for name in sorted(set(listed) - present):
        report.fail(_("MANIFEST: {name} is listed but missing from the bundle").format(name=name))
    for name in sorted(present - set(listed)):
        report.fail(_("MANIFEST: {name} is in the bundle but not listed").format(name=name))
    for name in sorted(set(listed) & present - {EVENTS}):
        compare_digest(name, file_sha256(directory / name), listed, report)
    return listed


def compare_digest(name: str, digest: str, listed: dict[str, str], report: Report) -> None:
    if name in listed and digest != listed[name]:
        report.fail(
            _("MANIFEST: sha256 of {name} differs from the manifest (file changed)").format(name=name)
        )
