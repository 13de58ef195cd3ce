"""Four officers spend from one grant at the same moment, more in total than it holds.

Optimistic-concurrency conflicts are retried automatically; the grant never goes below zero;
every acknowledged spend is stored exactly once; every refusal is the ring-fence rule (exit 3,
003 第十条); versions are contiguous; the projection equals a from-scratch rebuild.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger.actions import Spend
from tests.reliability import (
    ROOT,
    cli_env,
    funded_grant,
    parse_worker_output,
    projection_dump,
    rebuilt_from_scratch,
    stored_expenditures,
    versions_contiguous,
)
from tests.signing import url_signer

WORKERS = 4
SPENDS_PER_WORKER = 10
FUNDS = "1000.00"


@pytest.mark.slow
def test_four_officers_spend_one_grant_at_once(db_url: str, tmp_path: Path) -> None:
    funded_grant(db_url, FUNDS)
    rng = random.Random(6)
    plans = {
        f"W{w}": [f"{rng.randint(1500, 4500) / 100:.2f}" for _ in range(SPENDS_PER_WORKER)]
        for w in range(WORKERS)
    }
    total_asked = sum(Decimal(a) for amounts in plans.values() for a in amounts)
    assert total_asked > Decimal(FUNDS)  # more than the grant holds
    start = time.time() + 2.0
    procs = {
        prefix: subprocess.Popen(
            [sys.executable, "-m", "tests.reliability", "spend", db_url, "G1", prefix, str(start), *amounts],
            cwd=ROOT,
            env=cli_env(db_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix, amounts in plans.items()
    }
    results, retries = [], Counter[str]()
    for prefix, proc in procs.items():
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, (prefix, err[-2000:])
        rows, tried = parse_worker_output(out)
        assert len(rows) == SPENDS_PER_WORKER, (prefix, out, err[-2000:])
        results += rows
        retries += tried

    acknowledged = {r["voucher"]: Decimal(r["amount"]) for r in results if r["exit"] == 0}
    refused = [r for r in results if r["exit"] != 0]
    for r in refused:
        assert r["exit"] == 3, (r["exit"], r["stderr"])
        assert "ring-fence" in r["stderr"] and "003 第十条" in r["stderr"], r
        assert r["stderr"].count("\n") == 1, r
    stored = stored_expenditures(db_url, "G1")
    vouchers = Counter(v for v, _ in stored)
    assert all(n == 1 for n in vouchers.values()), vouchers  # none recorded twice
    assert dict(stored) == acknowledged  # every acknowledged spend stored, nothing else
    spent = sum(acknowledged.values(), Decimal(0))
    assert spent <= Decimal(FUNDS)
    # the last refusals came when the grant could no longer pay them
    assert refused, "the grant holds less than was asked: some spends must be refused"
    # the available balance only shrank, so each refused spend exceeds even the final one
    assert all(Decimal(r["amount"]) > Decimal(FUNDS) - spent for r in refused)
    versions_contiguous(db_url)

    dump = projection_dump(db_url)
    (row,) = dump["grants"]
    assert row[3] == 100000 and row[4] == int(spent * 100)  # received, spent in fen
    assert row[3] - row[4] >= 0
    assert rebuilt_from_scratch(db_url, tmp_path) == dump
    print(
        f"\n[{db_url.split(':')[0]}] {len(acknowledged)} spends stored ({spent} of {FUNDS}), "
        f"{len(refused)} refused by the ring-fence, retries {dict(retries)}"
    )


SPENDS_FOR_CATCH_UP = 80
CATCH_UP_KILLS = 5


def _spends_not_yet_projected(url: str) -> Decimal:
    from datetime import date

    from ledger.application import GrantLedger

    funded_grant(url, "200000.00")
    officer = url_signer(url)
    app = GrantLedger(url)
    total = Decimal(0)
    try:
        for n in range(SPENDS_FOR_CATCH_UP):
            amount = Decimal(100 + n) + Decimal("0.01") * (n % 100)
            total += amount
            app.handle(
                Spend(
                    grant_id="G1",
                    amount=amount,
                    category="materials",
                    source="subsidy",
                    voucher=f"C-{n:04d}",
                    on=date(2024, 6, 1),
                ),
                signer=officer,
            )
    finally:
        app.close()
    return total


def _position(url: str) -> int:
    from ledger.database import make_engine
    from projections.status import positions

    engine = make_engine(url)
    try:
        return positions(engine, ("balances",))["balances"]
    finally:
        engine.dispose()


class _CrashAfter:
    """The balance projection, crashing inside the transaction of its third batch."""

    def __init__(self) -> None:
        from projections.balances import BalanceProjection

        self.inner = BalanceProjection()
        self.name = self.inner.name
        self.tables = self.inner.tables
        self.batches = 0

    def apply(self, session: Any, batch: Any) -> None:
        self.inner.apply(session, batch)  # rows written in the transaction...
        self.batches += 1
        if self.batches == 3:
            raise RuntimeError("power cut")  # ...and lost with it


@pytest.mark.slow
def test_catch_up_crash_mid_batch_counts_every_row_once(db_url: str, tmp_path: Path) -> None:
    from ledger.application import GrantLedger
    from projections.runner import catch_up

    total = _spends_not_yet_projected(db_url)
    app = GrantLedger(db_url)
    crashing = _CrashAfter()
    with pytest.raises(RuntimeError, match="power cut"):
        catch_up(app, [crashing], batch_size=7)
    app.close()
    position = _position(db_url)
    assert position == 14  # two whole batches of 7 events, not the third
    assert max(m[0] for m in projection_dump(db_url)["movements"]) <= position

    # and crashes of a real process (SIGKILL) at random moments while it catches up, one event
    # a batch; watched over one open engine so that the kill lands within milliseconds of a
    # commit (a fresh engine per look took longer than the whole catch-up on PostgreSQL)
    from ledger.database import make_engine
    from projections.status import positions

    watcher = make_engine(db_url)

    def watched() -> int:
        return positions(watcher, ("balances",))["balances"]

    rng = random.Random(61)
    killed = 0
    head = 4 + SPENDS_FOR_CATCH_UP + 1
    try:
        for _ in range(CATCH_UP_KILLS * 3):
            before = watched()
            if before >= head or killed >= CATCH_UP_KILLS:
                break
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sys; from tests.reliability import catch_up; catch_up(sys.argv[1], 1)",
                    db_url,
                ],
                cwd=ROOT,
                env=cli_env(db_url),
            )
            while proc.poll() is None and watched() == before:
                time.sleep(0.001)  # wait until it is committing batches, then cut it off
            time.sleep(rng.uniform(0, 0.01))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.wait()
    finally:
        watcher.dispose()
    assert killed >= 3
    from tests.reliability import catch_up as finish

    finish(db_url)
    dump = projection_dump(db_url)
    (row,) = dump["grants"]
    assert row[4] == int(total * 100)  # subsidy spent, to the fen
    kinds = Counter(m[2] for m in dump["movements"])
    assert kinds == {"approve": 1, "disburse": 1, "spend": SPENDS_FOR_CATCH_UP}
    assert len({m[6] for m in dump["movements"] if m[2] == "spend"}) == SPENDS_FOR_CATCH_UP
    assert rebuilt_from_scratch(db_url, tmp_path) == dump
    print(f"\n[{db_url.split(':')[0]}] catch-up killed {killed} times mid-way; every row counted once")
