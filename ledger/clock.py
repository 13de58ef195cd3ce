"""The business day it is now: the date in Chongqing (Asia/Shanghai, UTC+8, no daylight saving).

``GRANT_LEDGER_TODAY=YYYY-MM-DD`` fixes it (tests, and replaying a day's work as of that day);
a value that is not a date is one sentence and exit 2. Standard library only: the command line
reads it at start-up."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone

from ledger.errors import BadInputError
from ledger.i18n import _

CHINA = timezone(timedelta(hours=8))
TODAY_ENV = "GRANT_LEDGER_TODAY"


def business_today() -> date:
    fixed = os.environ.get(TODAY_ENV, "").strip()
    if not fixed:
        return datetime.now(CHINA).date()
    try:
        if len(fixed) != 10:
            raise ValueError(fixed)
        return date.fromisoformat(fixed)
    except ValueError:
        raise BadInputError(
            _("{TODAY_ENV}={fixed!r} is not a date; write it like 2024-05-10").format(
                TODAY_ENV=TODAY_ENV, fixed=fixed
            )
        ) from None
