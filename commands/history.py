"""``history GRANT_ID``: every event of a grant in order, with running balances per fund source."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from commands.dates import local_time
from commands.reading import bases_named, emit, engine_for_reading, read_options, when
from ledger.errors import NotFoundError, VerificationError

if TYPE_CHECKING:
    from ledger.provenance import Provenance

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
SIGNATURE_KEYS = ["signed_by", "key", "signature", "files"]
SIGNATURE_HEADERS = {
    "zh": ["签名人", "签名密钥", "签名核验", "附件 sha256"],
    "en": ["signed by", "key", "signature", "files (sha256)"],
}
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
@click.option(
    "--signatures",
    is_flag=True,
    help="check each event's signature against the store now, and show who signed it with which "
    "key and the sha256 of every file it records; exit 6 if any does not verify",
)
def history_command(
    grant_id: str,
    as_of: datetime | None,
    known_at: str | None,
    fmt: str,
    output: Path | None,
    signatures: bool,
) -> None:
    """Every event of a grant in the order recorded — application, recommendation, review,
    notice, approval, budget, money, outputs, evaluations, rectifications, dossier, recoveries,
    disposals, closure, and each correction — with its business date, recorded time, who recorded
    it (actor and role), amount, what it says, and the running balance of each fund source.

    \b
    Examples:
      grant-ledger history G-YZ-2024-01
      grant-ledger history G-YZ-2024-01 --known-at 2024-07-01T00:00:00 --format csv
      grant-ledger history G-YZ-2024-01 --signatures
    """
    from projections.reports import grant_exists, history

    engine = engine_for_reading(acts=True)
    if not grant_exists(engine, grant_id):
        from commands.i18n import _

        msg = _("grant {grant_id!r} is not in the ledger").format(grant_id=grant_id)
        raise NotFoundError(msg)
    w = when(as_of, known_at)
    bases_named(engine, [grant_id], w.as_of, w.known_at)  # not yet applied for, or recorded: exit 4
    lines = history(engine, grant_id, w.as_of, w.known_at)
    rows = [
        [
            h.occurred_on,
            local_time(h.recorded_at).replace(microsecond=0) if fmt == "table" else local_time(h.recorded_at),
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
        for h in lines
    ]
    keys, headers, broken = KEYS, HEADERS, 0
    if signatures:
        from commands.context import settings
        from ledger.provenance import provenance

        found = provenance(settings().ledger().trust, grant_id)
        for row, h in zip(rows, lines, strict=True):
            row.extend(signature_cells(found.get(h.event_id)))
        broken = sum(1 for h in lines if (p := found.get(h.event_id)) is None or p.problem is not None)
        keys = KEYS + SIGNATURE_KEYS
        headers = {lang: HEADERS[lang] + SIGNATURE_HEADERS[lang] for lang in HEADERS}
    emit(
        title={"zh": "流水", "en": "history"},
        keys=keys,
        headers=headers,
        rows=rows,
        fmt=fmt,
        output=output,
        named={"kind": "act"},
    )
    if broken:
        from commands.i18n import _

        raise VerificationError(
            _(
                "{count} event(s) of {grant_id} are not what their signers signed (column signature); "
                "the events table was changed below the application"
            ).format(count=broken, grant_id=grant_id)
        )


def signature_cells(found: Provenance | None) -> list[str]:
    """The signature columns of one history line: signer, key, what the check found, files."""
    from commands.i18n import _

    if found is None:
        return ["", "", _("not in the store"), ""]
    if found.problem is not None:
        verdict = found.problem
    elif found.adopted:
        verdict = _("adopted (recorded before signatures)")
    else:
        verdict = _("verified")
    return [found.signer, found.key, verdict, " ".join(found.files)]


def register(cli: click.Group) -> None:
    cli.add_command(history_command)
