"""``report budget``: budget against actual (预算执行) per line of each grant's plan (表4-2)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from commands.reading import bases_named, emit, engine_for_reading, period_options, read_options, when
from commands.report_categories import SOURCE_LABEL
from commands.totals import Totals

KEYS = [
    "base_id",
    "grant_id",
    "content",
    "content_label",
    "source",
    "planned",
    "spent",
    "remaining",
    "rate",
]
HEADERS = {
    "zh": ["基地", "项目编号", "内容", "建设内容", "资金来源", "预算", "支出", "结余", "执行率%"],
    "en": [
        "base",
        "grant",
        "content",
        "construction content",
        "source",
        "planned",
        "spent",
        "remaining",
        "rate %",
    ],
}
# planned and remaining over the plan's lines, spent over all (outside the plan too); the rate is
# the plan's: spent on its lines over planned (spending outside it had made it 385.88%)
TOTALS = Totals(
    ("planned", "opening", "spent", "remaining"), rates={"rate": (("spent",), ("planned",))}, paired=("rate",)
)
# over a period (--from): what each line had left at its opening, spent within it, left at its close
PERIOD_KEYS = [*KEYS[:6], "opening", *KEYS[6:]]
PERIOD_HEADERS = {
    "zh": [*HEADERS["zh"][:6], "期初结余", "本期支出", "期末结余", "本期执行率%"],
    "en": [*HEADERS["en"][:6], "opening", "spent in the period", "closing", "period rate %"],
}
OUTSIDE = {"zh": "（计划外）", "en": "(outside the plan)"}


@click.command("budget")
@click.argument("base_ids", nargs=-1)
@read_options()
@period_options
def budget_command(
    base_ids: tuple[str, ...], as_of: datetime | None, known_at: str | None, fmt: str, output: Path | None
) -> None:
    """Budget against actual (预算执行): each line of a grant's plan (construction content × fund
    source, 003 表4-2) planned, spent (net of reversals), remaining and the rate; spending on a
    line the plan does not have is listed with no plan. The plan is the one in force on --as-of
    (the grant's one `grant budget`, with each `grant adjust` dated by then). Over a period
    (--from, --to): what each line had left at its opening, the spending dated within it, what it
    has left at its close, and the period's spending as a share of the line.

    \b
    Examples:
      grant-ledger report budget
      grant-ledger report budget B0001 --as-of 2024-12-31
      grant-ledger report budget --from 2024-01-01 --to 2024-12-31
      grant-ledger report budget --format xlsx --output 预算执行.xlsx
    """
    from commands.chart import Chart
    from commands.context import settings
    from ledger.policy import current_policy
    from projections.budget import budget_against_actual

    lang = settings().lang
    contents = current_policy().contents
    w = when(as_of, known_at)
    rows = []
    engine = engine_for_reading(acts=True)
    period = w.since is not None
    for line in budget_against_actual(
        engine, bases_named(engine, base_ids, w.as_of, w.known_at), w.as_of, w.known_at, w.since
    ):
        known = contents.get(line.content)
        label = (known.zh if lang == "zh" else known.en) if known is not None else line.content
        if line.planned is None:
            label = f"{label}{OUTSIDE[lang]}"
        source = SOURCE_LABEL[lang].get(line.source, line.source) if fmt == "table" else line.source
        rows.append(
            [line.base_id, line.grant_id, line.content, label, source, line.planned,
             *([line.opening] if period else []), line.spent, line.remaining, line.rate]
        )  # fmt: skip
    emit(
        title={"zh": "预算执行", "en": "budget against actual"},
        keys=PERIOD_KEYS if period else KEYS,
        headers=PERIOD_HEADERS if period else HEADERS,
        rows=rows,
        fmt=fmt,
        output=output,
        empty={"zh": "没有登记预算或支出。", "en": "no budget plan or spending recorded"},
        hidden=(2,),
        report_date=w.as_of,
        since=w.since,
        chart=Chart(
            {"zh": "预算与支出", "en": "planned against spent"}[lang],
            label="content_label",
            series=("planned", "spent"),
            y_title={"zh": "元", "en": "yuan"}[lang],
        ),
        totals=TOTALS,
    )


def register(group: click.Group) -> None:
    group.add_command(budget_command)
