"""One function run in a second process beside the caller's work, to use a second core.

The process is spawned (a fresh interpreter, not a fork of this one), so it shares no connection,
lock or open file with its parent. Leaving the ``with`` block before ``result()`` (an error, or
Ctrl-C) stops it. With ``inbox``, the function's first argument receives what the parent ``tell``s
it once it knows (a function may do most of its work before it needs the parent's answer).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from audit.verifier.errors import AuditError
from audit.verifier.i18n import LANG, _, use


class BackgroundError(AuditError):
    pass


def _run(
    send: Connection, fn: Callable[..., Any], args: tuple[Any, ...], lang: str, inbox: Connection | None
) -> None:
    use(lang)  # a spawned interpreter starts in the default language, not the parent's
    try:
        send.send(("ok", fn(inbox, *args) if inbox is not None else fn(*args)))
    except BaseException as e:  # reported to the parent, which decides
        send.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        send.close()


_PIPE_BYTES = 1 << 20  # Linux's default most for a pipe an unprivileged process widens


def _widen(connection: Connection) -> None:
    """Lets the pipe hold a megabyte (Linux; elsewhere, and past the system's limit, it keeps its
    size): with its default 64 KB, a parent telling chunks of 100 KB waited for the child to read
    each one (4.5 s of a million-event verify's wall time, on a loaded machine, against 1.5 s
    widened), and the parent's is the work every other waits on."""
    try:
        import fcntl

        fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # not Linux, or not allowed: as it is
        pass


class Background:
    """``fn(*args)`` in a second process; ``fn``, its arguments and its result must pickle."""

    def __init__(self, fn: Callable[..., Any], *args: Any, inbox: bool = False) -> None:
        context = multiprocessing.get_context("spawn")
        self._receive, send = context.Pipe(duplex=False)
        child_inbox: Connection | None = None
        self._outbox: Connection | None = None
        if inbox:
            child_inbox, self._outbox = context.Pipe(duplex=False)
            _widen(self._outbox)
        self._process = context.Process(
            target=_run, args=(send, fn, args, LANG.get(), child_inbox), daemon=True
        )
        self._process.start()
        send.close()
        if child_inbox is not None:
            child_inbox.close()

    def tell(self, message: Any) -> None:
        """Sends ``message`` to the function's inbox (it must pickle); a process already ended is
        found by ``result``."""
        assert self._outbox is not None, "started without an inbox"
        try:
            self._outbox.send(message)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def result(self) -> Any:
        try:
            status, value = self._receive.recv()
        except EOFError:
            self._process.join()
            raise BackgroundError(
                _("the second process ended without an answer (exit code {code})").format(
                    code=self._process.exitcode
                )
            ) from None
        self._process.join()
        if status != "ok":
            raise BackgroundError(str(value))
        return value

    def __enter__(self) -> Background:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._receive.close()
        if self._outbox is not None:
            self._outbox.close()
