"""Hypothesis: random sequences of valid and invalid money commands, through the command line,
never leave a fund source below zero, never accept a banned category, and the projection's
balances equal a from-scratch recomputation from the stored events."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import GrantLedger
from ledger.grant import Grant
from tests.conftest import Ledger, approved_district_grant, built, copy_of

GRANTS = ("G1", "G2")
BASES = {"G1": "B0001", "G2": "B0002"}

amounts = st.sampled_from(["1", "0.01", "999.99", "5000", "1万", "3.5万", "12万", "20万", "0", "-3", "1.001"])
money_command = st.one_of(
    st.tuples(st.just("disburse"), st.sampled_from(GRANTS), amounts),
    st.tuples(st.just("match receive"), st.sampled_from(GRANTS), amounts),
    st.tuples(
        st.just("spend"),
        st.sampled_from(GRANTS),
        amounts,
        st.sampled_from(["subsidy", "matching"]),
        st.sampled_from(["equipment", "materials", "travel", "劳务费", "nonsense"]),
    ),
    st.tuples(st.just("reverse"), st.sampled_from(GRANTS), st.integers(0, 20)),
)


def recompute(url: str) -> dict[str, dict[str, Decimal]]:
    """Balances straight from the stored events, independent of the projection."""
    app = GrantLedger(url)
    totals: dict[str, dict[str, Decimal]] = {}
    ids: dict[object, str] = {}
    try:
        for n in app.recorder.select_notifications(start=1, limit=10**6):
            event = app.mapper.to_domain_event(n)
            if isinstance(event, Grant.Applied):
                ids[event.originator_id] = event.grant_id
                totals[event.grant_id] = {
                    k: Decimal("0.00")
                    for k in ("subsidy_received", "subsidy_spent", "matching_received", "matching_spent")
                }
                continue
            if not isinstance(event, Grant.Event):
                continue
            t = totals[ids[event.originator_id]]
            if isinstance(event, Grant.SubsidyDisbursed):
                t["subsidy_received"] += event.amount
            elif isinstance(event, Grant.MatchingReceived):
                t["matching_received"] += event.amount
            elif isinstance(event, Grant.ExpenditureRecorded):
                assert event.category not in ("travel", "labour", "unrelated")
                t[f"{event.source}_spent"] += event.amount
            elif isinstance(event, Grant.ExpenditureReversed):
                t[f"{event.source}_spent"] -= event.amount
    finally:
        app.close()
    return totals


def _two_approved(ledger: Ledger) -> None:
    approved_district_grant(ledger, "G1", "B0001", "U1")
    approved_district_grant(ledger, "G2", "B0002", "U2")


@pytest.fixture(scope="module")
def approved() -> Ledger:
    """G1 (B0001) and G2 (B0002) approved, 200,000.00 each; each example works on a copy."""
    return built("sqlite", _two_approved)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(money_command, min_size=1, max_size=14))
def test_money_commands_keep_the_ledger_sound(
    approved: Ledger, tmp_path: Path, commands: list[tuple]
) -> None:
    ledger = copy_of(approved, f"sqlite:///{tmp_path / (uuid.uuid4().hex + '.db')}")
    spent: list[tuple[str, str]] = []
    for n, command in enumerate(commands):
        kind, grant = command[0], command[1]
        voucher = f"V{n}"
        if kind == "disburse":
            args = ["disburse", grant, "--amount", command[2], "--voucher", voucher]
        elif kind == "match receive":
            args = ["match", "receive", grant, "--amount", command[2], "--voucher", voucher]
        elif kind == "spend":
            args = [
                "spend",
                grant,
                "--amount",
                command[2],
                "--source",
                command[3],
                "--category",
                command[4],
                "--voucher",
                voucher,
            ]
        else:
            target = spent[command[2] % len(spent)] if spent else (grant, "NONE")
            grant = target[0]
            args = ["reverse", grant, "--voucher", target[1], "--reason", "更正"]
        result = ledger(*args, "--date", "2024-06-01")
        assert result.exit_code in (0, 2, 3, 4, 5), result.stderr
        assert "Traceback" not in result.stderr
        if result.exit_code == 0 and kind == "spend":
            spent.append((grant, voucher))
    truth = recompute(ledger.url)
    shown = ledger.balances()
    for grant, t in truth.items():
        row = shown[BASES[grant]]
        for source in ("subsidy", "matching"):
            available = t[f"{source}_received"] - t[f"{source}_spent"]
            assert available >= 0, f"{grant} {source} below zero"
            assert row[f"{source}_available"] == f"{available:.2f}"
            assert row[f"{source}_spent"] == f"{t[source + '_spent']:.2f}"
