"""The README's PostgreSQL roles, followed on a fresh database: its SQL blocks are read from the
README itself and run as written (names made unique, passwords filled in), with each person's
login made before `init` or after it. Then the owner's `init`, records by an officer's and an
approver's logins, reads by an auditor's; and below the command line, as each login, whatever
would rewrite history (DISABLE TRIGGER, UPDATE, DELETE, TRUNCATE, DROP, ...) is refused by the
database itself."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from commands.cli import cli
from ledger.pg_roles import RECORDS, WEB, classified
from tests.conftest import PG_URL, Ledger, approved_district_grant, pg_unavailable
from tests.test_audit_trail import _money

README = Path(__file__).resolve().parents[1] / "README.md"
GROUPS = ("officer", "approver", "auditor")
# a column of each record table, for an UPDATE that would change nothing were it allowed
RECORD_COLUMNS = {
    "ledger_events": "topic",
    "ledger_snapshots": "topic",
    "audit_checkpoints": "root",
    "audit_signed_leaves": "leaf_hash",
}


def readme_sql() -> tuple[str, str, str]:
    """The SQL blocks of the README's "Roles on PostgreSQL": the superuser's set-up (owner,
    database, groups), each person's login, and the removal of an earlier recipe's writer."""
    section = README.read_text(encoding="utf-8").split("**Roles on PostgreSQL.**", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
    assert len(blocks) == 3, "the README's PostgreSQL roles: set-up, logins, an earlier writer removed"
    return blocks[0], blocks[1], blocks[2]


def statements(block: str) -> list[str]:
    """The statements of an SQL block, split at semicolons outside dollar quotes."""
    found, current, quoted = [], "", False
    for part in re.split(r"(\$\$|;)", block):
        if part == "$$":
            quoted = not quoted
        if part == ";" and not quoted:
            found.append(current.strip())
            current = ""
        else:
            current += part
    return [s for s in [*found, current.strip()] if s]


@dataclass
class Recipe:
    """The README's recipe on a database of its own; the URL of each login."""

    tag: str
    admin: Engine
    setup: str
    logins: str
    removal: str
    database: str
    urls: dict[str, str]

    def run_setup(self) -> None:
        before, _, after = self.setup.partition(f"\\c {self.database}\n")
        owner = make_url(self.urls["owner"]).username
        with self.admin.connect() as conn:
            for statement in statements(before):
                conn.execute(text(statement))
                if statement.startswith(f"CREATE ROLE {owner} "):
                    # the test's login is not a superuser: it acts for the owner as a member
                    conn.execute(text(f"GRANT {owner} TO CURRENT_USER"))
        inside = create_engine(make_url(PG_URL).set(database=self.database), isolation_level="AUTOCOMMIT")
        try:
            with inside.connect() as conn:
                for statement in statements(after):
                    conn.execute(text(statement))
        finally:
            inside.dispose()

    def run_logins(self) -> None:
        self.run_in_database(self.logins)

    def run_in_database(self, block: str) -> None:
        """``block`` run by the test's login (the README's superuser) in the ledger's database."""
        inside = create_engine(make_url(PG_URL).set(database=self.database), isolation_level="AUTOCOMMIT")
        try:
            with inside.connect() as conn:
                for statement in statements(block):
                    conn.execute(text(statement))
        finally:
            inside.dispose()

    def ledger(self, login: str) -> Ledger:
        return Ledger(self.urls[login], CliRunner(), create=False)


@pytest.fixture
def recipe() -> Iterator[Recipe]:
    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:8]
    setup, logins, removal = readme_sql()
    people = dict(re.findall(r"CREATE ROLE (\w+) LOGIN .* IN ROLE ledger_(\w+);", logins))
    assert sorted(people.values()) == sorted(GROUPS), "the README makes one login of each group"
    database = f"ledger_{tag}"
    names = {"ledger_owner": f"owner_{tag}"} | {person: f"{person}_{tag}" for person in people}
    names["ledger_writer"] = f"writer_{tag}"  # the earlier recipe's

    def unique(block: str) -> str:
        for name, new in names.items():
            block = re.sub(rf"\b{name}\b", new, block)
        block = re.sub(r"\bledger_(officer|approver|auditor)\b", rf"{database}_\1", block)
        return re.sub(r"\bledger\b", database, block).replace("'…'", "'pw'")

    base = make_url(PG_URL)

    def url(name: str) -> str:
        login = base.set(database=database, username=name, password="pw")
        return login.render_as_string(hide_password=False)

    urls = {"owner": url(names["ledger_owner"])}
    urls |= {group: url(names[person]) for person, group in people.items()}
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        yield Recipe(tag, admin, unique(setup), unique(logins), unique(removal), database, urls)
    finally:
        _drop(admin, [f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"])
        roles = [*list(names.values())[1:], *(f"{database}_{g}" for g in GROUPS), names["ledger_owner"]]
        _drop(admin, [f"DROP ROLE IF EXISTS {name}" for name in roles])
        admin.dispose()


def _drop(admin: Engine, drops: list[str], attempts: int = 5) -> None:
    """Clean up, retried: a session of the test's own commands may still be closing."""
    for n in range(attempts):
        try:
            with admin.connect() as conn:
                for statement in drops:
                    conn.execute(text(statement))
            return
        except Exception:
            if n == attempts - 1:
                raise
            time.sleep(0.5)


def refused(url: str, statement: str) -> None:
    """The database refuses ``statement`` run by the login of ``url``."""
    engine = create_engine(url)
    try:
        with (
            pytest.raises(Exception, match=r"permission denied|append-only|must be owner|must be member"),
            engine.begin() as conn,
        ):
            conn.execute(text(statement))
    finally:
        engine.dispose()


def rows(url: str, *queries: str) -> list[tuple[object, ...]]:
    """The rows of the last of ``queries``, run in one transaction by the login of ``url``."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for query in queries[:-1]:
                conn.execute(text(query))
            return [tuple(row) for row in conn.execute(text(queries[-1]))]
    finally:
        engine.dispose()


def count(url: str, table: str) -> int:
    return int(str(rows(url, f"SELECT COUNT(*) FROM {table}")[0][0]))


@pytest.mark.slow
@pytest.mark.parametrize("logins_made", ["before init", "after init"])
def test_the_readme_roles_each_do_their_job_and_no_writer_can_rewrite_history(
    recipe: Recipe, logins_made: str, tmp_path: Path
) -> None:
    recipe.run_setup()
    if logins_made == "before init":
        recipe.run_logins()
    owner, officer, approver, auditor = (recipe.ledger(x) for x in ("owner", *GROUPS))
    groups = [f"{recipe.database}_{group}" for group in GROUPS]
    init = owner.ok("init")
    assert all(group in init.stdout for group in groups), init.stdout
    if logins_made == "after init":
        assert officer("balance").exit_code != 0, "no login yet"
        recipe.run_logins()

    # the approver approves, the officer records the money, projections catch up
    approved_district_grant(approver)
    _money(officer)
    balances = officer.balances("B0001")["B0001"]
    assert balances["subsidy_spent"] not in ("0", "0.00"), balances
    key = approver.key("approver")  # tester.approver's, registered: it signs the checkpoints
    checkpoint = approver.ok("audit", "checkpoint", role="approver")
    (tmp_path / "checkpoint.txt").write_text(checkpoint.stdout, encoding="utf-8")

    # the auditor reads, exports and verifies (registered through a writer's login: theirs cannot)
    officer.key("auditor")
    assert auditor.balances("B0001")["B0001"] == balances
    assert "all read models agree" in auditor.ok("projections", "verify", role="auditor").stdout
    auditor.ok("audit", "export", str(tmp_path / "bundle"), role="auditor")
    verified = auditor.ok(
        "audit", "verify", str(tmp_path / "bundle"), "--trusted", str(tmp_path / "checkpoint.txt"),
        "--public-key", str(key.with_suffix(".pub")), role="auditor",
    )  # fmt: skip
    assert "PASS" in verified.stdout

    # every table the ledger made is the owner's and is classified (granted to someone)
    tables = rows(
        recipe.urls["owner"],
        "SELECT relname, pg_get_userbyid(relowner) FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')",
    )
    assert {owner_name for _, owner_name in tables} == {make_url(recipe.urls["owner"]).username}
    unclassified = {str(name) for name, _ in tables} - classified()
    assert not unclassified, f"tables granted to no group: add them to ledger/pg_roles.py: {unclassified}"
    assert set(RECORD_COLUMNS) <= {str(name) for name, _ in tables}

    events = count(recipe.urls["owner"], "ledger_events")
    checkpoints = count(recipe.urls["owner"], "audit_checkpoints")
    # an officer may not sign a checkpoint: the database refuses the officer's login
    approver.ok("spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
                "--voucher", "S9", "--date", "2024-06-11")  # fmt: skip
    events += 2  # the expenditure and its seal
    signed = officer("audit", "checkpoint", role="approver")  # an approver's key, an officer's login
    assert signed.exit_code == 5, (signed.stdout, signed.stderr)
    assert "permission denied" in signed.stderr
    assert count(recipe.urls["owner"], "audit_checkpoints") == checkpoints

    # below the command line, no writer can rewrite or remove a record, nor lift the guards
    owner_name = make_url(recipe.urls["owner"]).username
    for login in ("officer", "approver"):
        url = recipe.urls[login]
        for table, column in RECORD_COLUMNS.items():
            for statement in (
                f"ALTER TABLE {table} DISABLE TRIGGER ALL",
                f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only",
                f"DROP TRIGGER {table}_append_only ON {table}",
                f"UPDATE {table} SET {column} = {column}",
                f"DELETE FROM {table}",
                f"TRUNCATE {table}",
                f"DROP TABLE {table}",
                f"ALTER TABLE {table} OWNER TO CURRENT_USER",
            ):
                refused(url, statement)
            # a writer cannot grant itself more either (PostgreSQL only warns: no grant option)
            granted_self = rows(
                url,
                f"GRANT UPDATE, DELETE ON {table} TO CURRENT_USER",
                f"SELECT has_table_privilege('{table}', 'UPDATE, DELETE')",
            )
            assert granted_self == [(False,)], (login, table)
        for statement in (
            "INSERT INTO ledger_meta (key, value) VALUES ('schema_version', '0')",
            "DROP FUNCTION grant_ledger_append_only() CASCADE",
            "CREATE TABLE ledger_events_copy (id int)",
            "SET session_replication_role = replica",
            f"SET ROLE {owner_name}",
        ):
            refused(url, statement)
    refused(recipe.urls["officer"], "INSERT INTO audit_checkpoints SELECT * FROM audit_checkpoints")
    refused(recipe.urls["officer"], "INSERT INTO audit_signed_leaves SELECT * FROM audit_signed_leaves")

    # the auditor changes nothing, through the command line or below it
    spend = auditor(
        "spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
        "--voucher", "AUD-1", "--date", "2024-06-02",
    )  # fmt: skip
    assert spend.exit_code == 5, (spend.stdout, spend.stderr)
    for statement in (
        "INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
        "SELECT originator_id, originator_version + 1000, topic, state FROM ledger_events LIMIT 1",
        "INSERT INTO ledger_meta (key, value) VALUES ('x', 'y')",
        "UPDATE balance_grants SET subsidy_spent = 0",
        "DELETE FROM balance_movements",
        "TRUNCATE audit_leaves",
        "LOCK TABLE ledger_events IN EXCLUSIVE MODE",
    ):
        refused(recipe.urls["auditor"], statement)

    # nothing moved, the guards are on, and the officer still records
    assert count(recipe.urls["owner"], "ledger_events") == events
    triggers = rows(
        recipe.urls["owner"],
        "SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal",
    )
    assert {str(table) for table, _, _ in triggers} == set(RECORDS)
    assert all(enabled == "O" for _, _, enabled in triggers), triggers
    officer.ok("spend", "G1", "--amount", "200", "--category", "equipment", "--source", "subsidy",
               "--voucher", "S10", "--date", "2024-06-12")  # fmt: skip
    after = auditor.balances("B0001")["B0001"]
    assert after != balances and after == officer.balances("B0001")["B0001"]


def test_init_grants_each_group_only_what_it_needs_and_again_changes_nothing(recipe: Recipe) -> None:
    recipe.run_setup()
    recipe.run_logins()
    owner = recipe.ledger("owner")
    owner.ok("init")
    query = (
        "SELECT c.relname, g.rolname, p.privilege, has_table_privilege(g.rolname, c.oid, p.privilege) "
        "FROM pg_class c, pg_roles g, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', "
        "'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(privilege) "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND g.rolname = ANY(:groups) "
        "ORDER BY 1, 2, 3"
    )
    groups = [f"{recipe.database}_{g}" for g in GROUPS]

    def matrix() -> dict[tuple[str, str], set[str]]:
        held: dict[tuple[str, str], set[str]] = {}
        engine = create_engine(recipe.urls["owner"])
        try:
            with engine.connect() as conn:
                for table, group, privilege, has in conn.execute(text(query), {"groups": groups}):
                    held.setdefault((table, group.rsplit("_", 1)[1]), set())
                    if has:
                        held[(table, group.rsplit("_", 1)[1])].add(privilege)
        finally:
            engine.dispose()
        return held

    held = matrix()
    tables = {table for table, _ in held}
    assert "ledger_events" in tables and "audit_checkpoints" in tables
    for table in tables - set(WEB):
        assert held[(table, "auditor")] == {"SELECT"}, table
    for group in GROUPS:
        assert held[("ledger_web_credentials", group)] == {"SELECT", "INSERT", "UPDATE", "DELETE"}
        assert held[("ledger_web_sign_ins", group)] == {"SELECT", "INSERT"}
        for writer in ("officer", "approver"):
            assert not held[(table, writer)] & {"REFERENCES", "TRIGGER"}, (table, writer)
    for writer in ("officer", "approver"):
        assert held[("ledger_events", writer)] == {"SELECT", "INSERT", "TRUNCATE"}
        assert held[("ledger_snapshots", writer)] == {"SELECT", "INSERT"}
        assert held[("ledger_meta", writer)] == {"SELECT"}
        assert held[("balance_grants", writer)] == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert held[("audit_checkpoints", "approver")] == {"SELECT", "INSERT"}
    assert held[("audit_checkpoints", "officer")] == {"SELECT"}
    assert held[("audit_signed_leaves", "officer")] == {"SELECT"}

    # a second init (an upgrade, or by mistake) leaves every privilege as it was
    owner.ok("init")
    assert matrix() == held


def test_init_without_the_groups_says_what_is_missing_and_grants_them_once_they_exist(
    recipe: Recipe,
) -> None:
    """An owner that may not create roles, on a server where no one made the groups: init makes
    the ledger, names the missing groups on stderr, and grants them on its next run."""
    setup_without_groups = recipe.setup.split("DO $$", 1)[0]
    recipe.setup = setup_without_groups
    recipe.run_setup()
    owner = recipe.ledger("owner")
    first = owner("init")
    assert first.exit_code == 0, first.stderr
    groups = [f"{recipe.database}_{g}" for g in GROUPS]
    assert all(group in first.stderr for group in groups) and "run init again" in first.stderr
    with recipe.admin.connect() as conn:
        for group in groups:
            conn.execute(text(f"CREATE ROLE {group} NOLOGIN"))
    recipe.run_logins()
    again = owner.ok("init")
    assert all(group in again.stdout for group in groups)
    # the auditor's login reads (with no key: reading signs nothing)
    read = CliRunner().invoke(cli, ["--db", recipe.urls["auditor"], "balance", "--format", "json"])
    assert read.exit_code == 0 and json.loads(read.stdout) == [], (read.stdout, read.stderr)


def test_init_names_an_earlier_recipes_writer_until_the_readme_removes_it(recipe: Recipe) -> None:
    """The earlier README made one `ledger_writer` login that the owner's default privileges let
    UPDATE and DELETE every table: init names it (and who may act as the owner) on stderr, and the
    README's removal leaves only the groups."""
    recipe.run_setup()
    recipe.run_logins()
    writer = f"writer_{recipe.tag}"
    owner_name = make_url(recipe.urls["owner"]).username
    with recipe.admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {writer} LOGIN PASSWORD 'pw'"))
    earlier = (
        f"GRANT USAGE ON SCHEMA public TO {writer}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner_name} IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {writer}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner_name} IN SCHEMA public "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {writer}",
    )
    recipe.run_in_database(";\n".join(earlier))
    owner = recipe.ledger("owner")
    first = owner.ok("init")
    assert f"{writer}: DELETE, INSERT, SELECT, UPDATE on " in first.stderr, first.stderr
    assert "revoke them" in first.stderr
    # the test's own login may act as the owner (the README's superuser need not): named too
    assert "may act as this login" in first.stderr
    recipe.run_in_database(f"GRANT {writer} TO CURRENT_USER")  # a superuser needs no membership

    recipe.run_in_database(recipe.removal)
    again = owner.ok("init")
    assert writer not in again.stderr and "other roles hold privileges" not in again.stderr
    roles = rows(recipe.urls["owner"], f"SELECT COUNT(*) FROM pg_roles WHERE rolname = '{writer}'")
    assert roles == [(0,)]


def test_web_passwords_and_sign_ins_are_the_owners_tables_and_no_login_can_wipe_a_failure(
    recipe: Recipe,
) -> None:
    """The web's tables are made by the owner's `init` and granted like the rest: a person sets
    their web password through their own login and the server signs them in through another's;
    no login can erase a recorded sign-in attempt (that would lift the rate limit)."""
    from starlette.testclient import TestClient

    from commands.web.app import create_app
    from tests.test_web import PASSWORD, set_password, sign_in

    recipe.run_setup()
    recipe.run_logins()
    owner, officer = recipe.ledger("owner"), recipe.ledger("officer")
    owner.ok("init")
    approved_district_grant(officer)
    result = set_password(officer, "tester", PASSWORD, "officer")
    assert result.exit_code == 0, (result.stdout, result.stderr)

    with TestClient(create_app(recipe.urls["auditor"]), base_url="http://testserver") as client:
        assert sign_in(client, "tester", "wrong-password-123").status_code == 401
        signed = sign_in(client)
        assert signed.status_code == 200 and "G1" in signed.text, signed.text[:500]

    owners = rows(
        recipe.urls["owner"],
        "SELECT relname, pg_get_userbyid(relowner) FROM pg_class WHERE relname LIKE 'ledger_web_%' "
        "AND relkind = 'r' ORDER BY 1",
    )
    owner_name = make_url(recipe.urls["owner"]).username
    assert owners == [
        ("ledger_web_credentials", owner_name),
        ("ledger_web_sessions", owner_name),
        ("ledger_web_sign_ins", owner_name),
        ("ledger_web_signed_out", owner_name),
    ]
    attempts = rows(recipe.urls["auditor"], "SELECT outcome FROM ledger_web_sign_ins ORDER BY id")
    assert attempts == [("wrong",), ("signed in",)]
    for login in GROUPS:
        for statement in (
            "DELETE FROM ledger_web_sign_ins",
            "UPDATE ledger_web_sign_ins SET outcome = 'signed in'",
            "TRUNCATE ledger_web_sign_ins",
            "DROP TABLE ledger_web_credentials",
            "DROP TABLE ledger_web_sessions",
            "DELETE FROM ledger_web_signed_out",
            "UPDATE ledger_web_signed_out SET at = 0",
        ):
            refused(recipe.urls[login], statement)
    assert count(recipe.urls["owner"], "ledger_web_sign_ins") == 2


def test_a_ledger_from_before_the_web_kept_sessions_gets_them_from_the_owners_next_init(
    recipe: Recipe,
) -> None:
    """A ledger whose `init` ran before sessions were kept in the database lacks their two
    tables, which the server's login may not create: the server says so in one sentence, and the
    owner's next `init` (the upgrade) makes them and grants the groups what they need."""
    from starlette.testclient import TestClient

    from commands.web.app import create_app
    from tests.test_web import PASSWORD, set_password, sign_in

    recipe.run_setup()
    recipe.run_logins()
    owner, officer = recipe.ledger("owner"), recipe.ledger("officer")
    owner.ok("init")
    approved_district_grant(officer)
    assert set_password(officer, "tester", PASSWORD, "officer").exit_code == 0
    # as an earlier release's init left the ledger
    recipe.run_in_database("DROP TABLE ledger_web_sessions;\nDROP TABLE ledger_web_signed_out")

    served = CliRunner().invoke(cli, ["--db", recipe.urls["auditor"], "--lang", "en", "serve"])
    assert served.exit_code == 5, (served.stdout, served.stderr)
    said = served.stderr.strip()
    assert "ledger_web_sessions, ledger_web_signed_out" in said and "run `grant-ledger init`" in said
    assert len(said.splitlines()) == 1 and "Traceback" not in said

    owner.ok("init")
    with TestClient(create_app(recipe.urls["auditor"]), base_url="http://testserver") as client:
        signed = sign_in(client)
        assert signed.status_code == 200 and "G1" in signed.text, signed.text[:500]
    query = "SELECT person, role FROM ledger_web_sessions WHERE person <> ''"
    assert rows(recipe.urls["auditor"], query) == [("tester", "officer")]


def test_a_column_a_new_version_writes_is_the_owners_to_add_and_a_login_is_told_so(recipe: Recipe) -> None:
    """A ledger the release before wrote: its movements lack the recorder's role, and its read
    models are kept under that release's versions. An officer's command first says in one sentence
    that the owner runs `init` (only the owner may add a column), writing nothing; after the
    owner's `init` adds it, the read models are rebuilt once and history is as before."""
    from projections import names

    recipe.run_setup()
    recipe.run_logins()
    owner, officer, approver = recipe.ledger("owner"), recipe.ledger("officer"), recipe.ledger("approver")
    owner.ok("init")
    approved_district_grant(approver)
    _money(officer)
    before = officer.ok("history", "G1", "--format", "json").stdout
    renamed = "\n".join(
        f"UPDATE ledger_tracking SET application_name = '{n}' WHERE application_name = '{names.tracked(n)}';"
        for n in (names.BALANCES, names.ACTS)
    )
    recipe.run_in_database(f"ALTER TABLE balance_movements DROP COLUMN role;\n{renamed}")
    told = officer("balance", "B0001", "--format", "json")
    assert told.exit_code == 5, (told.stdout, told.stderr)
    said = told.stderr.strip()
    assert "balance_movements lacks the column role" in said and "runs `grant-ledger init` first" in said
    assert len(said.splitlines()) == 1 and "Traceback" not in said and told.stdout == ""
    upgraded = owner.ok("init")
    again = officer.ok("history", "G1", "--format", "json")
    assert again.stdout == before
    # rebuilt once, by whichever command came first after the column was there
    assert (upgraded.stderr + again.stderr).count("the acts read model was written by another version") == 1
