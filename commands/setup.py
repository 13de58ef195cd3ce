"""``init`` and ``info``: create the ledger, and say where it is and what it holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

from commands.context import settings
from ledger.database import describe_url


@click.command("init")
def init_command() -> None:
    """Create the ledger's tables, append-only triggers and read models. Only `init` creates a
    ledger: every other command on a database without one stops (exit 4) and names it. A SQLite
    file is created readable by its owner only (mode 0600). On PostgreSQL, run by the owner
    login: it also creates the group roles <database>_officer, _approver and _auditor (if
    missing and this login may) and grants them exactly what recording or reading needs.

    \b
    Examples:
      grant-ledger init
      grant-ledger --db /srv/ledger/books.db init
      grant-ledger --db postgresql+psycopg://ledger_owner@db/ledger init
    """
    from audit.log import ensure_records

    s = settings()
    s.create()
    s.ledger()
    s.catch_up()
    with s.engine().begin() as conn:  # the signed checkpoints' tables: records, made by the owner
        ensure_records(conn)
    _grant_groups(s.engine())
    click.echo(f"ledger ready at {describe_url(s.url)}")


def _grant_groups(engine: Engine) -> None:
    """On PostgreSQL, the group roles people log in through, and their privileges."""
    from ledger.pg_roles import APPROVER, AUDITOR, OFFICER, grant_groups

    with engine.begin() as conn:
        granted = grant_groups(conn)
    if granted is None:
        return
    names = ", ".join(granted.missing)
    if granted.missing:
        click.echo(
            f"note: the group roles {names} do not exist and this login may not create them; "
            "nothing was granted to them: create them (README, Roles on PostgreSQL) and run init again",
            err=True,
        )
        return
    officer, approver, auditor = (granted.roles[g] for g in (OFFICER, APPROVER, AUDITOR))
    click.echo(f"roles: {officer} and {approver} record, {auditor} reads; the tables stay this login's")
    if granted.others:
        held = "; ".join(
            f"{role}: {', '.join(privileges)} on {_few(tables)}"
            for role, (privileges, tables) in granted.others.items()
        )
        click.echo(
            f"note: other roles hold privileges on the ledger's tables ({held}); revoke them", err=True
        )
    if granted.owners:
        click.echo(
            f"note: {', '.join(granted.owners)} may act as this login, which owns the tables "
            "(and could lift their guards); revoke that membership",
            err=True,
        )


def _few(names: list[str]) -> str:
    return ", ".join(names) if len(names) <= 3 else f"{len(names)} tables ({', '.join(names[:2])}, …)"


@click.command("info")
def info_command() -> None:
    """Print the database in use, the event count and each projection's position.

    \b
    Example:
      grant-ledger info
    """
    from commands.registry import projection_names
    from projections.status import head, is_behind, positions, stored_head

    s = settings()
    click.echo(f"database: {describe_url(s.url)}")
    click.echo(f"actor:    {s.actor} ({s.role})")
    engine = s.engine()
    if is_behind(engine, projection_names()) and stored_head(engine) == 0:
        click.echo("events:   0 (not initialised: run `grant-ledger init`)")
        return
    click.echo(f"events:   {head(engine)} (last notification id)")
    for name, position in positions(engine, projection_names()).items():
        click.echo(f"projection {name}: at {position}")


def register(cli: click.Group) -> None:
    cli.add_command(init_command)
    cli.add_command(info_command)
