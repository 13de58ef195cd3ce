"""Work done in a forked process whose messages come back through a pipe.

Import checks rows this way and rebuild computes projections this way, while this process
writes. The child gets the pipe's two ends after its own arguments, closes the receiving end
and sends tuples whose first item is their kind; ``("failed", error)`` carries an error to raise
here. It never outlives its reader: closing the generator, or any failure here, kills it, and
if this process dies the child's next send fails on the closed pipe.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Generator
from typing import Any

from ledger.errors import StorageError
from ledger.i18n import T_


def messages_from_fork(
    target: Callable[..., None], args: tuple[Any, ...], last: str, who: str
) -> Generator[tuple[Any, ...], None, None]:
    """Run ``target(*args, send, receive)`` in a forked daemon process and yield its messages up
    to and including the first of kind ``last``; ``who`` names the child in an error."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=target, args=(*args, send, receive), daemon=True)
    child.start()
    send.close()
    try:
        while True:
            try:
                message = receive.recv()
            except EOFError:
                msg = T_(
                    "{who} ended without a result (exit {exitcode})",
                    who=who,
                    exitcode=child.exitcode,
                )
                raise StorageError(msg) from None
            if message[0] == "failed":
                raise message[1]
            yield message
            if message[0] == last:
                return
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join()
