"""What every read command shares: the options ``--format table|json|csv|xlsx``, ``--output``,
``--as-of`` and ``--known-at``, the caught-up engine it reads, and the one way it prints.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from commands.dates import DATE
from commands.i18n import _
from ledger.clock import business_today
from ledger.errors import BadInputError

if TYPE_CHECKING:
    from commands.captured import Capture
    from commands.chart import Chart
    from commands.totals import Totals

FORMATS = ("table", "json", "csv", "xlsx")
TERMINAL_WIDTH = 160  # what a table fitted to the terminal (``emit(fit=…)``) may take


def parse_moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        raise click.BadParameter(
            _(
                "{value!r} is not a timestamp; write it like 2024-05-01T17:30:00 or 2024-05-01T09:30:00+00:00"
            ).format(value=value),
            param_hint="--known-at",
        ) from None
    try:
        moment.astimezone(UTC)  # recorded times are compared in UTC (naive times are local)
    except (ValueError, OverflowError):
        raise click.BadParameter(
            _("{value!r} is too far in the past or future to compare with recorded times").format(
                value=value
            ),
            param_hint="--known-at",
        ) from None
    return moment


# Where --codes and --no-bom leave their values (the click context's meta, shared by its children)
_CODES = "grant_ledger.codes"
_NO_BOM = "grant_ledger.no_bom"
_FROM, _TO = "grant_ledger.from", "grant_ledger.to"
_CAPTURE = "grant_ledger.capture"


def _keep(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    ctx.meta[_CODES if param.name == "codes" else _NO_BOM] = value


def file_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--codes`` and ``--no-bom`` for a command writing csv or xlsx: by default their columns are
    headed by the --lang labels, and a csv file (--output) starts with the byte-order mark that
    Excel on zh-CN Windows needs to read UTF-8 (standard output never has one)."""
    f = click.option(
        "--no-bom",
        "no_bom",
        is_flag=True,
        expose_value=False,
        callback=_keep,
        help="a csv file in plain UTF-8, without the byte-order mark Excel reads UTF-8 by",
    )(f)
    return click.option(
        "--codes",
        is_flag=True,
        expose_value=False,
        callback=_keep,
        help="csv/xlsx columns headed by their codes (base_id, subsidy_spent…), for machines, "
        "not by the --lang labels (json always carries the codes)",
    )(f)


def codes_wanted() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(_CODES))


def bom_wanted() -> bool:
    """A csv written to a file starts with a BOM unless --no-bom says otherwise."""
    ctx = click.get_current_context(silent=True)
    return not (ctx is not None and ctx.meta.get(_NO_BOM))


def _keep_day(ctx: click.Context, param: click.Parameter, value: datetime | None) -> None:
    ctx.meta[_FROM if param.name == "since" else _TO] = value.date() if value is not None else None


def period_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--from DATE --to DATE`` for a money report: the movements dated within the period (a
    fiscal year's 决算), a balance shown opened the day before --from and closed on --to (read
    through ``when``)."""
    f = click.option(
        "--to",
        "until",
        type=DATE,
        expose_value=False,
        callback=_keep_day,
        help="the period's last day (default: --as-of, or today)",
    )(f)
    return click.option(
        "--from",
        "since",
        type=DATE,
        expose_value=False,
        callback=_keep_day,
        help="a report over the period from this day: its movements, with opening and closing balances",
    )(f)


SUFFIXES = {"csv": "csv", "tsv": "csv", "xlsx": "xlsx", "json": "json", "beancount": "beancount",
            "journal": "hledger", "hledger": "hledger"}  # fmt: skip


def format_of(fmt: str, output: Path | None, formats: Sequence[str]) -> str:
    """The format to write: --format as given, else the one --output's name ends in (-o 余额.xlsx
    wrote a text table named .xlsx, which Excel refuses), else the default."""
    ctx = click.get_current_context(silent=True)
    if output is None or ctx is None:
        return fmt
    from click.core import ParameterSource

    if ctx.get_parameter_source("fmt") not in (ParameterSource.DEFAULT, None):
        return fmt
    named = SUFFIXES.get(output.suffix.lower().lstrip("."), fmt)
    return named if named in formats else fmt


def format_by_name(formats: Sequence[str] = FORMATS) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A command with ``--format`` and ``--output`` given, as ``fmt``, the format ``format_of``
    finds: the one --output's name says when --format is not given."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def named(*args: Any, **kwargs: Any) -> Any:
            kwargs["fmt"] = format_of(kwargs["fmt"], kwargs.get("output"), formats)
            return command(*args, **kwargs)

        return named

    return decorate


def read_options(formats: Sequence[str] = FORMATS) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--as-of``, ``--known-at``, ``--format`` and ``--output`` for a read command; without
    --format, the format --output's name says (``format_by_name``)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        f = format_by_name(formats)(command)
        for option in reversed(
            [
                click.option("--as-of", type=DATE, help="the books as of this business date"),
                click.option(
                    "--known-at",
                    help="what the ledger knew at this moment: events recorded later are left out "
                    "(ISO timestamp; naive times are local)",
                ),
                click.option(
                    "--format", "fmt", type=click.Choice(list(formats)), default="table", show_default=True
                ),
                click.option(
                    "--output",
                    "-o",
                    type=click.Path(dir_okay=False, path_type=Path),
                    help="write to this file (needed for xlsx); without --format, in the format its "
                    "name ends in (.xlsx, .csv, .json)",
                ),
            ]
        ):
            f = option(f)
        return file_options(f)

    return decorate


class When(NamedTuple):
    as_of: date | None  # the books' last day (a period's --to)
    known_at: datetime | None
    since: date | None = None  # a period's first day (--from)


def when(as_of: datetime | None, known_at: str | None) -> When:
    """The books a read command shows: as of a day, as known at a moment, and over the period
    --from/--to of the command's ``period_options``, if it has them and they are given."""
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    since, until = meta.get(_FROM), meta.get(_TO)
    end = as_of.date() if as_of else None
    if until is not None:
        if end is not None and end != until:
            raise BadInputError(
                _("--to {until} and --as-of {end} both name the books' last day; give one").format(
                    until=until, end=end
                )
            )
        end = until
    if since is not None and since > (end or business_today()):
        last = f"--to {end}" if until is not None else f"--as-of {end}" if end is not None else _("today")
        raise BadInputError(
            _("--from {since} is after {last}: a period cannot end before it begins").format(
                since=since, last=last
            )
        )
    if since is not None and end is None:
        end = business_today()  # a period from --from runs to today in Chongqing
    return When(end, parse_moment(known_at) if known_at else None, since)


def engine_for_reading(*, acts: bool = False) -> Any:
    """The projections' engine, caught up with the store (read-your-writes); ``acts``: the acts
    projection too (Settings.ensure_current)."""
    from sqlalchemy import inspect

    from commands.context import settings
    from projections.schema import grants

    s = settings()
    s.load_installed_policy()
    s.ensure_current(acts=acts)
    engine = s.engine()
    if not inspect(engine).has_table(grants.name):
        s.catch_up()
        engine = s.engine()
    return engine


def bases_named(
    engine: Any, ids: Sequence[str], as_of: date | None = None, known_at: datetime | None = None
) -> tuple[str, ...]:
    """The bases a report's arguments name: a base id, or a grant id standing for its base; one
    naming neither is NotFoundError (exit 4), never an empty report — nor one whose grants were
    all applied for after ``as_of`` or recorded after ``known_at``: the books as they stood then
    held no such base."""
    if not ids:
        return ()
    from sqlalchemy import or_, select, true

    from ledger.errors import NotFoundError
    from projections.queries import stored_time
    from projections.schema import grants

    g = grants.c
    wanted = list(dict.fromkeys(ids))
    known = g.recorded_at <= stored_time(engine, known_at) if known_at is not None else true()
    applied = g.applied_on <= as_of if as_of is not None else true()
    query = select(g.base_id, g.grant_id, known.label("known"), applied.label("applied")).where(
        or_(g.base_id.in_(wanted), g.grant_id.in_(wanted))
    )
    with engine.connect() as conn:
        found = conn.execute(query).all()
    named = {i: [r for r in found if r.base_id == i] or [r for r in found if r.grant_id == i] for i in wanted}
    missing = [i for i in wanted if not named[i]]
    if missing:
        raise NotFoundError(_("no base or grant {ids} in the ledger").format(ids=", ".join(missing)))
    unknown = [i for i in wanted if not any(r.known for r in named[i])]
    if unknown:
        raise NotFoundError(
            _("no base or grant {ids} was recorded by {moment}").format(
                ids=", ".join(unknown), moment=known_at.isoformat() if known_at else ""
            )
        )
    later = [i for i in wanted if not any(r.known and r.applied for r in named[i])]
    if later:
        raise NotFoundError(
            _("no base or grant {ids} was applied for by {day}").format(
                ids=", ".join(later), day=as_of.isoformat() if as_of else ""
            )
        )
    return tuple(dict.fromkeys(named[i][0].base_id for i in wanted))


# columns whose values are codes with a name people read (ledger.labels), shown by the name in
# tables, csv and workbooks unless --codes; json keeps the codes
LABELLED = {
    "source": "source",
    "status": "status",
    "programme": "programme",
    "category": "category",
    "content": "content",
    "role": "role",
}


def labelled(
    keys: Sequence[str],
    rows: Sequence[Sequence[Any]],
    named: Mapping[str, str] | None = None,
    only: set[str] | None = None,
) -> list[list[Any]]:
    """``rows`` with each code of a labelled column (``LABELLED``, and ``named``: key -> kind of
    label, for a report whose column means something else) shown by its name (``only``: of these
    columns, the others left as they are)."""
    from ledger.labels import label

    which = {**LABELLED, **(named or {})}
    kinds = {i: which[key] for i, key in enumerate(keys) if key in which and (only is None or key in only)}
    if not kinds:
        return [list(row) for row in rows]
    return [
        [
            label(kinds[i], value) if i in kinds and isinstance(value, str) and value else value
            for i, value in enumerate(row)
        ]
        for row in rows
    ]


def _surely_fitting(
    keys: Sequence[str],
    headers: Sequence[str],
    first: Sequence[Any],
    wanted: list[str],
    kinds: Mapping[str, str],
) -> list[str]:
    """``wanted`` less the least wanted columns that cannot fit ``TERMINAL_WIDTH`` whatever their
    labels say, so that those are never looked up (a programme's name loads the policy). A column
    is at least as wide as its header and, unless it is labelled, as its first row's cell: too wide
    by that, too wide laid out."""
    from commands.output import cell_width, display_width

    at = {k: i for i, k in enumerate(keys)}
    least = [
        display_width(headers[at[k]])
        if k in kinds
        else max(display_width(headers[at[k]]), cell_width(first[at[k]]))
        for k in wanted
    ]
    kept = len(wanted)
    while kept > 2 and sum(least[:kept]) + 2 * (kept - 1) > TERMINAL_WIDTH:
        kept -= 1
    return wanted[:kept]


def capture(ctx: click.Context) -> Capture:
    """Run in ``ctx``, a read command prints nothing: its table is kept in the Capture returned."""
    from commands.captured import Capture

    kept = ctx.meta[_CAPTURE] = Capture()
    return kept


def _captured() -> Capture | None:
    ctx = click.get_current_context(silent=True)
    return None if ctx is None else ctx.meta.get(_CAPTURE)


def _wrote(name: str, output: Path) -> None:
    if _captured() is None:
        click.echo(_("wrote {title} to {path}").format(title=name, path=output))


def _text(title: Mapping[str, str] | str, lang: str) -> str:
    return _(title) if isinstance(title, str) else title[lang]


def emit(
    *,
    title: Mapping[str, str] | str,
    keys: Sequence[str],
    headers: Mapping[str, Sequence[str]] | Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: str,
    output: Path | None,
    empty: Mapping[str, str] | str | None = None,
    hidden: Sequence[int] = (),
    report_date: date | None = None,
    chart: Chart | None = None,
    totals: Totals | None = None,
    columns: Sequence[str] | None = None,
    fit: Sequence[str] | None = None,
    named: Mapping[str, str] | None = None,
    since: date | None = None,
    json: Sequence[str] | None = None,
) -> None:
    """Print (or write) a report: table aligned by display width, json, csv, or a workbook laid
    out as a finance office files it (``commands.workbook``; ``report_date``: the books' date,
    today in Chongqing if none; ``chart``: what it draws). ``totals``: what its 合计 row adds up
    (the table, and a csv or workbook headed by labels; never json nor --codes, which are for
    machines). ``columns``: the keys shown, in every format (``hidden``: left out of the table;
    ``fit``: the keys the table may show, most wanted first, as many as fit ``TERMINAL_WIDTH``;
    ``since``: the first day of the period the workbook reports on, to ``report_date``).
    ``named``: columns labelled besides ``LABELLED`` (key -> kind of ``ledger.labels``).
    ``json``: the records as ``to_json`` writes them, in pieces, when the caller has laid them out
    itself (``commands.json_output.json_list``): written one after another, never joined."""
    from commands.context import settings
    from commands.output import cell_width, column_widths, table, table_width, to_csv, write_csv, write_text
    from commands.totals import LABEL, total_row
    from commands.totals import labelled as with_label

    lang = settings().lang
    shown_headers = [_(h) for h in headers] if not isinstance(headers, Mapping) else list(headers[lang])
    name = _text(title, lang)
    machine = codes_wanted() or fmt == "json"  # no 合计 row: machines add up for themselves
    total = total_row(totals, keys, rows) if totals is not None and rows and not machine else None
    if columns is not None:
        at = [list(keys).index(k) for k in columns]
        keys = [keys[i] for i in at]
        shown_headers = [shown_headers[i] for i in at]
        rows = [[row[i] for i in at] for row in rows]
        total = None if total is None else [total[i] for i in at]
        hidden = ()
        if chart is not None and not {chart.label, *chart.series} <= set(keys):
            chart = None  # it would draw columns not shown
    labels = keys if codes_wanted() else shown_headers
    fitted = fmt == "table" and fit is not None and bool(rows) and _captured() is None
    wanted = [k for k in dict.fromkeys(fit) if k in keys] if fit is not None else []  # each once
    if fitted:
        wanted = _surely_fitting(keys, shown_headers, rows[0], wanted, {**LABELLED, **(named or {})})
    if fmt != "json" and not codes_wanted():
        rows = labelled(keys, rows, named, only=set(wanted) if fitted else None)
    if fmt == "xlsx":
        if output is None:
            raise BadInputError(_("an xlsx report needs --output FILE.xlsx"))
        from commands.workbook import office_workbook

        office_workbook(
            output,
            title=name,
            keys=keys,
            headers=labels,
            rows=rows,
            lang=lang,
            org=settings().org,
            report_date=report_date or business_today(),  # today in Chongqing
            chart=chart,
            total=None if total is None else with_label(total, LABEL[lang]),
            since=since,
        )
        _wrote(name, output)
        return
    text: str | list[str]
    if fmt == "json":
        if json is not None:
            text = [*json, "\n"]
        else:
            from commands.json_output import to_json

            text = to_json([dict(zip(keys, row, strict=True)) for row in rows]) + "\n"
    elif fmt == "csv":
        text = to_csv(labels, rows if total is None else [*rows, with_label(total, LABEL[lang])])
        if output is not None:
            write_csv(output, text, bom_wanted())
            _wrote(name, output)
            return
    elif (kept := _captured()) is not None:
        from commands.captured import Shown

        shown = [i for i in range(len(keys)) if i not in hidden]
        kept.shown = Shown(
            title=name,
            keys=[keys[i] for i in shown],
            headers=[shown_headers[i] for i in shown],
            rows=[[row[i] for i in shown] for row in rows],
            total=None if total is None else with_label([total[i] for i in shown], LABEL[lang]),
            empty=_text(empty, lang) if empty else _("nothing to report"),
        )
        return
    elif not rows:
        text = (_text(empty, lang) if empty else _("nothing to report")) + "\n"
    else:
        every = column_widths(shown_headers, rows) if len(wanted) > 2 else []
        while True:
            shown = [i for i, k in enumerate(keys) if (k in wanted if fit is not None else i not in hidden)]
            last = None if total is None else with_label([total[i] for i in shown], LABEL[lang])
            if len(wanted) <= 2:
                break
            widths = [every[i] for i in shown]
            if last is not None:
                widths = [max(w, cell_width(c)) for w, c in zip(widths, last, strict=True)]
            if table_width(widths) <= TERMINAL_WIDTH:
                break
            wanted.pop()  # the least wanted column left
        text = (
            table([shown_headers[i] for i in shown], [[row[i] for i in shown] for row in rows], total=last)
            + "\n"
        )
    if output is not None:
        write_text(output, text)
        _wrote(name, output)
    else:
        for piece in [text] if isinstance(text, str) else text:
            click.echo(piece, nl=False)
