"""Bulk import: rows of the import format (ledger/import_format.py), each the action it records,
checked by the real aggregates and recorded in one transaction or not at all.

``import_rows`` reads the file once. Each row becomes its action (the same field rules as the
command line's) and goes through the aggregates (the domain rules, balances carried from row to
row), after the role check on that action: an approve row needs an approver, a money row an
officer. The events are encoded and written in batches by the bulk writer
(ledger/bulk_write.py) inside one database transaction, and the caller's ``on_batch`` (the
projections) runs in that transaction too. A bad row stops the writing but not the checking, so
every bad row is listed; then the transaction is rolled back and nothing is written. Importing
the same file again records nothing: a row already in the ledger with the same content is a
repeat.

Memory does not grow with the file: the events go to the database batch by batch, and what the
grants hold per voucher and per date (fingerprints, expenditures, each date's net change) is kept
in their own dicts up to ``CACHE_VOUCHERS`` entries among them, then moved outside them to one
index (ledger/import_index.py), in memory up to as many entries again and in a temporary database
past that. The grants themselves, small without it, stay in memory, so the order of the rows (by
date, as finance systems export them, or grant by grant) does not change the work a row costs.

This module imports neither ``projections`` nor ``commands``.
"""

from __future__ import annotations

import gc
import os
import pickle
import queue
import tempfile
import threading
from bisect import insort
from collections.abc import Callable, Collection, Container, Generator, Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from hashlib import blake2b
from itertools import islice
from typing import IO, Any, cast
from uuid import UUID
from zlib import crc32

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import StoredEvent
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from audit.verifier.people import Person
from ledger.actions import GrantAction, Reverse, check_duties
from ledger.application import GrantLedger
from ledger.bulk_write import BulkWriter, OnBatch, take_write_lock
from ledger.encoding import EventRow, StateEncoder
from ledger.errors import (
    BadInputError,
    ConflictError,
    LedgerError,
    NotFoundError,
    ReversedVoucherError,
    StorageError,
)
from ledger.forked import failure, messages_from_fork, messages_from_parts
from ledger.grant import COMING, RECEIVED_LESS, REVERSIBLE, Grant, grant_uuid, kinds_named
from ledger.i18n import T_, _
from ledger.import_format import (
    HEADER,
    KINDS,
    ROW_ACTIONS,
    ROW_KINDS,
    Cells,
    Row,
    as_cells,
    cell_text,
    read_rows,
    refuse_control_character,
    refuse_overflow,
    refuse_unnamed,
    row_action,
)
from ledger.import_index import GrantIndex
from ledger.import_order import day_of
from ledger.money import parse_amount
from ledger.policy import Policy, policy_in_force
from ledger.rules import (
    ROLE_ACTIONS,
    Breach,
    business_today,
    file_stands_on_its_own,
    file_tranches_stand_on_their_own,
    raise_first,
    role_may_record,
    signer_holds_role,
)
from ledger.seal import Seal, Signer, mark, new_seal_id
from ledger.snapshot_points import points_through
from ledger.text import CONTROL_BUT_TAB
from ledger.unit import Base, RecommendationRound, Unit, base_uuid, unit_uuid

# the file format's names, where callers have always found them
__all__ = ["HEADER", "KINDS", "ROW_ACTIONS", "ROW_KINDS", "ImportResult", "import_rows", "read_rows"]

BATCH_ROWS = 5000
# Entries (a voucher's fingerprint, an expenditure, a date's net change) held in the grants' own
# dicts, and again in the index's memory, about 400 bytes each with their keys; past it the
# grants' go to the index, and the index's to its temporary database.
CACHE_VOUCHERS = 20_000
# Grants (and as many units) an import holds in memory; the least recently used others are parked
# in its scratch database (``_Books``): 20,000 bases' grants of the 1M bench stay held. An import checked
# in parts holds as many, shared among its checking processes.
HELD_AGGREGATES = 25_000
# Past this resident size a checking process holds a tenth fewer aggregates from then on, and
# the writing one a tenth fewer grants (never fewer than HELD_FLOOR): over 200,000 bases a
# held grant is seldom met again, and ten million rows took the processes to 320–330 MB. A
# checking process reads its size every RESIDENT_EVERY rows, the writing one at every batch.
MEMORY_CEILING_MB = 250
HELD_FLOOR = 1_000
RESIDENT_EVERY = 1_000
REGROWTH_MB = 4.0  # grown since it last held fewer, before it holds fewer again (MemoryCeiling)


def fewer_held(held: int) -> int:
    """What a process past ``MEMORY_CEILING_MB`` holds from now on, holding ``held``."""
    return max(min(HELD_FLOOR, held), held * 9 // 10)


def resident_mb() -> float:
    """This process's resident size in MB (0 where the system does not tell it: no /proc)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class MemoryCeiling:
    """Should this process hold fewer? Past ``MEMORY_CEILING_MB``, and grown by ``REGROWTH_MB``
    since it last held fewer: what holding fewer frees is used again rather than given back to
    the system, so the size alone would stay past the ceiling and cut what is held to the floor."""

    def __init__(self) -> None:
        self.last = 0.0

    def crossed(self) -> bool:
        size = resident_mb()
        if size > MEMORY_CEILING_MB and size > self.last + REGROWTH_MB:
            self.last = size
            return True
        return False


_UNSEEN: Any = object()
# the verified seals a checking process remembers, in leaves' characters: a grant's events are
# sealed by the imports that recorded them, 5,000 leaves (320,000 characters) a seal, and loading
# grants in a file's order goes from seal to seal at random. With ledger.trust's 4 MB, 13 of the
# 19 seals of 20,000 bases' approvals: a third of the grants read a forgotten seal again and
# checked its signature, a fifth of a checking process's time (1M rows by date, 2026-12-05);
# with this, some 37 seals (each also kept as a set of its leaves: about 1 MB in all)
SEAL_LEAVES_KEPT = 12 << 20
# 64 MB took the writing process of 1M rows over 20,000 bases to 275 MB; this, to 246–249 MB in
# three runs, no slower
IMPORT_PAGE_CACHE_KIB = 32 * 1024
SNAPSHOT_BYTES = 4_000_000  # snapshots written at a time, at the end


@dataclass(frozen=True)
class RowError:
    line: int
    message: str
    exit_code: int


# bad rows listed by line at most: a file of another ledger (a million rows, each "no such grant")
# listed every one, holding each message in memory (400 MB) and printing a million lines
LISTED_ERRORS = 1000


def _note_first_day(grants: dict[str, int], grant: str, day: int) -> None:
    grants[grant] = min(day, grants.get(grant, day))


REPEATS_LISTED = 5  # the lines of rows already recorded that an import names


@dataclass
class ImportResult:
    rows: int = 0
    events: int = 0
    # the bad rows of lowest lines, LISTED_ERRORS of them once ``trim`` has run (twice as many
    # at most before: rows applied by business date, or set aside by grant, are not met by line)
    errors: list[RowError] = field(default_factory=list)
    unlisted: int = 0  # bad rows past those
    worst: int = 0  # the exit code of them all (0: none)
    # the grant named by each bad row, listed or not, with the first date (ordinal, 0 for none)
    # of its bad rows: a file applied by business date tries each of them in its next order of
    # that date (ledger.import_order.DateOrder.next_orders), the grants whose bad rows are past
    # the listed ones too
    grants: dict[str, int] = field(default_factory=dict)
    # how many bad rows each of those grants has, listed or not, where more than one (one where
    # only ``grants`` names it: ``bad_rows_of``); a file of a million bad rows, each naming a
    # grant of its own, keeps none here
    by_grant: dict[str, int] = field(default_factory=dict)
    # a file applied by business date: the passes by date tried when their number ran out
    # while some refused grant had another order of its date left (0: none did)
    unsettled: int = 0
    # rows that recorded nothing, being already recorded (in the ledger, or by an earlier row of
    # the file: two like rows under one voucher are one act), and the lines of the first of them
    repeats: int = 0
    repeated: list[int] = field(default_factory=list)

    def repeat(self, line: int) -> None:
        self.repeats += 1
        if len(self.repeated) < REPEATS_LISTED:
            self.repeated.append(line)

    def add(self, error: RowError, grant: str = "", day: int = 0) -> None:
        self.worst = min(self.worst or error.exit_code, error.exit_code)
        self.errors.append(error)
        if grant in self.grants:
            self.by_grant[grant] = self.by_grant.get(grant, 1) + 1
        _note_first_day(self.grants, grant, day)
        if len(self.errors) >= 2 * LISTED_ERRORS:
            self.trim()

    def trim(self) -> None:
        """The bad rows by line, the first LISTED_ERRORS kept and the others counted."""
        self.errors.sort(key=lambda e: e.line)
        self.unlisted += max(0, len(self.errors) - LISTED_ERRORS)
        del self.errors[LISTED_ERRORS:]

    def bad_rows_of(self, grant: str) -> int:
        """How many bad rows name ``grant``."""
        return self.by_grant.get(grant, 1) if grant in self.grants else 0

    @property
    def bad(self) -> int:
        """How many rows were bad, listed or not."""
        return len(self.errors) + self.unlisted

    def join(self, other: ImportResult) -> None:
        """Another part's result, of the same file, added to this one: the bad rows of lowest
        lines listed. The parts' grants are their own (a part checks the rows of some grants), so
        the smaller part's are added to the larger's dicts, which this one takes over: joining
        copies no dict (a file of a million bad rows, each of its own grant, held three)."""
        self.worst = min((code for code in (self.worst, other.worst) if code), default=0)
        self.rows += other.rows
        self.events += other.events
        self.repeats += other.repeats
        self.repeated = sorted([*self.repeated, *other.repeated])[:REPEATS_LISTED]
        self.errors.extend(other.errors)
        self.unlisted += other.unlisted
        into, added = (self, other) if len(self.grants) >= len(other.grants) else (other, self)
        grants, counts = into.grants, into.by_grant
        for grant, day in added.grants.items():
            if grant in grants:
                counts[grant] = into.bad_rows_of(grant) + added.bad_rows_of(grant)
                grants[grant] = min(grants[grant], day)
            else:
                grants[grant] = day
                if grant in added.by_grant:
                    counts[grant] = added.by_grant[grant]
        self.grants, self.by_grant = grants, counts
        self.trim()

    @property
    def exit_code(self) -> int:
        # one bad row: its command's exit code; several: the first of bad input, rule, not found,
        # conflict that any of them has
        return self.worst


class _Books:
    """The aggregates an import touches, each loaded once, with the import's changes applied.

    What a grant holds per voucher and per date stays in its own dicts while the grants' own
    hold at most ``cache_vouchers`` entries; past that it moves to ``index`` (``_move_plain``),
    of which as many entries are held in memory. Up to ``HELD_AGGREGATES`` grants and as many
    units (and bases) are held in memory, the most recently used; the others are parked in the
    index's database, changes and all, until a row needs them again.
    """

    policy: Policy  # in force on the date of the row being applied

    def __init__(
        self,
        app: GrantLedger,
        person: Person,
        claimed_role: str | None,
        cache_vouchers: int = CACHE_VOUCHERS,
        signer: Signer | None = None,
        parted: bool = False,
        held: int | None = None,
    ) -> None:
        self.app = app
        self.parted = parted  # sees only the rows of some grants (``_checked_in_parts``)
        self.signer = signer  # the importer's: a snapshot their key signed is taken as it stands
        self.encoder = StateEncoder(app.mapper)
        self.person = person
        self.claimed_role = claimed_role
        self.actor = person.name
        self.role = person.role or ""
        # business date -> the signer's role then (an import is one person's act, row by row)
        self._roles: dict[date, tuple[str | None, Breach | None]] = {}  # the role, or why none
        self.today = business_today()  # an import is recorded on the day it starts
        # held in memory, least recently used first; None: not in the ledger
        self.grants: dict[str, Grant | None] = {}
        self.units: dict[str, Unit | None] = {}
        self.bases: dict[str, Base | None] = {}
        self.held = max(1, HELD_AGGREGATES if held is None else held)
        self.rows = 0  # collected
        self.ceiling = MemoryCeiling()
        self.touched: dict[Any, Grant | Unit | Base] = {}
        self.index = GrantIndex(cache_vouchers)
        # grants whose dicts are still their own (not moved to the index), each with its version
        # when loaded, and about how many entries those dicts hold together (``_move_plain``)
        self.plain: dict[str, int] = {}
        self.plain_entries = 0
        self.plain_budget = max(1, cache_vouchers)
        # aggregates loaded from a snapshot of an earlier form, by their key in the books: each
        # gets a snapshot of this form at the import's end, as a command's write gives it one
        self.reform: set[str] = set()
        self._policies: dict[date, Policy] = {}
        # (id(policy), action name, role) -> the role rule's verdict: it depends on nothing else
        self._may_record: dict[tuple[int, str, str], Breach | None] = {}
        # (grant, voucher) of the last row, the reversal of an expenditure (not of a receipt sharing
        # the voucher text): it makes the file's re-spending of that voucher a repeat of history
        self.reversed_voucher: tuple[str, str] | None = None
        # while a row that is not one grant's is decided (an approve row: its unit, base and
        # grant), what to put back if it is refused: each aggregate it made (None) and a copy of
        # each unit and base it found as it stood, by the aggregate's key in the books
        self._undo: dict[str, Unit | Base | None] | None = None

    def role_on(self, on: date, policy: Policy) -> str:
        """The signer's role on ``on``: the role the rows of that date are recorded in."""
        try:
            role, breach = self._roles[on]
        except KeyError:
            role = self.person.role_on(on)
            breach = signer_holds_role(
                self.person, role, self.person.key, on, self.claimed_role, None, policy
            )
            self._roles[on] = role, breach
        if breach is not None:  # every row of that date, not only the first
            raise breach.error()
        assert role is not None
        self.role = role
        return role

    def policy_on(self, on: date) -> Policy:
        policy = self._policies.get(on)
        if policy is None:
            policy = self._policies[on] = policy_in_force(on)
        return policy

    def grant(self, grant_id: str) -> Grant:
        grant = self.find_grant(grant_id)
        if grant is None:
            # as the command says: an approve row adds it
            msg = T_("grant {grant_id} is not in the ledger", grant_id=grant_id)
            raise NotFoundError(msg)
        return grant

    def find_grant(self, grant_id: str) -> Grant | None:
        found = self._grant(grant_id)
        if found is not None:
            self.touched[found.id] = found
        return found

    def _grant(self, grant_id: str) -> Grant | None:
        grants = self.grants
        found: Grant | None = grants.pop(grant_id, _UNSEEN)
        if found is _UNSEEN:
            found = self.index.unpark("g/" + grant_id)
            if found is None:
                found = self._stored("g/" + grant_id, grant_uuid(grant_id))
                if found is not None:
                    self.plain[grant_id] = found.version
                    self.plain_entries += _entries(found)
        grants[grant_id] = found  # the most recently used
        return found

    def _stored(self, key: str, uuid: UUID) -> Any:
        """The aggregate as the store holds it (None: not in the ledger), noted by its key in the
        books if it was loaded from a snapshot of an earlier form (``reform``)."""
        try:
            found = self.app.load(uuid, self.signer)
        except AggregateNotFoundError:
            return None
        if self.app.take_reformed(found):
            self.reform.add(key)
        return found

    def find_unit(self, unit_id: str) -> Unit | None:
        return cast(Unit | None, self._find_kept("u/", unit_id, unit_uuid))

    def find_base(self, base_id: str) -> Base | None:
        return cast(Base | None, self._find_kept("b/", base_id, base_uuid))

    def _find_kept(self, prefix: str, name: str, uuid_of: Callable[[str], UUID]) -> Any:
        """A unit or a base (``prefix`` u/ or b/) as the books hold it, the most recently used:
        held in memory, else parked, else loaded; a copy kept to put back should the row being
        decided be refused (``_undo``)."""
        held = self._kept(prefix)
        found: Any = held.pop(name, _UNSEEN)
        if found is _UNSEEN:
            found = self.index.unpark(prefix + name)
            if found is None:
                found = self._stored(prefix + name, uuid_of(name))
        held[name] = found
        if found is not None:
            self.touched[found.id] = found
            if self._undo is not None and prefix + name not in self._undo:
                self._undo[prefix + name] = deepcopy(found)
        return found

    def _kept(self, key: str) -> dict[str, Any]:
        """The grants, units or bases held in memory, by an aggregate's key (g/…, u/…, b/…)."""
        kept: dict[str, dict[str, Any]] = {"g": self.grants, "u": self.units, "b": self.bases}
        return kept[key[0]]

    def _put_back(self) -> None:
        """The books as they stood before the refused row (``_undo``): each aggregate it made
        forgotten, each unit and base it changed as it was (a base the row took is another
        unit's to take in a later row). A later row then meets the ledger, and the
        file's rows before, and nothing of the row refused (its half-made grant was reported as a
        grant with no expert review, against the corrected row after it)."""
        assert self._undo is not None
        for key, before in self._undo.items():
            name = key[2:]
            if key[0] == "g":
                self.grants[name] = None
                self.plain.pop(name, None)
            else:
                self._kept(key)[name] = before

    def changed_aggregates(self) -> Iterator[tuple[Grant | Unit | Base, int]]:
        """Each aggregate the import changed, one at a time (held, or read back from where it was
        parked), with its version when loaded."""
        for key, loaded_at in self.index.changes():
            aggregate = self._kept(key).get(key[2:])
            if aggregate is None:
                aggregate = self.index.unpark(key)
            assert aggregate is not None
            yield aggregate, loaded_at

    def _park_the_least_used(self) -> None:
        """Past ``held`` grants (or units, or bases) in memory, park the least recently used tenth
        of them (between rows: no row holds them, and their events are collected)."""
        for prefix in ("g/", "u/", "b/"):
            held = self._kept(prefix)
            if len(held) <= self.held:
                continue
            going = list(islice(held, len(held) - self.held + self.held // 10))
            parked = []
            for name in going:
                aggregate = held.pop(name)
                if aggregate is not None:  # not in the ledger: asked of the store again if needed
                    if aggregate.__class__ is Grant and name in self.plain:
                        self._move(cast(Grant, aggregate))
                    parked.append((prefix + name, aggregate))
            self.index.park(parked)

    def _move_plain(self, everyone: bool = False) -> None:
        """Past ``plain_budget`` entries in the held grants' own dicts, move the dicts of every
        such grant but the one last used to the index (between rows); that one too if it holds
        half the budget alone."""
        last = next(reversed(self.grants), None)
        for grant_id in list(self.plain):
            grant = self.grants.get(grant_id)
            if grant is None:
                del self.plain[grant_id]
            elif grant_id != last or everyone or _entries(grant) > self.plain_budget // 2:
                self._move(grant)
        self.plain_entries = sum(_entries(g) for g in map(self.grants.get, self.plain) if g is not None)

    def _move(self, grant: Grant) -> None:
        """The grant's per-voucher and per-date dicts moved to the index, for good. A grant moved
        past one of its snapshot points has its snapshot taken now, with the dicts in hand: if no
        later row changes it, that is the one stored at the end (in a file grouped by grant, a
        grant is moved once its rows are done), and the dicts need not be read back for it."""
        loaded_at = self.plain.pop(grant.grant_id)
        interval = self.app.snapshotting_intervals.get(Grant)
        if (
            self.app.snapshots is not None
            and interval
            and points_through(grant.version, interval) > points_through(loaded_at, interval)
        ):
            snapshot = self.encoder(_snapshot_class(self.app, grant).take(grant))
            self.index.hold_snapshot(_name(grant), grant.version, snapshot)
        self.index.keep(grant)

    def unit(self, unit_id: str) -> Unit:
        unit = self.find_unit(unit_id)
        if unit is None:
            raise NotFoundError(_("unit {unit_id} is not registered").format(unit_id=unit_id))
        return unit

    def find_round(self, recommender: str, round_: str) -> RecommendationRound | None:
        raise BadInputError(_("recommendations are not imported"))  # no row kind records one

    def find_bodies(self) -> Any:
        raise BadInputError(_("bodies are not imported; an administrator registers them (body add)"))

    def add(self, aggregate: Any) -> None:
        if self._undo is not None and isinstance(aggregate, Grant | Unit | Base):
            self._undo.setdefault(_name(aggregate), None)
        if isinstance(aggregate, Grant):
            self.grants[aggregate.grant_id] = aggregate
            if aggregate.id not in self.index.spaces:
                self.plain.setdefault(aggregate.grant_id, 0)  # created by the row
        elif isinstance(aggregate, Unit):
            self.units[aggregate.unit_id] = aggregate
        elif isinstance(aggregate, Base):
            self.bases[aggregate.base_id] = aggregate
        self.touched[aggregate.id] = aggregate

    def collect(self) -> list[Any]:
        """The events the last row raised, in order; the aggregates remember they changed."""
        events: list[Any] = []
        plain = self.plain
        for aggregate in self.touched.values():
            new = aggregate.collect_events()
            if new:
                self.index.note_changed(_name(aggregate), new[0].originator_version - 1)
                events.extend(new)
                if aggregate.__class__ is Grant and aggregate.grant_id in plain:
                    self.plain_entries += _ENTRIES_PER_EVENT * len(new)
        self.touched.clear()
        self.index.settle()
        self.rows += 1
        if self.plain_entries > self.plain_budget:
            self._move_plain()
        # in parts too: the reader sends a part the rows of at most ``LIVE_GRANTS`` grants at once
        # and the others grouped by grant (``_Dealer``), so a part holding fewer (never below
        # ``HELD_FLOOR``) reads back only a grant it meets again. Ten million rows over 200,000
        # bases took the checking processes to 342 MB when they were left out
        if self.rows % RESIDENT_EVERY == 0 and self.ceiling.crossed():
            self.held = fewer_held(self.held)
            self._move_plain(everyone=True)
        if len(self.grants) > self.held or len(self.units) > self.held or len(self.bases) > self.held:
            self._park_the_least_used()
        return events

    # ------------------------------------------------------------------ one row

    def apply(self, row: Row) -> None:
        """Apply one row's action to the aggregates (pending events), or raise why it is bad."""
        self.reversed_voucher = None
        cells = row if row.__class__ is Cells else as_cells(row)
        if cells.overflow is not None:
            refuse_overflow(cells.overflow)
        if cells.unnamed:
            refuse_unnamed(cells.unnamed)
        joined = "".join(cells.values())
        if CONTROL_BUT_TAB.search(joined):
            refuse_control_character(cells)
        kind = cells["kind"].lower()
        if kind not in ROW_KINDS:
            msg = T_(
                "kind {kind!r} is unknown; use one of {value}",
                kind=cells["kind"],
                value=", ".join(KINDS),
            )
            raise BadInputError(msg)
        action = row_action(cells, kind)
        policy = self.policy = self.policy_on(action.on)
        role = self.role_on(action.on, policy)
        for day in action.also_dated():
            breach = signer_holds_role(
                self.person, self.person.role_on(day), self.person.key, day, role, None, self.policy_on(day)
            )
            if breach is not None:
                raise breach.error()
        key = (id(policy), action.name, role)
        try:
            breach = self._may_record[key]
        except KeyError:
            breach = self._may_record[key] = role_may_record(role, action.name, policy)
        if breach is not None:
            raise breach.error()
        action.judge(policy, self.today)
        if not isinstance(action, GrantAction):
            if self.parted:  # may_part lets no such row through the role check
                raise StorageError(_("an import checked in parts met a row that is not one grant's"))
            self._undo = {}
            try:
                action.decide(self)
            except LedgerError:
                self._put_back()
                raise
            finally:
                self._undo = None
            return
        grant = self.grant(action.grant_id)
        base_id = cells["base_id"]
        if base_id and base_id != grant.base_id:
            msg = T_(
                "grant {grant_id} belongs to base {base_id}, not {base_id2}",
                grant_id=action.grant_id,
                base_id=grant.base_id,
                base_id2=base_id,
            )
            raise BadInputError(msg)
        if cells["unit_id"] or cells["programme"] or cells["source"]:
            _same_grant(grant, cells, kind)
        reverses = None
        if action.__class__ is Reverse:
            reverses = _reversed_act(grant, cast(Reverse, action))
            if reverses is not None and (
                cells["amount"] or cells["source"] or cells["category"] or cells["content"]
            ):
                _same_act(grant, cast(Reverse, action), reverses, cells, policy)
        check_duties(action, grant, self)
        action.apply(grant, self)  # what decide does, the grant already in hand
        if reverses == "spend":  # a receipt's reversal sharing the voucher's text is not the spend's
            self.reversed_voucher = (action.grant_id, cast(Reverse, action).voucher)


# entries a grant's dicts gain at most per event: a voucher's fingerprint, an expenditure, a date
_ENTRIES_PER_EVENT = 3


def _entries(grant: Grant) -> int:
    """Entries in a grant's own per-voucher and per-date dicts."""
    days = grant.days or {}
    return len(grant.vouchers) + len(grant.expenditures) + sum(len(d) for d in days.values())


def _name(aggregate: Any) -> str:
    """An aggregate's key in the books and where it is parked."""
    if aggregate.__class__ is Grant:
        return "g/" + aggregate.grant_id
    return "u/" + aggregate.unit_id if aggregate.__class__ is Unit else "b/" + aggregate.base_id


# The fund source a row kind moves, whatever its source column says.
_MOVES = {
    "disburse": "subsidy",
    "match_commit": "matching",
    "match_receive": "matching",
    "recover_order": "subsidy",
    "recover_receive": "subsidy",
}


def _same_grant(grant: Grant, cells: Cells, kind: str) -> None:
    """A money row's unit, programme and fund source, when given, are its grant's and its kind's:
    a row that says otherwise is a mistake, not a note."""
    for column, held in (("unit_id", grant.unit_id), ("programme", grant.programme)):
        if cells[column] and cells[column] != held:
            msg = T_(
                "grant {grant_id} belongs to {value} {held}, not {value2}",
                grant_id=grant.grant_id,
                value=column.removesuffix("_id"),
                held=held,
                value2=cells[column],
            )
            raise BadInputError(msg)
    moves = _MOVES.get(kind)
    if moves is not None and cells["source"] and cells["source"] != moves:
        msg = T_(
            "source: a {kind} row moves the {moves} fund source, not {source!r}",
            kind=kind,
            moves=moves,
            source=cells["source"],
        )
        raise BadInputError(msg)


def _reversed_act(grant: Grant, action: Reverse) -> str | None:
    """The kind of the act a reverse row reverses, found as ``Grant.reverse`` finds it: among the
    grant's money acts under the voucher, the one the row's category names, else the only one;
    None where the grant refuses the row (no such act, or several and the category says none)."""
    voucher = action.voucher
    held = [
        kind
        for kind in REVERSIBLE
        if (voucher in grant.expenditures if kind == "spend" else f"{kind}/{voucher}" in grant.receipts)
    ]
    if action.kind is not None:
        return action.kind if action.kind in held else None
    return held[0] if len(held) == 1 else None


def _same_act(grant: Grant, action: Reverse, reverses: str, cells: Cells, policy: Policy) -> None:
    """A reverse row's amount, fund source and an expenditure's category, when given, are those
    of the act it reverses (``reverses``, its kind, held by the grant): an expenditure's own
    source, a receipt's the one its kind moves."""
    voucher, given = action.voucher, cells["amount"]
    if reverses == "spend":
        spent = grant.expenditures[voucher]
        source = spent["source"]
        named = cells["category"]
        found = policy.find_category(named) if named else None
        if named and (found.code if found is not None else named) != spent["category"]:
            msg = T_(
                "category: expenditure {voucher} of grant {grant_id} is {category}, not {value!r}; a "
                "reverse row's category names the expenditure's, or is left empty",
                voucher=voucher,
                grant_id=action.grant_id,
                category=spent["category"],
                value=named,
            )
            raise BadInputError(msg)
        if given and parse_amount(given) != spent["amount"]:
            msg = T_(
                "reversal of {voucher} gives {amount} but expenditure {voucher} of grant {grant_id} is "
                "{amount2}",
                voucher=voucher,
                amount=parse_amount(given),
                grant_id=action.grant_id,
                amount2=spent["amount"],
            )
            raise BadInputError(msg)
    else:
        source = _MOVES[reverses]
        received = grant.receipts[f"{reverses}/{voucher}"][0]
        if given and parse_amount(given) != received:
            msg = T_(
                "reversal of {voucher} gives {amount} but {kind} {voucher} of grant {grant_id} is {value}",
                voucher=voucher,
                amount=parse_amount(given),
                kind=reverses,
                grant_id=action.grant_id,
                value=received,
            )
            raise BadInputError(msg)
    content = cells["content"]
    if content:  # written by export as the reversed spend has it; anything else is dropped unseen
        known = policy.find_content(content)
        held = grant.expenditures[voucher].get("content", "") if reverses == "spend" else ""
        if (known.code if known is not None else content) != held and content != held:
            msg = T_(
                "content: {kind} {voucher} of grant {grant_id} has the construction content {held!r}, not "
                "{value!r}; a reverse row's content names the reversed spend's, or is left empty",
                kind=reverses,
                voucher=voucher,
                grant_id=action.grant_id,
                held=held,
                value=content,
            )
            raise BadInputError(msg)
    if cells["source"] and cells["source"] != source:
        msg = T_(
            "source: the reversal of {voucher} moves the {moves} fund source, as the act it reverses "
            "did, not {source!r}",
            voucher=voucher,
            moves=source,
            source=cells["source"],
        )
        raise BadInputError(msg)


def _error(line: int, error: LedgerError) -> RowError:
    return RowError(line, error.message, error.exit_code)


# the act a reversal reversed, by its event's class: its kind, and the field holding its date
_UNDONE = {
    Grant.DisbursementReversed: ("disburse", "received_on"),
    Grant.MatchingCommitmentReversed: ("match_commit", "received_on"),
    Grant.MatchingReceiptReversed: ("match_receive", "received_on"),
    Grant.ExpenditureReversed: ("spend", "spent_on"),
}


# acts of their grants' latest dates ``_ListedOrder`` notes at most (about 60 bytes each, and
# 300 for each grant noted); past it, none. It went on noting, unread, each grant's acts of its
# latest date: ten million rows over 200,000 bases, 100,000 grants in each checking process
_NOTED_MOST = 50_000


class _ListedOrder:
    """The reversals naming a voucher alone whose act the file's order may choose otherwise than
    the order the rows happened in (``_order_decides`` asks the grant what it holds): an earlier
    row of the grant dated after the reversal, a later act under the voucher dated before it
    (``doubted``), or, where the act it reversed is of its date and the file's, a later act of
    another kind under the voucher of that date (``same_date``). Only rows recorded are told: a
    row refused is the file's refusal already."""

    def __init__(self) -> None:
        self.latest: dict[str, int] = {}  # each grant's latest date so far
        # the reversals not yet in doubt by (grant, voucher): (date, line, the kind of the act it
        # reversed where that act is of its date, else ""), by date
        self.waiting: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
        # under a voucher some reversal above names alone, on a date: each kind's last act's line
        self.acts_on: dict[tuple[str, str, int], dict[str, int]] = {}
        self.doubted: list[tuple[str, str, int, int]] = []  # (grant, voucher, line, date)
        # each grant's latest date and the acts (hashes of voucher and kind) the file recorded on
        # it, up to _NOTED_MOST in all: a reversal of an act it does not hold reversed the ledger's
        self.today: dict[str, tuple[int, set[int]]] = {}
        self.noted = 0
        self.full = False

    def row(self, line: int, row: Row, events: list[Any]) -> None:
        grant_id, day = _grant_named(row), day_of(row)
        before = self.latest.get(grant_id, 0)
        if day > before:
            self.latest[grant_id] = day
        kind = cell_text(row.get("kind")).lower()
        if kind == "reverse":
            if cell_text(row.get("category")) or not events:
                return  # its kind named (the same act in any order), or reversed already
            voucher = cell_text(row.get("memo"))
            if before > day:
                self.doubted.append((grant_id, voucher, line, day))
                return
            same = ""
            for event in events:
                undone, dated = _UNDONE.get(type(event), ("", ""))
                on = getattr(event, dated, None) if undone else None
                if on is not None and on.toordinal() == day:
                    same = undone
            if same and not self.full:
                seen = self.today.get(grant_id)
                if seen is None or seen[0] != day or hash((voucher, same)) not in seen[1]:
                    same = ""  # the ledger's act, there before any row of the file
            insort(self.waiting.setdefault((grant_id, voucher), []), (day, line, same))
            return
        if kind not in REVERSIBLE:
            return
        voucher = cell_text(row.get("voucher"))
        self._note(grant_id, day, voucher, kind)
        waiting = self.waiting.get((grant_id, voucher))
        if not waiting:
            return
        while waiting and waiting[-1][0] > day:  # an act of the voucher dated before them
            at, line_of, _same = waiting.pop()
            self.doubted.append((grant_id, voucher, line_of, at))
        self.acts_on.setdefault((grant_id, voucher, day), {})[kind] = line

    def _note(self, grant_id: str, day: int, voucher: str, kind: str) -> None:
        if self.full:
            return  # nothing noted is read past the bound (``row``)
        seen = self.today.get(grant_id)
        if seen is not None and day < seen[0]:
            return  # an earlier date's: a reversal of the latest date it could not be
        if seen is None or day > seen[0]:
            if seen is not None:
                self.noted -= len(seen[1])
            seen = self.today[grant_id] = (day, set())
        if self.noted >= _NOTED_MOST:
            self.full = True  # from here on an act of the reversal's date is taken for the file's
            self.today.clear()
            return
        held = len(seen[1])
        seen[1].add(hash((voucher, kind)))
        self.noted += len(seen[1]) - held

    def same_date(self) -> Iterator[tuple[str, str, int, int]]:
        """The reversals of an act of their date with an act of another kind under their voucher
        on that date listed after them: (grant, voucher, line, date)."""
        for (grant_id, voucher), waiting in self.waiting.items():
            for day, line, undone in waiting:
                if not undone:
                    continue
                acts = self.acts_on.get((grant_id, voucher, day), {})
                if any(last > line for kind, last in acts.items() if kind != undone):
                    yield grant_id, voucher, line, day


def _order_decides(books: _Books, grant_id: str, voucher: str) -> BadInputError | None:
    """A reversal naming ``voucher`` alone, where the grant holds more than one kind of act under
    the voucher: the act it reversed is the one recorded before it in the file's order, which
    may not be the order they happened in (``_ListedOrder``). The file is then applied by
    business date, where such a reversal meets the acts of its date (ledger.import_order:
    refused if it meets several)."""
    grant = books.find_grant(grant_id)
    books.touched.clear()
    kinds = grant.kinds_under(voucher) if grant is not None else []
    if len(kinds) < 2:
        return None
    msg = T_(
        "this reversal names voucher {voucher} alone, which grant {grant_id} holds as {acts}: "
        "which one it reverses depends on the order of the grant's rows in the file; give its kind "
        "in the category column",
        voucher=voucher,
        grant_id=grant_id,
        acts=kinds_named(kinds),
    )
    return BadInputError(msg)


def _grant_named(row: Row) -> str:
    """The grant a row names, as the scratch file of rows by business date keeps it."""
    return cell_text(row.get("grant_id"))


def _snapshot_class(app: GrantLedger, aggregate: Grant | Unit | Base) -> Any:
    return getattr(type(aggregate), "Snapshot", app.snapshot_class)


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
    person: Person,
    claimed_role: str | None,
    batch: int,
    cache_vouchers: int,
    signer: Signer | None = None,
    parted: bool = False,
    held: int | None = None,
    coming: Coming | None = None,
) -> Iterator[Message]:
    """Apply every row to the aggregates and yield what to write (see ``Message``). ``coming``:
    the receipts the file brings in, each grant's ring-fence judged as if those not yet applied
    were in (``ledger.grant.COMING``), and every date's balance checked at the end without them."""
    app.trust.leaves_kept = max(app.trust.leaves_kept, SEAL_LEAVES_KEPT)
    books = _Books(app, person, claimed_role, cache_vouchers, signer, parted, held)
    token = COMING.set(coming)  # taken off as the receipts arrive (``_arrived``)
    try:
        yield from _check_rows(app, rows, books, batch, coming)
    finally:
        COMING.reset(token)
        books.index.close()


# by grant, fund source and ISO business date: receipts an import file brings in, and under
# RECEIVED_LESS the tranches it reverses (negative)
Coming = dict[str, dict[str, dict[str, Decimal]]]
_RECEIVED = {
    "SubsidyDisbursed": "subsidy",
    "MatchingReceived": "matching",
    "DisbursementReversed": RECEIVED_LESS,
}
_RECEIPT_ROWS = ("disburse", "match_receive")


def coming_receipts(
    rows: Iterable[tuple[int, Row]], grants: Container[str], held: Callable[[str, str, str], Decimal | None]
) -> Coming:
    """The tranches and matching receipts a file's ``rows`` bring in for ``grants``, and the
    tranches it reverses (``held(grant, kind, voucher)``: the amount of a receipt the ledger
    holds, else None; a reversed tranche's amount is the ledger's, else the file's own). A receipt
    the ledger holds already, or a row repeating one counted, brings in nothing: the repeat
    records nothing, so no act may be paid for by it. A row that does not read is left out (the
    pass refuses it anyway)."""
    coming: Coming = {}
    own: dict[tuple[str, str], Decimal] = {}
    counted: set[tuple[str, str, str]] = set()
    reversals: list[tuple[str, str, str]] = []
    for _line, row in rows:
        cells = as_cells(row)
        kind, grant = cells["kind"].lower(), cells["grant_id"]
        ordinal = day_of(row)
        if grant not in grants or not ordinal:
            continue
        day = date.fromordinal(ordinal).isoformat()
        if kind == "reverse" and cells["category"].lower() in ("", "disburse"):
            reversals.append((grant, cells["memo"], day))
        if kind not in _RECEIPT_ROWS:
            continue
        try:
            amount = parse_amount(cells["amount"])
        except LedgerError:
            continue
        receipt = (grant, kind, cells["voucher"])
        if receipt in counted or held(*receipt) is not None:
            continue
        counted.add(receipt)
        if kind == "disburse":
            own[(grant, cells["voucher"])] = amount
        days = coming.setdefault(grant, {}).setdefault(_MOVES[kind], {})
        days[day] = days.get(day, Decimal(0)) + amount
    for grant, voucher, day in reversals:
        reversed_amount = held(grant, "disburse", voucher)
        if reversed_amount is None:
            reversed_amount = own.get((grant, voucher))
        if reversed_amount is not None:
            days = coming.setdefault(grant, {}).setdefault(RECEIVED_LESS, {})
            days[day] = days.get(day, Decimal(0)) - reversed_amount
    return coming


def _arrived(coming: Coming, grant_id: str, events: list[Any]) -> None:
    """The receipts (and reversed tranches) among a row's events are in the books now, no
    longer coming."""
    for event in events:
        source = _RECEIVED.get(type(event).__name__)
        days = coming.get(grant_id, {}).get(source or "")
        if days is None:
            continue
        day = event.occurred_on.isoformat()
        change = -event.amount if source == RECEIVED_LESS else event.amount  # as the book holds it
        left = days.get(day, Decimal(0)) - change
        if left and (left > 0) == (change > 0):
            days[day] = left
        else:
            days.pop(day, None)


def _overdrawn_without_coming(books: _Books, coming: Coming, lines: dict[str, int]) -> list[RowError]:
    """The grants whose balance is below zero, or whose total disbursed is above the approval, at
    the end of some date once the receipts and reversals still coming are left out, each at its
    last row: what the file holds must stand on its own."""
    token = COMING.set(None)
    try:
        errors = []
        for grant_id in coming:
            grant = books.find_grant(grant_id)
            if grant is None or grant_id not in lines:
                continue
            for source in ("subsidy", "matching"):
                least = grant.headroom(source, date.min)
                breach = file_stands_on_its_own(grant_id, source, least, books.policy)
                if breach is not None:
                    errors.append(_error(lines[grant_id], breach.error()))
                    break
            else:
                breach = file_tranches_stand_on_their_own(grant, books.policy)
                if breach is not None:
                    errors.append(_error(lines[grant_id], breach.error()))
        books.touched.clear()
        return errors
    finally:
        COMING.reset(token)


def _check_rows(
    app: GrantLedger, rows: Iterable[tuple[int, Row]], books: _Books, batch: int, coming: Coming | None = None
) -> Iterator[Message]:
    encode = books.encoder.row_and_leaf
    result = ImportResult()
    pending: list[EventRow] = []
    leaves: list[str] = []
    seal_id = new_seal_id()
    seal_text = str(seal_id)  # the events' mark, written once per batch
    since = 0
    # a spend repeating a reversed voucher, by (grant, voucher): a repeat of history only if the
    # file repeats its reversal too; otherwise refused at its line when the file ends
    respent: dict[tuple[str, str], tuple[int, int, ReversedVoucherError]] = {}
    order = _ListedOrder()
    last_lines: dict[str, int] = {}  # of each grant with receipts coming: its last row's line
    for line, row in rows:
        result.rows += 1
        since += 1
        try:
            books.apply(row)
        except ReversedVoucherError as e:
            if e.repeat:
                respent[e.grant_id, e.voucher] = (line, day_of(row), e)
            else:
                result.add(_error(line, e), _grant_named(row), day_of(row))
            books.touched.clear()
            continue
        except LedgerError as e:
            result.add(_error(line, e), _grant_named(row), day_of(row))
            books.touched.clear()
            pending.clear()
            continue
        if respent and books.reversed_voucher is not None:
            respent.pop(books.reversed_voucher, None)
        events = books.collect()
        if coming:
            grant_id = _grant_named(row)
            if grant_id in coming:
                last_lines[grant_id] = line
                _arrived(coming, grant_id, events)
        if not events:
            result.repeat(line)
        order.row(line, row, events)
        result.events += len(events)
        if not result.errors:
            mark(events, seal_text)
            for event in events:
                stored, leaf = encode(event)
                pending.append(stored)
                leaves.append(leaf)
        if len(pending) >= batch:
            yield "rows", since
            yield "events", (seal_id, pending, "".join(leaves))
            pending, leaves, since, seal_id = [], [], 0, new_seal_id()
            seal_text = str(seal_id)
        elif since >= 1000:
            yield "rows", since
            since = 0
    yield "rows", since
    for (grant, _voucher), (line, day, error) in respent.items():
        result.add(_error(line, error), grant, day)
    for grant_id, voucher, line, day in [*order.doubted, *order.same_date()]:
        decides = _order_decides(books, grant_id, voucher)
        if decides is not None:
            result.add(_error(line, decides), grant_id, day)
    if coming and not result.errors:
        for overdrawn in _overdrawn_without_coming(books, coming, last_lines):
            result.add(overdrawn)
    result.trim()
    if not result.errors and result.events:
        if pending:
            yield "events", (seal_id, pending, "".join(leaves))
        yield from _snapshots(app, books.changed_aggregates(), books.encoder, books.index, books.reform)
    yield "result", result


def _snapshots(
    app: GrantLedger,
    changed: Iterable[tuple[Grant | Unit | Base, int]],
    encoder: StateEncoder,
    index: GrantIndex,
    reform: Collection[str] = (),
) -> Iterator[Message]:
    """One snapshot per aggregate whose version passed one of its snapshot points, or which was
    loaded from a snapshot of an earlier form (``reform``, by key), a few at a time: a large
    grant's snapshot is hundreds of kilobytes (a grant's is taken with its dicts from the index,
    one grant at a time)."""
    if app.snapshots is None:
        return
    chunk: list[StoredEvent] = []
    size = 0
    for aggregate, loaded_at in changed:
        interval = app.snapshotting_intervals.get(type(aggregate))
        if not interval:
            continue
        passed = points_through(aggregate.version, interval) > points_through(loaded_at, interval)
        if not passed and _name(aggregate) not in reform:
            continue
        take = _snapshot_class(app, aggregate).take
        if isinstance(aggregate, Grant):
            stored = index.held_snapshot(_name(aggregate), aggregate.version)
            if stored is None:
                stored = encoder(index.taken(aggregate, take))
        else:
            stored = encoder(take(aggregate))
        chunk.append(stored)
        size += len(stored.state)
        if size > SNAPSHOT_BYTES:
            yield "snapshots", chunk
            chunk, size = [], 0
    if chunk:
        yield "snapshots", chunk


def import_rows(
    app: GrantLedger,
    rows: Iterable[tuple[int, Row]],
    *,
    signer: Signer,
    role: str | None = None,
    actor: str | None = None,
    batch: int = BATCH_ROWS,
    on_start: Callable[[Connection], None] | None = None,
    on_batch: OnBatch | None = None,
    progress: Callable[[int], None] | None = None,
    cache_vouchers: int | None = None,
    checkers: int = 0,
    on_end: Callable[[Connection], None] | None = None,
    expected_rows: int = 0,
    coming: Coming | None = None,
) -> ImportResult:
    """Check and record every row in one transaction; nothing is written if any row is bad.

    ``on_start(conn)`` runs once the write lock is held (the projections catch up to the head
    there); ``on_batch(conn, notifications)`` after each batch is inserted, in the same
    transaction; ``on_end(conn)`` after the last, when every row was good, before the commit;
    ``progress(n)`` as rows are checked. ``checkers`` is how many other processes
    check the rows and encode the events while this one writes them: none, one, or more, each
    given the rows of some grants by a process reading the file (when ``may_part`` allows).
    ``expected_rows``: about how many rows the file holds (0: not known), for the reader of a
    file checked in parts to size the files it sets rows aside in. ``coming``: the file's
    receipts, for the grants whose spending is judged with them (``_check``).
    """
    cache = CACHE_VOUCHERS if cache_vouchers is None else cache_vouchers
    registry, seen = app.trust.fresh_registry()
    person = registry.signer(signer.fingerprint)
    raise_first(
        [
            signer_holds_role(
                person,
                person.role if person else None,
                signer.fingerprint,
                None,
                None,
                actor,
                policy_in_force(business_today()),
            )
        ]
    )
    assert person is not None
    with _collector_relaxed(), app.engine.connect() as conn:
        transaction = conn.begin()
        cache_before: int | None = None
        try:
            take_write_lock(conn)
            cache_before = _larger_page_cache(conn)
            if app.trust.registry_moved(conn, seen):  # a key revoked since it was checked
                raise ConflictError(
                    T_(
                        "the people registry changed as the import began (a person added, a key "
                        "rotated or revoked); nothing was written, run it again"
                    )
                )
            if on_start is not None:
                on_start(conn)
            writer = BulkWriter(app, conn, on_batch)
            encoder = StateEncoder(app.mapper)
            options: dict[str, Any] = {
                "person": person,
                "claimed_role": role,
                "batch": batch,
                "cache_vouchers": cache,
                "signer": signer,
                "coming": coming,
            }
            messages: Iterator[Message]
            if checkers > 1 and may_part(person):
                messages = _checked_in_parts(app, rows, checkers, expected_rows, **options)
            elif checkers:
                messages = _checked_elsewhere(app, rows, **options)
            else:
                messages = _check(app, rows, **options)
            result = ImportResult()
            with closing(cast(Generator[Message, None, None], messages)):  # a failure here ends them now
                for kind, body in messages:
                    if kind == "rows":
                        if progress is not None and body:
                            progress(body)
                    elif kind == "events":
                        writer.events(sealed(app, body, signer, person.name, encoder), leaf_hashes(body[2]))
                    elif kind == "snapshots":
                        writer.snapshots(body, signer)
                    else:
                        result.join(body)
            if result.bad or result.events == 0:
                transaction.rollback()
                return result
            if on_end is not None:
                on_end(conn)
            channel = getattr(app.recorder, "channel_name", None)
            if conn.dialect.name == "postgresql" and channel:
                conn.exec_driver_sql(f"NOTIFY {channel}")  # live followers wake at the commit
            with app.commit_guard():
                transaction.commit()
                app.committed()
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise
        finally:
            if cache_before is not None:
                # a connection a failed commit left unusable (a full disk) refuses this too, and
                # its error ("Can't reconnect until invalid transaction is rolled back") had
                # replaced the failure the import is to tell
                with suppress(SQLAlchemyError):
                    conn.exec_driver_sql(f"PRAGMA cache_size = {cache_before}")
    return result


def _larger_page_cache(conn: Connection) -> int | None:
    """On SQLite, a page cache of ``IMPORT_PAGE_CACHE_KIB`` for the import's connection; the size
    it had, to give back after (None elsewhere). The projections read and rewrite the rows of
    the grants they touch (once, for as many as the writing process holds; at every batch past
    that): with SQLite's default 2 MB, a file over 20,000 bases read most pages from the system
    at each access (a tenth of the import's time, in the kernel)."""
    if conn.dialect.name != "sqlite":
        return None
    before = int(conn.exec_driver_sql("PRAGMA cache_size").scalar() or 0)
    conn.exec_driver_sql(f"PRAGMA cache_size = -{IMPORT_PAGE_CACHE_KIB}")
    return before


def sealed(
    app: GrantLedger, body: tuple[UUID, list[EventRow], str], signer: Signer, name: str, encoder: StateEncoder
) -> list[EventRow]:
    """A batch of the import's events and, after them, its seal: one signature per batch, over
    the leaf hashes the checking side computed as it encoded them."""
    seal_id, rows, leaves = body
    seal = Seal.of(seal_id, signer, name, leaves)
    return [*rows, encoder.row(seal.collect_events()[0])]


def leaf_hashes(leaves: str) -> list[bytes]:
    """The leaf hashes a seal's text of them holds (each 64 hex digits), as bytes."""
    raw = bytes.fromhex(leaves)
    return [raw[at : at + 32] for at in range(0, len(raw), 32)]


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
        _check_and_send, (url, rows, options), "result", T_("the import's checking process")
    )
    return cast(Iterator[Message], checked)


def may_part(person: Person) -> bool:
    """Whether the rows this person imports can be checked in parts, each part the rows of some
    grants: only when no role the person has held may record a row that acts on more than one
    grant (an approve row registers its unit and takes the base there)."""
    beyond = {action.name for action in ROW_ACTIONS.values() if not issubclass(action, GrantAction)}
    return not any(beyond & ROLE_ACTIONS.get(period.role, frozenset()) for period in person.periods)


def _checked_in_parts(
    app: GrantLedger,
    rows: Iterable[tuple[int, Row]],
    parts: int,
    expected_rows: int,
    **options: Any,
) -> Iterator[Message]:
    """``_check`` run in ``parts`` forked processes, each given the rows of its grants (a hash of
    the grant id) by a forked reader, their messages received here as they come. A grant's rows
    reach one process, in the file's order, so each process decides as the one checker would;
    each sends its own batches, sealed here as they come, and its own result. Together they hold
    as many grants in memory as one checking process would."""
    url = app.engine.url.render_as_string(hide_password=False)
    held = max(1, HELD_AGGREGATES // parts)
    checked = messages_from_parts(
        _deal,
        (rows, held, expected_rows),
        _check_part,
        (url, {**options, "parted": True, "held": held}),
        parts,
        "result",
        T_("one of the import's checking processes"),
    )
    return cast(Iterator[Message], checked)


DEAL_ROWS = 500  # rows sent to a checking process at a time
# A checking process is sent as they come the rows of at most LIVE_GRANTS grants at once; one
# of them missing for more than LIVE_GAP of that process's rows looks done, and another may take
# its place. One that comes back takes a place too, or is set aside from then on; past
# LIVE_RETURNS such returns (a file by date, grants far apart), every grant that comes back is.
LIVE_GRANTS = 32
LIVE_GAP = 256
LIVE_RETURNS = 32
# grants that looked done remembered per process, to know one that comes back; past this many
# they are forgotten at once (a file of a million grants, each named once, kept a million names):
# a forgotten grant that comes back is met as a new one, at the cost of one more run of its rows
LOOKED_DONE_KEPT = 65_536
# Rows set aside are read back into memory this many at a time (about 1.4 KB each), grouped by
# grant; each process's rows set aside go to at most ASIDE_FILES files, chosen by a hash of the
# grant, about ASIDE_ROWS // 2 rows each where the file's size is known.
ASIDE_ROWS = 25_000
ASIDE_FILES = 128
ASIDE_SPLITS = 3  # times a file's rows are split, at most (a hash may put many grants together)
ASIDE_BUFFERED = 16_000  # rows held in memory, among all the files, before they are written
# The grants set aside are marked by a bit each, at a hash of the grant (8 MB, made at the first):
# a grant whose bit another set is set aside too, which keeps every promise (its rows already
# sent reach its process first, the rest in its turn) at the cost of a read back. By name, a file
# naming a million grants once each held a million names twice (in the reading process, 248 MB)
ASIDE_BITS = 1 << 26


def _deal(rows: Iterable[tuple[int, Row]], held: int, expected_rows: int, feeds: list[Any]) -> None:
    """Read the rows and send each to the checking process of its grant (``_Dealer``), which
    holds ``held`` grants in memory."""
    gc.freeze()
    senders = [_Sender(feed) for feed in feeds]
    dealer = _Dealer(senders, held, expected_rows)
    try:
        try:
            deal = dealer.deal
            for line, row in rows:
                deal(line, row if row.__class__ is Cells else as_cells(row))
            dealer.finish()  # the rows set aside are read back here: its errors are the reader's too
            return
        except (BrokenPipeError, KeyboardInterrupt):
            raise
        except BaseException as e:
            failed = failure(e, T_("the import's reading process"))
        for sender in senders:
            sender.send(("failed", failed))
    except (BrokenPipeError, KeyboardInterrupt):
        return  # a checking process is gone or interrupted: the writing one rolls back
    finally:
        dealer.close()
        for sender in senders:
            sender.close()


SENT_AHEAD = 40  # batches read ahead for a checking process still busy with those before


class _Sender:
    """A checking process's feed, its messages sent by a thread of their own: the reader reads
    on while that process is busy, up to ``SENT_AHEAD`` batches, so that the other is not left
    waiting (a file grouped by grant holds one grant's rows, one process's, at a time)."""

    def __init__(self, feed: Any) -> None:
        self.feed = feed
        self.queue: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=SENT_AHEAD)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while (message := self.queue.get()) is not None:
                self.feed.send(message)
        except BaseException as e:  # the process is gone (a broken pipe): the reader stops
            self.error = e
            while self.queue.get() is not None:  # nothing more is sent; the reader never waits
                pass

    def send(self, message: tuple[str, Any]) -> None:
        if self.error is not None:
            raise BrokenPipeError(str(self.error))
        self.queue.put(message)

    def close(self) -> None:
        """What is queued sent (or the pipe found broken), then the feed closed."""
        self.queue.put(None)
        self.thread.join()
        self.feed.close()


class _Dealer:
    """Each row to the checking process of its grant (a hash of its id), the rows of each grant
    in the file's order, so that a process meets the grants one after another as in a file
    grouped by grant, whatever the file's order.

    A grant a process checks keeps what it holds per voucher and per date in its own dicts while
    the process meets few grants at once; a file by date, where every grant's rows come among all
    the others', took a third longer to check. So a process is sent as they come the rows of a
    few grants at a time (``LIVE_GRANTS``: in a file grouped by grant, each grant as it comes),
    and the rows of every other grant are set aside in temporary files (a hash of the grant
    picks the file), to be read back once the file is read, each file's rows grouped by grant
    (``_Aside``); so are, from then on, those of a grant whose hash marks it as set aside
    (``ASIDE_BITS``: one another grant's mark covers; its rows sent already still come first).
    Each grant's rows reach one process, in the file's order, and a process meets each grant
    set aside once in the rows read back."""

    def __init__(self, feeds: list[Any], held: int, expected_rows: int = 0) -> None:
        parts = len(feeds)
        self.feeds = feeds
        self.live_most = max(1, min(LIVE_GRANTS, held))
        self.batches: list[list[tuple[int, Cells]]] = [[] for _ in feeds]
        # each process's grants sent as they come and not looking done, each with the count of
        # that process's rows sent as they come at its last row, least recent first
        self.active: list[dict[str, int]] = [{} for _ in feeds]
        self.looked_done: list[set[str]] = [set() for _ in feeds]
        self.dealt = [0] * parts
        self.returns = [0] * parts
        wanted = -(-max(0, expected_rows) // (parts * (ASIDE_ROWS // 2)))
        count = max(1, min(ASIDE_FILES, wanted))
        buffered = max(16, min(DEAL_ROWS, ASIDE_BUFFERED // (count * parts)))
        self.aside: list[list[_Aside]] = [[_Aside(buffered) for _ in range(count)] for _ in feeds]
        self.aside_bits: bytearray | None = None  # the marks of the grants set aside (``ASIDE_BITS``)
        self.aside_mask = ASIDE_BITS - 1

    def deal(self, line: int, cells: Cells) -> None:
        grant = cells["grant_id"]
        code = crc32(grant.encode("utf-8", "surrogatepass"))
        parts = len(self.feeds)
        part = code % parts
        bits = self.aside_bits
        if bits is not None:
            at = code & self.aside_mask
            if bits[at >> 3] & (1 << (at & 7)):
                files = self.aside[part]
                files[(code // parts) % len(files)].add(line, cells)
                return
        active = self.active[part]
        if grant in active:
            del active[grant]  # to the end: the most recent
        else:
            came_back = grant in self.looked_done[part]
            if came_back:
                self.looked_done[part].discard(grant)
                self.returns[part] += 1
            if (came_back and self.returns[part] > LIVE_RETURNS) or not self._room(part):
                # its rows sent already reach the process first: ``finish`` sends every row in
                # hand before any set aside
                if self.aside_bits is None:
                    self.aside_bits = bytearray(-(-ASIDE_BITS // 8))
                at = code & self.aside_mask
                self.aside_bits[at >> 3] |= 1 << (at & 7)
                files = self.aside[part]
                files[(code // parts) % len(files)].add(line, cells)
                return
        self.dealt[part] += 1
        active[grant] = self.dealt[part]
        batch = self.batches[part]
        batch.append((line, cells))
        if len(batch) >= DEAL_ROWS:
            self.feeds[part].send(("rows", batch))
            self.batches[part] = []

    def _room(self, part: int) -> bool:
        """Whether the process may be sent a new grant's rows as they come: fewer than
        ``live_most`` of its grants sent so are still coming (the others look done)."""
        active = self.active[part]
        since = self.dealt[part] - LIVE_GAP
        while active:
            grant = next(iter(active))  # the least recent
            if active[grant] >= since:
                break
            del active[grant]
            looked_done = self.looked_done[part]
            if len(looked_done) >= LOOKED_DONE_KEPT:
                looked_done.clear()
            looked_done.add(grant)
        return len(active) < self.live_most

    def finish(self) -> None:
        """The rows left in hand, then the files set aside, each process's in turn, then the end."""
        for feed, batch in zip(self.feeds, self.batches, strict=True):
            if batch:
                feed.send(("rows", batch))
        self.aside_bits = None
        Batches = Iterator[list[tuple[int, Cells]]]
        waiting: list[tuple[Any, Batches]] = [
            (feed, (batch for aside in files for batch in aside.batches()))
            for feed, files in zip(self.feeds, self.aside, strict=True)
        ]
        while waiting:
            going: list[tuple[Any, Batches]] = []
            for feed, batches in waiting:
                for batch in islice(batches, 1):
                    feed.send(("rows", batch))
                    going.append((feed, batches))
            waiting = going
        for feed in self.feeds:
            feed.send(("end", None))

    def close(self) -> None:
        for files in self.aside:
            for aside in files:
                aside.close()


class _Aside:
    """Rows set aside in a temporary file (made at the first row written, deleted when closed or
    when the process ends), read back grouped by grant, each grant's rows in the file's order."""

    def __init__(self, buffered: int = DEAL_ROWS, depth: int = 0) -> None:
        self.file: IO[bytes] | None = None
        self.buffered = buffered
        self.depth = depth  # how many times the rows were split from a larger file (``_split``)
        self.count = 0
        # whether the rows are of one grant (its name) or of several: each grant's count is read
        # from the file only to split it (``_split``), never held for every grant set aside
        self.first: str | None = None
        self.several = False
        self.rows: list[tuple[int, Cells]] = []

    def add(self, line: int, cells: Cells) -> None:
        if not self.several:
            grant = cells["grant_id"]
            if self.first is None:
                self.first = grant
            elif grant != self.first:
                self.several = True
        self.rows.append((line, cells))
        self.count += 1
        if len(self.rows) >= self.buffered:
            self._write()

    def _write(self) -> None:
        if self.file is None:
            self.file = tempfile.TemporaryFile()
        pickle.dump(self.rows, self.file, protocol=pickle.HIGHEST_PROTOCOL)
        self.rows = []

    def _stored(self, keep: bool = False) -> Iterator[list[tuple[int, Cells]]]:
        """The rows in the order they were added, as written (the file then closed and the rows
        in memory let go, unless ``keep``: to be read again)."""
        if self.file is not None:
            self.file.seek(0)
            while True:
                try:
                    yield pickle.load(self.file)
                except EOFError:
                    break
            if not keep:
                self.file.close()
                self.file = None
        if self.rows:
            rows = self.rows
            if not keep:
                self.rows = []
            yield rows

    def _sizes(self) -> dict[str, int]:
        """Each grant's count of rows here, read from the rows kept."""
        sizes: dict[str, int] = {}
        for stored in self._stored(keep=True):
            for _line, cells in stored:
                grant = cells["grant_id"]
                sizes[grant] = sizes.get(grant, 0) + 1
        return sizes

    def batches(self) -> Iterator[list[tuple[int, Cells]]]:
        """The rows in batches of ``DEAL_ROWS``, grouped by grant. Memory holds at most
        ``ASIDE_ROWS`` of them: a larger file of several grants is split first (``_split``);
        the rows of one grant are sent as they stand."""
        if self.several and self.count > ASIDE_ROWS and self.depth < ASIDE_SPLITS:
            for part in self._split():
                yield from part.batches()
            return
        if not self.several or self.count > ASIDE_ROWS:  # one grant (or split as often as may be)
            for rows in self._stored():
                for at in range(0, len(rows), DEAL_ROWS):
                    yield rows[at : at + DEAL_ROWS]
            return
        rows = [row for stored in self._stored() for row in stored]
        rows.sort(key=_grant_of)  # stable: each grant's rows stay in the file's order
        for at in range(0, len(rows), DEAL_ROWS):
            yield rows[at : at + DEAL_ROWS]

    def _split(self) -> list[_Aside]:
        """The rows in smaller files: a file of its own for each grant of more than half
        ``ASIDE_ROWS`` rows, and for each other grant too where they are few; else the others'
        by a hash of the grant, about a quarter of ``ASIDE_ROWS`` rows each."""
        half = max(1, ASIDE_ROWS // 2)
        sizes = self._sizes()
        large = [grant for grant, size in sizes.items() if size > half]
        small = len(sizes) - len(large)
        rest = self.count - sum(sizes[grant] for grant in large)
        count = 0 if small <= ASIDE_FILES else max(1, min(ASIDE_FILES, -(-rest // max(1, half // 2))))
        own_file = large if count else list(sizes)
        del sizes
        buffered = max(16, ASIDE_BUFFERED // (count + len(own_file)))
        own = {grant: _Aside(buffered, self.depth + 1) for grant in own_file}
        parts = [_Aside(buffered, self.depth + 1) for _ in range(count)]
        salt = str(self.depth).encode()
        try:
            for stored in self._stored():
                for line, cells in stored:
                    grant = cells["grant_id"]
                    part = own.get(grant)
                    if part is None:
                        code = blake2b(grant.encode("utf-8", "surrogatepass"), digest_size=8, salt=salt)
                        part = parts[int.from_bytes(code.digest(), "big") % count]
                    part.add(line, cells)
        except BaseException:
            for part in (*own.values(), *parts):
                part.close()
            raise
        return [*own.values(), *parts]

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _grant_of(row: tuple[int, Cells]) -> str:
    return row[1]["grant_id"]


def _fed(feed: Any) -> Iterator[tuple[int, Row]]:
    """The rows the reader sends this checking process."""
    while True:
        try:
            kind, body = feed.recv()
        except EOFError:
            raise StorageError(_("the import's reading process ended before the file did")) from None
        if kind == "rows":
            yield from body
        elif kind == "end":
            return
        else:
            raise body


def _check_part(url: str, options: Any, feed: Any, send: Any) -> None:
    _check_and_send(url, _fed(feed), options, send, None)


def _check_and_send(
    url: str, rows: Iterable[tuple[int, Row]], options: Any, send: Any, receive: Any | None
) -> None:
    if receive is not None:
        receive.close()
    gc.freeze()  # what the fork inherited is not scanned again by the collector
    try:
        try:
            app = GrantLedger(url)
            for message in _check(app, rows, **options):
                send.send(message)
            return
        except (BrokenPipeError, KeyboardInterrupt):
            return  # the writing process is gone or interrupted: it rolls back
        except BaseException as e:  # one line for the user, not a traceback
            failed = failure(e, T_("the import's checking process"))
        send.send(("failed", failed))
    except (BrokenPipeError, KeyboardInterrupt):
        return  # no one to tell: the writing process is gone (killed) or interrupted
    finally:
        send.close()
