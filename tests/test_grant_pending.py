"""grant pending: what waits for an approver's act, on any day — each selection's next step in the
order the seeds set, objections to settle, approval after the notice, overdue rectifications —
and nothing once it is done."""

from __future__ import annotations

import json

from tests.conftest import DISTRICT_BODIES, Ledger, approved_district_grant, register_bodies


def _waiting(ledger: Ledger, day: str) -> list[tuple[str, str, str | None]]:
    shown = json.loads(ledger.ok("grant", "pending", "--as-of", day, "--format", "json").stdout)
    return [(row["grant_id"], row["step"], row["since"]) for row in shown]


def test_each_step_of_a_selection_waits_in_turn(ledger: Ledger) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
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
    assert _waiting(ledger, "2024-02-28") == []  # not yet applied for
    assert _waiting(ledger, "2024-03-05") == [("G1", "review", "2024-03-01")]
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
    assert _waiting(ledger, "2024-03-08") == [("G1", "notice", "2024-03-08")]
    ledger.ok(
        "grant",
        "notice",
        "G1",
        "--from",
        "2024-03-11",
        "--to",
        "2024-03-15",
        "--objections",
        "2",
        "--date",
        "2024-03-11",
        role="approver",
    )
    assert _waiting(ledger, "2024-03-12") == [("G1", "resolve_objections", "2024-03-15")]
    ledger.ok(
        "grant",
        "resolve-objections",
        "G1",
        "--document",
        "渝中人社函〔2024〕5号",
        "--date",
        "2024-03-18",
        role="approver",
    )
    assert _waiting(ledger, "2024-03-18") == [("G1", "approve", "2024-03-15")]
    assert _waiting(ledger, "2024-03-12") == [("G1", "resolve_objections", "2024-03-15")]  # as it stood
    register_bodies(ledger)
    ledger.ok(
        "grant",
        "approve",
        "G1",
        "--amount",
        "200000",
        "--document",
        "渝中人社〔2024〕1号",
        *DISTRICT_BODIES,
        "--date",
        "2024-04-01",
        role="approver",
    )
    assert _waiting(ledger, "2024-04-01") == []


def test_a_municipal_base_waits_for_its_recommendation_first(ledger: Ledger) -> None:
    ledger.ok("unit", "register", "U2", "--name", "单位U2", "--date", "2024-02-01")
    ledger.ok(
        "grant",
        "apply",
        "M1",
        "--unit",
        "U2",
        "--base",
        "BM1",
        "--programme",
        "municipal_base_funded",
        "--project",
        "电工",
        "--project",
        "焊工",
        "--amount",
        "50万",
        "--date",
        "2024-07-01",
    )
    assert _waiting(ledger, "2024-07-02") == [("M1", "recommend", "2024-07-01")]


def test_an_overdue_rectification_waits_until_it_is_completed(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok(
        "rectify",
        "order",
        "G1",
        "--ref",
        "R1",
        "--finding",
        "凭证不全",
        "--deadline",
        "2024-06-30",
        "--date",
        "2024-06-01",
        role="approver",
    )
    assert _waiting(ledger, "2024-06-30") == []
    assert _waiting(ledger, "2024-07-01") == [("G1", "rectification", "2024-06-30")]
    ledger.ok("rectify", "complete", "G1", "--ref", "R1", "--date", "2024-07-10")
    assert _waiting(ledger, "2024-07-10") == []
    table = ledger.ok("grant", "pending", "--as-of", "2024-07-05").stdout
    assert "R1" in table and "2024-06-30" in table
