"""The Merkle log of the store: an audit projection with its own contiguous leaf index.

One leaf per stored event, in store order (notification id), exactly once: the runner commits
each batch together with the projection's tracking position. PostgreSQL notification ids may
have gaps; the leaf index never does. The tree's frontier (a ``CompactRange``) is kept, so
appending and reading the root cost O(log n) without reading earlier leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from audit.canonical import stored_leaf_data
from audit.merkle import CompactRange
from projections.bulk import BulkInsert

if TYPE_CHECKING:
    from projections.records import StoredRecord

NAME = "audit_log"
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

TABLES = (leaves, tree, checkpoints)
_insert_leaves = BulkInsert(leaves)


class AuditLogProjection:
    """Projection protocol of ``projections.runner``: one leaf per stored record."""

    name = NAME
    tables = TABLES

    def apply(self, session: Session, batch: Sequence[StoredRecord]) -> None:
        if not batch:
            return
        row = session.execute(select(tree.c.size, tree.c.frontier).where(tree.c.id == 1)).first()
        frontier = CompactRange() if row is None else CompactRange.from_json(row.frontier)
        start = frontier.size
        hashes, rows = [], []
        for n, r in enumerate(batch):
            originator = r.originator_id
            data = stored_leaf_data(originator, r.originator_version, r.topic, r.data, r.canonical)
            h = _sha256(b"\x00" + data).digest()  # audit.merkle.leaf_hash
            hashes.append(h)
            rows.append((start + n, r.id, originator, r.originator_version, h.hex()))
        frontier = frontier.extend(hashes)
        _insert_leaves(session, rows)
        values = {"size": frontier.size, "frontier": frontier.to_json(), "root": frontier.root().hex()}
        if row is None:
            session.execute(insert(tree).values(id=1, **values))
        else:
            session.execute(update(tree).where(tree.c.id == 1).values(**values))


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


def stored_checkpoints(conn: Connection) -> list[Any]:
    return list(conn.execute(select(checkpoints).order_by(checkpoints.c.seq)).all())
