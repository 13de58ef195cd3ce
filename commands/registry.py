"""Which projections the command line keeps current: the read models of ``projections/``
plus any kept by other packages (the audit log). Add a projection here to have every write
and every report keep it caught up."""

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
    return ("balances", "compliance", "audit_log")
