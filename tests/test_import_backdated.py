"""A file backdated among acts the ledger already holds, in date order and sound as a whole: its
spend is refused against spending recorded later, on its own, though the file's own later
tranche pays for it (a red-team pass found 5 of 25 fuzzed ledgers refusing such a file). The
file is judged with its receipts, and stands only if every date's balance holds once all of it
is in: a receipt the ledger already holds (a repeat, which brings nothing in) is no help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Ledger, approved_district_grant
from tests.test_insider_forgeries import _verified

HEADER = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"
DATES = ["2024-04-10", "2024-05-01", "2024-05-31", "2024-06-01", "2024-06-30", "2024-07-01", "2024-12-31"]


def _books(ledger: Ledger, *tranches: tuple[str, str, str]) -> None:
    """G1 approved for 200,000.00, its tranches, and 50,000.00 spent on 07-01 (command line)."""
    approved_district_grant(ledger)
    for voucher, amount, day in tranches:
        ledger.ok("disburse", "G1", "--amount", amount, "--voucher", voucher, "--date", day)
    ledger.ok(
        "spend", "G1", "--amount", "50000", "--category", "equipment", "--source", "subsidy",
        "--voucher", "记-0701", "--date", "2024-07-01",
    )  # fmt: skip


def _file(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "vouchers.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _subsidy_by_date(ledger: Ledger) -> dict[str, str]:
    held = {}
    for day in DATES:
        rows = json.loads(ledger.ok("balance", "B0001", "--as-of", day, "--format", "json").stdout)
        held[day] = rows[0]["subsidy_available"]
    return held


SPEND_0501 = "2024-05-01,,B0001,G1,,spend,60000,subsidy,equipment,,记-0501,某公司,"


def test_a_date_ordered_file_paid_for_by_its_own_later_tranche_is_recorded(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    _books(sqlite_ledger, ("拨-1", "100000", "2024-04-10"))
    path = _file(tmp_path, SPEND_0501, "2024-06-01,,B0001,G1,,disburse,20000,subsidy,,,拨-2,,")

    result = sqlite_ledger("import", str(path))

    assert result.exit_code == 0, result.stderr
    assert _subsidy_by_date(sqlite_ledger) == {
        "2024-04-10": "100000.00",
        "2024-05-01": "40000.00",
        "2024-05-31": "40000.00",
        "2024-06-01": "60000.00",
        "2024-06-30": "60000.00",
        "2024-07-01": "10000.00",
        "2024-12-31": "10000.00",
    }


@pytest.mark.parametrize(
    ("tranches", "receipt"),
    [
        # the file's tranche is too small: 07-01 would stand at -5,000.00
        ((("拨-1", "100000", "2024-04-10"),), "2024-06-01,,B0001,G1,,disburse,5000,subsidy,,,拨-2,,"),
        # the file's tranche is one the ledger holds already: it brings nothing in (07-01: -10,000.00;
        # counted as coming, 07-01 had stood at +10,000.00 for the spend)
        (
            (("拨-1", "80000", "2024-04-10"), ("拨-2", "20000", "2024-06-01")),
            "2024-06-01,,B0001,G1,,disburse,20000,subsidy,,,拨-2,,",
        ),
    ],
    ids=["too small", "already recorded"],
)
def test_a_file_whose_receipts_do_not_pay_for_it_is_refused_and_writes_nothing(
    sqlite_ledger: Ledger, tmp_path: Path, tranches: tuple[tuple[str, str, str], ...], receipt: str
) -> None:
    _books(sqlite_ledger, *tranches)
    before = (sqlite_ledger.event_count(), _subsidy_by_date(sqlite_ledger))

    result = sqlite_ledger("import", str(_file(tmp_path, SPEND_0501, receipt)))

    assert result.exit_code == 3, result.stderr
    assert "vouchers.csv:2: spending 60,000.00 from the subsidy" in result.stderr, result.stderr
    assert "ring-fence, 003 第十条" in result.stderr
    assert (sqlite_ledger.event_count(), _subsidy_by_date(sqlite_ledger)) == before


REVERSE_0701 = "2024-07-01,,B0001,G1,,reverse,,,,,退-1,,记-0701"
TRANCHE_2 = "2024-06-01,,B0001,G1,,disburse,20000,subsidy,,,拨-2,,"


@pytest.mark.parametrize(
    ("tranches", "rows"),
    [
        # the ledger holds 拨-2 already: its row records nothing
        ((("拨-1", "100000", "2024-04-10"), ("拨-2", "20000", "2024-06-01")), (TRANCHE_2,)),
        # the file's own 拨-2 listed twice: the second row records nothing
        ((("拨-1", "100000", "2024-04-10"),), (TRANCHE_2, TRANCHE_2)),
    ],
    ids=["held already", "listed twice"],
)
def test_a_receipt_row_that_records_nothing_pays_for_no_spend(
    sqlite_ledger: Ledger, tmp_path: Path, tranches: tuple[tuple[str, str, str], ...], rows: tuple[str, ...]
) -> None:
    """80,000.00 spent on 05-01 leaves 07-01 at -10,000.00 with what the ledger holds and the
    file brings in; a repeated receipt row had been counted as coming all the same, and the file's
    later reversal of 记-0701 then carried it past the end check: the spend stood on a receipt
    that never came, and the auditor's verifier failed the ledger's own bundle (found by a
    red-team pass). The spend is refused at its row, as on the command line, and nothing written."""
    _books(sqlite_ledger, *tranches)
    before = (sqlite_ledger.event_count(), _subsidy_by_date(sqlite_ledger))
    spend = "2024-05-01,,B0001,G1,,spend,80000,subsidy,equipment,,记-0501,某公司,"

    result = sqlite_ledger("import", str(_file(tmp_path, spend, *rows, REVERSE_0701)))

    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "vouchers.csv:2: spending 80,000.00 from the subsidy" in result.stderr, result.stderr
    assert (sqlite_ledger.event_count(), _subsidy_by_date(sqlite_ledger)) == before


def test_the_file_s_receipts_count_for_the_ring_fence_alone(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """A disposal leaving less than ordered recoveries still owe (refused on the command line) is
    refused in a file too, whatever receipts the file lists: here one the ledger holds already,
    which a red-team pass found carrying the disposal through."""
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "V1", "--date", "2024-05-01")
    sqlite_ledger.ok(
        "recover", "order", "G1", "--amount", "50000", "--reason", "违规", "--document", "追-1",
        "--date", "2024-06-01", role="approver",
    )  # fmt: skip
    before = sqlite_ledger.event_count()
    path = _file(
        tmp_path,
        "2024-06-10,,,G1,,dispose,100000,subsidy,,,批-1,,returned",
        "2024-05-01,,,G1,,disburse,100000,,,,V1,,",
    )

    result = sqlite_ledger("import", str(path))

    assert result.exit_code == 3, result.stderr
    assert "vouchers.csv:2:" in result.stderr and "ordered recoveries" in result.stderr, result.stderr
    assert sqlite_ledger.event_count() == before


def _received_by_date(ledger: Ledger, days: list[str]) -> dict[str, str]:
    held = {}
    for day in days:
        rows = json.loads(ledger.ok("balance", "B0001", "--as-of", day, "--format", "json").stdout)
        held[day] = rows[0]["subsidy_received"]
    return held


TRANCHE_DAYS = ["2024-05-01", "2024-05-15", "2024-06-01", "2024-07-01"]


def _two_tranches(ledger: Ledger) -> None:
    """G1 approved for 200,000.00: tranches D1 (05-01) and D2 (07-01) of 100,000.00 each."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "D1", "--date", "2024-05-01")
    ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "D2", "--date", "2024-07-01")


@pytest.mark.parametrize("kind", ["disburse", ""], ids=["kind named", "kind left to the voucher"])
def test_a_date_ordered_file_whose_own_later_reversal_makes_room_for_its_tranche_is_recorded(
    sqlite_ledger: Ledger, tmp_path: Path, kind: str
) -> None:
    """The file's D3 (05-15) and its reversal of D1 (06-01) never have more than the 200,000.00
    approved disbursed at the end of any date; in date order, D3 alone was refused against D2,
    which the ledger holds from 07-01 (found by a red-team pass; the reversal first was recorded)."""
    _two_tranches(sqlite_ledger)
    path = _file(
        tmp_path,
        "2024-05-15,,B0001,G1,,disburse,100000,subsidy,,,D3,,",
        f"2024-06-01,,B0001,G1,,reverse,,,{kind},,退回重拨,,D1",
    )

    result = sqlite_ledger("import", str(path))

    assert result.exit_code == 0, result.stderr
    assert _received_by_date(sqlite_ledger, TRANCHE_DAYS) == {
        "2024-05-01": "100000.00",
        "2024-05-15": "200000.00",
        "2024-06-01": "100000.00",
        "2024-07-01": "200000.00",
    }


@pytest.mark.parametrize(
    "reversal",
    [
        # the reversal dated after D2: 300,000.00 disbursed at the end of 07-01
        "2024-07-02,,B0001,G1,,reverse,,,disburse,,退回重拨,,D1",
        # a reversal of a tranche the ledger does not hold: nothing reversed
        "2024-06-01,,B0001,G1,,reverse,,,disburse,,退回重拨,,D9",
        # the reversal the ledger already holds, repeated: it brings no room
        None,
    ],
    ids=["after the later tranche", "of no tranche", "already recorded"],
)
def test_a_file_whose_reversal_does_not_make_room_for_its_tranche_is_refused_and_writes_nothing(
    sqlite_ledger: Ledger, tmp_path: Path, reversal: str | None
) -> None:
    _two_tranches(sqlite_ledger)
    if reversal is None:  # D1 reversed on 06-01 and D4 recorded, both in the ledger already
        sqlite_ledger.ok("reverse", "G1", "--voucher", "D1", "--reason", "退回重拨", "--date", "2024-06-01")
        sqlite_ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "D4", "--date", "2024-06-10")
        reversal = "2024-06-01,,B0001,G1,,reverse,,,disburse,,退回重拨,,D1"
    before = (sqlite_ledger.event_count(), _received_by_date(sqlite_ledger, TRANCHE_DAYS))
    path = _file(tmp_path, "2024-05-15,,B0001,G1,,disburse,100000,subsidy,,,D3,,", reversal)

    result = sqlite_ledger("import", str(path))

    assert result.exit_code == 3, result.stderr
    said = result.stderr
    assert "vouchers.csv:2:" in said and "above the approved 200,000.00" in said, said
    assert (sqlite_ledger.event_count(), _received_by_date(sqlite_ledger, TRANCHE_DAYS)) == before


@pytest.mark.parametrize("batch", ["5000", "1"], ids=["one batch", "a batch an event"])
def test_the_auditor_s_verifier_passes_a_file_judged_with_its_own_receipts(
    sqlite_ledger: Ledger, tmp_path: Path, batch: str
) -> None:
    """Such a file is one write, under one seal whatever its batches, and the verifier judges a
    write's acts once all of it is in, as the import did: the spend of 05-01 in log order
    overdraws 07-01 until the file's tranche of 06-01 (a red-team pass found the honest ledger
    failing its audit)."""
    _books(sqlite_ledger, ("拨-1", "100000", "2024-04-10"))
    path = _file(tmp_path, SPEND_0501, "2024-06-01,,B0001,G1,,disburse,20000,subsidy,,,拨-2,,")
    sqlite_ledger.ok("import", "--batch", batch, str(path))
    code, out = _verified(sqlite_ledger, tmp_path)
    assert code == 0, out


def test_the_auditor_s_verifier_passes_a_file_judged_with_its_own_reversal(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    _two_tranches(sqlite_ledger)
    path = _file(
        tmp_path,
        "2024-05-15,,B0001,G1,,disburse,100000,subsidy,,,D3,,",
        "2024-06-01,,B0001,G1,,reverse,,,disburse,,退回重拨,,D1",
    )
    sqlite_ledger.ok("import", str(path))
    code, out = _verified(sqlite_ledger, tmp_path)
    assert code == 0, out


def test_a_file_past_one_write_is_not_judged_with_its_receipts(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of more rows than one write holds (commands.importer.ONE_WRITE_ROWS) is judged in
    its order and by date alone, as before: refused, nothing written."""
    from commands import importer

    monkeypatch.setattr(importer, "ONE_WRITE_ROWS", 1)
    _books(sqlite_ledger, ("拨-1", "100000", "2024-04-10"))
    before = sqlite_ledger.event_count()
    path = _file(tmp_path, SPEND_0501, "2024-06-01,,B0001,G1,,disburse,20000,subsidy,,,拨-2,,")
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 3, result.stderr
    assert "vouchers.csv:2: spending 60,000.00 from the subsidy" in result.stderr, result.stderr
    assert sqlite_ledger.event_count() == before
