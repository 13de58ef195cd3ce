"""Money: yuan amounts as Decimal with two places, parsed the ways officers write them."""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from ledger.errors import BadInputError
from ledger.i18n import T_

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# 100 亿元: far above any grant; catches slips of the finger (an extra 0000).
MAX_AMOUNT = Decimal("10000000000.00")

_PREFIXES = ("¥", "￥", "RMB", "CNY")
# Digits are ASCII or full-width (what a Chinese input method types), nothing else: Python's \d,
# int() and Decimal() also take Arabic-Indic ٣٠٠, Devanagari १०० and every other script's digits.
_GROUPED = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
_PLAIN = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_SPACED = re.compile(r"^[0-9]{1,3}( [0-9]{3})+(\.[0-9]+)?$")  # 1 000 000.00: spaces as thousands
_SIMPLE = re.compile(r"[0-9]{1,11}(?:\.[0-9]{1,2})?")  # 1234.56 as most files write it
_FULL_WIDTH = str.maketrans("０１２３４５６７８９，．", "0123456789,.")
_OTHER_DIGIT = re.compile(r"[^\x00-\x7f]")


def parse_amount(text: str | int | Decimal, *, field: str = "amount") -> Decimal:
    """Parse ``200000``, ``200,000.00``, ``¥200000``, ``20万``, ``20万元`` as Decimal('200000.00').

    Zero, negative, more than two decimal places, absurdly large and non-numbers are
    refused with BadInputError.
    """
    if text.__class__ is str and _SIMPLE.fullmatch(text):
        simple = Decimal(text)
        if 0 < simple <= MAX_AMOUNT:
            return simple.quantize(CENT)
    field = f"{field} " if field else ""
    if isinstance(text, Decimal | int) and not isinstance(text, bool):
        return check_amount(Decimal(text), field=field, shown=str(text))
    raw = str(text)
    # a space only at the ends, beside the currency or the unit, or between thousands: "1 2" was 12
    s = raw.replace("\u00a0", " ").strip().translate(_FULL_WIDTH)
    for c in _OTHER_DIGIT.findall(s):
        if unicodedata.category(c) == "Nd":
            msg = T_(
                "{field}{raw!r} holds {c} (U+{value:04X} {value2}); write amounts in the digits 0-9 "
                "(or full-width ０-９)",
                field=field,
                raw=raw,
                c=c,
                value=ord(c),
                value2=unicodedata.name(c, "DIGIT"),
            )
            raise BadInputError(msg)
    for prefix in _PREFIXES:
        if s.upper().startswith(prefix):
            s = s[len(prefix) :].lstrip()
            break
    if s.endswith("元"):
        s = s[:-1].rstrip()
    multiplier = Decimal(1)
    if s.endswith("万"):
        s, multiplier = s[:-1].rstrip(), Decimal(10000)
    if " " in s and _SPACED.match(s):
        s = s.replace(" ", "")
    if s.startswith("-") or s.startswith("−"):
        msg = T_("{field}{raw!r} is negative; amounts must be positive", field=field, raw=raw)
        raise BadInputError(msg)
    if _GROUPED.match(s):
        s = s.replace(",", "")
    if not _PLAIN.match(s):
        msg = T_(
            "{field}{raw!r} is not an amount; write it like 200000, 200,000.00, ¥200000 or 20万",
            field=field,
            raw=raw,
        )
        raise BadInputError(msg)
    try:
        with localcontext() as exact:  # the default 28 digits would round 9999.99999…9 to 10000
            exact.prec = len(s) + 8
            value = Decimal(s) * multiplier
    except InvalidOperation:  # pragma: no cover - the regex admits only digits
        msg = T_("{field}{raw!r} is not an amount", field=field, raw=raw)
        raise BadInputError(msg) from None
    return check_amount(value, field=field, shown=raw)


def check_amount(value: Decimal, *, field: str = "amount ", shown: str | None = None) -> Decimal:
    shown = shown if shown is not None else str(value)
    if not value.is_finite():
        msg = T_("{field}{shown!r} is not a finite amount", field=field, shown=shown)
        raise BadInputError(msg)
    if value <= 0:
        msg = T_("{field}{shown!r} must be greater than zero", field=field, shown=shown)
        raise BadInputError(msg)
    if value > MAX_AMOUNT:  # before quantize: more digits than the context holds raise there
        msg = T_(
            "{field}{shown!r} exceeds the upper bound of {MAX_AMOUNT} yuan",
            field=field,
            shown=shown,
            MAX_AMOUNT=format_yuan(MAX_AMOUNT),
        )
        raise BadInputError(msg)
    if value != value.quantize(CENT, rounding=ROUND_HALF_UP):
        msg = T_(
            "{field}{shown!r} has more than two decimal places (fen is the smallest unit)",
            field=field,
            shown=shown,
        )
        raise BadInputError(msg)
    if value > MAX_AMOUNT:
        msg = T_(
            "{field}{shown!r} exceeds the upper bound of {MAX_AMOUNT} yuan",
            field=field,
            shown=shown,
            MAX_AMOUNT=format_yuan(MAX_AMOUNT),
        )
        raise BadInputError(msg)
    return value.quantize(CENT)


def format_yuan(value: Decimal) -> str:
    """``Decimal('200000')`` -> ``'200,000.00'``."""
    return f"{value.quantize(CENT):,.2f}"


def to_fen(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


def share_of(amount: Decimal, ratio: Decimal) -> Decimal:
    """``ratio`` of ``amount`` to the fen, rounded half-up (四舍五入) as the documents read money:
    the matching a 1:0.5 programme asks of 100,000.01 received is 50,000.01 (Decimal's own
    rounding, half-even, gave 50,000.00)."""
    return (amount * ratio).quantize(CENT, rounding=ROUND_HALF_UP)


def from_fen(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)  # exactly (fen / 100).quantize(CENT), in one operation


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal:
    """``part`` ÷ ``whole`` as a percentage with two places, rounded half-up (四舍五入) from the
    exact fraction: 57.625% is 57.63, and 166 of 850 is 19.53 (never 20 by rounding twice)."""
    # in integers: hundredths of a percent = part × 10,000 ÷ whole, exactly
    part_n, part_d = part.as_integer_ratio()
    whole_n, whole_d = whole.as_integer_ratio()
    top, bottom = part_n * whole_d * 10_000, part_d * whole_n
    if bottom == 0:
        raise ZeroDivisionError("percent of a whole of zero")
    negative = (top < 0) != (bottom < 0)
    top, bottom = abs(top), abs(bottom)
    rounded = (2 * top + bottom) // (2 * bottom)  # half-up on the magnitude, as 四舍五入 reads it
    return Decimal(-rounded if negative else rounded).scaleb(-2)


# Past this many fen an integer expression of ``percent_sql`` could leave SQLite's 64 bits, which it
# would carry on in floating point: a figure beyond it (a hundred billion yuan) is laid out in Python.
SQL_FEN_BOUND = 10**13


def percent_sql(part: str, whole: str) -> str:
    """``percent`` of two whole-fen SQL expressions, as an SQL expression of its hundredths (an
    integer; NULL where ``whole`` is 0), for SQLite, which lays out large reports in C: SQLite's
    integer division truncates, which is ``percent``'s floor on magnitudes. Exact for figures
    within ``SQL_FEN_BOUND``; tests/test_quick_balance.py holds it equal to ``percent``."""
    top, bottom = f"(abs({part}) * 10000)", f"abs({whole})"
    rounded = f"((2 * {top} + {bottom}) / (2 * {bottom}))"
    negative = f"(({part}) < 0) != (({whole}) < 0)"
    return f"(CASE WHEN ({whole}) = 0 THEN NULL WHEN {negative} THEN -{rounded} ELSE {rounded} END)"
