"""Oversight and end of life: ``output report``, ``evaluate``, ``rectify order|complete``,
``dossier add``, ``recover order|receive``, ``dispose``. (``grant close`` is in commands/grant.py.)"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import click

from commands.choices import Named
from commands.context import action, record
from commands.dates import DATE, dated
from commands.i18n import _
from ledger.actions import (
    AddToDossier,
    CompleteRectification,
    Dispose,
    Evaluate,
    OrderRecovery,
    OrderRectification,
    ReceiveRecovery,
    ReportOutput,
)
from ledger.errors import BadInputError
from ledger.grant import DISPOSALS, DOSSIER_KINDS, EVALUATION_KINDS, EVALUATION_RESULTS


@click.group("output")
def output_group() -> None:
    """Outputs a base reports against its programme's targets."""


@output_group.command("report")
@click.argument("grant_id")
@click.option("--year", type=click.IntRange(2000, 2100), help="the year reported")
@click.option(
    "--corrects",
    type=click.IntRange(2000, 2100),
    help="the year whose earlier report this one replaces (a correction, its own event)",
)
@click.option("--trainees", type=click.IntRange(min=0), required=True, help="people trained (人次)")
@click.option("--advanced", type=click.IntRange(min=0), default=0, help="of them at 高级工 level or above")
@click.option("--evaluations", type=click.IntRange(min=0), default=0, help="skill evaluations (技能评价)")
@click.option("--advanced-evaluations", type=click.IntRange(min=0), default=0, help="of them 高级工 or above")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def output_report_command(
    grant_id: str,
    year: int | None,
    corrects: int | None,
    trainees: int,
    advanced: int,
    evaluations: int,
    advanced_evaluations: int,
    on: datetime | None,
) -> None:
    """Report a year's outputs (003 第六条、第十一条; 000 第五条、第九条). A year is reported
    once; a mistaken report is replaced by a correction (--corrects YEAR), recorded as its own
    event and shown in history.

    \b
    Examples:
      grant-ledger output report G1 --year 2024 --trainees 820 --advanced 180
      grant-ledger output report G1 --corrects 2024 --trainees 850 --advanced 180
    """
    if year is None and corrects is None:
        raise BadInputError(_("give the year reported with --year (or the year corrected with --corrects)"))
    if year is not None and corrects is not None and year != corrects:
        raise BadInputError(
            _("--year {year} and --corrects {corrects} name different years").format(
                year=year, corrects=corrects
            )
        )
    record(
        action(
            ReportOutput,
            grant_id=grant_id,
            year=year if year is not None else corrects,
            corrects=corrects is not None,
            trainees=trainees,
            advanced=advanced,
            evaluations=evaluations,
            advanced_evaluations=advanced_evaluations,
            on=dated(on),
        )
    )


@click.command("evaluate")
@click.argument("grant_id")
@click.option("--kind", type=click.Choice(EVALUATION_KINDS), required=True)
@click.option("--result", type=click.Choice(EVALUATION_RESULTS), required=True)
@click.option("--evaluator", default="", help="who evaluated (bureau, third-party auditor)")
@click.option("--summary", default="", help="in brief")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def evaluate_command(
    grant_id: str, kind: str, result: str, evaluator: str, summary: str, on: datetime | None
) -> None:
    """Record an evaluation: mid_term, final, third_party_audit or performance (003 第十三条,
    000 第十五条); result pass, rectify or fail.

    \b
    Example:
      grant-ledger --role approver evaluate G1 --kind mid_term --result rectify
    """
    record(
        action(
            Evaluate,
            grant_id=grant_id,
            kind=kind,
            result=result,
            evaluator=evaluator,
            summary=summary,
            on=dated(on),
        )
    )


@click.group("rectify")
def rectify_group() -> None:
    """Rectifications with deadlines (限期整改 — 003 第十三条, 000 第十五条)."""


@rectify_group.command("order")
@click.argument("grant_id")
@click.option("--ref", required=True, help="rectification reference, e.g. R1")
@click.option("--finding", required=True, help="what must be put right")
@click.option("--deadline", type=DATE, required=True, help="by when")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def rectify_order_command(
    grant_id: str, ref: str, finding: str, deadline: datetime, on: datetime | None
) -> None:
    """Order a rectification.

    \b
    Example:
      grant-ledger --role approver rectify order G1 --ref R1 --finding 台账不全 --deadline 2025-06-30
    """
    record(
        action(
            OrderRectification,
            grant_id=grant_id,
            ref=ref,
            finding=finding,
            deadline=deadline.date(),
            on=dated(on),
        )
    )


@rectify_group.command("complete")
@click.argument("grant_id")
@click.option("--ref", required=True, help="the rectification's reference")
@click.option("--note", default="", help="what was done")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def rectify_complete_command(grant_id: str, ref: str, note: str, on: datetime | None) -> None:
    """Record a rectification as completed.

    \b
    Example:
      grant-ledger rectify complete G1 --ref R1 --note 已补齐台账
    """
    record(action(CompleteRectification, grant_id=grant_id, ref=ref, note=note, on=dated(on)))


@click.group("dossier")
def dossier_group() -> None:
    """The base's dossier (专门档案 — 003 第十二条, 000 第十四条): titles and sha256, never files."""


@dossier_group.command("add")
@click.argument("grant_id")
@click.option("--kind", type=click.Choice(DOSSIER_KINDS), required=True)
@click.option("--title", required=True)
@click.option("--file", "path", required=True, help="the document; only its sha256 is recorded")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def dossier_add_command(grant_id: str, kind: str, title: str, path: str, on: datetime | None) -> None:
    """Record a dossier document by its sha256.

    \b
    Example:
      grant-ledger dossier add G1 --kind summary --title 2024年度工作总结 --file 总结.pdf
    """
    file = Path(path)
    if not file.is_file():
        msg = _("--file {path!r} is not a readable file").format(path=path)
        raise BadInputError(msg)
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    record(action(AddToDossier, grant_id=grant_id, kind=kind, title=title, sha256=digest, on=dated(on)))


@click.group("recover")
def recover_group() -> None:
    """Recovery of misused or unspent subsidy (the subsidy sub-ledger shrinks)."""


@recover_group.command("order")
@click.argument("grant_id")
@click.option("--amount", required=True)
@click.option("--reason", required=True)
@click.option("--document", required=True, help="the order's document number")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def recover_order_command(
    grant_id: str, amount: str, reason: str, document: str, on: datetime | None
) -> None:
    """Order subsidy returned.

    \b
    Example:
      grant-ledger --role approver recover order G1 --amount 5000 --reason 违规列支 --document 追-1
    """
    record(
        action(
            OrderRecovery, grant_id=grant_id, amount=amount, reason=reason, document=document, on=dated(on)
        )
    )


@recover_group.command("receive")
@click.argument("grant_id")
@click.option("--amount", required=True)
@click.option("--voucher", required=True)
@click.option("--date", "on", type=DATE, help="business date (default today)")
def recover_receive_command(grant_id: str, amount: str, voucher: str, on: datetime | None) -> None:
    """Record recovered subsidy returned to the treasury.

    \b
    Example:
      grant-ledger recover receive G1 --amount 5000 --voucher 缴-1
    """
    record(action(ReceiveRecovery, grant_id=grant_id, amount=amount, voucher=voucher, on=dated(on)))


@click.command("dispose")
@click.argument("grant_id")
@click.option("--source", type=Named("source", ["subsidy", "matching"]), required=True)
@click.option("--amount", required=True)
@click.option("--how", type=click.Choice(DISPOSALS), required=True)
@click.option("--approval", required=True, help="approval reference")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def dispose_command(
    grant_id: str, source: str, amount: str, how: str, approval: str, on: datetime | None
) -> None:
    """Dispose of a remaining balance: returned or carried forward, with an approval reference.

    \b
    Example:
      grant-ledger dispose G1 --source matching --amount 8000 --how carried_forward --approval 批-9
    """
    record(
        action(
            Dispose,
            grant_id=grant_id,
            source=source,
            amount=amount,
            how=how,
            approval=approval,
            on=dated(on),
        )
    )


def register(cli: click.Group) -> None:
    for command in (
        output_group,
        evaluate_command,
        rectify_group,
        dossier_group,
        recover_group,
        dispose_command,
    ):
        cli.add_command(command)
