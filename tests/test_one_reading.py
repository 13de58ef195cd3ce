"""Recoveries, disposals and reversals read alike by every report: balance, sources, history,
the journals and the audit bundle's workbook say the same available money per fund source."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.bundle_book import bundle_balances
from tests.conftest import Ledger, approved_district_grant


def _books(ledger: Ledger) -> None:
    """100,000 subsidy received, 30,000 spent, 2,000 of it reversed, 5,000 recovered on order,
    10,000 returned; 80,000 matching received, 20,000 spent, 8,000 carried forward."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "拨-1", "--date", "2024-04-15")
    ledger.ok("match", "receive", "G1", "--amount", "8万", "--voucher", "收-1", "--date", "2024-04-17")
    for voucher, amount, source in (
        ("A", "30000", "subsidy"),
        ("B", "2000", "subsidy"),
        ("C", "20000", "matching"),
    ):
        ledger.ok(
            "spend",
            "G1",
            *("--amount", amount, "--category", "equipment", "--source", source),
            *("--voucher", voucher, "--date", "2024-05-01"),
        )
    ledger.ok("reverse", "G1", "--voucher", "B", "--reason", "录入错误", "--date", "2024-05-02")
    ledger.ok(
        "recover",
        "order",
        "G1",
        *("--amount", "5000", "--reason", "凭证不全", "--document", "追-1", "--date", "2025-04-01"),
        role="approver",
    )
    ledger.ok("recover", "receive", "G1", "--amount", "5000", "--voucher", "回-1", "--date", "2025-04-02")


def _dispose(ledger: Ledger) -> None:
    ledger.ok(
        "dispose",
        "G1",
        *("--source", "subsidy", "--amount", "10000", "--how", "returned", "--approval", "批-1"),
        *("--date", "2025-04-03"),
    )
    ledger.ok(
        "dispose",
        "G1",
        *("--source", "matching", "--amount", "8000", "--how", "carried_forward", "--approval", "批-2"),
        *("--date", "2025-04-03"),
    )


def _sources(ledger: Ledger) -> dict[str, str]:
    rows = json.loads(ledger.ok("report", "sources", "--format", "json").stdout)
    return {r["source"]: r["available"] for r in rows}


def _history_last(ledger: Ledger) -> tuple[str, str]:
    rows = json.loads(ledger.ok("history", "G1", "--format", "json").stdout)
    return rows[-1]["subsidy_balance"], rows[-1]["matching_balance"]


def test_a_recovery_leaves_the_same_available_subsidy_in_every_report(sqlite_ledger: Ledger) -> None:
    _books(sqlite_ledger)
    b = sqlite_ledger.balances()["B0001"]
    assert (b["subsidy_available"], b["matching_available"]) == ("65000.00", "60000.00")
    assert _sources(sqlite_ledger) == {"subsidy": "65000.00", "matching": "60000.00"}
    assert _history_last(sqlite_ledger) == ("65000.00", "60000.00")


def test_a_disposal_moves_every_report_and_the_running_balance(sqlite_ledger: Ledger) -> None:
    _books(sqlite_ledger)
    _dispose(sqlite_ledger)
    b = sqlite_ledger.balances()["B0001"]
    assert (b["subsidy_available"], b["matching_available"]) == ("55000.00", "52000.00")
    assert _sources(sqlite_ledger) == {"subsidy": "55000.00", "matching": "52000.00"}
    rows = json.loads(sqlite_ledger.ok("history", "G1", "--format", "json").stdout)
    assert [(r["kind"], r["subsidy_balance"], r["matching_balance"]) for r in rows[-3:]] == [
        ("recover", "65000.00", "60000.00"),
        ("dispose_returned", "55000.00", "60000.00"),
        ("dispose_carried_forward", "55000.00", "52000.00"),
    ]


def test_the_journal_holds_what_the_balance_says(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    _books(sqlite_ledger)
    _dispose(sqlite_ledger)
    out = tmp_path / "books.beancount"
    sqlite_ledger.ok("export", "--format", "beancount", "-o", str(out))
    held: dict[str, Decimal] = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith("Assets:") and parts[2] == "CNY":
            held[parts[0]] = held.get(parts[0], Decimal(0)) + Decimal(parts[1])
    assert held == {"Assets:B0001:Subsidy": Decimal("55000.00"), "Assets:B0001:Matching": Decimal("52000.00")}


def test_the_bundle_workbook_balances_equal_the_balance_report(sqlite_ledger: Ledger, tmp_path: Path) -> None:

    _books(sqlite_ledger)
    _dispose(sqlite_ledger)
    sqlite_ledger.ok("audit", "checkpoint", role="approver")  # signed with tester.approver's key
    sqlite_ledger.ok("audit", "export", str(tmp_path / "bundle"))
    row = bundle_balances(tmp_path / "bundle")[0]
    b = sqlite_ledger.balances()["B0001"]
    for column in ("subsidy_available", "matching_available", "subsidy_spent", "subsidy_recovered"):
        assert Decimal(str(row[column])).quantize(Decimal("0.01")) == Decimal(b[column]), column
    assert (
        sqlite_ledger(
            "audit", "verify", str(tmp_path / "bundle"), "--root", str(sqlite_ledger.root)
        ).exit_code
        == 0
    )


def test_the_reversal_kinds_are_every_reversal_the_readings_name() -> None:
    """``measures.REVERSAL_KINDS`` (what a grant's page seeks its reversals by) is every kind the
    stored readings give a reversal: a reading added later fails here until it is listed."""
    from projections.measures import READINGS, REVERSAL_KINDS

    fields = {"amount": {"_type_": "decimal_str", "_data_": "1.00"}, "source": "subsidy", "voucher": "V",
              "category": "equipment", "content": "patterns", "document": "D", "approval": "A",
              "how": "returned"}  # fmt: skip
    kinds = {read(fields).kind for read in READINGS.values()}
    assert {k for k in kinds if k.startswith("reverse")} == set(REVERSAL_KINDS)


def test_a_record_is_read_once_for_the_movements_and_the_history(
    sqlite_ledger: Ledger, monkeypatch: Any
) -> None:
    """A rebuild applies each batch to the balances and to the acts: each money event's reading
    (``projections.measures.effect``) is made once and shared, and the rows are the live ones."""
    from commands.registry import all_projections
    from ledger.application import GrantLedger
    from projections import records
    from projections.measures import READINGS
    from projections.rebuild import rebuild_all
    from tests.test_projection_speedpaths import all_rows

    _books(sqlite_ledger)
    live = all_rows(sqlite_ledger.url)
    read: list[str] = []
    real = records.effect

    def counted(topic: str, data: Any) -> Any:
        read.append(topic)
        return real(topic, data)

    monkeypatch.setattr(records, "effect", counted)
    app = GrantLedger(sqlite_ledger.url)
    try:
        rebuild_all(app, all_projections(), worker=False)
    finally:
        app.close()
    money = [t for t in read if t in READINGS]
    movements = live["balance_movements"]
    assert money and len(money) == len(movements)  # one reading per money event, not one per projection
    assert all_rows(sqlite_ledger.url) == live
