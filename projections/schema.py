"""The read models' tables. Amounts are integer fen: exact on SQLite and PostgreSQL alike."""

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
)

from projections.figures import MEASURES as MEASURES  # the grants table's money columns

metadata = MetaData()

Fen = BigInteger().with_variant(Integer(), "sqlite")

TRACKING_TABLE = "ledger_tracking"

# One row per grant: running totals, for current balances at once.
grants = Table(
    "balance_grants",
    metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("aggregate_id", String(32), nullable=False, unique=True),
    Column("base_id", String(64), nullable=False, index=True),
    Column("unit_id", String(64), nullable=False),
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
)


# One row per money event: for balances as of a business date or as known at a moment.
movements = Table(
    "balance_movements",
    metadata,
    Column("notification_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("grant_id", String(64), nullable=False),
    Column("base_id", String(64), nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("measure", String(32), nullable=False),
    Column("amount", Fen, nullable=False),
    Column("source", String(16), nullable=False, default=""),
    Column("category", String(32), nullable=False, default=""),
    Column("content", String(64), nullable=False, default=""),
    Column("voucher", String(128), nullable=False, default=""),
    Column("actor", String(128), nullable=False, default=""),
    Index("balance_movements_base", "base_id", "occurred_on"),
    Index("balance_movements_grant", "grant_id", "notification_id"),
)


# ---------------------------------------------------------------- the compliance projection
# What the findings report needs, per grant: money, build period, outputs, rectifications, and
# every stored event that broke a rule of the policy in force on its date.
compliance_grants = Table(
    "compliance_grants",
    metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("aggregate_id", String(32), nullable=False, unique=True),
    Column("base_id", String(64), nullable=False, index=True),
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
    Column("grant_id", String(64), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("trainees", Integer, nullable=False),
    Column("advanced", Integer, nullable=False),
    Column("evaluations", Integer, nullable=False),
    Column("advanced_evaluations", Integer, nullable=False),
)

compliance_rectifications = Table(
    "compliance_rectifications",
    metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("ref", String(128), primary_key=True),
    Column("finding", Text, nullable=False),
    Column("deadline", Date, nullable=False),
    Column("completed_on", Date),
)

compliance_events = Table(
    "compliance_events",
    metadata,
    Column("notification_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("grant_id", String(64), nullable=False, index=True),
    Column("base_id", String(64), nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("rule", String(64), nullable=False),
    Column("clause", String(64), nullable=False),
    Column("message", Text, nullable=False),
)
