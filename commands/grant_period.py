"""``grant extend``: a later end of a grant's build period, approved by its own document.

The programme fixes the build period at approval (003 第三条, 002 六: two years); an extension is
an approver's act with the document that grants it, and spending is judged by the period it sets."""

from __future__ import annotations

from datetime import datetime

import click

from commands.context import action, record
from commands.dates import DATE, dated
from commands.grant import grant_group
from ledger.actions import Extend


@grant_group.command("extend")
@click.argument("grant_id")
@click.option("--end", type=DATE, required=True, help="the build period's new end")
@click.option("--document", required=True, help="the document that grants the extension")
@click.option("--date", "on", type=DATE, help="business date of the extension (default today)")
def extend_command(grant_id: str, end: datetime, document: str, on: datetime | None) -> None:
    """Extend a grant's build period (an approver's act).

    \b
    Example:
      grant-ledger --role approver grant extend G-YZ-2024-01 --end 2026-09-30 \\
          --document 渝中人社〔2026〕7号 --date 2026-03-01
    """
    record(action(Extend, grant_id=grant_id, build_end=end.date(), document=document, on=dated(on)))


def register(cli: click.Group) -> None:
    """The command joins the ``grant`` group when this module is imported."""
