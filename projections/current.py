"""Projections brought to the store's head, each as its current version writes it.

Every command that keeps the projections current calls ``catch_up`` here. It is the runner's
catch-up (``projections.runner``), except for a projection whose position is kept under another
version's key (``projections.names``), instead of its own or beside it: another version of
grant-ledger wrote its rows. Such a projection is rebuilt from the events first, in one
transaction under the rebuild lock (``projections.rebuild``), so the rows a report reads are
always those this version writes; a process that finds it rebuilt by another meanwhile does
nothing more. A projection with no position under any key is built by the ordinary catch-up (a
new ledger's), which refuses rows left without their position rather than counting them twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

from ledger.application import GrantLedger
from ledger.i18n import _
from projections.names import named, tracked
from projections.runner import Projection, ProjectionRecorder, kept_positions
from projections.runner import catch_up as catch_up_from_positions
from projections.status import head


def catch_up(
    app: GrantLedger,
    only: Sequence[Projection] | None = None,
    progress: Callable[[int], None] | None = None,
    check: bool = True,
    recorder: ProjectionRecorder | None = None,
    notice: Callable[[str], None] | None = None,
    fork: bool = True,
    rebuilding: Callable[[Sequence[str], int], AbstractContextManager[Callable[[int], None]]] | None = None,
) -> int:
    """``projections.runner.catch_up``, rebuilding first each projection that another version
    wrote; ``notice`` hears one sentence per projection so rebuilt (a first build is silent).
    ``fork``: False in a process that runs threads (the web server): a rebuild there never
    computes in a forked worker, which could inherit a lock another thread held at the fork and
    wait for it for ever while this one holds the rebuild lock. ``rebuilding``: given the names
    and the events to read, the progress of such a rebuild (a bar: it reads the whole store)."""

    def rebuild_unbuilt(fresh: Sequence[Projection]) -> int:
        earlier = _earlier_versions(app, [p.name for p in fresh])
        if not earlier:  # never built: the ordinary catch-up builds it from the first event
            return 0
        from projections.rebuild import rebuild_all  # its workers' machinery: only when one is due

        upgraded = [p for p in fresh if p.name in earlier]
        worker = None if fork else False
        with rebuilding(sorted(earlier), head(app.engine)) if rebuilding else nullcontext(progress) as step:
            done = rebuild_all(app, upgraded, step, worker=worker, check=check, unbuilt_only=True)
        if done and notice is not None:
            for name in sorted(earlier):
                notice(
                    _(
                        "the {name} read model was written by another version of grant-ledger; "
                        "rebuilt it from {count} events"
                    ).format(name=name, count=done)
                )
        return done

    return catch_up_from_positions(
        app, only, progress, check=check, recorder=recorder, unbuilt=rebuild_unbuilt
    )


def _earlier_versions(app: GrantLedger, names: Sequence[str]) -> set[str]:
    """Those of ``names`` whose positions are kept under another version's key."""
    with app.engine.connect() as conn:
        kept = kept_positions(conn)
    return {named(key) for key in kept if named(key) in names and key != tracked(named(key))}
