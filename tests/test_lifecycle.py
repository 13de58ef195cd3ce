"""A grant's whole life through the command line, on SQLite and PostgreSQL: selection, budget,
oversight, end of life and the compliance findings (issue 3)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

from tests.bundle_book import bundle_balances
from tests.conftest import (
    DISTRICT_BODIES,
    Ledger,
    approved_district_grant,
    reviewed_by_its_authority,
    selected,
    spent_below,
)
from tests.signing import save_sealed
from tests.test_core_rules import refused


def apply(
    ledger: Ledger, grant: str, unit: str, base: str, programme: str, *projects: str, amount: str = "20万"
) -> None:
    args = ["grant", "apply", grant, "--unit", unit, "--base", base, "--programme", programme]
    for p in projects:
        args += ["--project", p]
    ledger.ok(*args, "--amount", amount, "--date", "2024-03-01")


def approve(
    ledger: Ledger,
    grant: str = "G1",
    amount: str = "20万",
    day: str = "2024-04-01",
    bodies: tuple[str, ...] = DISTRICT_BODIES,
) -> None:
    ledger.ok(
        "grant",
        "approve",
        grant,
        "--amount",
        amount,
        "--document",
        "D1",
        *bodies,
        "--date",
        day,
        role="approver",
    )


def test_selection_steps_in_order(ledger: Ledger) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位", "--date", "2024-02-01")
    base = ["grant", "apply", "G1", "--unit", "U1", "--base", "B1", "--programme", "district_base"]
    # no profession named: refused (three are a finding on the application: test_programme_rules)
    refused(ledger, *base, "--amount", "20万", "--date", "2024-03-01", clause="003 第六条(二)")
    apply(ledger, "G1", "U1", "B1", "district_base", "电工", "焊工")
    approve_args = [
        "grant",
        "approve",
        "G1",
        "--amount",
        "20万",
        "--document",
        "D",
        *DISTRICT_BODIES,
        "--date",
        "2024-04-01",
    ]
    message = refused(ledger, *approve_args, role="approver", clause="003 第七条(二)")
    assert "grant review" in message
    refused(ledger, "grant", "notice", "G1", "--from", "2024-03-11", "--to", "2024-03-15", role="approver")
    for panel in ("4", "6"):
        refused(
            ledger,
            "grant",
            "review",
            "G1",
            "--panel",
            panel,
            "--recommendation",
            "recommend",
            role="approver",
            clause="003 表5",
        )
    refused(ledger, "grant", "review", "G1", "--panel", "5", "--recommendation", "recommend", role="officer")
    ledger.ok(
        "grant",
        "review",
        "G1",
        "--panel",
        "5",
        "--recommendation",
        "recommend",
        "--date",
        "2024-03-08",
        role="approver",
    )
    message = refused(ledger, *approve_args, role="approver", clause="002 五(二)")
    assert "grant notice" in message
    # 2024-03-11 (Mon) to 2024-03-14 (Thu): 4 working days; over a weekend 03-13..03-19 = 5
    refused(
        ledger,
        "grant",
        "notice",
        "G1",
        "--from",
        "2024-03-11",
        "--to",
        "2024-03-14",
        role="approver",
        clause="002 五(二)",
    )
    ledger.ok("grant", "notice", "G1", "--from", "2024-03-13", "--to", "2024-03-19", role="approver")
    message = refused(
        ledger,
        "grant",
        "approve",
        "G1",
        "--amount",
        "20万",
        "--document",
        "D",
        *DISTRICT_BODIES,
        "--date",
        "2024-03-19",
        role="approver",
        clause="002 五(二)",
    )
    assert "runs until 2024-03-19" in message
    approve(ledger)
    refused(ledger, "grant", "review", "G1", "--panel", "7", "--recommendation", "recommend", role="approver")
    assert ledger.balances()["B1"]["status"] == "approved"


def test_objection_or_unfavourable_review_blocks_approval(ledger: Ledger) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位", "--date", "2024-02-01")
    apply(ledger, "G1", "U1", "B1", "district_base", "电工")
    ledger.ok(
        "grant",
        "review",
        "G1",
        "--panel",
        "5",
        "--recommendation",
        "reject",
        "--date",
        "2024-03-08",
        role="approver",
    )
    ledger.ok(
        "grant",
        "notice",
        "G1",
        "--from",
        "2024-03-11",
        "--to",
        "2024-03-15",
        "--objections",
        "1",
        role="approver",
    )
    message = refused(
        ledger,
        "grant",
        "approve",
        "G1",
        "--amount",
        "20万",
        "--document",
        "D",
        *DISTRICT_BODIES,
        "--date",
        "2024-04-01",
        role="approver",
    )
    assert "did not recommend" in message


def test_reject_releases_the_base(ledger: Ledger) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位", "--date", "2024-02-01")
    apply(ledger, "G1", "U1", "B1", "district_base", "电工")
    refused(
        ledger,
        "grant",
        "apply",
        "G2",
        "--unit",
        "U1",
        "--base",
        "B2",
        "--programme",
        "district_base",
        "--project",
        "电工",
        "--amount",
        "20万",
        "--date",
        "2024-03-02",
        clause="003 第八条",
    )
    ledger.ok("grant", "reject", "G1", "--reason", "评审未通过", "--date", "2024-03-20", role="approver")
    assert (
        "already"
        in ledger.ok("grant", "reject", "G1", "--reason", "x", "--date", "2024-03-20", role="approver").stdout
    )
    refused(ledger, "disburse", "G1", "--amount", "1万", "--voucher", "V", "--date", "2024-04-02")
    refused(
        ledger,
        "grant",
        "approve",
        "G1",
        "--amount",
        "20万",
        "--document",
        "D",
        *DISTRICT_BODIES,
        "--date",
        "2024-04-01",
        role="approver",
    )
    ledger.ok(
        "grant",
        "apply",
        "G2",
        "--unit",
        "U1",
        "--base",
        "B2",
        "--programme",
        "district_base",
        "--project",
        "电工",
        "--amount",
        "20万",
        "--date",
        "2024-04-02",
    )
    assert ledger.balances()["B1"]["status"] == "rejected"


def test_recommendation_quota(ledger: Ledger) -> None:
    for n in range(1, 5):
        ledger.ok("unit", "register", f"U{n}", "--name", f"单位{n}", "--date", "2024-02-01")
    for n in (1, 2, 3):
        apply(ledger, f"M{n}", f"U{n}", f"BM{n}", "municipal_base_funded", "a", "b", amount="50万")
    rec = ["--by", "RS-YZ", "--round", "2024", "--date", "2024-07-20"]
    refused(ledger, "grant", "recommend", "M1", *rec, role="approver", clause="002 五(一)")  # no rank
    ledger.ok("grant", "recommend", "M1", *rec, "--rank", "1", role="approver")
    refused(ledger, "grant", "recommend", "M2", *rec, "--rank", "1", role="approver", clause="002 五(一)")
    ledger.ok("grant", "recommend", "M2", *rec, "--rank", "2", role="approver")
    message = refused(
        ledger, "grant", "recommend", "M3", *rec, "--rank", "3", role="approver", clause="002 五(一)"
    )
    assert "at most 2" in message
    # another recommender, or another round, has its own quota
    ledger.ok("grant", "recommend", "M3", "--by", "JW-CQ", *rec[2:], "--rank", "1", role="approver")
    apply(ledger, "N1", "U4", "BN1", "national_base", "a", "b", "c", "d", "e", amount="100万")
    ledger.ok("grant", "recommend", "N1", *rec, role="approver")


def test_budget_lines_and_adjustment(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("match", "receive", "G1", "--amount", "20万", "--voucher", "M1", "--date", "2024-04-10")
    refused(ledger, "grant", "budget", "G1", "--line", "nonsense:地方财政:1万", code=2)
    ledger.ok(
        "grant",
        "budget",
        "G1",
        "--line",
        "training_system:地方财政:10万",
        "--line",
        "cooperation:地方财政:10万",
        "--line",
        "training_system:行业企业:15万",
        "--line",
        "patterns:其他:5万",
        "--date",
        "2024-04-11",
    )
    refused(
        ledger,
        "grant",
        "budget",
        "G1",
        "--line",
        "training_system:地方财政:20万",
        "--date",
        "2024-04-12",
        clause="003 第十条(一)",
    )
    spend = ["spend", "G1", "--category", "equipment", "--date", "2024-05-01"]
    ledger.ok(*spend, "--amount", "9万", "--content", "training_system", "--voucher", "S1")
    message = refused(
        ledger,
        *spend,
        "--amount",
        "1.5万",
        "--content",
        "training_system",
        "--voucher",
        "S2",
        clause="003 第十条(一)",
    )
    assert "105,000.00" in message and "100,000.00" in message
    refused(ledger, *spend, "--amount", "100", "--content", "", "--voucher", "S3", clause="003 第十条(一)")
    # matching: 行业企业 and 其他 both feed the matching sub-ledger
    ledger.ok(
        *spend, "--amount", "15万", "--source", "matching", "--content", "training_system", "--voucher", "S4"
    )
    refused(
        ledger,
        *spend,
        "--amount",
        "1",
        "--source",
        "matching",
        "--content",
        "training_system",
        "--voucher",
        "S5",
    )
    # adjust needs an approval reference
    assert (
        ledger("grant", "adjust", "G1", "--line", "training_system:地方财政:12万", role="approver").exit_code
        == 2
    )
    refused(
        ledger,
        "grant",
        "adjust",
        "G1",
        "--line",
        "training_system:地方财政:8万",
        "--approval",
        "批1",
        "--date",
        "2024-05-02",
        role="approver",
        clause="003 第十条(一)",
    )  # below what is spent
    refused(
        ledger,
        "grant",
        "adjust",
        "G1",
        "--line",
        "training_system:地方财政:12万",
        "--approval",
        "批1",
        "--date",
        "2024-05-02",
        role="officer",
    )
    ledger.ok(
        "grant",
        "adjust",
        "G1",
        "--line",
        "training_system:地方财政:12万",
        "--line",
        "cooperation:地方财政:8万",
        "--approval",
        "批1",
        "--date",
        "2024-05-02",
        role="approver",
    )
    # the raised line holds from the adjustment's date: the same spend dated the day before it
    # would stand above the line as it was then (100,000.00), and is refused
    message = refused(
        ledger, *spend, "--amount", "1.5万", "--content", "training_system", "--voucher", "S2",
        clause="003 第十条(一)",
    )  # fmt: skip
    assert "105,000.00 at the end of 2024-05-01" in message and "100,000.00" in message
    after = [*spend[:-1], "2024-05-02"]
    ledger.ok(*after, "--amount", "1.5万", "--content", "training_system", "--voucher", "S2")
    assert ledger.balances()["B0001"]["subsidy_spent"] == "105000.00"


def test_oversight_and_dossier(ledger: Ledger, tmp_path: Path) -> None:
    approved_district_grant(ledger)
    ledger.ok(
        "output",
        "report",
        "G1",
        "--year",
        "2024",
        "--trainees",
        "900",
        "--advanced",
        "200",
        "--date",
        "2025-01-05",
    )
    assert (
        ledger("output", "report", "G1", "--year", "2024", "--trainees", "9", "--advanced", "20").exit_code
        == 2
    )
    refused(ledger, "evaluate", "G1", "--kind", "mid_term", "--result", "pass", role="officer")
    assert ledger("evaluate", "G1", "--kind", "annual", "--result", "pass", role="approver").exit_code == 2
    ledger.ok(
        "evaluate", "G1", "--kind", "mid_term", "--result", "rectify", "--date", "2025-04-01", role="approver"
    )
    ledger.ok(
        "rectify",
        "order",
        "G1",
        "--ref",
        "R1",
        "--finding",
        "台账不全",
        "--deadline",
        "2025-06-30",
        "--date",
        "2025-04-01",
        role="approver",
    )
    assert ledger("rectify", "complete", "G1", "--ref", "R9").exit_code == 4
    ledger.ok("rectify", "complete", "G1", "--ref", "R1", "--date", "2025-05-01")
    doc = tmp_path / "总结.pdf"
    doc.write_bytes(b"%PDF summary")
    out = ledger.ok(
        "dossier",
        "add",
        "G1",
        "--kind",
        "summary",
        "--title",
        "2024年度工作总结",
        "--file",
        str(doc),
        "--date",
        "2025-01-05",
    )
    assert hashlib.sha256(b"%PDF summary").hexdigest()[:12] in out.stdout
    assert (
        ledger("dossier", "add", "G1", "--kind", "video", "--title", "t", "--file", str(doc)).exit_code == 2
    )
    assert (
        ledger("dossier", "add", "G1", "--kind", "image", "--title", "t", "--file", "/nonexistent").exit_code
        == 2
    )


def findings(ledger: Ledger, day: str, *bases: str) -> list[dict[str, str]]:
    result = ledger.ok("report", "findings", *bases, "--as-of", day, "--format", "json")
    return json.loads(result.stdout)


def test_full_life_of_a_district_base(ledger: Ledger, tmp_path: Path) -> None:
    approved_district_grant(ledger)  # applied 2024-03-01, reviewed, noticed, approved 2024-04-01
    ledger.ok(
        "grant",
        "budget",
        "G1",
        "--line",
        "training_system:地方财政:15万",
        "--line",
        "cooperation:地方财政:5万",
        "--line",
        "training_system:行业企业:20万",
        "--date",
        "2024-04-02",
    )
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(
        "match",
        "commit",
        "G1",
        "--amount",
        "20万",
        "--funder",
        "单位U1",
        "--voucher",
        "C1",
        "--date",
        "2024-04-10",
    )
    ledger.ok("match", "receive", "G1", "--amount", "20万", "--voucher", "M1", "--date", "2024-04-12")
    ledger.ok(
        "spend",
        "G1",
        "--amount",
        "14万",
        "--category",
        "equipment",
        "--content",
        "training_system",
        "--voucher",
        "S1",
        "--date",
        "2024-05-01",
    )
    ledger.ok(
        "spend",
        "G1",
        "--amount",
        "4万",
        "--category",
        "teacher_training",
        "--content",
        "cooperation",
        "--voucher",
        "S2",
        "--date",
        "2024-06-01",
    )
    ledger.ok(
        "spend",
        "G1",
        "--amount",
        "19万",
        "--category",
        "infrastructure",
        "--source",
        "matching",
        "--content",
        "training_system",
        "--voucher",
        "S3",
        "--date",
        "2024-06-01",
    )
    for year, trained, advanced in (("2024", "850", "200"), ("2025", "900", "300")):
        ledger.ok(
            "output",
            "report",
            "G1",
            "--year",
            year,
            "--trainees",
            trained,
            "--advanced",
            advanced,
            "--date",
            f"{int(year) + 1}-01-05",
        )
    ledger.ok(
        "evaluate", "G1", "--kind", "mid_term", "--result", "rectify", "--date", "2025-04-01", role="approver"
    )
    ledger.ok(
        "rectify",
        "order",
        "G1",
        "--ref",
        "R1",
        "--finding",
        "一笔支出凭证不全",
        "--deadline",
        "2025-06-30",
        "--date",
        "2025-04-01",
        role="approver",
    )
    ledger.ok(
        "recover",
        "order",
        "G1",
        "--amount",
        "5000",
        "--reason",
        "凭证不全",
        "--document",
        "追1",
        "--date",
        "2025-04-01",
        role="approver",
    )
    refused(
        ledger, "recover", "receive", "G1", "--amount", "6000", "--voucher", "R-1", "--date", "2025-05-01"
    )
    close = ["grant", "close", "G1", "--date", "2026-04-15"]
    assert "final evaluation" in refused(ledger, *close, role="approver", clause="003 第十三条")
    ledger.ok(
        "evaluate", "G1", "--kind", "final", "--result", "pass", "--date", "2026-04-01", role="approver"
    )
    assert "R1" in refused(ledger, *close, role="approver")
    ledger.ok("rectify", "complete", "G1", "--ref", "R1", "--date", "2025-06-01")
    assert "recoveries" in refused(ledger, *close, role="approver")
    ledger.ok("recover", "receive", "G1", "--amount", "5000", "--voucher", "R-1", "--date", "2025-05-01")
    b = ledger.balances()["B0001"]
    assert (b["subsidy_spent"], b["subsidy_available"]) == ("180000.00", "15000.00")
    message = refused(ledger, *close, role="approver", clause="003 第十条")
    assert "15,000.00" in message
    refused(
        ledger,
        "dispose",
        "G1",
        "--source",
        "subsidy",
        "--amount",
        "15001",
        "--how",
        "returned",
        "--approval",
        "批-1",
        "--date",
        "2026-04-10",
        clause="003 第十条",
    )
    ledger.ok(
        "dispose",
        "G1",
        "--source",
        "subsidy",
        "--amount",
        "15000",
        "--how",
        "returned",
        "--approval",
        "批-1",
        "--date",
        "2026-04-10",
    )
    ledger.ok(
        "dispose",
        "G1",
        "--source",
        "matching",
        "--amount",
        "1万",
        "--how",
        "carried_forward",
        "--approval",
        "批-2",
        "--date",
        "2026-04-10",
    )
    ledger.ok(*close, role="approver")
    assert "already" in ledger.ok(*close, role="approver").stdout
    b = ledger.balances()["B0001"]
    assert b["status"] == "closed"
    assert (b["subsidy_recovered"], b["subsidy_disposed"], b["matching_disposed"]) == (
        "5000.00",
        "15000.00",
        "10000.00",
    )
    assert (b["subsidy_received"], b["subsidy_spent"], b["subsidy_available"]) == (
        "200000.00",
        "180000.00",
        "0.00",
    )
    assert (b["matching_received"], b["matching_spent"], b["matching_available"]) == (
        "200000.00",
        "190000.00",
        "0.00",
    )
    # time travel still works: before the recovery and disposals
    earlier = json.loads(ledger.ok("balance", "--as-of", "2025-04-30", "--format", "json").stdout)[0]
    assert earlier["subsidy_available"] == "20000.00"
    # nothing more against a closed grant
    for args in (
        [
            "spend",
            "G1",
            "--amount",
            "1",
            "--category",
            "equipment",
            "--content",
            "training_system",
            "--voucher",
            "S9",
            "--date",
            "2026-04-20",
        ],
        ["disburse", "G1", "--amount", "1", "--voucher", "T9", "--date", "2026-04-20"],
        ["output", "report", "G1", "--year", "2026", "--trainees", "1", "--date", "2026-04-20"],
        [
            "dispose",
            "G1",
            "--source",
            "subsidy",
            "--amount",
            "1",
            "--how",
            "returned",
            "--approval",
            "x",
            "--date",
            "2026-04-20",
        ],
    ):
        assert "closed" in refused(ledger, *args)
    refused(
        ledger,
        "evaluate",
        "G1",
        "--kind",
        "performance",
        "--result",
        "pass",
        "--date",
        "2026-04-20",
        role="approver",
    )
    # a clean life: no findings (matching 1:1, outputs on target, rectification on time)
    assert findings(ledger, "2026-05-01") == []
    # an auditor's bundle of this life verifies, and its workbook agrees with `balance`
    ledger.ok("audit", "checkpoint", role="approver")  # signed with tester.approver's key
    ledger.ok("audit", "export", str(tmp_path / "bundle"))
    verified = ledger.ok(
        "audit", "verify", str(tmp_path / "bundle"), "--root", str(ledger.root), role="auditor"
    )
    assert "PASS" in verified.stdout

    sheet = bundle_balances(tmp_path / "bundle")[0]
    assert (f"{sheet['subsidy_available']:.2f}", f"{sheet['subsidy_recovered']:.2f}") == ("0.00", "5000.00")


def test_institute_with_three_projects(ledger: Ledger) -> None:
    ledger.ok(
        "unit", "register", "U1", "--name", "技师学院", "--kind", "technician_college", "--date", "2024-01-01"
    )
    refused(
        ledger,
        "grant",
        "apply",
        "G1",
        "--unit",
        "U1",
        "--base",
        "B1",
        "--programme",
        "training_institute",
        "--project",
        "焊工",
        "--amount",
        "150万",
        "--date",
        "2024-03-01",
        clause="000 第十三条",
    )
    refused(
        ledger,
        "grant",
        "apply",
        "G1",
        "--unit",
        "U1",
        "--base",
        "B1",
        "--programme",
        "training_institute",
        "--project",
        "a",
        "--project",
        "b",
        "--project",
        "c",
        "--project",
        "d",
        "--amount",
        "150万",
        clause="000 第十三条",
    )
    apply(
        ledger,
        "G1",
        "U1",
        "B1",
        "training_institute",
        "焊工",
        "数控车工",
        "工业机器人系统运维员",
        amount="150万",
    )
    reviewed_by_its_authority(ledger, "G1")
    selected(ledger, "G1")
    ledger.ok(
        "grant",
        "approve",
        "G1",
        "--amount",
        "150万",
        "--document",
        "渝人社〔2024〕96号",
        "--body",
        "RS-CQ",
        "--end",
        "2026-12-31",
        "--date",
        "2024-04-01",
        role="approver",
    )
    ledger.ok("disburse", "G1", "--amount", "150万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("match", "receive", "G1", "--amount", "150万", "--voucher", "M1", "--date", "2024-04-10")
    ledger.ok(
        "output",
        "report",
        "G1",
        "--year",
        "2024",
        "--trainees",
        "1600",
        "--advanced",
        "250",
        "--evaluations",
        "1200",
        "--advanced-evaluations",
        "150",
        "--date",
        "2025-01-05",
    )
    found = findings(ledger, "2025-01-10")
    assert [(f["rule"], f["clause"]) for f in found] == [
        ("output target", "000 第五条"),
        ("output target", "000 第九条"),
    ]
    assert "advanced 250" in found[0]["message"] and "300" in found[0]["message"]


def test_findings_list_exactly_the_known_breaches(ledger: Ledger) -> None:
    """Matching below 1:1, outputs below target, an overdue rectification, low execution late in
    the build period, and a stored travel expense written by an older version."""
    approved_district_grant(ledger)  # build period 2024-04-01 .. 2026-03-31
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("match", "receive", "G1", "--amount", "5万", "--voucher", "M1", "--date", "2024-04-12")
    ledger.ok(
        "spend", "G1", "--amount", "2万", "--category", "equipment", "--voucher", "S1", "--date", "2024-05-01"
    )
    ledger.ok(
        "output",
        "report",
        "G1",
        "--year",
        "2024",
        "--trainees",
        "700",
        "--advanced",
        "200",
        "--date",
        "2025-01-05",
    )
    ledger.ok(
        "rectify",
        "order",
        "G1",
        "--ref",
        "R1",
        "--finding",
        "台账不全",
        "--deadline",
        "2025-06-30",
        "--date",
        "2025-04-01",
        role="approver",
    )
    # a second base without breaches
    approved_district_grant(ledger, "G2", "B0002", "U2")
    ledger.ok("disburse", "G2", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("match", "receive", "G2", "--amount", "20万", "--voucher", "M1", "--date", "2024-04-12")
    ledger.ok(
        "spend",
        "G2",
        "--amount",
        "20万",
        "--category",
        "equipment",
        "--voucher",
        "S1",
        "--date",
        "2024-05-01",
    )
    # history written by an older version: a travel expense the ledger now refuses
    from ledger.application import GrantLedger

    app = GrantLedger(ledger.url)
    try:
        grant = app.get_grant("G1")
        spent_below(grant, "OLD-1", date(2024, 8, 2), category="travel", actor="legacy")
        save_sealed(app, ledger, grant, actor="legacy")
    finally:
        app.close()
    found = findings(ledger, "2026-01-31")
    assert [(f["base_id"], f["rule"], f["clause"]) for f in found] == [
        ("B0001", "banned category", "003 第九条"),
        ("B0001", "matching 1:1", "003 第九条"),
        ("B0001", "rectification overdue", "003 第十三条"),
        ("B0001", "low execution", "003 第十三条"),
    ]
    assert found[0]["date"] == "2024-08-02" and "travel" in found[0]["message"]
    assert "50,000.00" in found[1]["message"] and "200,000.00" in found[1]["message"]
    # 700 trained in 2024 is below 003 第六条's 800, a condition of application, not an output
    # target: the district target is 第十一条's 500 high-skill a year two years after the start
    assert "still open" in found[2]["message"]
    # earlier, the rectification is not yet due and the build period is young
    assert [f["rule"] for f in findings(ledger, "2025-01-31")] == [
        "banned category",
        "matching 1:1",
    ]
    csv_out = ledger.ok("report", "findings", "B0002", "--as-of", "2026-01-31", "--format", "csv").stdout
    assert csv_out.splitlines() == ["base_id,grant_id,rule,clause,date,message"]
    assert "rectification overdue" in ledger.ok("report", "findings", "--as-of", "2026-01-31").stdout


FREE_TEXT_CASES = [
    (["rectify", "order", "G1", "--ref", "R1", "--finding", "台账\x00不全", "--deadline", "2024-09-30"],
     "--finding: must be at most 500 characters without control characters"),
    (["rectify", "order", "G1", "--ref", "R1", "--finding", "长" * 501, "--deadline", "2024-09-30"],
     "--finding: must be at most 500 characters"),
    (["evaluate", "G1", "--kind", "mid_term", "--result", "pass", "--summary", "良好\x1b[31m"],
     "--summary: must be at most 500 characters without control characters"),
    (["recover", "order", "G1", "--amount", "100", "--reason", "违规\n列支", "--document", "追-1"],
     "--reason: must be at most 500 characters without control characters"),
    (["dispose", "G1", "--source", "subsidy", "--amount", "100", "--how", "returned", "--approval", " "],
     "--approval: must be 1 to 128 characters without control characters"),
    (["dispose", "G1", "--source", "subsidy", "--amount", "100", "--how", "returned",
      "--approval", "批\x7f9"],
     "--approval: must be 1 to 128 characters without control characters"),
    (["grant", "review", "G1", "--panel", "5", "--recommendation", "recommend", "--opinion", "同意\x00"],
     "--opinion: must be at most 500 characters without control characters"),
    (["grant", "reject", "G1", "--reason", "评审\n未通过"],
     "--reason: must be at most 500 characters without control characters"),
    (["grant", "adjust", "G1", "--line", "patterns:地方财政:0", "--approval", ""],
     "--approval: must be 1 to 128 characters without control characters"),
    (["grant", "close", "G1", "--document", "结\x08项"],
     "--document: must be at most 500 characters without control characters"),
]  # fmt: skip


def test_free_texts_of_grant_and_oversight_commands_are_checked_like_every_other_option(
    ledger: Ledger,
) -> None:
    """Free texts of the grant and oversight commands take what --memo takes: no control
    characters (a NUL, an escape sequence, a line break), at most 500 characters; references are
    identifiers. Each is refused before anything is written."""
    approved_district_grant(ledger)
    before = ledger.event_count()
    for command, message in FREE_TEXT_CASES:
        result = ledger(*command, "--date", "2024-06-30", role="approver")
        assert result.exit_code == 2, (command, result.stderr)
        assert message in result.stderr, (command, result.stderr)
    assert ledger.event_count() == before
