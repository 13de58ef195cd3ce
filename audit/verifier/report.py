"""What a verification found (``Report``), and the bundle's files it reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

EVENTS = "events.jsonl"
BUNDLE = "bundle.json"
WORKBOOK = "report.xlsx"
CHUNK = 1 << 22


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    events: int = 0
    withheld: int = 0
    checkpoints: int = 0
    grants: int = 0
    root: bytes = b""
    event_log_rows: int = 0
    withheld_aggregates: int = 0
    as_of: str | None = None
    after_as_of: int = 0  # events of included aggregates dated after as_of: shown, not replayed
    anchor: str = ""  # whose keys the signatures were checked against; "" the bundle's own
    trust_root: str = ""  # the fingerprint of the bundle's people registry's root
    trust_root_pinned: bool = False  # the auditor gave it (--root): the registry is anchored
    signed: int = 0  # events signed by a registered person in a role that may record them
    adopted: int = 0  # events before the ledger's adoption: adopted, not signed
    seals: int = 0
    people: int = 0

    def fail(self, message: str) -> None:
        self.failures.append(message)


def read_text(path: Path, name: str, report: Report) -> str | None:
    """The file as UTF-8 text, or None with a failure reported."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        report.fail(f"{name}: not UTF-8 text (byte {e.start})")
        return None
