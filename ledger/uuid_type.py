"""The one type eventsourcing-sqlalchemy takes from sqlalchemy_utils (``UUIDType``), imported
alone: imported the usual way, ``sqlalchemy_utils/__init__`` imports every type the package has
(passwords, phone numbers, currencies, its asserts, the Oracle and MySQL dialects...), about a
sixth of what a write command costs, none of it used.

Importing this module loads ``sqlalchemy_utils.types.uuid`` with its two parent packages present
but not run, then takes the parents out of ``sys.modules`` again: the module stays loaded, so
eventsourcing-sqlalchemy's ``from sqlalchemy_utils.types.uuid import UUIDType`` finds it without
running the parents, and a later ``import sqlalchemy_utils`` runs the package as usual and gets the
same ``UUIDType``. Anything unexpected (the package moved or missing) leaves the usual import to
happen later.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

MODULE = "sqlalchemy_utils.types.uuid"
PARENTS = ("sqlalchemy_utils", "sqlalchemy_utils.types")


def import_alone() -> None:
    if MODULE in sys.modules or any(parent in sys.modules for parent in PARENTS):
        return
    hollow = []
    try:
        for parent in PARENTS:
            spec = importlib.util.find_spec(parent)
            if spec is None or spec.submodule_search_locations is None:
                return
            sys.modules[parent] = importlib.util.module_from_spec(spec)
            hollow.append(parent)
        importlib.import_module(MODULE)
    except ImportError:
        sys.modules.pop(MODULE, None)
    finally:
        for parent in hollow:
            sys.modules.pop(parent, None)


import_alone()
