"""Who did each act, proven from the bundle: the people registry replayed in log order from its
own events, every event checked against the seal that follows it (audit/verifier/seals.py).

For each event of the bundle:
- it names a seal, stored after it, whose Ed25519 signature verifies under the key the people
  registry gives the seal's signer *at the seal's place in the log* (a key rotated away, or a
  person revoked, before it signs nothing), and whose leaves include the event's leaf;
- its ``actor`` is the seal's signer, its ``role`` the signer's registered role on the event's
  business date, and that role may record the event (audit/verifier/duties.py);
- separation of duties holds: whoever recorded a grant's application does not review, notice,
  recommend, approve or reject it; whoever ordered a rectification or a recovery does not record
  its completion or receipt;
- or it is older than the ledger's adoption: the events before the size an administrator signed
  with ``grant-ledger migrate`` are adopted, not signed.

The registry's first event founds it: its root administrator, whose key must be the trust root
the auditor pinned (``--root``). Every later change is sealed by an active administrator
(audit/verifier/people.py). At every checkpoint's size the registered approvers and their keys are
noted, so a checkpoint is checked against the people who could sign it then.

One signature check per seal (a command's events, or an import batch of up to 10,000), not per
event; events wait for their seal in memory, which holds at most one batch.
"""

from __future__ import annotations

import copy
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.verifier.checkpoint import CheckpointError, key_id, parse_signed_checkpoint
from audit.verifier.duties import APPLIED, APPROVED, DUTY_TOPICS, Duties, action_of, roles_for
from audit.verifier.i18n import _
from audit.verifier.people import (
    FOUNDED,
    REGISTRY_ID,
    TOPICS,
    Person,
    Registry,
    RegistryError,
    no_one,
    role_name,
    state_date,
)
from audit.verifier.report import Report
from audit.verifier.seals import (
    ADOPTION_TOPIC,
    SEAL_TOPIC,
    message_of,
    signature_verifies,
)

_REGISTRY = str(REGISTRY_ID)
_SEALS = frozenset({SEAL_TOPIC, ADOPTION_TOPIC})
_MAX_NAMED = 1000  # unsigned events named one by one; past that, counted


@dataclass(slots=True)
class _Event:
    index: int
    event_id: Any
    topic: str
    originator: str
    version: Any
    actor: str
    role: Any
    on: str | None  # the business date as stored (ISO text)
    leaf: bytes
    state: dict[str, Any] | None  # kept for the registry's own events only

    def where(self) -> str:
        return event_where(self.event_id, self.index, self.topic, self.originator, self.version)


def event_where(event_id: Any, index: int, topic: str, originator: Any, version: Any) -> str:
    """An event as failures name it: its id, leaf, kind, aggregate and version."""
    return _("event {event_id} (leaf {index}, {topic} of {originator} version {version})").format(
        event_id=event_id, index=index, topic=topic.split(":")[-1], originator=originator, version=version
    )


class Signatures:
    def __init__(self, report: Report, root: str | None, root_at: Callable[[int], bytes | None]) -> None:
        self.report = report
        self.pinned = root
        self.registry = Registry()
        self.duties = Duties()
        self._root_at = root_at
        self._pending: dict[str, list[_Event]] = {}
        self._unsigned_index = array("q")
        self._unsigned_id: list[Any] = []
        self._unsigned_more = 0
        self.adopted_size: int | None = None
        self.adopted = 0
        # the leaves of the registry's founding event and of its seal: an adoption adopts just the
        # events before the first and follows the second, as `migrate` stores the three together
        self.founded_at: int | None = None
        self.founding_sealed_at: int | None = None
        self.signed = 0
        self.seals = 0
        self.approvers: dict[int, dict[str, Person]] = {}

    # ------------------------------------------------------------------ events as the scan reads them

    def event(self, index: int, event_id: Any, record: dict[str, Any], leaf: bytes) -> None:
        topic = record.get("topic")
        if topic.__class__ is not str:
            topic = str(topic)
        state = record.get("state")
        if state.__class__ is not dict:
            state = {}
        if topic in _SEALS:
            self._seal(index, event_id, record, state)
            return
        originator = str(record.get("originator_id"))
        seal = state.get("seal")
        actor = state.get("actor")
        if actor.__class__ is not str:
            actor = str(actor or "")
        grant = originator if topic in DUTY_TOPICS else ""
        ref = str(state.get("ref") or "") if grant else ""
        if not seal:
            if self.adopted_size is not None:
                self.report.fail(
                    _("{where}: carries no signature").format(
                        where=self._where(index, event_id, topic, record)
                    )
                )
            elif len(self._unsigned_id) < _MAX_NAMED:
                self._unsigned_index.append(index)
                self._unsigned_id.append((event_id, topic, originator, record.get("originator_version")))
            else:
                self._unsigned_more += 1
            if grant:
                self.duties.record(grant, topic, actor, "", ref)
            return
        seal = str(seal)
        if grant:
            breach = self.duties.check(grant, topic, actor, seal, ref)
            if breach is not None:
                self.report.fail(
                    _("{where} by {actor}: {why}").format(
                        where=self._where(index, event_id, topic, record), actor=actor, why=breach
                    )
                )
            self.duties.record(grant, topic, actor, seal, ref)
        self._pending.setdefault(seal, []).append(
            _Event(
                index,
                event_id,
                topic,
                originator,
                record.get("originator_version"),
                actor,
                state.get("role"),
                _iso(state.get("occurred_on")),
                leaf,
                state if originator == _REGISTRY else None,
            )
        )

    @staticmethod
    def _where(index: int, event_id: Any, topic: str, record: dict[str, Any]) -> str:
        return event_where(
            event_id, index, topic, record.get("originator_id"), record.get("originator_version")
        )

    def at(self, size: int) -> None:
        """Note who could sign a checkpoint of ``size`` events: the approvers registered then."""
        self.approvers[size] = {
            name: copy.deepcopy(person)
            for name, person in self.registry.people.items()
            if person.active and any(p.role == "approver" for p in person.periods)
        }

    # ------------------------------------------------------------------ seals

    def _seal(self, index: int, event_id: Any, record: dict[str, Any], state: dict[str, Any]) -> None:
        seal_id = str(record.get("originator_id"))
        topic = str(record.get("topic"))
        signer = str(state.get("signer") or "")
        if record.get("originator_version") != 1:
            self.report.fail(
                _("{what}: version {version}; a seal is made once").format(
                    what=_seal_name(seal_id, event_id, index), version=record.get("originator_version")
                )
            )
            return
        if topic == ADOPTION_TOPIC:
            self._adoption(index, event_id, seal_id, signer, state)
            return
        self.seals += 1
        events = self._pending.pop(seal_id, [])
        founding = self.registry.root is None and any(e.topic == FOUNDED for e in events)
        if founding:
            self._registry_events(events, signer)  # the root seals its own registration
            self._check_root()
            self.founded_at = min(e.index for e in events if e.topic == FOUNDED)
            self.founding_sealed_at = index
        person = self.registry.may_sign(signer, str(state.get("key")))
        why = None
        if person is None:
            why = self._not_registered(signer, str(state.get("key")))
        else:
            message = message_of(topic, seal_id, state)
            if message is None or not signature_verifies(message, state.get("signature"), person.public_key):
                why = _("its signature does not verify under {signer}'s registered key").format(signer=signer)
        if why is not None:
            self.report.fail(
                _("{where} by {actor}: {why}").format(
                    where=_seal_name(seal_id, event_id, index), actor=no_one(signer), why=why
                )
            )
            for e in events:
                self.report.fail(
                    _("{where} by {actor}: not signed: its seal {seal} fails ({why})").format(
                        where=e.where(), actor=e.actor, seal=seal_id, why=why
                    )
                )
            return
        assert person is not None
        covered = _leaf_set(state.get("leaves"))
        approved = {e.originator for e in events if e.topic == APPROVED}
        signed: list[_Event] = []
        roles: dict[str | None, str | None] = {}  # the signer's role by business date, as stored
        for e in events:
            held = roles.get(e.on, "?")
            if held == "?":
                held = roles[e.on] = person.role_on(state_date(e.on))
            problem = self._problem(e, signer, held, covered, approved)
            if problem is not None:
                self.report.fail(
                    _("{where} by {actor}: {why}").format(where=e.where(), actor=no_one(e.actor), why=problem)
                )
            elif e.state is not None and not founding:
                signed.append(e)
            else:
                self.signed += 1
        if signed:
            self.signed += self._registry_events(signed, signer)

    @staticmethod
    def _problem(
        e: _Event, signer: str, held: str | None, covered: set[bytes], approved: set[str]
    ) -> str | None:
        if e.leaf not in covered:
            return _(
                "is not among the events {signer} signed (its seal's leaves): changed after signing"
            ).format(signer=signer)
        if e.actor != signer:
            return _("names {actor!r} as its recorder but is signed by {signer}").format(
                actor=e.actor, signer=signer
            )
        if e.topic in TOPICS:
            return None  # the registry's own rules say who may change it
        allowed = roles_for(e.topic)
        if held in allowed and e.role == held and (e.topic != APPLIED or held == "officer"):
            return None
        dated = e.on is not None
        if held is None:
            return (
                _("{signer} held no role on {day} (not yet registered, or revoked)")
                if dated
                else _("{signer} held no role then (not yet registered, or revoked)")
            ).format(signer=signer, day=e.on)
        if held not in allowed:
            return (
                _("{signer} is registered as {role} on {day}; '{action}' is recorded by {allowed} (role)")
                if dated
                else _("{signer} is registered as {role} then; '{action}' is recorded by {allowed} (role)")
            ).format(
                signer=signer,
                role=role_name(held),
                day=e.on,
                action=action_of(e.topic),
                allowed=_either(allowed),
            )
        if e.topic == APPLIED and held != "officer" and e.originator not in approved:
            return _(
                "{signer} ({role}) recorded an application; only an approval brought in whole comes so"
            ).format(signer=signer, role=role_name(held))
        if e.role != held:
            return (
                _("says its role is {stated!r}, but {signer} is registered as {role} on {day}")
                if dated
                else _("says its role is {stated!r}, but {signer} is registered as {role} then")
            ).format(stated=e.role, signer=signer, role=role_name(held), day=e.on)
        return None

    def _registry_events(self, events: list[_Event], signer: str) -> int:
        applied = 0
        for e in events:
            if e.originator != _REGISTRY or e.state is None:
                continue
            try:
                self.registry.apply(e.topic, e.state, signer)
                applied += 1
            except RegistryError as error:
                self.report.fail(
                    _("{where} by {actor}: the people registry refuses it: {why}").format(
                        where=e.where(), actor=signer, why=error
                    )
                )
        return applied

    def _not_registered(self, signer: str, key: str) -> str:
        person = self.registry.people.get(signer)
        short = f"{key[:16]}…"
        if person is None:
            holder = self.registry.by_key.get(key)
            if holder:
                return _("{signer} is not in the people registry; key {key} (it is {holder}'s)").format(
                    signer=no_one(signer), key=short, holder=holder
                )
            return _("{signer} is not in the people registry; key {key}").format(
                signer=no_one(signer), key=short
            )
        if not person.active:
            return _("{signer} was revoked before this seal; key {key}").format(signer=signer, key=short)
        if key in person.keys:
            return _("key {key} was rotated away before this seal ({signer}'s key then: {then}…)").format(
                key=short, signer=signer, then=person.key[:16]
            )
        return _("key {key} is not {signer}'s registered key (not in the registry)").format(
            key=short, signer=signer
        )

    def _check_root(self) -> None:
        found = self.registry.root_fingerprint
        if self.pinned is not None and found != self.pinned:
            self.report.fail(
                _(
                    "people registry: its trust root is {found}, not the root you were given ({pinned}): "
                    "it is another ledger's, or forged"
                ).format(found=found, pinned=self.pinned)
            )

    def _adoption(self, index: int, event_id: Any, seal_id: str, signer: str, state: dict[str, Any]) -> None:
        person = self.registry.may_sign(signer, str(state.get("key")))
        message = message_of(ADOPTION_TOPIC, seal_id, state)
        size = state.get("size")
        root = self._root_at(size) if type(size) is int and 0 <= size <= index else None
        if self.adopted_size is not None:
            why = _("the ledger was adopted already")
        elif person is None:
            why = self._not_registered(signer, str(state.get("key")))
        elif person.role != "admin":
            why = _("{signer} is not an administrator").format(signer=signer)
        elif message is None or not signature_verifies(message, state.get("signature"), person.public_key):
            why = _("its signature does not verify under {signer}'s registered key").format(signer=signer)
        elif root is None or root.hex() != state.get("root"):
            why = _("the root it signs is not the root of the bundle's first {size} events").format(size=size)
        elif size != self.founded_at or index != (self.founding_sealed_at or 0) + 1:
            why = _(
                "it adopts the first {size} events, but the people registry was founded at leaf {founded}: "
                "an adoption names just the events recorded before the registry, stored with its founding "
                "(`grant-ledger migrate`); later events are signed"
            ).format(size=size, founded=self.founded_at)
        else:
            why = None
        if why is not None:
            self.report.fail(
                _("adoption {what} by {signer}: {why}").format(
                    what=_seal_name(seal_id, event_id, index), signer=no_one(signer), why=why
                )
            )
            return
        assert type(size) is int
        self.adopted_size = size
        for n, (event_id, topic, originator, version) in zip(
            self._unsigned_index, self._unsigned_id, strict=True
        ):
            if n < size:
                self.adopted += 1
            else:
                self._unsigned(n, event_id, topic, originator, version)
        self.adopted += self._unsigned_more  # only past _MAX_NAMED: all before the adoption
        self._unsigned_index = array("q")
        self._unsigned_id = []
        self._unsigned_more = 0

    def _unsigned(self, index: int, event_id: Any, topic: str, originator: str, version: Any) -> None:
        where = event_where(event_id, index, topic, originator, version)
        self.report.fail(
            (
                _("{where}: carries no signature")
                if self.adopted_size is not None
                else _("{where}: carries no signature (and the ledger was never adopted)")
            ).format(where=where)
        )

    # ------------------------------------------------------------------ the end

    def finish(self, included: int) -> None:
        for seal_id, events in self._pending.items():
            for e in events:
                self.report.fail(
                    _(
                        "{where} by {actor}: names seal {seal}, which does not follow it (stored after the "
                        "seal it names: a copy, or inserted below the application)"
                    ).format(where=e.where(), actor=e.actor, seal=seal_id)
                )
        self._pending.clear()
        for n, (event_id, topic, originator, version) in zip(
            self._unsigned_index, self._unsigned_id, strict=True
        ):
            self._unsigned(n, event_id, topic, originator, version)
        if self._unsigned_more:
            self.report.fail(_("{count} more events carry no signature").format(count=self._unsigned_more))
        if self.registry.root is None and included:
            self.report.fail(
                _(
                    "people registry: the bundle holds none, so no event can be tied to a person "
                    "(a ledger made before records were signed is adopted with `grant-ledger migrate`)"
                )
            )

    def checkpoint(self, size: int, text: str) -> str | None:
        """None if an approver registered at ``size`` signed the checkpoint with their key then;
        else why not."""
        try:
            signed = parse_signed_checkpoint(text)
        except CheckpointError as e:
            return e.message
        people = self.approvers.get(size, {})
        day = _day(signed.checkpoint.timestamp)
        names = []
        for sig in signed.signatures:
            names.append(sig.key_name)
            person = people.get(sig.key_name)
            if person is None:
                continue
            key = Ed25519PublicKey.from_public_bytes(person.public_key)
            try:
                if sig.key_id != key_id(sig.key_name, key):
                    continue
                key.verify(sig.signature, signed.body.encode("utf-8"))
            except (CheckpointError, InvalidSignature, ValueError):
                continue
            # an approver at the size signed (the person's role in the registry as the log stood
            # then), on a day of their approver's period: the timestamp is the signer's to write
            if person.role == "approver" and person.role_on(day) == "approver":
                return None
        return _(
            "not signed by an approver registered at its size {size} with their key then (signed as {names})"
        ).format(size=size, names=", ".join(names) or _("no one"))


def _seal_name(seal_id: str, event_id: Any, index: int) -> str:
    """A seal as failures name it (worded only when one is reported)."""
    return _("seal {seal} (event {event_id}, leaf {index})").format(
        seal=seal_id, event_id=event_id, index=index
    )


def _either(roles: frozenset[str]) -> str:
    """The roles that may record an event, named: "approver or administrator"."""
    names = [role_name(role) for role in sorted(roles)]
    if not names:
        return _("no one")
    either = names[0]
    for name in names[1:]:
        either = _("{first} or {second}").format(first=either, second=name)
    return either


def _iso(value: Any) -> str | None:
    """A stored business date's text ({"_type_": "date_iso", "_data_": "…"}), as stored."""
    if value.__class__ is dict:
        value = value.get("_data_")
    return value if value.__class__ is str else None


def _leaf_set(leaves: Any) -> set[bytes]:
    try:
        raw = bytes.fromhex(leaves) if isinstance(leaves, str) else b""
    except ValueError:
        return set()  # not hex: covers nothing
    return {raw[i : i + 32] for i in range(0, len(raw), 32)}


# business dates are Chongqing's (UTC+8, no daylight saving), as the ledger judged the signer's role
_CHONGQING = timezone(timedelta(hours=8))


def _day(timestamp: str) -> date | None:
    """A checkpoint's time as the business date it was signed on in Chongqing."""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(_CHONGQING).date()
