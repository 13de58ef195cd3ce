"""The money acts: a tranche disbursed, matching funds committed and received, an expenditure,
a reversal. Apart from the other acts (``ledger.actions``, which holds every act), so that a
money command builds these alone: each act is a model whose class costs a fraction of a
millisecond to make."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from ledger.action_base import Amount, Books, GrantAction, NewReference, Reference, RequiredText, Source, Text
from ledger.grant import Grant
from ledger.i18n import N_, _
from ledger.text import WHITE_SPACE


def _whole(value: Any) -> Any:
    """A whole number typed as text: ASCII digits only (int() also takes １, ٣ and 1_0, and
    pydantic 1.0)."""
    if isinstance(value, str):
        value = value.strip(WHITE_SPACE)
        if not (value.isascii() and value.isdigit()):
            raise ValueError(
                _("{value!r} is not a whole number; write it in digits, e.g. 2").format(value=value)
            )
        return int(value)
    return value


class Disburse(GrantAction):
    name = "disburse"
    done_text = N_("recorded disbursement {voucher} to grant {grant_id}")
    repeat_text = N_("disbursement {voucher} of grant {grant_id} is already recorded")
    amount: Amount
    voucher: NewReference
    tranche: Annotated[int, BeforeValidator(_whole), Field(ge=1, le=100)] = 1

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.disburse(
            amount=self.amount,
            voucher=self.voucher,
            tranche=self.tranche,
            on=self.on,
            actor=books.actor,
            role=books.role,
            policy=books.policy,
        )


class CommitMatching(GrantAction):
    name = "match commit"
    done_text = N_("recorded matching commitment {voucher} to grant {grant_id}")
    repeat_text = N_("matching commitment {voucher} of grant {grant_id} is already recorded")
    amount: Amount
    voucher: NewReference
    funder: Text = ""

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.commit_matching(
            amount=self.amount,
            voucher=self.voucher,
            funder=self.funder,
            on=self.on,
            actor=books.actor,
            role=books.role,
            policy=books.policy,
        )


class ReceiveMatching(GrantAction):
    name = "match receive"
    done_text = N_("recorded matching receipt {voucher} to grant {grant_id}")
    repeat_text = N_("matching receipt {voucher} of grant {grant_id} is already recorded")
    amount: Amount
    voucher: NewReference

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.receive_matching(
            amount=self.amount,
            voucher=self.voucher,
            on=self.on,
            actor=books.actor,
            role=books.role,
            policy=books.policy,
        )


class Spend(GrantAction):
    name = "spend"
    done_text = N_("recorded expenditure {voucher} of grant {grant_id}")
    repeat_text = N_("expenditure {voucher} of grant {grant_id} is already recorded")
    amount: Amount
    category: RequiredText
    source: Source
    voucher: NewReference
    content: Text = ""
    project: Text = ""
    payee: Text = ""
    memo: Text = ""
    attachments: tuple[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")], ...] = ()

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.spend(
            amount=self.amount,
            category=self.category,
            source=self.source,
            content=self.content,
            project=self.project,
            voucher=self.voucher,
            payee=self.payee,
            memo=self.memo,
            attachments=list(self.attachments),
            on=self.on,
            actor=books.actor,
            role=books.role,
            policy=books.policy,
        )


class Reverse(GrantAction):
    name = "reverse"
    done_text = N_("reversed {voucher} of grant {grant_id}")
    repeat_text = N_("the reversal of {voucher} of grant {grant_id} is already recorded")
    voucher: Reference
    reason: RequiredText
    kind: Literal["spend", "disburse", "match_commit", "match_receive"] | None = None

    def apply(self, grant: Grant, books: Books) -> bool:
        return grant.reverse(voucher=self.voucher, reason=self.reason, kind=self.kind, **self.who(books))
