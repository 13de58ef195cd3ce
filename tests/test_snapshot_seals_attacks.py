"""A snapshot signed by one person vouches for it to that person alone, also inside one long-running
process (the web server serves many people, and holds each grant as the last write left it): a
person with their own key and write access below the application signs a forged snapshot and
writes on it; another person's write in the same process must not build on it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.actions import Spend
from ledger.application import GrantLedger
from ledger.errors import VerificationError
from tests.conftest import Ledger
from tests.test_ring_fence_snapshots import long_history, snapshot_versions
from tests.test_snapshot_integrity import drop_snapshot_triggers, execute, forged_state
from tests.test_snapshot_seals import drop_seal_triggers, insert_seal, key_of, signature


def spend(voucher: str, amount: str) -> Spend:
    return Spend(
        grant_id="G1", amount=Decimal(amount), category="equipment", source="subsidy",
        voucher=voucher, on=date(2024, 7, 2),
    )  # fmt: skip


def signed_forgery(ledger: Ledger, tmp_path: Path) -> int:
    """G1's latest snapshot forged (5,000,000 more received) and signed by the officer's own key,
    their honest signature of it removed: the officer holds their key and the database."""
    long_history(ledger, tmp_path)
    version = snapshot_versions(ledger)[-1]
    forged = forged_state(ledger.url, version)
    insider = key_of(ledger)
    execute(
        ledger.url,
        *drop_snapshot_triggers(ledger.url),
        *drop_seal_triggers(ledger.url),
        "UPDATE ledger_snapshots SET state = :state WHERE originator_version = :version",
        "DELETE FROM ledger_snapshot_seals",
        state=forged,
        version=version,
    )
    insert_seal(ledger, version, insider.fingerprint, signature(insider, version, forged))
    return version


@pytest.mark.parametrize("held", [False, True], ids=["a command's process", "the web server's (held)"])
def test_a_snapshot_the_insider_signed_is_not_built_on_by_another_persons_write_in_the_same_process(
    ledger: Ledger, tmp_path: Path, held: bool
) -> None:
    version = signed_forgery(ledger, tmp_path)
    app = GrantLedger(ledger.url)
    if held:
        app.hold()
    try:
        assert app.handle(spend("INSIDER-1", "1"), signer=key_of(ledger)).recorded  # on their own word
        with pytest.raises(VerificationError, match=f"G1 .*{version}"):  # the forged snapshot, named
            app.handle(spend("OTHER-1", "1000000"), signer=key_of(ledger, actor="second"))
        with pytest.raises(VerificationError, match=f"G1 .*{version}"):
            app.load_grant("G1")  # nor a read in that process
    finally:
        app.close()
    assert ledger.balances("B0001")["B0001"]["subsidy_available"] == "104999.00"
