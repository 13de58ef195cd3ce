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


# ----------------------------------------------------------------------------- selection

WORKING_DAYS = frozenset({0, 1, 2, 3, 4})  # Monday..Friday (public holidays are not modelled)
RECOMMENDATION_QUOTA = {"national": 1, "municipal": 2}  # 002 五(一), per recommender per round


def working_days(start: date, end: date) -> int:
    """Monday-to-Friday days from ``start`` to ``end``, both included."""
    from datetime import timedelta

    count, day = 0, start
    while day <= end:
        if day.weekday() in WORKING_DAYS:
            count += 1
        day += timedelta(days=1)
    return count


def projects_count(programme: Programme, projects: Iterable[str], policy: Policy) -> Breach | None:
    """1–2 professions for a district base (003 第六条), 2–3 projects for an institute (000 第十三条);
    other programmes' counts are judged at selection, outside the ledger."""
    if programme.level not in ("district", "institute"):
        return None
    n = len(list(projects))
    low, high = programme.projects_min, programme.projects_max
    if (low is None or n >= low) and (high is None or n <= high):
        return None
    key = "institute_projects" if programme.level == "institute" else "district_projects"
    span = f"{low}–{high}" if high is not None else f"at least {low}"
    return Breach(
        rule="projects count",
        clause=policy.clause(key),
        message=f"a {programme.code} ({programme.zh}) application names {span} professions or "
        f"projects (--project); this one names {n}",
    )


def recommendation_quota(
    recommender: str, round_: str, level: str, already: int, policy: Policy
) -> Breach | None:
    """``already``: recommendations of this level the recommender made in this round."""
    quota = RECOMMENDATION_QUOTA.get(level)
    if quota is None or already < quota:
        return None
    return Breach(
        rule="recommendation quota",
        clause=policy.clause("recommendation_quota"),
        message=f"{recommender} has already recommended {already} {level} base(s) in round {round_}; "
        f"at most {quota} per recommender per round",
    )


def recommendation_rank(level: str, rank: int | None, taken: Iterable[int], policy: Policy) -> Breach | None:
    if level != "municipal":
        return None
    if rank is not None and rank >= 1 and rank not in set(taken):
        return None
    return Breach(
        rule="recommendation rank",
        clause=policy.clause("recommendation_quota"),
        message=f"municipal recommendations are ranked: give a --rank not yet used in this round "
        f"(got {rank}, used {sorted(set(taken))})",
    )


def panel_size(panel: int, policy: Policy) -> Breach | None:
    if panel >= 5 and panel % 2 == 1:
        return None
    return Breach(
        rule="expert panel",
        clause=policy.clause("expert_panel"),
        message=f"an expert panel of {panel} is not allowed; it has at least 5 experts and an odd number",
    )


def notice_long_enough(start: date, end: date, policy: Policy) -> Breach | None:
    days = working_days(start, end)
    if end >= start and days >= 5:
        return None
    return Breach(
        rule="public notice",
        clause=policy.clause("public_notice"),
        message=f"a public notice from {start.isoformat()} to {end.isoformat()} lasts {days} working "
        "day(s); it lasts at least 5 working days",
    )


def selection_complete(
    grant_id: str,
    reviewed: bool,
    favourable: bool,
    notice_end: date | None,
    objections: int,
    on: date,
    policy: Policy,
) -> Breach | None:
    """Approval follows a favourable expert review and a closed public notice without objection."""
    if not reviewed:
        missing, key = "no expert review is recorded (grant review)", "expert_review"
    elif not favourable:
        missing, key = "the expert review did not recommend it", "expert_review"
    elif notice_end is None:
        missing, key = "no public notice is recorded (grant notice)", "public_notice"
    elif on <= notice_end:
        missing, key = f"its public notice runs until {notice_end.isoformat()}", "public_notice"
    elif objections:
        missing, key = f"its public notice drew {objections} objection(s)", "public_notice"
    else:
        return None
    return Breach(
        rule="selection first",
        clause=policy.clause(key),
        message=f"grant {grant_id} cannot be approved on {on.isoformat()}: {missing}",
    )


def in_selection(grant_id: str, status: str, step: str, policy: Policy) -> Breach | None:
    if status == "applied":
        return None
    return Breach(
        rule="selection order",
        clause=policy.clause("approval_first"),
        message=f"grant {grant_id} is {status}; {step} is recorded only while the application is open",
    )


# ----------------------------------------------------------------------------- budget and life


def approval_reference(reference: str, what: str, policy: Policy) -> Breach | None:
    if reference.strip():
        return None
    return Breach(
        rule="approval reference",
        clause=policy.clause("budget_plan"),
        message=f"{what} needs an approval reference (--approval)",
    )


def recovery_within_order(
    grant_id: str, ordered: Decimal, recovered: Decimal, amount: Decimal, policy: Policy
) -> Breach | None:
    if recovered + amount <= ordered:
        return None
    return Breach(
        rule="recovery within order",
        clause=policy.clause("supervision"),
        message=f"receiving {format_yuan(amount)} back for grant {grant_id} brings recoveries to "
        f"{format_yuan(recovered + amount)}, above the {format_yuan(ordered)} ordered",
    )


def final_evaluation_passed(grant_id: str, result: str | None, policy: Policy) -> Breach | None:
    if result == "pass":
        return None
    got = "none is recorded" if result is None else f"the latest is '{result}'"
    return Breach(
        rule="closure: final evaluation",
        clause=policy.clause("closure"),
        message=f"grant {grant_id} closes only after a passed final evaluation; {got}",
    )


def no_open_rectification(grant_id: str, open_ids: Iterable[str], policy: Policy) -> Breach | None:
    pending = sorted(open_ids)
    if not pending:
        return None
    return Breach(
        rule="closure: rectification",
        clause=policy.clause("closure"),
        message=f"grant {grant_id} has open rectification(s) {', '.join(pending)}",
    )


def recoveries_settled(grant_id: str, ordered: Decimal, recovered: Decimal, policy: Policy) -> Breach | None:
    if recovered >= ordered:
        return None
    return Breach(
        rule="closure: recoveries",
        clause=policy.clause("closure"),
        message=f"grant {grant_id} has {format_yuan(ordered - recovered)} of ordered recoveries "
        f"not yet received (ordered {format_yuan(ordered)}, received {format_yuan(recovered)})",
    )


def balance_settled(grant_id: str, source: str, available: Decimal, policy: Policy) -> Breach | None:
    if available == 0:
        return None
    return Breach(
        rule="closure: balance",
        clause=policy.clause("ring_fence"),
        message=f"grant {grant_id} still holds {format_yuan(available)} of {source} "
        f"({SOURCE_ZH[source]}); spend it or dispose of it (grant-ledger dispose) first",
    )


# ----------------------------------------------------------------------------- compliance (warnings)


def matching_at_least_ratio(
    grant_id: str, programme: Programme, subsidy: Decimal, matching: Decimal
) -> Breach | None:
    if programme.matching_ratio is None or programme.matching_clause is None:
        return None
    needed = subsidy * programme.matching_ratio
    if matching >= needed:
        return None
    return Breach(
        rule="matching 1:1",
        clause=programme.matching_clause,
        message=f"grant {grant_id} received {format_yuan(matching)} matching against "
        f"{format_yuan(subsidy)} subsidy; 1:1 asks for {format_yuan(needed)}",
    )


def output_target(
    grant_id: str, year: int, measure: str, value: Decimal, target: Decimal, clause: Clause
) -> Breach | None:
    if value >= target:
        return None
    return Breach(
        rule="output target",
        clause=clause,
        message=f"grant {grant_id} reported {measure} {value} for {year}, below the target {target}",
    )


def rectification_on_time(
    grant_id: str, ref: str, deadline: date, completed: date | None, today: date, clause: Clause
) -> Breach | None:
    if (completed is not None and completed <= deadline) or (completed is None and today <= deadline):
        return None
    late = f"completed {completed.isoformat()}" if completed else f"still open on {today.isoformat()}"
    return Breach(
        rule="rectification overdue",
        clause=clause,
        message=f"rectification {ref} of grant {grant_id} was due {deadline.isoformat()}, {late}",
    )


LATE_SHARE = Decimal("0.75")  # three quarters of the build period have passed...
LOW_EXECUTION = Decimal("0.50")  # ...and less than half of the money received is spent


def execution_on_track(
    grant_id: str,
    start: date | None,
    end: date | None,
    today: date,
    received: Decimal,
    spent: Decimal,
    clause: Clause,
) -> Breach | None:
    if start is None or end is None or received <= 0 or end <= start:
        return None
    elapsed = Decimal((min(today, end) - start).days) / Decimal((end - start).days)
    rate = spent / received
    if elapsed < LATE_SHARE or rate >= LOW_EXECUTION:
        return None
    return Breach(
        rule="low execution",
        clause=clause,
        message=f"grant {grant_id} has spent {rate * 100:.2f}% of {format_yuan(received)} received "
        f"with {elapsed * 100:.0f}% of its build period ({start.isoformat()} to {end.isoformat()}) gone",
    )
