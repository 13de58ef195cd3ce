"""What a recorded write did is shown once, by the grant's page its 303 answer points to. Nothing
else the same session fetches meanwhile may take it away: the page's own live refresh (static/
live.js fetches the grant's page with HX-Request when the write is announced, and keeps only its
live regions, never the notice), another tab's page of another grant, or a second write on
another grant."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.conftest import Ledger, approved_district_grant
from tests.test_web import books, client, clock, csrf, sign_in  # noqa: F401  (fixtures)


def _spend(client: TestClient, grant: str, voucher: str) -> Any:  # noqa: F811
    page = client.get(f"/grants/{grant}")
    form = {"csrf": csrf(page.text), "amount": "1200", "category": "equipment", "source": "subsidy",
            "voucher": voucher, "payee": "重庆某设备公司", "on": "2024-05-10"}  # fmt: skip
    answer = client.post(f"/grants/{grant}/spend", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.status_code
    return answer


def test_the_pages_live_refresh_does_not_take_the_notice_of_the_write(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    sign_in(client)
    answer = _spend(client, "G1", "记-通知")
    live = client.get("/grants/G1", headers={"HX-Request": "true"})  # as live.js fetches it
    assert live.status_code == 200
    shown = client.get(answer.headers["location"])
    assert 'id="done"' in shown.text and "记-通知" in shown.text
    assert 'id="done"' not in client.get("/grants/G1").text  # once


def test_a_page_of_another_grant_does_not_take_the_notice_of_the_write(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    sign_in(client)
    answer = _spend(client, "G1", "记-通知")
    other = client.get("/grants/G-OTHER")  # another tab: a grant not in the ledger
    assert other.status_code == 404 and "记-通知" not in other.text
    shown = client.get(answer.headers["location"])
    assert 'id="done"' in shown.text and "记-通知" in shown.text


def test_two_writes_on_two_grants_each_show_their_own_notice(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    """Two tabs of one session: a spend on G1, then one on G2 before the first tab's page came."""
    approved_district_grant(books, "G2", "B0002", "U2")
    books.ok("disburse", "G2", "--amount", "10万", "--voucher", "拨-2", "--date", "2024-04-15")
    sign_in(client)
    first = _spend(client, "G1", "记-甲")
    second = _spend(client, "G2", "记-乙")
    shown_first = client.get(first.headers["location"]).text
    assert 'id="done"' in shown_first and "记-甲" in shown_first and "记-乙" not in shown_first
    shown_second = client.get(second.headers["location"]).text
    assert 'id="done"' in shown_second and "记-乙" in shown_second


def test_the_answer_to_a_recorded_write_carries_the_pages_security_headers(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    """The 303 a recorded write answers with is no page, but it is an answer of the workspace all
    the same: not kept by a cache, not framed, not sniffed."""
    from commands.web.app import SECURITY_HEADERS

    sign_in(client)
    answer = _spend(client, "G1", "记-头")
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get(name) == value, name
