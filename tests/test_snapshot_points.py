"""Snapshots are stored every 50 versions, then further apart as an aggregate's history grows
(ledger.snapshot_points): the command line's writes and the importer store them at the same
versions, and a grant loaded from one is the grant its events make."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from ledger.snapshot_points import is_point, points_through
from tests.conftest import Ledger, approved_district_grant
from tests.importdata import HEADER


@given(st.integers(min_value=1, max_value=200_000), st.sampled_from([1, 7, 50]))
def test_points_are_at_most_a_tenth_of_the_history_apart_and_never_closer_than_every(
    version: int, every: int
) -> None:
    step = points_through(version, every) - points_through(version - 1, every)
    assert step in (0, 1)
    if is_point(version, every):
        later = next(v for v in range(version + 1, version + 20 * every + version // 5) if is_point(v, every))
        gap = later - version
        assert every <= gap <= max(every, (later + 9) // 10)


def test_the_first_points() -> None:
    points = [v for v in range(1, 4_401) if is_point(v, 50)]
    assert points[:3] == [50, 100, 150]
    assert [p for p in points if 900 <= p <= 1_400] == [900, 950, 1_000, 1_100, 1_200, 1_300, 1_400]
    assert [p for p in points if 1_900 <= p <= 2_400] == [1_900, 2_000, 2_200, 2_400]
    assert points[-2:] == [4_000, 4_400]


def _snapshot_versions(url: str) -> list[int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT originator_version FROM ledger_snapshots ORDER BY 1"))
            return [int(v) for (v,) in rows]
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_long_grant_is_snapshotted_further_apart_by_import_and_by_the_command_line(
    ledger: Ledger, tmp_path: Path
) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    before = _snapshot_versions(ledger.url)
    rows = [HEADER]
    rows += [
        f"2024-06-01,U1,B0001,G1,district_base,spend,1.00,subsidy,materials,,V-{n},," for n in range(1_150)
    ]
    (tmp_path / "spends.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    ledger.ok("import", str(tmp_path / "spends.csv"))
    versions = [v for v in _snapshot_versions(ledger.url) if v not in before]
    # one snapshot per save: the import's last point passed (a bulk save stores the latest only)
    assert versions and all(is_point(v, 50) or v == versions[-1] for v in versions)
    shown = ledger.ok("balance", "B0001", "--format", "json").stdout
    assert "98850.00" in shown  # 10万 less 1,150 spends of 1.00
    for n in range(1_150, 1_260):  # through the command line, past 1,200 but not 1,250
        ledger.ok("spend", "G1", "--amount", "1.00", "--category", "materials", "--voucher", f"V-{n}",
                  "--date", "2024-06-01")  # fmt: skip
    latest = _snapshot_versions(ledger.url)
    version = max(latest)
    assert is_point(version, 50) and version % 100 == 0 and version > 1_150
    assert not any(v % 100 == 50 and v > 1_000 for v in latest), "no point 50 apart past 1,000"
    shown = ledger.ok("balance", "B0001", "--format", "json").stdout
    assert "98740.00" in shown
