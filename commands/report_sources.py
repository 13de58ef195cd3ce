"""``report sources``: per base and fund source, planned, received, spent and available."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from commands.reading import bases_named, emit, engine_for_reading, read_options, when
from commands.totals import Totals

KEYS = ["base_id", "grant_id", "source", "planned", "received", "spent", "available", "execution_rate"]
HEADERS = {
    "zh": ["基地", "项目编号", "资金来源", "批复/承诺", "到位", "支出", "结余", "执行率%"],
    "en": ["base", "grant", "source", "approved/committed", "received", "spent", "available", "execution %"],
}
SOURCE_LABEL = {"subsidy": "财政补助", "matching": "配套经费"}
TOTALS = Totals(
    ("planned", "received", "spent", "available"), rates={"execution_rate": (("spent",), ("received",))}
)


@click.command("sources")
@click.argument("base_ids", nargs=-1)
@read_options()
def sources_command(
    base_ids: tuple[str, ...], as_of: datetime | None, known_at: str | None, fmt: str, output: Path | None
) -> None:
    """Per base and fund source (subsidy 财政补助, matching 配套经费): approved or committed,
    received, spent, available and the execution rate (spent ÷ received)."""
    from commands.context import settings
    from projections.reports import sources

    zh = settings().lang == "zh" and fmt == "table"
    w = when(as_of, known_at)
    engine = engine_for_reading()
    rows = [
        [
            s.base_id,
            s.grant_id,
            SOURCE_LABEL.get(s.source, s.source) if zh else s.source,
            s.planned,
            s.received,
            s.spent,
            s.available,
            s.execution_rate,
        ]
        for s in sources(engine, bases_named(engine, base_ids), w.as_of, w.known_at)
    ]
    emit(
        title={"zh": "资金来源", "en": "sources"},
        keys=KEYS,
        headers=HEADERS,
        rows=rows,
        fmt=fmt,
        output=output,
        report_date=w.as_of,
        totals=TOTALS,
    )


def register(group: click.Group) -> None:
    group.add_command(sources_command)
