"""``report categories``: spent per category × fund source × construction content, per base."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from commands.reading import bases_named, emit, engine_for_reading, period_options, read_options, when
from commands.totals import Totals

KEYS = ["base_id", "grant_id", "category", "category_label", "source", "content", "spent", "entries"]
HEADERS = {
    "zh": ["基地", "项目编号", "类别", "支出类别", "资金来源", "建设内容", "支出", "笔数"],
    "en": ["base", "grant", "category", "label", "source", "content", "spent", "entries"],
}
SOURCE_LABEL = {"zh": {"subsidy": "财政补助", "matching": "配套经费"}, "en": {}}
TOTALS = Totals(("spent",), counts=("entries",))


@click.command("categories")
@click.argument("base_ids", nargs=-1)
@read_options()
@period_options
def categories_command(
    base_ids: tuple[str, ...], as_of: datetime | None, known_at: str | None, fmt: str, output: Path | None
) -> None:
    """Spending per base × category × fund source × construction content (net of reversals);
    over a period (--from, --to), the spending dated within it."""
    from commands.chart import Chart
    from commands.context import settings
    from ledger.policy import current_policy
    from projections.reports import categories

    lang = settings().lang
    w = when(as_of, known_at)
    engine = engine_for_reading()
    policy = current_policy()
    lines = categories(
        engine, bases_named(engine, base_ids, w.as_of, w.known_at), w.as_of, w.known_at, w.since
    )
    rows = []
    for line in lines:
        found = policy.find_category(line.category) if line.category else None
        label = found.label(lang) if found is not None else line.category
        source = SOURCE_LABEL[lang].get(line.source, line.source) if fmt == "table" else line.source
        rows.append(
            [line.base_id, line.grant_id, line.category, label, source, line.content, line.spent, line.count]
        )
    emit(
        title={"zh": "支出分类", "en": "categories"},
        keys=KEYS,
        headers=HEADERS,
        rows=rows,
        fmt=fmt,
        output=output,
        hidden=(2,),
        report_date=w.as_of,
        since=w.since,
        chart=Chart(
            {"zh": "各类别支出", "en": "spending by category"}[lang],
            label="category_label",
            series=("spent",),
            y_title={"zh": "元", "en": "yuan"}[lang],
        ),
        totals=TOTALS,
    )


def register(group: click.Group) -> None:
    group.add_command(categories_command)
