"""The balance projection: per grant running totals and one movement row per money event."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from ledger.grant import Grant
from ledger.money import to_fen
from projections.schema import grants, movements

NAME = "balances"
TABLES = (grants, movements)


def _movement(
    nid: int, event: Any, grant_id: str, base_id: str, kind: str, measure: str, amount: int, **extra: str
) -> dict[str, Any]:
    return {
        "notification_id": nid,
        "grant_id": grant_id,
        "base_id": base_id,
        "occurred_on": event.occurred_on,
        "recorded_at": event.timestamp,
        "kind": kind,
        "measure": measure,
        "amount": amount,
        "source": extra.get("source", ""),
        "category": extra.get("category", ""),
        "content": extra.get("content", ""),
        "voucher": extra.get("voucher", ""),
        "actor": event.actor,
    }


class BalanceProjection:
    name = NAME
    tables = TABLES

    def apply(self, session: Session, batch: Sequence[tuple[int, Any]]) -> None:
        new_rows: list[dict[str, Any]] = []
        known: dict[Any, tuple[str, str]] = {}  # originator id -> (grant_id, base_id)
        changes: dict[str, dict[str, Any]] = defaultdict(dict)
        deltas: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        rows: list[dict[str, Any]] = []

        def ids(event: Any) -> tuple[str, str]:
            if event.originator_id not in known:
                row = session.execute(
                    grants.select().where(grants.c.aggregate_id == event.originator_id.hex)
                ).first()
                assert row is not None, "a money event before its grant's application"
                known[event.originator_id] = (row.grant_id, row.base_id)
            return known[event.originator_id]

        for nid, event in batch:
            if not isinstance(event, Grant.Event):
                continue
            if isinstance(event, Grant.Applied):
                known[event.originator_id] = (event.grant_id, event.base_id)
                new_rows.append(
                    {
                        "grant_id": event.grant_id,
                        "aggregate_id": event.originator_id.hex,
                        "base_id": event.base_id,
                        "unit_id": event.unit_id,
                        "base_name": event.base_name,
                        "programme": event.programme,
                        "status": "applied",
                        "applied_on": event.occurred_on,
                        "recorded_at": event.timestamp,
                        "approved": 0,
                        "subsidy_received": 0,
                        "subsidy_spent": 0,
                        "matching_committed": 0,
                        "matching_received": 0,
                        "matching_spent": 0,
                        "subsidy_recovered": 0,
                        "subsidy_disposed": 0,
                        "matching_disposed": 0,
                    }
                )
                continue
            grant_id, base_id = ids(event)
            if isinstance(event, Grant.Approved):
                changes[grant_id].update(
                    status="approved", build_start=event.build_start, build_end=event.build_end
                )
                measure, kind, amount, extra = (
                    "approved",
                    "approve",
                    event.amount,
                    {"voucher": event.document},
                )
            elif isinstance(event, Grant.SubsidyDisbursed):
                measure, kind, amount, extra = (
                    "subsidy_received",
                    "disburse",
                    event.amount,
                    {"source": "subsidy", "voucher": event.voucher},
                )
            elif isinstance(event, Grant.MatchingCommitted):
                measure, kind, amount, extra = (
                    "matching_committed",
                    "match_commit",
                    event.amount,
                    {"source": "matching", "voucher": event.voucher},
                )
            elif isinstance(event, Grant.MatchingReceived):
                measure, kind, amount, extra = (
                    "matching_received",
                    "match_receive",
                    event.amount,
                    {"source": "matching", "voucher": event.voucher},
                )
            elif isinstance(event, Grant.ExpenditureRecorded):
                measure, kind, amount, extra = (
                    f"{event.source}_spent",
                    "spend",
                    event.amount,
                    {
                        "source": event.source,
                        "category": event.category,
                        "content": event.content,
                        "voucher": event.voucher,
                    },
                )
            elif isinstance(event, Grant.ExpenditureReversed):
                measure, kind, amount, extra = (
                    f"{event.source}_spent",
                    "reverse",
                    -event.amount,
                    {
                        "source": event.source,
                        "category": event.category,
                        "content": event.content,
                        "voucher": event.voucher,
                    },
                )
            elif isinstance(event, Grant.FundsRecovered):
                measure, kind, amount, extra = (
                    "subsidy_recovered",
                    "recover",
                    event.amount,
                    {"source": "subsidy", "voucher": event.voucher},
                )
            elif isinstance(event, Grant.BalanceDisposed):
                measure, kind, amount, extra = (
                    f"{event.source}_disposed",
                    f"dispose_{event.how}",
                    event.amount,
                    {"source": event.source, "voucher": event.approval},
                )
            elif isinstance(event, Grant.Rejected | Grant.Closed):
                changes[grant_id]["status"] = "rejected" if isinstance(event, Grant.Rejected) else "closed"
                continue
            else:
                continue
            fen = to_fen(amount)
            deltas[grant_id][measure] += fen
            rows.append(_movement(nid, event, grant_id, base_id, kind, measure, fen, **extra))

        if new_rows:
            session.execute(insert(grants), new_rows)
        for grant_id in set(changes) | set(deltas):
            values: dict[str, Any] = dict(changes.get(grant_id, {}))
            for measure, fen in deltas.get(grant_id, {}).items():
                values[measure] = getattr(grants.c, measure) + fen
            session.execute(update(grants).where(grants.c.grant_id == grant_id).values(**values))
        if rows:
            session.execute(insert(movements), rows)
