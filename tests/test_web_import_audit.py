"""The web workspace's import and audit pages (issue 19 item 3) through the real app on a real
SQLite ledger: a file imported on the web records what `grant-ledger import` records; a file with
bad rows lists each of them and writes nothing; an auditor cannot import; uploads are bounded and
carry their CSRF token; the bundle downloaded is the one `audit export` writes and `audit verify`
passes; an uploaded bundle is verified by the same verifier, a tampered one fails."""

from __future__ import annotations

import html
import io
import json
import re
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from audit.bundle import write_manifest
from bench.big_cell import inflated_part
from ledger.location import sqlite_file
from tests import test_web
from tests.conftest import Ledger
from tests.importdata import HEADER, write_any
from tests.test_audit_lang import _tamper
from tests.test_web import AUDITOR_PASSWORD, csrf, sign_in

# test_web's fixtures: a ledger with G1 and two web passwords, its clock, and a client of its app
books, clock, client = test_web.books, test_web.clock, test_web.client

ROWS = [
    line.split(",")
    for line in (
        "2024-05-01,,B0001,G1,,spend,30000,subsidy,equipment,构建完善的高技能人才培训体系,记-1,供应商甲,",
        "2024-05-02,,B0001,G1,,spend,1000.50,subsidy,materials,,记-2,,",
        "2024-05-03,,B0001,G1,,reverse,30000,subsidy,,,冲-1,,记-1",
    )
]
# line 3: a category no rule allows (差旅费); line 4: more than the grant holds; line 5: no such grant
BAD_ROWS = [
    ["2024-05-01", "", "B0001", "G1", "", "spend", "1000", "subsidy", "equipment", "", "记-1", "", ""],
    ["2024-05-01", "", "B0001", "G1", "", "spend", "100", "subsidy", "travel", "", "记-2", "", ""],
    ["2024-05-01", "", "B0001", "G1", "", "spend", "900000", "subsidy", "equipment", "", "记-3", "", ""],
    ["2024-05-01", "", "B0009", "G9", "", "spend", "100", "subsidy", "equipment", "", "记-4", "", ""],
]  # fmt: skip


def _file(tmp_path: Path, rows: list[list[Any]], suffix: str = ".csv", name: str = "台账") -> Path:
    path = tmp_path / f"{name}{suffix}"
    write_any(path, [HEADER.split(","), *rows])
    return path


def _upload(client: TestClient, path: Path, token: str | None = "page") -> Any:
    if token == "page":
        token = csrf(client.get("/import").text)
    data = {} if token is None else {"csrf": token}
    with path.open("rb") as f:
        return client.post("/import", data=data, files={"file": (path.name, f)})


def _copy(ledger: Ledger, tmp_path: Path) -> Ledger:
    """The same ledger in another file (the same people and keys), copied with SQLite's backup."""
    source = sqlite_file(ledger.url)
    assert source is not None
    target = tmp_path / "copy.db"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return Ledger(f"sqlite:///{target}", CliRunner(), create=False, keys=ledger.keys)


def _balance(ledger: Ledger) -> Any:
    return json.loads(ledger.ok("balance", "--format", "json").stdout)


def _history(ledger: Ledger) -> str:
    return ledger.ok("history", "G1", "--format", "json").stdout


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _bad_rows(page: str) -> list[str]:
    """The bad rows the page lists, each as `import` prints it: FILE:LINE: MESSAGE."""
    rows = re.findall(
        r'<tr data-line="\d+"><td class="num">(.*?)</td><td class="detail">(.*?)</td></tr>', page, re.S
    )
    return [f"{html.unescape(where)}: {html.unescape(why)}" for where, why in rows]


# ----------------------------------------------------------------------------- import


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_clean_file_imported_on_the_web_records_what_the_command_line_records(
    books: Ledger, client: TestClient, tmp_path: Path, suffix: str
) -> None:
    path = _file(tmp_path, ROWS, suffix)
    elsewhere = _copy(books, tmp_path)
    before = books.event_count()
    sign_in(client)
    done = _upload(client, path)
    assert done.status_code == 200, _text(done.text)
    summary = re.search(r'<p class="done" id="import-summary">(.*?)</p>', done.text)
    assert summary is not None, _text(done.text)
    recorded = books.event_count() - before
    assert recorded >= 3
    # the command line, importing the same file into a copy of the same ledger, says and records the same
    elsewhere.lang = "zh"
    said = elsewhere.ok("import", str(path)).stdout.strip()
    assert summary.group(1) == said == f"已导入 {path.name} 的 3 行：记录 3 个事项"
    web, cli = _balance(books), _balance(elsewhere)
    assert web == cli
    (g1,) = [b for b in web if b["grant_id"] == "G1"]
    assert g1["subsidy_spent"] == "1000.50"  # 30,000 spent and reversed, 1,000.50 kept
    # the same file again: nothing new, said as the command line says it
    client.get("/import?lang=en")
    again = _upload(client, path)
    assert again.status_code == 200 and books.event_count() == before + recorded
    elsewhere.lang = "en"
    said = elsewhere.ok("import", str(path)).stdout.strip()
    assert said.startswith("already recorded: all 3 rows of") and said in _text(again.text)
    assert _balance(books) == web


def test_a_file_with_bad_rows_lists_each_line_and_writes_nothing(
    books: Ledger, client: TestClient, tmp_path: Path
) -> None:
    path = _file(tmp_path, BAD_ROWS, name="books")
    before, history = books.event_count(), _history(books)
    sign_in(client)
    refused = _upload(client, path)
    assert refused.status_code == 422, _text(refused.text)
    assert re.findall(r'<tr data-line="(\d+)">', refused.text) == ["3", "4", "5"]
    assert books.event_count() == before and _history(books) == history
    # each line, in Chinese, as the command line prints it for the same file (rule and clause)
    books.lang = "zh"
    cli = books("import", str(path))
    assert cli.exit_code == 3
    said = [line for line in cli.stderr.splitlines() if line.startswith("books.csv:")]
    assert len(said) == 3 and _bad_rows(refused.text) == said
    assert "差旅费" in said[0] and "第九条" in said[0]
    assert "有误" in _text(refused.text) and "未导入" in _text(refused.text)
    # and in English
    books.lang = "en"
    client.get("/import?lang=en")
    again = _upload(client, path)
    cli = books("import", str(path))
    said = [line for line in cli.stderr.splitlines() if line.startswith("books.csv:")]
    assert _bad_rows(again.text) == said and "banned category" in said[0]
    assert "3 bad rows of 4 in books.csv; nothing was imported" in _text(again.text)
    assert books.event_count() == before and _history(books) == history


def test_a_file_newest_first_is_imported_on_the_web_by_business_date(
    books: Ledger, client: TestClient, tmp_path: Path
) -> None:
    """The reversal above the spend it reverses (the newest first): refused in the file's order,
    applied by date; the page says so and records what the command line records."""
    path = _file(tmp_path, list(reversed(ROWS)), name="newest")
    elsewhere = _copy(books, tmp_path)
    sign_in(client)
    client.get("/import?lang=en")
    done = _upload(client, path)
    assert done.status_code == 200, _text(done.text)
    shown = re.search(r'<p class="hint" id="import-reading">(.*?)</p>', done.text, re.S)
    assert shown is not None and "applied again by business date" in html.unescape(shown.group(1))
    cli = elsewhere("import", str(path))
    assert cli.exit_code == 0 and "applied again by business date" in cli.stderr, cli.output
    assert _balance(books) == _balance(elsewhere)
    (g1,) = [b for b in _balance(books) if b["grant_id"] == "G1"]
    assert g1["subsidy_spent"] == "1000.50"


def test_a_file_of_many_bad_rows_lists_the_first_thousand_on_the_page(
    books: Ledger, client: TestClient, tmp_path: Path
) -> None:
    row = ["2024-05-01", "", "B0009", "G9", "", "spend", "100", "subsidy", "equipment", "", "", "", ""]
    rows = [[*row[:10], f"记-{n}", "", ""] for n in range(1005)]
    path = _file(tmp_path, rows, name="other")
    before = books.event_count()
    sign_in(client)
    client.get("/import?lang=en")
    refused = _upload(client, path)
    assert refused.status_code == 404  # every row's grant not found, as `import` exits 4
    assert len(_bad_rows(refused.text)) == 1000
    page = _text(refused.text)
    assert "… and 5 more bad rows, not listed (the first 1,000 are)" in page
    assert "1005 bad rows of 1005 in other.csv; nothing was imported" in page
    assert books.event_count() == before


def test_an_auditor_cannot_import(books: Ledger, client: TestClient, tmp_path: Path) -> None:
    path = _file(tmp_path, ROWS)
    before = books.event_count()
    sign_in(client, "tester.auditor", AUDITOR_PASSWORD)
    page = client.get("/import")
    assert page.status_code == 403 and 'id="import-form"' not in page.text
    token = csrf(client.get("/audit").text)
    refused = _upload(client, path, token)
    said = re.search(r'<p class="error" id="error">(.*?)</p>', refused.text, re.S)
    assert refused.status_code == 403 and said is not None, _text(refused.text)
    # the role rule and its clause, said for the file: not of one kind of row ('grant approve')
    assert "审计人员角色不能登记导入文件中的任何一行" in said.group(1), said.group(1)
    assert "第五条" in html.unescape(said.group(1)) and "grant approve" not in said.group(1)
    assert books.event_count() == before


def test_an_upload_without_its_csrf_token_is_refused(
    books: Ledger, client: TestClient, tmp_path: Path
) -> None:
    path = _file(tmp_path, ROWS)
    before = books.event_count()
    sign_in(client)
    assert _upload(client, path, None).status_code == 403
    assert _upload(client, path, "forged-token").status_code == 403
    assert books.event_count() == before
    bundle = _zip_bytes({"MANIFEST": b""})
    token_less = client.post("/audit/verify", files={"bundle": ("b.zip", bundle)})
    assert token_less.status_code == 403 and 'id="verdict"' not in token_less.text


def test_an_oversize_upload_is_refused_without_being_read_whole(
    books: Ledger, client: TestClient, tmp_path: Path
) -> None:
    before = books.event_count()
    sign_in(client)
    token = csrf(client.get("/import").text)
    big = tmp_path / "big.csv"
    with big.open("wb") as f:
        f.write((HEADER + "\n").encode())
        f.truncate(50 << 20)
    with big.open("rb") as f:
        refused = client.post("/import", data={"csrf": token}, files={"file": ("big.csv", f)})
    assert refused.status_code == 413 and "32 MB" in refused.text

    # sent in chunks without a length: the server stops reading at the bound, not at the end
    for path in ("/import", "/audit/verify"):
        pulled, status = _stream(client, path, token, 50 << 20)
        assert status == 413 and pulled <= 33 << 20, (path, pulled)
    assert books.event_count() == before


def _stream(client: TestClient, path: str, token: str, size: int) -> tuple[int, int]:
    """POST ``size`` bytes of one file part to ``path`` in 1 MB chunks with no Content-Length,
    straight to the app: how many bytes the app pulled, and the status it answered."""
    import asyncio

    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    head = (
        f'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
        '--x\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
    ).encode()
    chunks = [head, *(b"a" * (1 << 20) for _ in range(size >> 20))]
    pulled = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = chunks.pop(0) if chunks else b""
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode()),
                    (b"content-type", b"multipart/form-data; boundary=x")],
        "client": ("testclient", 50000), "server": ("testserver", 80),
    }  # fmt: skip
    asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]
    return pulled, status


# ----------------------------------------------------------------------------- audit


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        for name, data in files.items():
            book.writestr(name, data)
    return buffer.getvalue()


def _zip_folder(folder: Path) -> bytes:
    return _zip_bytes(
        {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    )


def _verify(client: TestClient, archive: bytes, root: str = "", name: str = "bundle.zip") -> Any:
    token = csrf(client.get("/audit").text)
    return client.post("/audit/verify", data={"csrf": token, "root": root}, files={"bundle": (name, archive)})


def _verdict(page: str) -> list[str]:
    found = re.search(r'<pre id="verdict-lines">(.*?)</pre>', page, re.S)
    assert found is not None, _text(page)[:3000]
    return html.unescape(found.group(1)).splitlines()


@pytest.fixture
def signed(books: Ledger) -> Ledger:
    books.ok("spend", "G1", "--amount", "3.5万", "--category", "equipment", "--source", "subsidy",
             "--voucher", "S1", "--date", "2024-05-10")  # fmt: skip
    books.ok("audit", "checkpoint", role="approver")
    return books


def test_the_audit_page_lists_the_checkpoints_and_its_bundle_is_the_one_export_writes(
    signed: Ledger, client: TestClient, tmp_path: Path
) -> None:
    sign_in(client, "tester.auditor", AUDITOR_PASSWORD)
    page = client.get("/audit")
    assert page.status_code == 200 and 'data-seq="1"' in page.text
    assert str(signed.event_count()) in _text(page.text)
    got = client.get("/audit/bundle")
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    web = tmp_path / "web"
    with zipfile.ZipFile(io.BytesIO(got.content)) as book:
        book.extractall(web)
    (downloaded,) = web.iterdir()
    exported = tmp_path / "exported"
    signed.ok("audit", "export", str(exported), role="auditor")
    names = sorted(str(p.relative_to(exported)) for p in exported.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(downloaded)) for p in downloaded.rglob("*") if p.is_file())
    for name in names:  # the same bytes, the workbook's too (its parts carry no time of writing)
        assert (downloaded / name).read_bytes() == (exported / name).read_bytes(), name
    assert signed.root is not None
    verified = signed("audit", "verify", str(downloaded), "--root", signed.root, role="auditor")
    assert verified.exit_code == 0 and verified.stdout.startswith("PASS"), verified.stdout


def test_an_uploaded_bundle_passes_and_one_edited_byte_fails(
    signed: Ledger, client: TestClient, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    signed.ok("audit", "export", str(bundle), role="auditor")
    assert signed.root is not None
    sign_in(client, "tester.auditor", AUDITOR_PASSWORD)
    # the form offers the ledger's own trust root
    assert f'value="{signed.root}"' in client.get("/audit").text
    passed = _verify(client, _zip_folder(bundle), signed.root)
    lines = _verdict(passed.text)
    assert passed.status_code == 200 and lines[0].startswith("PASS：") and "不相容职务分离" in "".join(lines)
    signed.lang = "zh"
    cli = signed("audit", "verify", str(bundle), "--root", signed.root, role="auditor")
    assert lines == cli.stdout.splitlines()

    # one byte of events.jsonl edited, the manifest's hashes recomputed by a careful forger
    tampered = tmp_path / "tampered"
    _tamper(bundle, tampered)
    write_manifest(tampered)
    failed = _verify(client, _zip_folder(tampered), signed.root, name="tampered.zip")
    lines = _verdict(failed.text)
    assert failed.status_code == 422 and lines[0].startswith("FAIL"), lines
    assert 'id="verdict-refusal"' in failed.text
    cli = signed("audit", "verify", str(tampered), "--root", signed.root, role="auditor")
    assert cli.exit_code == 6
    assert [line.replace(str(tampered), "tampered.zip") for line in cli.stdout.splitlines()] == lines

    # the same bundle held to no root and no checkpoint: it does not pass (anyone can sign a
    # bundle with keys of their own), and the page says what to give
    unanchored = _verify(client, _zip_folder(bundle))
    assert unanchored.status_code == 422 and _verdict(unanchored.text) == []
    assert 'data-passed="no"' in unanchored.text and "PASS" not in _text(unanchored.text)
    assert "但没有任何东西把它与您信任的密钥联系起来" in _text(unanchored.text)
    bad_root = _verify(client, _zip_folder(bundle), "not-a-root")
    assert bad_root.status_code == 400 and 'id="verdict"' not in bad_root.text


def test_a_bundle_bombed_inside_or_outside_is_refused_by_name(
    signed: Ledger, client: TestClient, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    signed.ok("audit", "export", str(bundle), role="auditor")
    inflated_part(bundle / "report.xlsx", "xl/sharedStrings.xml", 64 << 20)
    write_manifest(bundle)
    sign_in(client, "tester.auditor", AUDITOR_PASSWORD)
    inner = _verify(client, _zip_folder(bundle))
    lines = "\n".join(_verdict(inner.text))
    assert inner.status_code == 422 and "xl/sharedStrings.xml" in lines, lines
    # the zip itself inflating past the bound: refused naming its member, before it is unpacked whole
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        with book.open("bundle/events.jsonl", "w", force_zip64=True) as out:
            for _ in range(300):
                out.write(b"\n" * (1 << 20))
    bomb = _verify(client, buffer.getvalue(), name="bomb.zip")
    assert bomb.status_code == 400 and "bundle/events.jsonl" in bomb.text and 'id="verdict"' not in bomb.text
    # a member that would land outside the folder
    escape = _verify(client, _zip_bytes({"../evil.txt": b"x"}), name="escape.zip")
    assert escape.status_code == 400 and "../evil.txt" in escape.text
    assert not (tmp_path.parent / "evil.txt").exists()


def test_script_in_a_file_and_its_name_renders_as_text(
    books: Ledger, client: TestClient, tmp_path: Path
) -> None:
    script = "<script>alert(1)</script>"
    row = [
        "2024-05-01",
        "",
        "B0001",
        script,
        "",
        "spend",
        "100",
        "subsidy",
        "equipment",
        "",
        "记-9",
        script,
        "",
    ]
    path = _file(tmp_path, [row], name="books")
    sign_in(client)
    token = csrf(client.get("/import").text)
    with path.open("rb") as f:
        page = client.post("/import", data={"csrf": token}, files={"file": (f"{script}<b>x</b>.csv", f)})
    assert page.status_code == 404, _text(page.text)
    assert "<script>alert" not in page.text and "<b>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # the row's grant, shown as text


def test_nav_links_reach_both_pages(books: Ledger, client: TestClient) -> None:
    page = sign_in(client)
    assert 'href="/import"' in page.text and 'href="/audit"' in page.text


def test_a_trusted_checkpoint_uploaded_anchors_the_verdict_as_the_command_line_does(
    signed: Ledger, client: TestClient, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    signed.ok("audit", "export", str(bundle), role="auditor")
    trusted = tmp_path / "kept-0001.txt"  # kept apart from the bundle, as an auditor keeps it
    trusted.write_bytes((bundle / "checkpoints" / "0001.txt").read_bytes())
    assert signed.root is not None
    sign_in(client, "tester.auditor", AUDITOR_PASSWORD)
    token = csrf(client.get("/audit").text)
    page = client.post(
        "/audit/verify",
        data={"csrf": token, "root": signed.root},
        files={"bundle": ("bundle.zip", _zip_folder(bundle)), "trusted": ("cp.txt", trusted.read_bytes())},
    )
    signed.lang = "zh"
    cli = signed(
        "audit", "verify", str(bundle), "--root", signed.root, "--trusted", str(trusted), role="auditor"
    )
    assert cli.exit_code == 0 and page.status_code == 200
    assert _verdict(page.text) == cli.stdout.splitlines()
    untrusted = _verdict(_verify(client, _zip_folder(bundle), signed.root).text)
    assert untrusted != _verdict(page.text)  # the trusted checkpoint is said to be extended


def test_no_bundle_before_the_first_checkpoint(books: Ledger, client: TestClient) -> None:
    sign_in(client, "tester.auditor", AUDITOR_PASSWORD)
    page = client.get("/audit")
    assert page.status_code == 200 and 'id="download-bundle"' not in page.text
    refused = client.get("/audit/bundle")
    assert refused.status_code == 404 and "audit checkpoint" in refused.text
