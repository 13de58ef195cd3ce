"""四舍五入 from the exact figure, wherever a finding or a report rounds: the matching a ratio asks
(half-up to the fen, where Decimal's own rounding is half-even) and the share of the build period
gone (a whole percent of the exact share, never of a share already rounded to 0.01%)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Ledger, approved_district_grant
from tests.test_lifecycle import findings
from tests.test_reports_as_it_stood import half_matching_version


def test_matching_half_a_received_sum_ending_in_an_odd_fen_rounds_half_up(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A version asking district bases for matching of half the subsidy, 100,000.01 received: it
    asks 50,000.01 (half-even had asked 50,000.00), in `report matching`, in the finding, and in
    the auditor's bundle, which verifies (its verifier works the figure out again)."""
    from ledger.clock import business_today

    today = business_today()
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "100000.01", "--voucher", "拨-1", "--date", "2024-04-15")
    version = tmp_path / "v2.toml"
    version.write_text(half_matching_version(today), encoding="utf-8")
    sqlite_ledger.ok("policy", "install", str(version), role="admin")
    (row,) = json.loads(sqlite_ledger.ok("report", "matching", "--format", "json").stdout)
    assert (row["ratio"], row["shortfall"]) == ("1:0.5", "50000.01")
    said = [f["message"] for f in findings(sqlite_ledger, today.isoformat()) if f["rule"] == "matching 1:1"]
    assert len(said) == 1 and "asks for 50,000.01, short by 50,000.01" in said[0], said
    sqlite_ledger.ok("audit", "checkpoint", role="approver")
    bundle = tmp_path / "bundle"
    sqlite_ledger.ok("audit", "export", str(bundle), role="auditor")
    verified = sqlite_ledger(
        "audit", "verify", str(bundle), "--root", str(sqlite_ledger.root), role="auditor"
    )
    assert verified.exit_code == 0, verified.stdout + verified.stderr


def test_the_build_period_gone_is_a_whole_percent_of_the_exact_share(ledger: Ledger) -> None:
    """616 of the build period's 729 days is 84.499…%: the low-execution finding says 84%, where
    rounding 84.50 (the share to 0.01%) again had said 85%, and `report execution` 84.50."""
    approved_district_grant(ledger)  # build period 2024-04-01 .. 2026-03-31: 729 days
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("spend", "G1", "--amount", "2万", "--category", "equipment", "--source", "subsidy",
              "--voucher", "S1", "--date", "2024-05-01")  # fmt: skip
    day = "2025-12-08"  # 616 days after the start
    (low,) = [f["message"] for f in findings(ledger, day) if f["rule"] == "low execution"]
    assert "with 84% of its build period" in low, low
    (line,) = json.loads(ledger.ok("report", "execution", "--as-of", day, "--format", "json").stdout)
    assert line["elapsed"] == "84.50"
