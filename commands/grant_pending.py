"""``grant pending``: what waits for an approver's act — the next step of each selection in
progress, and rectifications past their deadline."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from commands.grant import grant_group
from commands.i18n import N_, _
from commands.reading import bases_named, codes_wanted, emit, engine_for_reading, read_options, when

KEYS = ["base_id", "grant_id", "programme", "step", "since", "days", "detail"]
HEADERS = [N_("base"), N_("grant"), N_("programme"), N_("waits for"), N_("since"), N_("days"), N_("detail")]
# the act a grant waits for, by its code (json and --codes keep the code)
STEP_LABEL = {
    "recommend": N_("a recommendation"),
    "review": N_("the expert review"),
    "rereview_or_reject": N_("a new review or a rejection"),
    "notice": N_("the public notice"),
    "resolve_objections": N_("objections settled"),
    "approve": N_("the approval"),
    "rectification": N_("a rectification past its deadline"),
}


@grant_group.command("pending")
@click.argument("base_ids", nargs=-1)
@read_options(formats=("table", "json", "csv", "xlsx"))
def pending_command(
    base_ids: tuple[str, ...], as_of: datetime | None, known_at: str | None, fmt: str, output: Path | None
) -> None:
    """What waits for an approver's act, oldest first: a recommendation (municipal and national
    bases), the expert review, the public notice, objections to settle, the approval once the
    notice has run its course, and rectifications past their deadline. --as-of DATE: what waited
    on that day (default today, Asia/Shanghai); --known-at TIMESTAMP: as the ledger knew it at
    that moment (an act recorded later, even dated earlier, is not yet done: its step still
    waits).

    \b
    Examples:
      grant-ledger grant pending
      grant-ledger grant pending --as-of 2024-07-05 --known-at 2024-07-05T18:00:00
      grant-ledger grant pending --format xlsx --output 待办.xlsx
    """
    from ledger.clock import business_today
    from ledger.policy import current_policy
    from projections.pending import pending

    w = when(as_of, known_at)
    today = w.as_of or business_today()
    levels = {code: p.level for code, p in current_policy().programmes.items()}
    engine = engine_for_reading(acts=True)
    found = sorted(
        pending(engine, today, levels, bases_named(engine, base_ids, today, w.known_at), w.known_at),
        key=lambda p: (p.since or date.min, p.base_id, p.grant_id),
    )
    rows = [
        [
            p.base_id,
            p.grant_id,
            p.programme,
            _(STEP_LABEL[p.step])
            if p.step in STEP_LABEL and fmt != "json" and not codes_wanted()
            else p.step,
            p.since,
            (today - p.since).days if p.since else None,
            p.detail,
        ]
        for p in found
    ]
    emit(
        title=N_("pending"),
        keys=KEYS,
        headers=HEADERS,
        rows=rows,
        fmt=fmt,
        output=output,
        empty=N_("nothing waits for an approver"),
        report_date=today,
    )


def register(cli: click.Group) -> None:
    """The command joins the ``grant`` group when this module is imported."""
