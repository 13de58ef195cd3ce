"""A base is one unit's (rule "one unit per base", 003 第十条: 资金到项目、管理到项目、核算到项目……单独
建账): another unit's grant on a base a unit holds is refused, applied for (`grant apply`) or brought
in approved elsewhere (an import's approve row); a rejection frees the base; the unit holding it
applies again as the other rules allow. The Base events it keeps are read by every reader of the
store: balances, the projections' rebuild and verify, the audit bundle and its verifier."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger.policy import current_policy
from tests.conftest import DISTRICT_BODIES, Ledger, copied_ledger, selected
from tests.importdata import HEADER

A = "approver"
RULE = "one unit per base"


def _cite() -> str:
    clause = current_policy().clause("ring_fence")
    return f" — {RULE}, {clause.cite}: “"


def _unit(ledger: Ledger, unit_id: str) -> None:
    ledger.ok("unit", "register", unit_id, "--name", f"单位{unit_id}", "--date", "2024-02-01")


def _apply(
    grant: str, unit: str, base: str, programme: str = "district_base", day: str = "2024-03-01"
) -> list[str]:
    if programme == "district_base":
        money = ["--project", "电工", "--amount", "20万"]
    else:  # municipal_base_funded
        money = ["--project", "电工", "--project", "焊工", "--amount", "50万"]
    args = ["grant", "apply", grant, "--unit", unit, "--base", base, "--programme", programme]
    return [*args, *money, "--date", day]


def _grants(ledger: Ledger) -> list[dict[str, str]]:
    return list(json.loads(ledger.ok("grant", "list", "--format", "json").stdout))


def _book(tmp_path: Path, *rows: str, name: str = "books.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _approve_row(
    unit: str, base: str, grant: str, programme: str = "district_base", amount: str = "200000"
) -> str:
    return f"2024-04-02,{unit},{base},{grant},{programme},approve,{amount},,,,批-{grant},,"


def _refused_one_line(ledger: Ledger, *args: str, role: str = "officer") -> str:
    """Refused by the rule: exit 3, one line naming the rule and 003 第十条, nothing written, the
    balances as they were."""
    before, balances = ledger.event_count(), ledger.ok("balance", "--format", "json").stdout
    result = ledger(*args, role=role)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert result.stderr.startswith("grant-ledger: ") and result.stderr.count("\n") == 1, result.stderr
    assert _cite() in result.stderr and "003 第十条" in result.stderr, result.stderr
    assert ledger.event_count() == before, "a refused command wrote events"
    assert ledger.ok("balance", "--format", "json").stdout == balances
    return result.stderr


def test_another_units_application_for_a_base_held_is_refused(ledger: Ledger) -> None:
    for unit in ("U1", "U2"):
        _unit(ledger, unit)
    ledger.ok(*_apply("G1", "U1", "B1"))
    message = _refused_one_line(ledger, *_apply("G2", "U2", "B1"))
    assert "base B1 is held by unit U1 (grant G1); grant G2 of unit U2 may not take it" in message
    assert " — one unit per base, 003 第十条: “" in message
    # approved and paid, it is still U1's: refused again, U1's books unchanged
    selected(ledger, "G1")
    ledger.ok("grant", "approve", "G1", "--amount", "20万", "--document", "批-G1", *DISTRICT_BODIES,
              "--date", "2024-04-01", role=A)  # fmt: skip
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "T1", "--date", "2024-04-10")
    message = _refused_one_line(ledger, *_apply("G2", "U2", "B1", "municipal_base_funded", "2024-04-11"))
    assert "held by unit U1 (grant G1)" in message
    assert [(g["grant_id"], g["unit_id"], g["base_id"]) for g in _grants(ledger)] == [("G1", "U1", "B1")]
    # another base is U2's to apply for
    ledger.ok(*_apply("G2", "U2", "B2"))


@pytest.mark.parametrize(
    "twin", ["В1", "Β1", "B１", "Ｂ1", " B1 "], ids=["cyrillic", "greek", "full-width", "letter", "spaces"]
)
def test_a_base_written_to_print_as_one_held_is_not_another_base(
    ledger: Ledger, tmp_path: Path, twin: str
) -> None:
    """Another unit's grant on ``В1`` (Cyrillic В) or ``Β1`` (Greek Β) beside U1's B1 was recorded:
    a second base that prints as B1, with two units' grants. A new base id holds no look-alike of
    an ASCII character (exit 2, nothing written), applied for or in an approve row; spaces around
    it are the same base, refused by the rule."""
    for unit in ("U1", "U2"):
        _unit(ledger, unit)
    ledger.ok(*_apply("G1", "U1", "B1"))
    before = ledger.event_count()
    result = ledger(*_apply("G2", "U2", twin))
    assert result.exit_code == (3 if twin.strip() == "B1" else 2), (result.stdout, result.stderr)
    book = _book(tmp_path, _approve_row("U2", twin, "G3"))
    imported = ledger("import", str(book), role=A)
    assert imported.exit_code == result.exit_code, (imported.stdout, imported.stderr)
    assert ledger.event_count() == before
    assert [(g["grant_id"], g["base_id"]) for g in _grants(ledger)] == [("G1", "B1")]


def test_the_unit_holding_a_base_applies_again_as_before(ledger: Ledger) -> None:
    """The holder's own second grant on its base is judged by the unit's rules alone, as before
    the base was kept: a second district grant is refused by "one base per level", a municipal
    one on the same base is recorded; the base then names both grants."""
    for unit in ("U1", "U2"):
        _unit(ledger, unit)
    ledger.ok(*_apply("G1", "U1", "B1"))
    result = ledger(*_apply("G2", "U1", "B1", day="2024-03-02"))
    assert result.exit_code == 3 and " — one base per level, " in result.stderr, result.stderr
    assert RULE not in result.stderr
    ledger.ok(*_apply("G3", "U1", "B1", "municipal_base_funded", "2024-03-02"))
    # the same application again is a repeat (exit 0, nothing written)
    before = ledger.event_count()
    assert "already" in ledger.ok(*_apply("G3", "U1", "B1", "municipal_base_funded", "2024-03-02")).stdout
    assert ledger.event_count() == before
    message = _refused_one_line(ledger, *_apply("G4", "U2", "B1"))
    assert "held by unit U1 (grant G1, G3)" in message


def test_a_rejection_frees_the_base_for_another_unit(ledger: Ledger) -> None:
    for unit in ("U1", "U2", "U3"):
        _unit(ledger, unit)
    ledger.ok(*_apply("G1", "U1", "B1"))
    ledger.ok(*_apply("G2", "U1", "B1", "municipal_base_funded"))
    ledger.ok("grant", "reject", "G1", "--reason", "评审未通过", "--date", "2024-03-05", role=A)
    # G2 still holds it for U1
    assert "held by unit U1 (grant G2)" in _refused_one_line(
        ledger, *_apply("G3", "U2", "B1", day="2024-03-06")
    )
    ledger.ok("grant", "reject", "G2", "--reason", "评审未通过", "--date", "2024-03-06", role=A)
    # free: U2 takes it, and then it is U2's
    ledger.ok(*_apply("G3", "U2", "B1", day="2024-03-07"))
    assert "held by unit U2 (grant G3)" in _refused_one_line(
        ledger, *_apply("G4", "U3", "B1", day="2024-03-08")
    )
    assert "held by unit U2 (grant G3)" in _refused_one_line(
        ledger, *_apply("G5", "U1", "B1", day="2024-03-08")
    )
    live = {(g["grant_id"], g["unit_id"]) for g in _grants(ledger) if g["status"] != "rejected"}
    assert live == {("G3", "U2")}


def test_an_approve_row_on_another_units_base_is_refused_and_the_file_writes_nothing(
    ledger: Ledger, tmp_path: Path
) -> None:
    """An import is validated as a whole: a row refused by the rule is listed with its line, exit 3,
    and nothing of the file is written; two approve rows of two units on one base in one file are
    refused at the second."""
    for unit in ("U1", "U2"):
        _unit(ledger, unit)
    ledger.ok(*_apply("G1", "U1", "B1"))
    before, balances = ledger.event_count(), ledger.ok("balance", "--format", "json").stdout
    book = _book(tmp_path, _approve_row("U3", "B3", "G3"), _approve_row("U2", "B1", "G2"))
    result = ledger("import", str(book), role=A)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    bad = [line for line in result.stderr.splitlines() if line.startswith("books.csv:")]
    assert len(bad) == 1 and bad[0].startswith("books.csv:3: base B1 is held by unit U1 (grant G1)"), bad
    assert _cite() in bad[0] and "1 bad row of 2" in result.stderr, result.stderr
    assert ledger.event_count() == before
    assert ledger.ok("balance", "--format", "json").stdout == balances
    # in one file: two units brought in on one base; the unit's own second grant (another level)
    # on it is taken, the other unit's refused, naming both grants that hold it
    book = _book(
        tmp_path,
        _approve_row("U5", "B5", "G5"),
        _approve_row("U5", "B5", "G6", "municipal_base_named", "0"),
        _approve_row("U6", "B5", "G7"),
        _approve_row("U7", "B5", "G8"),
        name="two.csv",
    )
    result = ledger("import", str(book), role=A)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    bad = [line for line in result.stderr.splitlines() if line.startswith("two.csv:")]
    assert [line.split(":")[1] for line in bad] == ["4", "5"], bad
    assert "base B5 is held by unit U5 (grant G5, G6); grant G7 of unit U6 may not take it" in bad[0]
    assert all(" — one unit per base, 003 第十条: “" in line for line in bad), bad
    assert ledger.event_count() == before
    # the file put right: U5's two grants on B5 are recorded, the base is U5's
    ledger.ok("import", str(_book(tmp_path, *_book_rows(book)[:2], name="right.csv")), role=A)
    message = _refused_one_line(ledger, *_apply("G9", "U2", "B5"))
    assert "held by unit U5 (grant G5, G6)" in message


def _book_rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[1:]


@pytest.mark.parametrize(("unit", "base"), [("new", "new"), ("registered", "new"), ("registered", "freed")])
def test_a_refused_approve_row_gives_its_base_back_for_the_rows_after_it(
    ledger: Ledger, tmp_path: Path, unit: str, base: str
) -> None:
    """An approve row takes its base before its approval is judged; refused (a district subsidy is
    200,000.00), the base it took is put back with the rest of the row, as it was (none yet, or
    freed by a rejection): another unit's approve row on it after that is not refused by the
    rule, and only the bad row is listed."""
    if unit == "registered":
        _unit(ledger, "U5")
    if base == "freed":
        _unit(ledger, "U1")
        ledger.ok(*_apply("G1", "U1", "B5"))
        ledger.ok("grant", "reject", "G1", "--reason", "评审未通过", "--date", "2024-03-05", role=A)
    before = ledger.event_count()
    book = _book(tmp_path, _approve_row("U5", "B5", "G5", amount="300000"), _approve_row("U6", "B5", "G6"))
    result = ledger("import", str(book), role=A)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    bad = [line for line in result.stderr.splitlines() if line.startswith("books.csv:")]
    assert len(bad) == 1 and bad[0].startswith("books.csv:2: ") and RULE not in bad[0], bad
    assert ledger.event_count() == before
    ledger.ok("import", str(_book(tmp_path, _approve_row("U6", "B5", "G6"), name="right.csv")), role=A)
    if unit == "new":  # the refused row registered nothing either
        assert ledger("unit", "register", "U5", "--name", "单位U5", "--date", "2024-02-01").exit_code == 0
    assert "held by unit U6 (grant G6)" in _refused_one_line(ledger, *_apply("G7", "U5", "B5"))


def test_a_ledger_holding_base_events_verifies_and_rebuilds(ledger: Ledger, tmp_path: Path) -> None:
    """Base.Taken, Base.TakenAgain and Base.Released, recorded by grant apply, grant reject and an
    import's approve row: audit export and audit verify pass (each event's signer had the duty),
    projections verify agrees, and a rebuild gives the same balances and grants."""
    for unit in ("U1", "U2"):
        _unit(ledger, unit)
    ledger.ok(*_apply("G1", "U1", "B1"))
    ledger.ok("grant", "reject", "G1", "--reason", "评审未通过", "--date", "2024-03-05", role=A)
    ledger.ok(*_apply("G2", "U2", "B1", day="2024-03-06"))
    ledger.ok("import", str(_book(tmp_path, _approve_row("U3", "B3", "G3"))), role=A)
    ledger.ok("disburse", "G3", "--amount", "10万", "--voucher", "T3", "--date", "2024-04-10")
    _refused_one_line(ledger, *_apply("G4", "U1", "B1", day="2024-03-07"))
    from sqlalchemy import create_engine, text

    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            topics = dict(
                conn.execute(
                    text(
                        "SELECT topic, COUNT(*) FROM ledger_events "
                        "WHERE topic LIKE 'grant-ledger:Base.%' GROUP BY topic"
                    )
                ).all()
            )
    finally:
        engine.dispose()
    assert topics == {
        "grant-ledger:Base.Taken": 2,
        "grant-ledger:Base.TakenAgain": 1,
        "grant-ledger:Base.Released": 1,
    }
    verified = ledger("projections", "verify")
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    balances, grants = ledger.ok("balance", "--format", "json").stdout, _grants(ledger)
    ledger.ok("projections", "rebuild")
    assert ledger.ok("balance", "--format", "json").stdout == balances and _grants(ledger) == grants
    assert ledger.balances()["B3"]["subsidy_received"] == "100000.00"
    ledger.ok("audit", "checkpoint", role=A)
    bundle = tmp_path / "bundle"
    ledger.ok("audit", "export", str(bundle), role="auditor")
    assert ledger.root is not None
    result = ledger("audit", "verify", str(bundle), "--root", ledger.root, role="auditor")
    assert result.exit_code == 0 and result.stdout.startswith("PASS"), (result.stdout, result.stderr)
    lines = (bundle / "events.jsonl").read_text("utf-8")
    assert '"topic":"grant-ledger:Base.TakenAgain"' in lines
    for style in ("hledger", "beancount", "csv"):
        assert ledger("export", "--format", style).exit_code == 0, style


def _applied_before_bases_were_kept(ledger: Ledger, grant: str, unit: str, base: str) -> None:
    """Grant ``grant`` of ``unit`` on ``base`` as an earlier version recorded an application: the
    unit takes the base (Unit.BaseTaken) and the grant is applied for, no Base is kept."""
    from datetime import date
    from decimal import Decimal

    from ledger.application import GrantLedger
    from ledger.grant import Grant
    from ledger.unit import unit_uuid
    from tests.signing import save_sealed

    app = GrantLedger(ledger.url)
    try:
        policy, on = current_policy(), date(2024, 3, 1)
        programme = policy.programme("district_base")
        held = app.repository.get(unit_uuid(unit))
        held.take_base(base_id=base, grant_id=grant, programme=programme, on=on, actor="tester",
                       role="officer", policy=policy, approved=[])  # fmt: skip
        applied = Grant.create(
            grant_id=grant, unit_id=unit, base_id=base, base_name="", programme=programme.code,
            level=programme.level, projects=["电工"], requested=Decimal(200000), on=on, actor="tester",
            role="officer", unit_kind=held.kind,
        )  # fmt: skip
        save_sealed(app, ledger, held, applied)
    finally:
        app.close()


def test_a_ledger_recorded_before_bases_were_kept_still_works(ledger: Ledger, tmp_path: Path) -> None:
    """A base taken before the Base aggregate existed has none: its grant is rejected as before
    (the unit lets go of it, no Base event), its unit applies on it again and from then on the
    base is kept; projections verify and audit verify pass."""
    for unit in ("U1", "U2"):
        _unit(ledger, unit)
    _applied_before_bases_were_kept(ledger, "G1", "U1", "B1")
    _applied_before_bases_were_kept(ledger, "G2", "U2", "B2")
    before = ledger.event_count()
    ledger.ok("grant", "reject", "G1", "--reason", "评审未通过", "--date", "2024-03-05", role=A)
    assert ledger.event_count() == before + 3  # Grant.Rejected, Unit.BaseReleased, the seal
    ledger.ok(*_apply("G3", "U2", "B2", "municipal_base_funded", "2024-03-06"))
    assert "held by unit U2 (grant G2, G3)" in _refused_one_line(  # G2 holds it too
        ledger, *_apply("G4", "U1", "B2", day="2024-03-07")
    )
    ledger.ok(*_apply("G5", "U1", "B1", day="2024-03-07"))
    verified = ledger("projections", "verify")
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    ledger.ok("audit", "checkpoint", role=A)
    ledger.ok("audit", "export", str(tmp_path / "bundle"), role="auditor")
    assert ledger.root is not None
    result = ledger("audit", "verify", str(tmp_path / "bundle"), "--root", ledger.root, role="auditor")
    assert result.exit_code == 0 and result.stdout.startswith("PASS"), (result.stdout, result.stderr)


def test_a_base_first_kept_is_held_by_its_units_grants_recorded_before(ledger: Ledger) -> None:
    """U1's G1 on B1 was recorded before bases were kept; U1's next grant on B1 (G3) keeps the
    base, held by G1 as well: rejecting G3 left it free and U2 took it while G1 stood."""
    for unit in ("U1", "U2"):
        _unit(ledger, unit)
    _applied_before_bases_were_kept(ledger, "G1", "U1", "B1")
    ledger.ok(*_apply("G3", "U1", "B1", "municipal_base_funded", "2024-03-06"))
    ledger.ok("grant", "reject", "G3", "--reason", "评审未通过", "--date", "2024-03-07", role=A)
    before = ledger.event_count()
    said = _refused_one_line(ledger, *_apply("G4", "U2", "B1", day="2024-03-08"))
    assert "base B1 is held by unit U1 (grant G1)" in said, said
    assert ledger.event_count() == before
    ledger.ok("grant", "reject", "G1", "--reason", "评审未通过", "--date", "2024-03-09", role=A)
    ledger.ok(*_apply("G4", "U2", "B1", day="2024-03-10"))  # free once G1 is rejected too


# ----------------------------------------------------------------------------- at random

BASES = ("B1", "B2")
UNITS = ("U1", "U2", "U3")
# ("apply", unit, base, programme) or ("reject", which of the grants applied for so far)
STEPS = st.one_of(
    st.tuples(st.just("apply"), st.sampled_from(UNITS), st.sampled_from(BASES),
              st.sampled_from(("district_base", "municipal_base_funded"))),
    st.tuples(st.just("reject"), st.integers(min_value=0, max_value=20)),
)  # fmt: skip


@pytest.fixture(scope="module")
def units_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("units")
    ledger = copied_ledger(f"sqlite:///{folder / 'ledger.db'}")
    for unit in UNITS:
        _unit(ledger, unit)
    return folder / "ledger.db"


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEPS, min_size=1, max_size=8))
def test_no_base_ever_has_two_holding_units(
    units_file: Path, tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[object, ...]]
) -> None:
    """Applications and rejections by random units on two bases: a base held by a unit (a grant of
    it not rejected) refuses every other unit's application by the rule, and after every step no
    base has grants of two units that are not rejected."""
    folder = tmp_path_factory.mktemp("case")
    shutil.copy(units_file, folder / "ledger.db")
    ledger = Ledger(f"sqlite:///{folder / 'ledger.db'}", CliRunner(), create=False)
    applied: list[str] = []
    for n, step in enumerate(steps):
        day = f"2024-03-{n + 1:02d}"
        if step[0] == "apply":
            _, unit, base, programme = step
            holders = {
                g["unit_id"] for g in _grants(ledger) if g["base_id"] == base and g["status"] != "rejected"
            }
            result = ledger(*_apply(f"G{n}", str(unit), str(base), str(programme), day))
            assert result.exit_code in (0, 3), result.stderr
            if holders - {unit}:
                assert result.exit_code == 3 and _cite() in result.stderr, result.stderr
                event("refused: another unit's base")
            elif result.exit_code == 0:
                applied.append(f"G{n}")
                event("applied")
            else:
                assert RULE not in result.stderr, result.stderr
        elif applied:
            grant = applied[int(str(step[1])) % len(applied)]
            ledger.ok("grant", "reject", grant, "--reason", "评审未通过", "--date", day, role=A)
            event("rejected")
        live: dict[str, set[str]] = {}
        for g in _grants(ledger):
            if g["status"] != "rejected":
                live.setdefault(g["base_id"], set()).add(g["unit_id"])
        assert all(len(units) == 1 for units in live.values()), live
