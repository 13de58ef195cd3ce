"""What a read command run in a caller's click context hands it instead of printing
(``commands.reading.capture``: the web server's reports); loaded only when one is captured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Shown:
    """A report's table as ``emit`` lays it out (its labelled columns but the hidden ones, each
    code shown by its name, the 合计 row labelled), for a caller that draws it itself."""

    title: str
    keys: list[str]
    headers: list[str]
    rows: list[list[Any]]
    total: list[Any] | None
    empty: str


@dataclass
class Capture:
    """What a read command run in a caller's click context (``capture``) hands it instead of
    printing: its table (``shown``, for --format table); a file it writes is written, unannounced."""

    shown: Shown | None = None
