"""Every way of reading the books agrees to the fen, after every act of a random sequence of
money acts (disburse, matching committed and received, spend, reverse — of a spend, a
disbursement, a matching commitment or receipt —, recovery ordered and received, dispose, grant
close), each recorded through the command line, on SQLite and on PostgreSQL: ``balance``, every
``report`` (json and csv), ``history``'s last running balance, the beancount export's balances
(beanquery), and the audit bundle (``audit export``) as ``audit verify`` and its independent
replay read it; and the aggregate's own ``available``.

Each example runs dozens of commands, so the suite runs a few; a longer run by hand:
``READ_PATHS_EXAMPLES=200 python -m pytest tests/test_read_paths_agree.py``."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.bundle_book import bundle_balances
from tests.conftest import (
    Ledger,
    approved_district_grant,
    built,
    copied_ledger,
    copy_of,
    drop_pg_database,
    pg_unavailable,
)

GRANTS = {"G1": "B0001", "G2": "B0002"}
SOURCES = ("subsidy", "matching")
ALLOWED = ("equipment", "materials", "teacher_training", "curriculum")
BALANCE_KEY = {"approved": "subsidy_approved"}  # the bundle's name -> balance's
FIRST_DAY = date(2024, 5, 1)  # every act's business date is inside the build period, one a week
EXAMPLES = int(os.environ.get("READ_PATHS_EXAMPLES", "4"))  # each example costs seconds
STEPS = 6

fen = st.integers(min_value=1, max_value=8_000_000)  # up to 80,000.00 yuan
grant = st.sampled_from(sorted(GRANTS))
source = st.sampled_from(SOURCES)
acts = st.one_of(
    st.tuples(st.just("disburse"), grant, fen),
    st.tuples(st.just("match_commit"), grant, fen),
    st.tuples(st.just("match_receive"), grant, fen),
    st.tuples(st.just("spend"), grant, fen, source, st.sampled_from(ALLOWED)),
    st.tuples(st.just("reverse"), grant, st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("unreceive"), grant, st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("recover"), grant, fen, st.booleans()),
    st.tuples(st.just("dispose"), grant, fen, source, st.sampled_from(["returned", "carried_forward"])),
    st.tuples(st.just("close"), grant),
)


def _yuan(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass
class Books:
    """The ledger under test, what was recorded, and where its bundles go."""

    ledger: Ledger
    folder: Path
    step: int = 0
    spends: dict[str, list[str]] = field(default_factory=lambda: {g: [] for g in GRANTS})
    # vouchers of the disbursements, matching commitments and receipts recorded, per grant
    receipts: dict[str, list[str]] = field(default_factory=lambda: {g: [] for g in GRANTS})

    def day(self) -> str:
        return (FIRST_DAY + timedelta(days=7 * self.step)).isoformat()

    def act(self, *args: str, role: str = "officer") -> bool:
        """True if recorded; else it was refused by a rule (beyond the ring-fence, a closed grant …)
        or, for a reversal, as a conflict (exit 5: a voucher reversed already, or naming acts of
        several kinds); what is checked is that every reading agrees after it."""
        result = self.ledger(*args, role=role)
        refusals = (0, 3, 5) if args[0] == "reverse" else (0, 3)
        assert result.exit_code in refusals, (args, result.exit_code, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.exit_code == 0

    def record(self, act: tuple[Any, ...]) -> None:
        kind, g = act[0], act[1]
        on = self.day()
        voucher = f"V{self.step}"
        if kind == "disburse":
            if self.act("disburse", g, "--amount", _yuan(act[2]), "--voucher", voucher, "--date", on):
                self.receipts[g].append(voucher)
        elif kind == "match_commit":
            if self.act(
                "match", "commit", g, "--amount", _yuan(act[2]), "--funder", "单位",
                "--voucher", voucher, "--date", on,
            ):  # fmt: skip
                self.receipts[g].append(voucher)
        elif kind == "match_receive":
            if self.act("match", "receive", g, "--amount", _yuan(act[2]), "--voucher", voucher, "--date", on):
                self.receipts[g].append(voucher)
        elif kind == "unreceive" and self.receipts[g]:  # refused where it would overdraw a date
            received = self.receipts[g][act[2] % len(self.receipts[g])]
            self.act("reverse", g, "--voucher", received, "--reason", "金额错误", "--date", on)
        elif kind == "spend":
            if self.act(
                "spend", g, "--amount", _yuan(act[2]), "--source", act[3], "--category", act[4],
                "--voucher", voucher, "--date", on,
            ):  # fmt: skip
                self.spends[g].append(voucher)
        elif kind == "reverse" and self.spends[g]:
            spent = self.spends[g][act[2] % len(self.spends[g])]
            self.act("reverse", g, "--voucher", spent, "--reason", "录入错误", "--date", on)
        elif kind == "recover":
            amount = _yuan(act[2])
            self.act(
                "recover", "order", g, "--amount", amount, "--reason", "违规列支",
                "--document", f"追{voucher}", "--date", on, role="approver",
            )  # fmt: skip
            if act[3]:
                self.act("recover", "receive", g, "--amount", amount, "--voucher", voucher, "--date", on)
        elif kind == "dispose":
            self.act(
                "dispose", g, "--source", act[3], "--amount", _yuan(act[2]), "--how", act[4],
                "--approval", f"批{voucher}", "--date", on,
            )  # fmt: skip
        elif kind == "close":
            self._close(g, voucher)
        self.step += 1

    def _close(self, g: str, voucher: str) -> None:
        """A final evaluation, what remains disposed of, then the closure (refused while a
        recovery is unsettled)."""
        self.act(
            "evaluate", g, "--kind", "final", "--result", "pass", "--date", "2026-04-01", role="approver"
        )
        held = self.ledger.balances()[GRANTS[g]]
        for s in SOURCES:
            if Decimal(held[f"{s}_available"]) > 0:
                self.act(
                    "dispose", g, "--source", s, "--amount", held[f"{s}_available"], "--how", "returned",
                    "--approval", f"批{voucher}{s}", "--date", "2026-04-10",
                )  # fmt: skip
        self.act("grant", "close", g, "--date", "2026-04-15", role="approver")


# ----------------------------------------------------------------------------- the readings


def _json(books: Books, *args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(books.ledger.ok(*args, "--format", "json").stdout)
    as_csv = list(csv.DictReader(io.StringIO(books.ledger.ok(*args, "--format", "csv", "--codes").stdout)))
    assert [{k: "" if v is None else str(v) for k, v in r.items()} for r in rows] == as_csv, args
    return rows


def _per_grant(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["grant_id"]: r for r in rows}


def _reports_agree(books: Books, balance: dict[str, dict[str, Any]]) -> None:
    sources: dict[tuple[str, str], dict[str, Any]] = {
        (r["grant_id"], r["source"]): r for r in _json(books, "report", "sources")
    }
    execution = _per_grant(_json(books, "report", "execution"))
    matching = _per_grant(_json(books, "report", "matching"))
    categories = _json(books, "report", "categories")
    for g, b in balance.items():
        for s in SOURCES:
            line = sources[g, s]
            assert (line["received"], line["spent"], line["available"]) == (
                b[f"{s}_received"],
                b[f"{s}_spent"],
                b[f"{s}_available"],
            ), (g, s)
            spent = sum(
                (Decimal(c["spent"]) for c in categories if (c["grant_id"], c["source"]) == (g, s)),
                Decimal(0),
            )
            assert spent == Decimal(b[f"{s}_spent"]), (g, s)
        assert Decimal(execution[g]["received"]) == Decimal(b["subsidy_received"]) + Decimal(
            b["matching_received"]
        )
        assert Decimal(execution[g]["spent"]) == Decimal(b["subsidy_spent"]) + Decimal(b["matching_spent"])
        assert (matching[g]["committed"], matching[g]["received"]) == (
            b["matching_committed"],
            b["matching_received"],
        )
        last = _json(books, "history", g)[-1]
        assert (last["subsidy_balance"], last["matching_balance"]) == (
            b["subsidy_available"],
            b["matching_available"],
        )


def _journal_agrees(books: Books, balance: dict[str, dict[str, Any]]) -> None:
    import beanquery

    path = books.folder / f"books-{books.step}.beancount"
    books.ledger.ok("export", "--format", "beancount", "--output", str(path))
    conn = beanquery.connect(f"beancount:{path}")
    cursor = conn.execute("SELECT account, sum(number) AS total GROUP BY account ORDER BY account")
    totals = {str(account): Decimal(total) for account, total in cursor.fetchall()}
    for b in balance.values():
        for s in SOURCES:
            held = totals.get(f"Assets:{b['base_id']}:{s.capitalize()}", Decimal(0))
            assert held == Decimal(b[f"{s}_available"]), (b["grant_id"], s)


def _replay() -> Any:
    from audit.verifier.replay import Replay

    return Replay()


def _bundle_agrees(books: Books, balance: dict[str, dict[str, Any]]) -> None:

    books.ledger.ok("audit", "checkpoint", role="approver")  # signed with tester.approver's key
    bundle = books.folder / f"bundle-{books.step}"
    books.ledger.ok("audit", "export", str(bundle), role="auditor")
    verified = books.ledger("audit", "verify", str(bundle), "--root", str(books.ledger.root), role="auditor")
    assert verified.exit_code == 0, verified.stdout + verified.stderr

    replay = _replay()
    with (bundle / "events.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            replay.feed(json.loads(line)["record"])
    replayed = replay.by_grant()
    workbook = {r["grant_id"]: r for r in bundle_balances(bundle)}
    assert replayed.keys() == workbook.keys() == balance.keys()
    for g, b in balance.items():
        for measure, amount in replayed[g].amounts.items():
            shown = Decimal(b[BALANCE_KEY.get(measure, measure)])
            assert Decimal(amount).quantize(Decimal("0.01")) == shown, (g, measure)
            assert Decimal(str(workbook[g][measure])).quantize(Decimal("0.01")) == shown, (g, measure)
        for s in SOURCES:
            key = f"{s}_available"
            assert Decimal(str(workbook[g][key])).quantize(Decimal("0.01")) == Decimal(b[key]), (g, key)


def _reimport_agrees(books: Books, balance: dict[str, dict[str, Any]]) -> None:
    """``export --format csv`` imported into a fresh ledger (each run of one role's rows by a person
    of that role) gives the same balances, recoveries and disposals included."""
    path = books.folder / f"books-{books.step}.csv"
    books.ledger.ok("export", "--format", "csv", "--output", str(path))
    fresh = copied_ledger(f"sqlite:///{books.folder / f'reimported-{books.step}.db'}")
    fresh.import_ok(path)
    again = {b["grant_id"]: b for b in json.loads(fresh.ok("balance", "--format", "json").stdout)}
    money = [k for k in balance[next(iter(balance))] if k.startswith(("subsidy_", "matching_"))]
    assert {g: {k: b[k] for k in money} for g, b in again.items()} == {
        g: {k: b[k] for k in money} for g, b in balance.items()
    }


def _aggregate_agrees(books: Books, balance: dict[str, dict[str, Any]]) -> None:
    """The write side's own figure (``Grant.available``, which its rules judge by) is the same."""
    from ledger.application import GrantLedger
    from ledger.grant import grant_uuid

    app = GrantLedger(books.ledger.url)
    try:
        for g, b in balance.items():
            aggregate: Any = app.repository.get(grant_uuid(g))
            for s in SOURCES:
                assert f"{aggregate.available(s):.2f}" == b[f"{s}_available"], (g, s)
    finally:
        app.close()


def _all_agree(books: Books) -> None:
    balance = _per_grant(_json(books, "balance"))
    assert balance.keys() == set(GRANTS)
    for b in balance.values():
        for s in SOURCES:
            assert Decimal(b[f"{s}_available"]) >= 0, b  # the ring-fence held
    _aggregate_agrees(books, balance)
    _reports_agree(books, balance)
    _journal_agrees(books, balance)
    _bundle_agrees(books, balance)
    _reimport_agrees(books, balance)


# ----------------------------------------------------------------------------- the property


def _grants_approved(ledger: Ledger) -> None:
    for g, base in GRANTS.items():
        approved_district_grant(ledger, g, base, f"U{g}")


@contextmanager
def _books(backend: str) -> Iterator[Books]:
    with tempfile.TemporaryDirectory(prefix="read-paths-") as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'ledger.db'}" if backend == "sqlite" else None
        ledger = copy_of(built(backend, _grants_approved), url)  # each example on a copy
        try:
            yield Books(ledger, folder)
        finally:
            if backend != "sqlite":
                drop_pg_database(ledger.url)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(sequence=st.lists(acts, min_size=1, max_size=STEPS))
@example(  # every kind of act at least once, the recovery and the disposals that once read differently
    sequence=[
        ("disburse", "G1", 10_000_000),
        ("match_receive", "G1", 5_000_000),
        ("spend", "G1", 2_000_000, "subsidy", "equipment"),
        ("spend", "G1", 1_000_000, "matching", "materials"),
        ("reverse", "G1", 0),
        ("unreceive", "G1", 1),
        ("recover", "G1", 300_000, True),
        ("unreceive", "G1", 0),
        ("dispose", "G1", 100_000, "matching", "carried_forward"),
        ("match_commit", "G2", 100_000),
        ("unreceive", "G2", 0),
        ("close", "G1"),
    ]
)
def test_every_reading_of_the_books_agrees_after_every_act(
    backend: str, sequence: list[tuple[Any, ...]]
) -> None:
    if backend == "postgresql" and (reason := pg_unavailable()):
        pytest.skip(reason)
    with _books(backend) as books:
        for act in sequence:
            books.record(act)
            _all_agree(books)
