"""What keeps one write fast: opening a populated store runs no DDL, a money command reports from
the grant it saved, and start-up does not import the rules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from ledger.actions import Spend
from ledger.application import GrantLedger
from ledger.database import EVENTS_TABLE, schema_ready
from tests.reliability import funded_grant
from tests.signing import url_signer

DDL = ("CREATE", "DROP", "ALTER", "DO ", "PRAGMA MAIN.TABLE_INFO", "PRAGMA TEMP.TABLE_INFO")


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every statement any engine sends while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()).upper())

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _drop_guards(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(f"DROP TRIGGER {EVENTS_TABLE}_no_update"))
        else:
            conn.execute(text(f"DROP TRIGGER {EVENTS_TABLE}_append_only ON {EVENTS_TABLE}"))
    engine.dispose()


def test_opening_a_populated_store_runs_no_ddl(db_url: str) -> None:
    GrantLedger(db_url).close()  # creates the tables and guards
    with statements() as seen:
        app = GrantLedger(db_url)
        app.close()
    # no DDL, and no inspection of the catalogue table by table (PostgreSQL's has_table)
    assert [s for s in seen if s.startswith(DDL) or "PG_CATALOG.PG_CLASS" in s] == []
    assert len([s for s in seen if "SCHEMA_VERSION" in s]) == 1


def test_a_store_missing_a_guard_gets_it_back_when_opened(db_url: str) -> None:
    app = GrantLedger(db_url)
    assert schema_ready(app.engine)
    app.close()
    _drop_guards(db_url)
    engine = create_engine(db_url)
    assert not schema_ready(engine)
    engine.dispose()
    app = GrantLedger(db_url)  # sees the store incomplete: creates what is missing
    try:
        assert schema_ready(app.engine)
    finally:
        app.close()


def test_a_money_command_reports_the_grant_it_saved(db_url: str) -> None:
    funded_grant(db_url, "100000")
    app = GrantLedger(db_url)
    try:
        spend = Spend(
            grant_id="G1",
            amount=Decimal("1234.56"),
            category="equipment",
            source="subsidy",
            voucher="V-1",
            on=date(2024, 5, 10),
        )
        officer = url_signer(db_url)
        done = app.handle(spend, signer=officer)
        again = app.handle(spend, signer=officer)
        reloaded = app.get_grant("G1")
    finally:
        app.close()
    assert done.recorded and not again.recorded
    for outcome in (done, again):
        assert outcome.grant is not None
        assert outcome.grant.version == reloaded.version
        assert outcome.grant.available("subsidy") == reloaded.available("subsidy") == Decimal("98765.44")


def test_start_up_spells_out_the_rules_roles() -> None:
    from commands.cli import ROLES
    from ledger.rules import ROLES as RULES_ROLES

    assert ROLES == RULES_ROLES


def test_a_spend_on_a_populated_sqlite_ledger_inspects_no_table(sqlite_ledger: Any) -> None:
    """The projections' tables are looked for in one catalogue query, not one PRAGMA each."""
    from tests.conftest import approved_district_grant

    approved_district_grant(sqlite_ledger)
    disbursed = sqlite_ledger(
        "disburse", "G1", "--amount", "50000", "--tranche", "1", "--voucher", "D-1", "--date", "2024-04-15"
    )
    assert disbursed.exit_code == 0, disbursed.stderr
    with statements() as seen:
        spent = sqlite_ledger(
            "spend",
            "G1",
            "--amount",
            "10",
            "--category",
            "equipment",
            "--source",
            "subsidy",
            "--voucher",
            "V-1",
            "--date",
            "2024-05-10",
        )
    assert spent.exit_code == 0, spent.stderr
    assert "recorded expenditure V-1" in spent.stdout
    assert [s for s in seen if s.startswith(DDL)] == []
    assert len([s for s in seen if "SQLITE_MASTER" in s]) <= 3


def test_a_spend_builds_neither_the_units_nor_the_other_acts(sqlite_ledger: Any) -> None:
    """A money command imports the grant's side alone: its own acts (ledger.money_actions), not
    the other acts, the units' aggregates, the bodies', the policy book's, nor the grant commands
    (each a few milliseconds of classes built)."""
    from tests.conftest import approved_district_grant
    from tests.loaded import loaded_by

    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "50000", "--voucher", "D-1", "--date", "2024-04-15")
    lazy = ["ledger.actions", "ledger.unit", "ledger.bodies", "ledger.policy_book", "commands.grant"]
    spend = ["spend", "G1", "--amount", "10", "--category", "equipment", "--voucher", "V-1"]
    key = str(sqlite_ledger.key("officer"))
    spent = loaded_by(
        ["--db", sqlite_ledger.url, "--key", key, "--lang", "en", *spend, "--date", "2024-05-10"], lazy
    )
    assert spent.code == 0, spent
    assert "recorded expenditure V-1" in spent.stdout
    assert spent.modules == dict.fromkeys(lazy, False)


def test_every_stored_topic_resolves_before_its_aggregate_is_imported() -> None:
    """A stored event of an aggregate whose module the process has not imported (a unit's, read by
    a command that imported only the grant's side) is decoded by its topic all the same
    (ledger.topics), as the class that topic was recorded for."""
    import importlib
    import subprocess
    import sys

    from ledger.topics import MODULES

    topics = {}
    for name, module in MODULES.items():
        aggregate = getattr(importlib.import_module(module), name)
        for cls in (aggregate, *(v for v in vars(aggregate).values() if isinstance(v, type))):
            # every class with a topic of its own but the events' base, which is never stored
            if "TOPIC" in vars(cls) and cls.__name__ != "Event":
                topics[cls.TOPIC] = f"{cls.__module__}:{cls.__qualname__}"
    assert {topic.split(":")[1].split(".")[0] for topic in topics} == set(MODULES)
    run = (
        "import sys\n"
        "import ledger.application\n"
        "from eventsourcing.utils import resolve_topic\n"
        "assert 'ledger.unit' not in sys.modules and 'ledger.people' not in sys.modules\n"
        "for topic in sys.argv[1:]:\n"
        "    found = resolve_topic(topic)\n"
        "    print(f'{found.__module__}:{found.__qualname__}')\n"
    )
    done = subprocess.run([sys.executable, "-c", run, *topics], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == list(topics.values())
