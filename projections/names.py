"""The names under which the tracking table keeps each projection's position, defined once.

The projections take their names from here, and the fast paths (``projections.quick``, the
'is anything behind?' check) read them without importing a projection or SQLAlchemy.

A projection's position is kept under its name and the version of what it writes
(``tracked``). A change to the rows a projection writes (a column, a table, a meaning) raises its
version here; a ledger whose rows an earlier version wrote then finds no position under the new
key, and the first command that catches up rebuilds that projection from the events, once
(``projections.current``). Version 1 is kept under the bare name, as before versions were kept.
A rebuild deletes the keys of every version of its projection: another version's key beside the
current one's means another version wrote the rows since (``standing``).
"""

from __future__ import annotations

from collections.abc import Mapping

BALANCES = "balances"
COMPLIANCE = "compliance"
ACTS = "acts"  # every event of a grant but its spends, with who recorded it (projections/acts.py)
AUDIT_LOG = "audit_log"  # kept by the audit producer (audit/log.py), in the same tracking table
# Every projection the command line keeps, in the order it runs them (commands/registry.py).
KEPT = (BALANCES, COMPLIANCE, ACTS, AUDIT_LOG)

# The version of what each projection writes (tests/test_projection_versions.py holds each
# version to its tables' shape: a changed table with an unchanged version fails there).
VERSIONS = {BALANCES: 3, COMPLIANCE: 5, ACTS: 3, AUDIT_LOG: 1}

# between a name and its version in the tracking table (no projection's name holds it)
MARK = "@"


def tracked(name: str) -> str:
    """The key of ``name``'s position in the tracking table, for its current version."""
    version = VERSIONS.get(name, 1)
    return name if version == 1 else f"{name}{MARK}{version}"


def named(key: str) -> str:
    """The projection a tracking key is kept for, whatever its version."""
    return key.split(MARK, 1)[0]


def standing(kept: Mapping[str, int], name: str) -> int:
    """Where ``name`` stands by the tracking table's rows ``kept`` (key: position): at its
    current version's key; 0 (not built by this version) when that key is not there, or when
    another version's key is there too. A release from before versions were kept rebuilds a
    projection under its bare name only, leaving the current version's key where it stood: the
    rows are then that release's."""
    own = tracked(name)
    if own not in kept or any(key != own and named(key) == name for key in kept):
        return 0
    return int(kept[own] or 0)
