"""A voucher spent, reversed, then spent again: refused, never "already recorded" of money the
balance leaves out (and a file repeating the whole history, reversal included, still re-imports
as nothing new)."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

from ledger.application import GrantLedger
from ledger.grant import fingerprint, fingerprint_v1
from ledger.policy import current_policy
from tests.conftest import Ledger, approved_district_grant
from tests.importdata import HEADER as HEADER_LINE

HEADER = HEADER_LINE.split(",")
SPEND: tuple[str, ...] = ("spend", "G1", "--amount", "3000", "--category", "equipment", "--voucher", "V1")
SPEND = (*SPEND, "--date", "2024-05-10")


def _funded(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "120000", "--voucher", "T1", "--date", "2024-05-01")


def _subsidy_available(ledger: Ledger) -> str:
    return ledger.balances("B0001")["B0001"]["subsidy_available"]


def test_spending_a_reversed_voucher_again_is_refused_and_names_the_reversal(ledger: Ledger) -> None:
    _funded(ledger)
    ledger.ok(*SPEND)
    ledger.ok("reverse", "G1", "--voucher", "V1", "--reason", "录入错误", "--date", "2024-05-12")
    before, events = _subsidy_available(ledger), ledger.event_count()

    again = ledger(*SPEND)

    assert again.exit_code == 5, again.output
    assert "reversed on 2024-05-12" in again.stderr
    assert "already recorded" not in again.output
    assert "new voucher" in again.stderr
    assert (_subsidy_available(ledger), ledger.event_count()) == (before, events)
    assert Decimal(before) == Decimal("120000.00")


def test_other_details_on_a_reversed_voucher_are_refused_too(ledger: Ledger) -> None:
    _funded(ledger)
    ledger.ok(*SPEND)
    ledger.ok("reverse", "G1", "--voucher", "V1", "--reason", "录入错误", "--date", "2024-05-12")
    other = ledger(*SPEND[:3], "4000", *SPEND[4:])
    assert other.exit_code == 5
    assert "reversed on 2024-05-12" in other.stderr


def _rows(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=HEADER)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row.get(key, "") for key in HEADER})
    return path


SPEND_ROW = {
    "date": "2024-05-10",
    "grant_id": "G1",
    "kind": "spend",
    "amount": "3000.00",
    "category": "equipment",
    "source": "subsidy",
    "voucher": "V1",
}
# a reversal names the reversed voucher in the memo column and its reason in the voucher column
REVERSE_ROW = {"date": "2024-05-12", "grant_id": "G1", "kind": "reverse", "memo": "V1", "voucher": "录入错误"}


def test_a_file_repeating_spend_and_reversal_reimports_as_nothing_new(ledger: Ledger, tmp_path: Path) -> None:
    _funded(ledger)
    history = _rows(tmp_path / "history.csv", [SPEND_ROW, REVERSE_ROW])
    ledger.ok("import", str(history))
    events = ledger.event_count()

    again = ledger.ok("import", str(history))

    assert ledger.event_count() == events
    assert _subsidy_available(ledger) == "120000.00", again.output


def test_a_file_spending_a_reversed_voucher_again_is_refused_at_its_line(
    ledger: Ledger, tmp_path: Path
) -> None:
    _funded(ledger)
    ledger.ok(*SPEND)
    ledger.ok("reverse", "G1", "--voucher", "V1", "--reason", "录入错误", "--date", "2024-05-12")
    events = ledger.event_count()
    other = {**SPEND_ROW, "voucher": "V2", "amount": "100.00"}
    spend_again = _rows(tmp_path / "again.csv", [other, SPEND_ROW])

    result = ledger("import", str(spend_again))

    assert result.exit_code == 5, result.output
    assert "again.csv:3: voucher V1" in result.stderr and "reversed on 2024-05-12" in result.stderr
    assert ledger.event_count() == events  # V2, valid on its own, is not written either


def test_a_snapshot_of_the_first_fingerprint_form_still_knows_its_repeats(sqlite_ledger: Ledger) -> None:
    """Snapshots stored before the compact fingerprints hold sha256 hex digests: a repeated
    command is still recognised as the same one, not refused as different content."""
    _funded(sqlite_ledger)
    sqlite_ledger.ok(*SPEND)
    app = GrantLedger(sqlite_ledger.url)
    grant = app.load_grant("G1")
    fields = {
        "amount": Decimal("3000.00"),
        "category": "equipment",
        "source": "subsidy",
        "content": "",
        "project": "",
        "payee": "",
        "on": date(2024, 5, 10),
    }
    assert grant.vouchers["spend/V1"] == fingerprint("spend", fields)
    grant.vouchers = {"spend/V1": fingerprint_v1("spend", fields)}
    repeated = grant.spend(
        amount=Decimal("3000.00"),
        category="equipment",
        source="subsidy",
        content="",
        project="",
        voucher="V1",
        payee="",
        memo="",
        attachments=[],
        on=date(2024, 5, 10),
        actor="tester",
        role="officer",
        policy=current_policy(),
    )
    assert repeated is False and not grant.collect_events()


def test_a_receipts_reversal_sharing_the_voucher_does_not_make_a_respent_voucher_a_repeat(
    ledger: Ledger, tmp_path: Path
) -> None:
    """V1 is a disbursement (tranche 2) and an expenditure, spent and reversed: the spend repeated
    is refused whether or not the file then reverses the disbursement V1. Only the reversal of
    the expenditure itself makes the file a repeat of its history."""
    _funded(ledger)
    ledger.ok(
        "disburse", "G1", "--amount", "50000", "--voucher", "V1", "--tranche", "2", "--date", "2024-05-02"
    )
    ledger.ok(*SPEND)
    ledger.ok(
        "reverse", "G1", "--voucher", "V1", "--kind", "spend", "--reason", "录入错误", "--date", "2024-05-12"
    )
    events = ledger.event_count()
    returned = {**REVERSE_ROW, "category": "disburse", "voucher": "第二笔退回", "date": "2024-05-13"}

    alone = ledger("import", str(_rows(tmp_path / "alone.csv", [SPEND_ROW])))
    beside = ledger("import", str(_rows(tmp_path / "beside.csv", [SPEND_ROW, returned])))

    assert alone.exit_code == 5, alone.output
    assert beside.exit_code == 5, beside.output
    assert "beside.csv:2: voucher V1" in beside.stderr and "reversed on 2024-05-12" in beside.stderr
    assert ledger.event_count() == events
    repeat = {**REVERSE_ROW, "category": "equipment"}
    again = ledger.ok("import", str(_rows(tmp_path / "again.csv", [SPEND_ROW, repeat])))
    assert ledger.event_count() == events, again.output
