"""``body add|list``: the registry of recommending and approving bodies (an administrator's)."""

from __future__ import annotations

from datetime import datetime

import click

from commands.context import action, record, settings, today
from commands.dates import DATE
from commands.i18n import N_, _
from commands.unit import _typed

KINDS = click.Choice(["district_bureau", "sector_authority", "municipal_bureau"])

# the list's column headers, by key
HEADERS = {
    "code": N_("code"),
    "name": N_("name"),
    "kind": N_("kind"),
    "duty": N_("duty"),
    "district": N_("district"),
    "on": N_("since"),
}


@click.group("body")
def body_group() -> None:
    """Recommending and approving bodies: each registered once, under one code.

    \b
    Examples:
      grant-ledger --key admin.key body add RS-YZ --name 渝中区人力社保局 --kind district_bureau --duty hr
      grant-ledger --key admin.key body add CZ-YZ --name 渝中区财政局 --kind district_bureau --duty finance
      grant-ledger body list
    """


@body_group.command("add")
@click.argument("code")
@click.option("--name", "body_name", required=True, help="the body's name, e.g. 渝中区人力社保局")
@click.option(
    "--kind", required=True, type=KINDS, help="district_bureau, sector_authority or municipal_bureau"
)
@click.option(
    "--duty",
    type=click.Choice(["hr", "finance", "sector"]),
    default=None,
    help="hr (人力社保) or finance (财政) for a bureau; a sector authority's is sector",
)
@click.option(
    "--district",
    callback=_typed,
    help="a district bureau's district (区县): its 行政区划代码 (500103) or Chinese name (渝中区); "
    "it then recommends and approves only the grants of units standing there",
)
@click.option("--date", "on", type=DATE, help="business date (default today)")
def add_command(
    code: str, body_name: str, kind: str, duty: str | None, district: str | None, on: datetime | None
) -> None:
    """Register a body under CODE (an administrator's act): recommendations and approvals name it.

    \b
    Example:
      grant-ledger --key admin.key body add RS-YZ --name 渝中区人力社保局 --kind district_bureau \\
          --duty hr --district 渝中区
    """
    from ledger.body_actions import AddBody

    if duty is None and kind != "sector_authority":
        raise click.UsageError(
            _("a {kind} needs --duty hr (人力社保) or --duty finance (财政)").format(kind=kind)
        )
    record(
        action(
            AddBody,
            code=code,
            body_name=body_name,
            kind=kind,
            duty=duty or "",
            district=district,
            on=on.date() if on else today(),
        )
    )


@body_group.command("list")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True
)
def list_command(fmt: str) -> None:
    """Every registered body: code, name, kind, duty, a district bureau's district, since when.

    \b
    Example:
      grant-ledger body list --format json
    """
    from eventsourcing.application import AggregateNotFoundError

    from commands.json_output import to_json
    from commands.output import table, to_csv
    from ledger.bodies import BODIES_ID

    try:
        bodies = settings().ledger().load(BODIES_ID)
        known = sorted(bodies.known.values(), key=lambda b: b["code"])
    except AggregateNotFoundError:
        known = []
    from ledger.district import district_name

    headers = ["code", "name", "kind", "duty", "district", "on"]
    rows = [
        [b["code"], b["name"], b["kind"], b["duty"], district_name(b.get("district") or None), b["on"]]
        for b in known
    ]
    if fmt == "json":
        click.echo(to_json([dict(zip(headers, row, strict=True)) for row in rows]))
    elif fmt == "csv":
        click.echo(to_csv(headers, rows), nl=False)
    elif not rows:
        click.echo(_("no body is registered; an administrator adds one with `grant-ledger body add`"))
    else:
        click.echo(table([_(HEADERS[h]) for h in headers], rows))


def register(cli: click.Group) -> None:
    cli.add_command(body_group)
