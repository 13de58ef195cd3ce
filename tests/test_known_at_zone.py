"""A recorded time `history` prints, given back to `--known-at` on a machine in Chongqing's time,
cuts just after its event: history prints it in the machine's time with its offset (it had
printed SQLite's naive UTC, which `--known-at` then read as local time, 8 hours off)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

from tests.conftest import Ledger, approved_district_grant


def _run(ledger: Ledger, *args: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from commands.cli import main; main()",
            "--db",
            ledger.url,
            "--lang",
            "en",
            *args,
        ],
        env={**os.environ, "TZ": "Asia/Shanghai"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_recorded_time_from_history_cuts_just_after_its_event_in_chongqing_time(
    sqlite_ledger: Ledger,
) -> None:
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    sqlite_ledger.ok("spend", "G1", "--amount", "1.5万", "--category", "equipment", "--source", "subsidy",
                     "--voucher", "S-1", "--date", "2024-05-01")  # fmt: skip
    lines = json.loads(_run(sqlite_ledger, "history", "G1", "--format", "json"))
    recorded = lines[-1]["recorded_at"]
    assert lines[-1]["voucher"] == "S-1" and recorded.endswith("+08:00"), recorded
    table = _run(sqlite_ledger, "history", "G1")
    assert recorded[:19].replace("T", " ") + "+08:00" in table  # the table's time, to the second
    before = (datetime.fromisoformat(recorded) - timedelta(microseconds=1)).isoformat()

    def spent(*known: str) -> str:
        rows = json.loads(_run(sqlite_ledger, "balance", "--format", "json", *known))
        return str(rows[0]["subsidy_spent"])

    assert spent("--known-at", recorded) == "15000.00"
    assert spent("--known-at", recorded[:26]) == "15000.00"  # typed without its offset: local time
    assert spent("--known-at", before) == "0.00"
