"""The sixth wrong password within a minute, for one name, is refused unchecked (README: sessions
and forms). Sent all at once, from many connections, the wrong passwords must not each be
checked: the limit counts them whatever their timing, or it bounds nothing a script cannot do."""

from __future__ import annotations

import threading

import httpx2 as httpx

from commands.web.credentials import FAILURES_ALLOWED
from tests.conftest import Ledger
from tests.test_web import PASSWORD, books  # noqa: F401  (fixtures)
from tests.test_web_concurrency import _csrf, _server

TRIES = 12


def test_wrong_passwords_sent_at_once_are_checked_at_most_the_allowed_number_of_times(
    books: Ledger,  # noqa: F811
) -> None:
    answers: list[int] = []
    with _server(books.url) as base:
        clients = [httpx.Client(base_url=base, timeout=120) for _ in range(TRIES)]
        tokens = [_csrf(c.get("/sign-in").text) for c in clients]
        go = threading.Barrier(TRIES)

        def guess(client: httpx.Client, token: str, n: int) -> None:
            go.wait()
            answer = client.post(
                "/sign-in", data={"csrf": token, "name": "tester", "password": f"guess-{n}-xxxx"}
            )
            answers.append(answer.status_code)

        pairs = enumerate(zip(clients, tokens, strict=True))
        threads = [threading.Thread(target=guess, args=(c, t, n)) for n, (c, t) in pairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for c in clients:
            c.close()
        with httpx.Client(base_url=base, timeout=120) as late:  # the right one, within the minute
            token = _csrf(late.get("/sign-in").text)
            right = late.post("/sign-in", data={"csrf": token, "name": "tester", "password": PASSWORD})
    assert len(answers) == TRIES and set(answers) <= {401, 429}, answers
    assert answers.count(401) <= FAILURES_ALLOWED, sorted(answers)
    assert right.status_code == 429, right.status_code
