"""The web workspace's rows of ``make bench`` (issue 19): on the bench's own store, the overview page,
a grant's page and a spend recorded through the web app, each the median of 20 requests to a warm
server (the real app in this process, through Starlette's TestClient: no network, as a browser on
the same machine would see it less the socket)."""

from __future__ import annotations

import re
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    from starlette.testclient import TestClient

    from bench.__main__ import Figure
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


def print_targets(by: dict[str, Figure]) -> None:
    for name, target in TARGETS.items():
        f = by.get(name)
        if f is not None and f.seconds == f.seconds:
            print(f"  {name}: {f.seconds * 1000:.0f} ms (target ≤ {target * 1000:.0f} ms at 1M events)")


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    if found is None:
        raise RuntimeError("bench: no CSRF token on the page (not signed in?)")
    return found.group(1)


def _ok(response: object) -> None:
    status = getattr(response, "status_code", 0)
    if status != 200:
        raise RuntimeError(f"bench: the web answered {status}")
