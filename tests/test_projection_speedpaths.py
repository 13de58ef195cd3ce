"""Projections fed in bulk: events applied in the writer's own transaction (``project_stored``),
live catch-up and rebuild all give the same rows, to the fen, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from ledger.actions import Spend
from projections.names import tracked
from tests.conftest import Ledger
from tests.reliability import funded_grant
from tests.signing import url_signer
from tests.test_encoding import _json_value

PROJECTION_TABLES = (
    "balance_grants",
    "balance_movements",
    "compliance_grants",
    "compliance_outputs",
    "compliance_rectifications",
    "compliance_events",
    "audit_leaves",
    "audit_tree",
    "ledger_tracking",
)


def all_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every projection table, in a stable order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: sorted((tuple(r) for r in conn.execute(text(f"SELECT * FROM {name}"))), key=repr)
                for name in PROJECTION_TABLES
            }
    finally:
        engine.dispose()


def _spend(app: Any, n: int, amount: str, on: date = date(2024, 6, 1), source: str = "subsidy") -> None:
    app.handle(
        Spend(
            grant_id="G1",
            amount=Decimal(amount),
            category="materials",
            source=source,
            voucher=f"V-{n:04d}",
            on=on,
        ),
        signer=url_signer(app.engine.url.render_as_string(hide_password=False)),
    )


def _notifications_after(app: Any, position: int) -> list[Any]:
    from projections.runner import read_notifications

    return read_notifications(app, position + 1, 10_000)


def test_project_stored_moves_every_projection_in_the_callers_transaction(db_url: str) -> None:
    from commands.registry import all_projections
    from ledger.application import GrantLedger
    from projections.queries import balances
    from projections.rebuild import rebuild
    from projections.runner import catch_up, project_stored
    from projections.status import head, positions

    funded_grant(db_url, "120000.00")
    app = GrantLedger(db_url)
    try:
        catch_up(app, all_projections())
        before = head(app.engine)
        for n, amount in enumerate(("1.10", "2.20", "0.03")):
            _spend(app, n, amount)
        stored = _notifications_after(app, before)
        assert len(stored) == 3 * 2  # each spend and its seal
        with app.engine.begin() as conn, Session(bind=conn) as session:  # as the importer does
            project_stored(session, stored, all_projections())
            session.flush()
        names = [p.name for p in all_projections()]
        assert positions(app.engine, names) == dict.fromkeys(names, head(app.engine))
        (row,) = balances(app.engine)
        assert row.subsidy_spent == Decimal("3.33")
        live = all_rows(db_url)
        for projection in all_projections():
            rebuild(app, projection)
        assert all_rows(db_url) == live
    finally:
        app.close()


def test_project_stored_refuses_projections_behind_the_head(db_url: str) -> None:
    from commands.registry import all_projections
    from ledger.application import GrantLedger
    from projections.runner import ProjectionsBehind, catch_up, project_stored

    funded_grant(db_url, "120000.00")
    app = GrantLedger(db_url)
    try:
        catch_up(app, all_projections())
        from projections.status import head

        before = head(app.engine)
        _spend(app, 1, "10.00")
        _spend(app, 2, "20.00")
        stored = _notifications_after(app, before)
        with app.engine.connect() as conn, conn.begin(), Session(bind=conn) as session:
            with pytest.raises(ProjectionsBehind, match="balances"):
                # the first new event was never projected
                project_stored(session, stored[1:], all_projections())
        # every projection (balances, compliance, acts, the audit log), two spends and their seals
        assert catch_up(app, all_projections()) == len(all_projections()) * 4
        with app.engine.connect() as conn:
            spent = conn.execute(select(text("subsidy_spent")).select_from(text("balance_grants"))).scalar()
        assert spent == 3000
    finally:
        app.close()


# ------------------------------------------------------------ stored states parsed by shape

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_typed = st.fixed_dictionaries(
    {"_type_": st.sampled_from(["decimal_str", "date_iso", "x{y}"]), "_data_": _text}
)
_value = st.one_of(
    _text,
    _typed,
    st.integers(-(10**20), 10**20),
    st.booleans(),
    st.none(),
    st.lists(_text, max_size=3),
    st.floats(allow_nan=False),
    st.dictionaries(_text, _text, max_size=2),
)
_state = st.dictionaries(st.one_of(_text, st.sampled_from(["amount", "_data_", "{0}"])), _value, max_size=8)


@given(states=st.lists(_state, min_size=1, max_size=4), compact=st.booleans())
@settings(max_examples=300, deadline=None)
def test_states_parsed_by_shape_equal_json_and_their_canonical_text(
    states: list[dict[str, Any]], compact: bool
) -> None:
    from audit.verifier.canonical import canonical_json
    from projections.shapes import ShapeCache

    cache = ShapeCache()
    separators = (",", ":") if compact else (", ", ": ")
    for state in [*states, *states]:  # the second time round, by a shape learnt the first
        text = json.dumps(state, separators=separators, ensure_ascii=False)
        parsed = cache.parse("topic", text)
        if parsed is None:
            continue
        data, canonical = parsed
        assert data == json.loads(text)
        assert canonical.encode("utf-8") == canonical_json(json.loads(text))


def test_leaf_hashes_of_records_equal_the_reference_definition(demo_sqlite_ledger: Ledger) -> None:
    """Every stored event of a demo ledger: the audit log's leaves as the verifier's
    audit/verifier/canonical.py defines them."""
    from audit.log import leaves
    from audit.verifier.canonical import record_from_stored, record_leaf_hash

    sqlite_ledger = demo_sqlite_ledger
    engine = create_engine(sqlite_ledger.url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                text(
                    "SELECT id, originator_id, originator_version, topic, state FROM ledger_events ORDER BY 1"
                )
            ).all()
            hashes = dict(conn.execute(select(leaves.c.notification_id, leaves.c.leaf_hash)).tuples().all())
    finally:
        engine.dispose()
    assert len(stored) > 30 and set(hashes) == {row.id for row in stored}
    for row in stored:
        expected = record_leaf_hash(
            record_from_stored(UUID(bytes=row.originator_id), row.originator_version, row.topic, row.state)
        )
        assert hashes[row.id] == expected.hex()


_stamp_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from('"\\\n\x00\x7f'), max_size=8
)


@given(
    states=st.lists(
        st.tuples(_state, st.one_of(_stamp_text, st.just("2024-08-06T10:00:00+08:00"))),
        min_size=1,
        max_size=4,
    ),
    ascii_only=st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_leaves_of_decoded_records_equal_the_reference_definition(
    states: list[tuple[dict[str, Any], str]], ascii_only: bool
) -> None:
    """The leaves hashed of decoded records (``projections.records.hashed_leaves``, which the
    seal check and the audit log share) and of rows alone (``LeafComputer``) are the verifier's,
    whatever the state holds and its timestamp says (quotes, backslashes, control characters:
    written forged below the application)."""
    from audit.log import LeafComputer, _leaves
    from audit.verifier.canonical import record_from_stored, record_leaf_hash
    from audit.verifier.merkle import CompactRange
    from projections.records import records_of_rows

    rows = []
    for n, (state, stamp) in enumerate(states, start=1):
        stored = {**state, "timestamp": {"_type_": "datetime_iso", "_data_": stamp}}
        body = json.dumps(stored, separators=(",", ":"), ensure_ascii=ascii_only).encode()
        rows.append((n, UUID(int=n).bytes, n, "grant-ledger:Grant.ExpenditureRecorded", body))
    expected = [
        record_leaf_hash(record_from_stored(UUID(bytes=o), v, topic, body)).hex()
        for _, o, v, topic, body in rows
    ]
    _, decoded = _leaves(CompactRange(), records_of_rows(rows))
    assert [row[4] for row in decoded] == expected
    _, start, alone = LeafComputer().compute(rows)  # the rebuild's second process, given rows alone
    assert start == 0 and [h.hex() for h in alone] == expected


@pytest.mark.parametrize("state", [b"[1,2]", b'"x"', b"1", b"null", b"true", b'{"timestamp":"2024-05-10"}'])
def test_the_leaf_of_a_state_that_is_no_object_is_the_verifiers(state: bytes) -> None:
    """A state forged below the application as a list, a text, a number or a literal, or with a
    timestamp that is not a typed value: its leaf is hashed as the verifier hashes it (the
    records give such states their canonical text too; a red-team pass found the first five
    crashing the leaves)."""
    from audit.verifier.canonical import record_from_stored, record_leaf_hash
    from projections.records import hashed_leaves, records_of_rows

    row = (7, UUID(int=7).bytes, 3, "grant-ledger:Grant.ExpenditureRecorded", state)
    (record,) = records_of_rows([row])
    assert record.canonical is not None
    expected = record_leaf_hash(record_from_stored(UUID(int=7), 3, row[3], state))
    assert hashed_leaves([record]) == [expected]


@pytest.mark.parametrize("count", [6, 80])  # FEW or fewer: one INSERT; more: COPY
def test_bulk_rows_are_the_rows_sqlalchemy_writes(db_url: str, count: int) -> None:
    """The driver's executemany (SQLite) and COPY or, for a few rows, one untyped INSERT
    (PostgreSQL) store what SQLAlchemy's typed INSERT stores: texts with tabs, newlines,
    backslashes and CJK, ISO dates and timestamps."""
    from sqlalchemy import delete

    from projections.bulk import FEW, BulkInsert
    from projections.schema import movements

    assert (count <= FEW) == (count == 6)

    awkward = ["记-0001", "tab\there", "line\nbreak", "back\\slash", "", "差旅费 \\N"]
    rows = [
        (
            n + 1,
            f"G{n % 3}",
            f"B{n % 2}",
            "2024-05-0" + str(n % 9 + 1),
            f"2024-05-01T0{n % 10}:30:15.{n:06d}+00:00",
            "spend",
            "subsidy_spent",
            12345 * (n + 1),
            "subsidy",
            "materials",
            awkward[n % len(awkward)],
            awkward[(n + 1) % len(awkward)],
            "tester",
            awkward[(n + 2) % len(awkward)],
        )
        for n in range(count)
    ]
    assert len(rows[0]) == len(movements.columns)
    engine = create_engine(db_url)
    try:
        movements.create(engine, checkfirst=True)
        bulk = BulkInsert(movements, dates=["occurred_on"], moments=["recorded_at"])
        written = []
        for write in (bulk, bulk.general):
            with engine.begin() as conn, Session(bind=conn) as session:
                write(session, rows)
            with engine.begin() as conn:
                written.append(conn.execute(select(movements).order_by(movements.c.notification_id)).all())
                conn.execute(delete(movements))
        by_fast, by_general = written
        assert by_fast == by_general
        assert len(by_fast) == len(rows)
    finally:
        engine.dispose()


def test_the_last_few_rows_and_one_more_are_stored_alike(db_url: str) -> None:
    """FEW rows go in with one untyped INSERT on PostgreSQL, one more with COPY: moments at other
    offsets than UTC, amounts beyond 32 bits next to small ones, a long text and one that reads
    like SQL are stored the same either way (as the general INSERT stores them)."""
    from sqlalchemy import delete

    from projections.bulk import FEW, BulkInsert
    from projections.schema import movements

    moments = ["2024-05-01T23:30:15.5+08:00", "2024-05-01T10:00:00-05:30", "2024-05-01T02:00:00+00:00"]
    amounts = [1, -(2**40), 2**62, 0, -7]

    def rows(count: int) -> list[tuple[Any, ...]]:
        return [
            (
                n + 1,
                "G1",
                "B1",
                "2024-05-01",
                moments[n % len(moments)],
                "spend",
                "subsidy_spent",
                amounts[n % len(amounts)],
                "subsidy",
                "materials",
                "长" * 100_000 if n == 0 else f"c{n}",
                "V'); DELETE FROM balance_movements; --",
                "tester",
                "officer",
            )
            for n in range(count)
        ]

    engine = create_engine(db_url)
    bulk = BulkInsert(movements, dates=["occurred_on"], moments=["recorded_at"])
    try:
        movements.create(engine, checkfirst=True)
        stored = {}
        for count in (FEW, FEW + 1):
            for how, write in (("bulk", bulk), ("general", bulk.general)):
                with engine.begin() as conn, Session(bind=conn) as session:
                    write(session, rows(count))
                with engine.begin() as conn:
                    query = select(movements).order_by(movements.c.notification_id)
                    stored[count, how] = conn.execute(query).all()
                    conn.execute(delete(movements))
        assert stored[FEW, "bulk"] == stored[FEW, "general"] == stored[FEW + 1, "general"][:FEW]
        assert stored[FEW + 1, "bulk"] == stored[FEW + 1, "general"]
        assert len(stored[FEW + 1, "bulk"]) == FEW + 1
        first = stored[FEW, "bulk"]
        assert [row.amount for row in first[: len(amounts)]] == amounts
        assert {row.voucher for row in first} == {"V'); DELETE FROM balance_movements; --"}
        assert len(first[0].content) == 100_000
    finally:
        engine.dispose()


def _positions_table() -> Any:
    """A table of tracking positions as the runner's (name, last event applied)."""
    from sqlalchemy import BigInteger, Column, MetaData, String, Table

    return Table(
        "t_positions",
        MetaData(),
        Column("application_name", String(32), primary_key=True),
        Column("notification_id", BigInteger, nullable=False),
    )


def test_positions_moved_together_refuse_the_batch_when_another_moved_any(db_url: str) -> None:
    """A server's projections stand at one place and move in one statement; if another process
    moved one of them first, the compare-and-set fails for all and nothing of it is written."""
    from types import SimpleNamespace

    from sqlalchemy import insert

    from projections.runner import _Overtaken, move_positions

    tracking = _positions_table()
    engine = create_engine(db_url)
    names = ["audit", "balances", "compliance"]
    due = [(SimpleNamespace(name=n), 5, [object()]) for n in names]
    balances = tracked("balances")  # each kept under its version's key
    try:
        tracking.create(engine)
        with engine.begin() as conn:
            rows = [{"application_name": tracked(n), "notification_id": 5} for n in names]
            conn.execute(insert(tracking), rows)
            moved = text("UPDATE t_positions SET notification_id = 7 WHERE application_name = :key")
            conn.execute(moved, {"key": balances})
        with pytest.raises(_Overtaken), engine.begin() as conn, Session(bind=conn) as session:
            move_positions(session, tracking, due, 9)  # type: ignore[arg-type]
        with engine.connect() as conn:
            stood = dict(conn.execute(select(tracking)).tuples().all())
        assert stood == {"audit": 5, balances: 7, tracked("compliance"): 5}
        with engine.begin() as conn, Session(bind=conn) as session:
            again = [(SimpleNamespace(name="balances"), 7, [object()]), *due[::2]]
            move_positions(session, tracking, again, 9)  # type: ignore[arg-type]
        with engine.connect() as conn:
            stood = dict(conn.execute(select(tracking)).tuples().all())
        assert stood == dict.fromkeys(map(tracked, names), 9)
    finally:
        engine.dispose()


def _move_at_once(engine: Any, tracking: Any, names: list[str], at: int, writers: int) -> list[str]:
    """What each of ``writers`` threads, started together, was told moving ``names`` from ``at``."""
    import threading
    from types import SimpleNamespace

    from projections.runner import _Overtaken, move_positions

    outcomes: list[str] = []
    start = threading.Barrier(writers)

    def writer() -> None:
        due = [(SimpleNamespace(name=name), at, [object()]) for name in reversed(names)]
        start.wait()
        try:
            with engine.begin() as conn, Session(bind=conn) as session:
                move_positions(session, tracking, due, at + 1)  # type: ignore[arg-type]
            outcomes.append("moved")
        except _Overtaken:
            outcomes.append("overtaken")
        except Exception as e:  # a deadlock, or anything else: the test fails naming it
            outcomes.append(type(e).__name__ + ": " + str(e).splitlines()[0])

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_writers_moving_the_same_positions_at_once_never_deadlock(db_url: str) -> None:
    """Eight writers move the same three positions from the same place at once, round after
    round, the rows' places on disk moved between rounds: in each round exactly one moves them
    all, every other is told it was overtaken, and none fails (a deadlock, or any other error)."""
    from sqlalchemy import insert

    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: its writers never hold rows against each other")
    tracking = _positions_table()
    engine = create_engine(db_url, pool_size=10)
    names = ["audit", "balances", "compliance"]
    try:
        tracking.create(engine)
        with engine.begin() as conn:
            rows = [{"application_name": tracked(n), "notification_id": 1} for n in names]
            conn.execute(insert(tracking), rows)
        for at in range(1, 16):
            if at % 2:  # the rows' places on disk shuffled: one moved alone, back and forth
                with engine.begin() as conn:
                    conn.execute(
                        text(
                            f"UPDATE t_positions SET notification_id = {at} WHERE application_name = 'audit'"
                        )
                    )
            outcomes = _move_at_once(engine, tracking, names, at, 8)
            assert sorted(outcomes) == ["moved"] + ["overtaken"] * 7, outcomes
            with engine.connect() as conn:
                assert set(conn.execute(select(tracking.c.notification_id)).scalars()) == {at + 1}
    finally:
        engine.dispose()


def test_a_fraction_for_an_integer_column_is_refused_by_few_rows_and_by_many(db_url: str) -> None:
    """On PostgreSQL a few rows go in with one INSERT, more with COPY: a fraction of a fen bound
    for the integer amount column is refused by both, and nothing of the batch is stored; never
    rounded into a whole fen by one of them."""
    from projections.bulk import FEW, BulkInsert
    from projections.schema import movements

    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite keeps any number in any column; the general INSERT does the same there")

    def row(n: int, amount: Any) -> tuple[Any, ...]:
        return (n, "G1", "B1", "2024-05-01", "2024-05-01T02:00:00+00:00", "spend", "subsidy_spent", amount,
                "subsidy", "materials", "c", f"V{n}", "tester", "officer")  # fmt: skip

    engine = create_engine(db_url)
    bulk = BulkInsert(movements, dates=["occurred_on"], moments=["recorded_at"])
    try:
        movements.create(engine, checkfirst=True)
        for count in (1, FEW, FEW + 1):
            batch = [row(n + 1, 100) for n in range(count - 1)] + [row(count, Decimal("12.5"))]
            refused = pytest.raises(Exception, match="invalid input syntax for type bigint")
            with refused, engine.begin() as conn, Session(bind=conn) as session:
                bulk(session, batch)
            with engine.connect() as conn:
                assert conn.execute(select(movements)).all() == []
    finally:
        engine.dispose()


@given(
    state=st.one_of(st.dictionaries(st.text(max_size=5), _json_value, max_size=6), _json_value),
    ascii_only=st.booleans(),
    cut=st.integers(0, 3),
)
@settings(max_examples=400, deadline=None)
def test_states_read_without_canonical_text_are_what_json_reads(
    state: Any, ascii_only: bool, cut: int
) -> None:
    """A page decoded for a projection that does not hash it (orjson where it agrees) gives the
    value ``json.loads`` gives, to the type of every number and the order of every key; a state
    json refuses (cut short) is refused alike."""
    from projections.records import records_of_rows

    text = json.dumps(state, ensure_ascii=ascii_only)
    stored = text.encode("utf-8", "surrogatepass")[: len(text) - cut if cut else None]
    row = (7, UUID(int=5).bytes, 1, "grant-ledger:Grant.X", stored)
    try:
        expected = json.loads(stored.decode("utf-8"))
    except ValueError as refused:  # UnicodeDecodeError included
        with pytest.raises(type(refused)):
            records_of_rows([row], canonical=False)
        return
    (record,) = records_of_rows([row], canonical=False)
    assert repr(record.data) == repr(expected)
    assert record.aggregate_id == UUID(int=5).hex and record.canonical is None
