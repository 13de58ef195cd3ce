"""An event stored below the application that no version of the ledger writes (a budget plan whose
line is keyed "content/x/source") stopped every later command, `balance` included, with "internal
error (ValueError)", exit 1 (found by a red-team pass). The read models refuse it in one sentence
naming the stored events and the read model, exit 6, and write nothing; a rebuild says the same."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.conftest import Ledger
from tests.test_insider_forgeries import _books, _forge_write


@pytest.mark.parametrize("command", [("balance", "B0001"), ("projections", "rebuild")])
def test_a_stored_event_the_read_models_cannot_read_is_one_sentence(
    sqlite_ledger: Ledger, command: tuple[str, ...]
) -> None:
    _books(sqlite_ledger)
    lines = {"training_system/x/local_finance": Decimal("1000")}
    _forge_write(sqlite_ledger, ("BudgetRegistered", {"lines": lines, "occurred_on": date(2024, 4, 20)}))
    before = sqlite_ledger.event_count()

    result = sqlite_ledger(*command, role="admin")

    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert result.stderr.startswith("grant-ledger: the read model ") and result.stderr.count("\n") == 1
    assert "cannot read one of the stored events" in result.stderr, result.stderr
    assert "the events table holds an event no version of the ledger writes" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.output
    assert sqlite_ledger.event_count() == before
