"""Amounts as officers write them, and the ones that are bad input (exit 2)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import BadInputError
from ledger.money import format_yuan, parse_amount
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
    ],
)
def test_refused_forms(text: str) -> None:
    with pytest.raises(BadInputError):
        parse_amount(text)


@given(st.integers(min_value=1, max_value=10**12))
def test_round_trip_through_formatting(fen: int) -> None:
    value = Decimal(fen) / 100
    assert parse_amount(format_yuan(value)) == value


@pytest.mark.parametrize("amount", ["0", "-100", "12.345", "lots", "1e3"])
def test_cli_bad_amount_is_exit_2_and_writes_nothing(sqlite_ledger: Ledger, amount: str) -> None:
    approved_district_grant(sqlite_ledger)
    before = sqlite_ledger.event_count()
    result = sqlite_ledger("disburse", "G1", "--amount", amount, "--voucher", "V1", "--date", "2024-04-02")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "--amount" in result.stderr
    assert "Traceback" not in result.stderr
    assert sqlite_ledger.event_count() == before
