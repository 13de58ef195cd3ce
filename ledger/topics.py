"""Every stored topic resolves, whichever aggregates' modules this process has imported.

A topic is ``grant-ledger:`` and a class's path from its aggregate (``Unit.Registered``). The
library finds a class by its topic once the class's module is imported (its explicit topic is
registered then), and would otherwise import the module the topic names, which ``grant-ledger``
is not. A command imports only the aggregates it works on (a spend never builds the units'
classes), so the part before the colon is registered as this module: the library then asks it
for the aggregate, and ``__getattr__`` imports the module that defines it.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from eventsourcing.utils import register_topic

PREFIX = "grant-ledger"

# each aggregate (a topic's first name after the prefix) and the module that defines it
MODULES = {
    "Grant": "ledger.grant",
    "Unit": "ledger.unit",
    "Base": "ledger.unit",
    "RecommendationRound": "ledger.unit",
    "Bodies": "ledger.bodies",
    "People": "ledger.people",
    "PolicyBook": "ledger.policy_book",
    "Seal": "ledger.seal",
}


def __getattr__(name: str) -> Any:
    module = MODULES.get(name)
    if module is None:
        raise AttributeError(f"no aggregate of the ledger is named {name!r}")
    return getattr(importlib.import_module(module), name)


register_topic(PREFIX, sys.modules[__name__])
