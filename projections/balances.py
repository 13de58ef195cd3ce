"""The balance projection: per grant running totals and one movement row per money event.

Works from stored records (``projections.records``): one SELECT per batch for the grants it
touches, totals summed in memory, movements and new grants inserted with one executemany each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from projections.bulk import BulkInsert
from projections.measures import READINGS
from projections.names import BALANCES as NAME
from projections.records import GRANT, StoredRecord, day, moment, reading, written_at
from projections.schema import MEASURES, grants, movements, unit_districts, units

TABLES = (grants, movements, units, unit_districts)
SELECT_CHUNK = 500  # aggregate ids per IN (...), well inside every driver's parameter limit

APPLIED = GRANT + "Applied"
APPROVED = GRANT + "Approved"
EXTENDED = GRANT + "Extended"
STATUS_OF = {GRANT + "Rejected": "rejected", GRANT + "Closed": "closed"}
UNIT = "grant-ledger:Unit."
# the events that give a unit its district (ledger.unit): the registration, when it names one
# (absent from those stored before districts were kept), and an amendment
DISTRICT_OF = frozenset({UNIT + "Registered", UNIT + "DistrictSet"})


def _new_grant(r: StoredRecord) -> dict[str, Any]:
    d = r.data
    return {
        "grant_id": d["grant_id"],
        "aggregate_id": r.aggregate_id,
        "base_id": d["base_id"],
        "unit_id": d["unit_id"],
        "base_name": d["base_name"],
        "programme": d["programme"],
        "status": "applied",
        "applied_on": day(d["occurred_on"]),
        "recorded_at": moment(d["timestamp"]),
        "build_start": None,
        "build_end": None,
        **dict.fromkeys(MEASURES, 0),
        "tier": "",
        "track": str(d.get("track", "")),  # absent from those stored before kinds
    }


def known_grants(session: Session, table: Any, aggregate_ids: Iterable[str]) -> dict[str, Any]:
    """Rows of ``table`` (keyed by aggregate_id) for the given aggregates, a few SELECTs in all."""
    wanted = sorted(set(aggregate_ids))
    found: dict[str, Any] = {}
    query = _KNOWN.get(table.name)
    if query is None:  # built once: a statement used again skips SQLAlchemy's building and keying
        query = select(table).where(table.c.aggregate_id.in_(bindparam("wanted", expanding=True)))
        _KNOWN[table.name] = query
    for at in range(0, len(wanted), SELECT_CHUNK):
        for row in session.execute(query, {"wanted": wanted[at : at + SELECT_CHUNK]}):
            found[row.aggregate_id] = row
    return found


_KNOWN: dict[str, Any] = {}


class _Grant:
    """A grant touched by the batch: who it is, and what the batch adds to it."""

    __slots__ = ("base_id", "changes", "deltas", "grant_id", "new")

    def __init__(self, grant_id: str, base_id: str, new: dict[str, Any] | None = None) -> None:
        self.grant_id = grant_id
        self.base_id = base_id
        self.new = new  # the whole row, when the grant's application is in this batch
        self.changes: dict[str, Any] = {}
        self.deltas = [0] * len(MEASURES)  # by MEASURES' order: a list, small when many are held


_AT = {m: i for i, m in enumerate(MEASURES)}
_ADDED = [f"add_{m}" for m in MEASURES]
_insert_movements = BulkInsert(movements, dates=["occurred_on"], moments=["recorded_at"])

_ADD_DELTAS = (
    update(grants)
    .where(grants.c.grant_id == bindparam("key"))
    .values({m: grants.c[m] + bindparam(f"add_{m}") for m in MEASURES})
)


class BalanceProjection:
    """``held``: up to this many grants' totals are kept in memory from batch to batch, and
    written when there are more, or by ``write_held`` (an import, in its one transaction: a grant
    touched by many batches is read and written once, not at every batch). Nothing may read this
    projection's grants in that transaction before ``write_held``. 0: written at every batch."""

    name = NAME
    tables = TABLES

    def __init__(self, *, held: int = 0) -> None:
        self.held = held
        self._held: dict[str, _Grant] = {}

    def apply(self, session: Session, batch: Sequence[StoredRecord]) -> None:
        self._districts(session, batch)
        mine = [r for r in batch if r.topic.startswith(GRANT)]
        if not mine:
            return
        touched = self._touched(session, mine, self._held)
        rows: list[tuple[Any, ...]] = []
        written = _insert_movements.written_moments(session)
        for r in mine:
            grant = touched[r.aggregate_id]
            if r.topic in READINGS:
                try:
                    e = reading(r)
                except ValueError as exc:
                    raise ValueError(f"event {r.id}: {exc}") from exc
                assert e is not None
                grant.deltas[_AT[e.column]] += e.signed
                d = r.data
                rows.append(
                    (
                        r.id,
                        grant.grant_id,
                        grant.base_id,
                        d["occurred_on"]["_data_"],
                        written_at(r) if written else d["timestamp"]["_data_"],
                        e.kind,
                        e.column,
                        e.signed,
                        e.source,
                        e.category,
                        e.content,
                        e.voucher,
                        d["actor"],
                        str(d.get("role", "")),
                    )
                )
            if r.topic == APPROVED:
                grant.changes.update(
                    status="approved",
                    build_start=day(r.data["build_start"]),
                    build_end=day(r.data["build_end"]),
                    tier=str(r.data.get("tier", "")),  # absent from those stored before tiers
                )
            elif r.topic == EXTENDED:
                grant.changes["build_end"] = day(r.data["end"])
            elif r.topic in STATUS_OF:
                grant.changes["status"] = STATUS_OF[r.topic]
        _insert_movements(session, rows, written)
        if not self.held:
            self._write(session, touched.values())
            return
        self._held.update(touched)
        if len(self._held) > self.held:
            self.write_held(session)

    def write_held(self, session: Session) -> None:
        """Write the totals held in memory (``held``), and hold none."""
        self._write(session, self._held.values())
        self._held = {}

    @staticmethod
    def _districts(session: Session, batch: Sequence[StoredRecord]) -> None:
        """Each unit's latest district in the batch, replacing the one it had; and each setting
        with its dates, for the district as it stood."""
        latest: dict[str, str] = {}
        settings: list[dict[str, Any]] = []
        for r in batch:
            if r.topic in DISTRICT_OF:
                district = r.data.get("district")
                if district:
                    latest[r.data["unit_id"]] = district
                    settings.append(
                        {
                            "notification_id": r.id,
                            "unit_id": r.data["unit_id"],
                            "district": district,
                            "occurred_on": day(r.data["occurred_on"]),
                            "recorded_at": moment(r.data["timestamp"]),
                        }
                    )
        if not latest:
            return
        session.execute(insert(unit_districts), settings)
        session.execute(delete(units).where(units.c.unit_id.in_(sorted(latest))))
        session.execute(insert(units), [{"unit_id": u, "district": d} for u, d in latest.items()])

    @staticmethod
    def _touched(
        session: Session, mine: Sequence[StoredRecord], held: dict[str, _Grant]
    ) -> dict[str, _Grant]:
        touched: dict[str, _Grant] = {}
        for r in mine:
            if r.topic == APPLIED:
                row = _new_grant(r)
                touched[r.aggregate_id] = _Grant(row["grant_id"], row["base_id"], row)
            elif r.aggregate_id in held:
                touched[r.aggregate_id] = held[r.aggregate_id]
        earlier = {r.aggregate_id for r in mine} - touched.keys()
        for aggregate_id, row in known_grants(session, grants, earlier).items():
            touched[aggregate_id] = _Grant(row.grant_id, row.base_id)
        missing = earlier - touched.keys()
        assert not missing, f"money events before their grant's application: {sorted(missing)[:3]}"
        return touched

    @staticmethod
    def _write(session: Session, touched: Iterable[_Grant]) -> None:
        new_rows, added = [], []
        for grant in touched:
            if grant.new is not None:
                grant.new.update(grant.changes)
                for measure, amount in zip(MEASURES, grant.deltas, strict=True):
                    grant.new[measure] += amount
                new_rows.append(grant.new)
                continue
            if grant.changes:
                session.execute(
                    update(grants).where(grants.c.grant_id == grant.grant_id).values(grant.changes)
                )
            if any(grant.deltas):
                added.append({"key": grant.grant_id, **dict(zip(_ADDED, grant.deltas, strict=True))})
        if new_rows:
            session.execute(insert(grants), new_rows)
        if added:
            session.execute(_ADD_DELTAS, added)
