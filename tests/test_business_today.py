"""Today is the date in Chongqing, and GRANT_LEDGER_TODAY fixes it: an act dated after it is
refused with the rule and clause, an act with no --date is recorded on it, and a value that is not
a date is one sentence and exit 2, nothing written."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Ledger, approved_district_grant


def test_the_fixed_day_is_today_for_every_act(sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    approved_district_grant(sqlite_ledger)
    monkeypatch.setenv("GRANT_LEDGER_TODAY", "2024-06-01")
    ahead = sqlite_ledger("disburse", "G1", "--amount", "100", "--voucher", "T2", "--date", "2024-06-02")
    assert ahead.exit_code == 3
    assert "after the day it is recorded (2024-06-01, Asia/Shanghai)" in ahead.stderr
    assert "business date, 003 第十条" in ahead.stderr
    sqlite_ledger.ok("disburse", "G1", "--amount", "100", "--voucher", "T1")  # no --date: today
    rows = json.loads(sqlite_ledger.ok("history", "G1", "--format", "json").stdout)
    (paid,) = [r for r in rows if r["voucher"] == "T1"]
    assert paid["occurred_on"] == "2024-06-01"
    assert not [r for r in rows if r["voucher"] == "T2"]


@pytest.mark.parametrize("value", ["2024-13-01", "tomorrow", "20240601", "2024-06-01T00:00"])
def test_a_fixed_day_that_is_not_a_date_is_refused(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    approved_district_grant(sqlite_ledger)
    before = sqlite_ledger.event_count()
    monkeypatch.setenv("GRANT_LEDGER_TODAY", value)
    result = sqlite_ledger("disburse", "G1", "--amount", "100", "--voucher", "T1")
    assert result.exit_code == 2
    assert f"GRANT_LEDGER_TODAY={value!r} is not a date" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sqlite_ledger.event_count() == before
