"""The ledger the web serves: one open ledger per server, read through the projections the
command line reads and written through the same application handler, one write at a time."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from commands.context import Settings
from commands.web.credentials import ensure_tables

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from audit.verifier.people import Registry
    from ledger.actions import Action
    from ledger.application import Outcome
    from ledger.seal import Signer


class Workspace:
    def __init__(self, db: str | None) -> None:
        self.settings = Settings(db=db, actor=None, role=None, lang="zh")
        self._lock = threading.RLock()
        with self._lock:
            self.settings.ledger()  # NotFoundError (exit 4) where there is no ledger
            ensure_tables(self.settings.engine())

    @property
    def engine(self) -> Engine:
        return self.settings.engine()

    def reading(self) -> Engine:
        """The projections' engine, caught up with the store first (read-your-writes), as the
        command line's reports read it."""
        with self._lock:
            self.settings.ensure_current(acts=True)
        return self.settings.engine()

    def channel(self) -> str | None:
        """The store's PostgreSQL NOTIFY channel (its recorder notifies on it at each write)."""
        with self._lock:
            name = getattr(self.settings.ledger().recorder, "channel_name", None)
        return name if isinstance(name, str) else None

    def registry(self) -> Registry:
        with self._lock:
            return self.settings.ledger().trust.registry(fresh=True)

    def record(self, action: Action, signer: Signer) -> Outcome:
        """The action handled as the person whose key ``signer`` is (ledger.application), then the
        projections brought up to it."""
        with self._lock:
            outcome = self.settings.ledger().handle(action, signer=signer)
            self.settings.catch_up()
        return outcome

    def close(self) -> None:
        self.settings.close()
