"""An import's own events are decided by their aggregates on every rule and are not judged a second
time by the compliance projection; what it keeps must then be exactly what a rebuild, which judges
every stored event, keeps. And events another writer stored are judged in full."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, select

from tests.conftest import Ledger, approved_district_grant
from tests.test_export_runs import _printed_imports
from tests.test_one_reading import _books, _dispose


def _compliance(url: str) -> dict[str, list[str]]:
    from projections.compliance import TABLES

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: sorted(repr(tuple(r)) for r in conn.execute(select(t))) for t in TABLES}
    finally:
        engine.dispose()


def test_an_import_keeps_the_compliance_facts_a_rebuild_judges(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    _books(sqlite_ledger)
    _dispose(sqlite_ledger)
    out = tmp_path / "runs"
    imports = _printed_imports(sqlite_ledger.ok("export", "--format", "csv", "--runs", str(out)).stdout)
    fresh = Ledger(f"sqlite:///{tmp_path / 'fresh.db'}", CliRunner())
    for role, path in imports:
        fresh.ok("import", path, role=role)
    live = _compliance(fresh.url)
    findings = fresh.ok("report", "findings", "--format", "json").stdout

    fresh.ok("projections", "rebuild", "compliance")

    assert _compliance(fresh.url) == live
    assert fresh.ok("report", "findings", "--format", "json").stdout == findings
    assert any(live.values())


def test_events_another_writer_stored_are_judged_when_an_import_catches_up(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A travel spend stored below the application (a copy of a real expenditure with its
    category changed) is judged when the next import projects it, not waved through as decided."""
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "120000", "--voucher", "T1", "--date", "2024-05-01")
    path = sqlite_ledger.url.removeprefix("sqlite:///")
    db = sqlite3.connect(path)
    (state,) = db.execute("SELECT state FROM ledger_events ORDER BY id DESC LIMIT 1").fetchone()
    forged = bytes(state).replace(b'"T1"', b'"T9"').replace(b'"120000.00"', b'"900000.00"')
    db.execute(  # INSERT is what append-only allows: the next writer is the first to see it
        "INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
        "SELECT originator_id, originator_version + 1, topic, ? FROM ledger_events ORDER BY id DESC LIMIT 1",
        (forged,),
    )
    db.commit()
    db.close()
    rows = tmp_path / "more.csv"
    rows.write_text(
        "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo\n"
        "2024-05-02,,,G1,,spend,100.00,subsidy,equipment,,S1,,\n",
        encoding="utf-8",
    )
    sqlite_ledger.ok("import", str(rows))
    findings = sqlite_ledger.ok("report", "findings", "--format", "json").stdout
    assert "tranches within approval" in findings and "disbursing 900,000.00" in findings, findings
