"""The money commands: ``disburse``, ``match commit|receive``, ``spend``, ``reverse``."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from commands.choices import Named, named
from commands.context import action, record
from commands.dates import DATE, dated
from commands.i18n import _
from ledger.errors import BadInputError
from ledger.money import format_yuan
from ledger.money_actions import CommitMatching, Disburse, ReceiveMatching, Reverse, Spend

if TYPE_CHECKING:
    from ledger.application import Outcome


def _available(outcome: Outcome) -> str:
    """The grant's balances after the command (the state it saved: no second load)."""
    grant = outcome.grant
    assert grant is not None
    return _("available: subsidy {subsidy}, matching {matching}").format(
        subsidy=format_yuan(grant.available("subsidy")), matching=format_yuan(grant.available("matching"))
    )


@click.command("disburse")
@click.argument("grant_id")
@click.option("--amount", required=True, help="tranche amount, e.g. 10万 or 100,000.00")
@click.option("--voucher", required=True, help="voucher number (unique per grant)")
@click.option("--tranche", default="1", show_default=True, help="tranche number")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def disburse_command(grant_id: str, amount: str, voucher: str, tranche: str, on: datetime | None) -> None:
    """Record a subsidy tranche received by the grant (财政补助拨付).

    \b
    Example:
      grant-ledger disburse G-YZ-2024-01 --amount 10万 --tranche 1 --voucher 拨-2024-001 \\
          --date 2024-04-15
    """
    record(
        action(Disburse, grant_id=grant_id, amount=amount, voucher=voucher, tranche=tranche, on=dated(on)),
        _available,
    )


@click.group("match")
def match_group() -> None:
    """Matching funds (配套经费): commitments and receipts."""


@match_group.command("commit")
@click.argument("grant_id")
@click.option("--amount", required=True, help="amount committed, e.g. 20万")
@click.option("--funder", required=True, help="who commits, e.g. the host unit or sector authority")
@click.option("--voucher", required=True, help="commitment document or voucher number")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def match_commit_command(grant_id: str, amount: str, funder: str, voucher: str, on: datetime | None) -> None:
    """Record a matching-fund commitment.

    \b
    Example:
      grant-ledger match commit G-YZ-2024-01 --amount 20万 --funder 重庆市渝中职业教育中心 \\
          --voucher 配承-001
    """
    record(
        action(CommitMatching, grant_id=grant_id, amount=amount, funder=funder, voucher=voucher, on=dated(on))
    )


@match_group.command("receive")
@click.argument("grant_id")
@click.option("--amount", required=True, help="amount received, e.g. 10万")
@click.option("--voucher", required=True, help="receipt voucher number")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def match_receive_command(grant_id: str, amount: str, voucher: str, on: datetime | None) -> None:
    """Record matching funds received into the grant's matching sub-ledger.

    \b
    Example:
      grant-ledger match receive G-YZ-2024-01 --amount 10万 --voucher 配收-001
    """
    record(
        action(ReceiveMatching, grant_id=grant_id, amount=amount, voucher=voucher, on=dated(on)), _available
    )


def _sha256_files(paths: tuple[str, ...]) -> list[str]:
    digests = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            msg = _("--attachment {name!r} is not a readable file").format(name=name)
            raise BadInputError(msg)
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    return digests


@click.command("spend")
@click.argument("grant_id")
@click.option("--amount", required=True, help="amount spent, e.g. 3.5万 or 35,000.00")
@click.option(
    "--category",
    required=True,
    help="spending category by code or Chinese label, from the grant's programme's own list "
    "(policy show), e.g. equipment or 实训设备购置、改造与维护",
)
@click.option(
    "--source",
    type=Named("source", ["subsidy", "matching"]),
    default="subsidy",
    show_default=True,
    help="fund source: subsidy (财政补助) or matching (配套经费)",
)
@click.option("--voucher", required=True, help="accounting voucher number (unique per grant)")
@click.option(
    "--content",
    default="",
    callback=named("content"),
    help="construction content (003 表4-2): training_system, cooperation or patterns, or its Chinese "
    "name; required once the grant has a budget plan (grant budget)",
)
@click.option("--project", default="", help="profession or project the spending serves")
@click.option("--payee", default="", help="who was paid")
@click.option("--memo", default="", help="free text")
@click.option(
    "--attachment",
    "attachments",
    multiple=True,
    help="a supporting file; its sha256 is recorded, never the file (repeat)",
)
@click.option("--date", "on", type=DATE, help="business date (default today)")
def spend_command(
    grant_id: str,
    amount: str,
    category: str,
    source: str,
    voucher: str,
    content: str,
    project: str,
    payee: str,
    memo: str,
    attachments: tuple[str, ...],
    on: datetime | None,
) -> None:
    """Record spending from one fund source of a grant.

    Refused (exit 3): banned categories (差旅费 travel, 劳务费 labour, unrelated — 003 第九条),
    unknown categories, spending beyond the fund source's received balance (003 第十条),
    dates outside the build period.

    \b
    Example:
      grant-ledger spend G-YZ-2024-01 --amount 3.5万 --category equipment --source subsidy \\
          --voucher 记-0042 --payee 重庆某设备公司 --date 2024-05-10
    """
    record(
        action(
            Spend,
            grant_id=grant_id,
            amount=amount,
            category=category,
            source=source,
            voucher=voucher,
            content=content,
            project=project,
            payee=payee,
            memo=memo,
            attachments=_sha256_files(attachments),
            on=dated(on),
        ),
        _available,
    )


@click.command("reverse")
@click.argument("grant_id")
@click.option("--voucher", required=True, help="voucher of the money act to reverse")
@click.option("--reason", required=True, help="why it is reversed")
@click.option(
    "--kind",
    type=click.Choice(["spend", "disburse", "match_commit", "match_receive"]),
    help="which act the voucher names, when it names several",
)
@click.option("--date", "on", type=DATE, help="business date (default today)")
def reverse_command(grant_id: str, voucher: str, reason: str, kind: str | None, on: datetime | None) -> None:
    """Reverse one recorded money act: an expenditure, a disbursement, a matching commitment or
    a matching receipt (a compensating event of its own; nothing is deleted).

    Refused (exit 3): a reversal of a receipt that would leave its fund source below zero at the
    end of its date or of any later date (003 第十条), or dated before the act it reverses.

    \b
    Examples:
      grant-ledger reverse G-YZ-2024-01 --voucher 记-0042 --reason 重复入账
      grant-ledger reverse G-YZ-2024-01 --voucher 拨-0001 --kind disburse --reason 金额错误
    """
    fields = {"kind": kind} if kind else {}
    record(
        action(Reverse, grant_id=grant_id, voucher=voucher, reason=reason, on=dated(on), **fields), _available
    )


def register(cli: click.Group) -> None:
    cli.add_command(disburse_command)
    cli.add_command(match_group)
    cli.add_command(spend_command)
    cli.add_command(reverse_command)
