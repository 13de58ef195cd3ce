"""Spending is judged against the build period as it stood on its date (found by a red-team pass):
G1's period ended 2026-03-31; an extension to 2027-03-31 dated 2026-06-01 had let a spend dated
2026-05-01, refused before it, be recorded after it, while `report execution --as-of 2026-05-01`
still showed the period ended. An extension dated before the end reaches every day after it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Ledger, approved_district_grant

HEADER = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"


def _spend(ledger: Ledger, voucher: str, day: str) -> tuple[int, str]:
    result = ledger(
        "spend", "G1", "--amount", "1000", "--category", "equipment", "--source", "subsidy",
        "--voucher", voucher, "--date", day,
    )  # fmt: skip
    return result.exit_code, result.stderr


def _extended(ledger: Ledger, on: str) -> None:
    approved_district_grant(ledger)  # built 2024-04-01 to 2026-03-31
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    ledger.ok("grant", "extend", "G1", "--end", "2027-03-31", "--document", "渝中人社〔2026〕7号",
              "--date", on, role="approver")  # fmt: skip


def test_an_extension_dated_after_the_end_does_not_reach_back(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    _extended(sqlite_ledger, "2026-06-01")
    before = sqlite_ledger.event_count()

    code, said = _spend(sqlite_ledger, "S-0501", "2026-05-01")
    assert code == 3, said
    assert "2026-03-31" in said and "build period" in said, said
    path = tmp_path / "vouchers.csv"
    path.write_text(
        f"{HEADER}\n2026-05-01,,B0001,G1,,spend,1000,subsidy,equipment,,S-0501,某公司,\n", "utf-8"
    )
    imported = sqlite_ledger("import", str(path))
    assert imported.exit_code == 3 and "2026-03-31" in imported.stderr, imported.stderr
    assert sqlite_ledger.event_count() == before

    assert _spend(sqlite_ledger, "S-0615", "2026-06-15")[0] == 0  # within the period as extended


def test_an_extension_dated_before_the_end_reaches_every_day_after_it(sqlite_ledger: Ledger) -> None:
    _extended(sqlite_ledger, "2026-03-01")
    assert _spend(sqlite_ledger, "S-0501", "2026-05-01") == (0, "")


def test_the_auditor_s_verifier_passes_spending_within_the_period_as_it_stood(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """The verifier replays the build period as the ledger judges it (a forged spend outside it
    fails: tests/test_insider_forgeries.py): spending under an extension dated before the end,
    and after an extension's date, passes."""
    _extended(sqlite_ledger, "2026-03-01")
    assert _spend(sqlite_ledger, "S-0501", "2026-05-01") == (0, "")
    sqlite_ledger.ok("grant", "extend", "G1", "--end", "2027-09-30", "--document", "渝中人社〔2026〕9号",
                     "--date", "2026-11-01", role="approver")  # fmt: skip
    assert _spend(sqlite_ledger, "S-1115", "2026-11-15") == (0, "")
    sqlite_ledger.ok("audit", "checkpoint", role="approver")
    bundle = tmp_path / "bundle"
    sqlite_ledger.ok("audit", "export", str(bundle), role="auditor")
    assert sqlite_ledger.root is not None
    result = sqlite_ledger("audit", "verify", str(bundle), "--root", sqlite_ledger.root, role="auditor")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.startswith("PASS"), result.stdout
