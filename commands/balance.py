"""``balance``: per base and grant, what each fund source received, spent and has left."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from commands.reading import TERMINAL_WIDTH, emit, engine_for_reading, parse_moment, read_options
from commands.totals import Totals
from ledger.errors import BadInputError, NotFoundError

__all__ = ["balance_command", "parse_moment", "register"]

HEADERS = {
    "zh": [
        "基地",
        "项目编号",
        "基地名称",
        "类型",
        "状态",
        "批复补助",
        "补助到位",
        "补助支出",
        "补助结余",
        "配套承诺",
        "配套到位",
        "配套支出",
        "配套结余",
        "执行率%",
        "补助追回",
        "补助结余处置",
        "配套结余处置",
    ],
    "en": [
        "base",
        "grant",
        "name",
        "programme",
        "status",
        "subsidy approved",
        "subsidy received",
        "subsidy spent",
        "subsidy available",
        "matching committed",
        "matching received",
        "matching spent",
        "matching available",
        "execution %",
        "subsidy recovered",
        "subsidy disposed",
        "matching disposed",
    ],
}
KEYS = [
    "base_id",
    "grant_id",
    "base_name",
    "programme",
    "status",
    "subsidy_approved",
    "subsidy_received",
    "subsidy_spent",
    "subsidy_available",
    "matching_committed",
    "matching_received",
    "matching_spent",
    "matching_available",
    "execution_rate",
    "subsidy_recovered",  # returned on a recovery order (recover receive)
    "subsidy_disposed",  # remaining balances returned or carried forward (dispose)
    "matching_disposed",
]
TOTALS = Totals(
    sums=tuple(k for k in KEYS[5:] if k != "execution_rate"),
    rates={
        "execution_rate": (("subsidy_spent", "matching_spent"), ("subsidy_received", "matching_received"))
    },
)

# the table's columns by default, most wanted first: as many as fit TERMINAL_WIDTH are shown
FIT = (
    "base_id",
    "grant_id",
    "subsidy_received",
    "subsidy_spent",
    "subsidy_available",
    "execution_rate",
    "matching_received",
    "matching_spent",
    "matching_available",
    "subsidy_approved",
    "matching_committed",
    "status",
    "programme",
    "subsidy_recovered",
    "subsidy_disposed",
    "matching_disposed",
)


def chosen_columns(text: str) -> list[str]:
    """--columns: keys or headers (Chinese or English), comma-separated, in the order given."""
    by_name = {
        name.casefold(): key
        for names in (KEYS, *HEADERS.values())
        for name, key in zip(names, KEYS, strict=True)
    }
    chosen = []
    for name in (n.strip() for n in text.replace("，", ",").split(",")):
        key = by_name.get(name.casefold())
        if key is None:
            valid = ", ".join(f"{k} ({h})" for k, h in zip(KEYS, HEADERS["zh"], strict=True))
            raise BadInputError(f"--columns: no column {name!r}; the columns are {valid}")
        if key not in chosen:
            chosen.append(key)
    return chosen


@click.command("balance")
@click.argument("base_ids", nargs=-1)
@read_options()
@click.option(
    "--columns",
    "columns_text",
    metavar="A,B,…",
    help="the columns to show, by key or header (base_id,补助支出,…), in every format; "
    f"by default the table shows as many as fit {TERMINAL_WIDTH} columns of terminal",
)
def balance_command(
    base_ids: tuple[str, ...],
    as_of: datetime | None,
    known_at: str | None,
    fmt: str,
    output: Path | None,
    columns_text: str | None,
) -> None:
    """Balances per base: subsidy approved / received / spent / available, matching
    committed / received / spent / available, and the execution rate (spent ÷ received);
    then subsidy recovered and balances disposed of, which the available figures already deduct.

    --as-of DATE gives the books as of a business date; --known-at TIMESTAMP what the ledger knew
    at that moment (events recorded later are left out, a late reversal included).

    \b
    Examples:
      grant-ledger balance
      grant-ledger balance B0001 B0002 --format json
      grant-ledger balance --as-of 2024-06-30 --known-at 2024-07-05T18:00:00
      grant-ledger balance --columns base_id,补助到位,补助支出,执行率%
      grant-ledger balance --format xlsx --output 余额表.xlsx
    """
    from commands.context import settings
    from commands.workbook import Chart

    lang = settings().lang
    columns = chosen_columns(columns_text) if columns_text is not None else None
    moment = parse_moment(known_at) if known_at else None
    found = None
    if as_of is None and moment is None:
        from projections.quick import current_balances

        found = current_balances(settings().url, base_ids)
    if found is None:
        from projections.queries import balances

        found = balances(engine_for_reading(), base_ids, as_of.date() if as_of else None, moment)
    missing = sorted(set(base_ids) - {b.base_id for b in found})
    if missing:
        from commands.i18n import _

        msg = _("no grant for base {bases} in the ledger").format(bases=", ".join(missing))
        raise NotFoundError(msg)
    rows = [
        [
            b.base_id,
            b.grant_id,
            b.base_name,
            b.programme,
            b.status,
            b.approved,
            b.subsidy_received,
            b.subsidy_spent,
            b.subsidy_available,
            b.matching_committed,
            b.matching_received,
            b.matching_spent,
            b.matching_available,
            b.execution_rate,
            b.subsidy_recovered,
            b.subsidy_disposed,
            b.matching_disposed,
        ]
        for b in found
    ]
    emit(
        title={"zh": "余额表", "en": "balances"},
        keys=KEYS,
        headers=HEADERS,
        rows=rows,
        fmt=fmt,
        output=output,
        empty={"zh": "账中尚无项目。", "en": "no grants in the ledger yet"},
        columns=columns,
        fit=FIT if columns is None else None,  # the name column is long: JSON/CSV/xlsx carry it
        report_date=as_of.date() if as_of else None,
        chart=Chart(
            {"zh": "各基地执行率（支出÷到位）", "en": "execution rate per base (spent ÷ received)"}[lang],
            label="base_id",
            series=("execution_rate",),
            percent=True,
        ),
        totals=TOTALS,
    )


def register(cli: click.Group) -> None:
    cli.add_command(balance_command)
