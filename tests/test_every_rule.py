"""Every rule the catalogue (ledger/catalogue.py) names that no other test refuses by name, refused
through the command line: exit 3, the rule's name and its clause in the one line on stderr, and
nothing written."""

from __future__ import annotations

from pathlib import Path

from click.testing import Result

from commands.cli import cli
from ledger.policy import current_policy
from tests.conftest import (
    CITY_BODIES,
    DISTRICT_BODIES,
    Ledger,
    approved_district_grant,
    reviewed_by_its_authority,
    selected,
)

A = "approver"
HEADER = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"


def cite(key: str) -> str:
    return current_policy().clause(key).cite


def refused_by(ledger: Ledger, rule: str, clause: str, *args: str, role: str = "officer") -> str:
    before = ledger.event_count()
    return judged(ledger, rule, clause, ledger(*args, role=role), before)


def judged(ledger: Ledger, rule: str, clause: str, result: Result, before: int) -> str:
    assert result.exit_code == 3, (rule, result.stdout, result.stderr)
    assert result.stderr.startswith("grant-ledger: ") and result.stderr.count("\n") == 1, result.stderr
    # Breach.describe: "<message> — <rule>, <cite>: “<words>”"
    assert f" — {rule}, {clause}: “" in result.stderr, (rule, clause, result.stderr)
    assert ledger.event_count() == before, f"{rule}: a refused command wrote events"
    return result.stderr


def apply(grant: str, unit: str, programme: str, day: str, *projects: str, amount: str = "") -> list[str]:
    args = ["grant", "apply", grant, "--unit", unit, "--base", f"B-{grant}", "--programme", programme]
    for p in projects:
        args += ["--project", p]
    return [*args, *(["--amount", amount] if amount else []), "--date", day]


def unit(ledger: Ledger, unit_id: str, *extra: str, day: str = "2024-01-02") -> None:
    ledger.ok("unit", "register", unit_id, "--name", f"单位{unit_id}", *extra, "--date", day)


def test_acts_by_the_wrong_role_or_an_unknown_key_are_refused(ledger: Ledger, tmp_path: Path) -> None:
    approved_district_grant(ledger)
    disburse = ["disburse", "G1", "--amount", "1万", "--voucher", "T1", "--date", "2024-04-10"]
    assert "approver role may not record" in refused_by(ledger, "role", cite("roles"), *disburse, role=A)
    from ledger.seal import generate_key

    stranger = tmp_path / "stranger.key"
    generate_key(stranger)
    before = ledger.event_count()
    result = ledger.runner.invoke(
        cli, ["--db", ledger.url, "--key", str(stranger), "--role", "officer", "--lang", "en", *disburse]
    )
    message = judged(ledger, "registered signer", cite("roles"), result, before)
    assert "not the key of anyone registered" in message
    ledger.ok(*disburse)


def test_an_application_is_judged_when_it_is_recorded(ledger: Ledger) -> None:
    for n in (1, 2, 3, 4):
        unit(ledger, f"U{n}", "--kind", "technician_college", day="2023-03-15")
    message = refused_by(
        ledger, "policy in force", cite("institute_in_force"),
        *apply("I1", "U1", "training_institute", "2023-06-20", "焊工", "电工", amount="150万"),
    )  # fmt: skip
    assert "2023-06-21" in message
    message = refused_by(
        ledger, "application round", cite("applications_due"),
        *apply("M1", "U2", "municipal_base_funded", "2024-07-18", "a", "b", amount="50万"),
    )  # fmt: skip
    assert "2024-07-17" in message
    # a district base's count is a condition 003 第六条 asks 原则上: a finding, not a refusal
    ledger.ok(*apply("D1", "U3", "district_base", "2024-03-01", "a", "b", "c", amount="20万"))
    (found,) = flagged(ledger, "projects count", "2024-03-02")
    assert (found["grant_id"], found["clause"]) == ("D1", cite("district_projects"))
    assert "names 1–2 professions or projects" in found["message"] and "this one names 3" in found["message"]
    refused_by(
        ledger, "projects count", cite("national_projects"),
        *apply("N1", "U3", "national_base", "2024-03-01", "a", "b", "c", "d", amount="100万"),
    )  # fmt: skip
    message = refused_by(
        ledger, "requested amount", cite("district_subsidy"),
        *apply("D1", "U3", "district_base", "2024-03-01", "a", amount="200000.01"),
    )  # fmt: skip
    assert "200,000.01" in message
    refused_by(
        ledger, "requested amount", cite("institute_subsidy"),
        *apply("I1", "U4", "training_institute", "2024-03-01", "焊工", "电工", amount="99万"),
    )  # fmt: skip
    # each was refused on its own ground: the same applications, put right, are taken
    ledger.ok(*apply("I1", "U1", "training_institute", "2023-06-21", "焊工", "电工", amount="150万"))
    ledger.ok(*apply("M1", "U2", "municipal_base_funded", "2024-07-17", "a", "b", amount="50万"))
    # D1 is recorded (with its three projects, a finding): typed again as it was, a repeat; with
    # two projects, other content, refused (exit 5) where it had been taken for the same
    again = ledger.ok(*apply("D1", "U3", "district_base", "2024-03-01", "a", "b", "c", amount="20万"))
    assert "already" in again.stdout
    result = ledger(*apply("D1", "U3", "district_base", "2024-03-01", "a", "b", amount="20万"))
    assert result.exit_code == 5 and "grant D1 is already recorded" in result.stderr, result.stderr


def test_one_base_a_level_and_one_institute(ledger: Ledger, tmp_path: Path) -> None:
    unit(ledger, "U1", "--kind", "technician_college", "--national-institute")
    refused_by(
        ledger, "one institute", cite("one_institute"),
        *apply("I1", "U1", "training_institute", "2024-03-01", "焊工", "电工", amount="150万"),
    )  # fmt: skip
    unit(ledger, "U2")
    ledger.ok(*apply("D1", "U2", "district_base", "2024-03-01", "电工", amount="20万"))
    message = refused_by(
        ledger, "one base per level", cite("one_base_per_level"),
        *apply("D2", "U2", "district_base", "2024-03-02", "焊工", amount="20万"),
    )  # fmt: skip
    assert "B-D1" in message
    # a municipal base approved elsewhere (an import's approve row): no district base for its unit
    approved = tmp_path / "approved.csv"
    approved.write_text(
        f"{HEADER}\n2024-05-01,U9,B9,G9,municipal_base_named,approve,0,,,,渝高技办〔2024〕21号,,\n"
    )
    ledger.import_ok(approved)
    message = refused_by(
        ledger, "no district base above municipal", cite("one_district_base"),
        *apply("D9", "U9", "district_base", "2024-05-02", "电工", amount="20万"),
    )  # fmt: skip
    assert "B9" in message
    # and a named-support base is paid nothing
    disburse = ["disburse", "G9", "--amount", "0.01", "--voucher", "T9", "--date", "2024-05-03"]
    assert "no money" in refused_by(ledger, "no subsidy", cite("named_no_subsidy"), *disburse)


def test_recommendations_are_judged(ledger: Ledger) -> None:
    for n in (1, 2, 3):
        unit(ledger, f"U{n}")
        ledger.ok(*apply(f"M{n}", f"U{n}", "municipal_base_funded", "2024-03-01", "a", "b", amount="50万"))
    rec = ["--round", "2024", "--date", "2024-03-05", "--rank"]
    # a finance bureau recommends nothing
    refused_by(ledger, "recommender", cite("recommendation_required"),
               "grant", "recommend", "M1", "--by", "CZ-YZ", *rec, "1", role=A)  # fmt: skip
    # 002 七(二): recommendations are taken 7月18－24日, 逾期不再受理: one dated 07-25 is late
    late = ["--round", "2024", "--date", "2024-07-25", "--rank", "1"]
    message = refused_by(ledger, "recommendation round", cite("applications_due"),
                         "grant", "recommend", "M1", "--by", "RS-YZ", *late, role=A)  # fmt: skip
    assert "2024-07-24" in message and "2024-07-25" in message
    ledger.ok("grant", "recommend", "M1", "--by", "RS-YZ", *rec, "1", role=A)
    refused_by(ledger, "recommendation rank", cite("recommendation_quota"),
               "grant", "recommend", "M2", "--by", "RS-YZ", *rec, "1", role=A)  # fmt: skip
    # 002 五(一) ranks at most 2 ("不超过2个并排序"): rank 3 is refused, unused as it is
    message = refused_by(ledger, "recommendation rank", cite("recommendation_quota"),
                         "grant", "recommend", "M2", "--by", "RS-YZ", *rec, "3", role=A)  # fmt: skip
    assert "from 1 to 2" in message
    ledger.ok("grant", "recommend", "M2", "--by", "RS-YZ", *rec, "2", role=A)
    refused_by(ledger, "recommendation quota", cite("recommendation_quota"),
               "grant", "recommend", "M3", "--by", "RS-YZ", *rec, "3", role=A)  # fmt: skip
    # nor past the quota by naming another year's round (a red-team review got a third one in so)
    other = ["grant", "recommend", "M3", "--by", "RS-YZ", "--round", "2023", "--date", "2024-03-05"]
    message = refused_by(
        ledger, "recommendation round", cite("applications_due"), *other, "--rank", "1", role=A
    )
    assert "names the 2023 round" in message and "its 2024 round" in message
    selected(ledger, "M3")
    approve = ["grant", "approve", "M3", "--amount", "50万", "--document", "批-M3", *CITY_BODIES]
    refused_by(ledger, "recommendation first", cite("recommendation_required"),
               *approve, "--date", "2024-04-01", role=A)  # fmt: skip


def test_the_selection_steps_are_judged(ledger: Ledger) -> None:
    unit(ledger, "U1")
    ledger.ok(*apply("G1", "U1", "district_base", "2024-03-01", "电工", amount="20万"))
    notice = ["grant", "notice", "G1", "--from", "2024-03-11"]
    refused_by(ledger, "selection order", cite("review_order"), *notice, "--to", "2024-03-15", role=A)
    review = ["grant", "review", "G1", "--recommendation", "recommend", "--date", "2024-03-08", "--panel"]
    refused_by(ledger, "expert panel", cite("expert_panel"), *review, "4", role=A)
    refused_by(ledger, "expert panel", cite("expert_panel"), *review, "6", role=A)
    ledger.ok(*review, "5", role=A)
    approve = ["grant", "approve", "G1", "--amount", "20万", "--document", "批-G1", *DISTRICT_BODIES]
    message = refused_by(
        ledger, "selection first", cite("public_notice"), *approve, "--date", "2024-04-01", role=A
    )
    assert "no public notice" in message
    message = refused_by(
        ledger, "public notice", cite("public_notice"), *notice, "--to", "2024-03-14", role=A
    )
    assert "4 working day(s)" in message
    ledger.ok(*notice, "--to", "2024-03-15", role=A)
    resolve = ["grant", "resolve-objections", "G1", "--document", "异议-1", "--date", "2024-03-18"]
    assert "drew no objection" in refused_by(
        ledger, "objections settled", cite("objections"), *resolve, role=A
    )
    ledger.ok(*approve, "--date", "2024-04-01", role=A)


def test_the_approval_is_judged(ledger: Ledger) -> None:
    unit(ledger, "U1")
    ledger.ok(*apply("G1", "U1", "district_base", "2024-03-01", "电工", amount="20万"))
    selected(ledger, "G1")
    approve = ["grant", "approve", "G1", "--document", "批-G1"]
    on = ["--amount", "20万", *DISTRICT_BODIES]
    refused_by(
        ledger, "approval first", cite("approval_first"), *approve, *on, "--date", "2024-02-28", role=A
    )
    refused_by(
        ledger, "subsidy amount", cite("district_subsidy"),
        *approve, "--amount", "19万", *DISTRICT_BODIES, "--date", "2024-04-01", role=A,
    )  # fmt: skip
    refused_by(
        ledger, "build period", cite("district_build_period"),
        *approve, *on, "--end", "2030-12-31", "--date", "2024-04-01", role=A,
    )  # fmt: skip
    message = refused_by(
        ledger, "approving bodies", cite("approval_first"),
        *approve, "--amount", "20万", "--body", "RS-YZ", "--date", "2024-04-01", role=A,
    )  # fmt: skip
    assert "区财政局" in message
    ledger.ok(*approve, *on, "--date", "2024-04-01", role=A)


def test_money_is_judged_by_its_rules(ledger: Ledger) -> None:
    approved_district_grant(ledger)  # 200,000.00 approved 2024-04-01, build period to 2026-03-31
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    message = refused_by(
        ledger, "tranches within approval", cite("district_subsidy"),
        "disburse", "G1", "--amount", "0.01", "--voucher", "T2", "--tranche", "2", "--date", "2024-04-11",
    )  # fmt: skip
    assert "200,000.01" in message
    spend = ["spend", "G1", "--amount", "100", "--date", "2024-05-01", "--voucher"]
    refused_by(ledger, "permitted category", cite("permitted_uses"), *spend, "S1", "--category", "宴请")
    refused_by(ledger, "banned category", cite("banned_uses"), *spend, "S1", "--category", "travel")
    refused_by(
        ledger,
        "ring-fence",
        cite("ring_fence"),
        *spend,
        "S1",
        "--category",
        "equipment",
        "--source",
        "matching",
    )
    late = ["spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", "S1", "--date"]
    refused_by(ledger, "build period", cite("district_build_period"), *late, "2026-04-01")
    refused_by(
        ledger, "recovery within order", cite("supervision"),
        "recover", "receive", "G1", "--amount", "1", "--voucher", "R1", "--date", "2024-05-01",
    )  # fmt: skip
    ledger.ok(*late, "2026-03-31")


def test_the_budget_plan_is_judged(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    adjust = ["grant", "adjust", "G1", "--line", "training_system:地方财政:12万", "--date", "2024-04-12"]
    message = refused_by(ledger, "budget first", cite("budget_plan"), *adjust, "--approval", "批-1", role=A)
    assert "grant budget" in message
    budget = [
        "grant",
        "budget",
        "G1",
        "--date",
        "2024-04-11",
        "--line",
        "cooperation:地方财政:10万",
        "--line",
    ]
    message = refused_by(
        ledger, "budget total", cite("budget_total"), *budget, "training_system:地方财政:100000.01"
    )
    assert "200,000.01" in message
    ledger.ok(*budget, "training_system:地方财政:10万")
    # the rule "approval reference" stands behind the input check: a blank reference is bad input
    # (exit 2) in the command and in an import alike, before the rule could see it
    for blank in ("", " ", "\u3000"):
        before = ledger.event_count()
        result = ledger(*adjust, "--approval", blank, role=A)
        assert result.exit_code == 2 and "--approval" in result.stderr, ("approval reference", result.stderr)
        assert ledger.event_count() == before
    spend = ["spend", "G1", "--category", "equipment", "--date", "2024-05-01", "--voucher", "S1", "--amount"]
    unknown = ["--content", "培训"]
    message = refused_by(ledger, "construction content", cite("budget_plan"), *spend, "100", *unknown)
    assert "'培训' is unknown" in message and "training_system" in message
    refused_by(ledger, "budget line", cite("budget_plan"), *spend, "100")  # no --content
    refused_by(
        ledger, "budget line", cite("budget_plan"), *spend, "100000.01", "--content", "training_system"
    )
    ledger.ok(*spend, "10万", "--content", "training_system")


def test_a_grant_closes_only_when_settled(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    close = ["grant", "close", "G1", "--date", "2026-04-15"]
    refused_by(ledger, "closure: final evaluation", cite("closure"), *close, role=A)
    ledger.ok("evaluate", "G1", "--kind", "final", "--result", "pass", "--date", "2026-04-01", role=A)
    ledger.ok(
        "rectify", "order", "G1", "--ref", "R1", "--finding", "凭证不全", "--deadline", "2026-06-30",
        "--date", "2026-04-02", role=A,
    )  # fmt: skip
    assert "R1" in refused_by(ledger, "closure: rectification", cite("closure"), *close, role=A)
    ledger.ok("rectify", "complete", "G1", "--ref", "R1", "--date", "2026-04-03")
    ledger.ok(
        "recover", "order", "G1", "--amount", "5000", "--reason", "凭证不全", "--document", "追1",
        "--date", "2026-04-03", role=A,
    )  # fmt: skip
    refused_by(ledger, "closure: recoveries", cite("closure"), *close, role=A)
    ledger.ok("recover", "receive", "G1", "--amount", "5000", "--voucher", "R-1", "--date", "2026-04-04")
    assert "195,000.00" in refused_by(ledger, "closure: balance", cite("ring_fence"), *close, role=A)
    said = refused_by(
        ledger, "ring-fence", cite("ring_fence"), "dispose", "G1", "--source", "subsidy", "--amount",
        "195000.01", "--how", "returned", "--approval", "批-0", "--date", "2026-04-10",
    )  # fmt: skip
    assert "disposing of 195,000.01 from the subsidy" in said and "spending" not in said, said
    ledger.ok(
        "dispose", "G1", "--source", "subsidy", "--amount", "195000", "--how", "returned",
        "--approval", "批-1", "--date", "2026-04-10",
    )  # fmt: skip
    ledger.ok(*close, role=A)
    refused_by(
        ledger, "grant closed", cite("ring_fence"),
        "match", "receive", "G1", "--amount", "1", "--voucher", "M9", "--date", "2026-04-16",
    )  # fmt: skip


def test_a_closure_is_dated_on_or_after_every_act_it_settles(ledger: Ledger) -> None:
    """A red-team review closed a grant on 2024-05-01 whose spending ran into 2025 and whose final
    evaluation was dated 2026: the grant stood closed while its money still moved."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("evaluate", "G1", "--kind", "final", "--result", "pass", "--date", "2026-04-01", role=A)
    ledger.ok(
        "dispose", "G1", "--source", "subsidy", "--amount", "200000", "--how", "returned",
        "--approval", "批-1", "--date", "2026-04-10",
    )  # fmt: skip
    for early in ("2024-05-01", "2026-04-05"):
        said = refused_by(
            ledger, "closure date", cite("closure"), "grant", "close", "G1", "--date", early, role=A
        )
        assert f"would close on {early}, before its act of 2026-04-10" in said
    ledger.ok("grant", "close", "G1", "--date", "2026-04-10", role=A)


def test_a_rectification_is_completed_on_or_after_its_order(ledger: Ledger) -> None:
    """A completion dated before its order counted as on time, whatever its deadline."""
    approved_district_grant(ledger)
    ledger.ok(
        "rectify", "order", "G1", "--ref", "R2", "--finding", "凭证不全", "--deadline", "2025-09-30",
        "--date", "2025-09-01", role=A,
    )  # fmt: skip
    said = refused_by(
        ledger, "rectification date", cite("supervision"), "rectify", "complete", "G1", "--ref", "R2",
        "--date", "2024-05-01",
    )  # fmt: skip
    assert "before it was ordered on 2025-09-01" in said
    ledger.ok("rectify", "complete", "G1", "--ref", "R2", "--date", "2025-09-01")


def test_a_recovery_is_received_on_or_after_its_first_order(ledger: Ledger) -> None:
    """A receipt dated before any order was taken, and then settled a later order."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(
        "recover", "order", "G1", "--amount", "5000", "--reason", "凭证不全", "--document", "追1",
        "--date", "2025-03-01", role=A,
    )  # fmt: skip
    receive = ["recover", "receive", "G1", "--amount", "5000", "--voucher", "R-1", "--date"]
    said = refused_by(ledger, "recovery date", cite("supervision"), *receive, "2025-02-28")
    assert "received on 2025-02-28" in said and "2025-03-01" in said
    # an order dated earlier, recorded later, is the first order
    ledger.ok(
        "recover", "order", "G1", "--amount", "1000", "--reason", "凭证不全", "--document", "追0",
        "--date", "2025-02-01", role=A,
    )  # fmt: skip
    refused_by(ledger, "recovery date", cite("supervision"), *receive, "2025-01-31")
    # on 2025-02-01 only the 1,000.00 ordered that day may be received: the rest answers the
    # order of 2025-03-01
    said = refused_by(ledger, "recovery date", cite("supervision"), *receive, "2025-02-01")
    assert "5,000.00" in said and "1,000.00" in said, said
    ledger.ok("recover", "receive", "G1", "--amount", "1000", "--voucher", "R-1", "--date", "2025-02-01")
    ledger.ok("recover", "receive", "G1", "--amount", "5000", "--voucher", "R-2", "--date", "2025-03-01")
    assert "194000.00" in ledger.ok("balance", "--format", "json").stdout


def test_the_recoveries_received_by_any_day_stay_within_the_orders_dated_by_that_day(ledger: Ledger) -> None:
    """Within every order taken together and after the first one, a receipt still may not answer
    an order dated after it: not at its own date, nor at any later date whose receipts it joins."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    for document, amount, day in (("追1", "3000", "2025-03-01"), ("追2", "2000", "2025-05-01")):
        ledger.ok(
            "recover", "order", "G1", "--amount", amount, "--reason", "凭证不全", "--document", document,
            "--date", day, role=A,
        )  # fmt: skip

    def receive(voucher: str, amount: str, day: str) -> list[str]:
        return ["recover", "receive", "G1", "--amount", amount, "--voucher", voucher, "--date", day]

    ledger.ok(*receive("R-1", "3000", "2025-04-01"))
    # 5,000.00 ordered in all and 3,000.00 received: 2,000.00 more fits the total, but only
    # 3,000.00 had been ordered by 2025-04-15, and all of it was received by then
    said = refused_by(ledger, "recovery date", cite("supervision"), *receive("R-2", "2000", "2025-04-15"))
    assert "2025-04-15" in said and "2,000.00" in said and "0.00" in said, said
    # dated 2025-03-15, 1,000.00 fits what was owed that day (3,000.00 ordered, nothing received),
    # but the receipt of 2025-04-01 had answered all 3,000.00 by then: it would be 4,000.00
    said = refused_by(ledger, "recovery date", cite("supervision"), *receive("R-2", "1000", "2025-03-15"))
    assert "2025-03-15" in said, said
    ledger.ok(*receive("R-2", "2000", "2025-05-01"))
    assert "195000.00" in ledger.ok("balance", "--format", "json").stdout


def test_an_institute_closes_only_overseen_and_is_flagged_once_due(ledger: Ledger) -> None:
    from tests.test_programme_rules import findings

    unit(ledger, "U1", "--kind", "technician_college")
    ledger.ok(*apply("G1", "U1", "training_institute", "2024-03-01", "焊工", "电工", amount="150万"))
    selected(ledger, "G1")
    approve = ["grant", "approve", "G1", "--amount", "150万", "--document", "渝人社〔2024〕96号",
               "--body", "RS-CQ", "--end", "2026-03-31", "--date", "2024-04-01"]  # fmt: skip
    # not before its sector authority or district HR bureau has reviewed it (000 第十一条)
    message = refused_by(
        ledger, "review by its authority first", cite("institute_approval"), *approve, role=A
    )
    assert "grant recommend" in message
    reviewed_by_its_authority(ledger, "G1")
    ledger.ok(*approve, role=A)
    ledger.ok("evaluate", "G1", "--kind", "final", "--result", "pass", "--date", "2026-04-01", role=A)
    close = ["grant", "close", "G1", "--date", "2026-04-15"]
    message = refused_by(ledger, "institute oversight", cite("institute_closure"), *close, role=A)
    assert "no third-party audit" in message and "final evaluation" not in message.split(" — ")[0]
    assert [f["rule"] for f in findings(ledger, "2026-03-31") if f["rule"] == "institute oversight"] == []
    (due,) = [f for f in findings(ledger, "2026-04-15") if f["rule"] == "institute oversight"]
    assert due["clause"] == cite("institute_closure") and "third-party audit" in due["message"]
    ledger.ok(
        "evaluate", "G1", "--kind", "third_party_audit", "--result", "pass", "--date", "2026-04-02", role=A
    )
    assert [f for f in findings(ledger, "2026-04-15") if f["rule"] == "institute oversight"] == []


def test_the_registry_and_the_policy_data_refuse_by_their_own_rules(ledger: Ledger, tmp_path: Path) -> None:
    # people: the registry's own rule (a name registered once), exit 3, nothing written
    before = ledger.event_count()
    pub = ledger.key("officer").with_suffix(".pub")
    again = ledger("people", "add", "另一人", "--role", "officer", "--public-key", str(pub), role="admin")
    assert again.exit_code == 3 and "already" in again.stderr and ledger.name() in again.stderr, again.stderr
    assert again.stderr.count("\n") == 1 and ledger.event_count() == before
    # policy install: a file listing a year the ledger holds otherwise changes verdicts given
    clash = tmp_path / "clash.toml"
    clash.write_text('[calendar."2024"]\ndays_off = [2024-01-01]\nworkdays = []\n', encoding="utf-8")
    installed = ledger("policy", "install", str(clash), role="admin")
    assert installed.exit_code == 3 and "2024" in installed.stderr and "never changed" in installed.stderr
    assert installed.stderr.count("\n") == 1 and ledger.event_count() == before


def flagged(ledger: Ledger, rule: str, day: str) -> list[dict[str, str]]:
    from tests.test_programme_rules import findings

    return [f for f in findings(ledger, day) if f["rule"] == rule]


def test_what_an_application_declares_and_who_applies_are_findings_not_refusals(ledger: Ledger) -> None:
    unit(ledger, "U1", "--kind", "enterprise")
    declared = ["--trained", "850", "--advanced", "166", "--capacity", "300"]
    ledger.ok(*apply("G1", "U1", "district_base", "2024-03-01", "电工", amount="20万")[:-2], *declared,
              "--date", "2024-03-01")  # fmt: skip
    (found,) = flagged(ledger, "application condition", "2024-03-02")
    assert (found["grant_id"], found["clause"], found["date"]) == ("G1", cite("district_scale"), "2024-03-01")
    assert "166 per trained 850 (19.53%)" in found["message"]  # exact: 19.53% is below 20%
    unit(ledger, "U2", "--kind", "enterprise")
    ledger.ok(*apply("I2", "U2", "training_institute", "2024-03-01", "焊工", "电工", amount="150万"))
    unit(ledger, "U3", "--kind", "senior_technical_school")
    ledger.ok(*apply("I3", "U3", "training_institute", "2024-03-01", "焊工", "电工", amount="150万"))
    hosts = flagged(ledger, "host unit", "2024-03-02")
    assert [(f["grant_id"], f["clause"]) for f in hosts] == [("I2", cite("institute_host"))]
    assert "enterprise" in hosts[0]["message"]


def test_an_output_below_its_target_is_a_finding_from_the_year_the_target_runs(ledger: Ledger) -> None:
    approved_district_grant(ledger)  # built from 2024-04-01: 500 high-skill a year from two years on
    # each year's report dated in its year (a year not yet begun is refused)
    report = ["output", "report", "G1", "--trainees", "700", "--advanced", "499"]
    ledger.ok(*report, "--year", "2025", "--date", "2025-06-30")
    assert flagged(ledger, "output target", "2026-06-30") == []
    ledger.ok(*report, "--year", "2026", "--date", "2026-06-30")
    (found,) = flagged(ledger, "output target", "2026-06-30")
    assert found["clause"] == cite("district_outputs_after")
    assert found["message"] == "grant G1 reported advanced 499 for 2026, below the target 500"


def test_stored_money_that_breaks_a_rule_is_a_finding(ledger: Ledger) -> None:
    """History written below the aggregate (an older version, another writer): each act the command
    would refuse is a finding of the same rule and clause, on the act's date."""
    from datetime import date
    from decimal import Decimal

    from ledger.grant import Grant
    from tests.test_one_rulebook import plant_event

    approved_district_grant(ledger)  # 200,000.00, build period 2024-04-01 .. 2026-03-31
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    officer = {"actor": "elsewhere", "role": "officer"}
    plant_event(ledger, Grant.SubsidyDisbursed, amount=Decimal("0.01"), voucher="T2", tranche=2,
                occurred_on=date(2024, 4, 11), **officer)  # fmt: skip
    spend = {"source": "subsidy", "content": "", "project": "", "payee": "", "memo": "", "attachments": []}
    plant_event(ledger, Grant.ExpenditureRecorded, amount=Decimal(100), category="nonsense", voucher="S1",
                occurred_on=date(2024, 5, 1), **spend, **officer)  # fmt: skip
    plant_event(ledger, Grant.ExpenditureRecorded, amount=Decimal(100), category="equipment", voucher="S2",
                occurred_on=date(2026, 4, 1), **spend, **officer)  # fmt: skip
    plant_event(
        ledger, Grant.Closed, document="结-1", occurred_on=date(2026, 4, 2), actor="elsewhere", role=A
    )
    plant_event(ledger, Grant.ExpenditureRecorded, amount=Decimal(100), category="equipment", voucher="S3",
                occurred_on=date(2026, 4, 3), **spend, **officer)  # fmt: skip
    from tests.test_programme_rules import findings

    found = [
        (f["rule"], f["clause"], f["date"])
        for f in findings(ledger, "2026-06-30")
        if f["rule"] in ("tranches within approval", "permitted category", "build period", "grant closed")
    ]
    assert found == [
        ("tranches within approval", cite("district_subsidy"), "2024-04-11"),
        ("permitted category", cite("permitted_uses"), "2024-05-01"),
        ("build period", cite("district_build_period"), "2026-04-01"),
        ("grant closed", cite("ring_fence"), "2026-04-03"),
    ]


def plant(ledger: Ledger, grant_id: str, event: type, **fields: object) -> None:
    """An event of ``grant_id`` written below the aggregate, none of its rules asked."""
    from ledger.application import GrantLedger
    from tests.signing import save_sealed

    app = GrantLedger(ledger.url)
    try:
        grant = app.get_grant(grant_id)
        grant.trigger_event(event, **fields)
        save_sealed(app, ledger, grant, actor=str(fields["actor"]), role=str(fields["role"]))
    finally:
        app.close()


def test_stored_approvals_and_disposals_that_break_a_rule_are_findings(
    ledger: Ledger, tmp_path: Path
) -> None:
    from datetime import date
    from decimal import Decimal

    from ledger.grant import Grant

    approver = {"actor": "elsewhere", "role": A}
    # an approval of 190,000.00 for a district base, whose subsidy is 200,000.00 exactly
    unit(ledger, "U2")
    ledger.ok(*apply("G2", "U2", "district_base", "2024-03-01", "电工", amount="20万"))
    selected(ledger, "G2")
    plant(ledger, "G2", Grant.Approved, amount=Decimal(190000), document="批-G2", bodies=["RS-YZ", "CZ-YZ"],
          build_start=date(2024, 4, 1), build_end=date(2026, 3, 31), occurred_on=date(2024, 4, 1),
          **approver)  # fmt: skip
    # a named-support base, approved elsewhere with no money, paid a tranche
    approved = tmp_path / "approved.csv"
    approved.write_text(
        f"{HEADER}\n2024-05-01,U9,B9,G9,municipal_base_named,approve,0,,,,渝高技办〔2024〕21号,,\n"
    )
    ledger.import_ok(approved)
    plant(ledger, "G9", Grant.SubsidyDisbursed, amount=Decimal(1000), voucher="T9", tranche=1,
          occurred_on=date(2024, 5, 2), actor="elsewhere", role="officer")  # fmt: skip
    # the subsidy disposed of while an ordered recovery is still owed
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("recover", "order", "G1", "--amount", "5000", "--reason", "凭证不全", "--document", "追1",
              "--date", "2024-05-01", role=A)  # fmt: skip
    plant(ledger, "G1", Grant.BalanceDisposed, source="subsidy", amount=Decimal(200000), how="returned",
          approval="批-1", occurred_on=date(2024, 5, 3), actor="elsewhere", role="officer")  # fmt: skip
    from tests.test_programme_rules import findings

    rules = ("subsidy amount", "no subsidy", "recoveries before disposal")
    found = [
        (f["grant_id"], f["rule"], f["clause"], f["date"]) for f in findings(ledger) if f["rule"] in rules
    ]
    assert sorted(found) == [
        ("G1", "recoveries before disposal", cite("closure"), "2024-05-03"),
        ("G2", "subsidy amount", cite("district_subsidy"), "2024-04-01"),
        ("G9", "no subsidy", cite("named_no_subsidy"), "2024-05-02"),
    ]
