"""The Merkle log of the store: an audit projection with its own contiguous leaf index.

One leaf per stored event, in store order (notification id), exactly once: the runner commits
each batch together with the projection's tracking position. PostgreSQL notification ids may
have gaps; the leaf index never does. The tree's frontier (a ``CompactRange``) is kept, so
appending and reading the root cost O(log n) without reading earlier leaves.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from audit.verifier.canonical import quote, shaped_leaf_data, stored_leaf_data
from audit.verifier.merkle import CompactRange
from ledger.database import guard_records
from projections.bulk import BulkInsert
from projections.names import AUDIT_LOG as NAME
from projections.records import hashed_leaves, records_of_rows
from projections.shapes import ShapeCache

if TYPE_CHECKING:
    from projections.records import StoredRecord

ORIGIN = "grant-ledger.chongqing/audit-log"

_sha256 = hashlib.sha256

metadata = MetaData()
_Big = BigInteger().with_variant(Integer(), "sqlite")

leaves = Table(
    "audit_leaves",
    metadata,
    Column("leaf_index", _Big, primary_key=True, autoincrement=False),
    Column("notification_id", _Big, nullable=False, unique=True),
    Column("originator_id", String(36), nullable=False),
    Column("originator_version", Integer, nullable=False),
    Column("leaf_hash", String(64), nullable=False),
)

tree = Table(
    "audit_tree",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", _Big, nullable=False),
    Column("frontier", Text, nullable=False),
    Column("root", String(64), nullable=False),
)

# Records, not a read model: what was signed stays (no rebuild drops these two tables, and the
# database refuses UPDATE and DELETE on them: ledger.database.guard_records).
checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("origin", String(256), nullable=False),
    Column("size", _Big, nullable=False),
    Column("root", String(64), nullable=False),
    Column("timestamp", String(32), nullable=False),
    Column("key_name", String(128), nullable=False),
    Column("public_key", Text, nullable=False),
    Column("signed", Text, nullable=False),
)

signed_leaves = Table(
    "audit_signed_leaves",
    metadata,
    Column("leaf_index", _Big, primary_key=True, autoincrement=False),
    Column("notification_id", _Big, nullable=False),
    Column("originator_id", String(36), nullable=False),
    Column("originator_version", Integer, nullable=False),
    Column("leaf_hash", String(64), nullable=False),
)

TABLES = (leaves, tree)  # the read model a rebuild recomputes
RECORDS = (checkpoints, signed_leaves)
ORIGINATORS_KEPT = 100_000  # the LeafComputer's originator texts, cleared beyond that
_insert_leaves = BulkInsert(leaves)


class AuditLogProjection:
    """Projection protocol of ``projections.runner``: one leaf per stored record."""

    name = NAME
    tables = TABLES

    def apply(self, session: Session, batch: Sequence[StoredRecord]) -> None:
        if not batch:
            return
        engine = session.get_bind().engine
        last = _LAST_TREE.get(engine)  # grown from there only if the tree still stands there
        grown = None if last is None else _grown(last, batch, session)
        if grown is None:
            row = session.execute(select(tree.c.size, tree.c.frontier).where(tree.c.id == 1)).first()
            frontier = CompactRange() if row is None else CompactRange.from_json(row.frontier)
            grown, rows = _leaves(frontier, batch)
            _insert_leaves(session, rows)
            values = _tree_values(grown)
            if row is None:
                session.execute(insert(tree).values(id=1, **values))
            else:
                session.execute(update(tree).where(tree.c.id == 1).values(**values))
        _LAST_TREE[engine] = grown

    # A rebuild may hash the leaves in a second process (``projections.rebuild``): there the log
    # starts empty and each page gives its leaf hashes; here they make the leaf rows (with the
    # page's rows) and grow the tree, which the last part writes.

    def computer(self) -> LeafComputer:
        return LeafComputer()

    @staticmethod
    def leaf_hexes(part: Any) -> list[str]:
        """The leaf hash (hex) of each event of a page its computer gave, in order: the seal
        check uses them (``projections.rebuild.LeafHashing``)."""
        return [h.hex() for h in part[2]]

    def write_part(self, session: Session, part: Any, rows: Sequence[Sequence[Any]] | None = None) -> None:
        """A page's leaf hashes (with the page's ``rows``, whose hashes they are) written as leaf
        rows, or the last part: the tree they have grown."""
        if part[0] == "hashes":
            _, start, hashes = part
            frontier = CompactRange() if start == 0 else _BUILT.get(session)
            if frontier is None or frontier.size != start or rows is None or len(rows) != len(hashes):
                raise RuntimeError(f"audit log: leaf hashes from {start} do not follow the leaves written")
            _insert_leaves(session, _leaf_rows(start, hashes, rows))
            _BUILT[session] = frontier.extend(hashes)
        else:
            _, size = part
            built = _BUILT.pop(session, None)
            if built is None or built.size != size:
                raise RuntimeError(f"audit log: a tree of {size} leaves, not of those written")
            session.execute(insert(tree).values(id=1, **_tree_values(built)))


class LeafComputer:
    """The leaf hashes of a log built from empty, page by page of the store as the driver gives
    it (``projections.runner.read_rows``), without a database."""

    def __init__(self) -> None:
        self.size = 0
        self.shapes = ShapeCache()
        self.topics: dict[str, str] = {}
        self.originators: dict[Any, str] = {}  # as stored -> str(UUID); a grant's events are many

    uses_records = False
    uses_canonical = True  # when given records (decoded for another computer), their leaves' text

    def compute(
        self, rows: Sequence[Sequence[Any]], records: Sequence[StoredRecord] | None = None
    ) -> tuple[str, int, list[bytes]]:
        """``(id, originator_id, originator_version, topic, state)`` rows' leaf hashes, after
        the leaves of the pages before (``("hashes", their count, hashes)``): each leaf's data is
        ``stored_leaf_data`` of the record, written here from the state's shape (its canonical
        text and timestamp) without parsing the state, when its shape is known."""
        start = self.size
        self.size += len(rows)
        if records is not None:  # decoded already, for another projection
            return "hashes", start, hashed_leaves(records)
        hashes = []
        stamped = self.shapes.stamped
        topics = self.topics
        originators = self.originators
        for row in rows:
            _, stored, version, topic, state = row
            originator = originators.get(stored)
            if originator is None:
                originator = originators[stored] = _originator_text(stored)
            text = bytes(state).decode("utf-8")
            shaped = stamped(topic, text)
            if shaped is None:
                (r,) = records_of_rows([row])
                data = stored_leaf_data(originator, version, topic, r.data, r.canonical)
            else:
                quoted = topics.get(topic)
                if quoted is None:
                    quoted = topics[topic] = quote(topic)
                data = shaped_leaf_data(originator, version, shaped[1], shaped[0], quoted)
            hashes.append(_sha256(b"\x00" + data).digest())  # audit.verifier.merkle.leaf_hash
        if len(originators) > ORIGINATORS_KEPT:
            originators.clear()
        return "hashes", start, hashes

    def finish(self) -> tuple[str, int] | None:
        return ("end", self.size) if self.size else None


def _originator_text(stored: Any) -> str:
    """An originator as the driver gives it (16 bytes, a UUID or text) as ``str(UUID)``."""
    if stored.__class__ is bytes:
        h = stored.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return str(stored if stored.__class__ is UUID else UUID(str(stored)))


def _leaves(
    frontier: CompactRange, batch: Sequence[StoredRecord]
) -> tuple[CompactRange, list[tuple[Any, ...]]]:
    """The frontier after the batch's leaves, and their rows (``leaves`` column order)."""
    hashes = hashed_leaves(batch)
    rows = _leaf_rows(frontier.size, hashes, ((r.id, r.aggregate_id, r.originator_version) for r in batch))
    return frontier.extend(hashes), rows


def _leaf_rows(start: int, hashes: Sequence[bytes], events: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """The rows (``leaves`` column order) of leaves ``start`` on: their ``hashes`` and their
    events, each beginning (id, originator as kept: 16 bytes, a UUID or hex text, version) as a
    page's rows do; each originator written as ``str(UUID)`` once."""
    originators: dict[Any, str] = {}
    rows = []
    for n, event in enumerate(events):
        kept = event[1]
        originator = originators.get(kept)
        if originator is None:
            originator = originators[kept] = _originator_text(kept)
        rows.append((start + n, event[0], originator, event[2], hashes[n].hex()))
    return rows


# The tree as a rebuild's parts have grown it so far, by the rebuild's session (two rebuilds in
# one process, in two threads, never share one; a failed one's goes with its session).
_BUILT: weakref.WeakKeyDictionary[Session, CompactRange] = weakref.WeakKeyDictionary()

# Where this process's last write left the tree, by database: a long-running process (the web
# server) grows it from there without reading it first. Only a guess: the tree is updated only
# while it still holds that size and root (compare-and-set), which a write of another process, a
# rolled-back transaction or a rebuild of other leaves all change; else it is read as before.
_LAST_TREE: weakref.WeakKeyDictionary[Engine, CompactRange] = weakref.WeakKeyDictionary()


def _grown(last: CompactRange, batch: Sequence[StoredRecord], session: Session) -> CompactRange | None:
    """The tree grown by the batch from ``last``, written with the batch's leaves if the stored
    tree is still ``last``; else None, and nothing is written."""
    frontier, rows = _leaves(last, batch)
    standing = (tree.c.id == 1) & (tree.c.size == last.size) & (tree.c.root == last.root().hex())
    moved = session.execute(update(tree).where(standing).values(**_tree_values(frontier)))
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return None
    _insert_leaves(session, rows)
    return frontier


def _tree_values(frontier: CompactRange) -> dict[str, Any]:
    return {"size": frontier.size, "frontier": frontier.to_json(), "root": frontier.root().hex()}


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


def has_log(engine: Engine) -> bool:
    return inspect(engine).has_table(tree.name)


def tree_head(conn: Connection) -> TreeHead:
    row = conn.execute(select(tree.c.size, tree.c.root).where(tree.c.id == 1)).first()
    if row is None:
        return TreeHead(0, CompactRange().root())
    return TreeHead(int(row.size), bytes.fromhex(row.root))


def leaf_hashes(conn: Connection, size: int | None = None) -> list[bytes]:
    query = select(leaves.c.leaf_hash).order_by(leaves.c.leaf_index)
    if size is not None:
        query = query.where(leaves.c.leaf_index < size)
    return [bytes.fromhex(h) for (h,) in conn.execute(query)]


def ensure_records(conn: Connection) -> None:
    """The signed checkpoints' tables and their append-only triggers."""
    for table in RECORDS:
        table.create(conn, checkfirst=True)
    guard_records(conn)


def keep_signed_leaves(conn: Connection, size: int) -> None:
    """Copy the leaves below ``size`` not yet kept into the signed leaves (a record)."""
    kept = conn.execute(select(func.count()).select_from(signed_leaves)).scalar_one()
    columns = ["leaf_index", "notification_id", "originator_id", "originator_version", "leaf_hash"]
    rows = select(*(leaves.c[name] for name in columns)).where(
        leaves.c.leaf_index >= kept, leaves.c.leaf_index < size
    )
    conn.execute(insert(signed_leaves).from_select(columns, rows))


def stored_checkpoints(conn: Connection) -> list[Any]:
    if not inspect(conn).has_table(checkpoints.name):
        return []
    return list(conn.execute(select(checkpoints).order_by(checkpoints.c.seq)).all())
