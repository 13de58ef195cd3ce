"""MANIFEST: every file of the bundle listed with its sha256, none missing, none unlisted."""

from __future__ import annotations

import hashlib
from pathlib import Path

from audit.verifier.i18n import _
from audit.verifier.report import CHUNK, EVENTS, Report, read_text

_sha256 = hashlib.sha256


def file_sha256(path: Path) -> str:
    digest = _sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
