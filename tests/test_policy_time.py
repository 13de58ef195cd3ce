"""Issue 16, time and citations: working days by the statutory calendar (item 1), exact
thresholds shown 四舍五入 (item 3), the build period fixed at approval (item 4), citations and
effective dates (item 18) — each through the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from commands.cli import cli
from tests.conftest import CITY_BODIES, DISTRICT_BODIES, Ledger, approved_district_grant


def _verify(bundle: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["--lang", "en", "--role", "auditor", "audit", "verify", "--unanchored", str(bundle)]
    )
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
               *DISTRICT_BODIES, "--date", "2024-04-01")  # fmt: skip
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


# ----------------------------------------------------------------------------- item 18


def _apply(ledger: Ledger, grant: str, unit: str, programme: str, on: str, *projects: str) -> Result:
    args = ["grant", "apply", grant, "--unit", unit, "--base", f"B-{grant}", "--programme", programme]
    for p in projects:
        args += ["--project", p]
    amount = "20万" if programme == "district_base" else "150万"  # a district base asks its 20万
    return ledger(*args, "--amount", amount, "--date", on)


def test_build_periods_cite_their_own_clauses(ledger: Ledger) -> None:
    """003 第三条 for a district base, 002 六 (not 四) for a municipal one."""
    ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    assert _apply(ledger, "M1", "U1", "municipal_base_funded", "2024-03-01", "a", "b").exit_code == 0
    ledger.ok("grant", "review", "M1", "--panel", "5", "--recommendation", "recommend", "--date",
              "2024-08-01", role="approver")  # fmt: skip
    ledger.ok("grant", "notice", "M1", "--from", "2024-08-05", "--to", "2024-08-09", role="approver")
    ledger.ok("grant", "recommend", "M1", "--by", "JW-CQ", "--round", "2024", "--rank", "1", "--date",
              "2024-07-20", role="approver")  # fmt: skip
    result = ledger(
        "grant", "approve", "M1", "--amount", "50万", "--document", "渝人社〔2024〕1号", *CITY_BODIES,
        "--end", "2030-12-31", "--date", "2024-09-02", role="approver",
    )  # fmt: skip
    assert result.exit_code == 3 and "002 六" in result.stderr, result.stderr
    assert "002 四" not in result.stderr
    shown = ledger.ok("policy", "show", "--date", "2024-09-02").stdout
    assert "notice_build_period: 002 六" in shown


def test_the_expert_review_is_quoted_whole(ledger: Ledger) -> None:
    shown = ledger.ok("policy", "show", "--date", "2024-09-02").stdout
    whole = (
        "区级高技能人才培训基地由区人力社保局组织专家综合评审，并在重庆市渝中区人民政府网站公示评审结果，"
        "公示无异议后区人力社保局、区财政局审批"
    )
    assert f"expert_review: 003 第七条(二) 渝中人社〔2023〕25号 — “{whole}”" in shown


def test_one_municipal_base_per_unit_cites_the_notice(ledger: Ledger) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    assert _apply(ledger, "M1", "U1", "municipal_base_funded", "2024-03-01", "a", "b").exit_code == 0
    before = ledger.event_count()
    second = _apply(ledger, "M2", "U1", "municipal_base_funded", "2024-03-02", "a", "b")
    assert second.exit_code == 3 and "002 五(二)" in second.stderr, second.stderr
    assert "003" not in second.stderr and ledger.event_count() == before


def test_each_document_takes_applications_from_its_own_date(ledger: Ledger, tmp_path: Path) -> None:
    """003 from 2023-03-15, 000 from 2023-06-21; 002 only in its 2024 round (due 2024-07-17)."""
    for unit in ("U1", "U2", "U3", "U4", "U5"):
        ledger.ok("unit", "register", unit, "--name", f"单位{unit}", "--date", "2023-03-15")
    before = ledger.event_count()
    early = ledger("unit", "register", "U0", "--name", "单位", "--date", "2023-03-14")
    assert early.exit_code == 2 and "2023-03-15" in early.stderr
    institute = _apply(ledger, "I1", "U1", "training_institute", "2023-06-20", "焊工", "电工")
    assert institute.exit_code == 3, institute.stderr
    assert "000" in institute.stderr and "2023-06-21" in institute.stderr and "003" not in institute.stderr
    late = _apply(ledger, "M1", "U2", "municipal_base_funded", "2024-07-18", "a", "b")
    assert late.exit_code == 3 and "002 七(二)" in late.stderr and "2024-07-17" in late.stderr, late.stderr
    before_round = _apply(ledger, "M2", "U3", "national_base", "2023-12-29", "a", "b", "c", "d", "e")
    assert before_round.exit_code == 3 and "2024" in before_round.stderr, before_round.stderr
    assert ledger.event_count() == before
    assert _apply(ledger, "D1", "U4", "district_base", "2023-03-15", "电工").exit_code == 0
    assert _apply(ledger, "I2", "U1", "training_institute", "2023-06-21", "焊工", "电工").exit_code == 0
    assert _apply(ledger, "M3", "U2", "municipal_base_funded", "2024-07-17", "a", "b").exit_code == 0
    # a municipal base approved elsewhere comes in after the round closed: its approval is later
    head = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo\n"
    after = tmp_path / "after.csv"
    after.write_text(
        head + "2024-09-10,U5,BM9,M9,municipal_base_funded,approve,50万,,,,渝人社〔2024〕9号,,\n"
    )
    ledger.import_ok(after)
    earlier = tmp_path / "earlier.csv"
    earlier.write_text(
        head + "2023-06-01,U6,BM8,M8,municipal_base_funded,approve,50万,,,,渝人社〔2023〕8号,,\n"
    )
    refused = ledger.import_runs(earlier)[-1]
    assert refused.exit_code == 3 and "2024" in refused.stderr, refused.stderr


# ----------------------------------------------------------------------------- item 1


def _applied(ledger: Ledger) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    ledger.ok(
        "grant", "apply", "G1", "--unit", "U1", "--base", "B0001", "--programme", "district_base",
        "--project", "电工", "--amount", "20万", "--date", "2024-01-10",
    )  # fmt: skip
    ledger.ok("grant", "review", "G1", "--panel", "5", "--recommendation", "recommend", "--date",
              "2024-01-20", role="approver")  # fmt: skip


def _notice(ledger: Ledger, start: str, end: str, *more: str) -> Result:
    return ledger("grant", "notice", "G1", "--from", start, "--to", end, *more, role="approver")


def test_a_notice_counts_working_days_by_the_statutory_calendar(ledger: Ledger) -> None:
    """002 五(二): 不少于5个工作日. Monday to Friday alone counted the National Day week as working."""
    _applied(ledger)
    before = ledger.event_count()
    # 2024-09-30 (Mon) .. 2024-10-08 (Tue): 7 weekdays, but 10-01..10-07 is the National Day holiday
    holiday = _notice(ledger, "2024-09-30", "2024-10-08")
    assert holiday.exit_code == 3, holiday.stderr
    assert "002 五(二)" in holiday.stderr and "lasts 2 working day(s)" in holiday.stderr
    assert ledger.event_count() == before
    # 2024-02-04 is a Sunday worked (调休): Sunday..Thursday is 5 working days
    _notice(ledger, "2024-02-04", "2024-02-08")
    assert ledger.event_count() == before + 2, "the notice was not recorded"


def test_a_notice_in_a_year_the_calendar_lacks_is_refused_until_installed(
    ledger: Ledger, tmp_path: Path
) -> None:
    _applied(ledger)
    before = ledger.event_count()
    missing = _notice(ledger, "2030-01-07", "2030-01-11", "--date", "2026-11-30")
    assert missing.exit_code == 3, missing.stderr
    assert "2030" in missing.stderr and "grant-ledger policy install" in missing.stderr
    assert ledger.event_count() == before
    # an administrator installs 2030 (here: one weekday off, 2030-01-08, and Saturday 01-12 worked)
    year = tmp_path / "2030.toml"
    year.write_text(
        '[calendar."2030"]\nsource = "test"\ndays_off = [2030-01-01, 2030-01-08]\nworkdays = [2030-01-12]\n',
        encoding="utf-8",
    )
    by_officer = ledger("policy", "install", str(year), role="officer")
    assert by_officer.exit_code == 3 and ledger.event_count() == before, by_officer.stderr
    installed = ledger("policy", "install", str(year), role="admin")
    assert installed.exit_code == 0, installed.stderr
    assert "2030" in installed.stdout
    assert ledger.event_count() == before + 3  # the ledger's policy book opened, the file, their seal
    assert ledger("policy", "install", str(year), role="admin").exit_code == 0  # a repeat writes nothing
    assert ledger.event_count() == before + 3
    # now judged by the installed days: 01-07..01-11 has 4 working days; with Saturday 01-12, 5
    assert (
        "statutory calendar (holidays and 调休): 2023, 2024, 2025, 2026, 2030"
        in ledger.ok("policy", "show").stdout
    )
    short = _notice(ledger, "2030-01-07", "2030-01-11", "--date", "2026-11-30")
    assert short.exit_code == 3 and "lasts 4 working day(s)" in short.stderr, short.stderr
    assert _notice(ledger, "2030-01-07", "2030-01-12", "--date", "2026-11-30").exit_code == 0
    # the audit bundle, with the installed file in its signed log, still verifies
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(tmp_path / "b"), role="auditor")
    code, out = _verify(tmp_path / "b")
    assert code == 0, out


def test_a_malformed_or_conflicting_policy_file_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    before = ledger.event_count()
    cases = {
        "broken.toml": ("[calendar.\n", 2),
        "empty.toml": ("", 2),
        "other.toml": ('title = "x"\n', 2),
        "stray.toml": ('[calendar."2031"]\ndays_off = [2030-05-01]\nworkdays = []\n', 2),
        "weekend.toml": ('[calendar."2031"]\ndays_off = [2031-01-04]\nworkdays = []\n', 2),  # a Saturday
        # 2024 is in the ledger already, with 2024-10-01 off: a file that says otherwise changes verdicts
        "clash.toml": ('[calendar."2024"]\ndays_off = [2024-01-01]\nworkdays = []\n', 3),
        "halfversion.toml": ('version = "2031.1"\neffective_from = 2031-01-01\n', 2),
    }
    for name, (text, code) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = ledger("policy", "install", str(path), role="admin")
        assert result.exit_code == code, (name, result.stdout, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    # a file that is not there is bad input (exit 2), as it is for `import`, naming the file
    missing = ledger("policy", "install", str(tmp_path / "nothing.toml"), role="admin")
    assert missing.exit_code == 2 and "nothing.toml" in missing.stderr, missing.stderr
    assert missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
    assert ledger.event_count() == before


def test_policy_calendar_prints_a_year_from_the_library_that_installs_as_shipped(
    ledger: Ledger, tmp_path: Path
) -> None:
    """The helper's table for 2024 is the year the policy data ships: installing it changes nothing."""
    printed = ledger.ok("policy", "calendar", "2024").stdout
    assert printed.startswith('[calendar."2024"]') and "2024-10-07" in printed and "2024-02-04" in printed
    path = tmp_path / "2024.toml"
    path.write_text(printed, encoding="utf-8")
    assert ledger("policy", "install", str(path), role="admin").exit_code == 0


def test_a_new_policy_version_installed_in_a_running_ledger_judges_from_its_date(
    ledger: Ledger, tmp_path: Path
) -> None:
    """A version taking effect today that allows travel: the ledger, its reports and the audit
    bundle use it from that date; the bundle ships its text and verifies by the logged event."""
    from datetime import timedelta
    from importlib import resources

    from ledger.rules import business_today

    today = business_today()
    yesterday = (today - timedelta(days=1)).isoformat()

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "T1", "--date", "2024-04-15")
    ledger.ok("grant", "extend", "G1", "--end", "2099-12-31", "--document", "渝中人社〔2026〕7号",
              "--date", "2026-03-01", role="approver")  # fmt: skip
    shipped = (resources.files("ledger") / "policy" / "v1-2023.toml").read_text("utf-8")
    text = shipped.replace('version = "2023.1"', 'version = "2026.1"').replace(
        "effective_from = 2023-03-15\n", f"effective_from = {today.isoformat()}\n", 1
    )
    text = text.replace('[categories.travel]\nzh = "差旅费"\nen = "travel"\nallowed = false',
                        '[categories.travel]\nzh = "差旅费"\nen = "travel"\nallowed = true')  # fmt: skip
    # and the district base's own list (003 第九条) takes travel off its banned list onto its allowed one
    district = "[spending.district_base]\nallowed = ["
    text = text.replace(district, district + '"travel", ', 1)
    banned = 'banned = ["travel", "labour", "unrelated"]\nbanned_clause = "banned_uses"'
    text = text.replace(banned, banned.replace('"travel", ', ""), 1)
    assert text.count("2026.1") == 1 and "allowed = true" in text.split("[categories.travel]")[1][:80]
    version = tmp_path / "v2-2026.toml"
    version.write_text(text, encoding="utf-8")

    def travel(voucher: str, on: str) -> Result:
        return ledger("spend", "G1", "--amount", "500", "--category", "travel", "--source", "subsidy",
                      "--voucher", voucher, "--date", on)  # fmt: skip

    assert travel("X1", "2026-01-10").exit_code == 3
    # the same version twice, or one that would take effect before the latest, is refused
    ledger.ok("policy", "install", str(version), role="admin")
    again = tmp_path / "v2-copy.toml"
    again.write_text(text + "\n# a copy\n", encoding="utf-8")
    dup = ledger("policy", "install", str(again), role="admin")
    assert dup.exit_code == 3 and "2026.1" in dup.stderr, dup.stderr
    earlier = tmp_path / "v3.toml"
    retroactive = text.replace('version = "2026.1"', 'version = "2026.2"')
    retroactive = retroactive.replace(
        f"effective_from = {today.isoformat()}", f"effective_from = {yesterday}", 1
    )
    earlier.write_text(retroactive, encoding="utf-8")
    retro = ledger("policy", "install", str(earlier), role="admin")
    assert retro.exit_code == 3 and "before today" in retro.stderr, retro.stderr
    assert travel("X2", yesterday).exit_code == 3  # the old version, before the date
    allowed = travel("X3", today.isoformat())  # the new one, from its date
    assert allowed.exit_code == 0, allowed.stderr
    shown = ledger.ok("policy", "show", "--date", today.isoformat()).stdout
    assert "2026.1" in shown
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(tmp_path / "b"), role="auditor")
    assert (tmp_path / "b" / "policy" / "v2-2026.toml").read_text("utf-8") == text
    code, out = _verify(tmp_path / "b")
    assert code == 0, out
    # a policy file the log does not hold is still refused by the verifier
    forged = tmp_path / "b" / "policy" / "v2-2026.toml"
    forged.write_text(text.replace("allowed = false", "allowed = true"), encoding="utf-8")
    from audit.bundle import write_manifest

    write_manifest(tmp_path / "b")
    code, out = _verify(tmp_path / "b")
    assert code == 6 and "policy" in out, out


def test_a_report_reads_installed_files_only_where_a_ledger_holds_some(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """Every report asks whether the ledger holds installed policy files before it reads. Where it
    holds none, asking loads neither the policy book nor its action and their libraries (about a
    tenth of a second of each report); where it holds one, the report opens the ledger's write
    side and reads the files (``ledger.policy_installed``; the book's aggregate and action are
    loaded by ``policy install`` alone)."""
    from tests.loaded import loaded_by

    heavy = ["pydantic", "ledger.policy_book", "ledger.grant"]
    report = ["--db", sqlite_ledger.url, "--lang", "en", "report", "categories", "--format", "json"]
    bare = loaded_by(report, heavy)
    assert bare.code == 0, bare
    assert bare.modules == dict.fromkeys(heavy, False)
    year = tmp_path / "2030.toml"
    year.write_text(
        '[calendar."2030"]\nsource = "test"\ndays_off = [2030-01-01]\nworkdays = []\n', encoding="utf-8"
    )
    sqlite_ledger.ok("policy", "install", str(year), role="admin")
    holding = loaded_by(report, heavy)
    assert holding.code == 0, holding
    assert holding.modules["ledger.grant"]
    assert json.loads(holding.stdout) == json.loads(bare.stdout)
