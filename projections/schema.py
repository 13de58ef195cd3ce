"""The read models' tables. Amounts are integer fen: exact on SQLite and PostgreSQL alike.

Columns that hold what people typed (ids, vouchers, budget lines, actors, references) are TEXT:
a read model must hold every event the store accepted, and PostgreSQL enforces a VARCHAR's
length where SQLite does not (``widen_text_columns`` brings older PostgreSQL tables along)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from ledger.database import compress_fast
from projections.figures import MEASURES as MEASURES  # the grants table's money columns

metadata = MetaData()

Fen = BigInteger().with_variant(Integer(), "sqlite")

TRACKING_TABLE = "ledger_tracking"

# One row per grant: running totals, for current balances at once.
grants = Table(
    "balance_grants",
    metadata,
    Column("grant_id", Text, primary_key=True),
    Column("aggregate_id", String(32), nullable=False, unique=True),
    Column("base_id", Text, nullable=False, index=True),
    Column("unit_id", Text, nullable=False),
    Column("base_name", Text, nullable=False),
    Column("programme", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("applied_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("build_start", Date),
    Column("build_end", Date),
    Column("approved", Fen, nullable=False, default=0),
    Column("subsidy_received", Fen, nullable=False, default=0),
    Column("subsidy_spent", Fen, nullable=False, default=0),
    Column("matching_committed", Fen, nullable=False, default=0),
    Column("matching_received", Fen, nullable=False, default=0),
    Column("matching_spent", Fen, nullable=False, default=0),
    Column("subsidy_recovered", Fen, nullable=False, default=0),
    Column("subsidy_disposed", Fen, nullable=False, default=0),
    Column("matching_disposed", Fen, nullable=False, default=0),
    # a national base's tier (its approval) and a municipal base's kind (its application), the
    # count a round selects is judged by (002 二); "" when none was named
    Column("tier", Text, nullable=False, default="", server_default=""),
    Column("track", Text, nullable=False, default="", server_default=""),
)


# One row per unit that names its district (区县, its 行政区划代码: ledger.district), from its
# registration or a later amendment (Unit.DistrictSet). Reports join it to the grants by unit_id;
# a unit without a row has no district (every unit registered before districts were kept).
units = Table(
    "balance_units",
    metadata,
    Column("unit_id", Text, primary_key=True),
    Column("district", String(6), nullable=False, index=True),
)

# One row per event that gave a unit its district (a registration naming one, an amendment),
# with its business date and recorded time: the district a unit stood in as of a day, as known
# at a moment (projections.queries.districts_then).
unit_districts = Table(
    "balance_unit_districts",
    metadata,
    Column("notification_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("unit_id", Text, nullable=False),
    Column("district", String(6), nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("balance_unit_districts_unit", "unit_id", "notification_id"),
)

# One row per money event: for balances as of a business date or as known at a moment, and the
# history line of a spend (``projections.reports.history_page``), which has no act row.
movements = Table(
    "balance_movements",
    metadata,
    Column("notification_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("grant_id", Text, nullable=False),
    Column("base_id", Text, nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("measure", String(32), nullable=False),
    Column("amount", Fen, nullable=False),
    Column("source", String(16), nullable=False, default=""),
    Column("category", String(32), nullable=False, default=""),
    Column("content", Text, nullable=False, default=""),
    Column("voucher", Text, nullable=False, default=""),
    Column("actor", Text, nullable=False, default=""),
    # the recorder's role, for a spend's history line; a database default for the rows a release
    # from before this column writes into a table it has
    Column("role", String(16), nullable=False, default="", server_default=""),
    Index("balance_movements_base", "base_id", "occurred_on"),
    Index("balance_movements_grant", "grant_id", "notification_id"),
)


# One row per event of a grant but its spends (a grant's thousands of rows, whose history lines
# are their movements): who recorded it (actor, role) and what it says, for ``history``
# (projections.acts).
history_acts = Table(
    "history_acts",
    metadata,
    Column("notification_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("aggregate_id", String(32), nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", Text, nullable=False, default=""),
    Column("role", String(16), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    # what the findings judge as of a day (projections.findings), as JSON: an output report's
    # year and figures, a rectification's reference and deadline; "" for other events
    Column("data", Text, nullable=False, default=""),
    Index("history_acts_grant", "aggregate_id", "notification_id"),
    # the few acts of some kinds a grant's findings, period and budget read among its thousands
    # of spends (queried without an order, so that the database seeks by kind)
    Index("history_acts_kind", "aggregate_id", "kind"),
)


# Tables that get a row appended per event and that nothing reads while the projections apply a
# batch: a large import on SQLite makes their indexes again at its end (projections.bulk).
APPENDED = (movements, history_acts)

# ---------------------------------------------------------------- the compliance projection
# What the findings report needs, per grant: money, build period, outputs, rectifications, and
# every stored event that broke a rule of the policy in force on its date.
compliance_grants = Table(
    "compliance_grants",
    metadata,
    Column("grant_id", Text, primary_key=True),
    Column("aggregate_id", String(32), nullable=False, unique=True),
    Column("base_id", Text, nullable=False, index=True),
    Column("programme", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("applied_on", Date, nullable=False),
    Column("build_start", Date),
    Column("build_end", Date),
    Column("approved", Fen, nullable=False, default=0),
    Column("subsidy_received", Fen, nullable=False, default=0),
    Column("matching_received", Fen, nullable=False, default=0),
    Column("subsidy_available", Fen, nullable=False, default=0),
    Column("matching_available", Fen, nullable=False, default=0),
    Column("spent", Fen, nullable=False, default=0),
)

compliance_outputs = Table(
    "compliance_outputs",
    metadata,
    Column("grant_id", Text, primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("trainees", Integer, nullable=False),
    Column("advanced", Integer, nullable=False),
    Column("evaluations", Integer, nullable=False),
    Column("advanced_evaluations", Integer, nullable=False),
)

compliance_rectifications = Table(
    "compliance_rectifications",
    metadata,
    Column("grant_id", Text, primary_key=True),
    Column("ref", Text, primary_key=True),
    Column("finding", Text, nullable=False),
    Column("deadline", Date, nullable=False),
    Column("completed_on", Date),
)

# What else the judge replays per grant (``projections.judge.JudgedGrant.facts``, JSON): approval
# date, budget lines and what each has spent, each source's net change per date, recoveries.
compliance_facts = Table(
    "compliance_facts",
    metadata,
    Column("aggregate_id", String(32), primary_key=True),
    Column("grant_id", Text, nullable=False),
    Column("facts", Text, nullable=False),
)

compliance_events = Table(
    "compliance_events",
    metadata,
    Column("notification_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("grant_id", Text, nullable=False, index=True),
    Column("base_id", Text, nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("rule", String(64), nullable=False),
    Column("clause", String(64), nullable=False),
    Column("message", Text, nullable=False),
)


def widen_text_columns(engine: Engine) -> None:
    """On PostgreSQL, make the TEXT columns of tables created as VARCHAR(n) by earlier versions
    TEXT (a change of type only: PostgreSQL rewrites nothing). Nothing to do elsewhere or when
    they already are."""
    if engine.dialect.name != "postgresql":
        return
    wanted = {(t.name, c.name) for t in metadata.sorted_tables for c in t.columns if isinstance(c.type, Text)}
    # the catalogue itself: information_schema's views cost several times more, at every start
    query = text(
        "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(:names) "
        "AND a.atttypid = 'varchar'::regtype AND NOT a.attisdropped"
    )
    with engine.connect() as conn:
        found = conn.execute(query, {"names": sorted({t for t, _ in wanted})}).all()
    stale: dict[str, list[str]] = {}
    for table, column in found:
        if (table, column) in wanted:
            stale.setdefault(table, []).append(column)
    if not stale:
        return
    try:
        with engine.begin() as conn:
            for table, columns in sorted(stale.items()):
                changes = ", ".join(f"ALTER COLUMN {column} TYPE text" for column in sorted(columns))
                conn.execute(text(f"ALTER TABLE {table} {changes}"))
    except DBAPIError:  # a read-only login (auditors): the next writer's command widens them
        return


# values rewritten whole at each write on a grant, tens of kilobytes for a large one
LARGE_COLUMNS: dict[str, tuple[str, ...]] = {"compliance_facts": ("facts",)}


def compress_large_columns(engine: Engine) -> None:
    """``LARGE_COLUMNS`` compressed the cheap way where the server can (ledger.database)."""
    try:
        with engine.begin() as conn:
            compress_fast(conn, LARGE_COLUMNS)
    except DBAPIError:  # a login that does not own the tables: they stay as they are
        return
