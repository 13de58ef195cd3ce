"""The spending sheet's rows encoded for their digest in a second process (a large bundle's
verification) give the digest, sheet names and count they give in the verifying process, the
rows read back are the rows appended, and a second process that dies is replaced by the rows kept
in the file. Through `verify_bundle`, an honest bundle and one with an edited spending cell get
the same report either way."""

from __future__ import annotations

import dataclasses
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
from tests.conftest import Ledger, approved_district_grant

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


def test_verify_reports_alike_with_the_spending_encoded_apart(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = sqlite_ledger
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    for n in range(4):
        ledger.ok(
            "spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
            "--voucher", f"S{n}", "--content", "<&> 设备", "--date", "2024-05-10",
        )  # fmt: skip
    ledger.ok("audit", "checkpoint", role="approver")
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
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == "<&> 设备")
    cell.value = "<&> 设备!"
    book.save(b / "report.xlsx")
    write_manifest(b)
    here, apart = both()
    assert here == apart
    assert any("设备!" in failure for failure in here["failures"]), here["failures"]
