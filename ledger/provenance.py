"""Who signed each event of a grant, checked against the store now, and the files it names.

``history --signatures`` and the web's grant page read this beside the history: each line's
signer and key when its seal verifies, or the problem (an event changed below the application
after the projections were built shows here, where the projections would not), and the sha256 of
every file the event records (a spend's attachments, a dossier document).
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.grant import grant_uuid
from ledger.trust import Trust


@dataclass(frozen=True)
class Provenance:
    event_id: int
    signer: str
    key: str
    problem: str | None  # None: the signature verifies (or the event is older than the adoption)
    adopted: bool
    files: tuple[str, ...]


def _files(state: dict[str, object]) -> tuple[str, ...]:
    attachments = state.get("attachments")
    found = [str(a) for a in attachments] if isinstance(attachments, list) else []
    if isinstance(state.get("sha256"), str):
        found.append(str(state["sha256"]))
    return tuple(found)


def provenance(trust: Trust, grant_id: str, within: tuple[int, int] | None = None) -> dict[int, Provenance]:
    """The grant's stored events by notification id (those ``within`` the ids given, both
    included), each with its seal checked and its files."""
    return {
        row.id: Provenance(
            row.id, sealing.signer, sealing.key, sealing.problem, sealing.adopted, _files(row.state)
        )
        for row, sealing in trust.events_of(grant_uuid(grant_id), within)
    }
