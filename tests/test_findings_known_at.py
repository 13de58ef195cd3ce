"""`report findings --as-of DATE --known-at TIMESTAMP`, as every other report reads them: as-of is
the business date the deadlines are judged on (events dated later left out); known-at is what the
ledger knew at a moment (events recorded later left out — a disbursement, a rectification's
completion, matching received, each recorded late and dated earlier). The web's findings page
takes the same pickers and its downloads are the command line's files."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from starlette.testclient import TestClient

from commands.cli import cli
from commands.web.app import create_app
from tests import test_web
from tests.conftest import Ledger, approved_district_grant, reviewed_by_its_authority, selected
from tests.test_web import Clock, sign_in
from tests.test_web_reports import csv_table, page_table

books, clock = test_web.books, test_web.clock  # the fixtures of tests/test_web.py

CHINA = timezone(timedelta(hours=8))


def moment() -> datetime:
    """A recorded time strictly between the commands before and after it."""
    time.sleep(0.05)
    now = datetime.now(UTC)
    time.sleep(0.05)
    return now


def order_r1(ledger: Ledger) -> None:
    """Rectification R1 of G1, ordered 2024-06-01, due 2024-06-30."""
    ledger.ok("rectify", "order", "G1", "--ref", "R1", "--finding", "凭证不全", "--deadline", "2024-06-30",
              "--date", "2024-06-01", role="approver")  # fmt: skip


def found(ledger: Ledger, *options: str) -> list[tuple[str, str | None]]:
    """The findings of `report findings --format json` with ``options``: (rule, date) each."""
    rows = json.loads(ledger.ok("report", "findings", "--format", "json", *options).stdout)
    assert all(r["grant_id"] == "G1" and r["base_id"] == "B0001" for r in rows)
    return [(r["rule"], r["date"]) for r in rows]


def stored_as_an_earlier_version_allowed(ledger: Ledger, event: Any, **fields: Any) -> None:
    """An event of G1 stored past the rules the command line holds it to, as an earlier version
    allowed, sealed by a person of its own ("elsewhere")."""
    from ledger.application import GrantLedger
    from tests.signing import save_sealed

    app = GrantLedger(ledger.url)
    try:
        grant = app.get_grant("G1")
        grant.trigger_event(event, actor="elsewhere", role="officer", **fields)
        save_sealed(app, ledger, grant)
    finally:
        app.close()


OVERDUE = ("rectification overdue", "2024-06-30")
MATCHING = ("matching 1:1", None)


def test_known_at_shows_the_findings_as_the_ledger_knew_them(ledger: Ledger) -> None:
    """A disbursement recorded late brings the 1:1 finding; a completion of R1 (dated before its
    deadline) and matching received, recorded later still, clear both. Judged on 2024-07-15:
    before the disbursement was recorded R1 alone is overdue; between, both; after, none."""
    approved_district_grant(ledger)
    order_r1(ledger)
    first = moment()
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    second = moment()
    ledger.ok("rectify", "complete", "G1", "--ref", "R1", "--date", "2024-06-20")
    ledger.ok("match", "receive", "G1", "--amount", "10万", "--voucher", "配-1", "--date", "2024-05-01")
    last = moment()

    day = ("--as-of", "2024-07-15")
    assert found(ledger, *day, "--known-at", first.isoformat()) == [OVERDUE]
    assert found(ledger, *day, "--known-at", second.isoformat()) == [MATCHING, OVERDUE]
    assert found(ledger, *day) == []
    assert found(ledger, *day, "--known-at", last.isoformat()) == []
    # the same moment in Chongqing's time, or naive (local) as a person types it, is the same moment
    assert found(ledger, *day, "--known-at", second.astimezone(CHINA).isoformat()) == [MATCHING, OVERDUE]
    naive = second.astimezone().replace(tzinfo=None).isoformat()
    assert found(ledger, *day, "--known-at", naive) == [MATCHING, OVERDUE]
    # before the deadline nothing is overdue, whatever was known
    assert found(ledger, "--as-of", "2024-06-30", "--known-at", second.isoformat()) == [MATCHING]
    # before the grant was applied for, the ledger knew no grant and no finding
    assert found(ledger, *day, "--known-at", "2000-01-01T00:00:00+00:00") == []
    # known after the last recording: today's report, every row and word of it
    now = ledger.ok("report", "findings", "--format", "csv")
    then = ledger.ok("report", "findings", "--format", "csv", "--known-at", last.isoformat())
    assert then.stdout == now.stdout


def test_a_breach_stored_later_was_not_known_before(ledger: Ledger) -> None:
    """A disbursement of 900,000.00 beyond the 200,000.00 approved, stored (as an earlier version
    allowed) after the moment and dated 2024-05-01: the judge's finding on it is in the report
    known after, not before."""
    from datetime import date
    from decimal import Decimal

    from ledger.grant import Grant

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "120000", "--voucher", "T1", "--date", "2024-05-01")
    before = moment()
    stored_as_an_earlier_version_allowed(
        ledger, Grant.SubsidyDisbursed, amount=Decimal("900000.00"), voucher="T9", tranche=2,
        occurred_on=date(2024, 5, 1),
    )  # fmt: skip
    breach = ("tranches within approval", "2024-05-01")
    assert breach in found(ledger, "--as-of", "2024-06-30")
    assert breach not in found(ledger, "--as-of", "2024-06-30", "--known-at", before.isoformat())
    assert breach not in found(ledger, "--as-of", "2024-04-30")  # dated later than the day judged


def test_a_spends_breach_is_known_after_it_was_stored_and_not_before(ledger: Ledger) -> None:
    """A spend of 900,000.00 against the 120,000.00 received, stored as an earlier version allowed:
    its finding is in the report known at any later moment, as in the report without known-at,
    and not in the one known before (a spend's recorded time is its movement's: it has no act)."""
    from datetime import date
    from decimal import Decimal

    from ledger.grant import Grant

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "120000", "--voucher", "T1", "--date", "2024-05-01")
    before = moment()
    stored_as_an_earlier_version_allowed(
        ledger, Grant.ExpenditureRecorded, amount=Decimal("900000.00"), category="equipment",
        source="subsidy", content="设备购置", project="", voucher="S9", payee="", memo="", attachments=[],
        occurred_on=date(2024, 5, 2),
    )  # fmt: skip
    after = moment()
    plain = found(ledger, "--as-of", "2024-06-30")
    assert ("ring-fence", "2024-05-02") in plain
    assert found(ledger, "--as-of", "2024-06-30", "--known-at", after.isoformat()) == plain
    assert ("ring-fence", "2024-05-02") not in found(
        ledger, "--as-of", "2024-06-30", "--known-at", before.isoformat()
    )


def test_an_application_recorded_later_and_its_findings_were_not_known_before(ledger: Ledger) -> None:
    """G2's application, dated 2024-03-01 but recorded after the moment, declares a capacity of
    299 (003 第六条(二) asks 300): its finding is in the report known after, not before, on any
    day judged, and a base named alone (B2) is not a base the ledger knew then."""
    from tests.test_programme_rules import apply_args, register

    approved_district_grant(ledger)
    before = moment()
    register(ledger, "U2", "enterprise")
    ledger.ok(*apply_args("G2", "U2", "B2", "district_base", "电工"), "--amount", "20万",
              "--capacity", "299", "--date", "2024-03-01")  # fmt: skip

    def of_g2(*options: str) -> list[tuple[str, str]]:
        rows = json.loads(ledger.ok("report", "findings", "--format", "json", *options).stdout)
        return [(r["rule"], r["date"]) for r in rows if r["grant_id"] == "G2"]

    condition = [("application condition", "2024-03-01")]
    assert of_g2("--as-of", "2024-03-02") == condition
    assert of_g2("--as-of", "2024-03-02", "--known-at", before.isoformat()) == []
    assert of_g2("--known-at", before.isoformat()) == []
    assert of_g2("--as-of", "2024-02-29") == []  # before the application's date
    unknown = ledger("report", "findings", "B2", "--known-at", before.isoformat())
    assert unknown.exit_code == 4 and unknown.stdout == "", (unknown.stdout, unknown.stderr)
    assert "B2" in unknown.stderr and len(unknown.stderr.strip().splitlines()) == 1


def test_as_of_the_end_of_the_build_period_and_after(ledger: Ledger) -> None:
    """G1 builds 2024-04-01 to 2026-03-31: the subsidy still held is a finding from 2026-04-01
    (003 第三条), not on 2026-03-31; known before the disbursement was recorded, nothing is held."""
    approved_district_grant(ledger)
    before = moment()
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    held = ("balance after the build period", "2026-03-31")
    assert held not in found(ledger, "--as-of", "2026-03-31")
    assert held in found(ledger, "--as-of", "2026-04-01")
    assert found(ledger, "--as-of", "2026-04-01", "--known-at", before.isoformat()) == []


def test_an_extension_recorded_later_was_not_known_before(ledger: Ledger) -> None:
    """The build period extended to 2026-09-30 (dated 2026-03-01): as the ledger knew G1 before
    the extension was recorded, it ended 2026-03-31 and the subsidy still held is a finding on
    2026-04-15; as it stands, the period runs on and there is none."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    before = moment()
    ledger.ok("grant", "extend", "G1", "--end", "2026-09-30", "--document", "渝中人社〔2026〕7号",
              "--date", "2026-03-01", role="approver")  # fmt: skip
    held = ("balance after the build period", "2026-03-31")
    assert held in found(ledger, "--as-of", "2026-04-15", "--known-at", before.isoformat())
    assert not any(rule == held[0] for rule, _ in found(ledger, "--as-of", "2026-04-15"))
    assert ("balance after the build period", "2026-09-30") in found(ledger, "--as-of", "2026-10-01")


def test_an_institutes_oversight_as_of_a_day_and_as_known_at_a_moment(ledger: Ledger) -> None:
    """An institute built to 2026-03-31 has its final evaluation (2026-04-01) and, recorded
    later, its third-party audit (2026-04-02; 000 第十五条 asks both): on 2026-04-15 the finding
    stands as known before the audit was recorded, not after; on 2026-04-01 the audit, dated
    the next day, is not yet in the books whenever it was recorded."""
    from tests.test_every_rule import A, apply, unit

    unit(ledger, "U1", "--kind", "technician_college")
    ledger.ok(*apply("G1", "U1", "training_institute", "2024-03-01", "焊工", "电工", amount="150万"))
    reviewed_by_its_authority(ledger, "G1")
    selected(ledger, "G1")
    ledger.ok("grant", "approve", "G1", "--amount", "150万", "--document", "渝人社〔2024〕96号",
              "--body", "RS-CQ", "--end", "2026-03-31", "--date", "2024-04-01", role=A)  # fmt: skip
    ledger.ok("evaluate", "G1", "--kind", "final", "--result", "pass", "--date", "2026-04-01", role=A)
    before = moment()
    ledger.ok("evaluate", "G1", "--kind", "third_party_audit", "--result", "pass", "--date", "2026-04-02",
              role=A)  # fmt: skip

    def oversight(*options: str) -> list[str]:
        rows = json.loads(ledger.ok("report", "findings", "--format", "json", *options).stdout)
        return [r["message"] for r in rows if r["rule"] == "institute oversight"]

    (due,) = oversight("--as-of", "2026-04-15", "--known-at", before.isoformat())
    assert "third-party audit" in due and "final evaluation" not in due
    assert oversight("--as-of", "2026-04-15") == []
    (on_the_day,) = oversight("--as-of", "2026-04-01")
    assert "third-party audit" in on_the_day
    assert oversight("--as-of", "2026-03-31") == []  # the build period had not ended


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T00:00:00", "2024-06-01T25:00"])
def test_a_malformed_known_at_is_one_sentence_and_exit_2(sqlite_ledger: Ledger, value: str) -> None:
    approved_district_grant(sqlite_ledger)
    events = sqlite_ledger.event_count()
    bad = sqlite_ledger("report", "findings", "--known-at", value)
    assert bad.exit_code == 2, (bad.stdout, bad.stderr)
    assert bad.stdout == "" and "Traceback" not in bad.stderr
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and repr(value) in lines[0] and "--known-at" in lines[0]
    assert sqlite_ledger.event_count() == events


# ----------------------------------------------------------------------------- the web page


@pytest.fixture
def late_completion(books: Ledger) -> str:
    """`books` (G1 with 100,000.00 received) with R1 ordered, then, recorded after the moment
    returned (naive, local: as the page's picker gives it), completed on 2024-06-20."""
    order_r1(books)
    at = moment().astimezone().replace(tzinfo=None).isoformat(timespec="microseconds")
    books.ok("rectify", "complete", "G1", "--ref", "R1", "--date", "2024-06-20")
    return at


@pytest.fixture
def signed(books: Ledger, clock: Clock) -> TestClient:
    with TestClient(create_app(books.url, clock=clock), base_url="http://testserver") as c:
        assert sign_in(c).status_code == 200
        yield c


def cli_file(ledger: Ledger, tmp_path: Path, fmt: str, *options: str) -> bytes:
    out = tmp_path / f"cli.{fmt}"
    result = CliRunner().invoke(cli, ["--db", ledger.url, "--lang", "zh", "report", "findings", *options,
                                      "--format", fmt, "--output", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out.read_bytes()


def test_the_findings_page_takes_known_at_and_downloads_the_command_lines_files(
    books: Ledger, late_completion: str, signed: TestClient, tmp_path: Path
) -> None:
    picks = {"as_of": "2024-07-15", "known_at": late_completion}
    options = ("--as-of", "2024-07-15", "--known-at", late_completion)
    page = signed.get("/reports/findings", params=picks)
    assert page.status_code == 200, page.text[:2000]
    assert 'name="known_at"' in page.text and f'value="{late_completion}"' in page.text
    headers, rows, total = page_table(page.text)
    cli_csv = CliRunner().invoke(cli, ["--db", books.url, "--lang", "zh", "report", "findings", *options,
                                       "--format", "csv"])  # fmt: skip
    assert cli_csv.exit_code == 0, cli_csv.stderr
    assert rows == csv_table(cli_csv.stdout, headers) and total is None
    shown = [dict(zip(headers, r, strict=True)) for r in rows]
    assert [(r["项目编号"], r["日期"]) for r in shown if "R1" in r["说明"]] == [("G1", "2024-06-30")]
    # today's books (the completion known): R1 is not overdue
    now = page_table(signed.get("/reports/findings", params={"as_of": "2024-07-15"}).text)
    assert not any("R1" in cell for row in now[1] for cell in row)

    got = signed.get("/reports/findings/csv", params=picks)
    assert got.status_code == 200 and got.headers["content-disposition"].endswith('2024-07-15.csv"')
    assert got.content == cli_file(books, tmp_path, "csv", *options)
    assert "R1" in got.content.decode("utf-8-sig")
    xlsx = signed.get("/reports/findings/xlsx", params=picks)
    assert xlsx.status_code == 200
    (tmp_path / "web.xlsx").write_bytes(xlsx.content)
    cli_file(books, tmp_path, "xlsx", *options)

    def values(path: Path) -> list[list[object]]:
        book = load_workbook(path)
        return [[c.value for c in row] for sheet in book.worksheets for row in sheet.iter_rows()]

    web_cells, cli_cells = values(tmp_path / "web.xlsx"), values(tmp_path / "cli.xlsx")
    assert web_cells == cli_cells and any("R1" in str(v) for row in web_cells for v in row)


def test_a_malformed_known_at_on_the_page_is_one_sentence_and_a_400(
    late_completion: str, signed: TestClient
) -> None:
    for path in ("/reports/findings", "/reports/findings/csv", "/reports/findings/xlsx"):
        bad = signed.get(path, params={"known_at": "yesterday"})
        assert bad.status_code == 400, (path, bad.text[:500])
        assert "yesterday" in bad.text and "知悉" in bad.text and "Traceback" not in bad.text
        assert "content-disposition" not in bad.headers


def test_the_help_shows_known_at_and_its_example_in_both_languages(sqlite_ledger: Ledger) -> None:
    example = (
        "    grant-ledger report findings --known-at 2025-07-01T09:00:00 --format csv --output 预警.csv\n"
    )
    for lang, words in (("en", "--known-at TIMESTAMP: as the ledger"), ("zh", "--known-at TIMESTAMP：台账")):
        shown = CliRunner().invoke(
            cli, ["--db", sqlite_ledger.url, "--lang", lang, "report", "findings", "--help"]
        )
        assert shown.exit_code == 0, shown.stderr
        text = " ".join(shown.stdout.split("\n  "))  # the description's lines joined again
        assert words in text and example in shown.stdout, shown.stdout  # the example on its own line
