"""Amounts as officers write them, and the ones that are bad input (exit 2)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import BadInputError
from ledger.money import format_yuan, parse_amount, percent
from tests.conftest import Ledger, approved_district_grant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("200000", "200000.00"),
        ("200,000.00", "200000.00"),
        ("¥200000", "200000.00"),
        ("￥200,000", "200000.00"),
        ("20万", "200000.00"),
        ("20万元", "200000.00"),
        ("1.5万", "15000.00"),
        ("150万元", "1500000.00"),
        ("0.01", "0.01"),
        (" 3500.5 ", "3500.50"),
        # a space between thousands, or beside the currency or the unit
        ("1 000", "1000.00"),
        ("1 000 000.50", "1000000.50"),
        ("100\u00a0000", "100000.00"),
        ("¥ 100", "100.00"),
        ("3.5 万", "35000.00"),
        ("2 万元", "20000.00"),
    ],
)
def test_accepted_forms(text: str, expected: str) -> None:
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "0.00",
        "-5",
        "-20万",
        "1.234",
        "abc",
        "",
        "1e5",
        "NaN",
        "12,34",
        "20万万",
        "Infinity",
        "200000000000",
        "1.2.3",
        "¥",
        "0.0000001万",
        # more digits than Decimal's default 28: once rounded to 10000.00 and 700000.00 and stored
        "9999.9999999999999999999999999",
        "699999.99999999999999999999999",
        "1.99999999999999999999999999999万",
        # a space anywhere else was dropped: 12 34.5 was 1,234.50 and 1 2 was 12 (a red-team pass)
        "12 34.5",
        "1 2",
        "100 0",
        "1 2 3 4 5 6",
        "1 0000",
    ],
)
def test_refused_forms(text: str) -> None:
    with pytest.raises(BadInputError):
        parse_amount(text)


@given(st.integers(min_value=1, max_value=10**12))
def test_round_trip_through_formatting(fen: int) -> None:
    value = Decimal(fen) / 100
    assert parse_amount(format_yuan(value)) == value


@given(
    st.integers(min_value=0, max_value=10**11 - 1),
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=0, max_value=40),
    st.booleans(),
)
def test_an_amount_past_the_fen_is_refused_however_many_digits_it_has(
    whole: int, last: int, zeros: int, wan: bool
) -> None:
    """Any digit past the second decimal place (of the yuan, or of the 万 before it is multiplied)
    is refused, never rounded into the books."""
    places = 6 if wan else 2
    text = f"{whole}.{'0' * (places + zeros)}{last}" + ("万" if wan else "")
    with pytest.raises(BadInputError):
        parse_amount(text)


@pytest.mark.parametrize("amount", ["0", "-100", "12.345", "lots", "1e3", "9999.9999999999999999999999999"])
def test_cli_bad_amount_is_exit_2_and_writes_nothing(sqlite_ledger: Ledger, amount: str) -> None:
    approved_district_grant(sqlite_ledger)
    before = sqlite_ledger.event_count()
    result = sqlite_ledger("disburse", "G1", "--amount", amount, "--voucher", "V1", "--date", "2024-04-02")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "--amount" in result.stderr
    assert "Traceback" not in result.stderr
    assert sqlite_ledger.event_count() == before


def _percent_by_fractions(part: Decimal | int, whole: Decimal | int) -> Decimal:
    """The rate as its definition reads: the exact fraction, in hundredths, rounded half-up on
    its magnitude (四舍五入)."""
    hundredths = Fraction(Decimal(part)) * 10_000 / Fraction(Decimal(whole))
    rounded = (abs(hundredths) * 2 + 1) // 2
    return Decimal((-1 if hundredths < 0 else 1) * int(rounded)).scaleb(-2)


AMOUNTS = st.one_of(
    st.decimals(min_value=-(10**12), max_value=10**12, places=2),
    st.decimals(min_value=-(10**6), max_value=10**6, places=5),
    st.integers(min_value=-(10**12), max_value=10**12),
)


@given(AMOUNTS, AMOUNTS)
def test_a_rate_is_the_exact_fraction_rounded_half_up(part: Decimal | int, whole: Decimal | int) -> None:
    """What every report's execution rate shows: computed in integers, equal to the exact
    fraction's rounding, signs and halves included (57.625% is 57.63, 166 of 850 is 19.53)."""
    if whole == 0:
        with pytest.raises(ZeroDivisionError):
            percent(part, whole)
        return
    assert percent(part, whole) == _percent_by_fractions(part, whole)
    assert percent(part, whole).as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("part", "whole", "rate"),
    [("57.625", "100", "57.63"), ("166", "850", "19.53"), ("-1", "8", "-12.50"), ("1", "-3", "-33.33")],
)
def test_known_rates(part: str, whole: str, rate: str) -> None:
    assert str(percent(Decimal(part), Decimal(whole))) == rate


def test_an_amount_spaced_other_than_by_thousands_is_refused_by_the_command_line(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    before = ledger.event_count()
    refused = ledger("spend", "G1", "--amount", "1 2", "--category", "equipment", "--voucher", "S1",
                     "--date", "2024-05-10")  # fmt: skip
    assert refused.exit_code == 2 and "'1 2' is not an amount" in refused.stderr, refused.stderr
    assert ledger.event_count() == before
    ledger.ok("spend", "G1", "--amount", "1 200", "--category", "equipment", "--voucher", "S1",
              "--date", "2024-05-10")  # fmt: skip
    assert ledger.balances("B0001")["B0001"]["subsidy_spent"] == "1200.00"
