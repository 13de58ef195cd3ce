"""Row order never matters to an import (issue 17 item 1, issue 14 item 16): the same rows by date
(as finance systems export them), grant by grant, one row of each grant in turn, or in any merge
that keeps each grant's own rows in their order, give the same balances to the fen and the same
events, and cost about the same work. Every check a grant makes of its vouchers (a repeat is
"already recorded", a voucher with other content or a reversed voucher spent again is refused)
holds when the grants' vouchers are long gone from the import's memory (``CACHE_VOUCHERS``)."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from bench.generate import HEADER, rows
from tests.conftest import Ledger, copy_of
from tests.importdata import write_any

Row = list[str]
KIND, GRANT, VOUCHER, MEMO = 5, 3, 10, 12
CATEGORY = 8


def _split(all_rows: list[Row]) -> tuple[list[Row], list[Row]]:
    """The approve rows (an approver's) and the money rows (an officer's), each in file order."""
    return [r for r in all_rows if r[KIND] == "approve"], [r for r in all_rows if r[KIND] != "approve"]


def _merge(money: list[Row], rng: random.Random) -> list[Row]:
    """A random merge of the grants' rows: each grant's own rows stay in their order."""
    queues: dict[str, list[Row]] = {}
    for row in money:
        queues.setdefault(row[GRANT], []).append(row)
    merged: list[Row] = []
    live = [list(reversed(q)) for q in queues.values()]
    while live:
        queue = live[rng.randrange(len(live))]
        merged.append(queue.pop())
        live = [q for q in live if q]
    return merged


def _write(path: Path, body: list[Row]) -> Path:
    write_any(path, cast(list[list[object]], [HEADER, *body]))
    return path


def _copy(template: Ledger, folder: Path) -> Ledger:
    """A new ledger as the template was made (same people, same keys), without running init."""
    folder.mkdir(parents=True, exist_ok=True)
    return copy_of(template, f"sqlite:///{folder / 'ledger.db'}")


def _imported(ledger: Ledger, approvals: Path, money: Path, *options: str) -> Any:
    ledger.ok("import", str(approvals), role="approver")
    return ledger("import", *options, str(money))


def _events(ledger: Ledger) -> dict[bytes, list[tuple[int, str, dict[str, Any]]]]:
    """Each grant's and unit's events in order, as stored, but for when they were recorded and
    the seal of the batch they were written in (batches fall where the rows do)."""
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT originator_id, originator_version, topic, state FROM ledger_events "
                    "WHERE topic LIKE 'grant-ledger:Grant.%' OR topic LIKE 'grant-ledger:Unit.%' "
                    "ORDER BY originator_id, originator_version"
                )
            ).all()
    finally:
        engine.dispose()
    by: dict[bytes, list[tuple[int, str, dict[str, Any]]]] = {}
    for originator, version, topic, state in found:
        fields = json.loads(state)
        for noise in ("timestamp", "seal"):
            fields.pop(noise, None)
        by.setdefault(bytes(originator), []).append((version, topic, fields))
    return by


@pytest.fixture
def template(sqlite_ledger: Ledger) -> Ledger:
    return sqlite_ledger


@pytest.mark.slow
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.integers(min_value=30, max_value=160),
    bases=st.integers(min_value=2, max_value=5),
    seed=st.integers(min_value=0, max_value=10_000),
    shuffle=st.randoms(use_true_random=False),
    cache=st.sampled_from([1, 5, 100_000]),
    held=st.sampled_from([1, 2, 100_000]),
    written=st.sampled_from([1, 3, 25_000]),
    live=st.sampled_from([1, 2, 32]),
    aside=st.sampled_from([4, 25_000]),
)
def test_the_same_rows_in_any_order_give_the_same_balances_and_events(
    template: Ledger,
    tmp_path_factory: pytest.TempPathFactory,
    events: int,
    bases: int,
    seed: int,
    shuffle: random.Random,
    cache: int,
    held: int,
    written: int,
    live: int,
    aside: int,
) -> None:
    from commands import importer
    from ledger import importing

    folder = tmp_path_factory.mktemp("orders")
    approvals, by_date = _split(list(rows(events, seed, bases, "date")))
    orders = {
        "date": by_date,
        "grant": _split(list(rows(events, seed, bases, "grant")))[1],
        "interleaved": _split(list(rows(events, seed, bases, "interleaved")))[1],
        "merged": _merge(by_date, shuffle),
    }
    assert all(sorted(money) == sorted(by_date) for money in orders.values())
    approved = _write(folder / "approvals.csv", approvals)
    seen: dict[str, tuple[dict[str, dict[str, str]], Any]] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(importing, "CACHE_VOUCHERS", cache)
        patch.setattr(importing, "HELD_AGGREGATES", held)  # 1: every other grant parked
        patch.setattr(importer, "HELD_GRANTS", written)  # the writing process's grants, written when more
        patch.setattr(importing, "LIVE_GRANTS", live)  # in parts: grants sent as they come, at once
        patch.setattr(importing, "ASIDE_ROWS", aside)  # 4: the files set aside are split by grant
        for order, money in orders.items():
            ledger = _copy(template, folder / order)
            result = _imported(
                ledger, approved, _write(folder / f"{order}.csv", money), "--jobs", "1", "--batch", "9"
            )
            assert result.exit_code == 0, (order, result.output)
            seen[order] = (ledger.balances(), _events(ledger))
        for order in ("date", "grant", "merged"):  # checked in two processes split by grant
            ledger = _copy(template, folder / f"{order}-parts")
            result = _imported(ledger, approved, folder / f"{order}.csv", "--jobs", "3", "--batch", "9")
            assert result.exit_code == 0, result.output
            seen[f"{order}, in parts"] = (ledger.balances(), _events(ledger))
        verified = ledger("projections", "verify")  # the read models are a replay's
        assert verified.exit_code == 0, verified.stderr
    balances, history = seen["date"]
    assert len(balances) == bases and len(history) == 2 * bases  # each base's unit and grant
    for order, (other_balances, other_history) in seen.items():
        assert other_balances == balances, order
        assert other_history == history, order


def _reversed_spend(money: list[Row]) -> Row:
    """The spend the file's first reversal reverses."""
    reversal = next(r for r in money if r[KIND] == "reverse")
    return next(r for r in money if r[GRANT] == reversal[GRANT] and r[VOUCHER] == reversal[MEMO])


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2", "3"])
def test_a_date_ordered_file_past_a_tiny_index_cache_keeps_every_voucher_check(
    template: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    """3,000 date-ordered rows of 60 grants with 5 index entries and 3 grants in memory: a row of
    one grant comes between rows of every other one, so each check reads its grant, parked with
    the import's changes, and its vouchers back."""
    from commands import importer
    from ledger import importing

    # the bad rows below are dated before rows of their grants above them: applied again by
    # date (ledger/import_order.py), the repeat of the reversed spend would come before its
    # reversal, already recorded; the voucher checks in the file's order are what this tests
    monkeypatch.setattr(importer, "by_date_again", lambda reopen, held=None, refused=(), in_ledger=None: None)
    approvals, money = _split(list(rows(3000, 7, 60, "date")))
    approved = _write(tmp_path / "approvals.csv", approvals)
    reference = _copy(template, tmp_path / "reference")
    grouped = _split(list(rows(3000, 7, 60, "grant")))[1]
    assert _imported(reference, approved, _write(tmp_path / "grouped.csv", grouped)).exit_code == 0
    monkeypatch.setattr(importing, "CACHE_VOUCHERS", 5)
    monkeypatch.setattr(importing, "HELD_AGGREGATES", 3)

    reversed_spend = _reversed_spend(money)
    reversed_vouchers = {(r[GRANT], r[MEMO]) for r in money if r[KIND] == "reverse"}
    first_spend = next(
        r for r in money if r[KIND] == "spend" and (r[GRANT], r[VOUCHER]) not in reversed_vouchers
    )
    respent = [*reversed_spend]  # the reversed voucher spent again, details unchanged
    conflicting = [*first_spend]
    conflicting[6] = "1.23"  # the first spend's voucher, another amount
    bad = [*money, [*first_spend], respent, conflicting]
    ledger = _copy(template, tmp_path / "dated")
    ledger.ok("import", str(approved), role="approver")
    approved_only = ledger.event_count()

    refused = ledger("import", "--jobs", jobs, str(_write(tmp_path / "bad.csv", bad)))

    assert refused.exit_code == 5, refused.output
    line = len(money) + 2  # the exact repeat's line (the header is line 1)
    errors = [" ".join(e.split()[:3]) for e in refused.stderr.splitlines() if e.startswith("bad.csv:")]
    assert errors == [
        f"bad.csv:{line + 1}: voucher {respent[VOUCHER]}",
        f"bad.csv:{line + 2}: voucher {first_spend[VOUCHER]}",
    ]
    assert "reversed on" in refused.stderr and "different content" in refused.stderr
    assert ledger.event_count() == approved_only  # nothing written

    good = _imported(
        ledger, approved, _write(tmp_path / "good.csv", [*money, [*first_spend]]), "--jobs", jobs
    )

    assert good.exit_code == 0, good.output
    assert ledger.balances() == reference.balances()
    assert _events(ledger) == _events(reference)
    events = ledger.event_count()
    again = ledger("import", "--jobs", jobs, str(tmp_path / "good.csv"))
    assert again.exit_code == 0 and "already recorded" in again.stdout, again.output
    assert ledger.event_count() == events


def _snapshots(ledger: Ledger) -> dict[bytes, tuple[int, dict[str, Any]]]:
    """Each aggregate's latest snapshot: its version and what it holds (but when it was taken,
    and when the aggregate was made and last changed: the runs record those at their own time)."""
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT originator_id, originator_version, state FROM ledger_snapshots")
            ).all()
    finally:
        engine.dispose()
    latest: dict[bytes, tuple[int, dict[str, Any]]] = {}
    for originator, version, state in found:
        fields = json.loads(state)
        fields.pop("timestamp", None)
        for noise in ("_created_on", "_modified_on"):
            fields["state"].pop(noise, None)
        if version > latest.get(bytes(originator), (0, {}))[0]:
            latest[bytes(originator)] = (version, fields)
    return latest


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "3"])
@pytest.mark.parametrize(("order", "cache"), [("grant", 1000), ("interleaved", 200), ("date", 5)])
def test_grants_moved_out_of_memory_store_the_snapshots_of_their_last_version(
    template: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str, cache: int, jobs: str
) -> None:
    """A grant whose dicts leave the import's memory has its snapshot taken then; stored only if
    no later row changed it. With 10 grants of about 300 rows each and room for a few grants'
    entries (or none), the import stores for every grant the snapshot one holding them all
    stores: of its last version, holding the same."""
    from ledger import importing

    approvals, money = _split(list(rows(3000, 11, 10, order)))
    approved = _write(tmp_path / "approvals.csv", approvals)
    body = _write(tmp_path / "money.csv", money)
    reference = _copy(template, tmp_path / "reference")
    assert _imported(reference, approved, body, "--jobs", jobs).exit_code == 0
    expected = _snapshots(reference)
    assert len(expected) >= 10 and all(version > 100 for version, _ in expected.values())

    monkeypatch.setattr(importing, "CACHE_VOUCHERS", cache)
    ledger = _copy(template, tmp_path / "moved")
    assert _imported(ledger, approved, body, "--jobs", jobs).exit_code == 0

    assert _snapshots(ledger) == expected
    assert ledger.balances() == reference.balances()


def _acts(ledger: Ledger) -> dict[str, int]:
    """How many events of each kind are stored, but the seals of the batches they were written in
    (an import checked in parts writes in more batches)."""
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT topic, COUNT(*) FROM ledger_events WHERE topic NOT LIKE '%Seal.%' GROUP BY topic"
                )
            ).all()
    finally:
        engine.dispose()
    return {str(topic): int(count) for topic, count in found}


def _newest_first(money: list[Row]) -> list[Row]:
    """As some finance systems export a year's vouchers: the newest first."""
    return sorted(money, key=lambda r: r[0], reverse=True)


@pytest.mark.slow
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.integers(min_value=30, max_value=160),
    bases=st.integers(min_value=2, max_value=5),
    seed=st.integers(min_value=0, max_value=10_000),
    shuffle=st.randoms(use_true_random=False),
    jobs=st.sampled_from(["1", "3"]),
)
def test_rows_in_no_date_order_at_all_give_the_same_balances(
    template: Ledger,
    tmp_path_factory: pytest.TempPathFactory,
    events: int,
    bases: int,
    seed: int,
    shuffle: random.Random,
    jobs: str,
) -> None:
    """A grant's rows newest first, or the whole file shuffled: each grant's spending came before
    the tranches paying for it, and the import refused a file whose every row holds on its date
    (exit 3, "exceeds its available balance of 0.00"). Now such a file is applied again by
    business date and gives the balances of the date-ordered file, to the fen."""
    folder = tmp_path_factory.mktemp("disordered")
    approvals, by_date = _split(list(rows(events, seed, bases, "date")))
    approved = _write(folder / "approvals.csv", approvals)
    shuffled = [*by_date]
    shuffle.shuffle(shuffled)
    reference = _copy(template, folder / "date")
    assert _imported(reference, approved, _write(folder / "date.csv", by_date)).exit_code == 0
    for order, money in {"newest first": _newest_first(by_date), "shuffled": shuffled}.items():
        ledger = _copy(template, folder / order.replace(" ", "-"))
        result = _imported(ledger, approved, _write(folder / f"{order}.csv", money), "--jobs", jobs)
        assert result.exit_code == 0, (order, result.output)
        assert ledger.balances() == reference.balances(), order
        assert _acts(ledger) == _acts(reference), order
    verified = ledger("projections", "verify")
    assert verified.exit_code == 0, verified.stderr


def test_a_file_newest_first_is_applied_by_business_date(template: Ledger, tmp_path: Path) -> None:
    """One grant's rows newest first, a spend reversed on its own day among them: the file broke
    the ring-fence in its own order; applied by date (a spend reversed on its day, then its reversal),
    every row holds. Stderr says which rows were out of order; imported again, nothing is new."""
    approvals, money = _split(list(rows(60, 3, 1, "date")))
    spend = next(r for r in money if r[KIND] == "spend")
    reversal = [spend[0], *spend[1:5], "reverse", "", "", "", "", "R-SAME-DAY", "", spend[VOUCHER]]
    dated = [*money, reversal]
    ledger = _copy(template, tmp_path / "newest")
    reference = _copy(template, tmp_path / "dated")
    approved = _write(tmp_path / "approvals.csv", approvals)
    assert (
        _imported(
            reference, approved, _write(tmp_path / "dated.csv", sorted(dated, key=lambda r: r[0]))
        ).exit_code
        == 0
    )

    newest = _newest_first(dated)
    result = _imported(ledger, approved, _write(tmp_path / "newest.csv", newest))

    assert result.exit_code == 0, result.output
    assert "newest.csv:3: rows of grant G0001 are not in date order (line 3" in result.stderr, result.stderr
    assert "applied again by business date" in result.stderr
    assert ledger.balances() == reference.balances()
    events = ledger.event_count()
    again = ledger("import", str(tmp_path / "newest.csv"))
    assert again.exit_code == 0 and "already recorded" in again.stdout, again.output
    assert ledger.event_count() == events


def test_a_bad_row_in_a_file_newest_first_is_named_and_nothing_written(
    template: Ledger, tmp_path: Path
) -> None:
    """Applied by date, the file's own bad row (a spend of more than was ever received) is the one
    refused: the rows that only failed for their order are not listed; nothing is written."""
    approvals, money = _split(list(rows(60, 3, 1, "date")))
    spend = next(r for r in reversed(money) if r[KIND] == "spend")
    too_much = [*spend]
    too_much[6], too_much[VOUCHER] = "99999999.00", "TOO-MUCH"
    ledger = _copy(template, tmp_path / "bad")
    approved = _write(tmp_path / "approvals.csv", approvals)
    ledger.ok("import", str(approved), role="approver")
    before = ledger.event_count()
    newest = _newest_first([*money, too_much])
    line = 2 + newest.index(too_much)

    refused = ledger("import", str(_write(tmp_path / "newest.csv", newest)))

    assert refused.exit_code == 3, refused.output
    errors = [e for e in refused.stderr.splitlines() if e.startswith("newest.csv:") and "date order" not in e]
    assert len(errors) == 1 and errors[0].startswith(f"newest.csv:{line}: spending 99,999,999.00"), errors
    assert "1 bad row of" in refused.stderr
    assert ledger.event_count() == before


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_row_past_the_header_is_refused_in_a_file_applied_by_date(
    template: Ledger, tmp_path: Path, suffix: str
) -> None:
    """A file newest first holding a spend row with a cell past the header's columns (a payee
    "ACME, Ltd" with its comma unquoted: every later cell moved on). In the file's order the row is
    refused at its line; applied again by business date, the row went to the scratch file as a
    plain dict, its overflow mark left behind, and was recorded with its memo lost and payee cut:
    the officer saw the file imported (exit 0) with a row the file does not say."""
    approvals, money = _split(list(rows(60, 3, 1, "date")))
    spend = next(r for r in money if r[KIND] == "spend")
    at = money.index(spend)
    moved: list[Any] = [*spend[:11], "ACME", " Ltd", "site 3 fencing"]
    money[at] = moved
    ledger = _copy(template, tmp_path / "overflow")
    approved = _write(tmp_path / "approvals.csv", approvals)
    ledger.ok("import", str(approved), role="approver")
    before = ledger.event_count()
    newest = _newest_first(money)
    line = 2 + newest.index(moved)

    refused = ledger("import", str(_write(tmp_path / f"newest{suffix}", newest)))

    assert refused.exit_code == 2, refused.output
    assert f"newest{suffix}:{line}: the row holds 14 cells but the header names 13" in refused.stderr
    assert ledger.event_count() == before


def _by_date_file(template: Ledger, tmp_path: Path, name: str, money: list[Row]) -> tuple[Ledger, int, Any]:
    """G0001's approval imported, then ``money`` newest first (so it fails in its own order): the
    ledger, its events before the money, and the import's result."""
    approvals, _ = _split(list(rows(40, 3, 1, "date")))
    ledger = _copy(template, tmp_path / name)
    ledger.ok("import", str(_write(tmp_path / f"{name}-approvals.csv", approvals)), role="approver")
    before = ledger.event_count()
    newest = sorted(reversed(money), key=lambda r: r[0], reverse=True)  # a date's rows newest first too
    return ledger, before, ledger("import", str(_write(tmp_path / f"{name}.csv", newest)))


def _money_row(on: str, kind: str, amount: str, voucher: str, memo: str = "", category: str = "") -> Row:
    spending = kind == "spend"
    return [
        on,
        "U0001",
        "B0001",
        "G0001",
        "district_base",
        kind,
        amount,
        "subsidy" if spending else "",
        "equipment" if spending else category,
        "patterns" if spending else "",
        voucher,
        "供应商001" if spending else "",
        memo,
    ]


def _same_as_in_order(template: Ledger, tmp_path: Path, ledger: Ledger, money: list[Row]) -> None:
    reference, _, _ = _by_date_file(template, tmp_path, "reference", [])
    assert reference("import", str(_write(tmp_path / "in-order.csv", money))).exit_code == 0
    assert ledger.balances() == reference.balances()


def _held_like(reference: Ledger, ledger: Ledger, path: Path) -> None:
    """``path`` imported into ``ledger`` by business date (exit 0, stderr says so), to the balances
    and the count of events of ``reference``, which imported the same rows in their order."""
    result = ledger("import", str(path))
    assert result.exit_code == 0, result.output
    assert "applied again by business date" in result.stderr, result.stderr
    assert ledger.balances() == reference.balances()
    assert ledger.event_count() == reference.event_count()


def _held_as_listed(
    template: Ledger, tmp_path: Path, money: list[Row], where: str, in_order: list[Row]
) -> None:
    """``money`` in date order but for one row of 2024-03-10 out of the order its money moves,
    imported by business date: exit 0, stderr saying ``where``, the balances of ``in_order``."""
    ledger, _, _ = _by_date_file(template, tmp_path, "listed", [])
    result = ledger("import", str(_write(tmp_path / "listed.csv", money)))
    assert result.exit_code == 0, result.output
    line = where.split(",")[0].removeprefix("line ")
    said = (
        f"listed.csv:{line}: rows of grant G0001 of 2024-03-10 are not in the order its money moves ({where})"
    )
    assert said in result.stderr, result.stderr
    _same_as_in_order(template, tmp_path, ledger, in_order)


def _held_by_date(template: Ledger, tmp_path: Path, money: list[Row]) -> Ledger:
    """``money`` newest first, imported by business date (exit 0, stderr says so) to the balances
    of the rows in their order; the ledger."""
    ledger, _, result = _by_date_file(template, tmp_path, "newest", money)
    assert result.exit_code == 0, result.output
    assert "applied again by business date" in result.stderr, result.stderr
    _same_as_in_order(template, tmp_path, ledger, money)
    return ledger


@pytest.mark.parametrize(
    "reversed_on",
    [
        pytest.param("2024-03-01", id="a spend before"),
        pytest.param("2024-03-10", id="a spend of the same day"),
    ],
)
def test_a_date_whose_reversal_makes_room_for_its_spending_holds_at_its_end(
    template: Ledger, tmp_path: Path, reversed_on: str
) -> None:
    """120,000.00 received; a spend of 100,000.00 reversed on 2024-03-10, the day 90,000.00 is
    spent again: at that day's end 90,000.00 stands, within the 120,000.00. Applied by date, the
    day's spending went before its reversals, so 190,000.00 stood at once and the 90,000.00 was
    refused (exit 3) though the file holds on every date. A reversal of a spend of an earlier
    date now goes before the day's spending; a spend reversed on its own day goes first, its
    reversal next. Balances are the file's in date order, to the fen."""
    money = [
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        _money_row(reversed_on, "spend", "100000.00", "G0001-BIG"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-BIG", "G0001-BIG"),
        _money_row("2024-03-10", "spend", "90000.00", "G0001-AGAIN"),
    ]
    ledger = _held_by_date(template, tmp_path, money)
    shown = ledger("balance", "B0001")
    assert "30,000.00" in shown.stdout, shown.stdout


@pytest.mark.parametrize("category", ["disburse", ""], ids=["named a receipt", "found by its voucher"])
def test_a_receipt_reversed_takes_money_out_after_the_dates_spending(
    template: Ledger, tmp_path: Path, category: str
) -> None:
    """170,000.00 received, 150,000.00 spent; on 2024-03-10 a tranche of 50,000.00 is reversed
    (listed first), the spend is reversed and 90,000.00 spent: at the day's end 90,000.00 of
    120,000.00. A receipt's reversal takes money out, so by date it goes after the day's money
    in (the spend's reversal) and its spending, whether the row names the receipt's kind or only
    its voucher. Taken as money in, it came first and left 150,000.00 spent of 120,000.00."""
    money = [
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        _money_row("2024-02-05", "disburse", "50000.00", "G0001-T2", "2"),
        _money_row("2024-03-01", "spend", "150000.00", "G0001-BIG"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-T2", "G0001-T2", category),
        _money_row("2024-03-10", "reverse", "", "G0001-R-BIG", "G0001-BIG"),
        _money_row("2024-03-10", "spend", "90000.00", "G0001-AGAIN"),
    ]
    ledger, _, result = _by_date_file(template, tmp_path, "newest", money)
    assert result.exit_code == 0, result.output
    _same_as_in_order(template, tmp_path, ledger, [*money[:3], *money[4:], money[3]])


def test_a_date_ending_above_its_receipts_is_still_refused_by_date(template: Ledger, tmp_path: Path) -> None:
    """The day's end decides: the spend reversed on 2024-03-10 makes room for 90,000.00, not for
    130,000.00 of 120,000.00 received. Refused (exit 3), the spend named, nothing written."""
    money = [
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        _money_row("2024-03-01", "spend", "100000.00", "G0001-BIG"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-BIG", "G0001-BIG"),
        _money_row("2024-03-10", "spend", "130000.00", "G0001-TOO-MUCH"),
    ]
    ledger, before, result = _by_date_file(template, tmp_path, "newest", money)
    assert result.exit_code == 3, result.output
    errors = [e for e in result.stderr.splitlines() if e.startswith("newest.csv:") and "again by" not in e]
    assert len(errors) == 1 and "130,000.00" in errors[0], result.stderr
    assert ledger.event_count() == before


def test_a_dates_spending_listed_above_its_tranche_is_applied_by_date(
    template: Ledger, tmp_path: Path
) -> None:
    """Every row of one date, the newest first: the spend above the tranche paying for it. No row
    is dated before one above it, so the file was refused (exit 3, "exceeds its available balance
    of 0.00") and never applied by date. Its money moves in the wrong order within the date: it is
    applied by business date, stderr says where, and the balances are the file's in order."""
    money = [
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        _money_row("2024-02-05", "spend", "1200.00", "G0001-S1"),
        _money_row("2024-02-05", "reverse", "", "G0001-R-S1", "G0001-S1"),
        _money_row("2024-02-05", "spend", "900.00", "G0001-S2"),
    ]
    ledger, _, result = _by_date_file(template, tmp_path, "newest", money)
    assert result.exit_code == 0, result.output
    said = (
        "newest.csv:3: rows of grant G0001 of 2024-02-05 are not in the order its money moves "
        "(line 3, reverse, comes after line 2, spend)"
    )
    assert said in result.stderr, result.stderr
    _same_as_in_order(template, tmp_path, ledger, money)


@pytest.mark.parametrize("category", ["disburse", ""], ids=["named a receipt", "found by its voucher"])
@pytest.mark.parametrize("listed", ["newest first", "tranche above the reversal"])
def test_a_tranche_reversed_and_disbursed_again_on_its_date_is_applied_by_date(
    template: Ledger, tmp_path: Path, category: str, listed: str
) -> None:
    """All 200,000.00 approved disbursed on 2024-03-10 under a wrong voucher, reversed that day and
    disbursed again under a new one: at the day's end 200,000.00 disbursed. By date the day's
    receipts went first, its receipts' reversals after the spending: the second tranche made
    400,000.00 disbursed and was refused (exit 3, "tranches within approval", then "no
    disbursement G0001-T1 to reverse"), in any order but the file's; listed with the second
    tranche above the reversal, the file was refused and never applied by date. A receipt
    reversed on its own date now goes first of the date's receipts, its reversal next."""
    money = [
        _money_row("2024-03-10", "disburse", "200000.00", "G0001-T1", "1"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-T1", "G0001-T1", category),
        _money_row("2024-03-10", "disburse", "200000.00", "G0001-T1B", "1"),
        _money_row("2024-03-11", "spend", "1000.00", "G0001-S1"),
    ]
    if listed == "newest first":
        ledger, _, result = _by_date_file(template, tmp_path, "newest", money)
    else:
        ledger, _, _ = _by_date_file(template, tmp_path, "listed", [])
        result = ledger("import", str(_write(tmp_path / "listed.csv", [money[0], *money[2:0:-1], money[3]])))
        said = (
            "listed.csv:4: rows of grant G0001 of 2024-03-10 are not in the order its money moves "
            "(line 4, reverse, comes after line 3, disburse)"
        )
        assert said in result.stderr, result.stderr
    assert result.exit_code == 0, result.output
    assert "applied again by business date" in result.stderr, result.stderr
    _same_as_in_order(template, tmp_path, ledger, money)


def test_a_spend_reversed_on_its_date_below_another_spend_is_applied_by_date(
    template: Ledger, tmp_path: Path
) -> None:
    """120,000.00 received; on 2024-03-10 100,000.00 spent, 90,000.00 spent, then the first
    reversed: the day ends at 90,000.00. In the file's order the second spend found 20,000.00 and
    was refused, and the file was never applied by date: the reversal was checked only against the
    spends listed before its spend, not those between. By date it goes with its spend, before the
    other one; the file is applied so, stderr naming the reversal and the spend above it."""
    money = [
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        _money_row("2024-03-10", "spend", "100000.00", "G0001-BIG"),
        _money_row("2024-03-10", "spend", "90000.00", "G0001-AGAIN"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-BIG", "G0001-BIG"),
    ]
    _held_as_listed(
        template,
        tmp_path,
        money,
        "line 5, reverse, comes after line 4, spend",
        [*money[:2], money[3], money[2]],
    )


def _spent_and_reversed(pairs: int, voucher: str | None) -> list[tuple[int, dict[str, str]]]:
    """One grant's ``pairs`` spends of 2024-03-10, each followed by its reversal (as the date's
    order takes them: no row out of order), each under ``voucher``, or its own."""
    from ledger.import_format import HEADER as COLUMNS

    def row(kind: str, on: str, voucher: str, memo: str) -> dict[str, str]:
        return {**dict.fromkeys(COLUMNS, ""), "date": on, "grant_id": "G0001", "kind": kind,
                "voucher": voucher, "memo": memo}  # fmt: skip

    vouchers = [f"S{n}" if voucher is None else voucher for n in range(pairs)]
    listed = [row(kind, "2024-03-10", v if kind == "spend" else "R", "" if kind == "spend" else v)
              for v in vouchers for kind in ("spend", "reverse")]  # fmt: skip
    return list(enumerate(listed, start=2))


def _sqlite_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The steps of SQLite's instructions (a hundred each) on every connection opened from now on,
    counted in the one-item list returned, until ``monkeypatch.undo()``."""
    import sqlite3

    connect = sqlite3.connect
    counted = [0]

    def step() -> int:
        counted[0] += 1
        return 0

    def counting(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_progress_handler(step, 100)
        return conn

    monkeypatch.setattr(sqlite3, "connect", counting)
    return counted


@pytest.mark.parametrize("voucher", [None, ""], ids=["own vouchers", "one voucher (an empty column)"])
def test_a_dates_many_reversals_cost_steps_in_proportion_to_the_rows(
    monkeypatch: pytest.MonkeyPatch, voucher: str | None
) -> None:
    """A file of 100,000 spends of one date, each followed by its reversal: finding whether it is
    out of order went over the date's spends at each reversal (six minutes of work before a file
    breaking a rule was refused), and ranking a file whose spends share a voucher (a column left
    empty: every row is refused) looked up the first line of the voucher over all its spends at
    each reversal (about an hour). Each now costs steps in proportion to the rows: four times the
    rows, about four times the steps (Python's lines and SQLite's instructions counted, not time)."""
    import sys

    from ledger import import_order

    def steps(pairs: int) -> tuple[int, int]:
        rows = _spent_and_reversed(pairs, voucher)
        lines = 0

        def trace(frame: Any, event: str, arg: Any) -> Any:
            nonlocal lines
            lines += event == "line"
            return trace

        sys.settrace(trace)
        try:
            import_order.first_disorder(iter(rows))
        finally:
            sys.settrace(None)
        instructions = _sqlite_steps(monkeypatch)
        with import_order.by_business_date(iter(rows)) as ordered:
            assert sum(1 for _ in ordered) == len(rows)
        monkeypatch.undo()
        return lines, instructions[0]

    small, large = steps(500), steps(2000)
    assert large[0] < 6 * small[0], (small, large)
    assert large[1] < 6 * small[1], (small, large)


@pytest.mark.parametrize("amounts", ["none", "each its own", "each another"])
def test_many_tranches_reversed_on_a_later_date_cost_steps_in_proportion_to_the_rows(
    monkeypatch: pytest.MonkeyPatch, amounts: str
) -> None:
    """A grant's tranches of 2024-02-05, each reversed on 2024-03-10 and disbursed again under a new
    voucher: finding which grants have such reversals once rows are refused, and ranking them first
    of the date's receipts (or each right before the tranche of its amount disbursed again) look
    each up on an index: four times the rows, about four times the steps (SQLite's instructions
    counted, not time). Each disbursed again at another amount, the first search for a tranche of
    the amount looked at every receipt of the date, before its index was made: 16 times the steps
    (found by a red-team pass)."""

    from ledger import import_order
    from ledger.import_format import HEADER as COLUMNS

    def row(kind: str, on: str, voucher: str, memo: str = "", amount: str = "") -> dict[str, str]:
        category = "disburse" if kind == "reverse" else ""
        return {**dict.fromkeys(COLUMNS, ""), "date": on, "grant_id": "G0001", "kind": kind,
                "voucher": voucher, "memo": memo, "category": category, "amount": amount}  # fmt: skip

    redone = date(2024, 3, 10).toordinal()

    def steps(tranches: int) -> int:
        amount = [f"{n + 1}.00" if amounts != "none" else "" for n in range(tranches)]
        again = [f"{n + 1}.50" if amounts == "each another" else amount[n] for n in range(tranches)]
        listed = [row("disburse", "2024-02-05", f"T{n}", amount=amount[n]) for n in range(tranches)]
        for n in range(tranches):
            listed += [
                row("reverse", "2024-03-10", f"R{n}", f"T{n}"),
                row("disburse", "2024-03-10", f"T{n}B", amount=again[n]),
            ]
        rows = list(enumerate(listed, start=2))
        instructions = _sqlite_steps(monkeypatch)
        with import_order.by_business_date(iter(rows)) as ordered:
            assert sum(1 for _ in ordered) == len(rows)
            orders = ordered.next_orders({"G0001": redone})  # refused first on 2024-03-10
        assert orders == import_order.Orders({"G0001": ((redone, 2),)}, {"G0001": frozenset({0, 2})})
        with import_order.by_business_date(iter(rows), orders) as ordered:
            taken = [line for line, _ in ordered]
        reversals = [2 + tranches + 2 * n for n in range(tranches)]
        if amounts != "each its own":  # the date's reversals of earlier tranches first of its receipts
            assert taken[tranches : 2 * tranches] == reversals
        else:  # each right before its tranche disbursed again
            assert taken[tranches:] == [line for r in reversals for line in (r, r + 1)]
        monkeypatch.undo()
        return instructions[0]

    small, large = steps(500), steps(2000)
    assert large < 6 * small, (small, large)


def test_an_extension_listed_above_its_grants_approval_of_that_date_is_applied_by_date(
    template: Ledger, tmp_path: Path
) -> None:
    """An approver's file newest first: G0001's build period extended on the day it is approved,
    the extension listed above the approval. Refused in its own order (exit 4, "grant G0001 is not
    in the ledger") and never applied by date: an extend row had no rank of its own, went last of
    its date by date but was never counted as listed, so nothing in the file was out of order.
    The same two rows the other way round import. An extension now goes after its grant's approval."""
    approvals, _ = _split(list(rows(40, 3, 1, "date")))
    approve = approvals[0]
    extend = [approve[0], "", "", "G0001", "", "extend", "", "", "", "", "延期〔2024〕1号", "", "2030-12-31"]
    ledger = _copy(template, tmp_path / "newest")
    result = ledger("import", str(_write(tmp_path / "newest.csv", [extend, approve])), role="approver")
    assert result.exit_code == 0, result.output
    said = f"newest.csv:3: rows of grant G0001 of {approve[0]} are not in the order its money moves"
    assert said in result.stderr, result.stderr
    reference = _copy(template, tmp_path / "dated")
    reference.ok("import", str(_write(tmp_path / "dated.csv", [approve, extend])), role="approver")
    assert _events(ledger) == _events(reference)


def _unmade_rows(money: list[Row], grant: str) -> list[Row]:
    """A tranche and a spend of ``grant`` (a grant no ledger here holds), the spend listed first
    though dated before the tranche: out of date order."""
    tranche = next(r for r in money if r[KIND] == "disburse")
    spend = next(r for r in money if r[KIND] == "spend")
    later = [max(r[0] for r in money), *tranche[1:]]
    assert spend[0] < later[0]
    return [[*r[:GRANT], grant, *r[GRANT + 1 :]] for r in (later, spend)]


def test_rows_of_a_grant_neither_the_ledger_nor_the_file_makes_are_refused_as_listed(
    template: Ledger, tmp_path: Path
) -> None:
    """A grant the ledger lacks and no row of the file approves is refused at every row in any
    order: its rows out of date order are not a reason to read the file again by business date
    (a file of another ledger named a million such grants, and the order check held each one).
    The refusal lists its rows; nothing is written."""
    approvals, money = _split(list(rows(60, 3, 1, "date")))
    ledger = _copy(template, tmp_path / "other")
    ledger.ok("import", str(_write(tmp_path / "approvals.csv", approvals)), role="approver")
    before = ledger.event_count()
    unmade = _unmade_rows(money, "X9")

    refused = ledger("import", str(_write(tmp_path / "other.csv", [*unmade, *money])))

    assert refused.exit_code == 4, refused.output
    assert "not in date order" not in refused.stderr and "business date" not in refused.stderr, refused.stderr
    listed = [e for e in refused.stderr.splitlines() if e.startswith("other.csv:")]
    assert listed == [f"other.csv:{n}: grant X9 is not in the ledger" for n in (2, 3)], refused.stderr
    assert ledger.event_count() == before


def test_a_known_grants_disorder_is_found_past_rows_of_a_grant_no_one_makes(
    template: Ledger, tmp_path: Path
) -> None:
    """The rows of a grant no one makes come first, out of date order; G0001's rows follow newest
    first, its spending above the tranches that pay for it. The order check passes over the first
    grant and finds G0001's: the file is applied by date, where every G0001 row holds, and only
    the unmade grant's two rows are refused. Nothing is written."""
    approvals, money = _split(list(rows(60, 3, 1, "date")))
    approved = _write(tmp_path / "approvals.csv", approvals)
    newest = _newest_first(money)
    alone = _copy(template, tmp_path / "alone")
    assert _imported(alone, approved, _write(tmp_path / "alone.csv", newest)).exit_code == 0
    ledger = _copy(template, tmp_path / "mixed")
    ledger.ok("import", str(approved), role="approver")
    before = ledger.event_count()

    refused = ledger("import", str(_write(tmp_path / "mixed.csv", [*_unmade_rows(money, "X9"), *newest])))

    assert refused.exit_code == 4, refused.output
    told = "mixed.csv:5: rows of grant G0001 are not in date order (line 5, {0}, comes after line 4, {1})"
    assert told.format(newest[1][0], newest[0][0]) in refused.stderr, refused.stderr
    listed = [e for e in refused.stderr.splitlines() if e.startswith("mixed.csv:") and "date order" not in e]
    assert listed == [f"mixed.csv:{n}: grant X9 is not in the ledger" for n in (2, 3)], refused.stderr
    assert ledger.event_count() == before


@pytest.mark.parametrize("act", ["spend", "disburse"])
def test_an_act_listed_twice_and_reversed_on_its_date_is_applied_by_date(
    template: Ledger, tmp_path: Path, act: str
) -> None:
    """A spend (or a tranche) listed twice, the same row (two exports joined), and reversed on its
    date: in date order the repeat is "already recorded" and the reversal reverses the one act.
    Newest first, by date the reversal went right after the act's first row, so its repeat came
    after the reversal: refused (exit 5, "a reversed voucher is not spent again"). The reversal now
    goes after the act's last row."""
    twice = (
        _money_row("2024-03-10", "spend", "1000.00", "G0001-S1")
        if act == "spend"
        else _money_row("2024-03-10", "disburse", "80000.00", "G0001-T2", "2")
    )
    money = [
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        twice,
        twice,
        _money_row("2024-03-10", "reverse", "", "G0001-R", twice[VOUCHER]),
    ]
    _held_by_date(template, tmp_path, money)


def _from_matching(money: list[Row]) -> list[Row]:
    """``money`` with its matching rows (the commitment, receipts, the spend G0001-S1) from the
    matching fund, committed by the host unit."""
    for row in money:
        if row[KIND] in ("match_commit", "match_receive") or row[VOUCHER] == "G0001-S1":
            row[7] = "matching"
        if row[KIND] == "match_commit":
            row[11] = "host unit"
    return money


def test_a_receipt_reversed_once_the_spending_it_paid_is_reversed_is_applied_by_date(
    template: Ledger, tmp_path: Path
) -> None:
    """On 2024-02-06 matching of 2,000.00 is received, 20.00 of it spent, the spend reversed and
    then the receipt (found by hypothesis: tests/test_import_order_days.py). Newest first, the
    receipt and its reversal went first of the date, as a tranche disbursed again that day
    needs, and the spend found no matching (exit 3). A receipt goes with its reversal only where
    the date receives the same kind again; else its reversal waits for the date's spending. On
    the same date a tranche disbursed under a wrong voucher, reversed and disbursed again still
    counts once against the approved amount."""
    money = [
        _money_row("2024-02-05", "match_commit", "200000.00", "G0001-MC"),
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        _money_row("2024-02-06", "match_receive", "2000.00", "G0001-MR"),
        _money_row("2024-02-06", "spend", "20.00", "G0001-S1"),
        _money_row("2024-02-06", "reverse", "", "G0001-R-S1", "G0001-S1"),
        _money_row("2024-02-06", "disburse", "80000.00", "G0001-T2-WRONG", "2"),
        _money_row("2024-02-06", "reverse", "", "G0001-R-T2", "G0001-T2-WRONG"),
        _money_row("2024-02-06", "disburse", "80000.00", "G0001-T2", "2"),
        _money_row("2024-02-06", "reverse", "", "G0001-R-MR", "G0001-MR", "match_receive"),
    ]
    _held_by_date(template, tmp_path, _from_matching(money))


def test_a_date_no_one_order_of_receipts_holds_is_tried_in_the_other(
    template: Ledger, tmp_path: Path
) -> None:
    """On 2024-02-06 matching of 2,000.00 and of 10.00 is received, 1,500.00 spent, the spend
    reversed and then the 2,000.00. The date receives matching again, so its reversal goes with
    it first of the date: 10.00 is left for the 1,500.00 (refused). Applied again with every
    receipt's reversal after the date's spending, the file holds: it is imported, the balances
    are the file's in date order."""
    money = [
        _money_row("2024-02-05", "match_commit", "200000.00", "G0001-MC"),
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        _money_row("2024-02-06", "match_receive", "2000.00", "G0001-MR1"),
        _money_row("2024-02-06", "match_receive", "10.00", "G0001-MR2"),
        _money_row("2024-02-06", "spend", "1500.00", "G0001-S1"),
        _money_row("2024-02-06", "reverse", "", "G0001-R-S1", "G0001-S1"),
        _money_row("2024-02-06", "reverse", "", "G0001-R-MR1", "G0001-MR1", "match_receive"),
    ]
    ledger, _, result = _by_date_file(template, tmp_path, "newest", _from_matching(money))
    assert result.exit_code == 0, result.output
    _same_as_in_order(template, tmp_path, ledger, money)


def test_a_grant_needing_one_order_on_one_date_and_another_on_a_later_date_is_applied_by_date(
    template: Ledger, tmp_path: Path
) -> None:
    """One grant: on 2024-03-10 the tranche of 2024-02-05 (all 200,000.00 approved) is reversed
    and disbursed again (the reversal must go before the date's tranche); on 2024-04-15 matching
    is received and the receipt of 2024-02-06, partly spent, reversed (its reversal must wait for
    the date's receipt). A grant was tried in one order of all its dates, and none holds both:
    refused (exit 3) newest first. A grant refused on a date is now tried in its next order from
    that date on, its earlier dates kept in the order that held them."""
    money = _from_matching(
        [
            _money_row("2024-02-05", "match_commit", "200000.00", "G0001-MC"),
            _money_row("2024-02-05", "disburse", "200000.00", "G0001-T1", "1"),
            _money_row("2024-02-06", "match_receive", "2000.00", "G0001-MR1"),
            _money_row("2024-02-06", "spend", "1500.00", "G0001-S1"),
            _money_row("2024-03-10", "reverse", "", "G0001-R-T1", "G0001-T1", "disburse"),
            _money_row("2024-03-10", "disburse", "200000.00", "G0001-T1B", "1"),
            _money_row("2024-04-15", "match_receive", "2000.00", "G0001-MR2"),
            _money_row("2024-04-15", "reverse", "", "G0001-R-MR1", "G0001-MR1", "match_receive"),
        ]
    )
    _held_by_date(template, tmp_path, money)


@pytest.mark.parametrize("category", ["disburse", ""], ids=["named a receipt", "found by its voucher"])
def test_a_tranche_of_an_earlier_date_reversed_and_disbursed_again_is_applied_by_date(
    template: Ledger, tmp_path: Path, category: str
) -> None:
    """All 200,000.00 approved disbursed on 2024-02-05; on 2024-03-10 that tranche is reversed and
    disbursed again under a new voucher, and spent from. By date the new tranche went before the
    reversal of the earlier one (which waits for the date's spending): 400,000.00 disbursed at
    once, refused (exit 3, "tranches within approval"), in any order but the file's. A grant
    refused so is tried with such a reversal first of its date's receipts."""
    money = [
        _money_row("2024-02-05", "disburse", "200000.00", "G0001-T1", "1"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-T1", "G0001-T1", category),
        _money_row("2024-03-10", "disburse", "200000.00", "G0001-T1B", "1"),
        _money_row("2024-03-10", "spend", "150000.00", "G0001-S1"),
    ]
    _held_by_date(template, tmp_path, money)


def test_a_tranche_disbursed_again_beside_another_returned_that_date_is_applied_by_date(
    template: Ledger, tmp_path: Path
) -> None:
    """All 200,000.00 approved disbursed on 2024-02-05 in two tranches and 1,200.00 spent; on
    2024-02-06 the first tranche is reversed and disbursed again, then the second returned. The
    date needs the first's reversal before its new tranche (the approved amount) and the second's
    after it (the money left): by kind both waited for the spending (400,000.00 disbursed at
    once), early both went first (the first's reversal then found 118,800.00 for 120,000.00), so
    newest first it was refused (exit 3; found by hypothesis). A date's orders now include the
    reversals early only where the date disburses their amount again."""
    money = [
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        _money_row("2024-02-05", "spend", "1200.00", "G0001-S0"),
        _money_row("2024-02-05", "disburse", "80000.00", "G0001-T2", "2"),
        _money_row("2024-02-06", "reverse", "", "G0001-R-T1", "G0001-T1", "disburse"),
        _money_row("2024-02-06", "disburse", "120000.00", "G0001-T1B", "1"),
        _money_row("2024-02-06", "reverse", "", "G0001-R-T2", "G0001-T2", "disburse"),
    ]
    _held_by_date(template, tmp_path, money)


def _of_grant(row: Row, n: int) -> Row:
    return [
        row[0],
        f"U{n:04d}",
        f"B{n:04d}",
        f"G{n:04d}",
        *row[4:10],
        row[VOUCHER].replace("G0001", f"G{n:04d}"),
        row[11],
        row[MEMO].replace("G0001", f"G{n:04d}"),
    ]


def test_two_grants_needing_two_orders_of_a_date_are_each_applied_in_theirs(
    template: Ledger, tmp_path: Path
) -> None:
    """G0001 reverses its tranche of 2024-02-05 on 2024-03-10 and disburses it again (its reversal
    must go first of the date's receipts: the approved amount is all disbursed); G0002 receives
    matching on 2024-03-10 and reverses an earlier receipt whose money is partly spent (its reversal
    must wait for the date's new receipt). No one order of the file's dates holds both: each grant
    refused is tried in its next order, the other kept in the one that held it."""
    first = [
        _money_row("2024-02-05", "disburse", "200000.00", "G0001-T1", "1"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-T1", "G0001-T1", "disburse"),
        _money_row("2024-03-10", "disburse", "200000.00", "G0001-T1B", "1"),
    ]
    second = _from_matching(
        [
            _money_row("2024-02-05", "match_commit", "200000.00", "G0001-MC"),
            _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
            _money_row("2024-02-06", "match_receive", "2000.00", "G0001-MR1"),
            _money_row("2024-02-06", "spend", "1500.00", "G0001-S1"),
            _money_row("2024-03-10", "match_receive", "2000.00", "G0001-MR2"),
            _money_row("2024-03-10", "reverse", "", "G0001-R-MR1", "G0001-MR1", "match_receive"),
        ]
    )
    money = sorted([*first, *(_of_grant(r, 2) for r in second)], key=lambda r: r[0])
    approvals = [r for r in rows(80, 3, 2, "date") if r[KIND] == "approve"]
    reference = _copy(template, tmp_path / "reference")
    ledger = _copy(template, tmp_path / "newest")
    for each in (reference, ledger):
        each.ok("import", str(_write(tmp_path / "approvals.csv", approvals)), role="approver")
    before = ledger.event_count()
    assert reference("import", str(_write(tmp_path / "in-order.csv", money))).exit_code == 0
    result = ledger("import", str(_write(tmp_path / "newest.csv", _newest_first(money))))
    assert result.exit_code == 0, result.output
    assert ledger.event_count() - before == reference.event_count() - before
    assert ledger.balances() == reference.balances()
    assert set(ledger.balances()) == {"B0001", "B0002"}


def test_grants_refused_past_the_listed_bad_rows_are_tried_in_their_next_order(
    template: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four grants each reverse their tranche of 2024-02-05 on 2024-03-10 and disburse it again
    (each needs the reversal first of the date's receipts), newest first: by date each grant has
    two bad rows. Only the bad rows listed (``LISTED_ERRORS``, here 2: one grant's) chose the
    grants tried in their next order, one grant a pass, and after three more passes the fourth
    was still refused (exit 3) though the file holds in date order. Every grant of a bad row,
    listed or not, is now tried in its next order."""
    from ledger import importing

    one = [
        _money_row("2024-02-05", "disburse", "200000.00", "G0001-T1", "1"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-T1", "G0001-T1", "disburse"),
        _money_row("2024-03-10", "disburse", "200000.00", "G0001-T1B", "1"),
        _money_row("2024-03-10", "spend", "150000.00", "G0001-S1"),
    ]
    approvals = [r for r in rows(80, 3, 6, "date") if r[KIND] == "approve"]
    district = [int(r[GRANT][1:]) for r in approvals if r[4] == "district_base"]
    assert len(district) == 4  # 200,000.00 each
    money = sorted([_of_grant(r, n) for n in district for r in one], key=lambda r: r[0])
    reference = _copy(template, tmp_path / "reference")
    ledger = _copy(template, tmp_path / "newest")
    for each in (reference, ledger):
        each.ok("import", str(_write(tmp_path / "approvals.csv", approvals)), role="approver")
    before = ledger.event_count()
    assert reference("import", str(_write(tmp_path / "in-order.csv", money))).exit_code == 0
    monkeypatch.setattr(importing, "LISTED_ERRORS", 2)
    result = ledger("import", "--jobs", "1", str(_write(tmp_path / "newest.csv", money[::-1])))
    assert result.exit_code == 0, result.output
    assert ledger.event_count() - before == reference.event_count() - before
    assert ledger.balances() == reference.balances()
    assert _events(ledger) == _events(reference)


def _passes_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The passes over import files from now on (``record_rows`` calls), the list's one number."""
    from commands import importer

    passes = [0]
    record_rows = importer.record_rows

    def counted(*args: Any, **options: Any) -> Any:
        passes[0] += 1
        return record_rows(*args, **options)

    monkeypatch.setattr(importer, "record_rows", counted)
    return passes


def test_a_file_by_date_stops_once_a_refused_grant_has_no_other_order(
    template: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """G0001 spends more than it received on a date with no reversal, which no order of the date
    holds; G0002 needs its reversal of an earlier tranche first of a date. Newest first, the file
    is refused (exit 3) naming G0001's spend, after two passes (as listed, then by date): it
    cannot hold, so G0002's next order is not tried in a third."""
    bad = [
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        _money_row("2024-02-06", "spend", "130000.00", "G0001-S1"),
    ]
    redone = [
        _money_row("2024-02-05", "disburse", "200000.00", "G0001-T1", "1"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-T1", "G0001-T1", "disburse"),
        _money_row("2024-03-10", "disburse", "200000.00", "G0001-T1B", "1"),
    ]
    money = sorted([*bad, *(_of_grant(r, 2) for r in redone)], key=lambda r: r[0])
    approvals = [r for r in rows(80, 3, 2, "date") if r[KIND] == "approve"]
    ledger = _copy(template, tmp_path / "newest")
    ledger.ok("import", str(_write(tmp_path / "approvals.csv", approvals)), role="approver")
    before = ledger.event_count()
    passes = _passes_counted(monkeypatch)
    result = ledger("import", str(_write(tmp_path / "newest.csv", _newest_first(money))))
    assert result.exit_code == 3, result.output
    assert "G0001" in result.stderr and "130,000.00" in result.stderr, result.stderr
    assert passes == [2]
    assert ledger.event_count() == before


def test_a_file_refused_on_a_later_date_names_that_dates_row_not_an_earlier_one_held(
    template: Ledger, tmp_path: Path
) -> None:
    """G0001 reverses its tranche of 2024-02-05 on 2024-03-10 and disburses it again (the reversal
    must go first of the date's receipts), and on 2024-04-15 spends 900,000.00, which no order
    holds. Newest first, the first pass by date was refused on 2024-03-10 ("tranches within
    approval", 400,000.00), so the spend found 0.00; the next pass held that date and was refused
    on 2024-04-15, where no order is left. The refusal was the first pass's: the tranche another
    order held, and the spend against 0.00. It is now the pass's that first met the date no order
    holds: the spend alone, against the 200,000.00 it found."""
    money = [
        _money_row("2024-02-05", "disburse", "200000.00", "G0001-T1", "1"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-T1", "G0001-T1", "disburse"),
        _money_row("2024-03-10", "disburse", "200000.00", "G0001-T1B", "1"),
        _money_row("2024-04-15", "spend", "900000.00", "G0001-S9"),
    ]
    ledger, before, result = _by_date_file(template, tmp_path, "newest", money)
    assert result.exit_code == 3, result.output
    bad = [
        line.split(" — ")[0]
        for line in result.stderr.splitlines()
        if line.startswith("newest.csv:") and "not in date order" not in line
    ]
    assert bad == [
        "newest.csv:2: spending 900,000.00 from the subsidy (财政补助) of grant G0001 exceeds its "
        "available balance of 200,000.00"
    ], result.stderr
    assert "1 bad row of 4 in newest.csv; nothing was imported" in result.stderr, result.stderr
    assert ledger.event_count() == before


def _backwards(money: list[Row]) -> list[Row]:
    """The newest first, a date's rows too (as ``_by_date_file`` lists them)."""
    return sorted(reversed(money), key=lambda r: r[0], reverse=True)


def _redone_wrong_vouchers(pairs: int) -> list[Row]:
    """G0001: 100,000.00 disbursed on 2024-02-05; on 2024-03-10 ``pairs`` tranches of 50,000.00 in
    all each disbursed under a wrong voucher, reversed and disbursed again, the first tranche
    reversed and disbursed again, and 900,000.00 spent, which no order of the date holds."""
    money = [_money_row("2024-02-05", "disburse", "100000.00", "G0001-T1", "1")]
    amount = f"{50000 / pairs:.2f}"
    for i in range(pairs):
        money += [
            _money_row("2024-03-10", "disburse", amount, f"G0001-X{i}-WRONG", "2"),
            _money_row("2024-03-10", "reverse", "", f"G0001-R-X{i}", f"G0001-X{i}-WRONG", "disburse"),
            _money_row("2024-03-10", "disburse", amount, f"G0001-X{i}", "2"),
        ]
    return [
        *money,
        _money_row("2024-03-10", "reverse", "", "G0001-R-T1B", "G0001-T1", "disburse"),
        _money_row("2024-03-10", "disburse", "100000.00", "G0001-T1B", "1"),
        _money_row("2024-03-10", "spend", "900000.00", "G0001-S9"),
    ]


def _refused_rows(template: Ledger, tmp_path: Path, name: str, listed: list[Row]) -> tuple[list[str], str]:
    """``listed`` imported after the approvals of two grants: refused (exit 3) with nothing
    written; the bad rows it names (line and sentence, without the rule's clause), and stderr."""
    approvals = [r for r in rows(80, 3, 2, "date") if r[KIND] == "approve"]
    ledger = _copy(template, tmp_path / name)
    ledger.ok("import", str(_write(tmp_path / f"{name}-approvals.csv", approvals)), role="approver")
    before = ledger.event_count()
    result = ledger("import", str(_write(tmp_path / f"{name}.csv", listed)))
    assert result.exit_code == 3, result.output
    assert ledger.event_count() == before
    bad = [
        line.split(" — ")[0].removeprefix(f"{name}.csv")
        for line in result.stderr.splitlines()
        if line.startswith(f"{name}.csv:") and "applied again by business date" not in line
    ]
    return bad, result.stderr


def test_a_grant_no_order_holds_is_refused_alike_beside_a_grant_another_order_holds(
    template: Ledger, tmp_path: Path
) -> None:
    """G0002 has a date no order holds (a spend of 900,000.00); G0001 one that its next order
    holds (the tranche reversed and disbursed again). Newest first, the refusal named G0001's
    tranche, which a later order held; then (60a1aaa) G0002's rows in the order G0001's refusal
    had moved it on to, one of them "no disbursement ... to reverse", whose disbursement the
    file holds (found by a red-team pass). Each grant's bad rows are now those of its best order
    tried: the same as the file without G0001 (its rows are the same lines of both files)."""
    redone = [
        _money_row("2024-02-05", "disburse", "200000.00", "G0001-T1", "1"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-T1", "G0001-T1", "disburse"),
        _money_row("2024-03-10", "disburse", "200000.00", "G0001-T1B", "1"),
    ]
    second = [_of_grant(r, 2) for r in _redone_wrong_vouchers(1)]
    alone, _ = _refused_rows(template, tmp_path, "alone", _backwards(second))
    both, stderr = _refused_rows(
        template, tmp_path, "both", _backwards(sorted([*redone, *second], key=lambda r: r[0]))
    )
    assert both == alone, stderr
    assert [b.split(":")[1] for b in both] == ["2"], stderr  # the spend alone, every order's
    assert "1 bad row of 10 in both.csv" in stderr, stderr


def test_the_row_no_order_holds_is_listed_past_a_thousand_bad_rows_of_another_order(
    template: Ledger, tmp_path: Path
) -> None:
    """400 tranches of G0002 each disbursed under a wrong voucher, reversed and disbursed again on
    the date of its spend of 900,000.00, listed last; G0001's date holds in its next order. The
    order G0002 was left in by G0001's refusal refused 1,201 rows, and the 1,000 listed were its
    tranches, which another order holds, not the spend (found by a red-team pass). The refusal
    lists the bad rows of G0002's best order tried: the spend is among them."""
    redone = [
        _money_row("2024-02-05", "disburse", "200000.00", "G0001-T1", "1"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-T1", "G0001-T1", "disburse"),
        _money_row("2024-03-10", "disburse", "200000.00", "G0001-T1B", "1"),
    ]
    second = [_of_grant(r, 2) for r in _redone_wrong_vouchers(400)]
    newest = _backwards(sorted([*redone, *second], key=lambda r: r[0]))
    spend = [r for r in newest if r[VOUCHER] == "G0002-S9"]
    bad, stderr = _refused_rows(template, tmp_path, "both", [r for r in newest if r not in spend] + spend)
    assert any(": spending 900,000.00" in b for b in bad), stderr[-600:]
    assert len(bad) < 1000, stderr[-600:]


@pytest.mark.parametrize("also", ["", "another bad row of G0002 first"])
def test_a_row_every_order_refuses_is_listed_past_a_thousand_bad_rows_of_an_order_another_holds(
    template: Ledger, tmp_path: Path, also: str
) -> None:
    """G0001's 1,000 tranches each disbursed under a wrong voucher, reversed and disbursed again on
    2024-03-10, newest first and listed first: the first pass by date refuses 1,000 of its rows,
    the next holds them. G0002, listed last, spends 900,000.00 that date, refused alike in every
    order. Its bad rows, taken from the first pass (its fewest, tied), were past the 1,000 listed
    there: the refusal listed no row, and `import` said "already recorded ... nothing written"
    and exited 0; with another bad row of G0002 first, one of the two was listed and the spend
    counted as not listed (found by a red-team pass). The refusal is now a pass in each grant's
    best order: every bad row of it listed."""
    held = [r for r in _redone_wrong_vouchers(1000) if r[VOUCHER] != "G0001-S9"]
    never = [
        _money_row("2024-03-10", "disburse", "100000.00", "G0001-T1B", "1"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-T1", "G0001-T1", "disburse"),
        _money_row("2024-02-05", "disburse", "100000.00", "G0001-T1", "1"),
        _money_row("2024-03-10", "spend", "900000.00", "G0001-S9"),
    ]
    first = [_of_grant(_money_row("2024-03-10", "spend", "800000.00", "G0001-S8"), 2)] if also else []
    listed = first + _backwards(held) + [_of_grant(r, 2) for r in never]
    bad, stderr = _refused_rows(template, tmp_path, "both", listed)
    spends = [f":{len(listed) + 1}: spending 900,000.00 from the subsidy (财政补助) of grant G0002"]
    if also:
        spends.insert(0, ":2: spending 800,000.00 from the subsidy (财政补助) of grant G0002")
    assert [b.split(" exceeds")[0] for b in bad] == spends, stderr[-900:]
    assert f"{len(spends)} bad row{'s' if also else ''} of {len(listed)} in both.csv" in stderr, stderr[-600:]


def _alternating(dates: int) -> list[Row]:
    """G0001's dates, ``dates`` of them after its first two, alternating between needing a tranche's
    reversal first of the day's receipts (the tranche reversed and disbursed again, all
    200,000.00 approved out) and a matching receipt's reversal after the day's new receipt (the
    receipt before it partly spent): each date needs the other order, one more pass each."""
    money = [
        _money_row("2024-02-05", "match_commit", "200000.00", "G0001-MC"),
        _money_row("2024-02-05", "disburse", "200000.00", "G0001-T0", "1"),
        _money_row("2024-02-06", "match_receive", "2000.00", "G0001-MR0"),
        _money_row("2024-02-06", "spend", "1500.00", "G0001-S1"),
    ]
    for n in range(dates):
        on = date.fromordinal(date(2024, 3, 1).toordinal() + 3 * n).isoformat()
        k = n // 2 + 1
        if n % 2 == 0:
            money += [
                _money_row(on, "reverse", "", f"G0001-R-T{k}", f"G0001-T{k - 1}", "disburse"),
                _money_row(on, "disburse", "200000.00", f"G0001-T{k}", "1"),
            ]
        else:
            money += [
                _money_row(on, "match_receive", "2000.00", f"G0001-MR{k}"),
                _money_row(on, "reverse", "", f"G0001-R-MR{k - 1}", f"G0001-MR{k - 1}", "match_receive"),
            ]
    return _from_matching(money)


def test_a_grant_whose_dates_alternate_between_two_orders_is_applied_by_date(
    template: Ledger, tmp_path: Path
) -> None:
    """Seven dates of one grant each needing the other order of the two: one more pass each, a
    pass past the six allowed, so newest first the file was refused (exit 3) though it holds in
    date order (found by a red-team pass). Twelve are allowed now."""
    _held_by_date(template, tmp_path, _alternating(7))


def test_a_file_refused_when_the_passes_run_out_says_other_orders_were_not_tried(
    template: Ledger, tmp_path: Path
) -> None:
    """Fourteen dates each needing the other order take a pass past the twelve allowed: newest
    first the file is refused (exit 3, nothing written) though it imports in date order, and the
    refusal read as if no order held. It says that other orders were not tried, and that the file
    in date order is applied as listed."""
    money = _alternating(14)
    reference, _, _ = _by_date_file(template, tmp_path, "reference", [])
    in_order = reference("import", str(_write(tmp_path / "in-order.csv", money)))
    assert in_order.exit_code == 0, in_order.output
    ledger, before, result = _by_date_file(template, tmp_path, "newest", money)
    assert result.exit_code == 3, result.output
    assert ledger.event_count() == before
    assert (
        "newest.csv: applied by business date in 13 orders, none of which held; other orders were not "
        "tried, so these rows may hold in another: the file in date order, each day's rows as they "
        "happened, is applied as listed"
    ) in result.stderr, result.stderr


def _never_to_other_balances(
    template: Ledger, tmp_path: Path, money: list[Row], refused: tuple[int, ...], in_order: int = 0
) -> None:
    """``money``, which in date order exits ``in_order``, newest first: imported to the same
    balances, or refused with one of the exit codes ``refused`` and nothing written (refused if
    refused in date order)."""
    reference, _, _ = _by_date_file(template, tmp_path, "reference", [])
    result = reference("import", str(_write(tmp_path / "in-order.csv", money)))
    assert result.exit_code == in_order, result.output
    ledger, before, result = _by_date_file(template, tmp_path, "newest", money)
    if result.exit_code == 0 and not in_order:
        assert ledger.balances() == reference.balances()
    else:
        assert result.exit_code in refused, result.output
        assert ledger.event_count() == before


def test_a_reversal_of_a_voucher_two_receipts_share_never_imports_to_other_balances(
    template: Ledger, tmp_path: Path
) -> None:
    """V1 is both a tranche and a matching receipt of G0001; on 2024-02-05 the tranche is received,
    a reversal names V1 alone (reversing the tranche, the one act of V1 held then), then the
    matching is received. Newest first, applying the date's rows backwards (an order tried while
    the date was refused) reversed the matching receipt instead: exit 0, 150,000.00 received, not
    50,000.00 (found by a red-team pass). Refused (which receipt is meant, the file does not
    say: the date's rows listed the other way reverse the other), even in date order, and never
    imported to other balances."""
    money = _from_matching(
        [
            _money_row("2024-02-04", "disburse", "50000.00", "G0001-T0", "1"),
            _money_row("2024-02-05", "disburse", "100000.00", "V1", "2"),
            _money_row("2024-02-05", "reverse", "", "R-V1", "V1"),
            _money_row("2024-02-05", "match_receive", "50000.00", "V1"),
            _money_row("2024-02-06", "spend", "50000.00", "G0001-S2"),
        ]
    )
    _never_to_other_balances(template, tmp_path, money, (2, 3), in_order=2)


@pytest.mark.parametrize("again", ["", "and two tranches disbursed again"])
def test_a_reversal_of_a_voucher_a_receipt_and_a_tranche_share_never_imports_to_other_balances(
    template: Ledger, tmp_path: Path, again: str
) -> None:
    """On 2024-02-05 (or 06) matching of 50,000.00 is received under V1, a reversal names V1 alone
    (the matching receipt, the one act of V1 recorded then), and a tranche is disbursed under V1.
    The date disburses again, so by date the tranche V1 went first of its receipts with the
    reversal right after it, reversing the tranche: exit 0 newest first, 70,000.00 received from
    the subsidy against 170,000.00 in date order (found by a red-team pass; with a tranche
    disbursed again beside another returned, only the order of those reversals early by amount
    held it so). A reversal by voucher alone of a voucher the file has under more than one kind
    of act of its grant goes after the date's every act: refused, or imported to the same
    balances. In date order too the file is refused: the date's rows listed the other way
    reverse the tranche."""
    if again:
        money = [
            _money_row("2024-02-05", "match_commit", "200000.00", "G0001-MC"),
            _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
            _money_row("2024-02-05", "spend", "1200.00", "G0001-S0"),
            _money_row("2024-02-05", "disburse", "70000.00", "G0001-T2", "2"),
            _money_row("2024-02-06", "match_receive", "50000.00", "V1"),
            _money_row("2024-02-06", "reverse", "", "R-V1", "V1"),
            _money_row("2024-02-06", "reverse", "", "G0001-R-T1", "G0001-T1", "disburse"),
            _money_row("2024-02-06", "disburse", "120000.00", "G0001-T1B", "1"),
            _money_row("2024-02-06", "disburse", "10000.00", "V1", "3"),
            _money_row("2024-02-06", "reverse", "", "G0001-R-T2", "G0001-T2", "disburse"),
            _money_row("2024-02-07", "spend", "100000.00", "G0001-S2"),
        ]
    else:
        money = [
            _money_row("2024-02-04", "match_commit", "200000.00", "G0001-MC"),
            _money_row("2024-02-04", "disburse", "50000.00", "G0001-T0", "1"),
            _money_row("2024-02-05", "match_receive", "50000.00", "V1"),
            _money_row("2024-02-05", "reverse", "", "R-V1", "V1"),
            _money_row("2024-02-05", "disburse", "100000.00", "V1", "2"),
            _money_row("2024-02-05", "disburse", "20000.00", "G0001-T2", "3"),
            _money_row("2024-02-06", "spend", "50000.00", "G0001-S2"),
        ]
    _never_to_other_balances(template, tmp_path, _from_matching(money), (2, 3), in_order=2)


@pytest.mark.parametrize("reversed_on", ["2024-02-05", "2024-03-10"], ids=["its own date", "a later date"])
@pytest.mark.parametrize("later", ["spend", "match_receive"])
def test_a_voucher_reused_by_a_later_act_of_another_kind_still_holds_newest_first(
    template: Ledger, tmp_path: Path, reversed_on: str, later: str
) -> None:
    """Tranche V1 of 150,000.00 reversed by voucher alone on a date that disburses 150,000.00 again
    (200,000.00 approved); a month later V1 is reused by an act of another kind. The reversal
    meets the tranche alone in any order, but with V1 counted shared over the whole file it
    waited for the date's every act: 300,000.00 disbursed at once, refused newest first (exit 3;
    found by a red-team pass). Only the acts by the reversal's date count."""
    money = [
        _money_row("2024-02-05", "disburse", "150000.00", "V1", "1"),
        _money_row(reversed_on, "reverse", "", "R-V1", "V1"),
        _money_row(reversed_on, "disburse", "150000.00", "G0001-T1B", "1"),
    ]
    if later == "spend":
        money.append(_money_row("2024-04-10", "spend", "1000.00", "V1"))
    else:
        money += [
            _money_row("2024-04-10", "match_commit", "200000.00", "G0001-MC"),
            _money_row("2024-04-10", "match_receive", "50000.00", "V1"),
        ]
    _held_by_date(template, tmp_path, _from_matching(money))


@pytest.mark.parametrize("also", ["", "a spend"])
def test_a_file_holding_as_listed_out_of_date_order_never_imports_a_shared_voucher_to_other_balances(
    template: Ledger, tmp_path: Path, also: str
) -> None:
    """Matching received under V1 on 2024-02-04; on 2024-02-05 a reversal names V1 alone (the
    matching receipt, V1's one act then), then a tranche is disbursed under V1. Newest first the
    file breaks no rule as listed, so it was recorded as listed: the reversal met the tranche
    alone and reversed it, exit 0 with 0.00 received from the subsidy and 40,000.00 of matching,
    against 30,000.00 and 0.00 in date order (found by a red-team pass). A reversal by voucher
    alone of a voucher its grant holds under several kinds, in a file listing the grant out of
    date order, is a bad row of the file's order: the file is applied by business date."""
    money = [
        _money_row("2024-02-04", "match_receive", "40000.00", "V1"),
        _money_row("2024-02-05", "reverse", "", "R-V1", "V1"),
        _money_row("2024-02-05", "disburse", "30000.00", "V1", "1"),
    ]
    if also:
        money.append(_money_row("2024-02-06", "spend", "1000.00", "G0001-S2"))
    _never_to_other_balances(template, tmp_path, _from_matching(money), (2, 3))


def _same_or_refused(
    template: Ledger,
    tmp_path: Path,
    money: list[Row],
    listed: list[Row],
    name: str,
    earlier: tuple[Row, ...] = (),
) -> None:
    """``money`` in date order and ``listed`` (the file ``name``), each imported after ``earlier``
    (newest first): the listed file imported to the same balances, or refused (exit 2 or 3)
    with nothing written."""
    reference, _, first = _by_date_file(template, tmp_path, "reference", list(earlier))
    ledger, _, also = _by_date_file(template, tmp_path, "listed", list(earlier))
    if earlier:
        assert first.exit_code == also.exit_code == 0, (first.output, also.output)
    assert reference("import", str(_write(tmp_path / "in-order.csv", money))).exit_code == 0
    before = ledger.event_count()
    result = ledger("import", str(_write(tmp_path / name, listed)))
    if result.exit_code == 0:
        assert ledger.balances() == reference.balances(), result.output
    else:
        assert result.exit_code in (2, 3), result.output
        assert ledger.event_count() == before


def test_a_padded_grant_cell_of_a_workbook_does_not_hide_a_shared_voucher_from_the_check(
    template: Ledger, tmp_path: Path
) -> None:
    """The file above as a workbook, newest first, its reversal's grant cell "G0001 " (a workbook's
    cells are not stripped as a csv's are): the check kept it apart from G0001, whose rows it
    never found out of date order, and the file imported as listed to other balances (found by a
    red-team pass). Refused, or imported to the same balances."""
    money = _from_matching(
        [
            _money_row("2024-02-04", "match_receive", "40000.00", "V1"),
            _money_row("2024-02-05", "reverse", "", "R-V1", "V1"),
            _money_row("2024-02-05", "disburse", "30000.00", "V1", "1"),
        ]
    )
    listed = [list(r) for r in _backwards(money)]
    listed[1][GRANT] = "G0001 "  # the reversal
    _same_or_refused(template, tmp_path, money, listed, "newest.xlsx")


def test_a_file_right_as_listed_with_a_row_of_another_voucher_appended_late_is_imported(
    template: Ledger, tmp_path: Path
) -> None:
    """Tranche V1 on 2024-02-04; on 2024-02-05 a reversal names V1 alone (the tranche) and matching
    is received under V1; the matching commitment of 2024-02-01 is listed last. The reversal
    meets the tranche alone in either order, but any row of the grant out of date order made it a
    bad row (exit 2; found by a red-team pass): only a row of the grant listed before it and dated
    after it, or an act under its voucher listed after it and dated before it, does."""
    money = _from_matching(
        [
            _money_row("2024-02-01", "match_commit", "200000.00", "G0001-MC"),
            _money_row("2024-02-04", "disburse", "30000.00", "V1", "1"),
            _money_row("2024-02-05", "reverse", "", "R-V1", "V1"),
            _money_row("2024-02-05", "match_receive", "40000.00", "V1"),
        ]
    )
    reference, _, _ = _by_date_file(template, tmp_path, "reference", [])
    assert reference("import", str(_write(tmp_path / "in-order.csv", money))).exit_code == 0
    ledger, _, _ = _by_date_file(template, tmp_path, "listed", [])
    result = ledger("import", str(_write(tmp_path / "listed.csv", money[1:] + money[:1])))
    assert result.exit_code == 0, result.output
    assert ledger.balances() == reference.balances()


def test_a_reversal_of_a_voucher_the_ledger_holds_as_another_act_never_imports_to_other_balances(
    template: Ledger, tmp_path: Path
) -> None:
    """Matching of 50,000.00 received under V1 by an earlier import; a file reverses V1 by its
    voucher alone on 2024-02-05 (the matching receipt, the one act of V1 then), disburses a
    tranche under V1 and another that date, newest first. The ledger's receipt is there in any
    order of the file, so a reversal ranked after the file's tranche V1 meets both: refused,
    never imported to other balances than in date order."""
    earlier = _from_matching(
        [
            _money_row("2024-02-04", "match_commit", "200000.00", "G0001-MC"),
            _money_row("2024-02-04", "disburse", "50000.00", "G0001-T0", "1"),
            _money_row("2024-02-04", "match_receive", "50000.00", "V1"),
        ]
    )
    money = [
        _money_row("2024-02-05", "reverse", "", "R-V1", "V1"),
        _money_row("2024-02-05", "disburse", "100000.00", "V1", "2"),
        _money_row("2024-02-05", "disburse", "20000.00", "G0001-T2", "3"),
        _money_row("2024-02-06", "spend", "50000.00", "G0001-S2"),
    ]
    _same_or_refused(template, tmp_path, money, _backwards(money), "newest-money.csv", tuple(earlier))


def test_two_tranches_of_a_date_each_reversed_that_date_never_import_to_other_balances(
    template: Ledger, tmp_path: Path
) -> None:
    """On 2024-02-06 a tranche disbursed under a wrong voucher, reversed and disbursed again; 800.00
    of it spent in error and reversed; then that tranche returned (found by hypothesis). Which of
    the two was disbursed again the rows do not say: paired first of the date, the returned one
    leaves nothing for the spend; unpaired, the two pass the approved amount. No order by kind
    holds the date: refused newest first with nothing written, never imported to other
    balances."""
    money = [
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        _money_row("2024-02-05", "spend", "120000.00", "G0001-S0"),
        _money_row("2024-02-06", "disburse", "80000.00", "G0001-T2-WRONG", "2"),
        _money_row("2024-02-06", "reverse", "", "G0001-R-WRONG", "G0001-T2-WRONG", "disburse"),
        _money_row("2024-02-06", "disburse", "80000.00", "G0001-T2", "2"),
        _money_row("2024-02-06", "spend", "800.00", "G0001-X"),
        _money_row("2024-02-06", "reverse", "", "G0001-R-X", "G0001-X"),
        _money_row("2024-02-06", "reverse", "", "G0001-R-T2", "G0001-T2", "disburse"),
    ]
    _never_to_other_balances(template, tmp_path, money, (3,))


@pytest.mark.parametrize("also", ["", "a date no order holds before"])
def test_a_file_that_cannot_hold_takes_no_more_passes_than_the_orders_of_its_refused_date(
    template: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, also: str
) -> None:
    """A date where the receipts' orders each move a row, and a spend of 900,000.00 no order holds:
    newest first, refused (exit 3, nothing written) after the file's order, the first by date
    and the date's five other orders (``ledger.import_order._TURNS``); a date before it that no
    order holds stops the file once its one other order is tried (found by a red-team pass: 10
    passes while the dates' rows as listed were orders)."""
    first = (
        [
            _money_row("2024-02-05", "disburse", "200000.00", "G0001-T1-WRONG", "1"),
            _money_row("2024-02-05", "spend", "150000.00", "G0001-S1"),
            _money_row("2024-02-05", "reverse", "", "G0001-R-S1", "G0001-S1"),
            _money_row("2024-02-05", "reverse", "", "G0001-R-T1", "G0001-T1-WRONG", "disburse"),
            _money_row("2024-02-05", "disburse", "100000.00", "G0001-T1", "1"),
        ]
        if also
        else [_money_row("2024-02-05", "disburse", "100000.00", "G0001-T1", "1")]
    )
    bad = [
        _money_row("2024-03-10", "disburse", "50000.00", "G0001-X-WRONG", "2"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-X", "G0001-X-WRONG", "disburse"),
        _money_row("2024-03-10", "disburse", "50000.00", "G0001-X", "2"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-T1B", "G0001-T1", "disburse"),
        _money_row("2024-03-10", "disburse", "100000.00", "G0001-T1B", "1"),
        _money_row("2024-03-10", "spend", "900000.00", "G0001-S9"),
    ]
    passes = _passes_counted(monkeypatch)
    ledger, before, result = _by_date_file(template, tmp_path, "newest", [*first, *bad])
    assert result.exit_code == 3, result.output
    assert ledger.event_count() == before
    assert passes == [1 + (3 if also else 7)]  # the approvals' own import counted once


def test_a_disposal_above_the_spending_of_its_date_is_applied_by_date(
    template: Ledger, tmp_path: Path
) -> None:
    """120,000.00 disbursed and a recovery of 50,000.00 ordered, not yet received; on 2024-03-10
    50,000.00 of equipment disposed of (leaving 70,000.00, which covers what is owed), then
    70,000.00 spent. By date the spending went before the disposal, which then left nothing for
    the recovery: refused newest first (exit 3, "recoveries before disposal"; found by a red-team
    pass). Recovery orders, recoveries and disposals now go before the date's spending: each
    takes money out as spending does, and the disposal is judged on what the spending leaves."""

    def ordered(name: str) -> Ledger:
        ledger, _, result = _by_date_file(
            template, tmp_path, name, [_money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1")]
        )
        assert result.exit_code == 0, result.output
        order = [_money_row("2024-02-06", "recover_order", "50000.00", f"{name}-RO-1", "挪用")]
        ledger.ok("import", str(_write(tmp_path / f"{name}-ro.csv", order)), role="approver")
        return ledger

    dispose = _money_row("2024-03-10", "dispose", "50000.00", "APPR-1", "returned")
    dispose[7] = "subsidy"
    money = [
        dispose,
        _money_row("2024-03-10", "spend", "70000.00", "G0001-S1"),
        _money_row("2024-03-11", "disburse", "10000.00", "G0001-T2", "2"),
    ]
    reference = ordered("reference")
    assert reference("import", str(_write(tmp_path / "in-order.csv", money))).exit_code == 0
    _held_like(reference, ordered("newest"), _write(tmp_path / "newest-money.csv", money[::-1]))


def test_a_spend_in_error_of_a_disposals_date_goes_before_the_disposal(
    template: Ledger, tmp_path: Path
) -> None:
    """120,000.00 disbursed; on 2024-03-10 100,000.00 spent in error and reversed, then 50,000.00
    of equipment disposed of. The spend and its reversal take nothing at the date's end and go
    first of what takes money out, before the disposal (after it, the spend would find 70,000.00)."""
    dispose = _money_row("2024-03-10", "dispose", "50000.00", "APPR-1", "returned")
    dispose[7] = "subsidy"
    money = [
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        _money_row("2024-03-10", "spend", "100000.00", "G0001-X"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-X", "G0001-X"),
        dispose,
    ]
    _held_by_date(template, tmp_path, money)


def test_a_grant_needing_a_tranche_paired_and_matching_unpaired_is_applied_by_date(
    template: Ledger, tmp_path: Path
) -> None:
    """One grant: on 2024-02-05 all 200,000.00 approved disbursed under a wrong voucher, reversed
    and disbursed again (the pair must go first of the date's receipts: the approved amount);
    on 2024-02-06 matching of 2,000.00 and 10.00 received, 1,500.00 spent and reversed, then the
    2,000.00 reversed (its reversal must wait for the spending). Each grant was tried in one order
    of all its dates, and none holds both dates: refused (exit 3) newest first. Matching has no
    approved amount to keep under, so its receipts are never paired: the first order holds."""
    money = _from_matching(
        [
            _money_row("2024-02-05", "match_commit", "200000.00", "G0001-MC"),
            _money_row("2024-02-05", "disburse", "200000.00", "G0001-T1-WRONG", "1"),
            _money_row("2024-02-05", "reverse", "", "G0001-R-T1", "G0001-T1-WRONG", "disburse"),
            _money_row("2024-02-05", "disburse", "200000.00", "G0001-T1", "1"),
            _money_row("2024-02-06", "match_receive", "2000.00", "G0001-MR1"),
            _money_row("2024-02-06", "match_receive", "10.00", "G0001-MR2"),
            _money_row("2024-02-06", "spend", "1500.00", "G0001-S1"),
            _money_row("2024-02-06", "reverse", "", "G0001-R-S1", "G0001-S1"),
            _money_row("2024-02-06", "reverse", "", "G0001-R-MR1", "G0001-MR1", "match_receive"),
        ]
    )
    ledger, _, result = _by_date_file(template, tmp_path, "newest", money)
    assert result.exit_code == 0, result.output
    _same_as_in_order(template, tmp_path, ledger, money)


def test_a_receipt_reversed_above_the_spending_it_paid_on_its_date_is_applied_by_date(
    template: Ledger, tmp_path: Path
) -> None:
    """The first tranche all spent on 2024-02-05; on 2024-02-06 the second received, 20.00 of it
    spent and reversed, and the tranche reversed, listed right below its tranche. In the file's
    order the spend found nothing (exit 3), and the file was never applied by date: a receipt's
    reversal listed right after its receipt was taken to be where the date's order puts it,
    though by date it waits for the date's spending (no other tranche that date). Now it is
    applied by date and holds."""
    money = [
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        _money_row("2024-02-05", "spend", "120000.00", "G0001-S0"),
        _money_row("2024-02-06", "disburse", "80000.00", "G0001-T2", "2"),
        _money_row("2024-02-06", "spend", "20.00", "G0001-S2"),
        _money_row("2024-02-06", "reverse", "", "G0001-R-S2", "G0001-S2"),
        _money_row("2024-02-06", "reverse", "", "G0001-R-T2", "G0001-T2", "disburse"),
    ]
    ledger, _, _ = _by_date_file(template, tmp_path, "listed", [])
    listed = [*money[:3], money[5], money[3], money[4]]
    result = ledger("import", str(_write(tmp_path / "listed.csv", listed)))
    assert result.exit_code == 0, result.output
    assert "applied again by business date" in result.stderr, result.stderr
    _same_as_in_order(template, tmp_path, ledger, money)


@pytest.mark.parametrize(
    ("earlier", "money"),
    [
        pytest.param(
            [_money_row("2024-02-05", "disburse", "200000.00", "G0001-T1", "1")],
            [
                _money_row("2024-03-10", "reverse", "", "G0001-R-T1", "G0001-T1"),
                _money_row("2024-03-10", "disburse", "200000.00", "G0001-T1B", "1"),
                _money_row("2024-03-10", "spend", "150000.00", "G0001-S1"),
            ],
            id="a tranche disbursed again",
        ),
        pytest.param(
            [
                _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
                _money_row("2024-02-05", "disburse", "50000.00", "G0001-T2", "2"),
            ],
            [
                _money_row("2024-03-10", "spend", "150000.00", "G0001-X"),
                _money_row("2024-03-10", "reverse", "", "G0001-R-X", "G0001-X"),
                _money_row("2024-03-10", "reverse", "", "G0001-R-T2", "G0001-T2"),
            ],
            id="a spend in error before",
        ),
    ],
)
def test_a_receipt_of_an_earlier_import_reversed_by_its_voucher_is_applied_by_date(
    template: Ledger, tmp_path: Path, earlier: list[Row], money: list[Row]
) -> None:
    """A reversal naming by its voucher alone (no category) a tranche recorded by an earlier
    import: by date it was taken for a spend's reversal (money in, before the date's receipts and
    spending), as only the file's own receipts were looked at. The tranche disbursed again came
    first (400,000.00 of 200,000.00 approved), or the spend in error found the tranche gone: each
    refused (exit 3) newest first though the file holds in date order. The ledger's receipts
    now count as the file's."""
    reference, _, first = _by_date_file(template, tmp_path, "reference", earlier)
    assert first.exit_code == 0, first.output
    recorded = reference.event_count()
    assert reference("import", str(_write(tmp_path / "in-order.csv", money))).exit_code == 0
    ledger, _, first = _by_date_file(template, tmp_path, "newest", earlier)
    assert first.exit_code == 0, first.output
    before = ledger.event_count()
    result = ledger("import", str(_write(tmp_path / "newest-money.csv", money[::-1])))
    assert result.exit_code == 0, result.output
    assert "applied again by business date" in result.stderr, result.stderr
    assert ledger.balances() == reference.balances()
    assert ledger.event_count() - before == reference.event_count() - recorded


def test_a_dates_reversal_of_an_earlier_imports_receipt_listed_above_its_spending_is_applied_by_date(
    template: Ledger, tmp_path: Path
) -> None:
    """Tranches of 120,000.00 and 50,000.00 recorded by an earlier import; a file in date order
    lists on 2024-03-10 the second's reversal, by its voucher alone, above a spend of 150,000.00
    in error reversed that day. In the file's order the spend finds 120,000.00 (exit 3), and the
    file was never applied by date: only its own receipts were looked at to see that the reversal
    takes money out, so it seemed in the date's order. By date the spend and its reversal go
    before it, and the file holds."""
    earlier = [
        _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
        _money_row("2024-02-05", "disburse", "50000.00", "G0001-T2", "2"),
    ]
    reversal = _money_row("2024-03-10", "reverse", "", "G0001-R-T2", "G0001-T2")
    spent = [
        _money_row("2024-03-10", "spend", "150000.00", "G0001-X"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-X", "G0001-X"),
    ]
    reference, _, first = _by_date_file(template, tmp_path, "reference", earlier)
    assert first.exit_code == 0, first.output
    assert reference("import", str(_write(tmp_path / "in-order.csv", [*spent, reversal]))).exit_code == 0
    ledger, _, first = _by_date_file(template, tmp_path, "listed", earlier)
    assert first.exit_code == 0, first.output
    _held_like(reference, ledger, _write(tmp_path / "listed.csv", [reversal, *spent]))


@pytest.mark.parametrize(
    "redone",
    [
        pytest.param(
            [
                _money_row("2024-02-06", "spend", "1200.00", "G0001-S1"),
                _money_row("2024-02-07", "disburse", "80000.00", "G0001-T2", "2"),
                _money_row("2024-02-07", "reverse", "", "G0001-R-T1", "G0001-T1", "disburse"),
                _money_row("2024-02-07", "disburse", "120000.00", "G0001-T1B", "1"),
            ],
            id="the first after the date's second",
        ),
        pytest.param(
            [
                _money_row("2024-02-06", "disburse", "80000.00", "G0001-T2", "2"),
                _money_row("2024-02-07", "reverse", "", "G0001-R-T2", "G0001-T2", "disburse"),
                _money_row("2024-02-07", "disburse", "80000.00", "G0001-T2-WRONG", "2"),
                _money_row("2024-02-07", "reverse", "", "G0001-R-WRONG", "G0001-T2-WRONG", "disburse"),
                _money_row("2024-02-07", "disburse", "80000.00", "G0001-T2B", "2"),
            ],
            id="the second beside a wrong voucher's pair",
        ),
    ],
)
def test_a_tranche_disbursed_again_among_the_dates_other_tranches_is_applied_by_date(
    template: Ledger, tmp_path: Path, redone: list[Row]
) -> None:
    """120,000.00 disbursed on 2024-02-05; a tranche reversed on 2024-02-07 and disbursed again
    that date, among other tranches of the date (each found by hypothesis:
    tests/test_import_order_days.py).

    The first, 1,200.00 of it spent, after the second tranche of 80,000.00 came that date: the
    reversal needs the second tranche's money before it (118,800.00 is left without it), the
    tranche disbursed again needs the reversal before it (the approved 200,000.00 is all
    disbursed): first of the date's receipts the reversal was refused. It now goes right before
    the tranche of its amount disbursed that date, after the date's other receipts.

    The second (80,000.00 of 2024-02-06), disbursed again under a wrong voucher, that reversed,
    and disbursed again: right before a tranche of its amount, its reversal went after the wrong
    voucher's pair, which came first and passed the approved amount: refused newest first (exit
    3). A grant's date is also tried with such a reversal first of the date's receipts, whatever
    the amounts."""
    _held_by_date(
        template, tmp_path, [_money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"), *redone]
    )


def test_a_tranche_disbursed_again_listed_above_the_reversal_of_the_first_is_applied_by_date(
    template: Ledger, tmp_path: Path
) -> None:
    """A file in date order, but for 2024-03-10's tranche disbursed again listed above the
    reversal of the tranche of 2024-02-05 it replaces (found by hypothesis: two grants' rows
    shuffled): as listed the new tranche makes 400,000.00 disbursed (exit 3, "tranches within
    approval"), and the file was never applied by date, its dates being in order. A receipt of an
    earlier date reversed below the date's receipt of its kind is out of order now: the grant's
    third order takes the reversal first."""
    money = [
        _money_row("2024-02-05", "disburse", "200000.00", "G0001-T1", "1"),
        _money_row("2024-03-10", "disburse", "200000.00", "G0001-T1B", "1"),
        _money_row("2024-03-10", "reverse", "", "G0001-R-T1", "G0001-T1", "disburse"),
    ]
    _held_as_listed(
        template,
        tmp_path,
        money,
        "line 4, reverse, comes after line 3, disburse",
        [money[0], money[2], money[1]],
    )


def _listed_as_is(template: Ledger, tmp_path: Path, name: str, money: list[Row]) -> tuple[Ledger, int, Any]:
    """G0001's approval imported, then ``money`` as listed: the ledger, its events before the
    money, and the import's result."""
    ledger, before, _ = _by_date_file(template, tmp_path, name, [])
    return ledger, before, ledger("import", str(_write(tmp_path / f"{name}.csv", money)))


@pytest.mark.parametrize("elsewhere", ["", "a spend listed above its date"])
def test_a_reversal_between_two_acts_of_its_voucher_on_its_date_is_refused_in_either_order(
    template: Ledger, tmp_path: Path, elsewhere: str
) -> None:
    """On 2024-02-05 matching of 50,000.00 is received under V1 and a tranche of 100,000.00 is
    disbursed under V1, a reversal naming V1 alone listed between them. In date order both files
    held as listed, the reversal meeting the act above it alone: exit 0 with 100,000.00 received
    from the subsidy one way, 10,000.00 the other (the same rows; left open last session). Neither
    says which act was reversed, so each is refused (exit 2, nothing written), saying to give the
    reversal's kind; with its kind given, each imports to the same balances."""
    matching = _money_row("2024-02-05", "match_receive", "50000.00", "V1")
    tranche = _money_row("2024-02-05", "disburse", "100000.00", "V1", "1")
    reversal = _money_row("2024-02-05", "reverse", "", "R-V1", "V1")
    later = [_money_row("2024-02-06", "disburse", "10000.00", "G0001-T2", "2")]
    for first, second in ((matching, tranche), (tranche, matching)):
        money = _from_matching(
            [_money_row("2024-02-04", "match_commit", "200000.00", "G0001-MC"), first, reversal, second]
        )
        name = f"{first[KIND]}-first"
        listed = later + money if elsewhere else money + later
        ledger, before, result = _listed_as_is(template, tmp_path, name, listed)
        assert result.exit_code == 2, result.output
        assert ledger.event_count() == before
        assert (
            "voucher V1 of grant G0001 names more than one act: disbursement (disburse) and" in result.stderr
        )
        assert "say which to reverse with --kind disburse|match_receive (in a file" in result.stderr
        named = [list(r) for r in money]
        named[2][CATEGORY] = first[KIND]
        ledger, _, result = _listed_as_is(template, tmp_path, f"{name}-named", named + later)
        assert result.exit_code == 0, result.output
        other = [named[0], named[3], named[1], named[2]]  # the date's other act listed first
        again, _, result = _listed_as_is(template, tmp_path, f"{name}-named-again", other + later)
        assert result.exit_code == 0, result.output
        assert ledger.balances() == again.balances()


def _listed_twice(
    template: Ledger, tmp_path: Path, one: list[Row], other: list[Row], suffix: str = "csv"
) -> None:
    """The same rows in two orders, each imported as listed: never both exit 0 to different
    balances; a refusal writes nothing."""
    assert sorted(map(str, one)) == sorted(map(str, other))
    results = []
    for name, money in (("one", one), ("other", other)):
        ledger, before, result = _by_date_file(template, tmp_path, name, [])
        result = ledger("import", str(_write(tmp_path / f"{name}-money.{suffix}", money)))
        if result.exit_code:
            assert result.exit_code in (2, 3), result.output
            assert ledger.event_count() == before
        results.append((result.exit_code, ledger.balances()))
    if results[0][0] == results[1][0] == 0:
        assert results[0][1] == results[1][1]


@pytest.mark.parametrize("between", ["a disposal", "a spend listed twice"])
def test_a_row_of_the_voucher_on_the_reversals_date_does_not_hide_an_earlier_act_listed_below(
    template: Ledger, tmp_path: Path, between: str
) -> None:
    """Matching received under V1 on 2024-02-04; on 2024-02-05 a reversal names V1 alone and V1 is
    used again that date. Listed with the tranche V1 above the reversal and the matching receipt
    last, the first row of V1 after the reversal (a disposal whose voucher is V1, or a spend)
    ended the check, so the receipt dated before it, listed below, never put it in doubt: exit
    0 with the tranche reversed, against the matching receipt in date order (found by a red-team
    pass). Each act below is weighed, and only acts of money count."""
    commit = _money_row("2024-02-01", "match_commit", "200000.00", "G0001-MC")
    first = _money_row("2024-02-04", "disburse", "50000.00", "G0001-T0", "1")
    matching = _money_row("2024-02-04", "match_receive", "50000.00", "V1")
    reversal = _money_row("2024-02-05", "reverse", "", "R-V1", "V1")
    if between == "a disposal":
        tranche = _money_row("2024-02-05", "disburse", "100000.00", "V1", "1")
        row = _money_row("2024-02-05", "dispose", "1.00", "V1", "returned")
        row[7] = "subsidy"
        one = [commit, first, matching, reversal, tranche, row]
        other = [commit, first, tranche, reversal, row, matching]
    else:
        tranche = _money_row("2024-02-05", "spend", "1000.00", "V1")
        named = _money_row("2024-02-05", "reverse", "", "R-V1", "V1", "equipment")
        one = [commit, first, matching, reversal, tranche, tranche, named]
        other = [commit, first, tranche, reversal, tranche, named, matching]
    _listed_twice(
        template, tmp_path, _from_matching([list(r) for r in one]), _from_matching([list(r) for r in other])
    )


@pytest.mark.parametrize("cell", ["a date", "a large number"])
def test_a_workbooks_voucher_cell_that_is_not_text_is_read_as_the_ledger_reads_it(
    template: Ledger, tmp_path: Path, cell: str
) -> None:
    """The date's two acts under one voucher, a reversal naming it alone between them, as a
    workbook whose voucher cells are a date (or 1e20) and the reversal's memo the text the
    ledger reads them as (2024-02-05, 100000000000000000000): the order checks read the raw
    cells ("2024-02-05 00:00:00", "1e+20"), never linked the acts to the reversal, and both
    orders imported to other balances (found by a red-team pass)."""
    import datetime

    voucher, memo = (
        (datetime.datetime(2024, 2, 5), "2024-02-05") if cell == "a date" else (1e20, "100000000000000000000")
    )
    commit = _money_row("2024-02-01", "match_commit", "200000.00", "G0001-MC")
    matching = _money_row("2024-02-05", "match_receive", "50000.00", "X")
    tranche = _money_row("2024-02-05", "disburse", "100000.00", "X", "1")
    reversal = _money_row("2024-02-05", "reverse", "", "R-V1", memo)
    matching[VOUCHER] = tranche[VOUCHER] = voucher  # type: ignore[call-overload]
    one = _from_matching([list(r) for r in (commit, matching, reversal, tranche)])
    other = _from_matching([list(r) for r in (commit, tranche, reversal, matching)])
    _listed_twice(template, tmp_path, one, other, "xlsx")


@pytest.mark.parametrize("also", ["spend", "match_commit", "a named reversal"])
def test_a_reversal_of_an_act_of_an_earlier_date_with_another_of_its_date_below_is_imported(
    template: Ledger, tmp_path: Path, also: str
) -> None:
    """Tranche V1 on 2024-02-04; on 2024-02-05 a reversal names V1 alone, then matching is
    received and another act is recorded under V1 (or the receipt is reversed by its kind, then
    a spend recorded). In any order that holds, the reversal meets the tranche alone (it is there
    before it by date), so the file in date order imports: it was refused (exit 2) while any two
    kinds of act on the reversal's date put it in doubt, and then while the named reversal's act,
    of its date, was taken for its own (found by two red-team passes). The act a reversal
    reversed is read off its own event."""
    later = (
        [
            _money_row("2024-02-05", "reverse", "", "R-M-V1", "V1", "match_receive"),
            _money_row("2024-02-05", "spend", "1000.00", "V1"),
        ]
        if also == "a named reversal"
        else [_money_row("2024-02-05", also, "1000.00", "V1")]
    )
    money = _from_matching(
        [
            _money_row("2024-02-01", "match_commit", "200000.00", "G0001-MC"),
            _money_row("2024-02-04", "disburse", "50000.00", "G0001-T0", "1"),
            _money_row("2024-02-04", "disburse", "30000.00", "V1", "2"),
            _money_row("2024-02-05", "reverse", "", "R-V1", "V1"),
            _money_row("2024-02-05", "match_receive", "40000.00", "V1"),
            *later,
        ]
    )
    ledger, _, result = _listed_as_is(template, tmp_path, "in-order", money)
    assert result.exit_code == 0, result.output
    assert ledger.balances()["B0001"]["subsidy_received"] == "50000.00"


def test_a_reversal_the_ledger_refuses_is_not_also_said_to_depend_on_the_order(
    template: Ledger, tmp_path: Path
) -> None:
    """A reversal naming V1 alone after a commitment and a spend under V1 is refused by the ledger
    (which act is meant, it does not say); a misspelt row under V1 below it made the order check
    refuse it a second time, at the same line (found by a red-team pass). One sentence a line."""
    money = _from_matching(
        [
            _money_row("2024-02-04", "disburse", "50000.00", "G0001-T0", "1"),
            _money_row("2024-02-05", "match_commit", "200000.00", "V1"),
            _money_row("2024-02-05", "spend", "1000.00", "V1"),
            _money_row("2024-02-05", "reverse", "", "R-V1", "V1"),
            _money_row("2024-02-05", "disbursed", "10.00", "V1"),
        ]
    )
    ledger, before, result = _listed_as_is(template, tmp_path, "listed", money)
    assert result.exit_code == 2, result.output
    assert ledger.event_count() == before
    assert (
        "names more than one act: expenditure (spend) and matching commitment (match_commit)" in result.stderr
    )
    assert "depends on the order" not in result.stderr, result.stderr


def test_a_workbook_with_padded_grant_cells_is_tried_in_its_grants_next_order(
    template: Ledger, tmp_path: Path
) -> None:
    """The date above that holds only in its second order, newest first, as a workbook whose
    grant cells read "G0001 " (a workbook's cells reach the import unstripped): the grant
    refused is named as the ledger reads it, so its next order finds its rows and holds."""
    money = _from_matching(
        [
            _money_row("2024-02-05", "match_commit", "200000.00", "G0001-MC"),
            _money_row("2024-02-05", "disburse", "120000.00", "G0001-T1", "1"),
            _money_row("2024-02-06", "match_receive", "2000.00", "G0001-MR1"),
            _money_row("2024-02-06", "match_receive", "10.00", "G0001-MR2"),
            _money_row("2024-02-06", "spend", "1500.00", "G0001-S1"),
            _money_row("2024-02-06", "reverse", "", "G0001-R-S1", "G0001-S1"),
            _money_row("2024-02-06", "reverse", "", "G0001-R-MR1", "G0001-MR1", "match_receive"),
        ]
    )
    listed = [list(r) for r in _backwards(money)]
    for row in listed:
        row[GRANT] = "G0001 "
    ledger, _, _ = _by_date_file(template, tmp_path, "listed", [])
    result = ledger("import", str(_write(tmp_path / "newest.xlsx", listed)))
    assert result.exit_code == 0, result.output
    _same_as_in_order(template, tmp_path, ledger, money)


def test_a_reversal_of_an_earlier_imports_act_of_its_date_with_another_act_below_is_imported(
    template: Ledger, tmp_path: Path
) -> None:
    """Matching of 40,000.00 received under V1 on 2024-02-05 by an earlier import; a file of that
    date reverses V1 by its voucher alone, then disburses a tranche under V1. The ledger's receipt
    is there before any row of the file, so the reversal meets it alone in every order that holds:
    it was refused (exit 2) as if the file's order had chosen it (found by a red-team pass). Listed
    the other way, the reversal meets both acts and is refused, writing nothing."""
    earlier = _from_matching(
        [
            _money_row("2024-02-01", "match_commit", "200000.00", "G0001-MC"),
            _money_row("2024-02-04", "disburse", "50000.00", "G0001-T0", "1"),
            _money_row("2024-02-05", "match_receive", "40000.00", "V1"),
        ]
    )
    money = [
        _money_row("2024-02-05", "reverse", "", "R-V1", "V1"),
        _money_row("2024-02-05", "disburse", "30000.00", "V1", "2"),
    ]
    ledger, _, first = _by_date_file(template, tmp_path, "listed", list(earlier))
    assert first.exit_code == 0, first.output
    result = ledger("import", str(_write(tmp_path / "money.csv", money)))
    assert result.exit_code == 0, result.output
    assert ledger.balances()["B0001"]["subsidy_received"] == "80000.00"
    assert ledger.balances()["B0001"]["matching_received"] == "0.00"
    other, _, first = _by_date_file(template, tmp_path, "other", list(earlier))
    before = other.event_count()
    result = other("import", str(_write(tmp_path / "other.csv", money[::-1])))
    assert result.exit_code == 2, result.output
    assert other.event_count() == before


def test_past_the_acts_the_check_notes_an_act_of_the_reversals_date_is_taken_for_the_files(
    template: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check notes the acts of each grant's latest date to tell the file's from the ledger's,
    up to a bound (a file of one date would else grow it with the file). Past it, the reversal
    between two acts of its voucher on its date is still refused in either order (exit 2,
    nothing written), never imported as the ledger's."""
    from ledger import importing

    monkeypatch.setattr(importing, "_NOTED_MOST", 0)
    matching = _money_row("2024-02-05", "match_receive", "50000.00", "V1")
    tranche = _money_row("2024-02-05", "disburse", "100000.00", "V1", "1")
    reversal = _money_row("2024-02-05", "reverse", "", "R-V1", "V1")
    for first, second in ((matching, tranche), (tranche, matching)):
        money = _from_matching(
            [_money_row("2024-02-04", "match_commit", "200000.00", "G0001-MC"), first, reversal, second]
        )
        ledger, before, result = _listed_as_is(template, tmp_path, f"{first[KIND]}-first", money)
        assert result.exit_code == 2, result.output
        assert ledger.event_count() == before


def test_past_the_acts_the_check_notes_it_holds_nothing_more_for_a_new_grant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A year's export by date over many bases: each grant's spends on its own days. Past the
    bound on acts noted, nothing is noted (nor read) any more: 60,000 grants hold about 70 bytes
    each more than 20,000 (each grant's latest date). It went on noting each grant's acts of its
    latest date, unread: 382 bytes a grant here (15.3 MB against 2.8 MB), and in ten million rows
    over 200,000 bases, each checking process's 100,000 grants."""
    import tracemalloc
    from datetime import date, timedelta

    from ledger import importing
    from ledger.import_format import Cells

    monkeypatch.setattr(importing, "_NOTED_MOST", 1_000)

    def held(grants: int) -> int:
        first = date(2024, 3, 1)
        rows = [
            Cells(grant_id=f"G{g:06d}", date=(first + timedelta(days=d)).isoformat(), kind="spend",
                  voucher=f"G{g:06d}-S{d}", category="equipment", memo="")
            for d in range(2)
            for g in range(grants)
        ]  # fmt: skip
        tracemalloc.start()
        try:
            order = importing._ListedOrder()
            for line, row in enumerate(rows, start=2):
                order.row(line, row, [])
            assert order.full
            return tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()

    assert held(60_000) - held(20_000) < 40_000 * 90


@pytest.mark.parametrize("between", ["disburse", "spend"])
def test_a_row_of_an_earlier_date_between_an_act_and_its_reversal_does_not_hide_the_act(
    template: Ledger, tmp_path: Path, between: str
) -> None:
    """On 2024-02-05 matching received under V1, a row of 2024-02-04 listed next (a tranche, or
    a spend of the tranche above), then a reversal naming V1 alone and a tranche under V1 of
    2024-02-05; and the same rows with the two acts of V1 swapped. The earlier date's row made
    the check forget the date's act above the reversal and take it for an earlier import's: both
    orders imported as listed, 150,000.00 received from the subsidy one way and 50,000.00 the
    other (found by a red-team pass and by hand). Never both imported to other balances."""
    commit = _money_row("2024-02-01", "match_commit", "200000.00", "G0001-MC")
    first = _money_row("2024-02-04", "disburse", "50000.00", "G0001-T0", "1")
    matching = _money_row("2024-02-05", "match_receive", "50000.00", "V1")
    tranche = _money_row("2024-02-05", "disburse", "100000.00", "V1", "2")
    reversal = _money_row("2024-02-05", "reverse", "", "R-V1", "V1")
    if between == "disburse":
        one, other = (
            [commit, matching, first, reversal, tranche],
            [commit, tranche, first, reversal, matching],
        )
    else:
        spend = _money_row("2024-02-04", "spend", "1000.00", "G0001-S2")
        one = [commit, first, matching, spend, reversal, tranche]
        other = [commit, first, tranche, spend, reversal, matching]
    _listed_twice(
        template, tmp_path, _from_matching([list(r) for r in one]), _from_matching([list(r) for r in other])
    )
