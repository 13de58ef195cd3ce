"""The subsidy disbursed stays within the approval at every business date, not only in total: a
tranche dated before a later reversal is refused, as the ring-fence refuses a spend dated before
a later one that would leave a date below zero (003 第九条 and the programme's subsidy clause)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import Ledger, approved_district_grant
from tests.importdata import HEADER


def _received(ledger: Ledger, day: str) -> Decimal:
    return Decimal(ledger.balances("--as-of", day)["B0001"]["subsidy_received"])


def test_a_tranche_dated_before_a_later_reversal_may_not_pass_the_approval_on_any_date(
    ledger: Ledger, tmp_path: Path
) -> None:
    """20万 approved; 20万 disbursed on 05-01 and reversed on 06-01: a second 20万 dated 05-15
    had been taken (received 40万 against 20万 approved from 05-15 to 05-31); it is refused
    (exit 3, nothing written), by the command and by an import alike, and taken dated 06-01."""
    approved_district_grant(ledger)  # 20万 approved on 2024-04-01
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "D1", "--date", "2024-05-01")
    ledger.ok(
        "reverse", "G1", "--voucher", "D1", "--kind", "disburse", "--reason", "退回", "--date", "2024-06-01"
    )
    before = ledger.event_count()
    refused = ledger("disburse", "G1", "--amount", "20万", "--voucher", "D2", "--date", "2024-05-15")
    assert refused.exit_code == 3, (refused.stdout, refused.stderr)
    assert "would bring the total disbursed to 400,000.00, above the approved 200,000.00" in refused.stderr
    assert ledger.event_count() == before
    path = tmp_path / "d2.csv"
    path.write_text(f"{HEADER}\n2024-05-15,,B0001,G1,,disburse,200000,,,,D2,,\n", encoding="utf-8")
    imported = ledger("import", str(path))
    assert imported.exit_code == 3 and "above the approved 200,000.00" in imported.stderr, imported.stderr
    assert ledger.event_count() == before
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "D2", "--date", "2024-06-01")
    for day in ("2024-05-01", "2024-05-15", "2024-05-31", "2024-06-01", "2024-12-31"):
        assert _received(ledger, day) <= Decimal("200000.00"), day


DAYS = [(date(2024, 5, 1) + timedelta(days=n)).isoformat() for n in range(6)]


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(DAYS), st.integers(min_value=-50, max_value=50), max_size=6),
    st.sampled_from([date(2024, 4, 30), *map(date.fromisoformat, DAYS), date(2024, 5, 9)]),
)
def test_the_greatest_balance_from_a_date_on_is_the_greatest_of_each_date_s(
    book: dict[str, int], on: date
) -> None:
    from ledger.rules import greatest_balance

    total = sum(book.values())
    later = sorted(day for day in {on.isoformat(), *book} if day >= on.isoformat())
    each = [sum(change for d, change in book.items() if d <= day) for day in later]
    assert greatest_balance(total, book, on) == max(each, default=total)
