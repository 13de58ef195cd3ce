"""The findings report: what an auditor is warned about (not refusals), judged on a day.

Stored events that broke a rule were found by the judge (:mod:`projections.judge`) and kept by
the compliance projection (:mod:`projections.compliance`); the findings that depend on the day
they are read (overdue rectifications, low execution late in the build period, matching below
1:1, outputs below target) are judged here from its tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType, SimpleNamespace
from typing import Any

from sqlalchemy import JSON, cast, func, select
from sqlalchemy.engine import Engine

from ledger.conditions import application_breaches, output_breaches
from ledger.i18n import Text
from ledger.money import from_fen
from ledger.policy import Policy, Programme, all_policies
from ledger.rules import (
    SOURCES,
    Breach,
    build_clause,
    disposed_after_build_period,
    execution_on_track,
    institute_overseen,
    matching_at_least_ratio,
    rectification_on_time,
    selected_group,
    selection_count,
    tier_count,
    track_count,
)
from projections.acts import STATUS_AFTER, in_log_order
from projections.judge import policy_on
from projections.measures import SPEND, available_in
from projections.periods import KINDS as PERIOD_KINDS
from projections.periods import period_after
from projections.queries import stored_time
from projections.schema import (
    compliance_events,
    compliance_facts,
    compliance_grants,
    history_acts,
    movements,
)
from projections.schema import grants as balance_grants


@dataclass(frozen=True)
class Finding:
    base_id: str
    grant_id: str
    rule: str
    clause: str
    occurred_on: date | None
    message: str


def _finding(row: Any, breach: Breach | None, on: date | None = None) -> Finding | None:
    if breach is None:
        return None
    return Finding(row.base_id, row.grant_id, breach.rule, breach.clause.cite, on, breach.message)


class _Books:
    """A grant's facts as of a day, from the events dated on or before it: its status, its build
    period, the latest report of each year, its rectifications (ref -> deadline, completed on),
    the kinds of evaluation it has had. A build period or an evaluation kept by an earlier
    version, which did not keep them per event, is read from the grant (``g``) as it stands."""

    def __init__(self, rows: Sequence[Any], g: Any) -> None:
        self.status = "applied"
        self.build_start: date | None = g.build_start
        self.build_end: date | None = g.build_end
        self.outputs: dict[int, SimpleNamespace] = {}
        self.rectifications: dict[str, list[Any]] = {}
        self.evaluated: list[str] | None = []
        for r in rows:
            if r.kind in PERIOD_KINDS:
                self.build_start, self.build_end = period_after(
                    (self.build_start, self.build_end), r.kind, r.data
                )
            if r.kind in STATUS_AFTER:
                self.status = STATUS_AFTER[r.kind]
            elif r.kind == "evaluate":
                kind = json.loads(r.data)["kind"] if r.data else None
                if kind is None or self.evaluated is None:
                    self.evaluated = None
                elif kind not in self.evaluated:
                    self.evaluated.append(kind)
            elif r.kind in ("output", "output_correct"):
                d = json.loads(r.data)
                self.outputs[int(d["year"])] = SimpleNamespace(**d)
            elif r.kind == "rectify_order":
                d = json.loads(r.data)
                self.rectifications[d["ref"]] = [date.fromisoformat(d["deadline"]), None]
            elif r.kind == "rectify_complete":
                found = self.rectifications.get(json.loads(r.data)["ref"])
                if found is not None:
                    found[1] = r.occurred_on


_READ = (
    *STATUS_AFTER,
    *PERIOD_KINDS,
    "evaluate",
    "output",
    "output_correct",
    "rectify_order",
    "rectify_complete",
)


# grants whose findings' records are read together (each query's list of them)
SELECT_CHUNK = 500


class _Kept:
    """What the findings read of some grants, in three queries: the findings the projection kept
    (dated by ``today``, recorded by ``moment``), each application's declared facts, and the acts
    the books are made of, each grant's in log order."""

    def __init__(self, conn: Any, grants: Sequence[Any], today: date, moment: datetime | None) -> None:
        self.events: dict[str, list[Any]] = {}
        self.applied: dict[str, dict[str, Any]] = {}
        self.acts: dict[str, list[Any]] = {}
        if not grants:
            return
        ids = [g.grant_id for g in grants]
        keys = [g.aggregate_id for g in grants]
        a = history_acts.c
        e = compliance_events.c
        stored = select(compliance_events).where(e.grant_id.in_(ids), e.occurred_on <= today)
        if moment is not None:  # each event's finding is kept under its own notification id
            m = movements.c
            recorded = select(a.notification_id).where(a.aggregate_id.in_(keys), a.recorded_at <= moment)
            # a spend has no act: its movement says when it was recorded (projections.acts)
            spent = select(m.notification_id).where(
                m.grant_id.in_(ids), m.kind == SPEND, m.recorded_at <= moment
            )
            stored = stored.where(e.notification_id.in_(recorded.union_all(spent)))
        for row in conn.execute(stored.order_by(e.notification_id)).all():
            self.events.setdefault(row.grant_id, []).append(row)
        f = compliance_facts.c
        for key, text in conn.execute(
            select(f.aggregate_id, _applied(conn, f.facts)).where(f.aggregate_id.in_(keys))
        ):
            self.applied[key] = json.loads(text) if text else {}
        read = select(a.aggregate_id, a.notification_id, a.kind, a.occurred_on, a.data).where(
            a.aggregate_id.in_(keys), a.occurred_on <= today, a.kind.in_(_READ)
        )
        if moment is not None:
            read = read.where(a.recorded_at <= moment)
        for row in in_log_order(conn, read):
            self.acts.setdefault(row.aggregate_id, []).append(row)


def _applied(conn: Any, facts: Any) -> Any:
    """The application's facts out of a grant's kept facts, as JSON text, taken out by the
    database (the facts hold every day's spending too: tens of kilobytes on a long history)."""
    if conn.dialect.name == "postgresql":
        return func.json_extract_path_text(cast(facts, JSON), "applied")
    return func.json_extract(facts, "$.applied")


# The last count across every grant and what it was counted from: the web's overview asks for it
# at every request, for a page of bases, and counting 20,000 grants' approvals took most of the page
_last_count: tuple[tuple[Any, ...], tuple[Policy, ...], Mapping[str, tuple[Breach, date]]] | None = None


def _selected_past_count_kept(
    conn: Any, counted: set[str], today: date, moment: datetime | None
) -> Mapping[str, tuple[Breach, date]]:
    """``_selected_past_count``, counted again only when what it reads has changed: a grant applied
    for or approved (an act recorded, the last of which is named by its id, time and grant, so that
    a ledger made again at the same place is not taken for the one before), a grant known to the
    compliance tables, a policy version installed, the day or the moment asked about. A spend
    changes none of them."""
    global _last_count
    a = history_acts.c
    last = conn.execute(
        select(a.notification_id, a.recorded_at, a.aggregate_id).order_by(a.notification_id.desc()).limit(1)
    ).first()
    known = conn.execute(select(func.count()).select_from(compliance_grants)).scalar()
    key = (str(conn.engine.url), tuple(last or ()), known, today, moment, tuple(sorted(counted)))
    policies = all_policies()
    kept = _last_count
    if kept is not None and kept[0] == key and len(kept[1]) == len(policies):
        if all(was is now for was, now in zip(kept[1], policies, strict=True)):
            return kept[2]
    found = MappingProxyType(_selected_past_count(conn, counted, today, moment))  # no caller changes it
    _last_count = (key, policies, found)
    return found


def _selected_past_count(
    conn: Any, counted: set[str], today: date, moment: datetime | None
) -> dict[str, tuple[Breach, date]]:
    """Each approval past the count its round selects (002 二), by grant id with its date: the
    round's approvals of a programme in the order approved (by date, then as stored), whatever
    bases the report asks for. A grant's round is its programme's document's in the version in
    force on its application's date; the round's count, the version in force on the approval's
    date if it states that round (a version installed mid-round), else the application's."""
    c = compliance_grants.c
    grants = {
        r.aggregate_id: r
        for r in conn.execute(
            select(c.aggregate_id, c.grant_id, c.programme, c.applied_on).where(
                c.programme.in_(sorted(counted))
            )
        )
    }
    approvals: list[Any] = []
    tracks: dict[str, str] = {}
    a = history_acts.c
    keys = list(grants)
    for n in range(0, len(keys), SELECT_CHUNK):  # each grant's approval by its (grant, kind) index
        query = select(a.aggregate_id, a.kind, a.occurred_on, a.notification_id, a.data).where(
            a.aggregate_id.in_(keys[n : n + SELECT_CHUNK]),
            a.kind.in_(("apply", "approve")),
            a.occurred_on <= today,
        )
        if moment is not None:
            query = query.where(a.recorded_at <= moment)
        for row in conn.execute(query):
            if row.kind == "approve":
                approvals.append(row)
            elif row.data:  # the kind a municipal application named
                tracks[row.aggregate_id] = str(json.loads(row.data).get("track", ""))
    found: dict[str, tuple[Breach, date]] = {}
    seen: dict[tuple[str, str], int] = {}
    seen_of_group: dict[tuple[str, str, tuple[str, ...]], int] = {}
    for r in sorted(approvals, key=lambda r: (r.occurred_on, r.notification_id)):
        g = grants[r.aggregate_id]
        programme, round_ = _round_of(policy_on(g.applied_on), g.programme)
        if programme is None or round_ is None:
            continue
        then, then_round = _round_of(policy_on(r.occurred_on), g.programme)
        if then is not None and then_round == round_:
            programme = then
        key = (g.programme, round_)
        seen[key] = seen.get(key, 0) + 1
        breach = selection_count(g.grant_id, programme, round_, seen[key])
        tier = str(json.loads(r.data).get("tier", "")) if r.data else ""
        # of those of its tier, of its kind (an approval or application naming none: of the whole only)
        for value, groups, judged in (
            (tier, programme.selects_tiers, tier_count),
            (tracks.get(r.aggregate_id, ""), programme.selects_tracks, track_count),
        ):
            group = selected_group(groups, value)
            if group is not None:
                within = (g.programme, round_, group[0])
                seen_of_group[within] = seen_of_group.get(within, 0) + 1
                breach = breach or judged(g.grant_id, programme, round_, value, group, seen_of_group[within])
        if breach is not None:
            found[g.grant_id] = (breach, r.occurred_on)
    return found


def _round_of(version: Policy, code: str) -> tuple[Programme | None, str | None]:
    """The programme as ``version`` states it, and the round its document announces (None: none)."""
    programme = version.programmes.get(code)
    document = version.documents.get(programme.document or "") if programme is not None else None
    return programme, document.round if document is not None else None


def oversight_due(conn: Any, g: Any, books: _Books, level: str, today: date, policy: Policy) -> Breach | None:
    """An institute whose build period has ended without a third-party audit or a final
    evaluation recorded (000 第十五条); a grant closed had both."""
    end = books.build_end
    if level != "institute" or books.status != "approved" or end is None or today <= end:
        return None
    evaluated = books.evaluated
    if evaluated is None:
        kept = conn.execute(
            select(compliance_facts.c.facts).where(compliance_facts.c.aggregate_id == g.aggregate_id)
        ).scalar()
        evaluated = None if kept is None else json.loads(kept).get("evaluated")
    if evaluated is None:  # kept by an earlier version, which did not keep evaluations: not known
        return None
    return institute_overseen(g.grant_id, level, evaluated, policy)


def findings(
    engine: Engine, today: date, base_ids: Sequence[str] = (), known_at: datetime | None = None
) -> list[Finding]:
    """Every finding, per base and grant, as judged on ``today`` from the books as they stood at
    its end: what was dated later (a report, a rectification ordered, money, a closure) is not
    yet in them; ``known_at``: nor what was recorded after that moment (a grant applied for, a
    breach, a completion or a reversal recorded later), as the ledger knew it then."""
    from projections.reports import _totals  # the movements' totals as of a business date

    policy = policy_on(today)
    query = (
        select(compliance_grants)
        .where(compliance_grants.c.applied_on <= today)
        .order_by(compliance_grants.c.base_id, compliance_grants.c.grant_id)
    )
    if base_ids:
        query = query.where(compliance_grants.c.base_id.in_(list(base_ids)))
    moment = stored_time(engine, known_at) if known_at is not None else None
    if moment is not None:  # the application recorded by then, as every report reads a grant
        recorded = select(balance_grants.c.aggregate_id).where(balance_grants.c.recorded_at <= moment)
        query = query.where(compliance_grants.c.aggregate_id.in_(recorded))
    totals = _totals(engine, base_ids, today, known_at)
    result: list[Finding | None] = []
    with engine.connect() as conn:
        grants = conn.execute(query).all()
        counted = {code for v in all_policies() for code, p in v.programmes.items() if p.selects}
        # a count across every grant, asked only when a grant read is of a programme counted
        selected = (
            _selected_past_count_kept(conn, counted, today, moment)
            if any(g.programme in counted for g in grants)
            else {}
        )
        kept = _Kept(conn, [], today, moment)
        for n, g in enumerate(grants):
            if n % SELECT_CHUNK == 0:  # what the next grants' judgement reads, a few queries for all
                kept = _Kept(conn, grants[n : n + SELECT_CHUNK], today, moment)
            programme = policy.programme(g.programme)
            for e in kept.events.get(g.grant_id, ()):
                clause = policy_on(e.occurred_on).clause(e.clause)
                message = str(Text.loads(e.message))
                result.append(Finding(g.base_id, g.grant_id, e.rule, clause.cite, e.occurred_on, message))
            applied = kept.applied.get(g.aggregate_id) or {}
            if applied:
                judged = policy_on(g.applied_on).programme(g.programme)
                found = application_breaches(
                    g.grant_id,
                    judged,
                    applied.get("unit_kind", ""),
                    applied.get("declared"),
                    applied.get("projects"),
                )
                result.extend(_finding(g, b, g.applied_on) for b in found)
            if g.grant_id in selected:
                result.append(_finding(g, *selected[g.grant_id]))
            books = _Books(kept.acts.get(g.aggregate_id, ()), g)
            if books.status not in ("approved", "closed"):
                continue
            t = totals.get(g.grant_id, {})
            subsidy_received = from_fen(t.get("subsidy_received", 0))
            matching_received = from_fen(t.get("matching_received", 0))
            result.append(
                _finding(
                    g, matching_at_least_ratio(g.grant_id, programme, subsidy_received, matching_received)
                )
            )
            for year in sorted(books.outputs):
                found = output_breaches(g.grant_id, programme, books.build_start, books.outputs[year])
                result.extend(_finding(g, b) for b in found)
            supervision = policy.clause(
                "institute_supervision" if programme.level == "institute" else "supervision"
            )
            ordered = sorted(books.rectifications.items(), key=lambda item: (item[1][0], item[0]))
            for ref, (deadline, completed_on) in ordered:
                breach = rectification_on_time(g.grant_id, ref, deadline, completed_on, today, supervision)
                result.append(_finding(g, breach, deadline))
            result.append(
                _finding(g, oversight_due(conn, g, books, programme.level, today, policy), books.build_end)
            )
            if books.status == "approved":
                spent = from_fen(t.get("subsidy_spent", 0) + t.get("matching_spent", 0))
                breach = execution_on_track(
                    g.grant_id,
                    books.build_start,
                    books.build_end,
                    today,
                    subsidy_received + matching_received,
                    spent,
                    supervision,
                )
                result.append(_finding(g, breach))
                build = build_clause(programme, policy)
                for source in SOURCES:
                    held = from_fen(available_in(t, source, 0))
                    breach = disposed_after_build_period(
                        g.grant_id, source, books.build_end, today, held, build
                    )
                    result.append(_finding(g, breach, books.build_end))
    return [f for f in result if f is not None]
