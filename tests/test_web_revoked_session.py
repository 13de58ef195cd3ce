"""A revoked person cannot sign in (README: who signs in); one already signed in when an
administrator revokes them, from the command line, must not keep reading the ledger, downloading
its reports and bundles, or following it live until their session times out."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from audit.verifier.people import REGISTRY_ID
from tests.conftest import Ledger
from tests.test_web import (  # noqa: F401  (fixtures)
    AUDITOR_PASSWORD,
    PASSWORD,
    books,
    client,
    clock,
    events,
    set_password,
    sign_in,
    spend,
)


def test_a_person_revoked_while_signed_in_is_signed_out(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    sign_in(client, "tester.auditor", AUDITOR_PASSWORD)
    assert client.get("/grants/G1", follow_redirects=False).status_code == 200
    books.ok("people", "revoke", "tester.auditor", "--date", "2024-05-01", role="admin")
    page = client.get("/grants/G1", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/sign-in", page.status_code
    assert client.get("/reports/balance/csv", follow_redirects=False).status_code == 303
    assert client.get("/events").status_code == 403


def test_a_password_changed_from_the_command_line_ends_the_sessions_opened_with_the_old_one(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    """A password is changed because it may have leaked: a session signed in with it had gone on
    signing spends with the person's key for up to eight hours (a red-team pass found it). It is
    signed out at its next request, its token never a session again, and the new password signs in."""
    sign_in(client)
    assert 'id="done"' in spend(client, voucher="记-改密前").text
    before = events(books)
    old_cookies = dict(client.cookies)
    changed = set_password(books, "tester", "a-new-password-99", "officer")
    assert changed.exit_code == 0, changed.stderr
    refused = spend(client, voucher="记-改密后", on="2024-05-20")
    assert 'id="done"' not in refused.text and events(books) == before
    page = client.get("/grants/G1", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/sign-in"
    client.cookies.clear()
    client.cookies.update(old_cookies)  # the old token, put back: no session
    assert client.get("/grants/G1", follow_redirects=False).status_code == 303
    assert sign_in(client, "tester", PASSWORD).status_code in (400, 401, 403)
    sign_in(client, "tester", "a-new-password-99")
    assert 'id="done"' in spend(client, voucher="记-新密码").text
    assert events(books) > before


def test_a_key_rotated_by_another_process_between_two_web_writes_records_nothing(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The person stays registered (still signed in), but the key their session holds is no longer
    theirs: their page shows no form to record with (it had shown every one, each refused when
    used), and a form posted is refused as one without a key on the server, nothing written."""
    from ledger.seal import generate_key

    sign_in(client)
    assert 'id="done"' in spend(client, voucher="记-轮换前").text
    assert 'id="spend-form"' in client.get("/grants/G1").text
    before = events(books)
    generate_key(tmp_path / "new.key")
    books.ok("people", "rotate", "tester", "--public-key", str(tmp_path / "new.pub"), role="admin")
    rotated = events(books)
    assert rotated > before
    page = client.get("/grants/G1")
    assert (
        page.status_code == 200 and 'class="record"' not in page.text and 'id="spend-form"' not in page.text
    )
    refused = spend(client, voucher="记-轮换后", on="2024-05-20")
    assert refused.status_code == 403 and 'id="done"' not in refused.text, refused.status_code
    assert "请用您本人的密钥设置网页密码" in refused.text  # "set your web password with your own key"
    assert events(books) == rotated
    assert books.balances()["B0001"]["subsidy_spent"] == "35000.00"


def test_a_registry_changed_below_the_application_answers_with_its_sentence(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    """Checking the signed-in person against a registry whose events were changed below the
    application fails as every check of it does (exit 6: the page says why), not with a crash."""
    sign_in(client)
    engine = create_engine(books.url)
    try:
        with engine.begin() as conn:
            oid, version, topic, state = conn.execute(
                text("SELECT originator_id, originator_version, topic, state FROM ledger_events "
                     "WHERE originator_id = :r ORDER BY originator_version DESC LIMIT 1"),
                {"r": REGISTRY_ID.bytes if books.url.startswith("sqlite") else REGISTRY_ID},
            ).one()  # fmt: skip
            conn.execute(
                text("INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
                     "VALUES (:o, :v, :t, :s)"),
                {"o": oid, "v": int(version) + 1, "t": topic, "s": state},
            )  # fmt: skip
    finally:
        engine.dispose()
    page = client.get("/grants/G1?lang=en", follow_redirects=False)
    assert page.status_code == 500 and "below the application" in page.text, page.status_code
    assert client.get("/events").status_code == 500
    assert client.get("/grants/G1").status_code == 500  # each look says so, not only the first
