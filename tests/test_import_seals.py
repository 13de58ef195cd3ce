"""An import's checking loads each grant it meets from the ledger, and a loaded grant's events
are taken only when every one is covered by a seal whose signature verifies (ledger.trust). The
seals verified are remembered: one import's approvals over 20,000 bases are 19 seals of 5,000
leaves, and a file by date meets the grants at random among them. Remembering only what a
command does (ledger.trust.LEAVES_KEPT), a third of the grants read a forgotten seal again and
checked its signature, a fifth of each checking process's time at a million rows."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from bench.generate import HEADER, rows
from tests.conftest import Ledger, copy_of
from tests.importdata import write_any

KIND, GRANT = 5, 3


def _write(path: Path, body: list[list[str]]) -> Path:
    write_any(path, cast(list[list[object]], [HEADER, *body]))
    return path


def _verified_in_import(ledger: Ledger, folder: Path, monkeypatch: pytest.MonkeyPatch, kept: int) -> int:
    """Signatures checked while a money file by date, meeting the grants of two seals in turn
    (the first and third approved in one import, the second and fourth in another), is imported,
    with the seals
    ``kept`` (ledger.trust.LEAVES_KEPT, in leaves' characters) a command remembers."""
    from ledger import trust

    every = list(rows(200, 3, 4, "date"))
    money = [r for r in every if r[KIND] != "approve"]
    met = list(dict.fromkeys(r[GRANT] for r in money))  # the grants as the file meets them
    assert len(met) == 4
    approvals = [r for r in every if r[KIND] == "approve"]
    for turn in (0, 1):  # the first and third grants met in one seal, the second and fourth in another
        sealed = [r for r in approvals if met.index(r[GRANT]) % 2 == turn]
        ledger.ok("import", str(_write(folder / f"approvals-{turn}.csv", sealed)), role="approver")
    checked = 0
    verifies = trust.signature_verifies

    def counted(*args: object) -> bool:
        nonlocal checked
        checked += 1
        return verifies(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(trust, "LEAVES_KEPT", kept)
    monkeypatch.setattr(trust, "signature_verifies", counted)
    ledger.ok("import", str(_write(folder / "money.csv", money)))
    monkeypatch.undo()
    return checked


def test_an_import_checks_each_seal_of_the_grants_it_loads_once(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for no seal in a command's memory, the import still checks each seal's signature
    as often as with room for all: once per seal of the grants it loads, not once per grant."""
    roomy = copy_of(sqlite_ledger, f"sqlite:///{tmp_path / 'roomy.db'}")
    (tmp_path / "roomy").mkdir()
    (tmp_path / "none").mkdir()
    with_room = _verified_in_import(roomy, tmp_path / "roomy", monkeypatch, 64 << 20)
    without = _verified_in_import(sqlite_ledger, tmp_path / "none", monkeypatch, 1)
    assert with_room > 0
    assert without == with_room, (without, with_room)
    assert roomy.balances() == sqlite_ledger.balances()
