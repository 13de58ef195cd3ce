"""A budget line holds at the end of every date (003 第十条(一), 表4-2), not only on its total now.

Spending dated between a spend and its reversal counts on those dates: a line that ended a day
above its plan is what ``report budget --as-of`` that day shows, so the act that would make it so
is refused (exit 3, nothing written), by the command, an import and a snapshot of an earlier
version alike; a plan or adjustment is judged on the spending standing from its date on; and the
same acts written below the aggregate are findings.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, text

from ledger.application import GrantLedger
from ledger.grant import Grant
from tests.conftest import Ledger, approved_district_grant
from tests.test_core_rules import refused
from tests.test_one_rulebook import plant_event, plant_spend

CLAUSE = "003 第十条(一)"
SPENDS = 50
HEADER = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"


def budget(ledger: Ledger, at: str) -> dict[str, tuple[Decimal | None, Decimal]]:
    """``report budget --as-of``: each line of G1 as (planned, spent)."""
    out = ledger.ok("report", "budget", "B0001", "--format", "json", "--as-of", at).stdout
    return {
        row["content"]: (None if row["planned"] is None else Decimal(row["planned"]), Decimal(row["spent"]))
        for row in json.loads(out)
        if row.get("grant_id") == "G1"
    }


def never_above_plan(ledger: Ledger, start: date, end: date) -> None:
    at = start
    while at <= end:
        for content, (planned, spent) in budget(ledger, at.isoformat()).items():
            assert planned is None or spent <= planned, (content, at, planned, spent)
        at += timedelta(days=1)


def history(ledger: Ledger, tmp_path: Path) -> None:
    """G1 receives 200,000.00 on 2024-04-10; its plan (2024-04-11) gives cooperation 50,000.00 of
    the subsidy; 50 × 100.00 spent on it from 2024-05-01, 24,000.00 on 2024-05-30, 20,000.00 (S1)
    on 2024-06-01 reversed on 2024-06-20: 29,000.00 stands, but 49,000.00 did from 06-01 to 06-19."""
    approved_district_grant(ledger)
    rows = [HEADER, "2024-04-10,,B0001,G1,,disburse,200000,subsidy,,,T1,,"]
    for n in range(SPENDS):
        on = date(2024, 5, 1) + timedelta(days=n // 2)
        rows.append(f"{on.isoformat()},,B0001,G1,,spend,100,subsidy,equipment,cooperation,P{n},,")
    path = tmp_path / "history.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ledger.ok("grant", "budget", "G1", "--line", "cooperation:地方财政:5万", "--date", "2024-04-11")
    ledger.ok("import", str(path))
    spend = ["spend", "G1", "--category", "equipment", "--content", "cooperation"]
    ledger.ok(*spend, "--amount", "24000", "--voucher", "S0", "--date", "2024-05-30")
    ledger.ok(*spend, "--amount", "20000", "--voucher", "S1", "--date", "2024-06-01")
    ledger.ok("reverse", "G1", "--voucher", "S1", "--reason", "错账", "--date", "2024-06-20")
    assert budget(ledger, "2024-06-30")["cooperation"] == (Decimal("50000.00"), Decimal("29000.00"))


def back_dated_spend_refused_at_every_date(ledger: Ledger) -> None:
    """20,000.00 more dated 2024-06-10 would end that day at 69,000.00 of 50,000.00: refused,
    though the line's total now (29,000.00) has room; dated on the reversal's day it fits."""
    spend = ["spend", "G1", "--category", "equipment", "--content", "cooperation", "--voucher", "S2"]
    before = ledger.event_count()
    message = refused(ledger, *spend, "--amount", "20000", "--date", "2024-06-10", clause=CLAUSE)
    assert "budget line" in message
    assert "69,000.00 at the end of 2024-06-10" in message and "above its 50,000.00" in message
    assert ledger.event_count() == before
    assert budget(ledger, "2024-06-10")["cooperation"] == (Decimal("50000.00"), Decimal("49000.00"))
    refused(ledger, *spend, "--amount", "21000.01", "--date", "2024-06-20", clause=CLAUSE)
    ledger.ok(*spend, "--amount", "21000", "--date", "2024-06-20")
    assert budget(ledger, "2024-06-20")["cooperation"] == (Decimal("50000.00"), Decimal("50000.00"))
    never_above_plan(ledger, date(2024, 5, 28), date(2024, 6, 22))


def test_a_spend_dated_between_a_spend_and_its_reversal_counts_on_those_dates(
    ledger: Ledger, tmp_path: Path
) -> None:
    history(ledger, tmp_path)
    back_dated_spend_refused_at_every_date(ledger)
    out = ledger.ok("report", "findings", "--format", "json").stdout
    assert [f for f in json.loads(out) if f["rule"] == "budget line"] == []


def test_an_import_row_dated_so_is_refused_at_its_line(ledger: Ledger, tmp_path: Path) -> None:
    history(ledger, tmp_path)
    rows = [
        HEADER,
        "2024-06-25,,B0001,G1,,spend,1000,subsidy,equipment,cooperation,K1,,",
        "2024-06-10,,B0001,G1,,spend,20000,subsidy,equipment,cooperation,K2,,",
    ]
    path = tmp_path / "late.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = ledger.event_count()
    result = ledger("import", str(path))
    assert result.exit_code == 3, result.stderr
    assert (
        "late.csv:3: spending 20,000.00" in result.stderr
        and "69,000.00 at the end of 2024-06-10" in result.stderr
    ), result.stderr
    assert ledger.event_count() == before  # all or nothing: K1 was fine, and is not written either
    assert budget(ledger, "2024-06-30")["cooperation"] == (Decimal("50000.00"), Decimal("29000.00"))


def test_a_snapshot_of_an_earlier_version_still_judges_the_line_at_every_date(
    ledger: Ledger, tmp_path: Path
) -> None:
    history(ledger, tmp_path)
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            versions = [
                int(r[0]) for r in conn.execute(text("SELECT originator_version FROM ledger_snapshots"))
            ]
    finally:
        engine.dispose()
    assert versions, "the history is long enough to be loaded from a snapshot"
    app = GrantLedger(ledger.url)
    try:  # the latest snapshot as an earlier version wrote it: no budget line by date
        grant = app.get_grant("G1")
        taken = type(grant).Snapshot.take(grant)  # type: ignore[attr-defined]
        state = {k: v for k, v in taken.state.items() if k not in ("line_days", "line_last", "plans")}
        app.snapshots.put([dataclasses.replace(taken, state=state)])  # type: ignore[union-attr]
    finally:
        app.close()
    back_dated_spend_refused_at_every_date(ledger)


def test_an_adjustment_is_judged_on_the_spending_standing_from_its_date(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Lowering cooperation to 30,000.00: on 2024-06-05 S1's 20,000.00 still stood (49,000.00
    spent by then); from 2024-06-20, when it was reversed, 29,000.00 does."""
    history(ledger, tmp_path)
    adjust = ["grant", "adjust", "G1", "--line", "cooperation:地方财政:3万", "--approval", "批-2"]
    before = ledger.event_count()
    message = refused(ledger, *adjust, "--date", "2024-06-05", role="approver", clause=CLAUSE)
    assert "the budget adjustment of grant G1 sets cooperation from subsidy at 30,000.00" in message
    assert "below the 49,000.00 spent on it by the end of 2024-06-05" in message
    assert ledger.event_count() == before
    ledger.ok(*adjust, "--date", "2024-06-20", role="approver")
    assert budget(ledger, "2024-06-19")["cooperation"] == (Decimal("50000.00"), Decimal("49000.00"))
    assert budget(ledger, "2024-06-20")["cooperation"] == (Decimal("30000.00"), Decimal("29000.00"))
    never_above_plan(ledger, date(2024, 5, 28), date(2024, 6, 22))


def test_a_plan_below_what_is_already_spent_by_its_date_is_refused(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    spend = ["spend", "G1", "--category", "equipment", "--content", "training_system"]
    ledger.ok(*spend, "--amount", "30000", "--voucher", "S1", "--date", "2024-04-12")
    plan = [
        "grant",
        "budget",
        "G1",
        "--line",
        "training_system:地方财政:2万",
        "--line",
        "cooperation:地方财政:1万",
    ]
    before = ledger.event_count()
    message = refused(ledger, *plan, "--date", "2024-04-15", clause=CLAUSE)
    assert "the budget plan of grant G1 sets training_system from subsidy at 20,000.00" in message
    assert "below the 30,000.00 spent on it by the end of 2024-04-15" in message
    assert ledger.event_count() == before
    ledger.ok("reverse", "G1", "--voucher", "S1", "--reason", "错账", "--date", "2024-04-20")
    # dated before the reversal, the plan would stand below the spending of 04-15 to 04-19
    refused(ledger, *plan, "--date", "2024-04-15", clause=CLAUSE)
    ledger.ok(*plan, "--date", "2024-04-20")
    never_above_plan(ledger, date(2024, 4, 10), date(2024, 4, 25))


def test_the_same_acts_written_below_the_aggregate_are_findings(ledger: Ledger, tmp_path: Path) -> None:
    history(ledger, tmp_path)
    plant_spend(ledger, "F1", "20000.00", "cooperation", date(2024, 6, 10))
    found = [f for f in json.loads(ledger.ok("report", "findings", "--format", "json").stdout)]
    lines = [(f["rule"], f["clause"], f["date"]) for f in found if f["rule"] == "budget line"]
    assert lines == [("budget line", CLAUSE, "2024-06-10")]
    assert (
        "69,000.00 at the end of 2024-06-10"
        in next(f for f in found if f["rule"] == "budget line")["message"]
    )
    plant_event(
        ledger,
        Grant.BudgetAdjusted,
        lines={"cooperation/local_finance": Decimal("10000.00")},
        approval="批-X",
        reason="",
        actor="elsewhere",
        role="approver",
        occurred_on=date(2024, 6, 25),
    )
    found = json.loads(ledger.ok("report", "findings", "--format", "json").stdout)
    assert [(f["date"], f["rule"]) for f in found if f["rule"] == "budget line"] == [
        ("2024-06-10", "budget line"),
        ("2024-06-25", "budget line"),
    ]


def test_an_adjustment_comes_after_the_plan_it_changes(ledger: Ledger, tmp_path: Path) -> None:
    """Dated before the plan's registration (2024-04-11), an adjustment would make a plan of
    its lines alone on the days between: refused, and flagged when written below the aggregate,
    as one with no plan at all is."""
    history(ledger, tmp_path)
    adjust = ["grant", "adjust", "G1", "--line", "training_system:地方财政:1万", "--approval", "批-3"]
    before = ledger.event_count()
    message = refused(ledger, *adjust, "--date", "2024-04-10", role="approver", clause=CLAUSE)
    assert "budget first" in message and "dated 2024-04-11" in message and "2024-04-10" in message
    assert ledger.event_count() == before
    ledger.ok(*adjust, "--date", "2024-04-11", role="approver")
    assert budget(ledger, "2024-04-11")["training_system"] == (Decimal("10000.00"), Decimal(0))
    plant = {"approval": "批-X", "reason": "", "actor": "elsewhere", "role": "approver"}
    lines = {"cooperation/local_finance": Decimal("60000.00")}
    plant_event(ledger, Grant.BudgetAdjusted, lines=lines, occurred_on=date(2024, 4, 5), **plant)
    found = json.loads(ledger.ok("report", "findings", "--format", "json").stdout)
    assert [(f["rule"], f["clause"], f["date"]) for f in found if f["rule"] == "budget first"] == [
        ("budget first", CLAUSE, "2024-04-05")
    ]


def test_an_adjustment_of_no_plan_written_below_the_aggregate_is_a_finding(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    plant = {"approval": "批-X", "reason": "", "actor": "elsewhere", "role": "approver"}
    lines = {"cooperation/local_finance": Decimal("60000.00")}
    plant_event(ledger, Grant.BudgetAdjusted, lines=lines, occurred_on=date(2024, 4, 5), **plant)
    found = json.loads(ledger.ok("report", "findings", "--format", "json").stdout)
    first = [f for f in found if f["rule"] == "budget first"]
    assert [(f["clause"], f["date"]) for f in first] == [(CLAUSE, "2024-04-05")]
    assert "has no budget plan to adjust" in first[0]["message"]


def test_an_adjustment_dated_before_a_later_one_of_the_same_amount_is_recorded(ledger: Ledger) -> None:
    """Cooperation is lowered to 5,000.00 from 2024-04-30 (批-1); a second approval (批-2) lowers
    it to the same 5,000.00 from 2024-04-20. The plan's total already says 5,000.00, but from
    04-20 to 04-29 it said 10,000.00: the second adjustment changes those dates, so it is
    recorded, not taken for a repeat of the first; run again, it is a repeat. Dated before the
    plan, the same amount is refused (budget first), not taken for a repeat either."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("grant", "budget", "G1", "--line", "cooperation:地方财政:10000", "--date", "2024-04-11")
    adjust = ["grant", "adjust", "G1", "--line", "cooperation:地方财政:5000"]
    ledger.ok(*adjust, "--approval", "批-1", "--date", "2024-04-30", role="approver")
    before = ledger.event_count()
    done = ledger.ok(*adjust, "--approval", "批-2", "--date", "2024-04-20", role="approver")
    assert "already recorded" not in done.stdout, done.stdout
    assert ledger.event_count() == before + 2  # the adjustment and its seal
    assert budget(ledger, "2024-04-19")["cooperation"] == (Decimal("10000.00"), Decimal(0))
    assert budget(ledger, "2024-04-20")["cooperation"] == (Decimal("5000.00"), Decimal(0))
    again = ledger.ok(*adjust, "--approval", "批-2", "--date", "2024-04-20", role="approver")
    assert "already recorded" in again.stdout and ledger.event_count() == before + 2
    message = refused(
        ledger, *adjust, "--approval", "批-3", "--date", "2024-04-05", role="approver", clause=CLAUSE
    )
    assert "budget first" in message and "dated 2024-04-11" in message


def test_an_import_names_a_content_by_its_chinese_name_as_the_plan_does(
    ledger: Ledger, tmp_path: Path
) -> None:
    """A content typed by its Chinese name (校企合作提升培训能力) is the line the plan's
    cooperation is: counted on it, not a line of its own outside the plan, and refused past it."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("grant", "budget", "G1", "--line", "校企合作提升培训能力:地方财政:1万", "--date", "2024-04-11")
    rows = [HEADER, "2024-04-12,,B0001,G1,,spend,9000,subsidy,equipment,校企合作提升培训能力,K1,,"]
    path = tmp_path / "named.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ledger.ok("import", str(path))
    assert budget(ledger, "2024-04-30") == {"cooperation": (Decimal("10000.00"), Decimal("9000.00"))}
    again = ledger.ok("import", str(path))  # the same file again: nothing new
    assert "0 events" in again.stdout or "already" in again.stdout, again.stdout
    rows.append("2024-04-13,,B0001,G1,,spend,1000.01,subsidy,equipment,校企合作提升培训能力,K2,,")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = ledger("import", str(path))
    assert result.exit_code == 3 and "10,000.01" in result.stderr and "above its 10,000.00" in result.stderr
    assert budget(ledger, "2024-04-30") == {"cooperation": (Decimal("10000.00"), Decimal("9000.00"))}


def test_the_plan_stays_within_the_approved_subsidy_on_every_date(ledger: Ledger) -> None:
    """Adjustments dated out of order: raising one line from 2024-04-20 while the other is lowered
    only from 2024-05-01 would make the plan 250,000.00 of a 200,000.00 subsidy from 04-20 to 04-30,
    though the plan as it ends adds up to 200,000.00."""
    approved_district_grant(ledger)
    plan = ["--line", "training_system:地方财政:10万", "--line", "cooperation:地方财政:10万"]
    ledger.ok("grant", "budget", "G1", *plan, "--date", "2024-04-11")
    adjust = ["grant", "adjust", "G1", "--approval", "批-1"]
    ledger.ok(*adjust, "--line", "training_system:地方财政:5万", "--date", "2024-05-01", role="approver")
    before = ledger.event_count()
    raise_other = [*adjust, "--line", "cooperation:地方财政:15万"]
    message = refused(ledger, *raise_other, "--date", "2024-04-20", role="approver", clause="003 表3-1-1")
    assert "250,000.00 on 2024-04-20" in message and "200,000.00" in message
    assert ledger.event_count() == before
    ledger.ok(*raise_other, "--date", "2024-05-01", role="approver")
    assert budget(ledger, "2024-05-01") == {
        "training_system": (Decimal("50000.00"), Decimal(0)),
        "cooperation": (Decimal("150000.00"), Decimal(0)),
    }
