"""``history GRANT_ID``: every event of a grant in order, with running balances per fund source."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from commands.reading import emit, engine_for_reading, read_options, when
from ledger.errors import NotFoundError

KEYS = [
    "occurred_on",
    "recorded_at",
    "actor",
    "role",
    "kind",
    "source",
    "category",
    "voucher",
    "amount",
    "subsidy_balance",
    "matching_balance",
    "detail",
]
HEADERS = {
    "zh": [
        "业务日期",
        "记录时间",
        "记录人",
        "角色",
        "事项",
        "资金来源",
        "类别",
        "凭证号",
        "金额",
        "补助结余",
        "配套结余",
        "说明",
    ],
    "en": [
        "date",
        "recorded",
        "actor",
        "role",
        "kind",
        "source",
        "category",
        "voucher",
        "amount",
        "subsidy balance",
        "matching balance",
        "detail",
    ],
}


@click.command("history")
@click.argument("grant_id")
@read_options()
def history_command(
    grant_id: str, as_of: datetime | None, known_at: str | None, fmt: str, output: Path | None
) -> None:
    """Every event of a grant in the order recorded — application, recommendation, review,
    notice, approval, budget, money, outputs, evaluations, rectifications, dossier, recoveries,
    disposals, closure, and each correction — with its business date, recorded time, who recorded
    it (actor and role), amount, what it says, and the running balance of each fund source.

    \b
    Examples:
      grant-ledger history G-YZ-2024-01
      grant-ledger history G-YZ-2024-01 --known-at 2024-07-01T00:00:00 --format csv
    """
    from projections.reports import grant_exists, history

    engine = engine_for_reading(acts=True)
    if not grant_exists(engine, grant_id):
        from commands.i18n import _

        msg = _("grant {grant_id!r} is not in the ledger").format(grant_id=grant_id)
        raise NotFoundError(msg)
    w = when(as_of, known_at)
    rows = [
        [
            h.occurred_on,
            h.recorded_at.replace(microsecond=0) if fmt == "table" else h.recorded_at,
            h.actor,
            h.role,
            h.kind,
            h.source,
            h.category,
            h.voucher,
            h.amount,
            h.subsidy_balance,
            h.matching_balance,
            h.detail,
        ]
        for h in history(engine, grant_id, w.as_of, w.known_at)
    ]
    emit(
        title={"zh": "流水", "en": "history"},
        keys=KEYS,
        headers=HEADERS,
        rows=rows,
        fmt=fmt,
        output=output,
        named={"kind": "act"},
    )


def register(cli: click.Group) -> None:
    cli.add_command(history_command)
