"""Who may do what to which table on PostgreSQL, as group roles that ``init`` grants.

The tables belong to the login that runs ``init`` (the owner, which no one records with). People
log in as members of three group roles named after the database (``ledger_officer``,
``ledger_approver``, ``ledger_auditor`` for a database ``ledger``): roles are the cluster's, so a
member of one ledger's groups is nothing in another ledger on the same server.

Every table the ledger makes is classified below, in one place: a new table is one line here.
A table left out is granted to no one (``tests/test_pg_roles.py`` checks that none is).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ledger.location import EVENTS_TABLE, META_TABLE, SNAPSHOTS_TABLE

OFFICER, APPROVER, AUDITOR = "officer", "approver", "auditor"
GROUPS = (OFFICER, APPROVER, AUDITOR)
WRITERS = (OFFICER, APPROVER)

# Records: append-only (the triggers of ledger.database refuse UPDATE, DELETE and TRUNCATE);
# the groups that may INSERT into each. Approvers alone sign checkpoints.
RECORDS: dict[str, tuple[str, ...]] = {
    EVENTS_TABLE: WRITERS,
    SNAPSHOTS_TABLE: WRITERS,
    "audit_checkpoints": (APPROVER,),
    "audit_signed_leaves": (APPROVER,),
    # a person's signature on a snapshot they took or checked (ledger.snapshot_seals)
    "ledger_snapshot_seals": WRITERS,
}

# Written by ``init`` alone.
OWNER_ONLY = (META_TABLE,)

# Read models: recomputed from the events by every writer's command (catch-up, rebuild), and
# checked against them by ``projections verify``; writers INSERT, UPDATE and DELETE their rows.
READ_MODELS = (
    "ledger_tracking",
    "balance_grants",
    "balance_movements",
    "balance_units",
    "balance_unit_districts",
    "compliance_grants",
    "compliance_outputs",
    "compliance_rectifications",
    "compliance_facts",
    "compliance_events",
    "history_acts",
    "audit_leaves",
    "audit_tree",
)

# The web workspace's own tables (commands/web/credentials.py, sessions.py), made by ``init``: a
# person of any group sets their web password (its row replaced, so UPDATE and DELETE), and the
# server signs them in under whichever login it runs as; sign-in attempts are appended only, since
# the rate limit reads them and a deleted failure would lift it; sessions are made, touched and
# ended by the server (a row opens nothing without its cookie).
WEB: dict[str, tuple[str, ...]] = {
    "ledger_web_credentials": ("INSERT", "UPDATE", "DELETE"),
    "ledger_web_sign_ins": ("INSERT",),
    "ledger_web_sessions": ("INSERT", "UPDATE", "DELETE"),
    # sessions signed out: appended only, since a deleted one would let its row be put back
    "ledger_web_signed_out": ("INSERT",),
}

# Every write takes LOCK TABLE ledger_events IN EXCLUSIVE MODE (eventsourcing-sqlalchemy, and
# ledger.bulk_write), which PostgreSQL allows only with UPDATE, DELETE or TRUNCATE on the table.
# TRUNCATE: the append-only trigger refuses it as it refuses the others, and were a guard ever
# missing, a truncated store is loud where a rewritten amount is quiet.
LOCK_PRIVILEGE = {EVENTS_TABLE: "TRUNCATE"}

_NAME_BYTES = 63  # PostgreSQL's longest identifier


def classified() -> set[str]:
    return {*RECORDS, *OWNER_ONLY, *READ_MODELS, *WEB}


def privileges(table: str) -> dict[str, list[str]]:
    """The privileges each group gets on ``table`` (none for a table not classified)."""
    if table not in classified():
        return {}
    granted: dict[str, list[str]] = {group: ["SELECT"] for group in GROUPS}
    for group in RECORDS.get(table, ()):
        granted[group].append("INSERT")
    if table in READ_MODELS:
        for group in WRITERS:
            granted[group] += ["INSERT", "UPDATE", "DELETE"]
    for group in GROUPS:
        granted[group] += WEB.get(table, ())
    if table in LOCK_PRIVILEGE:
        for group in WRITERS:
            granted[group].append(LOCK_PRIVILEGE[table])
    return granted


def group_names(database: str) -> dict[str, str]:
    """The group roles of the ledger in ``database``: ``<database>_officer`` and so on."""
    names = {}
    for group in GROUPS:
        suffix = f"_{group}"
        room = _NAME_BYTES - len(suffix)
        prefix = database.encode("utf-8")[:room].decode("utf-8", "ignore")
        names[group] = prefix + suffix
    return names


@dataclass(frozen=True)
class Granted:
    """What ``grant_groups`` did: the group roles by group, those missing that this login may
    not create (nothing granted then), the tables granted; and, found on the way, the other
    roles that hold privileges on those tables (an earlier set-up's) and those that may act as
    the owner (its members, who could lift the guards)."""

    roles: dict[str, str]
    missing: list[str]
    tables: list[str]
    others: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    owners: list[str] = field(default_factory=list)


_TABLES = text(
    "SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
    "AND c.relkind IN ('r', 'p') AND pg_has_role(c.relowner, 'MEMBER')"
)
# the sequences feeding a column of the tables (serial or identity)
_SEQUENCES = text(
    "SELECT t.relname, s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
    "AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
    "JOIN pg_class t ON t.oid = d.refobjid WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i') "
    "AND t.relname IN :tables AND t.relnamespace = current_schema()::regnamespace"
).bindparams(bindparam("tables", expanding=True))


def grant_groups(conn: Connection) -> Granted | None:
    """Create the group roles if missing (when this login may) and grant each its privileges on
    the ledger's tables that this login owns, exactly (what was granted before is revoked first),
    so running it again, or after the logins were made, changes nothing. None when this login
    owns none of the ledger's tables (another's ledger) or the database is not PostgreSQL."""
    if conn.dialect.name != "postgresql":
        return None
    owned = sorted(set(conn.execute(_TABLES).scalars()) & classified())
    if not owned:
        return None
    database, schema, may_create = conn.execute(
        text(
            "SELECT current_database(), current_schema(), "
            "(SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user)"
        )
    ).one()
    roles = group_names(str(database))
    found = set(
        conn.execute(
            text("SELECT rolname FROM pg_roles WHERE rolname IN :names").bindparams(
                bindparam("names", list(roles.values()), expanding=True)
            )
        ).scalars()
    )
    missing = [name for name in roles.values() if name not in found]
    if missing and not may_create:
        return Granted(roles, missing, [])
    quote = conn.dialect.identifier_preparer.quote
    for name in missing:
        _create_group(conn, quote(name))
    everyone = ", ".join(quote(roles[group]) for group in GROUPS)
    conn.execute(text(f"GRANT USAGE ON SCHEMA {quote(str(schema))} TO {everyone}"))
    for table in owned:
        conn.execute(text(f"REVOKE ALL ON {quote(table)} FROM {everyone}"))
        for group, granted in privileges(table).items():
            conn.execute(text(f"GRANT {', '.join(granted)} ON {quote(table)} TO {quote(roles[group])}"))
    for table, sequence in conn.execute(_SEQUENCES, {"tables": owned}).tuples():
        conn.execute(text(f"REVOKE ALL ON SEQUENCE {quote(sequence)} FROM {everyone}"))
        writers = [quote(roles[g]) for g, p in privileges(table).items() if "INSERT" in p]
        if writers:
            conn.execute(text(f"GRANT USAGE ON SEQUENCE {quote(sequence)} TO {', '.join(writers)}"))
    return Granted(roles, [], owned, _others(conn, owned, list(roles.values())), _owners(conn))


def _others(conn: Connection, tables: list[str], groups: list[str]) -> dict[str, tuple[list[str], list[str]]]:
    """(privileges, tables) on ``tables`` held by each role other than their owner and ``groups``."""
    query = text(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, "
        "c.relname, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname IN :tables "
        "AND a.grantee <> c.relowner AND (a.grantee = 0 OR pg_get_userbyid(a.grantee) NOT IN :groups) "
        "ORDER BY 1, 2, 3"
    ).bindparams(bindparam("tables", expanding=True), bindparam("groups", expanding=True))
    found: dict[str, tuple[set[str], set[str]]] = {}
    for role, table, privilege in conn.execute(query, {"tables": tables, "groups": groups}).tuples():
        held, on = found.setdefault(str(role), (set(), set()))
        held.add(str(privilege))
        on.add(str(table))
    return {role: (sorted(held), sorted(on)) for role, (held, on) in found.items()}


def _owners(conn: Connection) -> list[str]:
    """The roles that may act as this login (its members, directly or not), superusers aside."""
    query = text(
        "SELECT r.rolname FROM pg_roles r WHERE r.oid <> (SELECT oid FROM pg_roles "
        "WHERE rolname = current_user) AND NOT r.rolsuper AND pg_has_role(r.oid, current_user, 'MEMBER') "
        "ORDER BY 1"
    )
    return [str(name) for name in conn.execute(query).scalars()]


def _create_group(conn: Connection, name: str) -> None:
    """CREATE ROLE ... NOLOGIN; one made meanwhile by another session (an ``init`` on another
    schema, the README's SQL) is as good."""
    try:
        with conn.begin_nested():
            conn.execute(text(f"CREATE ROLE {name} NOLOGIN"))
    except DBAPIError as e:
        if "already exists" not in str(e) and "duplicate key" not in str(e):
            raise
