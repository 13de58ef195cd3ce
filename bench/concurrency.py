"""Many officers at once on PostgreSQL, one process per command as they run it.

``different_grants``: 16 writers, each recording spends on a grant of its own; commits/s beside
what two cores allow at one write's CPU cost (the command's own CPU, measured alone: start-up
dominates, so the ratio is the target), p99 latency, and whether every acknowledged spend is
stored exactly once (each grant's matching spent moves by exactly what was acknowledged).

``one_grant``: 16 writers spending on the same grant at once, together asking more than it has:
every acknowledged spend stored once, the rest refused (exit 3) or told to retry (exit 5), and
no balance below zero.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

WRITERS = 16
CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class Write:
    grant: str
    amount: Decimal
    seconds: float
    cpu: float
    code: int


def spend(exe: str, env: dict[str, str], cwd: Path, grant: str, amount: Decimal, voucher: str) -> Write:
    """One `spend` as its own process: wall seconds, its CPU seconds (user + system), exit code."""
    command = [
        exe, "spend", grant, "--amount", str(amount), "--category", "materials", "--source", "matching",
        "--voucher", voucher, "--date", "2024-06-01",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return Write(
        grant,
        amount,
        time.perf_counter() - started,
        usage.ru_utime + usage.ru_stime,
        os.waitstatus_to_exitcode(status),
    )


def matching(exe: str, env: dict[str, str], cwd: Path) -> dict[str, tuple[Decimal, Decimal]]:
    """Each grant's matching (spent, available), as `balance --format json` reports them."""
    out = subprocess.run(
        [exe, "balance", "--format", "json"], env=env, cwd=cwd, capture_output=True, text=True, check=True
    ).stdout
    return {
        row["grant_id"]: (Decimal(row["matching_spent"]), Decimal(row["matching_available"]))
        for row in json.loads(out)
    }


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def different_grants(exe: str, env: dict[str, str], cwd: Path, per_writer: int) -> list[str]:
    """The lines the bench prints for 16 writers on 16 grants."""
    before = matching(exe, env, cwd)
    grants = sorted(g for g, (_, available) in before.items() if available >= Decimal("1"))[:WRITERS]
    if len(grants) < WRITERS:
        return [f"  16 writers, different grants: only {len(grants)} grants with matching funds; skipped"]
    # vouchers of this run's own: a voucher recorded before is acknowledged (exit 0) and not
    # stored again, which the check below would count as lost
    tag = f"C{os.getpid()}-{time.time_ns()}"
    alone = [spend(exe, env, cwd, grants[0], Decimal("0.01"), f"{tag}-ALONE-{n}") for n in range(5)]
    cpu = statistics.median(w.cpu for w in alone)

    def writer(n: int) -> list[Write]:
        return [spend(exe, env, cwd, grants[n], Decimal("0.01"), f"{tag}-{n}-{k}") for k in range(per_writer)]

    started = time.perf_counter()
    with ThreadPoolExecutor(WRITERS) as pool:
        done = [w for ws in pool.map(writer, range(WRITERS)) for w in ws]
    wall = time.perf_counter() - started
    after = matching(exe, env, cwd)
    acknowledged: dict[str, Decimal] = {}
    for w in [*alone, *done]:
        if w.code == 0:
            acknowledged[w.grant] = acknowledged.get(w.grant, Decimal(0)) + w.amount
    wrong = [g for g in grants if after[g][0] - before[g][0] != acknowledged.get(g, Decimal(0))]
    committed = sum(1 for w in done if w.code == 0)
    latencies = [w.seconds for w in done]
    rate = committed / wall
    allowed = CORES / cpu
    return [
        f"  16 writers, different grants (PostgreSQL, one process per spend): {committed}/{len(done)} "
        f"committed in {wall:.1f} s = {rate:.1f} commits/s; two cores at one write's CPU "
        f"({cpu:.3f} s) allow {allowed:.1f}/s: ratio {rate / allowed:.2f} (target ≥ 0.8)",
        f"  latency p50 {statistics.median(latencies):.2f} s, p99 {p99(latencies):.2f} s "
        f"(target ≤ 3 s); exits {sorted({w.code for w in done})}; "
        + ("every acknowledged spend stored once" if not wrong else f"LOST OR DOUBLED on {wrong}"),
    ]


def one_grant(exe: str, env: dict[str, str], cwd: Path) -> list[str]:
    """The lines the bench prints for 16 writers on one grant asking more than it holds."""
    before = matching(exe, env, cwd)
    grant, (spent, available) = max(before.items(), key=lambda item: item[1][1])
    if available <= 0:
        return ["  16 writers, one grant: no grant with matching funds; skipped"]
    # each asks an eighth of what is left: at most eight can be acknowledged
    amount = (available / 8).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    tag = f"O{os.getpid()}-{time.time_ns()}"
    with ThreadPoolExecutor(WRITERS) as pool:
        done = list(pool.map(lambda n: spend(exe, env, cwd, grant, amount, f"{tag}-{n}"), range(WRITERS)))
    after_spent, after_available = matching(exe, env, cwd)[grant]
    ok = [w for w in done if w.code == 0]
    stored_once = after_spent - spent == amount * len(ok)
    codes = {c: sum(1 for w in done if w.code == c) for c in sorted({w.code for w in done})}
    verdict = "every acknowledged spend stored once" if stored_once else "LOST OR DOUBLED"
    return [
        f"  16 writers, one grant {grant} ({available} available, each asks {amount}): exits {codes}; "
        f"{verdict}; matching available after {after_available} "
        + ("(never below zero)" if after_available >= 0 else "(BELOW ZERO)")
    ]
