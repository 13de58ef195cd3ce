"""Signing in the tests that drive the application directly, below the command line, or run the
command line in subprocesses: every stored event is sealed by a registered person's key, as
the command line seals it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ledger.application import GrantLedger
from ledger.seal import Signer, generate_key, load_signer
from tests.conftest import KEYRING, Ledger, key_folder, person_name

_KEY_DIRS: dict[str, Path] = {}


def signer(ledger: Ledger, role: str = "officer", actor: str = "tester") -> Signer:
    """The key of ``actor`` in ``role``, registered in ``ledger`` (tests.conftest.Ledger.key)."""
    return load_signer(ledger.key(role, actor))


def save_sealed(
    app: GrantLedger, ledger: Ledger | str, *aggregates: Any, actor: str = "tester", role: str = "officer"
) -> None:
    """Save aggregates' pending events as a write does: named for and sealed by the person
    ``actor`` in ``role``, with the seal, in one transaction. Used to store history an earlier
    version of the rules allowed, which today's commands refuse."""
    changed = [a for a in aggregates if a.pending_events]
    name = person_name(actor, role)
    for aggregate in changed:
        for event in aggregate.pending_events:
            object.__setattr__(event, "actor", name)
    by = signer(ledger, role, actor) if isinstance(ledger, Ledger) else url_signer(ledger, role, actor)
    app.save(*changed, app.seal(changed, by, name))


def key_dir(url: str) -> Path:
    from ledger.location import sqlite_file

    file = sqlite_file(url)
    if file is not None:
        found = Path(file).with_name(Path(file).stem + "-keys")
        found.mkdir(parents=True, exist_ok=True)
        return found
    if url not in _KEY_DIRS:
        _KEY_DIRS[url] = key_folder()
    return _KEY_DIRS[url]


def url_key(url: str, role: str = "officer", actor: str = "tester") -> Path:
    """The key file of ``actor`` in ``role`` in the ledger at ``url``: the registry is founded
    (administrator ``admin``) if the ledger has none, and the person registered if needed."""
    from ledger.people import RegisterPerson

    name = person_name(actor, role)
    app = GrantLedger(url)
    try:
        registry = app.trust.registry(fresh=True)
        folder = key_dir(url)
        if registry.root is None:
            admin_path = folder / "admin.key"
            if not admin_path.exists():
                generate_key(admin_path)
            app.found_registry(load_signer(admin_path), "admin")
            registry = app.trust.registry(fresh=True)
            assert registry.root_fingerprint is not None
            KEYRING.setdefault(registry.root_fingerprint, {})["admin"] = admin_path
        assert registry.root_fingerprint is not None
        ring = KEYRING.setdefault(registry.root_fingerprint, {})
        path = ring.get(name)
        if path is not None and not path.exists():  # made in a copy whose folder is gone since
            path = None
        known = registry.people.get(name)
        if path is not None and known is not None and known.active:
            return path
        if path is None:
            path = folder / f"{len(ring)}-{role}.key"
            generate_key(path)
            ring[name] = path
        key = load_signer(path).public_raw.hex()
        app.handle(
            RegisterPerson(person=name, person_role=role, public_key=key), signer=load_signer(ring["admin"])
        )
        return path
    finally:
        app.close()


def url_signer(url: str, role: str = "officer", actor: str = "tester") -> Signer:
    return load_signer(url_key(url, role, actor))
