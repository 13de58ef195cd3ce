"""Work done in forked processes whose messages come back through pipes.

Import checks rows this way (in one process, or in parts fed by a reader) and rebuild computes
projections this way, while this process writes. The child gets the pipe's two ends after its
own arguments, closes the receiving end and sends tuples whose first item is their kind;
``("failed", error)`` carries an error to raise here. It never outlives its reader: closing the
generator, or any failure here, kills it, and if this process dies the child's next send fails
on the closed pipe.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Generator
from multiprocessing.connection import Connection, wait
from typing import Any, cast

from ledger.errors import LedgerError, StorageError, is_storage_error
from ledger.i18n import T_


def messages_from_fork(
    target: Callable[..., None], args: tuple[Any, ...], last: str, who: object
) -> Generator[tuple[Any, ...], None, None]:
    """Run ``target(*args, send, receive)`` in a forked daemon process and yield its messages up
    to and including the first of kind ``last``; ``who`` names the child in an error (a ``T_``
    text, said in the reader's language)."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_run, args=(target, (*args, send, receive), []), daemon=True)
    child.start()
    send.close()
    try:
        while True:
            message = _received(receive, child, who)
            yield message
            if message[0] == last:
                return
    finally:
        receive.close()
        _stop([child])


def messages_from_forks(
    works: list[tuple[Callable[..., None], tuple[Any, ...]]], last: str, who: object
) -> Generator[tuple[int, tuple[Any, ...]], None, None]:
    """Run each ``target(*args, send)`` of ``works`` in a forked daemon process and yield
    ``(index of the work, message)`` as the messages come, until each has sent one of kind
    ``last``. Each child holds its own sending end alone, so one whose reader is gone fails on
    its next send whatever its siblings do."""
    context = multiprocessing.get_context("fork")
    backs = [context.Pipe(duplex=False) for _ in works]  # (receive, send): child -> here
    ends = [end for pair in backs for end in pair]
    children = []
    for (target, args), (_, send) in zip(works, backs, strict=True):
        others = [end for end in ends if end is not send]
        children.append(context.Process(target=_run, args=(target, (*args, send), others), daemon=True))
    for child in children:
        child.start()
    for _, send in backs:
        send.close()
    pairs = zip(backs, children, strict=True)
    waiting = {receive: (i, child) for i, ((receive, _), child) in enumerate(pairs)}
    try:
        yield from _gathered(waiting, last, who)
    finally:
        _ended_all(waiting, children)


def messages_from_parts(
    read: Callable[..., None],
    read_args: tuple[Any, ...],
    work: Callable[..., None],
    work_args: tuple[Any, ...],
    parts: int,
    last: str,
    who: object,
) -> Generator[tuple[Any, ...], None, None]:
    """``parts`` forked workers, ``work(*work_args, feed, send)``, fed by one forked reader,
    ``read(*read_args, feeds)``, which sends each worker its share through ``feeds``; yield the
    workers' messages as they come, until each has sent one of kind ``last``.

    Each process closes every end of the pipes that is not its own, so a worker whose reader
    dies sees the end of its feed, and the reader whose worker dies fails on its next send."""
    context = multiprocessing.get_context("fork")
    feeds = [context.Pipe(duplex=False) for _ in range(parts)]  # (receive, send): reader -> worker
    backs = [context.Pipe(duplex=False) for _ in range(parts)]  # worker -> here
    ends = [end for pair in (*feeds, *backs) for end in pair]
    children = []
    for (feed, _), (_, send) in zip(feeds, backs, strict=True):
        kept = (feed, send)
        others = [end for end in ends if end not in kept]
        children.append(context.Process(target=_run, args=(work, (*work_args, *kept), others), daemon=True))
    senders = [send for _, send in feeds]
    others = [end for end in ends if end not in senders]
    children.append(context.Process(target=_run, args=(read, (*read_args, senders), others), daemon=True))
    for child in children:
        child.start()
    pairs = zip(backs, children, strict=False)  # the reader, last, sends nothing here
    waiting = {receive: (i, child) for i, ((receive, _), child) in enumerate(pairs)}
    for end in ends:
        if end not in waiting:
            end.close()
    try:
        for _, message in _gathered(waiting, last, who):
            yield message
    finally:
        _ended_all(waiting, children)


def _gathered(
    waiting: dict[Connection, tuple[int, Any]], last: str, who: object
) -> Generator[tuple[int, tuple[Any, ...]], None, None]:
    """``(index, message)`` from each child of ``waiting`` (its receiving end -> its index and
    process) as they come, until each has sent one of kind ``last``; the ends done with are
    closed and left out of ``waiting``."""
    while waiting:
        for ready in wait(list(waiting)):
            receive = cast(Connection, ready)
            i, child = waiting[receive]
            message = _received(receive, child, who)
            yield i, message
            if message[0] == last:
                del waiting[receive]
                receive.close()


def _ended_all(waiting: dict[Connection, tuple[int, Any]], children: list[Any]) -> None:
    """The ends still open closed, and every child stopped."""
    for receive in waiting:
        receive.close()
    _stop(children)


def _received(receive: Connection, child: Any, who: object) -> tuple[Any, ...]:
    """The child's next message; its error raised here (``failed``), or StorageError naming it
    (``who``) if it ended without sending one."""
    try:
        message: tuple[Any, ...] = receive.recv()
    except EOFError:
        msg = T_("{who} ended without a result (exit {exitcode})", who=who, exitcode=_ended(child))
        raise StorageError(msg) from None
    if message[0] == "failed":
        raise message[1]
    return message


def _stop(children: list[Any]) -> None:
    for child in children:
        if child.is_alive():
            child.kill()
        child.join()


def _ended(child: Any) -> int | None:
    """The exit status of a child whose pipe closed: it is ending, but may not be reaped yet
    (its status was then None)."""
    child.join(timeout=ENDING_SECONDS)
    return cast(int | None, child.exitcode)


ENDING_SECONDS = 2.0  # a child whose pipe closed has this long to be reaped


def _run(target: Callable[..., None], args: tuple[Any, ...], others: list[Any]) -> None:
    # Ctrl-C reaches the whole process group: the command's own process answers it (one sentence,
    # exit 130) and stops this one, which had printed a traceback of its own
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # stopped by the command's process (``_stop``)
    for end in others:
        end.close()
    target(*args)


def failure(error: BaseException, who: object) -> LedgerError:
    """What a forked process sends for an error of its own (``("failed", …)``), as the command
    line reports one in its own process: a LedgerError as it is; the database's or the system's
    (SQLAlchemy, the event store, the file system) a StorageError, exit 5; anything else an
    internal error, exit 1. In one line naming the process (``who``, a ``T_`` text)."""
    if isinstance(error, LedgerError):
        return error
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if is_storage_error(error):
        return StorageError(T_("{who} failed: {first}", who=who, first=first))
    kind = type(error).__name__
    return LedgerError(T_("internal error in {who} ({kind}): {first}", who=who, kind=kind, first=first))
