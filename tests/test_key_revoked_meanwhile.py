"""A key revoked by an administrator while a write by that key is under way (after the write
checked the registry, before it saved) must not leave an event that no key vouches for where it
stands in the log: every later catch-up would refuse it (exit 6) and the ledger could not be read.
The write checks the registry again under the store's write lock and, finding it moved, tries the
action afresh: refused, as the revoked person's, with nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from ledger.application import GrantLedger
from tests.conftest import Ledger, approved_district_grant


def _revoke_elsewhere(ledger: Ledger) -> None:
    """The officer's key revoked by the administrator, in a process of its own."""
    officer, admin = ledger.name("officer"), ledger.key("admin")
    done = subprocess.run(
        [sys.executable, "-m", "commands", "--db", ledger.url, "--key", str(admin), "--lang", "en",
         "people", "revoke", officer, "--date", "2024-05-01"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_key_revoked_between_the_check_and_the_save_records_nothing(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    sealed = GrantLedger.seal
    revoked: list[int] = []

    def revoked_meanwhile(self: GrantLedger, aggregates: list[Any], signer: Any, name: str) -> Any:
        if not revoked:  # another administrator's process, between the check and the save
            _revoke_elsewhere(ledger)
            revoked.append(1)
        return sealed(self, aggregates, signer, name)

    monkeypatch.setattr(GrantLedger, "seal", revoked_meanwhile)
    result = ledger(
        "spend", "G1", "--amount", "1000", "--category", "materials", "--source", "subsidy",
        "--voucher", "记-撤销中", "--date", "2024-05-10",
    )  # fmt: skip
    monkeypatch.undo()
    assert revoked and result.exit_code == 3, (result.exit_code, result.stderr)
    assert "revoked" in result.stderr or "撤销" in result.stderr, result.stderr
    # nothing stored that no key vouches for: every read answers, the spend is not there
    assert ledger.balances()["B0001"]["subsidy_spent"] == "0.00"
    lines = json.loads(ledger.ok("history", "G1", "--format", "json").stdout)
    assert "记-撤销中" not in {line["voucher"] for line in lines}
    assert ledger("history", "G1", "--signatures").exit_code == 0


def test_a_key_revoked_as_an_import_begins_records_nothing(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The same between an import's registry check and its write lock: refused as a conflict
    (exit 5, run it again), nothing written; run again, refused as the revoked person's."""
    import ledger.importing as importing
    from tests.importdata import HEADER

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    rows = tmp_path / "spends.csv"
    rows.write_text(
        HEADER + "\n" + "2024-05-10,,B0001,G1,,spend,1000,subsidy,materials,,导-1,,\n", encoding="utf-8"
    )
    locked = importing.take_write_lock

    def revoked_meanwhile(conn: Any) -> None:
        _revoke_elsewhere(ledger)
        monkeypatch.setattr(importing, "take_write_lock", locked)
        locked(conn)

    monkeypatch.setattr(importing, "take_write_lock", revoked_meanwhile)
    result = ledger("import", str(rows))
    monkeypatch.undo()
    assert result.exit_code == 5 and ("registry" in result.stderr or "人员" in result.stderr), result.stderr
    assert ledger.balances()["B0001"]["subsidy_spent"] == "0.00"
    again = ledger("import", str(rows))
    assert again.exit_code == 3, again.stderr
    assert ledger.balances()["B0001"]["subsidy_spent"] == "0.00"
