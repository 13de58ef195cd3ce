"""The eventsourcing Application: records actions (ledger.actions) on the aggregates.

Each action is one optimistic transaction: load (from the latest snapshot), decide, save.
A version conflict with a concurrent writer is retried with fresh state, so two officers can
never spend the same money twice.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, StoredEvent, Transcoding
from eventsourcing.persistence import OperationalError as StoreOperationalError
from eventsourcing.utils import resolve_topic
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine

import ledger.topics  # noqa: F401  (a stored topic resolves before its aggregate's module is imported)
from audit.verifier.people import REGISTRY_ID, Person
from ledger import snapshot_seals
from ledger.database import APP_NAME, Quick, busy_timeout_ms, ensure_schema
from ledger.encoding import StateEncoder
from ledger.errors import (
    ConflictError,
    LedgerError,
    NotFoundError,
    StorageError,
    VerificationError,
    unreachable_database,
)
from ledger.grant import Grant, grant_uuid
from ledger.i18n import T_, _
from ledger.policy import Policy, policy_in_force
from ledger.rules import business_today, raise_first, role_may_record, signer_holds_role
from ledger.seal import Seal, Signer, leaves_of, mark, new_seal_id
from ledger.snapshot_points import INTERVALS, is_point
from ledger.trust import Row, Trust

if TYPE_CHECKING:  # the actions (and pydantic) load with the commands that build them, not with reports
    from ledger.action_base import Action
    from ledger.policy_installed import InstalledFile
    from ledger.unit import Base, RecommendationRound, Unit

MAX_ATTEMPTS = 30
# Snapshots one process remembers as checked against their events (a few dozen bytes each).
CHECKED_KEPT = 100_000
# Aggregates a long-running process (the web server) holds as its last write left them, when it
# asks to (``GrantLedger.hold``): a few hundred grants' books.
HELD_KEPT = 256
# How many times commands of this process retried: optimistic-concurrency conflicts, locks.
RETRIES: Counter[str] = Counter()


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class Outcome:
    """What a command did: ``recorded`` is False for an idempotent repeat.

    ``grant`` is the grant as the command left it (saved, or found already recorded), so the
    caller can report its balances without loading it again.
    """

    recorded: bool
    message: str
    grant: Grant | None = field(default=None, compare=False, repr=False)


class GrantLedger(Application[UUID]):
    name = APP_NAME
    # grants and units: snapshots every 50 versions, then further apart as the history grows
    # (ledger.snapshot_points; each declared with its class, imported by the commands that use it)
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = INTERVALS

    def __init__(self, url: str, env: dict[str, str] | None = None) -> None:
        settings = {
            "PERSISTENCE_MODULE": "ledger.store:LedgerFactory",
            "SQLALCHEMY_URL": url,
            "CREATE_TABLE": "y",
        }
        settings.update(env or {})
        super().__init__(settings)
        self._checked: dict[UUID, tuple[int, bytes]] = {}
        # told once a write of this application is committed (the command line: an interrupt
        # after it no longer says that nothing was written)
        self.after_commit: Callable[[], None] | None = None
        # held around each commit and its notice (the command line: Ctrl-C and SIGTERM wait, so
        # that an interrupt arriving while the database commits is told after the notice)
        self.commit_guard: Callable[[], AbstractContextManager[Any]] = nullcontext
        # held aggregates (``hold``), each with the key fingerprint of the one person whose own
        # signed snapshot it was built on (None: built on events or a snapshot checked against them)
        self._held: OrderedDict[UUID, tuple[Any, str | None]] | None = None
        self._events_query: Any = None
        self._snapshot_query: Any = None
        self._held_kept = HELD_KEPT
        self._holding = threading.Lock()
        self._installing = threading.Lock()  # files installed by another process, registered once
        self._installed_seen: int | None = None  # the policy book's events when last registered here
        self._seals_ready: bool | None = None  # whether the ledger has ledger.snapshot_seals' table
        self._taken = threading.local()  # the snapshots this thread's last save stored
        # aggregates replayed past a snapshot of an earlier form, by id(): the next save of one
        # stores a snapshot of this form, wherever its version falls (``_take_snapshots``); held
        # weakly, so one never saved (an import keeps its own snapshots) is not kept for it
        self._reformed: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        self._reforming = threading.Lock()
        if not getattr(self.factory, "store_ready", False):
            ensure_schema(self.engine)
        self.trust = Trust(self.engine, self.recorder.events_record_cls.__table__)  # type: ignore[attr-defined]
        self.register_installed_policy()

    def register_installed_policy(self) -> None:
        """The calendar years and policy versions installed in this ledger (``policy install``),
        from its sealed events, join the shipped ones for every judgement in this process."""
        from ledger.policy_installed import register_installed

        register_installed(self.engine, self.trust.table, self._sealed_rows)

    def refresh_installed_policy(self) -> None:
        """A long-running process (the web server) judges by what another process has installed
        since it opened the ledger: the files installed meanwhile are registered too (one indexed
        count a call when nothing was; the first call registers them all again, for what came
        between the opening and it). Installed files are only ever added, so the registered ones
        stay in place while the new ones join them."""
        from ledger.policy_installed import book_events, installed_files, register

        seen = book_events(self.engine)
        if seen == self._installed_seen:
            return
        with self._installing:
            for file in installed_files(self.engine, self.trust.table, self._sealed_rows):
                register(file.name, file.kind, file.text)
            self._installed_seen = seen

    def installed_policy_files(self) -> list[InstalledFile]:
        """The files installed in this ledger, read afresh from its sealed events (an
        administrator's), without changing what this process judges by: an audit bundle ships
        the policy versions among them."""
        from ledger.policy_installed import installed_files

        return installed_files(self.engine, self.trust.table, self._sealed_rows)

    def _sealed_rows(self, found: Any) -> list[Row]:
        rows = []
        for nid, oid, version, topic, state in found:
            row = Row(nid, oid, version, topic, json.loads(bytes(state)))
            try:
                self.trust.check([row])
            except VerificationError:
                continue  # not sealed by a registered person: never believed
            rows.append(row)
        return self._by_an_administrator(rows)

    def _by_an_administrator(self, rows: list[Row]) -> list[Row]:
        """The rows whose signer was an administrator on the act's date: a policy file sealed by
        an officer's key, written below the application, is never installed."""
        from audit.verifier.people import state_date

        registry = self.trust.registry()
        kept = []
        for row in rows:
            person = registry.people.get(str(row.state.get("actor")))
            if person is not None and person.role_on(state_date(row.state.get("occurred_on"))) == "admin":
                kept.append(row)
        return kept

    @property
    def engine(self) -> Engine:
        engine = self.factory.datastore.engine  # type: ignore[attr-defined]
        assert isinstance(engine, Engine)
        return engine

    def _take_snapshots(self, processing_event: Any) -> None:
        """At most one snapshot per aggregate per save, taken from the saved object itself
        (not reloaded from the store once per interval crossed: bulk imports save thousands)."""
        if self.snapshots is None:
            return
        due: dict[UUID, Any] = {}
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if aggregate is not None and interval and is_point(event.originator_version, interval):
                due[event.originator_id] = aggregate
        with self._reforming:
            for key, aggregate in processing_event.aggregates.items():
                if self._reformed.get(id(aggregate)) is aggregate:
                    del self._reformed[id(aggregate)]
                    if self.snapshotting_intervals.get(type(aggregate)):
                        due[key] = aggregate
        if due:
            classes: dict[UUID, Any] = {
                key: getattr(type(a), "Snapshot", self.snapshot_class) for key, a in due.items()
            }
            encode = StateEncoder(self.mapper)  # the mapper's bytes, without its per-value calls
            stored = [encode(classes[key].take(a)) for key, a in due.items()]
            self.snapshots.recorder.insert_events(stored)
            self._taken.stored = stored  # for the save's signer to sign (``handle``)

    def seals_ready(self) -> bool:
        """Whether this ledger keeps signed snapshots (ledger.snapshot_seals); asked once."""
        if self._seals_ready is None:
            with self.engine.connect() as conn:
                self._seals_ready = snapshot_seals.present(conn)
        return self._seals_ready

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def close(self) -> None:
        engine = getattr(self.factory.datastore, "engine", None)  # type: ignore[attr-defined]
        if engine is not None:
            engine.dispose()
        super().close()

    # ------------------------------------------------------------------ loading

    def load_grant(self, grant_id: str) -> Grant:
        """The grant as its events make it (``load``).
        AggregateNotFoundError if it is not in the ledger."""
        grant = self.load(grant_uuid(grant_id))
        assert isinstance(grant, Grant)
        return grant

    def hold(self, kept: int = HELD_KEPT) -> None:
        """Keep up to ``kept`` aggregates in memory as this process's last write of each left
        them, for a long-running process whose writes come one after another (the web server):
        the next write on one reads only the events stored after it (each checked, as every
        loaded event is), not its snapshot and the events since."""
        self._held = OrderedDict()
        self._held_kept = kept

    def _take_held(self, key: UUID, signer: Signer | None) -> tuple[Any, str | None] | None:
        """The held aggregate of ``key`` and whose signed snapshot it stands on, now this caller's
        alone (None if none is held, or it stands on another person's signed snapshot: only they
        build on it): a concurrent write on it loads its own from the store."""
        if self._held is None:
            return None
        with self._holding:
            entry = self._held.get(key)
            if entry is None or (entry[1] is not None and (signer is None or entry[1] != signer.fingerprint)):
                return None
            return self._held.pop(key)

    def _give_back(self, aggregates: list[Any], vouched: dict[UUID, str] | None = None) -> None:
        """Aggregates that are now exactly as the store holds them (saved, or unchanged), held
        for the next write; ``vouched``: those built on a person's own signed snapshot (by key
        fingerprint), held for that person's writes alone."""
        if self._held is None:
            return
        with self._holding:
            for aggregate in aggregates:
                if aggregate.pending_events:
                    continue
                self._held[aggregate.id] = (aggregate, (vouched or {}).get(aggregate.id))
                self._held.move_to_end(aggregate.id)
            while len(self._held) > self._held_kept:
                self._held.popitem(last=False)

    def load(
        self,
        key: UUID,
        signer: Signer | None = None,
        checked: list[Any] | None = None,
        vouched: dict[UUID, str] | None = None,
    ) -> Any:
        """An aggregate for a write to decide on. Its latest stored snapshot is trusted only once
        checked against the events it summarises: the aggregate is replayed from its events and
        compared with the snapshot on the way; a snapshot they do not yield (a row written below
        the application) refuses the write (StorageError naming the aggregate and the version).
        A snapshot this process has checked is used as it stands while its stored bytes are the
        ones checked (a long import), and so is one that ``signer``'s own key signed as taken or
        checked by them (ledger.snapshot_seals); a snapshot checked here and found equal is added
        to ``checked``, for the write to sign. An aggregate built on ``signer``'s signed snapshot
        is vouched for by them alone: ``vouched`` gets its key's fingerprint, and no other
        person's write, nor this process's memory of checked snapshots, builds on it. One held
        (``hold``) is brought up to the store's events after it instead, while the store still
        holds its last event as it was. AggregateNotFoundError if it is not in the ledger."""
        entry = self._take_held(key, signer)
        if entry is not None:
            held, held_by = entry
            # read from its own last event on: the store must still hold that very event (not
            # restored from a backup or rolled back since), else it is loaded as the store holds it
            events = self._events(key, after=held.version - 1)
            last = next(events, None)
            if (
                last is not None
                and last.originator_version == held.version
                and last.timestamp == held.modified_on
            ):
                for event in events:
                    held = event.mutate(held)
                if held_by is not None and vouched is not None:
                    vouched[key] = held_by
                return held
        stored = self._latest_snapshot(key)
        if stored is not None and self._checked.get(key) == _fingerprint(stored):
            restored: Any = self.mapper.to_domain_event(stored)
            aggregate: Any = restored.mutate(None)
            for event in self._events(key, after=stored.originator_version):
                aggregate = event.mutate(aggregate)
            return aggregate
        if stored is not None and signer is not None:
            signed = self._from_signed_snapshot(key, stored, signer)
            if signed is not None:
                if vouched is not None:
                    vouched[key] = signer.fingerprint
                return signed
        snapshot = self._decoded(stored)
        aggregate = None
        reform = False
        for event in self._events(key):
            aggregate = event.mutate(aggregate)
            if stored is not None and event.originator_version == stored.originator_version:
                mine = self._snapshot_of(aggregate)
                agrees = None if snapshot is None else self._snapshot_agrees(snapshot, mine)
                if agrees is None:
                    raise _forged_snapshot(aggregate, stored.originator_version)
                reform = agrees is False  # of an earlier form: the next save stores one of this form
                if agrees and not (isinstance(aggregate, Grant) and not _dated(snapshot.state)):
                    self._remember_checked(key, stored)
                    if checked is not None and _encoded_alike(stored, mine):
                        checked.append(stored)
                stored = None
        if aggregate is None:
            raise AggregateNotFoundError(key)
        if stored is not None:  # a snapshot of a version no event reached
            raise _forged_snapshot(aggregate, stored.originator_version)
        if reform:
            with self._reforming:
                self._reformed[id(aggregate)] = aggregate
        return aggregate

    def take_reformed(self, aggregate: Any) -> bool:
        """Whether ``aggregate`` was loaded from a snapshot of an earlier form, which its next save
        replaces; the import, which saves its own snapshots, takes the duty over (True once)."""
        with self._reforming:
            if self._reformed.get(id(aggregate)) is aggregate:
                del self._reformed[id(aggregate)]
                return True
        return False

    def _from_signed_snapshot(self, key: UUID, stored: Any, signer: Signer) -> Any:
        """The aggregate from a snapshot ``signer``'s own key signed (None: none did, or it does
        not verify): the events from the snapshot's version on are read and checked, the first
        of them must be the one the snapshot was last modified by, and the rest are applied."""
        if not self.seals_ready():
            return None
        with self.engine.connect() as conn:
            if not snapshot_seals.signed_by(conn, stored, signer):
                return None
        events = self._events(key, after=stored.originator_version - 1)
        first = next(events, None)
        if first is None or first.originator_version != stored.originator_version:
            return None
        decoded = self._decoded(stored)
        if (
            decoded is None
            or not _of_this_form(decoded)
            or (isinstance(first, Grant.Event) and not _dated(decoded.state))
        ):
            return None  # one of an earlier form is checked against the events on the way
        aggregate: Any = decoded.mutate(None)
        if aggregate.version != first.originator_version or aggregate.modified_on != first.timestamp:
            return None
        for event in events:
            aggregate = event.mutate(aggregate)
        # not remembered as checked: only this person vouches for it, and the process's other
        # loads (another person's write in the web server) must not build on it
        return aggregate

    def _events(self, key: UUID, after: int = 0) -> Iterator[Any]:
        """The aggregate's events after version ``after``, read with SQLAlchemy Core (a fourth of
        the ORM's time on a long history) and decoded by the store's mapper."""
        query = self._events_query
        if query is None:  # built once: a statement used again skips SQLAlchemy's building and keying
            c = self.recorder.events_record_cls.__table__.c  # type: ignore[attr-defined]
            query = self._events_query = Quick(
                select(c.id, c.originator_version, c.topic, c.state)
                .where(c.originator_id == bindparam("key"), c.originator_version > bindparam("after"))
                .order_by(c.originator_version)
            )
        found = query.rows(self.engine, {"key": key, "after": after})
        rows = [(nid, version, topic, bytes(state)) for nid, version, topic, state in found]
        if key != REGISTRY_ID:  # the registry's own events are checked as it is replayed
            self.trust.check([Row(nid, key, v, topic, json.loads(state)) for nid, v, topic, state in rows])
        for _nid, version, topic, state in rows:
            yield self.mapper.to_domain_event(StoredEvent(key, version, topic, state))

    def _latest_snapshot(self, key: UUID) -> Any:
        """The latest stored snapshot record of ``key`` as the store holds it (not decoded), read
        with SQLAlchemy Core as ``_events`` reads events: the recorder's ORM query cost a fifth of
        a write, and most of the time of an import of new grants (each looked up first)."""
        if self.snapshots is None:
            return None
        query = self._snapshot_query
        if query is None:
            c = self.snapshots.recorder.events_record_cls.__table__.c  # type: ignore[attr-defined]
            query = self._snapshot_query = Quick(
                select(c.originator_version, c.topic, c.state)
                .where(c.originator_id == bindparam("key"))
                .order_by(c.originator_version.desc())
                .limit(1)
            )
        found = query.rows(self.engine, {"key": key})
        if not found:
            return None
        ((version, topic, state),) = found
        return StoredEvent(key, version, topic, bytes(state))

    def _decoded(self, stored: Any) -> Any:
        if stored is None:
            return None
        try:
            return self.mapper.to_domain_event(stored)
        except Exception:  # a row that does not even decode: forged or damaged
            return None

    def _remember_checked(self, key: UUID, stored: Any) -> None:
        if len(self._checked) >= CHECKED_KEPT:
            self._checked.clear()
        self._checked[key] = _fingerprint(stored)

    def _snapshot_of(self, aggregate: Any) -> StoredEvent:
        """The snapshot this code would store for ``aggregate`` now, encoded."""
        kind: Any = getattr(type(aggregate), "Snapshot", self.snapshot_class)
        return StateEncoder(self.mapper)(kind.take(aggregate))

    def _snapshot_agrees(self, stored: Any, mine: StoredEvent) -> bool | None:
        """True: the stored snapshot holds exactly the replayed aggregate's fields, each equal, both
        read through the store's own encoding (a field left out would fall back to a class default:
        no latest date, no ring-fence by date). False: it holds them in the form of an earlier version
        (fields and keys added since missing, voucher fingerprints of the first form; a state of an
        earlier ``class_version``, as its aggregate compares that form), and agrees on everything
        that form holds; the replayed aggregate is used, never the snapshot. None:
        it disagrees with the events. ``mine``: the replayed aggregate's snapshot (``_snapshot_of``)."""
        taken: Any = self.mapper.to_domain_event(mine)
        if type(stored) is not type(taken) or stored.topic != taken.topic:
            return None
        recomputed = taken.state
        form = stored.state.get("class_version", 1)
        if form != recomputed.get("class_version", 1):
            # a state of another shape (Unit: form 1 kept its bases by base id), checked by the
            # aggregate's own comparison with that form, if it has one
            agrees = getattr(resolve_topic(taken.topic), f"agrees_with_form_{form}", None)
            return False if agrees is not None and agrees(stored.state, recomputed) else None
        missing = object()
        if stored.state.keys() == recomputed.keys() and all(
            recomputed.get(name, missing) == value for name, value in stored.state.items()
        ):
            return True
        for name, value in stored.state.items():
            if name not in recomputed or not _earlier_form(value, recomputed[name], name == "vouchers"):
                return None
        return False

    def get_grant(self, grant_id: str) -> Grant:
        try:
            return self.load_grant(grant_id)
        except AggregateNotFoundError:
            msg = T_("grant {grant_id} is not in the ledger", grant_id=grant_id)
            raise NotFoundError(msg) from None

    # ------------------------------------------------------------------ retries

    def _retrying(self, attempt: Callable[[], Outcome]) -> Outcome:
        """Run load-decide-save again when a concurrent writer got there first.

        A lock held by another writer is waited for at most the busy timeout in all (not once
        per attempt): then the command fails cleanly with nothing written.
        """
        started = time.monotonic()
        for n in range(MAX_ATTEMPTS):
            try:
                return attempt()
            except IntegrityError:
                RETRIES["conflict"] += 1
            except StoreOperationalError as e:
                if not _locked_out(e):
                    raise
                RETRIES["locked"] += 1
                waited = time.monotonic() - started
                if waited * 1000 >= busy_timeout_ms():
                    raise _locked_error(e, waited) from None
            time.sleep(random.uniform(0, 0.01 * (n + 1)))
        msg = T_(
            "the ledger was changed by others {MAX_ATTEMPTS} times while this command ran; nothing was "
            "written, run it again",
            MAX_ATTEMPTS=MAX_ATTEMPTS,
        )
        raise ConflictError(msg)

    # ------------------------------------------------------------------ recording an action

    def committed(self) -> None:
        """A write of this application is committed: tell ``after_commit``."""
        if self.after_commit is not None:
            self.after_commit()

    def handle(
        self, action: Action, *, signer: Signer, role: str | None = None, actor: str | None = None
    ) -> Outcome:
        """Record any action as the person whose key ``signer`` is: their registered role on the
        action's date must be one that records it (``role`` and ``actor``, when given, are only
        checked against the registry), then its own checks, then load (from snapshots), decide and
        save with the write's seal, retried with fresh state when a concurrent writer got there first."""
        today = business_today()
        policy = policy_in_force(action.on or today)
        checked = [self.signer_role(signer, action, policy, role=role, actor=actor)]
        action.judge(policy, today)

        def attempt() -> Outcome:  # a retry reads the registry afresh
            person, held, seen = (
                checked.pop() if checked else self.signer_role(signer, action, policy, role=role, actor=actor)
            )
            loaded = _Loaded(self, policy, person.name, held, signer)
            grant_id = getattr(action, "grant_id", None)
            if not action.decide(loaded):
                outcome = Outcome(False, action.repeat(), loaded.loaded_grant(grant_id))
                self._give_back(list(loaded.aggregates.values()), loaded.vouched)
                return outcome
            changed = [a for a in loaded.aggregates.values() if a.pending_events]
            own = sum(len(a.pending_events) for a in changed if a.id == REGISTRY_ID)
            seal = self.seal(changed, signer, person.name)
            sealed: Any = seal.pending_events[0]
            self._taken.stored = []
            with self.commit_guard():
                with self.recorder.transaction(commit=True) as session:  # type: ignore[attr-defined]
                    recordings = self.save(*changed, seal)
                    self._seal_snapshots(session, signer, [*loaded.checked, *self._taken.stored])
                    # a key revoked or rotated by another writer between the check above and
                    # this save would leave a seal no key vouches for where it stands: checked
                    # again under the store's write lock, and the action is tried afresh
                    if self.trust.registry_moved(session, seen, own):
                        RETRIES["registry"] += 1
                        raise IntegrityError("the people registry changed while the action was recorded")
                self.committed()
            if not own:  # the registry read is the one in force where the seal stands
                at = max(r.notification.id for r in recordings if r.domain_event.originator_id == seal.id)
                self.trust.sealed_here(str(seal.id), sealed.signer, sealed.key, sealed.leaves, at)
            outcome = Outcome(True, action.done(loaded), loaded.loaded_grant(grant_id))
            self._give_back(list(loaded.aggregates.values()), loaded.vouched)
            return outcome

        return self._retrying(attempt)

    def handle_together(self, asked: list[tuple[Action, Signer]]) -> list[Answer]:
        """Several actions, each as the person whose key is given with it, recorded in one
        transaction (a server's writes that arrive at once): one registry read, one insert, one
        commit. Each is checked, judged and decided as ``handle`` does it, in turn, on the
        aggregates the ones before it left (two spends of one grant see each other), and sealed by
        its own person; a refused one is that one's answer alone. When they cannot be recorded
        together (the transaction met another process's write, a refusal came after its action
        had changed a grant an earlier one shares, the people registry is written, an unexpected
        error) each is handled alone by ``handle``, in the order given, its retries and answer
        (an error included) its own. A store locked by another writer for the whole busy timeout
        answers every one "nothing was written, try again" at once, not after one wait each."""
        if len(asked) > 1:
            try:
                return self._together(asked)
            except _Alone:
                RETRIES["alone"] += 1
            except StorageError as e:  # locked out: each alone would wait as long again, in turn
                return [e] * len(asked)
        answers: list[Answer] = []
        for action, signer in asked:
            locked = next((a for a in answers if isinstance(a, StorageError)), None)
            # a store locked for one write's whole wait is not waited for again by the next
            answers.append(locked or _answer(partial(self.handle, action, signer=signer)))
        return answers

    def _together(self, asked: list[tuple[Action, Signer]]) -> list[Answer]:
        today = business_today()
        registry, seen = self.trust.fresh_registry()
        batch = _Batch()
        answers: list[Answer] = []
        for action, signer in asked:
            try:
                answers.append(self._decided(action, signer, registry, today, batch))
            except _Alone:
                raise
            except Exception:
                raise _Alone from None  # handled alone, where it is that write's own failure
        changed = [a for a in batch.aggregates.values() if a.pending_events]
        if changed:
            with self.commit_guard():
                self._save_together(changed, batch, seen)
                self.committed()
        self._give_back(list(batch.aggregates.values()), batch.vouched)
        return answers

    def _decided(self, action: Action, signer: Signer, registry: Any, today: date, batch: _Batch) -> Answer:
        """One action of a batch checked, judged and decided on what the ones before it left; its
        new events sealed by its own person (saved with the batch's, or not at all)."""
        try:
            policy = policy_in_force(action.on or today)
            person, held = _role_in(registry, signer, action, policy, None, None)
            action.judge(policy, today)
        except LedgerError as e:
            return e
        loaded = _Batched(self, policy, person.name, held, signer, batch)
        before = {key: len(a.pending_events) for key, a in batch.aggregates.items()}
        try:
            recorded = action.decide(loaded)
        except LedgerError as e:
            if any(len(batch.aggregates[key].pending_events) != n for key, n in before.items()):
                raise _Alone from None  # a shared aggregate half changed: no one builds on it
            return e
        # in the order they will be stored: the batch's aggregates first, then those it adds
        order = [
            *(k for k in batch.aggregates if k in loaded.aggregates),
            *(k for k in loaded.aggregates if k not in before),
        ]
        events = [e for key in order for e in loaded.aggregates[key].pending_events[before.get(key, 0) :]]
        if REGISTRY_ID in loaded.aggregates and loaded.aggregates[REGISTRY_ID].pending_events:
            raise _Alone  # a registry write is checked against the registry in its own transaction
        grant = loaded.loaded_grant(getattr(action, "grant_id", None))
        if not recorded:
            if events:
                raise _Alone
            answer = Outcome(False, action.repeat(), grant)
        else:
            answer = Outcome(True, action.done(loaded), grant)
            seal = self._seal_events(events, signer, person.name)
            batch.seals.append(seal)
            batch.sealed.append(seal.pending_events[0])
            for event in events:
                batch.last_signer[event.originator_id] = signer
        batch.aggregates.update(loaded.aggregates)
        batch.vouched.update(loaded.vouched)
        batch.checked.append((signer, loaded.checked))
        return answer

    def _save_together(self, changed: list[Any], batch: _Batch, seen: int) -> None:
        """Every aggregate's events, then every seal (each after the events it seals), in one
        transaction; _Alone when it fails on a concurrent write or a lock."""
        self._taken.stored = []
        started = time.monotonic()
        try:
            with self.recorder.transaction(commit=True) as session:  # type: ignore[attr-defined]
                recordings = self.save(*changed, *batch.seals)
                for signer, checked in batch.checked:
                    self._seal_snapshots(session, signer, checked)
                taken: dict[str, tuple[Signer, list[Any]]] = {}
                for stored in self._taken.stored:
                    signer = batch.last_signer[stored.originator_id]
                    taken.setdefault(signer.fingerprint, (signer, []))[1].append(stored)
                for signer, stored_ in taken.values():
                    self._seal_snapshots(session, signer, stored_)
                if self.trust.registry_moved(session, seen, 0):
                    raise IntegrityError("the people registry changed while the actions were recorded")
        except IntegrityError:
            raise _Alone from None
        except StoreOperationalError as e:
            if not _locked_out(e):
                raise _Alone from None
            raise _locked_error(e, time.monotonic() - started) from None
        at = {r.domain_event.originator_id: r.notification.id for r in recordings}
        for sealed in batch.sealed:
            self.trust.sealed_here(
                str(sealed.originator_id), sealed.signer, sealed.key, sealed.leaves, at[sealed.originator_id]
            )

    def _seal_snapshots(self, session: Any, signer: Signer, stored: list[Any]) -> None:
        """Sign, in the write's transaction, the snapshots it took and those it checked."""
        if stored and self.seals_ready():
            snapshot_seals.insert(session.connection(), snapshot_seals.sealed(signer, stored))

    def signer_role(
        self,
        signer: Signer,
        action: Action,
        policy: Policy,
        *,
        role: str | None = None,
        actor: str | None = None,
    ) -> tuple[Person, str, int]:
        """The registered person holding ``signer``'s key and the role they hold on the action's
        date, if that role records the action (RuleViolationError, exit 3, naming the rule), and
        the last registry event the registry read was replayed to."""
        registry, seen = self.trust.fresh_registry()
        person, held = _role_in(registry, signer, action, policy, role, actor)
        return person, held, seen

    def seal(self, aggregates: list[Any], signer: Signer, name: str) -> Seal:
        """The seal of the events about to be saved: each marked with its id, their leaves signed."""
        return self._seal_events([e for a in aggregates for e in a.pending_events], signer, name)

    def _seal_events(self, events: list[Any], signer: Signer, name: str) -> Seal:
        seal_id = new_seal_id()
        mark(events, seal_id)
        leaves = leaves_of([self.mapper.to_stored_event(e) for e in events])
        return Seal.of(seal_id, signer, name, leaves)

    def found_registry(self, signer: Signer, root: str) -> None:
        """The registry's first event, the root administrator, sealed by the root's own key
        (``init``, ``migrate``). ConflictError if the ledger has a registry already."""
        from ledger.people import People

        if self.trust.registry(fresh=True).root is not None:
            raise ConflictError(_("this ledger has its people registry already"))
        people = People.found(root=root, public_key=signer.public_raw, on=None)
        self.save(people, self.seal([people], signer, root))
        self.trust.registry(fresh=True)

    def adopt(self, signer: Signer, root: str, size: int, tree_root: str, through: int) -> None:
        """Adopt a ledger made before records were signed: its root administrator (sealed by its
        own key) and the statement, signed by that key, that the log up to ``size`` leaves (root
        hash ``tree_root``; the store's notifications up to ``through``) was recorded unsigned."""
        from ledger.people import People

        if self.trust.registry(fresh=True).root is not None:
            raise ConflictError(_("this ledger has its people registry already"))
        people = People.found(root=root, public_key=signer.public_raw, on=None)
        seal = self.seal([people], signer, root)
        self.save(people, seal, Seal.adoption(signer, root, size, tree_root, through))
        self.trust = Trust(self.engine, self.trust.table)


def _fingerprint(stored: Any) -> tuple[int, bytes]:
    return stored.originator_version, hashlib.sha256(bytes(stored.state)).digest()


def _encoded_alike(stored: Any, mine: StoredEvent) -> bool:
    """Whether ``stored`` (a snapshot found equal to the replayed aggregate) holds the very encoding
    this code stores for it (``mine``), its time of taking aside. Equal is looser: 100.00 written
    as 100.0000, false as 0, compare equal; a person signs (ledger.snapshot_seals) only what their
    own code would have written, never another rendering that their later writes would take as it
    stands."""
    if stored.topic != mine.topic:
        return False
    try:
        theirs, ours = json.loads(bytes(stored.state)), json.loads(bytes(mine.state))
    except ValueError:
        return False
    if not isinstance(theirs, dict) or not isinstance(ours, dict):
        return False
    theirs.pop("timestamp", None)
    ours.pop("timestamp", None)
    return json.dumps(theirs, sort_keys=True) == json.dumps(ours, sort_keys=True)


def _dated(state: dict[str, Any]) -> bool:
    """Whether a grant's snapshot keeps its books by date (``Grant.days``, ``Grant.plans``,
    ``Grant.recovery_days``, ``Grant.received_days``, ``Grant.extensions``): one taken by an
    earlier version does not, and its grant is replayed instead."""
    books = ("days", "plans", "recovery_days", "received_days", "extensions")
    return all(state.get(name) is not None for name in books)


def _of_this_form(snapshot: Any) -> bool:
    """Whether ``snapshot`` holds its aggregate's state in the form this code keeps it (its
    ``class_version``): only such a snapshot is restored as it stands."""
    kind = resolve_topic(snapshot.topic)
    return bool(snapshot.state.get("class_version", 1) == getattr(kind, "class_version", 1))


def _earlier_form(kept: Any, now: Any, fingerprints: bool) -> bool:
    """``kept`` (a snapshot's value) is ``now`` as an earlier version wrote it: dictionaries may
    lack keys added since, and (``fingerprints``) a voucher's fingerprint may be of the first
    form (64 hexadecimal digits, which the compact form never is)."""
    if isinstance(kept, dict) and isinstance(now, dict):
        return all(key in now and _earlier_form(value, now[key], fingerprints) for key, value in kept.items())
    if fingerprints and isinstance(kept, str) and isinstance(now, str) and len(kept) == 64 and kept != now:
        return now[:2] in ("2|", "2#") and all(c in "0123456789abcdef" for c in kept)
    return bool(kept == now)


def _forged_snapshot(aggregate: Any, version: int) -> VerificationError:
    name = next(
        (f"{kind} {getattr(aggregate, attr)}" for kind, attr in _NAMES if hasattr(aggregate, attr)),
        f"aggregate {aggregate.id}",
    )
    msg = T_(
        "the stored snapshot of {name} at version {version} does not match the events it summarises "
        "(the snapshots table was changed below the application); nothing was written",
        name=name,
        version=version,
    )
    return VerificationError(msg)


_NAMES = (("grant", "grant_id"), ("base", "base_id"), ("unit", "unit_id"))  # a grant has a base_id too


def _role_in(
    registry: Any, signer: Signer, action: Action, policy: Policy, role: str | None, actor: str | None
) -> tuple[Person, str]:
    """The registered person holding ``signer``'s key and the role they hold on the action's date,
    if that role records the action (RuleViolationError, exit 3, naming the rule)."""
    if registry.root is None:
        raise VerificationError(
            _(
                "this ledger has no people registry (it was made before records were signed): an "
                "administrator adopts it with `grant-ledger migrate --admin NAME --admin-key FILE`"
            )
        )
    person = registry.signer(signer.fingerprint)
    held = person.role_on(action.on) if person is not None else None
    raise_first([signer_holds_role(person, held, signer.fingerprint, action.on, role, actor, policy)])
    assert person is not None and held is not None
    for day in action.also_dated():  # the same role on each date its events carry
        raise_first(
            [signer_holds_role(person, person.role_on(day), signer.fingerprint, day, held, actor, policy)]
        )
    raise_first([role_may_record(held, action.name, policy)])
    return person, held


# what one action of ``handle_together`` came to: its outcome, or what refused or failed it
Answer = Outcome | Exception


def _answer(call: Callable[[], Outcome]) -> Answer:
    """The outcome of one write handled alone, or the error that ended it: that write's own, not
    the batch's."""
    try:
        return call()
    except Exception as e:
        return e


def _locked_out(error: Exception) -> bool:
    text = str(error)
    return "locked" in text or "busy" in text or "lock timeout" in text


def _locked_error(error: Exception, waited: float) -> StorageError:
    """What a write (or a batch of them) locked out by another writer for ``waited`` seconds says."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    msg = T_(
        "the database is locked by another writer (waited {waited:.1f} s, "
        "GRANT_LEDGER_BUSY_TIMEOUT); nothing was written, try again: {first}",
        waited=waited,
        first=first,
    )
    return StorageError(msg)


class _Alone(Exception):
    """The actions given together cannot be recorded together (``handle_together``)."""


@dataclass
class _Batch:
    """What the actions recorded together have loaded, changed and sealed so far."""

    aggregates: dict[UUID, Any] = field(default_factory=dict)
    vouched: dict[UUID, str] = field(default_factory=dict)
    checked: list[tuple[Signer, list[Any]]] = field(default_factory=list)
    seals: list[Seal] = field(default_factory=list)
    sealed: list[Any] = field(default_factory=list)  # each seal's event, as it is saved
    last_signer: dict[UUID, Signer] = field(default_factory=dict)  # who signs a snapshot taken


class _Loaded:
    """The aggregates one attempt of an action loaded or created: saved together, or not at all."""

    def __init__(self, app: GrantLedger, policy: Policy, actor: str, role: str, signer: Signer) -> None:
        self.app = app
        self.policy = policy
        self.actor = actor
        self.role = role
        self.signer = signer
        self.aggregates: dict[UUID, Any] = {}
        self.checked: list[Any] = []  # stored snapshots found equal to their events, to sign
        self.vouched: dict[UUID, str] = {}  # built on the signer's own signed snapshot (``load``)

    def _get(self, key: UUID) -> Any:
        found = self.aggregates.get(key)
        if found is None:
            try:
                found = self.app.load(key, self.signer, self.checked, self.vouched)
            except AggregateNotFoundError:
                return None
            self.aggregates[key] = found
        return found

    def find_grant(self, grant_id: str) -> Grant | None:
        found = self._get(grant_uuid(grant_id))
        assert found is None or isinstance(found, Grant)
        return found

    def grant(self, grant_id: str) -> Grant:
        found = self.find_grant(grant_id)
        if found is None:
            msg = T_("grant {grant_id} is not in the ledger", grant_id=grant_id)
            raise NotFoundError(msg)
        return found

    def find_unit(self, unit_id: str) -> Unit | None:
        from ledger.unit import Unit, unit_uuid

        found = self._get(unit_uuid(unit_id))
        assert found is None or isinstance(found, Unit)
        return found

    def unit(self, unit_id: str) -> Unit:
        found = self.find_unit(unit_id)
        if found is None:
            msg = T_(
                "unit {unit_id} is not registered; register it first with `grant-ledger unit register "
                "{unit_id} --name …`",
                unit_id=unit_id,
            )
            raise NotFoundError(msg)
        return found

    def find_round(self, recommender: str, round_: str) -> RecommendationRound | None:
        from ledger.unit import RecommendationRound, round_uuid

        found = self._get(round_uuid(recommender, round_))
        assert found is None or isinstance(found, RecommendationRound)
        return found

    def find_base(self, base_id: str) -> Base | None:
        from ledger.unit import Base, base_uuid

        found = self._get(base_uuid(base_id))
        assert found is None or isinstance(found, Base)
        return found

    def people(self) -> Any:
        return self._get(REGISTRY_ID)

    def find_bodies(self) -> Any:
        from ledger.bodies import BODIES_ID

        return self._get(BODIES_ID)

    def add(self, aggregate: Any) -> None:
        self.aggregates[aggregate.id] = aggregate

    def loaded_grant(self, grant_id: str | None) -> Grant | None:
        found = self.aggregates.get(grant_uuid(grant_id)) if grant_id is not None else None
        return found if isinstance(found, Grant) else None


class _Batched(_Loaded):
    """One action's loads in a batch (``handle_together``): an aggregate an earlier action of the
    batch loaded or made is taken as that one left it."""

    def __init__(
        self, app: GrantLedger, policy: Policy, actor: str, role: str, signer: Signer, batch: _Batch
    ) -> None:
        super().__init__(app, policy, actor, role, signer)
        self.batch = batch

    def _get(self, key: UUID) -> Any:
        if key not in self.aggregates and key in self.batch.aggregates:
            owner = self.batch.vouched.get(key)
            if owner is not None and owner != self.signer.fingerprint:
                raise _Alone  # built on another person's own signed snapshot: theirs alone
            self.aggregates[key] = self.batch.aggregates[key]
            if owner is not None:
                self.vouched[key] = owner
        return super()._get(key)

    def add(self, aggregate: Any) -> None:
        if aggregate.id in self.batch.aggregates:
            raise _Alone  # made twice in one batch: the store settles which
        super().add(aggregate)


def open_ledger(url: str, *, existing: bool = False) -> GrantLedger:
    """The write side of the ledger at ``url``; ``existing``: NotFoundError unless the database
    already holds a ledger (only ``init`` and the demo make one)."""
    try:
        return GrantLedger(url, {"EXISTING_LEDGER": "y"} if existing else None)
    except LedgerError:
        raise
    except Exception as e:  # the driver's own errors: unreachable server, bad file...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        where = url.split("@")[-1].split("?")[0]
        if unreachable_database(e):
            raise NotFoundError(
                T_("cannot connect to the database {where}: {first}", where=where, first=first)
            ) from e
        if "read-only" in first or "readonly" in first:
            msg = T_(
                "the database {where} cannot be written (read-only file or role): {first}",
                where=where,
                first=first,
            )
        elif "disk" in first and ("full" in first or "I/O" in first):
            msg = T_(
                "the disk of {where} is full or failing; nothing was written: {first}",
                where=where,
                first=first,
            )
        elif "locked" in first or "lock timeout" in first:
            msg = T_(
                "the database {where} is locked by another writer (GRANT_LEDGER_BUSY_TIMEOUT); nothing "
                "was written, try again: {first}",
                where=where,
                first=first,
            )
        else:
            msg = T_("cannot open the ledger database {where}: {first}", where=where, first=first)
        raise StorageError(msg) from e
