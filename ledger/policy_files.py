"""The policy versions shipped with the package, as their files hold them: the policy module
parses them into ``Policy`` values (``ledger.policy.load_policies``); a reading command that only
names programmes reads them here without loading the policy (``ledger.labels``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

POLICY_FOLDER = Path(__file__).parent / "policy"


@cache
def shipped() -> tuple[tuple[str, dict[str, Any]], ...]:
    """Each shipped version's file name and its TOML data, by file name."""
    import tomllib

    return tuple(
        (path.name, tomllib.loads(path.read_text("utf-8"))) for path in sorted(POLICY_FOLDER.glob("*.toml"))
    )
