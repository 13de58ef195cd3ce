"""The tests' fresh ledgers are copies of one made by `init` in each test process (conftest
``copied_ledger``): a copy must hold exactly what `init` and the registrations make, verify as
its own ledger, and be independent of the ledger it was copied from and of its sibling copies."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from tests.conftest import Ledger, copied_ledger, drop_pg_database, person_name


def _what_it_holds(ledger: Ledger) -> dict[str, object]:
    """What a person reads of a new ledger: its people, bodies, events by kind, and root."""
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            topics = sorted(
                (str(t), int(n))
                for t, n in conn.execute(text("SELECT topic, COUNT(*) FROM ledger_events GROUP BY topic"))
            )
    finally:
        engine.dispose()
    people = json.loads(ledger.ok("people", "list", "--format", "json").stdout)
    return {
        "people": sorted((p["name"], p["role"], p["until"]) for p in people),
        "bodies": ledger.ok("body", "list").stdout,
        "topics": topics,
        "balance": ledger.ok("balance", "--format", "json").stdout,
    }


def test_a_copied_ledger_holds_what_init_and_the_registrations_make(ledger: Ledger, tmp_path: Path) -> None:
    made = Ledger(f"sqlite:///{tmp_path / 'made.db'}", CliRunner())  # by init, not copied
    copy = _what_it_holds(ledger)
    assert copy == _what_it_holds(made)
    if ledger.url.startswith("sqlite"):  # the file is its owner's alone, as init makes it
        assert (tmp_path / "ledger.db").stat().st_mode & 0o777 == (
            tmp_path / "made.db"
        ).stat().st_mode & 0o777
    names = {p["name"] for p in json.loads(ledger.ok("people", "list", "--format", "json").stdout)}
    assert {person_name("tester", r) for r in ("officer", "approver", "auditor")} <= names
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(tmp_path / "bundle"), role="auditor")
    verified = ledger("audit", "verify", str(tmp_path / "bundle"), "--root", str(ledger.root), role="auditor")
    assert verified.exit_code == 0, verified.stdout + verified.stderr


def test_copies_are_independent_of_each_other(backend: str, tmp_path: Path) -> None:
    url_a = f"sqlite:///{tmp_path / 'a.db'}" if backend == "sqlite" else None
    url_b = f"sqlite:///{tmp_path / 'b.db'}" if backend == "sqlite" else None
    a, b = copied_ledger(url_a), copied_ledger(url_b)
    try:
        before = b.event_count()
        a.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
        assert a.event_count() > before == b.event_count()
        b.ok("unit", "register", "U1", "--name", "另一单位", "--date", "2024-02-01")  # not known there
        assert b.event_count() == a.event_count()
    finally:
        if backend != "sqlite":
            drop_pg_database(a.url)
            drop_pg_database(b.url)


def test_a_person_first_registered_in_a_copy_whose_folder_is_gone_is_registered_in_the_next(
    tmp_path: Path,
) -> None:
    """Copies share their root and so the keys the tests made (KEYRING): a property's copy in a
    temporary folder, removed after its example, must not leave a later test a key file that is
    gone for a person its ledger does not hold yet."""
    with tempfile.TemporaryDirectory() as gone:
        earlier = copied_ledger(f"sqlite:///{Path(gone) / 'ledger.db'}")
        earlier.key("officer", actor="visitor")
    later = copied_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    assert later.key("officer", actor="visitor").exists()
    names = {p["name"] for p in json.loads(later.ok("people", "list", "--format", "json").stdout)}
    assert "visitor" in names


def test_what_a_test_writes_reaches_neither_the_ledger_copied_from_nor_the_next_copy(
    ledger: Ledger, backend: str, tmp_path: Path
) -> None:
    """A test's ledger is a copy, not the ledger copies are made from: its writes are not in the
    next test's ledger, whichever test ran first in the process."""
    before = ledger.event_count()
    ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    assert ledger.event_count() > before
    following = copied_ledger(f"sqlite:///{tmp_path / 'next.db'}" if backend == "sqlite" else None)
    try:
        assert following.event_count() == before
        following.ok(
            "unit", "register", "U1", "--name", "另一单位", "--date", "2024-02-01"
        )  # not known there
        assert following.event_count() == ledger.event_count()
    finally:
        if backend != "sqlite":
            drop_pg_database(following.url)


def test_what_a_test_writes_in_the_demo_s_ledger_reaches_neither_its_original_nor_the_next_copy(
    demo_sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """The demo's ledger likewise (its copies share the demo's key folder, not its database)."""
    from tests.conftest import _DEMO, copy_of

    before = demo_sqlite_ledger.event_count()
    demo_sqlite_ledger.ok("unit", "register", "U-COPY", "--name", "单位", "--date", "2024-02-01")
    assert demo_sqlite_ledger.event_count() > before
    assert _DEMO[0].url != demo_sqlite_ledger.url and _DEMO[0].event_count() == before
    following = copy_of(_DEMO[0], f"sqlite:///{tmp_path / 'next.db'}", keys=_DEMO[0].keys)
    assert following.event_count() == before


def test_a_dropped_postgresql_copy_leaves_none_of_its_group_roles_on_the_server() -> None:
    """`init` makes the group roles of the ledger's database (``<database>_officer`` …), and roles
    outlive a dropped database: each test process's ledger and each test that runs `init` on its
    copy left three behind on the server, for good."""
    import pytest
    from sqlalchemy import make_url

    from ledger.pg_roles import group_names
    from tests.conftest import PG_URL, pg_unavailable

    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    copy = copied_ledger()
    try:
        copy.ok("init")
    finally:
        drop_pg_database(copy.url)
    groups = list(group_names(str(make_url(copy.url).database)).values())
    engine = create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            left = conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:g)"), {"g": groups})
            assert left.scalars().all() == []
    finally:
        engine.dispose()


def test_what_a_killed_test_process_left_on_the_server_is_dropped_by_the_next_run() -> None:
    """A test process killed by SIGTERM or SIGKILL never drops its databases, schemas and group
    roles; the next run's start drops those whose process is gone, and nothing of a live one."""
    import os
    import subprocess
    import sys

    import pytest
    from sqlalchemy import make_url

    from ledger.pg_roles import group_names
    from tests.conftest import PG_URL, fresh_pg_url, new_pg_database, pg_unavailable, sweep_orphans

    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    # a process that made a database (with its roles) and a schema, and was killed before its clean-up
    made = subprocess.run(
        [sys.executable, "-c",
         "import os, sys; from tests.conftest import new_pg_database, fresh_pg_url; "
         "db = new_pg_database(); schema = fresh_pg_url(); "
         "print(db.split('?')[0].rsplit('/', 1)[1], schema.rsplit('%3D', 1)[1]); sys.stdout.flush(); "
         "os.kill(os.getpid(), 9)"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, check=False,
    )  # fmt: skip
    assert made.returncode == -9, made.stderr
    database, schema = made.stdout.split()
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for group in group_names(database).values():
                conn.execute(text(f'CREATE ROLE "{group}" NOLOGIN'))
    finally:
        admin.dispose()
    mine, my_schema = new_pg_database(), fresh_pg_url()  # this live process's own
    try:
        dropped = sweep_orphans()
        assert database in dropped and schema in dropped
        assert (
            mine.split("?")[0].rsplit("/", 1)[1] not in dropped
            and my_schema.rsplit("%3D", 1)[1] not in dropped
        )
        databases, schemas, roles = _on_the_server()
        assert database not in databases and schema not in schemas
        assert not set(group_names(database).values()) & set(roles)
        assert str(make_url(mine).database) in databases and my_schema.rsplit("%3D", 1)[1] in schemas
        assert str(os.getpid()) in str(make_url(mine).database)
    finally:
        drop_pg_database(mine)
        from tests.conftest import drop_pg_schema

        drop_pg_schema(my_schema)


def test_a_killed_process_s_ledger_and_its_copy_are_dropped_with_their_roles() -> None:
    """A killed test process left a ledger's database, whose tables grant to its group roles, and a
    copy of it, whose tables grant to the same roles. The next run's start drops both, then the
    roles (dropping the first database's roles while the copy stood failed, and stopped the run
    before any test)."""
    import os
    import subprocess
    import sys

    import pytest
    from sqlalchemy import make_url

    from ledger.pg_roles import group_names
    from tests.conftest import PG_URL, pg_unavailable, sweep_orphans

    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    made = subprocess.run(
        [sys.executable, "-c",
         "import os, sys\n"
         "from sqlalchemy import create_engine, make_url, text\n"
         "from ledger.pg_roles import group_names\n"
         "from tests.conftest import PG_URL, new_pg_database\n"
         "first = new_pg_database()\n"
         "name = make_url(first).database\n"
         "admin = create_engine(PG_URL, isolation_level='AUTOCOMMIT')\n"
         "with admin.connect() as conn:\n"
         "    for group in group_names(name).values():\n"
         "        conn.execute(text(f'CREATE ROLE \"{group}\" NOLOGIN'))\n"
         "admin.dispose()\n"
         "inside = create_engine(first)\n"
         "with inside.begin() as conn:\n"
         "    conn.execute(text('CREATE TABLE ledger.books (n integer)'))\n"
         "    for group in group_names(name).values():\n"
         "        conn.execute(text(f'GRANT SELECT ON ledger.books TO \"{group}\"'))\n"
         "inside.dispose()\n"
         "copy = new_pg_database(template=name)\n"
         "print(name, make_url(copy).database); sys.stdout.flush()\n"
         "os.kill(os.getpid(), 9)\n"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, check=False,
    )  # fmt: skip
    assert made.returncode == -9, made.stderr
    first, copy = made.stdout.split()
    dropped = sweep_orphans()
    assert first in dropped and copy in dropped
    databases, _, roles = _on_the_server()
    assert first not in databases and copy not in databases
    assert not set(group_names(first).values()) & set(roles)
    assert str(os.getpid()) not in first and make_url(PG_URL).database in databases


def _on_the_server() -> tuple[list[str], list[str], list[str]]:
    """The test server's databases, the schemas of its shared test database, and its roles."""
    from tests.conftest import PG_URL

    engine = create_engine(PG_URL)
    try:
        with engine.connect() as conn:

            def names(query: str) -> list[str]:
                return [str(name) for name in conn.execute(text(query)).scalars()]

            return (
                names("SELECT datname FROM pg_database"),
                names("SELECT nspname FROM pg_namespace"),
                names("SELECT rolname FROM pg_roles"),
            )
    finally:
        engine.dispose()
