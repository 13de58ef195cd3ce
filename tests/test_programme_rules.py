"""Each programme judged by its own documents (issue 16 items 5–10 and 14), through the command
line: spending lists per programme, who may hold an institute, district eligibility by date,
named-support bases without money, project counts at application, application conditions apart
from output targets, and the budget plan within the approved subsidy."""

from __future__ import annotations

import json
from pathlib import Path

from openpyxl import load_workbook

from tests.conftest import CITY_BODIES, Ledger, approved_district_grant, reviewed_by_its_authority, selected
from tests.test_core_rules import refused

SPEND = ["--source", "subsidy", "--date", "2024-05-10"]


def apply_args(grant: str, unit: str, base: str, programme: str, *projects: str) -> list[str]:
    args = ["grant", "apply", grant, "--unit", unit, "--base", base, "--programme", programme]
    for p in projects:
        args += ["--project", p]
    return args


def register(ledger: Ledger, unit: str, kind: str = "technician_college", *extra: str) -> None:
    ledger.ok(
        "unit", "register", unit, "--name", f"单位{unit}", "--kind", kind, *extra, "--date", "2024-01-02"
    )


def approved_institute(
    ledger: Ledger, grant: str = "G1", unit: str = "U1", kind: str = "technician_college"
) -> None:
    """An institute of 150万 for 3 projects, applied 2024-03-01, approved 2024-04-01, all paid."""
    register(ledger, unit, kind)
    ledger.ok(
        *apply_args(grant, unit, f"B-{grant}", "training_institute", "焊工", "数控车工", "电工"),
        "--amount", "150万", "--date", "2024-03-01",
    )  # fmt: skip
    reviewed_by_its_authority(ledger, grant)
    selected(ledger, grant)
    ledger.ok(
        "grant", "approve", grant, "--amount", "150万", "--document", "渝人社〔2024〕96号", "--body", "RS-CQ",
        "--end", "2026-03-31", "--date", "2024-04-01", role="approver",
    )  # fmt: skip
    ledger.ok("disburse", grant, "--amount", "150万", "--voucher", "T1", "--date", "2024-04-10")


def findings(ledger: Ledger, day: str = "2026-06-30") -> list[dict[str, str]]:
    result = ledger.ok("report", "findings", "--as-of", day, "--format", "json")
    return json.loads(result.stdout)


# ----------------------------------------------------------------------------- item 5


def test_an_institute_spends_on_000s_own_list_and_a_district_base_on_003s(ledger: Ledger) -> None:
    approved_institute(ledger)
    spend = ["spend", "G1", "--amount", "1万", *SPEND]
    # 000 第十三条's words, typed in Chinese, and the equipment line as 000 writes it
    for n, label in enumerate(
        [
            "师资培养",
            "课程与教材开发",
            "落实职业训练院功能定位等相关工作",
            "实训设备购置改造与维护",
            "research",
        ]
    ):
        ledger.ok(*spend, "--category", label, "--voucher", f"OK{n}")
    # the district's own uses are not an institute's, and the refusal cites 000, not 003
    for n, code in enumerate(
        ["instructor_hire", "infrastructure", "other_training", "师资培训", "curriculum"]
    ):
        message = refused(ledger, *spend, "--category", code, "--voucher", f"NO{n}", clause="000 第十三条")
        assert "003" not in message and "teacher_development" in message
    message = refused(ledger, *spend, "--category", "差旅费", "--voucher", "NO9", clause="000 第十三条")
    assert "banned" in message and "003" not in message
    refused(ledger, *spend, "--category", "茶叶", "--voucher", "NO10", clause="000 第十三条")

    approved_district_grant(ledger, "G2", "B2", "U2")
    ledger.ok("disburse", "G2", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    district = ["spend", "G2", "--amount", "1万", *SPEND]
    ledger.ok(*district, "--category", "指导教师聘用", "--voucher", "D1")
    ledger.ok(*district, "--category", "teacher_training", "--voucher", "D2")
    message = refused(ledger, *district, "--category", "师资培养", "--voucher", "D3", clause="003 第九条")
    assert "000" not in message
    refused(ledger, *district, "--category", "travel", "--voucher", "D4", clause="003 第九条")
    rows = json.loads(ledger.ok("report", "categories", "--format", "json").stdout)
    assert {r["category"] for r in rows if r.get("grant_id", "G1") == "G1"} >= {"teacher_development"}


def test_the_demo_spends_the_institutes_money_on_its_own_list(demo_sqlite_ledger: Ledger) -> None:
    out = demo_sqlite_ledger.demo_output
    refusal = next(x for x in out.splitlines() if "'instructor_hire' is not a permitted use" in x)
    assert "refused (exit 3)" in refusal and refusal.endswith("方面的支出”")
    assert "permitted category, 000 第十三条" in refusal and "003" not in refusal
    labour = next(x for x in out.splitlines() if "'labour'" in x)
    assert "000 第十三条" in labour and "003" not in labour
    spending = demo_sqlite_ledger.ok("report", "categories", "B0002", "--format", "json").stdout
    used = {r["category"] for r in json.loads(spending)}
    assert (
        used & {"instructor_hire", "infrastructure", "other_training", "teacher_training", "curriculum"}
        == set()
    )
    assert {"teacher_development", "curriculum_development", "institute_function"} <= used


# ----------------------------------------------------------------------------- item 6


def test_no_institute_beside_a_national_one_and_one_per_unit(ledger: Ledger) -> None:
    register(ledger, "U1", "technician_college", "--national-institute")
    args = apply_args("G1", "U1", "B1", "training_institute", "焊工", "电工")
    message = refused(ledger, *args, "--amount", "150万", "--date", "2024-03-01", clause="000 第十二条")
    assert "national" in message
    register(ledger, "U2")
    ledger.ok(*apply_args("G2", "U2", "B2", "training_institute", "焊工", "电工"), "--amount", "150万")
    refused(
        ledger, *apply_args("G3", "U2", "B3", "training_institute", "焊工", "电工"), "--amount", "150万",
        clause="000 第十二条",
    )  # fmt: skip
    # registering the unit again without the flag is a different unit: a conflict, not a way round
    refused(ledger, "unit", "register", "U1", "--name", "单位U1", "--kind", "technician_college",
            "--date", "2024-01-02", code=5)  # fmt: skip


def test_an_institute_of_another_kind_of_unit_is_a_finding_not_a_refusal(
    ledger: Ledger, tmp_path: Path
) -> None:
    approved_institute(ledger, "G1", "U1", kind="enterprise")
    approved_institute(ledger, "G2", "U2", kind="senior_technical_school")
    found = [f for f in findings(ledger) if f["rule"] == "host unit"]
    assert [(f["grant_id"], f["clause"], f["date"]) for f in found] == [("G1", "000 第三条", "2024-03-01")]
    assert "enterprise" in found[0]["message"]
    assert_bundle_agrees(ledger, tmp_path)


# ----------------------------------------------------------------------------- item 7


def recommend(ledger: Ledger, grant: str) -> None:
    """A municipal or national base is approved on a recommendation (002 五(一)), ranked in turn."""
    ranks = getattr(ledger, "ranks", 0) + 1
    ledger.ranks = ranks  # type: ignore[attr-defined]
    ledger.ok("grant", "recommend", grant, "--by", "JW-CQ", "--round", "2024", "--rank", str(ranks),
              "--date", "2024-03-05", role="approver")  # fmt: skip


def approve_municipal(ledger: Ledger, grant: str, unit: str) -> None:
    ledger.ok(
        *apply_args(grant, unit, f"M-{grant}", "municipal_base_funded", "a", "b"),
        "--amount", "50万", "--date", "2024-02-01",
    )  # fmt: skip
    selected(ledger, grant)
    recommend(ledger, grant)
    ledger.ok("grant", "approve", grant, "--amount", "50万", "--document", "D", *CITY_BODIES,
              "--date", "2024-04-01", role="approver")  # fmt: skip


def test_district_eligibility_counts_bases_approved_by_the_applications_date(ledger: Ledger) -> None:
    district = ["--project", "电工", "--amount", "20万"]
    for unit in ("U1", "U2", "U3"):
        register(ledger, unit, "enterprise")
    # a pending municipal application blocks nothing, whichever date is typed first
    ledger.ok(*apply_args("M1", "U1", "BM1", "municipal_base_funded", "a", "b"), "--amount", "50万",
              "--date", "2024-07-11")  # fmt: skip
    ledger.ok(*apply_args("D1", "U1", "BD1", "district_base"), *district, "--date", "2023-04-10")
    # approved on 2024-04-01: a district application dated before that stands, one after is refused
    approve_municipal(ledger, "M2", "U2")
    ledger.ok(*apply_args("D2", "U2", "BD2", "district_base"), *district, "--date", "2024-03-29")
    approve_municipal(ledger, "M3", "U3")
    message = refused(
        ledger, *apply_args("D3", "U3", "BD3", "district_base"), *district, "--date", "2024-04-01",
        clause="003 第八条",
    )  # fmt: skip
    assert "M-M3" in message and "approved" in message


# ----------------------------------------------------------------------------- item 8


def test_a_named_support_base_is_approved_with_no_money_and_paid_nothing(
    ledger: Ledger, tmp_path: Path
) -> None:
    register(ledger, "U1", "enterprise")
    args = apply_args("G1", "U1", "B1", "municipal_base_named", "a", "b")
    refused(ledger, *args, "--amount", "10万", "--date", "2024-03-01", clause="002 二(二)2")
    ledger.ok(*args, "--date", "2024-03-01")
    selected(ledger, "G1")
    recommend(ledger, "G1")
    approve = ["grant", "approve", "G1", "--document", "渝高技办〔2024〕20号", "--body", "RS-CQ",
               "--date", "2024-04-01"]  # fmt: skip
    refused(ledger, *approve, "--amount", "1", role="approver", clause="002 二(二)2")
    refused(ledger, *approve, "--amount", "0", role="approver", code=2)
    ledger.ok(*approve, role="approver")
    assert ledger.balances()["B1"]["status"] == "approved"
    assert ledger.balances()["B1"]["subsidy_approved"] == "0.00"
    message = refused(ledger, "disburse", "G1", "--amount", "0.01", "--voucher", "T1", "--date", "2024-04-10",
                      clause="002 二(二)2")  # fmt: skip
    assert "no money" in message
    # a programme that pays names its amount
    approved_district = apply_args("G2", "U2", "B2", "district_base", "电工")
    register(ledger, "U2")
    ledger.ok(*approved_district, "--amount", "20万", "--date", "2024-03-01")
    selected(ledger, "G2")
    refused(
        ledger, "grant", "approve", "G2", "--document", "D", "--date", "2024-04-01", role="approver", code=2
    )
    # an import brings one approved elsewhere with amount 0; a paying programme's 0 is refused
    header = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"
    good = tmp_path / "named.csv"
    good.write_text(
        f"{header}\n2024-05-01,U9,B9,G9,municipal_base_named,approve,0,,,,渝高技办〔2024〕21号,,\n"
    )
    ledger.import_ok(good)
    assert ledger.balances()["B9"]["subsidy_approved"] == "0.00"
    bad = tmp_path / "district.csv"
    bad.write_text(f"{header}\n2024-05-01,U8,B8,G8,district_base,approve,0,,,,渝中人社〔2024〕9号,,\n")
    assert ledger.import_runs(bad)[-1].exit_code == 3


# ----------------------------------------------------------------------------- item 9


def test_project_counts_and_the_institutes_amount_are_judged_at_application(ledger: Ledger) -> None:
    register(ledger, "U1", "enterprise")
    five = ["a", "b", "c", "d", "e"]
    cases = [
        ("national_base", five[:4], "100万", "002 四(一)1(4)", "this one names 4"),
        ("municipal_base_funded", ["a"], "50万", "002 四(一)2(2)", "this one names 1"),
        ("municipal_base_funded", five[:4], "50万", "002 四(一)2(2)", "this one names 4"),
        ("training_institute", ["焊工", "焊工 "], "150万", "000 第十三条", "this one names 1"),  # named twice
        ("training_institute", ["a", "b"], "250万", "000 第十三条", "requested subsidy of 2,500,000.00"),
        ("training_institute", ["a", "b"], "99万", "000 第十三条", "requested subsidy of 990,000.00"),
    ]
    for programme, projects, amount, clause, words in cases:
        message = refused(
            ledger, *apply_args("G1", "U1", "B1", programme, *projects), "--amount", amount,
            "--date", "2024-03-01", clause=clause,
        )  # fmt: skip
        assert words in message
    ledger.ok(
        *apply_args("G1", "U1", "B1", "national_base", *five), "--amount", "100万", "--date", "2024-03-01"
    )


# ----------------------------------------------------------------------------- item 10


def test_application_conditions_are_findings_on_the_application(ledger: Ledger, tmp_path: Path) -> None:
    register(ledger, "U1", "enterprise")
    declared = ["--trained", "850", "--advanced", "166", "--capacity", "299", "--students", "230",
                "--teachers", "10", "--instructors", "20", "--senior-instructors", "7"]  # fmt: skip
    ledger.ok(*apply_args("G1", "U1", "B1", "district_base", "电工"), "--amount", "20万", *declared,
              "--date", "2024-03-01")  # fmt: skip
    found = [(f["rule"], f["clause"], f["date"]) for f in findings(ledger, "2024-03-02")]
    assert found == [
        ("application condition", "003 第六条(二)", "2024-03-01"),  # 166/850 = 19.53%, not rounded to 20%
        ("application condition", "003 第六条(二)", "2024-03-01"),  # capacity 299 < 300
        ("application condition", "003 第六条(三)", "2024-03-01"),  # 23 students a teacher > 22
    ]  # 7 of 20 senior instructors is exactly 35%: no finding
    messages = [f["message"] for f in findings(ledger, "2024-03-02")]
    # the exact share, 19.53%, shown as a percentage: "0.20" read as if it met 0.20
    assert "advanced 166 per trained 850 (19.53%)" in messages[0] and "at least 20.00%" in messages[0]
    assert "capacity 299" in messages[1] and "between 20 and 22" in messages[2]
    # a municipal application's conditions are 002's
    register(ledger, "U2", "enterprise")
    ledger.ok(*apply_args("G2", "U2", "B2", "municipal_base_funded", "a", "b"), "--amount", "50万",
              "--trained", "1499", "--date", "2024-03-01")  # fmt: skip
    assert [(f["grant_id"], f["clause"]) for f in findings(ledger) if f["grant_id"] == "G2"] == [
        ("G2", "002 四(一)2(2)")
    ]
    refused(ledger, *apply_args("G3", "U3", "B3", "district_base", "a"), "--amount", "20万",
            "--trained", "-1", code=2)  # fmt: skip
    refused(ledger, *apply_args("G3", "U3", "B3", "district_base", "a"), "--amount", "20万",
            "--trained", "100", "--advanced", "101", code=2)  # fmt: skip
    # the same application typed again with other figures is not the same application
    refused(ledger, *apply_args("G1", "U1", "B1", "district_base", "电工"), "--amount", "20万",
            "--trained", "900", "--date", "2024-03-01", code=5)  # fmt: skip
    # students and no teacher at all: above any students-per-teacher bound
    register(ledger, "U4", "enterprise")
    ledger.ok(*apply_args("G4", "U4", "B4", "district_base", "电工"), "--amount", "20万",
              "--students", "300", "--teachers", "0", "--date", "2024-03-01")  # fmt: skip
    assert [f["message"] for f in findings(ledger) if f["grant_id"] == "G4"] == [
        "grant G4 declared students 300 per teachers 0 at application; the programme asks between 20 and 22"
    ]
    # three professions for a district base (003 第六条: 原则上 1–2; its form says 2–3): recorded,
    # and a finding; a national base's four stay refused (002 四(一)1(4) asks at least 5)
    register(ledger, "U5", "enterprise")
    ledger.ok(*apply_args("G5", "U5", "B5", "district_base", "a", "b", "c "), "--amount", "20万",
              "--date", "2024-03-01")  # fmt: skip
    g5 = [
        (f["rule"], f["clause"], f["date"], f["message"]) for f in findings(ledger) if f["grant_id"] == "G5"
    ]
    assert g5 == [
        (
            "projects count",
            "003 第六条(二)",
            "2024-03-01",
            "a district_base (区级高技能人才培训基地) application names 1–2 professions or projects "
            "(--project); this one names 3",
        )
    ]
    refused(ledger, *apply_args("G6", "U5", "B6", "national_base", "a", "b", "c", "d"), "--amount", "100万",
            "--date", "2024-03-01", clause="002 四(一)1(4)")  # fmt: skip
    assert_bundle_agrees(ledger, tmp_path)


def test_output_targets_are_the_yearly_outputs_with_their_clauses(ledger: Ledger, tmp_path: Path) -> None:
    approved_district_grant(ledger)  # built from 2024-04-01
    report = ["output", "report", "G1"]  # each year's report dated in its year
    ledger.ok(
        *report, "--year", "2024", "--trainees", "700", "--advanced", "100", "--date", "2024-06-30"
    )  # a condition, not a target
    # 第十一条 from year two
    ledger.ok(*report, "--year", "2025", "--trainees", "700", "--advanced", "499", "--date", "2025-06-30")
    ledger.ok(*report, "--year", "2026", "--trainees", "700", "--advanced", "499", "--date", "2026-06-30")
    register(ledger, "U5", "enterprise")
    ledger.ok(*apply_args("N1", "U5", "BN", "national_base", "a", "b", "c", "d", "e"), "--amount", "100万",
              "--date", "2024-03-01")  # fmt: skip
    selected(ledger, "N1")
    recommend(ledger, "N1")
    ledger.ok("grant", "approve", "N1", "--amount", "100万", "--document", "D", *CITY_BODIES,
              "--date", "2024-04-01", role="approver")  # fmt: skip
    national = ["output", "report", "N1", "--trainees", "2999", "--advanced", "999"]
    # 002 四(一)1(5): two years after the start, not from year one
    ledger.ok(*national, "--year", "2024", "--date", "2024-06-30")
    ledger.ok(*national, "--year", "2026", "--date", "2026-06-30")
    found = [
        (f["grant_id"], f["rule"], f["clause"], f["message"])
        for f in findings(ledger)
        if f["rule"] == "output target"
    ]
    assert [(row[0], row[3]) for row in found] == [
        ("G1", "grant G1 reported advanced 499 for 2026, below the target 500"),
        ("N1", "grant N1 reported trainees 2999 for 2026, below the target 3000"),
        ("N1", "grant N1 reported advanced 999 for 2026, below the target 1000"),
    ]
    assert [row[2] for row in found] == ["003 第十一条(二)", "002 四(一)1(5)", "002 四(一)1(5)"]
    assert_bundle_agrees(ledger, tmp_path)


def assert_bundle_agrees(ledger: Ledger, tmp_path: Path) -> None:
    """The audit bundle's findings sheet words the findings that follow from the events alone as
    `report findings` does, and the auditor's verifier (no ledger code) computes the same."""
    from click.testing import CliRunner

    from commands.cli import cli

    ledger.ok("audit", "checkpoint", role="approver")
    bundle = tmp_path / "bundle"
    ledger.ok("audit", "export", str(bundle), role="auditor")
    book = load_workbook(bundle / "report.xlsx", read_only=True)
    from audit.verifier import layout

    rows = list(book["findings"].iter_rows(min_row=layout.HEADER_ROW + 1, values_only=True))
    book.close()
    sheet = rows[:-1]  # the 合计 row (a count of findings) closes the sheet
    assert rows and rows[-1][:2] == ("合计", f"{len(rows) - 1} 条"), rows[-1]
    assert sheet, "the findings sheet is empty"
    # the sheet is filed in Chinese, whoever exports it: `report findings` read in Chinese words it so
    from ledger.i18n import speaking
    from ledger.labels import label

    ledger.lang = "zh"
    try:
        found = findings(ledger)
    finally:
        ledger.lang = "en"
    with speaking("zh"):
        reported = {(f["grant_id"], label("rule", f["rule"]), f["clause"], f["message"]) for f in found}
    assert {(r[1], r[2], r[3], r[5]) for r in sheet} <= reported
    assert ledger.root is not None
    verify = ["audit", "verify", str(bundle), "--root", ledger.root]
    result = CliRunner().invoke(cli, ["--lang", "en", "--role", "auditor", *verify])
    assert result.exit_code == 0, (result.stdout, result.stderr)


# ----------------------------------------------------------------------------- item 14


def test_the_budget_plan_stays_within_the_approved_subsidy_and_names_contents(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    message = refused(
        ledger, "grant", "budget", "G1", "--line", "training_system:地方财政:15万",
        "--line", "cooperation:local_finance:5.01万", "--line", "training_system:行业企业:50万",
        "--date", "2024-04-11", clause="003 表3-1-1",
    )  # fmt: skip
    assert "200,100.00" in message and "200,000.00" in message
    ledger.ok(
        "grant", "budget", "G1", "--line", "training_system:地方财政:15万",
        "--line", "cooperation:地方财政:5万", "--line", "training_system:行业企业:50万",
        "--date", "2024-04-11",
    )  # fmt: skip
    refused(
        ledger, "grant", "adjust", "G1", "--line", "patterns:地方财政:1", "--approval", "批-1",
        "--date", "2024-04-12", role="approver", clause="003 表3-1-1",
    )  # fmt: skip
    message = refused(
        ledger, "spend", "G1", "--amount", "1000", "--category", "equipment", "--voucher", "S1",
        "--date", "2024-05-01", clause="003 第十条(一)",
    )  # fmt: skip
    assert "--content is required" in message
    ledger.ok("spend", "G1", "--amount", "1000", "--category", "equipment", "--voucher", "S1",
              "--content", "training_system", "--date", "2024-05-01")  # fmt: skip
    assert "required once the grant has a budget plan" in " ".join(
        ledger.ok("spend", "--help").stdout.split()
    )


def test_a_municipal_base_is_built_from_its_approval(ledger: Ledger) -> None:
    """002 六: a 2024 base "从批建文件印发之日起开始实施建设，筹建周期两年". A start of the
    approver's choosing was taken (2025-12-01 for an approval of 2024-04-01: ten months past the
    two years); now the period starts on the approval's date, given or not. A district base's
    (003 第三条: two years, no start said) may still start later."""
    register(ledger, "U1")
    ledger.ok(
        *apply_args("M1", "U1", "M-M1", "municipal_base_funded", "a", "b"),
        "--amount", "50万", "--date", "2024-02-01",
    )  # fmt: skip
    selected(ledger, "M1")
    recommend(ledger, "M1")
    approve = ["grant", "approve", "M1", "--amount", "50万", "--document", "D", *CITY_BODIES,
               "--date", "2024-04-01"]  # fmt: skip
    for start in ("2025-12-01", "2024-03-01"):
        message = refused(ledger, *approve, "--start", start, role="approver", clause="002 六")
        assert f"starts 2024-04-01, not {start}" in message
    ledger.ok(*approve, "--start", "2024-04-01", role="approver")
    history = ledger.ok("history", "M1").stdout
    assert "2024-04-01..2026-03-31" in history, history


def test_an_institutes_build_period_is_its_approvals_and_cites_000(ledger: Ledger) -> None:
    """000 sets an institute no build period: a spend after the end its approval set is refused
    citing that approval's clause (000 第十一条), not the district's two years (003 第三条)."""
    approved_institute(ledger)
    before = ledger.event_count()
    message = refused(
        ledger, "spend", "G1", "--amount", "1万", "--category", "equipment", "--voucher", "S9",
        "--date", "2026-04-01", clause="000 第十一条",
    )  # fmt: skip
    assert "2026-03-31" in message and "003 第三条" not in message
    assert ledger.event_count() == before
