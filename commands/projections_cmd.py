"""``projections status|rebuild``: how far each read model is behind, and rebuilding one."""

from __future__ import annotations

import sys

import click

from commands.context import settings
from ledger.errors import NotFoundError


@click.group("projections")
def projections_group() -> None:
    """The read models (projections) that reports read: their position, and rebuilding them.

    \b
    Examples:
      grant-ledger projections status
      grant-ledger projections rebuild balances
    """


@projections_group.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def status_command(fmt: str) -> None:
    """Each projection's position against the store's head."""
    from commands.output import table, to_json
    from commands.registry import projection_names
    from projections.status import head, positions

    s = settings()
    engine = s.engine()
    top = head(engine)
    rows = [
        [name, position, top, top - position]
        for name, position in positions(engine, projection_names()).items()
    ]
    if fmt == "json":
        keys = ["name", "position", "head", "behind"]
        click.echo(to_json([dict(zip(keys, r, strict=True)) for r in rows]))
        return
    headers = (
        ["投影", "位置", "事件总数", "落后"]
        if s.lang == "zh"
        else ["projection", "position", "head", "behind"]
    )
    click.echo(table(headers, rows, numeric={1, 2, 3}))


@projections_group.command("rebuild")
@click.argument("name", required=False)
def rebuild_command(name: str | None) -> None:
    """Rebuild a projection (or all) from scratch, atomically: readers see the old rows until the
    new ones are complete."""
    from commands.registry import all_projections
    from projections.rebuild import rebuild_all
    from projections.status import head

    s = settings()
    app = s.ledger()
    chosen = [p for p in all_projections() if name is None or p.name == name]
    if not chosen:
        known = ", ".join(p.name for p in all_projections())
        msg = f"there is no projection {name!r}; the projections are: {known}"
        raise NotFoundError(msg)
    total = head(app.engine)
    label = "rebuilding " + ", ".join(p.name for p in chosen)
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        done = rebuild_all(app, chosen, progress=bar.update)
    for projection in chosen:
        click.echo(f"rebuilt {projection.name} from {done} events")


def register(cli: click.Group) -> None:
    cli.add_command(projections_group)
