"""The names under which the tracking table keeps each projection's position, defined once.

The projections take their names from here, and the fast paths (``projections.quick``, the
'is anything behind?' check) read them without importing a projection or SQLAlchemy.
"""

from __future__ import annotations

BALANCES = "balances"
COMPLIANCE = "compliance"
ACTS = "acts"  # every event of a grant, with who recorded it (projections/acts.py)
AUDIT_LOG = "audit_log"  # kept by the audit producer (audit/log.py), in the same tracking table
# Every projection the command line keeps, in the order it runs them (commands/registry.py).
KEPT = (BALANCES, COMPLIANCE, ACTS, AUDIT_LOG)
