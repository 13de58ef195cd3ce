"""The versions at which an aggregate's snapshot is stored.

A snapshot holds the whole aggregate, so a grant's grows with its history (every voucher it has
seen: about a megabyte at a few thousand events). Stored every ``every`` versions throughout, a
grant's writes would cost more and more as it grows. So the points are ``every`` apart up to
``20 × every`` versions, then ten to each doubling of the version: 100 apart up to 2,000 (for
``every`` = 50), 200 apart up to 4,000, and so on. The cost of snapshots per write stays about
the same however long the history; a load replays at most a tenth of it after its snapshot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T", bound=type[Any])

# points ``every`` apart up to this many intervals, then ten to each doubling
_FIRST = 20
_PER_DOUBLING = 10


def points_through(version: int, every: int) -> int:
    """How many snapshot points lie in 1..``version``: a snapshot is due when a save moves an
    aggregate from one count to a higher one."""
    if version <= 0:
        return 0
    limit = _FIRST * every
    if version <= limit:
        return version // every
    doublings, low = 1, limit
    while version > 2 * low:
        doublings, low = doublings + 1, 2 * low
    # from ``low`` (a point) to ``2 × low``: ten points, ``low / 10`` apart
    return _FIRST + _PER_DOUBLING * (doublings - 1) + (version - low) // (low // _PER_DOUBLING)


def is_point(version: int, every: int) -> bool:
    return points_through(version, every) > points_through(version - 1, every)


# each aggregate class and its ``every``, as its module declares it (``snapshot_every``): the
# application's snapshotting intervals, holding a class once its module is imported (no aggregate
# of a module not imported is ever saved)
INTERVALS: dict[type[Any], int] = {}


def snapshot_every(every: int) -> Callable[[T], T]:
    """The aggregate class's snapshots are stored at the points ``every`` makes."""

    def declare(cls: T) -> T:
        INTERVALS[cls] = every
        return cls

    return declare
