"""A scripted scenario on both backends: balances exact to the fen, in every format."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import Ledger


@pytest.fixture
def ledger(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """A database the demo makes its own ledger in (it founds the registry with its people;
    on PostgreSQL their keys go to the current directory)."""
    monkeypatch.chdir(tmp_path)
    return Ledger(db_url, CliRunner(), create=False)


def test_demo_balances_to_the_fen(ledger: Ledger) -> None:
    result = ledger.ok("demo")
    assert "refused (exit 3)" in result.stdout and "差旅费" in result.stdout
    rows = ledger.balances()
    b1, b2 = rows["B0001"], rows["B0002"]
    # district base: 20万 in two tranches; 86000 + 12500 + 24000 + 18000 - 12500 + 10500 spent
    assert (b1["subsidy_approved"], b1["subsidy_received"], b1["subsidy_spent"], b1["subsidy_available"]) == (
        "200000.00",
        "200000.00",
        "138500.00",
        "61500.00",
    )
    assert (
        b1["matching_committed"],
        b1["matching_received"],
        b1["matching_spent"],
        b1["matching_available"],
    ) == ("200000.00", "200000.00", "92000.00", "108000.00")
    assert b1["execution_rate"] == "57.63"  # (138500 + 92000) / 400000 = 57.625%, 四舍五入 (issue 16 item 3)
    assert (b2["subsidy_received"], b2["subsidy_spent"], b2["matching_received"], b2["matching_spent"]) == (
        "1500000.00",
        "928000.00",
        "800000.00",
        "385000.00",
    )
    csv_rows = list(csv.DictReader(io.StringIO(ledger.ok("balance", "--format", "csv", "--codes").stdout)))
    assert [r["subsidy_available"] for r in csv_rows] == ["61500.00", "572000.00"]
    table = ledger.ok("balance", "B0001").stdout
    assert "61,500.00" in table and "B0002" not in table


def test_json_amounts_are_strings_with_two_decimals(ledger: Ledger) -> None:
    ledger.ok("demo")
    for row in json.loads(ledger.ok("balance", "--format", "json").stdout):
        for key in ("subsidy_received", "matching_spent", "subsidy_available"):
            assert isinstance(row[key], str) and row[key].split(".")[1].__len__() == 2


def test_real_subprocess_demo_and_help(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("grant-ledger")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "commands"]
    env = {**os.environ, "GRANT_LEDGER_DB": str(tmp_path / "x.db"), "GRANT_LEDGER_LANG": "zh"}
    out = subprocess.run(
        [*command, "demo"], capture_output=True, text=True, env=env, cwd=tmp_path, check=True, timeout=120
    )
    assert "余额表" in out.stdout and "执行率" in out.stdout
    env["GRANT_LEDGER_KEY"] = str(tmp_path / "x-keys" / "officer.key")  # the demo's officer
    bad = subprocess.run(
        [
            *command,
            "spend",
            "G-YZ-2024-01",
            "--amount",
            "100",
            "--category",
            "travel",
            "--voucher",
            "X",
            "--date",
            "2024-08-01",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 3 and "003 第九条" in bad.stderr and "Traceback" not in bad.stderr
    helped = subprocess.run(
        [*command, "spend", "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert helped.returncode == 0 and "示例" in helped.stdout
