"""`history --signatures`: each event of a grant with its signer and key, checked against the store
when asked (not when it was projected), and the sha256 of every file it records. An event rewritten
below the application after the projections were built is named, and the command exits 6."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import create_engine, text

from ledger.location import EVENTS_TABLE
from ledger.seal import load_signer
from tests.conftest import Ledger, approved_district_grant


def _spent_with_attachment(ledger: Ledger, tmp_path: Path) -> str:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    invoice = tmp_path / "发票.pdf"
    invoice.write_bytes(b"%PDF-1.4 an invoice for a lathe\n")
    ledger.ok(
        "spend", "G1", "--amount", "3.5万", "--category", "equipment", "--source", "subsidy",
        "--voucher", "记-0042", "--payee", "重庆某设备公司", "--date", "2024-05-10",
        "--attachment", str(invoice),
    )  # fmt: skip
    return hashlib.sha256(invoice.read_bytes()).hexdigest()


def _history(ledger: Ledger) -> tuple[int, list[dict[str, str]], str]:
    result = ledger("history", "G1", "--signatures", "--format", "json")
    rows = json.loads(result.stdout) if result.stdout.strip() else []
    return result.exit_code, rows, result.stderr


def _rewrite(url: str, voucher: str, **changes: object) -> None:
    """What someone with the SQLite file does: drop the guard, rewrite an event, put it back."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(text(f"SELECT id, state FROM {EVENTS_TABLE} ORDER BY id")).all()
            nid, state = next((i, bytes(s)) for i, s in rows if voucher.encode() in bytes(s))
            conn.execute(text(f"DROP TRIGGER {EVENTS_TABLE}_no_update"))
            data = json.loads(state) | changes
            conn.execute(
                text(f"UPDATE {EVENTS_TABLE} SET state = :s WHERE id = :id"),
                {"s": json.dumps(data, ensure_ascii=False).encode(), "id": nid},
            )
            conn.execute(
                text(
                    f"CREATE TRIGGER {EVENTS_TABLE}_no_update BEFORE UPDATE ON {EVENTS_TABLE} "
                    "BEGIN SELECT RAISE(ABORT, 'grant-ledger events are append-only: UPDATE refused'); END"
                )
            )
    finally:
        engine.dispose()


def test_every_line_names_its_signer_and_key_and_the_files_it_records(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    digest = _spent_with_attachment(sqlite_ledger, tmp_path)
    code, rows, stderr = _history(sqlite_ledger)
    assert code == 0, stderr
    officer = load_signer(sqlite_ledger.key("officer")).fingerprint
    assert rows and all(r["signature"] == "verified" for r in rows), rows
    money = [r for r in rows if r["voucher"] in ("拨-1", "记-0042")]
    assert [(r["signed_by"], r["key"]) for r in money] == [("tester", officer)] * 2
    assert {r["actor"] for r in rows} == {r["signed_by"] for r in rows}
    (spend,) = [r for r in rows if r["voucher"] == "记-0042"]
    assert spend["files"] == digest
    assert all(r["files"] == "" for r in rows if r is not spend)


def test_an_event_rewritten_after_it_was_projected_is_named_and_the_command_exits_6(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    _spent_with_attachment(sqlite_ledger, tmp_path)
    sqlite_ledger.ok("history", "G1")  # projected while it was still what tester signed
    _rewrite(sqlite_ledger.url, "记-0042", payee="某关联公司")

    plain = sqlite_ledger("history", "G1", "--format", "json")
    assert plain.exit_code == 0  # the projection was built from the event as signed

    code, rows, stderr = _history(sqlite_ledger)
    assert code == 6, stderr
    assert "1 event(s) of G1 are not what their signers signed" in stderr
    (spend,) = [r for r in rows if r["voucher"] == "记-0042"]
    assert spend["signature"].startswith("is not what tester signed"), spend
    assert spend["signed_by"] == "" and spend["key"] == ""
    assert all(r["signature"] == "verified" for r in rows if r is not spend)


def test_an_event_that_claims_another_actor_is_named_with_its_real_signer(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    _spent_with_attachment(sqlite_ledger, tmp_path)
    _rewrite(sqlite_ledger.url, "拨-1", actor="tester.approver")
    code, rows, _ = _history(sqlite_ledger)
    assert code == 6
    (line,) = [r for r in rows if r["voucher"] == "拨-1"]
    assert line["signature"] == "names 'tester.approver' but is signed by 'tester'", line


def test_signatures_in_chinese(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    _spent_with_attachment(sqlite_ledger, tmp_path)
    _rewrite(sqlite_ledger.url, "记-0042", payee="某关联公司")
    sqlite_ledger.lang = "zh"
    result = sqlite_ledger("history", "G1", "--signatures")
    assert result.exit_code == 6
    assert "签名核验" in result.stdout and "已验证" in result.stdout
    assert "不是 tester 签名的内容" in result.stdout, result.stdout
    assert "G1 的 1 个事件不是签名人所签的内容" in result.stderr, result.stderr


def _grant_page(ledger: Ledger) -> str:
    from starlette.testclient import TestClient

    from commands.web.app import create_app
    from tests.test_web import PASSWORD, set_password, sign_in

    result = set_password(ledger, "tester", PASSWORD, "officer")
    assert result.exit_code == 0, result.stderr
    with TestClient(create_app(ledger.url), base_url="http://testserver") as client:
        assert sign_in(client).status_code == 200
        page = client.get("/grants/G1?lang=en")
        assert page.status_code == 200
        return page.text


def _history_rows(page: str) -> list[str]:
    table = page.split('id="history"', 1)[1].split("</table>", 1)[0]
    return table.split("<tr>")[2:]


def test_the_grant_page_shows_each_lines_signer_key_and_files_as_the_command_line_does(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    digest = _spent_with_attachment(sqlite_ledger, tmp_path)
    _, rows, _ = _history(sqlite_ledger)
    page = _grant_page(sqlite_ledger)
    lines = _history_rows(page)
    assert len(lines) == len(rows)
    for line, row in zip(lines, rows, strict=True):
        assert f"✓ {row['signed_by']} · <code>{row['key'][:16]}…</code>" in line, line
    files = page.split('id="files"', 1)[1].split("</table>", 1)[0]
    assert f"<code>{digest}</code>" in files and "记-0042" in files


def test_the_grant_page_names_an_event_rewritten_below_the_application(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    _spent_with_attachment(sqlite_ledger, tmp_path)
    sqlite_ledger.ok("history", "G1")
    _rewrite(sqlite_ledger.url, "记-0042", payee="某关联公司")
    lines = _history_rows(_grant_page(sqlite_ledger))
    (forged,) = [line for line in lines if "记-0042" in line]
    assert 'class="signature broken"' in forged and "is not what tester signed" in forged, forged
    assert sum('class="signature verified"' in line for line in lines) == len(lines) - 1


def test_a_running_server_names_an_event_rewritten_after_it_showed_the_page(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """The server remembers the seals it has verified (a page of history names up to a hundred);
    the events themselves are read and checked against them at every view."""
    from starlette.testclient import TestClient

    from commands.web.app import create_app
    from tests.test_web import PASSWORD, set_password, sign_in

    _spent_with_attachment(sqlite_ledger, tmp_path)
    assert set_password(sqlite_ledger, "tester", PASSWORD, "officer").exit_code == 0
    with TestClient(create_app(sqlite_ledger.url), base_url="http://testserver") as client:
        assert sign_in(client).status_code == 200
        before = _history_rows(client.get("/grants/G1?lang=en").text)
        assert all('class="signature verified"' in line for line in before)
        _rewrite(sqlite_ledger.url, "记-0042", payee="某关联公司")
        after = _history_rows(client.get("/grants/G1?lang=en").text)
    (forged,) = [line for line in after if "记-0042" in line]
    assert 'class="signature broken"' in forged and "is not what tester signed" in forged, forged
    assert sum('class="signature verified"' in line for line in after) == len(after) - 1
