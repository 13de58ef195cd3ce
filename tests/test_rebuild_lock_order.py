"""A rebuild and a write's catch-up at once on PostgreSQL: both take the projections' tracking
rows, and must take them in the same order (by name), or each holds one the other waits for and
the server kills one of them as a deadlock."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event

from ledger.actions import Spend
from tests.conftest import drop_pg_schema, fresh_pg_url, pg_unavailable
from tests.reliability import funded_grant
from tests.signing import url_signer


def test_a_rebuild_and_a_catch_up_at_once_never_deadlock() -> None:
    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    from commands.registry import all_projections
    from ledger.application import GrantLedger
    from projections.rebuild import rebuild_all
    from projections.runner import catch_up

    url = fresh_pg_url()
    funded_grant(url, "100000")
    app = GrantLedger(url)
    try:
        catch_up(app)  # every projection at the head
        for n in range(3):  # events no projection has seen yet
            app.handle(
                Spend(
                    grant_id="G1",
                    amount=Decimal("10"),
                    category="materials",
                    source="subsidy",
                    voucher=f"V-{n}",
                    on=date(2024, 6, 1),
                ),
                signer=url_signer(url),
            )
        holding = threading.Event()
        rebuilding = threading.get_ident()

        def paused(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            # the rebuild, having taken the first tracking row it deletes, lets the catch-up run
            if threading.get_ident() == rebuilding and "DELETE FROM ledger_tracking" in statement:
                if not holding.is_set():
                    holding.set()
                    time.sleep(1.5)

        event.listen(app.engine, "after_cursor_execute", paused)
        outcomes: dict[str, str] = {}

        def catching_up() -> None:
            holding.wait(30)
            try:
                catch_up(app)
                outcomes["catch-up"] = "done"
            except Exception as e:
                outcomes["catch-up"] = type(e).__name__ + ": " + str(e).splitlines()[0]

        other = threading.Thread(target=catching_up)
        other.start()
        try:
            rebuild_all(app, all_projections(), worker=False)
            outcomes["rebuild"] = "done"
        except Exception as e:
            outcomes["rebuild"] = type(e).__name__ + ": " + str(e).splitlines()[0]
        other.join(60)
        event.remove(app.engine, "after_cursor_execute", paused)
        assert outcomes == {"rebuild": "done", "catch-up": "done"}
        positions = catch_up(app)  # nothing left behind either way
        assert positions == 0
    finally:
        app.close()
        drop_pg_schema(url)
