"""The ring-fence against a brute-force model, through the command line.

Random acts on one approved grant — disbursements, matching receipts, spends from either source,
reversals of spends and of receipts, recovery orders and receipts, disposals — dated out of
order inside a short window so that many fall on one date. The model keeps every accepted act
and recomputes each fund source's balance at the end of every date from all of them: a command
is accepted iff no date's balance would go negative and the other rules pass, and after every
step ``balance`` (now and as of the act's date) equals the model to the fen. The model's
balance at the end of every date is never negative, and neither is ``balance --as-of`` on any
date looked at (issue 16: the ring-fence by business date, in any typing order).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from tests.conftest import Ledger, approved_district_grant, built, copy_of

APPROVED_ON = date(2024, 4, 1)
APPROVED = Decimal("200000.00")
SOURCES = ("subsidy", "matching")
# two days before the approval (refused) to four weeks after: dates collide, and net
dates = st.integers(-2, 27).map(lambda n: APPROVED_ON + timedelta(days=n))
amounts = st.integers(1, 6_000_000).map(lambda fen: Decimal(fen) / 100)


def template() -> Ledger:
    """A ledger with G1 approved for 200,000.00 on 2024-04-01 (build period to 2026-03-31)."""
    return built("sqlite", approved_district_grant)


class RingFenceModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="ring-fence-"))
        self.ledger = copy_of(template(), f"sqlite:///{self.dir / 'ledger.db'}")
        self.moves: list[tuple[str, date, Decimal]] = []  # (source, date, signed amount) accepted
        self.disbursed = Decimal(0)
        self.ordered = Decimal(0)
        self.first_ordered: date | None = None  # a receipt is dated on or after it (recovery date)
        self.recovered = Decimal(0)
        # each order (date, amount) and receipt (date, -amount): the receipts by any date stay
        # within the orders by that date (recovery date)
        self.recoveries: list[tuple[date, Decimal]] = []
        self.spends: dict[str, tuple[str, date, Decimal]] = {}  # voucher -> source, date, amount
        self.reversed: set[str] = set()
        self.receipts: dict[str, tuple[str, date, Decimal]] = {}  # disbursements, matching receipts
        self.n = 0

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------ the model

    def balance(self, source: str, at: date | None = None) -> Decimal:
        return sum(
            (amount for s, on, amount in self.moves if s == source and (at is None or on <= at)),
            Decimal(0),
        )

    def keeps_every_date(self, source: str, on: date, amount: Decimal) -> bool:
        """Brute force: with ``-amount`` moved on ``on``, every date's balance stays >= 0."""
        moves = [*self.moves, (source, on, -amount)]
        dates = sorted({d for s, d, _ in moves if s == source})
        return all(sum((a for s, d, a in moves if s == source and d <= at), Decimal(0)) >= 0 for at in dates)

    def voucher(self) -> str:
        self.n += 1
        return f"V{self.n}"

    def expect(self, accepted: bool, *args: str, role: str = "officer") -> None:
        before = self.ledger.event_count()
        result = self.ledger(*args, role=role)
        assert result.exit_code == (0 if accepted else 3), (args, result.exit_code, result.stderr, self.moves)
        assert self.ledger.event_count() == before + (2 if accepted else 0)  # the act and its seal

    def check_balances(self, on: date) -> None:
        for at in (None, on):
            extra = [] if at is None else ["--as-of", at.isoformat()]
            rows = json.loads(self.ledger.ok("balance", "B0001", "--format", "json", *extra).stdout)
            row = rows[0]
            for source in SOURCES:
                assert Decimal(row[f"{source}_available"]) == self.balance(source, at), (source, at, row)
        for source in SOURCES:  # the property: no date ends with a source below zero
            for at in {d for s, d, _ in self.moves if s == source}:
                assert self.balance(source, at) >= 0, (source, at, self.moves)

    # ------------------------------------------------------------------ acts

    @rule(amount=amounts, on=dates)
    def disburse(self, amount: Decimal, on: date) -> None:
        ok = on >= APPROVED_ON and self.disbursed + amount <= APPROVED
        v = self.voucher()
        self.expect(ok, "disburse", "G1", "--amount", str(amount), "--voucher", v, "--date", on.isoformat())
        if ok:
            self.disbursed += amount
            self.moves.append(("subsidy", on, amount))
            self.receipts[v] = ("subsidy", on, amount)
        self.check_balances(on)

    @rule(amount=amounts, on=dates)
    def receive_matching(self, amount: Decimal, on: date) -> None:
        ok = on >= APPROVED_ON
        v = self.voucher()
        self.expect(
            ok, "match", "receive", "G1", "--amount", str(amount), "--voucher", v, "--date", on.isoformat()
        )
        if ok:
            self.moves.append(("matching", on, amount))
            self.receipts[v] = ("matching", on, amount)
        self.check_balances(on)

    @rule(amount=amounts, on=dates, source=st.sampled_from(SOURCES))
    def spend(self, amount: Decimal, on: date, source: str) -> None:
        ok = on >= APPROVED_ON and self.keeps_every_date(source, on, amount)
        v = self.voucher()
        args = ["spend", "G1", "--amount", str(amount), "--category", "equipment", "--source", source]
        self.expect(ok, *args, "--voucher", v, "--date", on.isoformat())
        if ok:
            self.spends[v] = (source, on, amount)
            self.moves.append((source, on, -amount))
        self.check_balances(on)

    @precondition(lambda self: len(self.spends) > len(self.reversed))
    @rule(data=st.data(), later=st.integers(0, 10))
    def reverse(self, data: st.DataObject, later: int) -> None:
        voucher = data.draw(st.sampled_from(sorted(set(self.spends) - self.reversed)))
        source, spent_on, amount = self.spends[voucher]
        on = spent_on + timedelta(days=later)  # a reversal is dated on or after what it reverses
        self.expect(True, "reverse", "G1", "--voucher", voucher, "--reason", "错账", "--date", on.isoformat())
        self.reversed.add(voucher)
        self.moves.append((source, on, amount))
        self.check_balances(on)

    @precondition(lambda self: bool(self.receipts))
    @rule(data=st.data(), later=st.integers(0, 10))
    def reverse_receipt(self, data: st.DataObject, later: int) -> None:
        """A disbursement or matching receipt reversed: money out of its source on the reversal's
        date, refused where any date from then on would end below zero."""
        voucher = data.draw(st.sampled_from(sorted(self.receipts)))
        source, received_on, amount = self.receipts[voucher]
        on = received_on + timedelta(days=later)
        ok = self.keeps_every_date(source, on, amount)
        if source == "subsidy":  # the recoveries ordered stay within the subsidy received
            ok = ok and self.disbursed - amount >= self.ordered
        self.expect(
            ok, "reverse", "G1", "--voucher", voucher, "--reason", "到账有误", "--date", on.isoformat()
        )
        if ok:
            del self.receipts[voucher]
            self.moves.append((source, on, -amount))
            if source == "subsidy":
                self.disbursed -= amount
        self.check_balances(on)

    @rule(on=dates)
    def look(self, on: date) -> None:
        """``balance --as-of`` any date: never below zero, and what the model holds."""
        rows = json.loads(
            self.ledger.ok("balance", "B0001", "--format", "json", "--as-of", on.isoformat()).stdout
        )
        for source in SOURCES:
            shown = Decimal(rows[0][f"{source}_available"])
            assert shown >= 0 and shown == self.balance(source, on), (source, on, shown)

    @rule(amount=amounts, on=dates)
    def order_recovery(self, amount: Decimal, on: date) -> None:
        ok = on >= APPROVED_ON and self.ordered + amount <= self.disbursed
        args = ["recover", "order", "G1", "--amount", str(amount), "--reason", "违规"]
        self.expect(ok, *args, "--document", self.voucher(), "--date", on.isoformat(), role="approver")
        if ok:
            self.ordered += amount
            self.first_ordered = on if self.first_ordered is None else min(self.first_ordered, on)
            self.recoveries.append((on, amount))
        self.check_balances(on)

    @rule(amount=amounts, on=dates)
    def receive_recovery(self, amount: Decimal, on: date) -> None:
        ok = (
            on >= APPROVED_ON
            and self.recovered + amount <= self.ordered
            and self.first_ordered is not None
            and on >= self.first_ordered
            and all(
                sum(a for d, a in self.recoveries if d <= at) >= amount
                for at in {on} | {d for d, _ in self.recoveries if d > on}
            )
            and self.keeps_every_date("subsidy", on, amount)
        )
        args = ["recover", "receive", "G1", "--amount", str(amount), "--voucher", self.voucher()]
        self.expect(ok, *args, "--date", on.isoformat())
        if ok:
            self.recovered += amount
            self.recoveries.append((on, -amount))
            self.moves.append(("subsidy", on, -amount))
        self.check_balances(on)

    @rule(amount=amounts, on=dates, source=st.sampled_from(SOURCES))
    def dispose(self, amount: Decimal, on: date, source: str) -> None:
        ok = on >= APPROVED_ON and self.keeps_every_date(source, on, amount)
        owed = self.ordered - self.recovered
        if ok and source == "subsidy" and owed > 0:  # what ordered recoveries still owe stays
            later = {on} | {d for s, d, _ in self.moves if s == source and d > on}
            ok = all(self.balance(source, at) - amount >= owed for at in later)
        args = ["dispose", "G1", "--source", source, "--amount", str(amount), "--how", "returned"]
        self.expect(ok, *args, "--approval", self.voucher(), "--date", on.isoformat())
        if ok:
            self.moves.append((source, on, -amount))
        self.check_balances(on)


RingFenceModel.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_the_ring_fence_matches_a_brute_force_model = pytest.mark.slow(RingFenceModel.TestCase)
