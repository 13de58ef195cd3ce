"""Every clause the rules cite quotes its policy document word for word.

The documents are the Chinese texts the rules come from (tests/data/seeds, as the project's
seeds hold them). A quote may join fragments of one passage with "……"; each fragment stands in
its document in that order (spaces aside). A quote cut so that it reads otherwise, or edited,
fails here.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest

SEEDS = Path(__file__).parent / "data" / "seeds"


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", text)


def documents() -> dict[str, str]:
    return {p.name[:3]: _plain(p.read_text("utf-8")) for p in SEEDS.glob("*.txt")}


def clauses() -> dict[str, dict[str, str]]:
    text = (resources.files("ledger") / "policy" / "v1-2023.toml").read_text("utf-8")
    found: dict[str, dict[str, str]] = tomllib.loads(text)["clauses"]
    return found


@pytest.mark.parametrize("key", sorted(clauses()))
def test_a_clause_quotes_its_document_word_for_word(key: str) -> None:
    clause = clauses()[key]
    document = documents()[clause["doc"]]
    at = 0
    for fragment in filter(None, (_plain(f) for f in clause["words"].split("……"))):
        found = document.find(fragment, at)
        assert found >= 0, (key, clause["doc"], clause["article"], fragment)
        at = found + len(fragment)


def test_the_review_before_an_institute_application_is_quoted() -> None:
    """000 第十一条's rule refuses an institute not reviewed by its authority first: its quote
    says so (a release quoted the sentence from its second clause on)."""
    words = clauses()["institute_approval"]["words"]
    assert words.startswith("经行业主管部门、区县人力社保部门审核后，具备条件的技工院校")
