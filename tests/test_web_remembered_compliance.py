"""A server keeps each grant's compliance facts in memory between its writes (the compliance
projection's ``remembered``), instead of reading them back from their rows and JSON at each write.
What it remembers must never stand in for what the rows hold: after another process wrote and
caught up, or after a catch-up of the server's own that was rolled back, the next write's facts
are those a replay of the events gives (``projections verify``), and the ring-fence findings read
from them are right to the fen."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from commands.web.workspace import Workspace
from ledger.actions import Spend
from ledger.seal import load_signer
from projections.compliance import ComplianceProjection
from tests.conftest import Ledger, approved_district_grant


def _spend(voucher: str, amount: str, on: date = date(2024, 6, 1)) -> Spend:
    return Spend(grant_id="G1", amount=Decimal(amount), category="materials", source="subsidy",
                 voucher=voucher, on=on)  # fmt: skip


def _funded(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")


def _remembering(workspace: Workspace) -> ComplianceProjection:
    assert workspace._chosen is not None
    found = [p for p in workspace._chosen if isinstance(p, ComplianceProjection)]
    assert len(found) == 1 and found[0].remembered > 0
    return found[0]


def _agrees(ledger: Ledger) -> None:
    result = ledger.ok("projections", "verify", role="auditor")
    assert result.stdout.strip() == f"all read models agree with the {ledger.event_count()} events"


@pytest.mark.parametrize("processes", [1, 2])
def test_another_process_write_between_two_web_writes_is_in_the_facts(ledger: Ledger, processes: int) -> None:
    """With ``serve --workers``, the server reads where the projections stand before each
    catch-up (``processes`` 2): no failed compare-and-set tells it that another moved them."""
    _funded(ledger)
    officer = load_signer(ledger.key("officer"))
    workspace = Workspace(ledger.url, processes)
    try:
        assert workspace.record(_spend("网-1", "60000"), officer).recorded
        remembered = _remembering(workspace)
        assert remembered._memo  # G1 is remembered as the server's catch-up left it
        # a command-line process spends from G1 and catches the projections up itself
        ledger.ok("spend", "G1", "--amount", "30000", "--category", "equipment", "--source", "subsidy",
                  "--voucher", "命令-1", "--date", "2024-06-01")  # fmt: skip
        assert workspace.record(_spend("网-2", "5000"), officer).recorded
    finally:
        workspace.close()
    _agrees(ledger)
    assert ledger.balances()["B0001"]["subsidy_available"] == "5000.00"


def test_a_catch_up_rolled_back_leaves_nothing_remembered_that_the_rows_do_not_hold(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit log's part of a catch-up fails after the compliance projection advanced G1 in
    memory: the transaction is rolled back, and the next catch-up applies the same events again.
    Remembered facts that kept the first try would count that spend twice."""
    from audit.log import AuditLogProjection

    _funded(ledger)
    officer = load_signer(ledger.key("officer"))
    workspace = Workspace(ledger.url)
    apply = AuditLogProjection.apply
    failing = {"left": 0}

    def fails_once(self: AuditLogProjection, *args: Any) -> None:
        if failing["left"]:
            failing["left"] -= 1
            raise OSError("the disk went away")
        apply(self, *args)

    monkeypatch.setattr(AuditLogProjection, "apply", fails_once)
    try:
        assert workspace.record(_spend("网-1", "10000"), officer).recorded
        failing["left"] = 1
        with pytest.raises(OSError):  # stored, but not shown: not answered as recorded
            workspace.record(_spend("网-2", "20000", date(2024, 6, 2)), officer)
        assert workspace.record(_spend("网-3", "30000", date(2024, 6, 3)), officer).recorded
        # 40,000.00 left on each day since: 45,000.00 more is refused by its rule, 40,000.00 is not
        refused = workspace.record(_spend("网-4", "45000", date(2024, 6, 3)), officer)
    except Exception as e:
        refused = e
    finally:
        workspace.close()
    assert "40,000.00" in str(refused)
    _agrees(ledger)
    assert ledger.balances()["B0001"]["subsidy_available"] == "40000.00"
