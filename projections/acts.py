"""The acts projection: one row per event of a grant — every step of its selection, its money,
its oversight and its closure — with who recorded it (actor and role) and what it says in brief.
``history GRANT`` reads it beside the movements (``projections.balances``), which give the
running balances of the money events among them."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from projections.bulk import BulkInsert
from projections.measures import effect
from projections.names import ACTS as NAME
from projections.records import GRANT, StoredRecord
from projections.schema import history_acts

__all__ = ["KINDS", "NAME", "ActsProjection", "describe"]

TABLES = (history_acts,)

# a grant's events other than money, as history names them (money: projections.measures' kinds)
KINDS = {
    "Applied": "apply",
    "Recommended": "recommend",
    "ReviewRecorded": "review",
    "NoticeRecorded": "notice",
    "Approved": "approve",
    "Rejected": "reject",
    "BudgetRegistered": "budget",
    "BudgetAdjusted": "budget_adjust",
    "OutputReported": "output",
    "EvaluationRecorded": "evaluate",
    "RectificationOrdered": "rectify_order",
    "RectificationCompleted": "rectify_complete",
    "DossierRecorded": "dossier",
    "RecoveryOrdered": "recover_order",
    "Closed": "close",
    "ObjectionsResolved": "resolve_objections",
    "Extended": "extend",
}


# the acts that decide a grant's status, and the status each leaves it in (findings and pending
# read a grant's status as of a day from them)
STATUS_AFTER = {"approve": "approved", "reject": "rejected", "close": "closed"}


def _value(raw: Any) -> str:
    return str(raw["_data_"]) if isinstance(raw, dict) and "_data_" in raw else str(raw)


def _lines(d: Mapping[str, Any]) -> str:
    return "; ".join(f"{k} {_value(v)}" for k, v in sorted(d["lines"].items()))


def _output(d: Mapping[str, Any]) -> str:
    text = (
        f"{d['year']}: {d['trainees']} trained, {d['advanced']} advanced, {d['evaluations']} evaluated, "
        f"{d['advanced_evaluations']} advanced evaluated"
    )
    return f"{text} (corrects the {d['year']} report)" if d.get("corrects") else text


# what each kind of event says in brief (its amount and voucher have their own columns)
DETAILS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "Applied": lambda d: (
        f"{d['programme']} {d['base_id']} {d['base_name']}; projects {'、'.join(d['projects'])}"
    ),
    "Recommended": lambda d: (
        f"{d['recommender']} round {d['round']}" + ("" if d.get("rank") is None else f" rank {d['rank']}")
    ),
    "ReviewRecorded": lambda d: (
        f"panel {d['panel']}, {'recommended' if d['recommended'] else 'not recommended'}"
        + (f": {d['opinion']}" if d.get("opinion") else "")
    ),
    "NoticeRecorded": lambda d: (
        f"{_value(d['start'])}..{_value(d['end'])}, objections {d['objections']}"
        + (f", {d['where']}" if d.get("where") else "")
    ),
    "Approved": lambda d: (
        f"{d['document']}; {'、'.join(d['bodies'])}; build "
        f"{_value(d['build_start'])}..{_value(d['build_end'])}"
    ),
    "Rejected": lambda d: f"{d['document']}: {d['reason']}",
    "BudgetRegistered": _lines,
    "BudgetAdjusted": lambda d: (
        f"{d['approval']}: {_lines(d)}" + (f" ({d['reason']})" if d.get("reason") else "")
    ),
    "OutputReported": _output,
    "EvaluationRecorded": lambda d: (
        f"{d['kind']}: {d['result']}" + (f" by {d['evaluator']}" if d.get("evaluator") else "")
    ),
    "RectificationOrdered": lambda d: f"{d['ref']}: {d['finding']} (by {_value(d['deadline'])})",
    "RectificationCompleted": lambda d: f"{d['ref']}" + (f": {d['note']}" if d.get("note") else ""),
    "DossierRecorded": lambda d: f"{d['kind']}: {d['title']} sha256 {d['sha256']}",
    "RecoveryOrdered": lambda d: f"{d['document']}: {d['reason']}",
    "Closed": lambda d: str(d["document"]),
}


# the fields of an event the findings read as of a day, by its kind
FACTS = {
    "OutputReported": ("year", "trainees", "advanced", "evaluations", "advanced_evaluations"),
    "RectificationOrdered": ("ref", "deadline"),
    "RectificationCompleted": ("ref",),
    "ReviewRecorded": ("recommended",),  # what waits for an approver (grant pending)
    "NoticeRecorded": ("end", "objections"),
    "BudgetRegistered": ("lines",),  # the plan as it stood on a day (report budget)
    "BudgetAdjusted": ("lines",),
}


def facts(kind: str, d: Mapping[str, Any]) -> str:
    wanted = FACTS.get(kind)
    if wanted is None:
        return ""
    kept: dict[str, Any] = {}
    for k in wanted:
        if k in ("deadline", "end"):
            kept[k] = _value(d[k])
        elif k == "lines":
            kept[k] = {n: _value(v) for n, v in d[k].items()}
        else:
            kept[k] = d[k]
    return json.dumps(kept, ensure_ascii=False)


def describe(kind: str, d: Mapping[str, Any]) -> str:
    """What a stored event of the grant says in brief (a reversal: why; a disposal: its approval)."""
    found = DETAILS.get(kind)
    if found is not None:
        return found(d)
    if "reason" in d:
        return str(d["reason"])
    return ""


_insert = BulkInsert(history_acts, dates=["occurred_on"], moments=["recorded_at"])


class ActsProjection:
    name = NAME
    tables = TABLES

    def apply(self, session: Session, batch: Sequence[StoredRecord]) -> None:
        rows: list[tuple[Any, ...]] = []
        for r in batch:
            if not r.topic.startswith(GRANT):
                continue
            kind = r.topic[len(GRANT) :]
            d = r.data
            read = effect(r.topic, d)
            name = read.kind if read is not None else KINDS.get(kind, kind)
            if kind == "OutputReported" and d.get("corrects"):
                name = "output_correct"
            rows.append(
                (
                    r.id,
                    r.aggregate_id,
                    d["occurred_on"]["_data_"],
                    d["timestamp"]["_data_"],
                    name,
                    str(d.get("actor", "")),
                    str(d.get("role", "")),
                    describe(kind, d),
                    facts(kind, d),
                )
            )
        _insert(session, rows)
