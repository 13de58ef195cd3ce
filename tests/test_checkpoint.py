"""Signed checkpoints: note format, signing and verification, key files."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.signing import generate_keypair, load_private_key, sign_checkpoint, sign_note, utc_timestamp
from audit.verifier.checkpoint import (
    Checkpoint,
    CheckpointError,
    KeyFileError,
    key_id,
    load_public_key,
    parse_signed_checkpoint,
    verify_signed_checkpoint,
)
from audit.verifier.merkle import leaf_hash, root_from_leaf_hashes
from ledger.i18n import speaking

ROOT = root_from_leaf_hashes([leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")])
CP = Checkpoint("grant-ledger.example/cq-skills", 3, ROOT, "2024-05-01T08:30:00Z")
KEY_NAME = "grant-ledger.example"

# The example of golang.org/x/mod/sumdb/note (note_test.go, BSD-3-Clause): Ed25519 signatures
# are deterministic, so signing its text with its key must give its signature line byte for byte.
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_SIGNATURE_LINE = (
    "— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


@pytest.fixture(scope="module")
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def signed(private_key: Ed25519PrivateKey) -> str:
    return sign_checkpoint(CP, private_key, KEY_NAME)


def replace_line(text: str, number: int, new: str) -> str:
    lines = text.split("\n")
    lines[number - 1] = new
    return "\n".join(lines)


def test_signed_note_matches_the_go_reference_example() -> None:
    seed = base64.b64decode(GO_SIGNER_KEY.split("+", 4)[4])[1:]
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public_raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert public_raw == base64.b64decode(GO_VERIFIER_KEY.split("+", 2)[2])[1:]
    assert key_id("PeterNeumann", key.public_key()).hex() == "c74f20a3"
    assert sign_note(GO_TEXT, key, "PeterNeumann") == GO_TEXT + "\n" + GO_SIGNATURE_LINE


def test_body_format() -> None:
    root_b64 = base64.b64encode(ROOT).decode()
    assert CP.body() == f"grant-ledger.example/cq-skills\n3\n{root_b64}\n2024-05-01T08:30:00Z\n"


def test_sign_parse_verify(private_key: Ed25519PrivateKey, signed: str) -> None:
    body, signature_line = signed.split("\n\n")
    assert body + "\n" == CP.body()
    assert signature_line.startswith(f"— {KEY_NAME} ")
    assert signature_line.endswith("\n") and signature_line.count("\n") == 1
    blob = base64.b64decode(signature_line.split(" ")[2])
    assert len(blob) == 4 + 64

    parsed = parse_signed_checkpoint(signed)
    assert parsed.checkpoint == CP
    assert parsed.body == CP.body()
    [signature] = parsed.signatures
    assert signature.key_name == KEY_NAME
    expected_id = hashlib.sha256(
        KEY_NAME.encode()
        + b"\n\x01"
        + private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ).digest()[:4]
    assert signature.key_id == expected_id == blob[:4]
    assert signature.signature == blob[4:]

    assert verify_signed_checkpoint(signed, private_key.public_key()) == CP


@pytest.mark.parametrize(
    ("line", "value"),
    [
        (1, "grant-ledger.example/other"),
        (2, "4"),
        (2, "30"),
        (3, base64.b64encode(bytes(32)).decode()),
        (4, "2024-05-01T08:30:01Z"),
    ],
)
def test_tampered_body_fails(signed: str, private_key: Ed25519PrivateKey, line: int, value: str) -> None:
    tampered = replace_line(signed, line, value)
    parse_signed_checkpoint(tampered)  # still well formed
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_signed_checkpoint(tampered, private_key.public_key())


@pytest.mark.parametrize("position", [4, 5, 20, 67])
def test_tampered_signature_fails(signed: str, private_key: Ed25519PrivateKey, position: int) -> None:
    body, line = signed.split("\n\n")
    prefix, blob_text = line.rstrip("\n").rsplit(" ", 1)
    blob = bytearray(base64.b64decode(blob_text))
    blob[position] ^= 0x80
    tampered = f"{body}\n\n{prefix} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(CheckpointError):
        verify_signed_checkpoint(tampered, private_key.public_key())


def test_tampered_key_id_or_name_fails(signed: str, private_key: Ed25519PrivateKey) -> None:
    renamed = signed.replace(f"— {KEY_NAME} ", "— someone-else ")
    with pytest.raises(CheckpointError, match="no signature by the given public key"):
        verify_signed_checkpoint(renamed, private_key.public_key())


def test_wrong_key_fails(signed: str) -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(CheckpointError, match="no signature by the given public key"):
        verify_signed_checkpoint(signed, other.public_key())


def test_wrong_key_under_the_same_name_fails(signed: str) -> None:
    impostor = Ed25519PrivateKey.generate()
    forged = sign_checkpoint(CP, impostor, KEY_NAME)
    original = Ed25519PrivateKey.generate()
    with pytest.raises(CheckpointError):
        verify_signed_checkpoint(forged, original.public_key())


def test_cosigned_checkpoint_verifies_with_either_key(signed: str, private_key: Ed25519PrivateKey) -> None:
    auditor = Ed25519PrivateKey.generate()
    cosignature = sign_checkpoint(CP, auditor, "auditor.example").split("\n\n")[1]
    cosigned = signed + cosignature
    assert len(parse_signed_checkpoint(cosigned).signatures) == 2
    assert verify_signed_checkpoint(cosigned, private_key.public_key()) == CP
    assert verify_signed_checkpoint(cosigned, auditor.public_key()) == CP


@settings(max_examples=50, deadline=None)
@given(
    origin=st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40
    ).filter(lambda s: s == s.strip() and s != ""),
    size=st.integers(0, 2**64),
    root=st.binary(min_size=32, max_size=32),
    moment=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)),
)
def test_round_trip_property(origin: str, size: int, root: bytes, moment: datetime) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    cp = Checkpoint(origin, size, root, utc_timestamp(moment))
    assert verify_signed_checkpoint(sign_checkpoint(cp, key, KEY_NAME), key.public_key()) == cp


GOOD_ROOT = base64.b64encode(ROOT).decode()
GOOD_SIG = "— k " + base64.b64encode(bytes(68)).decode() + "\n"


def note(*body: str, signature: str = GOOD_SIG) -> str:
    return "".join(line + "\n" for line in body) + "\n" + signature


MALFORMED = {
    "no trailing newline": note("o", "1", GOOD_ROOT, CP.timestamp)[:-1],
    "crlf": note("o", "1", GOOD_ROOT, CP.timestamp).replace("\n", "\r\n"),
    "no blank line": "o\n1\n" + GOOD_ROOT + "\n" + CP.timestamp + "\n" + GOOD_SIG,
    "no signature": note("o", "1", GOOD_ROOT, CP.timestamp, signature=""),
    "three lines": note("o", "1", GOOD_ROOT),
    "five lines": note("o", "1", GOOD_ROOT, CP.timestamp, "extra"),
    "empty origin": note("", "1", GOOD_ROOT, CP.timestamp),
    "leading zero": note("o", "01", GOOD_ROOT, CP.timestamp),
    "negative size": note("o", "-1", GOOD_ROOT, CP.timestamp),
    "hex size": note("o", "0x10", GOOD_ROOT, CP.timestamp),
    "spaced size": note("o", " 1", GOOD_ROOT, CP.timestamp),
    "hex root": note("o", "1", ROOT.hex(), CP.timestamp),
    "short root": note("o", "1", base64.b64encode(ROOT[:31]).decode(), CP.timestamp),
    "unpadded root": note("o", "1", GOOD_ROOT.rstrip("="), CP.timestamp),
    "urlsafe root": note("o", "1", base64.urlsafe_b64encode(b"\xff" * 32).decode(), CP.timestamp),
    "space timestamp": note("o", "1", GOOD_ROOT, "2024-05-01 08:30:00Z"),
    "offset timestamp": note("o", "1", GOOD_ROOT, "2024-05-01T08:30:00+00:00"),
    "local timestamp": note("o", "1", GOOD_ROOT, "2024-05-01T08:30:00"),
    "month 13": note("o", "1", GOOD_ROOT, "2024-13-01T08:30:00Z"),
    "ascii dash": note("o", "1", GOOD_ROOT, CP.timestamp, signature=GOOD_SIG.replace("—", "-")),
    "no blob": note("o", "1", GOOD_ROOT, CP.timestamp, signature="— k\n"),
    "plus in name": note("o", "1", GOOD_ROOT, CP.timestamp, signature=GOOD_SIG.replace("k", "k+1")),
    "bad blob": note("o", "1", GOOD_ROOT, CP.timestamp, signature="— k !!!!\n"),
    "short blob": note("o", "1", GOOD_ROOT, CP.timestamp, signature="— k AAAA\n"),
    "extra field": note("o", "1", GOOD_ROOT, CP.timestamp, signature=GOOD_SIG[:-1] + " x\n"),
    "blank sig line": note("o", "1", GOOD_ROOT, CP.timestamp, signature=GOOD_SIG + "\n"),
}


def test_the_malformed_template_is_otherwise_well_formed() -> None:
    parsed = parse_signed_checkpoint(note("o", "1", GOOD_ROOT, CP.timestamp))
    assert parsed.checkpoint == Checkpoint("o", 1, ROOT, CP.timestamp)


@pytest.mark.parametrize("text", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_text_is_rejected_with_one_sentence(text: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        parse_signed_checkpoint(text)
    message = str(caught.value)
    assert message.endswith(".") and "\n" not in message
    with pytest.raises(CheckpointError):
        verify_signed_checkpoint(text, Ed25519PrivateKey.generate().public_key())


@pytest.mark.parametrize(
    ("origin", "size", "root", "timestamp"),
    [
        ("", 1, ROOT, CP.timestamp),
        ("a\nb", 1, ROOT, CP.timestamp),
        (" o", 1, ROOT, CP.timestamp),
        ("o", -1, ROOT, CP.timestamp),
        ("o", True, ROOT, CP.timestamp),
        ("o", 1, ROOT[:31], CP.timestamp),
        ("o", 1, ROOT, "yesterday"),
        ("o", 1, ROOT, "2024-05-01T08:30:00+08:00"),
    ],
)
def test_checkpoint_rejects_invalid_fields(origin: str, size: int, root: bytes, timestamp: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(origin, size, root, timestamp)


def test_invalid_key_names_are_refused(private_key: Ed25519PrivateKey) -> None:
    for name in ["", "two words", "a+b", "tab\tname"]:
        with pytest.raises(CheckpointError):
            sign_checkpoint(CP, private_key, name)


def test_utc_timestamp() -> None:
    assert utc_timestamp(datetime(2024, 5, 1, 8, 30, 0, 999, tzinfo=UTC)) == "2024-05-01T08:30:00Z"
    chongqing = timezone(timedelta(hours=8))
    assert utc_timestamp(datetime(2024, 5, 1, 16, 30, tzinfo=chongqing)) == "2024-05-01T08:30:00Z"
    assert utc_timestamp().endswith("Z")
    with pytest.raises(CheckpointError):
        utc_timestamp(datetime(2024, 5, 1))


# ---------------------------------------------------------------- key files


def test_generate_and_load_keypair(tmp_path: Path) -> None:
    key_path, pub_path = generate_keypair(tmp_path / "keys", "ledger")
    assert (key_path, pub_path) == (
        tmp_path / "keys" / "ledger.key",
        tmp_path / "keys" / "ledger.pub",
    )
    assert key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert pub_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    private_key, public_key = load_private_key(key_path), load_public_key(pub_path)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert private_key.public_key().public_bytes(*raw) == public_key.public_bytes(*raw)
    signed = sign_checkpoint(CP, private_key, KEY_NAME)
    assert verify_signed_checkpoint(signed, public_key) == CP


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_private_key_mode_is_0600(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        key_path, _ = generate_keypair(tmp_path, "ledger")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    key_path, pub_path = generate_keypair(tmp_path, "ledger")
    before = key_path.read_bytes(), pub_path.read_bytes()
    with pytest.raises(KeyFileError, match="Refusing to overwrite"):
        generate_keypair(tmp_path, "ledger")
    assert (key_path.read_bytes(), pub_path.read_bytes()) == before


def test_refuses_when_only_the_public_key_exists(tmp_path: Path) -> None:
    (tmp_path / "ledger.pub").write_text("someone's key")
    with pytest.raises(KeyFileError, match="Refusing to overwrite"):
        generate_keypair(tmp_path, "ledger")
    assert not (tmp_path / "ledger.key").exists()


def test_exclusive_create_wins_a_race(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A file appearing between the existence check and the creation is still not replaced,
    # and a half-written pair is removed.
    (tmp_path / "ledger.key").write_text("existing")
    (tmp_path / "other.pub").write_text("existing")
    monkeypatch.setattr("audit.signing.os.path.lexists", lambda path: False)
    with speaking("en"), pytest.raises(KeyFileError, match="Refusing to overwrite"):
        generate_keypair(tmp_path, "ledger")
    assert (tmp_path / "ledger.key").read_text() == "existing"
    with speaking("en"), pytest.raises(KeyFileError, match="Refusing to overwrite"):
        generate_keypair(tmp_path, "other")
    assert not (tmp_path / "other.key").exists()
    assert (tmp_path / "other.pub").read_text() == "existing"


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "two words"])
def test_generate_refuses_unsafe_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(KeyFileError):
        generate_keypair(tmp_path, name)


def test_loading_bad_key_files(tmp_path: Path) -> None:
    key_path, pub_path = generate_keypair(tmp_path, "ledger")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_path = tmp_path / "ec.key"
    ec_path.write_bytes(
        ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ec_pub = tmp_path / "ec.pub"
    ec_pub.write_bytes(
        ec_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key")
    for private in (ec_path, garbage, pub_path):
        private.chmod(0o600)  # a private key readable by others is refused before it is read
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        load_private_key(ec_path)
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        load_public_key(ec_pub)
    for load, path in [
        (load_private_key, garbage),
        (load_public_key, garbage),
        (load_private_key, pub_path),
        (load_public_key, key_path),
        (load_private_key, tmp_path / "missing.key"),
        (load_public_key, tmp_path / "missing.pub"),
    ]:
        with pytest.raises(KeyFileError):
            load(path)
