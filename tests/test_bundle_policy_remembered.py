"""The verifier's policy remembers, as a replay asks, the version in force on each date and the
category each text names: the answers are those asked afresh, in any order, and no more than a
bound of them are kept, whatever dates and texts a forged bundle holds."""

from __future__ import annotations

import copy
import tomllib
from datetime import date
from importlib import resources
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.verifier import policy as verifier_policy
from audit.verifier.policy import BundlePolicy

SHIPPED = tomllib.loads((resources.files("ledger") / "policy" / "v1-2023.toml").read_text("utf-8"))


def _two_versions() -> BundlePolicy:
    """The shipped version from 2023, and a later one from 2025-07-01 that bans equipment."""
    later: dict[str, Any] = copy.deepcopy(SHIPPED)
    later["categories"]["equipment"]["allowed"] = False
    first = BundlePolicy("v1-2023.toml", SHIPPED)
    second = BundlePolicy("v2-2025.toml", later)
    return BundlePolicy("v2-2025.toml", later, (("2023-01-01", first), ("2025-07-01", second)))


def _afresh(p: BundlePolicy, on: str) -> BundlePolicy | None:
    found = [v for day, v in p.versions if day <= on]
    return found[-1] if found else None


days = st.dates(date(2020, 1, 1), date(2027, 12, 31)).map(date.isoformat)
texts = st.sampled_from(["equipment", "设备购置", "travel", "差旅费", " materials ", "EQUIPMENT"]) | st.text(
    max_size=8
)


@settings(max_examples=200, deadline=None)
@given(st.lists(days | st.sampled_from(["2023-01-01", "2025-06-30", "2025-07-01"]), max_size=40),
       st.lists(texts, max_size=40))  # fmt: skip
def test_what_it_remembers_is_what_it_finds_afresh(on: list[str], named: list[str]) -> None:
    p = _two_versions()
    for day in on + on:  # each date asked twice: the second answer is the remembered one
        assert p.in_force(day) is _afresh(p, day)
    versions = [v for _, v in p.versions]
    for version in versions:
        for text in named + named:
            assert version.category(text) == BundlePolicy(version.name, version.data)._category(text)
    assert p.in_force("2025-07-01") is versions[1] and p.in_force("2025-06-30") is versions[0]
    assert p.in_force("2022-12-31") is None
    assert versions[1].category("equipment") == ("equipment", False)
    assert versions[0].category("equipment") == ("equipment", True)


def test_a_forged_bundle_s_many_dates_and_texts_stay_within_the_bound() -> None:
    p = _two_versions()
    start = date(2024, 1, 1).toordinal()
    for n in range(3 * verifier_policy._REMEMBERED):
        day = date.fromordinal(start + n).isoformat()
        assert p.in_force(day) is _afresh(p, day)
        assert p.category(f"forged-{n}") is None
    assert len(p._by_date) == verifier_policy._REMEMBERED
    assert len(p._by_text) == verifier_policy._REMEMBERED
    assert p.category("equipment") == ("equipment", False)  # past the bound: still found afresh


def test_a_long_text_is_found_afresh_every_time_and_not_kept() -> None:
    """A category text padded to a megabyte (allowed: it is stripped) is answered, not kept."""
    p = _two_versions()
    padded = "equipment" + " " * (1 << 20)
    assert p.category(padded) == ("equipment", False)
    assert p.category("equipment") == ("equipment", False)
    assert padded not in p._by_text and "equipment" in p._by_text
