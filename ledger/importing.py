"""Bulk import: rows in the DESIGN.md import format, recorded in one transaction or not at all.

``import_rows`` reads the file once. Each row goes through the real aggregates (the domain rules,
balances carried from row to row); the events are encoded and inserted in batches inside one
database transaction, and the caller's ``on_batch`` (the projections) runs in that transaction
too. A bad row stops the writing but not the checking, so every bad row is listed; then the
transaction is rolled back and nothing is written. Importing the same file again records nothing:
a row already in the ledger with the same content is a repeat.

Memory does not grow with the file: the events go to the database batch by batch, and the
grants' aggregates are kept in a cache bounded by the vouchers they hold; a grant pushed out is
kept as its compressed snapshot and restored from it when a later row needs it.

The file format (one row per action)::

    date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo

- ``approve`` brings a grant approved elsewhere: unit, base, programme required; ``voucher`` is the
  approval document number; ``amount`` the approved amount; ``memo`` may hold the build period as
  ``YYYY-MM-DD..YYYY-MM-DD`` (or only its end), needed when the programme sets none; ``content``
  may hold the base's name and ``payee`` the unit's name (used when the unit is new).
- ``disburse``: ``memo`` may hold the tranche number (default 1).
- ``match_commit``: ``payee`` is the funder.
- ``reverse``: ``memo`` holds the reversed voucher; ``voucher`` the reversal's own reference (its
  reason); ``amount``, when given, must equal the original expenditure's.

This module imports neither ``projections`` nor ``commands``.
"""

from __future__ import annotations

import gc
import inspect
import re
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Notification, StoredEvent
from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import Connection

from ledger.application import GrantLedger
from ledger.database import EVENTS_TABLE
from ledger.encoding import EventRow, StateEncoder
from ledger.errors import BadInputError, ConflictError, LedgerError, NotFoundError, StorageError
from ledger.forked import messages_from_fork
from ledger.grant import Grant
from ledger.money import parse_amount
from ledger.policy import Policy, policy_in_force
from ledger.rules import SOURCES, Breach, raise_first, role_may_record
from ledger.text import CONTROL_BUT_TAB
from ledger.unit import Unit, unit_uuid

HEADER = (
    "date",
    "unit_id",
    "base_id",
    "grant_id",
    "programme",
    "kind",
    "amount",
    "source",
    "category",
    "content",
    "voucher",
    "payee",
    "memo",
)
KINDS = ("approve", "disburse", "match_commit", "match_receive", "spend", "reverse")
_KINDS = frozenset(KINDS)
BATCH_ROWS = 5000
# About 670 bytes of aggregate per voucher held: ~70 MB of grants in memory at most.
CACHE_VOUCHERS = 100_000
SNAPSHOT_BYTES = 8_000_000  # snapshots written at a time, at the end
_PERIOD = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})?\s*(?:\.\.|~|/)?\s*(\d{4}-\d{2}-\d{2})\s*$")
_APPROVE_TAKES_IMPORTED = "imported" in inspect.signature(Grant.approve).parameters

Row = Mapping[str, Any]


@dataclass(frozen=True)
class RowError:
    line: int
    message: str
    exit_code: int


@dataclass
class ImportResult:
    rows: int = 0
    events: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if not self.errors:
            return 0
        return 2 if any(e.exit_code == 2 for e in self.errors) else 3


class _Cells(dict[str, str]):
    """A row of a text file: every column of the header present, every cell a stripped str."""


def _text(row: Row, key: str) -> str:
    value = row.get(key)
    if value.__class__ is str:  # every CSV cell
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _day(row: Row) -> date:
    value = row.get("date")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return _day_of(_text(row, "date"))


def _day_of(text: str) -> date:
    if not text:
        raise BadInputError("date is empty")
    try:
        return date.fromisoformat(text[:10] if len(text) > 10 and text[10] in "T " else text)
    except ValueError:
        msg = f"date {text!r} is not a date; write it like 2024-05-10"
        raise BadInputError(msg) from None


def _amount(row: Row) -> Decimal:
    value = row.get("amount")
    if isinstance(value, float):  # a number cell in a workbook
        value = Decimal(repr(value))
    if isinstance(value, int | Decimal):
        return parse_amount(value)
    return _amount_of(_text(row, "amount"))


def _amount_of(text: str) -> Decimal:
    if not text:
        raise BadInputError("amount is empty")
    return parse_amount(text)


def _required(text: Callable[[str], str], key: str, kind: str) -> str:
    value = text(key)
    if not value:
        msg = f"{key} is required for a {kind} row"
        raise BadInputError(msg)
    return value


class _Books:
    """The aggregates an import touches, each loaded once, with the import's changes applied.

    Grants are cached most-recently-used last; past ``cache_vouchers`` vouchers held in all, the
    least recently used grant is kept only as its compressed snapshot (see ``_evict``).
    """

    def __init__(self, app: GrantLedger, actor: str, role: str, cache_vouchers: int = CACHE_VOUCHERS) -> None:
        self.app = app
        self.encoder = StateEncoder(app.mapper)
        self.actor = actor
        self.role = role
        self.grants: OrderedDict[str, Grant | None] = OrderedDict()
        self.units: dict[str, Unit | None] = {}
        self.touched: dict[Any, Grant | Unit] = {}
        self.changed: dict[Any, tuple[Grant | Unit, int]] = {}  # id -> (aggregate, version at load)
        self.packed: dict[str, _Packed] = {}
        self.cache_vouchers = cache_vouchers
        self.held: dict[str, int] = {}
        self.held_total = 0
        self._policies: dict[date, Policy] = {}
        self._may_import: dict[int, Breach | None] = {}  # id(policy) -> the role rule's verdict

    def policy(self, on: date) -> Policy:
        policy = self._policies.get(on)
        if policy is None:
            policy = self._policies[on] = policy_in_force(on)
        return policy

    def grant(self, grant_id: str) -> Grant | None:
        grants = self.grants
        if grant_id in grants:
            grants.move_to_end(grant_id)
            return grants[grant_id]
        packed = self.packed.pop(grant_id, None)
        if packed is not None:
            found: Any = packed.restore(self.app)
            if found.id in self.changed:
                self.changed[found.id] = (found, self.changed[found.id][1])
        else:
            try:
                found = self.app.load_grant(grant_id)
            except AggregateNotFoundError:
                found = None
        grants[grant_id] = found
        return found

    def unit(self, unit_id: str) -> Unit | None:
        if unit_id not in self.units:
            try:
                found: Any = self.app.repository.get(unit_uuid(unit_id))
            except AggregateNotFoundError:
                found = None
            self.units[unit_id] = found
        return self.units[unit_id]

    def collect(self) -> list[Any]:
        """The events the last row raised, in order; the aggregates remember they changed."""
        events: list[Any] = []
        changed = self.changed
        for key, aggregate in self.touched.items():
            new = aggregate.collect_events()
            if new:
                before = changed.get(key)
                if before is None:
                    changed[key] = (aggregate, new[0].originator_version - 1)
                elif before[0] is not aggregate:
                    changed[key] = (aggregate, before[1])
                events.extend(new)
            if aggregate.__class__ is Grant:
                self._hold(aggregate)
        self.touched.clear()
        return events

    def _hold(self, grant: Grant) -> None:
        now = len(grant.vouchers) + 1
        self.held_total += now - self.held.get(grant.grant_id, 0)
        self.held[grant.grant_id] = now
        while self.held_total > self.cache_vouchers and len(self.grants) > 1:
            self._evict()

    def _evict(self) -> None:
        """Keep the least recently used grant only as its snapshot, compressed (~6 bytes a voucher)."""
        grant_id, grant = self.grants.popitem(last=False)
        self.held_total -= self.held.pop(grant_id, 0)
        if grant is None:
            return
        packed = _Packed.of(self.app, grant, self.encoder)
        self.packed[grant_id] = packed
        if grant.id in self.changed:
            self.changed[grant.id] = (packed, self.changed[grant.id][1])  # type: ignore[assignment]

    def _touch(self, aggregate: Grant | Unit) -> None:
        self.touched[aggregate.id] = aggregate

    # ------------------------------------------------------------------ one row

    def apply(self, row: Row) -> None:
        """Apply one row to the aggregates (pending events), or raise the reason it is bad."""
        text: Callable[[str], str]
        cells = row.__class__ is _Cells
        if CONTROL_BUT_TAB.search("".join(row.values()) if cells else "".join(_strings(row))):
            _refuse_control_character(row)
        text = row.__getitem__ if cells else partial(_text, row)
        kind = text("kind").lower()
        if kind not in _KINDS:
            msg = f"kind {text('kind')!r} is unknown; use one of {', '.join(KINDS)}"
            raise BadInputError(msg)
        on = _day_of(row["date"]) if cells else _day(row)
        amount: Callable[[], Decimal] = partial(_amount_of, row["amount"]) if cells else partial(_amount, row)
        policy = self.policy(on)
        # the role rule depends on the role and the policy only: judged once per policy in force
        try:
            breach = self._may_import[id(policy)]
        except KeyError:
            breach = self._may_import[id(policy)] = role_may_record(self.role, "import", policy)
        raise_first([breach])
        if kind == "approve":
            self._approve(text, amount, on, policy)
            return
        grant_id = _required(text, "grant_id", kind)
        grant = self.grant(grant_id)
        if grant is None:
            msg = f"grant {grant_id} is neither in the ledger nor approved by an earlier row of the file"
            raise NotFoundError(msg)
        base_id = text("base_id")
        if base_id and base_id != grant.base_id:
            msg = f"grant {grant_id} belongs to base {grant.base_id}, not {base_id}"
            raise BadInputError(msg)
        actor = self.actor
        role = self.role
        changed: bool
        if kind == "spend":
            spent = amount()
            voucher = _required(text, "voucher", kind)
            source = _required(text, "source", kind).lower()
            if source not in SOURCES:
                msg = f"fund source {source!r} is unknown; use subsidy (财政补助) or matching (配套经费)"
                raise BadInputError(msg)
            changed = grant.spend(
                amount=spent,
                category=_required(text, "category", kind),
                source=source,
                content=text("content"),
                project="",
                voucher=voucher,
                payee=text("payee"),
                memo=text("memo"),
                attachments=[],
                actor=actor,
                role=role,
                on=on,
                policy=policy,
            )
        elif kind == "reverse":
            original = _required(text, "memo", kind)
            reason = text("voucher") or "imported reversal"
            before = grant.expenditures.get(original)
            if text("amount") and before is not None and amount() != before["amount"]:
                msg = (
                    f"reversal of {original} gives {amount()} but expenditure {original} of grant "
                    f"{grant_id} is {before['amount']}"
                )
                raise BadInputError(msg)
            changed = grant.reverse(
                voucher=original, reason=reason, actor=actor, role=role, on=on, policy=policy
            )
        else:
            value = amount()
            voucher = _required(text, "voucher", kind)
            who: dict[str, Any] = {"actor": actor, "role": role, "on": on, "policy": policy}
            if kind == "disburse":
                memo = text("memo")
                tranche = int(memo) if memo.isdigit() else 1
                changed = grant.disburse(amount=value, voucher=voucher, tranche=tranche, **who)
            elif kind == "match_commit":
                funder = text("payee")
                changed = grant.commit_matching(amount=value, voucher=voucher, funder=funder, **who)
            else:
                changed = grant.receive_matching(amount=value, voucher=voucher, **who)
        if changed:
            self.touched[grant.id] = grant

    def _approve(
        self, text: Callable[[str], str], approved: Callable[[], Decimal], on: date, policy: Policy
    ) -> None:
        unit_id = _required(text, "unit_id", "approve")
        base_id = _required(text, "base_id", "approve")
        grant_id = _required(text, "grant_id", "approve")
        programme = policy.programme(_required(text, "programme", "approve"))
        document = _required(text, "voucher", "approve")
        amount = approved()
        start: date | None = None
        end: date | None = None
        memo = text("memo")
        if memo:
            found = _PERIOD.match(memo)
            if found is None:
                msg = f"memo {memo!r} of an approve row is not a build period like 2024-04-01..2026-03-31"
                raise BadInputError(msg)
            start = date.fromisoformat(found.group(1)) if found.group(1) else None
            end = date.fromisoformat(found.group(2))
        grant = self.grant(grant_id)
        if grant is not None:
            if (grant.unit_id, grant.base_id, grant.programme) != (unit_id, base_id, programme.code):
                msg = (
                    f"grant {grant_id} is already recorded for unit {grant.unit_id}, base "
                    f"{grant.base_id} ({grant.programme})"
                )
                raise ConflictError(msg)
            if grant.status != "applied":
                if (grant.approved, grant.document) == (amount, document):
                    return  # already imported
                msg = (
                    f"grant {grant_id} is already approved ({grant.approved} yuan, {grant.document}); "
                    f"the row says {amount} yuan, {document}"
                )
                raise ConflictError(msg)
        else:
            unit = self.unit(unit_id)
            if unit is None:
                name = text("payee") or unit_id
                unit = Unit.register(
                    unit_id=unit_id, name=name, kind="other", on=on, actor=self.actor, role=self.role
                )
                self.units[unit_id] = unit
            unit.take_base(
                base_id=base_id,
                grant_id=grant_id,
                programme=programme,
                on=on,
                actor=self.actor,
                role=self.role,
                policy=policy,
            )
            self._touch(unit)
            grant = Grant.create(
                grant_id=grant_id,
                unit_id=unit_id,
                base_id=base_id,
                base_name=text("content") or base_id,
                programme=programme.code,
                level=programme.level,
                projects=[],
                requested=amount,
                on=on,
                actor=self.actor,
                role=self.role,
            )
            self.grants[grant_id] = grant
        extra: dict[str, Any] = {"imported": True} if _APPROVE_TAKES_IMPORTED else {}
        grant.approve(
            amount=amount,
            document=document,
            bodies=list(programme.approving_bodies),
            build_start=start,
            build_end=end,
            on=on,
            actor=self.actor,
            role=self.role,
            policy=policy,
            **extra,
        )
        self._touch(grant)


def _strings(row: Row) -> Iterator[str]:
    return (value for value in row.values() if value.__class__ is str)


def _refuse_control_character(row: Row) -> None:
    for column, value in row.items():
        found = CONTROL_BUT_TAB.search(value) if value.__class__ is str else None
        if found is not None:
            msg = (
                f"{column} holds a control character (U+{ord(found.group()):04X}); the command line "
                "refuses them too: write the text without it"
            )
            raise BadInputError(msg)


def _error(line: int, error: LedgerError) -> RowError:
    code = 2 if isinstance(error, BadInputError | NotFoundError) else 3
    return RowError(line, error.message, code)


@dataclass(frozen=True)
class _Packed:
    """A grant pushed out of the cache: its snapshot as stored, zlib-compressed."""

    id: UUID
    version: int
    topic: str
    state: bytes

    @classmethod
    def of(cls, app: GrantLedger, aggregate: Grant | Unit, encoder: StateEncoder) -> _Packed:
        stored = encoder(_snapshot_class(app, aggregate).take(aggregate))
        return cls(aggregate.id, aggregate.version, stored.topic, zlib.compress(stored.state, 1))

    def stored(self) -> StoredEvent:
        return StoredEvent(self.id, self.version, self.topic, zlib.decompress(self.state))

    def restore(self, app: GrantLedger) -> Grant:
        snapshot: Any = app.mapper.to_domain_event(self.stored())
        grant = snapshot.mutate(None)
        assert isinstance(grant, Grant)
        return grant


def _snapshot_class(app: GrantLedger, aggregate: Grant | Unit) -> Any:
    return getattr(type(aggregate), "Snapshot", app.snapshot_class)


# (connection, the batch as stored): the projections, in the import's transaction
OnBatch = Callable[[Connection, list[Notification]], None]

# What the checking side hands the writing side, in order:
#   ("rows", n)          n more rows checked (progress)
#   ("events", [...])    stored events to insert (``EventRow``), while no row has been bad
#   ("snapshots", [...]) snapshots to insert, at the end of a good file
#   ("result", ImportResult)
Message = tuple[str, Any]


def _check(
    app: GrantLedger,
    rows: Iterable[tuple[int, Row]],
    *,
    actor: str,
    role: str,
    batch: int,
    cache_vouchers: int,
) -> Iterator[Message]:
    """Apply every row to the aggregates and yield what to write (see ``Message``)."""
    books = _Books(app, actor, role, cache_vouchers)
    encode = books.encoder.row
    result = ImportResult()
    pending: list[EventRow] = []
    since = 0
    for line, row in rows:
        result.rows += 1
        since += 1
        try:
            books.apply(row)
        except LedgerError as e:
            result.errors.append(_error(line, e))
            books.touched.clear()
            pending.clear()
            continue
        events = books.collect()
        result.events += len(events)
        if not result.errors:
            pending += map(encode, events)
        if len(pending) >= batch:
            yield "rows", since
            yield "events", pending
            pending, since = [], 0
        elif since >= 1000:
            yield "rows", since
            since = 0
    yield "rows", since
    if not result.errors and result.events:
        if pending:
            yield "events", pending
        yield from _snapshots(app, books.changed.values(), books.encoder)
    yield "result", result


def _snapshots(
    app: GrantLedger, changed: Iterable[tuple[Grant | Unit | _Packed, int]], encoder: StateEncoder
) -> Iterator[Message]:
    """One snapshot per aggregate whose version passed a multiple of its interval, a few at a
    time: a large grant's snapshot is hundreds of kilobytes."""
    if app.snapshots is None:
        return
    chunk: list[StoredEvent] = []
    size = 0
    for aggregate, loaded_at in changed:
        kind = Grant if isinstance(aggregate, _Packed) else type(aggregate)
        interval = app.snapshotting_intervals.get(kind)
        if not interval or aggregate.version // interval <= loaded_at // interval:
            continue
        if isinstance(aggregate, _Packed):
            stored = aggregate.stored()
        else:
            stored = encoder(_snapshot_class(app, aggregate).take(aggregate))
        chunk.append(stored)
        size += len(stored.state)
        if size > SNAPSHOT_BYTES:
            yield "snapshots", chunk
            chunk, size = [], 0
    if chunk:
        yield "snapshots", chunk


class _Writer:
    """Inserts stored events in batches on one connection and hands each batch on."""

    def __init__(self, app: GrantLedger, conn: Connection, on_batch: OnBatch | None) -> None:
        self.app = app
        self.conn = conn
        self.on_batch = on_batch
        self.table: Table = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
        self.head: int | None = None
        self.sequence: str | None = None

    def events(self, stored: list[EventRow]) -> None:
        table = self.table
        ids: Iterable[int]
        if self.conn.dialect.name == "sqlite":
            # The write lock is held: the ids are the next ones, given outright so that the
            # rows go in with one executemany (SQLite's RETURNING would insert row by row).
            if self.head is None:
                self.head = self.conn.execute(select(func.max(table.c.id))).scalar() or 0
            ids = range(self.head + 1, self.head + 1 + len(stored))
            self.conn.exec_driver_sql(
                f"INSERT INTO {table.name} (id, originator_id, originator_version, topic, state) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (nid, _uuid_bytes(originator_id), version, topic, state)
                    for nid, (originator_id, version, topic, state) in zip(ids, stored, strict=True)
                ],
            )
            self.head += len(stored)
        else:
            ids = self._copy_postgresql(stored)
        if self.on_batch is not None:
            self.on_batch(
                self.conn,
                [
                    Notification(
                        id=nid,
                        originator_id=originator_id,
                        originator_version=version,
                        topic=topic,
                        state=state,
                    )
                    for nid, (originator_id, version, topic, state) in zip(ids, stored, strict=True)
                ],
            )

    def _copy_postgresql(self, stored: list[EventRow]) -> list[int]:
        """COPY the rows with ids drawn from the table's sequence (the table lock is held)."""
        name = self.table.name
        if self.sequence is None:
            found = self.conn.exec_driver_sql(f"SELECT pg_get_serial_sequence('{name}', 'id')").scalar()
            self.sequence = str(found)
        drawn = self.conn.exec_driver_sql(
            f"SELECT nextval('{self.sequence}') FROM generate_series(1, {len(stored)})"
        )
        ids = sorted(int(n) for (n,) in drawn)
        driver: Any = self.conn.connection.driver_connection
        columns = "id, originator_id, originator_version, topic, state"
        with driver.cursor() as cursor, cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
            if all(_COPY_PLAIN.fullmatch(topic) for topic in {e[2] for e in stored}):
                # COPY's text format written here at once: the state as bytea hex
                copy.write(
                    "".join(
                        [
                            f"{nid}\t{_uuid_hex(oid)}\t{version}\t{topic}\t\\\\x{state.hex()}\n"
                            for nid, (oid, version, topic, state) in zip(ids, stored, strict=True)
                        ]
                    )
                )
            else:
                for nid, e in zip(ids, stored, strict=True):
                    copy.write_row((nid, *e))
        return ids

    def snapshots(self, stored: list[StoredEvent]) -> None:
        recorder: Any = self.app.snapshots.recorder  # type: ignore[union-attr]
        rows = [
            {
                "originator_id": e.originator_id,
                "originator_version": e.originator_version,
                "topic": e.topic,
                "state": e.state,
            }
            for e in stored
        ]
        self.conn.execute(insert(recorder.events_record_cls.__table__), rows)


def _uuid_bytes(value: UUID | str) -> bytes:
    return value.bytes if isinstance(value, UUID) else UUID(value).bytes


def _uuid_hex(value: UUID | str) -> str:
    return value.hex if isinstance(value, UUID) else UUID(value).hex


# a topic written as it is in COPY's text format (no backslash, tab, newline; ASCII)
_COPY_PLAIN = re.compile(r"[!-\[\]-~ ]+")


def _take_write_lock(conn: Connection) -> None:
    """Hold the store's write lock for the whole import: ids in order, no writer in between."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE")


def import_rows(
    app: GrantLedger,
    rows: Iterable[tuple[int, Row]],
    *,
    actor: str,
    role: str,
    batch: int = BATCH_ROWS,
    on_start: Callable[[Connection], None] | None = None,
    on_batch: OnBatch | None = None,
    progress: Callable[[int], None] | None = None,
    cache_vouchers: int | None = None,
    parallel: bool = False,
) -> ImportResult:
    """Check and record every row in one transaction; nothing is written if any row is bad.

    ``on_start(conn)`` runs once the write lock is held (the projections catch up to the head
    there); ``on_batch(conn, notifications)`` after each batch is inserted, in the same
    transaction; ``progress(n)`` as rows are checked. With ``parallel``, a second process
    checks the rows and encodes the events while this one writes them (two cores).
    """
    cache = CACHE_VOUCHERS if cache_vouchers is None else cache_vouchers
    with _collector_relaxed(), app.engine.connect() as conn:
        transaction = conn.begin()
        try:
            _take_write_lock(conn)
            if on_start is not None:
                on_start(conn)
            writer = _Writer(app, conn, on_batch)
            if parallel:
                messages: Iterator[Message] = _checked_elsewhere(
                    app, rows, actor=actor, role=role, batch=batch, cache_vouchers=cache
                )
            else:
                messages = _check(app, rows, actor=actor, role=role, batch=batch, cache_vouchers=cache)
            result = ImportResult()
            for kind, body in messages:
                if kind == "rows":
                    if progress is not None and body:
                        progress(body)
                elif kind == "events":
                    writer.events(body)
                elif kind == "snapshots":
                    writer.snapshots(body)
                else:
                    result = body
            if result.errors or result.events == 0:
                transaction.rollback()
                return result
            channel = getattr(app.recorder, "channel_name", None)
            if conn.dialect.name == "postgresql" and channel:
                conn.exec_driver_sql(f"NOTIFY {channel}")  # live followers wake at the commit
            transaction.commit()
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise
    return result


@contextmanager
def _collector_relaxed() -> Iterator[None]:
    """Fewer cyclic collections while rows stream through (in both processes: the checking one is
    forked inside): each row's objects are freed by reference counting, and a young-generation
    collection every 700 allocations cost about a tenth of the import's CPU."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _checked_elsewhere(
    app: GrantLedger,
    rows: Iterable[tuple[int, Row]],
    **options: Any,
) -> Iterator[Message]:
    """``_check`` run in a forked process, its messages received here as they come.

    The child inherits the open file and reads the rows; it opens its own connections (reads
    only: this process holds the write lock). If this process dies, the child's next send
    fails on the closed pipe and it exits; if the child fails, its error is raised here.
    """
    url = app.engine.url.render_as_string(hide_password=False)
    checked = messages_from_fork(
        _check_and_send, (url, rows, options), "result", "the import's checking process"
    )
    return cast(Iterator[Message], checked)


def _check_and_send(url: str, rows: Iterable[tuple[int, Row]], options: Any, send: Any, receive: Any) -> None:
    receive.close()
    gc.freeze()  # what the fork inherited is not scanned again by the collector
    try:
        app = GrantLedger(url)
        for message in _check(app, rows, **options):
            send.send(message)
    except (BrokenPipeError, KeyboardInterrupt):
        return  # the writing process is gone or interrupted: it rolls back
    except LedgerError as e:
        send.send(("failed", e))
    except BaseException as e:  # anything else: one line for the user, not a traceback
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        send.send(("failed", StorageError(f"the import's checking process failed: {first}")))
    finally:
        send.close()


def read_rows(lines: Iterator[list[Any]], first_line: int = 1) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows (lists of cells, header first) as ``(line number, {column: value})``; checks the header."""
    try:
        header = next(lines)
    except StopIteration:
        raise BadInputError("the file is empty; its first line must be the header") from None
    names = [str(h or "").strip().lstrip("\ufeff").lower() for h in header]
    while names and not names[-1]:
        names.pop()
    missing = [h for h in HEADER if h not in names]
    if missing:
        msg = f"the header lacks {', '.join(missing)}; it must be {','.join(HEADER)}"
        raise BadInputError(msg)
    width = len(names)
    for n, cells in enumerate(lines, start=first_line + 1):
        try:
            stripped = [c.strip() for c in cells]
        except AttributeError:  # a workbook's cells: numbers, dates, None
            if any(c not in (None, "") and str(c).strip() for c in cells):
                yield n, dict(zip(names, cells, strict=False))
            continue
        if not any(stripped):
            continue
        if len(stripped) < width:
            stripped += [""] * (width - len(stripped))
        yield n, _Cells(zip(names, stripped, strict=False))
