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

# each typed as a voucher and a payee; the first two must never show alike
TYPED = ["S-_x0030_103", "S-0103", "_x005F_", "a_x0041_b_x4E2D_"]
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


def _verify(bundle: Path) -> tuple[int, str]:
    from commands.cli import cli

    result = CliRunner().invoke(
        cli,
        ["--lang", "en", "--role", "auditor", "audit", "verify", "--unanchored", str(bundle)],
        catch_exceptions=False,
    )
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result.exit_code, result.stdout


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
