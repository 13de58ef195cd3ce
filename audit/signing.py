"""Signing checkpoints: the ledger side's key pair and its signatures, in the signed-note format
that ``audit.verifier.checkpoint`` parses and verifies (the verifier never holds a private key)."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.i18n import _
from audit.verifier.checkpoint import (
    SIGNATURE_PREFIX,
    Checkpoint,
    CheckpointError,
    KeyFileError,
    has_control,
    key_id,
    read_key_file,
)
from ledger import seal

_KEY_FILE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def utc_timestamp(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as the checkpoint timestamp form, to the second."""
    when = datetime.now(UTC) if moment is None else moment
    if when.tzinfo is None:
        message = _("A checkpoint timestamp needs a timezone-aware datetime.")
        raise CheckpointError(message)
    return when.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def sign_note(text: str, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """The signed note of ``text`` (which must end in a newline) with one signature line."""
    if not text.endswith("\n") or has_control(text.replace("\n", "")):
        message = _("A note text must end in a newline and contain no other control characters.")
        raise CheckpointError(message)
    identifier = key_id(key_name, private_key.public_key())
    signature = private_key.sign(text.encode("utf-8"))
    blob = base64.b64encode(identifier + signature).decode("ascii")
    return f"{text}\n{SIGNATURE_PREFIX}{key_name} {blob}\n"


def sign_checkpoint(cp: Checkpoint, private_key: Ed25519PrivateKey, key_name: str) -> str:
    return sign_note(cp.body(), private_key, key_name)


def generate_keypair(directory: Path, name: str) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair as ``NAME.key`` (mode 0600) and ``NAME.pub``.

    Refuses to replace either file. Returns (private key path, public key path).
    """
    if not _KEY_FILE_NAME_RE.fullmatch(name):
        message = _("The key name {name!r} must be letters, digits, '.', '_' or '-'.").format(name=name)
        raise KeyFileError(message)
    key_path, pub_path = directory / f"{name}.key", directory / f"{name}.pub"
    for path in (key_path, pub_path):
        if os.path.lexists(path):
            message = _("Refusing to overwrite the existing key file {path}.").format(path=path)
            raise KeyFileError(message)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new_file(key_path, private_pem, 0o600)
    try:
        _write_new_file(pub_path, public_pem, 0o644)
    except KeyFileError:
        key_path.unlink()
        raise
    return key_path, pub_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``path``; refused, as ssh refuses one, when its file may be read
    by the group or others (POSIX), since then anyone could sign checkpoints."""
    refuse_open_key(path)
    data = read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        message = _("The file {path} is not an unencrypted PEM private key ({error}).").format(
            path=path, error=exc
        )
        raise KeyFileError(message) from exc
    if not isinstance(key, Ed25519PrivateKey):
        message = _("The private key in {path} is not an Ed25519 key.").format(path=path)
        raise KeyFileError(message)
    return key


def refuse_open_key(path: Path) -> None:
    """KeyFileError when the key file's mode lets its group or others read or write it."""
    with _as_key_file_error():
        seal.refuse_open_key(path)


def _write_new_file(path: Path, data: bytes, mode: int) -> None:
    """Never replace a file, even one created after an existence check; the mode is given at
    creation (ledger.seal writes every key file)."""
    with _as_key_file_error():
        seal.write_new(path, data, mode)


@contextmanager
def _as_key_file_error() -> Iterator[None]:
    try:
        yield
    except seal.KeyError_ as e:
        raise KeyFileError(e.message[:1].upper() + e.message[1:] + ".") from None
