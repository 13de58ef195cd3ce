"""The same rows in any order never import to other balances, where vouchers are shared between
kinds of act and reversals name a voucher alone (issue 17's import-order property): a reversal
naming V1 alone reverses the one act recorded under V1 by then, so which act that is may depend
on the order. Hypothesis writes a grant's few days of tranches, matching received, spending and
reversals over two vouchers, then imports them in date order, newest first, each date's rows
reversed and shuffled: every order that imports (exit 0) gives the same balances to the fen, and
every order refused writes nothing. The same over two grants that use the same vouchers and three
days: a reversal naming V1 alone is the act under its own grant's V1, in any order."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import cast

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bench.generate import HEADER, rows
from tests.conftest import Ledger, copy_of
from tests.importdata import write_any
from tests.test_import_order import _from_matching, _money_row

Row = list[str]
FIRST_DAY = date(2024, 2, 5)


# each act: days after the first, what is done, under which voucher, how much (thousands)
ACT = st.tuples(
    st.sampled_from([0, 0, 1]),
    st.sampled_from(["disburse", "match_receive", "spend", "reverse", "reverse", "reverse named"]),
    st.sampled_from(["V1", "V2"]),
    st.integers(min_value=1, max_value=60),
)
NAMED = {"disburse": "disburse", "match_receive": "match_receive", "spend": "spend"}


def _money(acts: list[tuple[int, str, str, int]]) -> list[Row]:
    """The acts in date order after a matching commitment, each date's in the order drawn, each
    likely to hold where it stands: a voucher holds each kind once, a reversal names a voucher
    holding an act, spending stays within the subsidy received."""
    return _money_of_grants([(0, *act) for act in acts])


def _of_grant(row: Row, grant: int) -> Row:
    """``row`` (of G0001, as ``_money_row`` writes it) as the same row of grant ``grant`` (0: G0001)."""
    n = f"{grant + 1:04d}"
    row[1:4] = [f"U{n}", f"B{n}", f"G{n}"]
    return row


def _money_of_grants(acts: list[tuple[int, int, str, str, int]]) -> list[Row]:
    """``_money`` of each act's grant (0: G0001, 1: G0002), each grant's vouchers its own though
    named alike, the grants' rows of a date in the order drawn."""
    grants = sorted({grant for grant, *_ in acts})
    on = (FIRST_DAY - timedelta(days=1)).isoformat()
    out = [_of_grant(_money_row(on, "match_commit", "200000.00", f"G{g + 1:04d}-MC"), g) for g in grants]
    # each grant's vouchers' acts not reversed, the (kind, voucher) pairs used, the subsidy unspent
    held = {g: {"V1": [], "V2": []} for g in grants}  # type: dict[int, dict[str, list[tuple[str, int]]]]
    used: dict[int, set[tuple[str, str]]] = {g: set() for g in grants}
    room = dict.fromkeys(grants, 0)
    for grant, day, act, voucher, thousands in sorted(acts, key=lambda a: a[1]):
        on = (FIRST_DAY + timedelta(days=day)).isoformat()
        amount = thousands * 1000
        if act.startswith("reverse"):
            if not held[grant][voucher]:
                continue
            kind, undone = held[grant][voucher].pop(thousands % len(held[grant][voucher]))
            room[grant] += {"disburse": -undone, "spend": undone}.get(kind, 0)
            category = NAMED[kind] if act == "reverse named" else ""
            row = _money_row(on, "reverse", "", f"R-{voucher}-{kind}", voucher, category)
            out.append(_of_grant(row, grant))
            continue
        if (act, voucher) in used[grant]:
            continue
        if act == "spend":
            amount = min(amount, room[grant])
            if amount <= 0:
                continue
        used[grant].add((act, voucher))
        held[grant][voucher].append((act, amount))
        room[grant] += {"disburse": amount, "spend": -amount}.get(act, 0)
        row = _money_row(on, act, f"{amount}.00", voucher, "1" if act == "disburse" else "")
        out.append(_of_grant(row, grant))
    return _from_matching(out)


def _orders(money: list[Row], rng: random.Random) -> dict[str, list[Row]]:
    by_date: dict[str, list[Row]] = {}
    for row in money:
        by_date.setdefault(row[0], []).append(row)
    within = [row for on in sorted(by_date) for row in rng.sample(by_date[on], len(by_date[on]))]
    backwards = [row for on in sorted(by_date) for row in reversed(by_date[on])]
    shuffled = rng.sample(money, len(money))
    newest = sorted(reversed(money), key=lambda r: r[0], reverse=True)
    return {
        "date": money,
        "dates-backwards": backwards,
        "within": within,
        "shuffled": shuffled,
        "newest": newest,
    }


@pytest.fixture
def approved(sqlite_ledger: Ledger, tmp_path: Path) -> Ledger:
    """A ledger holding G0001's approval (200,000.00, a district base)."""
    return _with_approvals(sqlite_ledger, tmp_path, ["G0001"])


def _with_approvals(ledger: Ledger, tmp_path: Path, grants: list[str]) -> Ledger:
    """``ledger`` with the generator's approvals of ``grants`` (200,000.00 each, district bases)
    imported by an approver."""
    approvals = [r for r in rows(100 * len(grants), 3, len(grants), "date") if r[5] == "approve"]
    assert [r[3] for r in approvals] == grants
    write_any(tmp_path / "approvals.csv", cast(list[list[object]], [HEADER, *approvals]))
    ledger.ok("import", str(tmp_path / "approvals.csv"), role="approver")
    return ledger


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(acts=st.lists(ACT, min_size=3, max_size=8), rng=st.randoms(use_true_random=False))
def test_shared_vouchers_never_import_to_other_balances_in_another_order(
    approved: Ledger,
    tmp_path_factory: pytest.TempPathFactory,
    acts: list[tuple[int, str, str, int]],
    rng: random.Random,
) -> None:
    _alike_in_every_order(approved, tmp_path_factory.mktemp("shared"), _money(acts), rng)


def _alike_in_every_order(approved: Ledger, folder: Path, money: list[Row], rng: random.Random) -> None:
    """``money`` imported in each of ``_orders`` into a copy of ``approved``: every order that
    imports gives the same balances of every base, every order refused writes nothing."""
    before = approved.event_count()
    imported: dict[str, dict[str, dict[str, str]]] = {}
    for name, listed in _orders(money, rng).items():
        ledger = copy_of(approved, f"sqlite:///{folder / name}.db")
        path = folder / f"{name}.csv"
        write_any(path, cast(list[list[object]], [HEADER, *listed]))
        result = ledger("import", str(path))
        if result.exit_code == 0:
            imported[name] = ledger.balances()
        else:
            assert result.exit_code in (2, 3, 4, 5), (name, result.output)
            assert ledger.event_count() == before, name
    event(f"orders imported: {len(imported)} of 5")
    assert len({repr(sorted(b.items())) for b in imported.values()}) <= 1, imported


# each act of two grants: whose, days after the first, what is done, under which voucher, how much
GRANTS_ACT = st.tuples(
    st.sampled_from([0, 1]),
    st.sampled_from([0, 0, 1, 2]),
    st.sampled_from(["disburse", "match_receive", "spend", "reverse", "reverse", "reverse named"]),
    st.sampled_from(["V1", "V2"]),
    st.integers(min_value=1, max_value=60),
)


@pytest.fixture
def two_approved(sqlite_ledger: Ledger, tmp_path: Path) -> Ledger:
    """A ledger holding G0001's and G0002's approvals (200,000.00 each, district bases)."""
    return _with_approvals(sqlite_ledger, tmp_path, ["G0001", "G0002"])


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(acts=st.lists(GRANTS_ACT, min_size=4, max_size=12), rng=st.randoms(use_true_random=False))
def test_two_grants_sharing_voucher_names_import_to_the_same_balances_in_any_order(
    two_approved: Ledger,
    tmp_path_factory: pytest.TempPathFactory,
    acts: list[tuple[int, int, str, str, int]],
    rng: random.Random,
) -> None:
    _alike_in_every_order(two_approved, tmp_path_factory.mktemp("grants"), _money_of_grants(acts), rng)
