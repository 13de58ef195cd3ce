"""The spending sheet's rows encoded for their digest in a second process (a large bundle's
verification) give the digest, sheet names and count they give in the verifying process, the
rows read back are the rows appended, and a second process that dies is replaced by the rows kept
in the file. Through `verify_bundle`, an honest bundle and one with an edited spending cell get
the same report either way."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from audit.bundle import write_manifest
from audit.verifier import verify
from audit.verifier.replay import SpendingRows
from audit.verifier.verify import verify_bundle
from tests.conftest import Ledger
from tests.test_audit_scale import four_spends
from tests.test_workbook_verified import exported_history

texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
rows = st.lists(
    st.tuples(
        st.dates(date(2020, 1, 1), date(2030, 12, 31)),
        texts,
        st.sampled_from(["spend", "reverse"]),
        st.sampled_from(["subsidy", "matching"]),
        texts,
        st.decimals(Decimal("0.01"), Decimal("99999999.99"), places=2),
    ),
    max_size=2500,
)


def _filled(spending: SpendingRows, drawn: list[tuple[Any, ...]]) -> list[list[Any]]:
    appended = []
    for n, (day, text, kind, source, memo, amount) in enumerate(drawn):
        row = [n, day, f"G{n % 7}", "B0001", kind, source, "equipment", text, memo, amount, "财务"]
        spending.append(row)
        appended.append(row)
    return appended


@settings(max_examples=8, deadline=None)
@given(rows)
def test_rows_encoded_apart_give_what_they_give_here(drawn: list[tuple[Any, ...]]) -> None:
    here, apart = SpendingRows(), SpendingRows()
    apart.apart()
    try:
        appended = _filled(here, drawn)
        _filled(apart, drawn)
        assert apart.digest() == here.digest()
        assert (apart.names, len(apart), apart.net) == (here.names, len(here), here.net)
        assert list(apart) == list(here) == appended
    finally:
        apart.close()


def test_a_second_process_that_dies_is_replaced_by_the_rows_kept_here() -> None:
    drawn = [(date(2024, 5, n % 28 + 1), f"内容{n}", "spend", "subsidy", "", Decimal(n) + Decimal("0.5"))
             for n in range(3000)]  # fmt: skip
    here, apart = SpendingRows(), SpendingRows()
    apart.apart()
    try:
        _filled(here, drawn[:1500])
        _filled(apart, drawn[:1500])
        process = apart._apart._process  # type: ignore[union-attr]
        process.kill()
        process.join()
        _filled(here, drawn[1500:])
        _filled(apart, drawn[1500:])
        assert apart.digest() == here.digest() and len(apart) == len(here) == 3000
    finally:
        apart.close()


def test_a_digest_asked_after_the_second_process_was_stopped_is_computed_from_the_rows_kept() -> None:
    """close() before digest() (a caller giving up on the second process): the digest comes from
    the rows kept in the file, the very one the verifying process gives, not an OSError on the
    closed pipe; rows appended after the stop are counted too."""
    kinds = ["reverse" if n % 9 == 0 else "spend" for n in range(2200)]
    drawn = [(date(2024, 6, n % 28 + 1), f"行{n}", kinds[n], "subsidy", "", Decimal(n)) for n in range(2200)]
    here, apart = SpendingRows(), SpendingRows()
    apart.apart()
    try:
        _filled(here, drawn[:1000])
        _filled(apart, drawn[:1000])
        apart.close()
        _filled(here, drawn[1000:])
        _filled(apart, drawn[1000:])
        assert apart.digest() == here.digest() and apart.names == here.names
        assert len(apart) == len(here) == 2200 and apart.net == here.net
    finally:
        apart.close()


def test_verify_reports_alike_with_the_spending_encoded_apart(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = sqlite_ledger
    four_spends(ledger)
    b = tmp_path / "b"
    ledger.ok("audit", "export", str(b), role="auditor")

    def both() -> tuple[Any, Any]:
        here = verify_bundle(b)
        with monkeypatch.context() as patched:
            patched.setattr(verify, "PARALLEL_BYTES", 0)
            apart = verify_bundle(b)
        return dataclasses.asdict(here), dataclasses.asdict(apart)

    here, apart = both()
    assert here == apart and here["failures"] == []
    book = load_workbook(b / "report.xlsx")
    sheet = next(book[name] for name in book.sheetnames if name.startswith("spending"))
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == "training_system")
    cell.value = "<&> training_system!"
    book.save(b / "report.xlsx")
    write_manifest(b)
    here, apart = both()
    assert here == apart
    assert any("training_system!" in failure for failure in here["failures"]), here["failures"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger's history (tests.test_workbook_verified), signed and exported once for the module."""
    return exported_history(tmp_path_factory.mktemp("history"))


@pytest.fixture
def history(exported: Path, tmp_path: Path) -> Path:
    """A copy of that bundle, to tamper with."""
    copy = tmp_path / "b"
    shutil.copytree(exported, copy)
    return copy


def _apart_too(b: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """The report with every part of the verification in this process, and with the event log's
    check (and the workbook's package check it makes) and the spending rows in second processes."""
    from audit.verifier import workbook

    here = verify_bundle(b)
    with monkeypatch.context() as patched:
        patched.setattr(verify, "PARALLEL_BYTES", 0)
        patched.setattr(workbook, "PARALLEL_BYTES", 0)
        apart = verify_bundle(b)
    return dataclasses.asdict(here), dataclasses.asdict(apart)


@pytest.mark.parametrize("tamper", ["formula", "bomb", "event log"])
def test_the_workbook_s_package_refusals_are_the_same_made_in_the_second_process(
    history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tamper: str
) -> None:
    """A formula behind an honest cached value, a part inflating past the budget, an edited
    event-log cell (the package check then scans the event log too): refused alike, in the same
    words, whichever process made the check."""
    import re

    from bench.big_cell import inflated_part
    from tests.test_workbook_verified import _edit_part

    b = history
    clean = tmp_path / "clean"
    shutil.copytree(b, clean)
    if tamper == "formula":

        def formula(xml: bytes) -> bytes:
            cell = re.search(rb'<c r="H5" s="5"><v>([0-9.]+)</v></c>', xml)
            assert cell is not None
            forged = b'<c r="H5" s="5"><f>F5-G5</f><v>' + cell.group(1) + b"</v></c>"
            return xml.replace(cell.group(0), forged)

        _edit_part(b, "xl/worksheets/sheet2.xml", formula)
        said = "holds a formula"
    elif tamper == "bomb":
        inflated_part(b / "report.xlsx", "docProps/bomb.xml", 64 << 20)
        write_manifest(b)
        said = "part docProps/bomb.xml inflates to"
    else:
        book = load_workbook(b / "report.xlsx")
        book["event log"].cell(row=3, column=7, value="0" * 64)
        book.save(b / "report.xlsx")
        write_manifest(b)
        said = "report.xlsx event log row 3"
    here, apart = _apart_too(b, monkeypatch)
    assert here == apart
    assert any(said in failure for failure in here["failures"]), here["failures"]
    clean_here, clean_apart = _apart_too(clean, monkeypatch)
    assert clean_here == clean_apart and clean_here["failures"] == []


def test_a_package_verdict_about_other_sheets_does_not_stand(history: Path) -> None:
    """The verdict of the event log's check stands for the workbook's only if it left out exactly
    the sheets this check would: a refusal made over other sheets (here, forged) is not taken, and
    the workbook is checked again."""

    from audit.verifier.replay import Replay
    from audit.verifier.report import Report
    from audit.verifier.sheets import check_sheets
    from audit.verifier.workbook import PackageVerdict

    b = history
    forged = PackageVerdict(frozenset({"event log"}), "forged refusal")
    report = Report()
    check_sheets(b, Replay(), None, 10, report, False, package=forged)
    assert not any("forged refusal" in failure for failure in report.failures)
    taken = Report()
    check_sheets(b, Replay(), None, 10, taken, False, package=PackageVerdict(frozenset(), "taken refusal"))
    assert "report.xlsx: taken refusal" in taken.failures


@pytest.mark.parametrize("forgery", ["float leaf index", "lone surrogate", "both"])
def test_a_forged_line_the_sheets_cannot_encode_fails_alike_and_never_crashes(
    history: Path, monkeypatch: pytest.MonkeyPatch, forgery: str
) -> None:
    """A spending line re-indexed as 32.0 (equal to 32 in Python), or whose content holds a lone
    surrogate (JSON allows its escape; UTF-8 has no such character, so no leaf hash can be made
    for it), the manifest rewritten: verify fails it, names it, and reports alike whichever process
    encodes the rows; through the command line, exit 6 and no internal error (both crashed the
    verifying process, or blamed the workbook, before)."""
    import json

    from click.testing import CliRunner

    from commands.cli import cli

    b = history
    path = b / "events.jsonl"
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    at = next(n for n, x in enumerate(lines) if x["record"]["topic"].endswith("ExpenditureRecorded"))
    if forgery != "lone surrogate":
        lines[at]["leaf_index"] = float(lines[at]["leaf_index"])
    if forgery != "float leaf index":  # no leaf hash can be recomputed: UTF-8 cannot encode it
        lines[at]["record"]["state"]["content"] = "设备\ud800"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    write_manifest(b)
    here, apart = _apart_too(b, monkeypatch)
    assert here == apart and here["failures"]
    assert not any("cannot read its sheets" in failure for failure in here["failures"]), here["failures"]
    if forgery != "lone surrogate":
        assert any(f"found at position {at}" in failure for failure in here["failures"]), here["failures"]
    result = CliRunner().invoke(cli, ["--lang", "en", "--role", "auditor", "audit", "verify", str(b)])
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
