"""Application conditions and output targets, judged as findings (never refusals).

An applicant "原则上" meets its programme's conditions (003 第六条, 002 四(一)2): the figures it
declares at ``grant apply`` are compared with them, exactly, and a shortfall is a finding on the
application. A base then produces its yearly outputs (003 第十一条, 000 第五条/第九条, 002
四(一)1(5)): a year's report below a target is a finding. ``report findings`` and the audit
bundle's findings sheet both word them here; the auditor's verifier words them again on its own
(``audit/verifier/findings.py``), and the two are held equal by the tests.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from ledger.i18n import N_, T_, Text
from ledger.labels import lazy
from ledger.policy import Condition, Programme
from ledger.rules import PROJECTS_IN_PRINCIPLE, Breach, projects_in_range


def ratio_text(value: Fraction, share: bool = False) -> str:
    """An exact ratio shown to two places, half up (四舍五入); a share as a percentage."""
    if share:
        value *= 100
    shown = Decimal(value.numerator) / Decimal(value.denominator)
    text = str(shown.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return f"{text}%" if share else text


def is_share(condition: Condition) -> bool:
    """A part of a whole (高级工以上占20%以上), shown as a percentage, not a ratio such as 师生比."""
    bounds = [b for b in (condition.at_least, condition.at_most) if b is not None]
    return condition.per is not None and bool(bounds) and all(b <= 1 for b in bounds)


def _bound(condition: Condition) -> Text:
    share = is_share(condition)

    def shown(bound: Decimal) -> str:
        return ratio_text(Fraction(bound), share) if share else str(bound)

    low, high = condition.at_least, condition.at_most
    if low is not None and high is not None:
        return T_("between {low} and {high}", low=shown(low), high=shown(high))
    if low is not None:
        return T_("at least {low}", low=shown(low))
    return T_("at most {high}", high=shown(high))  # type: ignore[arg-type]


def condition_breach(grant_id: str, condition: Condition, declared: dict[str, int]) -> Breach | None:
    figure = declared.get(condition.figure)
    if figure is None:
        return None
    what: Text | str
    if condition.per is None:
        value = Fraction(figure)
        what = T_("{figure} {value}", figure=lazy("figure", condition.figure), value=figure)
    else:
        per = declared.get(condition.per)
        if per is None or (per == 0 and figure == 0):
            return None
        if per == 0:  # students and no teacher: more per teacher than any bound
            if condition.at_most is None:
                return None
            what = T_(
                "{figure} {value} per {per} {count}",
                figure=lazy("figure", condition.figure),
                value=figure,
                per=lazy("figure", condition.per),
                count=per,
            )
            return _breach(grant_id, condition, what)
        value = Fraction(figure, per)
        what = T_(
            "{figure} {value} per {per} {count} ({ratio})",
            figure=lazy("figure", condition.figure),
            value=figure,
            per=lazy("figure", condition.per),
            count=per,
            ratio=ratio_text(value, is_share(condition)),
        )
    low, high = condition.at_least, condition.at_most
    if (low is None or value >= Fraction(low)) and (high is None or value <= Fraction(high)):
        return None
    return _breach(grant_id, condition, what)


def asked_of(condition: Condition, unit_kind: str) -> bool:
    """A condition of some kinds of unit only (002 四(一)1(2): a share of the enterprise's own
    workforce, "依托企业建设的") is asked of a unit known to be of one of them."""
    return not condition.kinds or unit_kind in condition.kinds


def _breach(grant_id: str, condition: Condition, what: Text | str) -> Breach:
    return Breach(
        rule=N_("application condition"),
        clause=condition.clause,
        text=T_(
            "grant {grant_id} declared {what} at application; the programme asks {bound}",
            grant_id=grant_id,
            what=what,
            bound=_bound(condition),
        ),
    )


def host_breach(grant_id: str, programme: Programme, unit_kind: str) -> Breach | None:
    """The unit's kind is one the programme's bases rest on (not judged when unknown)."""
    if not programme.hosts or not unit_kind or unit_kind in programme.hosts or programme.hosts_clause is None:
        return None
    return Breach(
        rule=N_("host unit"),
        clause=programme.hosts_clause,
        text=T_(
            "grant {grant_id} is a {programme} applied for by a unit of kind {kind}; its bases rest mainly "
            "on {hosts}",
            grant_id=grant_id,
            programme=programme.code,
            kind=unit_kind,
            hosts=_both(programme.hosts),
        ),
    )


def _both(names: tuple[str, ...]) -> Text | str:
    if len(names) == 2:
        return T_("{first} and {second}", first=names[0], second=names[1])
    return ", ".join(names)


def application_breaches(
    grant_id: str,
    programme: Programme,
    unit_kind: str,
    declared: dict[str, int] | None,
    projects: int | None = None,
) -> list[Breach]:
    """``projects``: the count of professions the application named (None: not known, kept by an
    earlier version or brought by an import, ``rules.named_projects``); judged here where the programme
    asks it "原则上" (``PROJECTS_IN_PRINCIPLE``)."""
    found = [host_breach(grant_id, programme, unit_kind)]
    found += [
        condition_breach(grant_id, c, declared or {}) for c in programme.conditions if asked_of(c, unit_kind)
    ]
    clause = programme.projects_clause
    if projects is not None and programme.level in PROJECTS_IN_PRINCIPLE and clause is not None:
        found.append(projects_in_range(programme, projects, clause))
    return [b for b in found if b is not None]


def output_breaches(grant_id: str, programme: Programme, build_start: date | None, out: Any) -> list[Breach]:
    """A year's output report (``out``: year and the measures as attributes) below the
    programme's yearly targets; a target ``from_year`` years after the build start is judged from
    the report year build start's year + from_year on."""
    found = []
    for target in programme.outputs:
        if target.from_year and (build_start is None or out.year < build_start.year + target.from_year):
            continue
        value = getattr(out, target.measure)
        if value >= target.at_least:
            continue
        found.append(
            Breach(
                rule=N_("output target"),
                clause=target.clause,
                text=T_(
                    "grant {grant_id} reported {measure} {value} for {year}, below the target {target}",
                    grant_id=grant_id,
                    measure=lazy("measure", target.measure),
                    value=value,
                    year=out.year,
                    target=target.at_least,
                ),
            )
        )
    return found
