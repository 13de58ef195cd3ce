"""``projections status|rebuild|verify``: how far each read model is behind, rebuilding one, and
checking every one against the events."""

from __future__ import annotations

import click

from commands.context import settings
from commands.i18n import _
from commands.progress import progress
from ledger.errors import NotFoundError, VerificationError


@click.group("projections")
def projections_group() -> None:
    """The read models (projections) that reports read: their position, and rebuilding them.

    \b
    Examples:
      grant-ledger projections status
      grant-ledger projections rebuild balances
      grant-ledger projections verify
    """


@projections_group.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def status_command(fmt: str) -> None:
    """Each projection's version and position against the store's head. A projection another
    version of grant-ledger wrote stands at 0 here until the next command rebuilds it."""
    from commands.json_output import to_json
    from commands.output import table
    from commands.registry import projection_names
    from projections.names import VERSIONS
    from projections.status import head, positions

    s = settings()
    engine = s.engine()
    top = head(engine)
    rows = [
        [name, VERSIONS[name], position, top, top - position]
        for name, position in positions(engine, projection_names()).items()
    ]
    if fmt == "json":
        keys = ["name", "version", "position", "head", "behind"]
        click.echo(to_json([dict(zip(keys, r, strict=True)) for r in rows]))
        return
    headers = [_("projection"), _("version"), _("position"), _("head"), _("behind")]
    click.echo(table(headers, rows, numeric={1, 2, 3, 4}))


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
        msg = _("there is no projection {name!r}; the projections are: {known}").format(
            name=name, known=known
        )
        raise NotFoundError(msg)
    total = head(app.engine)
    label = _("rebuilding {names}").format(names=", ".join(p.name for p in chosen))
    with progress(total, label) as step:
        done = rebuild_all(app, chosen, progress=step)
    for projection in chosen:
        click.echo(_("rebuilt {name} from {count} events").format(name=projection.name, count=done))


@projections_group.command("verify")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="list at most this many differences (0: all)",
)
def verify_command(limit: int) -> None:
    """Recompute every read model from the events (as a rebuild does, into a scratch database)
    and compare it with the stored one, row by row; list each difference (table, key, column,
    stored and recomputed values) and exit 6 if there is any. The stored read models are left as
    they are: `projections rebuild` replaces them.

    \b
    Examples:
      grant-ledger projections verify
      grant-ledger --role auditor projections verify --limit 20
    """
    from commands.output import table
    from commands.registry import all_projections
    from projections.status import head
    from projections.verify import verify

    s = settings()
    s.ensure_current()
    app = s.ledger()
    label = _("recomputing the read models")
    with progress(head(app.engine), label) as step:
        verdict = verify(app, all_projections(), progress=step, limit=limit)
    if not verdict.differences:
        click.echo(_("all read models agree with the {count} events").format(count=verdict.events))
        return
    headers = [_("table"), _("key"), _("column"), _("stored"), _("recomputed")]
    rows = [[d.table, d.key, d.column, d.stored, d.recomputed] for d in verdict.differences]
    click.echo(table(headers, rows))
    count = len(verdict.differences) + verdict.more
    tables = ", ".join(sorted({d.table for d in verdict.differences}))
    if verdict.more:
        msg = _(
            "{count} differences between the read models ({tables}) and what the {events} events make of "
            "them (the first {listed} listed); `grant-ledger projections rebuild` recomputes them"
        ).format(count=count, tables=tables, events=verdict.events, listed=len(verdict.differences))
    else:
        msg = _(
            "{count} differences between the read models ({tables}) and what the {events} events make of "
            "them; `grant-ledger projections rebuild` recomputes them"
        ).format(count=count, tables=tables, events=verdict.events)
    raise VerificationError(msg)


def register(cli: click.Group) -> None:
    cli.add_command(projections_group)
