"""Selection in order with nothing erased, registered bodies, approving bodies per programme and
an institute's oversight (issue 16 items 11, 12 and 13), through the command line."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, text

from tests.conftest import CITY_BODIES, DISTRICT_BODIES, Ledger, reviewed_by_its_authority
from tests.test_core_rules import refused

A = "approver"


def _topics(ledger: Ledger, topic: str) -> int:
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT COUNT(*) FROM ledger_events WHERE topic = :t"), {"t": topic})
            return int(found.scalar() or 0)
    finally:
        engine.dispose()


def _apply(ledger: Ledger, grant: str, unit: str, programme: str, amount: str, *projects: str) -> None:
    ledger.ok("unit", "register", unit, "--name", f"单位{unit}", "--date", "2024-02-01")
    args = ["grant", "apply", grant, "--unit", unit, "--base", f"B-{grant}", "--programme", programme]
    for p in projects:
        args += ["--project", p]
    ledger.ok(*args, "--amount", amount, "--date", "2024-03-01")


def _review(
    ledger: Ledger, grant: str, verdict: str = "recommend", day: str = "2024-03-08", *extra: str
) -> None:
    ledger.ok(
        "grant", "review", grant, "--panel", "5", "--recommendation", verdict, "--date", day, *extra, role=A
    )


def _approve(grant: str, amount: str, *bodies: str, day: str = "2024-04-01") -> list[str]:
    return [
        "grant",
        "approve",
        grant,
        "--amount",
        amount,
        "--document",
        f"批-{grant}",
        *bodies,
        "--date",
        day,
    ]


# ----------------------------------------------------------------------------- item 11


def test_a_notice_with_objections_is_settled_by_a_document_never_overwritten(ledger: Ledger) -> None:
    _apply(ledger, "G1", "U1", "district_base", "20万", "电工")
    _review(ledger, "G1")
    ledger.ok(
        "grant", "notice", "G1", "--from", "2024-03-11", "--to", "2024-03-15", "--objections", "2", role=A
    )
    # typing the notice again with no objections would erase them: refused, and said how to settle
    message = refused(
        ledger, "grant", "notice", "G1", "--from", "2024-03-11", "--to", "2024-03-15", "--objections", "0",
        role=A, clause="002 五(二)",
    )  # fmt: skip
    assert "2 objection(s)" in message and "grant resolve-objections G1 --document" in message
    assert "drew 2 objection(s)" in refused(ledger, *_approve("G1", "20万", *DISTRICT_BODIES), role=A)
    # an officer does not settle them; nor before the notice began
    refused(ledger, "grant", "resolve-objections", "G1", "--document", "复-1", "--date", "2024-03-20")
    assert "before the notice began" in refused(
        ledger, "grant", "resolve-objections", "G1", "--document", "复-1", "--date", "2024-03-10", role=A
    )
    settled = ledger.ok(
        "grant", "resolve-objections", "G1", "--document", "复-1", "--date", "2024-03-20", role=A
    )
    assert "复-1" in settled.stdout
    again = ledger.ok(
        "grant", "resolve-objections", "G1", "--document", "复-1", "--date", "2024-03-20", role=A
    )
    assert again.stdout.startswith("already recorded")
    other = ledger("grant", "resolve-objections", "G1", "--document", "复-2", "--date", "2024-03-21", role=A)
    assert other.exit_code == 5 and "复-1" in other.stderr
    ledger.ok(*_approve("G1", "20万", *DISTRICT_BODIES), role=A)
    # the notice with its 2 objections is still stored, and so is what settled them
    assert _topics(ledger, "grant-ledger:Grant.NoticeRecorded") == 1
    assert _topics(ledger, "grant-ledger:Grant.ObjectionsResolved") == 1


def test_objections_are_settled_only_where_there_are_some(ledger: Ledger) -> None:
    _apply(ledger, "G1", "U1", "district_base", "20万", "电工")
    assert "no public notice" in refused(
        ledger, "grant", "resolve-objections", "G1", "--document", "复-1", role=A, clause="002 五(二)"
    )
    _review(ledger, "G1")
    ledger.ok("grant", "notice", "G1", "--from", "2024-03-11", "--to", "2024-03-15", role=A)
    assert "drew no objection" in refused(
        ledger, "grant", "resolve-objections", "G1", "--document", "复-1", "--date", "2024-03-20", role=A
    )


def test_a_notice_follows_its_review(ledger: Ledger) -> None:
    _apply(ledger, "G1", "U1", "district_base", "20万", "电工")
    _review(ledger, "G1", day="2024-03-15")
    message = refused(
        ledger, "grant", "notice", "G1", "--from", "2024-03-11", "--to", "2024-03-18", role=A,
        clause="003 第七条(二)",
    )  # fmt: skip
    assert "starts 2024-03-11, before its expert review dated 2024-03-15" in message
    ledger.ok("grant", "notice", "G1", "--from", "2024-03-18", "--to", "2024-03-22", role=A)


def test_a_rejecting_review_is_replaced_only_by_a_rereview_and_kept(ledger: Ledger) -> None:
    _apply(ledger, "G1", "U1", "district_base", "20万", "电工")
    refused(ledger, "grant", "review", "G1", "--panel", "5", "--recommendation", "recommend",
            "--rereview-reason", "复评", "--date", "2024-03-08", role=A, code=2)  # fmt: skip
    _review(ledger, "G1", "reject", "2024-03-08")
    message = refused(
        ledger, "grant", "review", "G1", "--panel", "7", "--recommendation", "recommend",
        "--date", "2024-03-12", role=A, clause="003 第七条(二)",
    )  # fmt: skip
    assert "reject, panel of 5, dated 2024-03-08" in message and "--rereview-reason" in message
    assert "before the review it replaces" in refused(
        ledger, "grant", "review", "G1", "--panel", "7", "--recommendation", "recommend",
        "--rereview-reason", "申诉后复评", "--date", "2024-03-07", role=A,
    )  # fmt: skip
    ledger.ok("grant", "review", "G1", "--panel", "7", "--recommendation", "recommend",
              "--rereview-reason", "申诉后复评", "--date", "2024-03-12", role=A)  # fmt: skip
    assert _topics(ledger, "grant-ledger:Grant.ReviewRecorded") == 2  # the reject review is kept
    ledger.ok("grant", "notice", "G1", "--from", "2024-03-13", "--to", "2024-03-19", role=A)
    ledger.ok(*_approve("G1", "20万", *DISTRICT_BODIES), role=A)  # the latest review decides


def test_a_notice_of_an_earlier_review_does_not_carry_a_rereview(ledger: Ledger) -> None:
    _apply(ledger, "G1", "U1", "district_base", "20万", "电工")
    _review(ledger, "G1")
    ledger.ok("grant", "notice", "G1", "--from", "2024-03-11", "--to", "2024-03-15", role=A)
    ledger.ok("grant", "review", "G1", "--panel", "7", "--recommendation", "recommend",
              "--rereview-reason", "补充材料", "--date", "2024-03-18", role=A)  # fmt: skip
    assert "no public notice" in refused(ledger, *_approve("G1", "20万", *DISTRICT_BODIES), role=A)
    ledger.ok("grant", "notice", "G1", "--from", "2024-03-19", "--to", "2024-03-25", role=A)
    ledger.ok(*_approve("G1", "20万", *DISTRICT_BODIES), role=A)


def test_municipal_approval_needs_a_recommendation_by_a_registered_body(ledger: Ledger) -> None:
    for n in (1, 2, 3):
        _apply(ledger, f"M{n}", f"U{n}", "municipal_base_funded", "50万", "a", "b")
    _review(ledger, "M1")
    ledger.ok("grant", "notice", "M1", "--from", "2024-03-11", "--to", "2024-03-15", role=A)
    message = refused(ledger, *_approve("M1", "50万", *CITY_BODIES), role=A, clause="002 五(一)")
    assert "recommendation" in message
    rec = ["--date", "2024-03-05", "--rank"]
    # free text is no body: a spelling of the bureau not registered is not found
    refused(ledger, "grant", "recommend", "M1", "--by", "渝中区人社局", "--round", "2024", *rec, "1",
            role=A, code=4)  # fmt: skip
    # a finance bureau does not recommend
    refused(ledger, "grant", "recommend", "M1", "--by", "CZ-YZ", "--round", "2024", *rec, "1",
            role=A, clause="002 五(一)")  # fmt: skip
    refused(
        ledger, "grant", "recommend", "M1", "--by", "RS-YZ", "--round", "第二轮", *rec, "1", role=A, code=2
    )
    ledger.ok("grant", "recommend", "M1", "--by", "RS-YZ", "--round", "2024年", *rec, "1", role=A)
    # 2024 and 2024年 are one round: the rank is taken, the quota of 2 counts both
    assert "used [1]" in refused(
        ledger, "grant", "recommend", "M2", "--by", "RS-YZ", "--round", "2024", *rec, "1", role=A
    )
    ledger.ok("grant", "recommend", "M2", "--by", "RS-YZ", "--round", "2024", *rec, "2", role=A)
    assert "at most 2" in refused(
        ledger, "grant", "recommend", "M3", "--by", "RS-YZ", "--round", "2024年", *rec, "3", role=A,
        clause="002 五(一)",
    )  # fmt: skip
    ledger.ok(*_approve("M1", "50万", *CITY_BODIES), role=A)


# ----------------------------------------------------------------------------- the registry


def test_bodies_are_registered_once_by_an_administrator(ledger: Ledger) -> None:
    add = ["body", "add", "RS-NA", "--name", "南岸区人力社保局", "--kind", "district_bureau", "--duty", "hr"]
    refused(ledger, *add, role=A)  # an approver does not write the registry it is judged by
    before = ledger.event_count()
    ledger.ok(*add, role="admin")
    assert ledger.event_count() == before + 2  # the body and its seal
    assert ledger.ok(*add, role="admin").stdout.startswith("already recorded")
    assert ledger.event_count() == before + 2
    renamed = ledger("body", "add", "RS-NA", "--name", "南岸区人社局", "--kind", "district_bureau",
                     "--duty", "hr", role="admin")  # fmt: skip
    assert renamed.exit_code == 5 and "registered once" in renamed.stderr
    twin = ledger("body", "add", "RS-NA2", "--name", "南岸区人力社保局", "--kind", "district_bureau",
                  "--duty", "hr", role="admin")  # fmt: skip
    assert twin.exit_code == 5 and "RS-NA" in twin.stderr
    assert ledger("body", "add", "X", "--name", "某局", "--kind", "bureau", role="admin").exit_code == 2
    no_duty = ledger("body", "add", "X", "--name", "某局", "--kind", "municipal_bureau", role="admin")
    assert no_duty.exit_code == 2 and "--duty" in no_duty.stderr
    assert _topics(ledger, "grant-ledger:Bodies.Added") == 6  # the 5 of the tests' ledger and RS-NA
    listed = {b["code"]: b for b in json.loads(ledger.ok("body", "list", "--format", "json").stdout)}
    assert {k: v for k, v in listed["RS-NA"].items() if k != "on"} == {
        "code": "RS-NA", "name": "南岸区人力社保局", "kind": "district_bureau", "duty": "hr", "district": "",
    }  # fmt: skip
    assert listed["JW-CQ"]["duty"] == "sector"


# ----------------------------------------------------------------------------- item 12


def test_approving_bodies_are_judged_on_every_approval_per_programme(ledger: Ledger) -> None:
    _apply(ledger, "G1", "U1", "district_base", "20万", "电工")
    _review(ledger, "G1")
    ledger.ok("grant", "notice", "G1", "--from", "2024-03-11", "--to", "2024-03-15", role=A)
    message = refused(ledger, *_approve("G1", "20万"), role=A, clause="003 第七条(二)")
    assert "missing 区人力社保局、区财政局" in message
    assert "missing 区财政局" in refused(ledger, *_approve("G1", "20万", "--body", "RS-YZ"), role=A)
    assert "not an approving body" in refused(
        ledger, *_approve("G1", "20万", "--body", "RS-YZ", "--body", "RS-CQ"), role=A, clause="003 第七条(二)"
    )
    refused(ledger, *_approve("G1", "20万", "--body", "RS-YZ", "--body", "区财政局"), role=A, code=4)
    ledger.ok(*_approve("G1", "20万", *DISTRICT_BODIES), role=A)

    _apply(ledger, "G2", "U2", "training_institute", "150万", "焊工", "电工")
    # an institute's selection is its own (000 第十一条), never the district's 003 第七条: first
    # its sector authority's review, then the expert review
    unreviewed = refused(ledger, *_approve("G2", "150万", "--body", "RS-CQ", "--end", "2025-12-31"), role=A,
                         clause="000 第十一条")  # fmt: skip
    assert "sector authority or district HR bureau" in unreviewed and "003" not in unreviewed
    reviewed_by_its_authority(ledger, "G2")
    early = refused(ledger, *_approve("G2", "150万", "--body", "RS-CQ", "--end", "2025-12-31"), role=A,
                    clause="000 第十一条")  # fmt: skip
    assert "no expert review" in early and "003" not in early
    _review(ledger, "G2")
    ledger.ok("grant", "notice", "G2", "--from", "2024-03-11", "--to", "2024-03-15", role=A)
    message = refused(ledger, *_approve("G2", "150万", *DISTRICT_BODIES, "--end", "2025-12-31"), role=A,
                      clause="000 第十一条")  # fmt: skip
    assert "003" not in message and "区财政局审批" not in message
    assert "000 第十一条" in refused(ledger, *_approve("G2", "150万", "--end", "2025-12-31"), role=A)
    ledger.ok(*_approve("G2", "150万", "--body", "RS-CQ", "--end", "2025-12-31"), role=A)

    _apply(ledger, "M1", "U3", "municipal_base_funded", "50万", "a", "b")
    ledger.ok("grant", "recommend", "M1", "--by", "JW-CQ", "--round", "2024", "--rank", "1",
              "--date", "2024-03-05", role=A)  # fmt: skip
    _review(ledger, "M1")
    ledger.ok("grant", "notice", "M1", "--from", "2024-03-11", "--to", "2024-03-15", role=A)
    message = refused(ledger, *_approve("M1", "50万", "--body", "RS-CQ"), role=A, clause="002 六")
    assert "missing 市财政局" in message and "003" not in message
    ledger.ok(*_approve("M1", "50万", *CITY_BODIES), role=A)


# ----------------------------------------------------------------------------- item 13


def _findings(ledger: Ledger, day: str) -> list[dict[str, str]]:
    found = json.loads(ledger.ok("report", "findings", "--as-of", day, "--format", "json").stdout)
    return [f for f in found if f["rule"] == "institute oversight"]


def test_an_institute_closes_only_after_a_third_party_audit_and_a_final_evaluation(ledger: Ledger) -> None:
    _apply(ledger, "G2", "U2", "training_institute", "150万", "焊工", "电工")
    reviewed_by_its_authority(ledger, "G2")
    _review(ledger, "G2")
    ledger.ok("grant", "notice", "G2", "--from", "2024-03-11", "--to", "2024-03-15", role=A)
    ledger.ok(*_approve("G2", "150万", "--body", "RS-CQ", "--end", "2024-12-31"), role=A)
    assert _findings(ledger, "2024-12-31") == []  # not due while the build period runs
    due = _findings(ledger, "2025-01-02")
    assert len(due) == 1 and due[0]["clause"] == "000 第十五条"
    assert "no third-party audit (三方审计) and no final evaluation" in due[0]["message"]
    evaluate = ["evaluate", "G2", "--result", "pass", "--kind"]
    ledger.ok(*evaluate, "final", "--date", "2025-01-03", role=A)
    message = refused(ledger, "grant", "close", "G2", "--date", "2025-01-05", role=A, clause="000 第十五条")
    assert "no third-party audit (三方审计) recorded" in message
    assert "third-party audit" in _findings(ledger, "2025-01-04")[0]["message"]
    ledger.ok(*evaluate, "third_party_audit", "--evaluator", "某会计师事务所", "--date", "2025-01-04", role=A)
    assert _findings(ledger, "2025-01-05") == []
    ledger.ok("grant", "close", "G2", "--date", "2025-01-05", role=A)


def test_an_institute_without_a_final_evaluation_does_not_close(ledger: Ledger) -> None:
    _apply(ledger, "G2", "U2", "training_institute", "150万", "焊工", "电工")
    reviewed_by_its_authority(ledger, "G2")
    _review(ledger, "G2")
    ledger.ok("grant", "notice", "G2", "--from", "2024-03-11", "--to", "2024-03-15", role=A)
    ledger.ok(*_approve("G2", "150万", "--body", "RS-CQ", "--end", "2024-12-31"), role=A)
    ledger.ok(
        "evaluate", "G2", "--kind", "third_party_audit", "--result", "pass", "--date", "2025-01-03", role=A
    )
    message = refused(ledger, "grant", "close", "G2", "--date", "2025-01-05", role=A, clause="000 第十五条")
    assert "no final evaluation (绩效评价)" in message
    assert "final evaluation" in _findings(ledger, "2025-01-04")[0]["message"]
