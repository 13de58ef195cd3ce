"""The acts projection: one row per event of a grant — every step of its selection, its money,
its oversight and its closure — with who recorded it (actor and role) and what it says in brief;
but a spend, whose line is its movement (``projections.balances``: it has its actor and role, and
says nothing more). ``history GRANT`` reads the two together, the movements giving the running
balances of the money events among them."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ledger.i18n import T_
from ledger.labels import lazy
from projections.bulk import BulkInsert
from projections.measures import SPEND
from projections.names import ACTS as NAME
from projections.records import GRANT, StoredRecord, reading, written_at
from projections.schema import history_acts

if TYPE_CHECKING:  # a report reads acts without loading the ORM
    from sqlalchemy.orm import Session

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
    counts = {k: d[k] for k in ("year", "trainees", "advanced", "evaluations", "advanced_evaluations")}
    if d.get("corrects"):
        return T_(
            "{year}: {trainees} trained, {advanced} advanced, {evaluations} evaluated, "
            "{advanced_evaluations} advanced evaluated (corrects the {year} report)",
            **counts,
        ).dumps()
    return T_(
        "{year}: {trainees} trained, {advanced} advanced, {evaluations} evaluated, "
        "{advanced_evaluations} advanced evaluated",
        **counts,
    ).dumps()


def _recommended(d: Mapping[str, Any]) -> str:
    if d.get("rank") is None:
        return T_("{recommender} round {round}", recommender=d["recommender"], round=d["round"]).dumps()
    return T_(
        "{recommender} round {round} rank {rank}",
        recommender=d["recommender"],
        round=d["round"],
        rank=d["rank"],
    ).dumps()


def _reviewed(d: Mapping[str, Any]) -> str:
    said = (
        T_("panel {panel}, recommended", panel=d["panel"])
        if d["recommended"]
        else T_("panel {panel}, not recommended", panel=d["panel"])
    )
    if d.get("opinion"):
        return T_("{said}: {opinion}", said=said, opinion=d["opinion"]).dumps()
    return said.dumps()


def _evaluation(d: Mapping[str, Any]) -> dict[str, Any]:
    """The codes (English) and their labels (Chinese)."""
    return {
        "kind": d["kind"],
        "result": d["result"],
        "kind_label": lazy("evaluation", d["kind"]),
        "result_label": lazy("result", d["result"]),
    }


def _notice(d: Mapping[str, Any]) -> str:
    values = {"start": _value(d["start"]), "end": _value(d["end"]), "objections": d["objections"]}
    if d.get("where"):
        return T_("{start}..{end}, objections {objections}, {where}", where=d["where"], **values).dumps()
    return T_("{start}..{end}, objections {objections}", **values).dumps()


# what each kind of event says in brief (its amount and voucher have their own columns); words of
# the ledger's are stored as their catalogue id and values (ledger.i18n.Text), read in the
# reader's language (projections.reports.history)
def _applied(d: Mapping[str, Any]) -> str:
    values = {
        "programme": d["programme"],
        "base_id": d["base_id"],
        "base_name": d["base_name"],
        "projects": "、".join(map(str, d["projects"])),
    }
    if d.get("track"):  # a municipal base's kind (002 二(二)); none before kinds, or none named
        return T_(
            "{programme} {base_id} {base_name}; projects {projects}; kind {track}",
            track=lazy("track", d["track"]),
            **values,
        ).dumps()
    return T_("{programme} {base_id} {base_name}; projects {projects}", **values).dumps()


def _approved(d: Mapping[str, Any]) -> str:
    values = {
        "document": d["document"],
        "bodies": "、".join(map(str, d["bodies"])),
        "start": _value(d["build_start"]),
        "end": _value(d["build_end"]),
    }
    if d.get("tier"):  # a national base's tier (002 二(一)); none before tiers, or none named
        return T_("{document}; {bodies}; build {start}..{end}; tier {tier}", tier=d["tier"], **values).dumps()
    return T_("{document}; {bodies}; build {start}..{end}", **values).dumps()


DETAILS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "Applied": _applied,
    "Recommended": _recommended,
    "ReviewRecorded": _reviewed,
    "NoticeRecorded": _notice,
    "Approved": _approved,
    "Rejected": lambda d: f"{d['document']}: {d['reason']}",
    "BudgetRegistered": _lines,
    "BudgetAdjusted": lambda d: (
        f"{d['approval']}: {_lines(d)}" + (f" ({d['reason']})" if d.get("reason") else "")
    ),
    "OutputReported": _output,
    "EvaluationRecorded": lambda d: (
        T_("{kind}: {result} by {evaluator}", evaluator=d["evaluator"], **_evaluation(d))
        if d.get("evaluator")
        else T_("{kind}: {result}", **_evaluation(d))
    ).dumps(),
    "RectificationOrdered": lambda d: T_(
        "{ref}: {finding} (by {deadline})", ref=d["ref"], finding=d["finding"], deadline=_value(d["deadline"])
    ).dumps(),
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
    # the build period as it stood on a day, and a national base's tier (findings)
    "Approved": ("build_start", "build_end", "tier"),
    "Applied": ("track",),  # a municipal base's kind (findings: the count a round selects)
    "Extended": ("end",),
    "EvaluationRecorded": ("kind",),  # the oversight an institute has had by a day (findings)
}


def facts(kind: str, d: Mapping[str, Any]) -> str:
    wanted = FACTS.get(kind)
    if wanted is None:
        return ""
    kept: dict[str, Any] = {}
    for k in wanted:
        if k in ("tier", "track") and k not in d:  # an act stored before them
            continue
        if k in ("deadline", "end", "build_start", "build_end"):
            kept[k] = _value(d[k])
        elif k == "lines":
            kept[k] = {n: _value(v) for n, v in d[k].items()}
        else:
            kept[k] = d[k]
    return json.dumps(kept, ensure_ascii=False) if kept else ""  # an application stored before kinds


def describe(kind: str, d: Mapping[str, Any]) -> str:
    """What a stored event of the grant says in brief (a reversal: why; a disposal: its approval)."""
    found = DETAILS.get(kind)
    if found is not None:
        return found(d)
    if "reason" in d:
        return str(d["reason"])
    return ""


def in_log_order(conn: Any, query: Any) -> list[Any]:
    """The rows of a query of some grants' acts of some kinds, in the order they were stored.
    The query leaves out ORDER BY: asked for it, the database walks every act of the grants by
    (aggregate_id, notification_id) instead of seeking the few of those kinds by
    (aggregate_id, kind); the rows, few, are put in order here. The query selects notification_id."""
    return sorted(conn.execute(query).all(), key=lambda row: row.notification_id)


_insert = BulkInsert(history_acts, dates=["occurred_on"], moments=["recorded_at"])


class ActsProjection:
    name = NAME
    tables = TABLES

    def apply(self, session: Session, batch: Sequence[StoredRecord]) -> None:
        rows: list[tuple[Any, ...]] = []
        written = _insert.written_moments(session)
        for r in batch:
            if not r.topic.startswith(GRANT):
                continue
            read = reading(r)
            if read is not None and read.kind == SPEND:
                continue  # its history line is its movement alone (describe says nothing of it)
            kind = r.topic[len(GRANT) :]
            d = r.data
            name = read.kind if read is not None else KINDS.get(kind, kind)
            if kind == "OutputReported" and d.get("corrects"):
                name = "output_correct"
            rows.append(
                (
                    r.id,
                    r.aggregate_id,
                    d["occurred_on"]["_data_"],
                    written_at(r) if written else d["timestamp"]["_data_"],
                    name,
                    str(d.get("actor", "")),
                    str(d.get("role", "")),
                    describe(kind, d),
                    facts(kind, d),
                )
            )
        _insert(session, rows, written)
