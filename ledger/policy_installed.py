"""Whether a ledger holds installed policy files, asked without loading the policy book (its
aggregate, its action and the libraries they need: about a tenth of a second): every report
asks before it reads (``commands.context.Settings.load_installed_policy``), and most ledgers
hold none."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, uuid5

from ledger.policy import INSTALLED_CALENDAR, INSTALLED_VERSIONS

# one aggregate holds every installed file: read by its id (the store's index), never by a scan
BOOK_ID = uuid5(NAMESPACE_URL, "https://grant-ledger/policy-book")


def installed_count(engine: Any) -> int:
    """How many files were installed in the ledger (0 also when it has no events table yet)."""
    from sqlalchemy import inspect, text

    if not inspect(engine).has_table("ledger_events"):
        return 0
    # the store keeps an originator id as 16 bytes on SQLite and as a uuid on PostgreSQL
    key: Any = BOOK_ID.bytes if engine.dialect.name == "sqlite" else str(BOOK_ID)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT COUNT(*) FROM ledger_events WHERE originator_id = :k"), {"k": key})
        return int(found.scalar() or 0)


def forget_installed() -> None:
    """The installed calendar years and policy versions this process read, forgotten: the
    shipped ones alone are in force."""
    INSTALLED_CALENDAR.clear()
    INSTALLED_VERSIONS.clear()
