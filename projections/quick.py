"""Current balances read straight from a SQLite file through the standard library's driver.

A plain ``balance`` on an up-to-date SQLite ledger is one indexed SELECT; loading SQLAlchemy
would cost more than the answer. This path reads the same ``balance_grants`` rows the
projections write, inside one read transaction that first checks the store's schema version
and that every projection has reached the store's head. When anything is off (another
backend, a missing table, a projection behind, a locked file) it returns ``None`` and the
caller takes the ordinary path, which catches the projections up first.

The table and column names are the read model's own (``projections/schema.py``);
``tests/test_quick_balance.py`` holds them equal and compares answers with the ordinary path.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from ledger.i18n import T_
from ledger.location import EVENTS_TABLE, META_TABLE, check_version
from ledger.money import from_fen
from projections.figures import MEASURES, Balance
from projections.names import KEPT, standing

GRANTS_TABLE = "balance_grants"
UNITS_TABLE = "balance_units"  # each unit's district, joined by unit_id
TRACKING_TABLE = "ledger_tracking"
LABELS = ("base_id", "grant_id", "base_name", "programme", "status")
PROJECTIONS = KEPT
# Wait this long for a writer's lock before handing over to the ordinary path.
BUSY_MS = 2000
CHUNK = 10_000  # rows read at a time


def sqlite_path(url: str) -> Path | None:
    """The file behind a ``sqlite:///`` URL, or None for anything else."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = Path(url[len(prefix) :])
    return path.resolve() if path.name and path.is_file() else None  # a file URI needs it absolute


def current_balances(url: str, base_ids: Sequence[str] = ()) -> list[Balance] | None:
    """Balances per grant as the projections hold them now, or None if this path cannot tell."""
    found: list[Balance] = []
    labels = len(LABELS)
    amounts = Made(from_fen)
    # positionally: a Balance's fields are the labels, the measures and the district, in order
    balance: Callable[..., Balance] = Balance

    def each(rows: list[tuple[Any, ...]]) -> None:
        found.extend(
            balance(*row[:labels], *[amounts[fen] for fen in row[labels:-1]], row[-1]) for row in rows
        )

    return found if current_rows(url, each, base_ids) else None


def current_rows(
    url: str,
    each: Callable[[list[tuple[Any, ...]]], None],
    base_ids: Sequence[str] = (),
    columns: str | None = None,
) -> bool:
    """Give ``each`` the grants' rows as the projections hold them now, a chunk at a time in the
    order of base and grant: each row its ``LABELS``, its ``MEASURES`` in fen and its unit's
    district (or the select list ``columns``). False if this path cannot tell, perhaps after some
    chunks (the caller drops them)."""
    path = sqlite_path(url)
    if path is None:
        return False
    try:
        with _snapshot(path) as conn:
            if _head(conn) is None:
                return False
            _rows(conn, each, base_ids=base_ids, columns=columns)
            return True
    except sqlite3.Error:
        return False


@dataclass(frozen=True)
class Laying:
    """How ``current_texts`` lays out every grant: ``lay`` of each chunk of the rows ``columns``
    selects, an SQL select list over the grants (``g``) and their units (``u``); None selects
    each grant's row as ``current_rows`` gives it."""

    lay: Callable[[list[tuple[Any, ...]]], str]
    columns: str | None = None


def current_texts(url: str, laying: Laying) -> list[str] | None:
    """``laying`` of each chunk of every grant's row, in the order of base and grant; None if
    this path cannot tell. From ``SPLIT_FROM`` grants, forked processes lay out ranges of
    bases at once (``parts_for``), each in its own snapshot of the same head; if a write comes
    between them, or one of them cannot finish, this process lays out all."""
    path = sqlite_path(url)
    if path is None:
        return None
    split = _split(path)
    if split is not None:
        texts = _laid_in_parts(path, *split, laying)
        if texts is not None:
            return texts
    texts = []
    laid = current_rows(url, lambda rows: texts.append(laying.lay(rows)), columns=laying.columns)
    return texts if laid else None


SPLIT_FROM = 10_000  # grants; fewer are laid out before a second process would have started
MOST_PARTS = 4


def parts_for(grants: int) -> int:
    """How many processes lay out ``grants`` rows: one per core the process may use (at most
    ``MOST_PARTS``) from ``SPLIT_FROM``, where processes can be forked; else one."""
    if grants < SPLIT_FROM:
        return 1
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MOST_PARTS, cores))


@contextmanager
def _snapshot(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection inside one read transaction: one snapshot for the checks and the rows."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        conn.execute("BEGIN")
        yield conn
    finally:
        conn.close()


def _head(conn: sqlite3.Connection) -> int | None:
    """The store's head if every projection stands at it, else None (nothing stored yet, a
    projection behind, a read model of another version: the ordinary path answers)."""
    version = conn.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'").fetchone()
    if version is None:
        return None
    check_version(str(version[0]))
    head = int(conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {EVENTS_TABLE}").fetchone()[0])
    # every version's key: a position counts only under each's current version, alone
    kept = dict(conn.execute(f"SELECT application_name, notification_id FROM {TRACKING_TABLE}").fetchall())
    if head == 0 or any(standing(kept, name) != head for name in PROJECTIONS):
        return None
    return head


def _rows(
    conn: sqlite3.Connection,
    each: Callable[[list[tuple[Any, ...]]], None],
    base_ids: Sequence[str] = (),
    low: str | None = None,
    high: str | None = None,
    columns: str | None = None,
) -> None:
    """``each`` chunk of the grants' rows, of ``base_ids`` or of the bases from ``low`` (included)
    up to ``high`` (left out), in the order of base and grant: each row its ``LABELS``, its
    ``MEASURES`` in fen and its unit's district, or the select list ``columns``."""
    if columns is None:
        columns = ", ".join(f"g.{c}" for c in LABELS + MEASURES) + ", u.district"
    query = f"SELECT {columns} FROM {GRANTS_TABLE} g LEFT JOIN {UNITS_TABLE} u ON u.unit_id = g.unit_id"
    where = []
    params: list[str] = []
    if base_ids:
        where.append(f"g.base_id IN ({', '.join('?' * len(base_ids))})")
        params += base_ids
    if low is not None:
        where.append("g.base_id >= ?")
        params.append(low)
    if high is not None:
        where.append("g.base_id < ?")
        params.append(high)
    if where:
        query += " WHERE " + " AND ".join(where)
    query += " ORDER BY g.base_id, g.grant_id"
    cursor = conn.execute(query, params)
    while rows := cursor.fetchmany(CHUNK):
        each(rows)


def _split(path: Path) -> tuple[int, list[str]] | None:
    """The head and the bases that start each range after the first, or None for one process.
    The connection is closed before any fork: SQLite's locks must not cross one."""
    try:
        with _snapshot(path) as conn:
            head = _head(conn)
            if head is None:
                return None
            count = conn.execute(f"SELECT COUNT(*) FROM {GRANTS_TABLE}").fetchone()[0]
            parts = parts_for(count)
            at = f"SELECT base_id FROM {GRANTS_TABLE} ORDER BY base_id LIMIT 1 OFFSET ?"
            starts = {conn.execute(at, (count * k // parts,)).fetchone()[0] for k in range(1, parts)}
            first = conn.execute(f"SELECT MIN(base_id) FROM {GRANTS_TABLE}").fetchone()[0]
    except sqlite3.Error:
        return None
    starts.discard(first)  # a range from the first base would leave the first range none
    return (head, sorted(starts)) if starts else None


def _laid_in_parts(path: Path, head: int, starts: list[str], laying: Laying) -> list[str] | None:
    """The ranges of bases between ``starts``, each laid out by a forked process, in order; None
    if any of them read another head or ended without its result."""
    from ledger.errors import StorageError
    from ledger.forked import messages_from_forks  # multiprocessing: only for a large read model

    bounds: list[str | None] = [None, *starts, None]
    works = [(_lay_part, (path, head, low, high, laying)) for low, high in pairwise(bounds)]
    texts: list[list[str]] = [[] for _ in works]
    messages = messages_from_forks(works, "done", LAYING_OUT)
    try:
        for i, (kind, *rest) in messages:
            if kind == "laid":
                texts[i].append(rest[0])
            elif not rest[0]:  # done at another head, or could not read
                return None
    except StorageError:  # a process ended without its result (killed): one process lays out all
        return None
    finally:
        messages.close()
    return [text for part in texts for text in part]


LAYING_OUT = T_("a process laying out balances")


def _lay_part(
    path: Path,
    head: int,
    low: str | None,
    high: str | None,
    laying: Laying,
    send: Any,
) -> None:
    """In a forked process: each chunk of the bases from ``low`` (included) up to ``high`` (left
    out) as ``("laid", text)`` when laid out, read in a snapshot at ``head``, then ``("done",
    True)``; ``("done", False)`` if the store stands at another head or cannot be read."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the reading process stops it on Ctrl-C
    from ledger.forked import failure

    try:
        try:
            with _snapshot(path) as conn:
                at = _head(conn) == head
                if at:
                    _rows(
                        conn,
                        lambda rows: send.send(("laid", laying.lay(rows))),
                        low=low,
                        high=high,
                        columns=laying.columns,
                    )
        except sqlite3.Error:
            at = False
        send.send(("done", at))
    except (BrokenPipeError, KeyboardInterrupt):
        return  # the reading process is gone
    except BaseException as e:  # one line for the user, not a traceback
        with suppress(BrokenPipeError):
            send.send(("failed", failure(e, LAYING_OUT)))
    finally:
        send.close()


class Made(dict[Any, Any]):
    """Each value's ``make(value)``, made once: over many grants most figures repeat (nothing
    recovered, the same sums approved), and the balances (or their texts) share them."""

    def __init__(self, make: Callable[[Any], Any]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, value: Any) -> Any:
        made = self[value] = self.make(value)
        return made
