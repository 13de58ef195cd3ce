"""What ``audit export`` writes and ``audit verify`` reads back: one place for both sides.

Imports nothing beyond the standard library, so the verifier stays free of the database code.
"""

from __future__ import annotations

from typing import Any

FORMAT = 2  # 2: spending by leaf index, findings from the events, bundle.json without export time
BALANCES_SHEET = "balances"
SPENDING_SHEET = "spending"
FINDINGS_SHEET = "findings"
EVENT_LOG_SHEET = "event log"
ACTIVITY_SHEET = "who did what"  # audit/verifier/who.py
REGISTRY_SHEET = "people registry"
SHEETS = (BALANCES_SHEET, SPENDING_SHEET, FINDINGS_SHEET, ACTIVITY_SHEET, REGISTRY_SHEET, EVENT_LOG_SHEET)
ACTIVITY_HEADERS = ["person", "role", "kind", "signed", "events", "first", "last"]
REGISTRY_HEADERS = ["leaf_index", "date", "change", "person", "role", "key", "by"]

BALANCE_HEADERS = [
    "base_id",
    "grant_id",
    "base_name",
    "programme",
    "approved",
    "subsidy_received",
    "subsidy_spent",
    "subsidy_available",
    "matching_committed",
    "matching_received",
    "matching_spent",
    "matching_available",
    "subsidy_recovered",
    "subsidy_disposed",
    "matching_disposed",
]
SPENDING_HEADERS = [
    *("leaf_index", "date", "grant_id", "base_id", "kind", "source", "category", "content"),
    *("voucher", "amount", "actor"),
]
MEASURES = (
    "approved",
    "subsidy_received",
    "subsidy_spent",
    "matching_committed",
    "matching_received",
    "matching_spent",
    "subsidy_recovered",
    "subsidy_disposed",
    "matching_disposed",
)
FINDINGS_HEADERS = ["base_id", "grant_id", "rule", "clause", "occurred_on", "message"]
EVENT_LOG_HEADERS = [
    *("leaf_index", "event_id", "recorded_at", "topic", "originator_id", "version"),
    *("leaf_hash", "included"),
]
RECORD_COLUMNS = ("recorded_at", "topic", "originator_id", "originator_version")


def event_line(leaf_index: int, event_id: int, leaf_hash: str, record: bytes | None) -> bytes:
    """One line of events.jsonl: the record's canonical bytes last, exactly as its leaf hashes them,
    so a verifier can hash them without encoding the record again."""
    head = f'{{"leaf_index":{leaf_index},"event_id":{event_id},"leaf_hash":"{leaf_hash}",'.encode("ascii")
    if record is None:
        return head + b'"withheld":true}\n'
    return head + b'"record":' + record + b"}\n"


def event_log_row(leaf_index: int, event_id: int, leaf_hash: str, record: dict[str, Any] | None) -> list[Any]:
    """The workbook's event-log row of one leaf; a withheld event shows only its leaf hash, as in
    events.jsonl."""
    if record is None:
        return [leaf_index, event_id, None, None, None, None, leaf_hash, "withheld"]
    return [
        leaf_index,
        event_id,
        record["recorded_at"],
        record["topic"],
        record["originator_id"],
        record["originator_version"],
        leaf_hash,
        "yes",
    ]
