"""The rules, each one small, named, pure check that cites its clause.

A check returns ``None`` when the rule holds and a :class:`Breach` when it does not. The
Grant and Unit aggregates raise a breach as a refusal; the compliance projection reports the
same breaches found in stored history as findings. Checks never touch the store.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import accumulate
from typing import Any, NamedTuple, Protocol, TypeVar

from ledger.calendar import working_days as statutory_working_days
from ledger.clock import business_today as clock_today
from ledger.district import district_name
from ledger.errors import RuleViolationError
from ledger.i18n import N_, T_, Named, Text, _
from ledger.labels import lazy
from ledger.money import format_yuan, percent, share_of
from ledger.policy import Category, Clause, Document, Policy, Programme

SOURCES = ("subsidy", "matching")
SOURCE_ZH = {"subsidy": "财政补助", "matching": "配套经费"}

# Budget table 4-2 of 003: the plan's fund sources, and the ledger's sub-ledger each one feeds.
# 地方财政 (local public finance) is the subsidy (财政补助); 行业企业 (the sector or enterprise, i.e.
# the host unit or sector authority) and 其他 (other) are matching funds (配套经费).
BUDGET_SOURCES = {"local_finance": "地方财政", "industry": "行业企业", "other": "其他"}
BUDGET_TO_FUND = {"local_finance": "subsidy", "industry": "matching", "other": "matching"}

Amount = TypeVar("Amount", int, Decimal)  # yuan on the write side, fen in the read models


def plan_line(budget: dict[str, Amount], content: str, source: str, zero: Amount) -> Amount | None:
    """The plan's amount for content × ledger fund source (its lines are keyed
    ``content/budget source``); None when no plan is registered."""
    if not budget:
        return None
    total = zero
    for key, value in budget.items():
        line_content, bsource = key.split("/")
        if line_content == content and BUDGET_TO_FUND[bsource] == source:
            total += value
    return total


def plan_on(plans: Iterable[Sequence[Any]], day: str) -> dict[str, Any]:
    """The budget plan as it stood at the end of ISO date ``day``: the registration and the
    adjustments dated on or before it, in the order recorded (as ``report budget --as-of`` reads
    it). ``plans``: each setting as (ISO date, lines), in the order recorded."""
    plan: dict[str, Any] = {}
    for on, lines in plans:
        if on <= day:
            plan.update(lines)
    return plan


def plan_changed(plans: Sequence[Sequence[Any]], day: str, lines: Mapping[str, Any]) -> bool:
    """Whether ``lines`` set on ISO date ``day`` (recorded after ``plans``) change the plan as it
    stands at the end of ``day`` or of any later date (``plan_on``): an adjustment equal to the
    plan's total now may still change the dates before a later-dated one."""
    for point in {day, *(d for d, _set in plans if d > day)}:
        plan = plan_on(plans, point)
        if any(plan.get(key) != value for key, value in lines.items()):
            return True
    return False


class LineRoom(NamedTuple):
    """The least room on a budget line from a date on: its plan's amount less what is spent on
    it at the end of ``day``, and that amount (yuan on the write side, fen in the read models)."""

    room: Any
    day: str
    line: Any


def least_line_room(
    total: Amount,
    book: Mapping[str, Amount],
    last: str,
    plans: Sequence[Sequence[Any]],
    content: str,
    source: str,
    on: date,
    zero: Amount,
) -> LineRoom | None:
    """The least room on the line content × fund source at the end of ``on`` and of every later
    date; None: no plan at any of them. ``total`` is what is spent on the line, ``book`` its net
    spending per ISO date (``last`` the latest), ``plans`` the plan's settings (``plan_on``)."""
    day = on.isoformat()
    later: set[str] = {d for d, _ in plans if d > day}
    if last > day:
        later.update(k for k in book if k > day)
    spent = total
    for key in later:
        spent -= book.get(key, zero)
    least: LineRoom | None = None
    for point in (day, *sorted(later)):
        if point != day:
            spent += book.get(point, zero)
        line = plan_line(plan_on(plans, point), content, source, zero)
        if line is not None and (least is None or line - spent < least.room):
            least = LineRoom(line - spent, point, line)
    return least


def lines_of(keys: Iterable[str]) -> list[tuple[str, str]]:
    """Budget lines kept under "content/source" keys, as (content, fund source)."""
    return [(content, source) for content, _, source in (key.rpartition("/") for key in keys)]


def line_book(
    days: Mapping[str, Mapping[str, Amount]], last: Mapping[str, str], keys: Sequence[str], zero: Amount
) -> tuple[Mapping[str, Amount], str]:
    """The net spending per ISO date of the lines ``keys`` together, and its latest date, from each
    line's (``days``, ``last``): one line's own book when ``keys`` is one."""
    if len(keys) == 1:
        return days.get(keys[0], {}), last.get(keys[0], "")
    book: dict[str, Amount] = {}
    for key in keys:
        for on, change in days.get(key, {}).items():
            book[on] = book.get(on, zero) + change
    return book, max((last.get(key, "") for key in keys), default="")


def least_balance(
    total: Amount, book: dict[str, Amount], last: str, on: date, dates: list[str] | None = None
) -> Amount:
    """The least balance at the end of ``on`` and of every later date, of a fund source whose
    balance is ``total`` and whose net change per ISO date is ``book`` (``last`` its latest date,
    ``dates`` its dates in order, if kept)."""
    day = on.isoformat()
    if day >= last:  # nothing dated later: as recorded in date order, the usual case
        return total
    later = sorted([k for k in book if k > day]) if dates is None else dates[bisect_right(dates, day) :]
    # the balance at the end of a date is the total less what every later date moved: the least
    # one is the total less the greatest sum of the latest dates' moves (or nothing)
    greatest = max(accumulate([book[k] for k in reversed(later)]))
    return total - greatest if greatest > 0 else total


def greatest_balance(total: Amount, book: dict[str, Amount], on: date) -> Amount:
    """The greatest balance at the end of ``on`` and of every later date, of a figure whose
    balance is ``total`` and whose net change per ISO date is ``book``: ``least_balance`` of the
    figure turned over (a disbursement reversed on a later date leaves it higher before then)."""
    turned = {day: -change for day, change in book.items()}
    return -least_balance(-total, turned, max(book, default=""), on)


# Which role may record which kind of action (DESIGN: roles).
OFFICER_ACTIONS = frozenset(
    {
        "unit register",
        "unit set-district",
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
        "grant extend",
        "evaluate",
        "rectify order",
        "recover order",
        "grant close",
        "grant resolve-objections",
    }
)
ADMIN_ACTIONS = frozenset({"people add", "people rotate", "people revoke", "policy install", "body add"})
ROLES = ("officer", "approver", "auditor", "admin")


@dataclass(frozen=True)
class Breach:
    """``rule``: the rule's English name (its code, and its label's catalogue id); ``text``: what
    broke it, rendered in the reader's language when read."""

    rule: str
    clause: Clause
    text: Text

    @property
    def message(self) -> str:
        return str(self.text)

    def describe(self) -> str:
        return _("{message} — {rule}, {clause}").format(
            message=self.message, rule=_(self.rule), clause=self.clause.quote()
        )

    def error(self) -> RuleViolationError:
        return RuleViolationError(self.describe(), rule=self.rule, clause=self.clause.cite)


def raise_first(breaches: Iterable[Breach | None]) -> None:
    for breach in breaches:
        if breach is not None:
            raise breach.error()


# ----------------------------------------------------------------------------- roles


ROLE_ACTIONS = {"officer": OFFICER_ACTIONS, "approver": APPROVER_ACTIONS, "admin": ADMIN_ACTIONS}
RECORDED_BY = {"officer": N_("an officer"), "approver": N_("an approver"), "admin": N_("an admin")}


def role_may_record(role: str, action: str, policy: Policy) -> Breach | None:
    allowed = ROLE_ACTIONS.get(role, frozenset())
    if action in allowed:
        return None
    who = next((r for r, acts in ROLE_ACTIONS.items() if action in acts), None)
    return Breach(
        rule=N_("role"),
        clause=policy.clause("roles"),
        text=T_(
            "the {role} role may not record '{action}'; it is recorded by {who}",
            role=role,
            action=action,
            who=T_(RECORDED_BY[who]),
            role_label=lazy("role", role),
            by=lazy("role", who),
        )
        if who is not None
        else T_(
            "the {role} role may not record '{action}'; no role records it",
            role=role,
            action=action,
            role_label=lazy("role", role),
        ),
    )


def role_may_import(role: str, actions: Iterable[str], policy: Policy) -> Breach | None:
    """An import file's rows are each one of ``actions``: a role that records none of them may not
    import at all (an auditor), said once for the file rather than for one of its kinds of row."""
    if any(role_may_record(role, action, policy) is None for action in actions):
        return None
    return Breach(
        rule=N_("role"),
        clause=policy.clause("roles"),
        text=T_(
            "the {role} role records none of the rows an import file holds: approvals are recorded "
            "by an approver, money by an officer",
            role=role,
            role_label=lazy("role", role),
        ),
    )


class Holder(Protocol):
    name: str
    periods: list[Any]


def signer_holds_role(
    person: Holder | None,
    held: str | None,
    fingerprint: str,
    on: date | None,
    claimed_role: str | None,
    claimed_actor: str | None,
    policy: Policy,
) -> Breach | None:
    """The key belongs to a registered, unrevoked person who holds a role on the act's date; a
    role or name the command line claims is theirs."""
    clause = policy.clause("roles")
    if person is None:
        return Breach(
            N_("registered signer"),
            clause,
            T_(
                "the key {value}… is not the key of anyone registered (or was revoked or rotated); an "
                "administrator registers people with `grant-ledger people add`",
                value=fingerprint[:16],
            ),
        )
    if held is None:
        return Breach(
            N_("registered signer"),
            clause,
            T_(
                "{name} holds no role on {on} (revoked, or not yet registered)",
                name=person.name,
                on=on,
            )
            if on is not None
            else T_("{name} holds no role now (revoked, or not yet registered)", name=person.name),
        )
    if claimed_actor is not None and claimed_actor != person.name:
        return Breach(
            N_("registered signer"),
            clause,
            T_(
                "the key is {name}'s, not {claimed_actor}'s",
                name=person.name,
                claimed_actor=claimed_actor,
            ),
        )
    if claimed_role is not None and claimed_role != held:
        return Breach(
            N_("registered signer"),
            clause,
            T_(
                "{name} is registered as {held} on {on}, not {claimed_role}",
                name=person.name,
                held=held,
                on=on,
                claimed_role=claimed_role,
                held_label=lazy("role", held),
                claimed_label=lazy("role", claimed_role),
            )
            if on is not None
            else T_(
                "{name} is registered as {held} now, not {claimed_role}",
                name=person.name,
                held=held,
                claimed_role=claimed_role,
                held_label=lazy("role", held),
                claimed_label=lazy("role", claimed_role),
            ),
        )
    return None


# Separation of duties (四眼原则): who recorded one step may not record the step that checks it.
CHECKS_APPLICATION = frozenset(
    {
        "grant review",
        "grant notice",
        "grant approve",
        "grant reject",
        "grant recommend",
        "grant resolve-objections",
    }
)


def duties_separate(
    action: str, actor: str, applicant: Iterable[str], ordered_by: Iterable[str], policy: Policy
) -> Breach | None:
    """The applicant's recorder does not review, notice or approve the application; whoever
    ordered a rectification or a recovery does not record its completion or receipt."""
    clause = policy.clause("separation_of_duties")
    if action in CHECKS_APPLICATION and actor in applicant:
        return Breach(
            N_("separation of duties"),
            clause,
            T_(
                "{actor} recorded this application and may not also record its {step}",
                actor=actor,
                step=action.split()[-1],
                action=action,
            ),
        )
    if action in ("rectify complete", "recover receive") and actor in ordered_by:
        return Breach(
            N_("separation of duties"),
            clause,
            T_("{actor} ordered this rectification and may not also record its completion", actor=actor)
            if action == "rectify complete"
            else T_("{actor} ordered this recovery and may not also record its receipt", actor=actor),
        )
    return None


# ----------------------------------------------------------------------------- lifecycle


OPEN_FOR_MONEY = frozenset({"approved", "closing"})


def approval_clause(programme: str, policy: Policy) -> Clause:
    """The clause by which a programme's grants are approved (003 第七条(二) for a district base,
    000 第十一条 for an institute, 002's for municipal and national bases): what money before an
    approval breaks."""
    found = policy.programmes.get(programme)
    return found.approval_clause if found is not None else policy.clause("approval_first")


def approved_before_money(
    grant_id: str, status: str, action: str, policy: Policy, programme: str = ""
) -> Breach | None:
    if status in OPEN_FOR_MONEY:
        return None
    if status == "closed":
        return Breach(
            rule=N_("grant closed"),
            clause=policy.clause("ring_fence"),
            text=T_(
                "grant {grant_id} is closed; nothing more is recorded against it ({action})",
                grant_id=grant_id,
                action=action,
            ),
        )
    return Breach(
        rule=N_("approval first"),
        clause=approval_clause(programme, policy),
        text=T_(
            "grant {grant_id} is {status}, not approved; {action} is recorded only after approval",
            grant_id=grant_id,
            status=lazy("status", status),
            action=action,
        ),
    )


def not_before_approval(
    grant_id: str, approved_on: date | None, on: date, action: str, policy: Policy, programme: str = ""
) -> Breach | None:
    if approved_on is None or on >= approved_on:
        return None
    return Breach(
        rule=N_("approval first"),
        clause=approval_clause(programme, policy),
        text=T_(
            "{action} dated {on} is before grant {grant_id}'s approval on {approved_on}",
            action=action,
            on=on.isoformat(),
            grant_id=grant_id,
            approved_on=approved_on.isoformat(),
        ),
    )


def within_build_period(
    grant_id: str, on: date, start: date | None, end: date | None, clause: Clause
) -> Breach | None:
    if start is None or end is None or start <= on <= end:
        return None
    return Breach(
        rule=N_("build period"),
        clause=clause,
        text=T_(
            "spending dated {on} is outside grant {grant_id}'s build period {start} to {end}",
            on=on.isoformat(),
            grant_id=grant_id,
            start=start.isoformat(),
            end=end.isoformat(),
        ),
    )


def last_day_of_years(start: date, years: int) -> date:
    """The last day of a period of ``years`` years whose first day is ``start``: the day before
    the same date ``years`` later. A period from 29 February ends on 28 February of a year
    without one (民法典 第二百零二条: a month with no corresponding day ends on its last day), as a
    period from 1 March does: one day shorter, as the earlier computation gave it, it refused
    spending on a day the period still holds."""
    try:
        return start.replace(year=start.year + years) - timedelta(days=1)
    except ValueError:  # 29 February, and the period ends in a year without one
        return start.replace(year=start.year + years, day=28)


# the clause that starts a build period on the day its approval document is issued
BUILT_FROM_APPROVAL = "notice_build_period"  # 002 六: "从批建文件印发之日起开始实施建设"


def built_from_approval(grant_id: str, programme: Programme, start: date, on: date) -> Breach | None:
    """A programme whose build clause starts the build period with the approval document (002
    六) is built from the approval's date (``on``), not from a date of the approver's choosing."""
    clause = programme.build_clause
    if clause is None or clause.key != BUILT_FROM_APPROVAL or start == on:
        return None
    return Breach(
        rule=N_("build period"),
        clause=clause,
        text=T_(
            "a {code} ({zh}) is built from the day its approval document is issued: grant {grant_id}'s "
            "build period starts {on}, not {start}",
            code=programme.code,
            zh=programme.zh,
            grant_id=grant_id,
            on=on.isoformat(),
            start=start.isoformat(),
        ),
    )


def build_clause(programme: Programme, policy: Policy) -> Clause:
    """The clause a programme's build period rests on: its own (003 第三条, 002 六); 000 sets an
    institute none, so its period is the one its approval set (000 第十一条: 予以建设立项)."""
    if programme.build_clause is not None:
        return programme.build_clause
    return policy.clause("institute_approval" if programme.level == "institute" else "district_build_period")


def build_period_of_programme(
    grant_id: str, programme: Programme, start: date, end: date, policy: Policy
) -> Breach | None:
    """The programme fixes the build period at approval (003 第三条, 002 六: two years); a longer
    one is an extension, its own act (``grant extend``)."""
    if programme.build_years is None:
        return None
    last = last_day_of_years(start, programme.build_years)
    if end <= last:
        return None
    return Breach(
        rule=N_("build period"),
        clause=build_clause(programme, policy),
        text=T_(
            "a {code} ({zh}) build period lasts {build_years} years: grant {grant_id}'s from {start} ends "
            "by {last}, not {end}; a later end is an extension (grant-ledger grant extend) with its own "
            "document",
            code=programme.code,
            zh=programme.zh,
            build_years=programme.build_years,
            grant_id=grant_id,
            start=start.isoformat(),
            last=last.isoformat(),
            end=end.isoformat(),
        ),
    )


def build_period_extended(
    grant_id: str, programme_code: str, current: date | None, end: date, policy: Policy
) -> Breach | None:
    if current is None or end > current:
        return None
    programme = policy.programme(programme_code)
    return Breach(
        rule=N_("build period"),
        clause=build_clause(programme, policy),
        text=T_(
            "grant {grant_id}'s build period ends {current}; an extension ends later, not on {end}",
            grant_id=grant_id,
            current=current.isoformat(),
            end=end.isoformat(),
        ),
    )


def subsidy_amount_in_range(programme: Programme, amount: Decimal) -> Breach | None:
    low, high = programme.subsidy_min, programme.subsidy_max
    if (low is None or amount >= low) and (high is None or amount <= high):
        return None
    text = _subsidy_span("approved", programme, amount)
    return Breach(N_("subsidy amount"), programme.subsidy_clause, text)


def _subsidy_span(what: str, programme: Programme, amount: Decimal) -> Text:
    low, high = programme.subsidy_min, programme.subsidy_max
    values = {"amount": format_yuan(amount), "code": programme.code, "zh": programme.zh}
    if low == high and low is not None:
        if what == "approved":
            return T_(
                "an approved subsidy of {amount} for a {code} ({zh}) must be exactly {low} yuan",
                low=format_yuan(low),
                **values,
            )
        return T_(
            "a requested subsidy of {amount} for a {code} ({zh}) must be exactly {low} yuan",
            low=format_yuan(low),
            **values,
        )
    span = {"low": format_yuan(low or Decimal(0)), "high": format_yuan(high or Decimal(0))}
    if what == "approved":
        return T_(
            "an approved subsidy of {amount} for a {code} ({zh}) must be between {low} and {high} yuan",
            **span,
            **values,
        )
    return T_(
        "a requested subsidy of {amount} for a {code} ({zh}) must be between {low} and {high} yuan",
        **span,
        **values,
    )


def requested_in_range(programme: Programme, amount: Decimal) -> Breach | None:
    """An application asks for what its programme pays (000 第十三条: 100万–200万 an institute)."""
    if not programme.pays or (programme.subsidy_min is None and programme.subsidy_max is None):
        return None
    breach = subsidy_amount_in_range(programme, amount)
    if breach is None:
        return None
    return Breach(
        rule=N_("requested amount"),
        clause=breach.clause,
        text=_subsidy_span("requested", programme, amount),
    )


def no_money_programme(grant_id: str, programme: Programme, amount: Decimal) -> Breach | None:
    """A named-support base (命名支持类) gets policy support, no money: approved with none."""
    if programme.pays:
        if amount > 0:
            return None
        return Breach(
            rule=N_("subsidy amount"),
            clause=programme.subsidy_clause,
            text=T_(
                "grant {grant_id} is a {code} ({zh}); its approval names the subsidy (--amount)",
                grant_id=grant_id,
                code=programme.code,
                zh=programme.zh,
            ),
        )
    if amount == 0:
        return None
    return Breach(
        rule=N_("no subsidy"),
        clause=programme.subsidy_clause,
        text=T_(
            "grant {grant_id} is a {code} ({zh}): policy support with no money, approved with no amount "
            "(got {amount})",
            grant_id=grant_id,
            code=programme.code,
            zh=programme.zh,
            amount=format_yuan(amount),
        ),
    )


def approval_after_application(grant_id: str, applied_on: date, on: date, policy: Policy) -> Breach | None:
    if on >= applied_on:
        return None
    return Breach(
        rule=N_("approval first"),
        clause=policy.clause("approval_first"),
        text=T_(
            "grant {grant_id} cannot be approved on {on}, before its application of {applied_on}",
            grant_id=grant_id,
            on=on.isoformat(),
            applied_on=applied_on.isoformat(),
        ),
    )


def bureaus_of_the_units_district(
    grant_id: str, unit_district: str | None, bureaus: Iterable[tuple[str, str]], clause: Clause
) -> Breach | None:
    """A district bureau recommends and approves the grants of units standing in its own district
    (003 第七条: the district's 人力社保局 and 财政局; 002 五(一): 区县人力社保部门 recommend):
    ``bureaus``, each district bureau named as (its description, its district's code). A bureau
    registered without a district is not judged; those named for a unit without one are of one
    district."""
    placed = [(described, district) for described, district in bureaus if district]
    apart = [(d, district) for d, district in placed if district != placed[0][1]] if placed else []
    if apart:
        return Breach(
            rule=N_("district bureau"),
            clause=clause,
            text=T_(
                "bodies {value} and {value2} are bureaus of {district} and {district2}: the bureaus of "
                "grant {grant_id} act for one district",
                value=placed[0][0],
                value2=apart[0][0],
                district=district_name(placed[0][1]),
                district2=district_name(apart[0][1]),
                grant_id=grant_id,
            ),
        )
    if not unit_district:
        return None
    for described, district in bureaus:
        if district and district != unit_district:
            return Breach(
                rule=N_("district bureau"),
                clause=clause,
                text=T_(
                    "body {value} is {district}'s bureau, and grant {grant_id}'s unit stands in "
                    "{unit_district}: a district bureau acts for its own district's units",
                    value=described,
                    district=district_name(district),
                    grant_id=grant_id,
                    unit_district=district_name(unit_district),
                ),
            )
    return None


def district_kept_for_its_bureaus(
    unit_id: str, district: str, grant_id: str, bureaus: Iterable[tuple[str, str]], clause: Clause
) -> Breach | None:
    """A unit stays in the district of the district bureaus that recommended or approved one of its
    grants (003 第七条, 002 五(一), as ``bureaus_of_the_units_district``): ``unit set-district`` to
    another district would leave another district's bureaus standing for it. ``bureaus``: those
    of grant ``grant_id``, each as (its description, its district's code); one registered without
    a district is not judged."""
    for described, placed in bureaus:
        if placed and placed != district:
            return Breach(
                rule=N_("district bureau"),
                clause=clause,
                text=T_(
                    "unit {unit_id} is not moved to {district}: body {value}, a bureau of {district2}, "
                    "acted for its grant {grant_id}, and a district bureau acts for its own district's "
                    "units",
                    unit_id=unit_id,
                    district=district_name(district),
                    value=described,
                    district2=district_name(placed),
                    grant_id=grant_id,
                ),
            )
    return None


def recommended_first(
    grant_id: str, programme: Programme, recommended: bool, policy: Policy
) -> Breach | None:
    """A municipal or national base is approved only on a recommendation (002 五(一))."""
    if recommended or programme.level not in ("municipal", "national"):
        return None
    return Breach(
        rule=N_("recommendation first"),
        clause=policy.clause("recommendation_required"),
        text=T_(
            "a {code} ({zh}) is approved only on a recommendation by a district HR bureau or a "
            "municipal sector authority; grant {grant_id} has none (grant recommend)",
            code=programme.code,
            zh=programme.zh,
            grant_id=grant_id,
        ),
    )


def reviewed_by_its_authority_first(
    grant_id: str, programme: Programme, reviewed: bool, policy: Policy
) -> Breach | None:
    """An institute is approved only once its sector authority or district HR bureau has
    reviewed its application (000 第十一条: 经行业主管部门、区县人力社保部门审核后), recorded as that
    body's recommendation."""
    if reviewed or programme.level != "institute":
        return None
    return Breach(
        rule=N_("review by its authority first"),
        clause=policy.clause("institute_approval"),
        text=T_(
            "a {code} ({zh}) applies to the city only once its sector authority or district HR "
            "bureau has reviewed it (经行业主管部门、区县人力社保部门审核后); grant {grant_id} has no "
            "such review: record it with grant recommend",
            code=programme.code,
            zh=programme.zh,
            grant_id=grant_id,
        ),
    )


def approved_by_its_bodies(
    grant_id: str, programme: Programme, bodies: list[str], approvers: list[str] | None
) -> Breach | None:
    """An approval names every approving body of its programme, and no other (its approval
    clause: 区人力社保局会同区财政局, 市人力社保局会同市财政局 …). ``approvers``: which of those
    bodies the registered ``bodies`` are (None: ``bodies`` are the names themselves, as an import
    gives them)."""
    given = bodies if approvers is None else approvers
    strangers = [b for b in given if b not in programme.approving_bodies]
    if strangers and approvers is not None:
        wanted = "、".join(
            f"{name} ({role})"
            for name, role in zip(programme.approving_bodies, programme.approvers, strict=False)
        )
        return Breach(
            rule=N_("approving bodies"),
            clause=programme.approval_clause,
            text=T_(
                "body {value} is not an approving body of a {code} ({zh}); its approving bodies are {wanted}",
                value=strangers[0],
                code=programme.code,
                zh=programme.zh,
                wanted=wanted,
            ),
        )
    missing = [b for b in programme.approving_bodies if b not in given]
    if not missing:
        return None
    return Breach(
        rule=N_("approving bodies"),
        clause=programme.approval_clause,
        text=T_(
            "approval of grant {grant_id} ({code}) needs the approving bodies {value}; missing "
            "{value2} (given: {value3})",
            grant_id=grant_id,
            code=programme.code,
            value="、".join(programme.approving_bodies),
            value2="、".join(missing),
            value3="、".join(bodies) or "none",
        ),
    )


# ----------------------------------------------------------------------------- money


def tranche_within_approved(
    grant_id: str, approved: Decimal, disbursed: Decimal, amount: Decimal, clause: Clause
) -> Breach | None:
    if disbursed + amount <= approved:
        return None
    return Breach(
        rule=N_("tranches within approval"),
        clause=clause,
        text=T_(
            "disbursing {amount} to grant {grant_id} would bring the total disbursed to {value}, above the "
            "approved {approved} (already disbursed {disbursed})",
            amount=format_yuan(amount),
            grant_id=grant_id,
            value=format_yuan(disbursed + amount),
            approved=format_yuan(approved),
            disbursed=format_yuan(disbursed),
        ),
    )


def within_fund_source(
    grant_id: str,
    source: str,
    available: Decimal,
    amount: Decimal,
    policy: Policy,
    action: str = "spend",
) -> Breach | None:
    """``available``: the source's least balance at the end of the act's date and of every
    later date (acts of one date net together); ``action``: the act that takes the money out."""
    if amount <= available:
        return None
    fields = {
        "amount": format_yuan(amount),
        "source": source,
        "label": SOURCE_ZH[source],
        "grant_id": grant_id,
        "available": format_yuan(available),
    }
    if action == "reverse receipt":
        text = T_(
            "taking back a receipt of {amount} from the {source} ({label}) of grant {grant_id} exceeds its "
            "available balance of {available}",
            **fields,
        )
    elif action == "dispose":
        text = T_(
            "disposing of {amount} from the {source} ({label}) of grant {grant_id} exceeds its "
            "available balance of {available}",
            **fields,
        )
    else:
        text = T_(
            "spending {amount} from the {source} ({label}) of grant {grant_id} exceeds its "
            "available balance of {available}",
            **fields,
        )
    return Breach(rule=N_("ring-fence"), clause=policy.clause("ring_fence"), text=text)


def file_stands_on_its_own(grant_id: str, source: str, least: Decimal, policy: Policy) -> Breach | None:
    """An import's rows judged with the receipts its file brings in later: with every row in,
    ``least``, the source's least balance at the end of any date, is not below zero."""
    if least >= 0:
        return None
    text = T_(
        "with every row of the file recorded, the {source} ({label}) of grant {grant_id} stands at "
        "{least} at the end of some date: the file's receipts its spending was judged with do not all "
        "come in",
        source=source,
        label=SOURCE_ZH[source],
        grant_id=grant_id,
        least=format_yuan(least),
    )
    return Breach(rule=N_("ring-fence"), clause=policy.clause("ring_fence"), text=text)


def file_tranches_stand_on_their_own(grant: GrantFacts, policy: Policy) -> Breach | None:
    """An import's tranches judged with the tranches its file reverses later: with every row in,
    the subsidy received at the end of any date is within the approval."""
    peak = grant.received_peak(date.min)
    if peak <= grant.approved:
        return None
    text = T_(
        "with every row of the file recorded, grant {grant_id} has {peak} disbursed at the end of some "
        "date, above the approved {approved}: the file's reversals its tranches were judged with do not "
        "all come in",
        grant_id=grant.grant_id,
        peak=format_yuan(peak),
        approved=format_yuan(grant.approved),
    )
    clause = policy.programme(grant.programme).subsidy_clause
    return Breach(rule=N_("tranches within approval"), clause=clause, text=text)


def category_permitted(text: str, policy: Policy) -> tuple[Category | None, Breach | None]:
    """The category named by code or Chinese label, or the breach that refuses it."""
    category = policy.find_category(text)
    if category is None:
        known = ", ".join(c.code for c in policy.categories.values() if c.allowed)
        return None, Breach(
            rule=N_("permitted category"),
            clause=policy.clause("permitted_uses"),
            text=T_(
                "spending category {text!r} is unknown; the permitted categories are: {known}",
                text=text,
                known=known,
            ),
        )
    if not category.allowed:
        return category, Breach(
            rule=N_("banned category"),
            clause=category.clauses[0],
            text=T_("spending category '{code}' ({zh}) is banned", code=category.code, zh=category.zh),
        )
    return category, None


def category_for_programme(
    text: str, programme: Programme, policy: Policy
) -> tuple[Category | None, Breach | None]:
    """The category named by code or Chinese label, or the breach that refuses it for the
    programme's money (its own list and clauses: 003 第九条 for district bases, 000 第十三条 for
    institutes)."""
    spending = programme.spending
    if spending is None:  # a policy version without per-programme lists: the general one
        return category_permitted(text, policy)
    category = policy.find_category(text)
    if category is not None and category.code in spending.banned:
        return category, Breach(
            rule=N_("banned category"),
            clause=spending.banned_clause,
            text=T_(
                "spending category '{code}' ({zh}) is banned for a {programme} ({programme_zh})",
                code=category.code,
                zh=category.zh,
                programme=programme.code,
                programme_zh=programme.zh,
            ),
        )
    if category is not None and category.code in spending.allowed:
        return category, None
    known = ", ".join(f"{c} ({policy.categories[c].zh})" for c in spending.allowed) or "none"
    return category, Breach(
        rule=N_("permitted category"),
        clause=spending.allowed_clause,
        text=T_(
            "spending category {text!r} is unknown; its permitted categories are: {known}",
            text=text,
            known=known,
        )
        if category is None
        else T_(
            "spending category {text!r} is not a permitted use of a {programme} ({programme_zh}); its "
            "permitted categories are: {known}",
            text=text,
            programme=programme.code,
            programme_zh=programme.zh,
            known=known,
        ),
    )


def _line_named(content: str, source: str, policy: Policy) -> tuple[Named | str, Named | str]:
    """A budget line's content and fund source as a message names them: codes in English (as an
    officer types them), the policy's Chinese names in Chinese."""
    found = policy.find_content(content) if content else None
    named = Named(found.zh, content) if found is not None else content
    return named, Named(SOURCE_ZH[source], source) if source in SOURCE_ZH else source


def within_budget_line(
    grant_id: str, content: str, source: str, room: LineRoom | None, amount: Decimal, policy: Policy
) -> Breach | None:
    """Spending leaves its budget line within the plan at the end of its date and of every later
    date (``room``: the least room then, with the plan as it stood on each date)."""
    if room is None or amount <= room.room:
        return None
    named_content, named_source = _line_named(content, source, policy)
    return Breach(
        rule=N_("budget line"),
        clause=policy.clause("budget_plan"),
        text=T_(
            "spending {amount} on {content} from {source} of grant {grant_id} brings that budget line to "
            "{value} at the end of {day}, above its {line}",
            amount=format_yuan(amount),
            content=named_content,
            source=named_source,
            grant_id=grant_id,
            value=format_yuan(room.line - room.room + amount),
            day=room.day,
            line=format_yuan(room.line),
        ),
    )


def plan_covers_spending(
    grant_id: str,
    what: Text,
    content: str,
    source: str,
    room: LineRoom | None,
    policy: Policy,
    *,
    named: bool = True,
) -> Breach | None:
    """A budget plan or adjustment sets no line below what is already spent on it at the end of
    its date or of any later date; a line it does not name (``named`` False) is nil once a plan
    stands, as a later spend on it finds it."""
    if room is None or room.room >= 0:
        return None
    named_content, named_source = _line_named(content, source, policy)
    fields = {
        "what": what,
        "grant_id": grant_id,
        "content": named_content,
        "source": named_source,
        "line": format_yuan(room.line),
        "spent": format_yuan(room.line - room.room),
        "day": room.day,
    }
    text = (
        T_(
            "{what} of grant {grant_id} has no line for {content} from {source}, which leaves that line "
            "at {line}, below the {spent} spent on it by the end of {day}",
            **fields,
        )
        if not named and room.line == 0
        else T_(
            "{what} of grant {grant_id} sets {content} from {source} at {line}, below the {spent} spent on "
            "it by the end of {day}",
            **fields,
        )
    )
    return Breach(rule=N_("budget line"), clause=policy.clause("budget_plan"), text=text)


# ----------------------------------------------------------------------------- eligibility

HIGHER_THAN_DISTRICT = ("municipal", "national")
# one base per unit and level: each level's own document (003 第八条 is the district's)
ONE_BASE_CLAUSE = {
    "institute": "one_institute",
    "municipal": "one_municipal_base",
    "national": "one_municipal_base",
}


def programme_in_force(programme: Programme, on: date, policy: Policy, *, applying: bool) -> Breach | None:
    """A programme takes applications from its document's own date of effect (003: 2023-03-15, 000:
    2023-06-21), and a notice's programme only in the round it announces (002: the 2024 round, due
    2024-07-17). ``applying``: a ``grant apply`` (a grant approved elsewhere is not held to the due
    date: its approval comes after the round closed)."""
    doc = policy.documents.get(programme.document or "")
    if doc is None:
        return None
    where = f"{doc.code} {doc.number}《{doc.title}》"
    if doc.effective_from is not None and on < doc.effective_from:
        return Breach(
            rule=N_("policy in force"),
            clause=policy.clause(doc.in_force_clause) if doc.in_force_clause else programme.subsidy_clause,
            text=T_(
                "the {code} ({zh}) programme of {where} takes effect on {effective_from}; a grant dated "
                "{on} is before it",
                code=programme.code,
                zh=programme.zh,
                where=where,
                effective_from=doc.effective_from.isoformat(),
                on=on.isoformat(),
            ),
        )
    opens, due = doc.round_opens, doc.applications_due
    late = applying and due is not None and on > due
    if (opens is not None and on < opens) or late:
        return Breach(
            rule=N_("application round"),
            clause=_round_clause(doc, programme, policy),
            text=T_(
                "{where} takes {code} ({zh}) applications of its {round} round from {opens} to {due}; one "
                "dated {on} is outside it (a later round's notice is added with grant-ledger policy install "
                "FILE)",
                where=where,
                code=programme.code,
                zh=programme.zh,
                round=doc.round,
                opens=opens.isoformat() if opens else "—",
                due=due.isoformat() if due else "—",
                on=on.isoformat(),
            ),
        )
    return None


def _round_clause(doc: Document, programme: Programme, policy: Policy) -> Clause:
    """The clause a notice's round rests on (002 七(二)), else the programme's own."""
    return policy.clause(doc.round_clause) if doc.round_clause else programme.subsidy_clause


def recommended_in_time(
    grant_id: str, programme: Programme, on: date, policy: Policy, named: str | None = None
) -> Breach | None:
    """A recommender reviews a round's applications by the day its notice sets (002 七(二):
    集中审核推荐时间为7月18－24日，逾期不再受理); a later recommendation is not taken. ``named``: the
    round the recommendation names, which is the notice's: a recommendation naming another year
    was counted against another round's quota (002 五(一)), past this one's."""
    doc = policy.documents.get(programme.document or "")
    if doc is not None and doc.round is not None and named is not None and named != str(doc.round):
        return Breach(
            rule=N_("recommendation round"),
            clause=_round_clause(doc, programme, policy),
            text=T_(
                "the recommendation of grant {grant_id} names the {named} round; {code} {number} takes "
                "applications of its {round} round, and each is recommended in the round it applied in",
                grant_id=grant_id,
                named=named,
                code=doc.code,
                number=doc.number,
                round=doc.round,
            ),
        )
    if doc is None or doc.recommendations_due is None or on <= doc.recommendations_due:
        return None
    return Breach(
        rule=N_("recommendation round"),
        clause=_round_clause(doc, programme, policy),
        text=T_(
            "{code} {number} takes the recommendations of its {round} round by {due}; the recommendation "
            "of grant {grant_id} dated {on} is late (逾期不再受理)",
            code=doc.code,
            number=doc.number,
            round=doc.round,
            due=doc.recommendations_due.isoformat(),
            grant_id=grant_id,
            on=on.isoformat(),
        ),
    )


def unit_may_hold(
    unit_id: str,
    held: Iterable[tuple[str, str, bool]],
    programme: Programme,
    policy: Policy,
    national_institute: bool = False,
) -> Breach | None:
    """``held`` is (base_id, level, approved) of each of the unit's live grants (applied or
    approved; two on one base id at two levels are two), approved: by the application's business
    date; ``national_institute``: the unit already has a national institute (国家级技工院校职业训练院)."""
    held = list(held)
    if programme.level == "institute" and national_institute:
        return Breach(
            rule=N_("one institute"),
            clause=policy.clause("one_institute"),
            text=T_(
                "unit {unit_id} already has a national technical-school institute "
                "(国家级技工院校职业训练院); no municipal institute is set up beside it",
                unit_id=unit_id,
            ),
        )
    same = [base for base, level, _approved in held if level == programme.level]
    if same:
        clause = policy.clause(ONE_BASE_CLAUSE.get(programme.level, "one_base_per_level"))
        return Breach(
            rule=N_("one base per level"),
            clause=clause,
            text=T_(
                "unit {unit_id} already holds {level} base {value}; a unit may hold one {level} base",
                unit_id=unit_id,
                level=lazy("level", programme.level),
                value=same[0],
            ),
        )
    if programme.level == "district":
        higher = [base for base, level, approved in held if level in HIGHER_THAN_DISTRICT and approved]
        if higher:
            return Breach(
                rule=N_("no district base above municipal"),
                clause=policy.clause("one_district_base"),
                text=T_(
                    "unit {unit_id} holds approved municipal-or-higher base {value} and may not apply for "
                    "a district base",
                    unit_id=unit_id,
                    value=higher[0],
                ),
            )
    return None


def base_of_one_unit(
    base_id: str, grant_id: str, unit_id: str, holder: str | None, held_by: Iterable[str], policy: Policy
) -> Breach | None:
    """A base is one unit's: ``holder`` is the unit whose grants ``held_by`` hold base ``base_id``
    (the unit that first applied for it, or was first brought in on it by an import), None when
    no grant holds it (never applied for, or each grant on it rejected, which releases it); grant
    ``grant_id`` of another unit ``unit_id`` on it is refused, applied for (grant apply) or brought
    in approved elsewhere (an import's approve row).

    It rests on 003 第十条: "区级高技能人才培训基地建设单位要做好以下项目资金管理工作" — a base has
    its one 建设单位 (000 第十四条: 职业训练院建设单位; 003 第七条(一): a base is applied for 以……为单位),
    which keeps the base's own books, "资金到项目、管理到项目、核算到项目……单独建账". The ledger
    keeps balances and reports per base: two units' grants on one base id would make one base's
    books of two units. The policy data quotes 第十条's words (``ring_fence``), cited here."""
    if holder is None or holder == unit_id:
        return None
    return Breach(
        rule=N_("one unit per base"),
        clause=policy.clause("ring_fence"),
        text=T_(
            "base {base_id} is held by unit {holder} (grant {value}); grant {grant_id} of unit {unit_id} "
            "may not take it: a base's books are one unit's",
            base_id=base_id,
            holder=holder,
            value=", ".join(held_by),
            grant_id=grant_id,
            unit_id=unit_id,
        ),
    )


# ----------------------------------------------------------------------------- selection

RECOMMENDATION_QUOTA = {"national": 1, "municipal": 2}  # 002 五(一), per recommender per round


def working_days(start: date, end: date, policy: Policy) -> int:
    """Working days from ``start`` to ``end``, both included, by the statutory calendar the policy
    data lists (holidays and 调休); LookupError(year) for a year it does not cover."""
    return statutory_working_days(start, end, policy.calendar_years())


# The levels whose count of professions is one of the conditions an applicant meets "原则上" (003
# 第六条: 申报单位原则上应符合以下条件; its own form 表3-n-1 says n 为 2—3): a count outside it is a
# finding on the application (ledger.conditions), never a refusal. The others' counts are refused.
PROJECTS_IN_PRINCIPLE = frozenset({"district"})


def distinct_projects(projects: Iterable[str]) -> int:
    return len({p.strip() for p in projects if p.strip()})


def named_projects(projects: Any) -> int | None:
    """The count of professions a stored application named, as its finding judges it; None when
    not known: an import's approve row (a grant approved elsewhere) stores none, as ``grant apply``
    never does, and a stored value that is no list of texts is no list of professions (the
    verifier, audit/verifier/replay.py, reads both alike)."""
    if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
        return None
    return distinct_projects(projects) or None


def projects_count(programme: Programme, projects: Iterable[str], policy: Policy) -> Breach | None:
    """The programme's professions or projects at application: 2–3 for an institute (000 第十三条)
    or a municipal base (002 四(一)2(2)), at least 5 for a national base (002 四(一)1(4)); a district
    base's 1–2 (003 第六条) is a condition, judged as a finding (``PROJECTS_IN_PRINCIPLE``), but one
    naming none is no application for a base at all."""
    n = distinct_projects(projects)
    if programme.level in PROJECTS_IN_PRINCIPLE and n > 0:
        return None
    key = "institute_projects" if programme.level == "institute" else "district_projects"
    return projects_in_range(programme, n, programme.projects_clause or policy.clause(key))


def projects_in_range(programme: Programme, n: int, clause: Clause) -> Breach | None:
    low, high = programme.projects_min, programme.projects_max
    if (low is None or n >= low) and (high is None or n <= high):
        return None
    return Breach(
        rule=N_("projects count"),
        clause=clause,
        text=T_(
            "a {code} ({zh}) application names {low}–{high} professions or projects (--project); this "
            "one names {n}",
            code=programme.code,
            zh=programme.zh,
            low=low,
            high=high,
            n=n,
        )
        if high is not None
        else T_(
            "a {code} ({zh}) application names at least {low} professions or projects (--project); this "
            "one names {n}",
            code=programme.code,
            zh=programme.zh,
            low=low,
            n=n,
        ),
    )


def tier_of_programme(grant_id: str, programme: Programme, tier: str, policy: Policy) -> Breach | None:
    """A tier is one of the programme's (002 二(一): a national base is of tier A, B, C or D); a
    programme without tiers takes none."""
    if not tier or tier in programme.tiers:
        return None
    # the tiers are a national base's (002 二(一)): a programme without them is judged by that clause
    clause = (programme.selects_clause if programme.tiers else None) or policy.clause("national_count")
    if not programme.tiers:
        text = T_(
            "grant {grant_id} is a {code}, which has no tiers: approve it without --tier",
            grant_id=grant_id,
            code=programme.code,
        )
    else:
        text = T_(
            "tier {tier} is none of the {code}'s tiers {tiers}",
            tier=tier,
            code=programme.code,
            tiers=", ".join(programme.tiers),
        )
    return Breach(N_("selection count"), clause, text)


def track_of_programme(grant_id: str, programme: Programme, track: str, policy: Policy) -> Breach | None:
    """A kind named at application is one of the programme's (002 二(二): a municipal base is
    国际合作类, 数字技能类 or 其他类); a programme without kinds takes none."""
    if not track or track in programme.tracks:
        return None
    clause = (programme.selects_clause if programme.tracks else None) or policy.clause(
        "municipal_funded_count"
    )
    if not programme.tracks:
        text = T_(
            "grant {grant_id} is a {code}, which has no kinds: apply without --track",
            grant_id=grant_id,
            code=programme.code,
        )
    else:
        text = T_(
            "kind {track} is none of the {code}'s kinds {tracks}",
            track=track,
            code=programme.code,
            tracks=", ".join(programme.tracks),
        )
    return Breach(N_("selection count"), clause, text)


Group = tuple[tuple[str, ...], int]  # values (tiers, kinds) and how many of them a round selects


def selected_group(groups: Iterable[Group], value: str) -> Group | None:
    """The group of a programme's selection (``selects_tiers``, ``selects_tracks``) ``value`` is in."""
    return next(((values, count) for values, count in groups if value in values), None)


def track_count(
    grant_id: str, programme: Programme, round_: str, track: str, group: Group, nth: int
) -> Breach | None:
    """Of the round's selection, those of a kind named at application (002 二(二): 国际合作类 2,
    数字技能类 3, 其他类 3): ``nth``, this approval's place among the round's of its kind's
    ``group``, past the group's count."""
    count = group[1]
    if nth <= count or programme.selects_clause is None:
        return None
    return Breach(
        rule=N_("selection count"),
        clause=programme.selects_clause,
        text=T_(
            "grant {grant_id} is approval {nth} of kind {track} of a {code} ({zh}) in round "
            "{round}; the round selects {count} of them",
            grant_id=grant_id,
            nth=nth,
            track=lazy("track", track),
            code=programme.code,
            zh=programme.zh,
            round=round_,
            count=count,
        ),
    )


def tier_count(
    grant_id: str, programme: Programme, round_: str, tier: str, group: Group, nth: int
) -> Breach | None:
    """Of the round's selection, those of some tiers (002 二(一): A or B 2, C or D 1): ``nth``,
    this approval's place among the round's of its tier's ``group``, past the group's count."""
    tiers, count = group
    if nth <= count or programme.selects_clause is None:
        return None
    return Breach(
        rule=N_("selection count"),
        clause=programme.selects_clause,
        text=T_(
            "grant {grant_id} is approval {nth} of tier {tiers} of a {code} ({zh}) in round "
            "{round}; the round selects {count} of them",
            grant_id=grant_id,
            nth=nth,
            tiers=T_("{first} or {second}", first=tiers[0], second=tiers[1])
            if len(tiers) == 2
            else ", ".join(tiers),
            code=programme.code,
            zh=programme.zh,
            round=round_,
            count=count,
        ),
    )


def selection_count(grant_id: str, programme: Programme, round_: str, nth: int) -> Breach | None:
    """A round selects ``programme.selects`` bases of the programme (002 二: 遴选3个国家级, 新建8个
    and 命名建设8个市级): ``nth``, this approval's place among the round's approvals of it, past
    that count is a finding on it (an approval is the approvers' act: flagged, not refused)."""
    if programme.selects is None or programme.selects_clause is None or nth <= programme.selects:
        return None
    return Breach(
        rule=N_("selection count"),
        clause=programme.selects_clause,
        text=T_(
            "grant {grant_id} is approval {nth} of a {code} ({zh}) in round {round}; the round selects "
            "{count}",
            grant_id=grant_id,
            nth=nth,
            code=programme.code,
            zh=programme.zh,
            round=round_,
            count=programme.selects,
        ),
    )


def recommendation_quota(
    recommender: str, round_: str, level: str, already: int, policy: Policy
) -> Breach | None:
    """``already``: recommendations of this level the recommender made in this round."""
    quota = RECOMMENDATION_QUOTA.get(level)
    if quota is None or already < quota:
        return None
    return Breach(
        rule=N_("recommendation quota"),
        clause=policy.clause("recommendation_quota"),
        text=T_(
            "{recommender} has already recommended {already} {level} base(s) in round {round}; at most "
            "{quota} per recommender per round",
            recommender=recommender,
            already=already,
            level=lazy("level", level),
            round=round_,
            quota=quota,
        ),
    )


def recommendation_rank(level: str, rank: int | None, taken: Iterable[int], policy: Policy) -> Breach | None:
    """A recommender ranks its municipal recommendations of a round, at most its quota of them
    (002 五(一): "不超过2个并排序"): each a rank from 1 to the quota, none used twice."""
    if level != "municipal":
        return None
    most = RECOMMENDATION_QUOTA[level]
    if rank is not None and 1 <= rank <= most and rank not in set(taken):
        return None
    return Breach(
        rule=N_("recommendation rank"),
        clause=policy.clause("recommendation_quota"),
        text=T_(
            "municipal recommendations are ranked from 1 to {most}: give a --rank not yet used in this "
            "round (got {rank}, used {value})",
            most=most,
            rank=rank,
            value=sorted(set(taken)),
        ),
    )


def panel_size(panel: int, policy: Policy) -> Breach | None:
    if panel >= 5 and panel % 2 == 1:
        return None
    return Breach(
        rule=N_("expert panel"),
        clause=policy.clause("expert_panel"),
        text=T_(
            "an expert panel of {panel} is not allowed; it has at least 5 experts and an odd number",
            panel=panel,
        ),
    )


def notice_long_enough(start: date, end: date, policy: Policy) -> Breach | None:
    """Working days by the statutory calendar (holidays and 调休), as the policy data lists it."""
    try:
        days = working_days(start, end, policy)
    except LookupError as e:
        year = e.args[0]
        return Breach(
            rule=N_("public notice"),
            clause=policy.clause("public_notice"),
            text=T_(
                "the statutory calendar of {year} is not in the ledger's policy data, so the working days "
                "of a public notice from {start} to {end} cannot be counted; an administrator adds it: "
                "grant-ledger policy calendar {year} > {year}.toml, then grant-ledger policy install "
                "{year}.toml",
                year=year,
                start=start.isoformat(),
                end=end.isoformat(),
            ),
        )
    if end >= start and days >= 5:
        return None
    return Breach(
        rule=N_("public notice"),
        clause=policy.clause("public_notice"),
        text=T_(
            "a public notice from {start} to {end} lasts {days} working day(s) by the statutory calendar "
            "(holidays and 调休); it lasts at least 5 working days",
            start=start.isoformat(),
            end=end.isoformat(),
            days=days,
        ),
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
    day = on.isoformat()
    if not reviewed:
        key = "expert_review"
        text = T_(
            "grant {grant_id} cannot be approved on {on}: no expert review is recorded (grant review)",
            grant_id=grant_id,
            on=day,
        )
    elif not favourable:
        key = "expert_review"
        text = T_(
            "grant {grant_id} cannot be approved on {on}: the expert review did not recommend it",
            grant_id=grant_id,
            on=day,
        )
    elif notice_end is None:
        key = "public_notice"
        text = T_(
            "grant {grant_id} cannot be approved on {on}: no public notice is recorded (grant notice)",
            grant_id=grant_id,
            on=day,
        )
    elif on <= notice_end:
        key = "public_notice"
        text = T_(
            "grant {grant_id} cannot be approved on {on}: its public notice runs until {end}",
            grant_id=grant_id,
            on=day,
            end=notice_end.isoformat(),
        )
    elif objections:
        key = "public_notice"
        text = T_(
            "grant {grant_id} cannot be approved on {on}: its public notice drew {objections} objection(s)",
            grant_id=grant_id,
            on=day,
            objections=objections,
        )
    else:
        return None
    return Breach(N_("selection first"), policy.clause(key), text)


def in_selection(grant_id: str, status: str, step: Text, policy: Policy) -> Breach | None:
    if status == "applied":
        return None
    return Breach(
        rule=N_("selection order"),
        clause=policy.clause("approval_first"),
        text=T_(
            "grant {grant_id} is {status}; {step} is recorded only while the application is open",
            grant_id=grant_id,
            status=lazy("status", status),
            step=step,
        ),
    )


# ----------------------------------------------------------------------------- budget and life


def plan_within_subsidy(
    grant_id: str, programme: Programme, subsidy_lines: Decimal, approved: Decimal, day: str, policy: Policy
) -> Breach | None:
    """The plan's subsidy lines (地方财政) add up to at most the approved subsidy (表3-1-1:
    按照 20 万元资金额度), on every date (``subsidy_lines``: the most they add up to, on ``day``)."""
    if subsidy_lines <= approved:
        return None
    clause = policy.clause("budget_total") if programme.level == "district" else programme.subsidy_clause
    return Breach(
        rule=N_("budget total"),
        clause=clause,
        text=T_(
            "the subsidy (地方财政) lines of grant {grant_id}'s budget plan add up to {subsidy_lines} on "
            "{day}, above the approved subsidy of {approved}",
            grant_id=grant_id,
            subsidy_lines=format_yuan(subsidy_lines),
            day=day,
            approved=format_yuan(approved),
        ),
    )


def approval_reference(reference: str, what: Text, policy: Policy) -> Breach | None:
    if reference.strip():
        return None
    return Breach(
        rule=N_("approval reference"),
        clause=policy.clause("budget_plan"),
        text=T_("{what} needs an approval reference (--approval)", what=what),
    )


def recovery_within_order(
    grant_id: str, ordered: Decimal, recovered: Decimal, amount: Decimal, policy: Policy
) -> Breach | None:
    if recovered + amount <= ordered:
        return None
    return Breach(
        rule=N_("recovery within order"),
        clause=policy.clause("supervision"),
        text=T_(
            "receiving {amount} back for grant {grant_id} brings recoveries to {value}, above the "
            "{ordered} ordered",
            amount=format_yuan(amount),
            grant_id=grant_id,
            value=format_yuan(recovered + amount),
            ordered=format_yuan(ordered),
        ),
    )


def final_evaluation_passed(grant_id: str, result: str | None, policy: Policy) -> Breach | None:
    if result == "pass":
        return None
    return Breach(
        rule=N_("closure: final evaluation"),
        clause=policy.clause("closure"),
        text=T_(
            "grant {grant_id} closes only after a passed final evaluation; none is recorded",
            grant_id=grant_id,
        )
        if result is None
        else T_(
            "grant {grant_id} closes only after a passed final evaluation; the latest is '{result}'",
            grant_id=grant_id,
            result=result,
        ),
    )


def closed_after_its_acts(grant_id: str, on: date, latest: date | None, policy: Policy) -> Breach | None:
    """A closure settles the grant's books: dated before an act it settles (money moved, an
    evaluation, a rectification completed), the grant would stand closed while they went on
    (None: no act dated, or the dates not known, as in a snapshot of an earlier version)."""
    if latest is None or on >= latest:
        return None
    return Breach(
        rule=N_("closure date"),
        clause=policy.clause("closure"),
        text=T_(
            "grant {grant_id} would close on {on}, before its act of {latest}; a closure is dated on or "
            "after every act it settles",
            grant_id=grant_id,
            on=on.isoformat(),
            latest=latest.isoformat(),
        ),
    )


def completed_after_ordered(
    grant_id: str, ref: str, on: date, ordered_on: date | None, policy: Policy
) -> Breach | None:
    """A rectification is completed on or after the day it was ordered: one completed earlier would
    count as on time whatever happened (None: the order's date not known, as in a snapshot of an
    earlier version)."""
    if ordered_on is None or on >= ordered_on:
        return None
    return Breach(
        rule=N_("rectification date"),
        clause=policy.clause("supervision"),
        text=T_(
            "rectification {ref} of grant {grant_id} would be completed on {on}, before it was ordered on "
            "{ordered_on}; date it on or after that",
            ref=ref,
            grant_id=grant_id,
            on=on.isoformat(),
            ordered_on=ordered_on.isoformat(),
        ),
    )


INSTITUTE_OVERSIGHT = {
    "third_party_audit": N_("third-party audit (三方审计)"),
    "final": N_("final evaluation (绩效评价)"),
}


def institute_overseen(grant_id: str, level: str, kinds: Iterable[str], policy: Policy) -> Breach | None:
    """An institute closes only with a third-party audit and a final evaluation recorded (000 第十五条:
    通过三方审计、外部评估等方式，加强项目运行情况的绩效评价)."""
    if level != "institute":
        return None
    missing = [T_(label) for kind, label in INSTITUTE_OVERSIGHT.items() if kind not in set(kinds)]
    if not missing:
        return None
    what = (
        missing[0]
        if len(missing) == 1
        else T_("{first} and no {second}", first=missing[0], second=missing[1])
    )
    return Breach(
        rule=N_("institute oversight"),
        clause=policy.clause("institute_closure"),
        text=T_(
            "institute grant {grant_id} has no {value} recorded (grant-ledger evaluate --kind "
            "third_party_audit|final)",
            grant_id=grant_id,
            value=what,
        ),
    )


def no_open_rectification(grant_id: str, open_ids: Iterable[str], policy: Policy) -> Breach | None:
    pending = sorted(open_ids)
    if not pending:
        return None
    return Breach(
        rule=N_("closure: rectification"),
        clause=policy.clause("closure"),
        text=T_(
            "grant {grant_id} has open rectification(s) {value}",
            grant_id=grant_id,
            value=", ".join(pending),
        ),
    )


def recoveries_settled(grant_id: str, ordered: Decimal, recovered: Decimal, policy: Policy) -> Breach | None:
    if recovered >= ordered:
        return None
    return Breach(
        rule=N_("closure: recoveries"),
        clause=policy.clause("closure"),
        text=T_(
            "grant {grant_id} has {value} of ordered recoveries not yet received (ordered {ordered}, "
            "received {recovered})",
            grant_id=grant_id,
            value=format_yuan(ordered - recovered),
            ordered=format_yuan(ordered),
            recovered=format_yuan(recovered),
        ),
    )


def balance_settled(grant_id: str, source: str, available: Decimal, policy: Policy) -> Breach | None:
    if available == 0:
        return None
    return Breach(
        rule=N_("closure: balance"),
        clause=policy.clause("ring_fence"),
        text=T_(
            "grant {grant_id} still holds {available} of {source} ({value}); spend it or dispose of it "
            "(grant-ledger dispose) first",
            grant_id=grant_id,
            available=format_yuan(available),
            source=source,
            value=SOURCE_ZH[source],
        ),
    )


# ----------------------------------------------------------------------------- compliance (warnings)


def matching_gap(ratio: Decimal | None, subsidy: Decimal, matching: Decimal) -> Decimal:
    """How much matching received falls short of ``ratio`` × the subsidy received (0: none):
    the 1:1 finding's shortfall and ``report matching``'s gap, one figure."""
    if ratio is None:
        return Decimal(0)
    return max(share_of(subsidy, ratio) - matching, Decimal(0))


def matching_at_least_ratio(
    grant_id: str, programme: Programme, subsidy: Decimal, matching: Decimal
) -> Breach | None:
    if programme.matching_ratio is None or programme.matching_clause is None:
        return None
    gap = matching_gap(programme.matching_ratio, subsidy, matching)
    if gap <= 0:
        return None
    return Breach(
        rule=N_("matching 1:1"),
        clause=programme.matching_clause,
        text=T_(
            "grant {grant_id} received {matching} matching against {subsidy} subsidy; 1:1 asks for "
            "{value}, short by {gap}",
            grant_id=grant_id,
            matching=format_yuan(matching),
            subsidy=format_yuan(subsidy),
            value=format_yuan(matching + gap),
            gap=format_yuan(gap),
        ),
    )


def disposed_after_build_period(
    grant_id: str, source: str, build_end: date | None, today: date, available: Decimal, clause: Clause
) -> Breach | None:
    """Money a grant still holds once its build period has ended is spent no more: it is to be
    disposed of (returned or carried forward with approval) and the grant closed."""
    if build_end is None or today <= build_end or available <= 0:
        return None
    return Breach(
        rule=N_("balance after the build period"),
        clause=clause,
        text=T_(
            "the build period of grant {grant_id} ended {build_end} and it still holds {available} of "
            "{source} ({value}); dispose of it (grant-ledger dispose) and close the grant",
            grant_id=grant_id,
            build_end=build_end.isoformat(),
            available=format_yuan(available),
            source=source,
            value=SOURCE_ZH[source],
        ),
    )


def rectification_on_time(
    grant_id: str, ref: str, deadline: date, completed: date | None, today: date, clause: Clause
) -> Breach | None:
    if (completed is not None and completed <= deadline) or (completed is None and today <= deadline):
        return None
    return Breach(
        rule=N_("rectification overdue"),
        clause=clause,
        text=T_(
            "rectification {ref} of grant {grant_id} was due {deadline}, completed {completed}",
            ref=ref,
            grant_id=grant_id,
            deadline=deadline.isoformat(),
            completed=completed.isoformat(),
        )
        if completed
        else T_(
            "rectification {ref} of grant {grant_id} was due {deadline}, still open on {today}",
            ref=ref,
            grant_id=grant_id,
            deadline=deadline.isoformat(),
            today=today.isoformat(),
        ),
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
    elapsed = Fraction((min(today, end) - start).days, (end - start).days)
    if elapsed < Fraction(LATE_SHARE) or Fraction(spent) / Fraction(received) >= Fraction(LOW_EXECUTION):
        return None
    gone = int(elapsed * 100 + Fraction(1, 2))  # a whole percent, half-up from the exact share
    return Breach(
        rule=N_("low execution"),
        clause=clause,
        text=T_(
            "grant {grant_id} has spent {value}% of {received} received with {gone}% of its build period "
            "({start} to {end}) gone",
            grant_id=grant_id,
            value=percent(spent, received),
            received=format_yuan(received),
            gone=gone,
            start=start.isoformat(),
            end=end.isoformat(),
        ),
    )


# ----------------------------------------------------------------------------- one act, all its rules
#
# Each kind of act on an approved grant has one list of checks (``RULES``), run in order by one
# function. The Grant aggregate refuses an act by its first breach; the compliance judge reports
# the first breach of a stored event. A check added to a list is enforced and judged alike:
# there is no other copy of the list to forget.


class GrantFacts(Protocol):
    """What the rules read of a grant just before an act: the aggregate's own state, or the
    compliance judge's replay of stored history."""

    @property
    def grant_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def programme(self) -> str: ...
    @property
    def approved_on(self) -> date | None: ...
    @property
    def build_start(self) -> date | None: ...
    @property
    def build_end(self) -> date | None: ...
    @property
    def subsidy_received(self) -> Decimal: ...
    def build_end_on(self, on: date) -> date | None:
        """The end of the build period as it stood on ``on``: the approval's, or the latest an
        extension dated on or before ``on`` set (the end now where the dates are not known)."""
        ...

    def received_peak(self, on: date, *, coming: bool = False) -> Decimal:
        """The greatest subsidy received at the end of ``on`` and of every later date;
        ``coming``: with the tranches an import's file reverses later."""
        ...

    @property
    def approved(self) -> Decimal: ...
    @property
    def recovery_ordered(self) -> Decimal | None:
        """None: not known (the judge's replay, for a grant a version before it began)."""
        ...

    @property
    def recovered(self) -> Decimal: ...
    @property
    def recovery_ordered_on(self) -> date | None:
        """The date of the earliest recovery order; None: none, or not known (a state kept by an
        earlier version)."""
        ...

    def recovery_room(self, on: date) -> Decimal | None:
        """What a receipt dated ``on`` may be: the recoveries ordered by then and not yet
        received by then, the least of it at ``on`` and at every later date
        (``unanswered_from``); None: not known (a state kept by an earlier version)."""
        ...

    def headroom(self, source: str, on: date, *, coming: bool = False) -> Decimal:
        """The least balance of ``source`` at the end of ``on`` and of every later date;
        ``coming``: with the receipts an import's file brings in later (the ring-fence alone)."""
        ...

    def budget_line(self, content: str, source: str) -> Decimal | None:
        """The plan's amount for content × fund source, adjustments included; None: no plan."""
        ...

    @property
    def plan_dated(self) -> str | None:
        """The ISO date of the budget plan's registration; None: no plan; "": a plan whose date
        is not known (the state of an earlier version)."""
        ...

    def line_room(
        self,
        content: str,
        source: str,
        on: date,
        lines: Mapping[str, Decimal] | None = None,
        also: Sequence[str] = (),
    ) -> LineRoom | None:
        """The least room on the line at the end of ``on`` and of every later date, in yuan
        (``least_line_room``), with ``lines`` set on ``on`` besides (a plan or adjustment being
        decided), the spending stored under the contents ``also`` counted on it (``stored_as``);
        None: no plan on those dates."""
        ...

    def spent_lines(self) -> Iterable[tuple[str, str]]:
        """Each line (content, fund source) anything was ever spent on, reversed spending too."""
        ...


class Act(NamedTuple):  # a tuple: built for every act the aggregate decides and the judge replays
    """An act on a grant as the rules see it. ``action`` is its command (``spend``,
    ``disburse``, ``recover receive``, ``grant adjust``…), which names the role that records it
    and its list of rules."""

    action: str
    on: date
    role: str
    amount: Decimal = Decimal(0)
    source: str = "subsidy"
    category: str = ""
    content: str = ""
    reverses_on: date | None = None  # a reversal: the date of the expenditure it reverses
    # the day a stored act was recorded in Chongqing, for the judge; None where the action itself
    # was judged on its date before anything loaded (ledger.actions.Action.judge)
    today: date | None = None
    lines: Mapping[str, Decimal] | None = None  # a budget plan's or adjustment's lines


Check = Callable[[GrantFacts, Act, Policy], Breach | None]


def recorded_by_its_role(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    if act.action in ROLE_ACTIONS.get(act.role, ()):
        return None
    return role_may_record(act.role, act.action, policy)


def grant_open_for_money(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    if grant.status in OPEN_FOR_MONEY:
        return None
    return approved_before_money(grant.grant_id, grant.status, act.action, policy, grant.programme)


def dated_after_approval(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    approved_on = grant.approved_on
    if approved_on is None or act.on >= approved_on:
        return None
    return not_before_approval(grant.grant_id, approved_on, act.on, act.action, policy, grant.programme)


def business_today() -> date:
    """Today in Chongqing, or GRANT_LEDGER_TODAY (``ledger.clock``)."""
    return clock_today()


def not_dated_ahead(action: str, subject: Text | str, on: date, today: date, policy: Policy) -> Breach | None:
    """A business date is never after the day the act is recorded (Asia/Shanghai): a receipt
    dated ahead would stand in the books as money the grant does not have yet, a review dated
    ahead as a selection step not yet taken."""
    if on <= today:
        return None
    return Breach(
        rule=N_("business date"),
        clause=policy.clause("ring_fence"),
        text=T_(
            "{action} of {subject} is dated {on}, after the day it is recorded ({today}, Asia/Shanghai); a "
            "business date is never in the future",
            action=action,
            subject=subject,
            on=on.isoformat(),
            today=today.isoformat(),
        ),
    )


def dated_by_today(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    if act.today is None or act.on <= act.today:
        return None
    subject = T_("grant {grant_id}", grant_id=grant.grant_id)
    return not_dated_ahead(act.action, subject, act.on, act.today, policy)


def disbursed_within_approval(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    programme = policy.programme(grant.programme)
    clause = programme.subsidy_clause
    if not programme.pays:
        return Breach(
            rule=N_("no subsidy"),
            clause=clause,
            text=T_(
                "grant {grant_id} is a {code} ({zh}): policy support with no money; nothing is disbursed "
                "to it (got {amount})",
                grant_id=grant.grant_id,
                code=programme.code,
                zh=programme.zh,
                amount=format_yuan(act.amount),
            ),
        )
    # against what was received at the act's date and every later one: a tranche dated before a
    # later reversal would otherwise have the total disbursed exceed the approval until that day
    peak = grant.received_peak(act.on, coming=True)
    return tranche_within_approved(grant.grant_id, grant.approved, peak, act.amount, clause)


def ordered_within_received(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    if grant.recovery_ordered is None or grant.recovery_ordered + act.amount <= grant.subsidy_received:
        return None
    return Breach(
        rule=N_("recovery within order"),
        clause=policy.clause("supervision"),
        text=T_(
            "recoveries of {value} would exceed the {subsidy_received} subsidy grant {grant_id} received",
            value=format_yuan(grant.recovery_ordered + act.amount),
            subsidy_received=format_yuan(grant.subsidy_received),
            grant_id=grant.grant_id,
        ),
    )


def recovered_within_order(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    if grant.recovery_ordered is None:
        return None
    return recovery_within_order(grant.grant_id, grant.recovery_ordered, grant.recovered, act.amount, policy)


def received_after_order(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    """A recovery is received on or after the order that called that money back (the supervision
    clause, 003 第十三条, that orders and receipts cite alike): a receipt dated before any order
    answers none, and the receipts dated by any day stay within the orders dated by that day."""
    ordered_on = grant.recovery_ordered_on
    if ordered_on is not None and act.on < ordered_on:
        return Breach(
            rule=N_("recovery date"),
            clause=policy.clause("supervision"),
            text=T_(
                "a recovery for grant {grant_id} received on {on} is dated before its first order, of "
                "{ordered_on}; date it on or after that",
                grant_id=grant.grant_id,
                on=act.on.isoformat(),
                ordered_on=ordered_on.isoformat(),
            ),
        )
    room = grant.recovery_room(act.on)
    if room is None or act.amount <= room:
        return None
    return Breach(
        rule=N_("recovery date"),
        clause=policy.clause("supervision"),
        text=T_(
            "a recovery of {amount} for grant {grant_id} received on {on} is more than the orders "
            "dated by then leave to receive, {room}; date it on or after the order it answers",
            amount=format_yuan(act.amount),
            grant_id=grant.grant_id,
            on=act.on.isoformat(),
            room=format_yuan(max(room, Decimal(0))),
        ),
    )


def unanswered_from(days: dict[str, Amount], on: date, zero: Amount) -> Amount:
    """The recoveries ordered and not yet received, counted by date: ``days`` holds by ISO date
    the amount ordered back that day less the amount received; what is owed at the end of ``on``
    and of each later date, the least of it (``least_balance`` of that book). A receipt dated
    ``on`` adds to what is received by every day from ``on``, so it may be no more than this."""
    return least_balance(sum(days.values(), zero), days, max(days, default=""), on)


def disposed_after_recoveries(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    """A disposal leaves the subsidy that ordered recoveries still owe: disposed of, it could not
    be received back, and the grant could never close (recoveries settled)."""
    if act.source != "subsidy" or grant.recovery_ordered is None:
        return None
    owed = grant.recovery_ordered - grant.recovered
    left = grant.headroom("subsidy", act.on) - act.amount
    if owed <= 0 or left >= owed:
        return None
    return Breach(
        rule=N_("recoveries before disposal"),
        clause=policy.clause("closure"),
        text=T_(
            "disposing of {amount} of the subsidy (财政补助) of grant {grant_id} would leave {value} for the "
            "{owed} of ordered recoveries not yet received; record the recovery (grant-ledger recover "
            "receive) first",
            amount=format_yuan(act.amount),
            grant_id=grant.grant_id,
            value=format_yuan(max(left, Decimal(0))),
            owed=format_yuan(owed),
        ),
    )


def spent_on_permitted_category(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    programme = policy.programmes.get(grant.programme)
    if programme is None or programme.spending is None:
        category = policy.categories.get(act.category)  # a stored code, as the aggregate records it
        if category is not None and category.allowed:
            return None
        return category_permitted(act.category, policy)[1]
    if act.category in programme.spending.allowed:
        return None
    return category_for_programme(act.category, programme, policy)[1]


def spent_in_build_period(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    """Spending dated within the build period as it stood on its date: an extension dated later
    does not reach back over days the period had already ended on."""
    start, end = grant.build_start, grant.build_end_on(act.on)
    if start is None or end is None or start <= act.on <= end:
        return None
    clause = build_clause(policy.programme(grant.programme), policy)
    return within_build_period(grant.grant_id, act.on, start, end, clause)


def paid_from_own_source(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    """The ring-fence: the act leaves its source's balance non-negative at the end of its date
    and of every later date."""
    room = grant.headroom(act.source, act.on, coming=True)
    if act.amount <= room:
        return None
    return within_fund_source(grant.grant_id, act.source, room, act.amount, policy, act.action)


def reversed_after_spending(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    """A reversal dated before its expenditure would credit dates on which the money was never
    spent, and a spend dated then could overdraw them (None: the date is not known). A receipt's
    reversal dated before the receipt would take money out on dates it was never held."""
    if act.reverses_on is None or act.on >= act.reverses_on:
        return None
    values = {
        "on": act.on.isoformat(),
        "grant_id": grant.grant_id,
        "reverses_on": act.reverses_on.isoformat(),
    }
    return Breach(
        rule=N_("reversal date"),
        clause=policy.clause("ring_fence"),
        text=T_(
            "a reversal dated {on} is before the expenditure of grant {grant_id} it reverses, dated "
            "{reverses_on}; date it on or after that",
            **values,
        )
        if act.action == "reverse"
        else T_(
            "a reversal dated {on} is before the act of grant {grant_id} it reverses, dated "
            "{reverses_on}; date it on or after that",
            **values,
        ),
    )


def reversed_by_its_role(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    """A receipt's or commitment's reversal is a ``reverse``, recorded by whoever may reverse."""
    return recorded_by_its_role(grant, act._replace(action="reverse"), policy)


def reversal_keeps_received(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    """A disbursement's reversal leaves the subsidy received covering the recoveries ordered."""
    if act.source != "subsidy" or grant.recovery_ordered is None:
        return None
    left = grant.subsidy_received - act.amount
    if grant.recovery_ordered <= left:
        return None
    return Breach(
        rule=N_("recovery within order"),
        clause=policy.clause("supervision"),
        text=T_(
            "reversing {amount} of subsidy leaves grant {grant_id} {left} received, below the "
            "{recovery_ordered} of recoveries ordered",
            amount=format_yuan(act.amount),
            grant_id=grant.grant_id,
            left=format_yuan(left),
            recovery_ordered=format_yuan(grant.recovery_ordered),
        ),
    )


def stored_as(grant: GrantFacts, policy: Policy) -> dict[tuple[str, str], list[str]]:
    """Each line spent on (content code, fund source), with the other texts its spending is stored
    under: a construction content's Chinese or English name, as an import row typed it when an
    earlier version kept it so (a spend now keeps its code). Spending naming no content is none."""
    found: dict[tuple[str, str], list[str]] = {}
    for content, source in grant.spent_lines():
        if not content:
            continue
        named = policy.find_content(content)
        code = named.code if named is not None else content
        names = found.setdefault((code, source), [])
        if content != code:
            names.append(content)
    return found


def spent_on_known_content(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    """A spend that names its construction content names one of 表4-2's, the lines a budget plan
    is kept under: one it could never hold would leave the grant without a plan for good (a plan
    is refused below what is spent on each line, ``planned_above_spending``)."""
    if not act.content or act.content in policy.contents:
        return None
    return Breach(
        rule=N_("construction content"),
        clause=policy.clause("budget_plan"),
        text=T_(
            "construction content {text!r} is unknown; use {known}, or none while the grant has no "
            "budget plan",
            text=act.content,
            known=", ".join(policy.contents),
        ),
    )


def spent_within_budget_line(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    line = grant.budget_line(act.content, act.source)
    if line is None:
        return None
    if not act.content:
        return Breach(
            rule=N_("budget line"),
            clause=policy.clause("budget_plan"),
            text=T_(
                "grant {grant_id} has a budget plan: spending names its construction content ({value}); "
                "--content is required (an import's content column)",
                grant_id=grant.grant_id,
                value=", ".join(policy.contents),
            ),
        )
    also = stored_as(grant, policy).get((act.content, act.source), [])
    room = grant.line_room(act.content, act.source, act.on, None, also)
    return within_budget_line(grant.grant_id, act.content, act.source, room, act.amount, policy)


def adjusted_after_its_plan(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    """A budget adjustment changes a registered plan, dated on or after it."""
    planned = grant.plan_dated
    if planned == "" or (planned is not None and act.on.isoformat() >= planned):
        return None
    text = (
        T_(
            "grant {grant_id} has no budget plan to adjust; register it with `grant budget`",
            grant_id=grant.grant_id,
        )
        if planned is None
        else T_(
            "grant {grant_id}'s budget plan is dated {planned}; an adjustment dated {on} would come before "
            "it: date it on or after the plan",
            grant_id=grant.grant_id,
            planned=planned,
            on=act.on.isoformat(),
        )
    )
    return Breach(rule=N_("budget first"), clause=policy.clause("budget_plan"), text=text)


def planned_above_spending(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    """Each line a plan or adjustment sets covers what is spent on it from its date on; so does
    each line spent on that it leaves out, which a plan holds at nil (as a later spend on it finds
    it, ``spent_within_budget_line``) wherever the act changes it: a registration always, an
    adjustment only on dates no plan stood before it (one left out of an adjustment keeps what the
    plan gave it). Spending stored under a content's name is on its line (``stored_as``); spending
    that names no construction content is on no line a plan could name:
    it is left to ``report budget``, outside the plan."""
    what = T_("the budget plan") if act.action == "grant budget" else T_("the budget adjustment")
    touched = set()
    for key in act.lines or {}:
        content, _, bsource = key.partition("/")
        touched.add((content, BUDGET_TO_FUND.get(bsource, "")))
    spent = stored_as(grant, policy)
    for content, source in sorted(touched | spent.keys()):
        named = (content, source) in touched
        also = spent.get((content, source), [])
        room = grant.line_room(content, source, act.on, act.lines, also)
        if not named and (
            room is None or room.room >= 0 or room == grant.line_room(content, source, act.on, None, also)
        ):
            continue  # covered, or as it stood before the act
        breach = plan_covers_spending(grant.grant_id, what, content, source, room, policy, named=named)
        if breach is not None:
            return breach
    return None


# Every act on an approved grant: by its role, while the grant is open, not before its approval.
OPEN_RULES: tuple[Check, ...] = (
    recorded_by_its_role,
    grant_open_for_money,
    dated_after_approval,
    dated_by_today,
)
RULES: dict[str, tuple[Check, ...]] = {
    "grant budget": (*OPEN_RULES, planned_above_spending),
    "grant adjust": (*OPEN_RULES, adjusted_after_its_plan, planned_above_spending),
    "grant extend": OPEN_RULES,
    "output report": OPEN_RULES,
    "evaluate": OPEN_RULES,
    "rectify order": OPEN_RULES,
    "rectify complete": OPEN_RULES,
    "recover order": (*OPEN_RULES, ordered_within_received),
    "grant close": OPEN_RULES,
    "disburse": (*OPEN_RULES, disbursed_within_approval),
    "match commit": OPEN_RULES,
    "match receive": OPEN_RULES,
    "spend": (
        *OPEN_RULES,
        spent_on_permitted_category,
        spent_in_build_period,
        paid_from_own_source,
        spent_on_known_content,
        spent_within_budget_line,
    ),
    "reverse": (recorded_by_its_role, grant_open_for_money, dated_by_today, reversed_after_spending),
    # the reversal of a disbursement or matching receipt takes money out of its source: the
    # ring-fence holds at the end of its date and of every later one
    "reverse receipt": (
        reversed_by_its_role,
        grant_open_for_money,
        dated_by_today,
        reversed_after_spending,
        reversal_keeps_received,
        paid_from_own_source,
    ),
    "reverse commitment": (
        reversed_by_its_role,
        grant_open_for_money,
        dated_by_today,
        reversed_after_spending,
    ),
    "recover receive": (*OPEN_RULES, recovered_within_order, received_after_order, paid_from_own_source),
    "dispose": (*OPEN_RULES, paid_from_own_source, disposed_after_recoveries),
}


def breaches(grant: GrantFacts, act: Act, policy: Policy) -> list[Breach]:
    """Every rule ``act`` breaks on ``grant``, in the order of its action's list."""
    found = []
    for check in RULES[act.action]:
        breach = check(grant, act, policy)
        if breach is not None:
            found.append(breach)
    return found


def first_of(grant: GrantFacts, act: Act, policy: Policy) -> Breach | None:
    """The first rule ``act`` breaks on ``grant`` (the later checks are not run)."""
    for check in RULES[act.action]:
        breach = check(grant, act, policy)
        if breach is not None:
            return breach
    return None


def refuse_breaches(grant: GrantFacts, act: Act, policy: Policy) -> None:
    """Raise the first rule ``act`` breaks, as the aggregate refuses it."""
    breach = first_of(grant, act, policy)
    if breach is not None:
        raise breach.error()
