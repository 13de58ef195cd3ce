"""Before a new checkpoint is signed: the stored log must be a consistent extension of the last
signed one (RFC 9162 §2.1.4), else the signer is told which leaf differs.

The leaves are a read model, recomputed from the events by a rebuild; the last signed checkpoint
is a record. So an event rewritten below the application and a rebuild give leaves whose tree is
not an extension of what was signed, and no new checkpoint may be signed over them. The tree is
recomputed from the stored leaf hashes in one streamed pass (its root, its root at every signed
size, and the consistency proof's subtrees), never from the tree row, which is derived too.

The first leaf that differs is found by comparing the leaves with the copy of the signed leaves
kept beside the checkpoints (``audit_signed_leaves``), when that copy still reproduces the
signed root; otherwise only the span between two checkpoints can be named.
"""

from __future__ import annotations

import base64
from contextlib import closing
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import func, inspect, or_, select
from sqlalchemy.engine import Connection

from audit.i18n import _
from audit.log import NAME, leaves, signed_leaves
from audit.verifier.merkle import consistency_ranges, verify_consistency
from audit.verifier.scan import Tree
from ledger.database import streamed_rows
from ledger.errors import VerificationError
from projections.runner import standings

_BATCH = 10000


@dataclass(frozen=True)
class Head:
    """The tree over the stored leaves: what may be signed."""

    size: int
    root: bytes


def _leaf_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(leaves)).scalar_one())


def _stream(conn: Connection, table: Any, size: int, tree: Tree) -> int | None:
    """Adds the leaf hashes of ``table`` below ``size`` to ``tree``; the first missing index, if any."""
    sql = f"SELECT leaf_index, leaf_hash FROM {table.name} WHERE leaf_index < :size ORDER BY leaf_index"
    position = 0
    add, fromhex = tree.add, bytes.fromhex
    with closing(streamed_rows(conn, sql, {"size": size}, _BATCH)) as rows:
        for index, leaf in rows:
            if int(index) != position:
                return position
            add(fromhex(leaf))
            position += 1
    tree.finish()
    return None if position == size else position


def checked_head(conn: Connection, signed: list[Any]) -> Head:
    """The stored log's head, if it extends the last of the ``signed`` checkpoints (oldest first);
    else VerificationError naming the first leaf that differs."""
    size = _leaf_count(conn)
    last = signed[-1] if signed else None
    old = int(last.size) if last is not None else 0
    ranges = consistency_ranges(old, size) if old <= size else []
    tree = Tree({int(cp.size) for cp in signed if int(cp.size) <= size}, ranges)
    missing = _stream(conn, leaves, size, tree)
    if missing is not None:
        raise VerificationError(
            _(
                "the audit log has no leaf {missing} although it holds {size}; run `grant-ledger "
                "projections rebuild` and sign again"
            ).format(missing=missing, size=size)
        )
    _last_leaf_kept(conn, size)
    head = Head(size, tree.frontier.root())
    if last is None:
        return head
    old_root = bytes.fromhex(last.root)
    proof = tree.proof() if old < size else []
    if old <= size and proof is not None and verify_consistency(old, size, old_root, head.root, proof):
        return head
    raise VerificationError(_refusal(conn, signed, tree, size))


def _last_leaf_kept(conn: Connection, size: int) -> None:
    """VerificationError if the leaves end before the last event the audit log has taken (its
    position): the leaves' count is the size, so a last leaf removed below the application would
    otherwise be signed over as a log one event shorter."""
    position = standings(conn, [NAME])[NAME]
    if not position:
        return
    query = select(leaves.c.notification_id).where(leaves.c.leaf_index == size - 1)
    last = int(conn.execute(query).scalar() or 0) if size else 0
    if last < position:
        raise VerificationError(
            _(
                "the audit log's leaves end at event {last} although it has taken the events up to "
                "{position}: a leaf was removed below the application; run `grant-ledger projections "
                "rebuild` and sign again"
            ).format(last=last, position=position)
        )


def _refusal(conn: Connection, signed: list[Any], tree: Tree, size: int) -> str:
    last = signed[-1]
    old = int(last.size)
    where = _first_difference(conn, old, bytes.fromhex(last.root), size)
    if where is None:
        where = _span(signed, tree, size)
    return _(
        "refusing to sign: the audit log of {size} events is not a consistent extension of "
        "checkpoint {seq} ({old} events, root {root}): {where}; an event was changed or removed "
        "below the application"
    ).format(
        size=size,
        seq=last.seq,
        old=old,
        root=base64.b64encode(bytes.fromhex(last.root)).decode(),
        where=where,
    )


def _first_difference(conn: Connection, old: int, old_root: bytes, size: int) -> str | None:
    """The first leaf below ``old`` that differs from the signed copy, if that copy reproduces
    the signed root (else it cannot be relied on)."""
    if not inspect(conn).has_table(signed_leaves.name):
        return None
    copy = Tree({old}, [])
    if _stream(conn, signed_leaves, old, copy) is not None or copy.roots_at.get(old) != old_root:
        return None
    s, current = signed_leaves.c, leaves.c
    row = conn.execute(
        select(s.leaf_index, s.notification_id, s.originator_id, s.originator_version)
        .outerjoin(leaves, current.leaf_index == s.leaf_index)
        .where(s.leaf_index < old)
        .where(or_(current.leaf_index.is_(None), current.leaf_hash != s.leaf_hash))
        .order_by(s.leaf_index)
        .limit(1)
    ).first()
    if row is None:
        return None
    index = int(row.leaf_index)
    what = (
        _("leaf {index} (event {event}, {aggregate} version {version}) is missing")
        if index >= size
        else _("leaf {index} (event {event}, {aggregate} version {version}) differs from the signed one")
    )
    return what.format(
        index=index,
        event=row.notification_id,
        aggregate=_aggregate(conn, row.originator_id),
        version=row.originator_version,
    )


def _aggregate(conn: Connection, originator: str) -> str:
    """``grant G1 (uuid)`` when the balances know the aggregate as a grant, else its uuid."""
    from projections.schema import grants

    if inspect(conn).has_table(grants.name):
        found = conn.execute(
            select(grants.c.grant_id).where(grants.c.aggregate_id == UUID(originator).hex)
        ).scalar()
        if found is not None:
            return _("grant {grant} ({originator})").format(grant=found, originator=originator)
    return _("aggregate {originator}").format(originator=originator)


def _span(signed: list[Any], tree: Tree, size: int) -> str:
    """Which signed span holds the first difference, from the roots at each signed size."""
    before = 0
    for cp in signed:
        at = int(cp.size)
        root = tree.roots_at.get(at) if at <= size else None
        if root != bytes.fromhex(cp.root):
            return _(
                "the first leaf that differs is one of leaves {first}..{last} (checkpoint {seq} "
                "no longer matches; no intact copy of the signed leaves names it exactly)"
            ).format(first=before, last=at - 1, seq=cp.seq)
        before = at
    return _("the leaves no longer extend it")
