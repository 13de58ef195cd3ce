"""The import's writing process keeps the grants it touches in memory from batch to batch
(``commands.importer.HELD_GRANTS``): their balance and compliance rows are written when it holds
more, and at the end. Whatever it holds, the read models are those a replay of the events
writes (``projections verify``) and those written batch by batch, and a refused file leaves
nothing behind, even after it has written what it held midway."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from bench.generate import HEADER, rows
from tests.conftest import Ledger, copy_of, drop_pg_database
from tests.importdata import write_any

KIND, CATEGORY, VOUCHER = 5, 8, 10


def _write(path: Path, body: list[list[str]]) -> Path:
    write_any(path, cast(list[list[object]], [HEADER, *body]))
    return path


def _files(folder: Path) -> tuple[Path, Path, list[list[str]]]:
    """Approvals and 600 date-ordered money rows over 12 grants: every batch of 7 rows touches
    grants held since earlier batches."""
    every = list(rows(600, 11, 12, "date"))
    approvals = [r for r in every if r[KIND] == "approve"]
    money = [r for r in every if r[KIND] != "approve"]
    return _write(folder / "approvals.csv", approvals), _write(folder / "money.csv", money), money


@pytest.fixture
def twin(ledger: Ledger, tmp_path: Path) -> Iterator[Callable[[str], Ledger]]:
    """Copies of the test's new ledger, on its backend."""
    made: list[Ledger] = []

    def copy(name: str) -> Ledger:
        sqlite = ledger.url.startswith("sqlite")
        made.append(copy_of(ledger, f"sqlite:///{tmp_path / name}.db" if sqlite else None))
        return made[-1]

    yield copy
    for other in made:
        if not other.url.startswith("sqlite"):
            drop_pg_database(other.url)


def _read_models(ledger: Ledger) -> dict[str, object]:
    """What an officer and an auditor read: balances, findings, every money report."""
    seen: dict[str, object] = {"balance": ledger.balances()}
    for report in (["report", "findings"], ["report", "sources"], ["report", "categories"]):
        seen[" ".join(report)] = json.loads(ledger.ok(*report, "--format", "json").stdout)
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("held", [1, 25_000])
def test_what_the_import_holds_never_changes_what_it_writes(
    twin: Callable[[str], Ledger], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: int
) -> None:
    """The reference holds none (0: every batch's grants written at once); 1 writes what is held
    many times over the file; 25,000 writes it all at the end."""
    from commands import importer

    approvals, money, _ = _files(tmp_path)
    monkeypatch.setattr(importer, "HELD_GRANTS", 0)  # the reference holds nothing
    reference = twin("reference")
    reference.ok("import", str(approvals), role="approver")
    reference.ok("import", "--batch", "7", "--jobs", "1", str(money))

    monkeypatch.setattr(importer, "HELD_GRANTS", held)
    for jobs in ("1", "3"):
        other = twin(f"jobs{jobs}")
        other.ok("import", str(approvals), role="approver")
        other.ok("import", "--batch", "7", "--jobs", jobs, str(money))
        assert _read_models(other) == _read_models(reference), jobs
        verified = other("projections", "verify")
        assert verified.exit_code == 0, verified.stderr


def test_a_refused_file_leaves_nothing_of_what_was_held_or_written_midway(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held grants written mid-file (one held at a time), then a travel spend at the end: the
    import exits 3 naming its line, and the read models are those before it."""
    from commands import importer

    monkeypatch.setattr(importer, "HELD_GRANTS", 1)
    approvals, _, money = _files(tmp_path)
    ledger.ok("import", str(approvals), role="approver")
    before_events, before = ledger.event_count(), _read_models(ledger)
    travel = [*next(r for r in reversed(money) if r[KIND] == "spend")]
    travel[CATEGORY], travel[VOUCHER] = "travel", "TRAVEL-1"  # 差旅费: banned
    bad = [*money, travel]
    result = ledger("import", "--batch", "7", "--jobs", "1", str(_write(tmp_path / "bad.csv", bad)))
    assert result.exit_code == 3, result.output
    assert [line.split(":")[1] for line in result.stderr.splitlines() if line.startswith("bad.csv:")] == [
        str(len(bad) + 1)
    ]
    assert ledger.event_count() == before_events
    assert _read_models(ledger) == before
    assert ledger("projections", "verify").exit_code == 0


@pytest.mark.slow
def test_past_the_memory_ceiling_both_sides_hold_fewer_and_write_the_same(
    twin: Callable[[str], Ledger], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process past ``MEMORY_CEILING_MB`` holds a tenth fewer from then on: with the ceiling at
    0 MB (no floor, no growth asked), the one checking process parks grants it would have held, the writing
    process writes its held grants midway, and the read models are still the reference's."""
    from ledger import import_index, importing
    from projections.balances import BalanceProjection

    approvals, money, _ = _files(tmp_path)
    reference = twin("reference")
    reference.ok("import", str(approvals), role="approver")
    reference.ok("import", "--batch", "7", "--jobs", "1", str(money))
    assert importing.fewer_held(25_000) == 22_500 and importing.fewer_held(500) == 500

    parked: list[int] = []
    written: list[int] = []
    park, write_held = import_index.GrantIndex.park, BalanceProjection.write_held
    monkeypatch.setattr(importing, "MEMORY_CEILING_MB", 0)
    monkeypatch.setattr(importing, "HELD_FLOOR", 1)
    monkeypatch.setattr(importing, "REGROWTH_MB", -1.0)  # at every reading
    monkeypatch.setattr(importing, "RESIDENT_EVERY", 5)
    monkeypatch.setattr(
        import_index.GrantIndex,
        "park",
        lambda self, aggregates: (parked.append(len(aggregates)), park(self, aggregates)),
    )
    monkeypatch.setattr(
        BalanceProjection,
        "write_held",
        lambda self, session: (written.append(len(self._held)), write_held(self, session)),
    )
    other = twin("ceiling")
    other.ok("import", str(approvals), role="approver")
    parked.clear()
    written.clear()
    other.ok("import", "--batch", "7", "--jobs", "1", str(money))
    assert sum(parked) > 0  # 12 grants, 25,000 held otherwise: none parked
    assert len(written) > 1  # otherwise once, at the end
    assert _read_models(other) == _read_models(reference)
    verified = other("projections", "verify")
    assert verified.exit_code == 0, verified.stderr
    parts = twin("ceiling-parts")  # two checking processes, each parking past the ceiling too
    parts.ok("import", str(approvals), role="approver")
    in_parts = tmp_path / "parked-in-parts"  # written by the forked checking processes

    def park_noted(self: import_index.GrantIndex, aggregates: Any) -> Any:
        with in_parts.open("a") as noted:
            noted.write(f"{os.getpid()} {len(aggregates)}\n")
        return park(self, aggregates)

    monkeypatch.setattr(import_index.GrantIndex, "park", park_noted)
    parts.ok("import", "--batch", "7", "--jobs", "3", str(money))
    assert in_parts.exists(), "no checking process parked a grant past the ceiling"
    pids = {line.split()[0] for line in in_parts.read_text().splitlines()}
    assert pids and str(os.getpid()) not in pids
    assert _read_models(parts) == _read_models(reference)
