"""What someone who can read or write the sessions' table (any PostgreSQL login of the ledger),
or who holds a cookie, can and cannot do with the server's sessions (README: sessions and
forms)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from commands.web import sessions as web_sessions
from commands.web.app import COOKIE, SERVED, create_app
from commands.web.sessions import IDLE_SECONDS
from tests.conftest import Ledger
from tests.test_web import Clock, books, clock, csrf, sign_in, spend  # noqa: F401  (fixtures)
from tests.test_web_workers import SECRET, _children, _free_port, _request, _rows


def test_the_cookie_and_the_row_together_do_not_give_the_persons_key(
    books: Ledger,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    """A cookie stolen once and the table read (by the auditor's login, say) would otherwise give
    the officer's private key for good: signatures in their name long after the session ends."""
    with TestClient(create_app(books.url, clock=clock, session_secret=SECRET)) as client:
        sign_in(client)
        token = client.cookies.get(COOKIE) or ""
        (row,) = [r for r in _rows(books) if r["person"] == "tester"]
    bound = web_sessions._bound(str(row["token_hash"]), "tester", str(row["key_fingerprint"]))
    with pytest.raises(InvalidTag):
        AESGCM(web_sessions._derived(token, b"key")).decrypt(
            bytes.fromhex(str(row["nonce"])), bytes.fromhex(str(row["sealed_key"])), bound
        )


def test_an_expired_sessions_key_is_not_kept_by_the_server_process(
    books: Ledger,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    """A session that ends by expiring, never asked for again, leaves no unlocked key in the
    process (as signing out leaves none)."""
    web_sessions._signers.clear()
    with TestClient(create_app(books.url, clock=clock, session_secret=SECRET)) as client:
        sign_in(client)
        assert spend(client).status_code == 200  # the key opened from the row, for the write
        assert web_sessions._signers
        clock.now += IDLE_SECONDS + 1
        client.cookies.clear()
        for _ in range(3):  # other visitors come and go
            client.get("/sign-in")
        assert not web_sessions._signers


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_server_processes_keep_the_secret_in_memory_and_end_with_the_server(
    books: Ledger,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The sessions' secret is in no process's environment (which /proc/PID/environ and `ps e`
    show, and every child inherits). `serve --workers 2` killed outright (the OOM killer, kill -9)
    leaves no process serving the ledger on its own: orphans would keep the port, refuse the next
    server and keep the sessions."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "commands", "--db", books.url, "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        # this checkout's code, wherever the package is installed from
        env={**os.environ, "GRANT_LEDGER_LANG": "en", "PYTHONPATH": str(Path(__file__).parents[1])},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children: list[int] = []
    try:
        for _ in range(300):
            try:
                _request(port, "GET", "/sign-in", "")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not start")
        children = _children(server.pid)
        assert len(children) >= 2
        for pid in (server.pid, *children):
            assert SERVED.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        ends = time.monotonic() + 15
        while time.monotonic() < ends and any(_alive(pid) for pid in children):
            time.sleep(0.1)
        assert not [pid for pid in children if _alive(pid)]
        with pytest.raises(OSError):
            _request(port, "GET", "/sign-in", "")
    finally:
        server.kill()
        for pid in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _two_views(books: Ledger, clock: Clock) -> tuple[web_sessions.Sessions, str]:  # noqa: F811
    """A session's store as two server processes see it, and the session's token."""
    engine = create_engine(books.url)
    create_app(books.url, clock=clock, session_secret=SECRET)  # the tables
    store = web_sessions.Sessions(lambda: engine, clock, secret=SECRET)
    return store, store.new("zh").id


def test_two_requests_of_one_session_writing_at_once_both_keep_their_notice(
    books: Ledger,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    """Two tabs record on two grants at once (on two processes): each page shows what its write
    did; neither request's save undoes the other's."""
    store, token = _two_views(books, clock)
    first, second = store.get(token), store.get(token)
    assert first is not None and second is not None
    store.notify(first, "G1", ("spend", "recorded on G1"))
    store.notify(second, "G2", ("spend", "recorded on G2"))
    now = store.get(token)
    assert now is not None and set(now.notices) == {"G1", "G2"}
    # the language asked for in one tab is not put back by the other's page showing its notice
    first, second = store.get(token), store.get(token)
    assert first is not None and second is not None
    store.set_lang(first, "en")
    assert store.take_notice(second, "G1") == ("spend", "recorded on G1")
    assert store.take_notice(first, "G1") is None  # shown once
    now = store.get(token)
    assert now is not None and now.lang == "en" and set(now.notices) == {"G2"}


def _flooded(url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(web_sessions, "ANONYMOUS_KEPT", 5)
    monkeypatch.setattr(web_sessions, "TRIM_EVERY", 10)
    with TestClient(create_app(url, clock=clock, session_secret=SECRET)) as client:
        sign_in(client)
        signed = client.cookies.get(COOKIE)
        tokens = []
        for _ in range(40):  # a visitor without a cookie, over and over
            clock.now += 1
            client.cookies.clear()
            client.get("/sign-in")
            tokens.append(client.cookies.get(COOKIE))
        rows = _rows_of(url)
        # at most those kept and those made since the last trim
        assert len([r for r in rows if r["person"] is None]) <= 5 + 10
        assert [r for r in rows if r["person"] == "tester"]
        # the newest visitors keep theirs; the signed-in person keeps theirs
        for token in (tokens[-1], signed):
            client.cookies.clear()
            client.cookies.set(COOKIE, token or "")
            assert client.get("/sign-in").headers.get("set-cookie") is None


def _rows_of(url: str) -> list[dict[str, object]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM ledger_web_sessions"))]
    finally:
        engine.dispose()


def test_sessions_of_visitors_are_trimmed_on_sqlite(
    books: Ledger,  # noqa: F811
    clock: Clock,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _flooded(books.url, clock, monkeypatch)


def test_sessions_of_visitors_are_trimmed_on_postgresql(
    clock: Clock,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.conftest import copied_ledger, drop_pg_database, pg_unavailable
    from tests.test_web import PASSWORD, set_password

    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    ledger = copied_ledger()
    try:
        set_password(ledger, "tester", PASSWORD, "officer")
        _flooded(ledger.url, clock, monkeypatch)
    finally:
        drop_pg_database(ledger.url)


def test_a_signed_out_session_put_back_in_the_table_is_no_session(
    books: Ledger,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    """A cookie taken from the officer, then signed out: whoever also writes the table (the
    auditor's login) copies the row before and inserts it again after."""
    with TestClient(create_app(books.url, clock=clock, session_secret=SECRET)) as client:
        page = sign_in(client)
        stolen = client.cookies.get(COOKIE) or ""
        (row,) = [r for r in _rows(books) if r["person"] == "tester"]
        client.post("/sign-out", data={"csrf": csrf(page.text)})
        assert not [r for r in _rows(books) if r["person"] == "tester"]
        engine = create_engine(books.url)
        with engine.begin() as conn:
            conn.execute(web_sessions.sessions.insert().values(**row))
        engine.dispose()
        client.cookies.clear()
        client.cookies.set(COOKIE, stolen)
        assert client.get("/", follow_redirects=False).headers.get("location") == "/sign-in"


def test_an_idle_session_is_not_kept_alive_below_the_application(
    books: Ledger,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    with TestClient(create_app(books.url, clock=clock, session_secret=SECRET)) as client:
        sign_in(client)
        clock.now += IDLE_SECONDS + 1
        engine = create_engine(books.url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE ledger_web_sessions SET seen = :now"), {"now": clock.now})
        engine.dispose()
        assert client.get("/", follow_redirects=False).headers.get("location") == "/sign-in"
