"""How far each projection is behind the store: plain SQL, no eventsourcing import."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from ledger.database import EVENTS_TABLE
from projections.schema import TRACKING_TABLE


def head(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {EVENTS_TABLE}")).scalar() or 0)


def stored_head(engine: Engine) -> int:
    """The store's head, or 0 when the ledger has not been initialised."""
    return head(engine) if inspect(engine).has_table(EVENTS_TABLE) else 0


def positions(engine: Engine, names: tuple[str, ...]) -> dict[str, int]:
    if not inspect(engine).has_table(TRACKING_TABLE):
        return dict.fromkeys(names, 0)
    with engine.connect() as conn:
        found: dict[str, int] = {
            str(name): int(position or 0)
            for name, position in conn.execute(
                text(f"SELECT application_name, notification_id FROM {TRACKING_TABLE}")
            ).all()
        }
    return {name: int(found.get(name) or 0) for name in names}


def is_behind(engine: Engine, names: tuple[str, ...]) -> bool:
    if not inspect(engine).has_table(EVENTS_TABLE):
        return True
    top = head(engine)
    return any(position < top for position in positions(engine, names).values())
