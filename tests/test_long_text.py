"""What people type may be long: every value the store accepts fits the read models.

PostgreSQL enforces a VARCHAR's length where SQLite does not. A spend whose budget line (--content)
was longer than 64 characters was recorded, and then every later command on that PostgreSQL
ledger failed as an internal error: the projections could not write the row. The read models'
typed-in columns are TEXT now, and older PostgreSQL tables are widened when a command opens them.
A construction content is now one of 表4-2's (tests/test_construction_content.py); a long one
kept as typed by an earlier version is still in stores, and is planted here as it was written.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from commands.cli import cli
from tests.conftest import Ledger, approved_district_grant, pg_unavailable
from tests.test_one_rulebook import plant_spend

LONG_CONTENT = "实训基地改造及配套设施建设" * 10  # 130 characters
LONG_VOUCHER = "记-2024-05-" + "0" * 117  # 128 characters, the command line's limit
LONG_ACTOR = "财务科" + "x" * 61  # 64 characters, the longest name a person is registered under
HEADER = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"


def test_long_budget_lines_vouchers_and_actors_keep_every_command_working(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    result = ledger.runner.invoke(
        cli,
        ["--db", ledger.url, "--key", str(ledger.key("officer", LONG_ACTOR)), "--actor", LONG_ACTOR,
         "--lang", "en", "spend", "G1", "--amount", "3500",
         "--category", "equipment", "--source", "subsidy", "--voucher", LONG_VOUCHER,
         "--content", "training_system", "--date", "2024-05-10"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    plant_spend(ledger, "S0", "100.00", LONG_CONTENT, date(2024, 5, 10))
    ledger.ok("rectify", "order", "G1", "--ref", "R" * 128, "--finding", "整改",
              "--deadline", "2024-09-30", "--date", "2024-06-30", role="approver")  # fmt: skip
    assert ledger.balances("B0001")["B0001"]["subsidy_spent"] == "3600.00"
    ledger.ok("report", "findings")
    ledger.ok("report", "categories")
    ledger.ok("spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
              "--voucher", "S2", "--date", "2024-05-11")  # fmt: skip
    assert ledger.balances("B0001")["B0001"]["subsidy_spent"] == "3700.00"


def test_an_import_with_long_ids_and_vouchers_is_projected(ledger: Ledger, tmp_path: Path) -> None:
    """Ids and vouchers as long as the actions take them (64 and 128 characters) go through the
    import to the read models."""
    grant, base, unit = "G" * 64, "B" * 64, "U" * 64
    approvals = tmp_path / "approvals.csv"
    approvals.write_text(
        f"{HEADER}\n"
        f"2024-04-01,{unit},{base},{grant},district_base,approve,200000,,,,渝人社〔2024〕9号,,2024-04-01..2026-03-31\n",
        encoding="utf-8",
    )
    ledger.ok("import", str(approvals), role="approver")
    rows = [
        HEADER,
        f"2024-04-10,,,{grant},,disburse,120000,,,,{'T' * 128},,1",
        f"2024-05-10,,{base},{grant},,spend,1234.56,subsidy,equipment,training_system,{'S' * 128},某公司,",
    ]
    path = tmp_path / "books.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ledger.ok("import", str(path))
    row = ledger.balances(base)[base]
    assert (row["grant_id"], row["subsidy_received"], row["subsidy_spent"]) == (grant, "120000.00", "1234.56")


def test_a_postgresql_ledger_made_with_varchar_columns_is_widened_and_heals(tmp_path: Path) -> None:
    """Tables as an earlier version created them (VARCHAR(64) content), and a long budget line
    already in the store: the next command widens the columns and projects it."""
    if (reason := pg_unavailable()) is not None:
        pytest.skip(reason)
    from click.testing import CliRunner

    from tests.conftest import drop_pg_schema, fresh_pg_url

    url = fresh_pg_url()
    try:
        ledger = Ledger(url, CliRunner())
        approved_district_grant(ledger)
        ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE balance_movements ALTER COLUMN content TYPE varchar(64)"))
            conn.execute(text("ALTER TABLE balance_movements ALTER COLUMN voucher TYPE varchar(128)"))
            conn.execute(text("ALTER TABLE balance_grants ALTER COLUMN grant_id TYPE varchar(64)"))
        plant_spend(ledger, "S1", "3500.00", LONG_CONTENT, date(2024, 5, 10))  # the write side alone
        assert ledger.balances("B0001")["B0001"]["subsidy_spent"] == "3500.00"
        with engine.connect() as conn:
            kinds = dict(
                conn.execute(
                    text(
                        "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND table_name = 'balance_movements'"
                    )
                ).all()
            )
        engine.dispose()
        assert (kinds["content"], kinds["voucher"]) == ("text", "text")
    finally:
        drop_pg_schema(url)
