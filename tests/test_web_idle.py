"""A session ends after 30 idle minutes (README: sessions and forms), its unlocked key dropped.
A page left open is not activity: its event stream, which the browser opens again each time the
server ends it (every STREAM_SECONDS), must not keep the session alive."""

from __future__ import annotations

import re
import time

import pytest
from starlette.testclient import TestClient

import commands.web.live as live
from tests.conftest import Ledger
from tests.test_web import Clock, books, client, clock, sign_in  # noqa: F401  (fixtures)


def test_a_page_left_open_does_not_keep_its_session_alive(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
    clock: Clock,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live, "STREAM_SECONDS", 0.2)
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.1)
    sign_in(client)
    assert client.get("/", follow_redirects=False).status_code == 200
    answers = []
    for _ in range(5):  # 50 minutes of a page left open, its stream opened again every 10
        clock.now += 10 * 60
        with client.stream("GET", "/events") as response:
            answers.append(response.status_code)
            ends = time.monotonic() + 10
            for _line in response.iter_lines():
                assert time.monotonic() < ends
    assert answers[0] == 200 and answers[-1] == 403, answers
    left = client.get("/", follow_redirects=False)
    assert left.status_code == 303 and left.headers["location"] == "/sign-in"


def test_a_page_refreshed_by_others_writes_does_not_keep_its_session_alive(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    """The page's live refresh (static/live.js, when a write is announced) is the page fetching
    itself, not its person: sent with the headers live.js sends, it restarts no idle time."""
    script = client.get("/static/live.js").text
    sent = dict(re.findall(r'"([A-Za-z-]+)": "([^"]*)"', script.split("headers:", 1)[1].split("}", 1)[0]))
    assert "X-Live-Refresh" in sent, sent
    sign_in(client)
    refreshed = []
    for _ in range(5):  # 50 minutes: others write to G1 every 10, the page refreshes itself
        clock.now += 10 * 60
        refreshed.append(client.get("/grants/G1", headers=sent, follow_redirects=False).status_code)
    assert refreshed[0] == 200 and refreshed[-1] == 303, refreshed
    left = client.get("/", follow_redirects=False)
    assert left.status_code == 303 and left.headers["location"] == "/sign-in"
