"""The bundle's findings sheet, derived from the replay and the bundle's (verified) policy.

The bundle reports the findings that follow from its events and the policy alone, whatever the
day it is read: matching below the programme's ratio, and yearly outputs below its targets
(the ledger's ``report findings`` words them the same way; ``projections/findings.py``). Findings
that depend on the day they are read (overdue rectifications, low execution) or on the ledger's
judge of stored history are in ``report findings``, not in the bundle: nothing signed fixes the
day, and the verifier does not re-run the ledger's judge.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from audit.verifier.policy import BundlePolicy
from audit.verifier.replay import GrantTotals, Replay

# target key -> (reported measure, what it counts in the output report, clause kind)
_TARGETS: dict[str, tuple[str, str, str]] = {
    "trained_per_year": ("trainees", "trainees", "outputs"),
    "advanced_share": ("advanced share", "", "outputs"),
    "advanced_per_year": ("advanced", "advanced", "outputs"),
    "evaluated_per_year": ("evaluations", "evaluations", "evaluation"),
    "evaluated_advanced_per_year": ("advanced evaluations", "advanced_evaluations", "evaluation"),
    "high_skill_per_year_after_2y": ("advanced", "advanced", "after"),
}
_CLAUSES = {
    ("district", "outputs"): "district_outputs",
    ("district", "after"): "district_outputs_after",
    ("institute", "outputs"): "institute_training",
    ("institute", "evaluation"): "institute_evaluation",
    ("municipal", "outputs"): "municipal_outputs",
}


def _yuan(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,.2f}"


def expected_findings(replay: Replay, policy: BundlePolicy) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for g in sorted(replay.grants.values(), key=lambda g: (g.base_id, g.grant_id)):
        if g.status not in ("approved", "closed"):
            continue
        programme = policy.programme(g.programme)
        if programme is None:
            continue
        subsidy, matching = g.amounts["subsidy_received"], g.amounts["matching_received"]
        if programme.matching_ratio is not None and programme.matching_clause is not None:
            needed = (subsidy * programme.matching_ratio).quantize(Decimal("0.01"))
            if matching < needed:
                message = (
                    f"grant {g.grant_id} received {_yuan(matching)} matching against {_yuan(subsidy)} "
                    f"subsidy; 1:1 asks for {_yuan(needed)}, short by {_yuan(needed - matching)}"
                )
                rows.append([g.base_id, g.grant_id, "matching 1:1", programme.matching_clause, None, message])
        for year in sorted(g.outputs):
            rows.extend(_outputs(g, year, programme.level, programme.targets, policy))
    return rows


def _outputs(
    g: GrantTotals, year: int, level: str, targets: dict[str, Any], policy: BundlePolicy
) -> list[list[Any]]:
    out = g.outputs[year]
    rows = []
    for key, target in targets.items():
        measure, field, kind = _TARGETS.get(key, ("", "", ""))
        clause_key = _CLAUSES.get((level, kind), "supervision")
        goal = Decimal(str(target))
        if key == "advanced_share":
            if out["trainees"] == 0:
                continue
            value = (Decimal(out["advanced"]) / Decimal(out["trainees"])).quantize(Decimal("0.01"))
        elif key == "high_skill_per_year_after_2y":
            if not g.build_start or year < date.fromisoformat(g.build_start).year + 2:
                continue
            value = Decimal(out[field])
        elif field:
            value = Decimal(out[field])
        else:
            continue
        if value >= goal:
            continue
        message = f"grant {g.grant_id} reported {measure} {value} for {year}, below the target {goal}"
        rows.append([g.base_id, g.grant_id, "output target", policy.cite(clause_key), None, message])
    return rows
