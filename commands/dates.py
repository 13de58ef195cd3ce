"""The business date every date option takes: the actions' one rule (``ledger.actions.business_date``:
2024-05-10, 2024/5/10, 2024.05.10, 2024年5月10日), so a date typed is read as an imported one is."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import click


class BusinessDateType(click.ParamType):
    """A business date as the actions take it, whatever option it is given to (click.DateTime
    reads one strptime form, each option its own). The value is a datetime, as click.DateTime
    gives."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        from ledger.action_base import business_date

        try:
            return datetime.combine(business_date(value), time())
        except ValueError as e:
            self.fail(str(e), param, ctx)


DATE = BusinessDateType()


def dated(value: datetime | None) -> date:
    """The business date a date option gave, or today's (``ledger.clock.business_today``)."""
    if value:
        return value.date()
    from ledger.clock import business_today

    return business_today()


def local_time(recorded: datetime) -> datetime:
    """A recorded time as this machine's clock reads it, its offset written beside it: what
    `--known-at` reads a time typed without one as, so a time copied from `history` cuts just
    after its event (SQLite keeps recorded times as naive UTC, which had been shown as they are
    and then read 8 hours off in Chongqing)."""
    return (recorded if recorded.tzinfo else recorded.replace(tzinfo=UTC)).astimezone()
