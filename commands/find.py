"""``find VOUCHER``: which grant, and which stored event, hold a voucher."""

from __future__ import annotations

from pathlib import Path

import click

from commands.i18n import N_, _
from commands.reading import FORMATS, emit, engine_for_reading, file_options, format_by_name
from ledger.errors import NotFoundError

KEYS = ["event_id", "grant_id", "base_id", "occurred_on", "kind", "source", "amount", "actor"]
HEADERS = [
    N_("event"),
    N_("grant"),
    N_("base"),
    N_("date"),
    N_("act"),
    N_("source"),
    N_("amount"),
    N_("recorded by"),
]


@click.command("find")
@click.argument("voucher")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="write to this file")
@file_options
@format_by_name()
def find_command(voucher: str, fmt: str, output: Path | None) -> None:
    """Which grant and which stored event hold VOUCHER (a disbursement, matching receipt, spend,
    reversal, recovery or disposal voucher), in any grant; exit 4 if none does. The event id is
    the one `audit prove` takes.

    \b
    Examples:
      grant-ledger find 记-0101
      grant-ledger find 拨-001 --format json
    """
    from projections.reports import find_voucher

    found = find_voucher(engine_for_reading(), voucher.strip())
    if not found:
        raise NotFoundError(_("no grant holds voucher {voucher!r}").format(voucher=voucher))
    rows = [
        [f.event_id, f.grant_id, f.base_id, f.occurred_on, f.kind, f.source, f.amount, f.actor] for f in found
    ]
    emit(
        title=N_("voucher"),
        keys=KEYS,
        headers=HEADERS,
        rows=rows,
        fmt=fmt,
        output=output,
        named={"kind": "act"},
    )


def register(cli: click.Group) -> None:
    cli.add_command(find_command)
