"""Progress on every long step (export, import, audit export and verify, projections rebuild and
verify): one bar with counts on stderr, never on stdout, shown when stderr is a terminal.

``GRANT_LEDGER_PROGRESS=1`` shows it whatever stderr is (a person watching a redirected run, the
tests); ``GRANT_LEDGER_PROGRESS=0`` never shows it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

ENV = "GRANT_LEDGER_PROGRESS"
Step = Callable[[int], None]


def _shown() -> bool | None:
    """True: shown; None: shown if stderr is a terminal; False: never."""
    setting = os.environ.get(ENV, "").strip()
    if setting == "1":
        return True
    if setting == "0":
        return False
    return None


def no_step(_: int) -> None:
    return None


@contextmanager
def progress(total: int, label: str) -> Iterator[Step]:
    """A step function counting towards ``total``, drawn on stderr as a bar with counts."""
    shown = _shown()
    if shown is False or (shown is None and not sys.stderr.isatty()):
        yield no_step
        return
    # click draws a bar only on a terminal: one asked for (GRANT_LEDGER_PROGRESS=1) is drawn anyway
    stream = sys.stderr if shown is None else _Terminal(sys.stderr)
    with click.progressbar(length=max(total, 0), label=label, file=stream, show_pos=True) as bar:  # type: ignore[arg-type]
        yield bar.update


class _Terminal:
    """stderr, said to be a terminal."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return int(self._stream.write(text))

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return True


class Stages:
    """One bar per stage of a long step (events, then the workbook), each closed before the next."""

    def __init__(self) -> None:
        self._open: Any = None

    def stage(self, label: str, total: int) -> Step:
        self.close()
        self._open = progress(total, label)
        step: Step = self._open.__enter__()
        return step

    def close(self) -> None:
        if self._open is not None:
            self._open.__exit__(None, None, None)
            self._open = None
