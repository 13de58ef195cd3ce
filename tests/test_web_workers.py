"""Several server processes (`serve --workers N`) serve any session: sessions are rows of the
ledger's database, each authenticated by an HMAC under the server's secret, the person's key
sealed under the cookie's token (README: sessions and forms). A row made or changed below the
application, by anyone who can write the table, is no session."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from commands.web import sessions as web_sessions
from commands.web.app import COOKIE, create_app
from commands.web.sessions import _hash
from tests.conftest import Ledger
from tests.test_web import (  # noqa: F401  (fixtures)
    AUDITOR_PASSWORD,
    PASSWORD,
    Clock,
    books,
    clock,
    csrf,
    events,
    sign_in,
    spend,
)

SECRET = bytes(range(32))


@pytest.fixture
def two(books: Ledger, clock: Clock) -> Iterator[tuple[TestClient, TestClient]]:  # noqa: F811
    """Two apps over the same ledger, as two processes of one server: nothing shared but the
    database and the secret."""
    first = create_app(books.url, clock=clock, session_secret=SECRET)
    second = create_app(books.url, clock=clock, session_secret=SECRET)
    with TestClient(first) as a, TestClient(second) as b:
        yield a, b


def _rows(ledger: Ledger) -> list[dict[str, object]]:
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM ledger_web_sessions"))]
    finally:
        engine.dispose()


def _change(ledger: Ledger, statement: str, **values: object) -> None:
    engine = create_engine(ledger.url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), values)
    finally:
        engine.dispose()


def test_a_session_signed_in_on_one_process_writes_and_signs_out_on_another(
    books: Ledger,  # noqa: F811
    two: tuple[TestClient, TestClient],
) -> None:
    a, b = two
    page = sign_in(a)
    assert page.url.path == "/"
    b.cookies.clear()
    b.cookies.set(COOKIE, a.cookies.get(COOKIE) or "")
    web_sessions._signers.clear()  # the other process has never opened the key
    before = events(books)
    written = b.post(
        "/grants/G1/spend",
        data={
            "csrf": csrf(page.text),
            "amount": "3.5万",
            "category": "equipment",
            "source": "subsidy",
            "voucher": "记-跨进程",
            "on": "2024-05-10",
        },
        follow_redirects=False,
    )
    assert written.status_code == 303, written.text[:500]
    assert events(books) > before
    assert books.balances()["B0001"]["subsidy_spent"] == "35000.00"
    # the answer's page, fetched from the first process, shows what the second recorded, once
    shown = a.get("/grants/G1").text
    assert 'id="done"' in shown and "记-跨进程" in shown
    assert 'id="done"' not in b.get("/grants/G1").text
    history = books.ok("history", "G1", "--format", "json")
    assert books.name("officer") in history.stdout
    out = b.post("/sign-out", data={"csrf": csrf(page.text)})
    assert out.url.path == "/sign-in"
    assert a.get("/").url.path == "/sign-in"  # ended for every process
    assert _rows(books) == [] or all(r["person"] is None for r in _rows(books))


def test_the_row_holds_neither_the_cookie_nor_the_key_nor_the_csrf_token(
    books: Ledger,  # noqa: F811
    two: tuple[TestClient, TestClient],
) -> None:
    a, _b = two
    page = sign_in(a)
    token = a.cookies.get(COOKIE) or ""
    (row,) = [r for r in _rows(books) if r["person"] == "tester"]
    stored = json.dumps(row, default=str)
    assert token not in stored and csrf(page.text) not in stored
    assert row["token_hash"] == _hash(token) and row["sealed_key"]
    raw = load_pem_private_key(books.key("officer").read_bytes(), None).private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert raw.hex() not in stored.lower()
    # the stored hash as a cookie is no session
    a.cookies.clear()
    a.cookies.set(COOKIE, str(row["token_hash"]))
    assert a.get("/").url.path == "/sign-in"


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE ledger_web_sessions SET role = 'approver' WHERE person = 'tester.auditor'",
        "UPDATE ledger_web_sessions SET person = 'tester' WHERE person = 'tester.auditor'",
        "UPDATE ledger_web_sessions SET created = created + 3600 WHERE person = 'tester.auditor'",
        'UPDATE ledger_web_sessions SET notices = \'{"G1": ["spend", "forged"]}\' '
        "WHERE person = 'tester.auditor'",
        # the officer's sealed key put into the auditor's row
        "UPDATE ledger_web_sessions SET (key_fingerprint, nonce, sealed_key) = (SELECT key_fingerprint, "
        "nonce, sealed_key FROM ledger_web_sessions WHERE person = 'tester') WHERE person = 'tester.auditor'",
    ],
    ids=["role", "person", "created", "notices", "key"],
)
def test_a_session_row_changed_below_the_application_is_no_session(
    books: Ledger,  # noqa: F811
    two: tuple[TestClient, TestClient],
    change: str,
) -> None:
    a, b = two
    sign_in(a)
    sign_in(b, "tester.auditor", AUDITOR_PASSWORD)
    assert b.get("/", follow_redirects=False).status_code == 200
    _change(books, change)
    web_sessions._signers.clear()
    before = events(books)
    assert b.get("/", follow_redirects=False).headers.get("location") == "/sign-in"
    assert all(r["person"] != "tester.auditor" for r in _rows(books))  # and it is gone
    assert a.get("/", follow_redirects=False).status_code == 200  # the officer's is untouched
    assert events(books) == before


def test_a_session_made_up_below_the_application_is_no_session(
    books: Ledger,  # noqa: F811
    two: tuple[TestClient, TestClient],
) -> None:
    """Someone who can write the table makes a row for the officer under a token they chose; not
    knowing the server's secret, they cannot authenticate it, whatever else they know."""
    a, _b = two
    made_up = "M" * 43
    forger = web_sessions.Sessions(lambda: create_engine(books.url), time.time, secret=b"\x00" * 32)
    session = web_sessions.Session(made_up, 1_000_000.0, 1_000_000.0, "zh", "tester", "officer")
    forger._insert(session)
    a.cookies.clear()
    a.cookies.set(COOKIE, made_up)
    assert a.get("/", follow_redirects=False).headers.get("location") == "/sign-in"
    assert spend(a).url.path == "/sign-in"
    assert not any(r["person"] == "tester" for r in _rows(books))


def test_sessions_of_another_run_of_the_server_are_none_of_this_ones(
    books: Ledger,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    with TestClient(create_app(books.url, clock=clock)) as before:
        sign_in(before)
        token = before.cookies.get(COOKIE) or ""
    with TestClient(create_app(books.url, clock=clock)) as after:
        after.cookies.clear()
        after.cookies.set(COOKIE, token)
        assert after.get("/", follow_redirects=False).headers.get("location") == "/sign-in"


# ----------------------------------------------------------------------------- serve --workers


def _env() -> dict[str, str]:
    """This checkout's code in the server's processes, whatever is installed."""
    return {**os.environ, "GRANT_LEDGER_LANG": "en", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _request(
    port: int, method: str, path: str, cookie: str, form: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    """One request on a new connection (any of the server's processes may take it)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        connection.close()


def _cookie(headers: dict[str, str], cookie: str) -> str:
    found = re.search(rf"{COOKIE}=([^;]+)", headers.get("set-cookie", ""))
    return found.group(1) if found else cookie


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_serve_with_two_workers_signs_in_records_and_signs_out(books: Ledger, tmp_path: Path) -> None:  # noqa: F811
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "commands", "--db", books.url, "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(300):
            try:
                status, headers, page = _request(port, "GET", "/sign-in", "")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not start")
        assert len(_children(server.pid)) >= 2
        # a second server on the address is refused, as for one process (not quietly let in to
        # take a share of the connections)
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "commands",
                "--db",
                books.url,
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2, (second.stdout, second.stderr)
        assert (
            second.stderr.strip()
            == f"grant-ledger: cannot listen on 127.0.0.1:{port}: Address already in use"
        )
        assert "serving" not in second.stdout
        cookie = _cookie(headers, "")
        form = {"csrf": csrf(page), "name": "tester", "password": PASSWORD}
        status, headers, _ = _request(port, "POST", "/sign-in", cookie, form)
        assert status == 303 and headers["location"] == "/"
        cookie = _cookie(headers, cookie)
        # every new connection, whichever process takes it, is the signed-in session
        pages = [_request(port, "GET", "/grants/G1", cookie) for _ in range(12)]
        assert all(status == 200 and "G1" in page for status, _, page in pages)
        token = csrf(pages[-1][2])
        form = {"csrf": token, "amount": "1200", "category": "equipment", "source": "subsidy",
                "voucher": "记-多进程", "on": "2024-05-10"}  # fmt: skip
        status, headers, _ = _request(port, "POST", "/grants/G1/spend", cookie, form)
        assert status == 303, status
        status, _, page = _request(port, "GET", "/grants/G1", cookie)
        assert 'id="done"' in page
        assert books.balances()["B0001"]["subsidy_spent"] == "1200.00"
        status, headers, _ = _request(port, "POST", "/sign-out", cookie, {"csrf": token})
        assert status == 303 and headers["location"] == "/sign-in"
        for _ in range(12):
            status, headers, _ = _request(port, "GET", "/", cookie)
            assert status == 303 and headers["location"] == "/sign-in"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "Traceback" not in output, output


def test_one_process_of_a_server_catches_up_at_a_time_on_postgresql() -> None:
    """While another process of the server holds the catch-up lock, a catch-up waits for it (two
    at once would each check and project the same events, one of them for nothing)."""
    import threading

    from commands.web.workspace import CATCH_UP_LOCK, Workspace
    from tests.conftest import copied_ledger, drop_pg_database, pg_unavailable

    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    ledger = copied_ledger()
    try:
        workspace = Workspace(ledger.url, processes=2)
        engine = create_engine(ledger.url)
        done = threading.Event()
        with engine.connect() as other:
            other = other.execution_options(isolation_level="AUTOCOMMIT")
            other.exec_driver_sql("SELECT pg_advisory_lock(%s, %s)", CATCH_UP_LOCK)

            def catch_up() -> None:
                workspace.catch_up()
                done.set()

            waiting = threading.Thread(target=catch_up)
            waiting.start()
            assert not done.wait(1.0)  # held elsewhere: it waits
            other.exec_driver_sql("SELECT pg_advisory_unlock(%s, %s)", CATCH_UP_LOCK)
            assert done.wait(30)
            waiting.join()
        engine.dispose()
        workspace.close()
    finally:
        drop_pg_database(ledger.url)
