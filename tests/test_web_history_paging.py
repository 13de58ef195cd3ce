"""A grant's page shows its latest events and pages back through the rest: every page's lines,
running balances and signatures are those `history --signatures --format json` prints for the same
events, and a voucher reversed on another page offers no second reversal."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine
from starlette.testclient import TestClient

from commands.web import pages
from commands.web.app import create_app
from ledger.money import format_yuan
from projections.reports import history, history_page
from tests.conftest import Ledger
from tests.test_actions import _recovered_and_disposed
from tests.test_web import books, sign_in  # noqa: F401  (fixture)

PAGE = 3


@pytest.fixture
def paged(books: Ledger, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:  # noqa: F811
    monkeypatch.setattr(pages, "HISTORY_PAGE", PAGE)
    for n in range(1, 6):
        books.ok(
            "spend", "G1", "--amount", f"{n}00", "--category", "materials", "--source", "subsidy",
            "--voucher", f"记-{n}", "--date", f"2024-05-0{n}",
        )  # fmt: skip
    books.ok("reverse", "G1", "--voucher", "记-1", "--reason", "重复入账", "--date", "2024-05-20")
    with TestClient(create_app(books.url), base_url="http://testserver") as client:
        assert sign_in(client).status_code == 200
        yield client


def _rows(page: str) -> list[list[str]]:
    table = page.split('id="history"', 1)[1].split("</table>", 1)[0]
    rows = []
    for row in table.split("<tr>")[2:]:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", " ", c)).strip() for c in cells])
    return rows


def _earlier(page: str) -> str | None:
    found = re.search(r'id="history-earlier"><a href="(\?before=\d+)"', page)
    return found.group(1) if found else None


def test_the_grant_page_pages_back_through_the_history_the_command_line_prints(
    books: Ledger,  # noqa: F811
    paged: TestClient,
) -> None:
    printed = json.loads(books.ok("history", "G1", "--signatures", "--format", "json").stdout)
    assert len(printed) > 2 * PAGE
    shown: list[list[str]] = []
    link: str | None = ""
    pages_read = 0
    while link is not None:
        page = paged.get(f"/grants/G1{link}&lang=en" if link else "/grants/G1?lang=en")
        assert page.status_code == 200
        rows = _rows(page.text)
        assert 0 < len(rows) <= PAGE
        shown = rows + shown
        link = _earlier(page.text)
        pages_read += 1
    assert pages_read == -(-len(printed) // PAGE)
    assert len(shown) == len(printed)
    for row, line in zip(shown, printed, strict=True):
        voucher, subsidy, matching = row[7], row[9], row[10]
        assert voucher == line["voucher"]
        assert subsidy == format_yuan(Decimal(line["subsidy_balance"]))
        assert matching == format_yuan(Decimal(line["matching_balance"]))
        assert f"✓ {line['signed_by']}" in row[12], row


def test_a_voucher_reversed_on_a_later_page_offers_no_second_reversal(paged: TestClient) -> None:
    latest = paged.get("/grants/G1").text
    assert 'name="voucher" value="记-5"' in latest  # the latest spend can be reversed
    link = _earlier(latest)
    assert link is not None
    earlier = paged.get(f"/grants/G1{link}").text
    while "记-1" not in earlier.split('id="history"', 1)[1]:
        link = _earlier(earlier)
        assert link is not None
        earlier = paged.get(f"/grants/G1{link}").text
    assert 'name="voucher" value="记-1"' not in earlier  # reversed on the latest page
    assert 'name="voucher" value="记-2"' in earlier or 'name="voucher" value="记-3"' in earlier


def _paged(engine: Any, grant: str, size: int, **filters: Any) -> list[Any]:
    lines: list[Any] = []
    before = None
    while True:
        page, earlier = history_page(engine, grant, last=size, before=before, **filters)
        lines = page + lines
        if earlier is None:
            return lines
        before = earlier


def test_pages_joined_are_the_history_with_recoveries_disposals_and_both_pickers(ledger: Ledger) -> None:
    _recovered_and_disposed(ledger)
    ledger.ok("history", "G1")  # caught up
    engine = create_engine(ledger.url)
    try:
        full = history(engine, "G1")
        assert len(full) > 8
        middle = full[len(full) // 2].recorded_at
        for size in (1, 2, 3, 5):
            for filters in (
                {},
                {"as_of": date(2024, 5, 11)},
                {"as_of": date(2024, 6, 15)},
                {"known_at": middle},
            ):
                assert _paged(engine, "G1", size, **filters) == history(engine, "G1", **filters), (
                    size,
                    filters,
                )
    finally:
        engine.dispose()


@pytest.mark.parametrize("before", ["²", "9" * 30, "9" * 5000, "-1", "0", "abc", "１２", "1%26a%3Db"])
def test_a_hostile_page_number_is_not_a_server_error(paged: TestClient, before: str) -> None:
    answer = paged.get("/grants/G1", params={"before": before})
    assert answer.status_code == 200, (before[:20], answer.status_code)
    assert "记-5" in answer.text  # the latest page
    assert paged.get("/", params={"page": before}).status_code == 200
