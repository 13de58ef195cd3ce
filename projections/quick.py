"""Current balances read straight from a SQLite file through the standard library's driver.

A plain ``balance`` on an up-to-date SQLite ledger is one indexed SELECT; loading SQLAlchemy
would cost more than the answer. This path reads the same ``balance_grants`` rows the
projections write, inside one read transaction that first checks the store's schema version
and that every projection has reached the store's head. When anything is off (another
backend, a missing table, a projection behind, a locked file) it returns ``None`` and the
caller takes the ordinary path, which catches the projections up first.

The table and column names are the read model's own (``projections/schema.py``);
``tests/test_quick_balance.py`` holds them equal and compares answers with the ordinary path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ledger.location import EVENTS_TABLE, META_TABLE, check_version
from ledger.money import from_fen
from projections.figures import MEASURES, Balance
from projections.names import KEPT, standing

GRANTS_TABLE = "balance_grants"
UNITS_TABLE = "balance_units"  # each unit's district, joined by unit_id
TRACKING_TABLE = "ledger_tracking"
LABELS = ("base_id", "grant_id", "base_name", "programme", "status")
PROJECTIONS = KEPT
# Wait this long for a writer's lock before handing over to the ordinary path.
BUSY_MS = 2000
CHUNK = 10_000  # rows read at a time


def sqlite_path(url: str) -> Path | None:
    """The file behind a ``sqlite:///`` URL, or None for anything else."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = Path(url[len(prefix) :])
    return path.resolve() if path.name and path.is_file() else None  # a file URI needs it absolute


def current_balances(url: str, base_ids: Sequence[str] = ()) -> list[Balance] | None:
    """Balances per grant as the projections hold them now, or None if this path cannot tell."""
    found: list[Balance] = []
    labels = len(LABELS)
    amounts = Made(from_fen)
    # positionally: a Balance's fields are the labels, the measures and the district, in order
    balance: Callable[..., Balance] = Balance

    def each(rows: list[tuple[Any, ...]]) -> None:
        found.extend(
            balance(*row[:labels], *[amounts[fen] for fen in row[labels:-1]], row[-1]) for row in rows
        )

    return found if current_rows(url, each, base_ids) else None


def current_rows(
    url: str, each: Callable[[list[tuple[Any, ...]]], None], base_ids: Sequence[str] = ()
) -> bool:
    """Give ``each`` the grants' rows as the projections hold them now, a chunk at a time in the
    order of base and grant: each row its ``LABELS``, its ``MEASURES`` in fen and its unit's
    district. False if this path cannot tell, perhaps after some chunks (the caller drops them)."""
    path = sqlite_path(url)
    if path is None:
        return False
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        conn.execute("BEGIN")  # one snapshot for the checks and the rows
        return _read(conn, base_ids, each)
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _read(
    conn: sqlite3.Connection, base_ids: Sequence[str], each: Callable[[list[tuple[Any, ...]]], None]
) -> bool:
    version = conn.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'").fetchone()
    if version is None:
        return False
    check_version(str(version[0]))
    head = conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {EVENTS_TABLE}").fetchone()[0]
    # every version's key: a position counts only under each's current version, alone
    kept = dict(conn.execute(f"SELECT application_name, notification_id FROM {TRACKING_TABLE}").fetchall())
    if head == 0 or any(standing(kept, name) != head for name in PROJECTIONS):
        return False
    columns = ", ".join(f"g.{c}" for c in LABELS + MEASURES)
    query = (
        f"SELECT {columns}, u.district FROM {GRANTS_TABLE} g "
        f"LEFT JOIN {UNITS_TABLE} u ON u.unit_id = g.unit_id"
    )
    if base_ids:
        query += f" WHERE g.base_id IN ({', '.join('?' * len(base_ids))})"
    query += " ORDER BY g.base_id, g.grant_id"
    cursor = conn.execute(query, tuple(base_ids))
    while rows := cursor.fetchmany(CHUNK):
        each(rows)
    return True


class Made(dict[Any, Any]):
    """Each value's ``make(value)``, made once: over many grants most figures repeat (nothing
    recovered, the same sums approved), and the balances (or their texts) share them."""

    def __init__(self, make: Callable[[Any], Any]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, value: Any) -> Any:
        made = self[value] = self.make(value)
        return made
