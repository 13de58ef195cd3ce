"""How far each projection is behind the store: plain SQL, no eventsourcing import."""

from __future__ import annotations

import weakref

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from ledger.database import EVENTS_TABLE
from projections.names import standing
from projections.schema import TRACKING_TABLE, metadata

# By an engine's pool (an engine kept for the next command gets a new one, and is asked again):
# pools whose database was found to hold every read-model table (a table added by a newer
# version is made by the next catch-up; until then every read catches up first)
_COMPLETE: weakref.WeakSet[Pool] = weakref.WeakSet()
# pools whose database was found to hold the store's and the tracking table (a table is not
# taken away: a long-running server asks the catalogue once, not at every page)
_STORED: weakref.WeakSet[Pool] = weakref.WeakSet()


def _has(engine: Engine, table: str) -> bool:
    if engine.pool in _STORED:
        return True
    found = inspect(engine).has_table(table)
    if found and inspect(engine).has_table(EVENTS_TABLE if table == TRACKING_TABLE else TRACKING_TABLE):
        _STORED.add(engine.pool)
    return found


def head(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {EVENTS_TABLE}")).scalar() or 0)


def stored_head(engine: Engine) -> int:
    """The store's head, or 0 when the ledger has not been initialised."""
    return head(engine) if _has(engine, EVENTS_TABLE) else 0


def positions(engine: Engine, names: tuple[str, ...]) -> dict[str, int]:
    if not _has(engine, TRACKING_TABLE):
        return dict.fromkeys(names, 0)
    with engine.connect() as conn:
        found: dict[str, int] = {
            str(name): int(position or 0)
            for name, position in conn.execute(
                text(f"SELECT application_name, notification_id FROM {TRACKING_TABLE}")
            ).all()
        }
    return {name: standing(found, name) for name in names}


def is_behind(engine: Engine, names: tuple[str, ...]) -> bool:
    if not _has(engine, EVENTS_TABLE) or not _complete(engine):
        return True
    top = head(engine)
    return any(position < top for position in positions(engine, names).values())


def _complete(engine: Engine) -> bool:
    """Does the database hold every read-model table this version reads?"""
    if engine.pool in _COMPLETE:
        return True
    present = set(inspect(engine).get_table_names())
    if any(t.name not in present for t in metadata.sorted_tables if t.schema is None):
        return False
    _COMPLETE.add(engine.pool)
    return True
