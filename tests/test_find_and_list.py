"""`find VOUCHER` and `grant list` (issue 18, item 5): which grant and stored event hold a
voucher, and the grants by programme, status and base — read from the books, exit 4 when
nothing holds the voucher."""

from __future__ import annotations

import json

from tests.conftest import Ledger, approved_district_grant


def _two_grants(ledger: Ledger) -> None:
    approved_district_grant(ledger, "G1", "B0001", "U1")
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "拨-001", "--date", "2024-04-10")
    ledger.ok("spend", "G1", "--amount", "8.6万", "--category", "equipment", "--source", "subsidy",
              "--voucher", "记-0101", "--date", "2024-05-08")  # fmt: skip
    ledger.ok("unit", "register", "U2", "--name", "单位U2", "--date", "2024-02-01")
    ledger.ok("grant", "apply", "G2", "--unit", "U2", "--base", "B0002", "--programme", "district_base",
              "--project", "电工", "--amount", "20万", "--date", "2024-03-01")  # fmt: skip


def test_find_names_the_grant_base_event_and_person_of_a_voucher(ledger: Ledger) -> None:
    _two_grants(ledger)
    found = json.loads(ledger.ok("find", "记-0101", "--format", "json").stdout)
    assert [
        (f["grant_id"], f["base_id"], f["kind"], f["amount"], f["actor"], f["occurred_on"]) for f in found
    ] == [("G1", "B0001", "spend", "86000.00", "tester", "2024-05-08")]
    ledger.ok("reverse", "G1", "--voucher", "记-0101", "--reason", "重复入账", "--date", "2024-05-20")
    kinds = [f["kind"] for f in json.loads(ledger.ok("find", "记-0101", "--format", "json").stdout)]
    assert kinds[0] == "spend" and len(kinds) == 2


def test_find_of_an_unknown_voucher_is_not_found(ledger: Ledger) -> None:
    _two_grants(ledger)
    result = ledger("find", "记-9999")
    assert result.exit_code == 4 and result.stderr == "grant-ledger: no grant holds voucher '记-9999'\n"


def test_grant_list_filters_by_programme_status_and_base(ledger: Ledger) -> None:
    _two_grants(ledger)
    listed = json.loads(ledger.ok("grant", "list", "--format", "json").stdout)
    assert [(g["grant_id"], g["status"], g["approved"]) for g in listed] == [
        ("G1", "approved", "200000.00"),
        ("G2", "applied", "0.00"),
    ]
    approved = json.loads(ledger.ok("grant", "list", "--status", "approved", "--format", "json").stdout)
    assert [g["grant_id"] for g in approved] == ["G1"]
    by_base = json.loads(ledger.ok("grant", "list", "--base", "B0002", "--format", "json").stdout)
    assert [g["grant_id"] for g in by_base] == ["G2"]
    none = ledger.ok("grant", "list", "--programme", "national_base")
    assert none.stdout == "no grant matches\n"
