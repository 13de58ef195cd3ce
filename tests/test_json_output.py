"""Every JSON the command line writes (``commands.json_output.to_json``) is what
``json.dumps(…, ensure_ascii=False, indent=2)`` writes, byte for byte, though written a record at
a time by the C encoder: any text (quotes, newlines, U+2028, Chinese), amounts, dates, numbers,
empty records and nested values."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.json_output import to_json
from commands.output import json_value

PLAIN = st.one_of(
    st.text(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.dates(),
)
NATIVE = st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
VALUE = st.recursive(  # nested values are the records' own JSON (no amounts or dates inside)
    NATIVE, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3)
)


def _reference(records: list[dict[str, Any]]) -> str:
    return json.dumps(
        [{k: json_value(v) for k, v in r.items()} for r in records], ensure_ascii=False, indent=2
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(), st.one_of(PLAIN, VALUE), max_size=6), max_size=5))
def test_records_are_written_as_the_indenting_encoder_writes_them(records: list[dict[str, Any]]) -> None:
    assert to_json(records) == _reference(records)


def test_a_balance_row_reads_back_as_written() -> None:
    row = {"base_id": 'B"1\n', "amount": Decimal("1234.50"), "on": date(2024, 5, 1), "rate": 12.5, "d": None}
    assert json.loads(to_json([row, {}])) == [
        {"base_id": 'B"1\n', "amount": "1234.50", "on": "2024-05-01", "rate": 12.5, "d": None},
        {},
    ]


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_an_amount_is_written_with_two_places_whatever_its_exponent(amount: Decimal) -> None:
    """json_value takes a short cut for an amount already in two places; any other is formatted."""
    assert json_value(amount) == f"{amount:.2f}"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.text(min_size=1), PLAIN, min_size=1, max_size=4), min_size=2, max_size=5))
def test_records_of_plain_values_written_in_one_call_are_laid_out_as_indent_writes_them(
    records: list[dict[str, Any]],
) -> None:
    """Braces, NULs and separators inside keys and values never look like a record's end."""
    from commands import json_output

    records = [*records, {"}\x00{": "}\x00{", "x": "\x00"}]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_output, "CHUNK", 2)  # several chunks, the last one short
        assert to_json(records) == _reference(records)
    assert to_json(records) == _reference(records)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(), min_size=1, max_size=5, unique=True).flatmap(
        lambda keys: st.tuples(
            st.just(keys),
            st.lists(st.lists(PLAIN, min_size=len(keys), max_size=len(keys)), max_size=6),
            st.integers(min_value=1, max_value=4),
        )
    )
)
def test_records_laid_out_by_the_template_are_what_to_json_writes(
    drawn: tuple[list[str], list[list[Any]], int],
) -> None:
    """``balance --format json``'s quick path lays each record out by ``json_record_template``
    (keys with % and quotes included) and joins them ``chunk`` at a time: the pieces, written one
    after another, are what ``to_json`` writes."""
    from commands.json_output import RECORD_SEP, json_list, json_record_template, json_token

    keys, rows, chunk = drawn
    template = json_record_template(keys)
    laid = [template % tuple(json_token(v) for v in row) for row in rows]
    chunks = [RECORD_SEP.join(laid[at : at + chunk]) for at in range(0, len(laid), chunk)]
    assert "".join(json_list(chunks)) == to_json([dict(zip(keys, row, strict=True)) for row in rows])


@given(st.text())
def test_a_text_is_written_as_the_encoder_writes_it(text: str) -> None:
    from commands.json_output import json_text, json_token

    assert json_text(text) == json_token(text) == json.dumps(text, ensure_ascii=False)
