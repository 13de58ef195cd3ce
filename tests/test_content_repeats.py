"""A spend an earlier version stored with its construction content as an import row typed it
(校企合作提升培训能力) is that spend again however its content is typed now."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.conftest import Ledger, approved_district_grant
from tests.test_budget_line_dates import HEADER
from tests.test_one_rulebook import plant_spend


def test_a_spend_stored_with_the_content_s_name_is_repeated_by_its_code_or_any_of_its_names(
    ledger: Ledger, tmp_path: Path
) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    plant_spend(ledger, "K1", "9000.00", "校企合作提升培训能力", date(2024, 4, 12))
    before = ledger.event_count()
    spend = ["spend", "G1", "--amount", "9000", "--category", "equipment", "--source", "subsidy",
             "--voucher", "K1", "--date", "2024-04-12"]  # fmt: skip
    # the command line maps a content's name to its code: these were "different content" (exit 5)
    for typed in ("cooperation", "校企合作提升培训能力", "School-Enterprise Cooperation"):
        ledger.ok(*spend, "--content", typed)
    path = tmp_path / "again.csv"
    for typed in ("校企合作提升培训能力", "cooperation"):  # the file as it was imported then, or by code
        path.write_text(f"{HEADER}\n2024-04-12,,B0001,G1,,spend,9000,subsidy,equipment,{typed},K1,,\n")
        ledger.ok("import", str(path))
    assert ledger.event_count() == before
    # another content, or another amount, under that voucher is still a conflict
    assert ledger(*spend, "--content", "patterns").exit_code == 5
    assert ledger(*[a if a != "9000" else "9001" for a in spend], "--content", "cooperation").exit_code == 5
    # reversed, it is that reversed spend again, not a new one under a reversed voucher
    ledger.ok("reverse", "G1", "--voucher", "K1", "--reason", "错记", "--date", "2024-04-20")
    reversed_at = ledger.event_count()
    for typed in ("cooperation", "校企合作提升培训能力"):
        refused = ledger(*spend, "--content", typed)
        assert refused.exit_code == 5 and "reversed voucher is not spent again" in refused.stderr
    # the file that recorded it and its reversal, again: repeats, not a reversed voucher spent again
    path.write_text(path.read_text() + "2024-04-20,,B0001,G1,,reverse,,,,,错记,,K1\n")
    ledger.ok("import", str(path))
    assert ledger.event_count() == reversed_at
