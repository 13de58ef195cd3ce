"""Balances by replaying exported event records: independent of ``projections/``.

Reads only the records of ``events.jsonl`` (the stored state as JSON, with eventsourcing's
``{"_type_": "decimal_str", "_data_": "…"}`` values), so an auditor's replay shares no code
with the read models whose numbers it checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from audit.verifier.errors import AuditError
from audit.verifier.layout import MEASURES

__all__ = ["MEASURES", "GrantTotals", "Replay", "ReplayError"]

_TOPIC = "grant-ledger:Grant."
_FIXED = {
    "Approved": "approved",
    "SubsidyDisbursed": "subsidy_received",
    "MatchingCommitted": "matching_committed",
    "MatchingReceived": "matching_received",
    "FundsRecovered": "subsidy_recovered",
}


_PLAIN_AMOUNT = re.compile(r"-?[0-9]{1,18}(?:\.[0-9]{1,6})?")
_SPENDING = ("ExpenditureRecorded", "ExpenditureReversed", "BalanceDisposed")


class ReplayError(AuditError):
    pass


@dataclass
class GrantTotals:
    grant_id: str
    base_id: str
    base_name: str
    programme: str
    amounts: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(MEASURES, Decimal(0)))


def _value(raw: Any) -> Any:
    if isinstance(raw, dict) and "_type_" in raw:
        return raw.get("_data_")
    return raw


def _amount(state: dict[str, Any]) -> Decimal:
    try:
        text = str(_value(state["amount"]))
    except KeyError as exc:
        raise ReplayError("no decimal amount (no 'amount')") from exc
    if _PLAIN_AMOUNT.fullmatch(text) is None:  # the ledger writes amounts as plain numerals
        raise ReplayError(f"no decimal amount ({text[:40]!r} is not a plain amount like 1200.00)")
    return Decimal(text)


class Replay:
    """Feed records in leaf order; ``grants`` holds the totals per grant."""

    def __init__(self) -> None:
        self.grants: dict[str, GrantTotals] = {}  # originator id -> totals

    def feed(self, record: dict[str, Any]) -> None:
        topic = record.get("topic", "")
        if not isinstance(topic, str) or not topic.startswith(_TOPIC):
            return
        kind = topic[len(_TOPIC) :]
        state = record.get("state")
        if not isinstance(state, dict):
            raise ReplayError("the state is not a JSON object")
        originator = str(record.get("originator_id"))
        if kind == "Applied":
            self.grants[originator] = GrantTotals(
                grant_id=str(state.get("grant_id")),
                base_id=str(state.get("base_id")),
                base_name=str(state.get("base_name")),
                programme=str(state.get("programme")),
            )
            return
        if kind not in _FIXED and kind not in (
            "ExpenditureRecorded",
            "ExpenditureReversed",
            "BalanceDisposed",
        ):
            return
        totals = self.grants.get(originator)
        if totals is None:
            raise ReplayError(f"a {kind} event of a grant whose application is not in the bundle")
        amount = _amount(state)
        if kind in _FIXED:
            totals.amounts[_FIXED[kind]] += amount
            return
        source = state.get("source")
        if source not in ("subsidy", "matching"):
            raise ReplayError(f"fund source {source!r} is neither subsidy nor matching")
        if kind == "BalanceDisposed":
            totals.amounts[f"{source}_disposed"] += amount
            return
        sign = 1 if kind == "ExpenditureRecorded" else -1
        totals.amounts[f"{source}_spent"] += sign * amount

    def by_grant(self) -> dict[str, GrantTotals]:
        return {t.grant_id: t for t in self.grants.values()}
