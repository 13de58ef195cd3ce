"""``make bench-scale``: the speed issue's ten-million row, run once and reported in a closing note.

BENCH_EVENTS rows (default 10,000,000) over BENCH_SCALE_BASES bases (default one per 50 rows:
200,000 at 10M), in date order as officers import them, on a new SQLite ledger. Prints the
import (events/s, peak RSS; target ≤ 300 MB), `balance` of one base (target ≤ 0.1 s) and of
all bases as JSON (target ≤ 3 s), and `ledger` and `hledger` on the same data where installed,
each stopped after BENCH_PEER_LIMIT seconds (default 1,800: "if they finish within 30 minutes").
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.__main__ import NO_PEAK, Figure, fresh_ledger, print_table, run, timed
from bench.generate import base_ids, write_csv
from bench.spawner import Spawner


def peer(name: str, command: list[str], size: int, limit: float) -> Figure:
    """A peer's wall time and peak RSS, or the limit it did not finish within."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stopper = threading.Timer(limit, proc.send_signal, (signal.SIGKILL,))
    stopper.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    stopper.cancel()
    if seconds >= limit:
        return Figure(name, size, float("nan"), NO_PEAK, note=f"not finished in {limit:,.0f} s (stopped)")
    code = os.waitstatus_to_exitcode(status)
    note = "" if code == 0 else f"failed (exit {code})"
    if code == -signal.SIGKILL:  # not by the limit's timer: the kernel's, out of memory
        note = f"killed by the system at {usage.ru_maxrss / 1024 / 1024:.1f} GB (out of memory)"
    cpu = usage.ru_utime + usage.ru_stime
    return Figure(name, size, seconds, usage.ru_maxrss / 1024, note=note, cpu=cpu)


def main() -> None:
    spawner = Spawner()  # before anything grows: each command's peak RSS is its own
    import bench.__main__ as bench

    bench._spawner = spawner
    events = int(os.environ.get("BENCH_EVENTS", "10000000"))
    bases = int(os.environ.get("BENCH_SCALE_BASES", str(max(10, events // 50))))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    limit = float(os.environ.get("BENCH_PEER_LIMIT", "1800"))
    exe = str(Path(sys.executable).with_name("grant-ledger"))
    folder = Path(os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="grant-ledger-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    db, keys = folder / "scale.db", folder / "keys"
    officer_key, approver_key = keys / "officer.key", keys / "approver.key"
    env = {**os.environ, "GRANT_LEDGER_DB": str(db), "GRANT_LEDGER_LANG": "en"}
    for name in ("GRANT_LEDGER_ROLE", "GRANT_LEDGER_ACTOR", "GRANT_LEDGER_KEY", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    source, approvals = folder / "ledger.csv", folder / "approvals.csv"
    print(f"generating {events:,} rows over {bases:,} bases (seeded, date order) in {folder} …", flush=True)
    started = time.perf_counter()
    count = write_csv(source, events, approvals=approvals, bases=bases)
    approval_rows = len(approvals.read_text(encoding="utf-8").splitlines()) - 1
    print(f"  {count:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
    for key in (officer_key, approver_key):
        if not key.exists():
            run([exe, "keys", "generate", "--out", str(key)], env, folder)
    run(["sh", "-c", fresh_ledger(exe, str(db), keys)], env, folder)

    figures = [
        timed(
            f"import approvals ({bases:,} bases)",
            approval_rows,
            [exe, "--key", str(approver_key), "import", str(approvals)],
            env,
            folder,
            1,
            per_item=approval_rows,
        )
    ]
    print(f"  {figures[-1].operation}: {figures[-1].seconds:.0f} s", flush=True)
    money = count - approval_rows
    imported = timed(
        "import (date order)",
        count,
        [exe, "--key", str(officer_key), "import", str(source)],
        env,
        folder,
        1,
        per_item=money,
    )
    figures.append(imported)
    print(f"  import: {imported.seconds:.0f} s, peak {imported.rss_mb:.0f} MB", flush=True)
    base = base_ids(events, bases)[0]
    if imported.note == "":
        figures.append(timed(f"balance {base}", count, [exe, "balance", base], env, folder, runs))
        figures.append(
            timed(
                "balance (all bases) --format json",
                count,
                [exe, "balance", "--format", "json"],
                env,
                folder,
                runs,
            )
        )
        journal = folder / "ledger.hledger"
        run(["sh", "-c", f"{exe} export --format hledger > {journal}"], env, folder)
        for tool in ("ledger", "hledger"):
            path = shutil.which(tool)
            if path is None:
                figures.append(
                    Figure(f"{tool} bal {base}", count, float("nan"), NO_PEAK, note="not installed")
                )
                continue
            print(f"  {tool} bal {base} (stopped after {limit:,.0f} s) …", flush=True)
            figures.append(peer(f"{tool} bal {base}", [path, "-f", str(journal), "bal", base], count, limit))

    print()
    print_table(figures, 40)
    by = {f.operation: f for f in figures}
    print(f"\ntargets at {count:,} events over {bases:,} bases")
    print(f"  import peak RSS {imported.rss_mb:.0f} MB (target ≤ 300 MB)")
    one, every = by.get(f"balance {base}"), by.get("balance (all bases) --format json")
    if one and every:
        print(f"  balance of one base {one.seconds:.3f} s (target ≤ 0.1 s)")
        print(f"  balance of all bases as JSON {every.seconds:.3f} s (target ≤ 3 s)")
        for tool in ("ledger", "hledger"):
            other = by.get(f"{tool} bal {base}")
            if other and other.seconds == other.seconds and not other.note:
                print(f"  {tool} bal {base}: {other.seconds:.1f} s, {other.seconds / one.seconds:,.0f}x ours")
    spawner.close()


if __name__ == "__main__":
    main()
