"""The ring-fence's per-date balances survive the snapshots a grant is loaded from (one every 50
events), including a snapshot written by an earlier version, which kept no per-date balances."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from ledger.application import GrantLedger
from tests.conftest import Ledger, approved_district_grant
from tests.test_core_rules import refused

SPENDS = 50


def long_history(ledger: Ledger, tmp_path: Path) -> None:
    """G1 receives 10,000.00 on 2024-04-10, spends 50 × 100.00 from 2024-05-01 to 2024-05-25
    (5,000.00 left), and receives 100,000.00 more on 2024-07-01: 105,000.00 available in all,
    but never more than 5,000.00 from 2024-05-25 to 2024-06-30."""
    approved_district_grant(ledger)
    header = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"
    rows = [header, "2024-04-10,,B0001,G1,,disburse,10000,subsidy,,,T1,,1"]
    for n in range(SPENDS):
        on = date(2024, 5, 1) + timedelta(days=n // 2)
        rows.append(f"{on.isoformat()},,B0001,G1,,spend,100,subsidy,equipment,,S{n},,")
    rows.append("2024-07-01,,B0001,G1,,disburse,100000,subsidy,,,T2,,2")
    path = tmp_path / "history.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ledger.ok("import", str(path))
    assert ledger.balances("B0001")["B0001"]["subsidy_available"] == "105000.00"


def snapshot_versions(ledger: Ledger) -> list[int]:
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            # G1 is the one aggregate with more than 50 events
            rows = conn.execute(text("SELECT originator_version FROM ledger_snapshots"))
            return sorted(int(r[0]) for r in rows)
    finally:
        engine.dispose()


def back_dated_spends_judged_at_every_later_date(ledger: Ledger) -> None:
    spend = ["spend", "G1", "--category", "equipment"]
    message = refused(
        ledger, *spend, "--amount", "5000.01", "--voucher", "X1", "--date", "2024-04-15", clause="003 第十条"
    )
    assert "5,000.00" in message
    ledger.ok(*spend, "--amount", "5000", "--voucher", "X1", "--date", "2024-04-15")
    refused(
        ledger, *spend, "--amount", "0.01", "--voucher", "X2", "--date", "2024-06-30", clause="003 第十条"
    )
    ledger.ok(*spend, "--amount", "0.01", "--voucher", "X2", "--date", "2024-07-01")


def test_a_snapshot_keeps_the_balance_of_every_date(ledger: Ledger, tmp_path: Path) -> None:
    long_history(ledger, tmp_path)
    assert snapshot_versions(ledger), "the history is long enough to be loaded from a snapshot"
    back_dated_spends_judged_at_every_later_date(ledger)


def test_a_snapshot_of_an_earlier_version_still_loads_and_judges_every_date(
    ledger: Ledger, tmp_path: Path
) -> None:
    long_history(ledger, tmp_path)
    ledger.ok("match", "commit", "G1", "--amount", "20万", "--funder", "单位", "--voucher", "C1")
    app = GrantLedger(ledger.url)
    try:  # the latest snapshot as an earlier version wrote it: no per-date balances
        grant = app.get_grant("G1")
        taken = type(grant).Snapshot.take(grant)  # type: ignore[attr-defined]
        state = {k: v for k, v in taken.state.items() if k not in ("days", "last_day")}
        app.snapshots.put([dataclasses.replace(taken, state=state)])  # type: ignore[union-attr]
    finally:
        app.close()
    assert snapshot_versions(ledger)[-1] == grant.version
    back_dated_spends_judged_at_every_later_date(ledger)
    assert ledger.balances("B0001")["B0001"]["subsidy_available"] == "99999.99"
