"""The web workspace (`grant-ledger serve`) through its real app on a real SQLite ledger: sign-in,
sessions, CSRF, the overview's figures against `balance --format json`, a spend recorded and
signed by the signed-in person, refusals as the command line gives them, roles held on the server,
and the web password kept out of every audit bundle."""

from __future__ import annotations

import contextlib
import html
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from commands.cli import cli
from commands.web.app import COOKIE, create_app
from commands.web.sessions import IDLE_SECONDS, LIFETIME_SECONDS
from tests.conftest import Ledger, approved_district_grant, prepared

PASSWORD = "correct-horse-battery"
AUDITOR_PASSWORD = "auditor-horse-battery"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def set_password(ledger: Ledger, name: str, password: str, role: str, *extra: str) -> Any:
    """`people password NAME` as ``role``'s person, the password typed twice at the prompt."""
    return ledger.runner.invoke(
        cli,
        [
            "--db",
            ledger.url,
            "--key",
            str(ledger.key(role)),
            "--lang",
            "en",
            "people",
            "password",
            name,
            *extra,
        ],
        input=f"{password}\n{password}\n",
    )


def _books(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    for name, password, role in (
        ("tester", PASSWORD, "officer"),
        ("tester.auditor", AUDITOR_PASSWORD, "auditor"),
    ):
        result = set_password(ledger, name, password, role)
        assert result.exit_code == 0, (result.stdout, result.stderr)


@pytest.fixture
def books(tmp_path: Path) -> Iterator[Ledger]:
    """G1 (base B0001) approved, 100,000.00 of subsidy received; the officer `tester` and the
    auditor `tester.auditor` have web passwords set with their own keys (SQLite)."""
    yield from prepared("sqlite", tmp_path, _books)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(books: Ledger, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(books.url, clock=clock), base_url="http://testserver") as c:
        yield c


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, page[:2000]
    return found.group(1)


def sign_in(client: TestClient, name: str = "tester", password: str = PASSWORD) -> Any:
    page = client.get("/sign-in")
    return client.post("/sign-in", data={"csrf": csrf(page.text), "name": name, "password": password})


def spend(client: TestClient, **fields: str) -> Any:
    page = client.get("/grants/G1")
    form = {"csrf": csrf(page.text), "amount": "3.5万", "category": "equipment", "source": "subsidy",
            "voucher": "记-0042", "payee": "重庆某设备公司", "on": "2024-05-10"}  # fmt: skip
    form.update(fields)
    return client.post("/grants/G1/spend", data=form)


def events(ledger: Ledger) -> int:
    return ledger.event_count()


def attempts(ledger: Ledger) -> list[tuple[str, str, str]]:
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT person, address, outcome FROM ledger_web_sign_ins ORDER BY id"))
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


def cells(page: str, grant: str) -> dict[str, str]:
    row = re.search(rf'<tr data-grant="{re.escape(grant)}">(.*?)</tr>', page, re.S)
    assert row is not None, page[:3000]
    found = re.findall(r'<td[^>]*data-key="([a-z_]+)"[^>]*>(.*?)</td>', row.group(1), re.S)
    return {key: re.sub(r"<[^>]+>", "", value).strip() for key, value in found}


# ----------------------------------------------------------------------------- people password


def test_a_web_password_is_set_by_its_person_or_first_by_an_administrator(sqlite_ledger: Ledger) -> None:
    approver = sqlite_ledger.name("approver")
    before = events(sqlite_ledger)
    short = set_password(sqlite_ledger, "tester", "short", "officer")
    assert short.exit_code == 2 and "at least 10 characters" in short.stderr
    other = set_password(sqlite_ledger, approver, PASSWORD, "officer")
    assert other.exit_code == 3, other.stderr
    assert f"only {approver}" in other.stderr
    unknown = set_password(sqlite_ledger, "nobody", PASSWORD, "admin")
    assert unknown.exit_code == 4, unknown.stderr
    wrong_key = set_password(
        sqlite_ledger, approver, PASSWORD, "admin", "--person-key", str(sqlite_ledger.key("officer"))
    )
    assert wrong_key.exit_code == 2 and "not" in wrong_key.stderr
    first = set_password(sqlite_ledger, approver, PASSWORD, "admin")
    assert first.exit_code == 0, first.stderr
    assert "no signing key on the server" in first.stdout
    again = set_password(sqlite_ledger, approver, "another-password-1", "admin")
    assert again.exit_code == 5, again.stderr
    own = set_password(sqlite_ledger, approver, "another-password-1", "approver")
    assert own.exit_code == 0 and "unlocks the key" in own.stdout
    assert events(sqlite_ledger) == before  # a password is never an event


def test_people_password_for_another_person_is_refused_by_the_rule(sqlite_ledger: Ledger) -> None:
    """The rule "people password": an officer sets no one's password but their own (exit 3)."""
    approver = sqlite_ledger.name("approver")
    key = str(sqlite_ledger.key("officer"))
    typed = f"{PASSWORD}\n{PASSWORD}\n"
    refused = sqlite_ledger.runner.invoke(
        cli,
        ["--db", sqlite_ledger.url, "--key", key, "--lang", "en", "people", "password", approver],
        input=typed,
    )
    assert refused.exit_code == 3 and f"only {approver}, with their own key" in refused.stderr
    zh = sqlite_ledger.runner.invoke(
        cli,
        ["--db", sqlite_ledger.url, "--key", key, "--lang", "zh", "people", "password", approver],
        input=typed,
    )
    assert zh.exit_code == 3 and f"只有 {approver} 本人" in zh.stderr


def test_the_password_and_the_sealed_key_are_in_no_audit_bundle(books: Ledger, tmp_path: Path) -> None:
    engine = create_engine(books.url)
    with engine.connect() as conn:
        query = text("SELECT password_hash, kdf_salt, nonce, sealed_key FROM ledger_web_credentials")
        secrets = [v for row in conn.execute(query) for v in row]
    engine.dispose()
    assert len(secrets) == 8 and all(secrets)
    books.ok("audit", "checkpoint", role="approver")
    bundle = tmp_path / "bundle"
    books.ok("audit", "export", str(bundle), role="auditor")
    shipped = b"".join(p.read_bytes() for p in sorted(bundle.rglob("*")) if p.is_file())
    assert b"disburse" in shipped or "拨-1".encode() in shipped  # the bundle does hold the ledger
    for secret in secrets:
        assert secret.encode() not in shipped
        assert secret[:24].encode() not in shipped
    assert b"argon2" not in shipped and PASSWORD.encode() not in shipped


# ----------------------------------------------------------------------------- sign-in and sessions


def test_sign_in_with_the_right_password_and_not_with_a_wrong_one(books: Ledger, client: TestClient) -> None:
    assert client.get("/").url.path == "/sign-in"
    bad = sign_in(client, password="wrong-password-0")
    assert bad.status_code == 401 and "密码" in bad.text
    assert client.get("/").url.path == "/sign-in"
    good = sign_in(client)
    assert good.status_code == 200 and good.url.path == "/"
    assert "tester" in good.text and "总览" in good.text
    assert attempts(books) == [("tester", "testclient", "wrong"), ("tester", "testclient", "signed in")]
    cookie = good.history[0].headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie


def test_the_sixth_wrong_password_in_a_minute_is_refused_even_when_right(
    books: Ledger, client: TestClient
) -> None:
    for _ in range(5):
        assert sign_in(client, password="wrong-password-0").status_code == 401
    limited = sign_in(client)
    assert limited.status_code == 429 and client.get("/").url.path == "/sign-in"
    # from the same address, another name is refused too
    other = sign_in(client, "tester.auditor", AUDITOR_PASSWORD)
    assert other.status_code == 429
    assert [o for _, _, o in attempts(books)] == ["wrong"] * 5  # a refusal unchecked is not kept


def test_attempts_refused_unchecked_are_not_kept_and_do_not_hold_a_name_shut(
    books: Ledger, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each refusal wrote a row and counted as a wrong password: anyone could grow the table
    without bound, and keep a name shut for as long as they went on trying it (a red-team pass)."""
    from datetime import datetime, timedelta

    from commands.web import credentials

    start = datetime(2026, 1, 5, 9, 0, 0)
    now = [start]
    monkeypatch.setattr(credentials, "utcnow", lambda: now[0])
    for _ in range(5):
        assert sign_in(client, password="wrong-password-0").status_code == 401
    for seconds in range(10, 60, 10):  # someone goes on trying the name
        now[0] = start + timedelta(seconds=seconds)
        assert sign_in(client, password="wrong-password-0").status_code == 429
        assert sign_in(client, "x" * 200 + str(seconds), "wrong-password-0").status_code == 429
    assert [o for _, _, o in attempts(books)] == ["wrong"] * 5
    now[0] = start + timedelta(seconds=61)  # a minute after the fifth wrong password
    good = sign_in(client)
    assert good.status_code == 200 and good.url.path == "/", good.status_code


def test_a_session_expires_after_its_idle_time(books: Ledger, client: TestClient, clock: Clock) -> None:
    sign_in(client)
    page = client.get("/grants/G1")
    assert page.url.path == "/grants/G1"
    clock.now += IDLE_SECONDS - 1
    assert client.get("/").url.path == "/"  # still alive: it was used
    clock.now += IDLE_SECONDS + 1
    assert client.get("/").url.path == "/sign-in"
    before = events(books)
    form = {"csrf": csrf(page.text), "amount": "100", "category": "equipment", "voucher": "late-1"}
    late = client.post("/grants/G1/spend", data=form)
    assert late.url.path == "/sign-in" and events(books) == before


def test_a_session_in_use_ends_at_its_lifetime(books: Ledger, client: TestClient, clock: Clock) -> None:
    sign_in(client)
    while clock.now + IDLE_SECONDS / 2 < 1_000_000.0 + LIFETIME_SECONDS:
        clock.now += IDLE_SECONDS / 2
        assert client.get("/").url.path == "/"
    clock.now += IDLE_SECONDS / 2 + 1  # past the lifetime, though used within its idle time
    assert client.get("/").url.path == "/sign-in"


def test_a_forged_session_cookie_is_signed_out(books: Ledger, client: TestClient) -> None:
    client.cookies.set(COOKIE, "A" * 43)
    assert client.get("/").url.path == "/sign-in"
    assert client.get("/grants/G1").url.path == "/sign-in"


def test_sign_out_drops_the_session(books: Ledger, client: TestClient) -> None:
    page = sign_in(client)
    kept = client.cookies.get(COOKIE)
    out = client.post("/sign-out", data={"csrf": csrf(page.text)})
    assert out.url.path == "/sign-in"
    client.cookies.set(COOKIE, kept or "")
    assert client.get("/").url.path == "/sign-in"  # the old id is worth nothing


# ----------------------------------------------------------------------------- CSRF


def test_a_form_without_its_csrf_token_is_refused(books: Ledger, client: TestClient) -> None:
    page = client.get("/sign-in")
    refused = client.post("/sign-in", data={"name": "tester", "password": PASSWORD})
    assert refused.status_code == 403 and client.get("/").url.path == "/sign-in"
    assert csrf(page.text)
    sign_in(client)
    before = events(books)
    no_token = client.post("/grants/G1/spend", data={"amount": "100", "category": "equipment",
                                                     "source": "subsidy", "voucher": "x-1"})  # fmt: skip
    assert no_token.status_code == 403 and events(books) == before


def test_a_csrf_token_of_another_session_is_refused(books: Ledger, clock: Clock) -> None:
    app = create_app(books.url, clock=clock)
    with TestClient(app) as mine, TestClient(app) as theirs:
        sign_in(mine)
        sign_in(theirs, "tester.auditor", AUDITOR_PASSWORD)
        their_token = csrf(theirs.get("/").text)
        before = events(books)
        forged = spend(mine, csrf=their_token)
        assert forged.status_code == 403 and events(books) == before


# ----------------------------------------------------------------------------- pages


def test_the_overview_shows_the_figures_of_balance_json(books: Ledger, client: TestClient) -> None:
    books.ok("match", "commit", "G1", "--amount", "20万", "--funder", "单位U1", "--voucher", "配承-1",
             "--date", "2024-04-18")  # fmt: skip
    books.ok("match", "receive", "G1", "--amount", "5万", "--voucher", "配-1", "--date", "2024-04-20")
    books.ok("spend", "G1", "--amount", "12,345.67", "--category", "equipment", "--voucher", "记-1",
             "--date", "2024-05-01")  # fmt: skip
    books.ok("spend", "G1", "--amount", "4,000.01", "--category", "materials", "--source", "matching",
             "--voucher", "记-2", "--date", "2024-05-02")  # fmt: skip
    sign_in(client)
    page = client.get("/").text
    expected = books.balances()["B0001"]
    shown = cells(page, "G1")
    money = ("subsidy_approved", "subsidy_received", "subsidy_spent", "subsidy_available",
             "matching_committed", "matching_received", "matching_spent", "matching_available")  # fmt: skip
    for key in money:
        cell = shown["approved" if key == "subsidy_approved" else key]
        assert Decimal(cell.replace(",", "")) == Decimal(expected[key]), key
    assert Decimal(expected["matching_spent"]) == Decimal("4000.01")
    assert shown["execution_rate"] == f"{expected['execution_rate']}%"
    assert shown["base_id"] == "B0001"


def test_the_overview_filters_by_programme_and_status(books: Ledger, client: TestClient) -> None:
    sign_in(client)
    assert 'data-grant="G1"' in client.get("/?status=approved").text
    assert 'data-grant="G1"' not in client.get("/?status=applied").text
    assert 'data-grant="G1"' not in client.get("/?programme=national_base").text
    assert 'data-grant="G1"' in client.get("/?programme=district_base&page=99").text


def test_pages_are_chinese_by_default_and_english_on_request(books: Ledger, client: TestClient) -> None:
    assert "登录" in client.get("/sign-in").text
    sign_in(client)
    assert "总览" in client.get("/").text
    english = client.get("/?lang=en").text
    assert "Overview" in english and "总览" not in english
    assert "Budget against actual" in client.get("/grants/G1").text  # the session keeps it


def test_the_grant_page_shows_budget_history_with_who_did_it_and_findings(
    books: Ledger, client: TestClient
) -> None:
    sign_in(client)
    page = client.get("/grants/G1?lang=en").text
    history = re.search(r'<table class="figures" id="history">(.*?)</table>', page, re.S)
    assert history is not None
    actors = re.findall(r'<td class="actor">(.*?)</td>', history.group(1))
    assert actors[0] == "tester" and books.name("approver") in actors and len(actors) >= 5
    assert "拨-1" in history.group(1)
    acts = re.findall(r'<td class="act">(.*?)</td>', history.group(1))
    assert "approval" in acts and "approve" not in acts  # each act by its name, not its code
    zh = re.search(
        r'<table class="figures" id="history">(.*?)</table>', client.get("/grants/G1?lang=zh").text, re.S
    )
    assert zh is not None and "批复" in re.findall(r'<td class="act">(.*?)</td>', zh.group(1))
    assert client.get("/grants/NOPE").status_code == 404


# ----------------------------------------------------------------------------- recording


def test_a_spend_is_recorded_signed_by_the_person_and_a_repeat_writes_nothing(
    books: Ledger, client: TestClient, tmp_path: Path
) -> None:
    sign_in(client)
    before = events(books)
    done = spend(client)
    assert done.status_code == 200 and "记-0042" in done.text and 'id="done"' in done.text
    assert books.balances()["B0001"]["subsidy_spent"] == "35000.00"
    after = events(books)
    assert after > before
    again = spend(client)
    assert (
        again.status_code == 200 and "已登记" in again.text
    )  # "already recorded", the page being in Chinese
    assert events(books) == after
    # the auditor's proof: the bundle verifies against the trust root, the spend signed by tester
    books.ok("audit", "checkpoint", role="approver")
    bundle = tmp_path / "bundle"
    books.ok("audit", "export", str(bundle), role="auditor")
    verified = CliRunner().invoke(
        cli, ["--lang", "en", "audit", "verify", str(bundle), "--root", str(books.root)]
    )
    assert verified.exit_code == 0 and "PASS" in verified.stdout, (verified.stdout, verified.stderr)
    lines = (bundle / "events.jsonl").read_text("utf-8").splitlines()
    records = [json.loads(line)["record"] for line in lines]
    spent = [r["state"] for r in records if r["state"].get("voucher") == "记-0042"]
    assert len(spent) == 1 and spent[0]["actor"] == "tester" and spent[0]["role"] == "officer"
    seal = next(r["state"] for r in records if r["originator_id"] == spent[0]["seal"])
    from ledger.seal import load_signer

    assert seal["signer"] == "tester" and seal["key"] == load_signer(books.key("officer")).fingerprint


def test_a_refused_spend_shows_its_rule_and_clause_and_writes_nothing(
    books: Ledger, client: TestClient
) -> None:
    sign_in(client)
    client.get("/?lang=en")  # the command line below speaks English too
    before = events(books)
    refused = spend(client, category="travel", voucher="记-0102", amount="3200")
    assert refused.status_code == 422
    assert 'id="refusal-rule">banned category<' in refused.text
    assert 'id="refusal-clause">003 第九条<' in refused.text
    cli_says = books("spend", "G1", "--amount", "3200", "--category", "travel", "--voucher", "记-0102",
                     "--date", "2024-05-10")  # fmt: skip
    assert cli_says.exit_code == 3
    sentence = cli_says.stderr.removeprefix("grant-ledger: ").strip()
    shown = re.search(r'id="refusal".*?<p class="error">(.*?)</p>', refused.text, re.S)
    assert shown is not None and html.unescape(shown.group(1)) == sentence
    too_much = spend(client, amount="10000000", voucher="记-0103")
    assert too_much.status_code in (400, 422) and 'id="refusal"' in too_much.text
    assert events(books) == before


def test_an_auditor_cannot_record_a_spend(books: Ledger, client: TestClient) -> None:
    sign_in(client, "tester.auditor", AUDITOR_PASSWORD)
    page = client.get("/grants/G1")
    assert page.status_code == 200 and 'id="spend-form"' not in page.text
    before = events(books)
    form = {"csrf": csrf(page.text), "amount": "100", "category": "equipment", "source": "subsidy",
            "voucher": "审-1", "on": "2024-05-10"}  # fmt: skip
    refused = client.post("/grants/G1/spend", data=form)
    assert refused.status_code == 403 and events(books) == before


def test_a_script_typed_into_a_form_is_shown_as_text(books: Ledger, client: TestClient) -> None:
    sign_in(client)
    script = "<script>alert(1)</script>"
    done = spend(client, payee=script, voucher=script, memo=script)
    assert done.status_code == 200 and 'id="done"' in done.text
    for page in (done.text, client.get("/grants/G1").text, client.get("/").text):
        assert script not in page
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/grants/G1").text
    )  # the voucher, in the history
    refused = spend(client, voucher=script, amount="99", payee=script)  # the same voucher, other content
    assert refused.status_code == 409 and script not in refused.text
    assert "&lt;script&gt;" in refused.text


def test_serve_is_loaded_only_by_serve() -> None:
    code = (
        "import sys\nfrom commands.cli import main\nsys.argv=['grant-ledger','--version']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'starlette' not in sys.modules and 'commands.web' not in sys.modules, 'loaded'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_rotated_key_records_nothing_on_the_web_and_a_revoked_person_cannot_sign_in(
    books: Ledger, client: TestClient, tmp_path: Path
) -> None:
    from ledger.seal import generate_key

    generate_key(tmp_path / "new.key")
    books.ok("people", "rotate", "tester", "--public-key", str(tmp_path / "new.pub"), role="admin")
    page = sign_in(client)
    assert page.url.path == "/" and 'id="spend-form"' not in client.get("/grants/G1").text
    before = events(books)
    refused = spend(client)
    assert refused.status_code == 403 and "people password" in refused.text and events(books) == before
    books.ok("people", "revoke", "tester.auditor", "--date", "2024-01-01", role="admin")
    assert sign_in(client, "tester.auditor", AUDITOR_PASSWORD).status_code == 401


def test_a_key_revoked_by_another_process_between_two_web_writes_records_nothing(
    books: Ledger, client: TestClient
) -> None:
    """The server keeps the people registry it replayed; a revocation stored by another process
    after the officer's first spend must still refuse the second, with nothing written."""
    sign_in(client)
    assert 'id="done"' in spend(client, voucher="记-撤销前").text
    before = events(books)
    books.ok("people", "revoke", "tester", "--date", "2024-05-01", role="admin")  # its own Settings
    revoked = events(books)
    assert revoked > before
    refused = spend(client, voucher="记-撤销后", on="2024-05-20")  # a revoked person is signed out
    assert refused.url.path == "/sign-in" and 'id="done"' not in refused.text, refused.status_code
    assert events(books) == revoked
    assert books.balances()["B0001"]["subsidy_spent"] == "35000.00"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serving(url: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    command = [sys.executable, "-m", "commands", "--db", url, "serve", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)


def _get(url: str) -> Any:
    import time

    import httpx2 as httpx

    for _ in range(200):
        try:
            return httpx.get(url, verify=False, timeout=5, follow_redirects=True)
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"nothing answered at {url}")


def test_grant_ledger_serve_serves_the_ledger_and_sets_secure_cookies_under_tls(
    books: Ledger, tmp_path: Path
) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    port = _free_port()
    with _serving(books.url, "--port", str(port)):
        page = _get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and "登录" in page.text and page.url.path == "/sign-in"
        assert "secure" not in page.history[0].headers.get("set-cookie", "").lower()
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "office.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "office.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    port = _free_port()
    tls = (
        "--port",
        str(port),
        "--certfile",
        str(tmp_path / "office.crt"),
        "--keyfile",
        str(tmp_path / "office.key"),
    )
    with _serving(books.url, *tls):
        page = _get(f"https://127.0.0.1:{port}/sign-in")
        assert page.status_code == 200 and "secure" in page.headers["set-cookie"].lower()


def test_serve_refuses_half_a_tls_pair_and_a_missing_ledger(tmp_path: Path, books: Ledger) -> None:
    half = CliRunner().invoke(cli, ["--db", books.url, "serve", "--certfile", str(tmp_path.parent)])
    assert half.exit_code == 2
    (tmp_path / "c.pem").write_text("x")
    half = CliRunner().invoke(cli, ["--db", books.url, "serve", "--certfile", str(tmp_path / "c.pem")])
    assert half.exit_code == 2 and "--keyfile" in half.stderr
    missing = CliRunner().invoke(cli, ["--lang", "en", "--db", str(tmp_path / "none.db"), "serve"])
    assert missing.exit_code == 4 and "no ledger" in missing.stderr and "Traceback" not in missing.stderr


def test_a_spend_on_the_web_is_recorded_on_either_backend(ledger: Ledger, clock: Clock) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    assert set_password(ledger, "tester", PASSWORD, "officer").exit_code == 0
    with TestClient(create_app(ledger.url, clock=clock)) as client:
        sign_in(client)
        assert spend(client).status_code == 200
        assert "已登记" in spend(client).text  # already recorded
        assert cells(client.get("/").text, "G1")["subsidy_available"] == "65,000.00"
    assert ledger.balances()["B0001"]["subsidy_available"] == "65000.00"


def test_the_overview_pages_sixty_grants_by_base(books: Ledger, client: TestClient, tmp_path: Path) -> None:
    header = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"
    rows = "".join(
        f"2024-04-01,UP{n:03},BP{n:03},GP{n:03},district_base,approve,200000,,,,渝中人社〔2024〕{n}号,,\n"
        for n in range(60)
    )
    (tmp_path / "approvals.csv").write_text(header + "\n" + rows, encoding="utf-8")
    books.ok("import", str(tmp_path / "approvals.csv"), role="approver")
    sign_in(client)
    first = client.get("/?lang=en").text
    assert "61 grants; page 1 of 2" in first
    shown = re.findall(r'<tr data-grant="([^"]+)">', first)
    assert shown == ["G1"] + [f"GP{n:03}" for n in range(49)]
    second = re.findall(r'<tr data-grant="([^"]+)">', client.get("/?page=2").text)
    assert second == [f"GP{n:03}" for n in range(49, 60)]
    assert 'rel="prev"' in client.get("/?page=2").text and 'rel="next"' not in client.get("/?page=2").text


def test_every_page_label_has_its_chinese_and_the_catalogue_is_compiled() -> None:
    from commands.catalogues import _bytes, _po, domains, missing, updated

    (web,) = [d for d in domains() if d.name == "web"]
    for lang in ("zh", "en"):
        catalog = updated(web, lang)
        assert missing(catalog) == [], lang
        compiled = _po(web, lang).with_suffix(".mo").read_bytes()
        assert compiled == _bytes(catalog)[1], f"run make catalogues ({lang})"
    assert len(list(updated(web, "zh"))) > 60  # the templates' labels are extracted, not only the Python's


def test_a_disbursement_is_recorded_on_the_web_and_one_beyond_the_approval_refused(
    books: Ledger, client: TestClient
) -> None:
    sign_in(client)
    page = client.get("/grants/G1")
    form = {"csrf": csrf(page.text), "amount": "8万", "voucher": "拨-2", "tranche": "2", "on": "2024-06-01"}
    done = client.post("/grants/G1/disburse", data=form)
    assert done.status_code == 200 and "拨-2" in done.text
    assert books.balances()["B0001"]["subsidy_received"] == "180000.00"
    before = events(books)
    more = form | {"amount": "3万", "voucher": "拨-3", "tranche": "3"}
    beyond = client.post("/grants/G1/disburse", data=more)
    assert beyond.status_code == 422 and 'id="refusal-rule"' in beyond.text
    assert 'id="disburse-form"' in beyond.text
    assert 'value="拨-3"' in beyond.text  # the form keeps what was typed
    assert events(books) == before


def test_a_forwarded_address_is_believed_only_from_the_named_proxy(books: Ledger) -> None:
    import httpx2 as httpx

    for proxies, recorded in (((), "127.0.0.1"), (("--forwarded-allow-ips", "127.0.0.1"), "10.1.2.3")):
        port = _free_port()
        with _serving(books.url, "--port", str(port), *proxies):
            _get(f"http://127.0.0.1:{port}/sign-in")
            spoofed = {"X-Forwarded-For": "10.1.2.3"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=spoofed) as c:
                token = csrf(c.get("/sign-in").text)
                c.post("/sign-in", data={"csrf": token, "name": "tester", "password": "wrong-password-0"})
        assert attempts(books)[-1] == ("tester", recorded, "wrong")
