"""Where each key may sign, as a process that replayed the people registry sees it. A long-running
server keeps the registry it replayed: a key revoked by another process since must sign nothing
after its revocation in what the server's catch-up builds either (the revoked person, who still
holds the key, writing through the ledger's own code past its rules must not get their event into
the projections the command line reads too). And a key's last seal is the one that retires it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from tests.conftest import Ledger, approved_district_grant
from tests.test_web import books, client, clock, sign_in  # noqa: F401 (fixtures)


def _disbursed_after_revocation(ledger: Ledger, voucher: str) -> None:
    """The revoked officer's key seals a disbursement of G1, stored after the revocation."""
    from ledger.application import open_ledger
    from ledger.grant import Grant, grant_uuid
    from ledger.seal import load_signer

    app = open_ledger(ledger.url)
    try:
        grant: Grant = app.repository.get(grant_uuid("G1"))
        grant.trigger_event(
            Grant.SubsidyDisbursed, amount=Decimal(50000), voucher=voucher, tranche=2, actor="tester",
            role="officer", occurred_on=date(2024, 4, 20),
        )  # fmt: skip
        app.save(grant, app.seal([grant], load_signer(ledger.key("officer")), "tester"))
    finally:
        app.engine.dispose()


def _projected(ledger: Ledger, voucher: str) -> int:
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            query = text("SELECT COUNT(*) FROM balance_movements WHERE voucher = :v")
            return int(conn.execute(query, {"v": voucher}).scalar() or 0)
    finally:
        engine.dispose()


def test_the_servers_catch_up_takes_nothing_a_key_signed_after_another_process_revoked_it(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    sign_in(client)  # the server replays the registry: the officer is registered
    assert client.get("/grants/G1").status_code == 200
    books.ok("people", "revoke", "tester", "--date", "2024-04-16", role="admin")
    _disbursed_after_revocation(books, "拨-撤销后")
    page = client.get("/grants/G1")
    assert "拨-撤销后" not in page.text, page.status_code
    assert _projected(books, "拨-撤销后") == 0
    balance = books("balance", "--format", "json")  # refused as a fresh process refuses it
    assert balance.exit_code == 6 and "拨-撤销后" not in balance.stdout, (balance.exit_code, balance.stdout)


def test_projections_rebuild_after_the_root_rotated_its_own_key(ledger: Ledger) -> None:
    """The root passes on by its own statement: the rotation is sealed by the key it retires. A
    process that replays the registry with the rotation in it (a rebuild; a server's catch-up)
    must still take that seal, as the auditor's verifier does, and take no later one of that key."""
    from tests.test_people import new_key, run

    approved_district_grant(ledger)
    successor = new_key(ledger, "root2")
    old_root = ledger.key("admin")
    rotated = run(
        ledger, old_root, "people", "rotate", "admin", "--public-key", str(successor.with_suffix(".pub"))
    )
    assert rotated.exit_code == 0, rotated.stderr
    rebuilt = ledger("projections", "rebuild")
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert ledger.balances()["B0001"]["subsidy_spent"] == "0.00"
    late = run(ledger, old_root, "people", "revoke", ledger.name("officer"), "--date", "2024-05-01")
    assert late.exit_code == 3, late.stderr
    assert ledger("projections", "rebuild").exit_code == 0
