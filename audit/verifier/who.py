"""The workbook's sheets of who did what: each person's events by role and kind (with their first
and last business dates), and the people registry's history. Export writes them and the verifier
derives them again from events.jsonl, both with these functions."""

from __future__ import annotations

from datetime import date
from typing import Any

from audit.verifier.people import REGISTRY_ID, state_date
from audit.verifier.seals import ADOPTION_TOPIC, SEAL_TOPIC, key_fingerprint

SIGNED, ADOPTED = "signed", "adopted"
_REGISTRY = str(REGISTRY_ID)


def _kind(topic: str) -> str:
    return topic.split(":", 1)[-1]


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value is not None else None
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class Activity:
    """Events per (person, role, kind, signed or adopted): their count, first and last dates."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, str, bool], list[Any]] = {}  # actor, role, topic, sealed

    def feed(self, record: dict[str, Any]) -> None:
        topic = record.get("topic")
        state = record.get("state")
        if not isinstance(topic, str) or topic in (SEAL_TOPIC, ADOPTION_TOPIC) or not isinstance(state, dict):
            return
        actor, role = state.get("actor"), state.get("role")
        key = (
            actor if actor.__class__ is str else str(actor or ""),
            role if role.__class__ is str else str(role or ""),
            topic,
            bool(state.get("seal")),
        )
        on = state.get("occurred_on")
        on = on.get("_data_") if on.__class__ is dict else on
        on = on if on.__class__ is str else None
        row = self._rows.get(key)
        if row is None:
            self._rows[key] = [1, on, on]
            return
        row[0] += 1
        if on is not None:
            if row[1] is None or on < row[1]:
                row[1] = on
            if row[2] is None or on > row[2]:
                row[2] = on

    def rows(self) -> list[list[Any]]:
        merged: dict[tuple[str, str, str, str], list[Any]] = {}
        for (actor, role, topic, sealed), (count, first, last) in self._rows.items():
            key = (str(actor or ""), str(role or ""), _kind(topic), SIGNED if sealed else ADOPTED)
            days = [d for d in (_date(first), _date(last)) if d is not None]
            row = merged.setdefault(key, [0, None, None])
            row[0] += count
            for day in days:
                row[1] = day if row[1] is None or day < row[1] else row[1]
                row[2] = day if row[2] is None or day > row[2] else row[2]
        return [
            [_text(person), _text(role), kind, signed, count, first, last]
            for (person, role, kind, signed), (count, first, last) in sorted(merged.items())
        ]


def is_registry(record: dict[str, Any]) -> bool:
    return record.get("originator_id") == _REGISTRY


def registry_row(index: int, record: dict[str, Any]) -> list[Any]:
    """One change to the people registry, as the workbook shows it."""
    state = record.get("state")
    state = state if isinstance(state, dict) else {}
    raw = state.get("public_key")
    try:
        key = key_fingerprint(bytes.fromhex(raw)) if isinstance(raw, str) else None
    except ValueError:
        key = None
    on: date | None = state_date(state.get("occurred_on"))
    return [
        index,
        on,
        _kind(str(record.get("topic"))),
        _text(state.get("person")),
        _text(state.get("person_role")),
        key,
        _text(state.get("actor")),
    ]
