"""``report sources``: per base and fund source, planned, received, spent and available."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from commands.reading import bases_named, emit, engine_for_reading, period_options, read_options, when
from commands.totals import Totals

KEYS = ["base_id", "grant_id", "source", "planned", "received", "spent", "available", "execution_rate"]
HEADERS = {
    "zh": ["基地", "项目编号", "资金来源", "批复/承诺", "到位", "支出", "结余", "执行率%"],
    "en": ["base", "grant", "source", "approved/committed", "received", "spent", "available", "execution %"],
}
SOURCE_LABEL = {"subsidy": "财政补助", "matching": "配套经费"}
TOTALS = Totals(
    ("opening", "planned", "received", "spent", "available"),
    rates={"execution_rate": (("spent",), ("received",))},
)
# over a period (--from): what each source held before it, its movements, what it holds at its end
PERIOD_KEYS = [*KEYS[:3], "opening", *KEYS[3:]]
PERIOD_HEADERS = {
    "zh": [*HEADERS["zh"][:3], "期初结余", *HEADERS["zh"][3:6], "期末结余", HEADERS["zh"][7]],
    "en": [*HEADERS["en"][:3], "opening", *HEADERS["en"][3:6], "closing", HEADERS["en"][7]],
}


@click.command("sources")
@click.argument("base_ids", nargs=-1)
@read_options()
@period_options
def sources_command(
    base_ids: tuple[str, ...], as_of: datetime | None, known_at: str | None, fmt: str, output: Path | None
) -> None:
    """Per base and fund source (subsidy 财政补助, matching 配套经费): approved or committed,
    received, spent, available and the execution rate (spent ÷ received). Over a period (--from,
    --to): each source's balance at its opening, the movements dated within it, and at its close.

    \b
    Examples:
      grant-ledger report sources --from 2024-01-01 --to 2024-12-31
    """
    from commands.context import settings
    from projections.reports import sources

    zh = settings().lang == "zh" and fmt == "table"
    w = when(as_of, known_at)
    engine = engine_for_reading()
    period = w.since is not None
    rows = [
        [
            s.base_id,
            s.grant_id,
            SOURCE_LABEL.get(s.source, s.source) if zh else s.source,
            *([s.opening] if period else []),
            s.planned,
            s.received,
            s.spent,
            s.available,
            s.execution_rate,
        ]
        for s in sources(
            engine, bases_named(engine, base_ids, w.as_of, w.known_at), w.as_of, w.known_at, w.since
        )
    ]
    emit(
        title={"zh": "资金来源", "en": "sources"},
        keys=PERIOD_KEYS if period else KEYS,
        headers=PERIOD_HEADERS if period else HEADERS,
        rows=rows,
        fmt=fmt,
        output=output,
        report_date=w.as_of,
        since=w.since,
        totals=TOTALS,
    )


def register(group: click.Group) -> None:
    group.add_command(sources_command)
