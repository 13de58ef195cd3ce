"""After a large import on PostgreSQL the tables it grew are analyzed at once: a web server
started right after a million-event import planned its per-write statements on the statistics of
before the load and recorded 95 writes/s, 207/s after ANALYZE."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import Ledger, approved_district_grant, pg_unavailable
from tests.importdata import HEADER

pytestmark = pytest.mark.skipif(pg_unavailable() is not None, reason=pg_unavailable() or "")

_ANALYZED = (
    "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
    "AND last_analyze IS NOT NULL AND relname IN ('ledger_events', 'balance_movements', 'audit_leaves')"
)


@pytest.fixture
def backend() -> str:
    return "postgresql"


def _import(ledger: Ledger, tmp_path: Path, spends: int) -> None:
    spend = "2024-06-01,U1,B0001,G1,district_base,spend,1.00,subsidy,materials,,V-{},,"
    rows = [HEADER, *(spend.format(n) for n in range(spends))]
    (tmp_path / "spends.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    ledger.ok("import", str(tmp_path / "spends.csv"))


def _analyzed(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            return set(conn.execute(text(_ANALYZED)).scalars())
    finally:
        engine.dispose()


def test_a_large_import_leaves_its_tables_analyzed(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import commands.importer

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    monkeypatch.setattr(commands.importer, "ANALYZE_AFTER", 100)
    _import(ledger, tmp_path, 50)  # below it: left to autovacuum
    assert _analyzed(ledger.url) == set()
    _import(ledger, tmp_path, 150)  # the first 50 already recorded, 100 new
    assert _analyzed(ledger.url) == {"ledger_events", "balance_movements", "audit_leaves"}
    assert "99850.00" in ledger.ok("balance", "B0001", "--format", "json").stdout
