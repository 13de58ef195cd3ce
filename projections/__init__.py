"""Read side of grant-ledger: SQLAlchemy read models, the catch-up runner, reports' queries."""
