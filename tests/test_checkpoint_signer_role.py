"""Who may sign a checkpoint, as the auditor's verifier judges it (found by a red-team pass): an
approver at the log's size, on a day of their approver's period in Chongqing. The verifier had
taken anyone who had ever been an approver, on the date the signer wrote in the checkpoint
itself, and read that date in UTC, so an approver registered today failed before 08:00."""

from __future__ import annotations

from pathlib import Path

from audit.bundle import write_manifest
from audit.signing import load_private_key, sign_checkpoint
from audit.verifier.checkpoint import Checkpoint, parse_signed_checkpoint
from tests.conftest import Ledger, approved_district_grant, person_name


def _bundle(ledger: Ledger, tmp_path: Path, signer: str = "tester") -> Path:
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    signed = ledger("audit", "checkpoint", role="approver", actor=signer)
    assert signed.exit_code == 0, signed.output
    bundle = tmp_path / "bundle"
    ledger.ok("audit", "export", str(bundle), role="auditor")
    return bundle


def _re_signed(bundle: Path, key: Path, name: str, timestamp: str) -> None:
    """Every checkpoint of the bundle signed again by ``key`` as ``name`` at ``timestamp``, and the
    MANIFEST written again: what the holder of that key can make of the bundle."""
    for path in sorted((bundle / "checkpoints").glob("*.txt")):
        was = parse_signed_checkpoint(path.read_text(encoding="utf-8")).checkpoint
        again = Checkpoint(was.origin, was.size, was.root, timestamp)
        path.write_text(sign_checkpoint(again, load_private_key(key), name), encoding="utf-8")
    write_manifest(bundle)


def _verified(ledger: Ledger, bundle: Path) -> tuple[int, str]:
    assert ledger.root is not None
    result = ledger("audit", "verify", str(bundle), "--root", ledger.root, role="auditor")
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout


def test_a_former_approver_now_an_officer_cannot_sign_a_checkpoint_dated_back(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    approved_district_grant(sqlite_ledger)
    key = sqlite_ledger.key("approver")
    name = person_name("tester", "approver")
    sqlite_ledger.ok("people", "revoke", name, "--date", "2024-06-01", role="admin")
    sqlite_ledger.ok(
        "people", "add", name, "--role", "officer", "--public-key", str(key.with_suffix(".pub")),
        "--date", "2024-06-01", role="admin",
    )  # fmt: skip
    refused = sqlite_ledger("audit", "checkpoint", role="approver")
    assert refused.exit_code == 3, refused.output  # the ledger: an officer signs no checkpoint
    bundle = _bundle(sqlite_ledger, tmp_path, "zhou")  # signed by zhou, an approver
    assert _verified(sqlite_ledger, bundle)[0] == 0

    _re_signed(bundle, key, name, "2024-05-01T00:00:00Z")  # when they were an approver

    code, out = _verified(sqlite_ledger, bundle)
    assert code == 6, out
    assert "not signed by an approver registered at its size" in out, out


def test_an_approver_s_first_day_is_chongqing_s(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """Registered from 2024-06-01: a checkpoint signed at 2024-05-31T16:30Z (00:30 on 06-01 in
    Chongqing) is theirs to sign; at 15:30Z (23:30 on 05-31) it is not."""
    approved_district_grant(sqlite_ledger)
    key = tmp_path / "zhou.key"
    sqlite_ledger.ok("keys", "generate", "--out", str(key))
    sqlite_ledger.ok(
        "people", "add", "zhou", "--role", "approver", "--public-key", str(key.with_suffix(".pub")),
        "--date", "2024-06-01", role="admin",
    )  # fmt: skip
    bundle = _bundle(sqlite_ledger, tmp_path)

    _re_signed(bundle, key, "zhou", "2024-05-31T16:30:00Z")
    code, out = _verified(sqlite_ledger, bundle)
    assert code == 0, out

    _re_signed(bundle, key, "zhou", "2024-05-31T15:30:00Z")
    code, out = _verified(sqlite_ledger, bundle)
    assert code == 6 and "not signed by an approver registered at its size" in out, out
