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
from tests.test_import_as_shown import _book, _funded

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
]


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
