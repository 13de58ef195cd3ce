"""On PostgreSQL the values rewritten whole at each write on a grant (its snapshot, about a
megabyte for a grant of a few thousand events, and its compliance facts, tens of kilobytes) are
compressed by lz4, not the default pglz, which costs PostgreSQL several times more to write. A
ledger made by `init` has its columns so, and what is stored reads back the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import Ledger, approved_district_grant, pg_unavailable

pytestmark = pytest.mark.skipif(pg_unavailable() is not None, reason=pg_unavailable() or "")

_METHODS = "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
_COLUMNS = (
    "SELECT c.relname || '.' || a.attname, a.attcompression FROM pg_attribute a "
    "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = current_schema()::regnamespace "
    "AND (c.relname, a.attname) IN (('ledger_snapshots', 'state'), ('compliance_facts', 'facts'))"
)


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.mark.slow
def test_the_large_columns_are_compressed_by_lz4(ledger: Ledger, tmp_path: Path) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    for n in range(60):  # past a snapshot (every 50 versions)
        ledger.ok("spend", "G1", "--amount", "1.01", "--category", "materials", "--voucher", f"Z-{n}",
                  "--date", "2024-06-01")  # fmt: skip
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            methods = conn.execute(text(_METHODS)).scalar()
            if "lz4" not in (methods or []):
                pytest.skip("this PostgreSQL was built without lz4: pglz is all it has")
            assert dict(conn.execute(text(_COLUMNS)).all()) == {
                "ledger_snapshots.state": "l",
                "compliance_facts.facts": "l",
            }
            assert conn.execute(text("SELECT count(*) FROM ledger_snapshots")).scalar() > 0
    finally:
        engine.dispose()
    shown = ledger.ok("balance", "B0001", "--format", "json")
    assert shown.exit_code == 0
    assert "99939.40" in shown.stdout  # 10万 less 60 spends of 1.01
