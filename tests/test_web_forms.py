"""The grant page's forms beyond spend and disbursement (commands.web.forms) through the real app on
a real SQLite ledger: matching and reversals by an officer, the selection and oversight steps by an
approver, each recorded as the command line records it (its `balance` and `history` show the same
figures and who did it), refused as it refuses (rule, clause, sentence; nothing written), and held
to the signed-in person's registered role on the server."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from commands.web.app import create_app
from commands.web.forms import FORMS
from tests.conftest import Ledger
from tests.test_web import (  # noqa: F401  (fixtures)
    AUDITOR_PASSWORD,
    PASSWORD,
    Clock,
    books,
    client,
    clock,
    csrf,
    events,
    set_password,
    sign_in,
    spend,
)

APPROVER_PASSWORD = "approver-horse-battery"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def approver(books: Ledger, clock: Clock) -> Iterator[TestClient]:  # noqa: F811
    """A second client, signed in as the approver ``tester.approver`` (web password set with
    their own key); G2 (base B0002) applied for on 2024-03-01, awaiting its expert review."""
    result = set_password(books, "tester.approver", APPROVER_PASSWORD, "approver")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    books.ok("unit", "register", "U2", "--name", "单位U2", "--date", "2024-02-01")
    books.ok("grant", "apply", "G2", "--unit", "U2", "--base", "B0002", "--programme", "district_base",
             "--project", "焊工", "--amount", "20万", "--date", "2024-03-01")  # fmt: skip
    with TestClient(create_app(books.url, clock=clock), base_url="http://testserver") as c:
        assert sign_in(c, "tester.approver", APPROVER_PASSWORD).status_code == 200
        yield c


def post(client: TestClient, form: str, grant: str = "G1", **fields: str) -> Any:  # noqa: F811
    page = client.get(f"/grants/{grant}")
    return client.post(f"/grants/{grant}/record/{form}", data={"csrf": csrf(page.text), **fields})


def history(ledger: Ledger, grant: str = "G1") -> list[dict[str, Any]]:
    result = ledger.ok("history", grant, "--format", "json")
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def refusal(page: str) -> tuple[str, str, str]:
    """(sentence, rule, clause) as the page shows the refusal beside its form."""
    sentence = re.search(r'id="refusal".*?<p class="error">(.*?)</p>', page, re.S)
    rule = re.search(r'id="refusal-rule">(.*?)<', page)
    clause = re.search(r'id="refusal-clause">(.*?)<', page)
    assert sentence is not None, page[:3000]
    return (
        html.unescape(sentence.group(1)),
        html.unescape(rule.group(1)) if rule else "",
        html.unescape(clause.group(1)) if clause else "",
    )


def cli_refusal(ledger: Ledger, *args: str, code: int = 3, role: str = "officer") -> str:
    said = ledger(*args, role=role)
    assert said.exit_code == code, (said.stdout, said.stderr)
    return said.stderr.removeprefix("grant-ledger: ").strip()


def shown_balance(page: str, key: str) -> str:
    found = re.search(rf'data-key="{key}">(.*?)</td>', page)
    assert found is not None, page[:3000]
    return found.group(1).replace(",", "")


# ----------------------------------------------------------------------------- an officer's


def test_matching_committed_and_received_on_the_web_shows_in_balance_and_history(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    sign_in(client)
    client.get("/?lang=en")
    committed = post(client, "match-commit", amount="20万", funder="重庆市渝中职业教育中心",
                     voucher="配承-1", on="2024-05-01")  # fmt: skip
    assert committed.status_code == 200 and 'id="done"' in committed.text, committed.text[:2000]
    received = post(client, "match-receive", amount="6万", voucher="配收-1", on="2024-05-02")
    assert received.status_code == 200 and 'id="done"' in received.text
    assert "配收-1" in re.search(r'id="done">(.*?)<', received.text).group(1)  # type: ignore[union-attr]
    row = books.balances()["B0001"]
    assert (row["matching_committed"], row["matching_received"]) == ("200000.00", "60000.00")
    assert shown_balance(received.text, "matching_available") == row["matching_available"] == "60000.00"
    lines = {(h["kind"], h["voucher"]): h for h in history(books)}
    assert lines[("match_commit", "配承-1")]["actor"] == "tester"
    assert lines[("match_receive", "配收-1")]["amount"] == "60000.00"
    before = events(books)
    again = post(client, "match-receive", amount="6万", voucher="配收-1", on="2024-05-02")
    assert again.status_code == 200 and "already recorded" in again.text
    assert events(books) == before


def test_a_spend_is_reversed_from_its_history_line_and_the_balance_comes_back(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    sign_in(client)
    assert spend(client).status_code == 200
    assert books.balances()["B0001"]["subsidy_spent"] == "35000.00"
    page = client.get("/grants/G1").text
    lines = re.findall(r'<form[^>]*class="reverse-line">(.*?)</form>', page.split('id="history"')[1], re.S)
    assert len(lines) == 2  # the disbursement 拨-1 and the spend
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', lines[1]))
    assert fields["voucher"] == "记-0042" and fields["kind"] == "spend"
    done = client.post("/grants/G1/record/reverse", data=fields | {"reason": "重复入账"})
    assert done.status_code == 200 and 'id="done"' in done.text, done.text[:2000]
    row = books.balances()["B0001"]
    assert row["subsidy_spent"] == "0.00" and row["subsidy_available"] == "100000.00"
    assert shown_balance(done.text, "subsidy_available") == "100000.00"
    reversal = [h for h in history(books) if h["kind"] == "reverse"]
    assert len(reversal) == 1 and reversal[0]["voucher"] == "记-0042" and reversal[0]["actor"] == "tester"
    after = done.text.split('id="history"')[1]
    assert 'name="voucher" value="记-0042"' not in after  # no second button for a reversed voucher
    before = events(books)
    again = client.post("/grants/G1/record/reverse", data=fields | {"reason": "重复入账"})
    assert again.status_code == 200 and "已登记" in again.text and events(books) == before


def test_every_kind_of_voucher_once_reversed_offers_no_second_reversal(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    """Each reversible kind reversed once by the command line (a disbursement, a matching commitment
    and receipt, a spend): the page offers to reverse only the vouchers still standing."""
    sign_in(client)
    on = ("--date", "2024-04-20")
    books.ok("disburse", "G1", "--amount", "5000", "--voucher", "拨-2", *on)
    for voucher, amount in (("承-1", "2万"), ("承-2", "1万")):
        books.ok("match", "commit", "G1", "--amount", amount, "--funder", "单位U1", "--voucher", voucher, *on)
    for voucher in ("收-1", "收-2"):
        books.ok("match", "receive", "G1", "--amount", "1万", "--voucher", voucher, *on)
    for voucher in ("记-1", "记-2"):
        books.ok("spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
                 "--voucher", voucher, *on)  # fmt: skip
    reversed_ = (("收-2", "match_receive"), ("承-2", "match_commit"), ("拨-2", "disburse"), ("记-1", "spend"))
    for voucher, kind in reversed_:
        books.ok("reverse", "G1", "--voucher", voucher, "--kind", kind, "--reason", "录入错误", *on)
    page = client.get("/grants/G1").text
    forms = re.findall(r'<form[^>]*class="reverse-line">(.*?)</form>', page.split('id="history"')[1], re.S)
    offered = set()
    for form in forms:
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
        offered.add((fields["kind"], fields["voucher"]))
    standing = {("disburse", "拨-1"), ("match_commit", "承-1"), ("match_receive", "收-1"), ("spend", "记-2")}
    assert offered == standing


def test_refusals_show_the_command_lines_rule_clause_and_sentence_and_write_nothing(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    sign_in(client)
    client.get("/?lang=en")
    assert spend(client, amount="95000", voucher="记-1").status_code == 200
    before, lines = events(books), history(books)
    # matching received before the grant's approval (2024-04-01)
    early = post(client, "match-receive", amount="1万", voucher="配收-0", on="2024-03-15")
    assert early.status_code == 422
    said = cli_refusal(books, "match", "receive", "G1", "--amount", "1万", "--voucher", "配收-0",
                       "--date", "2024-03-15")  # fmt: skip
    sentence, rule, clause = refusal(early.text)
    assert sentence == said and rule and clause and clause in said
    assert 'id="match-receive-form"' in early.text and 'value="配收-0"' in early.text
    # the disbursement reversed would leave the subsidy below what was spent (003 第十条)
    below = post(client, "reverse", voucher="拨-1", kind="disburse", reason="金额错误", on="2024-06-01")
    assert below.status_code == 422
    said = cli_refusal(books, "reverse", "G1", "--voucher", "拨-1", "--kind", "disburse",
                       "--reason", "金额错误", "--date", "2024-06-01")  # fmt: skip
    sentence, rule, clause = refusal(below.text)
    assert sentence == said and rule and clause and "5,000.00" in sentence
    # a voucher the grant never recorded: not found, as the command line says (exit 4)
    unknown = post(client, "reverse", voucher="记-404", reason="无此凭证")
    assert unknown.status_code == 404
    said = cli_refusal(books, "reverse", "G1", "--voucher", "记-404", "--reason", "无此凭证", code=4)
    assert refusal(unknown.text)[0] == said
    # a reversal without its reason is refused by the reason's rule, as --reason ''
    bare = post(client, "reverse", voucher="记-1", reason="")
    assert bare.status_code == 400 and "reason" in refusal(bare.text)[0]
    assert events(books) == before and history(books) == lines


# ----------------------------------------------------------------------------- an approver's


def pending_step(ledger: Ledger, grant: str) -> str | None:
    rows = json.loads(ledger.ok("grant", "pending", "--format", "json").stdout)
    return next((r["step"] for r in rows if r["grant_id"] == grant), None)


def test_an_approver_takes_grant_pendings_next_steps_on_the_web_and_the_grant_is_approved(
    books: Ledger,  # noqa: F811
    approver: TestClient,
) -> None:
    approver.get("/?lang=en")
    page = approver.get("/grants/G2").text
    assert pending_step(books, "G2") == "review"
    assert re.search(r'id="pending-step">expert review<', page)
    assert 'id="review-form" class="record next"' in page and 'id="approve-form" class="record"' in page
    assert 'id="spend-form"' not in page and 'id="match-commit-form"' not in page
    typo = post(approver, "review", "G2", panel="abc", recommendation="recommend")
    assert typo.status_code == 400 and refusal(typo.text)[0].startswith("number of experts: ")
    weak = post(approver, "review", "G2", panel="4", recommendation="recommend")
    assert weak.status_code == 422
    said = cli_refusal(books, "grant", "review", "G2", "--panel", "4", "--recommendation", "recommend",
                       role="approver")  # fmt: skip
    assert refusal(weak.text)[0] == said and refusal(weak.text)[2]
    reviewed = post(approver, "review", "G2", panel="5", recommendation="recommend", on="2024-03-08")
    assert reviewed.status_code == 200 and 'id="done"' in reviewed.text, reviewed.text[:3000]
    assert pending_step(books, "G2") == "notice"
    assert re.search(r'id="pending-step">public notice<', reviewed.text)
    noticed = post(approver, "notice", "G2", start="2024-03-11", end="2024-03-15")
    assert noticed.status_code == 200 and 'id="done"' in noticed.text, noticed.text[:3000]
    assert pending_step(books, "G2") == "approve"
    # a tier is a national base's (002 二(一)): refused here as on the command line
    tiered = post(approver, "approve", "G2", amount="20万", document="渝中人社〔2024〕9号",
                  bodies="RS-YZ, CZ-YZ", tier="A", on="2024-04-02")  # fmt: skip
    said = cli_refusal(books, "grant", "approve", "G2", "--amount", "20万", "--document",
                       "渝中人社〔2024〕9号", "--body", "RS-YZ", "--body", "CZ-YZ", "--tier", "A",
                       "--date", "2024-04-02", role="approver")  # fmt: skip
    assert tiered.status_code == 422 and refusal(tiered.text)[0] == said and "has no tiers" in said
    approved = post(approver, "approve", "G2", amount="20万", document="渝中人社〔2024〕9号",
                    bodies="RS-YZ, CZ-YZ", on="2024-04-02")  # fmt: skip
    assert approved.status_code == 200 and 'id="done"' in approved.text, approved.text[:3000]
    assert pending_step(books, "G2") is None and 'id="pending"' not in approved.text
    row = books.balances("B0002")["B0002"]
    assert row["subsidy_approved"] == "200000.00" and row["status"] == "approved"
    acts = [(h["kind"], h["actor"], h["occurred_on"]) for h in history(books, "G2")]
    assert acts[1:] == [
        ("review", "tester.approver", "2024-03-08"),
        ("notice", "tester.approver", "2024-03-15"),  # a notice is dated its last day, as the CLI's
        ("approve", "tester.approver", "2024-04-02"),
    ]
    # oversight: an evaluation of the approved grant
    evaluated = post(approver, "evaluate", "G2", kind="mid_term", result="rectify", on="2024-09-01")
    assert evaluated.status_code == 200 and 'id="done"' in evaluated.text
    assert history(books, "G2")[-1]["kind"] == "evaluate"


def test_an_approver_rejects_an_application_with_its_reason_shown_as_text(
    books: Ledger,  # noqa: F811
    approver: TestClient,
) -> None:
    assert (
        post(approver, "review", "G2", panel="5", recommendation="reject", on="2024-03-08").status_code == 200
    )
    assert pending_step(books, "G2") == "rereview_or_reject"
    page = approver.get("/grants/G2").text
    assert 'id="reject-form" class="record next"' in page
    rejected = post(approver, "reject", "G2", reason=SCRIPT)
    assert rejected.status_code == 200 and 'id="done"' in rejected.text
    assert books.balances("B0002")["B0002"]["status"] == "rejected"
    for shown in (rejected.text, approver.get("/grants/G2").text):
        assert SCRIPT not in shown
    assert "&lt;script&gt;" in approver.get("/grants/G2").text  # the reason, in the history's detail


# ----------------------------------------------------------------------------- roles and tokens


OFFICER_FORMS = ("match-commit", "match-receive", "reverse", "budget", "output", "rectify-complete",
                 "dossier-add", "recover-receive", "dispose")  # fmt: skip
APPROVER_FORMS = tuple(name for name in FORMS if name not in (*OFFICER_FORMS, "spend", "disburse"))


def test_each_form_is_refused_to_a_role_that_does_not_record_it(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
    approver: TestClient,
    clock: Clock,  # noqa: F811
) -> None:
    sign_in(client)
    officer_page = client.get("/grants/G2").text
    assert all(f'id="{name}-form"' in officer_page for name in OFFICER_FORMS)
    assert not any(f'id="{name}-form"' in officer_page for name in APPROVER_FORMS)
    approver_page = approver.get("/grants/G1").text
    assert all(f'id="{name}-form"' in approver_page for name in APPROVER_FORMS)
    assert not any(f'id="{name}-form"' in approver_page for name in OFFICER_FORMS)
    assert 'class="reverse-line"' not in approver_page
    before = events(books)
    typed = {"amount": "1万", "voucher": "V-1", "funder": "某单位", "reason": "理由", "document": "文-1",
             "panel": "5", "recommendation": "recommend", "start": "2024-03-11", "end": "2024-03-15",
             "build_end": "2026-12-31", "kind": "mid_term", "result": "pass", "ref": "R1",
             "finding": "台账不全", "deadline": "2025-06-30", "recommender": "RS-YZ",
             "round_": "2024"}  # fmt: skip
    for name in APPROVER_FORMS:
        refused = post(client, name, "G2", **typed)
        assert refused.status_code == 403, name
        assert "审批人" in refused.text  # the role rule's sentence: recorded by an approver
    for name in OFFICER_FORMS:
        assert post(approver, name, "G1", **typed).status_code == 403
    with TestClient(create_app(books.url, clock=clock), base_url="http://testserver") as auditor:
        sign_in(auditor, "tester.auditor", AUDITOR_PASSWORD)
        page = auditor.get("/grants/G1").text
        assert 'class="record' not in page and 'class="reverse-line"' not in page
        for name in FORMS:
            assert post(auditor, name, "G1", **typed).status_code == 403, name
        assert auditor.post("/grants/G1/spend", data={"csrf": csrf(page), **typed}).status_code == 403
    assert events(books) == before


def test_a_form_without_its_csrf_token_is_refused_and_an_unknown_form_is_not_found(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
    approver: TestClient,
) -> None:
    sign_in(client)
    before = events(books)
    bare = client.post("/grants/G1/record/match-receive", data={"amount": "1万", "voucher": "配收-9"})
    assert bare.status_code == 403
    wrong = client.post(
        "/grants/G1/record/reverse", data={"csrf": "x" * 40, "voucher": "拨-1", "reason": "r"}
    )
    assert wrong.status_code == 403
    tokenless = approver.post("/grants/G2/record/reject", data={"reason": "评审未通过"})
    assert tokenless.status_code == 403
    assert post(client, "nothing-here").status_code == 404
    assert events(books) == before


def test_a_script_typed_into_matching_and_reversal_forms_is_shown_as_text(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    sign_in(client)
    done = post(client, "match-commit", amount="1万", funder=SCRIPT, voucher=SCRIPT, on="2024-05-01")
    assert done.status_code == 200 and 'id="done"' in done.text
    reversed_ = post(client, "reverse", voucher=SCRIPT, kind="match_commit", reason=SCRIPT)
    assert reversed_.status_code == 200 and 'id="done"' in reversed_.text, reversed_.text[:2000]
    refused = post(client, "reverse", voucher="记-404", reason=SCRIPT)  # the reason kept in the form
    assert refused.status_code == 404
    for page in (done.text, reversed_.text, refused.text, client.get("/grants/G1").text):
        assert SCRIPT not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert any(h["voucher"] == SCRIPT and h["kind"] == "reverse_match_commit" for h in history(books))


def test_a_recorded_spend_answers_with_the_grants_page_and_a_reload_sends_nothing_again(
    books: Ledger, client: TestClient  # noqa: F811
) -> None:
    """Post/Redirect/Get: the write answers 303 to the grant's page, which shows what was recorded
    once; reloading that page (what an officer does next) records nothing and shows no notice; a
    refusal still answers with the page and the form as it was typed."""
    assert sign_in(client).status_code == 200
    written = events(books)
    page = client.get("/grants/G1")
    form = {"csrf": csrf(page.text), "amount": "1200", "category": "equipment", "source": "subsidy",
            "voucher": "记-PRG", "payee": "重庆某设备公司", "on": "2024-05-10"}  # fmt: skip
    answer = client.post("/grants/G1/spend", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/grants/G1"
    written_once = events(books)  # the expenditure and its seal
    assert written_once > written
    shown = client.get("/grants/G1")
    assert 'id="done"' in shown.text and "记-PRG" in shown.text
    again = client.get("/grants/G1")
    assert again.status_code == 200 and 'id="done"' not in again.text
    assert events(books) == written_once
    balance = json.loads(books.ok("balance", "B0001", "--format", "json").stdout)
    assert [r["subsidy_spent"] for r in balance] == ["1200.00"]

    form = {"csrf": csrf(again.text), "amount": "500", "category": "travel", "source": "subsidy",
            "voucher": "记-差旅", "payee": "某人", "on": "2024-05-11"}  # fmt: skip
    refused_answer = client.post("/grants/G1/spend", data=form, follow_redirects=False)
    assert refused_answer.status_code == 422, refused_answer.status_code
    assert 'value="记-差旅"' in refused_answer.text and events(books) == written_once
