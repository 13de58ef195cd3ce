"""What waits for an approver's act (``grant pending``): the next step of each selection in
progress — a recommendation (municipal and national bases, 002 五(一)), the expert review, the
public notice, objections to settle, the approval once a notice has run its course — and the
rectifications of approved grants past their deadline (003 第十三条). Read from the acts
projection: every event of every grant, in order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ledger.i18n import _
from projections.acts import STATUS_AFTER, in_log_order
from projections.queries import stored_time
from projections.schema import grants, history_acts

NEEDS_RECOMMENDATION = ("municipal", "national")
STEPS = ("recommend", "review", "notice", "resolve_objections", "rectify_order", "rectify_complete")


@dataclass(frozen=True)
class Pending:
    base_id: str
    grant_id: str
    programme: str
    step: (
        str  # recommend | review | rereview_or_reject | notice | resolve_objections | approve | rectification
    )
    since: date | None  # the day it has waited from (the act before it, or a deadline)
    detail: str


def _selection(g: Any, acts: list[Any], level: str, today: date) -> Pending | None:
    def pending(step: str, since: date | None, detail: str) -> Pending:
        return Pending(g.base_id, g.grant_id, g.programme, step, since, detail)

    recommended = [a for a in acts if a.kind == "recommend"]
    if level in NEEDS_RECOMMENDATION and not recommended:
        return pending("recommend", g.applied_on, _("a municipal or national base is recommended first"))
    reviews = [a for a in acts if a.kind == "review"]
    if not reviews:
        since = recommended[-1].occurred_on if recommended else g.applied_on
        return pending("review", since, _("awaits the expert review"))
    review = reviews[-1]
    if not json.loads(review.data or "{}").get("recommended", False):
        words = _("the review did not recommend it: reject, or review it again with --rereview-reason")
        return pending("rereview_or_reject", review.occurred_on, words)
    after = [a for a in acts if a.notification_id > review.notification_id]
    notices = [a for a in after if a.kind == "notice"]
    if not notices:
        return pending("notice", review.occurred_on, _("recommended by the review: awaits the public notice"))
    notice = notices[-1]
    facts = json.loads(notice.data or "{}")
    end = date.fromisoformat(facts["end"]) if facts.get("end") else notice.occurred_on
    objections = int(facts.get("objections", 0))
    resolved = any(
        a.kind == "resolve_objections" and a.notification_id > notice.notification_id for a in acts
    )
    if objections and not resolved:
        words = _("{objections} objection(s) to the notice to settle").format(objections=objections)
        return pending("resolve_objections", end, words)
    if end >= today:
        return None  # the notice still runs
    words = _("the notice ran until {end}: awaits approval or rejection").format(end=end.isoformat())
    return pending("approve", end, words)


def _rectifications(g: Any, acts: list[Any], today: date) -> list[Pending]:
    ordered: dict[str, date] = {}
    for a in acts:
        if a.kind == "rectify_order":
            facts = json.loads(a.data)
            ordered[facts["ref"]] = date.fromisoformat(facts["deadline"])
        elif a.kind == "rectify_complete":
            ordered.pop(json.loads(a.data)["ref"], None)
    return [
        Pending(
            g.base_id,
            g.grant_id,
            g.programme,
            "rectification",
            deadline,
            _("rectification {ref} was due {deadline} and is still open").format(
                ref=ref, deadline=deadline.isoformat()
            ),
        )
        for ref, deadline in sorted(ordered.items(), key=lambda item: (item[1], item[0]))
        if deadline < today
    ]


def pending(
    engine: Engine,
    today: date,
    levels: dict[str, str],
    base_ids: Sequence[str] = (),
    known_at: datetime | None = None,
) -> list[Pending]:
    """As the books stood at the end of ``today`` (acts dated later are not yet done);
    ``known_at``: as the ledger knew them at that moment (a grant applied for, or an act
    recorded, later is not in them: the step it did still waits); ``levels``: each
    programme's level (district, municipal, national, institute)."""
    query = select(grants).where(grants.c.applied_on <= today).order_by(grants.c.base_id, grants.c.grant_id)
    if base_ids:
        query = query.where(grants.c.base_id.in_(list(base_ids)))
    moment = stored_time(engine, known_at) if known_at is not None else None
    if moment is not None:
        query = query.where(grants.c.recorded_at <= moment)
    a = history_acts.c
    found: list[Pending] = []
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        wanted = {r.aggregate_id for r in rows}
        acts: dict[str, list[Any]] = {}
        steps = select(a.notification_id, a.aggregate_id, a.kind, a.occurred_on, a.data).where(
            a.kind.in_((*STEPS, *STATUS_AFTER)), a.occurred_on <= today
        )
        if moment is not None:
            steps = steps.where(a.recorded_at <= moment)
        if len(wanted) < 500:
            steps = steps.where(a.aggregate_id.in_(list(wanted)))
        for act in in_log_order(conn, steps):
            if act.aggregate_id in wanted:
                acts.setdefault(act.aggregate_id, []).append(act)
    for g in rows:
        mine = acts.get(g.aggregate_id, [])
        status = "applied"
        for act in mine:
            status = STATUS_AFTER.get(act.kind, status)
        if status == "applied":
            step = _selection(g, mine, levels.get(g.programme, ""), today)
            if step is not None:
                found.append(step)
        elif status == "approved":
            found.extend(_rectifications(g, mine, today))
    return found
