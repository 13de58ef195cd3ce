"""Projections follow the store live on PostgreSQL (``grant-ledger projections follow``, woken by
LISTEN/NOTIFY through eventsourcing's subscribe()), poll on SQLite; and a report issued by another
process right after a write already includes it (read-your-writes: catch up before answering).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import date
from decimal import Decimal

import pytest

from ledger.actions import Spend
from ledger.application import GrantLedger
from tests.reliability import GRANT_LEDGER, ROOT, cli_env, funded_grant, projection_dump, run_cli
from tests.signing import url_signer


def _spend_without_catching_up(url: str, vouchers: list[str], amount: str = "12.34") -> None:
    app = GrantLedger(url)  # the application alone: no projection is touched
    try:
        for voucher in vouchers:
            app.handle(
                Spend(
                    grant_id="G1",
                    amount=Decimal(amount),
                    category="equipment",
                    source="subsidy",
                    voucher=voucher,
                    on=date(2024, 5, 10),
                ),
                signer=url_signer(url, actor="other-officer"),
            )
    finally:
        app.close()


def _spent_fen(url: str) -> int:
    return int(projection_dump(url)["grants"][0][4])


def test_follow_keeps_projections_current(db_url: str) -> None:
    funded_grant(db_url, "1000.00")
    args = ["projections", "follow", "--interval", "0.1", "--max-seconds", "60"]
    follower = subprocess.Popen(
        [*GRANT_LEDGER, *args], cwd=ROOT, env=cli_env(db_url), stdout=subprocess.PIPE, text=True
    )
    try:
        assert follower.stdout is not None
        first = follower.stdout.readline()
        assert "following the store" in first, first
        assert ("LISTEN/NOTIFY" in first) == db_url.startswith("postgresql")
        assert _spent_fen(db_url) == 0
        for n in range(3):
            _spend_without_catching_up(db_url, [f"L-{n}"])
            deadline = time.monotonic() + 10
            while _spent_fen(db_url) != 1234 * (n + 1) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert _spent_fen(db_url) == 1234 * (n + 1)  # projected by the follower, live
    finally:
        follower.send_signal(signal.SIGINT)
        out, _ = follower.communicate(timeout=30)
    assert follower.returncode == 0, out
    assert "stopped following" in out


@pytest.mark.parametrize("report", [["balance", "--format", "json"], ["history", "G1"]])
def test_a_report_right_after_a_write_includes_it(db_url: str, report: list[str]) -> None:
    funded_grant(db_url, "1000.00")
    run_cli(db_url, "balance")  # projections current
    _spend_without_catching_up(db_url, ["RYW-1"], "99.99")  # another process writes
    result = run_cli(db_url, *report)  # ...and this one reports at once
    assert result.returncode == 0, result.stderr
    if report[0] == "balance":
        (row,) = json.loads(result.stdout)
        assert row["subsidy_spent"] == "99.99" and row["subsidy_available"] == "900.01"
    else:
        assert "RYW-1" in result.stdout or "99.99" in result.stdout
