"""An event written below the application with fields of another shape (numbers where the
ledger writes texts) is described, not a crash of every read (history, reports) built on it."""

from __future__ import annotations

from projections.acts import DETAILS


def test_projects_and_bodies_of_numbers_are_described() -> None:
    applied = {"programme": "district_base", "base_id": "B1", "base_name": "基地", "projects": [1, 2]}
    assert "1、2" in str(DETAILS["Applied"](applied))
    approved = {
        "document": "D",
        "bodies": [7],
        "build_start": {"_data_": "2024-04-01"},
        "build_end": {"_data_": "2026-03-31"},
    }
    assert "7" in str(DETAILS["Approved"](approved))
