"""What every read command shares: the options ``--format table|json|csv|xlsx``, ``--output``,
``--as-of`` and ``--known-at``, the caught-up engine it reads, and the one way it prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from commands.dates import DATE
from commands.i18n import _
from ledger.clock import business_today
from ledger.errors import BadInputError

if TYPE_CHECKING:
    from commands.totals import Totals
    from commands.workbook import Chart

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


def read_options(formats: Sequence[str] = FORMATS) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--as-of``, ``--known-at``, ``--format`` and ``--output`` for a read command."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
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
                    help="write to this file (needed for xlsx)",
                ),
            ]
        ):
            f = option(f)
        return file_options(f)

    return decorate


@dataclass(frozen=True)
class When:
    as_of: date | None
    known_at: datetime | None


def when(as_of: datetime | None, known_at: str | None) -> When:
    return When(as_of.date() if as_of else None, parse_moment(known_at) if known_at else None)


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


def bases_named(engine: Any, ids: Sequence[str]) -> tuple[str, ...]:
    """The bases a report's arguments name: a base id, or a grant id standing for its base; one
    naming neither is NotFoundError (exit 4), never an empty report."""
    if not ids:
        return ()
    from sqlalchemy import or_, select

    from ledger.errors import NotFoundError
    from projections.schema import grants

    wanted = list(dict.fromkeys(ids))
    query = select(grants.c.base_id, grants.c.grant_id).where(
        or_(grants.c.base_id.in_(wanted), grants.c.grant_id.in_(wanted))
    )
    with engine.connect() as conn:
        found = conn.execute(query).all()
    base_of = {grant_id: base_id for base_id, grant_id in found}
    known = {base_id for base_id, _ in found}
    missing = [i for i in wanted if i not in known and i not in base_of]
    if missing:
        raise NotFoundError(_("no base or grant {ids} in the ledger").format(ids=", ".join(missing)))
    return tuple(dict.fromkeys(i if i in known else base_of[i] for i in wanted))


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
    keys: Sequence[str], rows: Sequence[Sequence[Any]], named: Mapping[str, str] | None = None
) -> list[list[Any]]:
    """``rows`` with each code of a labelled column (``LABELLED``, and ``named``: key -> kind of
    label, for a report whose column means something else) shown by its name."""
    from ledger.labels import label

    which = {**LABELLED, **(named or {})}
    kinds = {i: which[key] for i, key in enumerate(keys) if key in which}
    if not kinds:
        return [list(row) for row in rows]
    return [
        [
            label(kinds[i], value) if i in kinds and isinstance(value, str) and value else value
            for i, value in enumerate(row)
        ]
        for row in rows
    ]


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
) -> None:
    """Print (or write) a report: table aligned by display width, json, csv, or a workbook laid
    out as a finance office files it (``commands.workbook``; ``report_date``: the books' date,
    today in Chongqing if none; ``chart``: what it draws). ``totals``: what its 合计 row adds up
    (the table, and a csv or workbook headed by labels; never json nor --codes, which are for
    machines). ``columns``: the keys shown, in every format (``hidden``: left out of the table;
    ``fit``: the keys the table may show, most wanted first, as many as fit ``TERMINAL_WIDTH``).
    ``named``: columns labelled besides ``LABELLED`` (key -> kind of ``ledger.labels``)."""
    from commands.context import settings
    from commands.output import display_width, table, to_csv, to_json, write_csv, write_text
    from commands.totals import LABEL, total_row
    from commands.totals import labelled as with_label

    lang = settings().lang
    shown_headers = [_(h) for h in headers] if not isinstance(headers, Mapping) else list(headers[lang])
    name = _text(title, lang)
    total = total_row(totals, keys, rows) if totals is not None and rows else None
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
    if codes_wanted() or fmt == "json":
        total = None
    if fmt != "json" and not codes_wanted():
        rows = labelled(keys, rows, named)
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
        )
        click.echo(_("wrote {title} to {path}").format(title=name, path=output))
        return
    if fmt == "json":
        text = to_json([dict(zip(keys, row, strict=True)) for row in rows]) + "\n"
    elif fmt == "csv":
        text = to_csv(labels, rows if total is None else [*rows, with_label(total, LABEL[lang])])
        if output is not None:
            write_csv(output, text, bom_wanted())
            click.echo(_("wrote {title} to {path}").format(title=name, path=output))
            return
    elif not rows:
        text = (_text(empty, lang) if empty else _("nothing to report")) + "\n"
    else:
        wanted = [k for k in fit if k in keys] if fit is not None else []
        while True:
            shown = [i for i, k in enumerate(keys) if (k in wanted if fit is not None else i not in hidden)]
            text = (
                table(
                    [shown_headers[i] for i in shown],
                    [[row[i] for i in shown] for row in rows],
                    total=None if total is None else with_label([total[i] for i in shown], LABEL[lang]),
                )
                + "\n"
            )
            if len(wanted) <= 2 or max(map(display_width, text.splitlines())) <= TERMINAL_WIDTH:
                break
            wanted.pop()  # the least wanted column left
    if output is not None:
        write_text(output, text)
        click.echo(_("wrote {title} to {path}").format(title=name, path=output))
    else:
        click.echo(text, nl=False)
