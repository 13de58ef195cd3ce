"""Live pages and the 总览's figures: a write by someone else (the command line) is announced on
the signed-in page's event stream (SQLite polled, PostgreSQL LISTEN/NOTIFY); the stream is refused
to anonymous and forged sessions, bounded, and ends with its session; the overview filters by
district and shows open findings and matching against 1:1 as the command line's reports do."""

from __future__ import annotations

import json
import re
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient

import commands.web.live as live
from commands.web.app import COOKIE, create_app
from ledger.money import format_yuan
from tests import test_web, test_web_browser
from tests.conftest import Ledger, approved_district_grant
from tests.test_web import PASSWORD, Clock, cells, set_password, sign_in

# test_web's fixtures: a ledger with G1 and two web passwords, a controlled clock, a client
books = test_web.books
clock = test_web.clock
client = test_web.client
# test_web_browser's: the app under uvicorn on the sqlite_ledger, and headless chromium
server = test_web_browser.server
browser = test_web_browser.browser
_text = test_web_browser._text


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streams look again every half second (the server's defaults: 1 s poll, 15 s heartbeat)."""
    monkeypatch.setattr(live, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.5)


def read_events(response: Any, until: float, past: int | None = None) -> list[str]:
    """The stream's lines until it ends, ``until`` passes, or a position past ``past`` is announced."""
    return _lines(response.iter_lines(), until, past)


def _lines(stream: Any, until: float, past: int | None = None) -> list[str]:
    lines: list[str] = []
    for line in stream:
        lines.append(line)
        if past is not None and line.startswith("data: ") and int(line[6:]) > past:
            break
        if time.monotonic() > until:
            break
    return lines


def position(page: str) -> int:
    found = re.search(r'data-position="(\d+)"', page)
    assert found is not None, page[:1500]
    return int(found.group(1))


def announces_a_write_by_the_command_line(ledger: Ledger, client: TestClient) -> None:
    sign_in(client)
    page = client.get("/grants/G1")
    at = position(page.text)
    assert at == ledger.event_count() > 0
    assert 'src="/static/live.js"' in page.text and 'data-live="balance budget findings history"' in page.text
    assert 'data-live-from="/grants/G1"' in page.text
    done = threading.Event()

    def spend_elsewhere() -> None:
        time.sleep(0.3)
        ledger.ok("spend", "G1", "--amount", "1000", "--category", "equipment", "--source", "subsidy",
                  "--voucher", "记-live-1", "--date", "2024-05-10")  # fmt: skip
        done.set()

    writer = threading.Thread(target=spend_elsewhere)
    with client.stream("GET", f"/events?after={at}") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        writer.start()
        lines = read_events(response, time.monotonic() + 20, past=at)
    writer.join()
    assert done.is_set()
    head = ledger.event_count()
    assert head > at
    announced = [int(line.split(": ")[1]) for line in lines if line.startswith("data: ")]
    assert announced and announced[-1] > at and announced[-1] <= head, lines
    assert "event: ledger" in lines
    # the page fetched again shows the spend (what live.js swaps in)
    assert "记-live-1" in client.get("/grants/G1").text


def test_a_spend_by_the_command_line_is_announced_on_sqlite(books: Ledger, client: TestClient) -> None:
    announces_a_write_by_the_command_line(books, client)


def test_a_spend_by_the_command_line_is_announced_on_either_backend(ledger: Ledger, clock: Clock) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    assert set_password(ledger, "tester", PASSWORD, "officer").exit_code == 0
    with TestClient(create_app(ledger.url, clock=clock)) as client:
        announces_a_write_by_the_command_line(ledger, client)
        if ledger.url.startswith("postgresql"):
            assert client.app.state.workspace.live.listening  # type: ignore[attr-defined]


def test_a_reconnecting_page_is_told_of_what_it_missed(books: Ledger, client: TestClient) -> None:
    sign_in(client)
    at = position(client.get("/").text)
    books.ok("disburse", "G1", "--amount", "1000", "--voucher", "拨-2", "--date", "2024-04-20")
    time.sleep(0.3)
    with client.stream("GET", "/events", headers={"Last-Event-ID": str(at)}) as response:
        lines = read_events(response, time.monotonic() + 10, past=at)
    assert f"data: {books.event_count()}" in lines


def test_the_stream_refuses_anonymous_and_forged_sessions(books: Ledger, client: TestClient) -> None:
    anonymous = client.get("/events")
    assert anonymous.status_code == 403 and "text/event-stream" not in anonymous.headers["content-type"]
    assert "data:" not in anonymous.text
    client.cookies.set(COOKIE, "forged-session-id")
    assert client.get("/events").status_code == 403
    assert "data-events" not in client.get("/sign-in").text


def test_the_stream_ends_at_sign_out(books: Ledger, client: TestClient) -> None:
    sign_in(client)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert token is not None
    ended = threading.Event()

    def sign_out_soon() -> None:
        time.sleep(0.5)
        other = TestClient(client.app, base_url="http://testserver")
        other.cookies.set(COOKIE, client.cookies[COOKIE])
        out = other.post("/sign-out", data={"csrf": token.group(1)}, follow_redirects=False)
        assert out.status_code == 303

    signer = threading.Thread(target=sign_out_soon)
    with client.stream("GET", "/events") as response:
        signer.start()
        started = time.monotonic()
        for _line in response.iter_lines():
            assert time.monotonic() - started < 10, "the stream outlived its session"
        ended.set()
    signer.join()
    assert ended.is_set()
    assert client.get("/events").status_code == 403


def test_the_stream_ends_when_its_session_expires(books: Ledger, client: TestClient, clock: Clock) -> None:
    sign_in(client)
    with client.stream("GET", "/events") as response:
        lines = response.iter_lines()
        assert next(lines).startswith("retry:")
        clock.now += 31 * 60  # idle past its 30 minutes: an open stream does not keep it alive
        started = time.monotonic()
        rest = list(lines)
        assert time.monotonic() - started < 10
    assert not any(line.startswith("data:") for line in rest)
    assert client.get("/events").status_code == 403


def test_streams_are_capped(books: Ledger, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "PER_SESSION", 2)
    sign_in(client)
    with client.stream("GET", "/events") as one, client.stream("GET", "/events") as two:
        assert one.status_code == two.status_code == 200
        third = client.get("/events")
        assert third.status_code == 503 and third.headers["retry-after"]
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
        assert token is not None
        client.post("/sign-out", data={"csrf": token.group(1)})
        for stream in (one, two):
            assert not [line for line in stream.iter_lines() if line.startswith("data:")]
    # the two ended with their session: their places are free again
    feed = client.app.state.workspace.live  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while feed.streams and time.monotonic() < deadline:
        time.sleep(0.05)
    assert feed.streams == 0


def test_one_person_s_sessions_share_a_cap_of_streams(
    books: Ledger, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One person signed in sixteen times, four streams each, held all 64 and every other person's
    live page was refused (a red-team pass): a person's sessions together hold PER_PERSON."""
    monkeypatch.setattr(live, "PER_PERSON", 2)
    app = client.app
    other = TestClient(app, base_url="http://testserver")
    with other:
        sign_in(client)
        sign_in(other)  # the same person, another session
        with client.stream("GET", "/events") as one, other.stream("GET", "/events") as two:
            assert one.status_code == two.status_code == 200
            third = other.get("/events")
            assert third.status_code == 503, third.status_code
            third = client.get("/events")
            assert third.status_code == 503, third.status_code
            auditor = TestClient(app, base_url="http://testserver")
            with auditor:
                sign_in(auditor, "tester.auditor", test_web.AUDITOR_PASSWORD)
                with auditor.stream("GET", "/events") as theirs:
                    assert theirs.status_code == 200  # another person still follows the ledger


# ----------------------------------------------------------------------------- the overview's figures


def report(ledger: Ledger, *args: str) -> list[dict[str, Any]]:
    rows = json.loads(ledger.ok("report", *args, "--format", "json").stdout)
    assert isinstance(rows, list)
    return rows


def test_the_overview_shows_elapsed_matching_and_open_findings_as_the_reports_do(
    books: Ledger, client: TestClient
) -> None:
    books.ok("spend", "G1", "--amount", "2万", "--category", "equipment", "--source", "subsidy",
             "--voucher", "记-1", "--date", "2024-05-10")  # fmt: skip
    sign_in(client)
    shown = cells(client.get("/?lang=en").text, "G1")
    (execution,) = [r for r in report(books, "execution") if r["grant_id"] == "G1"]
    assert execution["elapsed"] is not None
    assert shown["elapsed"] == f"{execution['elapsed']}%"
    (matching,) = [r for r in report(books, "matching") if r["grant_id"] == "G1"]
    assert Decimal(matching["shortfall"]) > 0  # nothing of the 1:1 matching received yet
    assert shown["matching_required"] == format_yuan(Decimal(matching["required"]))
    assert shown["matching_shortfall"] == format_yuan(Decimal(matching["shortfall"]))
    assert shown["matching_received_pct"] == (
        f"{matching['received_pct']}%" if matching["received_pct"] is not None else ""
    )
    found = [r for r in report(books, "findings") if r["grant_id"] == "G1"]
    assert found, "the 1:1 shortfall is a finding"
    assert shown["findings"] == str(len(found))
    # matching received: the shortfall and the findings move as the reports' do
    books.ok("match", "receive", "G1", "--amount", "10万", "--voucher", "配-1", "--date", "2024-05-20")
    again = cells(client.get("/?lang=en").text, "G1")
    (after,) = [r for r in report(books, "matching") if r["grant_id"] == "G1"]
    assert (
        again["matching_shortfall"] == format_yuan(Decimal(after["shortfall"])) != shown["matching_shortfall"]
    )
    assert again["findings"] == str(len([r for r in report(books, "findings") if r["grant_id"] == "G1"]))


# ----------------------------------------------------------------------------- in a real browser


@pytest.mark.skipif(test_web_browser._missing_browser() is not None, reason="no chromium")
def test_a_page_in_the_browser_shows_a_spend_recorded_elsewhere_without_a_reload(
    sqlite_ledger: Ledger, server: str, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server + "/sign-in")
    browser.find_element(By.ID, "name").send_keys("tester")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "sign-in").click()
    # a navigation begun before the sign-in's answer arrives would cancel it
    assert test_web_browser._arrived(browser, "总览")
    browser.get(server + "/grants/G1")
    cell = 'table#balance td[data-key="subsidy_available"]'
    assert _text(browser, By.CSS_SELECTOR, cell) == "100,000.00"
    browser.execute_script("window.notReloaded = true")
    sqlite_ledger.ok("spend", "G1", "--amount", "2500", "--category", "equipment", "--source", "subsidy",
                     "--voucher", "记-elsewhere", "--date", "2024-05-10")  # fmt: skip
    deadline = time.monotonic() + 15
    while _text(browser, By.CSS_SELECTOR, cell) != "97,500.00":
        assert time.monotonic() < deadline, "the page did not show the spend"
        time.sleep(0.2)
    assert browser.execute_script("return window.notReloaded") is True
    assert "记-elsewhere" in _text(browser, By.ID, "history")
    # the overview, too
    browser.get(server + "/")
    row = 'tr[data-grant="G1"] td[data-key="subsidy_spent"]'
    assert _text(browser, By.CSS_SELECTOR, row) == "2,500.00"
    browser.execute_script("window.notReloaded = true")
    sqlite_ledger.ok("spend", "G1", "--amount", "500", "--category", "equipment", "--source", "subsidy",
                     "--voucher", "记-elsewhere-2", "--date", "2024-05-11")  # fmt: skip
    deadline = time.monotonic() + 15
    while _text(browser, By.CSS_SELECTOR, row) != "3,000.00":
        assert time.monotonic() < deadline, "the overview did not show the spend"
        time.sleep(0.2)
    assert browser.execute_script("return window.notReloaded") is True
    assert browser.find_elements(By.CSS_SELECTOR, "#rates-chart svg")  # redrawn after the swap


def test_a_grants_page_is_told_of_writes_to_its_grant_only(ledger: Ledger, clock: Clock) -> None:
    """The overview hears every write; G1's page hears G1's, not G2's (each write to G2 would
    otherwise have every open grant page fetch and render itself again)."""
    approved_district_grant(ledger)
    approved_district_grant(ledger, "G2", "B0002", "U2")
    for grant in ("G1", "G2"):
        ledger.ok("disburse", grant, "--amount", "10万", "--voucher", f"拨-{grant}", "--date", "2024-04-15")
    assert set_password(ledger, "tester", PASSWORD, "officer").exit_code == 0
    with TestClient(create_app(ledger.url, clock=clock)) as client:
        sign_in(client)
        page = client.get("/grants/G1").text
        found = re.search(r'data-events="(/events\?grant=[0-9a-f]{32})"', page)
        assert found is not None, page[:1500]
        at = position(page)

        def spend(grant: str, voucher: str) -> None:
            time.sleep(0.3)
            ledger.ok("spend", grant, "--amount", "1000", "--category", "equipment", "--source", "subsidy",
                      "--voucher", voucher, "--date", "2024-05-10")  # fmt: skip

        writer = threading.Thread(target=spend, args=("G2", "记-G2"))
        with (
            client.stream("GET", f"{found.group(1)}&after={at}") as mine,
            client.stream("GET", f"/events?after={at}") as everyone,
        ):
            lines = mine.iter_lines()
            writer.start()
            writer.join()
            other = ledger.event_count()
            heard = read_events(everyone, time.monotonic() + 10, past=at)
            assert f"data: {other}" in heard, heard
            quiet = _lines(lines, time.monotonic() + 2, past=at)
            assert not [line for line in quiet if line.startswith("data: ")], quiet
            writer = threading.Thread(target=spend, args=("G1", "记-G1"))
            writer.start()
            writer.join()
            told = _lines(lines, time.monotonic() + 10, past=other)
        assert f"data: {ledger.event_count()}" in told, told


def test_a_hostile_last_event_id_starts_the_stream_at_the_present(books: Ledger, client: TestClient) -> None:
    sign_in(client)
    for given in ("²", "9" * 30, "-1"):
        with client.stream("GET", "/events", params={"after": given}) as response:
            assert response.status_code == 200, given
            assert next(iter(response.iter_lines())).startswith("retry:")
