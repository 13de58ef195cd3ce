"""The eventsourcing Application: loads aggregates, runs their checks, saves their events.

Each command is one optimistic transaction: load (from the latest snapshot), decide, save.
A version conflict with a concurrent writer is retried with fresh state, so two officers can
never spend the same money twice.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, project_aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding
from eventsourcing.persistence import OperationalError as StoreOperationalError
from sqlalchemy.engine import Engine

from ledger.database import APP_NAME, busy_timeout_ms, ensure_schema
from ledger.errors import BadInputError, ConflictError, LedgerError, NotFoundError, StorageError
from ledger.grant import Grant, grant_uuid
from ledger.policy import policy_in_force
from ledger.rules import SOURCES, projects_count, raise_first, role_may_record
from ledger.unit import UNIT_KINDS, Unit, unit_uuid

MAX_ATTEMPTS = 30
# How many times commands of this process retried: optimistic-concurrency conflicts, locks.
RETRIES: Counter[str] = Counter()
A = TypeVar("A", Grant, Unit)


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
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Grant: 50, Unit: 50}

    def __init__(self, url: str, env: dict[str, str] | None = None) -> None:
        settings = {
            "PERSISTENCE_MODULE": "ledger.store:LedgerFactory",
            "SQLALCHEMY_URL": url,
            "CREATE_TABLE": "y",
        }
        settings.update(env or {})
        super().__init__(settings)
        if not getattr(self.factory, "store_ready", False):
            ensure_schema(self.engine)

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
            if aggregate is not None and interval and event.originator_version % interval == 0:
                due[event.originator_id] = aggregate
        if due:
            classes = {key: getattr(type(a), "Snapshot", self.snapshot_class) for key, a in due.items()}
            self.snapshots.put([classes[key].take(a) for key, a in due.items()])  # type: ignore[union-attr]

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
        """The grant from its latest snapshot and the events after it. A snapshot taken by an
        earlier version keeps no per-date balances, without which a back-dated act could
        overdraw a date: such a grant is replayed from its events (its next snapshot has them).
        AggregateNotFoundError if it is not in the ledger."""
        grant: Any = self.repository.get(grant_uuid(grant_id))
        if grant.days is None:
            grant = project_aggregate(None, self.events.get(grant_uuid(grant_id)))
        assert isinstance(grant, Grant)
        return grant

    def get_grant(self, grant_id: str) -> Grant:
        try:
            return self.load_grant(grant_id)
        except AggregateNotFoundError:
            msg = f"grant {grant_id} is not in the ledger"
            raise NotFoundError(msg) from None

    def get_unit(self, unit_id: str) -> Unit:
        try:
            unit: Any = self.repository.get(unit_uuid(unit_id))
        except AggregateNotFoundError:
            msg = (
                f"unit {unit_id} is not registered; register it first with "
                f"`grant-ledger unit register {unit_id} --name …`"
            )
            raise NotFoundError(msg) from None
        assert isinstance(unit, Unit)
        return unit

    def has_grant(self, grant_id: str) -> bool:
        return bool(list(self.events.get(grant_uuid(grant_id), limit=1)))

    def has_unit(self, unit_id: str) -> bool:
        return bool(list(self.events.get(unit_uuid(unit_id), limit=1)))

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
                text = str(e)
                if "locked" not in text and "busy" not in text and "lock timeout" not in text:
                    raise
                RETRIES["locked"] += 1
                waited = time.monotonic() - started
                if waited * 1000 >= busy_timeout_ms():
                    first = text.strip().splitlines()[0] if text.strip() else type(e).__name__
                    msg = (
                        f"the database is locked by another writer (waited {waited:.1f} s, "
                        f"GRANT_LEDGER_BUSY_TIMEOUT); nothing was written, try again: {first}"
                    )
                    raise StorageError(msg) from None
            time.sleep(random.uniform(0, 0.01 * (n + 1)))
        msg = (
            f"the ledger was changed by others {MAX_ATTEMPTS} times while this command ran; "
            "nothing was written, run it again"
        )
        raise ConflictError(msg)

    def _on_grant(self, grant_id: str, decide: Callable[[Grant], bool], done: str, repeat: str) -> Outcome:
        def attempt() -> Outcome:
            grant = self.get_grant(grant_id)
            if not decide(grant):
                return Outcome(False, repeat, grant)
            self.save(grant)
            return Outcome(True, done, grant)

        return self._retrying(attempt)

    # ------------------------------------------------------------------ commands

    def register_unit(
        self, *, unit_id: str, name: str, kind: str, on: date, actor: str, role: str
    ) -> Outcome:
        policy = policy_in_force(on)
        raise_first([role_may_record(role, "unit register", policy)])
        if kind not in UNIT_KINDS:
            msg = f"unit kind {kind!r} is unknown; use one of {', '.join(UNIT_KINDS)}"
            raise BadInputError(msg)

        def attempt() -> Outcome:
            if self.has_unit(unit_id):
                unit = self.get_unit(unit_id)
                if (unit.name, unit.kind) == (name, kind):
                    return Outcome(False, f"unit {unit_id} is already registered")
                msg = (
                    f"unit {unit_id} is already registered as {unit.name!r} ({unit.kind}); "
                    "a unit id is registered once"
                )
                raise ConflictError(msg)
            unit = Unit.register(unit_id=unit_id, name=name, kind=kind, on=on, actor=actor, role=role)
            self.save(unit)
            return Outcome(True, f"registered unit {unit_id} {name}")

        return self._retrying(attempt)

    def apply_grant(
        self,
        *,
        grant_id: str,
        unit_id: str,
        base_id: str,
        base_name: str,
        programme: str,
        projects: list[str],
        requested: Decimal,
        on: date,
        actor: str,
        role: str,
    ) -> Outcome:
        policy = policy_in_force(on)
        raise_first([role_may_record(role, "grant apply", policy)])
        prog = policy.programme(programme)
        raise_first([projects_count(prog, projects, policy)])

        def attempt() -> Outcome:
            if self.has_grant(grant_id):
                grant = self.get_grant(grant_id)
                same = (grant.unit_id, grant.base_id, grant.programme, grant.requested) == (
                    unit_id,
                    base_id,
                    programme,
                    requested,
                )
                if same:
                    return Outcome(False, f"grant {grant_id} is already recorded")
                msg = (
                    f"grant {grant_id} is already recorded for unit {grant.unit_id}, base "
                    f"{grant.base_id} ({grant.programme}); a grant id is used once"
                )
                raise ConflictError(msg)
            unit = self.get_unit(unit_id)
            unit.take_base(
                base_id=base_id,
                grant_id=grant_id,
                programme=prog,
                on=on,
                actor=actor,
                role=role,
                policy=policy,
            )
            grant = Grant.create(
                grant_id=grant_id,
                unit_id=unit_id,
                base_id=base_id,
                base_name=base_name,
                programme=programme,
                level=prog.level,
                projects=projects,
                requested=requested,
                on=on,
                actor=actor,
                role=role,
            )
            self.save(unit, grant)
            return Outcome(True, f"recorded the application of grant {grant_id} for base {base_id}")

        return self._retrying(attempt)

    def approve_grant(
        self,
        *,
        grant_id: str,
        amount: Decimal,
        document: str,
        bodies: list[str],
        build_start: date | None,
        build_end: date | None,
        on: date,
        actor: str,
        role: str,
        imported: bool = False,
    ) -> Outcome:
        policy = policy_in_force(on)
        raise_first([role_may_record(role, "grant approve", policy)])

        def decide(grant: Grant) -> bool:
            if grant.status == "approved" and (grant.approved, grant.document) == (amount, document):
                return False
            grant.approve(
                amount=amount,
                document=document,
                bodies=bodies,
                build_start=build_start,
                build_end=build_end,
                on=on,
                actor=actor,
                role=role,
                policy=policy,
                imported=imported,
            )
            return True

        return self._on_grant(
            grant_id, decide, f"approved grant {grant_id}", f"grant {grant_id} is already approved"
        )

    def disburse(
        self,
        *,
        grant_id: str,
        amount: Decimal,
        voucher: str,
        tranche: int,
        on: date,
        actor: str,
        role: str,
    ) -> Outcome:
        policy = policy_in_force(on)
        raise_first([role_may_record(role, "disburse", policy)])
        return self._on_grant(
            grant_id,
            lambda g: g.disburse(
                amount=amount, voucher=voucher, tranche=tranche, on=on, actor=actor, role=role, policy=policy
            ),
            f"recorded disbursement {voucher} to grant {grant_id}",
            f"disbursement {voucher} of grant {grant_id} is already recorded",
        )

    def commit_matching(
        self,
        *,
        grant_id: str,
        amount: Decimal,
        voucher: str,
        funder: str,
        on: date,
        actor: str,
        role: str,
    ) -> Outcome:
        policy = policy_in_force(on)
        raise_first([role_may_record(role, "match commit", policy)])
        return self._on_grant(
            grant_id,
            lambda g: g.commit_matching(
                amount=amount, voucher=voucher, funder=funder, on=on, actor=actor, role=role, policy=policy
            ),
            f"recorded matching commitment {voucher} to grant {grant_id}",
            f"matching commitment {voucher} of grant {grant_id} is already recorded",
        )

    def receive_matching(
        self, *, grant_id: str, amount: Decimal, voucher: str, on: date, actor: str, role: str
    ) -> Outcome:
        policy = policy_in_force(on)
        raise_first([role_may_record(role, "match receive", policy)])
        return self._on_grant(
            grant_id,
            lambda g: g.receive_matching(
                amount=amount, voucher=voucher, on=on, actor=actor, role=role, policy=policy
            ),
            f"recorded matching receipt {voucher} to grant {grant_id}",
            f"matching receipt {voucher} of grant {grant_id} is already recorded",
        )

    def spend(
        self,
        *,
        grant_id: str,
        amount: Decimal,
        category: str,
        source: str,
        voucher: str,
        content: str = "",
        project: str = "",
        payee: str = "",
        memo: str = "",
        attachments: list[str] | None = None,
        on: date,
        actor: str,
        role: str,
    ) -> Outcome:
        policy = policy_in_force(on)
        raise_first([role_may_record(role, "spend", policy)])
        if source not in SOURCES:
            msg = f"fund source {source!r} is unknown; use subsidy (财政补助) or matching (配套经费)"
            raise BadInputError(msg)
        return self._on_grant(
            grant_id,
            lambda g: g.spend(
                amount=amount,
                category=category,
                source=source,
                content=content,
                project=project,
                voucher=voucher,
                payee=payee,
                memo=memo,
                attachments=list(attachments or []),
                on=on,
                actor=actor,
                role=role,
                policy=policy,
            ),
            f"recorded expenditure {voucher} of grant {grant_id}",
            f"expenditure {voucher} of grant {grant_id} is already recorded",
        )

    def reverse(
        self, *, grant_id: str, voucher: str, reason: str, on: date, actor: str, role: str
    ) -> Outcome:
        policy = policy_in_force(on)
        raise_first([role_may_record(role, "reverse", policy)])
        return self._on_grant(
            grant_id,
            lambda g: g.reverse(voucher=voucher, reason=reason, on=on, actor=actor, role=role, policy=policy),
            f"reversed expenditure {voucher} of grant {grant_id}",
            f"the reversal of {voucher} of grant {grant_id} is already recorded",
        )

    # ------------------------------------------------------------------ the rest of a grant's life

    def record(
        self,
        *,
        grant_id: str,
        action: str,
        on: date,
        role: str,
        decide: Callable[[Grant, Any], bool],
        done: str,
        repeat: str,
    ) -> Outcome:
        """One step of a grant's life (ledger.grant): role check, then load-decide-save."""
        policy = policy_in_force(on)
        raise_first([role_may_record(role, action, policy)])
        return self._on_grant(grant_id, lambda g: decide(g, policy), done, repeat)

    def reject_grant(
        self, *, grant_id: str, reason: str, document: str, on: date, actor: str, role: str
    ) -> Outcome:
        """Reject an application; the unit's base slot is released (Unit.BaseReleased)."""
        policy = policy_in_force(on)
        raise_first([role_may_record(role, "grant reject", policy)])

        def attempt() -> Outcome:
            grant = self.get_grant(grant_id)
            if not grant.reject(
                reason=reason, document=document, on=on, actor=actor, role=role, policy=policy
            ):
                return Outcome(False, f"grant {grant_id} is already rejected")
            unit = self.get_unit(grant.unit_id)
            unit.release_base(
                base_id=grant.base_id, reason=f"grant {grant_id} rejected", on=on, actor=actor, role=role
            )
            self.save(grant, unit)
            return Outcome(True, f"rejected grant {grant_id}; base {grant.base_id} released")

        return self._retrying(attempt)

    def recommend_grant(
        self,
        *,
        grant_id: str,
        recommender: str,
        round_: str,
        rank: int | None,
        on: date,
        actor: str,
        role: str,
    ) -> Outcome:
        """A recommendation, counted against the recommender's quota for the round (002 五(一))."""
        from ledger.unit import RecommendationRound, round_uuid

        policy = policy_in_force(on)
        raise_first([role_may_record(role, "grant recommend", policy)])

        def attempt() -> Outcome:
            grant = self.get_grant(grant_id)
            if not grant.recommend(
                recommender=recommender,
                round_=round_,
                rank=rank,
                on=on,
                actor=actor,
                role=role,
                policy=policy,
            ):
                return Outcome(False, f"the recommendation of grant {grant_id} is already recorded")
            try:
                rnd: Any = self.repository.get(round_uuid(recommender, round_))
            except AggregateNotFoundError:
                rnd = RecommendationRound.open(
                    recommender=recommender, round_=round_, on=on, actor=actor, role=role
                )
            rnd.add(
                grant_id=grant_id, level=grant.level, rank=rank, on=on, actor=actor, role=role, policy=policy
            )
            self.save(grant, rnd)
            return Outcome(True, f"recorded {recommender}'s recommendation of grant {grant_id} ({round_})")

        return self._retrying(attempt)


def open_ledger(url: str) -> GrantLedger:
    try:
        return GrantLedger(url)
    except LedgerError:
        raise
    except Exception as e:  # the driver's own errors: unreachable server, bad file...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        where = url.split("@")[-1].split("?")[0]
        if "read-only" in first or "readonly" in first:
            msg = f"the database {where} cannot be written (read-only file or role): {first}"
        elif "disk" in first and ("full" in first or "I/O" in first):
            msg = f"the disk of {where} is full or failing; nothing was written: {first}"
        elif "locked" in first or "lock timeout" in first:
            msg = (
                f"the database {where} is locked by another writer (GRANT_LEDGER_BUSY_TIMEOUT); "
                f"nothing was written, try again: {first}"
            )
        else:
            msg = f"cannot open the ledger database {where}: {first}"
        raise StorageError(msg) from e
