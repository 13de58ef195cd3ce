"""``report matching``: matching funds committed and received against what the programme asks."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import click

from commands.reading import bases_named, emit, engine_for_reading, period_options, read_options, when
from commands.totals import Totals

KEYS = [
    "base_id",
    "grant_id",
    "programme",
    "ratio",
    "approved",
    "subsidy_received",
    "required",
    "committed",
    "received",
    "committed_pct",
    "received_pct",
    "shortfall",
]
TOTALS = Totals(
    ("approved", "subsidy_received", "required", "committed", "received", "shortfall"),
    rates={"committed_pct": (("committed",), ("required",)), "received_pct": (("received",), ("required",))},
)
HEADERS = {
    "zh": [
        "基地",
        "项目编号",
        "类型",
        "配套比例",
        "批复补助",
        "补助到位",
        "应配套",
        "已承诺",
        "已到位",
        "承诺%",
        "到位%",
        "缺口",
    ],
    "en": [
        "base",
        "grant",
        "programme",
        "ratio",
        "subsidy approved",
        "subsidy received",
        "required",
        "committed",
        "received",
        "committed %",
        "received %",
        "shortfall",
    ],
}


@click.command("matching")
@click.argument("base_ids", nargs=-1)
@read_options()
@period_options
def matching_command(
    base_ids: tuple[str, ...], as_of: datetime | None, known_at: str | None, fmt: str, output: Path | None
) -> None:
    """Matching funds (配套经费) committed and received against the ratio the programme asks
    (1:1 of the approved subsidy for district bases and institutes, "原则上"). The shortfall is
    the matching received short of the ratio × the subsidy received: the figure of the 1:1
    finding in `report findings`. Over a period (--from, --to): the money of the movements
    dated within it. The ratio is the one of the policy in force on --as-of (or today)."""
    from commands.chart import Chart
    from commands.context import settings
    from ledger.clock import business_today
    from projections.judge import policy_on
    from projections.reports import matching

    w = when(as_of, known_at)
    engine = engine_for_reading()  # the installed policy versions loaded too
    ratios: dict[str, Decimal | None] = {  # as the version in force on the day, as the findings judge
        code: p.matching_ratio for code, p in policy_on(w.as_of or business_today()).programmes.items()
    }
    rows = [
        [
            m.base_id,
            m.grant_id,
            m.programme,
            f"1:{m.ratio.normalize()}" if m.ratio is not None else "",
            m.approved,
            m.subsidy_received,
            m.required,
            m.committed,
            m.received,
            m.committed_pct,
            m.received_pct,
            m.shortfall,
        ]
        for m in matching(
            engine, bases_named(engine, base_ids, w.as_of, w.known_at), w.as_of, w.known_at, ratios, w.since
        )
    ]
    emit(
        title={"zh": "配套资金", "en": "matching"},
        keys=KEYS,
        headers=HEADERS,
        rows=rows,
        fmt=fmt,
        output=output,
        report_date=w.as_of,
        since=w.since,
        chart=Chart(
            {"zh": "配套资金到位与1:1要求", "en": "matching received against the 1:1 requirement"}[
                settings().lang
            ],
            label="base_id",
            series=("required", "received"),
            y_title={"zh": "元", "en": "yuan"}[settings().lang],
        ),
        totals=TOTALS,
    )


def register(group: click.Group) -> None:
    group.add_command(matching_command)
