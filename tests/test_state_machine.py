"""A hypothesis state machine over the ledger's commands against a simple in-memory model.

Commands (through the GrantLedger application, as the command line calls it): disburse, match
commit and receive, spend, reverse — valid ones and invalid variants (banned category, overspend,
tranche beyond the approval, unknown voucher, same voucher with different content, repeats). After
every step the aggregate and the balance projection equal the model to the fen; no banned
category or overspend is ever accepted; at the end a from-scratch rebuild of the projection equals
the one kept up step by step. One SQLite file per example.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledger.actions import CommitMatching, Disburse, ReceiveMatching, Reverse, Spend
from ledger.application import GrantLedger
from ledger.errors import ConflictError, NotFoundError, ReversedVoucherError, RuleViolationError
from projections.runner import catch_up
from tests.reliability import funded_grant, projection_dump, rebuilt_from_scratch
from tests.signing import url_signer

ON = date(2024, 5, 10)
APPROVED = Decimal("200000.00")
VOUCHERS = st.sampled_from([f"V{n}" for n in range(1, 7)])
AMOUNTS = st.integers(1, 12_000_000).map(lambda fen: Decimal(fen) / 100)
ALLOWED = ["equipment", "materials", "teacher_training", "curriculum"]
BANNED = ["travel", "labour", "unrelated", "差旅费"]
# the model's officer, registered in the template (its copies hold the same registry): {"signer": ...}
WHO: dict[str, Any] = {}


_TEMPLATE: list[Path] = []


def _template() -> Path:
    """A ledger file with G1 approved for 200,000.00 and a first tranche T1 of 1,000.00."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="ledger-model-template-"))
        atexit.register(shutil.rmtree, folder, True)  # each test process's, left in /tmp before
        path = folder / "ledger.db"
        url = f"sqlite:///{path}"
        funded_grant(url, "1000.00")
        WHO["signer"] = url_signer(url, actor="model")
        app = GrantLedger(url)
        catch_up(app)
        app.close()
        _TEMPLATE.append(path)  # closed: the WAL is checkpointed into the file
    return _TEMPLATE[0]


class LedgerModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="ledger-model-"))
        self.url = f"sqlite:///{self.dir / 'ledger.db'}"
        shutil.copyfile(_template(), self.dir / "ledger.db")  # a fresh file per example
        self.app = GrantLedger(self.url)
        self.received = {"subsidy": Decimal("1000.00"), "matching": Decimal(0)}
        self.committed = Decimal(0)
        self.spent = {"subsidy": Decimal(0), "matching": Decimal(0)}
        self.seen: dict[str, tuple[Any, ...]] = {"disburse/T1": (Decimal("1000.00"),)}
        self.expenditures: dict[str, tuple[Decimal, str]] = {}
        self.reversed: set[str] = set()

    def teardown(self) -> None:
        try:
            catch_up(self.app)
            assert rebuilt_from_scratch(self.url, self.dir) == projection_dump(self.url)
        finally:
            self.app.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------ helpers

    def _expect(self, key: str, content: tuple[Any, ...], call: Any, refusal: type[Exception] | None) -> bool:
        """Run a command; the model says whether it writes, repeats, conflicts or is refused."""
        known = self.seen.get(key)
        if known is not None:
            if known == content:
                assert call().recorded is False  # a repeat writes nothing
            else:
                self._refused(call, ConflictError)
            return False
        if refusal is not None:
            self._refused(call, refusal)
            return False
        assert call().recorded is True
        self.seen[key] = content
        return True

    @staticmethod
    def _refused(call: Any, error: type[Exception]) -> None:
        try:
            call()
        except error:
            return
        raise AssertionError(f"expected {error.__name__}")

    # ------------------------------------------------------------------ rules

    @rule(voucher=VOUCHERS, amount=AMOUNTS)
    def disburse(self, voucher: str, amount: Decimal) -> None:
        over = self.received["subsidy"] + amount > APPROVED
        if self._expect(
            f"disburse/{voucher}",
            (amount,),
            lambda: self.app.handle(
                Disburse(grant_id="G1", amount=amount, voucher=voucher, tranche=2, on=ON), **WHO
            ),
            RuleViolationError if over else None,
        ):
            self.received["subsidy"] += amount

    @rule(voucher=VOUCHERS, amount=AMOUNTS)
    def commit_matching(self, voucher: str, amount: Decimal) -> None:
        if self._expect(
            f"match_commit/{voucher}",
            (amount,),
            lambda: self.app.handle(
                CommitMatching(grant_id="G1", amount=amount, voucher=voucher, funder="承建单位", on=ON), **WHO
            ),
            None,
        ):
            self.committed += amount

    @rule(voucher=VOUCHERS, amount=AMOUNTS)
    def receive_matching(self, voucher: str, amount: Decimal) -> None:
        if self._expect(
            f"match_receive/{voucher}",
            (amount,),
            lambda: self.app.handle(
                ReceiveMatching(grant_id="G1", amount=amount, voucher=voucher, on=ON), **WHO
            ),
            None,
        ):
            self.received["matching"] += amount

    @rule(
        voucher=VOUCHERS,
        amount=AMOUNTS,
        source=st.sampled_from(["subsidy", "matching"]),
        category=st.sampled_from(ALLOWED + BANNED),
    )
    def spend(self, voucher: str, amount: Decimal, source: str, category: str) -> None:
        code = "travel" if category == "差旅费" else category
        available = self.received[source] - self.spent[source]
        refusal = RuleViolationError if code in BANNED or amount > available else None
        action = Spend(grant_id="G1", amount=amount, category=category, source=source, voucher=voucher, on=ON)
        record = lambda: self.app.handle(action, **WHO)  # noqa: E731
        if voucher in self.reversed:  # a reversed voucher is not spent again, the same or not
            self._refused(record, ReversedVoucherError)
            return
        if self._expect(f"spend/{voucher}", (amount, source, code), record, refusal):
            assert code not in BANNED and amount <= available
            self.spent[source] += amount
            self.expenditures[voucher] = (amount, source)

    @rule(voucher=VOUCHERS, reason=st.sampled_from(["重复入账", "金额错误"]))
    def reverse(self, voucher: str, reason: str) -> None:
        key = f"reverse/{voucher}"
        refusal = NotFoundError if voucher not in self.expenditures and key not in self.seen else None
        if self._expect(
            key,
            (reason,),
            # an expenditure's reversal (a voucher may also name a receipt: reverse takes any money act)
            lambda: self.app.handle(
                Reverse(grant_id="G1", voucher=voucher, reason=reason, kind="spend", on=ON), **WHO
            ),
            refusal,
        ):
            amount, source = self.expenditures[voucher]
            self.spent[source] -= amount
            self.reversed.add(voucher)

    @precondition(lambda self: bool(self.expenditures))
    @rule()
    def catch_up_now(self) -> None:
        catch_up(self.app)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def aggregate_equals_model(self) -> None:
        grant = self.app.get_grant("G1")
        assert grant.subsidy_received == self.received["subsidy"]
        assert grant.matching_received == self.received["matching"]
        assert grant.matching_committed == self.committed
        assert grant.spent == self.spent
        for source in ("subsidy", "matching"):
            assert grant.available(source) >= 0  # never below zero

    @invariant()
    def projection_equals_model(self) -> None:
        catch_up(self.app)
        (row,) = projection_dump(self.url)["grants"]
        fen = [int(v * 100) for v in (self.received["subsidy"], self.spent["subsidy"])]
        fen += [int(v * 100) for v in (self.committed, self.received["matching"], self.spent["matching"])]
        assert list(row[3:]) == fen, (row, fen)


LedgerModel.TestCase.settings = settings(
    # 120 examples of up to 10 steps (~40 s); GRANT_LEDGER_MODEL_EXAMPLES=500 for a deeper run
    max_examples=int(os.environ.get("GRANT_LEDGER_MODEL_EXAMPLES", "120")),
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_ledger_matches_its_model = pytest.mark.slow(LedgerModel.TestCase)
