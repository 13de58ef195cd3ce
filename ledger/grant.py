"""The Grant aggregate: one base's subsidy under one programme, its lifecycle and its money.

Fund sources are ring-fenced sub-ledgers (003 第十条): ``subsidy`` (财政补助) and ``matching``
(配套经费). Every event carries who recorded it (actor, role) and its business date
(``occurred_on``); the store adds the recorded time (``timestamp``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.errors import BadInputError, ConflictError, NotFoundError
from ledger.money import ZERO, format_yuan
from ledger.policy import Policy
from ledger.rules import (
    Breach,
    approval_after_application,
    approved_before_money,
    category_permitted,
    raise_first,
    subsidy_amount_in_range,
    tranche_within_approved,
    within_build_period,
    within_fund_source,
)

GRANT_NAMESPACE = uuid5(NAMESPACE_URL, "https://grant-ledger/grant")


def grant_uuid(grant_id: str) -> UUID:
    return uuid5(GRANT_NAMESPACE, grant_id)


def fingerprint(kind: str, fields: dict[str, Any]) -> str:
    """What makes two recordings of one voucher 'the same command' (idempotent retries)."""
    body = json.dumps({"kind": kind, **fields}, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class Grant(Aggregate):
    TOPIC = "grant-ledger:Grant"

    class Event(Aggregate.Event):
        TOPIC = "grant-ledger:Grant.Event"
        actor: str
        role: str
        occurred_on: date

    class Applied(Event, Aggregate.Created):
        TOPIC = "grant-ledger:Grant.Applied"
        grant_id: str
        unit_id: str
        base_id: str
        base_name: str
        programme: str
        level: str
        projects: list[str]
        requested: Decimal

        def apply(self, grant: Grant) -> None:
            grant.grant_id = self.grant_id
            grant.unit_id = self.unit_id
            grant.base_id = self.base_id
            grant.base_name = self.base_name
            grant.programme = self.programme
            grant.level = self.level
            grant.projects = list(self.projects)
            grant.requested = self.requested
            grant.applied_on = self.occurred_on
            grant.status = "applied"

    class Approved(Event):
        TOPIC = "grant-ledger:Grant.Approved"
        amount: Decimal
        document: str
        bodies: list[str]
        build_start: date
        build_end: date

        def apply(self, grant: Grant) -> None:
            grant.status = "approved"
            grant.approved = self.amount
            grant.document = self.document
            grant.bodies = list(self.bodies)
            grant.approved_on = self.occurred_on
            grant.build_start = self.build_start
            grant.build_end = self.build_end

    class SubsidyDisbursed(Event):
        TOPIC = "grant-ledger:Grant.SubsidyDisbursed"
        amount: Decimal
        voucher: str
        tranche: int

        def apply(self, grant: Grant) -> None:
            grant.subsidy_received += self.amount
            grant.remember("disburse", self.voucher, grant.disburse_fields(self))

    class MatchingCommitted(Event):
        TOPIC = "grant-ledger:Grant.MatchingCommitted"
        amount: Decimal
        voucher: str
        funder: str

        def apply(self, grant: Grant) -> None:
            grant.matching_committed += self.amount
            grant.remember("match_commit", self.voucher, grant.commit_fields(self))

    class MatchingReceived(Event):
        TOPIC = "grant-ledger:Grant.MatchingReceived"
        amount: Decimal
        voucher: str

        def apply(self, grant: Grant) -> None:
            grant.matching_received += self.amount
            grant.remember("match_receive", self.voucher, grant.receive_fields(self))

    class ExpenditureRecorded(Event):
        TOPIC = "grant-ledger:Grant.ExpenditureRecorded"
        amount: Decimal
        category: str
        source: str
        content: str
        project: str
        voucher: str
        payee: str
        memo: str
        attachments: list[str]

        def apply(self, grant: Grant) -> None:
            grant.spent[self.source] += self.amount
            grant.expenditures[self.voucher] = {
                "amount": self.amount,
                "source": self.source,
                "category": self.category,
                "content": self.content,
                "reversed": False,
            }
            grant.remember("spend", self.voucher, grant.spend_fields(self))

    class ExpenditureReversed(Event):
        TOPIC = "grant-ledger:Grant.ExpenditureReversed"
        voucher: str
        reason: str
        amount: Decimal
        source: str
        category: str
        content: str

        def apply(self, grant: Grant) -> None:
            grant.spent[self.source] -= self.amount
            grant.expenditures[self.voucher]["reversed"] = True
            grant.remember("reverse", self.voucher, grant.reverse_fields(self))

    # ------------------------------------------------------------------ state

    grant_id: str
    unit_id: str
    base_id: str
    base_name: str
    programme: str
    level: str
    projects: list[str]
    requested: Decimal
    applied_on: date
    status: str

    def __init__(self) -> None:
        self.approved = ZERO
        self.document = ""
        self.bodies: list[str] = []
        self.approved_on: date | None = None
        self.build_start: date | None = None
        self.build_end: date | None = None
        self.subsidy_received = ZERO
        self.matching_committed = ZERO
        self.matching_received = ZERO
        self.spent: dict[str, Decimal] = {"subsidy": ZERO, "matching": ZERO}
        self.expenditures: dict[str, dict[str, Any]] = {}
        self.vouchers: dict[str, str] = {}

    @classmethod
    def create(
        cls,
        *,
        grant_id: str,
        unit_id: str,
        base_id: str,
        base_name: str,
        programme: str,
        level: str,
        projects: list[str],
        requested: Decimal,
        on: date,
        actor: str,
        role: str,
    ) -> Grant:
        return cls._create(
            cls.Applied,
            id=grant_uuid(grant_id),
            grant_id=grant_id,
            unit_id=unit_id,
            base_id=base_id,
            base_name=base_name,
            programme=programme,
            level=level,
            projects=projects,
            requested=requested,
            actor=actor,
            role=role,
            occurred_on=on,
        )

    # ------------------------------------------------------------------ derived

    def received(self, source: str) -> Decimal:
        return self.subsidy_received if source == "subsidy" else self.matching_received

    def available(self, source: str) -> Decimal:
        return self.received(source) - self.spent[source]

    # ------------------------------------------------------------------ idempotency

    @staticmethod
    def disburse_fields(e: Any) -> dict[str, Any]:
        return {"amount": e.amount, "tranche": e.tranche, "on": e.occurred_on}

    @staticmethod
    def commit_fields(e: Any) -> dict[str, Any]:
        return {"amount": e.amount, "funder": e.funder, "on": e.occurred_on}

    @staticmethod
    def receive_fields(e: Any) -> dict[str, Any]:
        return {"amount": e.amount, "on": e.occurred_on}

    @staticmethod
    def spend_fields(e: Any) -> dict[str, Any]:
        return {
            "amount": e.amount,
            "category": e.category,
            "source": e.source,
            "content": e.content,
            "project": e.project,
            "payee": e.payee,
            "on": e.occurred_on,
        }

    @staticmethod
    def reverse_fields(e: Any) -> dict[str, Any]:
        return {"reason": e.reason, "on": e.occurred_on}

    def remember(self, kind: str, voucher: str, fields: dict[str, Any]) -> None:
        self.vouchers[f"{kind}/{voucher}"] = fingerprint(kind, fields)

    def already_recorded(self, kind: str, voucher: str, fields: dict[str, Any]) -> bool:
        """True if this exact recording exists; ConflictError if the voucher differs."""
        known = self.vouchers.get(f"{kind}/{voucher}")
        if known is None:
            return False
        if known == fingerprint(kind, fields):
            return True
        msg = (
            f"voucher {voucher} is already recorded as a {kind} of grant {self.grant_id} with "
            "different content; a voucher number is used once per grant and kind"
        )
        raise ConflictError(msg)

    # ------------------------------------------------------------------ commands

    def approve(
        self,
        *,
        amount: Decimal,
        document: str,
        bodies: list[str],
        build_start: date | None,
        build_end: date | None,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
    ) -> None:
        programme = policy.programme(self.programme)
        if self.status != "applied":
            msg = f"grant {self.grant_id} is {self.status}; only an application can be approved"
            raise Breach("approval first", programme.approval_clause, msg).error()
        start = build_start or on
        if build_end is None:
            if programme.build_years is None:
                msg = (
                    f"the {programme.code} programme sets no build period; give the build "
                    "period's end with --end"
                )
                raise BadInputError(msg)
            build_end = add_years(start, programme.build_years) - timedelta(days=1)
        if build_end < start:
            msg = f"the build period ends {build_end.isoformat()}, before it starts {start.isoformat()}"
            raise BadInputError(msg)
        raise_first(
            [
                approval_after_application(self.grant_id, self.applied_on, on, policy),
                subsidy_amount_in_range(programme, amount),
            ]
        )
        missing = [b for b in programme.approving_bodies if b not in bodies]
        if missing:
            msg = (
                f"approval of grant {self.grant_id} needs the approving bodies "
                f"{'、'.join(programme.approving_bodies)}; missing {'、'.join(missing)}"
            )
            raise Breach("approving bodies", programme.approval_clause, msg).error()
        self.trigger_event(
            self.Approved,
            amount=amount,
            document=document,
            bodies=bodies,
            build_start=start,
            build_end=build_end,
            actor=actor,
            role=role,
            occurred_on=on,
        )

    def _money_allowed(self, action: str, on: date, policy: Policy) -> None:
        raise_first([approved_before_money(self.grant_id, self.status, action, policy)])
        if self.approved_on is not None and on < self.approved_on:
            msg = (
                f"{action} dated {on.isoformat()} is before grant {self.grant_id}'s approval "
                f"on {self.approved_on.isoformat()}"
            )
            raise Breach("approval first", policy.clause("approval_first"), msg).error()

    def disburse(
        self,
        *,
        amount: Decimal,
        voucher: str,
        tranche: int,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
    ) -> bool:
        fields = {"amount": amount, "tranche": tranche, "on": on}
        if self.already_recorded("disburse", voucher, fields):
            return False
        self._money_allowed("disburse", on, policy)
        programme = policy.programme(self.programme)
        disbursed = self.subsidy_received
        raise_first(
            [
                tranche_within_approved(
                    self.grant_id, self.approved, disbursed, amount, programme.subsidy_clause
                )
            ]
        )
        self.trigger_event(
            self.SubsidyDisbursed,
            amount=amount,
            voucher=voucher,
            tranche=tranche,
            actor=actor,
            role=role,
            occurred_on=on,
        )
        return True

    def commit_matching(
        self,
        *,
        amount: Decimal,
        voucher: str,
        funder: str,
        on: date,
        actor: str,
        role: str,
        policy: Policy,
    ) -> bool:
        fields = {"amount": amount, "funder": funder, "on": on}
        if self.already_recorded("match_commit", voucher, fields):
            return False
        self._money_allowed("match commit", on, policy)
        self.trigger_event(
            self.MatchingCommitted,
            amount=amount,
            voucher=voucher,
            funder=funder,
            actor=actor,
            role=role,
            occurred_on=on,
        )
        return True

    def receive_matching(
        self, *, amount: Decimal, voucher: str, on: date, actor: str, role: str, policy: Policy
    ) -> bool:
        fields = {"amount": amount, "on": on}
        if self.already_recorded("match_receive", voucher, fields):
            return False
        self._money_allowed("match receive", on, policy)
        self.trigger_event(
            self.MatchingReceived,
            amount=amount,
            voucher=voucher,
            actor=actor,
            role=role,
            occurred_on=on,
        )
        return True

    def spend(
        self,
        *,
        amount: Decimal,
        category: str,
        source: str,
        content: str,
        project: str,
        voucher: str,
        payee: str,
        memo: str,
        attachments: list[str],
        on: date,
        actor: str,
        role: str,
        policy: Policy,
    ) -> bool:
        found, breach = category_permitted(category, policy)
        code = found.code if found is not None else category
        fields = {
            "amount": amount,
            "category": code,
            "source": source,
            "content": content,
            "project": project,
            "payee": payee,
            "on": on,
        }
        if self.already_recorded("spend", voucher, fields):
            return False
        self._money_allowed("spend", on, policy)
        programme = policy.programme(self.programme)
        build_clause = programme.build_clause or policy.clause("district_build_period")
        raise_first(
            [
                breach,
                within_build_period(self.grant_id, on, self.build_start, self.build_end, build_clause),
                within_fund_source(self.grant_id, source, self.available(source), amount, policy),
            ]
        )
        self.trigger_event(
            self.ExpenditureRecorded,
            amount=amount,
            category=code,
            source=source,
            content=content,
            project=project,
            voucher=voucher,
            payee=payee,
            memo=memo,
            attachments=attachments,
            actor=actor,
            role=role,
            occurred_on=on,
        )
        return True

    def reverse(self, *, voucher: str, reason: str, on: date, actor: str, role: str, policy: Policy) -> bool:
        if self.already_recorded("reverse", voucher, {"reason": reason, "on": on}):
            return False
        original = self.expenditures.get(voucher)
        if original is None:
            msg = f"grant {self.grant_id} has no expenditure with voucher {voucher} to reverse"
            raise NotFoundError(msg)
        if original["reversed"]:  # pragma: no cover - caught by already_recorded as a conflict
            msg = f"expenditure {voucher} of grant {self.grant_id} is already reversed"
            raise ConflictError(msg)
        raise_first([approved_before_money(self.grant_id, self.status, "reverse", policy)])
        self.trigger_event(
            self.ExpenditureReversed,
            voucher=voucher,
            reason=reason,
            amount=original["amount"],
            source=original["source"],
            category=original["category"],
            content=original["content"],
            actor=actor,
            role=role,
            occurred_on=on,
        )
        return True

    def summary(self) -> str:
        return (
            f"{self.grant_id} ({self.base_id}) subsidy {format_yuan(self.available('subsidy'))} "
            f"available, matching {format_yuan(self.available('matching'))} available"
        )
