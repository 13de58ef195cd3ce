"""What a balance report shows for one grant: plain values, no database types."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ledger.money import ZERO, percent
from projections.measures import available_in

# The money columns of a balance, in the order reports show them.
MEASURES = (
    "approved",
    "subsidy_received",
    "subsidy_spent",
    "matching_committed",
    "matching_received",
    "matching_spent",
    "subsidy_recovered",
    "subsidy_disposed",
    "matching_disposed",
)


@dataclass(frozen=True)
class Balance:
    base_id: str
    grant_id: str
    base_name: str
    programme: str
    status: str
    approved: Decimal
    subsidy_received: Decimal
    subsidy_spent: Decimal
    matching_committed: Decimal
    matching_received: Decimal
    matching_spent: Decimal
    subsidy_recovered: Decimal = Decimal("0.00")
    subsidy_disposed: Decimal = Decimal("0.00")
    matching_disposed: Decimal = Decimal("0.00")
    district: str | None = None  # its unit's 行政区划代码 (ledger.district), if recorded

    @property
    def subsidy_available(self) -> Decimal:
        """Received less spent (net of reversals), recovered (returned on order) and disposed of."""
        return available_in(vars(self), "subsidy", ZERO)

    @property
    def matching_available(self) -> Decimal:
        return available_in(vars(self), "matching", ZERO)

    @property
    def execution_rate(self) -> Decimal | None:
        """Spent ÷ received, both fund sources together; None before any money arrives."""
        received = self.subsidy_received + self.matching_received
        if received == 0:
            return None
        return percent(self.subsidy_spent + self.matching_spent, received)
