"""Writes that arrive together at the web server are recorded together: one transaction, one
catch-up (GrantLedger.handle_together, Workspace.record). What an officer and an auditor must still
see is checked here on both backends: each write answered as if alone (recorded, refused with its
rule, or "already recorded"), later ones judged on what earlier ones in the same batch did, each
event sealed by the person who asked for it, nothing a refused write half-made ever stored, and a
batch that meets another writer recorded one by one with nothing lost or doubled."""

from __future__ import annotations

import json
import threading
from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.actions import Books, Reverse, Spend
from ledger.application import RETRIES, GrantLedger, Outcome, _answer, open_ledger
from ledger.errors import LedgerError, RuleViolationError
from ledger.grant import Grant, grant_uuid
from ledger.seal import load_signer
from tests.conftest import Ledger, approved_district_grant, copy_of


def _spend(grant: str, voucher: str, amount: str, category: str = "materials") -> Spend:
    return Spend(grant_id=grant, amount=Decimal(amount), category=category, source="subsidy",
                 voucher=voucher, on=date(2024, 6, 1))  # fmt: skip


def _two_grants(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    approved_district_grant(ledger, "G2", "B0002", "U2")
    for grant in ("G1", "G2"):
        ledger.ok("disburse", grant, "--amount", "10万", "--voucher", f"拨-{grant}", "--date", "2024-04-15")


def _spends(ledger: Ledger, grant: str) -> list[tuple[str, str, str]]:
    """(voucher, amount, who recorded it) of each spend in the grant's history."""
    lines = json.loads(ledger.ok("history", grant, "--format", "json").stdout)
    return [(line["voucher"], line["amount"], line["actor"]) for line in lines if line["kind"] == "spend"]


def _verified(ledger: Ledger, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(bundle), role="auditor")
    assert ledger.root is not None
    result = ledger("audit", "verify", str(bundle), "--root", ledger.root, role="auditor")
    assert result.exit_code == 0 and "PASS" in result.stdout, (result.stdout, result.stderr)


def test_writes_recorded_together_each_get_their_own_answer_and_their_own_seal(
    ledger: Ledger, tmp_path: Path
) -> None:
    _two_grants(ledger)
    officer, second = load_signer(ledger.key("officer")), load_signer(ledger.key("officer", "second"))
    events = ledger.event_count()
    app = open_ledger(ledger.url)
    try:
        answers = app.handle_together(
            [
                (_spend("G1", "批-1", "30000"), officer),
                (_spend("G1", "批-2", "80000"), officer),  # 70,000.00 left after the first
                (_spend("G2", "批-3", "500", "差旅费"), second),  # travel: never from the subsidy
                (_spend("G1", "批-1", "30000"), officer),  # the first again
                (_spend("G2", "批-4", "1000"), second),
            ]
        )
    finally:
        app.close()
    first, over, travel, again, other = answers
    assert isinstance(first, Outcome) and first.recorded
    assert isinstance(over, RuleViolationError) and over.exit_code == 3 and "70,000.00" in str(over)
    assert isinstance(travel, LedgerError) and travel.exit_code == 3 and "差旅费" in str(travel)
    assert isinstance(again, Outcome) and not again.recorded
    assert isinstance(other, Outcome) and other.recorded
    # two spends and one seal each, nothing of the refused or repeated ones
    assert ledger.event_count() == events + 4
    assert _spends(ledger, "G1") == [("批-1", "30000.00", "tester")]
    assert _spends(ledger, "G2") == [("批-4", "1000.00", "second")]
    balances = ledger.balances()
    assert balances["B0001"]["subsidy_spent"] == "30000.00"
    assert balances["B0001"]["subsidy_available"] == "70000.00"
    assert balances["B0002"]["subsidy_spent"] == "1000.00"
    _verified(ledger, tmp_path)


class _HalfMade(Spend):
    """A spend whose rule check fails after its event was made (what no action of ours does today,
    and what a later one could): the batch must not store the half-made event with the others."""

    def decide(self, books: Books) -> bool:
        super().decide(books)
        raise RuleViolationError("refused after the grant was changed", rule="a test's rule", clause="none")


def _half_made(grant: str, voucher: str, amount: str) -> _HalfMade:
    return _HalfMade(grant_id=grant, amount=Decimal(amount), category="materials", source="subsidy",
                     voucher=voucher, on=date(2024, 6, 1))  # fmt: skip


def test_a_refusal_after_a_shared_grant_changed_is_recorded_one_by_one_without_it(ledger: Ledger) -> None:
    _two_grants(ledger)
    officer = load_signer(ledger.key("officer"))
    alone = RETRIES["alone"]
    app = open_ledger(ledger.url)
    try:
        answers = app.handle_together(
            [
                (_spend("G1", "前-1", "100"), officer),
                (_half_made("G1", "半-1", "200"), officer),
                (_spend("G1", "后-1", "300"), officer),
            ]
        )
    finally:
        app.close()
    assert RETRIES["alone"] == alone + 1
    assert [type(a) for a in answers] == [Outcome, RuleViolationError, Outcome]
    assert _spends(ledger, "G1") == [("前-1", "100.00", "tester"), ("后-1", "300.00", "tester")]
    assert ledger.balances()["B0001"]["subsidy_spent"] == "400.00"


def test_a_batch_that_meets_another_processs_write_is_recorded_one_by_one(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process spends from G1 after the batch loaded it and before it saves: the batch's
    insert conflicts on G1's next version, nothing of it is stored, and each of its writes is then
    handled alone on the store as it is: all recorded once, the other process's too."""
    _two_grants(ledger)
    officer = load_signer(ledger.key("officer"))
    other = open_ledger(ledger.url)
    save = GrantLedger._save_together
    alone = RETRIES["alone"]

    def another_writer_first(self: GrantLedger, *args: Any) -> None:
        other.handle(_spend("G1", "他-1", "5000"), signer=officer)
        save(self, *args)

    monkeypatch.setattr(GrantLedger, "_save_together", another_writer_first)
    app = open_ledger(ledger.url)
    try:
        answers = app.handle_together(
            [(_spend("G1", "同-1", "1000"), officer), (_spend("G2", "同-2", "2000"), officer)]
        )
    finally:
        app.close()
        other.close()
    assert RETRIES["alone"] == alone + 1
    assert all(isinstance(a, Outcome) and a.recorded for a in answers)
    assert sorted(v for v, _, _ in _spends(ledger, "G1")) == ["他-1", "同-1"]
    assert [v for v, _, _ in _spends(ledger, "G2")] == ["同-2"]
    balances = ledger.balances()
    assert balances["B0001"]["subsidy_spent"] == "6000.00"
    assert balances["B0002"]["subsidy_spent"] == "2000.00"
    _verified(ledger, tmp_path)


def test_the_web_records_writes_that_wait_for_a_batch_together(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one write is being recorded, seven more arrive: they go in as one batch of seven, and
    each thread gets its own answer (one of them refused)."""
    from commands.web.workspace import Workspace

    _two_grants(ledger)
    officer = load_signer(ledger.key("officer"))
    sizes: list[int] = []
    first_in, go_on = threading.Event(), threading.Event()
    together = GrantLedger.handle_together

    def held_first(self: GrantLedger, asked: list[Any]) -> list[Any]:
        sizes.append(len(asked))
        if len(sizes) == 1:
            first_in.set()
            assert go_on.wait(30)
        return together(self, asked)

    monkeypatch.setattr(GrantLedger, "handle_together", held_first)
    workspace = Workspace(ledger.url)
    answers: dict[str, Any] = {}

    def record(grant: str, voucher: str, amount: str) -> None:
        try:
            answers[voucher] = workspace.record(_spend(grant, voucher, amount), officer)
        except LedgerError as e:
            answers[voucher] = e

    try:
        first = threading.Thread(target=record, args=("G1", "先-0", "1000"))
        first.start()
        assert first_in.wait(30)
        rest = [threading.Thread(target=record, args=(f"G{1 + n % 2}", f"后-{n}", "1000")) for n in range(6)]
        rest.append(threading.Thread(target=record, args=("G2", "超-1", "999999")))
        for thread in rest:
            thread.start()
        for _ in range(200):  # every one of them waiting for the batch
            if len(workspace._asked) == 7:
                break
            threading.Event().wait(0.01)
        go_on.set()
        for thread in [first, *rest]:
            thread.join(60)
    finally:
        go_on.set()
        workspace.close()
    assert sizes == [1, 7]
    assert isinstance(answers.pop("超-1"), RuleViolationError)
    assert all(isinstance(a, Outcome) and a.recorded for a in answers.values())
    assert sorted(v for g in ("G1", "G2") for v, _, _ in _spends(ledger, g)) == sorted(answers)
    balances = ledger.balances()
    assert balances["B0001"]["subsidy_spent"] == "4000.00"
    assert balances["B0002"]["subsidy_spent"] == "3000.00"


def test_a_held_grant_is_as_the_store_holds_it_after_a_batch(ledger: Ledger) -> None:
    """The server keeps the grants its writes left (GrantLedger.hold); after a batch that spent
    twice from G1, the next write builds on both spends, as a replay of G1's events does."""
    _two_grants(ledger)
    officer = load_signer(ledger.key("officer"))
    app = open_ledger(ledger.url)
    app.hold()
    try:
        app.handle_together([(_spend("G1", "留-1", "100"), officer), (_spend("G1", "留-2", "200"), officer)])
        outcome = app.handle(_spend("G1", "留-3", "300"), signer=officer)
        assert outcome.grant is not None
        held: Grant = outcome.grant
    finally:
        app.close()
    fresh = open_ledger(ledger.url)
    try:
        replayed = fresh.load_grant("G1")
    finally:
        fresh.close()
    assert held.version == replayed.version
    assert held.available("subsidy") == replayed.available("subsidy") == Decimal("99400.00")


def test_a_person_revoked_while_a_batch_is_recorded_signs_nothing_in_it(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An administrator revokes ``second`` (another process) after the batch read the registry
    and judged second's spend by it: the batch's transaction sees the registry moved, nothing of it
    is stored, and each write is handled alone against the registry as it now is: second's refused,
    the other recorded."""
    _two_grants(ledger)
    officer, second = load_signer(ledger.key("officer")), load_signer(ledger.key("officer", "second"))
    save = GrantLedger._save_together

    def revoked_first(self: GrantLedger, *args: Any) -> None:
        ledger.ok("people", "revoke", "second", "--date", "2024-01-01", role="admin")
        save(self, *args)

    monkeypatch.setattr(GrantLedger, "_save_together", revoked_first)
    app = open_ledger(ledger.url)
    try:
        mine, theirs = app.handle_together(
            [(_spend("G1", "撤-1", "100"), officer), (_spend("G2", "撤-2", "200"), second)]
        )
    finally:
        app.close()
    assert isinstance(mine, Outcome) and mine.recorded
    assert isinstance(theirs, LedgerError) and theirs.exit_code == 3
    assert [v for v, _, _ in _spends(ledger, "G1")] == ["撤-1"]
    assert _spends(ledger, "G2") == []


def test_a_write_failing_unexpectedly_fails_alone_and_the_others_are_answered_as_stored(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database drops the connection while G2 is loaded (twice: in the batch, then alone):
    that write fails with its error; the two spends of G1 are stored and answered as recorded."""
    import sqlalchemy.exc

    from commands.web.workspace import Workspace, _Asked
    from ledger.grant import grant_uuid

    _two_grants(ledger)
    officer = load_signer(ledger.key("officer"))
    events = GrantLedger._events
    drops = [2]

    def dropped(self: GrantLedger, key: Any, after: int = 0) -> Any:
        if key == grant_uuid("G2") and drops[0] > 0:
            drops[0] -= 1
            raise sqlalchemy.exc.OperationalError("SELECT …", {}, Exception("server closed the connection"))
        return events(self, key, after)

    monkeypatch.setattr(GrantLedger, "_events", dropped)
    workspace = Workspace(ledger.url)
    batch = [_Asked(_spend("G1", "甲-1", "100"), officer), _Asked(_spend("G2", "乙-1", "200"), officer),
             _Asked(_spend("G1", "丙-1", "300"), officer)]  # fmt: skip
    try:
        workspace._record_together(batch)  # what Workspace.record runs for the three together
    finally:
        workspace.close()
    first, second, third = batch
    assert first.outcome is not None and first.outcome.recorded and first.failure is None
    assert isinstance(second.failure, sqlalchemy.exc.OperationalError) and second.outcome is None
    assert third.outcome is not None and third.outcome.recorded and third.failure is None
    assert [v for v, _, _ in _spends(ledger, "G1")] == ["甲-1", "丙-1"]
    assert _spends(ledger, "G2") == []


def test_a_locked_store_tells_every_write_of_a_batch_to_try_again_after_one_wait(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer holds the store's write lock (an import's long transaction): the batch's
    eight writes are all told "nothing was written, try again" after about one busy timeout, not
    one wait after another; nothing is stored."""
    import time

    from sqlalchemy import create_engine, text

    _two_grants(ledger)
    officer = load_signer(ledger.key("officer"))
    monkeypatch.setenv("GRANT_LEDGER_BUSY_TIMEOUT", "400")
    app = open_ledger(ledger.url)
    blocker = create_engine(ledger.url)
    with blocker.connect() as conn:
        if ledger.url.startswith("sqlite"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(text("LOCK TABLE ledger_events IN EXCLUSIVE MODE"))
        started = time.monotonic()
        try:
            answers = app.handle_together([(_spend("G1", f"锁-{n}", "1"), officer) for n in range(8)])
        finally:
            took = time.monotonic() - started
            conn.rollback()
            app.close()
    blocker.dispose()
    assert all(isinstance(a, LedgerError) and a.exit_code == 5 and "try again" in str(a) for a in answers)
    assert took < 3 * 0.4, took
    assert _spends(ledger, "G1") == []


# one write of a random batch: a new spend, a repeat of an earlier voucher (the same spend again,
# or another amount under it), or the reversal of one; on which grant, of what amount, by whom
_STEP = st.tuples(
    st.sampled_from(["spend", "spend", "repeat", "reverse"]),
    st.sampled_from(["G1", "G2"]),
    st.sampled_from(["10.00", "25.50", "40000", "60000"]),
    st.integers(0, 1),
    st.integers(0, 1_000),
)


def _copy(source: Ledger, tmp: Path, name: str) -> Ledger:
    return copy_of(source, f"sqlite:///{tmp / name}" if source.url.startswith("sqlite") else None)


def _said(answer: Any) -> tuple[str, ...]:
    if isinstance(answer, Outcome):
        return ("recorded" if answer.recorded else "repeat", answer.message)
    return (type(answer).__name__, str(answer))


@pytest.mark.slow
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(batches=st.lists(st.lists(_STEP, min_size=2, max_size=8), min_size=1, max_size=4))
def test_writes_recorded_together_answer_and_store_what_one_at_a_time_does(
    ledger: Ledger, tmp_path_factory: pytest.TempPathFactory, batches: list[list[tuple[Any, ...]]]
) -> None:
    """The same random batches through ``handle_together`` on one copy of a ledger, and one write
    at a time through ``handle`` on another: every answer, every stored spend and reversal, every
    balance to the fen the same; the grants the batching server holds are those a replay gives."""
    from tests.conftest import drop_pg_database

    if "second" not in ledger.registered:
        _two_grants(ledger)
    signers = [load_signer(ledger.key("officer")), load_signer(ledger.key("officer", "second"))]
    tmp = tmp_path_factory.mktemp("batches")
    together, alone = _copy(ledger, tmp, "together.db"), _copy(ledger, tmp, "alone.db")
    a, b = open_ledger(together.url), open_ledger(alone.url)
    a.hold()
    b.hold()
    written: list[tuple[str, str]] = []
    try:
        for steps in batches:
            asked: list[tuple[Any, Any]] = []
            for kind, grant, amount, who, pick in steps:
                if kind != "spend" and written:
                    grant, voucher = written[pick % len(written)]
                    action: Any = (
                        _spend(grant, voucher, amount)
                        if kind == "repeat"
                        else Reverse(grant_id=grant, voucher=voucher, reason="冲销", on=date(2024, 6, 2))
                    )
                else:
                    voucher = f"随-{len(written)}"
                    written.append((grant, voucher))
                    action = _spend(grant, voucher, amount)
                asked.append((action, signers[who]))
            got = [_said(answer) for answer in a.handle_together(asked)]
            one_by_one = [_said(_answer(partial(b.handle, action, signer=s))) for action, s in asked]
            assert got == one_by_one
        held: dict[Any, Any] = dict(a._held or {})
        for grant in ("G1", "G2"):
            assert _spends(together, grant) == _spends(alone, grant)
            if grant_uuid(grant) in held:
                replayed, mine = b.load_grant(grant), held[grant_uuid(grant)][0]
                assert mine.version == replayed.version
                assert mine.available("subsidy") == replayed.available("subsidy")
        assert together.balances() == alone.balances()
        _verified(together, tmp)  # every event the batches stored, sealed by its own person
    finally:
        a.close()
        b.close()
        for copy in (together, alone):
            if not copy.url.startswith("sqlite"):
                drop_pg_database(copy.url)
