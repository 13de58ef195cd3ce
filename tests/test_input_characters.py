"""Characters that make a report lie to its reader (issue 14, item 15), refused alike on the
command line and in an import: amounts in digits other than ASCII or full-width (Arabic-Indic
٣٠٠ was recorded as 300), bidirectional controls in ids and text (named, with their code point),
and ids starting with '-', which read as options where an id is a command's argument."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from commands.cli import cli
from tests.conftest import Ledger, approved_district_grant
from tests.importdata import HEADER
from tests.test_actions import _stored

if TYPE_CHECKING:
    from click.testing import Result

OTHER_DIGITS = [
    ("٣٠٠", "U+0663 ARABIC-INDIC DIGIT THREE"),
    ("१००", "U+0967 DEVANAGARI DIGIT ONE"),
    ("۵۰۰", "U+06F5 EXTENDED ARABIC-INDIC DIGIT FIVE"),
    ("3٠0", "U+0660 ARABIC-INDIC DIGIT ZERO"),
    ("¥१,०००", "U+0967 DEVANAGARI DIGIT ONE"),
    ("٢万", "U+0662 ARABIC-INDIC DIGIT TWO"),
]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
        "\u200e", "\u200f", "\u061c"]  # fmt: skip


@pytest.fixture
def funded(sqlite_ledger: Ledger) -> Ledger:
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    return sqlite_ledger


def _spend_row(amount: str = "100", voucher: str = "S1", memo: str = "", grant: str = "G1") -> str:
    return f"2024-05-10,,,{grant},,spend,{amount},subsidy,equipment,,{voucher},,{memo}"


def _import(ledger: Ledger, tmp_path: Path, *rows: str) -> tuple[int, str]:
    book = tmp_path / "books.csv"
    book.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    result = ledger("import", str(book))
    return result.exit_code, result.stderr


@pytest.mark.parametrize(("amount", "named"), OTHER_DIGITS)
def test_an_amount_in_other_digits_is_refused_typed_or_imported(
    funded: Ledger, tmp_path: Path, amount: str, named: str
) -> None:
    before = _stored(funded.url)
    typed = funded("spend", "G1", "--amount", amount, "--category", "equipment", "--voucher", "S1",
                   "--date", "2024-05-10")  # fmt: skip
    assert typed.exit_code == 2, typed.stdout
    digit = next(c for c in amount if not c.isascii() and c.isdigit())
    assert typed.stderr.strip() == (
        f"grant-ledger: --amount: {amount!r} holds {digit} ({named}); write amounts in the digits 0-9 "
        "(or full-width ０-９)"
    )
    code, err = _import(funded, tmp_path, _spend_row(f'"{amount}"'))
    assert code == 2
    assert f"books.csv:2: amount: {amount!r} holds" in err and named in err
    assert _stored(funded.url) == before


@pytest.mark.parametrize(
    ("amount", "fen"), [("３００", "300.00"), ("５万", "50000.00"), ("１，０００．５０", "1000.50")]
)
def test_full_width_digits_are_still_amounts(funded: Ledger, amount: str, fen: str) -> None:
    funded.ok(
        "disburse", "G1", "--amount", amount, "--voucher", "T2", "--tranche", "2", "--date", "2024-04-11"
    )
    disbursed = [s for t, s in _stored(funded.url) if t.endswith("SubsidyDisbursed")]
    assert disbursed[-1]["amount"]["_data_"] == fen


@pytest.mark.parametrize("control", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_a_bidirectional_control_is_refused_and_named_in_every_field_and_path(
    funded: Ledger, tmp_path: Path, control: str
) -> None:
    code = f"U+{ord(control):04X}"
    before = _stored(funded.url)
    for option, value in (
        ("--voucher", f"S{control}1"),
        ("--memo", f"备注{control}x"),
        ("--payee", f"{control}甲"),
    ):
        args = {"--voucher": "S1", "--memo": "", "--payee": "", option: value}
        typed = funded("spend", "G1", "--amount", "100", "--category", "equipment", "--date", "2024-05-10",
                       *(a for pair in args.items() for a in pair))  # fmt: skip
        assert typed.exit_code == 2, (option, typed.stdout)
        lines = typed.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"grant-ledger: {option}: "), lines
        assert f"it holds {code} " in lines[0] and "a bidirectional control" in lines[0]
    unit = funded("unit", "register", f"U{control}2", "--name", "单位", "--date", "2024-02-01")
    assert unit.exit_code == 2 and f"it holds {code} " in unit.stderr
    actor = funded.runner.invoke(
        cli,
        ["--db", funded.url, "--lang", "en", "--actor", f"a{control}b", "balance"],
    )
    assert actor.exit_code == 2 and f"it holds {code} " in actor.stderr
    result, err = _import(
        funded, tmp_path, _spend_row(voucher=f"S{control}1"), _spend_row(voucher="S2", memo=f"x{control}")
    )
    assert result == 2
    assert f"books.csv:2: voucher holds a control character ({code})" in err
    assert f"books.csv:3: memo holds a control character ({code})" in err
    assert err.count("a bidirectional control") == 2
    assert _stored(funded.url) == before


@pytest.mark.parametrize("option", ["--unit", "--base"])
def test_an_id_starting_with_a_dash_is_refused_typed_or_imported(
    funded: Ledger, tmp_path: Path, option: str
) -> None:
    """`history -G1` reads -G1 as an option: an id is a command's argument, so none starts with '-'."""
    before = _stored(funded.url)
    values = {"--unit": "U1", "--base": "B0009", option: "-X1"}
    result = funded("grant", "apply", "G9", "--programme", "district_base", "--project", "电工",
                    "--amount", "20万", "--date", "2024-03-01",
                    *(a for pair in values.items() for a in pair))  # fmt: skip
    assert result.exit_code == 2
    assert "not starting with '-' (got '-X1')" in result.stderr
    unit = funded("unit", "register", "--name", "单位", "--date", "2024-02-01", "--", "-U9")
    assert unit.exit_code == 2 and "not starting with '-'" in unit.stderr
    code, err = _import(funded, tmp_path, _spend_row(grant="-G1"))
    assert code == 2 and "books.csv:2: grant_id: " in err and "not starting with '-'" in err
    assert _stored(funded.url) == before
    funded.ok("unit", "register", "U-9", "--name", "单位", "--date", "2024-02-01")  # a dash inside is fine


LOOK_ALIKES = [
    ("G١", "١", "U+0661 ARABIC-INDIC DIGIT ONE", "1"),
    ("G１", "１", "U+FF11 FULLWIDTH DIGIT ONE", "1"),
    ("Ｇ1", "Ｇ", "U+FF27 FULLWIDTH LATIN CAPITAL LETTER G", "G"),
    ("\u0410G1", "\u0410", "U+0410 CYRILLIC CAPITAL LETTER A", "A"),
    ("G\u039f1", "\u039f", "U+039F GREEK CAPITAL LETTER OMICRON", "O"),
    ("G\u20131", "\u2013", "U+2013 EN DASH", "-"),
    ("G\U0001d7cf", "\U0001d7cf", "U+1D7CF MATHEMATICAL BOLD DIGIT ONE", "1"),
    ("G\u2160", "\u2160", "U+2160 ROMAN NUMERAL ONE", "I"),
    ("G\u00b9", "\u00b9", "U+00B9 SUPERSCRIPT ONE", "1"),
    ("G\u00a01", "\u00a0", "U+00A0 NO-BREAK SPACE", " "),
]
LOOK_ALIKE_IDS = ["arabic-indic", "full-width", "letter", "cyrillic", "greek", "en-dash", "math-bold",
                  "roman", "superscript", "no-break-space"]  # fmt: skip
SAID = (
    "{got!r} holds {c} ({named}), which prints like {like!r}; write a new id, voucher or reference in "
    "the digits 0-9 and half-width letters, so that no two print alike"
)


def _shown(c: str) -> str:
    """A look-alike as the refusal shows it: one that does not print (a no-break space) escaped."""
    return c if c.isprintable() else repr(c)[1:-1]


@pytest.mark.parametrize(("twin", "c", "named", "like"), LOOK_ALIKES, ids=LOOK_ALIKE_IDS)
def test_a_new_id_or_voucher_in_look_alike_characters_is_refused_typed_or_imported(
    funded: Ledger, tmp_path: Path, twin: str, c: str, named: str, like: str
) -> None:
    """`grant apply G١` beside G1 made a second grant that prints as G1's twin (the same with
    full-width １ or Ｇ, Cyrillic А, Greek Ο, an en dash, a mathematical bold 𝟏, a roman numeral Ⅰ,
    a superscript ¹, a no-break space; and a voucher S１ beside S1): a new id or voucher holds no
    look-alike of ASCII, typed or imported; a Chinese id stays an id."""
    funded.ok("unit", "register", "U2", "--name", "单位二", "--date", "2024-02-01")
    before = _stored(funded.url)
    said = SAID.format(got=twin, c=_shown(c), named=named, like=like)
    apply = ["--unit", "U2", "--base", "B0009", "--programme", "district_base", "--project", "电工",
             "--amount", "20万", "--date", "2024-03-01"]  # fmt: skip
    typed = funded("grant", "apply", twin, *apply)
    assert typed.exit_code == 2, typed.stdout
    assert typed.stderr == f"grant-ledger: GRANT_ID: {said}\n"
    base = funded("grant", "apply", "G9", *apply[:2], "--base", f"B{twin}", *apply[4:])
    assert base.exit_code == 2
    assert base.stderr == f"grant-ledger: --base: {said.replace(repr(twin), repr('B' + twin), 1)}\n"
    unit = funded("unit", "register", f"U{twin}", "--name", "单位", "--date", "2024-02-01")
    assert unit.exit_code == 2 and f"holds {_shown(c)} ({named})" in unit.stderr
    voucher = funded("spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", f"S{twin}",
                     "--date", "2024-05-10")  # fmt: skip
    assert voucher.exit_code == 2 and voucher.stderr.startswith("grant-ledger: --voucher: ")
    assert f"holds {_shown(c)} ({named})" in voucher.stderr
    book = tmp_path / "approvals.csv"
    book.write_text(
        f"{HEADER}\n2024-04-01,U9,B0009,{twin},district_base,approve,200000,,,,渝中人社〔2024〕9号,,\n",
        encoding="utf-8",
    )
    imported = funded("import", str(book), role="approver")
    assert imported.exit_code == 2
    assert f"approvals.csv:2: grant_id: {said}" in imported.stderr
    code, err = _import(funded, tmp_path, _spend_row(voucher=f"S{twin}"))
    assert code == 2 and f"books.csv:2: voucher: {'S' + twin!r} holds {_shown(c)} ({named})" in err
    assert _stored(funded.url) == before
    # the ids a Chinese office gives, and the ASCII twin, are ids
    funded.ok("unit", "register", "渝中-单位01", "--name", "单位", "--date", "2024-02-01")
    funded.ok("grant", "apply", "渝中-项目1", "--unit", "渝中-单位01", "--base", "B0010", *apply[4:])
    funded.ok("grant", "apply", "G9", *apply)


# (the command, the option that names the new thing, a look-alike of it, what it holds, its ASCII
# twin, a Chinese one, who records it): each a reference by which the thing is found or counted
NEW_REFERENCES = [
    (["rectify", "order", "G1", "--finding", "台账不全", "--deadline", "2024-09-30", "--date", "2024-06-30"],
     "--ref", "R\u00b9", "\u00b9", "U+00B9 SUPERSCRIPT ONE", "1", "R1", "渝中人社整改〔2024〕1号",
     "approver"),
    (["recover", "order", "G1", "--amount", "100", "--reason", "违规列支", "--date", "2024-06-30"],
     "--document", "追\u20131", "\u2013", "U+2013 EN DASH", "-", "追-1", "渝中人社〔2024〕追1号", "approver"),
    (["body", "add", "--name", "{name}", "--kind", "district_bureau", "--duty", "hr", "--date", "2024-01-03"],
     "CODE", "RS-\u0422N", "\u0422", "U+0422 CYRILLIC CAPITAL LETTER TE", "T", "RS-TN", "人社-铜梁",
     "admin"),
    (["dispose", "G1", "--source", "subsidy", "--amount", "100", "--how", "returned", "--date", "2024-06-30"],
     "--approval", "批\uff0d1", "\uff0d", "U+FF0D FULLWIDTH HYPHEN-MINUS", "-", "批-1", "渝财〔2024〕8号",
     "officer"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("command", "option", "alike", "c", "named", "like", "ascii", "chinese", "role"),
    NEW_REFERENCES,
    ids=["rectification", "recovery", "body", "disposal"],
)
def test_a_new_reference_in_look_alike_characters_is_refused(
    funded: Ledger,
    command: list[str],
    option: str,
    alike: str,
    c: str,
    named: str,
    like: str,
    ascii: str,
    chinese: str,
    role: str,
) -> None:
    """A rectification is completed by its reference, a recovery order and a disposal are recorded
    once by their document, a body is named by its code: ``R¹`` beside ``R1``, ``追–1`` beside
    ``追-1``, a code in Cyrillic Т beside ``RS-TN``, ``批－1`` beside ``批-1`` is a second one that
    prints as the first. Refused (exit 2, one sentence, nothing written); the ASCII twin and a
    Chinese one are recorded."""
    names = iter(["铜梁区人力社保局", "潼南区人力社保局", "綦江区人力社保局"])

    def run(value: str) -> Result:
        args = [a.format(name=next(names)) if a == "{name}" else a for a in command]
        if option.startswith("--"):
            return funded(*args, option, value, role=role)
        return funded(*args[:2], value, *args[2:], role=role)

    before = _stored(funded.url)
    refused = run(alike)
    assert refused.exit_code == 2, refused.stdout
    said = SAID.format(got=alike, c=c, named=named, like=like)
    assert refused.stderr == f"grant-ledger: {option}: {said}\n"
    assert _stored(funded.url) == before
    for value in (ascii, chinese):
        done = run(value)
        assert done.exit_code == 0, done.stderr


def test_a_recovery_order_imported_with_a_look_alike_document_is_refused(
    funded: Ledger, tmp_path: Path
) -> None:
    before = _stored(funded.url)
    book = tmp_path / "recoveries.csv"
    row = "2024-06-30,,,G1,,recover_order,100,,,,追\u20131,,违规列支"
    book.write_text(f"{HEADER}\n{row}\n", encoding="utf-8")
    imported = funded("import", str(book), role="approver")
    assert imported.exit_code == 2
    said = SAID.format(got="追\u20131", c="\u2013", named="U+2013 EN DASH", like="-")
    assert f"recoveries.csv:2: voucher: {said}" in imported.stderr
    assert _stored(funded.url) == before
    book.write_text(f"{HEADER}\n{row.replace(chr(0x2013), '-')}\n", encoding="utf-8")
    funded.ok("import", str(book), role="approver")


def test_a_rectification_is_completed_by_its_reference_as_written(funded: Ledger) -> None:
    """`rectify complete` finds a rectification already ordered by its reference as written, under
    the plain rule: one ordered before look-alikes were refused can still be completed, and a
    look-alike given there is looked up (not found), not refused as a new reference."""
    order = ["rectify", "order", "G1", "--finding", "台账不全", "--deadline", "2024-09-30",
             "--date", "2024-06-30"]  # fmt: skip
    funded.ok(*order, "--ref", "R1", role="approver")
    alike = funded("rectify", "complete", "G1", "--ref", "R\u00b9", "--date", "2024-07-01")
    assert alike.exit_code == 4, alike.stderr
    assert "grant G1 has no rectification R\u00b9" in alike.stderr
    funded.ok("rectify", "complete", "G1", "--ref", "R1", "--date", "2024-07-01")


# CJK ideographs and the punctuation Chinese document numbers are written with: never look-alikes
CHINESE = "渝中人社〔2024〕9号【一】、。《》「」『』〇零壹贰叁号函发字第"
CJK_BLOCKS = [(0x3001, 0x303F), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF)]


def _compatibility_forms() -> set[int]:
    import sys
    import unicodedata

    found = set()
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        normal = unicodedata.normalize("NFKC", c)
        if normal != c and normal.isascii():
            found.add(cp)
    return found


def _frozen() -> set[int]:
    from ledger.look_alikes import COMPATIBILITY_FORMS

    ranges = list(COMPATIBILITY_FORMS)
    assert ranges == sorted(ranges)
    assert all(first <= last for first, last in ranges)
    assert all(last + 1 < after for (_, last), (after, _) in pairwise(ranges))
    return {cp for first, last in ranges for cp in range(first, last + 1)}


def test_every_frozen_compatibility_form_is_one_of_ascii() -> None:
    """Every character of the frozen table is one NFKC makes ASCII (and not itself), at any
    Unicode: a later Unicode does not take a decomposition back."""
    import unicodedata

    for cp in _frozen():
        normal = unicodedata.normalize("NFKC", chr(cp))
        assert normal.isascii() and normal != chr(cp), f"U+{cp:04X}"


def test_the_frozen_compatibility_forms_are_every_one_of_their_unicode() -> None:
    """The frozen table holds every compatibility form of ASCII of the Unicode it names (it is
    frozen so that the command line does not read every code point at each start)."""
    import unicodedata

    from ledger.look_alikes import COMPATIBILITY_FORMS_UNICODE

    if unicodedata.unidata_version != COMPATIBILITY_FORMS_UNICODE:
        pytest.skip(
            f"this Python's unicodedata is Unicode {unicodedata.unidata_version}, the table's "
            f"{COMPATIBILITY_FORMS_UNICODE}: another Unicode may add compatibility forms; recompute "
            "the table under it (ledger/look_alikes.py)"
        )
    missing = sorted(_compatibility_forms() - _frozen())
    assert not missing, [f"U+{cp:04X}" for cp in missing]
    assert len(_frozen()) == 1403


def test_the_look_alike_letters_and_dashes_print_like_their_twins() -> None:
    """Each hand-written look-alike is one character, no compatibility form (those are in the
    frozen table), no digit, and named as the ASCII it prints like."""
    import unicodedata

    from ledger.look_alikes import LOOK_ALIKE_LETTERS
    from ledger.text import LOOK_ALIKE, look_alike_named

    frozen = _frozen()
    for c, twin in LOOK_ALIKE_LETTERS.items():
        assert len(c) == 1 and not c.isascii() and ord(c) not in frozen, f"U+{ord(c):04X}"
        assert unicodedata.category(c) != "Nd"
        assert len(twin) == 1 and twin.isascii() and twin.isprintable()
        assert LOOK_ALIKE.fullmatch(c) and look_alike_named(c)[1] == twin
    # each twin is the glyph's: read by the character's Unicode name, not its code point
    assert {unicodedata.name(c): twin for c, twin in LOOK_ALIKE_LETTERS.items()} == TWINS


# the hand-written look-alikes by their Unicode names, and the ASCII each prints like
TWINS = {
    "CYRILLIC CAPITAL LETTER A": "A",
    "CYRILLIC CAPITAL LETTER VE": "B",
    "CYRILLIC CAPITAL LETTER IE": "E",
    "CYRILLIC CAPITAL LETTER KA": "K",
    "CYRILLIC CAPITAL LETTER EM": "M",
    "CYRILLIC CAPITAL LETTER EN": "H",
    "CYRILLIC CAPITAL LETTER O": "O",
    "CYRILLIC CAPITAL LETTER ER": "P",
    "CYRILLIC CAPITAL LETTER ES": "C",
    "CYRILLIC CAPITAL LETTER TE": "T",
    "CYRILLIC CAPITAL LETTER U": "Y",
    "CYRILLIC CAPITAL LETTER HA": "X",
    "CYRILLIC CAPITAL LETTER DZE": "S",
    "CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I": "I",
    "CYRILLIC CAPITAL LETTER JE": "J",
    "CYRILLIC CAPITAL LETTER STRAIGHT U": "Y",
    "CYRILLIC CAPITAL LETTER SHHA": "H",
    "CYRILLIC CAPITAL LETTER QA": "Q",
    "CYRILLIC CAPITAL LETTER WE": "W",
    "CYRILLIC LETTER PALOCHKA": "I",
    "CYRILLIC SMALL LETTER A": "a",
    "CYRILLIC SMALL LETTER IE": "e",
    "CYRILLIC SMALL LETTER O": "o",
    "CYRILLIC SMALL LETTER ER": "p",
    "CYRILLIC SMALL LETTER ES": "c",
    "CYRILLIC SMALL LETTER U": "y",
    "CYRILLIC SMALL LETTER HA": "x",
    "CYRILLIC SMALL LETTER DZE": "s",
    "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I": "i",
    "CYRILLIC SMALL LETTER JE": "j",
    "CYRILLIC SMALL LETTER SHHA": "h",
    "CYRILLIC SMALL LETTER KOMI DE": "d",
    "CYRILLIC SMALL LETTER QA": "q",
    "CYRILLIC SMALL LETTER WE": "w",
    "GREEK CAPITAL LETTER ALPHA": "A",
    "GREEK CAPITAL LETTER BETA": "B",
    "GREEK CAPITAL LETTER EPSILON": "E",
    "GREEK CAPITAL LETTER ZETA": "Z",
    "GREEK CAPITAL LETTER ETA": "H",
    "GREEK CAPITAL LETTER IOTA": "I",
    "GREEK CAPITAL LETTER KAPPA": "K",
    "GREEK CAPITAL LETTER MU": "M",
    "GREEK CAPITAL LETTER NU": "N",
    "GREEK CAPITAL LETTER OMICRON": "O",
    "GREEK CAPITAL LETTER RHO": "P",
    "GREEK CAPITAL LETTER TAU": "T",
    "GREEK CAPITAL LETTER UPSILON": "Y",
    "GREEK CAPITAL LETTER CHI": "X",
    "GREEK CAPITAL LUNATE SIGMA SYMBOL": "C",
    "GREEK CAPITAL LETTER YOT": "J",
    "GREEK SMALL LETTER OMICRON": "o",
    "GREEK SMALL LETTER NU": "v",
    "GREEK SMALL LETTER RHO": "p",
    "GREEK LUNATE SIGMA SYMBOL": "c",
    "GREEK LETTER YOT": "j",
    "GREEK SMALL LETTER ALPHA": "a",
    "GREEK SMALL LETTER IOTA": "i",
    "GREEK SMALL LETTER UPSILON": "u",
    "LATIN LETTER DENTAL CLICK": "l",
    "LATIN SMALL LETTER SCRIPT G": "g",
    "LATIN SMALL LETTER ALPHA": "a",
    "LATIN SMALL LETTER DOTLESS I": "i",
    "HYPHEN": "-",
    "NON-BREAKING HYPHEN": "-",
    "FIGURE DASH": "-",
    "EN DASH": "-",
    "MINUS SIGN": "-",
    "MODIFIER LETTER MINUS SIGN": "-",
}


def test_chinese_is_no_look_alike() -> None:
    """No CJK ideograph, and none of the punctuation Chinese document numbers use (〔〕【】、。《》,
    the ideographic zero 〇), is a look-alike: Chinese ids and documents stay usable."""
    from pydantic import TypeAdapter

    from ledger.actions import NewIdentifier, NewReference
    from ledger.look_alikes import LOOK_ALIKE_LETTERS
    from ledger.text import LOOK_ALIKE

    frozen = _frozen()
    for first, last in CJK_BLOCKS:
        assert not any(first <= cp <= last for cp in frozen)
        assert not any(first <= ord(c) <= last for c in LOOK_ALIKE_LETTERS)
        assert LOOK_ALIKE.search("".join(chr(cp) for cp in range(first, last + 1))) is None
    for rule in (NewIdentifier, NewReference):
        assert TypeAdapter(rule).validate_python(CHINESE) == CHINESE


def test_pydantic_and_python_refuse_the_same_look_alikes() -> None:
    """The class pydantic-core reads (Rust's regex) and ``LOOK_ALIKE`` (Python's ``re``) are built
    from one table: a new reference refuses every character the explanation names."""
    from pydantic import TypeAdapter, ValidationError

    from ledger.actions import NewReference
    from ledger.look_alikes import LOOK_ALIKE_LETTERS
    from ledger.text import LOOK_ALIKE

    new = TypeAdapter(NewReference)
    for c in [*map(chr, sorted(_frozen())), *LOOK_ALIKE_LETTERS, "١", "१", "\U0001d7ce"]:
        assert LOOK_ALIKE.search(f"S{c}1"), f"U+{ord(c):04X}"
        with pytest.raises(ValidationError):
            new.validate_python(f"S{c}1")
    for text in ("S1", "S-1", "S 1", "S/1", "S_1.2", "批-1"):
        assert new.validate_python(text) == text and LOOK_ALIKE.search(text) is None
