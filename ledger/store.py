"""The eventsourcing-sqlalchemy infrastructure factory with the ledger's engine settings."""

from __future__ import annotations

from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from sqlalchemy.engine import Engine

from ledger.database import configure_engine


class LedgerFactory(SQLAlchemyFactory):
    """eventsourcing-sqlalchemy's factory with the ledger's engine settings."""

    def __init__(self, env: Environment):
        super().__init__(env)
        engine = self.datastore.engine
        assert isinstance(engine, Engine)
        configure_engine(engine)
