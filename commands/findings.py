"""``report findings``: the compliance warnings per base (not refusals)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from commands.reading import bases_named, emit, engine_for_reading, read_options, when
from commands.report import report_group

KEYS = ["base_id", "grant_id", "rule", "clause", "date", "message"]
HEADERS = {"zh": ["基地", "项目编号", "规则", "条款", "日期", "说明"], "en": KEYS}


@report_group.command("findings")
@click.argument("base_ids", nargs=-1)
@read_options()
def findings_command(
    base_ids: tuple[str, ...], as_of: datetime | None, known_at: str | None, fmt: str, output: Path | None
) -> None:
    """Findings per base: matching below 1:1 (003 第九条, 000 第十三条 "原则上"), yearly outputs
    below target (003 第六条、第十一条; 000 第五条、第九条), rectifications past their deadline,
    little spent late in the build period (≥75% of it gone, <50% of the money received spent),
    and stored events that break a rule of the policy in force on their date. --as-of DATE:
    deadlines judged on that day, from the events dated by then (default today); --known-at
    TIMESTAMP: as the ledger knew it then (a breach, a completion or a reversal recorded later is
    left out).

    \b
    Examples:
      grant-ledger report findings
      grant-ledger report findings B0001 --as-of 2025-12-31 --format json
      grant-ledger report findings --known-at 2025-07-01T09:00:00 --format csv --output 预警.csv
      grant-ledger report findings --format xlsx --output 预警.xlsx
    """
    from ledger.clock import business_today
    from projections.findings import findings

    w = when(as_of, known_at)
    day = w.as_of or business_today()
    engine = engine_for_reading(acts=True)
    named = bases_named(engine, base_ids, day, w.known_at)  # an unknown base: exit 4, as every report
    found = findings(engine, day, named, w.known_at)
    rows = [[f.base_id, f.grant_id, f.rule, f.clause, f.occurred_on, f.message] for f in found]
    emit(
        title={"zh": "预警", "en": "findings"},
        keys=KEYS,
        headers=HEADERS,
        rows=rows,
        fmt=fmt,
        output=output,
        empty={"zh": "无预警。", "en": "no findings"},
        report_date=day,
        named={"rule": "rule"},  # a rule's name in the reader's language; json and --codes: its code
    )


def register(cli: click.Group) -> None:
    """The command lives in the ``report`` group (added on import)."""
