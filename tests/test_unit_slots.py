"""A unit's eligibility is kept per grant: two grants of one unit on one base id at two levels (a
district base applying to become a municipal one) each hold their own level. The second does not
take the first's place, and rejecting one releases its own slot only; "one base per level" and
"no district base above municipal" (003 第八条) still count the other.

Before, the unit kept its bases by base id: the municipal grant on B1 replaced the district grant's
slot, so a second district base was taken beside the district grant still held. A rejection of
either grant released the base id, and with it the other grant's level."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import CITY_BODIES, Ledger, selected
from tests.importdata import HEADER
from tests.test_one_unit_per_base import _apply as _apply_for
from tests.test_one_unit_per_base import _unit

A = "approver"
DISTRICT = "003 第八条"  # one district base a unit, and none beside an approved municipal one
MUNICIPAL = "002 五(二)"  # one municipal base a unit


def _apply(grant: str, base: str, programme: str, day: str, unit: str = "U1") -> list[str]:
    return _apply_for(grant, unit, base, programme, day)


def _refused(ledger: Ledger, rule: str, clause: str, *args: str) -> str:
    """Refused by ``rule``: exit 3, one line naming it and its clause, nothing written."""
    before, balances = ledger.event_count(), ledger.ok("balance", "--format", "json").stdout
    result = ledger(*args)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert result.stderr.startswith("grant-ledger: ") and result.stderr.count("\n") == 1, result.stderr
    assert f" — {rule}, {clause}: “" in result.stderr, result.stderr
    assert ledger.event_count() == before, "a refused command wrote events"
    assert ledger.ok("balance", "--format", "json").stdout == balances
    return result.stderr


def _two_grants_on_b1(ledger: Ledger) -> None:
    """U1's district grant G1 on B1, then its municipal grant G2 on B1 (a district base applying
    to become a municipal one: recorded, as before)."""
    _unit(ledger, "U1")
    ledger.ok(*_apply("G1", "B1", "district_base", "2024-03-01"))
    ledger.ok(*_apply("G2", "B1", "municipal_base_funded", "2024-03-02"))


def _live(ledger: Ledger) -> set[str]:
    grants = json.loads(ledger.ok("grant", "list", "--format", "json").stdout)
    return {g["grant_id"] for g in grants if g["status"] != "rejected"}


def test_a_second_grant_on_a_base_does_not_free_the_first_ones_level(ledger: Ledger) -> None:
    _two_grants_on_b1(ledger)
    # G1 still holds U1's district level: a district base B2 is refused
    message = _refused(
        ledger, "one base per level", DISTRICT, *_apply("G3", "B2", "district_base", "2024-03-03")
    )
    assert "unit U1 already holds district base B1" in message, message
    # and G2 its municipal level
    message = _refused(
        ledger, "one base per level", MUNICIPAL, *_apply("G4", "B3", "municipal_base_funded", "2024-03-03")
    )
    assert "unit U1 already holds municipal base B1" in message, message
    assert _live(ledger) == {"G1", "G2"}


@pytest.mark.parametrize("rejected", ["G1", "G2"])
def test_rejecting_one_of_two_grants_on_a_base_keeps_the_others_slot(ledger: Ledger, rejected: str) -> None:
    _two_grants_on_b1(ledger)
    ledger.ok("grant", "reject", rejected, "--reason", "评审未通过", "--date", "2024-03-05", role=A)
    district = _apply("G3", "B2", "district_base", "2024-03-06")
    municipal = _apply("G4", "B3", "municipal_base_funded", "2024-03-06")
    if rejected == "G1":  # the district level is free; G2 holds the municipal one
        message = _refused(ledger, "one base per level", MUNICIPAL, *municipal)
        assert "already holds municipal base B1" in message, message
        ledger.ok(*district)
        assert _live(ledger) == {"G2", "G3"}
    else:  # the municipal level is free; G1 holds the district one
        message = _refused(ledger, "one base per level", DISTRICT, *district)
        assert "already holds district base B1" in message, message
        ledger.ok(*municipal)
        assert _live(ledger) == {"G1", "G4"}
    # the rejection released the rejected grant's slot, and named it
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            states = conn.execute(
                text("SELECT state FROM ledger_events WHERE topic = 'grant-ledger:Unit.BaseReleased'")
            ).scalars()
            released = [json.loads(bytes(s)) for s in states]
    finally:
        engine.dispose()
    assert [(r["base_id"], r["grant_id"]) for r in released] == [("B1", rejected)]


def test_an_approved_municipal_grant_bars_a_district_base_once_its_bases_district_grant_is_rejected(
    ledger: Ledger,
) -> None:
    """003 第八条: 已获批市级及以上高技能人才培训基地的单位不得申报区级高技能人才培训基地."""
    _two_grants_on_b1(ledger)
    selected(ledger, "G2")
    ledger.ok("grant", "recommend", "G2", "--by", "JW-CQ", "--round", "2024", "--rank", "1", "--date",
              "2024-03-05", role=A)  # fmt: skip
    ledger.ok("grant", "approve", "G2", "--amount", "50万", "--document", "D", *CITY_BODIES, "--date",
              "2024-04-01", role=A)  # fmt: skip
    ledger.ok("grant", "reject", "G1", "--reason", "评审未通过", "--date", "2024-04-02", role=A)
    message = _refused(
        ledger,
        "no district base above municipal",
        DISTRICT,
        *_apply("G3", "B3", "district_base", "2024-04-03"),
    )
    assert "unit U1 holds approved municipal-or-higher base B1" in message, message
    assert _live(ledger) == {"G2"}


def test_an_approve_row_beside_a_district_grant_on_a_base_taken_again_is_refused(
    ledger: Ledger, tmp_path: Path
) -> None:
    """An import's approve row takes its base as grant apply does: U1's district grant brought in
    approved elsewhere on B2 is refused while G1 holds its district level on B1; nothing of the
    file is written."""
    _two_grants_on_b1(ledger)
    before, balances = ledger.event_count(), ledger.ok("balance", "--format", "json").stdout
    rows = [
        "2024-04-02,U3,B9,G9,district_base,approve,200000,,,,批-G9,,",
        "2024-04-02,U1,B2,G3,district_base,approve,200000,,,,批-G3,,",
    ]
    book = tmp_path / "books.csv"
    book.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    result = ledger("import", str(book), role=A)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    bad = [line for line in result.stderr.splitlines() if line.startswith("books.csv:")]
    assert len(bad) == 1 and bad[0].startswith("books.csv:3: unit U1 already holds district base B1"), bad
    assert f" — one base per level, {DISTRICT}: “" in bad[0], bad
    assert ledger.event_count() == before
    assert ledger.ok("balance", "--format", "json").stdout == balances


# ----------------------------------------------------------------------------- recorded before


def _rejected_before_slots(
    ledger: Ledger, unit: str, grant: str, base: str, *, released: bool = True
) -> None:
    """Grant ``grant`` of ``unit`` on ``base`` rejected as the code before slots per grant recorded
    it: Grant.Rejected, the unit's Unit.BaseReleased naming no grant (none at all when the unit no
    longer kept the base: ``released`` False), Base.Released."""
    from ledger.application import GrantLedger
    from ledger.grant import grant_uuid
    from ledger.policy import current_policy
    from ledger.unit import Unit, base_uuid, unit_uuid
    from tests.signing import save_sealed

    app = GrantLedger(ledger.url)
    try:
        on, who, reason = date(2024, 3, 5), {"actor": "tester", "role": A}, f"grant {grant} rejected"
        rejected = app.repository.get(grant_uuid(grant))
        rejected.reject(reason="评审未通过", document="", on=on, policy=current_policy(), **who)
        changed = [rejected]
        if released:
            held = app.repository.get(unit_uuid(unit))
            held.trigger_event(Unit.BaseReleased, base_id=base, reason=reason, occurred_on=on, **who)
            object.__delattr__(held.pending_events[-1], "grant_id")  # a field it did not have
            changed.append(held)
        let_go = app.repository.get(base_uuid(base))
        let_go.release(grant_id=grant, reason=reason, on=on, **who)
        save_sealed(app, ledger, *changed, let_go, role=A)
    finally:
        app.close()


def _released_states(ledger: Ledger) -> list[dict[str, object]]:
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            states = conn.execute(
                text("SELECT state FROM ledger_events WHERE topic = 'grant-ledger:Unit.BaseReleased'")
            ).scalars()
            return [json.loads(bytes(s)) for s in states]
    finally:
        engine.dispose()


@pytest.mark.parametrize("both", [False, True], ids=["one rejected", "both rejected"])
def test_releases_recorded_before_slots_per_grant_replay(ledger: Ledger, both: bool) -> None:
    """A release recorded before names no grant. One grant on its base: the base is released, as
    it was. Two on B1: the grant its reason names is released, the other keeps its level (the code
    before let go of both). Both rejected then, the second with no release (the unit no longer kept
    B1): the rejected grant's slot holds no level."""
    _unit(ledger, "U2")
    ledger.ok(*_apply("G5", "B5", "district_base", "2024-03-01", unit="U2"))
    _rejected_before_slots(ledger, "U2", "G5", "B5")
    ledger.ok(*_apply("G6", "B6", "district_base", "2024-03-06", unit="U2"))
    _two_grants_on_b1(ledger)
    _rejected_before_slots(ledger, "U1", "G1", "B1")
    municipal = _apply("G4", "B4", "municipal_base_funded", "2024-03-06")
    if both:
        _rejected_before_slots(ledger, "U1", "G2", "B1", released=False)
        ledger.ok(*municipal)
    else:
        message = _refused(ledger, "one base per level", MUNICIPAL, *municipal)
        assert "already holds municipal base B1" in message, message
    ledger.ok(*_apply("G3", "B2", "district_base", "2024-03-06"))
    assert [(r["base_id"], r.get("grant_id", "none")) for r in _released_states(ledger)] == [
        ("B5", "none"),
        ("B1", "none"),
    ]
    assert _live(ledger) == ({"G6", "G3", "G4"} if both else {"G6", "G2", "G3"})


def _snapshot_at_50(ledger: Ledger, unit: str) -> None:
    """The unit's history taken to version 50 (district amendments), saved at once: its first
    snapshot is stored."""
    from ledger.application import GrantLedger
    from ledger.unit import unit_uuid
    from tests.signing import save_sealed

    app = GrantLedger(ledger.url)
    try:
        held = app.repository.get(unit_uuid(unit))
        while held.version < 50:
            code = ("500105", "500103")[held.version % 2]
            held.set_district(district=code, on=date(2024, 3, 3), actor="tester", role="officer")
        save_sealed(app, ledger, held)
        assert app.snapshots is not None
        stored = app.snapshots.recorder.select_events(unit_uuid(unit), desc=True, limit=1)
        assert [s.originator_version for s in stored] == [50]
    finally:
        app.close()


def _stored_in_form_1(ledger: Ledger, unit: str, bases: dict[str, dict[str, str]], signed: bool) -> int:
    """The unit's latest snapshot rewritten as the code before slots per grant stored it
    (``bases`` by base id, no ``slots``, no ``class_version``), and (``signed``) signed by the
    officer, as their own write signs a snapshot it takes; its version."""
    from eventsourcing.domain import Snapshot
    from eventsourcing.persistence import StoredEvent

    from ledger import snapshot_seals
    from ledger.application import GrantLedger
    from ledger.unit import unit_uuid
    from tests.signing import signer
    from tests.test_snapshot_integrity import drop_snapshot_triggers, execute

    key = unit_uuid(unit)
    app = GrantLedger(ledger.url)
    try:
        assert app.snapshots is not None
        (stored,) = app.snapshots.recorder.select_events(key, desc=True, limit=1)
        version = stored.originator_version
        taken: Any = app.mapper.to_domain_event(stored)
        state = dict(taken.state)
        state.pop("class_version", None)  # the form this code stores (or one rewritten before)
        state.pop("slots", None)
        state["bases"] = bases
        old = Snapshot(  # type: ignore[call-arg]
            originator_id=key,
            originator_version=version,
            timestamp=taken.timestamp,
            topic=taken.topic,
            state=state,
        )
        kept = bytes(app.mapper.to_stored_event(old).state)
    finally:
        app.close()
    execute(
        ledger.url,
        *drop_snapshot_triggers(ledger.url),
        "UPDATE ledger_snapshots SET state = :state WHERE originator_version = :version",
        state=kept,
        version=version,
    )
    if signed:
        engine = create_engine(ledger.url)
        try:
            with engine.begin() as conn:
                row = StoredEvent(key, version, stored.topic, kept)
                snapshot_seals.insert(conn, snapshot_seals.sealed(signer(ledger), [row]))
        finally:
            engine.dispose()
    return version


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_a_unit_snapshot_of_the_earlier_form_is_checked_and_never_used_as_it_stands(
    sqlite_ledger: Ledger, signed: bool
) -> None:
    """A snapshot stored before slots per grant kept one grant a base: on B1 the municipal G2, the
    district G1 lost. It agrees with the events on all it holds, so writes go on, from the unit
    replayed from its events (G1 still holds the district level), signed by the writer or not; one
    holding a base no grant of the unit holds is refused as forged."""
    ledger = sqlite_ledger
    _two_grants_on_b1(ledger)
    _snapshot_at_50(ledger, "U1")
    district = _apply("G3", "B2", "district_base", "2024-03-06")
    _refused(ledger, "one base per level", DISTRICT, *district)  # the snapshot of this form
    g2 = {"grant_id": "G2", "programme": "municipal_base_funded", "level": "municipal"}
    _stored_in_form_1(ledger, "U1", {"B1": g2}, signed)
    message = _refused(ledger, "one base per level", DISTRICT, *district)
    assert "already holds district base B1" in message, message
    ledger.ok("grant", "reject", "G1", "--reason", "评审未通过", "--date", "2024-03-05", role=A)
    ledger.ok(*district)
    # the write after the replay stored a snapshot of this form: the one forged is that one
    forged = {"B1": g2, "B7": {"grant_id": "G7", "programme": "district_base", "level": "district"}}
    version = _stored_in_form_1(ledger, "U1", forged, signed)
    assert version > 50
    result = ledger(*_apply("G4", "B4", "municipal_base_funded", "2024-03-06"))
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert f"stored snapshot of unit U1 at version {version} does not match" in result.stderr, result.stderr


# ----------------------------------------------------------------------------- dates out of order


def test_an_application_dated_before_a_rejection_recorded_meets_the_rejected_grants_level(
    ledger: Ledger,
) -> None:
    """G1 (district, B1) applied for on 03-01 and rejected on 03-10: an application of a district
    base dated 03-05, recorded after the rejection, is refused as it would have been recorded in
    order (G1 still held U1's district level on 03-05); one dated 03-10 or later is recorded. Before,
    the rejection had released the slot, and the application dated 03-05 was recorded."""
    _unit(ledger, "U1")
    ledger.ok(*_apply("G1", "B1", "district_base", "2024-03-01"))
    ledger.ok("grant", "reject", "G1", "--reason", "评审未通过", "--date", "2024-03-10", role=A)
    message = _refused(
        ledger, "one base per level", DISTRICT, *_apply("G3", "B2", "district_base", "2024-03-05")
    )
    assert "unit U1 already holds district base B1" in message, message
    ledger.ok(*_apply("G3", "B2", "district_base", "2024-03-10"))
    assert _live(ledger) == {"G3"}


def test_an_application_dated_before_a_rejection_recorded_meets_the_base_held(ledger: Ledger) -> None:
    """U1's G1 on B1 applied for on 03-01 and rejected on 03-10: U2's application on B1 dated
    03-05, recorded after the rejection, is refused (one unit per base: on 03-05 G1 held B1); one
    dated 03-10 or later takes the free base. Before, it was recorded dated 03-05."""
    _unit(ledger, "U1")
    _unit(ledger, "U2")
    ledger.ok(*_apply("G1", "B1", "district_base", "2024-03-01"))
    ledger.ok("grant", "reject", "G1", "--reason", "评审未通过", "--date", "2024-03-10", role=A)
    early = _apply("G3", "B1", "district_base", "2024-03-05", unit="U2")
    message = _refused(ledger, "one unit per base", "003 第十条", *early)
    assert "base B1 is held by unit U1 (grant G1)" in message, message
    ledger.ok(*_apply("G3", "B1", "district_base", "2024-03-10", unit="U2"))
    assert _live(ledger) == {"G3"}
