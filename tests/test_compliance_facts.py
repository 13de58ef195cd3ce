"""A grant's compliance facts are read back exactly as ``json.loads`` reads them, whatever they
hold: ints past 64 bits (which the fast reader would make floats), Chinese text (stored escaped),
lone surrogates, the facts of a large grant."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.compliance import _facts

INTS = st.one_of(
    st.integers(), st.integers(min_value=2**63 - 3, max_value=2**64 + 3), st.integers(min_value=10**18)
)
VALUES = st.recursive(
    st.one_of(INTS, st.text(), st.booleans(), st.none()),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100)
@given(st.dictionaries(st.text(), VALUES, max_size=6), st.booleans())
def test_facts_read_as_json_reads_them(facts: dict[str, Any], ascii_only: bool) -> None:
    text = json.dumps(facts, separators=(",", ":"), ensure_ascii=ascii_only)
    read = _facts(text)
    assert read == json.loads(text)
    assert json.dumps(read, separators=(",", ":"), ensure_ascii=ascii_only) == text  # no int became a float


def test_a_large_grants_days_and_a_huge_total() -> None:
    days = {f"2024-{m:02d}-{d:02d}": -(m * 1000 + d) for m in range(1, 13) for d in range(1, 29)}
    facts = {
        "days": {"subsidy": days, "matching": {}},
        "recovered": 2**64 + 1,
        "applied": {"declared": {"名称": "基地"}},
    }
    text = json.dumps(facts, separators=(",", ":"))
    assert _facts(text) == facts
    assert type(_facts(text)["recovered"]) is int
    assert _facts('{"x":"\\ud800"}') == {"x": "\ud800"}  # a lone surrogate's escape
