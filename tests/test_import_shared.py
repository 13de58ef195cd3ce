"""The grants an import holds share one copy of each equal text, amount and date
(``ledger.import_index.shared``): a checking process holds thousands of grants, and each decoded
grant had its own copy of every value. Sharing changes no grant's state: what its snapshot
stores, and what every row decides, is the same."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from bench.generate import HEADER, rows
from ledger.application import open_ledger
from ledger.grant import Grant, grant_uuid
from ledger.import_index import GrantIndex, shared
from tests.conftest import Ledger
from tests.importdata import write_any

KIND = 5


def _imported(ledger: Ledger, folder: Path) -> None:
    """Two grants, each with a year of money acts (snapshots written at the import's end)."""
    every = list(rows(300, 11, 2, "date"))
    for name, role, chosen in (
        ("approvals.csv", "approver", [r for r in every if r[KIND] == "approve"]),
        ("money.csv", "officer", [r for r in every if r[KIND] != "approve"]),
    ):
        path = folder / name
        write_any(path, cast(list[list[object]], [HEADER, *chosen]))
        ledger.ok("import", "--jobs", "1", str(path), role=role)


def _state(app: Any, grant: Grant) -> Any:
    """The grant's state as its snapshot stores it (without when the snapshot was taken)."""
    snapshot = getattr(Grant, "Snapshot", app.snapshot_class).take(grant)
    return json.loads(app.mapper.to_stored_event(snapshot).state)["state"]


def _values(grant: Grant) -> list[Any]:
    """Every date text, amount and date the grant holds, outside its index."""
    found: list[Any] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        else:
            found.append(value)

    for value in vars(grant).values():
        walk(value)
    return found


def test_held_grants_share_their_values_and_keep_their_state(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    _imported(sqlite_ledger, tmp_path)
    app = open_ledger(sqlite_ledger.url)
    first, second = (app.repository.get(grant_uuid(g)) for g in ("G0001", "G0002"))
    assert first.dates is not None and second.dates is not None
    before = [_state(app, g) for g in (first, second)]

    index = GrantIndex(held=100)
    for grant in (first, second):
        index.keep(grant)  # the import's first sight of a grant: its values shared from then on
    taken = [index.taken(g, lambda g: _state(app, g)) for g in (first, second)]
    assert taken == before  # the same state, value for value as stored

    # equal values are one object, whichever grant holds them
    days = [set(first.dates[s]) & set(second.dates[s]) for s in ("subsidy", "matching")]
    common = {d for found in days for d in found}
    assert common, "the two grants moved money on some same date"
    ones = {id(d) for d in _values(first) if isinstance(d, str) and d in common}
    others = {id(d) for d in _values(second) if isinstance(d, str) and d in common}
    assert ones & others
    zero_first = [v for v in _values(first) if isinstance(v, Decimal) and str(v) == "0.00"]
    zero_second = [v for v in _values(second) if isinstance(v, Decimal) and str(v) == "0.00"]
    assert zero_first and zero_second and {id(v) for v in zero_first} == {id(v) for v in zero_second}
    assert first.programme is second.programme

    # parked (pickled) and read back, a grant holds copies again until shared once more
    index.park([("g/G0001", first)])
    back = index.unpark("g/G0001")
    assert back is not first
    assert back.programme is second.programme
    assert index.taken(back, lambda g: _state(app, g)) == before[0]
    index.close()


def test_amounts_of_other_exponents_stay_apart() -> None:
    """1.0 and 1.00 are equal but print apart: sharing goes by the amount's text."""

    class Held:
        pass

    one, two = Held(), Held()
    vars(one).update(paid={"subsidy": Decimal("1.0")}, due=[Decimal("1.00")])
    vars(two).update(paid={"subsidy": Decimal("1.00")}, due=[Decimal("1.0")])
    shared(cast(Grant, one))
    shared(cast(Grant, two))
    assert str(vars(one)["paid"]["subsidy"]) == "1.0" and str(vars(one)["due"][0]) == "1.00"
    assert str(vars(two)["paid"]["subsidy"]) == "1.00" and str(vars(two)["due"][0]) == "1.0"
    assert vars(one)["paid"]["subsidy"] is vars(two)["due"][0]
    assert vars(one)["due"][0] is vars(two)["paid"]["subsidy"]


def test_aggregates_parked_at_once_are_written_a_few_megabytes_at_a_time() -> None:
    """A checking process past its memory ceiling parks a fifth of the grants it holds at once:
    each is pickled and written ``PARKED_BYTES`` at a time, not all pickled before any is
    written (ten million rows over 200,000 bases: 263 to 279 MB in a second). Here 3,000 of
    about 8 KB each: 25 MB more held while parking before, under 5 MB now; each reads back."""
    import tracemalloc

    from ledger import import_index

    aggregates = [
        (f"g/G{n:05d}", {"id": n, "entries": [f"{n}-{k:06d}" for k in range(600)]}) for n in range(3_000)
    ]
    index = GrantIndex(held=100)
    index.park(aggregates[:1])  # its database made before the count
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        index.park(aggregates)
        grown = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert grown < 2 * import_index.PARKED_BYTES + 1_000_000, grown
    assert [index.unpark(key) for key, _ in aggregates[::499]] == [state for _, state in aggregates[::499]]
    index.close()
