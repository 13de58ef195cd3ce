"""The web workspace's rows of ``make bench`` (issue 19): on the bench's own store, the overview page,
a grant's page and a spend recorded through the web app, each the median of 20 requests to a warm
server (the real app in this process, through Starlette's TestClient: no network, as a browser on
the same machine would see it less the socket)."""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from bench.__main__ import Figure

REQUESTS = 20
WARM_UP = 3
PASSWORD = "bench-web-password"
# operation, target in seconds (issue 19: at 1,000,000 events over 20,000 bases)
TARGETS = {
    "web: overview page (总览)": 0.200,
    "web: a grant's page": 0.100,
    "web: record a spend": 0.100,
}
WIDE = "web: overview page, many bases"


def _median(call: Callable[[], object]) -> tuple[float, float]:
    from bench.__main__ import NO_PEAK

    for _ in range(WARM_UP):
        call()
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), NO_PEAK  # served in this process: no peak of its own


def web_figures(
    exe: str, env: dict[str, str], folder: Path, db: Path, count: int, grant: str
) -> list[Figure]:
    """The three rows, on the ledger at ``db`` whose officer's key ``env`` names."""
    from bench.__main__ import Figure

    with _signed_in(exe, env, folder, db) as client:
        csrf = _csrf(client.get("/").text)
        vouchers = iter(range(1, 1_000_000))

        def overview() -> None:
            _ok(client.get("/"))

        def grant_page() -> None:
            _ok(client.get(f"/grants/{grant}"))

        def spend() -> None:
            form = {"csrf": csrf, "amount": "0.01", "category": "materials", "source": "matching",
                    "voucher": f"WEB-{next(vouchers)}", "on": "2024-06-01"}  # fmt: skip
            response = client.post(f"/grants/{grant}/spend", data=form)
            _ok(response)
            if 'id="done"' not in response.text:
                raise RuntimeError(f"bench: the web spend was not recorded: {response.text[:300]}")

        figures = []
        for (name, _target), call in zip(TARGETS.items(), (overview, grant_page, spend), strict=True):
            seconds, rss = _median(call)
            figures.append(Figure(name, count, seconds, rss, note=f"median of {REQUESTS}, warm"))
    return figures


def wide_overview(exe: str, env: dict[str, str], folder: Path, db: Path, count: int, bases: int) -> Figure:
    """The overview's first page on a ledger of many bases (issue 19: 20,000 at 1M events)."""
    from bench.__main__ import Figure

    with _signed_in(exe, env, folder, db) as client:
        seconds, rss = _median(lambda: _ok(client.get("/")))
    return Figure(WIDE, count, seconds, rss, note=f"{bases:,} bases; median of {REQUESTS}, warm")


@contextlib.contextmanager
def _signed_in(exe: str, env: dict[str, str], folder: Path, db: Path) -> Iterator[TestClient]:
    """The app on ``db`` in this process, signed in as the bench's officer (web password set)."""
    from starlette.testclient import TestClient

    from commands.web.app import create_app

    subprocess.run(
        [exe, "people", "password", "财务"],
        env={**env, "GRANT_LEDGER_PASSWORD": PASSWORD},
        cwd=folder,
        text=True,
        capture_output=True,
        check=True,
    )
    with TestClient(create_app(str(db)), base_url="http://127.0.0.1") as client:
        page = client.get("/sign-in").text
        client.post("/sign-in", data={"csrf": _csrf(page), "name": "财务", "password": PASSWORD})
        yield client


def print_targets(by: dict[str, Figure]) -> None:
    for name, target in {**TARGETS, WIDE: TARGETS["web: overview page (总览)"]}.items():
        f = by.get(name)
        if f is not None and f.seconds == f.seconds:
            print(f"  {name}: {f.seconds * 1000:.0f} ms (target ≤ {target * 1000:.0f} ms at 1M events)")
    for name in ("web: concurrent spends, POST only (PG)", "web: concurrent spends, each then its page (PG)"):
        many = by.get(name)
        if many is not None and many.per_second:
            print(f"  {name}: {many.per_second:,.0f} writes/s (target ≥ 200); {many.note}")


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    if found is None:
        raise RuntimeError("bench: no CSRF token on the page (not signed in?)")
    return found.group(1)


def _ok(response: object) -> None:
    status = getattr(response, "status_code", 0)
    if status != 200:
        raise RuntimeError(f"bench: the web answered {status}")


# ----------------------------------------------------------------------------- concurrent writers

CLIENTS = 16
SPENDS_EACH = 30


def concurrent_spends(
    exe: str, env: dict[str, str], folder: Path, url: str, count: int, workers: int = 1
) -> list[Figure]:
    """``CLIENTS`` HTTP clients (no browser), each signed in and recording ``SPENDS_EACH`` spends
    on a grant of its own, at once, through one server on the ledger at ``url``: the real
    ``grant-ledger serve`` in a process of its own, as an office runs it, so the clients (threads
    here) do not share its interpreter. Two passes: each write alone (the POST, answered 303 once
    recorded), then each write followed by the grant's page the answer points to, as a browser
    fetches it. Writes/s, the server's CPU per write, and every spend stored exactly once (the note
    says if not). With ``workers`` above one, the server runs that many processes
    (``serve --workers``) and only the first pass."""
    import socket

    from sqlalchemy import create_engine, select

    from projections.schema import grants

    subprocess.run(
        [exe, "people", "password", "财务"],
        env={**env, "GRANT_LEDGER_DB": url, "GRANT_LEDGER_PASSWORD": PASSWORD},
        cwd=folder,
        text=True,
        capture_output=True,
        check=True,
    )
    engine = create_engine(url)
    with engine.connect() as conn:
        chosen = list(conn.scalars(select(grants.c.grant_id).order_by(grants.c.grant_id).limit(CLIENTS)))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [exe, "--db", url, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    figures: list[Figure] = []
    try:
        _wait_for(port)
        for follow in (False, True) if workers == 1 else (False,):
            figures.append(_spends_at_once(port, chosen, count, follow, server.pid, engine, workers))
        peak = _peak_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        engine.dispose()
    return [replace(f, rss_mb=peak) for f in figures]


def _peak_mb(pid: int) -> float:
    """The largest peak RSS (VmHWM) of the server process and its workers, while they run (their
    rusage at exit would count what this process held when it started them)."""
    peaks = [float("nan")]
    for member in _tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        peaks += [int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:")]
    return max(peaks[1:], default=peaks[0])


def _wait_for(port: int) -> None:
    import http.client

    for _ in range(600):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/sign-in")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("bench: the web server did not start")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid: int) -> float:
    """CPU used so far by the process and every process it started that is still running (the
    server's workers)."""
    total = 0.0
    for member in _tree(pid):
        try:
            total += _cpu_seconds(member)
        except (OSError, ValueError, IndexError):
            continue
    return total


def _tree(pid: int) -> set[int]:
    """The process and every process it started that is still running."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, grew = {pid}, True
    while grew:
        found = {child for child, parent in parents.items() if parent in tree}
        grew = not found <= tree
        tree |= found
    return tree


def _postgres_cpu() -> dict[int, float]:
    """CPU used so far by each PostgreSQL process this machine shows (the server the bench writes
    to, when it runs here; none when it is elsewhere)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            if text[text.find("(") + 1 : text.rfind(")")].startswith("postgres"):
                found[int(stat.parent.name)] = _cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError):  # ended meanwhile
            continue
    return found


def _postgres_cpu_since(before: dict[int, float]) -> float:
    """CPU PostgreSQL's processes used since ``before`` (a process that ended meanwhile is not
    counted: its last figures are gone with it)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in _postgres_cpu().items())


def _spends_at_once(
    port: int, chosen: list[str], count: int, follow: bool, pid: int, engine: Any, workers: int = 1
) -> Figure:
    import threading

    from sqlalchemy import func, select

    from bench.__main__ import NO_PEAK, Figure
    from projections.schema import movements

    # vouchers of their own for each pass (a voucher written before is "already recorded")
    tag = f"{'CONCP' if follow else 'CONC'}{workers}x{time.monotonic_ns() % 10**6}"
    failures: list[str] = []
    clients = [_Client(port) for _ in chosen]
    for client in clients:
        client.sign_in()
    go = threading.Barrier(len(clients) + 1)

    def record(client: _Client, grant: str) -> None:
        client.reconnect()  # the server closes a connection idle for 5 s (the others signing in)
        # the server warmed as in use: each client's grant loaded, written and shown once
        form = {"amount": "0.01", "category": "materials", "source": "matching",
                "voucher": f"{tag}-WARM-{grant}", "on": "2024-06-01"}  # fmt: skip
        status, location, _ = client.send("POST", f"/grants/{grant}/spend", form)
        if status == 303:
            client.send("GET", location)
        go.wait()
        client.reconnect()  # idle while the others warmed: the server may have closed it (5 s)
        for n in range(SPENDS_EACH):
            form = {"amount": "0.01", "category": "materials", "source": "matching",
                    "voucher": f"{tag}-{grant}-{n}", "on": "2024-06-01"}  # fmt: skip
            try:
                status, location, _ = client.send("POST", f"/grants/{grant}/spend", form)
                if status != 303:
                    failures.append(f"{grant} {n}: {status}")
                    continue
                if follow:
                    status, _, page = client.send("GET", location)
                    if status != 200 or 'id="done"' not in page or "已记录：" in page:  # "already recorded"
                        failures.append(f"{grant} {n}: the page after it")
            except OSError as e:
                failures.append(f"{grant} {n}: {e}")
                return

    writers = [threading.Thread(target=record, args=(c, g)) for c, g in zip(clients, chosen, strict=True)]
    for w in writers:
        w.start()
    go.wait()
    cpu, database_before, own = _tree_cpu_seconds(pid), _postgres_cpu(), time.process_time()
    started = time.perf_counter()
    for w in writers:
        w.join()
    seconds = time.perf_counter() - started
    cpu = _tree_cpu_seconds(pid) - cpu
    database = _postgres_cpu_since(database_before)
    own = time.process_time() - own
    sent = len(chosen) * SPENDS_EACH
    with engine.connect() as conn:
        stored, distinct = conn.execute(
            select(func.count(), func.count(movements.c.voucher.distinct())).where(
                movements.c.voucher.like(f"{tag}-%"), movements.c.voucher.not_like(f"{tag}-WARM-%")
            )
        ).one()
    # what the machine's cores allow at this CPU per write (server, database and the clients
    # themselves all on it): the bound a faster server would meet
    cores = len(os.sched_getaffinity(0))
    spent = cpu + database + own
    allowed = cores * sent / spent if spent > 0 else float("nan")
    note = (
        f"{len(chosen)} clients × {SPENDS_EACH}; stored {stored} of {sent}, {distinct} distinct; "
        f"CPU a write: server {cpu * 1000 / sent:.1f} ms, PostgreSQL {database * 1000 / sent:.1f} ms, "
        f"clients {own * 1000 / sent:.1f} ms; {cores} cores allow {allowed:.0f}/s"
    )
    if failures:
        note += f"; {len(failures)} not recorded"
    what = "each then its page" if follow else "POST only"
    if workers > 1:
        what += f", {workers} server processes"
    return Figure(
        f"web: concurrent spends, {what} (PG)",
        count,
        seconds,
        NO_PEAK,  # the server's, once it has done all its passes (concurrent_spends)
        sent / seconds,
        note,
    )


class _Client:
    """One browser-less client: its own session cookie and CSRF token, over one keep-alive
    connection."""

    def __init__(self, port: int) -> None:
        import http.client

        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookie = ""
        self.csrf = ""

    def reconnect(self) -> None:
        import http.client

        self.connection.close()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def send(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        """One request, not following a redirect (the session cookie kept): status, Location, body."""
        from urllib.parse import urlencode

        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode({"csrf": self.csrf, **form})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode()
        cookie = response.getheader("set-cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, response.getheader("location") or "", text

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> str:
        return self.send(method, path, form)[2]

    def post(self, path: str, form: dict[str, str]) -> str:
        return self.request("POST", path, form)

    def sign_in(self) -> None:
        self.csrf = _csrf(self.request("GET", "/sign-in"))
        self.post("/sign-in", {"name": "财务", "password": PASSWORD})
        self.csrf = _csrf(self.request("GET", "/"))
