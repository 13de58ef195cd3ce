"""``make bench``: time whole commands as a user runs them, beside the tools users would pick.

Prints one table: operation, size, median wall time of several runs, events/s where it
applies, peak RSS, and the ratio to the reference the row names. Sizes: BENCH_EVENTS (default
100,000; 1,000,000 for the full size), BENCH_RUNS (default 3). The import is timed on the same
rows by date (as finance systems export them, the default), grouped by grant and interleaved
grant by grant, and on a set of the same size spread over BENCH_WIDE_BASES bases (default one
per 50 rows: 20,000 at 1M) by date; BENCH_ORDERS=0 times the date order only.
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.generate import HEADER, base_ids, rows, write_csv
from bench.spawner import Spawner

QUICK_RUNS = 10  # runs of each command that answers within a second, at least
NO_PEAK = float("nan")  # a row that is not a process of its own (run in the benchmark's), or none ran


@dataclass
class Figure:
    operation: str
    size: int
    seconds: float
    rss_mb: float
    per_second: float | None = None
    note: str = ""
    cpu: float = float("nan")  # CPU seconds of the median run, its child processes' included


_spawner: Spawner | None = None  # started first thing in main, while the benchmark is small


def run(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MB) and exit code of one whole process (bench.spawner)."""
    elapsed, mb, code, _cpu = measure(command, env, cwd)
    return elapsed, mb, code


def measure(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int, float]:
    """``run``'s figures and the CPU seconds the process (and those it waited for) used."""
    global _spawner
    if _spawner is None:
        _spawner = Spawner()
    elapsed, mb, code, said, cpu = _spawner.run(command, env, cwd)
    if code != 0:
        sys.stderr.write(f"bench: {' '.join(command[:3])}… exit {code}: {said[:400]}\n")
    return elapsed, mb, code, cpu


def timed(
    name: str,
    size: int,
    command: list[str] | Callable[[], list[str]],
    env: dict[str, str],
    cwd: Path,
    runs: int,
    per_item: int | None = None,
    setup: list[str] | None = None,
) -> Figure:
    """The median of ``runs`` runs of ``command`` (a function: made again for each run, as a
    write's, which records once only what it is given once)."""
    times, rss, cpus = [], [], []
    for _ in range(runs):
        if setup:
            run(setup, env, cwd)
        seconds, mb, code, cpu = measure(command() if callable(command) else command, env, cwd)
        if code != 0:
            return Figure(name, size, float("nan"), mb, note=f"failed (exit {code})")
        times.append(seconds)
        rss.append(mb)
        cpus.append(cpu)
    median = statistics.median(times)
    cpu = statistics.median(cpus)
    return Figure(name, size, median, max(rss), per_item / median if per_item else None, cpu=cpu)


def timed_together(
    rows: list[tuple[str, int, list[str] | Callable[[], list[str]]]],
    env: dict[str, str],
    cwd: Path,
    runs: int,
) -> list[Figure]:
    """``timed`` for each row, their runs taken in turn (one of each, then again): a ratio of two
    rows then compares runs made under the same load. Timed minutes apart, on a machine whose
    speed drifts, the ratio of the balance row to its floor read 1.75x in one bench where the two
    timed side by side read 1.30x."""
    times: list[list[float]] = [[] for _ in rows]
    rss: list[list[float]] = [[] for _ in rows]
    cpus: list[list[float]] = [[] for _ in rows]
    failed: dict[int, int] = {}
    for _ in range(runs):
        for i, (_name, _size, command) in enumerate(rows):
            if i in failed:
                continue
            seconds, mb, code, cpu = measure(command() if callable(command) else command, env, cwd)
            if code != 0:
                failed[i] = code
                continue
            times[i].append(seconds)
            rss[i].append(mb)
            cpus[i].append(cpu)
    return [
        Figure(name, size, float("nan"), max(rss[i], default=NO_PEAK), note=f"failed (exit {failed[i]})")
        if i in failed
        else Figure(name, size, statistics.median(times[i]), max(rss[i]), cpu=statistics.median(cpus[i]))
        for i, (name, size, _command) in enumerate(rows)
    ]


def print_table(figures: list[Figure], width: int) -> None:
    """The figures, with the CPU each used and the cores that kept busy (CPU / wall): a command
    using two cores' worth of CPU on two cores is bound by its CPU, not by waiting."""
    columns = f"{'size':>11} {'median s':>10} {'CPU s':>8} {'cores':>5} {'events/s':>10} {'peak MB':>8}"
    print(f"{'operation':{width}} {columns}  note")
    for f in figures:
        rate = f"{f.per_second:,.0f}" if f.per_second else ""
        secs = f"{f.seconds:.3f}" if f.seconds == f.seconds else "—"
        cpu = f"{f.cpu:.2f}" if f.cpu == f.cpu else "—"
        cores = f"{f.cpu / f.seconds:.2f}" if f.cpu == f.cpu and f.seconds == f.seconds and f.seconds else ""
        peak = "—" if math.isnan(f.rss_mb) else f"{f.rss_mb:.1f}"
        figures_shown = f"{f.size:>11,} {secs:>10} {cpu:>8} {cores:>5} {rate:>10} {peak:>8}"
        print(f"{f.operation:{width}} {figures_shown}  {f.note}")
    here = len(os.sched_getaffinity(0))
    print(
        f"(cores: CPU s / median s. This machine has {here}; a row near {here} is bound by its CPU: its "
        f"wall time drops below CPU s / {here} only with less work.)"
    )


def raw_sqlite(csv_rows: list[list[str]], folder: Path, base: str) -> tuple[float, float]:
    """The physical limit: executemany into an indexed table, and one base's GROUP BY."""
    path = folder / "raw.sqlite"
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"CREATE TABLE rows ({', '.join(h + ' TEXT' for h in HEADER)}, fen INTEGER)")
    conn.execute("CREATE INDEX rows_base ON rows (base_id, source)")
    with conn:
        conn.executemany(
            f"INSERT INTO rows VALUES ({', '.join('?' * (len(HEADER) + 1))})",
            ([*r, int(float(r[6] or 0) * 100)] for r in csv_rows),
        )
    insert_seconds = time.perf_counter() - started
    conn.close()
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute(
        "SELECT kind, source, SUM(fen) FROM rows WHERE base_id = ? GROUP BY kind, source", (base,)
    ).fetchall()
    conn.close()
    return insert_seconds, time.perf_counter() - started


_SPENT = iter(range(1, 1_000_000))


def spend_args(exe: str, prefix: str) -> list[str]:
    """A spend of 0.01 from G0001's matching fund, with a voucher of its own each time."""
    voucher = f"{prefix}-{next(_SPENT)}"
    return [
        exe,
        "spend",
        "G0001",
        "--amount",
        "0.01",
        "--category",
        "materials",
        "--source",
        "matching",
        "--voucher",
        voucher,
        "--date",
        "2024-06-01",
    ]


def postgres_url() -> tuple[str, Callable[[], None]] | None:
    """A fresh schema on BENCH_PG (or the tests' server), and how to drop it; None without one."""
    base = os.environ.get("BENCH_PG") or os.environ.get("GRANT_LEDGER_TEST_PG")
    if not base:
        return None
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(base)
        schema = f"bench_{os.getpid()}"
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as e:  # no server, no driver, no right to create: the row says so
        sys.stderr.write(f"bench: PostgreSQL at {base.split('@')[-1]} not usable: {str(e).splitlines()[0]}\n")
        return None

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()

    sep = "&" if "?" in base else "?"
    # commits wait for the disk, as on a server in use, whatever the role's defaults (the tests'
    # role skips the wait)
    return f"{base}{sep}options=-csearch_path%3D{schema}%20-csynchronous_commit%3Don", drop


def before_signing(by: dict[str, Figure], count: int) -> None:
    """The figures signing touches, beside those the same bench gave before signed records
    (bench/before_signing.json, recorded at that commit on this machine, at this size only)."""
    import json

    recorded = json.loads((Path(__file__).with_name("before_signing.json")).read_text(encoding="utf-8"))
    before = recorded["figures"].get(str(count))
    if not before:
        return
    print(f"\nsigned records against before them ({recorded['commit']}, same bench and machine)")
    names = {"audit verify": "audit verify --root", "import": "import (grant order)"}  # rows grouped then
    for operation, then in before.items():
        now = by.get(names.get(operation, operation))
        if now is None or now.seconds != now.seconds:
            continue
        rate = (
            f", {now.per_second:,.0f} against {then['events_per_second']:,} events/s"
            if now.per_second and "events_per_second" in then
            else ""
        )
        ratio = now.seconds / then["seconds"]
        print(f"  {operation}: {now.seconds:.3f} s against {then['seconds']:.3f} s ({ratio:.2f}x{rate})")


def trust_root(exe: str, env: dict[str, str], folder: Path) -> str:
    """The ledger's trust root, as `info` prints it (what an auditor pins)."""
    info = subprocess.run([exe, "info"], env=env, cwd=folder, capture_output=True, text=True, check=True)
    return info.stdout.split("trust root: ", 1)[1].split()[0]


def fresh_ledger(exe: str, db: str, keys: Path, tag: str = "") -> str:
    """A shell command making a new ledger at ``db`` (a SQLite file is removed first): its root
    administrator with a new key, who registers the bench's officer and approver keys."""
    name = tag or Path(db).stem
    admin = keys / f"admin-{name}.key"
    remove = f"rm -f {db} {db}-wal {db}-shm && " if not db.startswith("postgresql") else ""
    steps = [
        f"{remove}rm -f {admin} {admin.with_suffix('.pub')}",
        f"{exe} --db '{db}' init --admin 管理员 --admin-key {admin}",
        f"{exe} --db '{db}' --key {admin} people add 财务 --role officer --public-key {keys}/officer.pub",
        f"{exe} --db '{db}' --key {admin} people add 审批 --role approver --public-key {keys}/approver.pub",
    ]
    return " && ".join(f"{step} >/dev/null" for step in steps)


def big_cell_import(exe: str, env: dict[str, str], folder: Path) -> Figure:
    """`import` of a 400 KB workbook holding one 400 MB cell (bench/big_cell.py): refused, exit 2,
    before it unpacks (it peaked at 1.29 GB; the target is 300 MB)."""
    from bench.big_cell import MB, crafted_workbook

    path = crafted_workbook(folder / "big-cell.xlsx", 400 * MB)
    db = folder / "big-cell.db"
    cell_env = {**env, "GRANT_LEDGER_DB": str(db)}
    run([exe, "init"], cell_env, folder)
    seconds, mb, code = run([exe, "import", str(path)], cell_env, folder)
    note = f"{path.stat().st_size // 1024} KB file; exit {code}" + (
        " (refused)" if code == 2 else " (expected 2)"
    )
    return Figure("import: 400 MB cell in a small xlsx", 1, seconds, mb, note=note)


def bombed_verify(exe: str, env: dict[str, str], folder: Path, bundle: Path) -> Figure:
    """`audit verify` of the bundle with its report.xlsx given shared strings that inflate to
    400 MB (the file grows by under 1 MB): refused by name, exit 6, before it inflates (it peaked
    at 3.1 GB; the target is 300 MB)."""
    from audit.bundle import write_manifest
    from bench.big_cell import MB, inflated_part

    bombed = folder / "bombed-bundle"
    shutil.rmtree(bombed, ignore_errors=True)
    shutil.copytree(bundle, bombed)
    inflated_part(bombed / "report.xlsx", "xl/sharedStrings.xml", 400 * MB)
    write_manifest(bombed)
    seconds, mb, code = run([exe, "audit", "verify", "--unanchored", str(bombed)], env, folder)
    size = (bombed / "report.xlsx").stat().st_size // 1024
    note = f"{size} KB report.xlsx; exit {code}" + (" (refused)" if code == 6 else " (expected 6)")
    return Figure("audit verify: report.xlsx inflating to 400 MB", 1, seconds, mb, note=note)


def main() -> None:
    global _spawner
    _spawner = Spawner()  # before the rows are made: each command's peak RSS is its own
    events = int(os.environ.get("BENCH_EVENTS", "100000"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    # a command answering within a second is timed at least this often whatever BENCH_RUNS says:
    # one run of `balance` (all bases) at 1M once took 0.19 s where ten take 0.10 s, and the ratio
    # of the two balance rows, a target, read 2.27x from that one run
    quick = max(runs, QUICK_RUNS)
    exe = str(Path(sys.executable).with_name("grant-ledger"))
    folder = Path(tempfile.mkdtemp(prefix="grant-ledger-bench-"))
    db = folder / "bench.db"
    keys = folder / "keys"
    officer_key, approver_key = keys / "officer.key", keys / "approver.key"
    env = {
        **os.environ,
        "GRANT_LEDGER_DB": str(db),
        "GRANT_LEDGER_LANG": "en",
        "GRANT_LEDGER_KEY": str(officer_key),
    }
    env.pop("GRANT_LEDGER_ROLE", None)
    env.pop("GRANT_LEDGER_ACTOR", None)
    # As on a user's machine, modules are compiled once and read from __pycache__ after that
    # (some shells here set PYTHONDONTWRITEBYTECODE, which makes every start-up compile again).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    source = folder / "ledger.csv"
    print(f"generating {events:,} rows (seeded) in {folder} …", flush=True)
    # approvals are an approver's rows, the money an officer's: imported apart, the money timed
    approvals = folder / "approvals.csv"
    count = write_csv(source, events, approvals=approvals)
    money_rows = count - (len(approvals.read_text(encoding="utf-8").splitlines()) - 1)
    for key in (officer_key, approver_key):  # each person's own key, registered in each new ledger
        if not key.exists():
            run([exe, "keys", "generate", "--out", str(key)], env, folder)
    as_approver = f"GRANT_LEDGER_KEY={approver_key} {exe} import {approvals}"
    base = base_ids(events)[0]
    figures: list[Figure] = []

    project = Path(__file__).resolve().parent.parent
    packages = [str(project / p) for p in ("ledger", "projections", "commands", "audit")]
    run([sys.executable, "-m", "compileall", "-q", *packages], env, folder)
    # What `balance` loads on an up-to-date SQLite ledger (projections/quick.py), and what any
    # write loads whatever the store's size: the floors the two rows are measured against, each
    # timed in turn with the rows compared to it (timed_together).
    startup_row = ("CLI start-up (grant-ledger --version)", 0, [exe, "--version"])
    libs_row = (
        "bare import of the report's libraries",
        0,
        [sys.executable, "-c", "import sqlite3, decimal, click"],
    )
    write_libs_row = (
        "bare import of a write's libraries",
        0,
        [
            sys.executable,
            "-c",
            "import click, pydantic, sqlalchemy.orm, eventsourcing.sqlite, "
            "eventsourcing_sqlalchemy.recorders",
        ],
    )
    startup = libs = write_libs = Figure("", 0, float("nan"), NO_PEAK)

    def clean() -> list[str]:
        return ["sh", "-c", f"{fresh_ledger(exe, str(db), keys)} && {as_approver} >/dev/null"]

    # the same rows in the other orders, then a set as large over many more bases, each on a new
    # ledger; before the date-ordered import below, whose ledger the later rows read
    orders: dict[str, Figure] = {}
    if os.environ.get("BENCH_ORDERS", "1") != "0":
        for order in ("grant", "interleaved"):
            ordered = folder / f"ledger-{order}.csv"
            write_csv(ordered, events, approvals=folder / f"approvals-{order}.csv", order=order)
            orders[order] = timed(
                f"import ({order} order)",
                count,
                [exe, "import", str(ordered)],
                env,
                folder,
                1,
                money_rows,
                clean(),
            )
        wide_bases = int(os.environ.get("BENCH_WIDE_BASES", str(max(10, events // 50))))
        wide, wide_approvals = folder / "ledger-wide.csv", folder / "approvals-wide.csv"
        wide_count = write_csv(wide, events, approvals=wide_approvals, bases=wide_bases)
        wide_money = wide_count - (len(wide_approvals.read_text(encoding="utf-8").splitlines()) - 1)
        as_wide_approver = f"GRANT_LEDGER_KEY={approver_key} {exe} import {wide_approvals}"
        wide_setup = f"{fresh_ledger(exe, str(db), keys)} && {as_wide_approver}"
        wide_figure = timed(
            f"import (date order, {wide_bases:,} bases)",
            wide_count,
            [exe, "import", str(wide)],
            env,
            folder,
            1,
            wide_money,
            ["sh", "-c", f"{wide_setup} >/dev/null"],
        )
        figures += [*orders.values(), wide_figure]
        if wide_figure.note == "":
            from bench.web import wide_overview

            figures.append(wide_overview(exe, env, folder, db, wide_count, wide_bases))

    # the same file checked by one process beside the writing one (--jobs auto checks an
    # officer's file in two, split by grant): what the second checking process gains
    one_checker: Figure | None = None
    if os.environ.get("BENCH_ORDERS", "1") != "0":
        one_checker = timed(
            "import (date order, --jobs 2)",
            count,
            [exe, "import", "--jobs", "2", str(source)],
            env,
            folder,
            1,
            per_item=money_rows,
            setup=clean(),
        )
    imported = timed(
        "import (date order)",
        count,
        [exe, "import", str(source)],
        env,
        folder,
        1,
        per_item=money_rows,
        setup=clean(),
    )
    if one_checker is not None:
        if one_checker.note == "" and imported.note == "":
            ratio = one_checker.seconds / imported.seconds
            one_checker.note = f"one checking process: {ratio:.2f}x the time of two"
        figures.append(one_checker)
    figures.append(imported)
    figures.append(big_cell_import(exe, env, folder))
    ok = imported.note == ""
    if ok:
        small_db = folder / "small.db"
        small_env = {**env, "GRANT_LEDGER_DB": str(small_db)}
        small = folder / "small.csv"
        small_approvals = folder / "small-approvals.csv"
        write_csv(small, 200, approvals=small_approvals)
        run(["sh", "-c", fresh_ledger(exe, str(small_db), keys)], small_env, folder)
        run(
            [exe, "import", str(small_approvals)],
            {**small_env, "GRANT_LEDGER_KEY": str(approver_key)},
            folder,
        )
        run([exe, "import", str(small)], small_env, folder)
        figures.append(
            timed(
                "spend (one, 200-event store)",
                200,
                lambda: spend_args(exe, "SMALL"),
                small_env,
                folder,
                quick,
            )
        )
        libs, balance_one, balance_all = timed_together(
            [
                libs_row,
                (f"balance {base}", count, [exe, "balance", base]),
                ("balance (all bases)", count, [exe, "balance"]),
            ],
            env,
            folder,
            quick,
        )
        startup, write_libs, one_spend = timed_together(
            [
                startup_row,
                write_libs_row,
                ("spend (one, populated store)", count, lambda: spend_args(exe, "BENCH")),
            ],
            env,
            folder,
            quick,
        )
        figures += [startup, libs, write_libs, balance_one, balance_all, one_spend]
        figures.append(
            timed(
                "projections rebuild", count, [exe, "projections", "rebuild"], env, folder, 1, per_item=count
            )
        )
        figures.append(
            timed("projections verify", count, [exe, "projections", "verify"], env, folder, 1, per_item=count)
        )
        figures.append(
            timed(
                "audit checkpoint",
                count,
                [exe, "--key", str(approver_key), "audit", "checkpoint"],
                env,
                folder,
                1,
            )
        )
        bundle = folder / "bundle"
        figures.append(
            timed(
                "audit export",
                count,
                ["sh", "-c", f"rm -rf {bundle} && {exe} audit export {bundle}"],
                env,
                folder,
                1,
                per_item=count,
            )
        )
        figures.append(
            timed(
                "audit verify --root",
                count,
                [exe, "audit", "verify", str(bundle), "--root", trust_root(exe, env, folder)],
                env,
                folder,
                1,
                per_item=count,
            )
        )
        figures.append(bombed_verify(exe, env, folder, bundle))
        figures.append(
            timed(
                "report categories --format xlsx",
                count,
                [
                    exe,
                    "report",
                    "categories",
                    "--format",
                    "xlsx",
                    "--output",
                    str(folder / "categories.xlsx"),
                ],
                env,
                folder,
                runs,
            )
        )
        from bench.web import web_figures

        figures += web_figures(exe, env, folder, db, count, "G0001")

    pg = postgres_url()
    concurrent_lines: list[str] = []
    if ok and pg:
        url, drop = pg
        try:
            pg_env = {**env, "GRANT_LEDGER_DB": url}
            run(["sh", "-c", fresh_ledger(exe, url, keys, "pg")], pg_env, folder)
            run([exe, "import", str(approvals)], {**pg_env, "GRANT_LEDGER_KEY": str(approver_key)}, folder)
            figures.append(
                timed(
                    "import (PostgreSQL)",
                    count,
                    [exe, "import", str(source)],
                    pg_env,
                    folder,
                    1,
                    per_item=money_rows,
                )
            )
            from bench import concurrency

            writes = int(os.environ.get("BENCH_WRITES", "5"))
            concurrent_lines += concurrency.different_grants(exe, pg_env, folder, writes)
            concurrent_lines += concurrency.one_grant(exe, pg_env, folder)

            from bench.web import concurrent_spends

            figures += concurrent_spends(exe, pg_env, folder, url, count)
            # one server process per core: sessions are the database's, so any process serves any
            figures += concurrent_spends(exe, pg_env, folder, url, count, len(os.sched_getaffinity(0)))
        finally:
            drop()
    elif ok:
        figures.append(
            Figure("import (PostgreSQL)", count, float("nan"), NO_PEAK, note="no server: set BENCH_PG")
        )

    csv_rows = list(rows(events))
    insert_s, group_s = raw_sqlite(csv_rows, folder, base)
    figures.append(
        Figure(
            "raw sqlite3 executemany (indexed)", count, insert_s, NO_PEAK, count / insert_s, "physical limit"
        )
    )
    figures.append(Figure(f"raw sqlite3 GROUP BY {base}", count, group_s, NO_PEAK, None, "physical limit"))

    peers: dict[str, Figure] = {}
    if ok:
        for fmt, tool, query in [
            ("hledger", "ledger", ["-f", "{f}", "bal", base]),
            ("hledger", "hledger", ["-f", "{f}", "bal", base]),
            (
                "beancount",
                "bean-query",
                ["{f}", f"SELECT account, sum(position) WHERE account ~ '{base}' GROUP BY account"],
            ),
        ]:
            path = shutil.which(tool) or (shutil.which(tool, path=str(Path(exe).parent)))
            if path is None:
                figures.append(
                    Figure(f"{tool} bal {base}", count, float("nan"), NO_PEAK, note="not installed")
                )
                continue
            journal = folder / f"ledger.{fmt}"
            if not journal.exists():
                run(["sh", "-c", f"{exe} export --format {fmt} > {journal}"], env, folder)
            args = [a.replace("{f}", str(journal)) for a in query]
            # A plain-text peer re-reads the whole journal each time: once is enough at full size.
            peer_runs = 1 if count >= 500_000 else runs
            peers[tool] = timed(f"{tool} bal {base}", count, [path, *args], env, folder, peer_runs)
            figures.append(peers[tool])

    print()
    print_table(figures, 44)

    by = {f.operation: f for f in figures}
    before_signing(by, count)
    print("\nratios (targets of the speed issue, measured at this size)")
    one = by.get(f"balance {base}")
    if one and one.seconds == one.seconds:
        print(
            f"  balance one base / bare library start-up: {one.seconds / libs.seconds:.2f}x (target ≤ 1.5x)"
        )
        every = by["balance (all bases)"]
        print(f"  balance all / balance one: {every.seconds / one.seconds:.2f}x (target ≤ 2x)")
        for tool, peer in peers.items():
            if peer.seconds == peer.seconds:
                print(
                    f"  grant-ledger balance is {peer.seconds / one.seconds:.1f}x faster than "
                    f"{tool} (target ≥ 50x vs ledger at 1M)"
                )
    if imported.per_second:
        print(
            f"  import: {imported.per_second:,.0f} events/s = "
            f"{imported.per_second / (count / insert_s):.3f} of raw executemany "
            "(target ≥ 0.1, ≥ 25,000 events/s, peak RSS ≤ 250 MB)"
        )
        rates = {"date": imported.per_second} | {o: f.per_second for o, f in orders.items() if f.per_second}
        if len(rates) > 1:
            listed = ", ".join(f"{order} {rate:,.0f}" for order, rate in rates.items())
            print(
                f"  import by row order (events/s): {listed}; slowest / fastest time "
                f"{max(rates.values()) / min(rates.values()):.2f}x (target ≤ 1.3x)"
            )
    cell = by["import: 400 MB cell in a small xlsx"]
    print(f"  import of a small xlsx holding a 400 MB cell: peak {cell.rss_mb:.0f} MB (target ≤ 300 MB)")
    bomb = by.get("audit verify: report.xlsx inflating to 400 MB")
    if bomb is not None:
        what = "audit verify of a report.xlsx inflating to 400 MB"
        print(f"  {what}: peak {bomb.rss_mb:.0f} MB (target ≤ 300 MB)")
    spend = by.get("spend (one, populated store)")
    if spend and spend.seconds == spend.seconds:
        print(
            f"  one spend (median of {quick}): {spend.seconds:.3f} s (target ≤ 0.30 s); "
            f"/ CLI start-up: {spend.seconds / startup.seconds:.2f}x (target ≤ 6x)"
        )
        print(
            f"  one spend / bare import of a write's libraries: {spend.seconds / write_libs.seconds:.2f}x "
            "(the floor any write pays)"
        )
        first = by.get("spend (one, 200-event store)")
        if first and first.seconds == first.seconds:
            print(
                f"  one spend on {count:,} events / on 200 events: {spend.seconds / first.seconds:.2f}x "
                "(the grant starts from the snapshot its person's key signed, then the events since)"
            )
    on_pg = by.get("import (PostgreSQL)")
    if on_pg and on_pg.per_second:
        print(f"  import on PostgreSQL: {on_pg.per_second:,.0f} events/s (target ≥ 15,000)")
    for line in concurrent_lines:
        print(line)
    rebuild = by.get("projections rebuild")
    if rebuild and rebuild.per_second:
        print(f"  projections rebuild: {rebuild.per_second:,.0f} events/s (target ≥ 60,000)")
        checked = by.get("projections verify")
        if checked and checked.seconds == checked.seconds:
            print(f"  projections verify / rebuild: {checked.seconds / rebuild.seconds:.2f}x (target ≤ 1.5x)")
    from bench.web import print_targets

    print_targets(by)
    verify = by.get("audit verify --root")
    if verify and verify.seconds == verify.seconds:
        print(f"  audit verify: {verify.seconds:.1f} s (target ≤ 15 s at 1M)")
    exported = by.get("audit export")
    if exported and exported.seconds == exported.seconds:
        print(f"  audit export: {exported.seconds:.1f} s (target ≤ 20 s at 1M)")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
