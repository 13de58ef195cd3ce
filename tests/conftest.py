"""Fixtures: a fresh ledger on SQLite and (when reachable) PostgreSQL, and a CLI runner."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, make_url, text

from commands.cli import cli

DEFAULT_PG = "postgresql+psycopg://grant_ledger:grant_ledger@localhost:5432/grant_ledger_test"
PG_URL = os.environ.get("GRANT_LEDGER_TEST_PG") or DEFAULT_PG
_pg_state: dict[str, str | None] = {}
# the tests never read the settings file of whoever runs them (tests of the file set their own)
os.environ["GRANT_LEDGER_CONFIG"] = os.devnull + ".grant-ledger-tests-have-no-settings-file"


@pytest.fixture(autouse=True)
def _library_calls_read_english() -> Iterator[None]:
    """A test that calls the ledger or the verifier as a library (not through the command line,
    which chooses the language from --lang for every run) reads its messages in English, whatever
    an earlier test in the same process chose; a test of the Chinese asks for it (``speaking``)."""
    from ledger.i18n import use

    use("en")
    yield


def pg_unavailable() -> str | None:
    """None if the test PostgreSQL answers, else the reason it is skipped."""
    if "reason" not in _pg_state:
        try:
            engine = create_engine(PG_URL)
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            _pg_state["reason"] = None
        except Exception as e:  # any driver error means: no server for the tests
            first = str(e).splitlines()[0][:120]
            _pg_state["reason"] = (
                f"PostgreSQL not reachable at {PG_URL.split('@')[-1]} ({first}); set "
                "GRANT_LEDGER_TEST_PG or run .ci/run, which starts it"
            )
    return _pg_state["reason"]


def test_name() -> str:
    """The name of a database or schema made for one test: the making process's id is in it, so
    that what a run killed before its clean-up left behind is dropped by the next
    (``sweep_orphans``)."""
    return f"t_{os.getpid()}_{uuid.uuid4().hex[:12]}"


_OWNED = re.compile(r"t_([0-9]+)_[0-9a-f]{12}")


def _gone(name: str) -> bool:
    """Whether ``name`` (or a group role named after it) was made by a process no longer running."""
    found = _OWNED.match(name)
    if found is None:
        return False
    try:
        os.kill(int(found[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # running, as another user
        return False
    return False


def sweep_orphans() -> list[str]:
    """Drops what test processes that ended without cleaning up (killed, by SIGTERM or SIGKILL)
    left on the test server: their databases with the group roles `init` made for them, their
    schemas in the shared database, and any such role left alone. Only names whose making
    process is no longer running on this machine; what it dropped, by name."""
    from ledger.pg_roles import group_names

    dropped: list[str] = []
    engine = _pg_admin()
    try:
        with engine.connect() as conn:
            names = conn.execute(text(r"SELECT datname FROM pg_database WHERE datname LIKE 't\_%'")).scalars()
            databases = [name for name in names if _gone(name)]
            schemas = [
                name
                for name in conn.execute(
                    text(r"SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\_%'")
                ).scalars()
                if _gone(name)
            ]
            for schema in schemas:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            roles = [
                name
                for name in conn.execute(
                    text(r"SELECT rolname FROM pg_roles WHERE rolname LIKE 't\_%'")
                ).scalars()
                if _gone(name.rsplit("_", 1)[0])
            ]
    finally:
        engine.dispose()
    # every database first, then the roles: a copy of a ledger's database (made from it as a
    # template) holds grants to the first one's group roles, which cannot go while it is there
    for name in databases:
        drop_pg_database(
            make_url(PG_URL).set(database=name).render_as_string(hide_password=False), roles=False
        )
        dropped.append(name)
    engine = _pg_admin()
    try:
        with engine.connect() as conn:
            groups = [g for d in databases for g in group_names(d).values()]
            for role in [*groups, *(r for r in roles if r not in groups)]:
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
                if role in roles:
                    dropped.append(role)
    finally:
        engine.dispose()
    return [*dropped, *schemas]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests (marked ``slow``) are handed out first: the other processes take the short
    ones meanwhile, so the run does not end with one process still in a long test and the others
    idle. Otherwise the order is the files' own."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput") or pg_unavailable():
        return  # once a run, by the process that starts the workers; nothing to sweep without a server
    sweep_orphans()


def fresh_pg_url(beside: str | None = None) -> str:
    """A new empty schema per test, as the search_path of every connection: in the shared test
    database, or in the database of the ledger at URL ``beside`` (a neighbour of that ledger)."""
    schema = test_name()
    base = PG_URL
    if beside is not None:
        base = make_url(PG_URL).set(database=make_url(beside).database).render_as_string(hide_password=False)
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def drop_pg_schema(url: str) -> None:
    """Drops the schema of ``fresh_pg_url``'s URL, in the database it was made in."""
    schema = url.rsplit("%3D", 1)[1]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def _pg_admin() -> Any:
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


def new_pg_database(template: str | None = None) -> str:
    """A new database (a copy of ``template``, a database name, if given), as a URL whose
    connections use its schema ``ledger``, as ``fresh_pg_url`` gives one in the shared database."""
    name = test_name()
    engine = _pg_admin()
    try:
        with engine.connect() as conn:
            if template is None:
                conn.execute(text(f"CREATE DATABASE {name}"))
            else:
                _disconnect(conn, template)  # a database is copied only while no one is connected
                conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    finally:
        engine.dispose()
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    sep = "&" if "?" in url else "?"
    url = f"{url}{sep}options=-csearch_path%3Dledger"
    if template is None:
        inside = create_engine(url)
        with inside.begin() as conn:
            conn.execute(text("CREATE SCHEMA ledger"))
        inside.dispose()
    return url


def _disconnect(conn: Any, database: str) -> None:
    """Ends the tests' own connections to ``database`` (pooled ones the commands left open);
    PostgreSQL itself stops an autovacuum worker in the way of CREATE or DROP DATABASE."""
    conn.execute(
        text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE datname = :name AND usename = current_user AND pid <> pg_backend_pid()"),
        {"name": database},
    )  # fmt: skip


def drop_pg_database(url: str, roles: bool = True) -> None:
    """Drops the database of ``new_pg_database`` and (``roles``) the group roles `init` made for
    it (roles are the server's, not the database's: ``<database>_officer`` and so on would stay
    behind)."""
    import time

    from sqlalchemy.exc import OperationalError

    from ledger.pg_roles import group_names

    name = make_url(url).database
    assert name is not None
    engine = _pg_admin()
    try:
        with engine.connect() as conn:
            for attempt in range(20):
                _disconnect(conn, name)
                try:
                    conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
                    break
                except OperationalError:  # still in use (a connection of another role ending)
                    if attempt == 19:
                        raise
                    time.sleep(0.25)
            for group in group_names(name).values() if roles else ():
                conn.execute(text(f'DROP ROLE IF EXISTS "{group}"'))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend; PostgreSQL skipped, saying why, when it cannot be reached."""
    if request.param == "postgresql":
        reason = pg_unavailable()
        if reason:
            pytest.skip(reason)
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger database on each backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    url = fresh_pg_url()
    yield url
    drop_pg_schema(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


# Every key the tests made, by the trust root of the ledger it was registered in, then by the
# person's registered name: a copy of a ledger file (same root) signs with the same keys.
KEYRING: dict[str, dict[str, Path]] = {}


def person_name(actor: str, role: str) -> str:
    """A person holds one role: ``tester`` records money, ``tester.approver`` approves."""
    return actor if role == "officer" else f"{actor}.{role}"


_KEY_FOLDERS: list[Path] = []


def key_folder() -> Path:
    """A new folder for the private keys of a ledger that has no file beside it (PostgreSQL),
    removed when the test process ends: thousands of test ledgers left their keys in /tmp."""
    import atexit
    import shutil
    import tempfile

    if not _KEY_FOLDERS:
        _KEY_FOLDERS.append(Path(tempfile.mkdtemp(prefix="grant-ledger-test-keys-")))
        atexit.register(shutil.rmtree, _KEY_FOLDERS[0], True)
    return Path(tempfile.mkdtemp(prefix="keys-", dir=_KEY_FOLDERS[0]))


@dataclass
class Ledger:
    """The command line bound to one database, as its people type it; ``create``: run
    `grant-ledger init` first (only init makes a ledger; on an existing one it changes nothing),
    which makes the root administrator ``admin`` and its key.

    ``ledger(*args, role=…, actor=…)`` runs a command as the person ``actor`` in ``role`` (named
    ``person_name(actor, role)``) with their own key (``--key``): the first time a person is
    needed, a key pair is made and the administrator registers it (`people add`)."""

    url: str
    runner: CliRunner
    create: bool = True
    keys: Path | None = None
    lang: str = "en"  # the language of the commands it runs (set "zh" to read them as officers do)

    def __post_init__(self) -> None:
        from ledger.location import sqlite_file

        if self.keys is None:
            file = sqlite_file(self.url)
            self.keys = Path(file).with_name(Path(file).stem + "-keys") if file is not None else key_folder()
        self.keys.mkdir(parents=True, exist_ok=True)
        self.root: str | None = None
        self.registered: set[str] = set()
        self.demo_output = ""
        self.bodies_registered = False
        if self.create:
            result = self("init")
            assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
            for role in ("officer", "approver", "auditor"):  # before any count of events is taken
                self.key(role)
            register_bodies(self)

    def _learn_root(self, output: str) -> None:
        import re

        found = re.search(r"trust root: ([0-9a-f]{64})", output)
        if found is None:
            return
        self.root = found.group(1)
        ring = KEYRING.setdefault(self.root, {})
        assert self.keys is not None
        admin = self.keys / "admin.key"
        if admin.exists() and "admin" not in ring:
            ring["admin"] = admin
        listed = self.runner.invoke(cli, ["--db", self.url, "people", "list", "--format", "json"])
        if listed.exit_code == 0:
            import json

            self.registered = {row["name"] for row in json.loads(listed.stdout) if not row["until"]}

    def key(self, role: str = "officer", actor: str = "tester") -> Path:
        """The key file of ``actor`` in ``role``, registered in this ledger when first needed."""
        assert self.root is not None, "the ledger has no people registry (run init first)"
        ring = KEYRING[self.root]
        name = "admin" if role == "admin" else person_name(actor, role)
        if name in self.registered and name in ring:
            return ring[name]
        from ledger.seal import generate_key

        assert self.keys is not None
        path = ring.get(name)
        if path is None or not path.exists():  # or made in a copy whose folder is gone since
            path = self.keys / f"{len(ring)}-{role}.key"
            generate_key(path)
            ring[name] = path
        result = self.runner.invoke(
            cli,
            ["--db", self.url, "--key", str(ring["admin"]), "people", "add", name,
             "--role", role, "--public-key", str(path.with_suffix(".pub"))],
            catch_exceptions=False,
        )  # fmt: skip
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        self.registered.add(name)
        return path

    def name(self, role: str = "officer", actor: str = "tester") -> str:
        return person_name(actor, role)

    def __call__(self, *args: str, role: str = "officer", actor: str = "tester") -> Result:
        assert self.keys is not None
        if args and args[0] == "init":
            admin = self.keys / "admin.key"
            extra = (
                []
                if admin.exists() or "--admin-key" in args
                else ["--admin", "admin", "--admin-key", str(admin)]
            )
            result = self.runner.invoke(
                cli, ["--db", self.url, "--lang", "en", *args, *extra], catch_exceptions=False
            )
            if result.exit_code == 0:
                self._learn_root(result.stdout)
            return result
        if self.root is None:
            self._learn_root(self.runner.invoke(cli, ["--db", self.url, "--lang", "en", "info"]).stdout)
        signs = self.root is not None and "admin" in KEYRING.get(self.root, {})
        key = ["--key", str(self.key(role, actor))] if signs else []
        return self.runner.invoke(
            cli,
            ["--db", self.url, *key, "--role", role, "--lang", self.lang, *args],
            catch_exceptions=False,
        )

    def ok(self, *args: str, role: str = "officer") -> Result:
        result = self(*args, role=role)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result

    def import_runs(self, path: Path, *options: str) -> list[Result]:
        """Import a CSV or xlsx file as its rows' roles record them: each run of one role's rows by
        a person of that role (tests.importdata.runs_by_role), stopping at the first refusal."""
        from tests.importdata import read_any, runs_by_role, write_any

        results = []
        for n, (role, rows) in enumerate(runs_by_role(read_any(path))):
            run = path.with_name(f"{path.stem}.run{n}{path.suffix}")
            write_any(run, rows)
            results.append(self("import", *options, str(run), role=role))
            if results[-1].exit_code != 0:
                break
        return results

    def import_ok(self, path: Path, *options: str) -> list[Result]:
        results = self.import_runs(path, *options)
        for result in results:
            assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return results

    def event_count(self) -> int:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text("SELECT COUNT(*) FROM ledger_events")).scalar() or 0)
        finally:
            engine.dispose()

    def balances(self, *bases: str) -> dict[str, dict[str, str]]:
        import json

        result = self.ok("balance", *bases, "--format", "json")
        return {row["base_id"]: row for row in json.loads(result.stdout)}


# The first ledger each test process makes on a backend, by `init` and the people and bodies a
# new Ledger registers; a test's fresh ledger is a copy of its database (copied_ledger).
_MADE: dict[str, Ledger] = {}


def _made(backend: str) -> Ledger:
    if backend not in _MADE:
        import atexit
        import shutil
        import tempfile

        if backend == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix="made-ledger-"))
            atexit.register(shutil.rmtree, folder, True)
            _MADE[backend] = Ledger(f"sqlite:///{folder / 'ledger.db'}", CliRunner())
        else:
            url = new_pg_database()
            atexit.register(drop_pg_database, url)
            _MADE[backend] = Ledger(url, CliRunner())
    return _MADE[backend]


def sqlite_backup(source: str | Path, target: str | Path) -> None:
    """SQLite's online backup: ``target`` becomes the database ``source`` is, page for page."""
    import sqlite3

    original, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        original.backup(copy)
    finally:
        original.close()
        copy.close()


def copy_of(source: Ledger, url: str | None = None, keys: Path | None = None) -> Ledger:
    """A new ledger holding what ``source`` holds, with its trust root, people and keys
    (``KEYRING``). ``url``: a SQLite file that does not exist yet, for a SQLite source; None: a
    new PostgreSQL database, for a PostgreSQL source (drop it with ``drop_pg_database``).
    ``keys``: its key directory (by default one of its own, for the keys its test makes)."""
    from ledger.location import sqlite_file

    if url is not None:
        from ledger.database import create_sqlite_file

        kept, file = sqlite_file(source.url), sqlite_file(url)
        assert kept is not None and file is not None and not file.exists(), url
        create_sqlite_file(file)  # the owner's alone, as init makes it
        sqlite_backup(kept, file)
    else:
        url = new_pg_database(template=make_url(source.url).database)
    ledger = Ledger(url, CliRunner(), create=False, keys=keys)
    ledger.root, ledger.registered = source.root, set(source.registered)
    ledger.bodies_registered = source.bodies_registered
    ledger.demo_output = source.demo_output
    return ledger


def copied_ledger(url: str | None = None) -> Ledger:
    """A new ledger as `Ledger(url, …)` makes one — `init`, the three people of ``tester``, the
    bodies — but a copy (``copy_of``) of this process's first such ledger, its events recorded
    when that one was made."""
    return copy_of(_made("sqlite" if url is not None else "postgresql"), url)


_BUILT: dict[tuple[str, str], Ledger] = {}


def built(backend: str, build: Callable[[Ledger], object]) -> Ledger:
    """The ledger ``build`` makes on a copy of this process's first ledger, once a process and
    backend, kept to the process's end. ``build`` must make the same books each time; tests copy
    them (``copy_of``, ``prepared``) and never write to this one."""
    import atexit
    import shutil
    import tempfile

    key = (f"{build.__module__}.{build.__qualname__}", backend)
    if key not in _BUILT:
        if backend == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix="built-"))
            atexit.register(shutil.rmtree, folder, True)
            made = copied_ledger(f"sqlite:///{folder / 'ledger.db'}")
        else:
            made = copied_ledger()
            atexit.register(drop_pg_database, made.url)
        build(made)
        _BUILT[key] = made
    return _BUILT[key]


def _copied_for_the_test(source: Ledger, backend: str, tmp_path: Path) -> Iterator[Ledger]:
    """A copy of ``source`` for one test: its SQLite file in ``tmp_path``, or its own PostgreSQL
    database, dropped after the test."""
    if backend == "sqlite":
        yield copy_of(source, f"sqlite:///{tmp_path / 'ledger.db'}")
        return
    copy = copy_of(source)
    yield copy
    drop_pg_database(copy.url)


def prepared(backend: str, tmp_path: Path, build: Callable[[Ledger], object]) -> Iterator[Ledger]:
    """A fixture's books: a copy for the test of what ``build`` makes (``built``)."""
    yield from _copied_for_the_test(built(backend, build), backend, tmp_path)


@pytest.fixture
def ledger(backend: str, tmp_path: Path) -> Iterator[Ledger]:
    """A new ledger with its administrator, ``tester``'s three people and the bodies (a copy)."""
    yield from _copied_for_the_test(_made(backend), backend, tmp_path)


@pytest.fixture
def sqlite_ledger(sqlite_url: str) -> Ledger:
    return copied_ledger(sqlite_url)


def _demo(url: str) -> Ledger:
    """`grant-ledger demo` on a new database (it founds the registry with its own people)."""
    ledger = Ledger(url, CliRunner(), create=False)
    result = ledger.runner.invoke(cli, ["--db", url, "--lang", "en", "demo"], catch_exceptions=False)
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    ledger.demo_output = result.stdout
    from ledger.location import sqlite_file

    keys = ledger.keys if sqlite_file(url) is not None else Path.cwd() / "grant-ledger-demo-keys"
    assert keys is not None
    ledger._learn_root(ledger.runner.invoke(cli, ["--db", url, "--lang", "en", "info"]).stdout)
    assert ledger.root is not None
    KEYRING.setdefault(ledger.root, {})["admin"] = keys / "admin.key"
    return ledger


@pytest.fixture
def demo_ledger(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """The demo's ledger, on each backend (PostgreSQL: its keys in tmp_path)."""
    monkeypatch.chdir(tmp_path)
    return _demo(db_url)


_DEMO: list[Ledger] = []


@pytest.fixture
def demo_sqlite_ledger(sqlite_url: str) -> Ledger:
    """The demo's ledger on SQLite: a copy of the one this process made, its keys shared."""
    if not _DEMO:
        import atexit
        import shutil
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="demo-ledger-"))
        atexit.register(shutil.rmtree, folder, True)
        _DEMO.append(_demo(f"sqlite:///{folder / 'ledger.db'}"))
    return copy_of(_DEMO[0], sqlite_url, keys=_DEMO[0].keys)


def spent_below(
    grant: Any,
    voucher: str,
    on: Any,
    *,
    category: str = "equipment",
    source: str = "subsidy",
    amount: str = "800.00",
    actor: str = "elsewhere",
) -> None:
    """A spend triggered on the aggregate itself, past the rules of today's commands, as history
    written by an older version or below the application would be (the caller saves it)."""
    from decimal import Decimal

    from ledger.grant import Grant

    grant.trigger_event(
        Grant.ExpenditureRecorded,
        amount=Decimal(amount),
        category=category,
        source=source,
        content="",
        project="",
        voucher=voucher,
        payee="",
        memo="",
        attachments=[],
        actor=actor,
        role="officer",
        occurred_on=on,
    )


def approved_district_grant(
    ledger: Ledger, grant: str = "G1", base: str = "B0001", unit: str = "U1", *named: str
) -> None:
    """A registered unit, its district base applied for (2024-03-01) and approved (2024-04-01) by
    the registered district bodies (registered first on a ledger made by its own `init`).
    ``named``: more options of `grant apply` (a base's name)."""
    if not ledger.bodies_registered:
        register_bodies(ledger)
    ledger.ok("unit", "register", unit, "--name", f"单位{unit}", "--date", "2024-02-01")
    ledger.ok(
        "grant",
        "apply",
        grant,
        *named,
        "--unit",
        unit,
        "--base",
        base,
        "--programme",
        "district_base",
        "--project",
        "电工",
        "--amount",
        "20万",
        "--date",
        "2024-03-01",
    )
    selected(ledger, grant)
    ledger.ok(
        "grant",
        "approve",
        grant,
        "--amount",
        "200000",
        "--document",
        "渝中人社〔2024〕1号",
        *DISTRICT_BODIES,
        "--date",
        "2024-04-01",
        role="approver",
    )


# the bodies that approve a district base (003 第七条) and a municipal base or institute, by code
DISTRICT_BODIES = ("--body", "RS-YZ", "--body", "CZ-YZ")
CITY_BODIES = ("--body", "RS-CQ", "--body", "CZ-CQ")
BODIES = (
    ("RS-YZ", "渝中区人力社保局", "district_bureau", "hr"),
    ("CZ-YZ", "渝中区财政局", "district_bureau", "finance"),
    ("RS-CQ", "重庆市人力资源和社会保障局", "municipal_bureau", "hr"),
    ("CZ-CQ", "重庆市财政局", "municipal_bureau", "finance"),
    ("JW-CQ", "重庆市教委", "sector_authority", "sector"),
)


def register_bodies(ledger: Ledger) -> None:
    """The recommending and approving bodies the tests name, registered by the administrator
    (once: a repeat writes nothing)."""
    for code, name, kind, duty in BODIES:
        ledger.ok("body", "add", code, "--name", name, "--kind", kind, "--duty", duty,
                  "--date", "2024-01-02", role="admin")  # fmt: skip
    ledger.bodies_registered = True


def reviewed_by_its_authority(ledger: Ledger, grant: str = "G1", day: str = "2024-03-05") -> None:
    """An institute's application reviewed by its sector authority (市教委) before it goes to the
    city (000 第十一条), recorded as that body's recommendation."""
    ledger.ok("grant", "recommend", grant, "--by", "JW-CQ", "--round", "2024", "--date", day, role="approver")


def selected(ledger: Ledger, grant: str = "G1") -> None:
    """The selection steps before approval: a favourable review (2024-03-08, panel of 5) and a
    public notice of 5 working days (2024-03-11 to 2024-03-15) without objection."""
    ledger.ok(
        "grant",
        "review",
        grant,
        "--panel",
        "5",
        "--recommendation",
        "recommend",
        "--date",
        "2024-03-08",
        role="approver",
    )
    ledger.ok("grant", "notice", grant, "--from", "2024-03-11", "--to", "2024-03-15", role="approver")
