"""Findings that were missing (issue 16 item 16): money still held once the build period has
ended; ``report matching``'s gap is the 1:1 finding's shortfall; ``report findings --as-of`` shows
the books as they stood that day, not what was recorded with later dates."""

from __future__ import annotations

import json

from tests.conftest import Ledger, approved_district_grant


def _findings(ledger: Ledger, day: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = json.loads(
        ledger.ok("report", "findings", "--format", "json", "--as-of", day).stdout
    )
    return rows


def _rules(ledger: Ledger, day: str) -> list[str]:
    return [f["rule"] for f in _findings(ledger, day)]


def test_money_held_after_the_build_period_is_a_finding_until_disposed(ledger: Ledger) -> None:
    approved_district_grant(ledger)  # build period 2024-04-01 .. 2026-03-31
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("match", "receive", "G1", "--amount", "20万", "--voucher", "M1", "--date", "2024-04-10")
    for n, source in enumerate(("subsidy", "matching")):
        ledger.ok(
            "spend", "G1", "--amount", "15万", "--category", "equipment", "--source", source,
            "--voucher", f"S{n}", "--date", "2024-05-01",
        )  # fmt: skip
    assert "balance after the build period" not in _rules(ledger, "2026-03-31")

    found = [f for f in _findings(ledger, "2026-04-10") if f["rule"] == "balance after the build period"]

    assert [f["clause"] for f in found] == ["003 第三条", "003 第三条"]
    assert "50,000.00 of subsidy" in found[0]["message"] and "2026-03-31" in found[0]["message"]
    assert "50,000.00 of matching" in found[1]["message"]
    for n, source in enumerate(("subsidy", "matching")):
        ledger.ok(
            "dispose", "G1", "--source", source, "--amount", "5万", "--how", "returned",
            "--approval", f"批-{n}", "--date", "2026-04-10",
        )  # fmt: skip
    assert "balance after the build period" not in _rules(ledger, "2026-04-11")
    # as of the day before the disposal, the books still held it
    assert _rules(ledger, "2026-04-09").count("balance after the build period") == 2


def test_the_matching_gap_is_the_1_to_1_findings_shortfall(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(
        "match",
        "commit",
        "G1",
        "--amount",
        "20万",
        "--funder",
        "单位",
        "--voucher",
        "C1",
        "--date",
        "2024-04-10",
    )
    ledger.ok("match", "receive", "G1", "--amount", "5万", "--voucher", "M1", "--date", "2024-04-12")

    (row,) = json.loads(ledger.ok("report", "matching", "--format", "json").stdout)
    (finding,) = [f for f in _findings(ledger, "2024-05-01") if f["rule"] == "matching 1:1"]

    assert row["shortfall"] == "150000.00"
    assert "short by 150,000.00" in finding["message"]


def test_findings_as_of_a_day_leave_out_what_was_dated_later(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("match", "receive", "G1", "--amount", "20万", "--voucher", "M1", "--date", "2024-04-10")
    # a district base's output target is 500 high-skill a year from two years after it starts
    # (003 第十一条(二)): the 2026 report, dated 2026-11-20
    ledger.ok(
        "output",
        "report",
        "G1",
        "--year",
        "2026",
        "--trainees",
        "900",
        "--advanced",
        "100",
        "--date",
        "2026-11-20",
    )
    ledger.ok(
        "rectify", "order", "G1", "--ref", "R1", "--finding", "凭证不全", "--deadline", "2025-04-30",
        "--date", "2025-04-01", role="approver",
    )  # fmt: skip
    ledger.ok("rectify", "complete", "G1", "--ref", "R1", "--date", "2025-06-01")

    early = _findings(ledger, "2024-12-31")
    assert not [f for f in early if f["rule"] in ("rectification overdue", "output target")], early
    open_then = [
        f["message"] for f in _findings(ledger, "2025-05-15") if f["rule"] == "rectification overdue"
    ]
    assert open_then == ["rectification R1 of grant G1 was due 2025-04-30, still open on 2025-05-15"]
    late = [f["message"] for f in _findings(ledger, "2025-07-01") if f["rule"] == "rectification overdue"]
    assert late == ["rectification R1 of grant G1 was due 2025-04-30, completed 2025-06-01"]
    assert "output target" not in _rules(ledger, "2026-11-19")
    assert "output target" in _rules(ledger, "2026-11-20")
