"""The web server keeps each grant as its last write left it (GrantLedger.hold), remembers the
seal it has just signed and where it left the projections, so that a write reads only what is
new. None of it may let a write build on less than the store holds: another process's write since,
an event forged below the application since, a write refused halfway, a row changed between the
write and its catch-up, projections moved by another process."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from ledger.actions import Spend
from ledger.application import GrantLedger
from ledger.errors import VerificationError
from tests.conftest import Ledger
from tests.signing import signer
from tests.test_signed_audit import _insert_copy
from tests.test_web import books, client, clock, csrf, sign_in  # noqa: F401  (fixtures)


def _spend(client: TestClient, amount: str, voucher: str) -> Any:  # noqa: F811
    page = client.get("/grants/G1")
    form = {"csrf": csrf(page.text), "amount": amount, "category": "equipment", "source": "subsidy",
            "voucher": voucher, "payee": "重庆某设备公司", "on": "2024-05-10"}  # fmt: skip
    return client.post("/grants/G1/spend", data=form, follow_redirects=False)


def _available(ledger: Ledger) -> str:
    return str(ledger.balances("B0001")["B0001"]["subsidy_available"])


def _vouchers(ledger: Ledger) -> list[str]:
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            states = conn.execute(
                text("SELECT state FROM ledger_events WHERE topic = 'grant-ledger:Grant.ExpenditureRecorded'")
            ).scalars()
            return sorted(json.loads(bytes(s))["voucher"] for s in states)
    finally:
        engine.dispose()


def test_a_web_write_builds_on_what_another_process_wrote_since_its_last(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    sign_in(client)
    assert _spend(client, "3万", "网-1").status_code == 303  # the server now holds G1
    books.ok("spend", "G1", "--amount", "6万", "--category", "equipment", "--source", "subsidy",
             "--voucher", "命令-1", "--date", "2024-05-11")  # fmt: skip
    refused = _spend(client, "2万", "网-2")
    assert refused.status_code == 422, refused.status_code
    assert "10,000.00" in refused.text  # what is left after the other process's 60,000.00
    assert _spend(client, "1万", "网-3").status_code == 303
    assert _available(books) == "0.00"
    assert _vouchers(books) == ["命令-1", "网-1", "网-3"]


def test_a_refused_web_write_leaves_nothing_the_next_builds_on(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    sign_in(client)
    assert _spend(client, "9.5万", "网-1").status_code == 303
    assert _spend(client, "1万", "网-2").status_code == 422  # 5,000.00 left
    form = {"csrf": csrf(client.get("/grants/G1").text), "amount": "100", "category": "travel",
            "source": "subsidy", "voucher": "网-差旅", "on": "2024-05-10"}  # fmt: skip
    travel = client.post("/grants/G1/spend", data=form, follow_redirects=False)
    assert travel.status_code == 422
    assert _spend(client, "5000", "网-3").status_code == 303
    assert _spend(client, "0.01", "网-4").status_code == 422  # nothing left: no phantom of 网-2
    assert _available(books) == "0.00"
    assert _vouchers(books) == ["网-1", "网-3"]


def test_an_event_forged_below_the_application_after_a_web_write_refuses_the_next(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    """The held grant is brought up with the events stored since, each checked as any loaded
    event is: a disbursement of 5,000,000 copied in below the application (its seal does not
    cover it) is never taken as money to spend."""
    sign_in(client)
    assert _spend(client, "1万", "网-1").status_code == 303
    before = books.event_count()
    _insert_copy(books.url, "SubsidyDisbursed", amount="5000000.00", voucher="伪-1")
    refused = _spend(client, "50万", "网-2")
    assert refused.status_code == 500  # exit 6: the store's integrity
    assert "事件表在应用之外被改动" in refused.text  # "the events table was changed below the application"
    assert books.event_count() == before + 1  # the forged row only: nothing written on it
    assert "网-2" not in _vouchers(books)


def test_a_row_changed_between_a_write_and_its_catch_up_is_still_caught(
    books: Ledger,  # noqa: F811
) -> None:
    """The server remembers the seal it has just signed as verified, but the events it covers
    are still checked against its leaves as the store holds them when the projections take them."""
    from commands.registry import all_projections
    from projections.runner import catch_up, prepared

    app = GrantLedger(books.url)
    try:
        app.hold()
        recorder = prepared(app, all_projections())
        catch_up(app, all_projections(), recorder=recorder)
        spend = Spend(grant_id="G1", amount=Decimal("100"), category="equipment", source="subsidy",
                      voucher="改-1", on=date(2024, 5, 10))  # fmt: skip
        assert app.handle(spend, signer=signer(books)).recorded
        engine = create_engine(books.url)
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER IF EXISTS ledger_events_no_update"))
            event = conn.execute(
                text(
                    "SELECT id, state FROM ledger_events "
                    "WHERE topic = 'grant-ledger:Grant.ExpenditureRecorded' ORDER BY id DESC LIMIT 1"
                )
            ).one()
            state = json.loads(bytes(event.state))
            state["amount"]["_data_"] = "1.00"
            conn.execute(text("UPDATE ledger_events SET state = :s WHERE id = :i"),
                         {"s": json.dumps(state).encode(), "i": event.id})  # fmt: skip
        engine.dispose()
        with pytest.raises(VerificationError, match="is not what"):
            catch_up(app, all_projections(), recorder=recorder)
    finally:
        app.close()
    engine = create_engine(books.url)
    try:
        with engine.connect() as conn:  # the changed spend is shown nowhere
            shown = conn.execute(
                text("SELECT COUNT(*) FROM balance_movements WHERE voucher = '改-1'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert shown == 0


def test_projections_moved_by_another_process_are_caught_up_from_where_they_stand(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    """The server's guess of where it left the projections is wrong once a command line has
    moved them: its compare-and-set fails, it reads them again, and every spend is shown once."""
    sign_in(client)
    assert _spend(client, "1万", "网-1").status_code == 303
    books.ok("spend", "G1", "--amount", "2万", "--category", "equipment", "--source", "subsidy",
             "--voucher", "命令-1", "--date", "2024-05-11")  # fmt: skip
    books.ok("balance", "B0001")  # its catch-up moves the projections past the server's guess
    assert _spend(client, "3万", "网-2").status_code == 303
    assert _available(books) == "40000.00"
    page = client.get("/grants/G1").text
    assert all(v in page for v in ("网-1", "命令-1", "网-2"))


def test_the_audit_tree_a_server_grows_without_reading_it_stays_the_tree_of_every_leaf(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    """The server grows the audit log's tree from where its last write left it, only while the
    stored tree is still that one (size and root): a write of another process in between makes it
    read the tree again. The tree is always the one every leaf makes, the leaves number the
    events, and a replay of the store agrees."""
    from audit.log import leaf_hashes, tree_head
    from audit.verifier.merkle import CompactRange

    def tree_is_every_leaf() -> None:
        engine = create_engine(books.url)
        try:
            with engine.connect() as conn:
                head, hashes = tree_head(conn), leaf_hashes(conn)
                events = conn.execute(text("SELECT COUNT(*) FROM ledger_events")).scalar_one()
        finally:
            engine.dispose()
        assert head.size == len(hashes) == events
        assert head.root == CompactRange().extend(hashes).root()

    sign_in(client)
    for n in range(1, 7):
        assert _spend(client, "100", f"网-{n}").status_code == 303
        if n % 2:  # another process writes in between
            books.ok("spend", "G1", "--amount", "50", "--category", "equipment", "--source", "subsidy",
                     "--voucher", f"命令-{n}", "--date", "2024-05-11")  # fmt: skip
        tree_is_every_leaf()
    assert books.ok("projections", "verify").exit_code == 0
