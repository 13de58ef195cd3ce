"""The README's PostgreSQL roles, followed in order on a fresh database: the SQL block is read
from the README itself and run as written (role and database names made unique, passwords
filled in), then `init` by the owner, records by the writer, and reads by the auditor, who can
verify but change nothing."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from tests.conftest import PG_URL, Ledger, approved_district_grant, pg_unavailable
from tests.test_audit_trail import _money

README = Path(__file__).resolve().parents[1] / "README.md"
ROLES = ("ledger_owner", "ledger_writer", "ledger_auditor")


def recipe() -> str:
    """The SQL block of the README's "Roles on PostgreSQL"."""
    section = README.read_text(encoding="utf-8").split("**Roles on PostgreSQL.**", 1)[1]
    found = re.search(r"```sql\n(.*?)```", section, re.S)
    assert found is not None, "the README's PostgreSQL roles have an SQL block"
    return found.group(1)


@pytest.fixture
def cluster() -> Iterator[dict[str, str]]:
    """The recipe run on a new database; the URLs of its three logins. Dropped afterwards."""
    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:8]
    names = {role: f"{role}_{tag}" for role in ROLES}
    database = f"ledger_{tag}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    base = make_url(PG_URL)
    statements = recipe()
    for role, name in names.items():
        statements = statements.replace(role, name)
    statements = statements.replace("'…'", "'pw'").replace("DATABASE ledger ", f"DATABASE {database} ")
    before, _, after = statements.partition("\\c ledger\n")
    inside = create_engine(base.set(database=database), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in _split(before):
                conn.execute(text(statement))
                if statement.startswith(f"CREATE ROLE {names['ledger_owner']} "):
                    # the test's login is not a superuser: it acts for the owner as a member
                    conn.execute(text(f"GRANT {names['ledger_owner']} TO CURRENT_USER"))
        with inside.connect() as conn:
            for statement in _split(after):
                conn.execute(text(statement))
        inside.dispose()
        yield {
            role: base.set(database=database, username=name, password="pw").render_as_string(
                hide_password=False
            )
            for role, name in names.items()
        }
    finally:
        inside.dispose()
        _drop(admin, [f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"])
        _drop(admin, [f"DROP ROLE IF EXISTS {name}" for name in names.values()])
        admin.dispose()


def _drop(admin: Engine, statements: list[str], attempts: int = 5) -> None:
    """Clean up, retried: a session of the test's own commands may still be closing."""
    for n in range(attempts):
        try:
            with admin.connect() as conn:
                for statement in statements:
                    conn.execute(text(statement))
            return
        except Exception:
            if n == attempts - 1:
                raise
            time.sleep(0.5)


def _split(block: str) -> list[str]:
    return [s.strip() for s in block.split(";") if s.strip()]


def refused_raw(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        with (
            pytest.raises(Exception, match=r"permission denied|append-only|must be owner"),
            engine.begin() as conn,
        ):
            conn.execute(text(statement))
    finally:
        engine.dispose()


def test_the_readme_roles_followed_in_order_each_do_their_job(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner()
    owner = Ledger(cluster["ledger_owner"], runner, create=False)
    writer = Ledger(cluster["ledger_writer"], runner, create=False)
    auditor = Ledger(cluster["ledger_auditor"], runner, create=False)

    result = writer("balance")
    assert result.exit_code == 4, "before init there is no ledger"
    owner.ok("init")
    approved_district_grant(writer)
    _money(writer)
    balances = writer.balances("B0001")["B0001"]
    writer.ok("keys", "generate", "--dir", str(tmp_path / "keys"))
    writer.ok("audit", "checkpoint", "--key", str(tmp_path / "keys" / "ledger.key"), role="approver")

    # the auditor reads and verifies
    assert auditor.balances("B0001")["B0001"] == balances
    assert "all read models agree" in auditor.ok("projections", "verify", role="auditor").stdout
    auditor.ok("audit", "export", str(tmp_path / "bundle"), role="auditor")
    assert (tmp_path / "bundle" / "events.jsonl").is_file()

    # ... and changes nothing, through the command line or below it
    before = writer.event_count()
    spend = auditor(
        "spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
        "--voucher", "AUD-1", "--date", "2024-06-02",
    )  # fmt: skip
    assert spend.exit_code == 5, (spend.stdout, spend.stderr)
    assert "permission denied" in spend.stderr or "cannot be written" in spend.stderr
    for statement in (
        "INSERT INTO ledger_meta (key, value) VALUES ('x', 'y')",
        "UPDATE balance_grants SET subsidy_spent = 0",
        "DELETE FROM balance_movements",
        "UPDATE ledger_events SET topic = 'x'",
        "TRUNCATE audit_leaves",
    ):
        refused_raw(cluster["ledger_auditor"], statement)
    # the writer cannot rewrite history nor remove the guards
    for statement in (
        "UPDATE ledger_events SET topic = 'x'",
        "DELETE FROM ledger_events",
        "TRUNCATE ledger_snapshots",
        "TRUNCATE ledger_events",
        "ALTER TABLE ledger_events DISABLE TRIGGER ALL",
        "DROP TABLE ledger_events",
    ):
        refused_raw(cluster["ledger_writer"], statement)
    assert writer.event_count() == before
    assert auditor.balances("B0001")["B0001"] == balances
