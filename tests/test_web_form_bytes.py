"""What the web answers with, whatever it is sent: a form whose text is not UTF-8 is refused in
one sentence, nothing written (the parser had put U+FFFD for such bytes, or read raw ones as
Latin-1, so the voucher %FF%FE was stored as "��" and a second spend with the voucher %FE%FF,
another voucher, was taken as already recorded); every response carries the security headers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from tests.conftest import Ledger
from tests.test_web import books, client, clock, csrf, events, sign_in, spend  # noqa: F401  (fixtures)


def _post_spend(client: TestClient, voucher: bytes) -> Any:  # noqa: F811
    page = client.get("/grants/G1")
    form = {"csrf": csrf(page.text), "amount": "100", "category": "equipment", "source": "subsidy",
            "payee": "重庆某设备公司", "on": "2024-05-10"}  # fmt: skip
    body = urlencode(form).encode("ascii") + b"&voucher=" + voucher
    return client.post(
        "/grants/G1/spend", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )


@pytest.mark.parametrize("voucher", [b"%FF%FE", b"%FE%FF", b"\xff\xfe", b"%E8%AE%B0-%C0%80"], ids=repr)
def test_a_form_that_is_not_utf8_is_refused_and_nothing_written(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
    voucher: bytes,
) -> None:
    sign_in(client)
    before = events(books)
    refused = _post_spend(client, voucher)
    assert refused.status_code == 400, refused.status_code
    assert "UTF-8" in refused.text and ("nothing was written" in refused.text or "未写入" in refused.text)
    assert events(books) == before


def test_the_same_form_in_utf8_is_recorded(books: Ledger, client: TestClient) -> None:  # noqa: F811
    sign_in(client)
    before = events(books)
    done = (
        _post_spend(client, "记-０４２".encode().replace(b"", b""))
        if False
        else _post_spend(client, b"%E8%AE%B0-042")
    )
    assert 'id="done"' in done.text, done.status_code
    assert events(books) > before


def test_every_response_carries_the_security_headers(books: Ledger, client: TestClient) -> None:  # noqa: F811
    """Those Starlette makes itself had none: a static file, its 404, a malformed upload's 400."""
    sign_in(client)
    page = client.get("/grants/G1")
    malformed = client.post(
        "/grants/G1/record/dossier-add",
        content=b"garbage",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    for response in (client.get("/static/live.js"), client.get("/no-such-page"), malformed, page):
        assert response.headers.get("x-content-type-options") == "nosniff", response.status_code
        assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", "")
        assert response.headers.get("x-frame-options") == "DENY"
    assert client.get("/static/live.js").headers.get("cache-control") != "no-store"
    assert page.headers.get("cache-control") == "no-store"


def test_a_form_posted_as_multipart_or_without_its_length_is_refused_and_nothing_written(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    """A payee typed in GBK, posted as multipart: Starlette read its bytes as Latin-1 and the spend
    was stored with the payee garbled for good (found by a red-team pass). A form of a page with no
    file is url-encoded; one without its length is refused as such, not as "too large"."""
    sign_in(client)
    before = events(books)
    token = csrf(client.get("/grants/G1").text)
    fields = {"csrf": token, "amount": "100", "category": "equipment", "source": "subsidy",
              "voucher": "RT-GBK-1", "on": "2024-05-10"}  # fmt: skip
    parts = [
        f'--x\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    payee = b'--x\r\nContent-Disposition: form-data; name="payee"\r\n\r\n' + "供应商".encode("gbk") + b"\r\n"
    for body, kind in (
        (b"".join(parts) + payee + b"--x--\r\n", "multipart/form-data; boundary=x"),
        (urlencode({**fields, "payee": "供应商"}).encode(), "text/plain"),
    ):
        refused = client.post("/grants/G1/spend", content=body, headers={"content-type": kind})
        assert refused.status_code == 415, (kind, refused.status_code)
        assert "nothing was written" in refused.text or "未写入" in refused.text
    chunks = iter([urlencode({**fields, "payee": "供应商"}).encode()])
    refused = client.post(
        "/grants/G1/spend", content=chunks, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert refused.status_code == 411, refused.status_code
    assert events(books) == before
    mixed = "Application/X-WWW-Form-Urlencoded; charset=utf-8"
    done = client.post(
        "/grants/G1/spend",
        content=urlencode({**fields, "payee": "供应商"}).encode(),
        headers={"content-type": mixed},
    )
    assert 'id="done"' in done.text, done.status_code
    assert events(books) > before
