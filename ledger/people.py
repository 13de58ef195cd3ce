"""The people registry as an aggregate: who may record, with which key, in which role.

Its rules are audit.verifier.people's (the auditor replays the same events with the same code);
this aggregate only turns an administrator's act into the event, refused as that module refuses.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar

from eventsourcing.domain import Aggregate
from pydantic import AfterValidator, BaseModel, ConfigDict

from audit.verifier.people import (
    FOUNDED,
    REGISTERED,
    REGISTRY_ID,
    REVOKED,
    ROLES,
    ROTATED,
    NotRegistered,
    Registry,
    RegistryError,
)
from audit.verifier.seals import key_fingerprint
from ledger.actions import Action, Identifier, NewIdentifier
from ledger.errors import BadInputError, ConflictError, NotFoundError, RuleViolationError
from ledger.i18n import N_, _
from ledger.policy import Policy


class People(Aggregate):
    TOPIC = "grant-ledger:People"

    class Event(Aggregate.Event):
        TOPIC = "grant-ledger:People.Event"
        actor: str
        role: str
        occurred_on: date | None
        person: str

        def apply(self, people: People) -> None:
            people.registry.apply(self.TOPIC, vars(self), self.actor)

    class Founded(Event, Aggregate.Created):
        TOPIC = FOUNDED
        person_role: str
        public_key: str

    class Registered(Event):
        TOPIC = REGISTERED
        person_role: str
        public_key: str

    class KeyRotated(Event):
        TOPIC = ROTATED
        public_key: str

    class Revoked(Event):
        TOPIC = REVOKED

    def __init__(self) -> None:
        self.registry = Registry()

    @classmethod
    def found(cls, *, root: str, public_key: bytes, on: date | None) -> People:
        """The registry with its root administrator, who seals this first event."""
        return cls._create(
            cls.Founded,
            id=REGISTRY_ID,
            person=root,
            person_role="admin",
            public_key=public_key.hex(),
            occurred_on=on,
            actor=root,
            role="admin",
        )

    def _change(self, event_class: type[Any], *, actor: str, **fields: Any) -> None:
        try:
            self.trigger_event(event_class, actor=actor, role="admin", **fields)
        except NotRegistered as e:
            raise NotFoundError(str(e)) from None
        except RegistryError as e:
            raise _refusal(str(e)) from None


def _refusal(message: str) -> RuleViolationError:
    return RuleViolationError(message, rule=N_("people"), clause="the people registry (DESIGN: trust model)")


# ----------------------------------------------------------------------------- actions


def _person_name(value: str) -> str:
    # a name signs checkpoints as the signed note's key name: no spaces, no '+'
    if any(c.isspace() for c in value) or "+" in value:
        raise ValueError(
            _("{value!r}: a person's name has no spaces and no '+' (e.g. 财务-李敏)").format(value=value)
        )
    return value


PersonName = Annotated[Identifier, AfterValidator(_person_name)]
# a person registered: named in no look-alike character (ledger.text.LOOK_ALIKE), so that two
# people never print alike where the records say who did each act (张敏 and a Cyrillic twin)
NewPersonName = Annotated[NewIdentifier, AfterValidator(_person_name)]


class RootAdministrator(BaseModel):
    """The name ``init`` and ``migrate`` give the registry's root administrator: a new person's
    name, as ``people add`` takes one (``commands.setup.check_admin_name``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    person: NewPersonName


class PeopleAction(Action):
    """An administrator's act on the registry."""

    person: PersonName
    on: date | None = None  # type: ignore[assignment]

    def judge(self, policy: Policy, today: date) -> None:
        if self.on is not None and self.on > today:
            raise BadInputError(
                _("--date {on} is after today ({today}); record it on or after that date").format(
                    on=self.on, today=today
                )
            )

    def registry(self, books: Any) -> People:
        people = books.people()
        if people is None:
            raise BadInputError(_("this ledger has no people registry; run `grant-ledger init` or `migrate`"))
        assert isinstance(people, People)
        return people


class RegisterPerson(PeopleAction):
    name: ClassVar[str] = "people add"
    person: NewPersonName
    person_role: str
    public_key: str  # hex of the 32 raw bytes

    def check(self, policy: Policy) -> None:
        if self.person_role not in ROLES:
            raise BadInputError(
                _("--role {person_role!r} is not a role; use one of {value}").format(
                    person_role=self.person_role, value=", ".join(ROLES)
                )
            )

    def decide(self, books: Any) -> bool:
        people = self.registry(books)
        known = people.registry.people.get(self.person)
        fingerprint = key_fingerprint(bytes.fromhex(self.public_key))
        if known is not None and known.active:
            if known.role == self.person_role and known.key == fingerprint:
                return False
            raise ConflictError(
                _("{person} is already registered as {role}; revoke them first to register anew").format(
                    person=self.person, role=known.role
                )
            )
        people._change(
            People.Registered,
            actor=books.actor,
            person=self.person,
            person_role=self.person_role,
            public_key=self.public_key,
            occurred_on=self.on,
        )
        return True

    def done(self, books: Any) -> str:
        fingerprint = key_fingerprint(bytes.fromhex(self.public_key))
        return f"registered {self.person} as {self.person_role}, key {fingerprint}"

    def repeat(self) -> str:
        return f"{self.person} is already registered as {self.person_role} with this key"


class RotateKey(PeopleAction):
    name: ClassVar[str] = "people rotate"
    public_key: str

    def decide(self, books: Any) -> bool:
        people = self.registry(books)
        known = people.registry.people.get(self.person)
        if known is not None and known.key == key_fingerprint(bytes.fromhex(self.public_key)):
            return False
        people._change(
            People.KeyRotated,
            actor=books.actor,
            person=self.person,
            public_key=self.public_key,
            occurred_on=self.on,
        )
        return True

    def done(self, books: Any) -> str:
        fingerprint = key_fingerprint(bytes.fromhex(self.public_key))
        return f"{self.person}'s key is now {fingerprint}; the old one signs nothing more"

    def repeat(self) -> str:
        return f"{self.person}'s key is already this one"


class RevokePerson(PeopleAction):
    name: ClassVar[str] = "people revoke"

    def decide(self, books: Any) -> bool:
        people = self.registry(books)
        known = people.registry.people.get(self.person)
        if known is not None and not known.active:
            return False
        people._change(People.Revoked, actor=books.actor, person=self.person, occurred_on=self.on)
        return True

    def done(self, books: Any) -> str:
        when = f" from {self.on}" if self.on is not None else ""
        return f"revoked {self.person}{when}: their key signs nothing more"

    def repeat(self) -> str:
        return f"{self.person} is already revoked"
