"""What typed-in text may hold: no control characters, but a tab in free text.

The actions (ledger/actions.py), --actor and the importer's cells
apply the same rule, so a value refused in one place is refused in the other.

Control characters here are the C0 and C1 controls and the invisible format characters: zero
widths, bidirectional overrides, the byte-order mark, soft hyphens, line and paragraph
separators. A voucher ``S1`` followed by a zero-width space is another voucher that prints as
``S1``: taken, it records the same expenditure twice under one visible number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import cache
from typing import TYPE_CHECKING


def _escaped(first: int, last: int) -> str:
    """The characters first..last as a class's range, in escapes both pydantic-core's regex and
    Python's ``re`` read: ``\\u00b2-\\u00b3``, ``\\U0001d7ce-\\U0001d7ff``, ``\\u0410``."""
    one = f"\\u{first:04x}" if first <= 0xFFFF else f"\\U{first:08x}"
    if first == last:
        return one
    return one + "-" + (f"\\u{last:04x}" if last <= 0xFFFF else f"\\U{last:08x}")


# the invisible characters refused with the controls (Unicode Cf, Zl, Zp), as a class's body
_INVISIBLE = r"\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
# the characters refused, as regular-expression classes (ledger.actions hands them to pydantic)
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f" + _INVISIBLE
CONTROL_CHARACTERS_BUT_TAB = r"\x00-\x08\x0a-\x1f\x7f-\x9f" + _INVISIBLE
# Characters that print like the ASCII ones ids are written in (ledger.look_alikes): the decimal
# digits of other scripts (Arabic-Indic ١, Devanagari १, full-width １: Unicode Nd), Unicode's
# compatibility forms of ASCII (full-width Ｇ, superscript ¹, roman numeral Ⅰ, mathematical bold 𝟏,
# the ligature ﬁ, the no-break space: NFKC makes them ASCII) and the letters of other alphabets and
# dashes that print alike (Cyrillic А, Greek Ο, the en dash). A new grant ``G١``, ``Ｇ1`` or ``Gⅰ``
# beside ``G1`` is a second grant its reader cannot tell from the first, as a voucher ``S１`` beside
# ``S1`` records one expenditure twice. Chinese (ideographs, 〔〕【】、。《》) is none of them.
# As a class's body for pydantic-core (Rust: ``\p{Nd}``, LOOK_ALIKE_CHARACTERS), the digits 0-9 put
# back where it is used; Python's ``re`` reads the same escapes (LOOK_ALIKE).
@cache
def _look_alike_class() -> str:
    from ledger.look_alikes import COMPATIBILITY_FORMS, LOOK_ALIKE_LETTERS

    return "".join(_escaped(first, last) for first, last in COMPATIBILITY_FORMS) + "".join(
        _escaped(ord(c), ord(c)) for c in LOOK_ALIKE_LETTERS
    )


if TYPE_CHECKING:
    # in identifiers (ids, vouchers, references, actors): no control character at all
    CONTROL: re.Pattern[str]
    # in free text (names, memos, reasons): a tab is text
    CONTROL_BUT_TAB: re.Pattern[str]
    LOOK_ALIKE: re.Pattern[str]
    LOOK_ALIKE_CHARACTERS: str

# made when first imported (``__getattr__``), not at every start: a report needs none of them
_MADE_WHEN_USED: dict[str, Callable[[], object]] = {
    "CONTROL": lambda: re.compile(f"[{CONTROL_CHARACTERS}]"),
    "CONTROL_BUT_TAB": lambda: re.compile(f"[{CONTROL_CHARACTERS_BUT_TAB}]"),
    "LOOK_ALIKE": lambda: re.compile(f"(?![0-9])\\d|[{_look_alike_class()}]"),
    "LOOK_ALIKE_CHARACTERS": lambda: r"\p{Nd}" + _look_alike_class(),
}


def __getattr__(name: str) -> object:
    make = _MADE_WHEN_USED.get(name)
    if make is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = make()
    return value


# The white space stripped from both ends of a value: what the actions strip (Unicode White_Space).
# str.strip() would also take U+001C..U+001F off the ends, which the actions refuse.
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

# A cell of a CSV file starting with one of these is run as a formula by the spreadsheet that
# opens it (OWASP, "CSV injection"): text so written gets an apostrophe in front, as a spreadsheet
# marks typed text, and the import takes exactly that one off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Text a workbook writer stores as one of Excel's error values, not as text (openpyxl's
# ERROR_CODES): exported text so spelt is written as text, with the prefix that keeps it text.
EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})


def escape_formula(value: str) -> str:
    """``=1+1`` as ``'=1+1``, and ``'=1+1`` as ``''=1+1``, so that ``unescape_formula`` gives back
    exactly the text (a text that truly starts with apostrophes keeps them)."""
    return "'" + value if value.lstrip("'")[:1] in FORMULA_STARTS else value


def unescape_formula(value: str) -> str:
    """The inverse of ``escape_formula``: one apostrophe off, where escape_formula put one."""
    if value[:1] == "'" and value.lstrip("'")[:1] in FORMULA_STARTS:
        return value[1:]
    return value


_BIDIRECTIONAL = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def control_named(c: str) -> str:
    """A control character named for a person: ``U+202E RIGHT-TO-LEFT OVERRIDE, a bidirectional
    control`` (such a control makes text print in another order than it is stored)."""
    from ledger.i18n import _

    code = _code_named(c)
    return _("{code}, a bidirectional control").format(code=code) if c in _BIDIRECTIONAL else code


def _code_named(c: str) -> str:
    """``U+0661 ARABIC-INDIC DIGIT ONE``: the Unicode name is English, so a Chinese reader gets
    the code point alone."""
    import unicodedata

    from ledger.i18n import current

    name = unicodedata.name(c, "") if current() == "en" else ""
    return f"U+{ord(c):04X} {name}" if name else f"U+{ord(c):04X}"


def look_alike_named(c: str) -> tuple[str, str]:
    """A look-alike character named for a person, and the ASCII it prints like:
    ``("U+0661 ARABIC-INDIC DIGIT ONE", "1")``, ``("U+FF27 FULLWIDTH LATIN CAPITAL LETTER G", "G")``,
    ``("U+0410 CYRILLIC CAPITAL LETTER A", "A")``, ``("U+FB01 LATIN SMALL LIGATURE FI", "fi")``."""
    import unicodedata

    code = _code_named(c)
    if unicodedata.category(c) == "Nd":
        return code, str(unicodedata.decimal(c))
    from ledger.look_alikes import LOOK_ALIKE_LETTERS

    return code, LOOK_ALIKE_LETTERS.get(c) or unicodedata.normalize("NFKC", c)


# The business dates officers write, and only those: 2024-05-10, 2024/05/10 (as zh-CN Excel shows
# 2024/5/10), 2024.05.10 and 2024年5月10日, month and day in one or two digits, year first. Digits
# are ASCII or full width, as amounts take them. Not 20240806, 2024-W32-2 or 2024-08-06T00:00
# (date.fromisoformat takes them), nor 24-5-1 or 5/10/2024, whose order a reader must guess.
@cache
def _date_forms() -> re.Pattern[str]:
    return re.compile(
        r"(?P<y>[0-9]{4})(?P<sep>[-/.])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})"
        r"|(?P<zy>[0-9]{4})年(?P<zm>[0-9]{1,2})月(?P<zd>[0-9]{1,2})日?"
    )


_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def read_date(text: str) -> date | None:
    """The date ``text`` writes in one of the forms above, or None (a form unknown, or no such day,
    such as 2024-02-30)."""
    found = _READ.get(text) if text.__class__ is str else None
    if found is not None:
        return found
    found = _read_date(text)
    if found is not None and len(text) <= _READ_LONGEST:
        if len(_READ) >= _READ_KEPT:
            _READ.clear()
        _READ[text] = found
    return found


# Dates read already, by their text: an import's rows repeat a year's few hundred dates.
_READ: dict[str, date] = {}
_READ_KEPT = 4096
_READ_LONGEST = 32


def _read_date(text: str) -> date | None:
    found = _date_forms().fullmatch(text.strip(WHITE_SPACE).translate(_FULL_WIDTH_DIGITS))
    if found is None:
        return None
    y, m, d = (found["y"], found["m"], found["d"]) if found["y"] else (found["zy"], found["zm"], found["zd"])
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        return None
