"""What each page shows, read with the command line's own queries (projections.queries,
projections.reports, projections.budget, projections.findings): no figure is computed here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.engine import Engine

from commands.reading import bases_named
from ledger.clock import business_today
from ledger.district import find_district
from ledger.errors import NotFoundError
from ledger.provenance import Provenance
from projections.budget import BudgetLine, budget_against_actual
from projections.findings import Finding, findings
from projections.queries import Balance, balances
from projections.reports import (
    ExecutionLine,
    HistoryLine,
    MatchingLine,
    count_grants,
    districts_present,
    execution,
    grant_exists,
    history_page,
    list_grants,
    matching,
    reversals,
)

PAGE_SIZE = 50
HISTORY_PAGE = 100  # a grant's latest events on its page; earlier ones a page back at a time


@dataclass(frozen=True)
class Overview:
    rows: list[Balance]
    page: int
    pages: int
    total: int
    programme: str
    status: str
    # per grant on the page: 执行率 against build time elapsed (report execution), matching
    # received against what the programme asks (report matching), findings open today (report
    # findings); each read for the page's bases at once
    execution: dict[str, ExecutionLine] = field(default_factory=dict)
    matching: dict[str, MatchingLine] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)
    # the district filter (a code, "" for all) and the districts the ledger's bases stand in
    district: str = ""
    districts: tuple[str, ...] = ()


def overview(
    engine: Engine, programme: str = "", status: str = "", page: int = 1, district: str = ""
) -> Overview:
    """The grants a filter keeps, by base, one page of them with their balances; ``district``: a
    district's code or Chinese name (one the ledger does not know keeps no grant)."""
    found_district = find_district(district) if district else None
    code = found_district.code if found_district else district
    kept = (programme or None, status or None, None, code or None)
    total = count_grants(engine, *kept)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    chosen = list_grants(engine, *kept, page=((page - 1) * PAGE_SIZE, PAGE_SIZE))
    on_page = sorted({g.base_id for g in chosen})
    found = {b.grant_id: b for b in balances(engine, on_page)}
    rows = [found[g.grant_id] for g in chosen if g.grant_id in found]
    present = tuple(districts_present(engine))
    if not on_page:
        return Overview(rows, page, pages, total, programme, status, district=code, districts=present)
    today = business_today()
    open_findings: dict[str, int] = {}
    for f in findings(engine, today, on_page):
        open_findings[f.grant_id] = open_findings.get(f.grant_id, 0) + 1
    return Overview(
        rows,
        page,
        pages,
        total,
        programme,
        status,
        execution={e.grant_id: e for e in execution(engine, on_page, today=today)},
        matching={m.grant_id: m for m in matching(engine, on_page, ratios=matching_ratios())},
        findings=open_findings,
        district=code,
        districts=present,
    )


def matching_ratios() -> dict[str, Decimal | None]:
    """Each programme's matching ratio, as `report matching` reads it (the current policy)."""
    from ledger.policy import current_policy

    return {code: p.matching_ratio for code, p in current_policy().programmes.items()}


@dataclass(frozen=True)
class GrantPage:
    balance: Balance
    budget: list[BudgetLine]
    history: list[HistoryLine]
    findings: list[Finding]
    provenance: dict[int, Provenance]
    earlier: int | None = None  # the event to page back from, where earlier events exist
    reversals: list[tuple[str, str]] = field(default_factory=list)
    tier: str = ""  # a national base's, as its approval named it (002 二(一))
    track: str = ""  # a municipal base's kind, as its application named it (002 二(二))


def grant_page(
    engine: Engine,
    grant_id: str,
    signatures: Callable[[str, tuple[int, int] | None], dict[int, Provenance]],
    before: int | None = None,
) -> GrantPage:
    """The grant's figures, and its history's latest HISTORY_PAGE events (those recorded before
    event ``before``) with their signatures checked."""
    if not grant_exists(engine, grant_id):
        raise NotFoundError(f"grant {grant_id!r} is not in the ledger")
    (base_id,) = bases_named(engine, [grant_id])
    balance = next(b for b in balances(engine, [base_id]) if b.grant_id == grant_id)
    listed = next(g for g in list_grants(engine, base_id=base_id) if g.grant_id == grant_id)
    lines, earlier = history_page(engine, grant_id, last=HISTORY_PAGE, before=before)
    within = (lines[0].event_id, lines[-1].event_id) if lines else None
    return GrantPage(
        balance=balance,
        budget=[line for line in budget_against_actual(engine, [base_id]) if line.grant_id == grant_id],
        history=lines,
        findings=[f for f in findings(engine, business_today(), [base_id]) if f.grant_id == grant_id],
        provenance=signatures(grant_id, within) if lines else {},
        earlier=earlier,
        reversals=reversals(engine, grant_id),
        tier=listed.tier,
        track=listed.track,
    )


def programme_names(lang: str) -> dict[str, str]:
    from ledger.policy import policy_in_force

    return {code: p.label(lang) for code, p in policy_in_force(business_today()).programmes.items()}


def category_names(lang: str) -> dict[str, str]:
    from ledger.policy import policy_in_force

    return {code: c.label(lang) for code, c in policy_in_force(business_today()).categories.items()}
