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

import httpx2 as httpx
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
    client = httpx.Client(base_url=base, timeout=120)
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
