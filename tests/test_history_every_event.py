"""``history GRANT`` is every event of the grant, with who recorded each (issue 16 item 17): an
auditor follows the approval chain — application, review, notice, approval — and the budget,
money, outputs and their corrections, evaluations, rectifications, dossier, recoveries, disposals
and closure, each with its actor and role."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Ledger, approved_district_grant


def _history(ledger: Ledger, *extra: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = json.loads(ledger.ok("history", "G1", "--format", "json", *extra).stdout)
    return rows


def _whole_life(ledger: Ledger, tmp_path: Path) -> None:
    approved_district_grant(ledger)  # applied 2024-03-01, reviewed 03-08, noticed, approved 04-01
    ledger.ok("grant", "budget", "G1", "--line", "training_system:地方财政:20万", "--date", "2024-04-02")
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    spend = ["spend", "G1", "--amount", "18万", "--category", "equipment", "--content", "training_system"]
    ledger.ok(*spend, "--voucher", "S1", "--date", "2024-05-01")
    ledger.ok(
        "output",
        "report",
        "G1",
        "--year",
        "2024",
        "--trainees",
        "850",
        "--advanced",
        "200",
        "--date",
        "2025-01-05",
    )
    ledger.ok(
        "output",
        "report",
        "G1",
        "--corrects",
        "2024",
        "--trainees",
        "860",
        "--advanced",
        "200",
        "--date",
        "2025-01-08",
    )
    ledger.ok(
        "evaluate", "G1", "--kind", "mid_term", "--result", "rectify", "--date", "2025-04-01", role="approver"
    )
    ledger.ok(
        "rectify", "order", "G1", "--ref", "R1", "--finding", "凭证不全", "--deadline", "2025-06-30",
        "--date", "2025-04-01", role="approver",
    )  # fmt: skip
    ledger.ok("rectify", "complete", "G1", "--ref", "R1", "--date", "2025-06-01")
    doc = tmp_path / "summary.pdf"
    doc.write_bytes(b"%PDF summary")
    ledger.ok(
        "dossier",
        "add",
        "G1",
        "--kind",
        "summary",
        "--title",
        "建设总结",
        "--file",
        str(doc),
        "--date",
        "2025-06-02",
    )
    ledger.ok(
        "recover", "order", "G1", "--amount", "5000", "--reason", "凭证不全", "--document", "追1",
        "--date", "2025-04-01", role="approver",
    )  # fmt: skip
    ledger.ok("recover", "receive", "G1", "--amount", "5000", "--voucher", "R-1", "--date", "2025-05-01")
    ledger.ok(
        "evaluate", "G1", "--kind", "final", "--result", "pass", "--date", "2026-04-01", role="approver"
    )
    ledger.ok(
        "dispose", "G1", "--source", "subsidy", "--amount", "15000", "--how", "returned",
        "--approval", "批-1", "--date", "2026-04-10",
    )  # fmt: skip
    ledger.ok("grant", "close", "G1", "--document", "结-1", "--date", "2026-04-15", role="approver")


def test_history_shows_every_event_with_who_recorded_it(ledger: Ledger, tmp_path: Path) -> None:
    _whole_life(ledger, tmp_path)
    rows = _history(ledger)

    kinds = [r["kind"] for r in rows]
    for kind in (
        "apply", "review", "notice", "approve", "budget", "disburse", "spend", "output",
        "output_correct", "evaluate", "rectify_order", "rectify_complete", "dossier",
        "recover_order", "recover", "dispose_returned", "close",
    ):  # fmt: skip
        assert kind in kinds, (kind, kinds)
    # one row per stored event of the grant (its seals are the registry's, not the grant's)
    assert len(rows) == len(set(kinds)) + kinds.count("evaluate") - 1
    by_kind = {r["kind"]: r for r in rows}
    for kind in (
        "apply", "disburse", "spend", "output", "rectify_complete", "dossier", "recover", "dispose_returned",
    ):  # fmt: skip
        assert (by_kind[kind]["actor"], by_kind[kind]["role"]) == ("tester", "officer"), kind
    for kind in ("review", "notice", "approve", "evaluate", "rectify_order", "recover_order", "close"):
        assert (by_kind[kind]["actor"], by_kind[kind]["role"]) == ("tester.approver", "approver"), kind
    assert "860 trained" in by_kind["output_correct"]["detail"]
    assert "corrects the 2024 report" in by_kind["output_correct"]["detail"]
    assert "panel 5" in by_kind["review"]["detail"]
    assert "R1" in by_kind["rectify_order"]["detail"] and "结-1" in by_kind["close"]["detail"]
    assert (rows[-1]["subsidy_balance"], rows[-1]["matching_balance"]) == ("0.00", "0.00")


def test_history_as_of_a_date_stops_at_that_date(ledger: Ledger, tmp_path: Path) -> None:
    _whole_life(ledger, tmp_path)
    rows = _history(ledger, "--as-of", "2025-01-06")
    kinds = [r["kind"] for r in rows]
    assert "output" in kinds and "output_correct" not in kinds and "close" not in kinds
    assert all(r["occurred_on"] <= "2025-01-06" for r in rows)


def _as_the_release_before_wrote_it(url: str) -> None:
    """What the release before the spends left the acts wrote: a row per spend there too, no role
    on the movements, and the positions under those versions' keys."""
    from sqlalchemy import create_engine, text

    from projections import names

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO history_acts SELECT m.notification_id, g.aggregate_id, m.occurred_on, "
                "m.recorded_at, m.kind, m.actor, m.role, '', '' FROM balance_movements m "
                "JOIN balance_grants g ON g.grant_id = m.grant_id WHERE m.kind = 'spend'"
            )
        )
        conn.execute(text("ALTER TABLE balance_movements DROP COLUMN role"))
        for name in (names.BALANCES, names.ACTS):
            conn.execute(
                text("UPDATE ledger_tracking SET application_name = :old WHERE application_name = :now"),
                {"old": name, "now": names.tracked(name)},
            )
    engine.dispose()


def test_a_ledger_the_release_before_projected_shows_each_spend_once_with_its_role(
    ledger: Ledger, tmp_path: Path
) -> None:
    """A spend's history line is its movement (the acts keep no row for it): a ledger whose acts
    an earlier release wrote, a row per spend, is rebuilt by the first command, and the movements
    get the role column they lacked; every spend is then shown once, with who recorded it."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    spend = ["spend", "G1", "--category", "equipment", "--source", "subsidy"]
    for n in range(1, 4):
        ledger.ok(*spend, "--amount", f"{n}000", "--voucher", f"S{n}", "--date", f"2024-05-0{n}")
    before = _history(ledger)
    _as_the_release_before_wrote_it(ledger.url)

    shown = ledger.ok("history", "G1", "--format", "json")
    assert "the acts read model was written by another version" in shown.stderr
    assert "the balances read model was written by another version" in shown.stderr
    rows = json.loads(shown.stdout)
    assert rows == before
    spends = [r for r in rows if r["kind"] == "spend"]
    assert [r["voucher"] for r in spends] == ["S1", "S2", "S3"]
    assert {(r["actor"], r["role"]) for r in spends} == {("tester", "officer")}
    assert rows[-1]["subsidy_balance"] == "194000.00"
    ledger.ok(*spend, "--amount", "500", "--voucher", "S4", "--date", "2024-05-04")
    assert [r["role"] for r in _history(ledger) if r["kind"] == "spend"] == ["officer"] * 4
    assert "all read models agree" in ledger.ok("projections", "verify").stdout


def test_a_receipt_s_reversal_is_named_in_the_language_of_the_history(ledger: Ledger) -> None:
    """`history` under zh showed a receipt's reversal by its code, reverse_match_receive (a red-team
    pass); each reversal of a receipt is named as the reports name it."""
    from commands.cli import cli

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(
        "match",
        "commit",
        "G1",
        "--amount",
        "5万",
        "--funder",
        "某企业",
        "--voucher",
        "C1",
        "--date",
        "2024-04-11",
    )
    ledger.ok("match", "receive", "G1", "--amount", "1万", "--voucher", "M1", "--date", "2024-04-12")
    ledger.ok(
        "reverse",
        "G1",
        "--voucher",
        "M1",
        "--kind",
        "match_receive",
        "--reason",
        "退回",
        "--date",
        "2024-04-13",
    )
    ledger.ok(
        "reverse", "G1", "--voucher", "T1", "--kind", "disburse", "--reason", "错拨", "--date", "2024-04-14"
    )
    shown = ledger.runner.invoke(cli, ["--db", ledger.url, "--lang", "zh", "history", "G1"]).stdout
    assert "到位冲销" in shown and "拨款冲回" in shown, shown
    assert "reverse_" not in shown, shown
