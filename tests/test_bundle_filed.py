"""The audit bundle's report.xlsx laid out as a finance office files its workbooks (issue 18
item 3): each sheet a person reads has a title, 编制单位 (the ledger's trust root) / 报表日期 (the
bundle's last business date) / 单位：元, a Chinese header on row 4 repeated on every printed page
and frozen in view, amounts in yuan, dates as dates, a 合计 row of figures, widths that fit, A4
landscape one page wide; the event log keeps its machine header, with widths and a frozen header.
The verifier checks every one of those cells, and what prints; a bundle of the previous layout
(format 2) still verifies."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from audit.bundle import write_manifest
from audit.verifier import layout
from audit.verifier.policy import KNOWN
from commands.output import display_width
from tests.test_workbook_verified import _edit_book, _edit_part, _verify, exported_history

FORMAT_2 = Path(__file__).parent / "data" / "bundle-format-2"  # exported by the code of 76d2bac
FORMAT_3 = Path(__file__).parent / "data" / "bundle-format-3"  # findings in English (tests/data/README.md)
PEOPLE_SHEETS = {
    "balances": "余额表",
    "spending": "支出明细",
    "findings": "合规发现",
    "who did what": "经办人操作汇总",
    "people registry": "人员登记簿",
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("filed")
    exported_history(home)
    return home


@pytest.fixture
def bundle(home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(home / "bundle", copy)
    return copy


def test_every_sheet_a_person_reads_is_laid_out_for_filing(bundle: Path) -> None:
    book = load_workbook(bundle / "report.xlsx")
    assert book.sheetnames[:5] == list(PEOPLE_SHEETS)
    for name, title in PEOPLE_SHEETS.items():
        ws = book[name]
        headers = list(layout.FILED[name].headers)
        assert ws["A1"].value == title and ws["A1"].font.bold and ws["A1"].font.size == 16, name
        assert [str(r) for r in ws.merged_cells.ranges] == [f"A1:{ws.cell(4, len(headers)).column_letter}1"]
        line = [c.value for c in ws[2] if c.value is not None]
        assert line == ["编制单位：admin", "报表日期：2024-06-10", "单位：元"], (
            name
        )  # the root, the last date
        assert [c.value for c in ws[3]] == [None] * len(headers)
        assert [c.value for c in ws[4]] == headers and all(c.font.bold for c in ws[4])
        assert ws.freeze_panes == "A5" and ws.print_title_rows == "$4:$4", name
        setup = ws.page_setup
        assert (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight) == (
            "landscape", 9, 1, 0,
        )  # fmt: skip
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        for i, header in enumerate(headers, 1):
            width = ws.column_dimensions[ws.cell(4, i).column_letter].width
            assert width >= display_width(header), (name, header)
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row), name
        assert ws.cell(ws.max_row, 1).value.startswith("合计"), name

    balances = book["balances"]
    body = list(balances.iter_rows(min_row=5, max_row=balances.max_row - 1))
    total = list(balances[balances.max_row])
    for i in range(4, 15):  # every amount column adds up, as a figure in yuan
        assert body[0][i].number_format == '"¥"#,##0.00'
        assert total[i].number_format == '"¥"#,##0.00' and total[i].font.bold
        assert Decimal(str(total[i].value)) == sum(Decimal(str(r[i].value)) for r in body)
    spending = book["spending"]
    rows = list(spending.iter_rows(min_row=5, max_row=spending.max_row - 1, values_only=True))
    assert [(r[1].date().isoformat(), r[4], r[9]) for r in rows] == [
        ("2024-05-10", "spend", 35000), ("2024-05-10", "spend", 12000), ("2024-05-10", "spend", 800),
        ("2024-06-10", "reverse", 12000),
    ]  # fmt: skip
    assert spending.cell(5, 2).number_format == "yyyy-mm-dd"
    net = [c.value for c in spending[spending.max_row]]
    assert net[0] == "合计（支出减冲销）" and net[9] == 35000 + 12000 + 800 - 12000
    assert [c.value for c in book["findings"][book["findings"].max_row]][:2] == ["合计", "1 条"]

    log = book["event log"]  # shaped for machines: header on row 1, but readable
    assert [c.value for c in log[1]][:2] == ["leaf_index", "event_id"] and log.freeze_panes == "A2"
    assert log.column_dimensions["G"].width >= 64  # a leaf hash shows whole
    assert log.print_title_rows == "$1:$1" and log.page_setup.fitToWidth == 1  # prints one page wide


def test_the_honest_bundle_passes_and_its_sheets_are_checked_by_their_bytes(
    bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit.verifier import sheets

    compared: list[str] = []
    compare = sheets._compare
    monkeypatch.setattr(
        sheets,
        "_compare",
        lambda book, sheet, report: (compared.append(sheet.name), compare(book, sheet, report)),
    )
    code, out = _verify(bundle)
    assert code == 0, out
    # a million spending rows (by digest) and 20,000 grants' balances (by bytes) need no parsing
    assert compared == []


def _set(sheet: str, cell: str, value: Any) -> Any:
    def edit(book: Any) -> None:
        ws = book[sheet]
        for merged in list(ws.merged_cells.ranges):
            if cell in merged:
                ws.unmerge_cells(str(merged))
        ws[cell] = value

    return edit


def _set_last(sheet: str, column: str, value: Any) -> Any:
    def edit(book: Any) -> None:
        ws = book[sheet]
        ws[f"{column}{ws.max_row}"] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (
            _set("balances", "A1", "余额表（已审定）"),
            "report.xlsx balances!A1: the title is ('余额表（已审定）'), not '余额表'",
        ),
        (
            _set("spending", "A2", "编制单位：重庆市审计局"),
            "report.xlsx spending!A2: the line below the title is",
        ),
        (
            _set("findings", "H2", "报表日期：2025-12-31"),
            "report.xlsx findings!A2: the line below the title is",
        ),
        (_set("balances", "C3", "已审定"), "report.xlsx balances!A3: shows (nothing, nothing, '已审定')"),
        (_set("balances", "G4", "补助结余"), "report.xlsx balances!A4: the header is not 基地, 项目编号"),
        (_set("who did what", "E4", "签名数"), "report.xlsx who did what!A4: the header is not 人员"),
        (
            _set("balances", "G6", 1000),
            "report.xlsx balances!G6 (补助支出): shows 1000.00 but the events give 35000.00",
        ),
        (_set_last("who did what", "E", 99), "(事件数): shows 99 but the events give"),
        (
            _set("findings", "B6", "0 条"),
            "report.xlsx findings!B6 (项目编号): shows '0 条' but the events give '1 条'",
        ),
        (
            _set("balances", "A6", "小计"),
            "report.xlsx balances!A6 (基地): shows '小计' but the events give '合计'",
        ),
    ],
    ids=[
        "title",
        "org",
        "date",
        "blank-row",
        "header",
        "who-header",
        "total",
        "events-total",
        "count",
        "label",
    ],
)
def test_a_changed_title_heading_header_or_total_fails_naming_its_cell(
    bundle: Path, edit: Any, says: str
) -> None:
    _edit_book(bundle, edit)
    code, out = _verify(bundle)
    assert code == 6 and says in out, out


def test_a_deleted_total_row_fails(bundle: Path) -> None:
    _edit_book(bundle, lambda book: book["balances"].delete_rows(6))
    code, out = _verify(bundle)
    assert code == 6 and "report.xlsx balances!A6: no 合计 row, but the events give ('合计'" in out, out


def test_a_spending_total_edited_in_the_xml_fails_though_every_row_is_as_exported(bundle: Path) -> None:
    def edit(xml: bytes) -> bytes:
        forged = xml.replace(b'<c r="J9" s="9"><v>35800.00</v></c>', b'<c r="J9" s="9"><v>23800.00</v></c>')
        assert forged != xml
        return forged

    _edit_part(bundle, "xl/worksheets/sheet3.xml", edit)
    code, out = _verify(bundle)
    assert (
        code == 6 and "report.xlsx spending!J9 (金额): shows 23800.00 but the events give 35800.00" in out
    ), out


def test_a_total_replaced_by_a_formula_with_its_honest_value_fails(bundle: Path) -> None:
    def edit(xml: bytes) -> bytes:
        cell = re.search(rb'<c r="G6" s="9"><v>([0-9.]+)</v></c>', xml)
        assert cell is not None
        return xml.replace(
            cell.group(0), b'<c r="G6" s="9"><f>SUM(G5:G5)</f><v>' + cell.group(1) + b"</v></c>"
        )

    _edit_part(bundle, "xl/worksheets/sheet2.xml", edit)
    code, out = _verify(bundle)
    assert code == 6 and "sheet 'balances' cell G6 (part xl/worksheets/sheet2.xml) holds a formula" in out, (
        out
    )


@pytest.mark.parametrize("fmt", ["0", "#,##0", "General"])
def test_an_amount_shown_rounded_fails(bundle: Path, fmt: str) -> None:
    """ "0" shows 35,000.50 as 35001: every amount cell must show the fen."""

    def edit(book: Any) -> None:
        book["balances"]["G5"].number_format = fmt

    _edit_book(bundle, edit)
    code, out = _verify(bundle)
    assert (
        code == 6
        and f"balances!G5 (补助支出): number format '{fmt}' does not show the amount to the fen" in out
    )


def test_the_yuan_format_rewritten_in_the_styles_fails(bundle: Path) -> None:
    """The sheets untouched, the style they name made to round: the digest of the spending rows
    still matches, the styles do not."""

    def edit(xml: bytes) -> bytes:
        return xml.replace(b'<xf numFmtId="165"', b'<xf numFmtId="1"')

    _edit_part(bundle, "xl/styles.xml", edit)
    code, out = _verify(bundle)
    assert code == 6 and "spending!J5 (金额): number format '0' does not show the amount to the fen" in out, (
        out
    )


def test_a_print_area_fails(bundle: Path) -> None:
    """A print area leaves rows off the paper, whatever the screen shows."""

    def edit(book: Any) -> None:
        book["spending"].print_area = "A1:K6"

    _edit_book(bundle, edit)
    code, out = _verify(bundle)
    assert code == 6 and "report.xlsx: has a definedName _xlnm.Print_Area" in out, out


def test_print_titles_of_another_row_fail(bundle: Path) -> None:
    def edit(book: Any) -> None:
        book["balances"].print_title_rows = "6:6"  # the 合计 atop every page

    _edit_book(bundle, edit)
    code, out = _verify(bundle)
    assert code == 6 and "report.xlsx: has a definedName _xlnm.Print_Titles" in out, out


@pytest.mark.parametrize(
    ("xml", "says"),
    [
        ((b'<col min="7" max="7" width="', b'<col min="7" max="7" width="0.2'), "hides a col (column G)"),
        ((b'<row r="5">', b'<row r="5" ht="0" customHeight="1">'), "hides a row (row 5)"),
        (
            (b"<sheetData>", b'<sheetFormatPr defaultRowHeight="15" zeroHeight="1"/><sheetData>'),
            "hides a row or column by default",
        ),
    ],
    ids=["narrow-column", "flat-row", "every-row"],
)
def test_a_column_or_row_squeezed_out_of_sight_fails(
    bundle: Path, xml: tuple[bytes, bytes], says: str
) -> None:
    old, new = xml

    def edit(data: bytes) -> bytes:
        assert old in data
        return data.replace(old, new, 1)

    _edit_part(bundle, "xl/worksheets/sheet2.xml", edit)  # sheet1.xml: the event log, written first
    code, out = _verify(bundle)
    assert code == 6 and f"(sheet 'balances') {says}" in out, out


def test_an_honest_resave_by_a_spreadsheet_program_passes(bundle: Path) -> None:
    """openpyxl rewrites every part (styles, print titles, panes): what a person reads is the same."""
    _edit_book(bundle, lambda book: None)
    code, out = _verify(bundle)
    assert code == 0, out


# ----------------------------------------------------------------------------- format 2 bundles


@pytest.fixture
def old(tmp_path: Path) -> Path:
    """A bundle exported by the previous layout (English headers on row 1, no title, no total).
    Its policy file is the one shipped then; a later policy version would need the verifier to
    know that one too (audit/verifier/policy.py), which is the policy's business, not the layout's."""
    copy = tmp_path / "old"
    shutil.copytree(FORMAT_2, copy)
    return copy


def test_a_bundle_of_the_previous_layout_still_verifies(old: Path) -> None:
    assert json.loads((old / "bundle.json").read_text("utf-8"))["format"] == 2
    (policy,) = (old / "policy").glob("*.toml")
    if __import__("hashlib").sha256(policy.read_bytes()).hexdigest() not in KNOWN:
        pytest.skip("the policy the old bundle carries is no longer one this verifier knows")
    book = load_workbook(old / "report.xlsx", read_only=True)
    assert next(book["balances"].iter_rows(values_only=True))[:2] == ("base_id", "grant_id")
    book.close()
    code, out = _verify(old)
    assert code == 0 and "balances of 1 grants match the workbook" in out, out


def test_a_bundle_of_the_previous_layout_still_fails_when_edited(old: Path) -> None:
    _edit_book(old, _set("balances", "G2", 1000))
    code, out = _verify(old)
    assert (
        code == 6
        and "report.xlsx balances!G2 (subsidy_spent): shows 1000.00 but the events give 35000.00" in out
    )


def test_a_bundle_of_format_3_with_its_findings_in_english_still_verifies(tmp_path: Path) -> None:
    """Bundles exported before the findings sheet was filed in Chinese hold it in English; an
    auditor verifies them as they are, in either language, and a forger cannot pass off English
    findings as a current bundle's (relabelled format 4, they fail)."""
    old = tmp_path / "old"
    shutil.copytree(FORMAT_3, old)
    assert json.loads((old / "bundle.json").read_text("utf-8"))["format"] == 3
    (policy,) = (old / "policy").glob("*.toml")
    if __import__("hashlib").sha256(policy.read_bytes()).hexdigest() not in KNOWN:
        pytest.skip("the policy the old bundle carries is no longer one this verifier knows")
    book = load_workbook(old / "report.xlsx", read_only=True)
    assert [row[2] for row in book["findings"].iter_rows(min_row=5, values_only=True)] == [
        "matching 1:1",
        None,
    ]
    book.close()
    from commands.cli import cli

    for lang in ("en", "zh"):
        result = CliRunner().invoke(
            cli, ["--lang", lang, "audit", "verify", "--unanchored", str(old)], catch_exceptions=False
        )
        assert result.exit_code == 0 and result.stdout.startswith("PASS"), (lang, result.stdout)
    meta = json.loads((old / "bundle.json").read_text("utf-8"))
    (old / "bundle.json").write_text(json.dumps({**meta, "format": 4}, indent=2) + "\n", "utf-8")
    write_manifest(old)
    code, out = _verify(old)
    assert (
        code == 6
        and "report.xlsx findings!C5 (规则): shows 'matching 1:1' but the events give '1:1 配套'" in out
    )


def test_a_filed_workbook_under_a_bundle_json_saying_format_2_fails(bundle: Path) -> None:
    """Relabelling a bundle does not let its workbook be read by another layout's rules."""
    meta = json.loads((bundle / "bundle.json").read_text("utf-8"))
    (bundle / "bundle.json").write_text(json.dumps({**meta, "format": 2}, indent=2) + "\n", "utf-8")
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 6 and "report.xlsx balances!A1: the header is not base_id, grant_id" in out, out


def test_a_bundle_of_an_unknown_format_is_refused(bundle: Path) -> None:
    meta = json.loads((bundle / "bundle.json").read_text("utf-8"))
    (bundle / "bundle.json").write_text(json.dumps({**meta, "format": 1}, indent=2) + "\n", "utf-8")
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert (
        code == 6
        and "bundle.json: format 1 is another version's; this verifier reads bundles of format 2, 3, 4" in out
    )


def test_the_workbook_xml_names_the_print_titles_of_the_filed_sheets_only(bundle: Path) -> None:
    with zipfile.ZipFile(bundle / "report.xlsx") as book:
        workbook = book.read("xl/workbook.xml").decode("utf-8")
    titles = re.findall(r'localSheetId="(\d+)">([^<]+)<', workbook)
    assert titles == [
        *((str(i), f"'{name}'!$4:$4") for i, name in enumerate(PEOPLE_SHEETS)),
        ("5", "'event log'!$1:$1"),
    ]


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_an_edited_spending_row_is_named_whichever_chunk_of_the_replay_it_falls_in(
    bundle: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """The rows the spending sheet must show are kept a chunk at a time: an edited amount in any
    row is named with the amount the events give, the rows read back in their order."""
    from audit.verifier import replay

    monkeypatch.setattr(replay, "_ROWS_A_CHUNK", chunk)
    book = load_workbook(bundle / "report.xlsx", read_only=True)
    rows = list(book["spending"].iter_rows(min_row=5, values_only=True))[:-1]  # less the 合计 row
    book.close()
    assert len(rows) >= 4
    for n, row in enumerate(rows):
        copy = bundle.with_name(f"edited-{n}")
        shutil.copytree(bundle, copy)
        _edit_book(copy, _set("spending", f"J{5 + n}", Decimal(str(row[9])) + 1))
        code, out = _verify(copy)
        assert code == 6, out
        assert f"report.xlsx spending!J{5 + n} (金额): shows" in out, out
        assert f"but the events give {Decimal(str(row[9])):.2f}" in out, out
