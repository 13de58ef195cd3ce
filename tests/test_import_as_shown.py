"""A workbook is imported as an officer sees it, or not at all: the rows signed as theirs are the
rows they reviewed. A red-team pass found three ways a workbook recorded other money than the
sheet showed, each at exit 0: a hidden first sheet read in place of the visible one, a hidden row
read with the rest, and a formula read by the result Excel had last saved (999.00 where the
sheet, recalculated on opening, shows 200.00). Each is refused in one sentence, exit 2, nothing
written; hidden rows and columns that hold nothing, as templates have, are read as before."""

from __future__ import annotations

import re
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.import_format import HEADER
from tests.conftest import Ledger, approved_district_grant

SPEND = [
    "2024-05-10",
    "",
    "B0001",
    "G1",
    "",
    "spend",
    "500",
    "subsidy",
    "equipment",
    "training_system",
    "X1",
    "",
    "",
]


def _funded(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")


def _book(path: Path, shape: Any) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "支出"
    sheet.append(list(HEADER))
    sheet.append(SPEND)
    shape(book, sheet)
    book.save(path)
    return path


def _rewritten(path: Path, edit: Any) -> None:
    """The workbook at ``path`` with its first sheet's XML edited (what openpyxl does not write)."""
    import zipfile

    parts = {}
    with zipfile.ZipFile(path) as source:
        for part in source.infolist():
            parts[part.filename] = source.read(part)
    parts["xl/worksheets/sheet1.xml"] = edit(parts["xl/worksheets/sheet1.xml"])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


def _hidden_first_sheet(book: Any, sheet: Any) -> None:
    old = book.create_sheet("旧数据", 0)
    old.append(list(HEADER))
    old.append([*SPEND[:6], "9000", *SPEND[7:]])
    old.sheet_state = "hidden"
    book.active = 1


def _opens_on_another_sheet(book: Any, sheet: Any) -> None:
    book.create_sheet("说明").append(["本表由财务系统导出"])
    book.active = 1


def _hidden_row(book: Any, sheet: Any) -> None:
    sheet.append([*SPEND[:6], "9000", *SPEND[7:10], "X2", "", ""])
    sheet.row_dimensions[3].hidden = True


def _row_of_no_height(book: Any, sheet: Any) -> None:
    sheet.append([*SPEND[:6], "9000", *SPEND[7:10], "X2", "", ""])
    sheet.row_dimensions[3].height = 0.0001  # written ht="0" below (openpyxl leaves out a 0)


def _hidden_column(book: Any, sheet: Any) -> None:
    sheet["L2"] = "另一收款方"  # the payee, in a column the import reads
    sheet.column_dimensions["L"].hidden = True


def _column_of_no_width(book: Any, sheet: Any) -> None:
    sheet["L2"] = "另一收款方"
    sheet.column_dimensions["L"].width = 0.0001  # written width="0" below


def _formula(book: Any, sheet: Any) -> None:
    sheet["G2"] = "=100*2"  # saved with no result: read as data_only, the amount was blank


@pytest.mark.parametrize(
    ("shape", "refusal"),
    [
        (_hidden_first_sheet, "its first sheet, 旧数据, is hidden"),
        (_opens_on_another_sheet, "opens on its sheet 说明, but import reads its first sheet, 支出"),
        (_hidden_row, "cell A3 holds a value an officer does not see (a hidden row)"),
        (_row_of_no_height, "cell A3 holds a value an officer does not see (a hidden row)"),
        (_hidden_column, "cell L1 holds a value an officer does not see (a hidden column)"),
        (_column_of_no_width, "cell L1 holds a value an officer does not see (a hidden column)"),
        (_formula, "cell G2 holds a formula"),
    ],
)
def test_a_workbook_that_holds_what_its_sheet_does_not_show_is_refused(
    sqlite_ledger: Ledger, tmp_path: Path, shape: Any, refusal: str
) -> None:
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()
    path = _book(tmp_path / "支出.xlsx", shape)
    if shape in (_row_of_no_height, _column_of_no_width):
        _rewritten(path, lambda xml: xml.replace(b'="0.0001"', b'="0"'))
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert refusal in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert sqlite_ledger.event_count() == before


def test_a_formula_whose_saved_result_differs_from_what_excel_shows_is_refused(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """The red team's file: the amount cell's formula gives 200, its saved result says 999, and
    the workbook asks Excel to recalculate on opening. It had recorded 999.00."""
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()
    path = _book(tmp_path / "recalculated.xlsx", lambda book, sheet: None)

    def formula(xml: bytes) -> bytes:
        at = xml.index(b'<c r="G2"')
        return xml[:at] + b'<c r="G2"><f>100*2</f><v>999</v></c>' + xml[xml.index(b"</c>", at) + 4 :]

    _rewritten(path, formula)
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "cell G2 holds a formula" in result.stderr
    assert sqlite_ledger.event_count() == before


def test_hidden_rows_and_columns_that_hold_nothing_are_read_as_before(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    _funded(sqlite_ledger)

    def template(book: Any, sheet: Any) -> None:
        for column in ("N", "O", "P"):
            sheet.column_dimensions[column].hidden = True
        sheet.row_dimensions[5].hidden = True  # past the rows, empty
        sheet["A5"].number_format = "yyyy-mm-dd"  # formatted, no value

    path = _book(tmp_path / "模板.xlsx", template)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = sqlite_ledger("import", str(path))
    assert result.exit_code == 0, result.stderr
    assert sqlite_ledger.balances()["B0001"]["subsidy_spent"] == "500.00"


def test_a_date_in_chinese_excels_own_format_is_read_as_the_date_shown(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """Chinese Excel writes its date format 2024年5月10日 by the built-in id 31 alone, which
    openpyxl does not know: the cell had been read as its serial number and refused."""
    from datetime import date

    _funded(sqlite_ledger)

    def dated(book: Any, sheet: Any) -> None:
        sheet["A2"] = date(2024, 5, 10)
        sheet["A2"].number_format = 'yyyy"年"m"月"d"日"'

    path = _book(tmp_path / "日期.xlsx", dated)
    import re
    import zipfile

    parts = {}
    with zipfile.ZipFile(path) as source:
        for part in source.infolist():
            parts[part.filename] = source.read(part)
    styles = parts["xl/styles.xml"]
    custom = re.search(rb'<numFmt numFmtId="(\d+)" formatCode="yyyy&quot;', styles)
    assert custom is not None
    # the style names the built-in id, as Chinese Excel writes it, and the custom format is gone
    styles = styles.replace(b'numFmtId="%s"' % custom.group(1), b'numFmtId="31"')
    parts["xl/styles.xml"] = re.sub(rb'<numFmt numFmtId="31"[^>]*/>', b"", styles)
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 0, result.stderr
    found = sqlite_ledger.ok("find", "X1", "--format", "json").stdout
    assert '"occurred_on": "2024-05-10"' in found


def test_rows_that_record_nothing_are_named(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """Two like rows under one voucher are one act: the second recorded nothing, and the summary
    had said only "imported 3 rows: 2 events recorded". It names the line, as it names a row
    already in the ledger when the file is imported again."""
    import csv

    _funded(sqlite_ledger)
    path = tmp_path / "支出.csv"
    other = [*SPEND[:10], "X2", "", ""]
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([list(HEADER), SPEND, SPEND, other])
    first = sqlite_ledger("import", str(path))
    assert first.exit_code == 0, first.stderr
    assert "2 events recorded; 1 rows recorded nothing" in first.stdout and "(lines 3)" in first.stdout
    assert sqlite_ledger.balances()["B0001"]["subsidy_spent"] == "1000.00"
    with path.open("a", encoding="utf-8", newline="") as f:
        csv.writer(f).writerow([*SPEND[:6], "700", *SPEND[7:10], "X3", "", ""])
    again = sqlite_ledger("import", str(path))
    assert again.exit_code == 0, again.stderr
    assert "1 events recorded; 3 rows recorded nothing" in again.stdout and "(lines 2, 3, 4)" in again.stdout


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _formula_under_a_long_prefix(xml: bytes) -> bytes:
    prefix = "p" * 70 + "é"
    at = xml.index(b'<c r="G2"')
    cell = f'<c r="G2"><{prefix}:f xmlns:{prefix}="{MAIN}">100*2</{prefix}:f><v>999</v></c>'.encode()
    return xml[:at] + cell + xml[xml.index(b"</c>", at) + 4 :]


def _row_hidden_as_spelled_otherwise(xml: bytes) -> bytes:
    return xml.replace(b'<row r="3"', b"<row hidden=' 1' r=\"3\"")


def _sheetdata_named_before_a_hidden_column(xml: bytes) -> bytes:
    xml = xml.replace(b"<cols>", b"<!-- sheetData --><cols>")
    return xml


@pytest.mark.parametrize(
    ("edit", "refusal"),
    [
        (_formula_under_a_long_prefix, "cell G2 holds a formula"),
        (_row_hidden_as_spelled_otherwise, "cell A3 holds a value an officer does not see (a hidden row)"),
        (
            _sheetdata_named_before_a_hidden_column,
            "cell L1 holds a value an officer does not see (a hidden column)",
        ),
    ],
)
def test_what_a_byte_scan_missed_is_refused(
    sqlite_ledger: Ledger, tmp_path: Path, edit: Any, refusal: str
) -> None:
    """A review's crafted files, which a scan of the sheet's bytes (its first form) let through."""
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()

    def shape(book: Any, sheet: Any) -> None:
        sheet.append([*SPEND[:6], "9000", *SPEND[7:10], "X2", "", ""])
        sheet["L2"] = "另一收款方"
        sheet.column_dimensions["L"].hidden = edit is _sheetdata_named_before_a_hidden_column

    path = _book(tmp_path / "支出.xlsx", shape)
    _rewritten(path, edit)
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert refusal in result.stderr
    assert sqlite_ledger.event_count() == before


def test_a_dropdown_list_from_another_sheet_is_no_formula_of_a_cell(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """Excel 2010 writes a validation list taken from another sheet as an ``xm:f`` in the sheet's
    extLst: a formula of the list, not of any cell."""
    _funded(sqlite_ledger)
    path = _book(tmp_path / "下拉.xlsx", lambda book, sheet: None)
    extension = (
        '<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
        'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
        '<x14:dataValidations count="1" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
        '<x14:dataValidation type="list"><x14:formula1><xm:f>代码!$A$1:$A$5</xm:f></x14:formula1>'
        "<xm:sqref>I2:I500</xm:sqref></x14:dataValidation></x14:dataValidations></ext></extLst>"
    ).encode()
    _rewritten(path, lambda xml: xml.replace(b"</worksheet>", extension + b"</worksheet>"))
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 0, result.stderr
    assert sqlite_ledger.balances()["B0001"]["subsidy_spent"] == "500.00"


@pytest.mark.parametrize(
    ("code", "refused"),
    [
        ('"500"', True),
        (";;;", True),
        ('[>1000]"500";0', True),
        ('"¥"#,##0.00', False),
        ('#,##0.00"元"', False),
    ],
)
def test_a_number_its_format_shows_as_something_else_is_refused(
    sqlite_ledger: Ledger, tmp_path: Path, code: str, refused: bool
) -> None:
    """The review's file: 9000 in a cell whose format shows "500" (or nothing) had been recorded
    as 9,000.00. Formats that show the number, with a currency sign or unit, are read."""
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()

    def shape(book: Any, sheet: Any) -> None:
        sheet["G2"] = 9000
        sheet["G2"].number_format = code

    path = _book(tmp_path / "格式.xlsx", shape)
    result = sqlite_ledger("import", str(path))
    if refused:
        assert result.exit_code == 2, (result.stdout, result.stderr)
        assert "cell G2 holds a value its format shows otherwise" in result.stderr
        assert sqlite_ledger.event_count() == before
    else:
        assert result.exit_code == 0, result.stderr
        assert sqlite_ledger.balances()["B0001"]["subsidy_spent"] == "9000.00"


NS_MAIN = f'xmlns="{MAIN}"'
X2 = [*SPEND[:6], "9000", *SPEND[7:10], "X2", "", ""]  # row 3: a second spend of 9,000.00


def _second_row(style: Any = None) -> Any:
    def shape(book: Any, sheet: Any) -> None:
        sheet.append(X2)
        if style is not None:
            for cell in sheet[3]:
                style(cell)

    return shape


def _white_type(cell: Any) -> None:
    from openpyxl.styles import Font

    cell.font = Font(color="FFFFFF")


def _white_format(cell: Any) -> None:
    cell.number_format = "[White]0;[White]0;[White]0;[White]@"


def _merged_down(xml: bytes) -> bytes:
    merges = "".join(f'<mergeCell ref="{c}2:{c}3"/>' for c in "ABCDEFGHIJKLM")
    return xml.replace(b"</sheetData>", f'</sheetData><mergeCells count="13">{merges}</mergeCells>'.encode())


def _ignored_cell(xml: bytes) -> bytes:
    xml = xml.replace(
        NS_MAIN.encode(),
        (
            NS_MAIN
            + ' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
            + ' xmlns:zz="urn:zz" mc:Ignorable="zz"'
        ).encode(),
        1,
    )
    return xml.replace(b'<c r="G2"', b'<zz:c r="G2"><v>9000</v></zz:c><c r="G2"', 1)


def _low_by_default(xml: bytes) -> bytes:
    xml = re.sub(rb"<sheetFormatPr[^>]*/>", b'<sheetFormatPr defaultRowHeight="0.5" customHeight="1"/>', xml)
    return xml.replace(b'<row r="1"', b'<row r="1" ht="15"').replace(b'<row r="2"', b'<row r="2" ht="15"')


def _row_again(xml: bytes) -> bytes:
    return xml.replace(b'<row r="3"', b'<row r="3" hidden="1"></row><row r="3"', 1)


@pytest.mark.parametrize(
    ("shape", "edit", "refusal"),
    [
        (
            _second_row(_white_type),
            None,
            "cell A3 holds a value an officer does not see (white or tiny type)",
        ),
        (_second_row(_white_format), None, "cell A3 holds a value its format shows otherwise"),
        (_second_row(), _merged_down, "cell A3 holds a value an officer does not see (a merged cell's"),
        (
            _second_row(),
            _ignored_cell,
            "row 2 of its first sheet holds an element Excel does not show as a cell",
        ),
        (_second_row(), _low_by_default, "cell A3 holds a value an officer does not see (a hidden row)"),
        (_second_row(), _row_again, "row 3 of its first sheet comes after row 3"),
    ],
)
def test_a_second_review_s_files_are_refused(
    sqlite_ledger: Ledger, tmp_path: Path, shape: Any, edit: Any, refusal: str
) -> None:
    """Files a second review got past the checks: a row of 9,000.00 under a sheet showing one of
    500.00, hidden by white type, a white format, a merge down over it, a cell Excel ignores,
    a sheet's low default row height, a row given twice."""
    import re as _re  # noqa: F401  (the edits use the module's re)

    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()
    path = _book(tmp_path / "支出.xlsx", shape)
    if edit is not None:
        _rewritten(path, edit)
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert refusal in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sqlite_ledger.event_count() == before


@pytest.mark.parametrize(
    ("column", "value", "code", "refused"),
    [
        ("G", 100000, "0,", True),  # shows 100
        ("G", 100000, '#,##0,"千元"', False),  # shows 100千元
        ("G", 500.4, "0", True),  # shows 500
        ("G", 500.4, "#,##0.00", False),
        ("G", 5, "0%", True),  # shows 500%
        ("G", 9400, "0E+0", True),  # shows 9E+3
        ("G", 500, '[=0]"-";#,##0.00', False),  # a dash for zero only
        ("G", 500, '#,##0.00;-#,##0.00;"零"', False),
        ("G", 500, '_-* #,##0.00_-;-* #,##0.00_-;_-* "-"??_-;_-@_-', False),  # Excel's accounting
        ("A", datetime(2024, 6, 20), '[<1]yyyy-mm-dd;"2024-05-10"', True),  # shows 2024-05-10
        # a red-team pass: a scale said by a unit other than its own, or hiding digits; a date
        # shown without its year, month or day, or beside another date
        ("G", 150000, '0.00,,"万"', True),  # shows 0.15万 (1,500.00)
        ("G", 150000, '0.00," "', True),  # shows 150.00
        ("G", 150000, '0.00,"元"', True),  # shows 150.00元
        ("G", 23456, '#,##0,"千元"', True),  # shows 23千元
        ("G", 23000, '#,##0,"千元"', False),
        ("G", 12345.6, '#,##0.0,"千元"', True),  # shows 12.3千元
        ("G", 12300, '#,##0.0,"千元"', False),
        ("A", datetime(2024, 5, 10), 'm"月"d"日"', True),  # shows 5月10日
        ("A", datetime(2024, 5, 10, 13, 0), "hh:mm", True),  # shows 13:00
        ("A", datetime(2024, 5, 10), "yyyy-mm", True),
        ("A", datetime(2024, 5, 10), "yyyy-mm-dd dddd", False),
        ("A", datetime(2024, 5, 10), "dddd yyyy-mm", True),  # a weekday, not the day
        ("A", datetime(2024, 5, 10), 'yyyy-mm-dd" 至2026-01-01"', True),
        ("A", datetime(2024, 5, 10), 'yyyy"年"m"月"d"日"', False),
        ("A", datetime(2024, 5, 10), "d-mmm-yy", False),
        # a second pass: a decimal point or digits as text, a unit as a blank, a faint colour
        ("G", 20000, "0\\.00", True),  # shows 200.00
        ("G", 20000, '0"."00', True),
        ("G", 20000, "0!.00", True),
        ("G", 2, "0!0!0!0", True),  # shows 2000
        ("G", 20000, "#,##0,_千", True),  # shows 20 and a blank as wide as 千
        ("G", 20000, "[Yellow]#,##0.00", True),
        ("G", 20000, "[Color19]#,##0.00", True),
        ("G", 500, "[Red]#,##0.00", False),
        ("A", datetime(2024, 12, 1), "!2!0!2!3-mm-dd!y", True),  # shows 2023-12-01y
    ],
)
def test_a_cell_is_read_only_if_its_format_shows_its_value(
    sqlite_ledger: Ledger, tmp_path: Path, column: str, value: Any, code: str, refused: bool
) -> None:
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()

    def shape(book: Any, sheet: Any) -> None:
        sheet[f"{column}2"] = value
        sheet[f"{column}2"].number_format = code

    path = _book(tmp_path / "格式.xlsx", shape)
    result = sqlite_ledger("import", str(path))
    if refused:
        assert result.exit_code == 2, (result.stdout, result.stderr)
        assert f"cell {column}2 holds a value its format shows otherwise" in result.stderr
        assert sqlite_ledger.event_count() == before
    else:
        assert result.exit_code == 0, result.stderr


def test_a_conditional_format_that_changes_how_numbers_look_is_refused(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    from openpyxl.formatting.rule import CellIsRule
    from openpyxl.styles import Font
    from openpyxl.styles.differential import DifferentialStyle  # noqa: F401

    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()

    def shape(book: Any, sheet: Any) -> None:
        sheet["G2"] = 9000
        rule = CellIsRule(operator="greaterThan", formula=["1000"], font=Font(color="FFFFFF"))
        sheet.conditional_formatting.add("G2:G500", rule)

    path = _book(tmp_path / "条件.xlsx", shape)
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "conditional format that changes how numbers look" in result.stderr
    assert sqlite_ledger.event_count() == before


FORMATS = [
    "General", "0", "0.00", "#,##0.0", "0,", '#,##0,"千元"', "0%", '"500"', ";;;", '[=0]"-";#,##0.00',
    '[>1000]"500";0', "0.00;[Red]-0.00", '_-* #,##0.00_-;-* #,##0.00_-;_-* "-"??_-;_-@_-', "0;0;0;[White]@",
]  # fmt: skip


@given(
    st.lists(
        st.tuples(
            st.sampled_from(FORMATS),
            st.one_of(
                st.integers(-(10**9), 10**9),
                st.decimals(-(10**6), 10**6, places=3).map(float),
                st.text(max_size=3),
            ),
        ),
        max_size=40,
    )
)
def test_what_a_sheet_remembers_of_formats_is_what_each_cell_would_be_judged(
    cells: list[tuple[str, Any]],
) -> None:
    from commands.workbook_seen import Unseen, shows

    unseen = Unseen(None)
    for code, value in cells:
        assert unseen._shows(code, value) == shows(code, value), (code, value)


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ('_ * #,##0_ ;_ * -#,##0_ ;_ * "-"_ ;_ @_ ', 0),  # Chinese Excel's 会计专用, no decimals: zero as -
        ('#,##0.00;-#,##0.00;"零"', 0),
        ("#,##0.00", 300.29999999999995),  # 100.1+200.2 pasted as a value, as Excel writes it
        ('#,##0.00"m2"', 120.5),  # a unit with a digit in it
        ('"¥"#,##0.00', 500),
    ],
)
def test_a_third_review_s_formats_that_show_their_value_are_read(code: str, value: Any) -> None:
    from commands.workbook_seen import shows

    assert shows(code, value)


def test_a_finance_systems_own_columns_are_not_judged(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """A column the header does not name for the import (a tax rate shown as 13%) is not read,
    so not judged; grey type (Excel's white, darker 25%) and a conditional format of white bold
    type on a dark fill are seen."""
    from openpyxl.formatting.rule import CellIsRule
    from openpyxl.styles import Color, Font, PatternFill

    _funded(sqlite_ledger)

    def shape(book: Any, sheet: Any) -> None:
        sheet["N1"], sheet["N2"] = "税率", 0.13
        sheet["N2"].number_format = "0%"
        sheet["L2"] = "重庆某某公司"
        sheet["L2"].font = Font(color=Color(theme=0, tint=-0.249977111117893))
        rule = CellIsRule(
            operator="greaterThan",
            formula=["100"],
            font=Font(color="FFFFFF", bold=True),
            fill=PatternFill(bgColor="FFC00000"),
        )
        sheet.conditional_formatting.add("G2:G500", rule)

    path = _book(tmp_path / "财务系统.xlsx", shape)
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 0, result.stderr
    assert sqlite_ledger.balances()["B0001"]["subsidy_spent"] == "500.00"


def test_a_conditional_format_of_excel_2010_s_extension_list_is_judged(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """Rules whose formula reads another sheet are written in the sheet's extension list, their
    style held in the rule (x14:dxf): one showing 9000 as "500.00" had been read."""
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()

    def shape(book: Any, sheet: Any) -> None:
        sheet["G2"] = 9000

    rule = (
        '<extLst><ext uri="{78C0D931-6437-407d-A8EE-F0AAD7539E65}" '
        'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
        "<x14:conditionalFormattings><x14:conditionalFormatting "
        'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
        '<x14:cfRule type="expression" priority="1" id="{00000000-0000-0000-0000-000000000001}">'
        "<xm:f>代码!$A$1&gt;0</xm:f>"
        '<x14:dxf><numFmt numFmtId="200" formatCode="&quot;500.00&quot;"/></x14:dxf></x14:cfRule>'
        "<xm:sqref>G2</xm:sqref></x14:conditionalFormatting></x14:conditionalFormattings></ext></extLst>"
    ).encode()
    path = _book(tmp_path / "条件.xlsx", shape)
    _rewritten(path, lambda xml: xml.replace(b"</worksheet>", rule + b"</worksheet>"))
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "conditional format that changes how numbers look" in result.stderr
    assert sqlite_ledger.event_count() == before
