"""Signed checkpoints of the audit log, in the C2SP signed-note format with Ed25519.

A checkpoint body is four lines, each ending in a newline: the log origin, the tree size in
decimal, the root hash in standard base64, and a UTC timestamp (``2024-05-01T08:30:00Z``). The
signed form is the body, a blank line, and one line per signature::

    — <key name> <base64 of 4-byte key id || 64-byte Ed25519 signature of the body>

The key id is the first 4 bytes of SHA-256(key name || "\\n" || 0x01 || raw public key), as in
https://c2sp.org/signed-note, so Go tooling (golang.org/x/mod/sumdb/note) can check them too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.verifier.errors import AuditError
from audit.verifier.i18n import _

ROOT_SIZE = 32
ED25519_ALGORITHM = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash and a space

_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,19}")
_TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")


class CheckpointError(AuditError):
    """A checkpoint is malformed or its signature does not verify."""


class KeyFileError(AuditError):
    """A key file cannot be created, read or used."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    timestamp: str

    def __post_init__(self) -> None:
        if not self.origin or self.origin != self.origin.strip() or has_control(self.origin):
            message = _(
                "The checkpoint origin {origin!r} must be a non-empty line without control characters or "
                "surrounding spaces."
            ).format(origin=self.origin)
            raise CheckpointError(message)
        if type(self.size) is not int or self.size < 0:
            message = _("The checkpoint size {size!r} must be a non-negative integer.").format(size=self.size)
            raise CheckpointError(message)
        if not isinstance(self.root, bytes) or len(self.root) != ROOT_SIZE:
            message = _("The checkpoint root must be {size} bytes.").format(size=ROOT_SIZE)
            raise CheckpointError(message)
        if not _is_utc_timestamp(self.timestamp):
            message = _(
                "The checkpoint timestamp {timestamp!r} must be ISO-8601 UTC like 2024-05-01T08:30:00Z."
            ).format(timestamp=self.timestamp)
            raise CheckpointError(message)

    def body(self) -> str:
        root = base64.b64encode(self.root).decode("ascii")
        return f"{self.origin}\n{self.size}\n{root}\n{self.timestamp}\n"


@dataclass(frozen=True)
class NoteSignature:
    key_name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class SignedCheckpoint:
    """A parsed, not yet verified, signed checkpoint; ``body`` is the exact signed text."""

    checkpoint: Checkpoint
    body: str
    signatures: tuple[NoteSignature, ...]


def key_id(key_name: str, public_key: Ed25519PublicKey) -> bytes:
    _check_key_name(key_name)
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(key_name.encode("utf-8") + b"\n" + bytes([ED25519_ALGORITHM]) + raw)
    return digest.digest()[:4]


def parse_signed_checkpoint(text: str) -> SignedCheckpoint:
    """Split and check the form of a signed checkpoint; the signatures are not verified."""
    if has_control(text.replace("\n", "")):
        message = _("The signed checkpoint contains control characters (carriage returns?).")
        raise CheckpointError(message)
    if not text.endswith("\n"):
        message = _("The signed checkpoint does not end with a newline.")
        raise CheckpointError(message)
    split = text.rfind("\n\n")
    if split < 0:
        message = _("The signed checkpoint has no blank line between its body and signatures.")
        raise CheckpointError(message)
    body, signature_block = text[: split + 1], text[split + 2 :]
    if not signature_block:
        message = _("The signed checkpoint has no signature lines after the blank line.")
        raise CheckpointError(message)
    signatures = tuple(_parse_signature_line(line) for line in signature_block[:-1].split("\n"))
    return SignedCheckpoint(_parse_body(body), body, signatures)


def verify_signed_checkpoint(text: str, public_key: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint in ``text`` if it carries a valid signature by ``public_key``."""
    signed = parse_signed_checkpoint(text)
    ours = [s for s in signed.signatures if s.key_id == key_id(s.key_name, public_key)]
    if not ours:
        names = ", ".join(s.key_name for s in signed.signatures)
        message = _("The checkpoint has no signature by the given public key (signed by {names}).").format(
            names=names
        )
        raise CheckpointError(message)
    payload = signed.body.encode("utf-8")
    for sig in ours:
        try:
            public_key.verify(sig.signature, payload)
        except InvalidSignature:
            continue
        return signed.checkpoint
    message = _("The checkpoint signature by {name} does not verify.").format(name=ours[0].key_name)
    raise CheckpointError(message)


def load_public_key(path: Path) -> Ed25519PublicKey:
    data = read_key_file(path)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        message = _("The file {path} is not a PEM public key ({error}).").format(path=path, error=exc)
        raise KeyFileError(message) from exc
    if not isinstance(key, Ed25519PublicKey):
        message = _("The public key in {path} is not an Ed25519 key.").format(path=path)
        raise KeyFileError(message)
    return key


def _parse_body(body: str) -> Checkpoint:
    lines = body[:-1].split("\n")
    if len(lines) != 4:
        message = _(
            "The checkpoint body has {count} lines instead of 4 (origin, size, root, timestamp)."
        ).format(count=len(lines))
        raise CheckpointError(message)
    origin, size_text, root_text, timestamp = lines
    if not _SIZE_RE.fullmatch(size_text):
        message = _("Checkpoint line 2 {text!r} is not a decimal tree size.").format(text=size_text)
        raise CheckpointError(message)
    root = _strict_b64decode(root_text)
    if root is None or len(root) != ROOT_SIZE:
        message = _("Checkpoint line 3 {text!r} is not the base64 of a {size}-byte root.").format(
            text=root_text, size=ROOT_SIZE
        )
        raise CheckpointError(message)
    return Checkpoint(origin, int(size_text), root, timestamp)


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        message = _("The signature line {line!r} does not start with an em dash and a space.").format(
            line=line
        )
        raise CheckpointError(message)
    parts = line[len(SIGNATURE_PREFIX) :].split(" ")
    blob = _strict_b64decode(parts[1]) if len(parts) == 2 and _is_key_name(parts[0]) else None
    if blob is None or len(blob) < 5:
        message = _("The signature line {line!r} is not '— <key name> <base64 key id+signature>'.").format(
            line=line
        )
        raise CheckpointError(message)
    return NoteSignature(parts[0], blob[:4], blob[4:])


def _strict_b64decode(text: str) -> bytes | None:
    """Decoded standard base64 with padding, or None unless ``text`` is its canonical form."""
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded if base64.b64encode(decoded).decode("ascii") == text else None


def _is_utc_timestamp(value: object) -> bool:
    if not isinstance(value, str) or not _TIMESTAMP_RE.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _is_key_name(name: str) -> bool:
    return bool(name) and not has_control(name) and not any(c.isspace() or c == "+" for c in name)


def _check_key_name(name: str) -> None:
    if not _is_key_name(name):
        message = _("The key name {name!r} must be non-empty, without spaces or '+'.").format(name=name)
        raise CheckpointError(message)


def read_key_file(path: Path) -> bytes:
    if path.exists() and not path.is_file():  # a FIFO would never end
        message = _("Cannot read the key file {path}: {error}.").format(
            path=path, error=_("not a regular file")
        )
        raise KeyFileError(message)
    try:
        return path.read_bytes()
    except OSError as exc:
        message = _("Cannot read the key file {path}: {error}.").format(path=path, error=exc.strerror)
        raise KeyFileError(message) from exc
