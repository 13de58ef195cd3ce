"""Which projections the command line keeps current: the read models of ``projections/``
plus the audit log (``audit/log.py``). The command line hands this list to the projections'
runner (``catch_up``, ``project_stored``); the runner itself knows none of them by name.
Their names are ``projections.names.KEPT``, in this order."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from projections.runner import Projection


def all_projections() -> list[Projection]:
    from audit.log import AuditLogProjection
    from projections.runner import projections

    # projections() holds the balances and the compliance projection (projections/compliance.py)
    return [*projections(), AuditLogProjection()]


def projection_names() -> tuple[str, ...]:
    """Names only, without importing eventsourcing (for the fast 'is anything behind?' check)."""
    from projections.names import KEPT

    return KEPT
