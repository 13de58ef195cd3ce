"""A key is one person's, ever (found by a red-team pass): an officer revoked, and their key then
registered to another name as an approver, recorded an application and approved it, and
`audit verify` said "separation of duties held", duties being compared by name. `people add`
refuses it now, and the registry both the ledger and the auditor's verifier replay refuses it in a
bundle's history too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.signing import generate_keypair, load_private_key
from audit.verifier.people import FOUNDED, REGISTERED, REVOKED, Registry, RegistryError
from tests.conftest import Ledger, person_name


def test_people_add_refuses_a_key_a_revoked_person_held(sqlite_ledger: Ledger) -> None:
    key = sqlite_ledger.key("officer")
    name = person_name("tester", "officer")
    sqlite_ledger.ok("people", "revoke", name, "--date", "2024-06-01", role="admin")
    before = sqlite_ledger.event_count()

    result = sqlite_ledger(
        "people", "add", "li2", "--role", "approver", "--public-key", str(key.with_suffix(".pub")),
        "--date", "2024-06-01", role="admin",
    )  # fmt: skip

    assert result.exit_code == 3, result.output
    assert f"that key is already {name}'s" in result.stderr
    assert sqlite_ledger.event_count() == before


def _state(person: str, role: str | None = None, key: bytes | None = None, on: str = "2024-01-01") -> Any:
    state: dict[str, Any] = {"person": person, "occurred_on": {"_type_": "date_iso", "_data_": on}}
    if role is not None:
        state["person_role"] = role
    if key is not None:
        state["public_key"] = key.hex()
    return state


def test_the_registry_replayed_refuses_a_key_registered_to_a_second_name(tmp_path: Path) -> None:
    keys = {}
    for who in ("root", "li"):
        private, _public = generate_keypair(tmp_path / who, who)
        keys[who] = load_private_key(private).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    registry = Registry()
    registry.apply(FOUNDED, _state("root", "admin", keys["root"]), "root")
    registry.apply(REGISTERED, _state("li", "officer", keys["li"]), "root")
    registry.apply(REVOKED, _state("li", on="2024-06-01"), "root")
    with pytest.raises(RegistryError, match="that key is already li's"):
        registry.apply(REGISTERED, _state("li2", "approver", keys["li"], "2024-06-01"), "root")
    registry.apply(REGISTERED, _state("li", "approver", keys["li"], "2024-06-01"), "root")  # li again: theirs
