"""``report``: the report group. Each report lives in its own module and adds itself here."""

from __future__ import annotations

import click


@click.group("report")
def report_group() -> None:
    """Reports per base from the projections (never a replay of the store).

    \b
    Examples:
      grant-ledger report findings --format json
    """


def register(cli: click.Group) -> None:
    cli.add_command(report_group)
