"""The compliance judge reads a date's ring-fence as the aggregate does: events written below the
aggregate, in an order that overdraws a date, are findings; a rebuild finds what the catch-up
found event by event and in batches that end inside one date."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ledger.application import GrantLedger
from ledger.grant import Grant
from tests.conftest import DISTRICT_BODIES, Ledger, approved_district_grant, spent_below
from tests.signing import save_sealed
from tests.test_core_rules import refused


def plant(ledger: Ledger, *acts: tuple[str, str, str, str, date]) -> None:
    """Events triggered below the rules and saved together, one batch of the store:
    (kind, voucher, source, amount, date), kind ``spend`` or ``disburse``."""
    app = GrantLedger(ledger.url)
    try:
        grant = app.get_grant("G1")
        for kind, voucher, source, amount, on in acts:
            who: dict[str, Any] = {"actor": "elsewhere", "role": "officer", "occurred_on": on}
            if kind == "disburse":
                grant.trigger_event(
                    Grant.SubsidyDisbursed, amount=Decimal(amount), voucher=voucher, tranche=2, **who
                )
                continue
            spent_below(grant, voucher, on, source=source, amount=amount)
        save_sealed(app, ledger, grant, actor="elsewhere")
    finally:
        app.close()


def findings(ledger: Ledger) -> list[tuple[str, str, str, str]]:
    result = ledger.ok("report", "findings", "--as-of", "2024-07-01", "--format", "json")
    return [
        (f["rule"], f["clause"], f["date"], f["message"])
        for f in json.loads(result.stdout)
        if f["rule"] != "matching 1:1"
    ]


def test_stored_acts_that_overdraw_a_date_are_findings_and_a_rebuild_agrees(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10000", "--voucher", "T1", "--date", "2024-04-10")
    spend = ["spend", "G1", "--category", "equipment"]
    plant(ledger, ("spend", "P1", "subsidy", "8000", date(2024, 5, 1)))
    assert findings(ledger) == []  # caught up: one event

    # a spend before the second tranche of its own date: refused by the command, a finding stored
    refused(
        ledger, *spend, "--amount", "5000", "--voucher", "P2", "--date", "2024-06-01", clause="003 第十条"
    )
    plant(ledger, ("spend", "P2", "subsidy", "5000", date(2024, 6, 1)))
    # the tranche and a second spend of that date, in one batch: the date nets to 42,000.00
    plant(
        ledger,
        ("disburse", "T2", "subsidy", "50000", date(2024, 6, 1)),
        ("spend", "P3", "subsidy", "5000", date(2024, 6, 1)),
    )
    # a spend dated before P1 that leaves its own date in credit but overdraws 2024-05-01
    refused(
        ledger, *spend, "--amount", "3000", "--voucher", "P4", "--date", "2024-04-20", clause="003 第十条"
    )
    plant(
        ledger,
        ("spend", "P4", "subsidy", "3000", date(2024, 4, 20)),
        ("spend", "M1", "matching", "0.01", date(2024, 6, 1)),  # nothing received: overdrawn
    )
    caught_up = findings(ledger)
    assert caught_up == [  # in the order stored
        (
            "ring-fence",
            "003 第十条",
            "2024-06-01",
            "spending 5,000.00 from the subsidy (财政补助) of grant G1 exceeds its available balance "
            "of 2,000.00",
        ),
        (
            "ring-fence",
            "003 第十条",
            "2024-04-20",
            "spending 3,000.00 from the subsidy (财政补助) of grant G1 exceeds its available balance "
            "of 2,000.00",
        ),
        (
            "ring-fence",
            "003 第十条",
            "2024-06-01",
            "spending 0.01 from the matching (配套经费) of grant G1 exceeds its available balance of 0.00",
        ),
    ]

    ledger.ok("projections", "rebuild")
    assert findings(ledger) == caught_up


def test_a_reversal_is_not_dated_before_what_it_reverses(ledger: Ledger) -> None:
    """Dated before its expenditure, a reversal would credit dates the money was never spent on:
    10,000.00 on 2024-04-10, 10,000.00 more on 2024-05-01, 10,000.00 spent on 2024-05-10 and
    reversed 'on 2024-04-11' would let 15,000.00 be spent on 2024-04-15, 5,000.00 more than the
    grant held that day."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10000", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("disburse", "G1", "--amount", "10000", "--voucher", "T2", "--date", "2024-05-01")
    spend = ["spend", "G1", "--category", "equipment"]
    ledger.ok(*spend, "--amount", "10000", "--voucher", "A", "--date", "2024-05-10")
    reverse = ["reverse", "G1", "--voucher", "A", "--reason", "错账"]
    message = refused(ledger, *reverse, "--date", "2024-04-11", clause="003 第十条")
    assert "2024-04-11" in message and "2024-05-10" in message
    refused(
        ledger, *spend, "--amount", "15000", "--voucher", "C", "--date", "2024-04-15", clause="003 第十条"
    )
    ledger.ok(*reverse, "--date", "2024-05-10")  # on its own date, or later
    assert ledger.balances("B0001")["B0001"]["subsidy_available"] == "20000.00"
    refused(
        ledger, *spend, "--amount", "15000", "--voucher", "C", "--date", "2024-04-15", clause="003 第十条"
    )

    # written below the aggregate, the back-dated reversal is a finding with both dates
    ledger.ok(*spend, "--amount", "1000", "--voucher", "B", "--date", "2024-05-20")
    app = GrantLedger(ledger.url)
    try:
        grant = app.get_grant("G1")
        grant.trigger_event(
            Grant.ExpenditureReversed,
            voucher="B",
            reason="错账",
            amount=Decimal(1000),
            source="subsidy",
            category="equipment",
            content="",
            spent_on=date(2024, 5, 20),
            actor="elsewhere",
            role="officer",
            occurred_on=date(2024, 5, 19),
        )
        save_sealed(app, ledger, grant, actor="elsewhere")
    finally:
        app.close()
    assert findings(ledger) == [
        (
            "reversal date",
            "003 第十条",
            "2024-05-19",
            "a reversal dated 2024-05-19 is before the expenditure of grant G1 it reverses, dated "
            "2024-05-20; date it on or after that",
        )
    ]


def test_a_business_date_after_today_is_refused_and_judged(ledger: Ledger) -> None:
    """DESIGN: business dates after today (Asia/Shanghai) are refused."""
    approved_district_grant(ledger)
    today = datetime.now(timezone(timedelta(hours=8))).date()
    tomorrow = (today + timedelta(days=1)).isoformat()
    for args in (
        ["match", "receive", "G1", "--amount", "100", "--voucher", "M1", "--date", "2099-01-01"],
        ["disburse", "G1", "--amount", "100", "--voucher", "T1", "--date", tomorrow],
    ):
        message = refused(ledger, *args, clause="003 第十条")
        assert "after the day it is recorded" in message and today.isoformat() in message
    ledger.ok("disburse", "G1", "--amount", "100", "--voucher", "T1", "--date", today.isoformat())
    app = GrantLedger(ledger.url)
    try:  # written below the aggregate, a receipt dated ahead is a finding
        grant = app.get_grant("G1")
        who: dict[str, Any] = {"actor": "elsewhere", "role": "officer", "occurred_on": date(2099, 1, 1)}
        grant.trigger_event(Grant.MatchingReceived, amount=Decimal(100), voucher="M1", **who)
        save_sealed(app, ledger, grant, actor="elsewhere")
    finally:
        app.close()
    result = ledger.ok("report", "findings", "--as-of", "2099-12-31", "--format", "json")
    dated = [(f["rule"], f["date"]) for f in json.loads(result.stdout) if f["rule"] == "business date"]
    assert dated == [("business date", "2099-01-01")]


def test_no_act_of_any_kind_is_dated_after_today(sqlite_ledger: Ledger, tmp_path: Any) -> None:
    """Registration and every selection step too, by the command line and by the importer alike:
    refused with the rule and clause, exit 3, nothing written."""
    ledger = sqlite_ledger
    tomorrow = (datetime.now(timezone(timedelta(hours=8))).date() + timedelta(days=1)).isoformat()
    ledger.ok("unit", "register", "U1", "--name", "单位", "--date", "2024-02-01")
    apply = ["grant", "apply", "G1", "--unit", "U1", "--base", "B1", "--programme", "district_base"]
    apply += ["--project", "电工", "--amount", "20万"]
    officer = [
        ["unit", "register", "U2", "--name", "单位二", "--date", tomorrow],
        [*apply, "--date", tomorrow],
    ]
    approver = [
        ["grant", "review", "G1", "--panel", "5", "--recommendation", "recommend", "--date", tomorrow],
        ["grant", "notice", "G1", "--from", "2024-03-11", "--to", "2024-03-15", "--date", tomorrow],
        ["grant", "reject", "G1", "--reason", "名额已满", "--document", "文-1", "--date", tomorrow],
        [
            "grant",
            "approve",
            "G1",
            "--amount",
            "20万",
            "--document",
            "批-1",
            *DISTRICT_BODIES,
            "--date",
            tomorrow,
        ],
    ]
    before = ledger.event_count()
    for args in officer:
        message = refused(ledger, *args, clause="003 第十条")
        assert "after the day it is recorded" in message
    ledger.ok(*apply, "--date", "2024-03-01")
    before = ledger.event_count()
    for args in approver:
        result = ledger(*args, role="approver")
        assert result.exit_code == 3, (args, result.stderr)
        assert "business date" in result.stderr and tomorrow in result.stderr
    assert ledger.event_count() == before
    rows = tmp_path / "ahead.csv"
    rows.write_text(
        "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo\n"
        f"{tomorrow},U9,B9,G9,district_base,approve,200000,,,基地,批-9,单位九,2024-04-01..2026-03-31\n",
        encoding="utf-8",
    )
    result = ledger("import", str(rows), role="approver")
    assert result.exit_code == 3, result.stderr
    assert "ahead.csv:2: grant approve of grant G9 is dated" in result.stderr
    assert ledger.event_count() == before
