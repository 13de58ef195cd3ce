"""An import's own events are decided by their aggregates on every rule and are not judged a second
time by the compliance projection; what it keeps must then be exactly what a rebuild, which judges
every stored event, keeps. And events another writer stored are judged in full."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, select

from tests.conftest import Ledger, approved_district_grant
from tests.signing import save_sealed
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
    """A disbursement beyond the approval, stored by another registered officer's signed write
    below today's rules (as an earlier version allowed), is judged when the next import projects
    it, not waved through as decided."""
    from datetime import date
    from decimal import Decimal

    from ledger.application import GrantLedger
    from ledger.grant import Grant

    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "120000", "--voucher", "T1", "--date", "2024-05-01")
    app = GrantLedger(sqlite_ledger.url)
    try:
        grant = app.get_grant("G1")
        grant.trigger_event(
            Grant.SubsidyDisbursed, amount=Decimal("900000.00"), voucher="T9", tranche=2,
            actor="elsewhere", role="officer", occurred_on=date(2024, 5, 1),
        )  # fmt: skip
        save_sealed(app, sqlite_ledger, grant, actor="elsewhere")
    finally:
        app.close()
    rows = tmp_path / "more.csv"
    rows.write_text(
        "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo\n"
        "2024-05-02,,,G1,,spend,100.00,subsidy,equipment,,S1,,\n",
        encoding="utf-8",
    )
    sqlite_ledger.ok("import", str(rows))
    findings = sqlite_ledger.ok("report", "findings", "--format", "json").stdout
    assert "tranches within approval" in findings and "disbursing 900,000.00" in findings, findings
