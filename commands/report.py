"""``report``: the report group. Each report lives in its own module (``report_*.py``) and is
added here; the options every report shares and the one way they print are in ``commands.reading``.
"""

from __future__ import annotations

import click


@click.group("report")
def report_group() -> None:
    """Reports per base from the projections (never a replay of the store).

    Every report takes --format table|json|csv|xlsx (--output FILE for xlsx), --as-of DATE
    (the books as of a business date) and --known-at TIMESTAMP (what the ledger knew then); the
    money reports --from DATE --to DATE too (a period's movements, with opening and closing
    balances where a balance is shown), and end in a 合计 row.

    \b
    Examples:
      grant-ledger report categories --format xlsx --output 支出.xlsx
      grant-ledger report execution --as-of 2024-12-31
      grant-ledger report sources --from 2024-01-01 --to 2024-12-31
      grant-ledger report matching --known-at 2025-01-05T18:00:00 --format json
      grant-ledger report findings --format json
    """


def register(cli: click.Group) -> None:
    from commands import (
        history,
        projections_cmd,
        report_budget,
        report_categories,
        report_execution,
        report_matching,
        report_sources,
    )

    for module in (report_budget, report_categories, report_sources, report_execution, report_matching):
        module.register(report_group)
    cli.add_command(report_group)
    history.register(cli)
    projections_cmd.register(cli)
