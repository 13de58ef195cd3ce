"""One list of rules per act: what the aggregate refuses at command time is what the compliance
judge flags in stored history (history imported from elsewhere, or written by an older version).
"""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import GrantLedger
from ledger.errors import RuleViolationError
from ledger.grant import Grant
from ledger.policy import policy_in_force
from projections.judge import JudgedGrant, first_breach
from projections.records import StoredRecord
from tests.conftest import Ledger, approved_district_grant
from tests.signing import save_sealed
from tests.test_core_rules import refused


def plant_event(ledger: Ledger, event: Any, **fields: Any) -> None:
    """An event written below the aggregate, with none of its rules asked."""
    app = GrantLedger(ledger.url)
    try:
        grant = app.get_grant("G1")
        grant.trigger_event(event, **fields)
        save_sealed(app, ledger, grant, actor=fields["actor"], role=fields["role"])
    finally:
        app.close()


def plant_spend(ledger: Ledger, voucher: str, amount: str, content: str, on: date) -> None:
    plant_event(
        ledger,
        Grant.ExpenditureRecorded,
        amount=Decimal(amount),
        category="equipment",
        source="subsidy",
        content=content,
        project="",
        voucher=voucher,
        payee="",
        memo="",
        attachments=[],
        actor="elsewhere",
        role="officer",
        occurred_on=on,
    )


def findings(ledger: Ledger) -> list[dict[str, str]]:
    result = ledger.ok("report", "findings", "--as-of", "2024-06-01", "--format", "json")
    return [f for f in json.loads(result.stdout) if f["rule"] != "matching 1:1"]


def test_a_stored_spend_beyond_its_budget_line_is_a_finding(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("grant", "budget", "G1", "--line", "training_system:地方财政:10万", "--date", "2024-04-11")
    spend = ["spend", "G1", "--category", "equipment", "--content", "training_system"]
    ledger.ok(*spend, "--amount", "9万", "--voucher", "S1", "--date", "2024-05-01")
    # the command refuses the act that the line cannot take...
    refused(
        ledger,
        *spend,
        "--amount",
        "1.5万",
        "--voucher",
        "S2",
        "--date",
        "2024-05-02",
        clause="003 第十条(一)",
    )
    assert findings(ledger) == []
    # ...and the same act, written below the aggregate, is a finding with its clause and numbers
    plant_spend(ledger, "S2", "15000.00", "training_system", date(2024, 5, 2))
    found = findings(ledger)
    assert [(f["base_id"], f["grant_id"], f["rule"], f["clause"], f["date"]) for f in found] == [
        ("B0001", "G1", "budget line", "003 第十条(一)", "2024-05-02")
    ]
    assert "105,000.00" in found[0]["message"] and "100,000.00" in found[0]["message"]
    # an approved adjustment raises the line: the judge counts it, as the command does
    ledger.ok(
        "grant",
        "adjust",
        "G1",
        "--line",
        "training_system:地方财政:12万",
        "--approval",
        "批-1",
        "--date",
        "2024-05-03",
        role="approver",
    )
    plant_spend(ledger, "S3", "10000.00", "training_system", date(2024, 5, 4))
    assert [f["rule"] for f in findings(ledger)] == ["budget line"]
    # beyond the adjusted line again: flagged again
    plant_spend(ledger, "S4", "5000.01", "training_system", date(2024, 5, 5))
    assert [(f["rule"], f["date"]) for f in findings(ledger)] == [
        ("budget line", "2024-05-02"),
        ("budget line", "2024-05-05"),
    ]


def test_the_ring_fence_holds_at_every_later_date(ledger: Ledger) -> None:
    """A spend dated before the tranche that would pay it overdraws the subsidy at its date."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "5万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("disburse", "G1", "--amount", "5万", "--voucher", "T2", "--date", "2024-05-10")
    spend = ["spend", "G1", "--category", "equipment"]
    ledger.ok(*spend, "--amount", "4万", "--voucher", "S1", "--date", "2024-04-20")
    # 10万 received in all, but on 2024-04-21 only 1万 is left until the second tranche
    message = refused(
        ledger, *spend, "--amount", "2万", "--voucher", "S2", "--date", "2024-04-21", clause="003 第十条"
    )
    assert "10,000.00" in message
    ledger.ok(*spend, "--amount", "2万", "--voucher", "S2", "--date", "2024-05-10")  # acts of one date net
    # a spend dated before S1 may not take the money S1 already spent
    refused(
        ledger, *spend, "--amount", "1.5万", "--voucher", "S3", "--date", "2024-04-15", clause="003 第十条"
    )
    ledger.ok(*spend, "--amount", "1万", "--voucher", "S3", "--date", "2024-04-15")
    plant_spend(ledger, "S4", "5000.00", "", date(2024, 4, 12))
    found = findings(ledger)
    assert [(f["rule"], f["clause"], f["date"]) for f in found] == [
        ("ring-fence", "003 第十条", "2024-04-12")
    ]
    assert "0.00" in found[0]["message"]


def test_other_acts_are_judged_by_their_own_rules(ledger: Ledger) -> None:
    """Not only spending: a recovery ordered beyond the subsidy received, an evaluation recorded
    by an officer, an output report dated before the approval — each refused by the command and
    each a finding when stored."""
    approved_district_grant(ledger)  # approved 2024-04-01
    ledger.ok("disburse", "G1", "--amount", "5万", "--voucher", "T1", "--date", "2024-04-10")
    order = ["recover", "order", "G1", "--amount", "6万", "--reason", "违规", "--document", "追-1"]
    refused(ledger, *order, "--date", "2024-05-01", role="approver", clause="003 第十三条")
    evaluation = ["evaluate", "G1", "--kind", "mid_term", "--result", "pass", "--date", "2024-05-02"]
    refused(ledger, *evaluation, role="officer", clause="003 第五条")
    output = ["output", "report", "G1", "--year", "2024", "--trainees", "900", "--date", "2024-03-30"]
    refused(ledger, *output, "--advanced", "200", clause="003 第七条")
    who = {"actor": "elsewhere", "role": "approver"}
    plant_event(
        ledger,
        Grant.RecoveryOrdered,
        amount=Decimal("60000.00"),
        reason="违规",
        document="追-1",
        occurred_on=date(2024, 5, 1),
        **who,
    )
    plant_event(
        ledger,
        Grant.EvaluationRecorded,
        kind="mid_term",
        result="pass",
        evaluator="",
        summary="",
        occurred_on=date(2024, 5, 2),
        **{**who, "role": "officer"},
    )
    plant_event(
        ledger,
        Grant.OutputReported,
        year=2024,
        trainees=900,
        advanced=200,
        evaluations=0,
        advanced_evaluations=0,
        occurred_on=date(2024, 3, 30),
        **{**who, "role": "officer"},
    )
    found = findings(ledger)
    assert [(f["rule"], f["clause"], f["date"]) for f in found] == [
        ("recovery within order", "003 第十三条", "2024-05-01"),
        ("role", "003 第五条", "2024-05-02"),
        ("approval first", approval_first_clause(ledger), "2024-03-30"),
    ]
    assert "60,000.00" in found[0]["message"] and "50,000.00" in found[0]["message"]
    assert "officer" in found[1]["message"] and "evaluate" in found[1]["message"]


def test_a_recovery_stored_before_its_order_is_a_finding(ledger: Ledger) -> None:
    """The command refuses a receipt dated before the first order (test_every_rule); one stored
    below the command is the judge's finding, by the same rule."""
    approved_district_grant(ledger)  # approved 2024-04-01
    ledger.ok("disburse", "G1", "--amount", "5万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(
        "recover", "order", "G1", "--amount", "3万", "--reason", "违规", "--document", "追-1",
        "--date", "2024-05-10", role="approver",
    )  # fmt: skip
    refused(
        ledger, "recover", "receive", "G1", "--amount", "1万", "--voucher", "R-1", "--date", "2024-05-09",
        clause="003 第十三条",
    )  # fmt: skip
    plant_event(
        ledger,
        Grant.FundsRecovered,
        amount=Decimal("10000.00"),
        voucher="R-1",
        occurred_on=date(2024, 5, 9),
        actor="elsewhere",
        role="officer",
    )
    found = findings(ledger)
    assert [(f["rule"], f["clause"], f["date"]) for f in found] == [
        ("recovery date", "003 第十三条", "2024-05-09")
    ]
    assert "2024-05-10" in found[0]["message"]


def test_a_recovery_stored_ahead_of_the_order_it_answers_is_a_finding(ledger: Ledger) -> None:
    """Received after the first order and within all the orders, but ahead of the later order it
    answers: refused by the command (test_every_rule), and the judge's finding when stored below
    it; a receipt that the orders dated by then cover is neither."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "5万", "--voucher", "T1", "--date", "2024-04-10")
    for document, amount, day in (("追-1", "1万", "2024-05-10"), ("追-2", "2万", "2024-07-01")):
        ledger.ok(
            "recover", "order", "G1", "--amount", amount, "--reason", "违规", "--document", document,
            "--date", day, role="approver",
        )  # fmt: skip
    ledger.ok("recover", "receive", "G1", "--amount", "1万", "--voucher", "R-1", "--date", "2024-05-20")
    refused(
        ledger, "recover", "receive", "G1", "--amount", "5000", "--voucher", "R-2", "--date", "2024-06-01",
        clause="003 第十三条",
    )  # fmt: skip
    assert findings(ledger) == []
    plant_event(
        ledger,
        Grant.FundsRecovered,
        amount=Decimal("5000.00"),
        voucher="R-2",
        occurred_on=date(2024, 6, 1),
        actor="elsewhere",
        role="officer",
    )
    found = findings(ledger)
    assert [(f["rule"], f["clause"], f["date"]) for f in found] == [
        ("recovery date", "003 第十三条", "2024-06-01")
    ]
    assert "5,000.00" in found[0]["message"] and "2024-06-01" in found[0]["message"]


def approval_first_clause(ledger: Ledger) -> str:
    return policy_in_force(date(2024, 4, 1)).clause("approval_first").cite


# ---------------------------------------------------------------------------- the property

MAPPER = GrantLedger("sqlite:///:memory:").mapper
APPROVED_ON = date(2024, 4, 1)  # the build period runs 2024-04-01 .. 2026-03-31
CATEGORIES = ["equipment", "equipment", "materials", "原材料消耗", "travel", "差旅费", "labour", "nonsense"]
CONTENTS = ["training_system", "cooperation", ""]
BUDGET_LINE_KEYS = ["training_system/local_finance", "cooperation/local_finance", "training_system/industry"]

days = st.integers(-20, 800).map(lambda n: APPROVED_ON + timedelta(days=n))
amounts = st.integers(1, 12_000_000).map(lambda fen: Decimal(fen) / 100)
spends = st.fixed_dictionaries(
    {
        "kind": st.just("spend"),
        "amount": st.integers(1, 2_000_000).map(lambda fen: Decimal(fen) / 100),
        "category": st.sampled_from(CATEGORIES),
        "source": st.sampled_from(["subsidy", "matching"]),
        "content": st.sampled_from(CONTENTS),
        "on": days,
        "role": st.sampled_from(["officer", "officer", "officer", "approver"]),
    }
)
receipts = st.fixed_dictionaries(
    {"kind": st.sampled_from(["disburse", "match receive"]), "amount": amounts, "on": days}
)
recoveries = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["recover order", "recover receive", "dispose"]),
        "amount": st.integers(1, 5_000_000).map(lambda fen: Decimal(fen) / 100),
        "source": st.sampled_from(["subsidy", "matching"]),
        "on": days,
    }
)
budgets = st.dictionaries(
    st.sampled_from(BUDGET_LINE_KEYS), st.integers(0, 80_000).map(lambda y: Decimal(y)), max_size=3
)


def record(event: Any) -> tuple[str, dict[str, Any]]:
    stored = MAPPER.to_stored_event(event)
    return stored.topic.rsplit(".", 1)[1], json.loads(stored.state)


def approved_grant() -> tuple[Grant, JudgedGrant]:
    grant = Grant.create(
        grant_id="G1",
        unit_id="U1",
        base_id="B0001",
        base_name="基地",
        programme="district_base",
        level="district",
        projects=["电工"],
        requested=Decimal(200000),
        on=date(2024, 3, 1),
        actor="t",
        role="officer",
    )
    policy = policy_in_force(APPROVED_ON)
    grant.approve(
        amount=Decimal(200000),
        document="批",
        bodies=list(policy.programme("district_base").approving_bodies),
        build_start=None,
        build_end=None,
        on=APPROVED_ON,
        actor="a",
        role="approver",
        policy=policy,
        imported=True,
    )
    events = grant.collect_events()
    kind, data = record(events[0])
    judged = JudgedGrant.applied(StoredRecord(1, grant.id.hex, 1, f"grant-ledger:Grant.{kind}", data))
    for event in events[1:]:
        judged.advance(*record(event))
    return grant, judged


def plant(grant: Grant, act: dict[str, Any], voucher: str) -> Any:
    """The act's event, triggered below the rules."""
    who = {"actor": "t", "role": act.get("role", "officer"), "occurred_on": act["on"]}
    if act["kind"] == "disburse":
        grant.trigger_event(Grant.SubsidyDisbursed, amount=act["amount"], voucher=voucher, tranche=1, **who)
    elif act["kind"] == "match receive":
        grant.trigger_event(Grant.MatchingReceived, amount=act["amount"], voucher=voucher, **who)
    elif act["kind"] == "recover order":
        who["role"] = "approver"
        grant.trigger_event(Grant.RecoveryOrdered, amount=act["amount"], reason="r", document=voucher, **who)
    elif act["kind"] == "recover receive":
        grant.trigger_event(Grant.FundsRecovered, amount=act["amount"], voucher=voucher, **who)
    elif act["kind"] == "dispose":
        grant.trigger_event(
            Grant.BalanceDisposed,
            source=act["source"],
            amount=act["amount"],
            how="returned",
            approval=voucher,
            **who,
        )
    else:
        found = policy_in_force(act["on"]).find_category(act["category"])
        grant.trigger_event(
            Grant.ExpenditureRecorded,
            amount=act["amount"],
            category=found.code if found is not None else act["category"],
            source=act["source"],
            content=act["content"],
            project="",
            voucher=voucher,
            payee="",
            memo="",
            attachments=[],
            **who,
        )
    return grant.collect_events()[-1]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    budget=budgets,
    first=st.lists(receipts, min_size=1, max_size=3),
    then=st.lists(st.one_of(spends, spends, receipts, recoveries), min_size=1, max_size=25),
)
def test_the_aggregate_refuses_what_the_judge_flags(
    budget: dict[str, Decimal], first: list[dict[str, Any]], then: list[dict[str, Any]]
) -> None:
    """For every act of a random sequence (spending, receipts, recoveries, disposals): the
    aggregate refuses it by rule R iff the judge, on the same history with the act planted,
    flags it by R first; accepted acts join the history."""
    grant, judged = approved_grant()
    if budget:
        grant.register_budget(
            lines=budget, on=APPROVED_ON, actor="t", role="officer", policy=policy_in_force(APPROVED_ON)
        )
        judged.advance(*record(grant.collect_events()[0]))
    for n, act in enumerate(first + then):
        on, voucher = act["on"], f"V{n}"
        policy = policy_in_force(on)
        who = {"on": on, "actor": "t", "policy": policy}
        planted = copy.deepcopy(grant)
        try:
            if act["kind"] == "disburse":
                grant.disburse(amount=act["amount"], voucher=voucher, tranche=1, role="officer", **who)
            elif act["kind"] == "match receive":
                grant.receive_matching(amount=act["amount"], voucher=voucher, role="officer", **who)
            elif act["kind"] == "recover order":
                grant.order_recovery(
                    amount=act["amount"], reason="r", document=voucher, role="approver", **who
                )
            elif act["kind"] == "recover receive":
                grant.receive_recovery(amount=act["amount"], voucher=voucher, role="officer", **who)
            elif act["kind"] == "dispose":
                grant.dispose(
                    source=act["source"],
                    amount=act["amount"],
                    how="returned",
                    approval=voucher,
                    role="officer",
                    **who,
                )
            else:
                grant.spend(
                    amount=act["amount"],
                    category=act["category"],
                    source=act["source"],
                    content=act["content"],
                    project="",
                    voucher=voucher,
                    payee="",
                    memo="",
                    attachments=[],
                    role=act["role"],
                    **who,
                )
            refused_by = None
        except RuleViolationError as e:
            refused_by = e.rule
        kind, data = record(plant(planted, act, voucher))
        breach = first_breach(judged, kind, data)
        assert (breach.rule if breach else None) == refused_by, (act, breach, refused_by)
        new = grant.collect_events()
        assert (refused_by is None) == bool(new)
        for event in new:
            judged.advance(*record(event))
