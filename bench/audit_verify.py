"""Time `audit verify` over a bundle of N stored events (default 100,000).

    .venv/bin/python -m bench.audit_verify [N] [--db PATH]

Writes N events through the application API (units, approved grants, a tranche each, then
spending), each signed by the registered officer or approver it belongs to, then runs the real
command line: audit checkpoint by the approver (which catches up every projection), audit
export, audit verify against the trust root; prints the wall time and the peak memory of each
step. With ``--db PATH`` of a ledger that holds events already (say one built by ``grant-ledger
import``), nothing is generated: its events are exported and verified (the checkpoint signed by
the approver key in GRANT_LEDGER_KEY), and the bundle is written next to it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ledger import database
from ledger.actions import ApprovedElsewhere, Disburse, Spend
from ledger.application import open_ledger
from ledger.people import RegisterPerson
from ledger.seal import Signer, generate_key

_TIME = Path("/usr/bin/time")  # GNU time: peak memory of each command
_ENV = {**os.environ, "GRANT_LEDGER_LANG": "en"}  # the trust root is read off `info` in English
SPENDS_PER_GRANT = 244  # + Unit.Registered, Unit.BaseTaken, Base.Taken, Applied, Approved, Disbursed = 250


def _fast_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """Generation only: no fsync per commit (the timed commands use the normal settings)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def people(app: Any, keys: Path) -> tuple[Signer, Signer]:
    """The root administrator, who registers an officer and an approver: their keys in ``keys``."""
    admin = generate_key(keys / "admin.key")
    app.found_registry(admin, "bench-admin")
    signers = []
    for name, role in (("bench-officer", "officer"), ("bench-approver", "approver")):
        signer = generate_key(keys / f"{role}.key")
        app.handle(
            RegisterPerson(person=name, person_role=role, public_key=signer.public_raw.hex()), signer=admin
        )
        signers.append(signer)
    return signers[0], signers[1]


def generate(url: str, n: int, keys: Path) -> int:
    database._sqlite_on_connect = _fast_sqlite
    app = open_ledger(url)
    written = 0
    g = 0
    try:
        officer, approver = people(app, keys)
        while written < n:
            unit, grant, base = f"U{g:05d}", f"G{g:05d}", f"B{g:05d}"
            app.handle(
                ApprovedElsewhere(
                    grant_id=grant, unit_id=unit, base_id=base, programme="district_base",
                    amount=Decimal(200000), document=f"文{g}", base_name=f"基地{g}", unit_name=f"单位{g}",
                    on=date(2024, 1, 4),
                ),
                signer=approver,
            )  # fmt: skip
            disbursed = Disburse(
                grant_id=grant, amount=Decimal(200000), voucher=f"T{g}", tranche=1, on=date(2024, 1, 5)
            )
            app.handle(disbursed, signer=officer)
            written += 6
            for s in range(min(SPENDS_PER_GRANT, n - written)):
                app.handle(
                    Spend(
                        grant_id=grant, amount=Decimal("123.45"), category="equipment", source="subsidy",
                        voucher=f"S{g}-{s}", on=date(2024, 1, 6) + timedelta(days=s % 300),
                    ),
                    signer=officer,
                )  # fmt: skip
                written += 1
            g += 1
    finally:
        app.close()
    return written


def timed(label: str, *args: str) -> float:
    started = time.perf_counter()
    command = (
        ["/usr/bin/time", "-f", "%M", "grant-ledger", *args] if _TIME.is_file() else ["grant-ledger", *args]
    )
    result = subprocess.run(command, capture_output=True, text=True, env=_ENV)
    took = time.perf_counter() - started
    tail = (result.stdout.strip().splitlines() or [""])[-1][:150]
    last = (result.stderr.strip().splitlines() or [""])[-1]
    peak = f"{int(last) / 1024:6.0f} MB" if _TIME.is_file() and last.isdigit() else ""
    print(f"{label:<22} {took:8.2f} s {peak} exit {result.returncode}  {tail}", flush=True)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
    return took


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100_000
    given = Path(sys.argv[sys.argv.index("--db") + 1]) if "--db" in sys.argv[:-1] else None
    existing = given is not None and given.is_file()
    if given is not None and existing:
        db = given.resolve()
        work = Path(tempfile.mkdtemp(prefix="audit-bench-", dir=db.parent))
    else:
        work = Path(tempfile.mkdtemp(prefix="audit-bench-"))
        db = given or work / "ledger.db"
        started = time.perf_counter()
        count = generate(f"sqlite:///{db}", n, work)
        print(f"{'generate':<22} {time.perf_counter() - started:8.2f} s  {count} events in {db}", flush=True)
    base = ["--db", str(db)]
    approver = [] if existing else ["--key", str(work / "approver.key")]
    timed("audit checkpoint", *base, *approver, "audit", "checkpoint")
    timed("audit export", *base, "audit", "export", str(work / "bundle"))
    size = sum(p.stat().st_size for p in (work / "bundle").rglob("*") if p.is_file())
    print(f"{'bundle size':<22} {size / 1e6:8.1f} MB", flush=True)
    info = subprocess.run(["grant-ledger", *base, "info"], capture_output=True, text=True, env=_ENV).stdout
    root = info.split("trust root: ", 1)[1].split()[0]
    timed("audit verify --root", *base, "audit", "verify", str(work / "bundle"), "--root", root)


if __name__ == "__main__":
    main()
