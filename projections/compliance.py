"""The compliance projection: the read model behind ``report findings``.

Per grant it keeps money, build period, yearly outputs and rectifications, and the findings of
the judge (:mod:`projections.judge`) on every stored event. The report itself is
:mod:`projections.findings` (``findings`` and ``Finding`` stay importable from here).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import bindparam, create_engine, delete, insert, select, update
from sqlalchemy.orm import Session

from projections.balances import APPLIED, known_grants
from projections.findings import Finding, findings
from projections.judge import ACTIONS, GRANT_FIELDS, JudgedGrant, first_breach
from projections.names import COMPLIANCE as NAME
from projections.records import GRANT, StoredRecord, day
from projections.schema import (
    compliance_events,
    compliance_facts,
    compliance_grants,
    compliance_outputs,
    compliance_rectifications,
)

__all__ = ["NAME", "TABLES", "ComplianceComputer", "ComplianceProjection", "Finding", "findings"]

TABLES = (
    compliance_grants,
    compliance_outputs,
    compliance_rectifications,
    compliance_events,
    compliance_facts,
)
KEPT = (compliance_grants, compliance_outputs, compliance_rectifications, compliance_facts)

_UPDATE_GRANT = (
    update(compliance_grants)
    .where(compliance_grants.c.grant_id == bindparam("key"))
    .values({k: bindparam(f"new_{k}") for k in GRANT_FIELDS})
)
_DELETE_OUTPUT = delete(compliance_outputs).where(
    (compliance_outputs.c.grant_id == bindparam("key_grant"))
    & (compliance_outputs.c.year == bindparam("key_year"))
)
_UPDATE_FACTS = (
    update(compliance_facts)
    .where(compliance_facts.c.aggregate_id == bindparam("key"))
    .values(facts=bindparam("new_facts"))
)
_COMPLETE_RECTIFICATION = (
    update(compliance_rectifications)
    .where(compliance_rectifications.c.grant_id == bindparam("key_grant"))
    .where(compliance_rectifications.c.ref == bindparam("key_ref"))
    .values(completed_on=bindparam("done"))
)


class _Writes:
    """What a batch writes, gathered in memory and written with one executemany per statement."""

    def __init__(self) -> None:
        self.findings: list[dict[str, Any]] = []
        self.outputs: dict[tuple[str, int], dict[str, Any]] = {}  # the last report of a year wins
        self.ordered: dict[tuple[str, str], dict[str, Any]] = {}
        self.completed: list[dict[str, Any]] = []

    def output(self, gid: str, d: dict[str, Any]) -> None:
        self.outputs[(gid, d["year"])] = {
            "grant_id": gid,
            "year": d["year"],
            "trainees": d["trainees"],
            "advanced": d["advanced"],
            "evaluations": d["evaluations"],
            "advanced_evaluations": d["advanced_evaluations"],
        }

    def rectification(self, gid: str, d: dict[str, Any]) -> None:
        row = {"grant_id": gid, "ref": d["ref"], "finding": d["finding"], "deadline": day(d["deadline"])}
        self.ordered[(gid, d["ref"])] = row | {"completed_on": None}

    def completion(self, gid: str, d: dict[str, Any]) -> None:
        on = day(d["occurred_on"])
        pending = self.ordered.get((gid, d["ref"]))
        if pending is not None:  # ordered in this same batch: written complete
            pending["completed_on"] = on
        else:
            self.completed.append({"key_grant": gid, "key_ref": d["ref"], "done": on})

    def write(self, session: Session) -> None:
        if self.outputs:
            keys = [{"key_grant": gid, "key_year": year} for gid, year in self.outputs]
            session.execute(_DELETE_OUTPUT, keys)
            session.execute(insert(compliance_outputs), list(self.outputs.values()))
        if self.ordered:
            session.execute(insert(compliance_rectifications), list(self.ordered.values()))
        if self.completed:
            session.execute(_COMPLETE_RECTIFICATION, self.completed)
        if self.findings:
            session.execute(insert(compliance_events), self.findings)


def _facts(text: str) -> dict[str, Any]:
    """A grant's stored facts (JSON of ints, texts, lists and dicts), as ``json.loads`` reads them:
    by orjson, which reads a large grant's facts in under half the time, when what it read
    writes back as the very text (it reads an int past 64 bits as a float, which would not);
    else (such an int, text escaped as the facts' ASCII JSON escapes it, a lone surrogate's
    escape, which orjson refuses) by json. Writing back costs a quarter of the reading; a search for a
    long run of digits cost four times the reading itself."""
    try:
        read: dict[str, Any] = orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    else:
        if orjson.dumps(read) == text.encode():
            return read
    facts: dict[str, Any] = json.loads(text)
    return facts


# a grant's compliance_grants row, by these keys, and its facts as JSON (None: kept by an
# earlier version, which had none)
ROW_KEYS = tuple(c.name for c in compliance_grants.columns)
_GRANT_ID = ROW_KEYS.index("grant_id")
_UPDATED = [(f"new_{k}", ROW_KEYS.index(k)) for k in GRANT_FIELDS]  # the UPDATE's values, by position
Kept = tuple[tuple[Any, ...], str | None]


def _kept(grant: JudgedGrant) -> Kept:
    row = grant.row
    return tuple([row[k] for k in ROW_KEYS]), grant.facts_json()


class ComplianceProjection:
    """``decided``: the batches are events an import has just decided, each after the aggregate
    ran every rule of its action (``ledger.rules.first_of``, the function the judge calls) on the
    same facts; they are replayed into the facts but not judged a second time. Everything else
    (a rebuild, ``projections verify``, events another writer stored) is judged event by event."""

    name = NAME
    tables = TABLES

    def __init__(self, *, decided: bool = False, held: int = 0, remembered: int = 0, live: int = 0) -> None:
        self.decided = decided
        self.held = held  # as the balance projection's (projections.balances)
        self._held: dict[str, Kept] = {}  # compact: its row as a tuple, its facts as JSON
        self._new: set[str] = set()  # those held (compact or live) not yet written
        # up to ``live`` grants held as judged between batches, the last touched kept, the others
        # written: their facts neither read from JSON nor written as JSON at each batch, which was
        # most of the judge's time in a rebuild (a large grant's facts take about 100 KB as objects)
        self.live = live
        self._live: OrderedDict[str, JudgedGrant] = OrderedDict()
        # a server's: up to ``remembered`` grants as its last commit wrote them, read from here
        # instead of their rows (and their facts' JSON) while no other process has moved the
        # projection since (projections.runner.Remembering)
        self.remembered = remembered
        self._memo: OrderedDict[str, JudgedGrant] = OrderedDict()
        self._memo_at: int | None = None  # the position the grants remembered stand at
        self._memo_open = False  # a batch begun and not yet settled: remember its grants

    def begin(self, standing: int) -> None:
        if self._memo_at != standing:  # another process moved the rows since: they hold what counts
            self._memo.clear()
        self._memo_at = None  # until the batch's transaction is settled
        self._memo_open = self.remembered > 0

    def settled(self, last: int | None) -> None:
        self._memo_open = False
        if last is None:  # nothing written, yet the grants remembered were advanced: forget them
            self._memo.clear()
            return
        self._memo_at = last
        while len(self._memo) > self.remembered:
            self._memo.popitem(last=False)

    def apply(self, session: Session, batch: Sequence[StoredRecord]) -> None:
        mine = [r for r in batch if r.topic.startswith(GRANT)]
        if not mine:
            return
        memo = self._memo if self._memo_open else None
        grants, new = self._grants(session, mine, self._held, memo, self._live)
        writes = _Writes()
        decided = self.decided
        for r in mine:
            grant = grants.get(r.aggregate_id)
            kind = r.topic[len(GRANT) :]
            if grant is None or kind == "Applied":  # an event before its application: not ours to judge
                continue
            breach = None if decided and kind in ACTIONS else first_breach(grant, kind, r.data)
            if breach is not None:
                writes.findings.append(
                    {
                        "notification_id": r.id,
                        "grant_id": grant.grant_id,
                        "base_id": grant.row["base_id"],
                        "occurred_on": day(r.data["occurred_on"]),
                        "rule": breach.rule,
                        "clause": breach.clause.key,
                        "message": breach.text.dumps(),  # rendered in the reader's language
                    }
                )
            grant.advance(kind, r.data)
            if kind == "OutputReported":
                writes.output(grant.grant_id, r.data)
            elif kind == "RectificationOrdered":
                writes.rectification(grant.grant_id, r.data)
            elif kind == "RectificationCompleted":
                writes.completion(grant.grant_id, r.data)
        writes.write(session)
        if self.live:
            self._hold_live(session, grants, new)
            return
        if not self.held:
            self._write_grants(session, {a: _kept(g) for a, g in grants.items()}, new)
            if memo is not None:
                for aggregate_id, grant in grants.items():
                    memo[aggregate_id] = grant
                    memo.move_to_end(aggregate_id)
            return
        for aggregate_id, grant in grants.items():
            self._held[aggregate_id] = _kept(grant)
        self._new |= new
        if len(self._held) > self.held:
            self.write_held(session)

    def _hold_live(self, session: Session, grants: dict[str, JudgedGrant], new: set[str]) -> None:
        live = self._live
        for aggregate_id, grant in grants.items():
            live[aggregate_id] = grant
            live.move_to_end(aggregate_id)
        self._new |= new
        if len(live) > self.live:
            out = {}
            while len(live) > self.live:
                aggregate_id, grant = live.popitem(last=False)
                out[aggregate_id] = _kept(grant)
            self._write_grants(session, out, self._new & out.keys())
            self._new -= out.keys()

    def write_held(self, session: Session) -> None:
        """Write the grants held in memory (``held``, ``live``), and hold none."""
        held = self._held | {a: _kept(g) for a, g in self._live.items()}
        self._write_grants(session, held, self._new)
        self._held, self._new = {}, set()
        self._live.clear()

    @staticmethod
    def _grants(
        session: Session,
        mine: Sequence[StoredRecord],
        held: dict[str, Kept],
        memo: dict[str, JudgedGrant] | None = None,
        live: dict[str, JudgedGrant] | None = None,
    ) -> tuple[dict[str, JudgedGrant], set[str]]:
        grants = {r.aggregate_id: JudgedGrant.applied(r) for r in mine if r.topic == APPLIED}
        new = set(grants)
        for judged in (live, memo):  # grants held as judged: this process's own, or a server's
            if judged:
                for r in mine:
                    found = judged.get(r.aggregate_id)
                    if found is not None and r.aggregate_id not in grants:
                        grants[r.aggregate_id] = found
        for r in mine:
            kept = held.get(r.aggregate_id)
            if kept is not None and r.aggregate_id not in grants:
                values, text = kept
                grants[r.aggregate_id] = JudgedGrant(
                    dict(zip(ROW_KEYS, values, strict=True)), None if text is None else _facts(text)
                )
        earlier = {r.aggregate_id for r in mine} - grants.keys()
        facts = known_grants(session, compliance_facts, earlier)
        for aggregate_id, row in known_grants(session, compliance_grants, earlier).items():
            kept = facts.get(aggregate_id)
            grants[aggregate_id] = JudgedGrant(
                dict(row._mapping), None if kept is None else _facts(kept.facts)
            )
        return grants, new

    @staticmethod
    def _write_grants(session: Session, grants: dict[str, Kept], new: set[str]) -> None:
        grant_id = _GRANT_ID
        if new:
            session.execute(
                insert(compliance_grants), [dict(zip(ROW_KEYS, grants[a][0], strict=True)) for a in new]
            )
            session.execute(
                insert(compliance_facts),
                [{"aggregate_id": a, "grant_id": grants[a][0][grant_id], "facts": grants[a][1]} for a in new],
            )
        changed = [(a, kept) for a, kept in grants.items() if a not in new]
        if changed:
            rows = [
                {"key": values[grant_id], **{n: values[i] for n, i in _UPDATED}} for _, (values, _) in changed
            ]
            session.execute(_UPDATE_GRANT, rows)
            facts = [{"key": a, "new_facts": text} for a, (_, text) in changed if text is not None]
            if facts:
                session.execute(_UPDATE_FACTS, facts)

    # A rebuild may compute this projection in a second process (``projections.rebuild``), by
    # this very code on a scratch database: the findings come from it batch by batch, the rows
    # kept per grant (grants, outputs, rectifications) at the end; here they are inserted.

    def computer(self) -> ComplianceComputer:
        return ComplianceComputer(self)

    def write_part(
        self,
        session: Session,
        part: tuple[str, dict[str, list[tuple[Any, ...]]]],
        rows: Sequence[Any] | None = None,
    ) -> None:
        _, tables = part
        for table in TABLES:
            found = tables.get(table.name)
            if found:
                names = [c.name for c in table.columns]
                session.execute(insert(table), [dict(zip(names, row, strict=True)) for row in found])


LIVE_GRANTS = 1_000  # a rebuild's second process holds this many as judged (about 100 MB at most)


class ComplianceComputer:
    """The projection applied to an in-memory SQLite database, from empty, holding its last
    ``LIVE_GRANTS`` grants as judged between batches."""

    def __init__(self, projection: ComplianceProjection) -> None:
        self.projection = ComplianceProjection(decided=projection.decided, live=LIVE_GRANTS)
        self.engine = create_engine("sqlite://")
        self.conn = self.engine.connect()
        self.conn.begin()
        for table in TABLES:
            table.create(self.conn)
        self.session = Session(bind=self.conn)

    uses_records = True
    uses_canonical = False

    def compute(
        self, rows: Sequence[Any], records: Sequence[StoredRecord] | None
    ) -> tuple[str, dict[str, list[tuple[Any, ...]]]]:
        assert records is not None
        self.projection.apply(self.session, records)
        found = [tuple(r) for r in self.conn.execute(select(compliance_events))]
        if found:
            self.conn.execute(delete(compliance_events))
        return "findings", {compliance_events.name: found}

    def finish(self) -> tuple[str, dict[str, list[tuple[Any, ...]]]]:
        self.projection.write_held(self.session)
        tables = {t.name: [tuple(r) for r in self.conn.execute(select(t))] for t in KEPT}
        self.session.close()
        self.conn.close()
        self.engine.dispose()
        return "kept", tables
