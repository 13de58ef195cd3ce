"""Every rule of the ledger core, through the command line, on SQLite and PostgreSQL:
the refusal, its exit code and clause, and that nothing was written."""

from __future__ import annotations

import pytest

from tests.conftest import CITY_BODIES, DISTRICT_BODIES, Ledger, approved_district_grant, selected


def refused(ledger: Ledger, *args: str, code: int = 3, clause: str = "", role: str = "officer") -> str:
    before = ledger.event_count()
    result = ledger(*args, role=role)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("grant-ledger: ") and result.stderr.count("\n") == 1
    assert clause in result.stderr
    assert ledger.event_count() == before, "a refused command wrote events"
    return result.stderr


def test_money_before_approval_is_refused(ledger: Ledger) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位", "--date", "2024-02-01")
    ledger.ok(
        "grant",
        "apply",
        "G1",
        "--unit",
        "U1",
        "--base",
        "B1",
        "--programme",
        "district_base",
        "--project",
        "电工",
        "--amount",
        "20万",
        "--date",
        "2024-03-01",
    )
    for args in (
        ["disburse", "G1", "--amount", "1万", "--voucher", "V1", "--date", "2024-03-02"],
        ["match", "receive", "G1", "--amount", "1万", "--voucher", "M1", "--date", "2024-03-02"],
        [
            "spend",
            "G1",
            "--amount",
            "100",
            "--category",
            "equipment",
            "--voucher",
            "S1",
            "--date",
            "2024-03-02",
        ],
    ):
        message = refused(ledger, *args, clause="003 第七条(二)")
        assert "not approved" in message


def test_disbursement_beyond_approved_amount(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    message = refused(
        ledger,
        "disburse",
        "G1",
        "--amount",
        "80,000.01",
        "--voucher",
        "T2",
        "--tranche",
        "2",
        "--date",
        "2024-05-10",
        clause="003 第九条",
    )
    assert "200,000.01" in message and "200,000.00" in message
    ledger.ok(
        "disburse", "G1", "--amount", "8万", "--voucher", "T2", "--tranche", "2", "--date", "2024-05-10"
    )
    assert ledger.balances()["B0001"]["subsidy_received"] == "200000.00"


def test_ring_fence_per_fund_source(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "1万", "--voucher", "T1", "--date", "2024-04-10")
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
    ledger.ok("match", "receive", "G1", "--amount", "5000", "--voucher", "R1", "--date", "2024-04-11")
    # subsidy cannot pay beyond its own balance, even though matching holds money
    message = refused(
        ledger,
        "spend",
        "G1",
        "--amount",
        "10000.01",
        "--category",
        "equipment",
        "--source",
        "subsidy",
        "--voucher",
        "S1",
        "--date",
        "2024-04-12",
        clause="003 第十条",
    )
    assert "10,000.00" in message and "subsidy" in message
    refused(
        ledger,
        "spend",
        "G1",
        "--amount",
        "5000.01",
        "--category",
        "equipment",
        "--source",
        "matching",
        "--voucher",
        "S2",
        "--date",
        "2024-04-12",
        clause="003 第十条",
    )
    ledger.ok(
        "spend",
        "G1",
        "--amount",
        "10000",
        "--category",
        "equipment",
        "--source",
        "subsidy",
        "--voucher",
        "S1",
        "--date",
        "2024-04-12",
    )
    ledger.ok(
        "spend",
        "G1",
        "--amount",
        "5000",
        "--category",
        "materials",
        "--source",
        "matching",
        "--voucher",
        "S2",
        "--date",
        "2024-04-12",
    )
    refused(
        ledger,
        "spend",
        "G1",
        "--amount",
        "0.01",
        "--category",
        "equipment",
        "--voucher",
        "S3",
        "--date",
        "2024-04-13",
        clause="003 第十条",
    )


def test_one_grant_never_pays_for_another(ledger: Ledger) -> None:
    approved_district_grant(ledger, "G1", "B0001", "U1")
    approved_district_grant(ledger, "G2", "B0002", "U2")
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    refused(
        ledger,
        "spend",
        "G2",
        "--amount",
        "1",
        "--category",
        "equipment",
        "--voucher",
        "S1",
        "--date",
        "2024-04-12",
        clause="003 第十条",
    )


@pytest.mark.parametrize(
    "category", ["travel", "差旅费", "labour", "劳务费", "unrelated", "与项目无关的其他支出", "TRAVEL"]
)
def test_banned_categories(ledger: Ledger, category: str) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    message = refused(
        ledger,
        "spend",
        "G1",
        "--amount",
        "100",
        "--category",
        category,
        "--voucher",
        "S1",
        "--date",
        "2024-04-12",
        clause="003 第九条",
    )
    assert "banned" in message and "不得用于差旅费、劳务费" in message


def test_unknown_category(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    message = refused(
        ledger,
        "spend",
        "G1",
        "--amount",
        "100",
        "--category",
        "banquet",
        "--voucher",
        "S1",
        "--date",
        "2024-04-12",
        clause="003 第九条",
    )
    assert "unknown" in message and "equipment" in message


def test_permitted_category_by_chinese_label(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(
        "spend",
        "G1",
        "--amount",
        "100",
        "--category",
        "实训设备购置、改造与维护",
        "--voucher",
        "S1",
        "--date",
        "2024-04-12",
    )
    assert ledger.balances()["B0001"]["subsidy_spent"] == "100.00"


@pytest.mark.parametrize("day", ["2024-04-30", "2026-05-01"])
def test_spending_outside_build_period(ledger: Ledger, day: str) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位", "--date", "2024-02-01")
    ledger.ok(
        "grant",
        "apply",
        "G1",
        "--unit",
        "U1",
        "--base",
        "B0001",
        "--programme",
        "district_base",
        "--project",
        "电工",
        "--amount",
        "20万",
        "--date",
        "2024-03-01",
    )
    selected(ledger, "G1")
    ledger.ok(
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
        "--start",
        "2024-05-01",
        role="approver",
    )
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-01")
    message = refused(
        ledger,
        "spend",
        "G1",
        "--amount",
        "100",
        "--category",
        "equipment",
        "--voucher",
        "S1",
        "--date",
        day,
        clause="003 第三条",
    )
    assert "2024-05-01 to 2026-04-30" in message


def test_spending_on_last_day_of_build_period(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-01")
    ledger.ok(
        "spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", "S1", "--date", "2026-03-31"
    )


def _approved_from_29_february(ledger: Ledger, *end: str) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位", "--date", "2024-01-02")
    ledger.ok(
        "grant", "apply", "G1", "--unit", "U1", "--base", "B0001", "--programme", "district_base",
        "--project", "电工", "--amount", "20万", "--date", "2024-01-10",
    )  # fmt: skip
    ledger.ok(
        "grant", "review", "G1", "--panel", "5", "--recommendation", "recommend", "--date", "2024-01-22",
        role="approver",
    )  # fmt: skip
    ledger.ok("grant", "notice", "G1", "--from", "2024-01-29", "--to", "2024-02-02", role="approver")
    ledger.ok(
        "grant", "approve", "G1", "--amount", "20万", "--document", "D", *DISTRICT_BODIES,
        "--date", "2024-02-29", "--start", "2024-02-29", *end, role="approver",
    )  # fmt: skip
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-02-29")


def test_a_build_period_from_29_february_holds_two_whole_years(ledger: Ledger) -> None:
    """Two years from 2024-02-29 end on 2026-02-28, as two years from 2024-03-01 do (2026 has no
    29 February): spending that day is inside the period, the next day outside. The period ended
    a day early, on 2026-02-27, refusing spending on its last day."""
    _approved_from_29_february(ledger)
    ledger.ok(
        "spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", "S1", "--date", "2026-02-28"
    )
    message = refused(
        ledger,
        "spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", "S2",
        "--date", "2026-03-01", clause="003 第三条",
    )  # fmt: skip
    assert "2024-02-29 to 2026-02-28" in message
    assert ledger.balances()["B0001"]["subsidy_spent"] == "100.00"


def test_a_build_period_from_29_february_may_be_given_to_its_last_day(ledger: Ledger) -> None:
    _approved_from_29_february(ledger, "--end", "2026-02-28")
    ledger.ok(
        "spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", "S1", "--date", "2026-02-28"
    )


def test_second_base_of_same_level_for_one_unit(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    message = refused(
        ledger,
        "grant",
        "apply",
        "G2",
        "--unit",
        "U1",
        "--base",
        "B0002",
        "--programme",
        "district_base",
        "--project",
        "电工",
        "--amount",
        "20万",
        "--date",
        "2024-05-01",
        clause="003 第八条",
    )
    assert "B0001" in message


def test_one_institute_per_unit(ledger: Ledger) -> None:
    ledger.ok("unit", "register", "U1", "--name", "技师学院", "--date", "2024-01-01")
    ledger.ok(
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
        "--project",
        "数控车工",
        "--amount",
        "150万",
        "--date",
        "2024-02-01",
    )
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
        "training_institute",
        "--project",
        "焊工",
        "--project",
        "数控车工",
        "--amount",
        "150万",
        "--date",
        "2024-02-01",
        clause="000 第十二条",
    )


@pytest.mark.parametrize("higher", ["municipal_base_funded", "national_base", "municipal_base_named"])
def test_no_district_base_for_unit_holding_municipal_or_higher(ledger: Ledger, higher: str) -> None:
    ledger.ok(
        "unit", "register", "U1", "--name", "企业培训中心", "--kind", "enterprise", "--date", "2024-01-01"
    )
    projects = ["--project", "a", "--project", "b", "--project", "c", "--project", "d", "--project", "e"]
    amount = [] if higher == "municipal_base_named" else ["--amount", "50万"]
    ledger.ok(
        "grant",
        "apply",
        "G1",
        "--unit",
        "U1",
        "--base",
        "M1",
        "--programme",
        higher,
        *(projects if higher == "national_base" else projects[:4]),
        *amount,
        "--date",
        "2024-02-01",
    )
    selected(ledger, "G1")
    ledger.ok("grant", "recommend", "G1", "--by", "JW-CQ", "--round", "2024", "--rank", "1", "--date",
              "2024-03-05", role="approver")  # fmt: skip
    bodies = ["--body", "RS-CQ"] if higher == "municipal_base_named" else [*CITY_BODIES]
    ledger.ok("grant", "approve", "G1", *amount, "--document", "D", *bodies, "--date", "2024-03-20",
              role="approver")  # fmt: skip
    message = refused(
        ledger,
        "grant",
        "apply",
        "G2",
        "--unit",
        "U1",
        "--base",
        "D1",
        "--programme",
        "district_base",
        "--project",
        "电工",
        "--amount",
        "20万",
        "--date",
        "2024-04-01",
        clause="003 第八条",
    )
    assert "municipal-or-higher" in message


def test_district_subsidy_is_exactly_20_wan(ledger: Ledger) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位", "--date", "2024-02-01")
    ledger.ok(
        "grant",
        "apply",
        "G1",
        "--unit",
        "U1",
        "--base",
        "B1",
        "--programme",
        "district_base",
        "--project",
        "电工",
        "--amount",
        "20万",
        "--date",
        "2024-03-01",
    )
    refused(
        ledger,
        "grant",
        "approve",
        "G1",
        "--amount",
        "25万",
        "--document",
        "D",
        *DISTRICT_BODIES,
        "--date",
        "2024-04-01",
        role="approver",
        clause="003 第九条",
    )


def test_institute_subsidy_range(ledger: Ledger) -> None:
    ledger.ok("unit", "register", "U1", "--name", "技师学院", "--date", "2024-01-01")
    ledger.ok(
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
        "--project",
        "数控车工",
        "--amount",
        "150万",
        "--date",
        "2024-02-01",
    )
    message = refused(
        ledger,
        "grant",
        "approve",
        "G1",
        "--amount",
        "250万",
        "--document",
        "D",
        *DISTRICT_BODIES,
        "--date",
        "2024-04-01",
        "--end",
        "2026-12-31",
        role="approver",
        clause="000 第十三条",
    )
    assert "1,000,000.00 and 2,000,000.00" in message


def test_roles(ledger: Ledger) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位", "--date", "2024-02-01")
    ledger.ok(
        "grant",
        "apply",
        "G1",
        "--unit",
        "U1",
        "--base",
        "B1",
        "--programme",
        "district_base",
        "--project",
        "电工",
        "--amount",
        "20万",
        "--date",
        "2024-03-01",
    )
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
        role="officer",
    )
    selected(ledger, "G1")
    ledger.ok(
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
    refused(
        ledger, "disburse", "G1", "--amount", "1万", "--voucher", "V", "--date", "2024-04-02", role="auditor"
    )
    refused(
        ledger, "disburse", "G1", "--amount", "1万", "--voucher", "V", "--date", "2024-04-02", role="approver"
    )


def test_not_found(ledger: Ledger) -> None:
    ledger.ok("init")
    refused(ledger, "disburse", "NOPE", "--amount", "1", "--voucher", "V", code=4)
    refused(
        ledger,
        "grant",
        "apply",
        "G1",
        "--unit",
        "NOUNIT",
        "--base",
        "B",
        "--programme",
        "district_base",
        "--project",
        "电工",
        "--amount",
        "20万",
        code=4,
    )
    approved_district_grant(ledger)
    refused(ledger, "reverse", "G1", "--voucher", "NOPE", "--reason", "x", "--date", "2024-05-01", code=4)
    refused(ledger, "balance", "B404", code=4)


def test_bad_input_is_exit_2(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    refused(
        ledger,
        "spend",
        "G1",
        "--amount",
        "1",
        "--category",
        "equipment",
        "--voucher",
        "V",
        "--source",
        "elsewhere",
        code=2,
    )
    refused(ledger, "spend", "G1", "--amount", "1", "--category", "equipment", code=2)
    refused(ledger, "disburse", "G1", "--amount", "1", "--voucher", "V", "--date", "2024-02-30", code=2)
    refused(
        ledger,
        "grant",
        "apply",
        "G9",
        "--unit",
        "U1",
        "--base",
        "B9",
        "--programme",
        "galactic_base",
        "--amount",
        "1",
        code=2,
    )
    refused(ledger, "disburse", "G1", "--amount", "1", "--voucher", "  ", code=2)
