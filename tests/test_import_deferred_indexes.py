"""A large import or rebuild on SQLite appends the rows of its per-event tables without their
indexes and makes the indexes again before it commits (projections.bulk.indexes_dropped): the
ledger after it has the same indexes, used by the same queries, and a refused import or rebuild
leaves them as they were."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ledger.location import sqlite_file
from tests.conftest import Ledger, approved_district_grant
from tests.importdata import HEADER

_INDEXES = (
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
    "AND tbl_name IN ('history_acts', 'balance_movements') ORDER BY name"
)
_EXPECTED = {"balance_movements_base", "balance_movements_grant", "history_acts_grant", "history_acts_kind"}


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _query(ledger: Ledger, sql: str) -> list[tuple[Any, ...]]:
    file = sqlite_file(ledger.url)
    assert file is not None
    with sqlite3.connect(file) as conn:
        return conn.execute(sql).fetchall()


def _spends(tmp_path: Path, first: int, count: int, extra: str = "") -> Path:
    spend = "2024-06-01,U1,B0001,G1,district_base,spend,1.00,subsidy,materials,,V-{},,"
    rows = [HEADER, *(spend.format(n) for n in range(first, first + count))]
    path = tmp_path / f"spends-{first}-{count}.csv"
    path.write_text("\n".join([*rows, *([extra] if extra else [])]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def dropped(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The names of the indexes each import dropped (the real function, watched)."""
    import projections.bulk

    calls: list[list[str]] = []
    real = projections.bulk.indexes_dropped

    def watched(conn: Any, tables: Any) -> Any:
        indexes = real(conn, tables)
        calls.append(sorted(str(i.name) for i in indexes))
        return indexes

    monkeypatch.setattr(projections.bulk, "indexes_dropped", watched)
    monkeypatch.setattr(projections.bulk, "DEFER_INDEXES_FROM", 40)
    return calls


def _funded(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")


def _sixty_spent(ledger: Ledger, tmp_path: Path) -> None:
    """A funded grant, then sixty spends of 1.00 imported (its indexes made again once)."""
    _funded(ledger)
    ledger.ok("import", str(_spends(tmp_path, 0, 60)))


def test_a_large_import_makes_the_same_indexes_again(
    ledger: Ledger, tmp_path: Path, dropped: list[list[str]]
) -> None:
    _funded(ledger)
    before = _query(ledger, _INDEXES)
    assert {name for name, _ in before} == _EXPECTED
    ledger.ok("import", str(_spends(tmp_path, 0, 60)))
    assert dropped == [sorted(_EXPECTED)]
    assert _query(ledger, _INDEXES) == before
    plan = _query(
        ledger,
        "EXPLAIN QUERY PLAN SELECT * FROM history_acts WHERE aggregate_id = 'x' ORDER BY notification_id",
    )
    assert "history_acts_grant" in " ".join(str(step[-1]) for step in plan)
    assert '"subsidy_available": "99940.00"' in ledger.ok("balance", "B0001", "--format", "json").stdout
    assert len(ledger.ok("history", "G1").stdout.splitlines()) > 60
    ledger.ok("projections", "verify")


def test_a_refused_large_import_leaves_the_indexes(
    ledger: Ledger, tmp_path: Path, dropped: list[list[str]]
) -> None:
    _funded(ledger)
    before = _query(ledger, _INDEXES)
    rows = _query(ledger, "SELECT count(*) FROM history_acts")
    overspend = "2024-06-02,U1,B0001,G1,district_base,spend,200000.00,subsidy,materials,,V-BIG,,"
    # batches of ten rows: six are written, and the indexes dropped at the first, before the
    # last row is refused
    result = ledger("import", "--batch", "10", str(_spends(tmp_path, 0, 60, overspend)))
    assert result.exit_code != 0
    assert "nothing was imported" in result.stderr
    assert dropped == [sorted(_EXPECTED)]  # dropped in the import's transaction, then rolled back
    assert _query(ledger, _INDEXES) == before
    assert _query(ledger, "SELECT count(*) FROM history_acts") == rows
    assert '"subsidy_available": "100000.00"' in ledger.ok("balance", "B0001", "--format", "json").stdout


def test_a_file_smaller_than_the_ledger_keeps_them(
    ledger: Ledger, tmp_path: Path, dropped: list[list[str]]
) -> None:
    _sixty_spent(ledger, tmp_path)
    ledger.ok("import", str(_spends(tmp_path, 60, 45)))  # 45 rows into a ledger of more events
    ledger.ok("import", str(_spends(tmp_path, 105, 20)))  # fewer rows than the threshold
    assert dropped == [sorted(_EXPECTED)]
    assert {name for name, _ in _query(ledger, _INDEXES)} == _EXPECTED
    assert '"subsidy_available": "99875.00"' in ledger.ok("balance", "B0001", "--format", "json").stdout


def test_a_large_rebuild_makes_the_same_indexes_again(
    ledger: Ledger, tmp_path: Path, dropped: list[list[str]]
) -> None:
    _sixty_spent(ledger, tmp_path)
    before = _query(ledger, _INDEXES)
    acts = _query(ledger, "SELECT * FROM history_acts ORDER BY notification_id")
    ledger.ok("projections", "rebuild")
    assert dropped == [sorted(_EXPECTED)] * 2  # the import's, then the rebuild's
    assert _query(ledger, _INDEXES) == before
    assert _query(ledger, "SELECT * FROM history_acts ORDER BY notification_id") == acts
    assert '"subsidy_available": "99940.00"' in ledger.ok("balance", "B0001", "--format", "json").stdout
    ledger.ok("projections", "verify")


def test_a_refused_large_rebuild_leaves_the_indexes_and_rows(
    ledger: Ledger, tmp_path: Path, dropped: list[list[str]]
) -> None:
    """An event inserted below the application: the rebuild checking seals refuses it (exit 6)
    after it dropped the indexes; its rollback brings them back, with the rows."""
    from tests.test_people import _forge_copy_of_an_expenditure

    _sixty_spent(ledger, tmp_path)
    before = _query(ledger, _INDEXES)
    acts = _query(ledger, "SELECT count(*) FROM history_acts")
    _forge_copy_of_an_expenditure(ledger.url, "5000000.00")
    result = ledger("projections", "rebuild")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert len(dropped) == 2
    assert _query(ledger, _INDEXES) == before
    assert _query(ledger, "SELECT count(*) FROM history_acts") == acts


def test_indexes_made_again_with_the_sorters_threads_leave_the_connection_as_it_was(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page cache and the sorter's threads are set only while the indexes are made, and put
    back: a connection of the pool goes on as it came."""
    from sqlalchemy import Index, create_engine

    from projections.bulk import SORT_THREADS, indexes_dropped, made_again
    from projections.schema import history_acts, movements

    _funded(ledger)
    before = _query(ledger, _INDEXES)
    seen: list[int] = []
    create = Index.create

    def watched(index: Index, bind: Any, **kw: Any) -> None:
        seen.append(int(bind.exec_driver_sql("PRAGMA threads").scalar()))
        create(index, bind, **kw)

    monkeypatch.setattr(Index, "create", watched)
    engine = create_engine(ledger.url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA cache_size = -1234")
            conn.exec_driver_sql("PRAGMA threads = 0")
            dropped = indexes_dropped(conn, [movements, history_acts])
            assert len(dropped) == 4
            made_again(conn, dropped)
            assert seen == [SORT_THREADS] * 4
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -1234
            assert conn.exec_driver_sql("PRAGMA threads").scalar() == 0
    finally:
        engine.dispose()
    assert _query(ledger, _INDEXES) == before
