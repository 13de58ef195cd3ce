"""The bundle's findings sheet, derived from the replay and the bundle's (verified) policy.

The bundle reports the findings that follow from its events and the policy alone, whatever the
day it is read: an application's unit kind or declared figures short of the programme's host
units and application conditions, matching below the programme's ratio, and yearly outputs
below its targets (the ledger's ``report findings`` words them the same way;
``ledger/conditions.py``). Findings
that depend on the day they are read (overdue rectifications, low execution) or on the ledger's
judge of stored history are in ``report findings``, not in the bundle: nothing signed fixes the
day, and the verifier does not re-run the ledger's judge.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from audit.verifier.i18n import LANG, N_, _
from audit.verifier.policy import BundlePolicy, Programme
from audit.verifier.replay import GrantTotals, Replay

# the rules' names and the measures' and figures' words, as the ledger's catalogue has them
RULES = (
    N_("matching 1:1"),
    N_("host unit"),
    N_("application condition"),
    N_("projects count"),
    N_("output target"),
)
# the levels whose count of professions a finding judges (003 第六条 原则上; ledger.rules)
PROJECTS_IN_PRINCIPLE = frozenset({"district"})
MEASURES = {"advanced_evaluations": N_("advanced evaluations")}
WORDS = (
    *(N_("trainees"), N_("advanced"), N_("evaluations"), N_("trained"), N_("capacity"), N_("students")),
    *(N_("teachers"), N_("instructors"), N_("senior_instructors"), N_("places"), N_("integrated_teachers")),
    *(N_("technician_instructors"), N_("skilled_workers"), N_("workforce"), N_("partners")),
    N_("joint_majors"),
)


def _yuan(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,.2f}"


def expected_findings(replay: Replay, policy: BundlePolicy) -> list[list[Any]]:
    """The findings sheet, in Chinese whatever the reader's language: the bundle files it so
    (``audit/bundle.py``)."""
    token = LANG.set("zh")
    try:
        return _expected_findings(replay, policy)
    finally:
        LANG.reset(token)


def _expected_findings(replay: Replay, policy: BundlePolicy) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for g in sorted(replay.grants.values(), key=lambda g: (g.base_id, g.grant_id)):
        programme = policy.programme(g.programme)
        if programme is None:
            continue
        # an application is judged by the version in force on its date (as `report findings`): a
        # version taking effect later neither adds nor drops its findings
        applied = (policy.in_force(g.applied_on) or policy).programme(g.programme) if g.applied_on else None
        rows.extend(_application(g, applied or programme))
        if g.status not in ("approved", "closed"):
            continue
        subsidy, matching = g.amounts["subsidy_received"], g.amounts["matching_received"]
        if programme.matching_ratio is not None and programme.matching_clause is not None:
            # half-up (四舍五入), as the ledger's share_of: a bundle's figure is the ledger's
            needed = (subsidy * programme.matching_ratio).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            if matching < needed:
                message = _(
                    "grant {grant_id} received {matching} matching against {subsidy} subsidy; 1:1 asks for "
                    "{value}, short by {gap}"
                ).format(
                    grant_id=g.grant_id,
                    matching=_yuan(matching),
                    subsidy=_yuan(subsidy),
                    value=_yuan(needed),
                    gap=_yuan(needed - matching),
                )
                rule = _("matching 1:1")
                rows.append([g.base_id, g.grant_id, rule, programme.matching_clause, None, message])
        for year in sorted(g.outputs):
            rows.extend(_outputs(g, year, programme))
    return rows


def _ratio(value: Fraction, share: bool = False) -> str:
    if share:
        value *= 100
    shown = Decimal(value.numerator) / Decimal(value.denominator)
    text = str(shown.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return f"{text}%" if share else text


def _shown(bound: Decimal, share: bool) -> str:
    return _ratio(Fraction(bound), share) if share else str(bound)


def _application(g: GrantTotals, programme: Programme) -> list[list[Any]]:
    """The unit's kind against the programme's host units, and the declared figures against its
    application conditions (as ``ledger/conditions.py`` words them)."""
    rows = []
    if programme.hosts and g.unit_kind and g.unit_kind not in programme.hosts and programme.hosts_clause:
        message = _(
            "grant {grant_id} is a {programme} applied for by a unit of kind {kind}; its bases rest mainly "
            "on {hosts}"
        ).format(
            grant_id=g.grant_id, programme=programme.code, kind=g.unit_kind, hosts=_both(programme.hosts)
        )
        rows.append([g.base_id, g.grant_id, _("host unit"), programme.hosts_clause, None, message])
    for c in programme.conditions:
        kinds = c.get("kinds")
        if kinds and (not isinstance(kinds, list) or g.unit_kind not in kinds):  # asked of those kinds only
            continue
        what = _shortfall(g.declared, c)
        if what is not None:
            message = _("grant {grant_id} declared {what} at application; the programme asks {bound}").format(
                grant_id=g.grant_id, what=what, bound=_bound(c)
            )
            rows.append([g.base_id, g.grant_id, _("application condition"), c["clause"], None, message])
    if g.projects is not None and programme.level in PROJECTS_IN_PRINCIPLE and programme.projects_clause:
        count = _projects(g.projects, programme)
        if count is not None:
            rows.append([g.base_id, g.grant_id, _("projects count"), programme.projects_clause, None, count])
    return rows


def _projects(n: int, programme: Programme) -> str | None:
    """The count of professions against the programme's, as ``ledger.rules.projects_in_range``
    words it; None within it."""
    low, high = programme.projects_min, programme.projects_max
    if (low is None or n >= low) and (high is None or n <= high):
        return None
    if high is not None:
        return _(
            "a {code} ({zh}) application names {low}–{high} professions or projects (--project); this one "
            "names {n}"
        ).format(code=programme.code, zh=programme.zh, low=low, high=high, n=n)
    return _(
        "a {code} ({zh}) application names at least {low} professions or projects (--project); this one "
        "names {n}"
    ).format(code=programme.code, zh=programme.zh, low=low, n=n)


def _is_share(c: dict[str, Any]) -> bool:
    bounds = [Decimal(str(b)) for b in (c.get("at_least"), c.get("at_most")) if b is not None]
    return c.get("per") is not None and bool(bounds) and all(b <= 1 for b in bounds)


def _bound(c: dict[str, Any]) -> str:
    share = _is_share(c)
    low, high = c.get("at_least"), c.get("at_most")
    low = None if low is None else _shown(Decimal(str(low)), share)
    high = None if high is None else _shown(Decimal(str(high)), share)
    if low is not None and high is not None:
        return _("between {low} and {high}").format(low=low, high=high)
    if low is not None:
        return _("at least {low}").format(low=low)
    return _("at most {high}").format(high=high)


def _both(names: tuple[str, ...] | list[str]) -> str:
    if len(names) == 2:
        return _("{first} and {second}").format(first=names[0], second=names[1])
    return ", ".join(names)


def _shortfall(declared: dict[str, int], c: dict[str, Any]) -> str | None:
    """What the application declared against condition ``c``, when it falls outside it."""
    figure = declared.get(c["figure"])
    if figure is None:
        return None
    low = None if c.get("at_least") is None else Fraction(Decimal(str(c["at_least"])))
    high = None if c.get("at_most") is None else Fraction(Decimal(str(c["at_most"])))
    name = _(str(c["figure"]))
    if c.get("per") is None:
        value, what = Fraction(figure), _("{figure} {value}").format(figure=name, value=figure)
    else:
        per = declared.get(c["per"])
        if per is None or (per == 0 and figure == 0):
            return None
        of = _(str(c["per"]))
        if per == 0:  # none to divide by: above any upper bound, never below a lower one
            what = _("{figure} {value} per {per} {count}").format(
                figure=name, value=figure, per=of, count=per
            )
            return what if high is not None else None
        value = Fraction(figure, per)
        what = _("{figure} {value} per {per} {count} ({ratio})").format(
            figure=name, value=figure, per=of, count=per, ratio=_ratio(value, _is_share(c))
        )
    if (low is None or value >= low) and (high is None or value <= high):
        return None
    return what


def _outputs(g: GrantTotals, year: int, programme: Programme) -> list[list[Any]]:
    out = g.outputs[year]
    rows = []
    for target in programme.outputs:
        from_year = int(target.get("from_year", 0))
        if from_year and (not g.build_start or year < date.fromisoformat(g.build_start).year + from_year):
            continue
        goal = Decimal(str(target["at_least"]))
        value = out.get(target["measure"])
        if not isinstance(value, int) or value >= goal:
            continue
        measure = _(MEASURES.get(str(target["measure"]), str(target["measure"])))
        message = _(
            "grant {grant_id} reported {measure} {value} for {year}, below the target {target}"
        ).format(grant_id=g.grant_id, measure=measure, value=value, year=year, target=goal)
        rows.append([g.base_id, g.grant_id, _("output target"), target["clause"], None, message])
    return rows
