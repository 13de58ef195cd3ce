"""Text that spells a workbook's character run (``_xHHHH_``) shows as it was typed.

A workbook cell's text carries a character as ``_xHHHH_`` (ECMA-376 Part 1, 22.9.2.19), and Excel
shows every such run decoded: a voucher written as ``S-_x0030_103`` shows as ``S-0103``, the same
as another voucher. Every workbook the ledger writes (export, the reports, the audit bundle) must
show two such vouchers apart, an import must take a workbook's cell as the spreadsheet shows it,
and the verifier must fail a bundle whose workbook shows a voucher other than its event's.

What a spreadsheet shows is read here with openpyxl's own decoder of the runs
(``openpyxl.utils.escape.unescape``), not the ledger's.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from openpyxl.utils.escape import unescape

from audit.bundle import write_manifest
from tests.conftest import Ledger, approved_district_grant
from tests.test_actions import _stored
from tests.test_workbook_verified import _verify

# each typed as a voucher and a payee; the first two must never show alike
TYPED = ["S-_x0030_103", "S-0103", "_x005F_", "a_x0041_b_x4E2D_", "Ax005F_B"]
HEADER = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"


def _record(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    for n, text in enumerate(TYPED):
        ledger.ok("spend", "G1", "--amount", f"{100 + n}", "--category", "equipment", "--voucher", text,
                  "--payee", text, "--memo", f"备注{text}", "--date", "2024-05-10")  # fmt: skip


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("runs") / "ledger.db"
    _record(Ledger(f"sqlite:///{path}", CliRunner()))
    return path


@pytest.fixture
def ledger(recorded: Path, tmp_path: Path) -> Ledger:
    shutil.copy(recorded, tmp_path / "ledger.db")
    return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", CliRunner())


def _spends(url: str) -> list[dict[str, Any]]:
    return [state for topic, state in _stored(url) if topic.endswith("ExpenditureRecorded")]


def _shown(path: Path) -> list[str]:
    """Every text cell of the workbook as a spreadsheet shows it."""
    book = load_workbook(path, read_only=True)
    try:
        return [
            unescape(value)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for value in row
            if isinstance(value, str)
        ]
    finally:
        book.close()


@pytest.mark.parametrize("command", [("export",), ("history", "G1")], ids=" ".join)
def test_every_workbook_shows_the_vouchers_as_typed(
    ledger: Ledger, tmp_path: Path, command: tuple[str, ...]
) -> None:
    out = tmp_path / "out.xlsx"
    ledger.ok(*command, "--format", "xlsx", "--output", str(out))
    shown = _shown(out)
    for text in TYPED:
        assert text in shown, (text, shown)
    assert shown.count("S-0103") == shown.count("S-_x0030_103")  # each its own cells, no more


def test_the_audit_bundle_shows_them_as_typed_and_verifies(ledger: Ledger, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(bundle), role="auditor")
    shown = _shown(bundle / "report.xlsx")
    for text in TYPED:
        assert text in shown, text
    assert _verify(bundle)[0] == 0


def test_a_bundle_workbook_showing_another_voucher_fails(ledger: Ledger, tmp_path: Path) -> None:
    """The forger writes the voucher's text without its escape: every byte of the events and
    their hashes unchanged, the workbook shows S-0103 where the event says S-_x0030_103."""
    bundle = tmp_path / "bundle"
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(bundle), role="auditor")
    path = bundle / "report.xlsx"
    with zipfile.ZipFile(path) as old:
        parts = [(info, old.read(info)) for info in old.infolist()]
    edited = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info, data in parts:
            if b"S-_x005F_x0030_103" in data:
                edited += 1
                data = data.replace(b"S-_x005F_x0030_103", b"S-_x0030_103")
            new.writestr(info.filename, data)
    write_manifest(bundle)
    assert edited, "no sheet held the voucher escaped"

    code, out = _verify(bundle)

    assert code == 6, out
    assert "shows S-0103 but the events give S-_x0030_103" in out or "shows 'S-0103'" in out, out


def test_export_then_import_gives_back_exactly_the_vouchers(ledger: Ledger, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    ledger.ok("export", "--format", "xlsx", "--runs", str(runs))
    copy = Ledger(f"sqlite:///{tmp_path / 'copy.db'}", CliRunner())
    for path in sorted(runs.iterdir()):
        copy.ok("import", str(path), role=path.stem.split("-")[1])
    assert [(s["voucher"], s["payee"], s["memo"]) for s in _spends(copy.url)] == [
        (text, text, f"备注{text}") for text in TYPED
    ]


def _workbook(path: Path, rows: list[list[Any]]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _spend_row(voucher: str, memo: str = "") -> list[Any]:
    return ["2024-05-11", "", "B0001", "G1", "", "spend", 7, "subsidy", "equipment", "", voucher, "某", memo]


def test_a_workbook_from_elsewhere_is_imported_as_the_spreadsheet_shows_it(
    ledger: Ledger, tmp_path: Path
) -> None:
    """A cell whose stored text is S-_x0030_199 shows S-0199 in Excel: that is the voucher the
    officer saw and imports."""
    path = _workbook(tmp_path / "vouchers.xlsx", [_spend_row("S-_x0030_199", "x_x005F_x0030_")])
    ledger.ok("import", str(path))
    last = _spends(ledger.url)[-1]
    assert (last["voucher"], last["memo"]) == ("S-0199", "x_x0030_")


def test_a_workbook_cell_whose_run_is_a_control_character_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    """``_x0007_`` shows as a bell: a control character, refused as one typed, nothing written."""
    before = _spends(ledger.url)
    path = _workbook(tmp_path / "vouchers.xlsx", [_spend_row("S-200"), _spend_row("S-_x0007_201")])

    result = ledger("import", str(path))

    assert result.exit_code == 2, result.output
    assert "vouchers.xlsx:3: voucher holds a control character (U+0007)" in result.stderr, result.stderr
    assert _spends(ledger.url) == before


_INLINE = re.compile(
    rb'<c ([^>]*?)t="inlineStr"([^>]*)><is><t(?: xml:space="preserve")?>(.*?)</t></is></c>', re.S
)


def _as_excel_saves(path: Path, swap: tuple[bytes, bytes] | None = None) -> None:
    """The workbook rewritten as Excel saves it: each text in a shared-string table, as stored
    (``swap``: one stored text put in place of another, as a forger would)."""
    with zipfile.ZipFile(path) as old:
        parts = [(info.filename, old.read(info)) for info in old.infolist()]
    strings: list[bytes] = []

    def shared(m: re.Match[bytes]) -> bytes:
        text = m.group(3)
        if swap is not None and text == swap[0]:
            text = swap[1]
        strings.append(text)
        return b"<c " + m.group(1) + b't="s"' + m.group(2) + b"><v>%d</v></c>" % (len(strings) - 1)

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in parts:
            if name.startswith("xl/worksheets/"):
                data = _INLINE.sub(shared, data)
            elif name == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                    b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            elif name == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    b'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
                )
            new.writestr(name, data)
        table = b"".join(b'<si><t xml:space="preserve">' + t + b"</t></si>" for t in strings)
        new.writestr(
            "xl/sharedStrings.xml",
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.openxmlformats'
            b'.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">'
            % (len(strings), len(strings))
            + table
            + b"</sst>",
        )


def test_a_workbook_saved_by_excel_is_imported_as_it_shows(ledger: Ledger, tmp_path: Path) -> None:
    """Excel keeps text in a shared-string table, where openpyxl takes every x005F_ out: read so,
    S-_x0030_103 (stored S-_x005F_x0030_103) had been imported as S-0103 and Ax005F_B as AB
    (found by a red-team pass)."""
    runs = tmp_path / "runs"
    ledger.ok("export", "--format", "xlsx", "--runs", str(runs))
    copy = Ledger(f"sqlite:///{tmp_path / 'copy.db'}", CliRunner())
    for path in sorted(runs.iterdir()):
        _as_excel_saves(path)
        with zipfile.ZipFile(path) as book:
            assert "xl/sharedStrings.xml" in book.namelist()
        copy.ok("import", str(path), role=path.stem.split("-")[1])
    assert [s["voucher"] for s in _spends(copy.url)] == TYPED


def _exported_bundle(ledger: Ledger, tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(bundle), role="auditor")
    return bundle


def test_a_bundle_workbook_saved_by_excel_verifies(ledger: Ledger, tmp_path: Path) -> None:
    bundle = _exported_bundle(ledger, tmp_path)
    _as_excel_saves(bundle / "report.xlsx")
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 0, out


def test_a_shared_string_showing_another_voucher_fails(ledger: Ledger, tmp_path: Path) -> None:
    """The forger stores S-_x005F_x0030_103 for the voucher S-0103: Excel shows S-_x0030_103, and
    read through openpyxl's table and decoded again it had matched the event (found by a red-team
    pass: verify passed)."""
    bundle = _exported_bundle(ledger, tmp_path)
    _as_excel_saves(bundle / "report.xlsx", swap=(b"S-0103", b"S-_x005F_x0030_103"))
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 6, out
    assert out.startswith("FAIL: 1 problem(s)"), out  # the forged cell alone: the honest ones read as shown
    assert "(凭证号): shows 'S-_x0030_103' but the events give 'S-0103'" in out, out


def test_the_bundle_shows_a_run_closed_by_an_escaped_character_as_typed(
    ledger: Ledger, tmp_path: Path
) -> None:
    """S_x0041 and then U+FFFE, which XML cannot carry and the bundle writes as _xFFFE_: its "_"
    closes the run _x0041_, so the typed "_" before it is escaped too (a red-team pass found the
    bundle showing SAxFFFE_)."""
    typed = "S_x0041\ufffe"
    ledger.ok("spend", "G1", "--amount", "1", "--category", "equipment", "--voucher", typed,
              "--date", "2024-05-10")  # fmt: skip
    bundle = _exported_bundle(ledger, tmp_path)
    assert typed in _shown(bundle / "report.xlsx")
    assert _verify(bundle)[0] == 0


def test_a_workbook_cell_whose_run_is_half_a_character_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    """_xD800_ decodes to a lone surrogate: refused naming its cell (it had ended the import with
    "internal error", found by a red-team pass), nothing written."""
    before = _spends(ledger.url)
    row = _spend_row("S-300")
    row[3] = "G1_xD800_"
    path = _workbook(tmp_path / "vouchers.xlsx", [row])

    result = ledger("import", str(path))

    assert result.exit_code == 2, result.output
    assert "vouchers.xlsx: cell D2 holds _xD800_, which stands for half of a character" in result.stderr
    assert "internal error" not in result.stderr
    assert _spends(ledger.url) == before
