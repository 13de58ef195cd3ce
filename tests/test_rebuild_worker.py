"""A rebuild with part of its work computed in a second process gives the rows of live catch-up,
and the second process never outlives a failed rebuild."""

from __future__ import annotations

import multiprocessing
import pickle
import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.conftest import Ledger, approved_district_grant, spent_below
from tests.importdata import write_file
from tests.signing import save_sealed
from tests.test_projection_speedpaths import all_rows


def _books(ledger: Ledger, tmp_path: Path) -> None:
    """Imported books, and a grant with outputs, a rectification and a finding."""
    from commands.registry import all_projections
    from ledger.application import GrantLedger
    from projections.runner import catch_up

    path = tmp_path / "books.csv"
    write_file(path, 1500, grants=5)
    ledger.import_ok(path)
    approved_district_grant(ledger, "G9", "B0901", "U9")
    ledger.ok("disburse", "G9", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(
        "output",
        "report",
        "G9",
        "--year",
        "2024",
        "--trainees",
        "700",
        "--advanced",
        "200",
        "--date",
        "2025-01-05",
    )
    rectify = (
        "rectify",
        "order",
        "G9",
        "--ref",
        "R1",
        "--finding",
        "台账不全",
        "--deadline",
        "2025-06-30",
        "--date",
        "2025-04-01",
    )
    ledger.ok(*rectify, role="approver")
    app = GrantLedger(ledger.url)
    try:  # history written by an older version: a travel expense the ledger now refuses
        grant = app.get_grant("G9")
        spent_below(grant, "OLD-1", date(2024, 8, 2), category="travel", actor="legacy")
        save_sealed(app, ledger, grant, actor="legacy")
        catch_up(app, all_projections())
    finally:
        app.close()


def test_rebuild_with_and_without_a_worker_gives_the_rows_of_live_catch_up(
    ledger: Ledger, tmp_path: Path
) -> None:
    from commands.registry import all_projections
    from ledger.application import GrantLedger
    from projections.rebuild import rebuild_all

    _books(ledger, tmp_path)
    live = all_rows(ledger.url)
    assert len(live["audit_leaves"]) > 1500 and live["compliance_events"]
    assert live["compliance_outputs"] and live["compliance_rectifications"]
    app = GrantLedger(ledger.url)
    try:
        seen: list[int] = []
        done = rebuild_all(app, all_projections(), seen.append, batch_size=300, worker=True)
        assert done == sum(seen) == len(live["audit_leaves"])
        assert all_rows(ledger.url) == live
        assert not multiprocessing.active_children()
        rebuild_all(app, all_projections(), batch_size=700, worker=False)
        assert all_rows(ledger.url) == live
        rebuild_all(app, all_projections(), worker=True)  # one batch
        assert all_rows(ledger.url) == live
        for projection in all_projections():  # alone: nothing, or everything, computed here
            rebuild_all(app, [projection], batch_size=400, worker=True)
            assert all_rows(ledger.url) == live
    finally:
        app.close()


@pytest.mark.parametrize("held", [1, 2, 1000])
def test_the_judge_holding_some_or_all_grants_as_judged_gives_the_rows_of_live_catch_up(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: int
) -> None:
    """The rebuild's second process holds its last grants as judged between batches, none read
    back from their JSON; holding fewer, each batch writes the others and reads them back (holding
    one: the imported grants' events come grant by grant, G9's among them). The rows are those of
    live catch-up either way."""
    from commands.registry import all_projections
    from ledger.application import GrantLedger
    from projections import compliance
    from projections.rebuild import rebuild_all

    _books(ledger, tmp_path)
    live = all_rows(ledger.url)
    monkeypatch.setattr(compliance, "LIVE_GRANTS", held)  # the forked process inherits it
    read_back: list[int] = []
    facts = compliance._facts
    monkeypatch.setattr(compliance, "_facts", lambda text: (read_back.append(1), facts(text))[1])
    app = GrantLedger(ledger.url)
    try:
        rebuild_all(app, all_projections(), batch_size=250, worker=True)
        assert all_rows(ledger.url) == live
        # the same computer here, in this process: grants read back only when not all are held
        from projections.records import records_of_rows
        from projections.runner import events_table, read_rows

        computer = compliance.ComplianceProjection().computer()
        with app.engine.connect() as conn:
            position = 0
            while rows := read_rows(conn, events_table(app), position + 1, 250, None):
                computer.compute(rows, records_of_rows(rows, canonical=False))
                position = rows[-1][0]
        kept = computer.finish()[1]
        assert sorted(r[0] for r in kept["compliance_grants"]) == sorted(
            r[0] for r in live["compliance_grants"]
        )
        assert bool(read_back) == (held == 1)  # a grant's events come together but for G9's
    finally:
        app.close()


class _Failing:
    """A projection failing at its second batch."""

    name = "failing"
    tables: Sequence[Any] = ()

    def __init__(self) -> None:
        self.batches = 0

    def apply(self, session: Session, batch: Sequence[Any]) -> None:
        self.batches += 1
        if self.batches == 2:
            raise RuntimeError("failed at the second batch")


def test_a_failed_rebuild_rolls_back_and_stops_its_worker(ledger: Ledger, tmp_path: Path) -> None:
    from commands.registry import all_projections
    from ledger.application import GrantLedger
    from projections.rebuild import rebuild_all

    _books(ledger, tmp_path)
    live = all_rows(ledger.url)
    app = GrantLedger(ledger.url)
    try:
        with pytest.raises(RuntimeError, match="second batch"):
            rebuild_all(app, [*all_projections(), _Failing()], batch_size=200, worker=True)
        assert not multiprocessing.active_children()
        assert all_rows(ledger.url) == live
    finally:
        app.close()


@pytest.mark.parametrize("fault", ["raises", "does not pickle"])
def test_a_failing_worker_fails_the_rebuild(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """A bug in the worker, raised there or a part the pipe cannot carry, is reported as the
    worker's internal error (exit 1, its one line), not as a storage error nor a worker gone
    without a word; nothing is kept and no process is left (the second found by a red-team pass)."""
    from audit.log import LeafComputer
    from commands.registry import all_projections
    from ledger.application import GrantLedger
    from ledger.errors import LedgerError
    from ledger.i18n import speaking
    from projections.rebuild import rebuild_all

    computed = LeafComputer.compute

    def broken(self: LeafComputer, rows: Any, records: Any = None) -> Any:
        if fault == "raises":
            raise ValueError("no leaves today")
        return (*computed(self, rows, records), lambda: 0)

    _books(ledger, tmp_path)
    live = all_rows(ledger.url)
    monkeypatch.setattr(LeafComputer, "compute", broken)  # the forked worker inherits it
    app = GrantLedger(ledger.url)
    try:
        with speaking("en"), pytest.raises(LedgerError) as raised:
            rebuild_all(app, all_projections(), batch_size=200, worker=True)
        assert raised.value.exit_code == 1
        if fault == "raises":
            assert (
                raised.value.message
                == "internal error in the rebuild's second process (ValueError): no leaves today"
            )
        else:
            assert raised.value.message.startswith("internal error in the rebuild's second process (")
            assert "pickle" in raised.value.message
        assert not multiprocessing.active_children()
        assert all_rows(ledger.url) == live
    finally:
        app.close()


def _hashing_worker_used(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Spy: at each rebuild with a worker, the projection whose leaves (computed there) the seal
    check took (None: it took none)."""
    import projections.rebuild as rebuild
    from audit.log import AuditLogProjection

    used: list[Any] = []
    apart = rebuild._computed_apart
    taken = AuditLogProjection.leaf_hexes

    def spied(*args: Any) -> Any:
        used.append(None)
        return apart(*args)

    def leaf_hexes(part: Any) -> list[str]:
        used[-1] = AuditLogProjection
        return taken(part)

    monkeypatch.setattr(rebuild, "_computed_apart", spied)
    monkeypatch.setattr(AuditLogProjection, "leaf_hexes", staticmethod(leaf_hexes))
    monkeypatch.setattr(rebuild, "WORKER_MIN", 0)  # the command line's worker, on a small store
    return used


def test_a_rebuild_checking_seals_with_the_workers_leaves_refuses_an_event_forged_below(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seal check takes each event's leaf hash from the audit log's worker: a copy of a
    spend inserted below the application with a new amount is still refused by name, exit 6,
    and nothing of the rebuild is kept."""
    from tests.test_people import SPEND, _forge_copy_of_an_expenditure

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(*SPEND, "--amount", "3.5万", "--voucher", "S1", "--date", "2024-05-10")
    used = _hashing_worker_used(monkeypatch)
    ledger.ok("projections", "rebuild")
    assert [getattr(p, "name", None) for p in used] == ["audit_log"]
    live = all_rows(ledger.url)
    _forge_copy_of_an_expenditure(ledger.url, "5000000.00")
    result = ledger("projections", "rebuild")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert "ExpenditureRecorded" in result.stderr and "is not what tester signed" in result.stderr
    assert len(used) == 2 and not multiprocessing.active_children()
    assert all_rows(ledger.url) == live


def test_the_rows_a_rebuild_applies_are_the_ones_whose_leaves_its_seal_check_takes(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker reads the store once for both processes: the rows applied here are the rows it
    hashed. A read that sees a forged amount (as if the store had been changed below the
    application) therefore gives leaves no seal covers: the rebuild is refused by name, exit 6,
    nothing kept, no process left."""
    import os

    import projections.rebuild as rebuild
    from tests.test_people import SPEND

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(*SPEND, "--amount", "3.5万", "--voucher", "S1", "--date", "2024-05-10")
    live = all_rows(ledger.url)
    used = _hashing_worker_used(monkeypatch)
    parent = os.getpid()
    read = rebuild.read_rows

    def forged_in_the_worker(*args: Any) -> Any:
        rows = read(*args)
        if os.getpid() == parent:
            return rows
        return [
            (*row[:4], bytes(row[4]).replace(b'"35000.00"', b'"5000000.00"'))
            if "ExpenditureRecorded" in row[3]
            else row
            for row in rows
        ]

    monkeypatch.setattr(rebuild, "read_rows", forged_in_the_worker)
    result = ledger("projections", "rebuild")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert "ExpenditureRecorded" in result.stderr and "is not what tester signed" in result.stderr
    assert [getattr(p, "name", None) for p in used] == ["audit_log"]
    assert not multiprocessing.active_children()
    assert all_rows(ledger.url) == live


class _Seeing(_Failing):
    """A projection that notes the connection's secure_delete at every batch (and fails at the
    second, when asked to)."""

    def __init__(self, fails: bool) -> None:
        super().__init__()
        self.fails = fails
        self.seen: list[int] = []

    def apply(self, session: Session, batch: Sequence[Any]) -> None:
        self.seen.append(int(session.connection().exec_driver_sql("PRAGMA secure_delete").scalar() or 0))
        if self.fails:
            super().apply(session, batch)


@pytest.mark.parametrize("secure", [True, False])
@pytest.mark.parametrize("fails", [False, True])
def test_a_rebuild_empties_its_tables_without_zeroing_them_and_leaves_the_connection_as_it_was(
    sqlite_ledger: Ledger, tmp_path: Path, fails: bool, secure: bool
) -> None:
    """SQLite built with secure_delete on (Debian's) wrote every page a rebuild emptied again, as
    zeros; the rebuild runs with it FAST (2) and every connection goes back to the pool with the
    setting it came with, after a rebuild that fails as after one that commits. A connection
    with it off (SQLite's own default) is left off."""
    from sqlalchemy import event

    from commands.registry import all_projections
    from ledger.application import GrantLedger
    from projections.rebuild import rebuild_all

    _books(sqlite_ledger, tmp_path)
    live = all_rows(sqlite_ledger.url)
    app = GrantLedger(sqlite_ledger.url)
    checked_in: list[int] = []

    def on_checkin(dbapi_connection: Any, _record: Any) -> None:
        checked_in.append(dbapi_connection.execute("PRAGMA secure_delete").fetchone()[0])

    try:
        if not secure:
            event.listen(app.engine, "checkout", lambda dbapi, *_: dbapi.execute("PRAGMA secure_delete = 0"))
        with app.engine.connect() as conn:
            before = int(conn.exec_driver_sql("PRAGMA secure_delete").scalar() or 0)
        if secure and before != 1:
            pytest.skip("this SQLite is built with secure_delete off (Debian's has it on)")
        assert before == (1 if secure else 0)
        event.listen(app.engine, "checkin", on_checkin)
        seeing = _Seeing(fails)
        if fails:
            with pytest.raises(RuntimeError, match="second batch"):
                rebuild_all(app, [*all_projections(), seeing], batch_size=200, worker=False)
        else:
            rebuild_all(app, [*all_projections(), seeing], batch_size=200, worker=False)
        assert seeing.seen and set(seeing.seen) == ({2} if before == 1 else {before})
        assert checked_in and set(checked_in) == {before}
        rows = all_rows(sqlite_ledger.url)
        rows["ledger_tracking"] = [row for row in rows["ledger_tracking"] if row[0] != seeing.name]
        assert rows == live
    finally:
        app.close()


@pytest.mark.parametrize(
    ("changed", "said"),
    [
        ({"seal": ["a", "list"]}, "which is not a valid signature"),
        ({"seal": 7}, "which is not a valid signature"),
        ({"actor": "someone else"}, "names 'someone else' but is signed by 'tester'"),
        ({"memo": "copied"}, "is not what tester signed"),
    ],
)
def test_a_rebuild_with_the_workers_leaves_names_a_copied_event_whatever_was_changed(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, changed: dict[str, Any], said: str
) -> None:
    """The seal check's quick path (sealed by whom it names, its leaf covered) lets none of these
    through: a seal that is not a seal's id, another actor, other content. Exit 6, the event
    named, nothing of the rebuild kept."""
    import json

    from sqlalchemy import create_engine, text

    from tests.test_people import SPEND

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(*SPEND, "--amount", "3.5万", "--voucher", "S1", "--date", "2024-05-10")
    used = _hashing_worker_used(monkeypatch)
    ledger.ok("projections", "rebuild")
    live = all_rows(ledger.url)
    engine = create_engine(ledger.url)
    try:
        with engine.begin() as conn:  # below the application: a copy, changed, as the next version
            oid, version, topic, state = conn.execute(
                text("SELECT originator_id, originator_version, topic, state FROM ledger_events "
                     "WHERE topic = 'grant-ledger:Grant.ExpenditureRecorded' ORDER BY id DESC LIMIT 1")
            ).one()  # fmt: skip
            fields = json.loads(bytes(state)) | changed
            conn.execute(
                text("INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
                     "VALUES (:o, :v, :t, :s)"),
                {"o": oid, "v": version + 1, "t": topic, "s": json.dumps(fields).encode()},
            )  # fmt: skip
    finally:
        engine.dispose()
    result = ledger("projections", "rebuild")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert "ExpenditureRecorded" in result.stderr and said in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert len(used) == 2 and [getattr(p, "name", None) for p in used] == ["audit_log", "audit_log"]
    assert all_rows(ledger.url) == live


def test_a_rebuild_with_the_workers_leaves_names_an_event_its_signer_sealed_in_anothers_name(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key holder's seal over an event that names someone else covers its leaf, yet the
    event is refused by name: the quick path also asks who it names."""
    from ledger.application import GrantLedger
    from tests.signing import person_name, signer

    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    used = _hashing_worker_used(monkeypatch)
    ledger.ok("projections", "rebuild")
    live = all_rows(ledger.url)
    app = GrantLedger(ledger.url)
    try:
        grant = app.get_grant("G1")
        spent_below(grant, "IN-ANOTHERS-NAME", date(2024, 5, 2), category="materials", actor="冒名者")
        app.save(
            grant, app.seal([grant], signer(ledger, "officer", "tester"), person_name("tester", "officer"))
        )
    finally:
        app.close()
    result = ledger("projections", "rebuild")
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert "names '冒名者' but is signed by 'tester'" in result.stderr, result.stderr
    assert len(used) == 2 and all_rows(ledger.url) == live


class _Pipe:
    """A pipe's sending end as the worker's sender uses it: records what it sends, and fails
    from its ``fails_at``-th message on (the rebuilding process gone)."""

    def __init__(self, fails_at: int | None = None) -> None:
        self.sent: list[Any] = []
        self.fails_at = fails_at

    def send_bytes(self, data: Any) -> None:
        if self.fails_at is not None and len(self.sent) + 1 >= self.fails_at:
            raise BrokenPipeError("the reader is gone")
        self.sent.append(pickle.loads(data))


def test_the_workers_sender_sends_every_message_in_order_and_ends() -> None:
    from projections.rebuild import _Sending

    pipe = _Pipe()
    sending = _Sending(pipe, ahead=2)
    messages: list[Any] = [("batch", [(n,)], [n]) for n in range(50)] + [("done", None, [])]
    for message in messages:
        sending.put(message)
        message[2].append("changed after it was put")  # sent as it stood when put
    sending.close()
    assert pipe.sent == [(k, rows, [n]) for k, rows, [n, _] in messages[:-1]] + [("done", None, [])]
    assert not any(t.name == "rebuild-sending" for t in threading.enumerate())


def test_a_failed_send_stops_the_worker_and_nothing_after_it_is_sent() -> None:
    """The rebuilding process gone at the third message: the worker's next put (or its close)
    raises BrokenPipeError, which ends it quietly; nothing after the failure goes out and the
    sending thread ends."""
    from projections.rebuild import _Sending

    pipe = _Pipe(fails_at=3)
    sending = _Sending(pipe, ahead=2)
    with pytest.raises(BrokenPipeError):
        for n in range(100):
            sending.put(("batch", [(n,)], [n]))
        sending.close()
    with pytest.raises(BrokenPipeError):
        sending.close()
    assert [m[2] for m in pipe.sent] == [[0], [1]]
    assert not any(t.name == "rebuild-sending" for t in threading.enumerate())


def test_two_rebuilds_growing_the_audit_tree_at_once_keep_their_trees_apart(tmp_path: Path) -> None:
    """The tree a rebuild's leaf hashes grow is kept by its session: two rebuilds in one process
    (two threads of a server), their parts interleaved page by page, each write the tree of their
    own leaves, the one a single rebuild writes (a review found it kept on the shared projection)."""
    import json as json_module
    from uuid import UUID

    from sqlalchemy import create_engine, select

    from audit.log import TABLES, AuditLogProjection, LeafComputer, leaves, tree

    def rows_of(seed: int) -> list[tuple[Any, ...]]:
        stamp = {"_type_": "datetime_iso", "_data_": "2024-05-10T08:00:00+00:00"}
        states = [json_module.dumps({"memo": f"{seed}-{n}", "timestamp": stamp}).encode() for n in range(8)]
        topic = "grant-ledger:Grant.ExpenditureRecorded"
        return [(n, UUID(int=seed * 1000 + n % 3).bytes, n, topic, states[n]) for n in range(1, 8)]

    def built(sessions_rows: list[tuple[Session, list[tuple[Any, ...]]]]) -> None:
        projection = AuditLogProjection()  # one object, as a server's projections are
        computers = [LeafComputer() for _ in sessions_rows]
        for page in range(0, 7, 3):
            for (session, rows), computer in zip(sessions_rows, computers, strict=True):
                chunk = rows[page : page + 3]
                projection.write_part(session, computer.compute(chunk), chunk)
        for (session, _), computer in zip(sessions_rows, computers, strict=True):
            projection.write_part(session, computer.finish(), None)

    def written(session: Session) -> tuple[Any, ...]:
        return (
            session.execute(select(leaves).order_by(leaves.c.leaf_index)).all(),
            session.execute(select(tree.c.size, tree.c.root)).all(),
        )

    engines = [create_engine(f"sqlite:///{tmp_path / f'{n}.db'}") for n in range(4)]
    try:
        sessions = []
        for engine in engines:
            for table in TABLES:
                table.create(engine)
            sessions.append(Session(engine))
        built([(sessions[0], rows_of(1)), (sessions[1], rows_of(2))])  # at once
        built([(sessions[2], rows_of(1))])  # each alone
        built([(sessions[3], rows_of(2))])
        assert written(sessions[0]) == written(sessions[2])
        assert written(sessions[1]) == written(sessions[3])
        assert written(sessions[0]) != written(sessions[1])
    finally:
        for engine in engines:
            engine.dispose()
