"""``report execution``: 执行率 per base, spent ÷ received and ÷ approved, days left to build."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from commands.reading import bases_named, emit, engine_for_reading, period_options, read_options, when
from commands.totals import Totals

KEYS = [
    "base_id",
    "grant_id",
    "programme",
    "approved",
    "received",
    "spent",
    "of_received",
    "of_approved",
    "build_end",
    "days_left",
    "elapsed",
]
# build dates and time elapsed differ per base: no total
TOTALS = Totals(
    ("approved", "received", "spent"),
    rates={"of_received": (("spent",), ("received",)), "of_approved": (("spent",), ("approved",))},
)
HEADERS = {
    "zh": [
        "基地",
        "项目编号",
        "类型",
        "批复及承诺",
        "到位",
        "支出",
        "执行率(到位)%",
        "执行率(批复)%",
        "建设期止",
        "剩余天数",
        "建设期已过%",
    ],
    "en": [
        "base",
        "grant",
        "programme",
        "approved",
        "received",
        "spent",
        "of received %",
        "of approved %",
        "build ends",
        "days left",
        "build time elapsed %",
    ],
}


@click.command("execution")
@click.argument("base_ids", nargs=-1)
@read_options()
@period_options
def execution_command(
    base_ids: tuple[str, ...], as_of: datetime | None, known_at: str | None, fmt: str, output: Path | None
) -> None:
    """Execution rate (执行率) per base: spent ÷ received and spent ÷ approved (approved subsidy
    plus matching committed), both fund sources, and the days left in the build period (counted
    from --as-of, or today). Over a period (--from, --to): the money of the movements dated
    within it. With --as-of or --known-at, the build period as it stood then: an extension dated
    after that day, or recorded after that moment, is not yet in it.

    \b
    Examples:
      grant-ledger report execution --as-of 2025-12-31
      grant-ledger report execution B0001 --known-at 2026-03-01T09:00:00 --format json
    """
    from commands.chart import Chart
    from commands.context import settings
    from projections.reports import execution

    w = when(as_of, known_at)
    engine = engine_for_reading(acts=w.as_of is not None or w.known_at is not None)
    rows = [
        [
            e.base_id,
            e.grant_id,
            e.programme,
            e.approved,
            e.received,
            e.spent,
            e.of_received,
            e.of_approved,
            e.build_end,
            e.days_left,
            e.elapsed,
        ]
        for e in execution(
            engine, bases_named(engine, base_ids, w.as_of, w.known_at), w.as_of, w.known_at, since=w.since
        )
    ]
    emit(
        title={"zh": "执行率", "en": "execution"},
        keys=KEYS,
        headers=HEADERS,
        rows=rows,
        fmt=fmt,
        output=output,
        report_date=w.as_of,
        since=w.since,
        chart=Chart(
            {"zh": "执行率与建设期已过时间", "en": "execution rate against build time elapsed"}[
                settings().lang
            ],
            label="base_id",
            series=("of_received", "elapsed"),
            percent=True,
        ),
        totals=TOTALS,
    )


def register(group: click.Group) -> None:
    group.add_command(execution_command)
