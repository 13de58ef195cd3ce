"""Tampers a second red-team pass made PASS, or crash, `audit verify` now FAIL (exit 6, one line
each, no traceback): content of a sheet past its ``<dimension>`` (H1), a hidden or squeezed row or
column in any spelling XML allows (H2), a sheet moved out of ``xl/worksheets/`` (H3), parts and
elements export never writes (M1), duplicate JSON keys in events.jsonl (M2), and input that made
the verifier crash or hang: nesting past the recursion limit, a lone surrogate, a directory, a
dangling link or a FIFO where a file belongs (M3)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.bundle import write_manifest
from audit.verifier.xlsx import sheet_parts
from tests.test_workbook_verified import _edit_part, _verify, exported_history

SHEETS = ["balances", "spending", "findings", "who did what", "people registry", "event log"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("book")
    exported_history(home)
    return home


@pytest.fixture
def bundle(home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(home / "bundle", copy)
    return copy


def _member(bundle: Path, sheet: str) -> str:
    with zipfile.ZipFile(bundle / "report.xlsx") as book:
        return dict(sheet_parts(book))[sheet]


def _rewrite(
    bundle: Path, edit: Callable[[str, bytes], tuple[str, bytes] | None], add: dict[str, bytes]
) -> None:
    """Rewrites report.xlsx member by member (``edit`` may rename or drop one: None), adds
    ``add``, and recomputes MANIFEST, as a careful forger would."""
    path = bundle / "report.xlsx"
    with zipfile.ZipFile(path) as old:
        parts = [(info.filename, old.read(info)) for info in old.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in parts:
            edited = edit(name, data)
            if edited is not None:
                new.writestr(*edited)
        for name, data in add.items():
            new.writestr(name, data)
    write_manifest(bundle)


def _last_row(xml: bytes) -> int:
    return max(int(n) for n in re.findall(rb'<row r="([0-9]+)"', xml))


# ----------------------------------------------------------------------------- H1: past the dimension


@pytest.mark.parametrize("sheet", SHEETS)
def test_rows_past_a_sheet_s_dimension_fail(bundle: Path, sheet: str) -> None:
    """openpyxl's read-only reader stops at the declared ``<dimension>``; Excel shows every row."""

    def edit(xml: bytes) -> bytes:
        n = _last_row(xml)
        forged = b"".join(
            b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>B0001</t></is></c>'
            b'<c r="H%d" s="5"><v>999999.00</v></c></row>' % (k, k, k)
            for k in range(n + 1, n + 4)
        )
        return xml.replace(b"</sheetData>", forged + b"</sheetData>")

    _edit_part(bundle, _member(bundle, sheet), edit)
    code, out = _verify(bundle)
    assert code == 6 and "outside its dimension" in out and f"sheet {sheet!r}" in out, out


def test_a_column_past_a_sheet_s_dimension_fails(bundle: Path) -> None:
    def edit(xml: bytes) -> bytes:
        row = re.search(rb'<row r="5">.*?</row>', xml)
        assert row is not None
        return xml.replace(
            row.group(0), row.group(0)[: -len(b"</row>")] + b'<c r="P5" s="5"><v>999999.00</v></c></row>'
        )

    _edit_part(bundle, _member(bundle, "balances"), edit)
    code, out = _verify(bundle)
    assert code == 6 and "cell P5" in out and "outside its dimension A1:O6" in out, out


def test_cells_out_of_order_fail(bundle: Path) -> None:
    """A row given twice, or before the one above it: openpyxl skips it, Excel shows it."""

    def edit(xml: bytes) -> bytes:
        row = re.search(rb'<row r="5">.*?</row>', xml)
        assert row is not None
        return xml.replace(b"</sheetData>", row.group(0) + b"</sheetData>")

    _edit_part(bundle, _member(bundle, "balances"), edit)
    code, out = _verify(bundle)
    assert code == 6 and "out of order" in out, out


# ----------------------------------------------------------------------------- H2: any XML spelling


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'<row r="5">', b"<row r='5' hidden='1'>"),
        (b'<row r="5">', b'<row r="5" hidden = "1">'),
        (b'<row r="5">', b'<row r="5" hidden="&#49;">'),
        (b'<row r="5">', b'<row r="5" hidden="true">'),
        (b'<row r="5">', b"<row r=\"5\" ht='0' customHeight='1'>"),
        (b'<row r="5">', b'<row r="5" ht = "0.5">'),
        (b'<col min="8" max="8" width="12" customWidth="1"/>', b"<col min='8' max='8' hidden='1'/>"),
        (b'<col min="8" max="8" width="12" customWidth="1"/>', b'<col min="8" max="8" width = "0"/>'),
        (b"<cols>", b"<sheetFormatPr defaultRowHeight='15' zeroHeight='1'/><cols>"),
        (b"<cols>", b'<sheetFormatPr defaultRowHeight = "0"/><cols>'),
        # sizes Python's float() reads as 8, 9 and 15, a program reading ASCII digits as 0
        (b'<row r="5">', b'<row r="5" ht="0_8" customHeight="1">'),
        (b'<col min="8" max="8" width="12" customWidth="1"/>', b'<col min="8" max="8" width="0_9"/>'),
        (b'<row r="5">', '<row r="5" ht="١٥" customHeight="1">'.encode()),
    ],
)
def test_a_hidden_row_or_column_in_any_spelling_fails(bundle: Path, old: bytes, new: bytes) -> None:
    def edit(xml: bytes) -> bytes:
        assert old in xml
        return xml.replace(old, new, 1)

    _edit_part(bundle, _member(bundle, "balances"), edit)
    code, out = _verify(bundle)
    assert code == 6 and "(sheet 'balances') hides a" in out, out


# ----------------------------------------------------------------------------- H3: a sheet moved


def test_a_sheet_moved_out_of_the_worksheets_folder_fails(bundle: Path) -> None:
    member = _member(bundle, "balances")
    target = member.removeprefix("xl/").encode()

    def edit(name: str, data: bytes) -> tuple[str, bytes]:
        if name == member:
            cell = re.search(rb'<c r="H5" s="5"><v>([0-9.]+)</v></c>', data)
            assert cell is not None
            data = data.replace(
                cell.group(0), b'<c r="H5" s="5"><f>F5-G5+100000</f><v>' + cell.group(1) + b"</v></c>"
            )
            return "xl/balances.xml", data.replace(b'<row r="6">', b"<row r='6' hidden='1'>")
        if name == "xl/_rels/workbook.xml.rels":
            return name, data.replace(target, b"balances.xml")
        if name == "[Content_Types].xml":
            return name, data.replace(b"/" + member.encode(), b"/xl/balances.xml")
        return name, data

    _rewrite(bundle, edit, {})
    code, out = _verify(bundle)
    assert code == 6 and "xl/balances.xml" in out, out


# ----------------------------------------------------------------------------- M1: only what export writes


_DRAWING = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
    b'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><xdr:twoCellAnchor>'
    b"<xdr:from><xdr:col>7</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>4</xdr:row><xdr:rowOff>0</xdr:rowOff>"
    b"</xdr:from><xdr:to><xdr:col>8</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>5</xdr:row>"
    b'<xdr:rowOff>0</xdr:rowOff></xdr:to><xdr:sp><xdr:nvSpPr><xdr:cNvPr id="2" name="t"/><xdr:cNvSpPr '
    b'txBox="1"/></xdr:nvSpPr><xdr:spPr/><xdr:txBody><a:bodyPr/><a:p><a:r><a:t>999,999.00</a:t></a:r>'
    b"</a:p></xdr:txBody></xdr:sp><xdr:clientData/></xdr:twoCellAnchor></xdr:wsDr>"
)
_SHEET_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'drawing" Target="../drawings/drawing1.xml"/></Relationships>'
)


def test_a_text_box_drawn_over_a_cell_fails(bundle: Path) -> None:
    member = _member(bundle, "balances")
    rels = member.replace("worksheets/", "worksheets/_rels/") + ".rels"

    def edit(name: str, data: bytes) -> tuple[str, bytes]:
        if name == member:
            data = data.replace(
                b"</worksheet>",
                b'<drawing xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
                b'r:id="rId1"/></worksheet>',
            )
        if name == "[Content_Types].xml":
            data = data.replace(
                b"</Types>",
                b'<Override PartName="/xl/drawings/drawing1.xml" '
                b'ContentType="application/vnd.openxmlformats-officedocument.drawing+xml"/></Types>',
            )
        return name, data

    _rewrite(bundle, edit, {"xl/drawings/drawing1.xml": _DRAWING, rels: _SHEET_RELS})
    code, out = _verify(bundle)
    assert code == 6 and "export never writes" in out, out


@pytest.mark.parametrize(
    "part", ["xl/comments1.xml", "xl/drawings/vmlDrawing1.vml", "xl/calcChain.xml", "customXml/item1.xml"]
)
def test_a_part_export_never_writes_fails(bundle: Path, part: str) -> None:
    _rewrite(bundle, lambda name, data: (name, data), {part: b"<x/>"})
    code, out = _verify(bundle)
    assert code == 6 and f"part {part}" in out and "export never writes" in out, out


@pytest.mark.parametrize(
    ("element", "where"),
    [
        (
            b'<conditionalFormatting sqref="H5"><cfRule type="expression" dxfId="0" priority="1">'
            b"<formula>TRUE</formula></cfRule></conditionalFormatting>",
            b"<printOptions",
        ),
        (b'<extLst><ext uri="{78C0D931-6437-407d-A8EE-F0AAD7539E65}"/></extLst>', b"</worksheet>"),
        (
            b'<hyperlinks><hyperlink ref="H5" location="\'spending\'!A1" display="999,999.00"/></hyperlinks>',
            b"<printOptions",
        ),
        (b'<dataValidations count="1"><dataValidation sqref="H5"/></dataValidations>', b"<printOptions"),
    ],
)
def test_a_sheet_element_export_never_writes_fails(bundle: Path, element: bytes, where: bytes) -> None:
    def edit(xml: bytes) -> bytes:
        assert where in xml
        return xml.replace(where, element + where, 1)

    _edit_part(bundle, _member(bundle, "balances"), edit)
    code, out = _verify(bundle)
    name = re.match(rb"<(\w+)", element)
    assert name is not None
    assert code == 6 and f"a {name.group(1).decode()} element, which export never writes" in out, out


def test_a_calculation_setting_in_the_workbook_fails(bundle: Path) -> None:
    _edit_part(
        bundle,
        "xl/workbook.xml",
        lambda xml: xml.replace(b"</workbook>", b'<calcPr fullCalcOnLoad="1"/></workbook>'),
    )
    code, out = _verify(bundle)
    assert code == 6 and "a calcPr element, which export never writes" in out, out


def test_a_forged_page_footer_fails(bundle: Path) -> None:
    """What prints at the foot of every page is the page number, nothing a forger writes."""
    _edit_part(
        bundle,
        _member(bundle, "balances"),
        lambda xml: xml.replace(b"&amp;C&amp;P / &amp;N", "&amp;C补助结余 999,999.00".encode()),
    )
    code, out = _verify(bundle)
    assert code == 6 and "oddFooter" in out, out


def test_a_title_merged_over_a_row_of_figures_fails(bundle: Path) -> None:
    """A merge shows only its first cell: over a data row it hides the rest of the row."""
    _edit_part(
        bundle,
        _member(bundle, "balances"),
        lambda xml: xml.replace(
            b'<mergeCell ref="A1:O1"/>', b'<mergeCell ref="A1:O1"/><mergeCell ref="G5:H5"/>'
        ).replace(b'<mergeCells count="1">', b'<mergeCells count="2">'),
    )
    code, out = _verify(bundle)
    assert code == 6 and "G5:H5" in out, out


def test_a_workbook_saved_by_openpyxl_still_passes(bundle: Path) -> None:
    """What a spreadsheet program adds when it saves the workbook unchanged shows nothing: still read
    cell by cell, it passes."""
    from openpyxl import load_workbook

    path = bundle / "report.xlsx"
    load_workbook(path).save(path)
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 0, out


# ----------------------------------------------------------------------------- M2: duplicate keys


def _line_of(bundle: Path, voucher: str) -> tuple[list[bytes], int]:
    lines = (bundle / "events.jsonl").read_bytes().split(b"\n")[:-1]
    n = next(i for i, raw in enumerate(lines) if b'"voucher":"%s"' % voucher.encode() in raw)
    return lines, n


def _write_lines(bundle: Path, lines: list[bytes]) -> None:
    (bundle / "events.jsonl").write_bytes(b"".join(raw + b"\n" for raw in lines))
    write_manifest(bundle)


def test_a_line_with_two_records_fails(bundle: Path) -> None:
    """A reader taking the first ``record`` sees 999,999.00; the verifier took the last."""
    lines, n = _line_of(bundle, "S1")
    head, record = lines[n].split(b',"record":', 1)
    fake = record[:-1].replace(b'"_data_":"35000.00"', b'"_data_":"999999.00"')
    lines[n] = head + b',"record":' + fake + b',"record":' + record
    _write_lines(bundle, lines)
    code, out = _verify(bundle)
    assert code == 6 and "duplicate key 'record'" in out, out


def test_a_record_with_a_key_given_twice_fails(bundle: Path) -> None:
    lines, n = _line_of(bundle, "S1")
    lines[n] = lines[n].replace(
        b'"amount":{', b'"amount":{"_data_":"999999.00","_type_":"decimal_str"},"amount":{'
    )
    _write_lines(bundle, lines)
    code, out = _verify(bundle)
    assert code == 6 and "duplicate key 'amount'" in out, out


# ----------------------------------------------------------------------------- M3: no crash, no hang


def test_numbers_of_thousands_of_digits_fail_cleanly(bundle: Path) -> None:
    """Python reads no integer past 4,300 digits: an event id of 5,000 (a field no hash covers) and a
    checkpoint's size of 5,000 had ended the verifier "internal error", exit 1 (a red-team pass)."""
    lines, n = _line_of(bundle, "S1")
    lines[n] = re.sub(rb'"event_id":[0-9]+', b'"event_id":' + b"9" * 5000, lines[n], count=1)
    _write_lines(bundle, lines)
    checkpoint = next((bundle / "checkpoints").glob("*.txt"))
    body = checkpoint.read_text(encoding="utf-8").split("\n")
    body[1] = "9" * 5000
    checkpoint.write_text("\n".join(body), encoding="utf-8")
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 6, out
    assert f"events.jsonl line {n + 1}: not a JSON event line" in out, out
    assert "is not a decimal tree size" in out, out


def test_a_record_nested_past_the_recursion_limit_fails_cleanly(bundle: Path) -> None:
    lines, n = _line_of(bundle, "S1")
    data = b"[" * 100_000 + b"]" * 100_000
    leaf = hashlib.sha256(b"\x00" + data).hexdigest().encode()
    head = re.match(rb'\{"leaf_index":[0-9]+,"event_id":[0-9]+,"leaf_hash":"', lines[n])
    assert head is not None
    lines[n] = head.group(0) + leaf + b'","record":' + data + b"}"
    _write_lines(bundle, lines)
    code, out = _verify(bundle)
    assert code == 6 and f"events.jsonl line {n + 1}" in out, out


def test_a_lone_surrogate_in_a_topic_is_shown_escaped(bundle: Path) -> None:
    lines, n = _line_of(bundle, "S1")
    lines[n] = lines[n].replace(b'"topic":"grant-ledger:Grant.ExpenditureRecorded"', b'"topic":"x\\ud800"')
    _write_lines(bundle, lines)
    code, out = _verify(bundle)
    assert code == 6 and "x\\ud800" in out, out


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _directory(path: Path) -> None:
    path.mkdir()


def _dangling(path: Path) -> None:
    path.symlink_to("/nonexistent/grant-ledger")


def _link_to_a_file(path: Path) -> None:
    path.symlink_to(Path(__file__).resolve())


KINDS = {"fifo": _fifo, "directory": _directory, "dangling link": _dangling, "link": _link_to_a_file}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "name",
    [
        "checkpoints/0002.txt",
        "keys/other.pub",
        "policy/2099.toml",
        "events.jsonl",
        "report.xlsx",
        "bundle.json",
        "MANIFEST",
        "notes",
    ],
)
def test_a_file_that_is_not_a_regular_file_fails_without_reading_it(
    bundle: Path, name: str, kind: str
) -> None:
    path = bundle / name
    if path.exists():
        path.unlink()
    KINDS[kind](path)
    if kind != "fifo":
        code, out = _verify(bundle)
    else:  # a process of its own, so that a verifier that opens the FIFO hangs only it
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "commands",
                "--lang",
                "en",
                "--role",
                "auditor",
                "audit",
                "verify",
                "--unanchored",
                str(bundle),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).parent.parent,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        code, out = done.returncode, done.stdout
    assert code == 6 and f"{name}: not a regular file" in out, out


# ----------------------------------------------------------------------------- a third pass


def test_a_value_not_written_as_a_number_fails(bundle: Path) -> None:
    """<v>6150_0.00</v>: Python reads 61500.0, as the events give it; a program reading ASCII
    digits stops at the underscore and shows another figure."""

    def edit(xml: bytes) -> bytes:
        edited, n = re.subn(rb"<v>([0-9]+)([0-9])(\.[0-9]+)?</v>", rb"<v>\1_\2\3</v>", xml, count=1)
        assert n == 1
        return edited

    _edit_part(bundle, _member(bundle, "balances"), edit)
    code, out = _verify(bundle)
    assert code == 6 and "holds a value not written as a number" in out, out


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'<is><t xml:space="preserve">', b'<is><t>FAKE</t><t xml:space="preserve">'),  # two texts
        (b' t="inlineStr"><is>', b' t="inlineStr"><v>1</v><is>'),  # a value beside the string
        (b'<c r="A5"', b'<c r="A5" ph="1"'),  # phonetic text shown over the cell
    ],
)
def test_a_cell_s_content_in_a_form_export_never_writes_fails(bundle: Path, old: bytes, new: bytes) -> None:
    def edit(xml: bytes) -> bytes:
        assert old in xml
        return xml.replace(old, new, 1)

    _edit_part(bundle, _member(bundle, "balances"), edit)
    code, out = _verify(bundle)
    assert code == 6 and ("form export never writes" in out or "ph=" in out), out


def test_shared_strings_in_several_fonts_fail(bundle: Path) -> None:
    """A cell's text moved to the shared strings (as a program saving the workbook may put it) and
    split into runs each in its own font: openpyxl reads the runs' text joined, the text the events
    give, while Excel draws each run in its font (a white 1-point run hides part of a figure)."""
    sheet = _member(bundle, "balances")
    main = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    moved: list[bytes] = []

    def edit(name: str, data: bytes) -> tuple[str, bytes]:
        if name == sheet:

            def shared(m: re.Match[bytes]) -> bytes:
                moved.append(m.group(2))
                return m.group(1) + b' t="s"><v>0</v></c>'

            data, n = re.subn(
                rb'(<c r="[A-Z]+[0-9]+"(?: s="[0-9]+")?) t="inlineStr">'
                rb'<is><t xml:space="preserve">([^<]+)</t></is></c>',
                shared,
                data,
                count=1,
            )
            assert n == 1
        elif name == "xl/_rels/workbook.xml.rels":
            data = data.replace(
                b"</Relationships>",
                b'<Relationship Id="rIdS" Target="sharedStrings.xml" Type="http://schemas.openxmlformats.org/'
                b'officeDocument/2006/relationships/sharedStrings"/></Relationships>',
            )
        elif name == "[Content_Types].xml":
            data = data.replace(
                b"</Types>",
                b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
            )
        return name, data

    def strings(runs: bool) -> bytes:
        text = moved[0]
        body = b'<r><rPr><sz val="1"/></rPr><t>%s</t></r><r><t>%s</t></r>' % (text[:1], text[1:])
        return b'<sst xmlns="%s" count="1" uniqueCount="1"><si>%s</si></sst>' % (
            main,
            body if runs else b"<t>%s</t>" % text,
        )

    original = bundle.parent / "original.xlsx"
    shutil.copy(bundle / "report.xlsx", original)
    _rewrite(bundle, edit, {})
    with zipfile.ZipFile(bundle / "report.xlsx", "a") as book:
        book.writestr("xl/sharedStrings.xml", strings(runs=False))
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 0, out  # plain shared text, as a program saving it writes, passes
    shutil.copy(original, bundle / "report.xlsx")
    moved.clear()
    _rewrite(bundle, edit, {})
    with zipfile.ZipFile(bundle / "report.xlsx", "a") as book:
        book.writestr("xl/sharedStrings.xml", strings(runs=True))
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 6 and "several fonts" in out, out


def test_a_dtd_in_the_styles_part_fails(bundle: Path) -> None:
    """An entity declared in the styles part can inflate a 22 KB workbook's number formats to
    hundreds of megabytes, and a message quoting one to as many: any DTD fails."""

    def edit(xml: bytes) -> bytes:
        head, _, rest = xml.partition(b"?>")
        return head + b'?><!DOCTYPE styleSheet [<!ENTITY e "0.00">]>' + rest

    _edit_part(bundle, "xl/styles.xml", edit)
    code, out = _verify(bundle)
    assert code == 6 and "DOCTYPE" in out, out


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (b'<font><sz val="11"/>', b'<font><sz val="1"/>', "too small"),
        (b'<font><sz val="11"/>', b'<font><sz val="1_1"/>', "too small"),
        (b'<font><sz val="11"/>', b'<font><sz val="11"/><color rgb="FFFFFFFF"/>', "coloured"),
        (
            b'<numFmts count="2">',
            b'<numFmts count="3"><numFmt numFmtId="165" formatCode="0"/>',
            "given twice",
        ),
    ],
)
def test_styles_that_hide_a_figure_fail(bundle: Path, old: bytes, new: bytes, said: str) -> None:
    """A white or 1-point font over the amounts, or a number format id given twice (one program
    keeps the first, openpyxl the last), passed: the styles were checked for number formats only."""

    def edit(xml: bytes) -> bytes:
        assert old in xml
        return xml.replace(old, new, 1)

    _edit_part(bundle, "xl/styles.xml", edit)
    code, out = _verify(bundle)
    assert code == 6 and said in out, out


def test_a_sheet_showing_zeros_as_empty_or_a_hidden_window_fails(bundle: Path) -> None:
    def views(xml: bytes) -> bytes:
        assert b'<sheetView workbookViewId="0">' in xml
        return xml.replace(
            b'<sheetView workbookViewId="0">', b'<sheetView showZeros="0" workbookViewId="0">', 1
        )

    _edit_part(bundle, _member(bundle, "balances"), views)
    code, out = _verify(bundle)
    assert code == 6 and "shows zero amounts as empty cells" in out, out


def test_a_hidden_workbook_window_fails(bundle: Path) -> None:
    def hidden(xml: bytes) -> bytes:
        edited, n = re.subn(rb"<workbookView\b", b'<workbookView visibility="hidden"', xml, count=1)
        if n == 0:
            edited = xml.replace(
                b"<sheets>", b'<bookViews><workbookView visibility="hidden"/></bookViews><sheets>', 1
            )
        return edited

    _edit_part(bundle, "xl/workbook.xml", hidden)
    code, out = _verify(bundle)
    assert code == 6 and "hides the workbook's window" in out, out


# ----------------------------------------------------------------------------- fills and sheet views

_HEAD_FILL = b'<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/>'
_BLACK_FILL = b'<fill><patternFill patternType="solid"><fgColor rgb="FF000000"/></patternFill></fill>'
_YUAN_XF = b'<xf numFmtId="165" fontId="0" fillId="0" borderId="1" xfId="0"'


def _one_failure(out: str) -> str:
    """The one line verify prints under its FAIL head."""
    head, *lines = out.splitlines()
    assert head.startswith("FAIL: 1 problem(s)") and len(lines) == 1, out
    return lines[0]


@pytest.mark.parametrize(
    ("old", "new", "fill"),
    [
        # the header's fill painted black under its black text
        (_HEAD_FILL, _HEAD_FILL.replace(b"FFDDEBF7", b"FF000000"), b"2"),
        # a black fill of its own, a black gradient, a dense pattern under every amount
        (b"</fills>", _BLACK_FILL + b"</fills>", b"3"),
        (
            b"</fills>",
            b'<fill><gradientFill degree="90"><stop position="0"><color rgb="FF000000"/></stop>'
            b'<stop position="1"><color rgb="FF000000"/></stop></gradientFill></fill></fills>',
            b"3",
        ),
        (b'<patternFill patternType="gray125"/>', b'<patternFill patternType="darkGray"/>', b"1"),
        # the fill every cell has by default
        (b'<fill><patternFill patternType="none"/></fill>', _BLACK_FILL, b"0"),
    ],
)
def test_a_fill_that_could_hide_a_figure_fails(bundle: Path, old: bytes, new: bytes, fill: bytes) -> None:
    """Fills were not checked: black under the black text of the amounts hid every figure in a
    program, while a reader read the values and verify said PASS. Any fill export does not write
    (none, gray125, the header's light blue) fails."""

    def edit(xml: bytes) -> bytes:
        assert old in xml and _YUAN_XF in xml
        amounts = _YUAN_XF.replace(b'fillId="0"', b'fillId="' + fill + b'"')
        return xml.replace(old, new, 1).replace(_YUAN_XF, amounts, 1)

    _edit_part(bundle, "xl/styles.xml", edit)
    code, out = _verify(bundle)
    assert code == 6, out
    line = _one_failure(out)
    assert "report.xlsx: a fill (" in line and "could hide a figure" in line, line


def test_the_fills_export_and_openpyxl_write_pass(bundle: Path) -> None:
    """The three fills export writes pass as they are, and as openpyxl writes them back (the first
    a pattern fill without a pattern type)."""
    code, out = _verify(bundle)
    assert code == 0, out
    from openpyxl import load_workbook

    path = bundle / "report.xlsx"
    load_workbook(path).save(path)
    with zipfile.ZipFile(path) as book:
        assert b"<fill><patternFill/></fill>" in book.read("xl/styles.xml")
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 0, out


_VIEW = b'<sheetView workbookViewId="0">'
_PANE = b'<pane ySplit="4" topLeftCell="A5" activePane="bottomLeft" state="frozen"/>'


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (_VIEW, b'<sheetView zoomScale="10" workbookViewId="0">', "is zoomed to '10' (zoomScale)"),
        (_VIEW, b'<sheetView zoomScale="0" workbookViewId="0">', "is zoomed to '0' (zoomScale)"),
        (_VIEW, b"<sheetView zoomScale='1_00' workbookViewId='0'>", "is zoomed to '1_00' (zoomScale)"),
        (_VIEW, b'<sheetView zoomScale="100" zoomScaleNormal="10" workbookViewId="0">', "(zoomScaleNormal)"),
        (_VIEW, b'<sheetView zoomScalePageLayoutView="10" workbookViewId="0">', "(zoomScalePageLayoutView)"),
        (
            _VIEW,
            b'<sheetView zoomScaleSheetLayoutView="10" workbookViewId="0">',
            "(zoomScaleSheetLayoutView)",
        ),
        (_VIEW, b'<sheetView showRowColHeaders="0" workbookViewId="0">', "sets showRowColHeaders='0'"),
        (_VIEW, b'<sheetView rightToLeft="1" workbookViewId="0">', "sets rightToLeft='1'"),
        (_VIEW, b'<sheetView showFormulas="true" workbookViewId="0">', "sets showFormulas='true'"),
        (_VIEW, b'<sheetView view="pageLayout" workbookViewId="0">', "sets view='pageLayout'"),
        (_VIEW, b'<sheetView view="pageBreakPreview" workbookViewId="0">', "sets view='pageBreakPreview'"),
        (_VIEW, b'<sheetView topLeftCell="A40" workbookViewId="0">', "sets topLeftCell='A40'"),
        (_VIEW, b'<sheetView showZeros="no" workbookViewId="0">', "shows zero amounts as empty cells"),
        (_VIEW, b'<sheetView zoomToFit="1" workbookViewId="0">', "sets zoomToFit='1'"),
        # panes: frozen over the figures, a frozen column, a split
        (_PANE, _PANE.replace(b'ySplit="4"', b'ySplit="40"'), "sets ySplit='40' on its pane"),
        (_PANE, _PANE.replace(b'ySplit="4"', b'xSplit="15" ySplit="4"'), "sets xSplit='15' on its pane"),
        (_PANE, _PANE.replace(b'state="frozen"', b'state="split"'), "sets state='split' on its pane"),
        (_PANE, _PANE.replace(b' state="frozen"', b""), "sets state='split' on its pane"),
        (_PANE, _PANE.replace(b"<pane ", b'<pane ySplit2="40" '), "sets ySplit2='40' on its pane"),
    ],
)
def test_a_sheet_view_that_could_hide_a_figure_fails(bundle: Path, old: bytes, new: bytes, said: str) -> None:
    """A sheet's view was checked for showZeros only: zoomed to 10%, its row and column headings
    hidden, right to left, formulas shown (values without their formats), the page layout view,
    scrolled past the figures under frozen panes, or panes frozen over them, it passed."""

    def edit(xml: bytes) -> bytes:
        assert old in xml
        return xml.replace(old, new, 1)

    _edit_part(bundle, _member(bundle, "balances"), edit)
    code, out = _verify(bundle)
    assert code == 6, out
    line = _one_failure(out)
    assert "(sheet 'balances')" in line and said in line, line


def test_a_view_as_a_spreadsheet_program_saves_it_passes(bundle: Path) -> None:
    """Every setting a program may write in a sheet's view, each at a value that shows the figures
    as export does, passes (LibreOffice writes them all when it saves a workbook)."""
    saved = (
        b'<sheetView showFormulas="false" showGridLines="true" showRowColHeaders="true" showZeros="true" '
        b'rightToLeft="false" tabSelected="true" showOutlineSymbols="true" defaultGridColor="true" '
        b'view="normal" topLeftCell="A1" colorId="64" zoomScale="100" zoomScaleNormal="100" '
        b'zoomScalePageLayoutView="0" zoomScaleSheetLayoutView="400" workbookViewId="0">'
    )

    def edit(xml: bytes) -> bytes:
        assert _VIEW in xml and _PANE in xml
        return xml.replace(_VIEW, saved, 1).replace(_PANE, _PANE.replace(b"<pane ", b'<pane xSplit="0" '))

    code, out = _verify(bundle)
    assert code == 0, out
    _edit_part(bundle, _member(bundle, "balances"), edit)
    code, out = _verify(bundle)
    assert code == 0, out


# ----------------------------------------------------------------------------- fonts, alignments, the window

_FONT = b'<font><sz val="11"/><name val="Calibri"/></font>'  # the amounts' font (fontId 0)


def _replace(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def edit(xml: bytes) -> bytes:
        assert old in xml
        return xml.replace(old, new, 1)

    return edit


def _fails_once(bundle: Path, said: str) -> None:
    """verify fails with one line, on report.xlsx, that says ``said``."""
    code, out = _verify(bundle)
    assert code == 6, out
    line = _one_failure(out)
    assert line.startswith("  - report.xlsx: ") and said in line, line


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (_FONT, _FONT.replace(b"Calibri", b"Wingdings"), "a font named 'Wingdings' could show a figure"),
        (_FONT, _FONT.replace(b"Calibri", b"Symbol"), "a font named 'Symbol' could show a figure"),
        (_FONT, _FONT.replace(b"Calibri", b"Webdings"), "a font named 'Webdings' could show a figure"),
        (_FONT, _FONT.replace(b"Calibri", b"calibri "), "a font named 'calibri ' could show a figure"),
        # a font naming none: Excel shows it in the theme's typeface
        (_FONT, b'<font><sz val="11"/></font>', "a font names no typeface"),
    ],
)
def test_a_font_that_shows_digits_as_other_signs_fails(
    bundle: Path, old: bytes, new: bytes, said: str
) -> None:
    """Any typeface passed: the amounts in Wingdings showed signs for digits in a program while a
    reader read the values and verify said PASS. A font other than export's Calibri fails."""
    _edit_part(bundle, "xl/styles.xml", _replace(old, new))
    _fails_once(bundle, said)


_DARK = b'<a:sysClr val="windowText" lastClr="000000"/>'  # the theme's dk1, as openpyxl writes it


@pytest.mark.parametrize(
    ("font", "dark", "said"),
    [
        # a black rgb beside a theme or tint that makes it white (Excel takes a theme over an rgb), or
        # beside an index that a program may take in its place
        (b'<color rgb="FF000000" theme="0"/>', _DARK, "a font coloured rgb=FF000000 theme=0 could hide"),
        (b'<color rgb="FF000000" indexed="9"/>', _DARK, "a font coloured indexed=9 rgb=FF000000 could hide"),
        (b'<color rgb="FF000000" tint="1"/>', _DARK, "a font coloured rgb=FF000000 tint=1 could hide"),
        # the theme's dark text colour, which theme=1 names, made white
        (
            b'<color theme="1"/>',
            b'<a:srgbClr val="FFFFFF"/>',
            "part xl/theme/theme1.xml gives the theme's dark text colour as srgbClr val=FFFFFF",
        ),
        (
            b'<color theme="1"/>',
            b'<a:sysClr val="window" lastClr="FFFFFF"/>',
            "dark text colour as sysClr lastClr=FFFFFF val=window",
        ),
        (
            b'<color theme="1"/>',
            b'<a:sysClr val="windowText" lastClr="000000"><a:lumOff val="100000"/></a:sysClr>',
            "dark text colour as sysClr lastClr=000000 val=windowText lumOff val=100000",
        ),
        (
            b'<color theme="1"/>',
            b'<a:srgbClr val="000000"><a:tint val="0"/></a:srgbClr>',
            "dark text colour as srgbClr val=000000 tint val=0",
        ),
        # none, or no dk1 at all: the program's own
        (b'<color theme="1"/>', b"", "dark text colour as nothing"),
        (b'<color theme="1"/>', None, "dark text colour as nothing"),
    ],
)
def test_a_theme_colour_that_could_hide_a_figure_fails(
    bundle: Path, font: bytes, dark: bytes | None, said: str
) -> None:
    """A font's colour was black if its rgb was, whatever stood beside it (a theme, an index or a
    tint that makes it white), and theme=1 whatever the theme made of it: in a workbook saved by
    openpyxl (which adds the theme), the amounts in white passed. Now a colour is black alone, and
    the theme's dark text colour black."""
    path = bundle / "report.xlsx"
    from openpyxl import load_workbook

    load_workbook(path).save(path)
    coloured = b'<font><name val="Calibri"/><sz val="11"/></font>'  # fontId 0 as openpyxl writes it
    _edit_part(bundle, "xl/styles.xml", _replace(coloured, coloured.replace(b"</font>", font + b"</font>")))

    def theme(xml: bytes) -> bytes:
        given = re.search(rb"<a:dk1>.*?</a:dk1>", xml, re.DOTALL)
        assert given is not None and _DARK in given.group(0)
        return xml.replace(given.group(0), b"" if dark is None else b"<a:dk1>" + dark + b"</a:dk1>", 1)

    _edit_part(bundle, "xl/theme/theme1.xml", theme)
    _fails_once(bundle, said)


@pytest.mark.parametrize(
    ("font", "said"),
    [
        (b"<strike/>", "a font sets strike, which export never writes"),
        (b'<strike val="1"/>', "a font sets strike='1'"),
        (b'<strike val="true"/>', "a font sets strike='true'"),
        (b'<vertAlign val="superscript"/>', "a font sets vertAlign='superscript'"),
        (b'<vertAlign val="subscript"/>', "a font sets vertAlign='subscript'"),
        # hollow or shadowed letters: a white figure with a black rim
        (b"<outline/>", "a font sets outline, which export never writes"),
        (b'<shadow val="1"/>', "a font sets shadow='1'"),
        # the theme's typeface in place of Calibri, and the symbol character set
        (b'<scheme val="minor"/>', "a font sets scheme='minor'"),
        (b'<charset val="2"/>', "a font sets charset='2'"),
        # a setting given twice: one program reads the first, another the last
        (b'<sz val="1"/>', "a font gives sz twice"),
        (b'<color rgb="FF000000"/><color rgb="FFFFFFFF"/>', "a font gives color twice"),
        (b'<name val="Wingdings"/>', "a font gives name twice"),
    ],
)
def test_a_font_setting_that_could_hide_a_figure_fails(bundle: Path, font: bytes, said: str) -> None:
    """A font was checked for its first size and colour: the amounts struck through, in superscript,
    in the theme's typeface or the symbol character set, or with a second size or colour that a
    program reads in place of the first, passed."""
    _edit_part(bundle, "xl/styles.xml", _replace(_FONT, _FONT.replace(b"</font>", font + b"</font>")))
    _fails_once(bundle, said)


def test_a_font_as_a_program_may_save_it_passes(bundle: Path) -> None:
    """Settings a program writes when it saves the workbook, each showing the figures as export
    does, pass."""
    saved = (
        b'<font><b val="0"/><i val="false"/><strike val="0"/><outline val="0"/><shadow val="0"/>'
        b'<u val="none"/><vertAlign val="baseline"/><sz val="11"/><color theme="1"/><name val="Calibri"/>'
        b'<family val="2"/><charset val="134"/><scheme val="none"/></font>'
    )
    _edit_part(bundle, "xl/styles.xml", _replace(_FONT, saved))
    code, out = _verify(bundle)
    assert code == 0, out


_RULED = b'<border><left style="thin"><color rgb="FF999999"/></left>'  # the cells' border (borderId 1)


@pytest.mark.parametrize(
    "border",
    [
        b'<border diagonalUp="1"><left style="thin"><color rgb="FF999999"/></left>',
        b'<border diagonalDown="true"><left style="thin"><color rgb="FF999999"/></left>',
    ],
    ids=["up", "down"],
)
def test_a_diagonal_border_across_the_figures_fails(bundle: Path, border: bytes) -> None:
    """A border drawing a diagonal line across every amount's cell (struck through, as a font's
    strike, which fails) passed: borders were not read."""

    def diagonal(xml: bytes) -> bytes:
        assert _RULED in xml and b"<diagonal/></border></borders>" in xml
        xml = xml.replace(_RULED, border, 1)
        return xml.replace(b"<diagonal/></border></borders>", b'<diagonal style="thick"/></border></borders>')

    _edit_part(bundle, "xl/styles.xml", diagonal)
    _fails_once(bundle, "a cell border draws a diagonal line across the cell")


def test_a_border_as_a_program_may_save_it_passes(bundle: Path) -> None:
    """LibreOffice writes both diagonals off, and an empty diagonal, in every border it saves."""

    def saved(xml: bytes) -> bytes:
        assert _RULED in xml
        return xml.replace(
            _RULED, _RULED.replace(b"<border>", b'<border diagonalUp="false" diagonalDown="0">'), 1
        )

    _edit_part(bundle, "xl/styles.xml", saved)
    code, out = _verify(bundle)
    assert code == 0, out


@pytest.mark.parametrize(
    ("alignment", "said"),
    [
        (b'<alignment horizontal="fill"/>', "a cell alignment sets horizontal='fill'"),
        (b'<alignment horizontal="right" indent="15"/>', "a cell alignment sets indent='15'"),
        (b'<alignment shrinkToFit="1"/>', "a cell alignment sets shrinkToFit='1'"),
        (b'<alignment textRotation="90"/>', "a cell alignment sets textRotation='90'"),
        (b'<alignment textRotation="255"/>', "a cell alignment sets textRotation='255'"),
        (b'<alignment readingOrder="2"/>', "a cell alignment sets readingOrder='2'"),
        (b'<alignment relativeIndent="15"/>', "a cell alignment sets relativeIndent='15'"),
        (b'<protection hidden="1"/>', "a cell protection sets hidden='1'"),
    ],
)
def test_a_cell_alignment_that_could_hide_a_figure_fails(bundle: Path, alignment: bytes, said: str) -> None:
    """Cell alignments were not checked: the amounts repeated across their cells (35 as 353535),
    pushed out of view by an indent, shrunk, turned or right to left, passed."""
    aligned = _YUAN_XF + b' applyNumberFormat="1" applyBorder="1" applyAlignment="1">' + alignment + b"</xf>"
    _edit_part(
        bundle, "xl/styles.xml", _replace(_YUAN_XF + b' applyNumberFormat="1" applyBorder="1"/>', aligned)
    )
    _fails_once(bundle, said)


def test_an_alignment_as_a_program_may_save_it_passes(bundle: Path) -> None:
    """The alignment and protection LibreOffice writes for every cell format when it saves a
    workbook pass."""
    saved = (
        b'<alignment horizontal="general" vertical="bottom" textRotation="0" wrapText="false" indent="0" '
        b'shrinkToFit="false"/><protection locked="true" hidden="false"/>'
    )
    aligned = _YUAN_XF + b' applyNumberFormat="1" applyBorder="1" applyAlignment="1">' + saved + b"</xf>"
    _edit_part(
        bundle, "xl/styles.xml", _replace(_YUAN_XF + b' applyNumberFormat="1" applyBorder="1"/>', aligned)
    )
    code, out = _verify(bundle)
    assert code == 0, out


def _window(view: bytes) -> Callable[[bytes], bytes]:
    """Gives the workbook a window (export writes none)."""
    return _replace(b"<sheets>", b"<bookViews>" + view + b"</bookViews><sheets>")


@pytest.mark.parametrize(
    ("view", "said"),
    [
        (b'<workbookView minimized="1"/>', "sets minimized='1' on the workbook's window"),
        (b'<workbookView showSheetTabs="0"/>', "sets showSheetTabs='0' on the workbook's window"),
        (b'<workbookView showSheetTabs="false"/>', "sets showSheetTabs='false' on the workbook's window"),
        (b'<workbookView firstSheet="3" activeTab="3"/>', "sets firstSheet='3' on the workbook's window"),
        (b'<workbookView tabRatio="0"/>', "sets tabRatio='0' on the workbook's window"),
        (b'<workbookView windowWidth="0" windowHeight="8192"/>', "sets windowWidth='0'"),
        (b'<workbookView windowWidth="16384" windowHeight="120"/>', "sets windowHeight='120'"),
        (b'<workbookView windowWidth="1_6384"/>', "sets windowWidth='1_6384'"),
    ],
)
def test_a_workbook_window_that_could_hide_a_sheet_fails(bundle: Path, view: bytes, said: str) -> None:
    """The workbook's window was checked for its visibility only: minimized, its sheet tabs hidden
    or scrolled past the first sheets, or a window too small to show a figure, it passed."""
    _edit_part(bundle, "xl/workbook.xml", _window(view))
    _fails_once(bundle, "part xl/workbook.xml " + said)


@pytest.mark.parametrize(
    "view",
    [
        # as LibreOffice and openpyxl write it, opened on another sheet
        b'<workbookView showHorizontalScroll="true" showVerticalScroll="true" showSheetTabs="true" '
        b'xWindow="0" yWindow="0" windowWidth="16384" windowHeight="8192" tabRatio="500" firstSheet="0" '
        b'activeTab="2"/>',
        b'<workbookView visibility="visible" minimized="0" showHorizontalScroll="1" showVerticalScroll="1" '
        b'showSheetTabs="1" tabRatio="600" firstSheet="0" activeTab="0" autoFilterDateGrouping="1"/>',
    ],
)
def test_a_workbook_window_as_a_program_saves_it_passes(bundle: Path, view: bytes) -> None:
    _edit_part(bundle, "xl/workbook.xml", _window(view))
    code, out = _verify(bundle)
    assert code == 0, out


# ----------------------------------------------------------------------------- the date system


@pytest.mark.parametrize(
    ("properties", "said"),
    [
        (b'<workbookPr date1904="1"/>', "sets date1904='1'"),
        (b'<workbookPr date1904="true"/>', "sets date1904='true'"),
        (b'<workbookPr date1904=" on "/>', "sets date1904=' on '"),
        (b'<workbookPr dateCompatibility="0"/>', "sets dateCompatibility='0'"),
    ],
)
def test_a_date_system_that_shows_other_days_fails(bundle: Path, properties: bytes, said: str) -> None:
    """A sheet stores a date as a count of days, which the workbook's date system turns into a day:
    date1904 shows every date of every sheet four years and a day later (1,462 days). It passed:
    the sheets held whole and the spending and event log sheets, byte for byte as export writes
    them, are not read by openpyxl (which would read the dates shifted), and nothing read
    xl/workbook.xml's workbookPr."""
    _edit_part(bundle, "xl/workbook.xml", _replace(b"<sheets>", properties + b"<sheets>"))
    _fails_once(bundle, "part xl/workbook.xml " + said)


def test_the_date_system_as_a_program_saves_it_passes(bundle: Path) -> None:
    """As LibreOffice writes it when it saves the workbook: the 1900 date system, said outright."""
    properties = b'<workbookPr backupFile="false" showObjects="all" date1904="false" dateCompatibility="1"/>'
    _edit_part(bundle, "xl/workbook.xml", _replace(b"<sheets>", properties + b"<sheets>"))
    code, out = _verify(bundle)
    assert code == 0, out


# ----------------------------------------------------------------------------- bundle.json's values


@pytest.mark.parametrize(
    "key", ["grant", "as_of", "policy", "tree_size", "event_log_sheets", "withheld_aggregates"]
)
@pytest.mark.parametrize("value", [[], {"a": 1}, True, -1.5, "x"], ids=repr)
def test_a_bundle_json_value_of_any_type_fails_without_a_crash(bundle: Path, key: str, value: object) -> None:
    """bundle.json's ``grant`` given as a list had stopped the verifier (internal error, exit 1:
    "unhashable type"), before it said anything of the bundle; every field of any type fails it."""
    import json

    meta = json.loads((bundle / "bundle.json").read_text("utf-8"))
    meta[key] = value
    (bundle / "bundle.json").write_text(json.dumps(meta), encoding="utf-8")
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 6, out
    assert "bundle.json" in out, out
