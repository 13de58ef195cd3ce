"""A ledger made by a version before a read-model table existed (``balance_units``, the units'
districts) answers every read at once: the first read finds the table missing and catches up,
which makes it, instead of failing with "no such table" until someone writes."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, inspect, text
from starlette.testclient import TestClient

from commands.web.app import create_app
from tests.conftest import Ledger, approved_district_grant
from tests.test_web import PASSWORD, set_password, sign_in


def _drop_units(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE balance_units"))
        assert not inspect(engine).has_table("balance_units")
    finally:
        engine.dispose()


def test_reads_on_a_ledger_without_a_newer_table_answer_and_make_it(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    assert set_password(ledger, "tester", PASSWORD, "officer").exit_code == 0
    _drop_units(ledger.url)
    balances = json.loads(ledger.ok("balance", "--format", "json").stdout)
    assert [b["subsidy_received"] for b in balances] == ["100000.00"]
    assert "G1" in ledger.ok("grant", "list").stdout
    _drop_units(ledger.url)
    with TestClient(create_app(ledger.url), base_url="http://testserver") as client:
        assert sign_in(client).status_code == 200
        page = client.get("/")
        assert page.status_code == 200 and 'data-grant="G1"' in page.text
