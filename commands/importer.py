"""``import FILE.csv|FILE.xlsx``: bulk import in the DESIGN.md format, validated as a whole."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from commands.context import settings
from ledger.errors import BadInputError


def _cells(path: Path) -> Iterator[list[Any]]:
    """The file's rows as lists of cells, streamed (header first)."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as e:  # openpyxl raises many kinds for a damaged file
            msg = f"{path.name} is not a readable Excel workbook: {e}"
            raise BadInputError(msg) from None
        try:
            sheet = book.worksheets[0]
            for values in sheet.iter_rows(values_only=True):
                yield list(values)
        finally:
            book.close()
        return
    if suffix not in (".csv", ".txt"):
        msg = f"{path.name}: import reads .csv or .xlsx files"
        raise BadInputError(msg)
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            yield from csv.reader(f)
    except UnicodeDecodeError as e:
        msg = f"{path.name} is not UTF-8 text (byte {e.start}); save it as CSV UTF-8"
        raise BadInputError(msg) from None


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    from ledger.importing import read_rows

    return read_rows(_cells(path))


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--batch",
    "batch_rows",
    type=click.IntRange(1, 1_000_000),
    default=5000,
    show_default=True,
    help="rows (or events) per transaction",
)
@click.pass_context
def import_command(ctx: click.Context, file: Path, batch_rows: int) -> None:
    """Import a CSV or Excel file of approvals and money movements.

    The header (first line, or first row of the first sheet) is
    date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo
    with kind in approve, disburse, match_commit, match_receive, spend, reverse. The whole file is
    checked first: if any row is bad nothing is written and every bad row is listed. Importing the
    same file again records nothing.

    \b
    Examples:
      grant-ledger import 2024-books.csv
      grant-ledger import 台账.xlsx
    """
    from commands.registry import all_projections
    from ledger.importing import ImportResult, check, record, save_staged
    from projections.runner import catch_up

    s = settings()
    app = s.ledger()
    checked = check(app, _rows(file), actor=s.actor, role=s.role)
    if checked.errors:
        for error in checked.errors:
            click.echo(f"{file.name}:{error.line}: {error.message}", err=True)
        n = len(checked.errors)
        click.echo(
            f"grant-ledger: {n} bad row{'s' if n > 1 else ''} of {checked.rows} in {file.name}; "
            "nothing was imported",
            err=True,
        )
        ctx.exit(checked.exit_code)
    if checked.events == 0:
        click.echo(
            f"already recorded: all {checked.rows} rows of {file.name} are in the ledger; nothing written"
        )
        return
    if checked.staged is not None:  # the checked events, kept: no second pass over the file
        with click.progressbar(length=checked.events, label="recording", file=sys.stderr) as bar:
            save_staged(app, checked, batch_events=batch_rows, progress=bar.update)
        done = ImportResult(rows=checked.rows, events=checked.events)
    else:
        with click.progressbar(length=checked.rows, label="recording", file=sys.stderr) as bar:
            done = record(
                app, _rows(file), actor=s.actor, role=s.role, batch_rows=batch_rows, progress=bar.update
            )
    if done.errors:  # the ledger changed between the check and the writing
        error = done.errors[0]
        click.echo(f"{file.name}:{error.line}: {error.message}", err=True)
        click.echo(
            f"grant-ledger: the ledger changed during the import; {done.rows} rows before line "
            f"{error.line} were recorded, import the file again to finish",
            err=True,
        )
        ctx.exit(error.exit_code)
    with click.progressbar(length=done.events, label="projecting", file=sys.stderr) as bar:
        catch_up(app, all_projections(), progress=bar.update, batch_size=20000)
    click.echo(f"imported {done.rows} rows of {file.name}: {done.events} events recorded")


def register(cli: click.Group) -> None:
    cli.add_command(import_command)
