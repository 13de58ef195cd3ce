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
)

MEASURES = (
    "approved",
    "subsidy_received",
    "subsidy_spent",
    "matching_committed",
    "matching_received",
    "matching_spent",
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
