"""Writes through one web server at once, on either backend: writers do not wait for each other
(commands/web/workspace.py), so what the store's optimistic concurrency and the one catch-up at a
time must keep is checked here as an auditor would — every acknowledged spend stored exactly once,
the balances those spends make, and no grant spent below zero however the writes interleave."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import httpx2 as httpx
import pytest
import uvicorn

from commands.web.app import create_app
from tests.conftest import Ledger, approved_district_grant
from tests.test_web import PASSWORD, set_password

CLIENTS = 8


@contextmanager
def _server(url: str) -> Iterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(create_app(url), host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(400):
        if server.started:
            break
        time.sleep(0.025)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, page[:1000]
    return found.group(1)


def _signed_in(base: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=120, follow_redirects=True)  # as a browser
    client.post(
        "/sign-in", data={"csrf": _csrf(client.get("/sign-in").text), "name": "tester", "password": PASSWORD}
    )
    return client, _csrf(client.get("/").text)


def _at_once(base: str, spends: list[list[tuple[str, str, str]]]) -> list[tuple[str, int, str]]:
    """Each list of (grant, voucher, amount) posted by its own signed-in client, all started
    together; (voucher, status, page) of every answer."""
    clients = [_signed_in(base) for _ in spends]
    answers: list[tuple[str, int, str]] = []
    go = threading.Barrier(len(spends))

    def post(client: httpx.Client, token: str, mine: list[tuple[str, str, str]]) -> None:
        go.wait()
        for grant, voucher, amount in mine:
            form = {"csrf": token, "amount": amount, "category": "materials", "source": "subsidy",
                    "voucher": voucher, "on": "2024-06-01"}  # fmt: skip
            answer = client.post(f"/grants/{grant}/spend", data=form)
            answers.append((voucher, answer.status_code, answer.text))

    threads = [
        threading.Thread(target=post, args=(c, t, m)) for (c, t), m in zip(clients, spends, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for client, _ in clients:
        client.close()
    return answers


def _stored(ledger: Ledger, grant: str) -> list[str]:
    import json

    lines = json.loads(ledger.ok("history", grant, "--format", "json").stdout)
    return [line["voucher"] for line in lines if line["kind"] == "spend"]


@pytest.mark.slow
def test_concurrent_web_spends_are_each_stored_once_and_none_overspends(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    approved_district_grant(ledger, "G2", "B0002", "U2")
    for grant in ("G1", "G2"):
        ledger.ok("disburse", grant, "--amount", "10万", "--voucher", f"拨-{grant}", "--date", "2024-04-15")
    assert set_password(ledger, "tester", PASSWORD, "officer").exit_code == 0
    with _server(ledger.url) as base:
        # two grants, every client writing to both: 32 spends of 1,000.00
        answers = _at_once(
            base,
            [[(f"G{1 + (c + n) % 2}", f"并发-{c}-{n}", "1000") for n in range(4)] for c in range(CLIENTS)],
        )
        assert all(status == 200 and 'id="done"' in page for _, status, page in answers), [
            (v, s) for v, s, p in answers if s != 200 or 'id="done"' not in p
        ]
        for grant in ("G1", "G2"):
            stored = _stored(ledger, grant)
            assert len(stored) == len(set(stored)) == 16
        balances = ledger.balances()
        assert balances["B0001"]["subsidy_spent"] == balances["B0002"]["subsidy_spent"] == "16000.00"
        # one grant, 84,000.00 left, eight clients spending 30,000.00 each at once: two fit
        answers = _at_once(base, [[("G1", f"抢-{c}", "30000")] for c in range(CLIENTS)])
    recorded = [v for v, status, page in answers if status == 200 and 'id="done"' in page]
    refused = [page for _, status, page in answers if status != 200]
    assert len(recorded) == 2 and len(refused) == CLIENTS - 2, [(v, s) for v, s, _ in answers]
    assert all("第九条" in page or "available" in page or "结余" in page for page in refused)
    assert sorted(v for v in _stored(ledger, "G1") if v.startswith("抢-")) == sorted(recorded)
    balances = ledger.balances()
    assert balances["B0001"]["subsidy_spent"] == "76000.00"
    assert balances["B0001"]["subsidy_available"] == "24000.00"


def test_a_web_import_is_not_refused_by_a_web_writes_catch_up(ledger: Ledger, monkeypatch: Any) -> None:
    """The import's own catch-up (under the store's lock) reads the projections' positions; a web
    write stored just before it catches up in another thread at that moment. The write's catch-up
    waits for the import instead of moving the positions under it (the import was refused: "run
    the command again")."""
    import projections.current as current
    import projections.runner as runner
    from commands.web.workspace import Workspace
    from ledger.actions import Spend
    from ledger.seal import load_signer
    from tests.importdata import HEADER

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    signer = load_signer(ledger.key("officer"))
    workspace = Workspace(ledger.url)
    writer: list[threading.Thread] = []
    try:
        spend = Spend(grant_id="G1", amount=Decimal("100"), category="materials", source="subsidy",
                      voucher="W-1", on=date(2024, 6, 1))  # fmt: skip
        # the catch-up every command calls (the import's first), and the seal check of the runner's
        catch_up, check_sealed = current.catch_up, runner.check_sealed

        def write_before_the_imports_lock(*args: Any, **kwargs: Any) -> int:
            done = catch_up(*args, **kwargs)
            workspace.settings.ledger().handle(spend, signer=signer)  # Workspace.record, first half
            monkeypatch.setattr(current, "catch_up", catch_up)
            return done

        def writer_catches_up_meanwhile(app: Any, batch: Any) -> None:
            check_sealed(app, batch)
            if not writer:
                writer.append(threading.Thread(target=workspace.catch_up))  # its second half
                writer[0].start()
                writer[0].join(timeout=2)

        monkeypatch.setattr(current, "catch_up", write_before_the_imports_lock)
        monkeypatch.setattr(runner, "check_sealed", writer_catches_up_meanwhile)
        row = "2024-05-10,,B0001,G1,,spend,100,subsidy,materials,,I-1,,"
        lines = [HEADER.split(","), row.split(",")]
        workspace.record_file(iter(lines), lambda: iter(lines), signer, None, None)
    finally:
        monkeypatch.undo()
        for thread in writer:
            thread.join(timeout=60)
        workspace.close()
    stored = _stored(ledger, "G1")
    assert "W-1" in stored and "I-1" in stored
    assert ledger.balances()["B0001"]["subsidy_spent"] == "200.00"
