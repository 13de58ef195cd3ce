"""``balance`` on an up-to-date SQLite ledger reads the read model through the stdlib driver:
the same answers as the SQLAlchemy path, the ordinary path whenever a projection is behind,
and no SQLAlchemy loaded for it."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from ledger.actions import Spend
from tests.conftest import Ledger, approved_district_grant
from tests.importdata import HEADER, write_file
from tests.loaded import loaded_by
from tests.signing import signer


def _path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _ordinary(url: str, base_ids: tuple[str, ...] = ()) -> list[object]:
    from projections.queries import balances

    engine = create_engine(url)
    try:
        return list(balances(engine, base_ids))
    finally:
        engine.dispose()


def test_names_are_the_read_models_own() -> None:
    from commands.registry import projection_names
    from projections import quick, schema

    assert quick.GRANTS_TABLE == schema.grants.name
    assert quick.TRACKING_TABLE == schema.TRACKING_TABLE
    assert quick.MEASURES == schema.MEASURES
    assert set(quick.LABELS) <= set(schema.grants.c.keys())
    assert quick.PROJECTIONS == projection_names()
    # the quick path builds each Balance from its row's columns in this order

    assert quick.Balance._fields == (*quick.LABELS, *quick.MEASURES, "district")


def test_same_balances_as_the_ordinary_path(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    from projections.quick import current_balances

    path = tmp_path / "books.csv"
    write_file(path, 1500, grants=7)
    sqlite_ledger.import_ok(path)
    sqlite_ledger.ok(
        "spend",
        "G0001",
        "--amount",
        "100.00",
        "--category",
        "materials",
        "--source",
        "subsidy",
        "--voucher",
        "Q-1",
        "--date",
        "2024-06-01",
    )
    everything = current_balances(sqlite_ledger.url)
    assert everything is not None and len(everything) >= 7
    assert everything == _ordinary(sqlite_ledger.url)
    some = tuple(sorted({b.base_id for b in everything})[:2])
    assert current_balances(sqlite_ledger.url, some) == _ordinary(sqlite_ledger.url, some)
    assert current_balances(sqlite_ledger.url, ("NO-SUCH-BASE",)) == []


def test_a_projection_behind_sends_balance_the_ordinary_way(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    from ledger.application import GrantLedger
    from projections.quick import current_balances

    path = tmp_path / "books.csv"
    write_file(path, 300, grants=3)
    sqlite_ledger.import_ok(path)
    before = sqlite_ledger.balances()
    grant = "G0001"
    app = GrantLedger(sqlite_ledger.url)  # the write side alone: the projections stay behind
    try:
        app.handle(
            Spend(
                grant_id=grant,
                amount=Decimal("12.34"),
                category="materials",
                source="matching",
                voucher="Q-behind",
                on=date(2024, 12, 1),
            ),
            signer=signer(sqlite_ledger),
        )
    finally:
        app.close()
    assert current_balances(sqlite_ledger.url) is None
    after = sqlite_ledger.balances()  # caught up, then answered
    base = next(b for b, row in before.items() if row["grant_id"] == grant)
    assert Decimal(after[base]["matching_spent"]) == Decimal(before[base]["matching_spent"]) + Decimal(
        "12.34"
    )
    assert current_balances(sqlite_ledger.url) is not None


def test_no_quick_answer_where_it_cannot_tell(tmp_path: Path) -> None:
    from projections.quick import current_balances

    assert current_balances(f"sqlite:///{tmp_path / 'missing.db'}") is None
    assert not (tmp_path / "missing.db").exists()  # never creates the file
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert current_balances(f"sqlite:///{empty}") is None
    assert current_balances("postgresql+psycopg://u:p@localhost/x") is None


def test_balance_loads_no_sqlalchemy(demo_sqlite_ledger: Ledger) -> None:
    sqlite_ledger = demo_sqlite_ledger
    done = loaded_by(
        ["--db", sqlite_ledger.url, "balance", "--format", "json"], ["sqlalchemy", "eventsourcing"]
    )
    assert done.code == 0, done
    assert done.modules == {"sqlalchemy": False, "eventsourcing": False}
    shown = {row["grant_id"]: row["subsidy_available"] for row in json.loads(done.stdout)}
    assert shown == {g: row["subsidy_available"] for g, row in _by_grant(sqlite_ledger).items()}


def test_the_balance_table_names_each_programme_as_the_policy_does_without_loading_the_policy(
    demo_sqlite_ledger: Ledger,
) -> None:
    from ledger.policy import current_policy

    rows = json.loads(demo_sqlite_ledger.ok("balance", "--format", "json").stdout)
    programmes = {row["grant_id"]: row["programme"] for row in rows}
    assert len(set(programmes.values())) >= 2  # the demo's district base and municipal base
    for lang in ("zh", "en"):
        done = loaded_by(
            ["--db", demo_sqlite_ledger.url, "--lang", lang, "balance", "--format", "csv"],
            ["ledger.policy", "sqlalchemy"],
        )
        assert done.code == 0, done
        assert done.modules == {"ledger.policy": False, "sqlalchemy": False}
        shown = {row[1]: row[3] for row in (line.split(",") for line in done.stdout.splitlines()[1:])}
        for grant, code in programmes.items():
            named = current_policy().find_programme(code)
            assert named is not None and shown[grant] == (named.zh if lang == "zh" else named.en)


def test_the_shipped_programme_names_are_the_policy_s() -> None:
    """The reading commands' names-only look at the shipped policy files and the policy itself
    agree on every programme, in both languages."""
    from ledger.labels import _shipped_programmes
    from ledger.policy import current_policy

    names = _shipped_programmes()
    policy = current_policy()
    assert names.keys() == policy.programmes.keys() and len(names) >= 4
    for code, programme in policy.programmes.items():
        assert (names[code].zh, names[code].en) == (programme.zh, programme.en)


def test_the_programme_names_module_is_the_shipped_files_as_they_are() -> None:
    """``ledger.programme_names`` is written from the policy files; edited by hand or left behind
    by a change to a file, it is not what ``python -m ledger.policy_files`` writes from them."""
    from ledger.policy_files import NAMES_MODULE, names_module

    assert NAMES_MODULE.read_text("utf-8") == names_module(), "run `python -m ledger.policy_files`"


def _by_grant(ledger: Ledger) -> dict[str, dict[str, str]]:
    result = ledger.ok("balance", "--as-of", "2999-12-31", "--format", "json")  # the movements path
    return {row["grant_id"]: row for row in json.loads(result.stdout)}


def test_a_relative_sqlite_url_or_path_answers_like_an_absolute_one(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--db sqlite:///../ledger.db``, ``--db ../ledger.db``: the stdlib path needs an absolute
    file URI; a relative URL was an internal error."""
    from projections.quick import current_balances

    path = tmp_path / "books.csv"
    write_file(path, 200, grants=3)
    sqlite_ledger.import_ok(path)
    expected = sqlite_ledger.ok("balance", "--format", "json").stdout
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    relative = f"../{Path(_path(sqlite_ledger.url)).relative_to(tmp_path)}"
    for db in (f"sqlite:///{relative}", relative):
        again = Ledger(db, sqlite_ledger.runner).ok("balance", "--format", "json").stdout
        assert json.loads(again) == json.loads(expected)
    assert current_balances(f"sqlite:///{relative}") == current_balances(sqlite_ledger.url)


def test_every_balance_as_json_is_what_the_ordinary_path_prints(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """`balance --format json` of every base lays its records out itself (commands.balance
    ``_current_json``): byte for byte what the Balance path prints when asked for every column by
    name, to the terminal and to a file; over a recovery, a disposal, a reversal and a district,
    a grant that has received nothing (no execution rate) and a base name with quotes, % and a
    backslash."""
    from commands.balance import KEYS
    from tests.test_one_reading import _books

    _books(sqlite_ledger)  # G1: recovered, disposed of, a spend reversed
    sqlite_ledger.ok("unit", "set-district", "U1", "--district", "渝中区", "--date", "2024-02-02")
    odd = 'a "%s" \\ 50% 基地'
    approved_district_grant(sqlite_ledger, "G2", "B0002", "U2", "--base-name", odd)
    path = tmp_path / "books.csv"
    write_file(path, 400, grants=3, first=10)  # B0001 and B0002 are U1's and U2's
    sqlite_ledger.import_ok(path)
    quick = sqlite_ledger.ok("balance", "--format", "json").stdout
    ordinary = sqlite_ledger.ok("balance", "--format", "json", "--columns", ",".join(KEYS)).stdout
    assert quick == ordinary
    records = {r["grant_id"]: r for r in json.loads(quick)}
    assert records["G1"]["district"] == "500103" and records["G1"]["subsidy_recovered"] == "5000.00"
    assert records["G2"]["base_name"] == odd and records["G2"]["execution_rate"] is None
    assert len(records) == 5
    written = tmp_path / "balances.json"
    sqlite_ledger.ok("balance", "--format", "json", "--output", str(written))
    assert written.read_text(encoding="utf-8") == quick


def test_every_balance_as_json_on_an_empty_ledger_is_an_empty_list(sqlite_ledger: Ledger) -> None:
    assert sqlite_ledger.ok("balance", "--format", "json").stdout == "[]\n"


def _parts(monkeypatch: pytest.MonkeyPatch, parts: int) -> list[list[str] | None]:
    """Lay every balance out in ``parts`` processes whatever the size; what each split laid out
    (``projections.quick._laid_in_parts``: its texts, None when given back to one process), in a
    list that grows as they come."""
    from projections import quick

    laid_in_parts = quick._laid_in_parts
    laid: list[list[str] | None] = []

    def recorded(path: Path, head: int, starts: list[str], lay: Any) -> list[str] | None:
        laid.append(laid_in_parts(path, head, starts, lay))
        return laid[-1]

    monkeypatch.setattr(quick, "parts_for", lambda grants: parts)
    monkeypatch.setattr(quick, "_laid_in_parts", recorded)
    return laid


def _every_balance(ledger: Ledger) -> str:
    return ledger.ok("balance", "--format", "json").stdout


def test_every_balance_as_json_laid_out_by_several_processes_is_the_same(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large read model is laid out by a process per core, each over a range of bases, a
    chunk at a time: byte for byte what one process prints, whatever the number of processes
    (more than the bases included) and the chunks, and no process left behind."""
    import multiprocessing

    from projections import quick

    path = tmp_path / "books.csv"
    write_file(path, 700, grants=7)
    sqlite_ledger.import_ok(path)
    # a base with two grants: its unit's municipal base on it too, approved elsewhere
    approvals = tmp_path / "approvals.csv"
    approvals.write_text(
        f"{HEADER}\n2024-04-01,U0001,B0001,G0001-b,municipal_base_funded,approve,500000,,,,渝人社〔2024〕99号,,\n",
        encoding="utf-8",
    )
    sqlite_ledger.ok("import", str(approvals), role="approver")
    one = _every_balance(sqlite_ledger)
    assert len(json.loads(one)) == 8
    # processes, rows a chunk, chunks laid: a range's grants in one chunk; one a grant; 7 ranges
    # at most (7 bases), of two grants at most (B0001's two)
    for parts, chunk, chunks in ((2, 10_000, 2), (3, 1, 8), (9, 2, 7)):
        monkeypatch.setattr(quick, "CHUNK", chunk)
        laid = _parts(monkeypatch, parts)
        assert _every_balance(sqlite_ledger) == one
        assert len(laid) == 1 and laid[0] is not None  # not given back to one process
        assert len(laid[0]) == chunks
        assert not multiprocessing.active_children()


def test_a_large_read_model_is_laid_out_by_a_process_per_core() -> None:
    import os

    from projections.quick import MOST_PARTS, SPLIT_FROM, parts_for

    assert parts_for(SPLIT_FROM - 1) == 1
    assert parts_for(SPLIT_FROM) == min(MOST_PARTS, len(os.sched_getaffinity(0)))


def test_a_write_between_the_processes_snapshots_is_laid_out_by_one(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each process reads in a snapshot of its own; a spend committed after the ranges were split
    moves the head, so no process lays out a range of another state than the others': one
    process lays out all, and the spend is in the answer."""
    from projections import quick

    path = tmp_path / "books.csv"
    write_file(path, 400, grants=4)
    sqlite_ledger.import_ok(path)
    before = {r["grant_id"]: r for r in json.loads(_every_balance(sqlite_ledger))}
    laid = _parts(monkeypatch, 2)
    split = quick._split

    def then_a_spend(where: Path) -> tuple[int, list[str]] | None:
        found = split(where)
        spend = ["--amount", "7.00", "--category", "materials", "--source", "subsidy"]
        sqlite_ledger.ok("spend", "G0003", *spend, "--voucher", "Q-between", "--date", "2024-06-01")
        return found

    monkeypatch.setattr(quick, "_split", then_a_spend)
    after = json.loads(_every_balance(sqlite_ledger))
    assert laid == [None]  # split at the old head: given back
    spent = {r["grant_id"]: Decimal(r["subsidy_spent"]) for r in after}
    assert spent["G0003"] == Decimal(before["G0003"]["subsidy_spent"]) + 7
    monkeypatch.setattr(quick, "_split", split)
    assert json.loads(_every_balance(sqlite_ledger)) == after
    assert laid[-1] is not None  # at one head again, laid out in parts: the same answer


def test_a_process_killed_while_laying_out_gives_the_work_back(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that ends without its result (killed: the out-of-memory killer, a signal)
    costs the speed, not the answer."""
    import os

    from projections import quick

    path = tmp_path / "books.csv"
    write_file(path, 300, grants=3)
    sqlite_ledger.import_ok(path)
    one = _every_balance(sqlite_ledger)
    laid = _parts(monkeypatch, 2)
    lay_part = quick._lay_part

    def killed(path: Path, head: int, low: str | None, high: str | None, lay: Any, send: Any) -> None:
        if low is not None:
            os._exit(9)
        lay_part(path, head, low, high, lay, send)

    monkeypatch.setattr(quick, "_lay_part", killed)
    assert _every_balance(sqlite_ledger) == one
    assert laid == [None]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=-(10**13), max_value=10**13), min_size=9, max_size=9))
def test_the_derived_figures_in_fen_are_the_balances_own(amounts: list[int]) -> None:
    """The quick JSON's available figures and execution rate (``derived_fen``, from fen) are the
    ``Balance`` properties' (from yuan), whatever the signs."""
    from ledger.money import from_fen
    from projections.figures import MEASURES, Balance, derived_fen

    assert len(MEASURES) == len(amounts)
    balance = Balance("B", "G", "name", "district_base", "approved", *map(from_fen, amounts))
    subsidy, matching, rate = derived_fen(amounts)
    assert (from_fen(subsidy), from_fen(matching), rate) == (
        balance.subsidy_available,
        balance.matching_available,
        balance.execution_rate,
    )


@settings(max_examples=400, deadline=None)
@given(
    st.integers(min_value=-(10**13), max_value=10**13),
    st.integers(min_value=-(10**13), max_value=10**13),
)
def test_the_percent_sqlite_works_out_is_the_ledger_s(part: int, whole: int) -> None:
    """``percent_sql``, which SQLite works out for the quick JSON's execution rate, is
    ``percent`` (half-up from the exact fraction) to the hundredth, whatever the signs."""
    from ledger.money import percent, percent_sql

    with sqlite3.connect(":memory:") as conn:
        query = f"SELECT {percent_sql(':part', ':whole')}"
        (got,) = conn.execute(query, {"part": part, "whole": whole}).fetchone()
    assert (None if whole == 0 else Decimal(got).scaleb(-2)) == (None if whole == 0 else percent(part, whole))


_LABEL = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_FEN = st.one_of(
    st.integers(min_value=-(10**13), max_value=10**13),  # within the bound SQLite lays out
    st.integers(min_value=-(10**18), max_value=10**18),  # beyond it: the row is laid out in Python
    st.sampled_from([0, 1, -1, 99, -100, 10**13, 10**13 + 1]),
)


# spent far past what was received: a rate of 33 trillion percent, which SQLite's 64 bits cannot hold
@example([(["名", "district_base", "approved"], [0, 3, 10**18 - 1, 0, 0, 0, 0, 0, 0], None)])
@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(_LABEL, min_size=3, max_size=3), st.lists(_FEN, min_size=9, max_size=9),
                  st.one_of(st.none(), _LABEL)),
        min_size=1,
        max_size=4,
    )
)  # fmt: skip
def test_sqlite_lays_out_every_balance_record_as_the_ordinary_path(
    grants: list[tuple[list[str], list[int], str | None]],
) -> None:
    """The records `balance --format json` has SQLite lay out (commands.balance ``json_laying``)
    are, byte for byte, what the ordinary path prints from ``Balance`` objects: base names with
    quotes, backslashes, % and control characters, any sign, a grant that has received nothing,
    a unit without a district, and figures past ``SQL_FEN_BOUND`` (laid out in Python)."""
    from commands.balance import FIELDS, KEYS, json_laying
    from commands.json_output import json_list, to_json
    from ledger.money import from_fen
    from projections import quick
    from projections.figures import MEASURES, Balance

    assert len(MEASURES) == 9
    engine = create_engine("sqlite://")
    from projections.schema import grants as grants_table
    from projections.schema import metadata

    units = metadata.tables[quick.UNITS_TABLE]
    metadata.create_all(engine, tables=[grants_table, units])
    expected = []
    with engine.begin() as conn:
        for n, ((name, programme, status), fen, district) in enumerate(grants):
            unit = f"U{n}"
            conn.execute(grants_table.insert().values(
                grant_id=f"G{n}", aggregate_id=f"a{n}", base_id=f"B{n}", unit_id=unit, base_name=name,
                programme=programme, status=status, applied_on=date(2024, 1, 1), recorded_at=date(2024, 1, 1),
                **dict(zip(MEASURES, fen, strict=True)),
            ))  # fmt: skip
            if district is not None:
                conn.execute(units.insert().values(unit_id=unit, district=district))
            b = Balance(f"B{n}", f"G{n}", name, programme, status, *map(from_fen, fen), district=district)
            expected.append({key: getattr(b, FIELDS[key]) for key in KEYS})
    laying = json_laying()
    texts: list[str] = []
    raw = engine.raw_connection()
    try:
        quick._rows(
            raw.driver_connection, lambda rows: texts.append(laying.lay(rows)), columns=laying.columns
        )
    finally:
        raw.close()
        engine.dispose()
    assert "".join(json_list(texts)) == to_json(expected)
