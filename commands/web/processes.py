"""``serve --workers N``: N server processes, each listening on the same address with a socket of
its own (``SO_REUSEPORT``), so that the kernel spreads new connections across them.

With one socket shared by every process (uvicorn's own ``workers``), whichever process wakes first
accepts every connection waiting at once: in the bench, ten clients' connections landed nine to one
on two processes, and two processes wrote no faster than one. Sessions are the database's
(``commands.web.sessions``), so it does not matter which process a connection reaches.

A process that ends is started again, unless it ended within ``EARLY_SECONDS`` of its start (a
ledger it cannot open, a port it cannot take): then the server stops and says so. A process whose
server is gone (killed outright, with no chance to stop its processes) stops too.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

# a process ending this soon after its start is a failure to start, not a crash to recover from
EARLY_SECONDS = 10.0
BACKLOG = 2048


def reusable_port() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def listening(host: str, port: int, shared: bool = True) -> socket.socket:
    """A socket bound to ``host:port`` that other processes of this server may bind too (not
    ``shared``: only if no other socket holds the address, shared or not)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


# how often a process looks whether its server is still there
PARENT_CHECK_SECONDS = 0.5


def _ends_with(parent: int) -> None:
    """Stop this process (as SIGTERM stops it) once ``parent`` is gone: a server killed outright
    would otherwise leave its processes serving, holding the port against the next one."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="server watch", daemon=True).start()


def _one_process(
    app: str, host: str, port: int, options: dict[str, Any], parent: int, told: dict[str, str]
) -> None:
    import uvicorn

    _ends_with(parent)
    os.environ.update(told)  # for the app's factory, which takes it out again
    sock = listening(host, port)
    sock.listen(BACKLOG)
    uvicorn.Server(uvicorn.Config(app, factory=True, **options)).run(sockets=[sock])


def run(
    app: str,
    workers: int,
    host: str,
    port: int,
    options: dict[str, Any],
    announce: Callable[[], None],
    told: dict[str, str] | None = None,
) -> int:
    """Run ``workers`` processes of the app factory named ``app`` (``module:function``) until
    SIGINT or SIGTERM, ``announce`` called once the address is taken; the exit status: 0 when
    stopped, 1 when a process failed to start. ``told``: environment variables each process
    sets for its factory, handed over the pipe that starts it (never in this process's
    environment, nor at the start of theirs, where /proc shows them)."""
    # another server on the address (even one sharing it this way) is refused as uvicorn refuses
    # it: a second `serve` of the same user would otherwise quietly take half the connections
    listening(host, port, shared=False).close()
    held = listening(host, port)  # bound, never listening: the address stays this server's
    announce()
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(_signal: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}

    def start() -> tuple[Any, float]:
        process = context.Process(
            target=_one_process, args=(app, host, port, options, os.getpid(), told or {}), daemon=False
        )
        process.start()
        return process, time.monotonic()

    running = [start() for _ in range(workers)]
    failed = False
    try:
        while not stopping:
            time.sleep(0.2)
            for n, (process, started) in enumerate(running):
                if process.is_alive() or stopping:
                    continue
                if time.monotonic() - started < EARLY_SECONDS:
                    failed = stopping = True
                    break
                running[n] = start()
    finally:
        for process, _ in running:
            if process.is_alive():
                process.terminate()
        for process, _ in running:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
        held.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 1 if failed else 0
