"""The web workspace's rows of ``make bench`` (issue 19): on the bench's own store, the overview page,
a grant's page and a spend recorded through the web app, each the median of 20 requests to a warm
server (the real app in this process, through Starlette's TestClient: no network, as a browser on
the same machine would see it less the socket)."""

from __future__ import annotations

import contextlib
import re
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

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
    for _ in range(WARM_UP):
        call()
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
        env=env,
        cwd=folder,
        input=f"{PASSWORD}\n{PASSWORD}\n",
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
    many = by.get("web: concurrent spends (PostgreSQL)")
    if many is not None and many.per_second:
        print(
            f"  web, concurrent spends on PostgreSQL: {many.per_second:,.0f} writes/s (target ≥ 200); "
            f"{many.note}"
        )


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
SPENDS_EACH = 10


def concurrent_spends(exe: str, env: dict[str, str], folder: Path, url: str, count: int) -> Figure:
    """``CLIENTS`` HTTP clients (no browser), each signed in and recording ``SPENDS_EACH`` spends
    on a grant of its own, at once, through one server (uvicorn in a thread) on the ledger at
    ``url``; writes/s over them all, and every spend stored exactly once (the note says if not)."""
    import threading

    import uvicorn
    from sqlalchemy import create_engine, func, select

    from bench.__main__ import Figure
    from commands.web.app import create_app
    from projections.schema import grants, movements

    subprocess.run(
        [exe, "people", "password", "财务"],
        env={**env, "GRANT_LEDGER_DB": url},
        cwd=folder,
        input=f"{PASSWORD}\n{PASSWORD}\n",
        text=True,
        capture_output=True,
        check=True,
    )
    engine = create_engine(url)
    with engine.connect() as conn:
        chosen = list(conn.scalars(select(grants.c.grant_id).order_by(grants.c.grant_id).limit(CLIENTS)))
    server = uvicorn.Server(
        uvicorn.Config(create_app(url), host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    failures: list[str] = []
    clients = [_Client(port) for _ in chosen]
    for client in clients:
        client.sign_in()
    go = threading.Barrier(len(clients) + 1)

    def record(client: _Client, grant: str) -> None:
        client.reconnect()  # the server closes a connection idle for 5 s (the others signing in)
        go.wait()
        for n in range(SPENDS_EACH):
            form = {"amount": "0.01", "category": "materials", "source": "matching",
                    "voucher": f"CONC-{grant}-{n}", "on": "2024-06-01"}  # fmt: skip
            try:
                answer = client.post(f"/grants/{grant}/spend", form)
            except OSError as e:
                failures.append(f"{grant} {n}: {e}")
                return
            if 'id="done"' not in answer or "已记录：" in answer:  # "already recorded": doubled
                failures.append(f"{grant} {n}")

    writers = [threading.Thread(target=record, args=(c, g)) for c, g in zip(clients, chosen, strict=True)]
    for w in writers:
        w.start()
    go.wait()
    started = time.perf_counter()
    for w in writers:
        w.join()
    seconds = time.perf_counter() - started
    server.should_exit = True
    serving.join(timeout=30)
    sent = len(chosen) * SPENDS_EACH
    with engine.connect() as conn:
        stored, distinct = conn.execute(
            select(func.count(), func.count(movements.c.voucher.distinct())).where(
                movements.c.voucher.like("CONC-%")
            )
        ).one()
    engine.dispose()
    note = f"{len(chosen)} clients × {SPENDS_EACH}; stored {stored} of {sent}, {distinct} distinct"
    if failures:
        note += f"; {len(failures)} not recorded"
    return Figure(
        "web: concurrent spends (PostgreSQL)",
        count,
        seconds,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
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

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> str:
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
        return text

    def post(self, path: str, form: dict[str, str]) -> str:
        return self.request("POST", path, form)

    def sign_in(self) -> None:
        self.csrf = _csrf(self.request("GET", "/sign-in"))
        self.post("/sign-in", {"name": "财务", "password": PASSWORD})
        self.csrf = _csrf(self.request("GET", "/"))
