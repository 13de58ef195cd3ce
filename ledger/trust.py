"""Nothing unsigned is built upon or shown: every stored event a write loads, and every event the
projections take, must be sealed by the person it names (audit.verifier.seals), with a key the
people registry gives that person — or be older than the ledger's adoption (``migrate``).

The registry is replayed from the store with each of its own events' seals checked against the
registry as it stood before that event; a seal once verified is remembered by this process.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from uuid import UUID

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from audit.verifier.canonical import stored_leaf_data
from audit.verifier.merkle import leaf_hash
from audit.verifier.people import REGISTRY_ID, Registry, RegistryError
from audit.verifier.seals import (
    ADOPTION_TOPIC,
    HASH_HEX,
    SEAL_TOPIC,
    covers,
    leaf_list,
    message_of,
    signature_verifies,
)
from ledger.database import Quick
from ledger.errors import VerificationError
from ledger.i18n import _
from ledger.seal import ADOPTION_ID

# verified seals remembered, and their leaves in characters (an import's seal holds its batch's,
# 64 characters each): a command's few; a server, whose page of history names up to a hundred
# seals, raises the second (Trust.leaves_kept)
SEALS_KEPT = 1024
LEAVES_KEPT = 4 << 20
SEARCHED = 8  # lookups in a seal of many leaves before they are put in a set
# events whose stored bytes this process has decoded and hashed for a page of history, by id: read
# again, an event whose bytes are the same is not decoded and hashed again (a few hundred bytes each)
READ_KEPT = 20_000
T = TypeVar("T")


@dataclass
class CheckedSeal:
    signer: str
    leaves: str
    key: str = ""
    _set: frozenset[str] | None = None
    _looked: int = 0

    def covers(self, leaf: str) -> bool:
        """Is ``leaf`` one of the sealed leaves? They are searched as they are (a command's seal
        holds one to three; a page of history looks up one or two of an import's thousands) until
        a seal of many is asked often (an import or a catch-up checking its batch): then they are
        put in a set once."""
        if self._set is not None:
            return leaf in self._set
        self._looked += 1
        if self._looked > SEARCHED and len(self.leaves) > 16 * HASH_HEX:
            self._set = frozenset(leaf_list(self.leaves))
            return leaf in self._set
        return covers(self.leaves, leaf)


@dataclass(frozen=True)
class Sealing:
    """Who signed a stored event, checked now: their name and key fingerprint when the event is
    what they signed with a key the registry gave them (``problem`` None), or why not; events
    older than the ledger's adoption are ``adopted`` (no signature of their own)."""

    signer: str
    key: str
    problem: str | None
    adopted: bool = False


@dataclass(frozen=True)
class Row:
    """A stored event as read: notification id (0 when not read with it), originator, version,
    topic, parsed state, and its canonical text when the reader has it."""

    id: int
    originator_id: UUID | str
    version: int
    topic: str
    state: dict[str, Any]
    canonical: bytes | None = None  # UTF-8


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def held(self: Trust, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return held


class Checked(Protocol):
    """A stored event as ``Trust.check`` reads it: a ``Row``, or a projection's record of it."""

    @property
    def id(self) -> int: ...
    @property
    def originator_id(self) -> UUID | str: ...
    @property
    def version(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> dict[str, Any]: ...
    @property
    def canonical(self) -> bytes | None: ...


class Trust:
    def __init__(self, engine: Engine, table: Table) -> None:
        self.engine = engine
        self.table = table
        self._registry: Registry | None = None
        # (person, key fingerprint) -> [first store id it may sign after, id it may sign before
        # (None: still)]: the key's places in the log, from the registry's events
        self._windows: dict[tuple[str, str], list[list[int | None]]] = {}
        self._adopted: int | None = None
        self._seals: OrderedDict[str, CheckedSeal] = OrderedDict()
        self._kept = 0  # the remembered seals' leaves, in characters
        self.registry_head = 0  # the last registry event the registry was replayed to
        self._replayed = (0, 0)  # that event's id and how many the replay read
        self.leaves_kept = LEAVES_KEPT
        # the caches above are shared by a server's writers and its catch-up
        self._lock = threading.RLock()
        # id -> (the stored row as read, its Row, its leaf): events_of's pages of history
        self._read: OrderedDict[int, tuple[tuple[Any, ...], Row, str]] = OrderedDict()
        # the two questions every write asks of the registry, built once
        c = table.c
        ours = c.originator_id == REGISTRY_ID
        self._stored_query = Quick(select(*self.stored_columns()))
        self._moved_query = select(func.count()).where(ours, c.id > bindparam("since"))

    # ------------------------------------------------------------------ what is trusted

    def fresh_registry(self) -> tuple[Registry, int]:
        """The registry replayed now, and the last registry event it was replayed to."""
        stored = self._registry_stored()
        with self._lock:
            return self._registry_as(stored), self.registry_head

    def registry(self, fresh: bool = False) -> Registry:
        """The people registry as its sealed events make it; ``fresh``: as the store holds them
        now, replayed again when a registry event was stored or removed since the last replay (a
        long-running server sees another process add a person or revoke a key)."""
        # the store is asked outside the lock: a server's requests each ask it at once
        stored = self._registry_stored() if fresh else None
        with self._lock:
            return self._registry_as(stored)

    def _registry_as(self, stored: tuple[int, int] | None) -> Registry:
        """The registry, replayed again unless it was replayed to ``stored`` (the last registry
        event's id and their number, as the store was just asked; None: any replay will do).
        A replay by another thread since the asking is newer: replayed again, to the same or later."""
        if self._registry is None or (stored is not None and stored != self._replayed):
            self._registry = self._replay_registry()
        return self._registry

    def stored_columns(self) -> tuple[Any, Any]:
        """The last registry event's id and the number of them, as columns another statement may
        select beside its own (a web request reads its session and these in one round trip)."""
        c = self.table.c
        ours = c.originator_id == REGISTRY_ID
        # the last by version, not max(id): as a subquery of its own, max(id) is planned as a
        # backward walk of the whole events table's primary key until a registry event (0.7 s at
        # a million events); its id is the highest, as events are stored in their versions' order
        latest = select(c.id).where(ours).order_by(c.originator_version.desc()).limit(1).scalar_subquery()
        count = select(func.count()).where(ours).scalar_subquery()
        return func.coalesce(latest, 0).label("registry_last"), count.label("registry_count")

    def registry_at(self, stored: tuple[int, int]) -> Registry:
        """The registry as ``stored`` (``stored_columns``, just read) says the store holds it."""
        with self._lock:
            return self._registry_as((int(stored[0]), int(stored[1])))

    def _registry_stored(self) -> tuple[int, int]:
        """The last registry event's id and the number of them, as the store holds them now."""
        ((last, count),) = self._stored_query.rows(self.engine, {})
        return int(last), int(count)

    def before_signing(self) -> bool:
        """No person was ever registered and the ledger was never adopted: made by a release
        from before signing and not yet migrated (``migrate``), or its registry and adoption were
        taken out below the application; none of its events is sealed by anyone it knows."""
        return self._registry_stored()[1] == 0 and self.adopted_through() == 0

    def registry_moved(self, session: Session | Connection, since: int, own: int = 0) -> bool:
        """Has a registry event (a person added, a key rotated or revoked) been stored after
        event ``since`` by another writer, as ``session``, a write's transaction that stored
        ``own`` registry events itself, sees the store?"""
        return int(session.execute(self._moved_query, {"since": since}).scalar() or 0) > own

    @_locked
    def adopted_through(self) -> int:
        """The last notification id the ledger's adoption covers (0: never adopted)."""
        if self._adopted is None:
            registry = self.registry()
            through = 0
            adoptions = self._rows_of([ADOPTION_ID])
            # `migrate` adopts the events recorded before the registry, stored with its founding:
            # an adoption naming later ones (an administrator's statement stored since) adopts none
            founded = min((row.id for row in self._rows_of([REGISTRY_ID])), default=0) if adoptions else 0
            for row in adoptions:
                if self._verified(row, registry) is not None:
                    named = int(row.state.get("through") or 0)
                    if named < founded:
                        through = named
            self._adopted = through
        return self._adopted

    # ------------------------------------------------------------------ checks

    @_locked
    def check(self, rows: Sequence[Checked], leaves: Sequence[str] | None = None) -> None:
        """VerificationError (exit 6) naming the first event that is not sealed by the person
        it names with a registered key, nor adopted. ``leaves``: each row's leaf hash (hex), in
        order, when the caller has computed them from the same stored row (``leaf_of``)."""
        seals = self._seals_of(rows)
        for n, row in enumerate(rows):
            if row.topic in (SEAL_TOPIC, ADOPTION_TOPIC):
                continue
            if leaves is not None:  # most events: sealed by whom they name, their leaf covered
                state = row.state
                seal_id = state.get("seal")
                seal = seals.get(seal_id) if seal_id.__class__ is str else None
                if seal is not None and state.get("actor") == seal.signer and seal.covers(leaves[n]):
                    continue
            problem = self._problem(row, seals, None if leaves is None else leaves[n])
            if problem is None:
                continue
            named = {
                "value": row.id or "?",
                "value2": row.topic.split(":")[-1],
                "originator_id": row.originator_id,
                "version": row.version,
                "problem": problem,
            }
            if self.before_signing():
                raise VerificationError(
                    _(
                        "event {value} ({value2} of {originator_id}, version {version}) {problem}, and the "
                        "ledger has no people registry; nothing was built on it. If the ledger was made "
                        "before records were signed, an administrator adopts it with `grant-ledger migrate "
                        "--admin NAME --admin-key FILE`; if not, the events table was changed below the "
                        "application (`grant-ledger audit verify` lists every such event)"
                    ).format(**named)
                )
            raise VerificationError(
                _(
                    "event {value} ({value2} of {originator_id}, version {version}) {problem}; nothing "
                    "was built on it — the events table was changed below the application "
                    "(`grant-ledger audit verify` lists every such event)"
                ).format(**named)
            )

    @_locked
    def events_of(
        self, originator_id: UUID, within: tuple[int, int] | None = None
    ) -> list[tuple[Row, Sealing]]:
        """Every stored event of one aggregate (those whose ids are ``within`` the bounds given,
        both included), in log order, each with its seal checked afresh against the store: an
        event changed below the application after it was projected shows its problem here, where
        the projections, built once, would not (a seal this process has verified is remembered,
        as for a write)."""
        rows, leaves = self._read_rows(originator_id, within)
        seals = self._seals_of(rows)
        found = []
        for row, leaf in zip(rows, leaves, strict=True):
            problem = self._problem(row, seals, leaf)
            seal = seals.get(str(row.state.get("seal")))
            adopted = problem is None and seal is None
            signer, key = (seal.signer, seal.key) if seal is not None and problem is None else ("", "")
            found.append((row, Sealing(signer, key, problem, adopted)))
        return found

    def _problem(self, row: Checked, seals: dict[str, CheckedSeal], leaf: str | None = None) -> str | None:
        seal_id = row.state.get("seal")
        if not seal_id:
            if row.id and row.id <= self.adopted_through():
                return None
            return _("carries no signature")
        seal = seals.get(str(seal_id))
        if seal is None:
            return _("names seal {seal}, which is not a valid signature in the ledger").format(seal=seal_id)
        if row.state.get("actor") != seal.signer:
            return _("names {actor!r} but is signed by {signer!r}").format(
                actor=row.state.get("actor"), signer=seal.signer
            )
        if not seal.covers(leaf_of(row) if leaf is None else leaf):
            return _("is not what {signer} signed (seal {seal})").format(signer=seal.signer, seal=seal_id)
        return None

    def _seals_of(self, rows: Sequence[Checked]) -> dict[str, CheckedSeal]:
        """The verified seals the events of ``rows`` name: those remembered, the rest read."""
        seals: dict[str, CheckedSeal] = {}
        wanted = set()
        for r in rows:
            seal_id = r.state.get("seal")
            if seal_id and r.topic not in (SEAL_TOPIC, ADOPTION_TOPIC):
                key = str(seal_id)
                known = self._seals.get(key)
                if known is not None:
                    seals[key] = known
                else:
                    wanted.add(key)
        if wanted:
            seals.update(self._load_seals(wanted))
        return seals

    def _load_seals(self, wanted: Iterable[str]) -> dict[str, CheckedSeal]:
        found: dict[str, CheckedSeal] = {}
        keys = []
        for text in wanted:
            try:
                keys.append(UUID(text))
            except ValueError:
                continue
        rows = self._rows_of(keys)
        # the registry as it stands now, read after the seals: a key revoked or rotated by another
        # process before a seal was stored ends before it (a server's registry, replayed long ago,
        # would take a seal its revoked key made since), and a person registered since is known
        registry = self.registry(fresh=True)
        for row in rows:
            checked = self._verified(row, registry)
            if checked is not None:
                found[str(row.originator_id)] = checked
                self._remember(str(row.originator_id), checked)
        return found

    @_locked
    def sealed_here(self, seal_id: str, signer: str, key: str, leaves: str, at: int) -> None:
        """A seal this process signed and stored as event ``at``, after checking in the same
        transaction that the registry it judged the signer by was still the store's: remembered
        as verified, so that catching up on its own write does not read and verify it again. The
        events it covers are still checked against its leaves as the store holds them."""
        windows = self._windows.get((signer, key))
        if windows is not None and not any(
            start is not None and start < at and (end is None or at < end) for start, end in windows
        ):
            return
        self._remember(seal_id, CheckedSeal(signer, leaves, key))

    def _remember(self, seal_id: str, checked: CheckedSeal) -> None:
        self._seals[seal_id] = checked
        self._kept += len(checked.leaves)
        while len(self._seals) > SEALS_KEPT or self._kept > self.leaves_kept:
            _, dropped = self._seals.popitem(last=False)
            self._kept -= len(dropped.leaves)

    def _verified(self, row: Row, registry: Registry) -> CheckedSeal | None:
        """The seal in ``row`` if its signature verifies under a key its signer held where the
        seal stands in the log (a key rotated away or revoked before it signs nothing after)."""
        if row.topic not in (SEAL_TOPIC, ADOPTION_TOPIC) or row.version != 1:
            return None
        signer = str(row.state.get("signer"))
        person = registry.people.get(signer)
        key = str(row.state.get("key"))
        raw = person.keys.get(key) if person is not None else None
        windows = self._windows.get((signer, key))
        if windows is not None and not any(
            start is not None and start < row.id and (end is None or row.id < end) for start, end in windows
        ):
            return None
        message = message_of(row.topic, str(row.originator_id), row.state)
        if raw is None or message is None or not signature_verifies(message, row.state.get("signature"), raw):
            return None
        return CheckedSeal(signer, str(row.state.get("leaves", "")), key)

    # ------------------------------------------------------------------ the registry

    def _replay_registry(self) -> Registry:
        """The registry replayed from the store; one that fails (an event changed below the
        application) leaves the last one replayed, its keys' places and its head as they were, and
        is replayed again at the next fresh look (it is not taken for read)."""
        kept = self._windows
        try:
            registry, events = self._replayed_registry()
        except BaseException:
            self._windows = kept
            raise
        self.registry_head = max((row.id for row in events), default=0)
        self._replayed = (self.registry_head, len(events))
        return registry

    def _replayed_registry(self) -> tuple[Registry, list[Row]]:
        registry = Registry()
        self._windows = {}
        events = self._rows_of([REGISTRY_ID])
        seals = {str(r.originator_id): r for r in self._rows_of(_seal_ids(events))}
        for row in events:
            seal = seals.get(str(row.state.get("seal")))
            if seal is None:
                raise self._broken(row, _("carries no signature"))
            signer = str(seal.state.get("signer"))
            if row.state.get("actor") != signer:
                raise self._broken(
                    row,
                    _("names {actor!r} but is signed by {signer!r}").format(
                        actor=row.state.get("actor"), signer=signer
                    ),
                )
            leaf = leaf_of(row)
            try:
                if registry.root is None:  # the root seals its own registration
                    registry.apply(row.topic, row.state, signer)
                    checked = self._verified(seal, registry)
                    sealed = checked is not None and covers(checked.leaves, leaf)
                else:
                    checked = (
                        self._verified(seal, registry)
                        if registry.may_sign(signer, str(seal.state.get("key")))
                        else None
                    )
                    sealed = checked is not None and covers(checked.leaves, leaf)
                    if sealed:
                        registry.apply(row.topic, row.state, signer)
            except RegistryError as e:
                raise self._broken(row, str(e)) from None
            if not sealed:
                raise self._broken(row, _("is not signed by an administrator's registered key"))
            self._place_keys(registry, row, seal.id)
        return registry, events

    def _place_keys(self, registry: Registry, row: Row, sealed_at: int) -> None:
        """After registry event ``row``, sealed at ``sealed_at``: the person's key it retired ends
        after that seal (the root rotating its own key signs the rotation with it, as the auditor's
        verifier applies a registry event at its seal), and the key it gave them begins there."""
        person = registry.people.get(str(row.state.get("person")))
        if person is None:
            return
        for (name, fingerprint), windows in self._windows.items():
            retired = not person.active or fingerprint != person.key
            if name == person.name and windows[-1][1] is None and retired:
                windows[-1][1] = sealed_at + 1
        if person.active:
            windows = self._windows.setdefault((person.name, person.key), [])
            if not windows or windows[-1][1] is not None:
                windows.append([row.id, None])

    @staticmethod
    def _broken(row: Row, problem: str) -> VerificationError:
        return VerificationError(
            _(
                "the people registry's event {version} ({value}) {problem}; nothing can be trusted to it — "
                "the events table was changed below the application"
            ).format(version=row.version, value=row.topic.split(":")[-1], problem=problem)
        )

    def _read_rows(self, originator_id: UUID, within: tuple[int, int] | None) -> tuple[list[Row], list[str]]:
        """``_rows_of`` one aggregate, with each row's leaf: a row read before with the very same
        stored bytes is taken as decoded and hashed then (a change below the application changes
        the bytes, and is decoded and checked afresh)."""
        c = self.table.c
        query = select(c.id, c.originator_id, c.originator_version, c.topic, c.state).where(
            c.originator_id == originator_id
        )
        if within is not None:
            query = query.where(c.id.between(*within))
        with self.engine.connect() as conn:
            found = conn.execute(query.order_by(c.id)).all()
        rows, leaves = [], []
        for nid, oid, version, topic, state in found:
            stored = (oid, version, topic, bytes(state))
            kept = self._read.get(nid)
            if kept is not None and kept[0] == stored:
                row, leaf = kept[1], kept[2]
            else:
                row = Row(nid, oid, version, topic, json.loads(stored[3]))
                leaf = leaf_of(row)
                self._read[nid] = (stored, row, leaf)
                if len(self._read) > READ_KEPT:
                    self._read.popitem(last=False)
            rows.append(row)
            leaves.append(leaf)
        return rows, leaves

    def _rows_of(self, keys: Sequence[UUID], within: tuple[int, int] | None = None) -> list[Row]:
        if not keys:
            return []
        c = self.table.c
        query = (
            select(c.id, c.originator_id, c.originator_version, c.topic, c.state)
            .where(c.originator_id.in_(list(keys)))
            .order_by(c.id)
        )
        if within is not None:
            query = query.where(c.id.between(*within))
        with self.engine.connect() as conn:
            found = conn.execute(query).all()
        return [Row(nid, oid, v, topic, json.loads(bytes(state))) for nid, oid, v, topic, state in found]


def _seal_ids(rows: Iterable[Row]) -> list[UUID]:
    out = []
    for row in rows:
        try:
            out.append(UUID(str(row.state.get("seal"))))
        except ValueError:
            continue
    return out


def leaf_of(row: Checked) -> str:
    return leaf_hash(
        stored_leaf_data(row.originator_id, row.version, row.topic, row.state, row.canonical)
    ).hex()
