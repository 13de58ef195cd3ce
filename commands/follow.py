"""``projections follow``: keep the read models current while the store grows, for long work.

On PostgreSQL it follows the store live: eventsourcing's ``subscribe()`` (LISTEN/NOTIFY through
eventsourcing-sqlalchemy) wakes it at each stored event. On SQLite, which has no subscribe(), it
polls. Either way every batch goes through the catch-up runner, so an event is counted once even
when commands and other followers catch up at the same time.
"""

from __future__ import annotations

import signal
import threading

import click

from commands.context import catch_up_as_told, settings
from commands.i18n import _


@click.command("follow")
@click.option(
    "--interval",
    type=click.FloatRange(0.05, 3600),
    default=1.0,
    show_default=True,
    help="SQLite: seconds between polls (PostgreSQL is woken by each new event)",
)
@click.option(
    "--max-seconds",
    type=click.FloatRange(0, 10**7),
    default=None,
    help="stop after this many seconds (default: run until interrupted)",
)
def follow_command(interval: float, max_seconds: float | None) -> None:
    """Follow the store and keep every projection current (live on PostgreSQL).

    \b
    Examples:
      grant-ledger --db postgresql+psycopg://officer@db/ledger projections follow
      grant-ledger projections follow --interval 5        # SQLite: poll every 5 s
    """
    from commands.registry import all_projections
    from projections.status import head

    s = settings()
    app = s.ledger()
    chosen = all_projections()
    catch_up_as_told(app, chosen)
    live = app.engine.dialect.name == "postgresql"
    if live:
        following = _("following the store live (LISTEN/NOTIFY); projections at event {head}")
    else:
        following = _("following the store, polling every {interval} s; projections at event {head}")
    click.echo(following.format(interval=f"{interval:g}", head=head(app.engine)), err=False)
    stop = threading.Event()
    # Installed explicitly: a process started in the background inherits SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_args: stop.set())
    if max_seconds is not None:
        timer = threading.Timer(max_seconds, stop.set)
        timer.daemon = True
        timer.start()
    try:
        if live:
            with app.recorder.subscribe(gt=head(app.engine)) as subscription:

                def stop_when_told() -> None:
                    stop.wait()
                    subscription.stop()

                threading.Thread(target=stop_when_told, daemon=True).start()
                for _notification in subscription:  # wakes at each new stored event
                    _report(catch_up_as_told(app, chosen), app)
                    if stop.is_set():
                        break
        else:
            while not stop.wait(interval):
                _report(catch_up_as_told(app, chosen), app)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
    click.echo(_("stopped following; projections are current up to the last event seen"))


def _report(done: int, app: object) -> None:
    if done:
        from projections.status import head

        at = head(app.engine)  # type: ignore[attr-defined]
        click.echo(_("projected {count} events; at event {head}").format(count=done, head=at))


def register(cli: click.Group) -> None:
    group = cli.commands.get("projections")
    if isinstance(group, click.Group):
        group.add_command(follow_command)
    else:  # pragma: no cover - when the projections group is not there
        cli.add_command(follow_command)
