"""Shared helpers of the reliability tests (crashes, concurrent writers, storage faults).

Also runnable as a worker process: ``python -m tests.reliability spend URL GRANT PREFIX START
AMOUNT...`` runs one ``grant-ledger spend`` per amount through the real command line (in one
process, so that four workers really overlap) and prints one JSON line per command, then one
line with the retries this process made.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from ledger.actions import Apply, Disburse, RegisterUnit
from ledger.errors import LedgerError
from projections.names import BALANCES, tracked

ROOT = Path(__file__).resolve().parent.parent
GRANT_LEDGER = [sys.executable, "-m", "commands"]


def cli_env(url: str, role: str = "officer", **extra: str) -> dict[str, str]:
    """The environment of a command run by ``tester`` in ``role`` (their key, registered)."""
    from tests.signing import url_key

    env = {k: v for k, v in os.environ.items() if not k.startswith("GRANT_LEDGER_")}
    env.update(GRANT_LEDGER_DB=url, GRANT_LEDGER_LANG="en", **extra)
    try:
        env.setdefault("GRANT_LEDGER_KEY", str(url_key(url, role)))
    except LedgerError:  # a database the test has broken on purpose: the command says so
        pass
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_cli(url: str, *args: str, role: str = "officer", **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GRANT_LEDGER, "--role", role, *args],
        env=cli_env(url, role, **extra),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def spend_args(grant: str, voucher: str, amount: str, day: str = "2024-05-10") -> list[str]:
    return [
        "spend",
        grant,
        "--amount",
        amount,
        "--category",
        "equipment",
        "--source",
        "subsidy",
        "--voucher",
        voucher,
        "--payee",
        "重庆某设备公司",
        "--date",
        day,
    ]


# ----------------------------------------------------------------------------- the store


def events(url: str) -> list[tuple[Any, ...]]:
    """Every stored event, byte for byte, in the store's order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, originator_id, originator_version, topic, state "
                    "FROM ledger_events ORDER BY id"
                )
            ).all()
        return [tuple(str(v) if k == 1 else v for k, v in enumerate(row)) for row in rows]
    finally:
        engine.dispose()


def stored_expenditures(url: str, grant_id: str) -> list[tuple[str, Decimal]]:
    """(voucher, amount) of every ExpenditureRecorded of the grant, in version order."""
    from ledger.application import GrantLedger
    from ledger.grant import Grant, grant_uuid

    app = GrantLedger(url)
    try:
        found = []
        for event in app.events.get(grant_uuid(grant_id)):
            if isinstance(event, Grant.ExpenditureRecorded):
                found.append((event.voucher, event.amount))
        return found
    finally:
        app.close()


def versions_contiguous(url: str) -> None:
    by_originator: dict[str, list[int]] = {}
    for _id, originator, version, _topic, _state in events(url):
        by_originator.setdefault(originator, []).append(version)
    for originator, versions in by_originator.items():
        assert versions == list(range(1, len(versions) + 1)), (originator, versions)


def projection_dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "grants": [
                    tuple(r)
                    for r in conn.execute(
                        text(
                            "SELECT grant_id, status, approved, subsidy_received, subsidy_spent, "
                            "matching_committed, matching_received, matching_spent "
                            "FROM balance_grants ORDER BY grant_id"
                        )
                    )
                ],
                "movements": [
                    tuple(r)
                    for r in conn.execute(
                        text(
                            "SELECT notification_id, grant_id, kind, measure, amount, source, voucher "
                            "FROM balance_movements ORDER BY notification_id"
                        )
                    )
                ],
            }
    finally:
        engine.dispose()


def catch_up(url: str, batch_size: int = 1000) -> int:
    from ledger.application import GrantLedger
    from projections.runner import catch_up as run

    app = GrantLedger(url)
    try:
        return run(app, batch_size=batch_size)
    finally:
        app.close()


def rebuilt_from_scratch(url: str, tmp: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The balance projection recomputed from the events alone, in a copy of the store."""
    if url.startswith("sqlite"):
        source = Path(url.removeprefix("sqlite:///"))
        copy = tmp / f"rebuild-{time.monotonic_ns()}.db"
        with sqlite3.connect(source) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        dst.close()
        copy_url = f"sqlite:///{copy}"
    else:
        copy_url = url  # the caller has taken its dump already; rebuild in place
    engine = create_engine(copy_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM balance_movements"))
        conn.execute(text("DELETE FROM balance_grants"))
        forget = text("DELETE FROM ledger_tracking WHERE application_name = :key")
        conn.execute(forget, {"key": tracked(BALANCES)})
    engine.dispose()
    catch_up(copy_url)
    dump = projection_dump(copy_url)
    if copy_url != url:
        for leftover in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
            leftover.unlink(missing_ok=True)
    return dump


def integrity_check(url: str) -> str:
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    return str(result)


def funded_grant(url: str, subsidy: str, grant_id: str = "G1") -> None:
    """A district grant approved for 200,000.00 and a first tranche of ``subsidy`` received."""
    from datetime import date

    from ledger.application import GrantLedger
    from tests.signing import save_sealed, url_signer

    officer = url_signer(url)
    url_signer(url, "approver")
    app = GrantLedger(url)
    try:
        who: dict[str, Any] = {"actor": "tester.approver"}
        app.handle(RegisterUnit(unit_id="U1", unit_name="单位U1", on=date(2024, 2, 1)), signer=officer)
        app.handle(
            Apply(
                grant_id=grant_id,
                unit_id="U1",
                base_id="B0001",
                base_name="渝中区数字技能培训基地",
                programme="district_base",
                projects=["电工"],
                requested=Decimal("200000"),
                on=date(2024, 3, 1),
            ),
            signer=officer,
        )
        # approved elsewhere (as the importer brings it in): the selection steps are not replayed
        import inspect

        from ledger.policy import policy_in_force

        grant = app.get_grant(grant_id)
        if "imported" in inspect.signature(grant.approve).parameters:
            who["imported"] = True  # type: ignore[assignment]
        grant.approve(
            amount=Decimal("200000.00"),
            document="渝中人社〔2024〕1号",
            bodies=["区人力社保局", "区财政局"],
            build_start=None,
            build_end=None,
            on=date(2024, 4, 1),
            role="approver",
            policy=policy_in_force(date(2024, 4, 1)),
            **who,
        )
        save_sealed(app, url, grant, role="approver")
        app.handle(
            Disburse(
                grant_id=grant_id, amount=Decimal(subsidy), voucher="T1", tranche=1, on=date(2024, 4, 10)
            ),
            signer=officer,
        )
    finally:
        app.close()


# ----------------------------------------------------------------------------- worker


def _spend_worker(url: str, grant: str, prefix: str, start: float, amounts: Sequence[str]) -> None:
    from click.testing import CliRunner

    from commands.cli import cli
    from ledger.application import RETRIES

    runner = CliRunner()
    while time.time() < start:
        time.sleep(0.001)
    for n, amount in enumerate(amounts):
        voucher = f"{prefix}-{n:03d}"
        result = runner.invoke(cli, ["--db", url, "--lang", "en", *spend_args(grant, voucher, amount)])
        line = {
            "voucher": voucher,
            "amount": amount,
            "exit": result.exit_code,
            "stdout": result.stdout,
            "stderr": result.stderr,
        }
        print(json.dumps(line, ensure_ascii=False), flush=True)
    print(json.dumps({"retries": dict(RETRIES)}), flush=True)


def parse_worker_output(out: str) -> tuple[list[dict[str, Any]], Counter[str]]:
    results, retries = [], Counter[str]()
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        if "retries" in row:
            retries.update(row["retries"])
        else:
            results.append(row)
    return results, retries


if __name__ == "__main__":  # pragma: no cover - run as a subprocess by the tests
    _kind, _url, _grant, _prefix, _start, *_amounts = sys.argv[1:]
    _spend_worker(_url, _grant, _prefix, float(_start), _amounts)
