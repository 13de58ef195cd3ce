"""One write path: the command line and the importer build the same actions, so a value is
refused (or recorded) the same way by both, and the role an act needs is checked on the act."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from tests.conftest import DISTRICT_BODIES, Ledger, approved_district_grant, selected
from tests.importdata import HEADER

LONG_ID = "G" * 100


def _file(tmp_path: Path, *rows: str, name: str = "books.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _funded(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")


# ----------------------------------------------------------------------------- the reported bugs


def test_a_100_character_grant_id_is_refused_by_the_import_and_by_every_command(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    rule = "must be 1 to 64 characters without control characters"
    before = sqlite_ledger.event_count()  # init's registry and the fixture's three people
    approval = f"2024-04-01,U1,B0001,{LONG_ID},district_base,approve,200000,,,,渝人社〔2024〕1号,,"
    imported = sqlite_ledger("import", str(_file(tmp_path, approval)), role="approver")
    assert imported.exit_code == 2
    assert f"books.csv:2: grant_id: {rule}" in imported.stderr
    for command, role in [
        (["disburse", LONG_ID, "--amount", "1", "--voucher", "T1", "--date", "2024-04-10"], "officer"),
        (["rectify", "order", LONG_ID, "--ref", "R1", "--finding", "台账不全", "--deadline", "2024-09-30",
          "--date", "2024-06-30"], "approver"),
        (["dispose", LONG_ID, "--source", "subsidy", "--amount", "1", "--how", "returned",
          "--approval", "批-1", "--date", "2024-06-30"], "officer"),
        (["grant", "close", LONG_ID, "--date", "2024-06-30"], "approver"),
    ]:  # fmt: skip
        result = sqlite_ledger(*command, role=role)
        assert result.exit_code == 2, (command, result.stderr)
        assert f"GRANT_ID: {rule}" in result.stderr, (command, result.stderr)
    assert sqlite_ledger.event_count() == before


# 2024-8-6 is taken since dates are read as officers write them (2024/5/10, 2024年5月10日):
# tests/test_files_from_their_systems.py
@pytest.mark.parametrize("day", ["20240806", "2024-W32-2", "2024-08-06Tjunk", "2024-02-30"])
def test_only_iso_dates_are_taken_by_the_import_and_the_command_line(
    sqlite_ledger: Ledger, tmp_path: Path, day: str
) -> None:
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()
    imported = sqlite_ledger("import", str(_file(tmp_path, f"{day},,B0001,G1,,disburse,100,,,,T2,,2")))
    assert imported.exit_code == 2
    assert f"books.csv:2: date: {day!r} is not a date; write it as YYYY-MM-DD" in imported.stderr
    typed = sqlite_ledger(
        "disburse", "G1", "--amount", "100", "--voucher", "T2", "--tranche", "2", "--date", day
    )
    assert typed.exit_code == 2
    assert f"{day!r} is not a date; write it as YYYY-MM-DD" in typed.stderr
    assert sqlite_ledger.event_count() == before


def test_a_header_naming_a_column_twice_is_refused_and_nothing_written(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A second `amount` column used to be read instead of the first, silently."""
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()
    path = _file(
        tmp_path, "2024-05-10,,B0001,G1,,spend,100,subsidy,equipment,,S1,,,99999", header=HEADER + ",amount"
    )
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 2
    assert "the header names amount more than once" in result.stderr
    assert sqlite_ledger.event_count() == before


def test_the_role_is_checked_on_each_row_as_on_its_command(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    approval = "2024-04-01,U1,B0001,G1,district_base,approve,200000,,,,渝人社〔2024〕1号,,"
    before = sqlite_ledger.event_count()  # init's registry and the fixture's three people
    as_officer = sqlite_ledger("import", str(_file(tmp_path, approval)))
    assert as_officer.exit_code == 3
    assert (
        "the officer role may not record 'grant approve'; it is recorded by an approver" in as_officer.stderr
    )
    assert sqlite_ledger.event_count() == before
    sqlite_ledger.ok("import", str(_file(tmp_path, approval)), role="approver")
    money = _file(tmp_path, "2024-04-15,,B0001,G1,,disburse,100000,,,,拨-1,,1", name="money.csv")
    as_approver = sqlite_ledger("import", str(money), role="approver")
    assert as_approver.exit_code == 3
    assert "the approver role may not record 'disburse'" in as_approver.stderr
    typed = sqlite_ledger("disburse", "G1", "--amount", "100000", "--voucher", "拨-1", "--date", "2024-04-15",
                          role="approver")  # fmt: skip
    assert typed.exit_code == 3 and "the approver role may not record 'disburse'" in typed.stderr
    auditor = sqlite_ledger("import", str(money), role="auditor")
    assert auditor.exit_code == 3
    sqlite_ledger.ok("import", str(money))
    assert sqlite_ledger.balances()["B0001"]["subsidy_received"] == "100000.00"


# ----------------------------------------------------------------------------- recoveries and disposals


def _recovered_and_disposed(ledger: Ledger) -> None:
    """G1 (its base named) funded and spent, a recovery ordered and received, the matching left
    disposed of."""
    ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    ledger.ok("grant", "apply", "G1", "--unit", "U1", "--base", "B0001", "--base-name", "渝中区培训基地",
              "--programme", "district_base", "--project", "电工", "--amount", "20万",
              "--date", "2024-03-01")  # fmt: skip
    selected(ledger)
    ledger.ok("grant", "approve", "G1", "--amount", "200000", "--document", "渝中人社〔2024〕1号",
        *DISTRICT_BODIES,
              "--date", "2024-04-01", role="approver")  # fmt: skip
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("match", "commit", "G1", "--amount", "5万", "--funder", "单位U1", "--voucher", "MC1",
              "--date", "2024-04-11")  # fmt: skip
    ledger.ok("match", "receive", "G1", "--amount", "5万", "--voucher", "MR1", "--date", "2024-04-12")
    ledger.ok("spend", "G1", "--amount", "30000", "--category", "equipment", "--source", "subsidy",
              "--voucher", "S1", "--content", "training_system", "--payee", "供应商",
              "--date", "2024-05-10")  # fmt: skip
    ledger.ok("spend", "G1", "--amount", "1000.50", "--category", "materials", "--source", "matching",
              "--voucher", "S2", "--date", "2024-05-11")  # fmt: skip
    ledger.ok("reverse", "G1", "--voucher", "S2", "--reason", "重复入账", "--date", "2024-05-12")
    ledger.ok("recover", "order", "G1", "--amount", "5000", "--reason", "违规列支", "--document", "追-1",
              "--date", "2024-06-01", role="approver")  # fmt: skip
    ledger.ok("recover", "receive", "G1", "--amount", "5000", "--voucher", "缴-1", "--date", "2024-06-10")
    ledger.ok("dispose", "G1", "--source", "matching", "--amount", "8000", "--how", "carried_forward",
              "--approval", "批-9", "--date", "2024-06-20")  # fmt: skip


def test_recoveries_and_disposals_round_trip_through_the_csv_export(ledger: Ledger, tmp_path: Path) -> None:
    _recovered_and_disposed(ledger)
    exported = ledger.ok("export", "--format", "csv").stdout
    kinds = [line.split(",")[5] for line in exported.splitlines()[1:]]
    assert {"recover_order", "recover_receive", "dispose"} <= set(kinds)
    path = tmp_path / "books.csv"
    path.write_text(exported, encoding="utf-8")
    other = Ledger(f"sqlite:///{tmp_path / 'other.db'}", CliRunner())
    runs = other.import_ok(path)
    assert len(runs) == 4  # approver, officer, approver (the order), officer
    assert other.balances() == ledger.balances()
    assert other.ok("export", "--format", "csv").stdout == exported
    assert (
        other.ok("report", "sources", "--format", "json").stdout
        == ledger.ok("report", "sources", "--format", "json").stdout
    )


def test_a_recovery_receipt_row_is_held_to_the_order_as_its_command_is(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    _funded(sqlite_ledger)
    row = "2024-06-10,,B0001,G1,,recover_receive,5000,subsidy,,,缴-1,,"
    imported = sqlite_ledger("import", str(_file(tmp_path, row)))
    typed = sqlite_ledger(
        "recover", "receive", "G1", "--amount", "5000", "--voucher", "缴-1", "--date", "2024-06-10"
    )
    assert imported.exit_code == typed.exit_code == 3
    assert typed.stderr.removeprefix("grant-ledger: ").strip() in imported.stderr
    bad = sqlite_ledger(
        "import", str(_file(tmp_path, "2024-06-20,,B0001,G1,,dispose,100,subsidy,,,批-1,,given_away"))
    )
    assert bad.exit_code == 2 and "given_away" in bad.stderr


# ----------------------------------------------------------------------------- the property


def _stored(url: str) -> list[tuple[str, dict[str, object]]]:
    """Every stored event's topic and state, without the store's own timestamp, and without the
    seals (a write's signature: its own id, and a batch of an import is sealed once)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT topic, state FROM ledger_events ORDER BY id")).all()
    finally:
        engine.dispose()
    out = []
    for topic, state in rows:
        if str(topic).startswith("grant-ledger:Seal."):
            continue
        fields = json.loads(bytes(state))
        fields.pop("timestamp", None)
        fields.pop("seal", None)
        out.append((str(topic), fields))
    return out


@pytest.fixture(scope="module")
def funded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger file with G1 approved, both its funds in, and one expenditure S0 to reverse."""
    path = tmp_path_factory.mktemp("funded") / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}", CliRunner())
    _funded(ledger)
    ledger.ok("match", "receive", "G1", "--amount", "5万", "--voucher", "MR0", "--date", "2024-04-10")
    ledger.ok("spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
              "--voucher", "S0", "--date", "2024-05-01")  # fmt: skip
    return path


# Each field: values its command takes, and values refused for one rule or another (a field's
# length, characters, date, amount, what the ledger holds). At most one field of a row is drawn
# from the refused values, so that most rows are recorded and the rest are refused for one reason.
FIELDS: dict[str, tuple[list[str], list[str]]] = {
    "grant": (["G1", " G1 "], ["G9", "G" * 65, "G\x001", ""]),
    "date": (
        ["2024-05-10", "2024-06-01", "2024-04-11"],
        ["2024-4-11", "20240510", "2024-W19-5", "2024-05-10T09:00", "2024-13-01", "2023-01-05", ""],
    ),
    "amount": (
        ["100", "1,000.50", "¥200", "1万", "0.01"],
        ["0", "-5", "abc", "1.001", "", "9999999", "12万"],
    ),
    "voucher": (["V1", "V2", "V" * 128], ["V" * 129, "V\x01", "", "T1", "S0"]),
    "text": (["", "某公司", "长" * 500, "备\t注"], ["长" * 501, "行\n断"]),
    "category": (["equipment", "实训设备购置、改造与维护"], ["travel", "teleport", ""]),
    "source": (["subsidy", "matching"], ["gold"]),
    "role": (["officer"], ["approver", "auditor"]),
}


@st.composite
def rows(draw: st.DrawFn) -> tuple[str, list[str], list[str]]:
    """(role, the import row's cells, the equivalent command's arguments)."""
    broken = draw(st.sampled_from([None, None, *FIELDS]))

    def value(field: str) -> str:
        good, bad = FIELDS[field]
        return draw(st.sampled_from(bad if field == broken else good))

    kind = draw(st.sampled_from(["disburse", "match_commit", "match_receive", "spend", "reverse"]))
    grant, day, amount = value("grant"), value("date"), value("amount")
    voucher = value("voucher")
    cells = {"date": day, "grant_id": grant, "kind": kind, "amount": amount, "voucher": voucher}
    date = ["--date", day]
    if kind == "disburse":
        args = ["disburse", grant, "--amount", amount, "--voucher", voucher, "--tranche", "2", *date]
        cells["memo"] = "2"
    elif kind == "match_commit":
        funder = value("text")
        args = ["match", "commit", grant, "--amount", amount, "--voucher", voucher, "--funder", funder, *date]
        cells["payee"] = funder
    elif kind == "match_receive":
        args = ["match", "receive", grant, "--amount", amount, "--voucher", voucher, *date]
    elif kind == "spend":
        category, source, payee, memo = value("category"), value("source"), value("text"), value("text")
        cells.update(category=category, source=source, payee=payee, memo=memo)
        args = ["spend", grant, "--amount", amount, "--voucher", voucher, "--category", category,
                "--source", source, "--payee", payee, "--memo", memo, *date]  # fmt: skip
    else:
        reversed_voucher = "S0" if broken != "voucher" else voucher  # the one expenditure there is
        reason = value("text") or "重复入账"
        cells.update(memo=reversed_voucher, voucher=reason, amount="")
        args = ["reverse", grant, "--voucher", reversed_voucher, "--reason", reason, *date]
    return value("role"), [cells.get(column, "") for column in HEADER.split(",")], args


def _csv_line(cells: list[str]) -> str:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)  # (a cell with a line break is quoted)
    return out.getvalue().removesuffix("\n")


def _sentence(stderr: str) -> str:
    """The refusal's sentence without where it came from (``books.csv:2:``, ``grant-ledger:``) or
    how the field is named (``--amount:`` on the command line, ``amount:`` in a file)."""
    line = next(s for s in stderr.splitlines() if s.startswith(("books.csv:2: ", "grant-ledger: ")))
    line = line.removeprefix("grant-ledger: ").removeprefix("books.csv:2: ")
    head, _, rest = line.partition(": ")
    return rest if rest and " " not in head.strip("-") else line


# GRANT_LEDGER_ACTION_EXAMPLES=500 for a longer run by hand
EXAMPLES = int(os.environ.get("GRANT_LEDGER_ACTION_EXAMPLES", "0"))


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES or 30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=rows())
def test_a_row_is_recorded_or_refused_as_its_command_is(
    funded_file: Path, tmp_path_factory: pytest.TempPathFactory, case: tuple[str, list[str], list[str]]
) -> None:
    role, cells, args = case
    folder = tmp_path_factory.mktemp("case")
    urls = []
    for name in ("imported.db", "typed.db"):
        shutil.copy(funded_file, folder / name)
        urls.append(f"sqlite:///{folder / name}")
    book = folder / "books.csv"
    book.write_text(f"{HEADER}\n{_csv_line(cells)}\n", encoding="utf-8")
    imported = Ledger(urls[0], CliRunner())("import", str(book), role=role)
    typed = Ledger(urls[1], CliRunner())(*args, role=role)
    assert "Traceback" not in imported.stderr + typed.stderr
    assert imported.exit_code == typed.exit_code, (imported.stderr, typed.stderr)
    event(f"exit {typed.exit_code}")
    if typed.exit_code == 0:
        assert _stored(urls[0]) == _stored(urls[1])
        return
    assert _stored(urls[0]) == _stored(urls[1])  # nothing written by either
    if "control character" in imported.stderr or "Invalid value for" in typed.stderr:
        return  # the file names the cell, click the option: the same refusal in other words
    assert _sentence(imported.stderr) == _sentence(typed.stderr), (imported.stderr, typed.stderr)


# ----------------------------------------------------------------------------- the round trip, at random


@pytest.fixture(scope="module")
def approved_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger file with G1 (its base named) approved and nothing else."""
    path = tmp_path_factory.mktemp("approved") / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}", CliRunner())
    ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    ledger.ok("grant", "apply", "G1", "--unit", "U1", "--base", "B0001", "--base-name", "渝中区培训基地",
              "--programme", "district_base", "--project", "电工", "--amount", "20万",
              "--date", "2024-03-01")  # fmt: skip
    selected(ledger)
    ledger.ok("grant", "approve", "G1", "--amount", "200000", "--document", "渝中人社〔2024〕1号",
        *DISTRICT_BODIES,
              "--date", "2024-04-01", role="approver")  # fmt: skip
    return path


MONEY = st.sampled_from(["1000", "2500.50", "3万", "8万", "12万", "0.01"])
ACTS = st.one_of(
    st.tuples(st.just("disburse"), MONEY),
    st.tuples(st.just("match_commit"), MONEY),
    st.tuples(st.just("match_receive"), MONEY),
    st.tuples(
        st.just("spend"),
        MONEY,
        st.sampled_from(["subsidy", "matching"]),
        st.sampled_from(["equipment", "materials", "curriculum"]),
    ),
    st.tuples(st.just("reverse"), st.integers(0, 11)),
    st.tuples(st.just("recover_order"), MONEY),
    st.tuples(st.just("recover_receive"), st.sampled_from(["ordered", "1000", "0.01"])),
    st.tuples(
        st.just("dispose"),
        MONEY,
        st.sampled_from(["subsidy", "matching"]),
        st.sampled_from(["returned", "carried_forward"]),
    ),
)


def _command(n: int, act: tuple[object, ...], spent: list[str], ordered: str) -> tuple[list[str], str]:
    """The act's command line; a reversal picks among the expenditures recorded (``spent``), a
    recovery receipt may take the amount last ordered."""
    day = f"2024-{4 + n // 28:02d}-{1 + n % 28:02d}"
    kind, amount = act[0], str(act[1])
    common = ["--date", day]
    if kind == "disburse":
        return [
            "disburse",
            "G1",
            "--amount",
            amount,
            "--voucher",
            f"T{n}",
            "--tranche",
            str(n + 1),
            *common,
        ], "officer"
    if kind == "match_commit":
        return ["match", "commit", "G1", "--amount", amount, "--funder", "单位U1", "--voucher", f"MC{n}",
                *common], "officer"  # fmt: skip
    if kind == "match_receive":
        return ["match", "receive", "G1", "--amount", amount, "--voucher", f"MR{n}", *common], "officer"
    if kind == "spend":
        return ["spend", "G1", "--amount", amount, "--source", str(act[2]), "--category", str(act[3]),
                "--voucher", f"S{n}", "--payee", "供应商", *common], "officer"  # fmt: skip
    if kind == "reverse":
        target = spent[int(str(act[1])) % len(spent)] if spent else "S0"
        return ["reverse", "G1", "--voucher", target, "--reason", "冲销", *common], "officer"
    if kind == "recover_order":
        return ["recover", "order", "G1", "--amount", amount, "--reason", "违规", "--document", f"RO{n}",
                *common], "approver"  # fmt: skip
    if kind == "recover_receive":
        received = ordered if amount == "ordered" else amount
        return ["recover", "receive", "G1", "--amount", received, "--voucher", f"RR{n}", *common], "officer"
    return ["dispose", "G1", "--source", str(act[2]), "--amount", amount, "--how", str(act[3]),
            "--approval", f"D{n}", *common], "officer"  # fmt: skip


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES or 8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(acts=st.lists(ACTS, min_size=1, max_size=12))
def test_random_books_round_trip_through_the_csv_export(
    approved_file: Path, tmp_path_factory: pytest.TempPathFactory, acts: list[tuple[object, ...]]
) -> None:
    """Money acts of every kind (refused ones too) through the command line; the csv export
    imported into a fresh ledger gives the same balances, sources report and export."""
    folder = tmp_path_factory.mktemp("books")
    shutil.copy(approved_file, folder / "ledger.db")
    ledger = Ledger(f"sqlite:///{folder / 'ledger.db'}", CliRunner())
    spent: list[str] = []
    ordered = "1000"
    for n, act in enumerate(acts):
        command, role = _command(n, act, spent, ordered)
        result = ledger(*command, role=role)
        assert result.exit_code in (0, 3, 4, 5), (command, result.stderr)
        if result.exit_code == 0:
            event(f"recorded {act[0]}")
            if act[0] == "spend":
                spent.append(command[command.index("--voucher") + 1])
            elif act[0] == "recover_order":
                ordered = str(act[1])
    exported = ledger.ok("export", "--format", "csv").stdout
    path = folder / "books.csv"
    path.write_text(exported, encoding="utf-8")
    other = Ledger(f"sqlite:///{folder / 'other.db'}", CliRunner())
    other.import_ok(path)
    assert other.balances() == ledger.balances()
    assert (
        other.ok("report", "sources", "--format", "json").stdout
        == ledger.ok("report", "sources", "--format", "json").stdout
    )
    assert other.ok("export", "--format", "csv").stdout == exported
