"""``export``: the books in the import format (csv, xlsx) or as double-entry journals
(beancount, hledger) that Fava and hledger open.

Exports read the event store in its global order (an export is a full copy, not a report).
Journal accounts, per base and fund source::

    Assets:B0001:Subsidy / Assets:B0001:Matching        money held (received − spent)
    Income:B0001:Subsidy                                 subsidy disbursed to the base
    Equity:B0001:Matching                                matching funds received
    Expenses:B0001:Equipment:Subsidy                     spending per category and source
    Equity:B0001:Returned:Subsidy                        subsidy recovered (returned on order)
    Equity:B0001:Disposed:Subsidy                        balance disposed of at closure

The csv/xlsx export carries every money act in the import format: approvals, disbursements,
matching, spending, reversals, recovery orders and receipts, and disposals. Text is written as
``commands.output`` writes every csv and workbook: a workbook holds it exactly, as text cells; a
csv cell that a spreadsheet would run as a formula has an apostrophe in front, which the import
of a csv file takes off again (``ledger.text.escape_formula``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from commands.context import settings
from commands.output import to_csv, to_xlsx, write_text
from ledger.errors import BadInputError

PAGE = 5000


def _events(app: Any) -> Iterator[Any]:
    start = 1
    while True:
        notifications = app.recorder.select_notifications(start=start, limit=PAGE)
        if not notifications:
            return
        for n in notifications:
            yield app.mapper.to_domain_event(n)
        start = notifications[-1].id + 1


def import_rows(app: Any) -> Iterator[list[Any]]:
    """Every money event as a row of the import format, in the store's order (kinds and columns:
    ledger/importing.py)."""
    from ledger.grant import Grant
    from ledger.unit import Unit

    grants: dict[Any, Any] = {}
    units: dict[str, str] = {}
    for e in _events(app):
        if isinstance(e, Unit.Registered):
            units[e.unit_id] = e.name
        if not isinstance(e, Grant.Event):
            continue
        if isinstance(e, Grant.Applied):
            grants[e.originator_id] = e
            continue
        g = grants.get(e.originator_id)
        if g is None:
            continue
        on = e.occurred_on.isoformat()
        head = [on, "", g.base_id, g.grant_id, ""]
        if isinstance(e, Grant.Approved):
            period = f"{e.build_start.isoformat()}..{e.build_end.isoformat()}"
            yield [
                on,
                g.unit_id,
                g.base_id,
                g.grant_id,
                g.programme,
                "approve",
                e.amount,
                "",
                "",
                g.base_name,
                e.document,
                units.get(g.unit_id, ""),
                period,
            ]
        elif isinstance(e, Grant.SubsidyDisbursed):
            yield [*head, "disburse", e.amount, "subsidy", "", "", e.voucher, "", str(e.tranche)]
        elif isinstance(e, Grant.MatchingCommitted):
            yield [*head, "match_commit", e.amount, "matching", "", "", e.voucher, e.funder, ""]
        elif isinstance(e, Grant.MatchingReceived):
            yield [*head, "match_receive", e.amount, "matching", "", "", e.voucher, "", ""]
        elif isinstance(e, Grant.ExpenditureRecorded):
            yield [*head, "spend", e.amount, e.source, e.category, e.content, e.voucher, e.payee, e.memo]
        elif isinstance(e, Grant.ExpenditureReversed):
            yield [*head, "reverse", e.amount, e.source, e.category, e.content, e.reason, "", e.voucher]
        elif isinstance(e, Grant.DisbursementReversed):
            yield [*head, "reverse", e.amount, "subsidy", "disburse", "", e.reason, "", e.voucher]
        elif isinstance(e, Grant.MatchingCommitmentReversed):
            yield [*head, "reverse", e.amount, "matching", "match_commit", "", e.reason, "", e.voucher]
        elif isinstance(e, Grant.MatchingReceiptReversed):
            yield [*head, "reverse", e.amount, "matching", "match_receive", "", e.reason, "", e.voucher]
        elif isinstance(e, Grant.RecoveryOrdered):
            yield [*head, "recover_order", e.amount, "subsidy", "", "", e.document, "", e.reason]
        elif isinstance(e, Grant.FundsRecovered):
            yield [*head, "recover_receive", e.amount, "subsidy", "", "", e.voucher, "", ""]
        elif isinstance(e, Grant.BalanceDisposed):
            yield [*head, "dispose", e.amount, e.source, "", "", e.approval, "", e.how]


# ----------------------------------------------------------------------------- journals

_BAD = re.compile(r"[^A-Za-z0-9-]+")


def account_part(text: str) -> str:
    """A valid journal account component: ``teacher_training`` -> ``TeacherTraining``."""
    words = [w for w in re.split(r"[_\s]+", text) if w]
    part = _BAD.sub("-", "".join(w[:1].upper() + w[1:] for w in words)).strip("-") or "X"
    return part if part[0].isupper() or part[0].isdigit() else "X" + part


def base_account(base_id: str) -> str:
    """A base's account component, one per base: an id that is not a component as it stands (lower
    case, Chinese, spaces…) also carries a digest of itself, or 渝中基地 and 江北基地 would both be
    ``X`` and share their accounts."""
    part = account_part(base_id)
    if part == base_id:
        return part
    return f"{part}-{hashlib.sha256(base_id.encode('utf-8')).hexdigest()[:8]}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _records(app: Any) -> Iterator[Any]:
    """Every stored event as a light record (``projections.records``), in the store's order."""
    from projections.records import records

    start = 1
    while True:
        notifications = app.recorder.select_notifications(start=start, limit=PAGE)
        if not notifications:
            return
        yield from records(notifications)
        start = notifications[-1].id + 1


# measure -> the account on the other side of the money held (``{base}``, ``{src}``, ``{category}``)
_OTHER = {
    ("received", "subsidy"): "Income:{base}:Subsidy",
    ("received", "matching"): "Equity:{base}:Matching",
    ("unreceived", "subsidy"): "Income:{base}:Subsidy",
    ("unreceived", "matching"): "Equity:{base}:Matching",
    ("spent", ""): "Expenses:{base}:{category}:{src}",
    ("reversed", ""): "Expenses:{base}:{category}:{src}",
    ("recovered", ""): "Equity:{base}:Returned:{src}",
    ("disposed", ""): "Equity:{base}:Disposed:{src}",
}


def _postings(base: str, e: Any) -> list[tuple[str, Decimal | None]]:
    """The journal's postings of one money event as ``projections.measures`` reads it: money held
    in ``Assets``, where it came from or went to on the other side (received money first, else
    the other side first); approvals and commitments move no money."""
    other = _OTHER.get((e.measure, e.source)) or _OTHER.get((e.measure, ""))
    if other is None:
        return []
    src = account_part(e.source)
    account = other.format(base=base, src=src, category=account_part(e.category))
    held = f"Assets:{base}:{src}"
    if e.measure == "received":
        return [(held, e.amount), (account, -e.amount)]
    grows = e.measure == "reversed"
    return [(account, -e.amount if grows else e.amount), (held, e.amount if grows else -e.amount)]


def _title(e: Any, d: dict[str, Any]) -> tuple[str, str]:
    """A transaction's narration and payee."""
    if e.measure == "received":
        return (f"补助拨付 tranche {d['tranche']}" if e.source == "subsidy" else "配套经费到位"), ""
    if e.measure == "spent":
        return f"{e.category} {e.content}".strip(), d["payee"]
    if e.measure == "reversed" or e.measure == "unreceived":
        return f"冲销 {e.voucher}: {d['reason']}", ""
    if e.measure == "recovered":
        return "资金收回", ""
    return f"结余处置 {d['how']}", ""


def journal(app: Any, style: str) -> Iterator[str]:
    """Double-entry transactions: one per money event."""
    from projections.measures import effect
    from projections.records import GRANT, day

    applied = GRANT + "Applied"
    grants: dict[str, Any] = {}
    bases: dict[str, str] = {}
    opened: set[str] = set()
    txns: list[tuple[date, list[str], list[tuple[str, Decimal | None]]]] = []
    for r in _records(app):
        if r.topic == applied:
            grants[r.aggregate_id] = r.data
            continue
        g = grants.get(r.aggregate_id)
        e = effect(r.topic, r.data) if g is not None else None
        if g is None or e is None:
            continue
        base = bases.get(g["base_id"])
        if base is None:
            base = bases[g["base_id"]] = base_account(g["base_id"])
        postings = _postings(base, e)
        if not postings:
            continue
        title, payee = _title(e, r.data)
        on = day(r.data["occurred_on"])
        meta = [f"grant: {_quote(g['grant_id'])}", f"voucher: {_quote(e.voucher)}"]
        opened.update(a for a, _ in postings)
        if style == "beancount":
            head = f"{on.isoformat()} * {_quote(payee)} {_quote(title)}"
            lines = [head, *(f"  {m}" for m in meta)]
        else:
            desc = f"{payee} | {title}" if payee else title
            lines = [f"{on.isoformat()} * {desc}  ; grant:{g['grant_id']}, voucher:{e.voucher}"]
        txns.append((on, lines, postings))
    first = min((t[0] for t in txns), default=date.today())
    if style == "beancount":
        yield 'option "title" "grant-ledger 高技能人才培训基地补助资金台账"'
        yield 'option "operating_currency" "CNY"'
        yield ""
        for account in sorted(opened):
            yield f"{first.isoformat()} open {account} CNY"
    else:
        yield "; grant-ledger 高技能人才培训基地补助资金台账"
        yield "commodity 1,000.00 CNY"
        for account in sorted(opened):
            yield f"account {account}"
    for _, lines, postings in txns:
        yield ""
        yield from lines
        for account, amount in postings:
            yield f"  {account:<48}  {amount:.2f} CNY"


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "beancount", "hledger"]),
    default="csv",
    show_default=True,
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="file (default stdout)")
@click.option(
    "--runs",
    "runs_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="csv/xlsx: write the rows into DIR as numbered files, one per run of one role's acts "
    "(an import is one person's act), and print the imports to run in order",
)
def export_command(fmt: str, output: Path | None, runs_dir: Path | None) -> None:
    """Export the books: csv/xlsx in the import format (import it into an empty ledger to get the
    same balances), or beancount/hledger double-entry journals (accounts per base and fund source).

    An import is one person's act, every row within the importer's role: approvals and recovery
    orders are an approver's, the money an officer's. With --runs the csv/xlsx rows are written
    apart, one file per run of one role's rows, numbered in the order they must be imported.

    \b
    Examples:
      grant-ledger export --format csv -o books.csv
      grant-ledger export --format csv --runs books/      # books/01-approver.csv, 02-officer.csv…
      grant-ledger export --format xlsx -o books.xlsx
      grant-ledger export --format beancount -o books.beancount && bean-check books.beancount
      grant-ledger export --format hledger -o books.journal
    """
    from ledger.importing import HEADER

    app = settings().ledger()
    if runs_dir is not None:
        if fmt not in ("csv", "xlsx"):
            raise BadInputError(f"--runs writes the import format (csv or xlsx), not {fmt}")
        if output is not None:
            raise BadInputError("give either --output FILE or --runs DIR, not both")
        _write_runs(runs_dir, fmt, HEADER, list(import_rows(app)))
        return
    if fmt == "xlsx":
        if output is None:
            raise BadInputError("an xlsx export needs --output FILE.xlsx")
        to_xlsx(output, [("import", HEADER, list(import_rows(app)))])
        click.echo(f"exported to {output}")
        return
    if fmt == "csv":
        text = to_csv(HEADER, import_rows(app))
    else:
        text = "\n".join(journal(app, fmt)) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(output, text)
        click.echo(f"exported to {output}")


def _write_runs(folder: Path, fmt: str, header: tuple[str, ...], rows: list[list[Any]]) -> None:
    from ledger.import_format import runs_by_role

    runs = list(runs_by_role(rows))
    try:
        if folder.exists() and any(folder.iterdir()):
            raise BadInputError(f"--runs {folder} is not empty; name a new or empty directory")
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        msg = f"cannot make the directory {folder}: {e.strerror or e}; nothing was written"
        raise BadInputError(msg) from None
    width = max(2, len(str(len(runs))))
    names = []
    for n, (role, run) in enumerate(runs, 1):
        path = folder / f"{n:0{width}d}-{role}.{fmt}"
        if fmt == "xlsx":
            to_xlsx(path, [("import", header, run)])
        else:
            write_text(path, to_csv(header, run))
        names.append((role, path))
    click.echo(f"exported {len(rows)} rows in {len(runs)} runs to {folder}; import them in this order:")
    for role, path in names:
        click.echo(f"  grant-ledger --role {role} import {path}")


def register(cli: click.Group) -> None:
    cli.add_command(export_command)
