"""What a person reads in an audit bundle is what its events say, and the events break no money
rule: each tamper a red-team pass made PASS (issue 14, items 4, 5, 7, 9, 11) now FAILs through
``audit verify``, naming the sheet and cell, the rule, or the file."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from audit.bundle import write_manifest
from audit.verifier.policy import FORMER, KNOWN, with_added
from audit.verifier.xlsx import sheet_parts
from bench.big_cell import inflated_part
from tests.conftest import Ledger, approved_district_grant
from tests.test_signed_audit import insider_bundle


def exported_history(home: Path) -> Path:
    """``_history`` in a new ledger in ``home``, signed and exported to ``home / "bundle"``."""
    ledger = Ledger(f"sqlite:///{home / 'ledger.db'}", CliRunner())
    _history(ledger)
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(home / "bundle"), role="auditor")
    return home / "bundle"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("book")
    exported_history(home)
    return home


def _history(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("match", "receive", "G1", "--amount", "5万", "--voucher", "R1", "--date", "2024-04-11")
    for voucher, amount, source in (
        ("S1", "3.5万", "subsidy"),
        ("S2", "12000", "subsidy"),
        ("S3", "800", "matching"),
    ):
        ledger.ok(
            "spend", "G1", "--amount", amount, "--category", "equipment", "--source", source,
            "--voucher", voucher, "--date", "2024-05-10",
        )  # fmt: skip
    ledger.ok("reverse", "G1", "--voucher", "S2", "--reason", "重复入账", "--date", "2024-06-10")


@pytest.fixture
def bundle(home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(home / "bundle", copy)
    return copy


def _verify(bundle: Path) -> tuple[int, str]:
    from commands.cli import cli

    result = CliRunner().invoke(
        cli,
        ["--lang", "en", "--role", "auditor", "audit", "verify", "--unanchored", str(bundle)],
        catch_exceptions=False,
    )
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result.exit_code, result.stdout


def _edit_book(bundle: Path, edit: Any) -> None:
    """Edits report.xlsx with openpyxl (as a forger with a spreadsheet program) and recomputes MANIFEST."""
    path = bundle / "report.xlsx"
    book = load_workbook(path)
    edit(book)
    book.save(path)
    write_manifest(bundle)


def _edit_part(bundle: Path, part: str, edit: Any) -> None:
    """Rewrites one XML part of report.xlsx byte for byte (what no spreadsheet program shows)."""
    path = bundle / "report.xlsx"
    with zipfile.ZipFile(path) as old:
        parts = [(info, old.read(info)) for info in old.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info, data in parts:
            new.writestr(info.filename, edit(data) if info.filename == part else data)
    write_manifest(bundle)


def test_the_honest_bundle_passes(bundle: Path) -> None:
    code, out = _verify(bundle)
    assert code == 0, out


def test_an_honest_workbook_is_checked_by_its_bytes_not_read_cell_by_cell(
    bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every sheet export wrote is the bytes export writes for the replay: verify passes without
    reading one with openpyxl (the balances of 20,000 grants took a tenth of a million-event
    verification read so)."""
    from openpyxl.reader.excel import ExcelReader

    def unread(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("read cell by cell")

    monkeypatch.setattr(ExcelReader, "read", unread)  # whatever opens the workbook with openpyxl
    code, out = _verify(bundle)
    assert code == 0, out


@pytest.mark.parametrize("sheet", ["balances", "who did what", "people registry"])
def test_a_sheet_edited_in_its_bytes_fails_naming_its_cell(bundle: Path, sheet: str) -> None:
    """A figure changed in a sheet's XML, all else as export wrote it: the sheet's bytes differ
    from export's, so it is read cell by cell, and the cell is named."""
    with zipfile.ZipFile(bundle / "report.xlsx") as book:
        part = dict(sheet_parts(book))[sheet]

    def edit(xml: bytes) -> bytes:
        cell = re.search(rb'<c r="([A-Z]+5)"[^>]*><v>([0-9]+(?:\.[0-9]+)?)</v></c>', xml)
        assert cell is not None, xml[:2000]
        old = cell.group(0)
        return xml.replace(old, old.replace(b"<v>" + cell.group(2), b"<v>" + cell.group(2) + b"1"), 1)

    _edit_part(bundle, part, edit)
    code, out = _verify(bundle)
    assert code == 6 and f"report.xlsx {sheet}!" in out and "but the events give" in out, out


@pytest.mark.parametrize(
    ("column", "value", "cell"),
    [
        ("I", "S9", "spending!I5 (凭证号)"),
        ("G", "travel", "spending!G5 (支出类别)"),
        ("J", 1, "spending!J5 (金额)"),
    ],
)
def test_a_changed_spending_row_fails_naming_its_cell(
    bundle: Path, column: str, value: Any, cell: str
) -> None:
    def edit(book: Any) -> None:
        book["spending"][f"{column}5"] = value

    _edit_book(bundle, edit)
    code, out = _verify(bundle)
    assert code == 6 and f"report.xlsx {cell}: shows" in out and "but the events give" in out, out


def test_an_emptied_findings_sheet_fails(bundle: Path) -> None:
    book = load_workbook(bundle / "report.xlsx", read_only=True)
    # the rule's name as the sheet is filed, in Chinese
    assert [r[2] for r in book["findings"].iter_rows(min_row=5, values_only=True)] == ["1:1 配套", None]
    book.close()
    _edit_book(bundle, lambda book: book["findings"].delete_rows(5, 10))
    code, out = _verify(bundle)
    assert code == 6 and "report.xlsx findings!A5: no row, but the events give" in out, out


def test_a_balance_replaced_by_a_formula_with_an_honest_cached_value_fails(bundle: Path) -> None:
    def formula(xml: bytes) -> bytes:
        cell = re.search(rb'<c r="H5" s="5"><v>([0-9.]+)</v></c>', xml)
        assert cell is not None
        return xml.replace(cell.group(0), b'<c r="H5" s="5"><f>F5-G5</f><v>' + cell.group(1) + b"</v></c>")

    _edit_part(bundle, "xl/worksheets/sheet2.xml", formula)
    code, out = _verify(bundle)
    assert code == 6 and "sheet 'balances' cell H5 (part xl/worksheets/sheet2.xml) holds a formula" in out, (
        out
    )


def test_a_forged_sheet_before_the_balances_fails(bundle: Path) -> None:
    def edit(book: Any) -> None:
        forged = book.create_sheet("balances ", 0)
        forged.append(["基地", "项目编号", "补助结余"])
        forged.append(["B0001", "G1", 999999])

    _edit_book(bundle, edit)
    code, out = _verify(bundle)
    assert code == 6 and "report.xlsx: sheet 1 is 'balances ' where the bundle has 'balances'" in out, out


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_sheet_fails(bundle: Path, state: str) -> None:
    def edit(book: Any) -> None:
        book["findings"].sheet_state = state

    _edit_book(bundle, edit)
    code, out = _verify(bundle)
    assert code == 6 and f"report.xlsx: sheet 'findings' is {state}" in out, out


def test_a_defined_name_fails(bundle: Path) -> None:
    from openpyxl.workbook.defined_name import DefinedName

    def edit(book: Any) -> None:
        book.defined_names["total"] = DefinedName("total", attr_text="balances!$H$2")

    _edit_book(bundle, edit)
    code, out = _verify(bundle)
    assert code == 6 and "report.xlsx: has a definedName total" in out, out


def test_a_hidden_spending_row_fails(bundle: Path) -> None:
    def edit(book: Any) -> None:
        book["spending"].row_dimensions[5].hidden = True

    _edit_book(bundle, edit)
    code, out = _verify(bundle)
    assert code == 6 and "(sheet 'spending') hides a row (row 5)" in out, out


def test_a_number_format_showing_a_literal_fails(bundle: Path) -> None:
    def edit(book: Any) -> None:
        book["balances"]["H5"].number_format = '"999,999.00"'

    _edit_book(bundle, edit)
    code, out = _verify(bundle)
    assert code == 6 and "number format '\"999,999.00\"' is none the bundle uses" in out, out


def test_a_policy_changed_to_allow_travel_fails(bundle: Path) -> None:
    (path,) = (bundle / "policy").glob("*.toml")
    policy = path.read_text("utf-8")
    allowed = re.sub(r"(\[categories\.travel\][^\[]*?allowed = )false", r"\1true", policy, flags=re.S)
    assert allowed != policy
    path.write_text(allowed, "utf-8")
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 6 and f"policy/{path.name}: not a policy version this verifier knows" in out, out


def test_the_verifier_knows_exactly_the_policy_versions_the_ledger_ships() -> None:
    """The texts shipped now and those an earlier release shipped (a bundle it exported ships
    them), and no other."""
    shipped = Path(__file__).parent.parent / "ledger" / "policy"
    now = {hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in shipped.glob("*.toml")}
    assert now | FORMER == KNOWN and not now.keys() & FORMER.keys()
    assert {hashlib.sha256(p.read_bytes()).hexdigest() for p in FORMER_TEXTS} == set(FORMER)


# each text an earlier release shipped: the format-3 bundle's, and the one before the conditions
# of 002 四(一)1 (tests/data/README.md)
FORMER_TEXTS = (
    Path(__file__).parent / "data" / "bundle-format-3" / "policy" / "v1-2023.toml",
    Path(__file__).parent / "data" / "former-policy" / "890daa52" / "v1-2023.toml",
    Path(__file__).parent / "data" / "former-policy" / "13f19340" / "v1-2023.toml",
    Path(__file__).parent / "data" / "former-policy" / "32638c5d" / "v1-2023.toml",
    Path(__file__).parent / "data" / "former-policy" / "7280c747" / "v1-2023.toml",
)


def test_a_former_text_states_the_rules_the_shipped_one_does() -> None:
    """Nothing signed covers a bundle's policy file: a former text is known only while the rules
    the verifier reads of it, with the conditions added since (``with_added``), are the shipped
    text's (its quotes, and the rounds' dates the verifier does not judge, may differ), or a forger
    would ship the loosest one."""

    def rules(text: str | dict[str, Any]) -> dict[str, Any]:
        data = copy.deepcopy(text) if isinstance(text, dict) else tomllib.loads(text)
        del data["documents"]  # the rounds' dates and the like: the ledger's, not the verifier's
        for clause in data["clauses"].values():
            clause.pop("words", None)  # the verifier cites a clause; the conditions added carry no quote
        return data

    shipped = (Path(__file__).parent.parent / "ledger" / "policy" / "v1-2023.toml").read_text("utf-8")
    for path in FORMER_TEXTS:
        earlier = path.read_text("utf-8")
        assert hashlib.sha256(earlier.encode("utf-8")).hexdigest() in FORMER
        assert earlier != shipped and rules(earlier) != rules(shipped)
        assert rules(with_added(tomllib.loads(earlier))) == rules(shipped)


# ----------------------------------------------------------------------------- item 5: the rules


def _forge(ledger: Ledger, **changes: str) -> None:
    """Appends a copy of G1's last expenditure with ``changes`` to the store, below the
    application (an INSERT: the append-only triggers refuse only UPDATE and DELETE)."""
    engine = create_engine(ledger.url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(
                text("SELECT originator_id, originator_version, topic, state FROM ledger_events ORDER BY id")
            ).all()
            spent = [r for r in rows if r.topic == "grant-ledger:Grant.ExpenditureRecorded"][-1]
            last = max(r.originator_version for r in rows if r.originator_id == spent.originator_id)
            state = json.loads(bytes(spent.state))
            for key, value in changes.items():
                if isinstance(state[key], dict):
                    state[key] = {**state[key], "_data_": value}
                else:
                    state[key] = value
            conn.execute(
                text(
                    "INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
                    "VALUES (:o, :v, :t, :s)"
                ),
                {"o": spent.originator_id, "v": last + 1, "t": spent.topic, "s": json.dumps(state).encode()},
            )
    finally:
        engine.dispose()


def _forged_bundle(tmp_path: Path, **changes: str) -> Path:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", CliRunner())
    _history(ledger)
    _forge(ledger, **changes)
    # the ledger builds nothing on the forged row (exit 6): the insider signs and exports past it
    return insider_bundle(ledger, tmp_path / "bundle")


def test_a_forged_overspend_fails_the_ring_fence(tmp_path: Path) -> None:
    b = _forged_bundle(tmp_path, amount="500000.00", voucher="F1")
    code, out = _verify(b)
    assert code == 6 and "replay: ring-fence: ExpenditureRecorded of 500,000.00 leaves the matching" in out, (
        out
    )


def test_a_forged_travel_spend_fails_as_a_banned_category(tmp_path: Path) -> None:
    b = _forged_bundle(tmp_path, amount="100.00", voucher="F2", category="travel")
    code, out = _verify(b)
    assert code == 6 and "replay: banned category: spending category 'travel' of grant G1" in out, out


def test_a_forged_spend_before_approval_fails(tmp_path: Path) -> None:
    b = _forged_bundle(tmp_path, amount="100.00", voucher="F3", occurred_on="2024-03-15")
    code, out = _verify(b)
    assert code == 6 and "replay: approval first: ExpenditureRecorded dated 2024-03-15" in out, out


# ----------------------------------------------------------------------------- item 7: read models


def test_an_edited_read_model_does_not_reach_the_bundle(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", CliRunner())
    _history(ledger)
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("balance")
    engine = create_engine(ledger.url)
    try:
        with engine.begin() as conn:
            tables = [r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))]
            for table in tables:  # every read model that keeps a subsidy_spent or an amount
                columns = [r[1] for r in conn.execute(text(f'PRAGMA table_info("{table}")'))]
                if table.startswith("ledger_") or "checkpoint" in table:
                    continue
                for column in ("subsidy_spent", "amount"):
                    if column in columns:
                        conn.execute(text(f'UPDATE "{table}" SET {column} = 0'))
    finally:
        engine.dispose()
    ledger.ok("audit", "export", str(tmp_path / "b"), role="auditor")
    book = load_workbook(tmp_path / "b" / "report.xlsx", read_only=True)
    balances = list(book["balances"].iter_rows(min_row=4, values_only=True))
    spending = list(book["spending"].iter_rows(min_row=5, values_only=True))[:-1]  # the 合计 row last
    book.close()
    assert balances[1][balances[0].index("补助支出")] == 35000
    assert sorted(row[9] for row in spending) == [800, 12000, 12000, 35000]
    code, out = _verify(tmp_path / "b")
    assert code == 0, out


# ----------------------------------------------------------------------------- item 11: no partial bundle


def test_an_export_that_fails_midway_leaves_no_directory(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit import bundle as producer

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", CliRunner())
    shutil.copy(home / "ledger.db", tmp_path / "ledger.db")
    monkeypatch.setattr(producer, "write_manifest", broken)
    result = ledger("audit", "export", str(tmp_path / "out" / "b"), role="auditor")
    assert result.exit_code != 0
    assert not (tmp_path / "out" / "b").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_a_killed_export_leaves_no_directory(home: Path, tmp_path: Path) -> None:
    shutil.copy(home / "ledger.db", tmp_path / "ledger.db")
    script = (
        "import os, sys\n"
        "from audit import bundle\n"
        "def killed(*a, **k):\n"
        "    os._exit(137)\n"
        "bundle.write_manifest = killed\n"
        "from commands.cli import cli\n"
        "sys.exit(cli(sys.argv[1:]))\n"
    )
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "--db",
            db,
            "--role",
            "auditor",
            "audit",
            "export",
            str(tmp_path / "b"),
        ],
        capture_output=True,
        cwd=Path(__file__).parent.parent,
        check=False,
    )
    assert done.returncode == 137, done.stderr
    assert not (tmp_path / "b").exists()


# ----------------------------------------------------------------------------- item 9: bounded reading


def _bomb(bundle: Path, part: str, size: int) -> None:
    """Adds ``part`` inflating to ``size`` bytes (a run of one byte: a small file on disk)."""
    inflated_part(bundle / "report.xlsx", part, size)
    write_manifest(bundle)


@pytest.mark.parametrize("part", ["xl/sharedStrings.xml", "xl/worksheets/sheet9.xml", "docProps/bomb.xml"])
def test_a_zip_bomb_in_the_workbook_is_refused_before_it_is_read(bundle: Path, part: str) -> None:
    _bomb(bundle, part, 64 << 20)
    code, out = _verify(bundle)
    assert code == 6 and f"report.xlsx: part {part} inflates to" in out and "refused" in out, out


def test_verify_of_a_workbook_bomb_stays_small_in_memory(bundle: Path) -> None:
    """A report.xlsx of a few hundred kilobytes whose shared strings inflate to 400 MB: verify
    refuses it by name, in a process whose peak memory stays far below it."""
    _bomb(bundle, "xl/sharedStrings.xml", 400 << 20)
    assert (bundle / "report.xlsx").stat().st_size < 2 << 20
    script = (
        "import re, sys\n"
        "from audit.verifier.i18n import use\n"
        "from audit.verifier.verify import verify_bundle\n"
        "use('en')\n"
        "report = verify_bundle(__import__('pathlib').Path(sys.argv[1]))\n"
        # this process's own peak (VmHWM: not the parent's, which getrusage carries over an exec)
        "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "print('\\n'.join(report.failures))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(bundle)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        check=True,
    )
    peak_kb, *failures = done.stdout.splitlines()
    assert any("part xl/sharedStrings.xml inflates to" in f for f in failures), failures
    assert int(peak_kb) < 300 * 1024, peak_kb


def test_a_cell_past_excel_s_limit_is_refused(bundle: Path) -> None:
    def edit(xml: bytes) -> bytes:
        return xml.replace(
            b'<t xml:space="preserve">S1</t>', b'<t xml:space="preserve">' + b"S" * 200_000 + b"</t>"
        )

    _edit_part(bundle, "xl/worksheets/sheet3.xml", edit)
    code, out = _verify(bundle)
    assert (
        code == 6
        and "sheet 'spending' cell I5 (part xl/worksheets/sheet3.xml) holds a cell longer than "
        "32,767 characters"
        in out
    ), out


def test_an_empty_row_past_the_end_of_the_event_log_passes_and_a_filled_one_fails(bundle: Path) -> None:
    """What a person reads decides: a row past the end with nothing in it shows nothing (found by
    the tamper property: openpyxl writes such a row when a cell past the end is set to None)."""
    from openpyxl import load_workbook

    path = bundle / "report.xlsx"
    book = load_workbook(path)
    sheet = book["event log"]
    end = sheet.max_row + 1
    sheet.cell(row=end, column=1, value=None)
    book.save(path)
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 0, out

    book = load_workbook(path)
    book["event log"].cell(row=end, column=1, value=999)
    book.save(path)
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 6 and f"event log row {end}: shows (999)" in out, out


def test_a_balance_off_by_a_fraction_of_a_fen_fails(bundle: Path) -> None:
    """0.00390625 in a cell formatted to two places shows 0.00, but it is not the 0.00 the events
    give: a sum over it, or its formula bar, says otherwise (found by the tamper property)."""
    from openpyxl import load_workbook

    path = bundle / "report.xlsx"
    book = load_workbook(path)
    sheet = book["balances"]
    header = [c.value for c in sheet[4]]
    cell = sheet.cell(row=5, column=header.index("补助支出") + 1)
    cell.value = float(cell.value or 0) + 0.00390625
    book.save(path)
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 6 and "balances!" in out and "0.00390625" in out, out
