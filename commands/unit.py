"""``unit register|set-district|districts``: a host organisation (承建单位), and the district
(区县) it stands in."""

from __future__ import annotations

from datetime import datetime

import click

from commands.context import action, record, today
from commands.grant import DATE
from commands.i18n import _
from ledger.actions import RegisterUnit, SetUnitDistrict
from ledger.errors import BadInputError
from ledger.unit_kinds import UNIT_KINDS


def _typed(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An option typed empty is refused, not read as no district."""
    if value is not None and not value.strip():
        raise BadInputError(_("--district must not be empty; `grant-ledger unit districts` lists them"))
    return value


DISTRICT_HELP = (
    "the district (区县) it stands in: its 6-digit 行政区划代码 (500103) or its Chinese name "
    "(渝中区); `grant-ledger unit districts` lists them"
)


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
@click.option("--district", callback=_typed, help=DISTRICT_HELP)
@click.option("--date", "on", type=DATE, help="business date (default today)")
def register_command(
    unit_id: str,
    name: str,
    kind: str,
    national_institute: bool,
    district: str | None,
    on: datetime | None,
) -> None:
    """Register a host unit.

    \b
    Example:
      grant-ledger unit register U-YZ-001 --name 重庆市渝中职业教育中心 --kind technical_school \\
          --district 渝中区
    """
    record(
        action(
            RegisterUnit,
            unit_id=unit_id,
            unit_name=name,
            kind=kind,
            national_institute=national_institute,
            district=district,
            on=on.date() if on else today(),
        )
    )


@unit_group.command("set-district")
@click.argument("unit_id")
@click.option("--district", required=True, callback=_typed, help=DISTRICT_HELP)
@click.option("--date", "on", type=DATE, help="business date (default today)")
def set_district_command(unit_id: str, district: str, on: datetime | None) -> None:
    """Record the district of a unit already registered (one registered before districts were
    kept, or with a wrong one): an amendment of its own, signed as every record is; the
    registration stays as recorded.

    \b
    Example:
      grant-ledger unit set-district U-YZ-001 --district 500103
    """
    record(action(SetUnitDistrict, unit_id=unit_id, district=district, on=on.date() if on else today()))


@unit_group.command("districts")
def districts_command() -> None:
    """List Chongqing's 38 districts and counties (区县) a unit may stand in: code and name.

    \b
    Example:
      grant-ledger unit districts
    """
    from ledger.district import DISTRICTS
    from ledger.i18n import current

    lang = current()
    for d in DISTRICTS:
        click.echo(f"{d.code}  {d.zh}" if lang == "zh" else f"{d.code}  {d.zh}  {d.en}")


def register(cli: click.Group) -> None:
    cli.add_command(unit_group)
