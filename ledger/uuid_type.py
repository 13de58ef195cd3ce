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

The module also imports SQLAlchemy's Microsoft SQL Server and PostgreSQL dialects, which it uses
only on those databases (the first never ours; the second loaded by the engine when the ledger is
on PostgreSQL), at a tenth of what a write command costs: while it is imported, each dialect not
yet loaded is a stand-in that imports the real one at its first use. The stand-ins are put where
the type's ``from sqlalchemy.dialects import mssql, postgresql`` finds them first, as attributes of
``sqlalchemy.dialects``, never in ``sys.modules``: another thread importing a dialect meanwhile (an
engine being made, ``from sqlalchemy.dialects.postgresql import insert``) gets the real one, and a
stand-in anyone holds reads through to it. They are taken off again after.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

MODULE = "sqlalchemy_utils.types.uuid"
PARENTS = ("sqlalchemy_utils", "sqlalchemy_utils.types")
DIALECTS = ("sqlalchemy.dialects.mssql", "sqlalchemy.dialects.postgresql")


class _OnFirstUse(types.ModuleType):
    """A module imported only when one of its names is first read."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # the import machinery's questions
        return getattr(importlib.import_module(self.__name__), name)


def import_alone() -> None:
    if MODULE in sys.modules or any(parent in sys.modules for parent in PARENTS):
        return
    hollow = []
    standing: dict[str, _OnFirstUse] = {}
    try:
        dialects = importlib.import_module("sqlalchemy.dialects")  # imported by the type anyway
        for parent in PARENTS:
            spec = importlib.util.find_spec(parent)
            if spec is None or spec.submodule_search_locations is None:
                return
            sys.modules[parent] = importlib.util.module_from_spec(spec)
            hollow.append(parent)
        for dialect in DIALECTS:
            short = dialect.rpartition(".")[2]
            if dialect not in sys.modules and short not in vars(dialects):
                standing[short] = _OnFirstUse(dialect)
                setattr(dialects, short, standing[short])
        importlib.import_module(MODULE)
    except ImportError:
        sys.modules.pop(MODULE, None)
    finally:
        for parent in hollow:
            sys.modules.pop(parent, None)
        for short, stand_in in standing.items():
            if vars(dialects).get(short) is stand_in:  # not the real one, imported meanwhile
                delattr(dialects, short)


import_alone()
