"""The statutory calendar (002 五(二): 公示不少于5个工作日): which days are working days.

A working day is Monday to Friday, less the statutory holidays and the 调休 days off, plus the
weekend days worked (调休上班). The days are data, year by year, in the policy files
(``[calendar."2024"]``) or in a calendar file an administrator installs (``policy install``):
a verdict never changes when a library's idea of a year changes. The ``holidays`` library is only
the author's source (``grant-ledger policy calendar YEAR`` prints a year's table from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ledger.errors import BadInputError
from ledger.i18n import T_, _

WEEKDAYS = frozenset({0, 1, 2, 3, 4})  # Monday..Friday


@dataclass(frozen=True)
class CalendarYear:
    year: int
    days_off: frozenset[date]  # Monday..Friday days that are not worked
    workdays: frozenset[date]  # Saturdays and Sundays that are worked (调休)
    source: str

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() in WEEKDAYS and day not in self.days_off


def parse_year(key: str, table: Any, where: str) -> CalendarYear:
    """A ``[calendar."YEAR"]`` table, or BadInputError naming what is wrong with it."""
    if not (isinstance(key, str) and key.isascii() and key.isdigit() and len(key) == 4):
        raise BadInputError(
            _('{where}: calendar {key!r} is not a year like "2028"').format(where=where, key=key)
        )
    year = int(key)
    if not isinstance(table, dict) or set(table) - {"source", "days_off", "workdays"}:
        raise BadInputError(
            _("{where}: calendar {key} holds only source, days_off and workdays").format(where=where, key=key)
        )
    days: dict[str, frozenset[date]] = {}
    for field in ("days_off", "workdays"):
        values = table.get(field)
        if not isinstance(values, list) or not all(type(v) is date for v in values):
            raise BadInputError(
                _("{where}: calendar {key}.{field} is a list of dates like 2028-01-01").format(
                    where=where, key=key, field=field
                )
            )
        stray = [v for v in values if v.year != year]
        if stray:
            msg = T_(
                "{where}: calendar {key}.{field} holds {value}, of another year",
                where=where,
                key=key,
                field=field,
                value=stray[0].isoformat(),
            )
            raise BadInputError(msg)
        days[field] = frozenset(values)
    weekend = [d for d in days["days_off"] if d.weekday() not in WEEKDAYS]
    weekday = [d for d in days["workdays"] if d.weekday() in WEEKDAYS]
    if weekend or weekday:
        wrong = (weekend or weekday)[0]
        raise BadInputError(
            _("{where}: calendar {key} lists {wrong} ({value}) among {value2}").format(
                where=where,
                key=key,
                wrong=wrong.isoformat(),
                value=wrong.strftime("%A"),
                value2="days_off (Monday to Friday only)"
                if weekend
                else "workdays (weekend days worked only)",
            )
        )
    if not days["days_off"]:
        raise BadInputError(
            _("{where}: calendar {key} lists no days off; every year has statutory holidays").format(
                where=where, key=key
            )
        )
    source = table.get("source", "")
    if not isinstance(source, str):
        raise BadInputError(_("{where}: calendar {key}.source is text").format(where=where, key=key))
    return CalendarYear(year, days["days_off"], days["workdays"], source)


def working_days(start: date, end: date, years: dict[int, CalendarYear]) -> int:
    """Working days from ``start`` to ``end``, both included; LookupError(year) for the first
    year ``years`` does not cover."""
    count, day = 0, start
    while day <= end:
        calendar = years.get(day.year)
        if calendar is None:
            raise LookupError(day.year)
        if calendar.is_working_day(day):
            count += 1
        day += timedelta(days=1)
    return count


def calendar_toml(year: int) -> str:
    """A year's ``[calendar."YEAR"]`` table from the ``holidays`` library (China): the author's
    tool, never consulted by a verdict. ValueError when the library knows no 调休 arrangement for
    the year (it then lists only the statutory days: not yet published by the State Council)."""
    try:
        import holidays
    except ImportError:
        raise BadInputError(
            _("the holidays library is not installed: pip install 'grant-ledger[calendar]'")
        ) from None
    china = holidays.country_holidays("CN", years=year)
    days_off = sorted(d for d in china if d.year == year and d.weekday() in WEEKDAYS)
    workdays = sorted(d for d in getattr(china, "weekend_workdays", ()) if d.year == year)
    if not workdays:
        raise BadInputError(
            _(
                "the holidays library ({version}) lists no 调休 working days for {year}: the State Council's "
                "arrangement for that year is not in it yet; wait for a version that has it"
            ).format(version=holidays.__version__, year=year)
        )
    names = {d: china.get(d) for d in days_off}

    def dates(values: list[date], with_names: bool) -> str:
        rows = [f"    {d.isoformat()},{f'  # {names[d]}' if with_names else ''}" for d in values]
        return "[\n" + "\n".join(rows) + "\n]"

    return (
        f'[calendar."{year}"]\n'
        f'source = "holidays {holidays.__version__}, China (法定节假日与调休)"\n'
        f"days_off = {dates(days_off, True)}\n"
        f"workdays = {dates(workdays, False)}\n"
    )
