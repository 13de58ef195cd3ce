"""One pydantic model per command: the command line's input, validated before anything runs.

Amounts are parsed by :func:`ledger.money.parse_amount` (Decimal, two places, never float).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ledger.errors import BadInputError
from ledger.money import parse_amount
from ledger.text import CONTROL, CONTROL_BUT_TAB


def _identifier(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _text(value: str) -> str:
    if CONTROL_BUT_TAB.search(value):
        raise ValueError("must not contain control characters")
    return value.strip()


def _date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date; write it as YYYY-MM-DD") from None
    return value


Ident = Annotated[str, Field(max_length=64), AfterValidator(_identifier)]
Voucher = Annotated[str, Field(max_length=128), AfterValidator(_identifier)]
Text = Annotated[str, Field(max_length=500), AfterValidator(_text)]


def _amount(value: Any) -> Decimal:
    try:
        return parse_amount(value, field="")
    except BadInputError as e:
        raise ValueError(e.message) from None


Amount = Annotated[Decimal, BeforeValidator(_amount)]
BusinessDate = Annotated[date, BeforeValidator(_date)]
Source = Literal["subsidy", "matching"]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, defer_build=True)


class UnitRegister(Model):
    unit_id: Ident
    name: Text = Field(min_length=1)
    kind: str
    on: BusinessDate


class GrantApply(Model):
    grant_id: Ident
    unit_id: Ident
    base_id: Ident
    base_name: Text
    programme: str
    projects: list[Text]
    requested: Amount
    on: BusinessDate


class GrantApprove(Model):
    grant_id: Ident
    amount: Amount
    document: Text = Field(min_length=1)
    bodies: list[Text]
    build_start: BusinessDate | None
    build_end: BusinessDate | None
    on: BusinessDate


class Disburse(Model):
    grant_id: Ident
    amount: Amount
    voucher: Voucher
    tranche: int = Field(ge=1, le=100)
    on: BusinessDate


class MatchCommit(Model):
    grant_id: Ident
    amount: Amount
    voucher: Voucher
    funder: Text
    on: BusinessDate


class MatchReceive(Model):
    grant_id: Ident
    amount: Amount
    voucher: Voucher
    on: BusinessDate


class Spend(Model):
    grant_id: Ident
    amount: Amount
    category: Text = Field(min_length=1)
    source: Source
    voucher: Voucher
    content: Text
    project: Text
    payee: Text
    memo: Text
    attachments: list[str]
    on: BusinessDate


class Reverse(Model):
    grant_id: Ident
    voucher: Voucher
    reason: Text = Field(min_length=1)
    on: BusinessDate


M = TypeVar("M", bound=Model)

_FIELD_OPTIONS = {
    "on": "--date",
    "unit_id": "UNIT_ID",
    "grant_id": "GRANT_ID",
    "build_start": "--start",
    "build_end": "--end",
    "bodies": "--body",
    "projects": "--project",
    "requested": "--amount",
}


def validate(model: type[M], **values: Any) -> M:
    """Build a model or raise BadInputError with one sentence naming the option."""
    try:
        return model(**values)
    except ValidationError as e:
        first = e.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "input"
        option = _FIELD_OPTIONS.get(field, "--" + field.replace("_", "-"))
        message = str(first["msg"]).removeprefix("Value error, ")
        shown = first.get("input")
        got = ""
        if isinstance(shown, str | int) and len(str(shown)) < 80 and repr(shown) not in message:
            got = f" (got {shown!r})"
        msg = f"{option}: {message}{got}"
        raise BadInputError(msg) from None
