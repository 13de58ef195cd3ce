"""A person's signing key, and the seal each write stores after its events (audit.verifier.seals
says what a seal holds and what it signs; this module makes them)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4, uuid5

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from audit.verifier.canonical import stored_leaf_data
from audit.verifier.merkle import leaf_hash
from audit.verifier.seals import (
    ADOPTION_TOPIC,
    SEAL_TOPIC,
    adoption_message,
    key_fingerprint,
    seal_message,
)
from ledger.errors import BadInputError
from ledger.i18n import _

ADOPTION_ID = uuid5(UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8"), "grant-ledger/adoption")
PASSPHRASE_ENV = "GRANT_LEDGER_KEY_PASSPHRASE"


class KeyError_(BadInputError):
    """A key file that cannot be used (exit 2)."""


@dataclass(frozen=True)
class Signer:
    """The private key of the person recording, and its public fingerprint."""

    private_key: Ed25519PrivateKey
    fingerprint: str
    public_raw: bytes

    @classmethod
    def of(cls, private_key: Ed25519PrivateKey) -> Signer:
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return cls(private_key, key_fingerprint(raw), raw)

    def sign(self, message: bytes) -> str:
        return self.private_key.sign(message).hex()


def generate_key(path: Path, passphrase: str | None = None) -> Signer:
    """A new Ed25519 key pair: the private key written to ``path`` (owner-only, never replacing a
    file; PEM, encrypted when a passphrase is given) and the public key to ``path`` + ``.pub``."""
    key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
        if passphrase
        else serialization.NoEncryption()
    )
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_path = public_file(path)
    refuse_existing_key(path)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        msg = _("cannot create the key file {path}: {strerror}").format(path=path, strerror=e.strerror or e)
        raise KeyError_(msg) from None
    write_new(path, private_pem, 0o600)
    try:
        write_new(public_path, public_pem, 0o644)
    except KeyError_:
        path.unlink()
        raise
    return Signer.of(key)


def refuse_existing_key(path: Path) -> None:
    """KeyError_ when the private key ``path`` or its public half is there: none is replaced."""
    for target in (path, public_file(path)):
        if os.path.lexists(target):
            raise KeyError_(_("refusing to overwrite the existing key file {target}").format(target=target))


def public_file(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".key") + ".pub")


def load_signer(path: Path, passphrase: str | None = None) -> Signer:
    """The person's key in ``path``: refused, as ssh refuses, when others may read the file; an
    encrypted key is opened with ``passphrase`` (else GRANT_LEDGER_KEY_PASSPHRASE)."""
    data = key_bytes(path)
    secret = passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(data, password=secret.encode("utf-8") if secret else None)
    except TypeError:
        if secret:
            raise KeyError_(
                _("the key file {path} is not encrypted; give no passphrase").format(path=path)
            ) from None
        raise KeyError_(
            _(
                "the key file {path} is encrypted: give its passphrase ({PASSPHRASE_ENV} or the prompt)"
            ).format(path=path, PASSPHRASE_ENV=PASSPHRASE_ENV)
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyError_(
            _("the key file {path} is not a PEM private key, or the passphrase is wrong").format(path=path)
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_(_("the private key in {path} is not an Ed25519 key").format(path=path))
    return Signer.of(key)


MAX_KEY_BYTES = 64 * 1024  # a PEM Ed25519 key is about 120 bytes, an encrypted one under 300


def key_bytes(path: Path) -> bytes:
    """The key file's bytes: refused first if others may read it, if it is no regular file (a
    FIFO had waited for ever, /dev/zero had filled memory) or longer than any key."""
    refuse_open_key(path)
    try:
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            raise KeyError_(_("the key file {path} is not a regular file").format(path=path))
        with path.open("rb") as file:
            data = file.read(MAX_KEY_BYTES + 1)
    except OSError as e:
        raise KeyError_(
            _("cannot read the key file {path}: {strerror}").format(path=path, strerror=e.strerror)
        ) from None
    if len(data) > MAX_KEY_BYTES:
        raise KeyError_(
            _("the key file {path} is not a PEM private key, or the passphrase is wrong").format(path=path)
        )
    return data


def key_is_encrypted(path: Path) -> bool:
    """Whether the key file is protected by a passphrase (its mode and kind checked first)."""
    return b"ENCRYPTED" in key_bytes(path)[:64]


def load_public_raw(path: Path) -> bytes:
    """The 32 raw bytes of the Ed25519 public key in a PEM file."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as e:
        raise KeyError_(
            _("cannot read the public key file {path}: {strerror}").format(path=path, strerror=e.strerror)
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyError_(_("the file {path} is not a PEM public key").format(path=path)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyError_(_("the public key in {path} is not an Ed25519 key").format(path=path))
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def refuse_open_key(path: Path) -> None:
    if os.name != "posix":
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return  # missing or unreadable: reading it says so
    if mode & 0o077:
        raise KeyError_(
            _(
                "the private key {path} has mode {mode:04o}, so others may read it; make it yours alone "
                "with `chmod 600 {path}`"
            ).format(path=path, mode=mode)
        )


def write_new(path: Path, data: bytes, mode: int) -> None:
    """Write a new file with ``mode`` from its creation (O_EXCL: never replacing one, even one made
    after an existence check; the umask cannot widen a private key's mode)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise KeyError_(_("refusing to overwrite the existing key file {path}").format(path=path)) from None
    except OSError as e:
        raise KeyError_(
            _("cannot create the key file {path}: {strerror}").format(path=path, strerror=e.strerror)
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
    except OSError as e:  # a full disk: no empty or cut key left to refuse the next try
        path.unlink(missing_ok=True)
        raise KeyError_(
            _("cannot write the key file {path}: {strerror}; nothing was kept").format(
                path=path, strerror=e.strerror or e
            )
        ) from None


# ----------------------------------------------------------------------------- the seal aggregate


class Seal(Aggregate):
    """One write's signature: stored after the events it seals, in the same transaction."""

    TOPIC = "grant-ledger:Seal"

    class Created(Aggregate.Created):  # the library's default; a seal is made as Sealed or Adopted
        TOPIC = "grant-ledger:Seal.Created"

    class Sealed(Aggregate.Created):
        TOPIC = SEAL_TOPIC
        signer: str
        key: str
        leaves: str
        signature: str

    class Adopted(Aggregate.Created):
        TOPIC = ADOPTION_TOPIC
        signer: str
        key: str
        size: int
        root: str
        through: int  # the store's last notification id then (the ledger's own index, not signed)
        signature: str

    @classmethod
    def of(cls, seal_id: UUID, signer: Signer, name: str, leaves: str) -> Seal:
        signature = signer.sign(seal_message(str(seal_id), name, signer.fingerprint, leaves))
        return cls._create(
            cls.Sealed, id=seal_id, signer=name, key=signer.fingerprint, leaves=leaves, signature=signature
        )

    @classmethod
    def adoption(cls, signer: Signer, name: str, size: int, root: str, through: int) -> Seal:
        signature = signer.sign(adoption_message(str(ADOPTION_ID), name, signer.fingerprint, size, root))
        return cls._create(
            cls.Adopted,
            id=ADOPTION_ID,
            signer=name,
            key=signer.fingerprint,
            size=size,
            root=root,
            through=through,
            signature=signature,
        )


def new_seal_id() -> UUID:
    return uuid4()


def mark(events: Iterable[Any], seal_id: UUID | str) -> None:
    """Put the seal's id (a UUID or its text) on events about to be stored (their frozen fields
    are set already)."""
    text = seal_id if seal_id.__class__ is str else str(seal_id)
    for event in events:
        object.__setattr__(event, "seal", text)


def leaf_hex(originator_id: Any, version: int, topic: str, state: bytes) -> str:
    """The Merkle leaf hash of a stored event (audit.verifier.canonical), in hex."""
    return leaf_hash(stored_leaf_data(originator_id, version, topic, json.loads(state))).hex()


def leaves_of(stored: Sequence[StoredEvent]) -> str:
    """The leaves of stored events, concatenated in order."""
    return "".join(leaf_hex(s.originator_id, s.originator_version, s.topic, s.state) for s in stored)
