"""A sheet's row writer (audit/verifier/xlsx.py ``_compiled``) is ``template.format`` of its
arguments, strings escaped and dates as day numbers, however many cells a row has: a long row's
writer joins several f-strings (CPython builds one of more than about thirty parts another way),
and a row written otherwise would fail every bundle filed before (the verifier compares digests)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.verifier.xlsx import _EPOCH, _compiled, _escape

_LITERAL = st.text(st.characters(blacklist_characters="{}", codec="utf-8"), max_size=12)
_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
_VALUE = st.one_of(
    _TEXT.map(lambda s: ("text", s)),
    st.integers(-(10**12), 10**12).map(lambda n: ("int", n)),
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(lambda d: ("amount", d)),
    st.dates().map(lambda d: ("date", d)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_VALUE, min_size=1, max_size=24), st.data())
def test_a_row_of_any_length_is_its_template_formatted(values: list[tuple[str, Any]], data: Any) -> None:
    arity = len(values) + 1  # the row number as text, then the values
    count = data.draw(st.integers(0, 60))  # as many of each count: 14 and 28 split where a piece ends
    fields = data.draw(st.lists(st.integers(0, arity - 1), min_size=count, max_size=count))
    literals = data.draw(st.lists(_LITERAL, min_size=len(fields) + 1, max_size=len(fields) + 1))
    template = "".join(lit + f"{{{n}}}" for lit, n in zip(literals, fields, strict=False)) + literals[-1]
    texts = [n + 1 for n, (kind, _) in enumerate(values) if kind == "text"]
    dates = [n + 1 for n, (kind, _) in enumerate(values) if kind == "date"]
    args = ["41", *(value for _, value in values)]
    expected = []
    for n, arg in enumerate(args):
        if n in texts:
            arg = _escape(arg)
        elif n in dates:
            arg = arg.toordinal() - _EPOCH
        expected.append(arg)
    assert _compiled(template, arity, texts, dates)(*args) == template.format(*expected)


@pytest.mark.parametrize("count", range(61))
def test_a_row_of_each_number_of_fields_up_to_sixty_is_its_template_formatted(count: int) -> None:
    """Every count, so each place a row's writer is split at (every 14 fields) is met exactly."""
    values: list[Any] = ["41", "a&b", 7, Decimal("1.50"), date(2024, 5, 1), "财务"]
    fields = [n % len(values) for n in range(count)]
    template = "".join(f"<{n}>{{{f}}}" for n, f in enumerate(fields)) + "</row>"
    expected = ["41", "a&amp;b", 7, Decimal("1.50"), date(2024, 5, 1).toordinal() - _EPOCH, "财务"]
    assert _compiled(template, len(values), [1, 5], [4])(*values) == template.format(*expected)


def test_a_spending_row_of_eleven_cells_is_written_as_filed() -> None:
    write = _compiled("".join(f"<c{n}>{{{n}}}</c>" for n in range(12)), 12, [2, 3, 11], [1])
    row = ["9", date(2024, 5, 1), "G1 & <x>", "B1", 4, 5, 6, 7, 8, 9, Decimal("1234.50"), "财务"]
    assert write(*row) == (
        "<c0>9</c><c1>45413</c><c2>G1 &amp; &lt;x&gt;</c><c3>B1</c><c4>4</c><c5>5</c><c6>6</c>"
        "<c7>7</c><c8>8</c><c9>9</c><c10>1234.50</c><c11>财务</c>"
    )
