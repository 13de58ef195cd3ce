"""Exports: csv/xlsx round trips through import, beancount passes bean-check and balances to the fen."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import Ledger
from tests.signing import save_sealed

MONEY = (
    "subsidy_approved",
    "subsidy_received",
    "subsidy_spent",
    "subsidy_available",
    "matching_committed",
    "matching_received",
    "matching_spent",
    "matching_available",
)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_into_an_empty_ledger_gives_the_same_balances(
    demo_ledger: Ledger, tmp_path: Path, fmt: str
) -> None:
    ledger = demo_ledger
    path = tmp_path / f"books.{fmt}"
    ledger.ok("export", "--format", fmt, "--output", str(path))
    other = Ledger(f"sqlite:///{tmp_path / 'other.db'}", CliRunner())
    other.import_ok(path)
    assert other.balances() == ledger.balances()
    assert all("already recorded" in run.stdout for run in other.import_ok(path))


def test_csv_export_to_stdout_has_the_import_header(demo_ledger: Ledger) -> None:
    from ledger.importing import HEADER

    ledger = demo_ledger
    out = ledger.ok("export", "--format", "csv").stdout
    # the optional columns last
    assert out.splitlines()[0] == ",".join((*HEADER, "district", "tier", "track", "applied", "project"))
    assert ",approve," in out and ",reverse," in out


def _beanquery_totals(path: Path) -> dict[str, Decimal]:
    import beanquery

    conn = beanquery.connect(f"beancount:{path}")
    cursor = conn.execute("SELECT account, sum(number) AS total GROUP BY account ORDER BY account")
    return {str(account): Decimal(total) for account, total in cursor.fetchall()}


def test_beancount_export_passes_bean_check_and_balances_to_the_fen(
    demo_ledger: Ledger, tmp_path: Path
) -> None:
    ledger = demo_ledger
    path = tmp_path / "books.beancount"
    ledger.ok("export", "--format", "beancount", "--output", str(path))
    check = shutil.which("bean-check") or str(Path(sys.executable).with_name("bean-check"))
    done = subprocess.run([check, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    totals = _beanquery_totals(path)
    balances = json.loads(ledger.ok("balance", "--format", "json").stdout)
    assert balances
    for b in balances:
        base = b["base_id"]
        for source in ("subsidy", "matching"):
            cap = source.capitalize()
            assert totals.get(f"Assets:{base}:{cap}", Decimal(0)) == Decimal(b[f"{source}_available"])
            spent = sum(
                (v for a, v in totals.items() if a.startswith(f"Expenses:{base}:") and f":{cap}:" in a),
                Decimal(0),
            )
            assert spent == Decimal(b[f"{source}_spent"])
        assert -totals.get(f"Income:{base}:Subsidy", Decimal(0)) == Decimal(b["subsidy_received"])
        assert -totals.get(f"Equity:{base}:Matching", Decimal(0)) == Decimal(b["matching_received"])


def test_hledger_journal(demo_sqlite_ledger: Ledger) -> None:
    sqlite_ledger = demo_sqlite_ledger
    text = sqlite_ledger.ok("export", "--format", "hledger").stdout
    assert "account Assets:B0001:Subsidy" in text
    assert "Expenses:B0001:TrainingSystem:Subsidy:Equipment" in text  # content, source, category
    # every transaction balances
    total = Decimal(0)
    for line in text.splitlines():
        if line.startswith("  ") and line.rstrip().endswith(" CNY"):
            total += Decimal(line.split()[-2])
    assert total == 0


def test_xlsx_export_needs_output(sqlite_ledger: Ledger) -> None:
    result = sqlite_ledger("export", "--format", "xlsx")
    assert result.exit_code == 2 and "--output" in result.stderr


def test_a_control_character_recorded_earlier_is_one_sentence_for_xlsx_and_nothing_written(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """Recorded before the actions refused them (here by the aggregate itself, as an older
    version did): a workbook cannot hold it, so xlsx says so and writes nothing; csv carries it."""
    from datetime import date

    from ledger.application import GrantLedger
    from ledger.policy import policy_in_force
    from tests.conftest import approved_district_grant

    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    app = GrantLedger(sqlite_ledger.url)
    try:
        grant = app.get_grant("G1")
        grant.spend(
            amount=Decimal("100"), category="equipment", source="subsidy", content="", project="",
            voucher="S1", payee="供应\x01商", memo="", attachments=[], on=date(2024, 5, 10),
            actor="tester", role="officer", policy=policy_in_force(date(2024, 5, 10)),
        )  # fmt: skip
        save_sealed(app, sqlite_ledger, grant)
    finally:
        app.close()
    out = tmp_path / "books.xlsx"
    result = sqlite_ledger("export", "--format", "xlsx", "--output", str(out))
    assert result.exit_code == 2
    assert "holds a control character, which a workbook cannot store; write --format csv" in result.stderr
    assert not out.exists()
    csv_text = sqlite_ledger.ok("export", "--format", "csv").stdout
    assert "供应\x01商" in csv_text


@pytest.mark.parametrize("character", ["\ufffe", "\uffff"])
def test_a_noncharacter_the_ledger_holds_is_one_sentence_for_xlsx_and_nothing_written(
    sqlite_ledger: Ledger, tmp_path: Path, character: str
) -> None:
    """U+FFFE and U+FFFF pass the text rule (they are no control characters) but XML has no room
    for them: lxml refuses them as openpyxl writes the row (an internal error, exit 1, before),
    and openpyxl's own writer wrote a workbook that would not open. The csv keeps them."""
    from tests.conftest import approved_district_grant

    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    payee = f"供应{character}商"
    sqlite_ledger.ok(
        "spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
        "--voucher", "S1", "--payee", payee, "--date", "2024-05-10",
    )  # fmt: skip
    out = tmp_path / "books.xlsx"
    result = sqlite_ledger("export", "--format", "xlsx", "--output", str(out))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "holds U+FFFE or U+FFFF, which a workbook cannot store" in lines[0], lines
    assert "write --format csv instead (nothing was written)" in lines[0]
    assert not out.exists()
    assert payee in sqlite_ledger.ok("export", "--format", "csv").stdout
