"""``balance``: per base and grant, what each fund source received, spent and has left."""

from __future__ import annotations

from datetime import datetime

import click

from commands.context import settings
from commands.output import table, to_csv, to_json
from ledger.errors import NotFoundError

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
]


def parse_moment(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a timestamp; write it like 2024-05-01T17:30:00 or 2024-05-01T09:30:00+00:00",
            param_hint="--known-at",
        ) from None


@click.command("balance")
@click.argument("base_ids", nargs=-1)
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), help="the books as of this business date")
@click.option("--known-at", help="what the ledger knew at this moment (ISO timestamp; naive times are local)")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True
)
def balance_command(
    base_ids: tuple[str, ...], as_of: datetime | None, known_at: str | None, fmt: str
) -> None:
    """Balances per base: subsidy approved / received / spent / available, matching
    committed / received / spent / available, and the execution rate (spent ÷ received).

    \b
    Examples:
      grant-ledger balance
      grant-ledger balance B0001 B0002 --format json
      grant-ledger balance --as-of 2024-06-30 --known-at 2024-07-05T18:00:00
    """
    from projections.queries import balances

    s = settings()
    moment = parse_moment(known_at) if known_at else None
    s.ensure_current()
    found = balances(s.engine(), base_ids, as_of.date() if as_of else None, moment)
    missing = sorted(set(base_ids) - {b.base_id for b in found})
    if missing:
        msg = f"no grant for base {', '.join(missing)} in the ledger"
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
        ]
        for b in found
    ]
    if fmt == "json":
        click.echo(to_json([dict(zip(KEYS, row, strict=True)) for row in rows]))
    elif fmt == "csv":
        click.echo(to_csv(KEYS, rows), nl=False)
    else:
        lang = s.lang
        if not rows:
            click.echo("账中尚无项目。" if lang == "zh" else "no grants in the ledger yet")
            return
        headers = HEADERS[lang]
        shown = [r[:2] + r[3:] for r in rows]  # the name column is long: JSON/CSV carry it
        click.echo(table(headers[:2] + headers[3:], shown, numeric=set(range(4, 13))))


def register(cli: click.Group) -> None:
    cli.add_command(balance_command)
