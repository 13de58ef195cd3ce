"""What a write command loads: eventsourcing-sqlalchemy takes one type from sqlalchemy_utils
(UUIDType); the rest of that package (passwords, phone numbers, currencies, its asserts and the
dialects they pull in) is never imported by a spend, yet the type is the package's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.reliability import funded_grant
from tests.signing import url_key

SPEND = """
import json, sys
from commands.cli import main
sys.argv = ["grant-ledger", "spend", "G1", "--amount", "10", "--category", "equipment", "--source", "subsidy",
            "--voucher", "V-IMPORTS", "--date", "2024-05-10"]
code = 0
try:
    main()
except SystemExit as e:
    code = e.code
loaded = sorted(m for m in sys.modules if m.startswith("sqlalchemy_utils"))
dialects = sorted(m for m in sys.modules if m.startswith("sqlalchemy.dialects."))
print(json.dumps({"code": code, "loaded": loaded, "dialects": dialects}))
"""


def test_a_spend_imports_only_the_uuid_type_of_sqlalchemy_utils(sqlite_url: str) -> None:
    funded_grant(sqlite_url, "100000")
    env = {
        **os.environ,
        "GRANT_LEDGER_LANG": "en",
        "GRANT_LEDGER_DB": sqlite_url,
        "GRANT_LEDGER_KEY": str(url_key(sqlite_url)),
    }
    env.pop("GRANT_LEDGER_ROLE", None)
    env.pop("GRANT_LEDGER_ACTOR", None)
    done = subprocess.run(
        [sys.executable, "-c", SPEND],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["code"] == 0, done.stderr
    assert "recorded expenditure V-IMPORTS" in done.stdout
    assert found["loaded"] == ["sqlalchemy_utils.types.scalar_coercible", "sqlalchemy_utils.types.uuid"]
    # the type's module names the SQL Server and PostgreSQL dialects: a spend on SQLite loads neither
    assert not [d for d in found["dialects"] if d.split(".")[2] in ("mssql", "postgresql")], found["dialects"]


def test_the_uuid_type_is_the_packages_own_when_the_package_is_imported_later() -> None:
    check = (
        "import ledger.store, sqlalchemy_utils, eventsourcing_sqlalchemy.models as m;"
        "print(sqlalchemy_utils.UUIDType is m.UUIDType, hasattr(sqlalchemy_utils, 'PasswordType'))"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True"]


def test_the_dialects_the_uuid_type_names_are_the_real_ones_when_used() -> None:
    """The stand-ins for the dialects are gone once the type is imported: an import of either
    gets the real module, and the type picks each database's own UUID type through them."""
    check = (
        "import sys, ledger.store, eventsourcing_sqlalchemy.models as m;"
        "from sqlalchemy.dialects import mssql, postgresql;"
        "pg, ms = postgresql.dialect(), mssql.dialect();"
        "print(type(sys.modules['sqlalchemy.dialects.postgresql']).__name__,"
        " type(m.UUIDType().load_dialect_impl(pg)) is type(pg.type_descriptor(postgresql.UUID())),"
        " type(m.UUIDType().load_dialect_impl(ms)) is type(ms.type_descriptor(mssql.UNIQUEIDENTIFIER())))"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["module", "True", "True"]


MEANWHILE = """
import importlib.machinery, json, sys, threading
found = {}
def other_thread():  # a web request making a PostgreSQL engine, a module importing the dialect
    try:
        from sqlalchemy import create_engine
        found["engine"] = create_engine("postgresql+psycopg://someone@localhost/nowhere").dialect.name
    except Exception as e:
        found["engine"] = f"{type(e).__name__}: {e}"
    try:
        from sqlalchemy.dialects.postgresql import insert
        found["insert"] = insert.__module__
    except Exception as e:
        found["insert"] = f"{type(e).__name__}: {e}"
class WhileTheTypeLoads:  # the other thread runs while the UUID type's module is being executed
    def find_spec(self, name, path=None, target=None):
        if name != "sqlalchemy_utils.types.scalar_coercible":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module
        def exec_module(module):
            thread = threading.Thread(target=other_thread)
            thread.start()
            thread.join()
            run(module)
        spec.loader.exec_module = exec_module
        return spec
sys.meta_path.insert(0, WhileTheTypeLoads())
import ledger.store
print(json.dumps(found))
"""


def test_another_thread_importing_the_postgresql_dialect_while_the_type_loads_gets_the_real_one() -> None:
    """The UUID type's module is imported at first use of the store, possibly in one thread of a
    server while another makes a PostgreSQL engine: that one must get the real dialect, not fail
    on a stand-in it cannot load from."""
    done = subprocess.run(
        [sys.executable, "-c", MEANWHILE],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"engine": "postgresql", "insert": "sqlalchemy.dialects.postgresql.dml"}
