"""``grant apply|approve``: a grant's selection and approval."""

from __future__ import annotations

from datetime import datetime

import click

from commands.context import report, settings, today
from commands.models import GrantApply, GrantApprove, validate

DATE = click.DateTime(["%Y-%m-%d"])


def _day(value: datetime | None) -> object:
    return value.date() if value else today()


@click.group("grant")
def grant_group() -> None:
    """A base's grant: application, approval and the rest of its life."""


@grant_group.command("apply")
@click.argument("grant_id")
@click.option("--unit", "unit_id", required=True, help="host unit id (registered first)")
@click.option("--base", "base_id", required=True, help="base id, e.g. B0001")
@click.option("--base-name", default="", help="the base's name, e.g. 渝中区数字技能高技能人才培训基地")
@click.option("--programme", required=True, help="programme code (see `grant-ledger policy show`)")
@click.option(
    "--project",
    "projects",
    multiple=True,
    help="a profession or project (repeat: 1–2 for a district base, 2–3 for an institute)",
)
@click.option("--amount", "requested", required=True, help="requested amount, e.g. 20万")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def apply_command(
    grant_id: str,
    unit_id: str,
    base_id: str,
    base_name: str,
    programme: str,
    projects: tuple[str, ...],
    requested: str,
    on: datetime | None,
) -> None:
    """Record a unit's application for a base under a programme.

    \b
    Example:
      grant-ledger grant apply G-YZ-2024-01 --unit U-YZ-001 --base B0001 \\
          --base-name 渝中区数字技能培训基地 --programme district_base \\
          --project 电工 --amount 20万 --date 2024-03-01
    """
    s = settings()
    cmd = validate(
        GrantApply,
        grant_id=grant_id,
        unit_id=unit_id,
        base_id=base_id,
        base_name=base_name,
        programme=programme,
        projects=list(projects),
        requested=requested,
        on=_day(on),
    )
    outcome = s.ledger().apply_grant(
        grant_id=cmd.grant_id,
        unit_id=cmd.unit_id,
        base_id=cmd.base_id,
        base_name=cmd.base_name,
        programme=cmd.programme,
        projects=cmd.projects,
        requested=cmd.requested,
        on=cmd.on,
        actor=s.actor,
        role=s.role,
    )
    s.catch_up()
    report(outcome)


@grant_group.command("approve")
@click.argument("grant_id")
@click.option("--amount", required=True, help="approved subsidy, e.g. 200000 or 20万")
@click.option("--document", required=True, help="approval document number, e.g. 渝中人社〔2024〕12号")
@click.option(
    "--body",
    "bodies",
    multiple=True,
    help="an approving body (repeat), e.g. --body 区人力社保局 --body 区财政局; "
    "default: the bodies the programme requires",
)
@click.option("--start", type=DATE, help="build period start (default: the approval date)")
@click.option("--end", type=DATE, help="build period end (default: start + the programme's years)")
@click.option("--date", "on", type=DATE, help="business date of the approval (default today)")
def approve_command(
    grant_id: str,
    amount: str,
    document: str,
    bodies: tuple[str, ...],
    start: datetime | None,
    end: datetime | None,
    on: datetime | None,
) -> None:
    """Approve a grant: amount, document number, approving bodies and build period.

    \b
    Example:
      grant-ledger --role approver grant approve G-YZ-2024-01 --amount 20万 \\
          --document 渝中人社〔2024〕12号 --date 2024-04-01
    """
    s = settings()
    ledger = s.ledger()
    if not bodies:
        from ledger.policy import policy_in_force

        grant = ledger.get_grant(grant_id.strip())
        bodies = policy_in_force(_day(on)).programme(grant.programme).approving_bodies  # type: ignore[arg-type]
    cmd = validate(
        GrantApprove,
        grant_id=grant_id,
        amount=amount,
        document=document,
        bodies=list(bodies),
        build_start=start.date() if start else None,
        build_end=end.date() if end else None,
        on=_day(on),
    )
    outcome = ledger.approve_grant(
        grant_id=cmd.grant_id,
        amount=cmd.amount,
        document=cmd.document,
        bodies=cmd.bodies,
        build_start=cmd.build_start,
        build_end=cmd.build_end,
        on=cmd.on,
        actor=s.actor,
        role=s.role,
    )
    s.catch_up()
    report(outcome)


def register(cli: click.Group) -> None:
    cli.add_command(grant_group)
