"""What an import's grants hold per voucher and per date — each voucher's fingerprint, each
expenditure, each date's net change of a fund source — kept outside the grants, in one index.

These are what make a grant big; the rest of a grant (its money, its steps) is small. With them
here a row reads and writes the few entries it needs whatever order the rows come in, and a
grant left without them packs in about a kilobyte: past the number of grants and units an import
holds in memory, the least recently used are parked in the same database (``park``) and read
back when a row needs them (``unpark``), so memory is bounded however many grants a file holds.

The grant's own code reads and writes them through mappings that look like its dicts
(``Kept``), so every rule is judged by the one ``Grant``. Recent entries are held in memory, up
to ``held`` of them; older ones go to a private temporary SQLite database (a file SQLite deletes
when it is closed, never the ledger's store) whose page cache is bounded, and are read back by
key when a row needs them. A Bloom filter answers most lookups of what was never written (a new
voucher: the usual row) without asking the database. ``taken`` gives a grant its plain dicts
back, in the order they were written, while its snapshot is taken.
"""

from __future__ import annotations

import io
import pickle
import sqlite3
import sys
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from ledger.grant import Grant

_ABSENT: Any = object()
T = TypeVar("T")
_FIELDS = 4  # vouchers, expenditures, days of subsidy, days of matching: one namespace each
_BLOOM_BITS = 1 << 26  # 8 MB: about 1% false positives at six million entries
_MASK = _BLOOM_BITS - 1
_PAGE_CACHE_KIB = 16 * 1024
# aggregates parked are written this many bytes at a time: a process past its memory ceiling
# parks a fifth of the grants it holds at once, and all of them pickled before any was written
# took each checking process of ten million rows over 200,000 bases from 263 to 279 MB
PARKED_BYTES = 2 << 20
_PARK = "INSERT OR REPLACE INTO parked VALUES (?, ?)"  # a key parked again replaces what it held
_CHANGED_HELD = 10_000  # names of changed aggregates noted in memory before they go to the database


class Kept:
    """One grant's dict, kept in the index: what ``Grant`` does with its dicts (``get``, ``[]``,
    ``[]=``, ``in``), entry by entry. An entry read with ``[]`` is held in memory again until the
    row ends, since the grant may change it in place (an expenditure marked reversed)."""

    __slots__ = ("index", "space")

    def __init__(self, index: GrantIndex, space: int) -> None:
        self.index = index
        self.space = space

    def get(self, key: str, default: Any = None) -> Any:
        return self.index.get(self.space, key, default)

    def __getitem__(self, key: str) -> Any:
        value = self.index.get(self.space, key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        self.index.put(self.space, key, value)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self.index.put(self.space, key, value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.index.get(self.space, key, _ABSENT) is not _ABSENT

    def __iter__(self) -> Iterator[str]:
        return iter(self.index.entries(self.space))

    def __len__(self) -> int:
        return len(self.index.entries(self.space))


class _Dates(list[str]):
    """A fund source's dates in order, each date's text shared by every grant that moved money
    on it (a million dates of twenty thousand grants are a few hundred texts)."""

    def append(self, day: str) -> None:
        super().append(sys.intern(day))

    def insert(self, at: Any, day: str) -> None:  # bisect.insort calls it on a list subclass
        super().insert(at, sys.intern(day))


class GrantIndex:
    """The per-voucher and per-date entries of every grant an import touches (see the module)."""

    def __init__(self, held: int) -> None:
        self.held = max(1, held)
        self.recent: dict[tuple[int, str], Any] = {}
        self.bloom = bytearray(_BLOOM_BITS // 8)
        self.spaces: dict[Any, int] = {}  # grant id -> its first namespace
        self.written = 0  # entries written to the database, for their order
        self.changed: dict[str, int] = {}  # noted since the last write of them to the database
        # a grant's namespaces whose entries are still one blob in the database (``keep``), each
        # with the grant's first namespace
        self.asleep: dict[int, int] = {}
        self._db: sqlite3.Connection | None = None

    # ------------------------------------------------------------------ grants

    def keep(self, grant: Grant) -> None:
        """Move the grant's per-voucher and per-date dicts here (once per grant).

        They are written as one blob, which becomes entries the first time a row reads or writes
        one of them (``_wake``): a grant whose rows are done (a file grouped by grant) costs one
        pickle, not an entry each."""
        if grant.id in self.spaces:
            return
        space = self.spaces[grant.id] = (len(self.spaces) + 1) * _FIELDS
        state: Any = grant
        if grant.days is not None:
            dates = grant.dates if grant.dates is not None else {s: sorted(b) for s, b in grant.days.items()}
            state.dates = {source: _Dates(days) for source, days in dates.items()}
        held = _held(grant)
        if any(held):
            if self._db is None:
                self._db = _temporary_database()
            with self._db:
                self._db.execute("INSERT INTO asleep VALUES (?, ?)", (space, pickle.dumps(held, protocol=5)))
            for offset in range(_FIELDS):
                self.asleep[space + offset] = space
        self._point(grant, space)
        shared(grant)

    def _wake(self, space: int) -> None:
        """The entries of the grant whose namespace is ``space``, from its blob (see ``keep``)."""
        first = self.asleep[space]
        for offset in range(_FIELDS):
            del self.asleep[first + offset]
        assert self._db is not None
        (blob,) = self._db.execute("SELECT held FROM asleep WHERE space = ?", (first,)).fetchone()
        for offset, held in enumerate(pickle.loads(blob)):
            if held is not None:
                for key, value in held.items():
                    self.put(first + offset, key, value)

    def taken(self, grant: Grant, take: Callable[[Grant], T]) -> T:
        """``take(grant)`` (its snapshot) with the grant's plain dicts, each in the order its
        entries were first written; then the grant is kept here again."""
        space = self.spaces.get(grant.id)
        if space is None:
            return take(grant)
        state: Any = grant
        dates = grant.dates
        state.vouchers = self.entries(space)
        state.expenditures = self.entries(space + 1)
        if grant.days is not None:
            state.days = {"subsidy": self.entries(space + 2), "matching": self.entries(space + 3)}
        if dates is not None:
            state.dates = {source: list(days) for source, days in dates.items()}
        try:
            return take(grant)
        finally:
            state.dates = dates
            self._point(grant, space)

    def _point(self, grant: Grant, space: int) -> None:
        state: Any = grant
        state.vouchers = Kept(self, space)
        state.expenditures = Kept(self, space + 1)
        if grant.days is not None:
            state.days = {"subsidy": Kept(self, space + 2), "matching": Kept(self, space + 3)}

    # ------------------------------------------------------------------ entries

    def get(self, space: int, key: str, default: Any) -> Any:
        if space in self.asleep:
            self._wake(space)
        found = self.recent.get((space, key), _ABSENT)
        if found is not _ABSENT:
            return found
        h = hash((space, key))
        a, b = h & _MASK, (h >> 32) & _MASK
        bloom = self.bloom
        if not (bloom[a >> 3] >> (a & 7)) & 1 or not (bloom[b >> 3] >> (b & 7)) & 1 or self._db is None:
            return default
        row = self._db.execute("SELECT value FROM kept WHERE space = ? AND key = ?", (space, key)).fetchone()
        return default if row is None else _decode(space, row[0])

    def put(self, space: int, key: str, value: Any) -> None:
        if space in self.asleep:
            self._wake(space)
        entry = (space, key)
        if entry not in self.recent:
            h = hash(entry)
            a, b = h & _MASK, (h >> 32) & _MASK
            bloom = self.bloom
            bloom[a >> 3] |= 1 << (a & 7)
            bloom[b >> 3] |= 1 << (b & 7)
        self.recent[entry] = value

    def settle(self) -> None:
        """Between rows: past ``held`` entries in memory, write them to the database."""
        if len(self.recent) > self.held:
            self._flush()

    def entries(self, space: int) -> dict[str, Any]:
        if space in self.asleep:
            self._wake(space)
        self._flush()
        if self._db is None:
            return {}
        found = self._db.execute("SELECT key, value FROM kept WHERE space = ? ORDER BY seq", (space,))
        decode = _DECODERS[space % _FIELDS]
        return {key: decode(value) for key, value in found}

    # ------------------------------------------------------------------ parked aggregates

    def park(self, aggregates: list[tuple[str, Any]]) -> None:
        """Aggregates (a grant with its entries pointing here, a unit) set aside by key until a
        row needs them again: they hold the import's changes, which the ledger does not have yet.
        A key parked again replaces what it held."""
        if self._db is None:
            self._db = _temporary_database()
        rows: list[tuple[str, bytes]] = []
        size = 0
        with self._db:
            for key, aggregate in aggregates:
                buffer = io.BytesIO()
                _Parking(buffer, protocol=5).dump(aggregate)
                pickled = buffer.getvalue()
                rows.append((key, pickled))
                size += len(pickled)
                if size >= PARKED_BYTES:
                    self._db.executemany(_PARK, rows)
                    rows, size = [], 0
            self._db.executemany(_PARK, rows)

    def unpark(self, key: str) -> Any:
        """The aggregate last parked under ``key`` (None: never parked)."""
        if self._db is None:
            return None
        row = self._db.execute("SELECT state FROM parked WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        aggregate = _Unparking(io.BytesIO(row[0]), self).load()
        if aggregate.__class__ is Grant:
            shared(aggregate)  # unpickled, it holds a copy of each text and amount again
        return aggregate

    def hold_snapshot(self, name: str, version: int, stored: Any) -> None:
        """A snapshot (encoded) of the aggregate ``name`` at ``version``, kept for the end."""
        if self._db is None:
            self._db = _temporary_database()
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)",
                (name, version, pickle.dumps(stored, protocol=5)),
            )

    def held_snapshot(self, name: str, version: int) -> Any:
        """The snapshot held for ``name`` if it was taken at ``version`` (None otherwise)."""
        if self._db is None:
            return None
        row = self._db.execute(
            "SELECT stored FROM snapshots WHERE name = ? AND version = ?", (name, version)
        ).fetchone()
        return None if row is None else pickle.loads(row[0])

    def note_changed(self, name: str, loaded_at: int) -> None:
        """The import changed the aggregate ``name``, loaded at version ``loaded_at`` (the first
        note of a name stands)."""
        self.changed.setdefault(name, loaded_at)
        if len(self.changed) >= _CHANGED_HELD:
            self._flush_changed()

    def changes(self) -> Iterator[tuple[str, int]]:
        """Each aggregate the import changed, with its version when loaded."""
        self._flush_changed()
        if self._db is None:
            return
        # row by row, not ``yield from`` the cursor: an import interrupted while this was read
        # closed the database first, and the cursor's close, delegated at the generator's end,
        # printed "Exception ignored … Cannot operate on a closed database"
        for row in self._db.execute("SELECT name, loaded_at FROM changed"):  # noqa: UP028
            yield row

    def _flush_changed(self) -> None:
        if not self.changed:
            return
        if self._db is None:
            self._db = _temporary_database()
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO changed VALUES (?, ?)", self.changed.items())
        self.changed.clear()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self.recent.clear()

    def _flush(self) -> None:
        if not self.recent:
            return
        if self._db is None:
            self._db = _temporary_database()
        first = self.written
        rows = [
            (space, key, first + n, _encode(value))
            for n, ((space, key), value) in enumerate(self.recent.items())
        ]
        rows.sort()  # in key order: each page of the table is visited once
        self.written += len(rows)
        # one transaction (each statement its own would write the file each time); a key written
        # before keeps its place (seq), as a dict keeps an updated key where it was
        with self._db:
            self._db.executemany(
                "INSERT INTO kept VALUES (?, ?, ?, ?) "
                "ON CONFLICT (space, key) DO UPDATE SET value = excluded.value",
                rows,
            )
        self.recent.clear()


class _Parking(pickle.Pickler):
    """A parked grant's dicts kept in the index are written as their namespace alone."""

    def persistent_id(self, obj: Any) -> Any:
        return obj.space if obj.__class__ is Kept else None


class _Unparking(pickle.Unpickler):
    def __init__(self, file: Any, index: GrantIndex) -> None:
        super().__init__(file)
        self.index = index

    def persistent_load(self, pid: Any) -> Any:
        return Kept(self.index, pid)


# Equal amounts and dates held once among the grants (``shared``); each table starts again when full.
_SHARED_MAX = 16_384
_AMOUNTS: dict[str, Decimal] = {}
_DAYS: dict[date, date] = {}


def shared(grant: Grant) -> None:
    """The grant's texts, amounts and dates replaced, in place, by one copy of each shared by
    every grant held. A grant as decoded has its own copy of every value, though most are other
    grants' too (fund sources, categories, dates, round amounts): a grant of fifty events held
    this way takes about 11 KB instead of 15 KB, and a checking process holds thousands."""
    state = vars(grant)
    for name, value in state.items():
        state[name] = _shared(value)


def _shared(value: Any) -> Any:
    kind = value.__class__
    if kind is str:
        return sys.intern(value)
    if kind is Decimal:  # by its text: equal amounts of other exponents (1.0, 1.00) stay apart
        if len(_AMOUNTS) >= _SHARED_MAX:
            _AMOUNTS.clear()
        return _AMOUNTS.setdefault(str(value), value)
    if kind is date:
        if len(_DAYS) >= _SHARED_MAX:
            _DAYS.clear()
        return _DAYS.setdefault(value, value)
    if kind is list or kind is _Dates:  # in place: the grant may hold it under two names
        for at, item in enumerate(value):
            value[at] = _shared(item)
    elif kind is dict:
        for key, item in value.items():
            value[key] = _shared(item)
    return value


def _held(grant: Grant) -> list[dict[str, Any] | None]:
    days = grant.days or {}
    return [grant.vouchers, grant.expenditures, days.get("subsidy"), days.get("matching")]


def _temporary_database() -> sqlite3.Connection:
    db = sqlite3.connect("")  # "": a private file, deleted when closed
    for pragma in ("journal_mode = OFF", "synchronous = OFF", f"cache_size = -{_PAGE_CACHE_KIB}"):
        db.execute(f"PRAGMA {pragma}")
    db.execute(
        "CREATE TABLE kept (space INTEGER, key TEXT, seq INTEGER, value, "
        "PRIMARY KEY (space, key)) WITHOUT ROWID"
    )
    db.execute("CREATE TABLE parked (key TEXT PRIMARY KEY, state BLOB) WITHOUT ROWID")
    db.execute("CREATE TABLE changed (name TEXT PRIMARY KEY, loaded_at INTEGER) WITHOUT ROWID")
    db.execute("CREATE TABLE asleep (space INTEGER PRIMARY KEY, held BLOB)")
    db.execute("CREATE TABLE snapshots (name TEXT PRIMARY KEY, version INTEGER, stored BLOB)")
    return db


def _encode(value: Any) -> str | bytes:
    """A fingerprint as its text, a date's net change as its decimal text (exact), an expenditure's
    record of the usual shape as its values' text (``_EXPENDITURE``), anything else pickled."""
    kind = value.__class__
    if kind is str or kind is Decimal:
        return str(value)
    if kind is dict:
        layout = _LAYOUT_OF.get(tuple(value))
        if layout is not None:
            amount, source, category, content, reversed_, on, *reversed_on = value.values()
            if amount.__class__ is Decimal and reversed_.__class__ is bool:
                flag = "1" if reversed_ else "0"
                try:
                    text = _SEP.join((layout, str(amount), source, category, content, flag, on, *reversed_on))
                except TypeError:  # a value not text: pickled
                    text = ""
                if text.count(_SEP) == len(value):  # no text holds the separator
                    return text
    return pickle.dumps(value, protocol=5)


def _decode(space: int, stored: str | bytes) -> Any:
    return _DECODERS[space % _FIELDS](stored)


def _text(stored: Any) -> Any:
    return stored if stored.__class__ is str else pickle.loads(stored)


def _expenditure(stored: Any) -> Any:
    """An expenditure's record, as ``_encode`` writes it."""
    if stored.__class__ is bytes:
        return pickle.loads(stored)
    layout, amount, source, category, content, flag, *rest = stored.split(_SEP)
    values = (Decimal(amount), source, category, content, flag == "1", *rest)
    return dict(zip(_EXPENDITURE[layout], values, strict=True))


def _amount(stored: Any) -> Any:
    return Decimal(stored) if stored.__class__ is str else pickle.loads(stored)


# An expenditure's record (``Grant.ExpenditureRecorded`` and its reversal): its keys in the order
# the grant writes them, each layout named by the first field of its text. The values' text is
# joined by U+001F, which no text of a record may hold (control characters are refused).
_SEP = "\x1f"
_EXPENDITURE = {
    "e": ("amount", "source", "category", "content", "reversed", "on"),
    "r": ("amount", "source", "category", "content", "reversed", "on", "reversed_on"),
    "m": ("amount", "source", "category", "content", "reversed", "on", "memo"),
    "n": ("amount", "source", "category", "content", "reversed", "on", "memo", "reversed_on"),
}
_LAYOUT_OF = {keys: name for name, keys in _EXPENDITURE.items()}
# how each namespace's entries are read back (vouchers, expenditures, days of either source)
_DECODERS: tuple[Callable[[Any], Any], ...] = (_text, _expenditure, _amount, _amount)
