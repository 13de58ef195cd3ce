"""A voucher is unique per grant and kind: a repeat writes nothing; a different content is
refused (exit 5). Reversals reverse one existing, not yet reversed expenditure."""

from __future__ import annotations

from tests.conftest import Ledger, approved_district_grant

SPEND = [
    "spend",
    "G1",
    "--amount",
    "3.5万",
    "--category",
    "equipment",
    "--voucher",
    "记-0042",
    "--payee",
    "设备公司",
    "--date",
    "2024-05-10",
]


def _funded(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")


def test_repeat_writes_nothing(ledger: Ledger) -> None:
    _funded(ledger)
    ledger.ok(*SPEND)
    count = ledger.event_count()
    result = ledger.ok(*SPEND)
    assert "already recorded" in result.stdout
    assert ledger.event_count() == count
    assert ledger.balances()["B0001"]["subsidy_spent"] == "35000.00"
    repeat = ledger.ok("disburse", "G1", "--amount", "200,000.00", "--voucher", "T1", "--date", "2024-04-10")
    assert "already recorded" in repeat.stdout
    assert ledger.event_count() == count


def test_same_voucher_different_content_is_a_conflict(ledger: Ledger) -> None:
    _funded(ledger)
    ledger.ok(*SPEND)
    count = ledger.event_count()
    changed = [*SPEND]
    changed[3] = "3.6万"
    result = ledger(*changed)
    assert result.exit_code == 5
    assert "记-0042" in result.stderr and "different content" in result.stderr
    assert ledger.event_count() == count
    # the same voucher number under another kind is a different document
    ledger.ok("match", "receive", "G1", "--amount", "1万", "--voucher", "记-0042", "--date", "2024-05-10")


def test_reversal(ledger: Ledger) -> None:
    _funded(ledger)
    ledger.ok(*SPEND)
    ledger.ok("reverse", "G1", "--voucher", "记-0042", "--reason", "重复入账", "--date", "2024-05-11")
    row = ledger.balances()["B0001"]
    assert row["subsidy_spent"] == "0.00" and row["subsidy_available"] == "200000.00"
    count = ledger.event_count()
    again = ledger.ok("reverse", "G1", "--voucher", "记-0042", "--reason", "重复入账", "--date", "2024-05-11")
    assert "already recorded" in again.stdout
    other = ledger("reverse", "G1", "--voucher", "记-0042", "--reason", "另一个理由", "--date", "2024-05-12")
    assert other.exit_code == 5
    assert ledger.event_count() == count
