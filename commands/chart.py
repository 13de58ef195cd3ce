"""The chart a report asks its workbook to draw: told apart from ``commands.workbook`` so that a
report read in the terminal does not load the workbook's writer to say what it would draw."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """A bar chart of some of the sheet's columns (by key) against its ``label`` column."""

    title: str
    label: str
    series: tuple[str, ...]
    y_title: str = ""
    percent: bool = False
