"""What every action shares (``ledger.actions`` holds every act): the rules of its fields, the
acts' base (``Action``, ``GrantAction``) and ``build``, which turns a refused value into one
sentence naming the field.

Field rules, one per kind of field:

- identifiers (grant, unit and base ids): 1 to 64 characters, no control character, not starting
  with ``-`` (an id is a command's argument, where it would read as an option);
- references (vouchers, document numbers, approval and rectification references, recommenders,
  rounds): 1 to 128 characters, no control character;
- a new id (a grant, unit or base first given, a body's code), a new voucher and the other new
  references by which a record is found or counted once (a rectification's reference, a recovery
  order's document, a disposal's approval) also hold no look-alike of an ASCII character: no digit
  but 0-9 (not Arabic-Indic ١ nor full-width １), no compatibility form of ASCII (full-width ``Ｇ``,
  superscript ``¹``, roman numeral ``Ⅰ``, the no-break space) and no letter or dash of the
  well-known ones that print like ASCII (Cyrillic ``А``, Greek ``Ο``, the en dash), so that no two
  print alike (:data:`ledger.text.LOOK_ALIKE`). An id or reference given to find one already
  recorded is looked up as written: a record made before this rule is still acted on, completed
  and reversed;
- free text (names, memos, reasons, opinions): at most 500 characters, a tab but no other
  control character (:mod:`ledger.text`);
- business dates: ``YYYY-MM-DD``, or as officers write them, ``2024/5/10``, ``2024.05.10``,
  ``2024年5月10日`` (:func:`ledger.text.read_date`), and nothing else;
- amounts: :func:`ledger.money.parse_amount` (Decimal, two places, positive, bounded).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Protocol, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from ledger.district import district_code
from ledger.errors import BadInputError
from ledger.grant import Grant
from ledger.i18n import N_, T_, _
from ledger.money import ZERO, parse_amount
from ledger.policy import Policy
from ledger.rules import CHECKS_APPLICATION, SOURCES, duties_separate, not_dated_ahead, raise_first
from ledger.text import (
    CONTROL,
    CONTROL_CHARACTERS,
    CONTROL_CHARACTERS_BUT_TAB,
    LOOK_ALIKE,
    LOOK_ALIKE_CHARACTERS,
    WHITE_SPACE,
    control_named,
    look_alike_named,
    read_date,
)

if TYPE_CHECKING:  # loaded by the actions on units and bodies: an act on a grant builds neither
    from ledger.unit import Base, RecommendationRound, Unit

IDENTIFIER_MAX = 64
REFERENCE_MAX = 128
TEXT_MAX = 500
# an id is a command's argument (history G1, balance B0001): one starting with "-" reads as an option
# (catalogue ids, formatted with their limits where a field breaks them: ``explain``)
IDENTIFIER_RULE = N_("must be 1 to {limit} characters without control characters, not starting with '-'")
REFERENCE_RULE = N_("must be 1 to {limit} characters without control characters")
TEXT_RULE = N_("must be at most {limit} characters without control characters")
DATE_RULE = N_("is not a date; write it as YYYY-MM-DD (or 2024/05/10, 2024.05.10, 2024年5月10日)")


# The string rules run inside pydantic-core (no Python call per field: the importer validates
# every row); ``explain`` turns their errors back into the rules' sentences.
_IDENTIFIER = f"^[^{CONTROL_CHARACTERS}-][^{CONTROL_CHARACTERS}]*$"  # and not empty
_REFERENCE = f"^(?:[^{CONTROL_CHARACTERS}])+$"  # the same rule, spelled apart to name its sentence
_TEXT = f"^[^{CONTROL_CHARACTERS_BUT_TAB}]*$"
# a new id, voucher or reference: the same rules, and no look-alike (the digits 0-9 put back: [0-9[^…]])
_NEW_CHARACTER = f"[0-9[^{CONTROL_CHARACTERS}{LOOK_ALIKE_CHARACTERS}]]"
_NEW_IDENTIFIER = f"^[0-9[^{CONTROL_CHARACTERS}{LOOK_ALIKE_CHARACTERS}-]]{_NEW_CHARACTER}*$"
_NEW_REFERENCE = f"^{_NEW_CHARACTER}+$"
_RULES = {
    ("string_too_long", IDENTIFIER_MAX): (IDENTIFIER_RULE, IDENTIFIER_MAX),
    ("string_too_long", REFERENCE_MAX): (REFERENCE_RULE, REFERENCE_MAX),
    ("string_too_long", TEXT_MAX): (TEXT_RULE, TEXT_MAX),
    ("string_pattern_mismatch", _IDENTIFIER): (IDENTIFIER_RULE, IDENTIFIER_MAX),
    ("string_pattern_mismatch", _REFERENCE): (REFERENCE_RULE, REFERENCE_MAX),
    ("string_pattern_mismatch", _NEW_IDENTIFIER): (IDENTIFIER_RULE, IDENTIFIER_MAX),
    ("string_pattern_mismatch", _NEW_REFERENCE): (REFERENCE_RULE, REFERENCE_MAX),
    ("string_pattern_mismatch", _TEXT): (TEXT_RULE, TEXT_MAX),
    ("string_too_short", 1): (N_("must not be empty"), 0),
}
# pydantic's own errors of the fields' types, in the ledger's words (any other: pydantic's)
_PYDANTIC = {
    "missing": N_("is required"),
    "int_type": N_("is not a whole number; write it in digits, e.g. 2"),
    "int_parsing": N_("is not a whole number; write it in digits, e.g. 2"),
    "int_from_float": N_("is not a whole number; write it in digits, e.g. 2"),
    "bool_parsing": N_("is not yes or no (true/false)"),
    "greater_than_equal": N_("must be at least {ge}"),
    "greater_than": N_("must be greater than {gt}"),
    "less_than_equal": N_("must be at most {le}"),
    "literal_error": N_("must be one of {expected}"),
    "string_type": N_("must be text"),
    "dict_type": N_("must be a table of names and values"),
    "list_type": N_("must be a list"),
    "extra_forbidden": N_("is not a field of this command"),
}


# the business dates the ledger keeps: the grants of its policy documents (2020s) with a wide
# margin either side, and far enough from Python's year 1 and 9999 that a build period counted
# in years from one, or the day before one, is a date too (9999-01-01 as a start was an internal
# error where it should be bad input)
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def business_date(value: Any) -> date:
    found: date | None = None
    if value.__class__ is date:
        found = value
    elif isinstance(value, datetime):  # a workbook's date cell
        found = value.date()
    elif isinstance(value, str):
        value = value.strip(WHITE_SPACE)  # as the other fields are stripped, typed or imported
        found = read_date(value)
    if found is not None:
        if FIRST_DAY <= found <= LAST_DAY:
            return found
        raise ValueError(
            _("{value} is outside the dates the ledger keeps, {first} to {last}").format(
                value=found.isoformat(), first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat()
            )
        )
    raise ValueError(
        _(
            "{value!r} is not a date; write it as YYYY-MM-DD (or 2024/05/10, 2024.05.10, 2024年5月10日)"
        ).format(value=value)
    )


def _amount(value: Any) -> Decimal:
    if isinstance(value, float):
        raise ValueError(
            _("{value!r} is a float; write the amount as text, e.g. 200000.00").format(value=value)
        )
    try:
        return parse_amount(value, field="")
    except BadInputError as e:
        raise ValueError(e.message) from None


def _approved_amount(value: Any) -> Decimal:
    if isinstance(value, str) and value.strip(WHITE_SPACE) in ("0", "0.00"):
        return ZERO
    if value.__class__ is int and value == 0:
        return ZERO
    return _amount(value)


def _source(value: str) -> str:
    if value not in SOURCES:
        raise ValueError(
            _("fund source {value!r} is unknown; use subsidy (财政补助) or matching (配套经费)").format(
                value=value
            )
        )
    return value


def _none_when_empty(value: Any) -> Any:
    if isinstance(value, str) and not value.strip(WHITE_SPACE):
        return None
    return value


def _district(value: Any) -> str | None:
    """A district's 行政区划代码 or its Chinese name, stored as the code; an empty cell or
    option: none."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)  # a workbook's number cell: 500103
    value = value.strip(WHITE_SPACE)
    return district_code(value) if value else None


Identifier = Annotated[str, StringConstraints(max_length=IDENTIFIER_MAX, pattern=_IDENTIFIER)]
Reference = Annotated[str, StringConstraints(max_length=REFERENCE_MAX, pattern=_REFERENCE)]
# an id, voucher or reference given for the first time: no look-alike of another (``G１`` beside ``G1``)
NewIdentifier = Annotated[str, StringConstraints(max_length=IDENTIFIER_MAX, pattern=_NEW_IDENTIFIER)]
NewReference = Annotated[str, StringConstraints(max_length=REFERENCE_MAX, pattern=_NEW_REFERENCE)]
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX, pattern=_TEXT)]
RequiredText = Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX, pattern=_TEXT)]
Amount = Annotated[Decimal, BeforeValidator(_amount)]
# an approval brought in by an import: zero for a programme of no money (命名支持类)
ApprovedAmount = Annotated[Decimal, BeforeValidator(_approved_amount)]
BusinessDate = Annotated[date, BeforeValidator(business_date)]
Source = Annotated[str, AfterValidator(_source)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]
District = Annotated[str | None, BeforeValidator(_district)]
# a code an import's cell may leave empty (none named)
OptionalIdentifier = Annotated[Identifier | None, BeforeValidator(_none_when_empty)]
OptionalDate = Annotated[BusinessDate | None, BeforeValidator(_none_when_empty)]


class Books(Protocol):
    """Where an action finds the aggregates it changes: the application's store (one command) or
    the aggregates an import holds. A new aggregate is handed to ``add`` to be saved with the rest."""

    policy: Policy
    actor: str
    role: str

    def grant(self, grant_id: str) -> Grant: ...

    def find_grant(self, grant_id: str) -> Grant | None: ...

    def unit(self, unit_id: str) -> Unit: ...

    def find_unit(self, unit_id: str) -> Unit | None: ...

    def find_round(self, recommender: str, round_: str) -> RecommendationRound | None: ...

    def find_base(self, base_id: str) -> Base | None: ...

    def find_bodies(self) -> Any:
        """The registry of bodies (ledger.bodies.Bodies), None when no body is registered."""
        ...

    def add(self, aggregate: Any) -> None: ...


class Action(BaseModel):
    """One act a person records on its business date ``on``."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, defer_build=True)

    # its name in ledger.rules (who may record it: rules.role_may_record)
    name: ClassVar[str]
    # what the command prints, formatted with the action's fields
    done_text: ClassVar[str]
    repeat_text: ClassVar[str]

    on: BusinessDate

    def judge(self, policy: Policy, today: date) -> None:
        """Every rule judged on the action alone, before anything is loaded: its business date is
        not after ``today`` (Asia/Shanghai), then its own checks."""
        if self.on > today:
            subject = getattr(self, "grant_id", None) or getattr(self, "unit_id", None) or "the ledger"
            what = (
                T_("grant {grant_id}", grant_id=subject)
                if hasattr(self, "grant_id")
                else T_("unit {unit_id}", unit_id=subject)
            )
            raise_first([not_dated_ahead(self.name, what, self.on, today, policy)])
        self.check(policy)

    def also_dated(self) -> tuple[date, ...]:
        """The business dates other than ``on`` that events of this action carry (an imported
        approval's earlier application): its signer holds the same role on each."""
        return ()

    def check(self, policy: Policy) -> None:
        """The action's own rules on its fields alone (called by ``judge``)."""

    def decide(self, books: Books) -> bool:
        """Call the aggregates' methods; False when this exact act is already recorded."""
        raise NotImplementedError

    def done(self, books: Books) -> str:
        return _(self.done_text).format_map(vars(self))

    def repeat(self) -> str:
        return _(self.repeat_text).format_map(vars(self))

    def who(self, books: Books) -> dict[str, Any]:
        """When and by whom, as the aggregates' methods take it (the money acts, which an import
        records by the million, spell it out instead: no dict per row)."""
        return {"on": self.on, "actor": books.actor, "role": books.role, "policy": books.policy}


DUTIES_CHECKED = CHECKS_APPLICATION | {"rectify complete", "recover receive"}


def check_duties(action: Action, grant: Grant, books: Books) -> None:
    """Separation of duties (rules.duties_separate), for every path that records a grant's act."""
    if action.name not in DUTIES_CHECKED:
        return
    duties = getattr(grant, "duties", {})
    step = f"rectify {getattr(action, 'ref', '')}" if action.name == "rectify complete" else "recover"
    raise_first(
        [
            duties_separate(
                action.name, books.actor, duties.get("applied", []), duties.get(step, []), books.policy
            )
        ]
    )


class GrantAction(Action):
    """An act on one grant: load it, call its method."""

    grant_id: Identifier

    def decide(self, books: Books) -> bool:
        grant = books.grant(self.grant_id)
        check_duties(self, grant, books)
        return self.apply(grant, books)

    def apply(self, grant: Grant, books: Books) -> bool:
        raise NotImplementedError


# ----------------------------------------------------------------------------- building one

A = TypeVar("A", bound=BaseModel)


def build(action: type[A], label: Callable[[str], str] = str, /, **values: Any) -> A:
    """The action, or BadInputError with one sentence: the field (as ``label`` names it: an
    option of the command line, a column of the import), the rule, the value given."""
    try:
        return action(**values)
    except ValidationError as e:
        raise BadInputError(explain(e, label)) from None


def explain(error: ValidationError, label: Callable[[str], str] = str) -> str:
    first = error.errors(include_url=False)[0]
    field = label(str(first["loc"][0])) if first["loc"] else "input"
    ctx = first.get("ctx") or {}
    limit = ctx.get("max_length", ctx.get("min_length", ctx.get("pattern")))
    rule = _RULES.get((first["type"], limit))
    if rule is not None:
        message = _(rule[0]).format(limit=rule[1])
    elif first["type"] in _PYDANTIC:
        message = _(_PYDANTIC[first["type"]]).format(**{k: str(v) for k, v in ctx.items()})
    else:
        message = str(first["msg"]).removeprefix("Value error, ")
    shown = first.get("input")
    hidden = CONTROL.search(shown) if first["type"] == "string_pattern_mismatch" else None
    # a look-alike is named where a new id, voucher or reference refuses it (an id given to find
    # one recorded takes it: its refusal is its other rule's)
    new = limit in (_NEW_IDENTIFIER, _NEW_REFERENCE)
    alike = LOOK_ALIKE.search(shown) if new and not hidden else None
    if alike is not None:
        c = alike.group()
        code, twin = look_alike_named(c)
        shown_c = c if c.isprintable() else repr(c)[1:-1]  # a no-break space: \xa0, as {got!r} shows it
        return _(
            "{field}: {got!r} holds {c} ({code}), which prints like {twin!r}; write a new id, voucher or "
            "reference in the digits 0-9 and half-width letters, so that no two print alike"
        ).format(field=field, got=shown, c=shown_c, code=code, twin=twin)
    if hidden is not None and len(shown) < 80:
        return _("{field}: {message} (got {got!r}): it holds {control}").format(
            field=field, message=message, got=shown, control=control_named(hidden.group())
        )
    if hidden is not None:
        return _("{field}: {message}: it holds {control}").format(
            field=field, message=message, control=control_named(hidden.group())
        )
    if isinstance(shown, str | int) and len(str(shown)) < 80 and repr(shown) not in message:
        return _("{field}: {message} (got {got!r})").format(field=field, message=message, got=shown)
    return _("{field}: {message}").format(field=field, message=message)
