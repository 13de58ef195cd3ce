"""Issue 16, time and citations: working days by the statutory calendar (item 1), exact
thresholds shown 四舍五入 (item 3), the build period fixed at approval (item 4), citations and
effective dates (item 18) — each through the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from commands.cli import cli
from tests.conftest import Ledger, approved_district_grant


def _verify(bundle: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lang", "en", "--role", "auditor", "audit", "verify", str(bundle)])
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, result.stdout + result.stderr


# ----------------------------------------------------------------------------- item 3


def test_a_share_below_the_threshold_is_below_it_however_close(ledger: Ledger, tmp_path: Path) -> None:
    """166 advanced of 850 trained is 19.53%: below 20%, though it rounds to 0.20 (it passed)."""
    approved_district_grant(ledger)
    ledger.ok(
        "output", "report", "G1", "--year", "2024", "--trainees", "850", "--advanced", "166",
        "--date", "2025-01-05",
    )  # fmt: skip
    found = json.loads(ledger.ok("report", "findings", "--as-of", "2025-01-10", "--format", "json").stdout)
    shares = [f for f in found if "advanced share" in f["message"]]
    assert len(shares) == 1, found
    assert "19.53% (166 of 850)" in shares[0]["message"] and "20.00%" in shares[0]["message"]
    assert shares[0]["clause"].startswith("003")
    # exactly at the threshold is not below it: 170 of 850 is 20%
    ledger.ok(
        "output", "report", "G1", "--year", "2025", "--trainees", "850", "--advanced", "170",
        "--date", "2026-01-05",
    )  # fmt: skip
    found = json.loads(ledger.ok("report", "findings", "--as-of", "2026-01-10", "--format", "json").stdout)
    assert [f["message"] for f in found if "advanced share" in f["message"] and "2025" in f["message"]] == []
    # the auditor's verifier derives the same finding from the bundle, in the same words
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(tmp_path / "b"), role="auditor")
    code, out = _verify(tmp_path / "b")
    assert code == 0, out


def test_a_rate_is_shown_rounded_half_up(ledger: Ledger) -> None:
    """46,100 spent of 80,000 received is 57.625%: 四舍五入 shows 57.63 (half-even showed 57.62)."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "80000", "--voucher", "T1", "--date", "2024-04-15")
    ledger.ok(
        "spend", "G1", "--amount", "46100", "--category", "equipment", "--source", "subsidy",
        "--voucher", "S1", "--date", "2024-05-01",
    )  # fmt: skip
    ex = json.loads(ledger.ok("report", "execution", "--format", "json", "--as-of", "2024-06-30").stdout)[0]
    assert ex["of_received"] == "57.63"
    # 46,100 of the 200,000 approved is 23.05% exactly
    assert ex["of_approved"] == "23.05"
