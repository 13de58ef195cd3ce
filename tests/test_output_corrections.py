"""``output report … --corrects YEAR`` replaces a year's report by a correction of its own
(issue 16 item 15); a second report of a year without it is refused, never a silent overwrite."""

from __future__ import annotations

import json

from tests.conftest import Ledger, approved_district_grant

REPORT = ["output", "report", "G1", "--trainees"]


def _findings(ledger: Ledger) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = json.loads(
        ledger.ok("report", "findings", "--format", "json", "--as-of", "2026-11-30").stdout
    )
    return [f for f in rows if f["rule"] == "output target"]


def test_a_second_report_of_a_year_is_refused_and_names_the_correction(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok(*REPORT, "850", "--advanced", "200", "--year", "2024", "--date", "2025-01-05")
    before = ledger.event_count()

    again = ledger(*REPORT, "9", "--advanced", "2", "--year", "2024", "--date", "2025-01-06")

    assert again.exit_code == 5
    assert "--corrects 2024" in again.stderr and "850 trained" in again.stderr
    assert ledger.event_count() == before


def test_a_correction_replaces_the_year_and_is_its_own_event(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok(*REPORT, "850", "--advanced", "20", "--year", "2024", "--date", "2025-01-05")
    ledger.ok(*REPORT, "850", "--advanced", "20", "--year", "2026", "--date", "2026-11-20")
    low = _findings(ledger)
    before = ledger.event_count()

    done = ledger(*REPORT, "850", "--advanced", "600", "--corrects", "2026", "--date", "2026-11-25")

    assert done.exit_code == 0, done.stderr
    assert ledger.event_count() == before + 2  # the correction and its seal; the report stays
    # the year's target (003 第十一条: ≥500 high-skill from two years after the 2024 start, so from
    # 2026) is judged on the correction
    assert any("2026" in f["message"] for f in low)
    assert not any("2026" in f["message"] for f in _findings(ledger))
    missing = ledger(*REPORT, "1", "--corrects", "2023", "--date", "2026-01-08")
    assert missing.exit_code == 4
    clash = ledger(*REPORT, "1", "--year", "2024", "--corrects", "2025", "--date", "2026-01-08")
    assert clash.exit_code == 2
