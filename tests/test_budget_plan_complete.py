"""A budget plan (003 第十条(一), 表4-2) is the whole plan: a line it does not name is nil.

A spend after the plan on a construction content it leaves out is refused as above a line of
0.00; so, alike, a plan registered after spending on such a content, by the end of its date or of
any later date, is refused (rule 'budget line', exit 3, nothing written) rather than leaving that
spending "outside the plan" in ``report budget``; spending reversed by the plan's date does not
count. The same plan written below the aggregate is a finding.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from ledger.grant import Grant
from tests.conftest import Ledger, approved_district_grant
from tests.test_budget_line_dates import CLAUSE, budget
from tests.test_core_rules import refused
from tests.test_one_rulebook import plant_event, plant_spend

SPEND = ["spend", "G1", "--category", "equipment"]
ONLY_COOPERATION = ["grant", "budget", "G1", "--line", "cooperation:地方财政:5万"]
PLANTED = {"actor": "elsewhere", "role": "officer"}


def spent_on_training_system(ledger: Ledger) -> None:
    """G1 receives 200,000.00 on 2024-04-10 and spends 30,000.00 (S1) of it on training_system on
    2024-04-12, with no plan yet."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    spend = [*SPEND, "--content", "training_system", "--amount", "30000", "--voucher", "S1"]
    ledger.ok(*spend, "--date", "2024-04-12")


def budget_line_findings(ledger: Ledger) -> list[dict[str, str]]:
    found = json.loads(ledger.ok("report", "findings", "--format", "json").stdout)
    return [f for f in found if f["rule"] == "budget line"]


def test_a_plan_leaving_out_a_content_spent_on_is_refused(ledger: Ledger) -> None:
    spent_on_training_system(ledger)
    before, shown = ledger.event_count(), budget(ledger, "2024-04-30")
    assert shown == {"training_system": (None, Decimal("30000.00"))}
    message = refused(ledger, *ONLY_COOPERATION, "--date", "2024-04-15", clause=CLAUSE)
    assert "budget line" in message
    assert (
        "the budget plan of grant G1 has no line for training_system from subsidy, which leaves that "
        "line at 0.00, below the 30,000.00 spent on it by the end of 2024-04-15"
    ) in message, message
    assert ledger.event_count() == before and budget(ledger, "2024-04-30") == shown
    # dated before the spending, the plan stands on the days it was spent too
    refused(ledger, *ONLY_COOPERATION, "--date", "2024-04-11", clause=CLAUSE)
    # a plan naming the content below what is spent on it is refused as before; at it, accepted
    low = [*ONLY_COOPERATION, "--line", "training_system:地方财政:29999.99", "--date", "2024-04-15"]
    assert "sets training_system from subsidy at 29,999.99" in refused(ledger, *low, clause=CLAUSE)
    ledger.ok(*ONLY_COOPERATION, "--line", "training_system:地方财政:3万", "--date", "2024-04-15")
    assert budget(ledger, "2024-04-30") == {
        "training_system": (Decimal("30000.00"), Decimal("30000.00")),
        "cooperation": (Decimal("50000.00"), Decimal(0)),
    }
    assert budget_line_findings(ledger) == []


def test_the_other_fund_source_of_a_named_content_is_a_line_too(ledger: Ledger) -> None:
    """A plan naming training_system from 地方财政 only leaves its matching line (行业企业, 其他) at
    0.00: matching spent on it before is refused alike."""
    spent_on_training_system(ledger)
    ledger.ok("match", "receive", "G1", "--amount", "1万", "--voucher", "M1", "--date", "2024-04-10")
    ledger.ok(*SPEND, "--content", "training_system", "--source", "matching", "--amount", "100",
              "--voucher", "S2", "--date", "2024-04-12")  # fmt: skip
    plan = ["grant", "budget", "G1", "--line", "training_system:地方财政:3万", "--date", "2024-04-15"]
    message = refused(ledger, *plan, clause=CLAUSE)
    assert "has no line for training_system from matching" in message and "below the 100.00" in message
    ledger.ok(*plan, "--line", "training_system:其他:100")


def test_spending_reversed_by_the_plans_date_does_not_block_it(ledger: Ledger) -> None:
    spent_on_training_system(ledger)
    ledger.ok("reverse", "G1", "--voucher", "S1", "--reason", "错账", "--date", "2024-04-20")
    # dated before the reversal, the plan would leave out the 30,000.00 of 04-12 to 04-19
    message = refused(ledger, *ONLY_COOPERATION, "--date", "2024-04-19", clause=CLAUSE)
    assert "below the 30,000.00 spent on it by the end of 2024-04-19" in message
    ledger.ok(*ONLY_COOPERATION, "--date", "2024-04-20")
    assert budget(ledger, "2024-04-30") == {
        "training_system": (None, Decimal(0)),
        "cooperation": (Decimal("50000.00"), Decimal(0)),
    }
    # and the plan, once it stands, is as complete for a later spend as it was for the earlier one
    later = [*SPEND, "--content", "training_system", "--amount", "1", "--voucher", "S3"]
    assert "above its 0.00" in refused(ledger, *later, "--date", "2024-04-21", clause=CLAUSE)
    assert budget_line_findings(ledger) == []


def test_an_adjustment_dropping_a_content_spent_on_is_refused(ledger: Ledger) -> None:
    """An adjustment changes the lines it names: setting training_system to 0 is refused below its
    spending. A plan registered with no lines (written below the aggregate: the command line
    asks for one at least) stands from the first adjustment that gives it one, which then leaves
    out the content spent on before it, and is refused so."""
    spent_on_training_system(ledger)
    plant_event(ledger, Grant.BudgetRegistered, lines={}, occurred_on=date(2024, 4, 11), **PLANTED)
    adjust = ["grant", "adjust", "G1", "--approval", "批-1", "--date", "2024-04-15"]
    before = ledger.event_count()
    message = refused(ledger, *adjust, "--line", "cooperation:地方财政:5万", role="approver", clause=CLAUSE)
    assert (
        "the budget adjustment of grant G1 has no line for training_system from subsidy, which leaves "
        "that line at 0.00, below the 30,000.00 spent on it by the end of 2024-04-15"
    ) in message, message
    assert ledger.event_count() == before
    both = ["--line", "cooperation:地方财政:5万", "--line", "training_system:地方财政:3万"]
    ledger.ok(*adjust, *both, role="approver")
    drop = ["grant", "adjust", "G1", "--approval", "批-2", "--line", "training_system:地方财政:0"]
    message = refused(ledger, *drop, "--date", "2024-04-20", role="approver", clause=CLAUSE)
    assert "sets training_system from subsidy at 0.00, below the 30,000.00" in message
    assert budget(ledger, "2024-04-30")["training_system"] == (Decimal("30000.00"), Decimal("30000.00"))
    # an adjustment of another line leaves training_system as the plan gave it: recorded
    ledger.ok("grant", "adjust", "G1", "--approval", "批-3", "--line", "cooperation:地方财政:4万",
              "--date", "2024-04-20", role="approver")  # fmt: skip
    assert budget_line_findings(ledger) == []


def test_a_plan_leaving_out_spending_written_below_the_aggregate_is_a_finding(ledger: Ledger) -> None:
    spent_on_training_system(ledger)
    lines = {"cooperation/local_finance": Decimal("50000.00")}
    plant_event(ledger, Grant.BudgetRegistered, lines=lines, occurred_on=date(2024, 4, 15), **PLANTED)
    (found,) = budget_line_findings(ledger)
    assert (found["clause"], found["date"]) == (CLAUSE, "2024-04-15")
    assert (
        "has no line for training_system from subsidy, which leaves that line at 0.00, below the "
        "30,000.00 spent on it by the end of 2024-04-15"
    ) in found["message"]
    # a later adjustment of another line does not change training_system's: no finding of its own
    ledger.ok("grant", "adjust", "G1", "--approval", "批-1", "--line", "cooperation:地方财政:4万",
              "--date", "2024-04-20", role="approver")  # fmt: skip
    assert [f["date"] for f in budget_line_findings(ledger)] == ["2024-04-15"]


def test_a_plan_after_spending_reversed_by_its_date_written_below_is_no_finding(ledger: Ledger) -> None:
    spent_on_training_system(ledger)
    ledger.ok("reverse", "G1", "--voucher", "S1", "--reason", "错账", "--date", "2024-04-20")
    lines = {"cooperation/local_finance": Decimal("50000.00")}
    plant_event(ledger, Grant.BudgetRegistered, lines=lines, occurred_on=date(2024, 4, 20), **PLANTED)
    assert budget_line_findings(ledger) == []


def test_spending_an_earlier_version_stored_by_the_content_s_name_is_on_that_content_s_line(
    ledger: Ledger,
) -> None:
    """A spend an earlier version stored with its content as an import row typed it (校企合作提升
    培训能力, tests/test_content_repeats.py) is spending on cooperation: a plan naming cooperation at
    or above it covers it (it was refused as leaving out a line "校企合作提升培训能力" no plan can
    name), one leaving cooperation out or below it is refused, and once the plan stands a later
    spend on cooperation counts it; the same plan written below the aggregate is judged alike."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    plant_spend(ledger, "K1", "9000.00", "校企合作提升培训能力", date(2024, 4, 12))
    plan = ["grant", "budget", "G1", "--date", "2024-04-15"]
    message = refused(ledger, *plan, "--line", "training_system:地方财政:1万", clause=CLAUSE)
    assert "has no line for cooperation from subsidy" in message and "below the 9,000.00" in message
    message = refused(ledger, *plan, "--line", "cooperation:地方财政:8999.99", clause=CLAUSE)
    assert "sets cooperation from subsidy at 8,999.99, below the 9,000.00" in message, message
    ledger.ok(*plan, "--line", "cooperation:地方财政:1万")
    spend = [*SPEND, "--content", "cooperation", "--voucher", "S2", "--date", "2024-04-20"]
    message = refused(ledger, *spend, "--amount", "1000.01", clause=CLAUSE)
    assert "brings that budget line to 10,000.01 at the end of 2024-04-20, above its 10,000.00" in message
    ledger.ok(*spend, "--amount", "1000")
    assert budget_line_findings(ledger) == []
    # report budget reads it on that line too: full, not 9,000.00 "outside the plan" beside it
    assert budget(ledger, "2024-04-30") == {"cooperation": (Decimal("10000.00"), Decimal("10000.00"))}
    assert budget(ledger, "2024-04-12") == {"cooperation": (None, Decimal("9000.00"))}


def test_a_plan_below_spending_stored_by_the_content_s_name_written_below_is_a_finding(
    ledger: Ledger,
) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    plant_spend(ledger, "K1", "9000.00", "校企合作提升培训能力", date(2024, 4, 12))
    lines = {"training_system/local_finance": Decimal("10000.00")}
    plant_event(ledger, Grant.BudgetRegistered, lines=lines, occurred_on=date(2024, 4, 15), **PLANTED)
    (found,) = budget_line_findings(ledger)
    assert "has no line for cooperation from subsidy" in found["message"], found


def test_an_officer_reading_chinese_reads_the_lines_names(ledger: Ledger) -> None:
    """In Chinese a budget line is named as the policy names it (构建完善的高技能人才培训体系,
    财政补助), not by the codes an officer types in English (the English stays as it was): a plan
    leaving the line out, and a spend above it."""
    spent_on_training_system(ledger)
    ledger.lang = "zh"
    try:
        said = ledger(*ONLY_COOPERATION, "--date", "2024-04-15")
    finally:
        ledger.lang = "en"
    assert said.exit_code == 3, said.output
    assert "未列 构建完善的高技能人才培训体系（财政补助）明细" in said.stderr, said.stderr
    assert "training_system" not in said.stderr and "subsidy" not in said.stderr.split("—")[0], said.stderr
    ledger.ok(*ONLY_COOPERATION, "--line", "training_system:地方财政:3万", "--date", "2024-04-15")
    ledger.lang = "zh"
    try:
        over = ledger(
            *SPEND,
            "--content",
            "training_system",
            "--amount",
            "0.01",
            "--voucher",
            "S2",
            "--date",
            "2024-04-20",
        )
    finally:
        ledger.lang = "en"
    assert over.exit_code == 3, over.output
    assert "在 构建完善的高技能人才培训体系 上支出" in over.stderr and "从 财政补助" in over.stderr, (
        over.stderr
    )
