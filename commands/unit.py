"""``unit register``: a host organisation (承建单位)."""

from __future__ import annotations

from datetime import datetime

import click

from commands.context import action, record, today
from commands.grant import DATE
from ledger.actions import RegisterUnit
from ledger.unit import UNIT_KINDS


@click.group("unit")
def unit_group() -> None:
    """Host organisations (承建单位) that build bases."""


@unit_group.command("register")
@click.argument("unit_id")
@click.option("--name", required=True, help="the unit's full name, e.g. 重庆市渝中职业教育中心")
@click.option(
    "--kind",
    type=click.Choice(UNIT_KINDS),
    default="technical_school",
    show_default=True,
    help="kind of organisation (an institute rests on a senior_technical_school or a "
    "technician_college, one being set up included — 000 第三条)",
)
@click.option(
    "--national-institute",
    is_flag=True,
    help="the unit already has a national institute (国家级技工院校职业训练院): it may not hold a "
    "municipal one (000 第十二条)",
)
@click.option("--date", "on", type=DATE, help="business date (default today)")
def register_command(
    unit_id: str, name: str, kind: str, national_institute: bool, on: datetime | None
) -> None:
    """Register a host unit.

    \b
    Example:
      grant-ledger unit register U-YZ-001 --name 重庆市渝中职业教育中心 --kind technical_school
    """
    record(
        action(
            RegisterUnit,
            unit_id=unit_id,
            unit_name=name,
            kind=kind,
            national_institute=national_institute,
            on=on.date() if on else today(),
        )
    )


def register(cli: click.Group) -> None:
    cli.add_command(unit_group)
