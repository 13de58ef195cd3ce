"""The rules, each one small, named, pure check that cites its clause.

A check returns ``None`` when the rule holds and a :class:`Breach` when it does not. The
Grant and Unit aggregates raise a breach as a refusal; the compliance projection reports the
same breaches found in stored history as findings. Checks never touch the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ledger.errors import RuleViolationError
from ledger.money import format_yuan
from ledger.policy import Category, Clause, Policy, Programme

SOURCES = ("subsidy", "matching")
SOURCE_ZH = {"subsidy": "财政补助", "matching": "配套经费"}

# Which role may record which kind of action (DESIGN: roles).
OFFICER_ACTIONS = frozenset(
    {
        "unit register",
        "grant apply",
        "grant budget",
        "disburse",
        "match commit",
        "match receive",
        "spend",
        "reverse",
        "recover receive",
        "dispose",
        "output report",
        "rectify complete",
        "dossier add",
        "import",
    }
)
APPROVER_ACTIONS = frozenset(
    {
        "grant recommend",
        "grant review",
        "grant notice",
        "grant approve",
        "grant reject",
        "grant adjust",
        "evaluate",
        "rectify order",
        "recover order",
        "grant close",
        "import",
    }
)
ROLES = ("officer", "approver", "auditor")


@dataclass(frozen=True)
class Breach:
    rule: str
    clause: Clause
    message: str

    def describe(self) -> str:
        return f"{self.message} — {self.rule}, {self.clause.quote()}"

    def error(self) -> RuleViolationError:
        return RuleViolationError(self.describe(), rule=self.rule, clause=self.clause.cite)


def raise_first(breaches: Iterable[Breach | None]) -> None:
    for breach in breaches:
        if breach is not None:
            raise breach.error()


# ----------------------------------------------------------------------------- roles


def role_may_record(role: str, action: str, policy: Policy) -> Breach | None:
    allowed = {"officer": OFFICER_ACTIONS, "approver": APPROVER_ACTIONS}.get(role, frozenset())
    if action in allowed:
        return None
    who = "an officer" if action in OFFICER_ACTIONS else "an approver"
    return Breach(
        rule="role",
        clause=policy.clause("roles"),
        message=f"the {role} role may not record '{action}'; it is recorded by {who}",
    )


# ----------------------------------------------------------------------------- lifecycle


def approved_before_money(grant_id: str, status: str, action: str, policy: Policy) -> Breach | None:
    if status in ("approved", "closing"):
        return None
    if status == "closed":
        return Breach(
            rule="grant closed",
            clause=policy.clause("ring_fence"),
            message=f"grant {grant_id} is closed; nothing more is recorded against it ({action})",
        )
    return Breach(
        rule="approval first",
        clause=policy.clause("approval_first"),
        message=f"grant {grant_id} is {status}, not approved; {action} is recorded only after approval",
    )


def within_build_period(
    grant_id: str, on: date, start: date | None, end: date | None, clause: Clause
) -> Breach | None:
    if start is None or end is None or start <= on <= end:
        return None
    return Breach(
        rule="build period",
        clause=clause,
        message=f"spending dated {on.isoformat()} is outside grant {grant_id}'s build period "
        f"{start.isoformat()} to {end.isoformat()}",
    )


def subsidy_amount_in_range(programme: Programme, amount: Decimal) -> Breach | None:
    low, high = programme.subsidy_min, programme.subsidy_max
    if (low is None or amount >= low) and (high is None or amount <= high):
        return None
    if low == high and low is not None:
        span = f"exactly {format_yuan(low)}"
    else:
        span = f"between {format_yuan(low or Decimal(0))} and {format_yuan(high or Decimal(0))}"
    return Breach(
        rule="subsidy amount",
        clause=programme.subsidy_clause,
        message=f"an approved subsidy of {format_yuan(amount)} for a {programme.code} "
        f"({programme.zh}) must be {span} yuan",
    )


def approval_after_application(grant_id: str, applied_on: date, on: date, policy: Policy) -> Breach | None:
    if on >= applied_on:
        return None
    return Breach(
        rule="approval first",
        clause=policy.clause("approval_first"),
        message=f"grant {grant_id} cannot be approved on {on.isoformat()}, before its "
        f"application of {applied_on.isoformat()}",
    )


# ----------------------------------------------------------------------------- money


def tranche_within_approved(
    grant_id: str, approved: Decimal, disbursed: Decimal, amount: Decimal, clause: Clause
) -> Breach | None:
    if disbursed + amount <= approved:
        return None
    return Breach(
        rule="tranches within approval",
        clause=clause,
        message=f"disbursing {format_yuan(amount)} to grant {grant_id} would bring the total "
        f"disbursed to {format_yuan(disbursed + amount)}, above the approved "
        f"{format_yuan(approved)} (already disbursed {format_yuan(disbursed)})",
    )


def within_fund_source(
    grant_id: str, source: str, available: Decimal, amount: Decimal, policy: Policy
) -> Breach | None:
    if amount <= available:
        return None
    return Breach(
        rule="ring-fence",
        clause=policy.clause("ring_fence"),
        message=f"spending {format_yuan(amount)} from the {source} ({SOURCE_ZH[source]}) of "
        f"grant {grant_id} exceeds its available balance of {format_yuan(available)}",
    )


def category_permitted(text: str, policy: Policy) -> tuple[Category | None, Breach | None]:
    """The category named by code or Chinese label, or the breach that refuses it."""
    category = policy.find_category(text)
    if category is None:
        known = ", ".join(c.code for c in policy.categories.values() if c.allowed)
        return None, Breach(
            rule="permitted category",
            clause=policy.clause("permitted_uses"),
            message=f"spending category {text!r} is unknown; the permitted categories are: {known}",
        )
    if not category.allowed:
        return category, Breach(
            rule="banned category",
            clause=category.clauses[0],
            message=f"spending category '{category.code}' ({category.zh}) is banned",
        )
    return category, None


def within_budget_line(
    grant_id: str,
    content: str,
    source: str,
    line: Decimal | None,
    spent: Decimal,
    amount: Decimal,
    policy: Policy,
) -> Breach | None:
    if line is None or spent + amount <= line:
        return None
    return Breach(
        rule="budget line",
        clause=policy.clause("budget_plan"),
        message=f"spending {format_yuan(amount)} on {content} from {source} of grant {grant_id} "
        f"brings that budget line to {format_yuan(spent + amount)}, above its "
        f"{format_yuan(line)}",
    )


# ----------------------------------------------------------------------------- eligibility

HIGHER_THAN_DISTRICT = ("municipal", "national")


def unit_may_hold(
    unit_id: str, held: Iterable[tuple[str, str]], programme: Programme, policy: Policy
) -> Breach | None:
    """``held`` is (base_id, level) of the unit's live bases (applied or approved)."""
    held = list(held)
    same = [base for base, level in held if level == programme.level]
    if same:
        clause = policy.clause("one_institute" if programme.level == "institute" else "one_base_per_level")
        return Breach(
            rule="one base per level",
            clause=clause,
            message=f"unit {unit_id} already holds {programme.level} base {same[0]}; a unit may "
            f"hold one {programme.level} base",
        )
    if programme.level == "district":
        higher = [base for base, level in held if level in HIGHER_THAN_DISTRICT]
        if higher:
            return Breach(
                rule="no district base above municipal",
                clause=policy.clause("one_district_base"),
                message=f"unit {unit_id} holds municipal-or-higher base {higher[0]} and may not "
                "hold a district base",
            )
    return None
