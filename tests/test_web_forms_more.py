"""The grant page's forms for the rest of what a person records on the command line: the budget plan
and its adjustment, a year's outputs, a rectification completed, a dossier document (uploaded; its
sha256 recorded), a recovery received, a balance disposed of and the grant closed. Each through the
real app on a real SQLite ledger, read back with the command line's own reports (to the fen),
refused as the command line refuses (rule, clause, sentence; nothing written), repeats "already
recorded", and held to the signed-in person's registered role on the server."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from commands.web.app import create_app
from tests.conftest import Ledger
from tests.test_web import (  # noqa: F401  (fixtures)
    AUDITOR_PASSWORD,
    Clock,
    books,
    client,
    clock,
    csrf,
    events,
    sign_in,
)
from tests.test_web_forms import (  # noqa: F401  (fixtures)
    approver,
    cli_refusal,
    history,
    pending_step,
    post,
    refusal,
    shown_balance,
)

OFFICER_NEW = ("budget", "output", "rectify-complete", "dossier-add", "recover-receive", "dispose")
APPROVER_NEW = ("budget-adjust", "close")


@pytest.fixture
def officer(client: TestClient) -> TestClient:  # noqa: F811
    """The officer `tester` signed in, reading English."""
    sign_in(client)
    client.get("/?lang=en")
    return client


@pytest.fixture
def auditor(books: Ledger, clock: Clock) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(books.url, clock=clock), base_url="http://testserver") as c:
        assert sign_in(c, "tester.auditor", AUDITOR_PASSWORD).status_code == 200
        yield c


def budget_lines(ledger: Ledger) -> dict[tuple[str, str], dict[str, Any]]:
    rows = json.loads(ledger.ok("report", "budget", "--format", "json").stdout)
    return {(r["content"], r["source"]): r for r in rows}


def upload(client: TestClient, form: str, content: bytes, grant: str = "G1", **fields: str) -> Any:  # noqa: F811
    page = client.get(f"/grants/{grant}")
    return client.post(
        f"/grants/{grant}/record/{form}",
        data={"csrf": csrf(page.text), **fields},
        files={"sha256": ("总结.pdf", content, "application/pdf")},
    )


def done_text(page: str) -> str:
    start = page.index('id="done">') + len('id="done">')
    return page[start : page.index("<", start)]


# ----------------------------------------------------------------------------- the budget


def test_a_budget_plan_typed_one_line_a_row_and_its_adjustment_show_in_report_budget_to_the_fen(
    books: Ledger,  # noqa: F811
    officer: TestClient,
    approver: TestClient,  # noqa: F811
) -> None:
    typed = (
        "training_system 地方财政 12万\n\ncooperation：地方财政：79999.45\r\ntraining_system 行业企业 15万\n"
    )
    bad = post(officer, "budget", lines="training_system 12万", on="2024-04-12")
    assert bad.status_code == 400
    said = cli_refusal(books, "grant", "budget", "G1", "--line", "training_system:12万", code=2)
    assert refusal(bad.text)[0] == said and "training_system 12万" in bad.text  # kept in the form
    script = post(officer, "budget", lines="<script>alert(1)</script> 地方财政 1万", on="2024-04-12")
    assert script.status_code == 400 and "<script>alert(1)</script>" not in script.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in script.text  # in the sentence and the textarea
    assert budget_lines(books) == {}
    planned = post(officer, "budget", lines=typed, on="2024年4月12日")  # a date as the command line reads it
    assert planned.status_code == 200 and "3 lines" in done_text(planned.text), planned.text[:3000]
    lines = budget_lines(books)
    assert lines[("training_system", "subsidy")]["planned"] == "120000.00"
    assert lines[("cooperation", "subsidy")]["planned"] == "79999.45"
    assert lines[("training_system", "matching")]["planned"] == "150000.00"
    before = events(books)
    again = post(officer, "budget", lines=typed, on="2024-04-12")
    assert again.status_code == 200 and "already recorded" in again.text and events(books) == before
    # a second plan is refused: it is changed by an approver's adjustment
    second = post(officer, "budget", lines="patterns 地方财政 1万", on="2024-04-13")
    assert second.status_code == 422 and events(books) == before
    said = cli_refusal(
        books, "grant", "budget", "G1", "--line", "patterns:地方财政:1万", "--date", "2024-04-13"
    )
    sentence, rule, clause = refusal(second.text)
    assert sentence == said and rule and clause and clause in said

    books.ok("spend", "G1", "--amount", "45678.91", "--category", "equipment", "--source", "subsidy",
             "--content", "training_system", "--voucher", "S1", "--date", "2024-05-10")  # fmt: skip
    approver.get("/?lang=en")
    before = events(books)
    approval = "渝中人社函〔2024〕9号"
    below = post(approver, "budget-adjust", lines="training_system 地方财政 4万", approval=approval,
                 on="2024-06-01")  # fmt: skip
    assert below.status_code == 422
    said = cli_refusal(books, "grant", "adjust", "G1", "--line", "training_system:地方财政:4万",
                       "--approval", approval, "--date", "2024-06-01", role="approver")  # fmt: skip
    sentence, rule, clause = refusal(below.text)
    assert sentence == said and rule == "budget line" and clause and "45,678.91" in sentence
    assert events(books) == before and budget_lines(books) == lines | {
        ("training_system", "subsidy"): lines[("training_system", "subsidy")]
        | {"spent": "45678.91", "remaining": "74321.09", "rate": "38.07"}
    }
    adjusted = post(approver, "budget-adjust", lines="cooperation 地方财政 60000.10\npatterns:其他:0.01",
                    approval="渝中人社函〔2024〕9号", reason="合作项目缩减", on="2024-06-01")  # fmt: skip
    assert adjusted.status_code == 200 and 'id="done"' in adjusted.text, adjusted.text[:3000]
    now = budget_lines(books)
    assert now[("cooperation", "subsidy")]["planned"] == "60000.10"
    assert now[("patterns", "matching")]["planned"] == "0.01"
    assert now[("training_system", "subsidy")]["planned"] == "120000.00"
    acts = [(h["kind"], h["actor"], h["occurred_on"]) for h in history(books)]
    assert ("budget", "tester", "2024-04-12") in acts and (
        "budget_adjust",
        "tester.approver",
        "2024-06-01",
    ) in acts


def test_a_plan_leaving_out_a_content_spent_on_is_refused_on_the_web_as_on_the_command_line(
    books: Ledger,  # noqa: F811
    officer: TestClient,
) -> None:
    books.ok("spend", "G1", "--amount", "300", "--category", "equipment", "--content", "patterns",
             "--voucher", "S1", "--date", "2024-05-10")  # fmt: skip
    before = events(books)
    left_out = post(officer, "budget", lines="training_system 地方财政 1万", on="2024-05-12")
    assert left_out.status_code == 422 and events(books) == before
    said = cli_refusal(
        books, "grant", "budget", "G1", "--line", "training_system:地方财政:1万", "--date", "2024-05-12"
    )
    sentence, rule, clause = refusal(left_out.text)
    assert sentence == said and rule == "budget line" and clause and clause in said
    assert "has no line for patterns from subsidy" in sentence and "below the 300.00" in sentence
    assert budget_lines(books)[("patterns", "subsidy")]["planned"] is None


# ----------------------------------------------------------------------------- oversight


def test_outputs_and_their_correction_are_reported_on_the_web_as_output_report_records_them(
    books: Ledger,  # noqa: F811
    officer: TestClient,
) -> None:
    before = events(books)
    over = post(officer, "output", year="2024", trainees="100", advanced="150", on="2025-01-10")
    assert over.status_code == 400
    said = cli_refusal(books, "output", "report", "G1", "--year", "2024", "--trainees", "100",
                       "--advanced", "150", "--date", "2025-01-10", code=2)  # fmt: skip
    assert refusal(over.text)[0] == said and events(books) == before
    reported = post(officer, "output", year="2024", trainees="820", advanced="150", on="2025-01-10")
    assert reported.status_code == 200 and 'id="done"' in reported.text, reported.text[:3000]
    again = post(officer, "output", year="2024", trainees="820", advanced="150", on="2025-01-10")
    assert "already recorded" in again.text
    # a second report of the year is refused unless it says it corrects the first
    twice = post(officer, "output", year="2024", trainees="850", advanced="150", on="2025-01-20")
    assert twice.status_code == 409 and "--corrects 2024" in refusal(twice.text)[0]
    said = cli_refusal(books, "output", "report", "G1", "--year", "2024", "--trainees", "850",
                       "--advanced", "150", "--date", "2025-01-20", code=5)  # fmt: skip
    assert refusal(twice.text)[0] == said
    corrected = post(officer, "output", year="2024", corrects="corrects", trainees="850", advanced="180",
                     on="2025-01-20")  # fmt: skip
    assert corrected.status_code == 200 and 'id="done"' in corrected.text, corrected.text[:3000]
    outputs = [h for h in history(books) if h["kind"] in ("output", "output_correct")]
    assert [(h["kind"], h["actor"], h["occurred_on"]) for h in outputs] == [
        ("output", "tester", "2025-01-10"),
        ("output_correct", "tester", "2025-01-20"),
    ]
    assert "850" in outputs[1]["detail"] and "180" in outputs[1]["detail"]


def test_an_overdue_rectification_is_the_next_step_and_the_officer_records_it_completed(
    books: Ledger,  # noqa: F811
    officer: TestClient,
    approver: TestClient,  # noqa: F811
) -> None:
    assert post(approver, "rectify-order", ref="R1", finding="台账不全", deadline="2024-06-30",
                on="2024-06-01").status_code == 200  # fmt: skip
    assert pending_step(books, "G1") == "rectification"
    page = officer.get("/grants/G1").text
    assert 'id="rectify-complete-form" class="record next"' in page
    assert page.index('id="rectify-complete-form"') < page.index('id="budget-form"')  # the next step first
    unknown = post(officer, "rectify-complete", ref="R9", note="无")
    assert unknown.status_code == 404
    assert refusal(unknown.text)[0] == cli_refusal(books, "rectify", "complete", "G1", "--ref", "R9", code=4)
    done = post(officer, "rectify-complete", ref="R1", note="已补齐台账", on="2024-06-20")
    assert done.status_code == 200 and 'id="done"' in done.text, done.text[:3000]
    assert pending_step(books, "G1") is None and 'id="pending"' not in done.text
    line = history(books)[-1]
    assert (line["kind"], line["actor"], line["occurred_on"]) == ("rectify_complete", "tester", "2024-06-20")
    before = events(books)
    again = post(officer, "rectify-complete", ref="R1", note="已补齐台账", on="2024-06-20")
    assert "already recorded" in again.text and events(books) == before


def test_a_dossier_document_is_uploaded_and_only_its_sha256_recorded(
    books: Ledger,  # noqa: F811
    officer: TestClient,
) -> None:
    page = officer.get("/grants/G1").text
    assert 'id="dossier-add-form" class="record" enctype="multipart/form-data"' in page
    content = "2024年度工作总结\n".encode() * 1000
    digest = hashlib.sha256(content).hexdigest()
    before = events(books)
    typed = {"csrf": csrf(page), "kind": "summary", "title": "总结"}
    bare = officer.post("/grants/G1/record/dossier-add", data=typed)
    assert bare.status_code == 400 and events(books) == before  # not sent as a file upload
    none = {"sha256": ("", b"", "application/octet-stream")}
    nofile = officer.post("/grants/G1/record/dossier-add", data=typed, files=none)
    assert nofile.status_code == 400 and refusal(nofile.text)[0] == "document file: choose the file to record"
    assert 'value="总结"' in nofile.text and events(books) == before
    sent = {"sha256": ("a.pdf", content, "application/pdf")}
    forged = officer.post("/grants/G1/record/dossier-add", data=typed | {"csrf": "x" * 40}, files=sent)
    assert forged.status_code == 403 and events(books) == before
    added = upload(officer, "dossier-add", content, kind="summary", title="2024年度工作总结", on="2025-01-15")
    assert added.status_code == 200 and digest[:12] in done_text(added.text), added.text[:3000]
    line = history(books)[-1]
    assert line["kind"] == "dossier" and line["actor"] == "tester" and digest[:12] in line["detail"]
    assert digest in json.dumps(json.loads(books.ok("history", "G1", "--format", "json").stdout))
    before = events(books)
    again = upload(officer, "dossier-add", content, kind="summary", title="2024年度工作总结", on="2025-01-15")
    assert again.status_code == 200 and "already recorded" in again.text and events(books) == before


def test_a_dossier_file_past_the_upload_bound_is_refused_before_anything_is_recorded(
    books: Ledger,  # noqa: F811
    officer: TestClient,
) -> None:
    from commands.web.uploads import MAX_UPLOAD_BYTES

    before = events(books)
    huge = upload(officer, "dossier-add", b"\0" * (MAX_UPLOAD_BYTES + 1), kind="image", title="录像")
    assert huge.status_code == 413 and events(books) == before
    assert not any(h["kind"] == "dossier" for h in history(books))


# ----------------------------------------------------------------------------- end of life


def test_a_recovery_received_a_disposal_and_the_close_with_refusals_as_the_command_line_gives_them(
    books: Ledger,  # noqa: F811
    officer: TestClient,
    approver: TestClient,  # noqa: F811
) -> None:
    books.ok("spend", "G1", "--amount", "60000", "--category", "equipment", "--source", "subsidy",
             "--voucher", "S1", "--date", "2024-05-10")  # fmt: skip
    approver.get("/?lang=en")
    assert post(approver, "recover-order", amount="5000", reason="违规列支", document="追-1",
                on="2024-07-01").status_code == 200  # fmt: skip
    before = events(books)
    above = post(officer, "recover-receive", amount="5000.01", voucher="缴-1", on="2024-07-10")
    assert above.status_code == 422
    said = cli_refusal(books, "recover", "receive", "G1", "--amount", "5000.01", "--voucher", "缴-1",
                       "--date", "2024-07-10")  # fmt: skip
    sentence, rule, clause = refusal(above.text)
    assert sentence == said and rule and clause and events(books) == before
    received = post(officer, "recover-receive", amount="5000", voucher="缴-1", on="2024-07-10")
    assert received.status_code == 200 and 'id="done"' in received.text, received.text[:3000]
    row = books.balances()["B0001"]
    assert row["subsidy_available"] == "35000.00"  # 100,000 received, 60,000 spent, 5,000 recovered
    assert shown_balance(received.text, "subsidy_available") == "35000.00"

    # closing with the final evaluation not passed and money left is refused, as grant close refuses it
    before = events(books)
    early = post(approver, "close", document="结-1", on="2026-05-10")
    assert early.status_code == 422
    said = cli_refusal(books, "grant", "close", "G1", "--document", "结-1", "--date", "2026-05-10",
                       role="approver")  # fmt: skip
    sentence, rule, clause = refusal(early.text)
    assert sentence == said and rule and clause and events(books) == before
    assert books.balances()["B0001"]["status"] == "approved"

    over = post(officer, "dispose", source="subsidy", amount="35000.01", how="returned", approval="批-9",
                on="2026-04-01")  # fmt: skip
    assert over.status_code == 422 and events(books) == before
    said = cli_refusal(books, "dispose", "G1", "--source", "subsidy", "--amount", "35000.01", "--how",
                       "returned", "--approval", "批-9", "--date", "2026-04-01")  # fmt: skip
    assert refusal(over.text)[0] == said
    disposed = post(officer, "dispose", source="subsidy", amount="35000", how="returned", approval="批-9",
                    on="2026-04-01")  # fmt: skip
    assert disposed.status_code == 200 and 'id="done"' in disposed.text, disposed.text[:3000]
    assert books.balances()["B0001"]["subsidy_available"] == "0.00"
    before = events(books)
    again = post(officer, "dispose", source="subsidy", amount="35000", how="returned", approval="批-9",
                 on="2026-04-01")  # fmt: skip
    assert "already recorded" in again.text and events(books) == before

    books.ok("evaluate", "G1", "--kind", "final", "--result", "pass", "--date", "2026-04-20", role="approver")
    closed = post(approver, "close", document="结-1", on="2026-05-10")
    assert closed.status_code == 200 and 'id="done"' in closed.text, closed.text[:3000]
    assert books.balances()["B0001"]["status"] == "closed"
    assert history(books)[-1]["kind"] == "close" and history(books)[-1]["actor"] == "tester.approver"
    before = events(books)
    assert "already recorded" in post(approver, "close", document="结-1", on="2026-05-10").text
    assert events(books) == before


# ----------------------------------------------------------------------------- roles


TYPED = {"lines": "training_system 地方财政 1万", "approval": "批-1", "year": "2024", "trainees": "10",
         "ref": "R1", "note": "n", "kind": "summary", "title": "t", "amount": "1000", "voucher": "V-1",
         "source": "subsidy", "how": "returned", "document": "文-1"}  # fmt: skip


def test_each_new_form_is_shown_to_and_recorded_by_its_role_only(
    books: Ledger,  # noqa: F811
    officer: TestClient,
    approver: TestClient,  # noqa: F811
    auditor: TestClient,
) -> None:
    officer_page = officer.get("/grants/G1").text
    approver_page = approver.get("/grants/G1").text
    auditor_page = auditor.get("/grants/G1").text
    assert all(f'id="{name}-form"' in officer_page for name in OFFICER_NEW)
    assert not any(f'id="{name}-form"' in officer_page for name in APPROVER_NEW)
    assert all(f'id="{name}-form"' in approver_page for name in APPROVER_NEW)
    assert not any(f'id="{name}-form"' in approver_page for name in OFFICER_NEW)
    assert not any(f'id="{name}-form"' in auditor_page for name in (*OFFICER_NEW, *APPROVER_NEW))
    before = events(books)
    for name in (*OFFICER_NEW, *APPROVER_NEW):
        refused = post(auditor, name, **TYPED)
        assert refused.status_code == 403, name
        sent = upload(auditor, name, b"document", **TYPED)  # as a file upload too
        assert sent.status_code == 403, name
    for name in APPROVER_NEW:
        refused = post(officer, name, **TYPED)
        assert refused.status_code == 403 and "approver" in refused.text, name
    for name in OFFICER_NEW:
        refused = upload(approver, name, b"document", **TYPED) if name == "dossier-add" else None
        refused = refused or post(approver, name, **TYPED)
        assert refused.status_code == 403, name
    assert events(books) == before


def test_the_new_forms_labels_are_chinese_by_default(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    sign_in(client)
    page = client.get("/grants/G1").text
    for words in ("登记预算计划", "预算明细", "报告年度绩效产出", "登记整改完成", "向专门档案添加文件",
                  "登记追回资金到账", "处置结余资金", "缴回", "结转使用"):  # fmt: skip
        assert words in page, words


def _multipart(parts: list[tuple[str, bytes, str | None]]) -> tuple[bytes, str]:
    """A multipart body of ``parts`` (name, bytes, file name or None for a text field), as its
    bytes are: a browser's own encoding of the text is not assumed."""
    boundary = "grant-ledger-test-boundary"
    body = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        body += b"Content-Type: application/pdf\r\n" if filename else b""
        body += b"\r\n" + value + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    ("title", "files", "said"),
    [
        # GBK bytes, not UTF-8: Starlette had read them as Latin-1 and stored another title
        ("2024年度总结".encode("gbk"), 1, "The form holds text that is not UTF-8; nothing was written."),
        ("总".encode() * 22_000, 1, "A field of the form is longer than the 64 KB this page takes"),
        (b"summary", 3, "The form holds more files or fields than this page sends"),
    ],
)
def test_an_upload_form_that_is_no_page_s_is_refused_saying_what_is_wrong_with_it(
    books: Ledger,  # noqa: F811
    officer: TestClient,
    title: bytes,
    files: int,
    said: str,
) -> None:
    """A dossier upload with a title not in UTF-8, one past 64 KB, or three files: refused (400) in
    a sentence saying which, nothing recorded; each had been "not sent as a file upload", and the
    title not in UTF-8 had been recorded read as Latin-1."""
    page = officer.get("/grants/G1").text
    fields = [("csrf", csrf(page).encode(), None), ("kind", b"summary", None), ("title", title, None)]
    fields += [("on", b"2025-01-15", None)]
    fields += [("sha256", f"%PDF-1.4 report {n}".encode(), f"r{n}.pdf") for n in range(files)]
    body, content_type = _multipart(fields)
    before = events(books)
    refused = officer.post(
        "/grants/G1/record/dossier-add", content=body, headers={"content-type": content_type}
    )
    shown = re.search(r'<p class="error" id="error">(.*?)</p>', refused.text, re.S)
    assert refused.status_code == 400 and shown is not None, refused.text[:2000]
    assert said in html.unescape(shown.group(1))
    assert events(books) == before
    # the same form in UTF-8, one file, a title of a few words: recorded
    fields[2] = ("title", "2024年度总结".encode(), None)
    body, content_type = _multipart(fields[:5])
    taken = officer.post(
        "/grants/G1/record/dossier-add", content=body, headers={"content-type": content_type}
    )
    assert taken.status_code == 200 and events(books) > before, taken.text[:2000]
    assert "2024年度总结" in history(books)[-1]["detail"]
