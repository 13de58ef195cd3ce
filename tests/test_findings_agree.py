"""The ledger's words for the findings that follow from events alone (``ledger/conditions.py``,
used by ``report findings`` and the bundle's findings sheet) and the auditor's verifier's own
(``audit/verifier/findings.py``, no ledger code) are the same, for any declared figures, unit
kind and yearly outputs, in Chinese and in English: a property over the shipped policy."""

from __future__ import annotations

import tomllib
from datetime import date
from importlib import resources
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.verifier.findings import _application, _outputs
from audit.verifier.policy import BundlePolicy
from audit.verifier.replay import GrantTotals
from ledger.actions import DECLARED_FIGURES
from ledger.conditions import application_breaches, output_breaches
from ledger.i18n import speaking
from ledger.labels import label
from ledger.policy import current_policy
from ledger.unit_kinds import UNIT_KINDS

POLICY = current_policy()
BUNDLE = BundlePolicy(
    POLICY.source,
    tomllib.loads((resources.files("ledger") / "policy" / POLICY.source).read_text("utf-8")),
)
PROGRAMMES = sorted(POLICY.programmes)
figures = st.dictionaries(
    st.sampled_from(DECLARED_FIGURES), st.integers(0, 3000) | st.sampled_from([0, 1, 20])
)
counts = st.integers(0, 4000)


def ledger_rows(
    grant: str, programme: str, kind: str, declared: dict[str, int], projects: int | None = None
) -> list[list[Any]]:
    found = application_breaches(grant, POLICY.programme(programme), kind, declared, projects)
    return [[label("rule", b.rule), b.clause.cite, b.message] for b in found]


languages = st.sampled_from(("zh", "en"))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(PROGRAMMES),
    st.sampled_from(("", *UNIT_KINDS)),
    figures,
    languages,
    st.none() | st.integers(1, 8),  # the professions named (None: not known)
)
def test_application_findings_are_worded_alike(
    programme: str, kind: str, declared: dict[str, int], lang: str, projects: int | None
) -> None:
    g = GrantTotals("G1", "B1", "", programme, unit_kind=kind, declared=dict(declared), projects=projects)
    bundle = BUNDLE.programme(programme)
    assert bundle is not None
    with speaking(lang):
        verifier = [[r[2], r[3], r[5]] for r in _application(g, bundle)]
        assert verifier == ledger_rows("G1", programme, kind, declared, projects)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(PROGRAMMES),
    st.integers(2023, 2026),
    st.integers(2022, 2030),
    counts,
    counts,
    counts,
    counts,
    languages,
)
def test_output_findings_are_worded_alike(
    programme: str,
    start: int,
    year: int,
    trainees: int,
    advanced: int,
    evaluations: int,
    advanced_ev: int,
    lang: str,
) -> None:
    out = {
        "trainees": trainees,
        "advanced": advanced,
        "evaluations": evaluations,
        "advanced_evaluations": advanced_ev,
    }
    g = GrantTotals("G1", "B1", "", programme, build_start=f"{start}-04-01")
    g.outputs[year] = out
    bundle = BUNDLE.programme(programme)
    assert bundle is not None
    with speaking(lang):
        verifier = [[r[2], r[3], r[5]] for r in _outputs(g, year, bundle)]
        found = output_breaches(
            "G1", POLICY.programme(programme), date(start, 4, 1), SimpleNamespace(year=year, **out)
        )
        assert verifier == [[label("rule", b.rule), b.clause.cite, b.message] for b in found]
