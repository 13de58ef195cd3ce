"""``balance``: per base and grant, what each fund source received, spent and has left."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from commands.reading import (
    TERMINAL_WIDTH,
    emit,
    engine_for_reading,
    parse_moment,
    period_options,
    read_options,
    when,
)
from commands.totals import Totals
from ledger.errors import BadInputError, NotFoundError
from ledger.money import ZERO
from projections.figures import Balance

if TYPE_CHECKING:
    from commands.chart import Chart
    from projections.quick import Laying

__all__ = ["balance_command", "parse_moment", "register"]

HEADERS = {
    "zh": [
        "基地",
        "项目编号",
        "基地名称",
        "类型",
        "状态",
        "批复补助",
        "补助到位",
        "补助支出",
        "补助结余",
        "配套承诺",
        "配套到位",
        "配套支出",
        "配套结余",
        "执行率%",
        "补助追回",
        "补助结余处置",
        "配套结余处置",
        "区县",
    ],
    "en": [
        "base",
        "grant",
        "name",
        "programme",
        "status",
        "subsidy approved",
        "subsidy received",
        "subsidy spent",
        "subsidy available",
        "matching committed",
        "matching received",
        "matching spent",
        "matching available",
        "execution %",
        "subsidy recovered",
        "subsidy disposed",
        "matching disposed",
        "district",
    ],
}
KEYS = [
    "base_id",
    "grant_id",
    "base_name",
    "programme",
    "status",
    "subsidy_approved",
    "subsidy_received",
    "subsidy_spent",
    "subsidy_available",
    "matching_committed",
    "matching_received",
    "matching_spent",
    "matching_available",
    "execution_rate",
    "subsidy_recovered",  # returned on a recovery order (recover receive)
    "subsidy_disposed",  # remaining balances returned or carried forward (dispose)
    "matching_disposed",
    "district",  # the unit's 行政区划代码 (ledger.district), if recorded
]
TITLE = {"zh": "余额表", "en": "balances"}
# the Balance attribute (projections.figures) each column shows
FIELDS = dict(
    zip(
        KEYS,
        (
            *("base_id", "grant_id", "base_name", "programme", "status", "approved"),
            *("subsidy_received", "subsidy_spent", "subsidy_available"),
            *("matching_committed", "matching_received", "matching_spent", "matching_available"),
            *("execution_rate", "subsidy_recovered", "subsidy_disposed", "matching_disposed", "district"),
        ),
        strict=True,
    )
)
# over a period (--from): each source's balance at its opening, then its movements within it, and
# the available columns are its balance at its close
OPENING = {"subsidy_opening": "subsidy_approved", "matching_opening": "matching_committed"}  # placed before
PERIOD_KEYS = [k2 for k in KEYS for k2 in ([o for o, at in OPENING.items() if at == k] + [k])]
_PERIOD_NAMES = {
    "zh": {"subsidy_opening": "补助期初结余", "subsidy_available": "补助期末结余",
           "matching_opening": "配套期初结余", "matching_available": "配套期末结余"},
    "en": {"subsidy_opening": "subsidy opening", "subsidy_available": "subsidy closing",
           "matching_opening": "matching opening", "matching_available": "matching closing"},
}  # fmt: skip
PERIOD_HEADERS = {
    lang: [names.get(k) or HEADERS[lang][KEYS.index(k)] for k in PERIOD_KEYS]
    for lang, names in _PERIOD_NAMES.items()
}
TOTALS = Totals(
    sums=tuple(k for k in PERIOD_KEYS[5:] if k not in ("execution_rate", "district")),
    rates={
        "execution_rate": (("subsidy_spent", "matching_spent"), ("subsidy_received", "matching_received"))
    },
)

# the table's columns by default, most wanted first: as many as fit TERMINAL_WIDTH are shown
FIT = (
    "base_id",
    "grant_id",
    "subsidy_received",
    "subsidy_spent",
    "subsidy_available",
    "execution_rate",
    "matching_received",
    "matching_spent",
    "matching_available",
    "subsidy_approved",
    "matching_committed",
    "status",
    "programme",
    "subsidy_recovered",
    "subsidy_disposed",
    "matching_disposed",
)
PERIOD_FIT = (*FIT[:2], "subsidy_opening", *FIT[2:6], "matching_opening", *FIT[6:])


def chosen_columns(text: str, keys: list[str] = KEYS, headers: dict[str, list[str]] = HEADERS) -> list[str]:
    """--columns: keys or headers (Chinese or English), comma-separated, in the order given."""
    by_name = {
        name.casefold(): key
        for names in (keys, *headers.values())
        for name, key in zip(names, keys, strict=True)
    }
    chosen = []
    for name in (n.strip() for n in text.replace("，", ",").split(",")):
        key = by_name.get(name.casefold())
        if key is None:
            valid = ", ".join(f"{k} ({h})" for k, h in zip(keys, headers["zh"], strict=True))
            raise BadInputError(f"--columns: no column {name!r}; the columns are {valid}")
        if key not in chosen:
            chosen.append(key)
    return chosen


@click.command("balance")
@click.argument("base_ids", nargs=-1)
@read_options()
@period_options
@click.option(
    "--columns",
    "columns_text",
    metavar="A,B,…",
    help="the columns to show, by key or header (base_id,补助支出,…), in every format; "
    f"by default the table shows as many as fit {TERMINAL_WIDTH} columns of terminal",
)
@click.option(
    "--district",
    "district_text",
    metavar="CODE",
    help="only the bases of units in this district (区县): its 6-digit code (500103) or Chinese "
    "name (渝中区); `grant-ledger unit districts` lists them. With --as-of or --known-at, the "
    "district each unit stood in then",
)
def balance_command(
    base_ids: tuple[str, ...],
    as_of: datetime | None,
    known_at: str | None,
    fmt: str,
    output: Path | None,
    columns_text: str | None,
    district_text: str | None,
) -> None:
    """Balances per base: subsidy approved / received / spent / available, matching
    committed / received / spent / available, and the execution rate (spent ÷ received);
    then subsidy recovered and balances disposed of, which the available figures already deduct.

    --as-of DATE gives the books as of a business date; --known-at TIMESTAMP what the ledger knew
    at that moment (events recorded later are left out, a late reversal included); --from DATE
    --to DATE a period's books (a fiscal year's 决算): the balances at its opening, the movements
    dated within it, and the balances at its close.

    \b
    Examples:
      grant-ledger balance
      grant-ledger balance B0001 B0002 --format json
      grant-ledger balance --as-of 2024-06-30 --known-at 2024-07-05T18:00:00
      grant-ledger balance --columns base_id,补助到位,补助支出,执行率%
      grant-ledger balance --from 2024-01-01 --to 2024-12-31
      grant-ledger balance --district 渝中区
      grant-ledger balance --format xlsx --output 余额表.xlsx
    """
    from commands.context import settings

    lang = settings().lang
    w = when(as_of, known_at)
    period = w.since is not None
    keys, headers = (PERIOD_KEYS, PERIOD_HEADERS) if period else (KEYS, HEADERS)
    columns = chosen_columns(columns_text, keys, headers) if columns_text is not None else None
    district = district_option(district_text) if district_text is not None else None
    moment = parse_moment(known_at) if known_at else None
    found = None
    current = w.as_of is None and moment is None and not period
    if current and fmt == "json" and not base_ids and columns is None and district is None:
        pieces = _current_json(settings().url)
        if pieces is not None:
            emit(title=TITLE, keys=KEYS, headers=HEADERS, rows=[], fmt=fmt, output=output, json=pieces)
            return
    if current:
        from projections.quick import current_balances

        found = current_balances(settings().url, base_ids)
    opening: dict[str, Balance] = {}
    if found is None:
        from projections.queries import balances

        engine = engine_for_reading(acts=w.as_of is not None or moment is not None)  # status as it stood
        found = balances(engine, base_ids, w.as_of, moment, w.since)
        if w.since is not None:
            before = balances(engine, base_ids, w.since - timedelta(days=1), moment)
            opening = {b.grant_id: b for b in before}
    missing = sorted(set(base_ids) - {b.base_id for b in found})
    if missing:
        from commands.i18n import _

        msg = _("no grant for base {bases} in the ledger").format(bases=", ".join(missing))
        raise NotFoundError(msg)
    if district is not None:
        found = [b for b in found if b.district == district]
    rows = []
    for b in found:
        values: dict[str, Any] = {key: getattr(b, field) for key, field in FIELDS.items()}
        if period:  # the period's movements close what the source held at its opening
            start = opening.get(b.grant_id)
            for source in ("subsidy", "matching"):
                held = getattr(start, f"{source}_available") if start is not None else ZERO
                values[f"{source}_opening"] = held
                values[f"{source}_available"] = held + values[f"{source}_available"]
        rows.append([values[k] for k in keys])
    emit(
        title=TITLE,
        keys=keys,
        headers=headers,
        rows=rows,
        fmt=fmt,
        output=output,
        empty={"zh": "账中尚无项目。", "en": "no grants in the ledger yet"},
        columns=columns,
        fit=None if columns is not None else PERIOD_FIT if period else FIT,  # no name: JSON/CSV/xlsx have it
        report_date=w.as_of,
        since=w.since,
        chart=_chart(lang) if fmt == "xlsx" else None,  # drawn by the workbook alone
        totals=TOTALS,
    )


def _chart(lang: str) -> Chart:
    from commands.chart import Chart

    return Chart(
        {"zh": "各基地执行率（支出÷到位）", "en": "execution rate per base (spent ÷ received)"}[lang],
        label="base_id",
        series=("execution_rate",),
        percent=True,
    )


def _current_json(url: str) -> list[str] | None:
    """Every grant's balance as `balance --format json` prints it, without a Balance or a dict
    each: SQLite lays each record out itself (``json_laying``), by a process per core from 10,000
    grants (``current_texts``; 200,000 grants: 1.5–1.8 s, against 2.1–2.7 s laid out in Python),
    in pieces (``emit``'s ``json``); None when the quick path cannot tell (projections.quick),
    and the ordinary path answers."""
    from commands.json_output import json_list
    from projections.quick import current_texts

    chunks = current_texts(url, json_laying())
    return None if chunks is None else json_list(chunks)


def json_laying() -> Laying:
    """Each grant's record of `balance --format json` laid out by SQLite, one printf a grant
    (``json_record_sql``); a grant with a figure beyond ``SQL_FEN_BOUND`` comes back as its row,
    laid out here."""
    from json import loads

    from commands.json_output import RECORD_SEP, json_record_sql
    from ledger.money import SQL_FEN_BOUND
    from projections.figures import MEASURES, derived_sql
    from projections.quick import LABELS, Laying

    # a grant's row where SQLite cannot lay it out: its labels, its measures and its district
    row = [f"g.{c}" for c in (*LABELS, *MEASURES)] + ["u.district"]
    subsidy, matching, rate = derived_sql(row[len(LABELS) : len(LABELS) + len(MEASURES)])
    kinds: dict[str, tuple[str, str]] = {
        **{name: ("text", f"g.{name}") for name in LABELS},
        **{name: ("fen", f"g.{name}") for name in MEASURES},
        "subsidy_available": ("fen", subsidy),
        "matching_available": ("fen", matching),
        "execution_rate": ("fen or null", rate),
        "district": ("text", "u.district"),
    }
    record = json_record_sql(KEYS, [kinds[FIELDS[key]] for key in KEYS])
    within = " AND ".join(f"abs(g.{name}) <= {SQL_FEN_BOUND}" for name in MEASURES)
    columns = f"CASE WHEN {within} THEN {record} ELSE json_array({', '.join(row)}) END"
    lay_row = _row_layout()

    def lay(rows: list[tuple[Any, ...]]) -> str:
        texts = [text for (text,) in rows]
        if any(text[0] == "[" for text in texts):  # a record begins {, a row beyond the bound [
            texts = [lay_row(loads(text)) if text[0] == "[" else text for text in texts]
        return RECORD_SEP.join(texts)

    return Laying(lay, columns)


def _row_layout() -> Any:
    """A grant's record as `balance --format json` prints it, laid out from its row (labels,
    measures in fen, district) in Python."""
    from operator import itemgetter

    from commands.json_output import json_record_template, json_token
    from ledger.money import from_fen
    from projections.figures import MEASURES, derived_fen
    from projections.quick import LABELS

    placed = (*LABELS, "district", *MEASURES, "subsidy_available", "matching_available", "execution_rate")
    pick = itemgetter(*[placed.index(FIELDS[key]) for key in KEYS])
    template = json_record_template(KEYS)
    first, last = len(LABELS), len(LABELS) + len(MEASURES)

    def lay_row(row: list[Any]) -> str:
        measures = row[first:last]
        subsidy, matching, rate = derived_fen(measures)
        laid = (
            *map(json_token, row[:first]),
            json_token(row[last]),
            *(json_token(from_fen(fen)) for fen in measures),
            json_token(from_fen(subsidy)),
            json_token(from_fen(matching)),
            json_token(rate),
        )
        return template % pick(laid)

    return lay_row


def district_option(text: str) -> str:
    """--district: a district's code, by its code or Chinese name (the field rule of the actions'
    district, ledger.actions), or one sentence (exit 2)."""
    from ledger.district import district_code

    try:
        return district_code(text.strip())
    except ValueError as e:
        raise BadInputError(f"--district: {e}") from None


def register(cli: click.Group) -> None:
    cli.add_command(balance_command)
