"""Corrections for every money act (issue 16 item 15): ``reverse`` takes the voucher of a
disbursement, a matching commitment or receipt as well as of an expenditure; each reversal is its
own event, judged by the ring-fence at the end of its date and of every later date, shown in
``history``, and every read path (balance as of a date, reports, the audit bundle and its
verifier) reads it alike."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from tests.conftest import Ledger, approved_district_grant


def _funded(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "拨-1", "--date", "2024-04-10")


def _balance(ledger: Ledger, *extra: str) -> dict[str, str]:
    rows = json.loads(ledger.ok("balance", "B0001", "--format", "json", *extra).stdout)
    return dict(rows[0])


def test_a_mistaken_disbursement_is_reversed_by_its_voucher(ledger: Ledger) -> None:
    _funded(ledger)
    before = ledger.event_count()

    done = ledger("reverse", "G1", "--voucher", "拨-1", "--reason", "拨付金额录错", "--date", "2024-04-12")

    assert done.exit_code == 0, done.stderr
    assert ledger.event_count() == before + 2  # the reversal and its seal: the disbursement stays
    now = _balance(ledger)
    assert (now["subsidy_received"], now["subsidy_available"]) == ("0.00", "0.00")
    # the books as of the day between still hold the money
    assert _balance(ledger, "--as-of", "2024-04-11")["subsidy_available"] == "100000.00"
    kinds = [
        (r["kind"], r["voucher"]) for r in json.loads(ledger.ok("history", "G1", "--format", "json").stdout)
    ]
    assert ("disburse", "拨-1") in kinds and ("reverse_disburse", "拨-1") in kinds
    # the same voucher is not disbursed again: a new disbursement takes a new number
    again = ledger("disburse", "G1", "--amount", "100000", "--voucher", "拨-1", "--date", "2024-04-10")
    assert again.exit_code == 5
    assert "reversed" in again.stderr and "new voucher" in again.stderr


def test_reversing_a_receipt_that_was_spent_is_refused_on_every_later_date(ledger: Ledger) -> None:
    _funded(ledger)
    spend = ["spend", "G1", "--amount", "60000", "--category", "equipment", "--voucher", "记-1"]
    ledger.ok(*spend, "--date", "2024-04-15")
    before = ledger.event_count()

    # dated before the spending: the subsidy would stand at -60,000.00 at the end of 2024-04-15
    early = ledger("reverse", "G1", "--voucher", "拨-1", "--reason", "错", "--date", "2024-04-12")
    late = ledger("reverse", "G1", "--voucher", "拨-1", "--reason", "错", "--date", "2024-04-20")

    for refused in (early, late):
        assert refused.exit_code == 3, refused.output
        assert "第十条" in refused.stderr and "ring-fence" in refused.stderr
        assert "taking back a receipt of 100,000.00 from the subsidy" in refused.stderr
        assert "Traceback" not in refused.output
    assert ledger.event_count() == before
    for day in ("2024-04-12", "2024-04-15", "2024-04-20"):
        assert Decimal(_balance(ledger, "--as-of", day)["subsidy_available"]) >= 0


def test_a_reversal_is_never_dated_before_the_act_it_reverses(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("match", "receive", "G1", "--amount", "50000", "--voucher", "配-1", "--date", "2024-04-20")
    early = ledger("reverse", "G1", "--voucher", "配-1", "--reason", "错", "--date", "2024-04-19")
    assert early.exit_code == 3
    assert "before the act" in early.stderr


def test_a_matching_commitment_and_receipt_are_reversed_and_the_1_to_1_report_follows(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "200000", "--voucher", "拨-1", "--date", "2024-04-10")
    ledger.ok(
        "match",
        "commit",
        "G1",
        "--amount",
        "200000",
        "--funder",
        "单位",
        "--voucher",
        "诺-1",
        "--date",
        "2024-04-10",
    )
    ledger.ok("match", "receive", "G1", "--amount", "200000", "--voucher", "配-1", "--date", "2024-04-11")
    ledger.ok("reverse", "G1", "--voucher", "诺-1", "--reason", "承诺书作废", "--date", "2024-04-12")
    ledger.ok("reverse", "G1", "--voucher", "配-1", "--reason", "到账退回", "--date", "2024-04-12")

    row = json.loads(ledger.ok("report", "matching", "--format", "json").stdout)[0]
    assert (row["committed"], row["received"]) == ("0.00", "0.00")
    b = _balance(ledger)
    assert (b["matching_committed"], b["matching_received"], b["matching_available"]) == (
        "0.00",
        "0.00",
        "0.00",
    )
    repeat = ledger("reverse", "G1", "--voucher", "配-1", "--reason", "到账退回", "--date", "2024-04-12")
    assert repeat.exit_code == 0 and "already" in repeat.output


def test_a_voucher_naming_two_acts_asks_which(ledger: Ledger) -> None:
    _funded(ledger)
    ledger.ok(
        "spend",
        "G1",
        "--amount",
        "1000",
        "--category",
        "equipment",
        "--voucher",
        "拨-1",
        "--date",
        "2024-04-11",
    )
    before = ledger.event_count()

    unclear = ledger("reverse", "G1", "--voucher", "拨-1", "--reason", "错", "--date", "2024-04-12")
    assert unclear.exit_code == 2
    assert "--kind" in unclear.stderr and ledger.event_count() == before

    ledger.ok(
        "reverse", "G1", "--voucher", "拨-1", "--kind", "spend", "--reason", "错", "--date", "2024-04-12"
    )
    assert _balance(ledger)["subsidy_available"] == "100000.00"
    missing = ledger("reverse", "G1", "--voucher", "无此凭证", "--reason", "错", "--date", "2024-04-12")
    assert missing.exit_code == 4


def test_the_auditor_replays_receipt_reversals_to_the_same_balances(ledger: Ledger, tmp_path: Path) -> None:
    _funded(ledger)
    ledger.ok("match", "receive", "G1", "--amount", "30000", "--voucher", "配-1", "--date", "2024-04-11")
    ledger.ok("reverse", "G1", "--voucher", "拨-1", "--reason", "错", "--date", "2024-04-12")
    ledger.ok("reverse", "G1", "--voucher", "配-1", "--reason", "错", "--date", "2024-04-12")
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(tmp_path / "bundle"), role="auditor")

    verified = ledger("audit", "verify", str(tmp_path / "bundle"), "--root", str(ledger.root), role="auditor")

    assert verified.exit_code == 0, verified.stdout + verified.stderr
    from audit.verifier.replay import Replay

    replay = Replay()
    with (tmp_path / "bundle" / "events.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            replay.feed(json.loads(line)["record"])
    totals = replay.by_grant()["G1"]
    assert (totals.held("subsidy"), totals.held("matching")) == (Decimal(0), Decimal(0))


def test_only_an_officer_reverses_and_never_on_a_closed_or_unknown_grant(ledger: Ledger) -> None:
    _funded(ledger)
    before = ledger.event_count()
    by_approver = ledger(
        "reverse", "G1", "--voucher", "拨-1", "--reason", "错", "--date", "2024-04-12", role="approver"
    )
    assert by_approver.exit_code == 3 and "officer" in by_approver.stderr
    unknown = ledger("reverse", "G404", "--voucher", "拨-1", "--reason", "错", "--date", "2024-04-12")
    assert unknown.exit_code == 4
    wrong_kind = ledger(
        "reverse",
        "G1",
        "--voucher",
        "拨-1",
        "--kind",
        "match_receive",
        "--reason",
        "错",
        "--date",
        "2024-04-12",
    )
    assert wrong_kind.exit_code == 4 and "matching receipt" in wrong_kind.stderr
    bad_kind = ledger("reverse", "G1", "--voucher", "拨-1", "--kind", "recover", "--reason", "错")
    assert bad_kind.exit_code == 2
    assert ledger.event_count() == before
    for result in (by_approver, unknown, wrong_kind, bad_kind):
        assert "Traceback" not in result.output


def test_export_and_import_carry_which_act_a_reversal_reverses(ledger: Ledger, tmp_path: Path) -> None:
    """One voucher a disbursement and an expenditure, the disbursement reversed: the export says
    which, so a fresh ledger importing it holds the same books (not a question of --kind)."""
    from click.testing import CliRunner

    _funded(ledger)
    ledger.ok("disburse", "G1", "--amount", "50000", "--voucher", "拨-2", "--date", "2024-04-10")
    ledger.ok(
        "spend",
        "G1",
        "--amount",
        "1000",
        "--category",
        "equipment",
        "--voucher",
        "拨-2",
        "--date",
        "2024-04-11",
    )
    ledger.ok(
        "reverse", "G1", "--voucher", "拨-2", "--kind", "disburse", "--reason", "错", "--date", "2024-04-12"
    )
    path = tmp_path / "books.csv"
    ledger.ok("export", "--format", "csv", "--output", str(path))

    fresh = Ledger(f"sqlite:///{tmp_path / 'fresh.db'}", CliRunner())
    fresh.import_ok(path)

    money = [k for k in ledger.balances()["B0001"] if k.startswith(("subsidy_", "matching_"))]
    assert {k: fresh.balances()["B0001"][k] for k in money} == {
        k: ledger.balances()["B0001"][k] for k in money
    }
    assert ledger.balances()["B0001"]["subsidy_available"] == "99000.00"
