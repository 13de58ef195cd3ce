"""Type an officer cannot read is not read by the import either: a run of rich text in white or
1-point type (the cell shows 1, the import read 15000), type of a colour too close to the cell's
fill or to the sheet's white (black on black, yellow on yellow, FEFEFE), whether the text is
written inline or as a shared string (found by a red-team pass; only the cell's own font in white
was judged). Grey type, white on a dark fill and a bold run are read as before."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Ledger
from tests.test_import_as_shown import SPEND, _book, _funded

UNSEEN = "cell G2 holds a value an officer does not see (white or tiny type)"


def _rich(*runs: tuple[dict[str, Any] | None, str]) -> Any:
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    return CellRichText(
        *(text if font is None else TextBlock(InlineFont(**font), text) for font, text in runs)
    )


def _styled(font: dict[str, Any], fill: str | None = None) -> Any:
    def style(cell: Any) -> None:
        from openpyxl.styles import Color, Font, PatternFill

        cell.font = Font(**{k: Color(**v) if isinstance(v, dict) else v for k, v in font.items()})
        if fill is not None:
            cell.fill = PatternFill("solid", fgColor=fill)

    return style


CASES = [
    ("a white run", _rich((None, "1"), ({"color": "FFFFFFFF"}, "5000")), None, True),
    ("a 1-point run", _rich((None, "1"), ({"sz": 1}, "5000")), None, True),
    ("a near-white run", _rich((None, "1"), ({"color": "FFFEFEFE"}, "5000")), None, True),
    ("black on black", 15000, _styled({"color": "FF000000"}, "FF000000"), True),
    ("yellow on yellow", 15000, _styled({"color": "FFFFFF00"}, "FFFFFF00"), True),
    ("FEFEFE on the sheet", 15000, _styled({"color": "FFFEFEFE"}), True),
    ("white of the theme", 15000, _styled({"color": {"theme": 0}}), True),
    ("the theme's white a shade darker", 15000, _styled({"color": {"theme": 0, "tint": -0.05}}), True),
    ("the theme's white much darker", 15000, _styled({"color": {"theme": 0, "tint": -0.5}}), False),
    ("grey", 15000, _styled({"color": "FF808080"}), False),
    ("white on dark blue", 15000, _styled({"color": "FFFFFFFF"}, "FF1F4E78"), False),
    ("a bold run", _rich((None, "1"), ({"b": True}, "5000")), None, False),
    ("a grey run", _rich((None, "1"), ({"color": "FF7F7F7F"}, "5000")), None, False),
    # a second pass: a pattern and a gradient that are black, black type on them
    ("black on a dark grey pattern of black", 15000, lambda c: _pattern(c, "darkGray"), True),
    ("black on a gradient of black", 15000, lambda c: _gradient(c, "000000"), True),
    ("black on a light gradient", 15000, lambda c: _gradient(c, "DDEBF7"), False),
]


def _pattern(cell: Any, kind: str) -> None:
    from openpyxl.styles import Font, PatternFill

    cell.font = Font(color="FF000000")
    cell.fill = PatternFill(kind, fgColor="FF000000", bgColor="FF000000")


def _gradient(cell: Any, colour: str) -> None:
    from openpyxl.styles import Font, GradientFill

    cell.font = Font(color="FF000000")
    cell.fill = GradientFill(stop=(colour, colour))


def _shape(value: Any, style: Any) -> Any:
    def shape(book: Any, sheet: Any) -> None:
        sheet["G2"] = value
        if style is not None:
            style(sheet["G2"])

    return shape


def _as_shared_strings(path: Path) -> None:
    """The workbook with its first sheet's inline strings written as shared strings, as Excel and
    WPS save them."""
    with zipfile.ZipFile(path) as source:
        parts = {part.filename: source.read(part) for part in source.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    strings: list[str] = []

    def shared(found: re.Match[str]) -> str:
        strings.append(found.group(2))
        return f'<c{found.group(1)} t="s"><v>{len(strings) - 1}</v></c>'

    sheet = re.sub(r'<c([^>]*?) t="inlineStr"><is>(.*?)</is></c>', shared, sheet)
    sheet = re.sub(r'<c([^>]*?) t="inlineStr"></c>', r"<c\1></c>", sheet)
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    table = "".join(f"<si>{s}</si>" for s in strings)
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    parts["xl/sharedStrings.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{ns}" count="{len(strings)}" '
        f'uniqueCount="{len(strings)}">{table}</sst>'
    ).encode()
    types = parts["[Content_Types].xml"].decode()
    parts["[Content_Types].xml"] = types.replace(
        "</Types>",
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    ).encode()
    rels = parts["xl/_rels/workbook.xml.rels"].decode()
    parts["xl/_rels/workbook.xml.rels"] = rels.replace(
        "</Relationships>",
        '<Relationship Id="rIdShared" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    ).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


@pytest.mark.parametrize("shared", [False, True], ids=["inline", "shared strings"])
@pytest.mark.parametrize(("what", "value", "style", "refused"), CASES, ids=[c[0] for c in CASES])
def test_type_an_officer_cannot_read_is_refused(
    sqlite_ledger: Ledger, tmp_path: Path, what: str, value: Any, style: Any, refused: bool, shared: bool
) -> None:
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()
    path = _book(tmp_path / "支出.xlsx", _shape(value, style))
    if shared:
        _as_shared_strings(path)
        if not isinstance(value, int):
            assert b"<si><r>" in zipfile.ZipFile(path).read("xl/sharedStrings.xml")
    result = sqlite_ledger("import", str(path))
    if refused:
        assert result.exit_code == 2, (what, result.stdout, result.stderr)
        assert UNSEEN in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert sqlite_ledger.event_count() == before
    else:
        assert result.exit_code == 0, (what, result.stderr)
        assert sqlite_ledger.balances("B0001")["B0001"]["subsidy_spent"] == "15000.00"


def test_the_default_style_is_judged_as_any_other(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """A workbook whose default style (0, the style of a cell naming none) is white type was read
    unjudged in every cell naming no style (a second red-team pass)."""
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()

    def shape(book: Any, sheet: Any) -> None:
        sheet["G2"] = 15000

    path = _book(tmp_path / "支出.xlsx", shape)
    with zipfile.ZipFile(path) as source:
        parts = {part.filename: source.read(part) for part in source.infolist()}
    styles = parts["xl/styles.xml"].decode()
    first_font = re.search(r"<font>.*?</font>|<font/>", styles, re.S)
    assert first_font is not None, styles[:500]
    parts["xl/styles.xml"] = styles.replace(
        first_font.group(), '<font><color rgb="FFFFFFFF"/><sz val="11"/></font>', 1
    ).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 2 and "(white or tiny type)" in result.stderr, result.stderr
    assert sqlite_ledger.event_count() == before


def test_a_shared_string_is_judged_by_its_index_where_the_sheet_names_it(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """By its text, a phonetic guide (rPh) kept a white run from being found, and a plain cell was
    refused because the same text was rich and white on a dark fill on another sheet."""
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()
    path = _book(tmp_path / "支出.xlsx", _shape(_rich((None, "1"), ({"color": "FFFFFFFF"}, "5000")), None))
    _as_shared_strings(path)
    with zipfile.ZipFile(path) as source:
        parts = {part.filename: source.read(part) for part in source.infolist()}
    table = parts["xl/sharedStrings.xml"].decode()
    parts["xl/sharedStrings.xml"] = re.sub(
        r"(<si><r>.*?)(</si>)", r'\1<rPh sb="0" eb="1"><t>x</t></rPh>\2', table, count=1, flags=re.S
    ).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 2 and UNSEEN in result.stderr, result.stderr
    assert sqlite_ledger.event_count() == before

    from openpyxl import Workbook

    from ledger.import_format import HEADER

    book = Workbook()
    sheet = book.active
    sheet.append(list(HEADER))
    sheet.append([*SPEND[:6], 15000, *SPEND[7:10], "X2", *SPEND[11:]])
    other = book.create_sheet("汇总")
    from openpyxl.styles import PatternFill

    other["A1"] = _rich(({"color": "FFFFFFFF"}, "equip"), ({"color": "FFFFFFFF"}, "ment"))
    other["A1"].fill = PatternFill("solid", fgColor="FF1F4E78")
    honest = tmp_path / "汇总.xlsx"
    book.save(honest)
    _as_shared_strings(honest)
    done = sqlite_ledger("import", str(honest))
    assert done.exit_code == 0, done.stderr


@pytest.mark.parametrize(
    "rule", ["near-white type", "a data bar without its value", "an icon without its value"]
)
def test_a_conditional_format_hiding_the_number_is_refused(
    sqlite_ledger: Ledger, tmp_path: Path, rule: str
) -> None:
    """Only exact white type was judged in a conditional format (FEFEFE passed), and a data bar or
    an icon set shown in the number's place was not judged at all (a second red-team pass)."""
    from openpyxl.formatting.rule import CellIsRule, DataBarRule, IconSetRule
    from openpyxl.styles import Font

    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()

    def shape(book: Any, sheet: Any) -> None:
        sheet["G2"] = 15000
        made = {
            "near-white type": lambda: CellIsRule(
                operator="greaterThan", formula=["0"], font=Font(color="FFFEFEFE")
            ),
            "a data bar without its value": lambda: DataBarRule(
                start_type="min", end_type="max", color="FF638EC6", showValue=False
            ),
            "an icon without its value": lambda: IconSetRule(
                "3Arrows", "percent", [0, 33, 67], showValue=False
            ),
        }[rule]()
        sheet.conditional_formatting.add("G2", made)

    result = sqlite_ledger("import", str(_book(tmp_path / "支出.xlsx", shape)))
    assert result.exit_code == 2 and "conditional format" in result.stderr, result.stderr
    assert sqlite_ledger.event_count() == before
