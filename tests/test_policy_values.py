"""A policy version's figures are read strictly when it is installed: an amount, a ratio or a
count that is no number of 0 or more, a build period that is no whole number of years, a flag
that is no true or false, a date that is no date. `policy install` had signed such a version
into the log (exit 0), after which every approval under it stopped with an internal error
(exit 1), and no later version could take its place for the days it covered."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import BadInputError
from ledger.policy import parse_policy
from tests.conftest import Ledger
from tests.test_redteam import _shipped, _version_from_today

BAD = [
    ('subsidy_max = "200000.00"', 'subsidy_max = "NaN"', "[programmes.district_base] subsidy_max"),
    ('subsidy_max = "200000.00"', 'subsidy_max = ["nope"]', "[programmes.district_base] subsidy_max"),
    ('subsidy_min = "1000000.00"', 'subsidy_min = "3000000.00"', "subsidy_min 3000000.00 is above"),
    ("build_years = 2\n", "build_years = 1.5\n", "[programmes.district_base] build_years"),
    ("build_years = 2\n", "build_years = 0\n", "[programmes.district_base] build_years"),
    ('matching_ratio = "1"', "matching_ratio = -1", "[programmes.district_base] matching_ratio"),
    ("allowed = true", 'allowed = "x"', "[categories.equipment] allowed"),
    ('document = "003"', "document = 2999-12-31", "[programmes.district_base] document"),
    ("at_least = 800", 'at_least = "x"', "[[conditions.district_base]] at_least"),
    ("at_least = 800", "at_least = true", "[[conditions.district_base]] at_least"),
    ("from_year = 2", "from_year = -2", "[[outputs.district_base]] from_year"),
    ("applications_due = 2024-07-17", 'applications_due = "soon"', "[documents.002] applications_due"),
    ('level = "district"', 'level = "galactic"', "[programmes.district_base] level"),
]


def _approval_today(tmp_path: Path) -> Path:
    from ledger.rules import business_today

    rows = tmp_path / "approve.csv"
    rows.write_text(
        "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo\n"
        f"{business_today().isoformat()},U-NEW,B-NEW,G-NEW,district_base,approve,200000,,,新基地,DOC-1,新单位,\n",
        encoding="utf-8",
    )
    return rows


@pytest.mark.parametrize(("change", "into", "named"), BAD, ids=[b[1].strip() for b in BAD])
def test_a_version_with_a_bad_figure_is_refused_at_install_and_approvals_go_on(
    sqlite_ledger: Ledger, tmp_path: Path, change: str, into: str, named: str
) -> None:
    ledger = sqlite_ledger  # the file is read before any database is: one backend says it
    version = tmp_path / "v9.toml"
    version.write_text(_version_from_today(change, into), encoding="utf-8")
    before = ledger.event_count()
    result = ledger("policy", "install", str(version), role="admin")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and named in result.stderr, result.stderr
    assert "v9.toml" in result.stderr and "internal error" not in result.stderr
    assert ledger.event_count() == before, "nothing is installed"
    approved = ledger("import", str(_approval_today(tmp_path)), role="approver")
    assert approved.exit_code == 0, approved.stderr


def test_a_version_with_sound_figures_still_installs(ledger: Ledger, tmp_path: Path) -> None:
    """The strict reading refuses what is wrong, not what is written another way: a figure as a
    whole number, as text, a ratio as a decimal."""
    text = _version_from_today('subsidy_max = "200000.00"', "subsidy_max = 200000")
    text = text.replace('matching_ratio = "1"', "matching_ratio = 1.0", 1)
    version = tmp_path / "v9.toml"
    version.write_text(text, encoding="utf-8")
    ledger.ok("policy", "install", str(version), role="admin")
    assert ledger("import", str(_approval_today(tmp_path)), role="approver").exit_code == 0


_LINES = [
    (i, line)
    for i, line in enumerate(_shipped().splitlines())
    if " = " in line and not line.startswith(("#", "[", " ", "words", "title", "source", '"'))
]
_VALUES = st.sampled_from(
    ['"NaN"', '"Infinity"', '"-1"', "-1", "0", "1.5", "-0.5", "nan", "inf", "true", "false", '"x"', '""',
     "[]", '["a"]', "[1, 2]", "2024-02-29", "1979-05-27T07:32:00Z", "{}", '"1e999"', "99999999999999999999"]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(_LINES), value=_VALUES)
def test_any_figure_changed_is_refused_or_read_as_what_the_rules_need(
    place: tuple[int, str], value: str
) -> None:
    """Every line of the shipped version given any TOML value: either one sentence of bad input,
    or a policy whose every figure is of the type and range the rules compute with."""
    index, line = place
    lines = _shipped().splitlines()
    lines[index] = f"{line.split(' = ', 1)[0]} = {value}"
    try:
        policy = parse_policy("\n".join(lines) + "\n", "fuzz.toml")
    except BadInputError as e:
        assert "fuzz.toml" in e.message
        return
    for p in policy.programmes.values():
        assert p.level in ("district", "institute", "municipal", "national")
        for figure in (p.subsidy_min, p.subsidy_max, p.matching_ratio):
            assert figure is None or (figure.is_finite() and figure >= 0)
        if p.subsidy_min is not None and p.subsidy_max is not None:
            assert p.subsidy_min <= p.subsidy_max
        assert p.build_years is None or (type(p.build_years) is int and p.build_years >= 1)
        for count in (p.projects_min, p.projects_max):
            assert count is None or (type(count) is int and count >= 0)
        assert all(type(t) is str for t in (*p.tiers, *p.approving_bodies, *p.approvers))
        assert p.document is None or p.document in policy.documents
        for c in p.conditions:
            assert all(f is None or (f.is_finite() and f >= 0) for f in (c.at_least, c.at_most))
        for o in p.outputs:
            assert (
                o.at_least.is_finite() and o.at_least >= 0 and type(o.from_year) is int and o.from_year >= 0
            )
    for category in policy.categories.values():
        assert type(category.allowed) is bool
