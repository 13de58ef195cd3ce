"""The people registry, replayed from its events as stored: who may sign, with which key, in which
role on a business date. The ledger (before a write, and before building on what it loads), the
projections (before showing an event) and the auditor's verifier all read it through this module.

Events (aggregate ``REGISTRY_ID``, each sealed like any other)::

    People.Founded    {person, person_role: "admin", public_key}      the root, the first event
    People.Registered {person, person_role, public_key, occurred_on}  role held from occurred_on
    People.KeyRotated {person, public_key, occurred_on}               the old key ends at once
    People.Revoked    {person, occurred_on}                           no role from occurred_on on

``public_key`` is the hex of the 32 raw Ed25519 bytes; ``occurred_on`` a business date (or null:
from the start). The first event registers the root: an administrator whose seal is signed by the
key it registers. Every later change is sealed by an active administrator; the root's own key
changes only by a rotation the root seals with its current key, and the root is never revoked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID, uuid5

from audit.verifier.errors import AuditError
from audit.verifier.i18n import N_, _
from audit.verifier.seals import key_fingerprint

REGISTRY_ID = uuid5(UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8"), "grant-ledger/people")
FOUNDED = "grant-ledger:People.Founded"
REGISTERED = "grant-ledger:People.Registered"
ROTATED = "grant-ledger:People.KeyRotated"
REVOKED = "grant-ledger:People.Revoked"
TOPICS = frozenset({FOUNDED, REGISTERED, ROTATED, REVOKED})
ROLES = ("officer", "approver", "auditor", "admin")
ROLE_NAMES = {
    "officer": N_("finance officer"),
    "approver": N_("approver"),
    "auditor": N_("auditor"),
    "admin": N_("administrator"),
}


def role_name(role: Any) -> str:
    """A role's name in the reader's language (an unknown one as it is)."""
    name = ROLE_NAMES.get(str(role))
    return _(name) if name else str(role)


def no_one(name: str | None) -> str:
    """``name``, or "no one" in the reader's language."""
    return name or _("no one")


def state_date(value: Any) -> date | None:
    """A business date as the store writes it ({"_type_": "date_iso", "_data_": "…"}) or None."""
    if isinstance(value, dict):
        value = value.get("_data_")
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


@dataclass
class Period:
    role: str
    start: date | None
    end: date | None = None  # the first date without the role

    def holds(self, day: date | None) -> bool:
        if day is None:
            return self.end is None
        return (self.start is None or self.start <= day) and (self.end is None or day < self.end)


@dataclass
class Person:
    name: str
    key: str  # fingerprint of the current key
    public_key: bytes
    periods: list[Period] = field(default_factory=list)
    keys: dict[str, bytes] = field(default_factory=dict)  # every key the person ever had

    @property
    def active(self) -> bool:
        return bool(self.periods) and self.periods[-1].end is None

    @property
    def role(self) -> str | None:
        return self.periods[-1].role if self.active else None

    def role_on(self, day: date | None) -> str | None:
        """The role the person held on ``day`` (None: not registered then, or revoked)."""
        for period in reversed(self.periods):
            if period.holds(day):
                return period.role
        return None


class RegistryError(AuditError):
    """A registry event that breaks the registry's own rules (the message says which)."""


class NotRegistered(RegistryError):
    """A change to a person the registry has never held (the ledger's exit 4, not found)."""


@dataclass
class Registry:
    people: dict[str, Person] = field(default_factory=dict)
    root: str | None = None
    root_fingerprint: str | None = None  # of the root's first key: the ledger's trust root
    by_key: dict[str, str] = field(default_factory=dict)  # current key fingerprint -> name
    # every key fingerprint ever registered -> the one person it was registered to: a key is one
    # person's, so that what it signed under one name is never another's (duties are by name)
    ever: dict[str, str] = field(default_factory=dict)

    def signer(self, fingerprint: str) -> Person | None:
        """The person whose current key this is, while registered (revoked people sign nothing)."""
        name = self.by_key.get(fingerprint)
        person = self.people.get(name) if name is not None else None
        return person if person is not None and person.active else None

    def may_sign(self, name: str, fingerprint: str) -> Person | None:
        person = self.signer(fingerprint)
        return person if person is not None and person.name == name else None

    def apply(self, topic: str, state: dict[str, Any], signer: str | None) -> None:
        """Apply one registry event sealed by ``signer`` (None: unsealed). RegistryError if the
        event is not one the registry allows at this point."""
        name = str(state.get("person") or "")
        on = state_date(state.get("occurred_on"))
        if self.root is None or topic == FOUNDED:
            if self.root is not None:
                raise RegistryError(_("the registry has its root already"))
            self._register_root(topic, state, name, on, signer)
            return
        admin = self.people.get(signer or "")
        if admin is None or not admin.active or admin.role != "admin":
            raise RegistryError(
                _("{signer} is not an active administrator: cannot change {name}").format(
                    signer=no_one(signer), name=name
                )
            )
        person = self.people.get(name)
        if topic == REGISTERED:
            self._register(name, state, on, person)
        elif topic == ROTATED:
            if person is None or not person.active:
                kind = NotRegistered if person is None else RegistryError
                raise kind(_("{name} is not registered: no key to rotate").format(name=name))
            if name == self.root and signer != self.root:
                raise RegistryError(
                    _("the root {name}'s key passes on only by a statement the root signs").format(name=name)
                )
            self._set_key(person, _raw_key(state))
        elif topic == REVOKED:
            if person is None or not person.active:
                kind = NotRegistered if person is None else RegistryError
                raise kind(_("{name} is not registered: nothing to revoke").format(name=name))
            if name == self.root:
                raise RegistryError(
                    _("the root {name} cannot be revoked; pass the root to a new key instead").format(
                        name=name
                    )
                )
            if on is None:  # a revocation without its date ended nothing, the person staying active
                raise RegistryError(
                    _(
                        "revoking {name} names no date: a revocation names the first business date "
                        "without the role"
                    ).format(name=name)
                )
            person.periods[-1].end = on
            self.by_key.pop(person.key, None)
        else:
            raise RegistryError(_("unknown registry event {topic}").format(topic=topic))

    def _register_root(
        self, topic: str, state: dict[str, Any], name: str, on: date | None, signer: str | None
    ) -> None:
        if topic != FOUNDED or state.get("person_role") != "admin":
            raise RegistryError(_("the registry must begin with its root administrator"))
        if signer != name:
            raise RegistryError(_("the root {name} must seal its own registration").format(name=name))
        person = self._register(name, state, on, None)
        self.root = name
        self.root_fingerprint = person.key

    def _register(self, name: str, state: dict[str, Any], on: date | None, person: Person | None) -> Person:
        role = state.get("person_role")
        if role not in ROLES:
            raise RegistryError(
                _("{role!r} is not a role ({roles})").format(role=role, roles=", ".join(ROLES))
            )
        if not name:
            raise RegistryError(_("a person needs a name"))
        raw = _raw_key(state)
        fingerprint = key_fingerprint(raw)
        holder = self.by_key.get(fingerprint) or self.ever.get(fingerprint)
        if holder is not None and holder != name:
            raise RegistryError(_("that key is already {holder}'s").format(holder=holder))
        if person is None:
            person = self.people[name] = Person(name, fingerprint, raw)
        elif person.active:
            raise RegistryError(
                _("{name} is already registered (as {role})").format(name=name, role=role_name(person.role))
            )
        if (
            person.periods
            and on is not None
            and person.periods[-1].end is not None
            and on < person.periods[-1].end
        ):
            raise RegistryError(
                _("{name}'s new role cannot begin before the earlier one ended").format(name=name)
            )
        person.periods.append(Period(str(role), on))
        self._set_key(person, raw)
        return person

    def _set_key(self, person: Person, raw: bytes) -> None:
        fingerprint = key_fingerprint(raw)
        holder = self.by_key.get(fingerprint) or self.ever.get(fingerprint)
        if holder is not None and holder != person.name:
            raise RegistryError(_("that key is already {holder}'s").format(holder=holder))
        if fingerprint in person.keys and fingerprint != person.key:
            raise RegistryError(
                _("{name} used that key before; a rotation needs a new key").format(name=person.name)
            )
        self.by_key.pop(person.key, None)
        person.key, person.public_key = fingerprint, raw
        person.keys[fingerprint] = raw
        self.by_key[fingerprint] = person.name
        self.ever[fingerprint] = person.name


def _raw_key(state: dict[str, Any]) -> bytes:
    try:
        raw = bytes.fromhex(str(state.get("public_key")))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise RegistryError(_("a public key is 32 bytes of Ed25519, in hex"))
    return raw
