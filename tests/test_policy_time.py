"""Issue 16, time and citations: working days by the statutory calendar (item 1), exact
thresholds shown 四舍五入 (item 3), the build period fixed at approval (item 4), citations and
effective dates (item 18) — each through the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from commands.cli import cli
from tests.conftest import Ledger, approved_district_grant


def _verify(bundle: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lang", "en", "--role", "auditor", "audit", "verify", str(bundle)])
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, result.stdout + result.stderr


# ----------------------------------------------------------------------------- item 3


def test_a_share_below_the_threshold_is_below_it_however_close(ledger: Ledger, tmp_path: Path) -> None:
    """166 advanced of 850 trained declared at application is 19.53%: below 20% (003 第六条), though
    it rounds to 0.20 (it passed); 170 of 850 is exactly 20% and is not below it."""
    ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    ledger.ok("unit", "register", "U2", "--name", "单位U2", "--date", "2024-02-01")
    for grant, unit, base, advanced in (("G1", "U1", "B0001", "166"), ("G2", "U2", "B0002", "170")):
        ledger.ok(
            "grant", "apply", grant, "--unit", unit, "--base", base, "--programme", "district_base",
            "--project", "电工", "--amount", "20万", "--trained", "850", "--advanced", advanced,
            "--date", "2024-03-01",
        )  # fmt: skip
    found = json.loads(ledger.ok("report", "findings", "--format", "json").stdout)
    shares = [f for f in found if "advanced" in f["message"]]
    assert len(shares) == 1, found
    assert shares[0]["grant_id"] == "G1"
    assert "(19.53%)" in shares[0]["message"] and "at least 20.00%" in shares[0]["message"], shares[0]
    assert shares[0]["clause"].startswith("003")
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


# ----------------------------------------------------------------------------- item 4


def _applied_and_selected(ledger: Ledger) -> None:
    from tests.conftest import selected

    ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    ledger.ok(
        "grant", "apply", "G1", "--unit", "U1", "--base", "B0001", "--programme", "district_base",
        "--project", "电工", "--amount", "20万", "--date", "2024-03-01",
    )  # fmt: skip
    selected(ledger)


def _spend(ledger: Ledger, voucher: str, on: str, amount: str = "1000") -> Result:
    return ledger(
        "spend", "G1", "--amount", amount, "--category", "equipment", "--source", "subsidy",
        "--voucher", voucher, "--date", on,
    )  # fmt: skip


def test_the_programme_fixes_the_build_period_at_approval(ledger: Ledger) -> None:
    """003 第三条: two years. An approval ending in 2030 was accepted and a spend in 2029 recorded."""
    _applied_and_selected(ledger)
    before = ledger.event_count()
    approve = ("grant", "approve", "G1", "--amount", "200000", "--document", "渝中人社〔2024〕1号",
               "--date", "2024-04-01")  # fmt: skip
    result = ledger(*approve, "--end", "2030-12-31", role="approver")
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "003 第三条" in result.stderr and "2026-03-31" in result.stderr and "grant extend" in result.stderr
    assert ledger.event_count() == before
    # one day past two years is refused too; the programme's own end is taken
    assert ledger(*approve, "--end", "2026-04-01", role="approver").exit_code == 3
    ledger.ok(*approve, "--end", "2026-03-31", role="approver")
    ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "T1", "--date", "2024-04-15")
    assert _spend(ledger, "S1", "2026-03-31").exit_code == 0
    late = _spend(ledger, "S2", "2026-04-01")
    assert late.exit_code == 3 and "build period" in late.stderr


def test_an_extension_is_an_approvers_act_with_its_document(ledger: Ledger, tmp_path: Path) -> None:
    from tests.conftest import approved_district_grant as approved

    approved(ledger)  # build period 2024-04-01 to 2026-03-31
    ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "T1", "--date", "2024-04-15")
    assert _spend(ledger, "S1", "2026-06-01").exit_code == 3
    extend = ("grant", "extend", "G1", "--end", "2026-09-30", "--document", "渝中人社〔2026〕7号",
              "--date", "2026-03-01")  # fmt: skip
    before = ledger.event_count()
    by_officer = ledger(*extend, role="officer")
    assert by_officer.exit_code == 3 and ledger.event_count() == before, by_officer.stderr
    # an "extension" to an earlier end is no extension
    shorter = ledger("grant", "extend", "G1", "--end", "2025-12-31", "--document", "X", "--date",
                     "2026-03-01", role="approver")  # fmt: skip
    assert shorter.exit_code == 3 and "2026-03-31" in shorter.stderr
    assert (
        ledger("grant", "extend", "NOPE", "--end", "2026-09-30", "--document", "X", role="approver").exit_code
        == 4
    )
    ledger.ok(*extend, role="approver")
    assert (
        ledger(*extend, role="approver").exit_code == 0 and ledger.event_count() == before + 2
    )  # a repeat: the act and its seal, once
    assert _spend(ledger, "S1", "2026-06-01").exit_code == 0
    assert _spend(ledger, "S2", "2026-10-01").exit_code == 3
    ex = json.loads(ledger.ok("report", "execution", "--format", "json", "--as-of", "2026-07-01").stdout)[0]
    assert ex["build_end"] == "2026-09-30"
    # disposal stays possible after the period ends
    ledger.ok(
        "dispose", "G1", "--source", "subsidy", "--amount", "1000", "--how", "returned",
        "--approval", "渝中财〔2026〕9号", "--date", "2026-10-15",
    )  # fmt: skip
    history = ledger.ok("history", "G1").stdout
    assert "1000" in history or "1,000.00" in history
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(tmp_path / "b"), role="auditor")
    code, out = _verify(tmp_path / "b")
    assert code == 0, out


def test_an_extension_is_imported_as_its_own_row(ledger: Ledger, tmp_path: Path) -> None:
    head = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo\n"
    approvals = tmp_path / "a.csv"
    approvals.write_text(
        head
        + "2024-04-01,U1,B0001,G1,district_base,approve,200000,,,,渝中人社〔2024〕1号,,\n"
        + "2026-03-01,,B0001,G1,,extend,,,,,渝中人社〔2026〕7号,,2026-09-30\n",
        encoding="utf-8",
    )
    ledger.import_ok(approvals)
    money = tmp_path / "m.csv"
    money.write_text(
        head
        + "2024-04-15,,B0001,G1,,disburse,100000,subsidy,,,T1,,\n"
        + "2026-06-01,,B0001,G1,,spend,1000,subsidy,equipment,,S1,,\n",
        encoding="utf-8",
    )
    ledger.import_ok(money)
    late = tmp_path / "late.csv"
    late.write_text(head + "2026-10-01,,B0001,G1,,spend,1000,subsidy,equipment,,S2,,\n", encoding="utf-8")
    refused = ledger.import_runs(late)[-1]
    assert refused.exit_code == 3 and "build period" in refused.stderr
    # and the approval row's own period is the programme's
    long = tmp_path / "long.csv"
    long.write_text(
        head
        + "2024-04-01,U2,B0002,G2,district_base,approve,200000,,,,渝中人社〔2024〕2号,,"
        + "2024-04-01..2030-12-31\n",
        encoding="utf-8",
    )
    assert ledger.import_runs(long)[-1].exit_code == 3
