"""An insider with a registered person's key and INSERT on the events table stores acts the
ledger's rules refuse, each sealed with that real key: the auditor's verifier, replaying the
bundle on its own, fails every one of them (exit 6), with the act named. A red-team review found
each of these passing verification: a negative disbursement leaving a fund source below zero, a
reversal of 500,000.00 against a spend of 60,000.00, a second approval of a closed grant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger.application import GrantLedger
from tests.conftest import Ledger, approved_district_grant
from tests.signing import save_sealed


def _books(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok(
        "disburse", "G1", "--amount", "100000", "--voucher", "拨-1", "--tranche", "1", "--date", "2024-04-10"
    )
    ledger.ok(
        "spend", "G1", "--amount", "60000", "--category", "equipment", "--source", "subsidy",
        "--voucher", "记-1", "--date", "2024-04-15",
    )  # fmt: skip


def _forge(
    ledger: Ledger, kind: str, role: str = "officer", held: dict[str, Any] | None = None, **fields: Any
) -> None:
    """``kind`` of grant G1 stored below the application: the event the aggregate would record,
    past every rule, sealed by the registered person ``role``'s own key. ``held``: expenditures the
    aggregate is made to hold in memory first (never stored), for an event naming one it lacks."""
    app = GrantLedger(ledger.url)
    try:
        grant = app.get_grant("G1")
        grant.expenditures.update(held or {})
        grant.trigger_event(getattr(type(grant), kind), actor="", role=role, **fields)
        save_sealed(app, ledger, grant, role=role)
    finally:
        app.close()


def _verified(ledger: Ledger, tmp_path: Path) -> tuple[int, str]:
    ledger.ok("audit", "checkpoint", role="approver")
    bundle = tmp_path / "bundle"
    ledger.ok("audit", "export", str(bundle), role="auditor")
    assert ledger.root is not None
    result = ledger("audit", "verify", str(bundle), "--root", ledger.root, role="auditor")
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout


def _negative_disbursement(ledger: Ledger) -> None:
    _forge(
        ledger,
        "SubsidyDisbursed",
        amount=Decimal("-100000"),
        voucher="拨-X",
        tranche=2,
        occurred_on=date(2024, 5, 1),
    )


def _disbursement_past_the_fen(ledger: Ledger) -> None:
    _forge(
        ledger,
        "SubsidyDisbursed",
        amount=Decimal("100.005"),
        voucher="拨-Y",
        tranche=2,
        occurred_on=date(2024, 5, 1),
    )


def _reversal_larger_than_its_spend(ledger: Ledger) -> None:
    _forge(
        ledger, "ExpenditureReversed", voucher="记-1", reason="x", amount=Decimal("500000"), source="subsidy",
        category="equipment", content="", spent_on=date(2024, 4, 15), occurred_on=date(2024, 5, 1),
    )  # fmt: skip


def _reversal_to_the_other_fund_source(ledger: Ledger) -> None:
    _forge(
        ledger, "ExpenditureReversed", voucher="记-1", reason="x", amount=Decimal("60000"), source="matching",
        category="equipment", content="", spent_on=date(2024, 4, 15), occurred_on=date(2024, 5, 1),
    )  # fmt: skip


def _reversal_dated_before_its_spend(ledger: Ledger) -> None:
    """记-1's 60,000.00 taken back on 04-12, before it was spent on 04-15: the days between stand
    credited with money never spent (a spend dated then would pass on it)."""
    _forge(
        ledger, "ExpenditureReversed", voucher="记-1", reason="x", amount=Decimal("60000"), source="subsidy",
        category="equipment", content="", spent_on=date(2024, 4, 15), occurred_on=date(2024, 4, 12),
    )  # fmt: skip


def _reversal_naming_another_date(ledger: Ledger) -> None:
    """The same, the reversal saying its spend was dated 04-11, so it looks dated after it."""
    _forge(
        ledger, "ExpenditureReversed", voucher="记-1", reason="x", amount=Decimal("60000"), source="subsidy",
        category="equipment", content="", spent_on=date(2024, 4, 11), occurred_on=date(2024, 4, 12),
    )  # fmt: skip


def _reversal_naming_no_date(ledger: Ledger) -> None:
    """The reversal of 04-12 naming no date for its spend, as an earlier version's might: judged
    against the spend's own date (found by a red-team pass: it had passed)."""
    _forge(
        ledger, "ExpenditureReversed", voucher="记-1", reason="x", amount=Decimal("60000"), source="subsidy",
        category="equipment", content="", spent_on=None, occurred_on=date(2024, 4, 12),
    )  # fmt: skip


def _tranche_reversal_naming_another_date(ledger: Ledger) -> None:
    _forge(
        ledger, "DisbursementReversed", voucher="拨-1", reason="x", amount=Decimal("100000"),
        received_on=date(2024, 4, 20), occurred_on=date(2024, 4, 22),
    )  # fmt: skip


def _reversal_of_no_spend(ledger: Ledger) -> None:
    _forge(
        ledger, "ExpenditureReversed", voucher="记-9", reason="x", amount=Decimal("1000"), source="subsidy",
        category="equipment", content="", spent_on=date(2024, 4, 15), occurred_on=date(2024, 5, 1),
        held={"记-9": {"reversed": False}},
    )  # fmt: skip


def _disbursement_reversed_twice(ledger: Ledger) -> None:
    ledger.ok("reverse", "G1", "--voucher", "记-1", "--reason", "错", "--date", "2024-04-20")
    ledger.ok("reverse", "G1", "--voucher", "拨-1", "--reason", "错", "--date", "2024-04-21")
    _forge(
        ledger, "DisbursementReversed", voucher="拨-1", reason="again", amount=Decimal("100000"),
        received_on=date(2024, 4, 10), occurred_on=date(2024, 4, 22),
    )  # fmt: skip


def _disbursement_reversed_for_more(ledger: Ledger) -> None:
    _forge(
        ledger, "DisbursementReversed", voucher="拨-1", reason="x", amount=Decimal("30000"),
        received_on=date(2024, 4, 10), occurred_on=date(2024, 4, 22),
    )  # fmt: skip


def _tranche_dated_before_a_reversal(ledger: Ledger) -> None:
    """The whole 200,000.00 approved, dated 04-15: 拨-1's 100,000.00 was not reversed until 04-21, so
    300,000.00 stood disbursed from 04-15 to 04-20. The total after the reversal is within the
    approval, which is all a check in log order sees."""
    ledger.ok("reverse", "G1", "--voucher", "记-1", "--reason", "错", "--date", "2024-04-20")
    ledger.ok("reverse", "G1", "--voucher", "拨-1", "--reason", "错", "--date", "2024-04-21")
    _forge(
        ledger, "SubsidyDisbursed", amount=Decimal("200000"), voucher="拨-B", tranche=2,
        occurred_on=date(2024, 4, 15),
    )  # fmt: skip


def _voucher_spent_twice(ledger: Ledger) -> None:
    _forge(
        ledger, "ExpenditureRecorded", amount=Decimal("100"), category="equipment", source="subsidy",
        content="", project="", voucher="记-1", payee="", memo="", attachments=[],
        occurred_on=date(2024, 4, 20),
    )  # fmt: skip


def _approved_again_after_closure(ledger: Ledger) -> None:
    _forge(ledger, "Closed", role="approver", document="结-1", occurred_on=date(2024, 6, 1))
    _forge(
        ledger, "Approved", role="approver", amount=Decimal("500000"), document="渝中人社〔2024〕99号",
        bodies=["RS-YZ", "CZ-YZ"], build_start=date(2024, 7, 1), build_end=date(2025, 12, 31),
        occurred_on=date(2024, 7, 1),
    )  # fmt: skip


OUTSIDE_THE_PERIOD = (
    "build period: spending of grant G1 dated 2026-05-01 is outside its build period 2024-04-01 to 2026-03-31"
)


def _spend_after_the_build_period(ledger: Ledger) -> None:
    _forge(
        ledger, "ExpenditureRecorded", amount=Decimal("100"), category="equipment", source="subsidy",
        content="", project="", voucher="记-X", payee="", memo="", attachments=[],
        occurred_on=date(2026, 5, 1),
    )  # fmt: skip


def _spend_reached_back_over_by_a_later_extension(ledger: Ledger) -> None:
    """The period had ended on 2026-03-31 when the spend of 05-01 is dated; the extension to
    2027-03-31 is dated 06-01 and does not reach back (the ledger refuses the spend)."""
    ledger.ok("grant", "extend", "G1", "--end", "2027-03-31", "--document", "渝中人社〔2026〕7号",
              "--date", "2026-06-01", role="approver")  # fmt: skip
    _spend_after_the_build_period(ledger)


def _extended(ledger: Ledger, end: date, on: date) -> None:
    _forge(ledger, "Extended", role="approver", end=end, document="渝中人社〔2026〕X号", occurred_on=on)


def _spend_after_an_extension_dated_before_the_approval(ledger: Ledger) -> None:
    """An extension to 2027-03-31 dated 2024-03-15, before the approval of 04-01: the period
    stood extended on every date, so the spend after its end passed (the ledger refuses the
    extension: dated_after_approval)."""
    _extended(ledger, date(2027, 3, 31), date(2024, 3, 15))
    _spend_after_the_build_period(ledger)


def _extension_of_a_closed_grant(ledger: Ledger) -> None:
    _forge(ledger, "Closed", role="approver", document="结-1", occurred_on=date(2026, 4, 1))
    _extended(ledger, date(2027, 3, 31), date(2026, 4, 2))


def _extension_ending_no_later(ledger: Ledger) -> None:
    _extended(ledger, date(2025, 12, 31), date(2024, 6, 1))


def _recovery_ordered_above_the_subsidy_received(ledger: Ledger) -> None:
    _forge(
        ledger, "RecoveryOrdered", role="approver", amount=Decimal("150000"), reason="违规", document="追-X",
        occurred_on=date(2024, 6, 1),
    )  # fmt: skip


def _recovery_received_with_no_order(ledger: Ledger) -> None:
    _forge(ledger, "FundsRecovered", amount=Decimal("1000"), voucher="回-X", occurred_on=date(2024, 6, 1))


def _order(ledger: Ledger, amount: str) -> None:
    ledger.ok("recover", "order", "G1", "--amount", amount, "--reason", "违规列支", "--document", "追-1",
              "--date", "2024-06-01", role="approver")  # fmt: skip


def _recovery_received_before_its_order(ledger: Ledger) -> None:
    _order(ledger, "10000")
    _forge(ledger, "FundsRecovered", amount=Decimal("10000"), voucher="回-X", occurred_on=date(2024, 5, 1))


def _tranche_reversal_below_the_orders(ledger: Ledger) -> None:
    """150,000.00 received, 120,000.00 ordered back: reversing the second tranche leaves 100,000.00
    received, less than the orders (the ledger refuses it; a red-team pass found it verified)."""
    ledger.ok(
        "disburse", "G1", "--amount", "50000", "--voucher", "拨-2", "--tranche", "2", "--date", "2024-05-01"
    )
    _order(ledger, "120000")
    _forge(
        ledger, "DisbursementReversed", voucher="拨-2", reason="x", amount=Decimal("50000"),
        received_on=date(2024, 5, 1), occurred_on=date(2024, 6, 10),
    )  # fmt: skip


def _disposal_of_what_an_order_calls_back(ledger: Ledger) -> None:
    """40,000.00 of subsidy left, 30,000.00 of it ordered back: disposing of all 40,000.00 leaves
    nothing to receive it from (the ledger refuses it)."""
    _order(ledger, "30000")
    _forge(
        ledger, "BalanceDisposed", source="subsidy", amount=Decimal("40000"), how="returned", approval="批-X",
        occurred_on=date(2024, 6, 10),
    )  # fmt: skip


FORGERIES: dict[str, tuple[Callable[[Ledger], None], list[str]]] = {
    "negative disbursement": (
        _negative_disbursement,
        ["amount: SubsidyDisbursed of -100000 of grant G1"],
    ),
    "disbursement past the fen": (
        _disbursement_past_the_fen,
        ["amount: SubsidyDisbursed of 100.005 of grant G1"],
    ),
    "reversal larger than its spend": (
        _reversal_larger_than_its_spend,
        ["a reversal of the expenditure 记-1 of grant G1", "does not repeat it: 500000.00 against 60000.00"],
    ),
    "reversal to the other fund source": (
        _reversal_to_the_other_fund_source,
        ["does not repeat it", "(matching/equipment/ against subsidy/equipment/)"],
    ),
    "reversal dated before its spend": (
        _reversal_dated_before_its_spend,
        ["reversal date: ExpenditureReversed dated 2024-04-12 reverses an act of grant G1 dated 2024-04-15"],
    ),
    "reversal naming another date": (
        _reversal_naming_another_date,
        [
            "a reversal of the expenditure 记-1 of grant G1",
            "says it was dated 2024-04-11, but it was dated 2024-04-15",
        ],
    ),
    "reversal naming no date": (
        _reversal_naming_no_date,
        [
            "a reversal of the expenditure 记-1 of grant G1",
            "is dated 2024-04-12, before the act it reverses, dated 2024-04-15",
        ],
    ),
    "tranche reversal naming another date": (
        _tranche_reversal_naming_another_date,
        [
            "a reversal of the disbursement 拨-1 of grant G1",
            "says it was dated 2024-04-20, but it was dated 2024-04-10",
        ],
    ),
    "reversal of no spend": (
        _reversal_of_no_spend,
        ["记-9 of grant G1, which has no such expenditure before it"],
    ),
    "disbursement reversed twice": (
        _disbursement_reversed_twice,
        ["the disbursement 拨-1 of grant G1 is reversed again"],
    ),
    "disbursement reversed for more": (
        _disbursement_reversed_for_more,
        ["a reversal of the disbursement 拨-1 of grant G1", "30000.00 against 100000.00"],
    ),
    "tranche dated before a reversal": (
        _tranche_dated_before_a_reversal,
        [
            "tranches within approval: disbursing 200,000.00 on 2024-04-15 brings grant G1's subsidy "
            "disbursed to 300,000.00 at that date or a later one, above the approved 200,000.00"
        ],
    ),
    "voucher spent twice": (
        _voucher_spent_twice,
        ["expenditure voucher 记-1 of grant G1 is recorded again (first at leaf"],
    ),
    "spend after the build period": (
        _spend_after_the_build_period,
        [OUTSIDE_THE_PERIOD],
    ),
    "spend reached back over by a later extension": (
        _spend_reached_back_over_by_a_later_extension,
        [OUTSIDE_THE_PERIOD],
    ),
    "recovery ordered above the subsidy received": (
        _recovery_ordered_above_the_subsidy_received,
        [
            "recovery within order: ordering 150,000.00 back from grant G1 brings the recoveries",
            "ordered to 150,000.00, above the 100,000.00 subsidy it received",
        ],
    ),
    "recovery received with no order": (
        _recovery_received_with_no_order,
        [
            "recovery within order: receiving 1,000.00 back for grant G1 brings recoveries to 1,000.00",
            "above the 0.00 ordered",
        ],
    ),
    "recovery received before its order": (
        _recovery_received_before_its_order,
        [
            "recovery date: a recovery of 10,000.00 for grant G1 received on 2024-05-01 is more than",
            "the orders dated by then leave to receive, 0.00",
        ],
    ),
    "tranche reversal below the orders": (
        _tranche_reversal_below_the_orders,
        [
            "recovery within order: reversing 50,000.00 of subsidy leaves grant G1 100,000.00 received,",
            "below the 120,000.00 of recoveries ordered",
        ],
    ),
    "disposal of what an order calls back": (
        _disposal_of_what_an_order_calls_back,
        [
            "recoveries before disposal: disposing of 40,000.00 of the subsidy of grant G1 on 2024-06-10",
            "leaves 0.00 for the 30,000.00 of ordered recoveries not yet received",
        ],
    ),
    "extension dated before the approval": (
        _spend_after_an_extension_dated_before_the_approval,
        [
            "approval first: an extension of grant G1 dated 2024-03-15 is before its approval on 2024-04-01",
            OUTSIDE_THE_PERIOD,
        ],
    ),
    "extension of a closed grant": (
        _extension_of_a_closed_grant,
        ["build period: an extension of grant G1, which is closed; only an approved grant's build period"],
    ),
    "extension ending no later": (
        _extension_ending_no_later,
        ["build period: an extension of grant G1 ends 2025-12-31, not after 2026-03-31"],
    ),
    "approved again after closure": (
        _approved_again_after_closure,
        ["approval first: Approved of grant G1, which is closed; only an application is approved, once"],
    ),
}


@pytest.mark.parametrize("apart", [False, True], ids=["here", "apart"])
@pytest.mark.parametrize("forgery", FORGERIES)
def test_an_act_the_rules_refuse_sealed_with_a_real_key_fails_verification(
    forgery: str, apart: bool, sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``apart``: the spending sheet's rows encoded (and each spend's reversal judged) in a second
    process, as for a bundle of 64 MB or more."""
    from audit.verifier import verify

    if apart:
        monkeypatch.setattr(verify, "PARALLEL_BYTES", 0)
    forge, said = FORGERIES[forgery]
    _books(sqlite_ledger)
    forge(sqlite_ledger)

    code, out = _verified(sqlite_ledger, tmp_path)

    assert code == 6, out
    for words in said:
        assert words in out, out


def test_the_same_books_without_the_forgery_pass(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """The honest acts the forgeries build on, with real reversals, verify (exit 0)."""
    _books(sqlite_ledger)
    sqlite_ledger.ok("reverse", "G1", "--voucher", "记-1", "--reason", "错", "--date", "2024-04-20")
    sqlite_ledger.ok("reverse", "G1", "--voucher", "拨-1", "--reason", "错", "--date", "2024-04-21")
    sqlite_ledger.ok(
        "disburse", "G1", "--amount", "50000", "--voucher", "拨-2", "--tranche", "2", "--date", "2024-05-01"
    )

    code, out = _verified(sqlite_ledger, tmp_path)

    assert code == 0, out


def test_honest_recoveries_and_a_disposal_after_them_pass(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """Orders, receipts of part on the order's own date and the rest later, and the disposal of
    what is left once the orders are answered: the verifier's recovery rules pass what the
    ledger records."""
    _books(sqlite_ledger)
    _order(sqlite_ledger, "30000")
    for amount, voucher, day in (("10000", "缴-1", "2024-06-01"), ("20000", "缴-2", "2024-06-10")):
        sqlite_ledger.ok("recover", "receive", "G1", "--amount", amount, "--voucher", voucher, "--date", day)
    sqlite_ledger.ok("dispose", "G1", "--source", "subsidy", "--amount", "10000", "--how", "returned",
                     "--approval", "批-1", "--date", "2024-06-20")  # fmt: skip

    code, out = _verified(sqlite_ledger, tmp_path)

    assert code == 0, out


def _forge_write(ledger: Ledger, *acts: tuple[str, dict[str, Any]], role: str = "officer") -> None:
    """Acts of G1 stored below the application as one write: one seal over them, a real key."""
    app = GrantLedger(ledger.url)
    try:
        grant = app.get_grant("G1")
        for kind, fields in acts:
            grant.trigger_event(getattr(type(grant), kind), actor="", role=role, **fields)
        save_sealed(app, ledger, grant, role=role)
    finally:
        app.close()


DISPOSAL = ("BalanceDisposed", {"source": "subsidy", "amount": Decimal("50000"), "how": "returned",
                                "approval": "批-X", "occurred_on": date(2024, 6, 10)})  # fmt: skip
TRANCHE = ("SubsidyDisbursed", {"amount": Decimal("20000"), "voucher": "拨-Z", "tranche": 2,
                                "occurred_on": date(2024, 6, 10)})  # fmt: skip


@pytest.mark.parametrize(
    "acts", [(DISPOSAL, TRANCHE), (TRANCHE, DISPOSAL)], ids=["tranche after", "tranche first"]
)
def test_a_disposal_of_what_an_order_calls_back_fails_whatever_its_write_brings_in(
    sqlite_ledger: Ledger, tmp_path: Path, acts: tuple[tuple[str, dict[str, Any]], ...]
) -> None:
    """40,000.00 held, 30,000.00 ordered back; one write disposes of 50,000.00 and brings in a
    20,000.00 tranche: 10,000.00 is left for the 30,000.00 owed. With the tranche after it, the
    disposal's ring-fence waits for the write's end, and its recoveries rule had never been judged
    (found by a red-team pass: verify passed)."""
    _books(sqlite_ledger)
    _order(sqlite_ledger, "30000")
    _forge_write(sqlite_ledger, *acts)

    code, out = _verified(sqlite_ledger, tmp_path)

    assert code == 6, out
    assert "recoveries before disposal: disposing of 50,000.00 of the subsidy of grant G1" in out, out


SPEND = ("ExpenditureRecorded", {"amount": Decimal("60000"), "category": "equipment", "source": "subsidy",
                                  "content": "", "project": "", "voucher": "记-2", "payee": "", "memo": "",
                                  "attachments": [], "occurred_on": date(2024, 5, 1)})  # fmt: skip
ITS_REVERSAL = ("ExpenditureReversed", {"voucher": "记-2", "reason": "x", "amount": Decimal("60000"),
                                        "source": "subsidy", "category": "equipment", "content": "",
                                        "spent_on": date(2024, 5, 1),
                                        "occurred_on": date(2024, 5, 1)})  # fmt: skip
LATER_TRANCHE = ("SubsidyDisbursed", {"amount": Decimal("30000"), "voucher": "拨-Z", "tranche": 2,
                                      "occurred_on": date(2024, 4, 30)})  # fmt: skip


def test_a_spend_reversed_later_in_its_own_write_is_judged_without_its_reversal(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """40,000.00 of subsidy held; one write spends 60,000.00 and reverses it the same day. The
    ledger's import judges a spend with the receipts its file brings in later, never with a
    reversal, so it refuses the spend; the verifier put the spend's ring-fence off to the write's
    end, where the reversal had made it good (found and listed in the last notes: verify passed)."""
    _books(sqlite_ledger)
    _forge_write(sqlite_ledger, SPEND, ITS_REVERSAL)

    code, out = _verified(sqlite_ledger, tmp_path)

    assert code == 6, out
    assert (
        "ring-fence: ExpenditureRecorded of 60,000.00 leaves the fiscal subsidy of grant G1 at -20,000.00"
        in out
    )


def test_a_spend_made_good_by_a_tranche_later_in_its_write_still_passes(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """The same spend, the write bringing in 30,000.00 dated before it after it, as an import's
    file does (counted by the ledger as coming): verify passes; with the reversal after both,
    still (the reversal takes nothing the spend needed)."""
    _books(sqlite_ledger)
    _forge_write(sqlite_ledger, SPEND, LATER_TRANCHE, ITS_REVERSAL)

    code, out = _verified(sqlite_ledger, tmp_path)

    assert code == 0, out


@pytest.mark.parametrize("as_of", ["2024-06-30", "2024-12-31"])
def test_a_bundle_cut_at_a_date_judges_the_recoveries_as_recorded(
    sqlite_ledger: Ledger, tmp_path: Path, as_of: str
) -> None:
    """150,000.00 ordered back of 100,000.00 received: a bundle cut at a date judged no recovery
    rule at all (found by a red-team pass: the exporter chooses the cut); it now counts the acts
    recorded before each one, those dated after the cut too."""
    _books(sqlite_ledger)
    order = {
        "amount": Decimal("150000"),
        "reason": "违规",
        "document": "追-X",
        "occurred_on": date(2024, 6, 1),
    }
    _forge_write(sqlite_ledger, ("RecoveryOrdered", order), role="approver")

    code, out = _books_cut(sqlite_ledger, tmp_path, as_of)

    assert code == 6, out
    assert "recovery within order: ordering 150,000.00 back from grant G1" in out, out


def _books_cut(ledger: Ledger, tmp_path: Path, as_of: str) -> tuple[int, str]:
    ledger.ok("audit", "checkpoint", role="approver")
    bundle = tmp_path / f"bundle-{as_of}"
    ledger.ok("audit", "export", str(bundle), "--as-of", as_of, role="auditor")
    assert ledger.root is not None
    result = ledger("audit", "verify", str(bundle), "--root", ledger.root, role="auditor")
    return result.exit_code, result.stdout


def test_a_bundle_cut_at_a_date_passes_honest_recoveries(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """A bundle cut at a date replays no act dated after it, but the rules comparing totals as
    recorded count them (a red-team pass found two honest ledgers failing, judged without them):
    an order of 90,000.00 dated 06-25, recorded after a tranche dated 07-10 made 150,000.00
    received; a disposal dated 06-20, recorded once the order's receipt of 07-15 had answered it."""
    _books(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "50000", "--voucher", "拨-2", "--tranche", "2",
                     "--date", "2024-07-10")  # fmt: skip
    _order(sqlite_ledger, "30000")
    sqlite_ledger.ok(
        "recover", "receive", "G1", "--amount", "30000", "--voucher", "缴-1", "--date", "2024-07-15"
    )
    sqlite_ledger.ok("dispose", "G1", "--source", "subsidy", "--amount", "40000", "--how", "returned",
                     "--approval", "批-1", "--date", "2024-06-20")  # fmt: skip
    sqlite_ledger.ok("recover", "order", "G1", "--amount", "90000", "--reason", "违规列支",
                     "--document", "追-2", "--date", "2024-06-25", role="approver")  # fmt: skip
    for as_of in ("2024-06-30", "2024-12-31"):
        code, out = _books_cut(sqlite_ledger, tmp_path, as_of)
        assert code == 0, (as_of, out)


# ----------------------------------------------------------------------------- a late adoption


def _unsigned_receipt_then_adopted(ledger: Ledger) -> None:
    """An unsigned matching receipt named for an approver (an INSERT below the application), then
    an administrator's signed adoption of the whole log up to it, stored long after the registry
    was founded by `init` (a red-team review found the bundle passing, the receipt "adopted")."""
    from audit.log import leaf_hashes
    from audit.verifier.canonical import record_from_stored, record_leaf_hash
    from audit.verifier.merkle import CompactRange
    from ledger.seal import Seal, load_signer

    app = GrantLedger(ledger.url)
    try:
        grant = app.get_grant("G1")
        grant.trigger_event(
            type(grant).MatchingReceived, actor=ledger.name("approver"), role="approver",
            occurred_on=date(2024, 5, 1), amount=Decimal("100000.00"), voucher="配-X",
        )  # fmt: skip
        app.save(grant)  # no seal
        with app.engine.connect() as conn:
            hashes = leaf_hashes(conn)
            rows = conn.exec_driver_sql(
                "SELECT id, originator_id, originator_version, topic, state FROM ledger_events "
                "WHERE id > ? ORDER BY id",
                (len(hashes),),
            ).fetchall()
        for _id, originator, version, topic, state in rows:
            record = record_from_stored(UUID(bytes=bytes(originator)), version, topic, bytes(state))
            hashes.append(record_leaf_hash(record))
        root = CompactRange().extend(hashes).root().hex()
        admin = load_signer(ledger.key("admin"))
        app.save(Seal.adoption(admin, "admin", len(hashes), root, int(rows[-1][0])))
    finally:
        app.close()


def test_a_late_adoption_adopts_nothing_in_the_ledger(sqlite_ledger: Ledger) -> None:
    _books(sqlite_ledger)
    _unsigned_receipt_then_adopted(sqlite_ledger)

    shown = sqlite_ledger("balance", "B0001", "--format", "json")

    assert shown.exit_code == 6, shown.stdout
    assert "carries no signature" in shown.stderr and "MatchingReceived" in shown.stderr


def test_a_late_adoption_fails_verification(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the ledger's own software made of it (here one that took any adoption an
    administrator signed), the auditor's verifier adopts only the events before the registry."""
    from ledger.seal import ADOPTION_ID
    from ledger.trust import Trust

    def any_signed_adoption(self: Trust) -> int:
        return max((int(r.state.get("through") or 0) for r in self._rows_of([ADOPTION_ID])), default=0)

    monkeypatch.setattr(Trust, "adopted_through", any_signed_adoption)
    _books(sqlite_ledger)
    _unsigned_receipt_then_adopted(sqlite_ledger)

    code, out = _verified(sqlite_ledger, tmp_path)

    assert code == 6, out
    assert "but the people registry was founded at leaf 0" in out
    assert "MatchingReceived" in out and "carries no signature" in out


# ----------------------------------------------------------------------------- a revocation without its date


def test_a_revocation_without_its_date_is_refused_by_the_registry_both_sides_replay() -> None:
    """The registry the ledger and the auditor's verifier both replay (audit.verifier.people)
    refuses a revocation naming no date: one such, stored below the application by an
    administrator, left the approver it named active, whose key then still signed checkpoints."""
    from audit.verifier.people import FOUNDED, REGISTERED, REVOKED, Registry, RegistryError

    registry = Registry()
    registry.apply(FOUNDED, {"person": "admin", "person_role": "admin", "public_key": "11" * 32}, "admin")
    registry.apply(
        REGISTERED,
        {"person": "王", "person_role": "approver", "public_key": "22" * 32, "occurred_on": "2024-01-02"},
        "admin",
    )
    with pytest.raises(RegistryError, match="names no date"):
        registry.apply(REVOKED, {"person": "王", "occurred_on": None}, "admin")
    assert registry.people["王"].active
    registry.apply(
        REVOKED, {"person": "王", "occurred_on": {"_type_": "date_iso", "_data_": "2025-01-01"}}, "admin"
    )
    assert not registry.people["王"].active


# ----------------------------------------------------------------------------- the replay's own footing


def test_a_line_claiming_an_enormous_leaf_fails_and_never_crashes(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A line's own leaf_index, when it is not the line's position, is a failure and nothing else:
    the replay keys acts by position (a claimed 10**20 crashed the reversal check's database)."""
    import json

    from audit.bundle import write_manifest

    _books(sqlite_ledger)
    bundle = tmp_path / "bundle"
    sqlite_ledger.ok("audit", "checkpoint", role="approver")
    sqlite_ledger.ok("audit", "export", str(bundle), role="auditor")
    events = bundle / "events.jsonl"
    lines = events.read_text(encoding="utf-8").splitlines()
    n = next(i for i, line in enumerate(lines) if "SubsidyDisbursed" in line)
    line = json.loads(lines[n])
    line["leaf_index"] = 10**20
    lines[n] = json.dumps(line, ensure_ascii=False, separators=(",", ":"))
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_manifest(bundle)
    assert sqlite_ledger.root is not None

    result = sqlite_ledger("audit", "verify", str(bundle), "--root", sqlite_ledger.root, role="auditor")

    assert result.exit_code == 6, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert f"found at position {n}" in result.stdout


def _applied(originator: str, grant_id: str) -> dict[str, Any]:
    state = {"grant_id": grant_id, "base_id": "B1", "base_name": "", "programme": "district_base",
             "occurred_on": {"_type_": "date", "_data_": "2024-03-01"}}  # fmt: skip
    return {"originator_id": originator, "topic": "grant-ledger:Grant.Applied", "state": state}


@pytest.mark.parametrize("second", ["another aggregate", "the same aggregate"])
def test_a_grant_is_applied_for_once_in_the_replay(second: str) -> None:
    """Acts are tied to their grant by its id (each reversal to the act it undoes): a second
    application under a known grant id, by another aggregate or the same, fails the replay (a
    reversal in one aggregate matched a spend of another naming the same grant id)."""
    from audit.verifier.replay import Replay, ReplayError

    replay = Replay()
    replay.feed(_applied("a", "G1"), 0)
    with pytest.raises(ReplayError, match="a second application of grant G1"):
        replay.feed(_applied("b" if second == "another aggregate" else "a", "G1"), 1)


def test_an_application_without_its_business_date_fails_the_replay() -> None:
    """An application's findings are judged by the policy version in force on its date: a forged
    one that states none cannot choose the version, it fails."""
    from audit.verifier.replay import Replay, ReplayError

    record = _applied("a", "G1")
    del record["state"]["occurred_on"]
    with pytest.raises(ReplayError, match="no business date"):
        Replay().feed(record, 0)


def _planned(ledger: Ledger) -> None:
    """G1's plan from 04-20: training_system 10,000.00 and cooperation 30,000.00 of the subsidy;
    5,000.00 spent on training_system on 05-01; the line raised to 20,000.00 from 06-01."""
    _books(ledger)
    ledger.ok("grant", "budget", "G1", "--line", "training_system:地方财政:10000",
              "--line", "cooperation:地方财政:30000", "--date", "2024-04-20")  # fmt: skip
    ledger.ok("spend", "G1", "--amount", "5000", "--category", "equipment", "--content", "training_system",
              "--voucher", "记-L1", "--date", "2024-05-01")  # fmt: skip
    ledger.ok("grant", "adjust", "G1", "--line", "training_system:地方财政:20000", "--approval", "调-1",
              "--date", "2024-06-01", role="approver")  # fmt: skip


def _spend_on(content: str, amount: str, on: date) -> tuple[str, dict[str, Any]]:
    return ("ExpenditureRecorded", {"amount": Decimal(amount), "category": "equipment", "source": "subsidy",
                                    "content": content, "project": "", "voucher": "记-LX", "payee": "",
                                    "memo": "", "attachments": [], "occurred_on": on})  # fmt: skip


OVER_0502 = "brings that budget line to 13,000.00 at the end of 2024-05-02, above its 10,000.00"
OVER_0501 = "brings that budget line to 13,000.00 at the end of 2024-05-01, above its 10,000.00"
NONE_PLANNED = "brings that budget line to 8,000.00 at the end of 2024-06-02, above its 0.00"


@pytest.mark.parametrize(
    ("content", "on", "said"),
    [
        ("training_system", date(2024, 5, 2), OVER_0502),
        ("构建完善的高技能人才培训体系", date(2024, 5, 2), OVER_0502),
        ("training_system", date(2024, 4, 25), OVER_0501),
        ("patterns", date(2024, 6, 2), NONE_PLANNED),
        ("", date(2024, 6, 2), "names no construction content, and the grant has a budget plan"),
    ],
    ids=["over its line", "under its content's label", "dated before a spend", "a line the plan lacks",
         "no content"],
)  # fmt: skip
def test_a_spend_over_its_budget_line_as_the_plan_stood_fails_verification(
    sqlite_ledger: Ledger, tmp_path: Path, content: str, on: date, said: str
) -> None:
    """8,000.00 more on a line of 10,000.00 holding 5,000.00 before its raise (dated 06-01): the
    ledger refuses it (003 第十条(一): spent_within_budget_line), the verifier had replayed no
    budget line at all (listed in the last notes). The command is refused; the forged event fails."""
    _planned(sqlite_ledger)
    if content and content.isascii():
        refused = sqlite_ledger("spend", "G1", "--amount", "8000", "--category", "equipment", "--content",
                                content, "--voucher", "记-LX", "--date", on.isoformat())  # fmt: skip
        assert refused.exit_code == 3, refused.output
    _forge_write(sqlite_ledger, _spend_on(content, "8000", on))

    code, out = _verified(sqlite_ledger, tmp_path)

    assert code == 6, out
    assert "budget line: spending 8,000.00" in out and said in out, out


def test_spending_within_its_budget_lines_as_they_stood_passes(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """The plan's books kept by the commands: 14,000.00 more on the raised line from 06-01, a spend
    reversed and spent again, the other line spent to its full 30,000.00: verify passes."""
    _planned(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "50000", "--voucher", "拨-2", "--tranche", "2",
                     "--date", "2024-06-02")  # fmt: skip
    for amount, content, voucher, on in (
        ("14000", "training_system", "记-L2", "2024-06-02"),
        ("30000", "cooperation", "记-L3", "2024-06-03"),
    ):
        sqlite_ledger.ok("spend", "G1", "--amount", amount, "--category", "equipment", "--content", content,
                         "--voucher", voucher, "--date", on)  # fmt: skip
    sqlite_ledger.ok("reverse", "G1", "--voucher", "记-L2", "--reason", "错", "--date", "2024-06-04")
    sqlite_ledger.ok("spend", "G1", "--amount", "15000", "--category", "equipment", "--content",
                     "training_system", "--voucher", "记-L4", "--date", "2024-06-05")  # fmt: skip

    code, out = _verified(sqlite_ledger, tmp_path)

    assert code == 0, out


def _extend(ledger: Ledger, end: str, on: str) -> None:
    ledger.ok("grant", "extend", "G1", "--end", end, "--document", f"渝中人社〔2026〕{on}号", "--date", on,
              role="approver")  # fmt: skip


def _spent(ledger: Ledger, voucher: str, on: str) -> int:
    return ledger("spend", "G1", "--amount", "1000", "--category", "equipment", "--voucher", voucher,
                  "--date", on).exit_code  # fmt: skip


@pytest.mark.parametrize("as_of", ["2026-05-31", None])
def test_an_extension_not_after_one_dated_past_the_cut_fails_a_cut_bundle(
    sqlite_ledger: Ledger, tmp_path: Path, as_of: str | None
) -> None:
    """G1 built to 2026-03-31, extended on 2026-06-01 to 2027-03-31. A forged extension dated
    02-01 to 2026-12-31 (the ledger refuses it: not after 2027-03-31) opens 04-01..05-31 to a
    spend. A bundle cut at 05-31 replays not the honest extension, so the forged one had been
    judged against 2026-03-31 and passed (found by a red-team pass): the end as recorded counts."""
    _books(sqlite_ledger)
    _extend(sqlite_ledger, "2027-03-31", "2026-06-01")
    assert _spent(sqlite_ledger, "记-0501", "2026-05-01") == 3
    _extended(sqlite_ledger, date(2026, 12, 31), date(2026, 2, 1))
    assert _spent(sqlite_ledger, "记-0501", "2026-05-01") == 0

    code, out = _books_cut(sqlite_ledger, tmp_path, as_of) if as_of else _verified(sqlite_ledger, tmp_path)

    assert code == 6, out
    assert "an extension of grant G1 ends 2026-12-31, not after 2027-03-31" in out, out


def test_honest_extensions_in_any_order_of_dates_pass_whole_and_cut(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """Extensions the ledger records, one dated before an earlier one, two on one date, one on
    the approval's date, one by an import's row, with spending between: every bundle passes."""
    _books(sqlite_ledger)
    _extend(sqlite_ledger, "2027-03-31", "2026-06-01")
    _extend(sqlite_ledger, "2027-06-30", "2026-05-01")
    _extend(sqlite_ledger, "2027-09-30", "2026-05-01")
    _extend(sqlite_ledger, "2027-12-31", "2024-04-01")
    for voucher, on in (("记-A", "2026-04-15"), ("记-B", "2026-05-15"), ("记-C", "2026-11-15")):
        assert _spent(sqlite_ledger, voucher, on) == 0
    header = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"
    rows = tmp_path / "extend.csv"
    rows.write_text(f"{header}\n2026-07-01,,B0001,G1,,extend,,,,,渝-9,,2028-03-31\n", encoding="utf-8")
    sqlite_ledger.ok("import", str(rows), role="approver")

    found = [_verified(sqlite_ledger, tmp_path)]
    found += [_books_cut(sqlite_ledger, tmp_path, cut) for cut in ("2024-04-01", "2026-05-01", "2026-06-15")]

    assert [code for code, _out in found] == [0, 0, 0, 0], found
