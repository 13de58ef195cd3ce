"""Characters that make a report lie to its reader (issue 14, item 15), refused alike on the
command line and in an import: amounts in digits other than ASCII or full-width (Arabic-Indic
٣٠٠ was recorded as 300), bidirectional controls in ids and text (named, with their code point),
and ids starting with '-', which read as options where an id is a command's argument."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.cli import cli
from tests.conftest import Ledger, approved_district_grant
from tests.importdata import HEADER
from tests.test_actions import _stored

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
]


@pytest.mark.parametrize(
    ("twin", "c", "named", "like"), LOOK_ALIKES, ids=["arabic-indic", "full-width", "letter"]
)
def test_a_new_id_or_voucher_in_look_alike_characters_is_refused_typed_or_imported(
    funded: Ledger, tmp_path: Path, twin: str, c: str, named: str, like: str
) -> None:
    """`grant apply G١` beside G1 made a second grant that prints as G1's twin (the same with
    full-width １ or Ｇ, and a voucher S１ beside S1): a new id or voucher holds the digits 0-9 and
    half-width characters, typed or imported; a Chinese id stays an id."""
    funded.ok("unit", "register", "U2", "--name", "单位二", "--date", "2024-02-01")
    before = _stored(funded.url)
    said = (
        f"{twin!r} holds {c} ({named}), which prints like {like!r}; write a new id or voucher in the "
        "digits 0-9 and half-width letters, so that no two print alike"
    )
    apply = ["--unit", "U2", "--base", "B0009", "--programme", "district_base", "--project", "电工",
             "--amount", "20万", "--date", "2024-03-01"]  # fmt: skip
    typed = funded("grant", "apply", twin, *apply)
    assert typed.exit_code == 2, typed.stdout
    assert typed.stderr == f"grant-ledger: GRANT_ID: {said}\n"
    base = funded("grant", "apply", "G9", *apply[:2], "--base", f"B{twin}", *apply[4:])
    assert base.exit_code == 2
    assert base.stderr == f"grant-ledger: --base: {said.replace(repr(twin), repr('B' + twin), 1)}\n"
    unit = funded("unit", "register", f"U{twin}", "--name", "单位", "--date", "2024-02-01")
    assert unit.exit_code == 2 and f"holds {c} ({named})" in unit.stderr
    voucher = funded("spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", f"S{twin}",
                     "--date", "2024-05-10")  # fmt: skip
    assert voucher.exit_code == 2 and voucher.stderr.startswith("grant-ledger: --voucher: ")
    assert f"holds {c} ({named})" in voucher.stderr
    book = tmp_path / "approvals.csv"
    book.write_text(
        f"{HEADER}\n2024-04-01,U9,B0009,{twin},district_base,approve,200000,,,,渝中人社〔2024〕9号,,\n",
        encoding="utf-8",
    )
    imported = funded("import", str(book), role="approver")
    assert imported.exit_code == 2
    assert f"approvals.csv:2: grant_id: {said}" in imported.stderr
    code, err = _import(funded, tmp_path, _spend_row(voucher=f"S{twin}"))
    assert code == 2 and f"books.csv:2: voucher: 'S{twin}' holds {c} ({named})" in err
    assert _stored(funded.url) == before
    # the ids a Chinese office gives, and the ASCII twin, are ids
    funded.ok("unit", "register", "渝中-单位01", "--name", "单位", "--date", "2024-02-01")
    funded.ok("grant", "apply", "渝中-项目1", "--unit", "渝中-单位01", "--base", "B0010", *apply[4:])
    funded.ok("grant", "apply", "G9", *apply)
