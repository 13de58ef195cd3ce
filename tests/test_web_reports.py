"""The reports' pages (/reports, /reports/<name>) against the command line: each page's table is
the command's (its labelled columns, its figures, its 合计 row) for the same pickers; its xlsx and
csv downloads are the files `--format xlsx|csv --output FILE` writes (csv: the same bytes; xlsx:
the same bytes in every part of the zip but docProps/core.xml, which openpyxl stamps with the
moment it was written, and the same cell values read back through openpyxl); as-of and known-at
reach back as the options do; bad pickers are one sentence and a 4xx, never a 500."""

from __future__ import annotations

import csv
import html
import io
import re
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from starlette.testclient import TestClient

from commands.cli import cli
from commands.web.app import create_app
from tests import test_web
from tests.conftest import Ledger, approved_district_grant
from tests.test_web import AUDITOR_PASSWORD, Clock, sign_in

books, clock = test_web.books, test_web.clock  # the fixtures of tests/test_web.py

# each report, the command line's words for it, and whether it takes --known-at and --from/--to
REPORTS = {
    "balance": (("balance",), True),
    "findings": (("report", "findings"), False),
    "sources": (("report", "sources"), True),
    "categories": (("report", "categories"), True),
    "execution": (("report", "execution"), True),
    "matching": (("report", "matching"), True),
    "budget": (("report", "budget"), True),
}
OPTION = {"as_of": "--as-of", "known_at": "--known-at", "from": "--from", "to": "--to"}


@pytest.fixture
def ledger_books(books: Ledger) -> Ledger:
    """`books` (G1 at B0001, 100,000.00 received) with a budget plan, matching committed and
    received, a 35,000.00 equipment spend on 2024-05-10, and a second grant G2 at B0002."""
    books.ok("grant", "budget", "G1", "--line", "training_system:地方财政:10万",
             "--line", "cooperation:地方财政:10万", "--date", "2024-04-20")  # fmt: skip
    books.ok("match", "commit", "G1", "--amount", "5万", "--funder", "重庆某职业学校", "--voucher", "配承-1",
             "--date", "2024-04-20")  # fmt: skip
    books.ok("match", "receive", "G1", "--amount", "3万", "--voucher", "配到-1", "--date", "2024-04-25")
    books.ok("spend", "G1", "--amount", "3.5万", "--category", "equipment", "--source", "subsidy",
             "--voucher", "记-0042", "--content", "training_system", "--payee", "重庆某设备公司",
             "--date", "2024-05-10")  # fmt: skip
    approved_district_grant(books, "G2", "B0002", "U2")
    books.ok("disburse", "G2", "--amount", "5万", "--voucher", "拨-2", "--date", "2024-06-03")
    return books


@pytest.fixture
def web(ledger_books: Ledger, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(ledger_books.url, clock=clock), base_url="http://testserver") as c:
        yield c


@pytest.fixture
def signed(web: TestClient) -> TestClient:
    assert sign_in(web).status_code == 200
    return web


def command_line(ledger: Ledger, name: str, picks: dict[str, str], *rest: str, lang: str = "zh") -> Any:
    """The report as a person types it, with the options the pickers name (no key: it only reads)."""
    words, _ = REPORTS[name]
    bases = picks.get("bases", "").split()
    options = [arg for key, opt in OPTION.items() if picks.get(key) for arg in (opt, picks[key])]
    result = CliRunner().invoke(cli, ["--db", ledger.url, "--lang", lang, *words, *options, *rest, *bases])
    return result


def page_table(page: str) -> tuple[list[str], list[list[str]], list[str] | None]:
    """The report table of a page: its headers, its rows and its 合计 row, as the reader sees them."""
    found = re.search(r'<table class="figures" id="report">(.*?)</table>', page, re.S)
    assert found is not None, page[:3000]
    body = found.group(1)

    def texts(part: str, tag: str) -> list[str]:
        return [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", part, re.S)
        ]

    head = re.search(r"<thead>(.*?)</thead>", body, re.S)
    rows = re.search(r"<tbody>(.*?)</tbody>", body, re.S)
    foot = re.search(r"<tfoot>(.*?)</tfoot>", body, re.S)
    assert head is not None and rows is not None
    return (
        texts(head.group(1), "th"),
        [texts(r, "td") for r in re.findall(r"<tr>(.*?)</tr>", rows.group(1), re.S)],
        texts(foot.group(1), "th") if foot is not None else None,
    )


def csv_table(text: str, headers: list[str]) -> list[list[str]]:
    """The command line's csv cut to the columns the page shows (the table hides the code column
    beside a labelled one, as the terminal's does), amounts as the table writes them."""
    read = list(csv.reader(io.StringIO(text)))
    at = [read[0].index(h) for h in headers]
    return [[row[i] for i in at] for row in read[1:]]


def plain(cell: str) -> str:
    return cell.replace(",", "") if re.fullmatch(r"-?[\d,]+\.\d\d", cell) else cell


# ----------------------------------------------------------------------------- the figures


CASES = [
    {},
    {"as_of": "2024-05-31"},
    {"bases": "B0001"},
    {"from": "2024-05-01", "to": "2024-12-31"},
]


def test_every_report_page_shows_the_command_lines_table(ledger_books: Ledger, signed: TestClient) -> None:
    """Each report, for each set of pickers: the page's headers, rows and 合计 row are the
    command line's `--format csv` (the table's labels and figures) for the same options."""
    for name, (_, period) in REPORTS.items():
        for picks in CASES:
            if not period and ("from" in picks):
                continue
            label = f"{name} {picks}"
            page = signed.get(f"/reports/{name}", params=picks)
            assert page.status_code == 200, (label, page.text[:2000])
            cli_csv = command_line(ledger_books, name, picks, "--format", "csv")
            assert cli_csv.exit_code == 0, (label, cli_csv.stderr)
            if 'id="empty"' in page.text:
                assert cli_csv.stdout.count("\n") <= 1, label  # the command line has no rows either
                continue
            headers, rows, total = page_table(page.text)
            expected = csv_table(cli_csv.stdout, headers)
            assert expected, label
            if name == "findings":
                assert total is None, label  # findings are not money: no 合计 row
            else:
                assert total is not None and total[0] == "合计", (label, total)
                assert [plain(c) for c in total] == expected[-1], label
                expected = expected[:-1]
            assert [[plain(c) for c in row] for row in rows] == expected, label
    # the page shows the figures a person checks, not only the same as something
    headers, rows, total = page_table(signed.get("/reports/balance", params={"bases": "B0001"}).text)
    row = dict(zip(headers, rows[0], strict=True))
    assert (row["补助到位"], row["补助支出"], row["补助结余"]) == ("100,000.00", "35,000.00", "65,000.00")


def test_the_page_speaks_english_with_the_command_lines_english_labels(
    ledger_books: Ledger, signed: TestClient
) -> None:
    page = signed.get("/reports/sources", params={"lang": "en"})
    headers, rows, total = page_table(page.text)
    cli_csv = command_line(ledger_books, "sources", {}, "--format", "csv", lang="en")
    assert headers == next(csv.reader(io.StringIO(cli_csv.stdout)))
    assert total is not None and total[0] == "total"
    assert [[plain(c) for c in r] for r in [*rows, total]] == csv_table(cli_csv.stdout, headers)


# ----------------------------------------------------------------------------- the downloads


def xlsx_parts(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return {n: z.read(n) for n in z.namelist()}


def xlsx_cells(content: bytes) -> list[tuple[Any, ...]]:
    book = load_workbook(io.BytesIO(content))
    return [tuple(c.value for c in row) for sheet in book.worksheets for row in sheet.iter_rows()]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_downloads_are_the_files_the_command_line_writes(
    ledger_books: Ledger, signed: TestClient, tmp_path: Path, lang: str
) -> None:
    """csv: byte for byte what `--format csv --output FILE` writes (the BOM Excel needs
    included). xlsx: openpyxl stamps docProps/core.xml with the moment of writing, so every other
    part of the zip is compared byte for byte, and every cell's value read back."""
    picks = {"as_of": "2024-12-31", "bases": "B0001"}
    for name in REPORTS:
        for fmt in ("csv", "xlsx"):
            label = f"{name} {fmt} {lang}"
            got = signed.get(f"/reports/{name}/{fmt}", params={**picks, "lang": lang})
            assert got.status_code == 200, (label, got.text[:1000])
            assert got.headers["content-disposition"] == f'attachment; filename="{name}-2024-12-31.{fmt}"'
            written = tmp_path / f"{name}-{lang}.{fmt}"
            result = command_line(
                ledger_books, name, picks, "--format", fmt, "--output", str(written), lang=lang
            )
            assert result.exit_code == 0, (label, result.stderr)
            if fmt == "csv":
                assert got.content == written.read_bytes(), label
                assert got.content.startswith("\ufeff".encode())
                assert got.headers["content-type"].startswith("text/csv")
            else:
                web_parts, cli_parts = xlsx_parts(got.content), xlsx_parts(written.read_bytes())
                assert web_parts.keys() == cli_parts.keys(), label
                for part in web_parts:
                    if part != "docProps/core.xml":
                        assert web_parts[part] == cli_parts[part], (label, part)
                assert xlsx_cells(got.content) == xlsx_cells(written.read_bytes()), label
                assert "B0001" in {v for row in xlsx_cells(got.content) for v in row}


def test_the_workbook_names_the_office_serve_was_given(
    ledger_books: Ledger, clock: Clock, tmp_path: Path
) -> None:
    """`serve` hands the web the 编制单位 the command line prints on workbooks (GRANT_LEDGER_ORG)."""
    office = "重庆市渝中区人力资源和社会保障局"
    with TestClient(create_app(ledger_books.url, clock=clock, org=office)) as client:
        assert sign_in(client).status_code == 200
        got = client.get("/reports/balance/xlsx")
    written = tmp_path / "b.xlsx"
    result = CliRunner(env={"GRANT_LEDGER_ORG": office}).invoke(
        cli,
        ["--db", ledger_books.url, "--lang", "zh", "balance", "--format", "xlsx", "--output", str(written)],
    )
    assert result.exit_code == 0, result.stderr
    assert xlsx_cells(got.content) == xlsx_cells(written.read_bytes())
    assert f"编制单位：{office}" in {v for row in xlsx_cells(got.content) for v in row}


# ----------------------------------------------------------------------------- as of, known at


def test_as_of_before_a_spend_shows_the_balance_before_it(ledger_books: Ledger, signed: TestClient) -> None:
    def spent(day: str) -> tuple[str, str]:
        headers, rows, _ = page_table(
            signed.get("/reports/balance", params={"as_of": day, "bases": "B0001"}).text
        )
        row = dict(zip(headers, rows[0], strict=True))
        return row["补助支出"], row["补助结余"]

    assert spent("2024-05-09") == ("0.00", "100,000.00")
    assert spent("2024-05-10") == ("35,000.00", "65,000.00")
    before = signed.get("/reports/balance/csv", params={"as_of": "2024-05-09", "bases": "B0001"}).content
    assert "100000.00" in before.decode("utf-8-sig") and "35000.00" not in before.decode("utf-8-sig")


def test_known_at_before_a_correction_shows_the_earlier_figure(
    ledger_books: Ledger, signed: TestClient
) -> None:
    time.sleep(0.05)
    moment = datetime.now().isoformat(timespec="microseconds")  # naive: local, as the option reads it
    time.sleep(0.05)
    ledger_books.ok("reverse", "G1", "--voucher", "记-0042", "--reason", "重复入账", "--date", "2024-05-20")

    def figures(name: str, picks: dict[str, str], column: str) -> str:
        headers, rows, _ = page_table(signed.get(f"/reports/{name}", params={**picks, "bases": "B0001"}).text)
        return dict(zip(headers, rows[0], strict=True))[column]

    assert figures("balance", {}, "补助支出") == "0.00"
    assert figures("balance", {"known_at": moment}, "补助支出") == "35,000.00"
    assert figures("sources", {"known_at": moment}, "支出") == "35,000.00"
    assert figures("execution", {"known_at": moment, "as_of": "2024-12-31"}, "支出") == "35,000.00"
    assert figures("execution", {"as_of": "2024-12-31"}, "支出") == "0.00"
    known = {"known_at": moment, "bases": "B0001"}
    got = signed.get("/reports/balance/csv", params=known).content
    cli_csv = command_line(ledger_books, "balance", known, "--format", "csv")
    assert got.decode("utf-8-sig") == cli_csv.stdout and "35000.00" in cli_csv.stdout


# ----------------------------------------------------------------------------- bad pickers


def error(page: Any) -> str:
    found = re.search(r'id="error">(.*?)</p>', page.text, re.S)
    assert found is not None, page.text[:2000]
    return html.unescape(found.group(1))


def test_a_bad_picker_is_one_sentence_and_a_4xx(ledger_books: Ledger, signed: TestClient) -> None:
    for name in REPORTS:
        for path in (f"/reports/{name}", f"/reports/{name}/xlsx", f"/reports/{name}/csv"):
            bad_day = signed.get(path, params={"as_of": "2024-13-40"})
            assert bad_day.status_code == 400, (path, bad_day.text[:500])
            assert "2024-13-40" in error(bad_day) and "截至" in error(bad_day)
            assert "Traceback" not in bad_day.text and "content-disposition" not in bad_day.headers
            unknown = signed.get(path, params={"bases": "B9999"})
            assert unknown.status_code == 404, (path, unknown.text[:500])
            assert "B9999" in error(unknown)
    garbled = signed.get("/reports/balance", params={"known_at": "yesterday"})
    assert garbled.status_code == 400 and "yesterday" in error(garbled) and "知悉" in error(garbled)
    backwards = signed.get("/reports/sources", params={"from": "2025-01-01", "to": "2024-01-01"})
    assert backwards.status_code == 400 and "2025-01-01" in error(backwards)
    long = signed.get("/reports/balance", params={"bases": "B" * 5000})
    assert long.status_code == 400
    assert signed.get("/reports/nonesuch").status_code == 404
    assert signed.get("/reports/balance/pdf").status_code == 404
    assert signed.get("/reports/balance/json").status_code == 404


def test_a_base_typed_as_an_option_is_a_base_not_an_option(
    ledger_books: Ledger, signed: TestClient, tmp_path: Path
) -> None:
    """Typed bases follow "--": `--output FILE` or `--format json` in the bases picker names bases
    (not found), never an option of the command."""
    target = tmp_path / "planted.csv"
    for bases in (f"--output {target}", "--format json", "-o x.csv"):
        got = signed.get("/reports/balance", params={"bases": bases})
        assert got.status_code == 404 and bases.split()[0] in error(got)
    assert not target.exists()


def test_user_text_in_a_picker_renders_as_text(signed: TestClient) -> None:
    got = signed.get("/reports/balance", params={"bases": "<script>alert(1)</script>"})
    assert got.status_code == 404
    assert "<script>alert(1)</script>" not in got.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in got.text


def test_the_file_name_holds_only_a_day_the_command_accepted(signed: TestClient) -> None:
    slashed = signed.get("/reports/balance/csv", params={"as_of": "2024/5/10"})  # the command reads it
    assert slashed.status_code == 200
    assert slashed.headers["content-disposition"] == 'attachment; filename="balance.csv"'


def test_findings_of_an_unknown_base_is_not_found_on_the_command_line(ledger_books: Ledger) -> None:
    """`report findings B9999` named no base: exit 4 and one sentence, as every other report (it
    printed "no findings"); a grant stands for its base."""
    unknown = command_line(ledger_books, "findings", {"bases": "B9999"}, lang="en")
    assert unknown.exit_code == 4 and "B9999" in unknown.stderr and "Traceback" not in unknown.stderr
    by_grant = command_line(
        ledger_books, "findings", {"bases": "G1", "as_of": "2026-06-30"}, "--format", "csv"
    )
    by_base = command_line(
        ledger_books, "findings", {"bases": "B0001", "as_of": "2026-06-30"}, "--format", "csv"
    )
    assert by_grant.exit_code == 0 and by_grant.stdout == by_base.stdout and "G1" in by_base.stdout


# ----------------------------------------------------------------------------- who may see them


def test_not_signed_in_every_report_sends_to_sign_in(web: TestClient) -> None:
    for path in (
        "/reports",
        "/reports/balance",
        "/reports/findings",
        "/reports/balance/xlsx",
        "/reports/budget/csv",
    ):
        got = web.get(path, follow_redirects=False)
        assert got.status_code == 303 and got.headers["location"] == "/sign-in", path
        assert "content-disposition" not in got.headers


def test_an_auditor_reads_and_downloads_every_report(web: TestClient) -> None:
    assert sign_in(web, "tester.auditor", AUDITOR_PASSWORD).status_code == 200
    listing = web.get("/")
    assert 'href="/reports"' in listing.text  # the nav links the reports
    index = web.get("/reports")
    assert index.status_code == 200
    for name in REPORTS:
        assert f'href="/reports/{name}"' in index.text
        assert web.get(f"/reports/{name}").status_code == 200
        got = web.get(f"/reports/{name}/xlsx")
        assert got.status_code == 200 and got.content.startswith(b"PK")
