"""The compliance judge reads the build period and the subsidy disbursed as they stood on an
act's date, as the aggregate refuses by them: a spend dated after the period had ended, where a
later-dated extension reaches on past it, and a tranche that overshoots the approval only at the
dates before a later reversal, are findings of history stored below the rules; the command that
would record each is refused; a rebuild finds the same."""

from __future__ import annotations

import json
from datetime import date

from tests.conftest import Ledger, approved_district_grant
from tests.test_core_rules import refused
from tests.test_judge_dates import plant


def findings(ledger: Ledger) -> list[tuple[str, str, str]]:
    result = ledger.ok("report", "findings", "--as-of", "2027-12-31", "--format", "json")
    return [
        (f["rule"], f["date"], f["message"])
        for f in json.loads(result.stdout)
        if f["rule"] in ("build period", "tranches within approval")
    ]


def test_a_spend_after_the_period_had_ended_is_a_finding_though_a_later_extension_reaches_past_it(
    ledger: Ledger,
) -> None:
    approved_district_grant(ledger)  # build period 2024-04-01 to 2026-03-31
    ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("grant", "extend", "G1", "--end", "2027-03-31", "--document", "渝中人社〔2026〕7号",
              "--date", "2026-06-01", role="approver")  # fmt: skip
    refused(ledger, "spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", "P1",
            "--date", "2026-05-01", clause="003 第三条")  # fmt: skip
    plant(
        ledger,
        ("spend", "P1", "subsidy", "100", date(2026, 5, 1)),
        ("spend", "P2", "subsidy", "100", date(2026, 6, 2)),  # within the extension
    )

    found = findings(ledger)
    ledger.ok("projections", "rebuild", role="admin")

    assert [(rule, on) for rule, on, _message in found] == [("build period", "2026-05-01")], found
    assert "2026-03-31" in found[0][2], found
    assert findings(ledger) == found


def test_a_tranche_above_the_approval_before_a_later_reversal_is_a_finding(ledger: Ledger) -> None:
    approved_district_grant(ledger)  # 200,000.00 approved
    ledger.ok("disburse", "G1", "--amount", "150000", "--voucher", "T1", "--date", "2024-05-01")
    ledger.ok("reverse", "G1", "--voucher", "T1", "--reason", "错拨", "--date", "2024-06-01")
    # 100,000.00 dated 04-20: with T1 the grant stood at 250,000.00 on 05-01, above the approval
    refused(ledger, "disburse", "G1", "--amount", "100000", "--voucher", "T2", "--date", "2024-04-20")
    plant(ledger, ("disburse", "T2", "subsidy", "100000", date(2024, 4, 20)))

    found = findings(ledger)
    ledger.ok("projections", "rebuild", role="admin")

    assert [(rule, on) for rule, on, _message in found] == [("tranches within approval", "2024-04-20")], found
    assert findings(ledger) == found
