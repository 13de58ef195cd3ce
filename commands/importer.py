"""``import FILE.csv|FILE.tsv|FILE.xlsx``: bulk import in the DESIGN.md format, validated as a whole."""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from commands.context import catch_up_as_told, settings, work_begins
from commands.i18n import _
from commands.progress import progress
from ledger.errors import StorageError

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterable, Iterator, Sequence
    from contextlib import AbstractContextManager

    from eventsourcing.persistence import Notification
    from sqlalchemy.engine import Connection

    from ledger.application import GrantLedger
    from ledger.grant import Grant
    from ledger.import_format import Row
    from ledger.import_order import DateOrder, Disorder, Held
    from ledger.importing import Coming, ImportResult
    from ledger.seal import Signer


# From this many rows on, other processes check rows while this one writes (their start-up,
# ~0.1 s, is then paid back): two, each given the rows of some grants by a small reading process,
# when every row the person may record acts on one grant (an officer's); else one.
PARALLEL_ROWS = 20_000
# Grants whose balance and compliance rows the writing process keeps in memory between batches
# (about 2 KB each): a file over fewer grants reads and writes each grant's rows once, not at
# every batch that touches it. Over more, a file in date order gains little from holding some.
HELD_GRANTS = 25_000
# events an import stores past which PostgreSQL's statistics of its tables are refreshed at once
ANALYZE_AFTER = 10_000


def _checkers(jobs: str, rows: int) -> int:
    """Processes that check rows beside this one, which writes."""
    if jobs == "auto":
        return 2 if rows >= PARALLEL_ROWS and (os.cpu_count() or 1) > 1 else 0
    return int(jobs) - 1


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--batch",
    "batch_rows",
    type=click.IntRange(1, 1_000_000),
    default=5000,
    show_default=True,
    help="events written (and projected) at a time, inside the import's one transaction",
)
@click.option(
    "--jobs",
    type=click.Choice(["auto", "1", "2", "3"]),
    default="auto",
    show_default=True,
    help="processes: 2 checks rows in a second process while this one writes; 3 checks them in "
    "two, split by grant (an officer's rows; an approver's are checked as with 2); "
    f"auto uses 3 from {PARALLEL_ROWS:,} rows on a machine with two cores or more",
)
@click.pass_context
def import_command(ctx: click.Context, file: Path, batch_rows: int, jobs: str) -> None:
    """Import a CSV, TSV or Excel file of approvals and money movements.

    The header is the first line (or the first row of the first sheet), in one line:

    \b
      date,unit_id,base_id,grant_id,programme,kind,amount,
      source,category,content,voucher,payee,memo
    or with the Chinese names of the columns:
      日期,单位编号,基地编号,项目编号,项目类型,业务类型,金额,
      资金来源,支出类别,建设内容,凭证号,收款方,备注

    kind is one of approve, disburse, match_commit, match_receive, spend, reverse,
    recover_order, recover_receive, dispose. A text file is UTF-8 (with or without BOM) or
    GB18030/GBK, comma- or tab-separated; import says which it read. Dates are written
    2024-05-10, 2024/5/10, 2024.05.10 or 2024年5月10日, as every --date option takes them.

    Each row is checked as its command checks it, and needs the importer's role to be the one its
    command needs: approve and recover_order rows are an approver's, the others an officer's.
    The file is read once and recorded in one transaction: if any row is bad nothing is written
    and the bad rows are listed (the first 1,000 by line, then how many more). Importing the same
    file again records nothing. While an import
    runs, other writers wait for it (up to GRANT_LEDGER_BUSY_TIMEOUT).

    Rows need not be in date order (a finance system may list the newest first): a file that
    breaks a rule in its own order, where a grant's rows are out of date order or list a date's
    money out before its money in, is applied again by business date (a day's receipts and
    reversals of earlier spending before its spending, a spend reversed that day right before
    its reversal), and import says so.

    \b
    Columns that carry a field of their own row kind:
      approve          voucher: document number; memo: build period 2024-04-01..2026-03-31;
                       content / payee: base name / unit name
      disburse         memo: tranche number
      match_commit     payee: funder
      reverse          memo: the reversed voucher; voucher: the reason; category: disburse,
                       match_commit or match_receive for a receipt (else an expenditure)
      recover_order    voucher: the order's document number; memo: its reason
      recover_receive  voucher: the receipt's voucher
      dispose          source; voucher: the approval reference; memo: returned|carried_forward

    \b
    Examples:
      grant-ledger --role approver import approvals.csv
      grant-ledger import 2024-books.csv
      grant-ledger import 台账.xlsx
      grant-ledger import --jobs 1 big-file.csv   # one process only
      grant-ledger import --jobs 3 big-file.csv   # rows checked in two processes
    """
    from commands.import_files import open_import

    work_begins()  # the file is read before the ledger opens: collected from here on
    count, cells, reading = open_import(file)  # a workbook past the bounds is refused before it unpacks
    if reading:
        click.echo(f"{file.name}: {reading}", err=True)
    s = settings()
    app = s.ledger()
    options: dict[str, Any] = {
        "signer": s.signer(),
        "role": s.role,
        "actor": s.actor,
        "batch": batch_rows,
        "checkers": _checkers(jobs, count),
        "rows": count,
    }
    done = record_file(
        app,
        cells,
        lambda: open_import(file)[1],
        stage=lambda label: progress(count, label),
        tell=lambda d: click.echo(f"{file.name}:{d.line}: {d.sentence()}", err=True),
        **options,
    )
    if done.bad:
        for error in done.errors:  # by line
            click.echo(f"{file.name}:{error.line}: {error.message}", err=True)
        if done.unlisted:
            click.echo(unlisted_text(done.unlisted, len(done.errors)), err=True)
        if done.unsettled:
            click.echo(f"{file.name}: {unsettled_text(done.unsettled)}", err=True)
        n = done.bad
        bad = (
            _("grant-ledger: {count} bad rows of {rows} in {file}; nothing was imported")
            if n > 1
            else _("grant-ledger: {count} bad row of {rows} in {file}; nothing was imported")
        )
        click.echo(bad.format(count=n, rows=done.rows, file=file.name), err=True)
        ctx.exit(done.exit_code)
    if done.rows == 0:  # a header alone (it had said "already recorded: all 0 rows")
        click.echo(_("{file} holds no rows after its header; nothing written").format(file=file.name))
        return
    if done.events == 0:
        click.echo(
            _("already recorded: all {rows} rows of {file} are in the ledger; nothing written").format(
                rows=done.rows, file=file.name
            )
        )
        return
    click.echo(imported_text(done, file.name))


def imported_text(done: ImportResult, name: str) -> str:
    """What an import that wrote says: its rows and events, and the rows that recorded nothing."""
    said = _("imported {rows} rows of {file}: {events} events recorded").format(
        rows=done.rows, file=name, events=done.events
    )
    if done.repeats:
        lines = ", ".join(str(n) for n in done.repeated) + (
            ", …" if done.repeats > len(done.repeated) else ""
        )
        said += _(
            "; {count} rows recorded nothing, already recorded in the ledger or by an earlier row of the "
            "file under the same voucher (lines {lines})"
        ).format(count=done.repeats, lines=lines)
    return said


def unsettled_text(passes: int) -> str:
    """The line after the bad rows listed, when the passes by business date ran out first."""
    return _(
        "applied by business date in {passes} orders, none of which held; other orders were not tried, "
        "so these rows may hold in another: the file in date order, each day's rows as they happened, "
        "is applied as listed"
    ).format(passes=passes)


def unlisted_text(unlisted: int, listed: int) -> str:
    """The line after the bad rows listed, when more were bad."""
    return _("… and {count} more bad rows, not listed (the first {listed} are)").format(
        count=f"{unlisted:,}", listed=f"{listed:,}"
    )


# passes by business date after the first, each moving every refused grant's date to its next
# order: a grant tries at most seven more on each date it is refused on (ledger.import_order._TURNS),
# so a file that cannot hold stops within seven of its last refused date's first pass; the rest are
# for dates held one after another (one more pass each, when a grant's dates alternate between
# orders: all the file's grants move at once)
MORE_PASSES = 12


def _unstaged(label: str) -> AbstractContextManager[Callable[[int], None] | None]:
    return nullcontext(None)


def record_file(
    app: GrantLedger,
    cells: Iterator[list[Any]],
    reopen: Callable[[], Iterator[list[Any]]],
    *,
    stage: Callable[[str], AbstractContextManager[Callable[[int], None] | None]] = _unstaged,
    tell: Callable[[Disorder], None] | None = None,
    **options: Any,
) -> ImportResult:
    """An opened import file (``cells``, header first) recorded by ``record_rows``: what `import`
    and the web's import page do. A file breaking a rule in its own order, whose rows of a grant
    are out of date order, is applied again by business date (``reopen`` reads it again; ``tell``
    hears where the order broke first). A file refused still, in date order or by date, is
    tried once more with the receipts it brings in (``ledger.grant.COMING``): backdated among
    acts the ledger holds, a spend refused against spending recorded later may be paid for by
    the file's own later tranche, and a tranche refused against a tranche recorded later may be
    made room for by the file's own later reversal. ``stage(label)``: each pass's progress."""
    from ledger.import_format import read_rows
    from ledger.importing import coming_receipts

    verdict = _recorded(app, cells, reopen, stage, tell, **options)
    if not verdict.bad or verdict.rows > ONE_WRITE_ROWS:
        return verdict
    held = _held_grants(app)
    coming = coming_receipts(read_rows(reopen()), _later_in_ledger(held, verdict.grants), _held_receipt(held))
    if not coming:
        return verdict
    again = by_date_again(reopen, _held_receipts(app), verdict.grants, _ledger_grants(app, verdict.grants))
    with (
        nullcontext(read_rows(reopen())) if again is None else again[1] as rows,
        stage(_("importing with the file's receipts")) as step,
    ):
        # one seal over the whole file: an auditor's verifier judges a write's acts once all of
        # it is in, as this pass does (audit.verifier.replay: a seal's acts are one write)
        one_write = {**options, "batch": sys.maxsize, "checkers": 0}
        whole = record_rows(app, rows, progress=step, coming=coming, **one_write)
    return verdict if whole.bad else whole


def _recorded(
    app: GrantLedger,
    cells: Iterator[list[Any]],
    reopen: Callable[[], Iterator[list[Any]]],
    stage: Callable[[str], AbstractContextManager[Callable[[int], None] | None]],
    tell: Callable[[Disorder], None] | None,
    **options: Any,
) -> ImportResult:
    """``record_file`` but for the file's receipts: the rows in the file's order, or, where a grant
    refused has its rows out of date order, by business date."""
    from ledger.import_format import read_rows

    with stage(_("importing")) as step:
        done = record_rows(app, read_rows(cells), progress=step, **options)
    if not done.bad:
        return done
    held = _held_receipts(app)
    again = by_date_again(reopen, held, done.grants, _ledger_grants(app, done.grants))
    if again is None:
        return done
    del done  # its grants' dicts: a file of a million bad rows holds one per grant
    disorder, ordered = again
    if tell is not None:
        tell(disorder)
    from ledger.import_order import Orders, by_business_date, fewest_refused

    def applied(by_date: AbstractContextManager[DateOrder]) -> tuple[ImportResult, Orders | None]:
        """A pass of the rows by business date, and the orders to try next (None: no grant
        refused, or one has no order left)."""
        with by_date as rows, stage(_("importing by business date")) as step:
            done = record_rows(app, rows, progress=step, **options)
            return done, rows.next_orders(done.grants) if done.bad else None

    def in_order(orders: Orders) -> AbstractContextManager[DateOrder]:
        return by_business_date(read_rows(reopen()), orders, held)

    # each grant refused tried in its next order of the date it was refused on, from that date on
    # (ledger.import_order.DateOrder), the others kept in theirs
    done, orders = applied(ordered)
    tried = [(Orders(), done)]
    for _pass in range(MORE_PASSES):
        if orders is None:  # held, or some grant has no order left
            break
        tried_now = orders
        done, orders = applied(in_order(orders))
        tried.append((tried_now, done))
    if not done.bad:
        return done
    # none held: the refusal is a pass in each grant's best order tried (a pass made already,
    # if one was in those orders), and says so if some grant had orders left untried
    best = fewest_refused([(o, r.grants, r.bad_rows_of) for o, r in tried])
    verdict = next((r for o, r in tried if o.turns == best.turns), None)
    if verdict is None:
        verdict, _next = applied(in_order(best))
    if verdict.bad and orders is not None:
        verdict.unsettled = len(tried)
    return verdict


# the rows of a file at most that is tried once more with its receipts: that pass writes it as
# one write under one seal, whose events it holds until the end
ONE_WRITE_ROWS = 20_000

# refused grants looked up in the ledger for money dated after their refused rows, at most
LATER_LOOKED_UP = 1000


def _held_grants(app: GrantLedger) -> Callable[[str], Grant | None]:
    """The grants the ledger holds, by number, each loaded once (None: none such)."""
    from functools import cache

    from eventsourcing.application import AggregateNotFoundError

    from ledger.errors import LedgerError

    @cache
    def held(grant_id: str) -> Grant | None:
        try:
            return app.load_grant(grant_id)
        except (AggregateNotFoundError, LedgerError):
            return None

    return held


def _later_in_ledger(held: Callable[[str], Grant | None], refused: dict[str, int]) -> set[str]:
    """The grants ``refused`` (with the ordinal of their first refused row's date) whose money in
    the ledger moved on a later date: only against such acts can the file's own later receipts
    decide a spend, where the rows are applied in date order. None past ``LATER_LOOKED_UP``."""
    from datetime import date

    if len(refused) > LATER_LOOKED_UP:
        return set()
    later = set()
    for grant_id, first in refused.items():
        grant = held(grant_id)
        if grant is None:
            continue
        latest = max((grant.last_day or {}).values(), default="")
        if first and latest > date.fromordinal(first).isoformat():
            later.add(grant_id)
    return later


def _held_receipt(held: Callable[[str], Grant | None]) -> Callable[[str, str, str], Decimal | None]:
    """The amount of a receipt the ledger holds, by grant, kind (disburse, match_receive) and
    voucher (None: none such)."""

    def receipt(grant_id: str, kind: str, voucher: str) -> Decimal | None:
        grant = held(grant_id)
        found = None if grant is None else grant.receipts.get(f"{kind}/{voucher}")
        return None if found is None else Decimal(found[0])

    return receipt


def _ledger_grants(app: GrantLedger, named: Iterable[str]) -> set[str]:
    """Those of the grant numbers ``named`` that the ledger holds, applied for or further (its
    balances' read model, caught up by the import's first pass), asked a few hundred at a time."""
    from itertools import islice

    from sqlalchemy import bindparam, select

    from projections.schema import grants

    query = select(grants.c.grant_id).where(grants.c.grant_id.in_(bindparam("named", expanding=True)))
    found: set[str] = set()
    wanted = iter(named)
    with app.engine.connect() as conn:
        while chunk := list(islice(wanted, _ASKED_AT_ONCE)):
            found.update(conn.execute(query, {"named": chunk}).scalars())
    return found


_ASKED_AT_ONCE = 500


def _held_receipts(app: GrantLedger) -> Held:
    """The receipts and commitments a grant holds in the ledger under some vouchers (voucher: the
    act's kind), where the voucher names one act of the grant, as ``Grant.reverse`` finds it. Each
    grant is loaded once, however many of its reversals ask."""
    from functools import lru_cache

    from eventsourcing.application import AggregateNotFoundError

    from ledger.errors import LedgerError
    from ledger.grant import REVERSIBLE

    kinds = [k for k in REVERSIBLE if k != "spend"]

    @lru_cache(maxsize=4096)
    def receipts_of(grant_id: str) -> dict[str, str]:
        try:
            grant = app.load_grant(grant_id)
        except (AggregateNotFoundError, LedgerError):  # the import refuses its rows, saying why
            return {}
        named: dict[str, list[str]] = {}
        for key in grant.receipts:
            kind, _slash, voucher = key.partition("/")
            if kind in kinds:
                named.setdefault(voucher, []).append(kind)
        return {v: acts[0] for v, acts in named.items() if len(acts) == 1 and v not in grant.expenditures}

    def held(grant_id: str, vouchers: list[str]) -> dict[str, str]:
        found = receipts_of(grant_id)
        return {voucher: found[voucher] for voucher in vouchers if voucher in found}

    return held


def by_date_again(
    reopen: Callable[[], Iterator[list[Any]]],
    held: Held | None = None,
    refused: Container[str] = (),
    in_ledger: Container[str] | None = None,
) -> tuple[Disorder, AbstractContextManager[DateOrder]] | None:
    """For a file whose rows broke a rule in its own order: where its rows of a grant are first
    out of date order, and its rows by business date to import again (``reopen`` reads the file
    again, header first); None if every grant's rows are in date order (ledger/import_order.py).
    ``refused``: the grants of its bad rows, whose reversals by voucher alone ``held`` looks up.
    ``in_ledger``: those of them the ledger holds; a grant refused that neither it nor a row of the
    file approves is refused at every row in any order, and its rows' order is not looked at (the
    file's approvals are read at the first such grant met: most files refused name none)."""
    from ledger.import_format import read_rows
    from ledger.import_order import approved_grants, by_business_date, first_disorder

    unmade: Callable[[str], bool] | None = None
    if in_ledger is not None:
        approved: set[str] | None = None

        def unmade(grant: str) -> bool:
            nonlocal approved
            if grant not in refused or grant in in_ledger:
                return False
            if approved is None:
                approved = approved_grants(read_rows(reopen()))
            return grant not in approved

    disorder = first_disorder(read_rows(reopen()), held, refused, unmade)
    if disorder is None:
        return None
    return disorder, by_business_date(read_rows(reopen()), held=held)


def record_rows(
    app: GrantLedger,
    read: Iterable[tuple[int, Row]],
    *,
    signer: Signer,
    role: str | None,
    actor: str | None,
    batch: int = 5000,
    progress: Callable[[int], None] | None = None,
    checkers: int = 0,
    rows: int | None = None,
    coming: Coming | None = None,
) -> ImportResult:
    """An opened import file's rows (``ledger.import_format.read_rows``) checked and recorded in
    one transaction, the projections kept at the head inside it: what `import` does, and the web
    workspace's import page. ``rows``: how many the file holds, where known (a large file's
    appended tables are indexed at the end)."""
    from commands.registry import all_projections
    from ledger.importing import MemoryCeiling, fewer_held, import_rows
    from projections.balances import BalanceProjection
    from projections.compliance import ComplianceProjection

    chosen = all_projections()
    catch_up_as_told(app, chosen)  # tables exist and the projections stand at the head before the lock

    # a large file's appended tables, their indexes dropped at the first batch (once the checking
    # processes are forked: dropping reads the indexes' pages into this connection's page cache,
    # which a process forked after would count as its own, 32 MB of its memory ceiling)
    to_defer: list[Any] = []
    deferred: list[Any] = []

    def on_start(conn: Connection) -> None:
        from projections import bulk

        head = _catch_up_in(conn, app, chosen)
        to_defer.extend(bulk.to_defer(conn, chosen, rows or 0, head))

    # the import's own events, each decided by its aggregate on every rule of its action: the
    # compliance judge replays their facts without judging them again (a rebuild judges all).
    # Both keep the grants they touch in memory from batch to batch, written once at the end.
    held: dict[str, Any] = {
        ComplianceProjection.name: ComplianceProjection(decided=True, held=HELD_GRANTS),
        BalanceProjection.name: BalanceProjection(held=HELD_GRANTS),
    }
    decided = [held.get(p.name, p) for p in chosen]
    ceiling = MemoryCeiling()

    def on_batch(conn: Connection, stored: list[Notification], leaves: Sequence[bytes]) -> None:
        if to_defer:
            from projections import bulk

            deferred.extend(bulk.indexes_dropped(conn, to_defer))
            to_defer.clear()
        _project(conn, stored, decided, leaves)
        if ceiling.crossed():
            for projection in held.values():
                projection.held = fewer_held(projection.held)

    def on_end(conn: Connection) -> None:
        from sqlalchemy.orm import Session

        with Session(bind=conn) as session:
            for projection in held.values():
                projection.write_held(session)
            session.flush()
        if deferred:
            from projections.bulk import made_again

            made_again(conn, deferred)

    done = import_rows(
        app,
        read,
        signer=signer,
        role=role,
        actor=actor,
        batch=batch,
        on_start=on_start,
        on_batch=on_batch,
        progress=progress,
        checkers=checkers,
        on_end=on_end,
        expected_rows=rows or 0,
        coming=coming,
    )
    if done.events >= ANALYZE_AFTER:
        from ledger.database import refresh_statistics
        from ledger.location import EVENTS_TABLE, SNAPSHOTS_TABLE

        grown = [EVENTS_TABLE, SNAPSHOTS_TABLE, *(t.name for p in chosen for t in p.tables)]
        refresh_statistics(app.engine, grown)
    return done


def _project(
    conn: Connection, stored: list[Notification], chosen: list[Any], leaves: Sequence[bytes] = ()
) -> None:
    from sqlalchemy.orm import Session

    from projections.runner import project_stored

    with Session(bind=conn) as session:
        project_stored(session, stored, chosen, leaves=leaves)
        session.flush()


def _catch_up_in(conn: Connection, app: Any, chosen: list[Any]) -> int:
    """Another writer may have committed between the catch-up and the lock: project it here.
    Returns the id of the store's last event."""
    from sqlalchemy import select

    from projections.runner import standings

    table = app.recorder.events_record_cls.__table__
    names = [p.name for p in chosen]
    positions = standings(conn, names)
    start = min(positions.values())
    head = conn.execute(select(table.c.id).order_by(table.c.id.desc()).limit(1)).scalar() or 0
    if start >= head:
        return int(head)
    if any(positions.get(n, 0) != start for n in names):
        msg = _("the projections stand at different positions; run `grant-ledger projections status`")
        raise StorageError(msg)
    from eventsourcing.persistence import Notification

    c = table.c
    query = select(c.id, c.originator_id, c.originator_version, c.topic, c.state)
    behind = [
        Notification(id=r[0], originator_id=r[1], originator_version=r[2], topic=r[3], state=bytes(r[4]))
        for r in conn.execute(query.where(table.c.id > start).order_by(table.c.id))
    ]
    from projections.records import records
    from projections.runner import check_sealed

    check_sealed(app, records(behind))
    _project(conn, behind, chosen)
    return int(head)


def register(cli: click.Group) -> None:
    cli.add_command(import_command)
