"""The reports' pages: /reports lists them; /reports/<name> shows one with its pickers, and its
xlsx and csv downloads (/reports/<name>/xlsx, /csv).

Each is its command run as the command line runs it (``balance``, ``report …``): the pickers
become its options, click parses them, and the command's own ``emit`` lays out the table
(``commands.reading.capture``) or writes the file handed back, byte for byte what
``--format xlsx|csv --output FILE`` writes. Nothing is computed here.
"""

from __future__ import annotations

import importlib
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import click
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from commands.captured import Shown
from commands.output import _cell as cell_text
from commands.reading import capture
from commands.web.i18n import _
from commands.web.status import STATUS
from ledger.errors import LedgerError
from ledger.i18n import N_

if TYPE_CHECKING:
    from commands.web.sessions import Session
    from commands.web.workspace import Workspace


class App(Protocol):
    """What these pages use of ``commands.web.app.App`` (which routes to them)."""

    workspace: Workspace

    def page(
        self, template: str, session: Session, *, status: int = 200, set_cookie: bool = False, **values: Any
    ) -> Response: ...

    def finish(self, response: Response, session: Session | None) -> Response: ...


@dataclass(frozen=True)
class Report:
    slug: str
    title: str  # N_: the page's language at render
    about: str
    command: str  # module:attribute of the click command
    words: tuple[str, ...]  # how the command line names it
    known_at: bool = True  # --known-at
    period: bool = True  # --from/--to


REPORTS: dict[str, Report] = {
    r.slug: r
    for r in (
        Report("balance", N_("Balances"), N_("Per base: each fund source approved, received, spent and "
               "available, and the execution rate."), "commands.balance:balance_command", ("balance",)),
        Report("findings", N_("Findings"), N_("Compliance warnings per base: matching below 1:1, outputs "
               "below target, rectifications overdue, little spent late in the build period."),
               "commands.findings:findings_command", ("report", "findings"), period=False),
        Report("sources", N_("Fund sources"), N_("Per base and fund source: approved or committed, "
               "received, spent, available."), "commands.report_sources:sources_command",
               ("report", "sources")),
        Report("categories", N_("Spending by category"), N_("Spending per base, category, fund source and "
               "construction content."), "commands.report_categories:categories_command",
               ("report", "categories")),
        Report("execution", N_("Execution rate"), N_("Spent against received and approved, and the days "
               "left to build."), "commands.report_execution:execution_command", ("report", "execution")),
        Report("matching", N_("Matching funds"), N_("Matching committed and received against 1:1 of the "
               "subsidy."), "commands.report_matching:matching_command", ("report", "matching")),
        Report("budget", N_("Budget against actual"), N_("Each line of a grant's plan (表4-2): planned, "
               "spent, remaining."), "commands.report_budget:budget_command", ("report", "budget")),
    )
}  # fmt: skip

# the pickers: query field -> the command's option, and the parameter click names it by
PICKERS = {"as_of": "--as-of", "known_at": "--known-at", "from": "--from", "to": "--to"}
PARAMS = {"as_of": "as_of", "known_at": "known_at", "since": "from", "until": "to", "--known-at": "known_at"}
LABELS = {
    "as_of": N_("As of"),
    "known_at": N_("Known at"),
    "from": N_("From"),
    "to": N_("To"),
    "bases": N_("Bases or grants"),
}
MAX_FIELD = 400  # characters a picker may hold
MAX_BASES = 200
FILES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


class Refused(Exception):
    """A picker the command refused: the sentence to show beside the form, and the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Picked:
    """The pickers as given (echoed into the form) and the command's arguments they make."""

    values: dict[str, str]
    args: list[str]


def picked(report: Report, query: Mapping[str, str]) -> Picked:
    values = {key: query.get(key, "").strip() for key in (*PICKERS, "bases")}
    for key, value in values.items():
        if len(value) > MAX_FIELD:
            raise Refused(
                _("{field}: at most {n} characters.").format(field=_(LABELS[key]), n=MAX_FIELD), 400
            )
    allowed = {
        "as_of",
        *(("known_at",) if report.known_at else ()),
        *(("from", "to") if report.period else ()),
    }
    args = [
        arg for key, opt in PICKERS.items() if key in allowed and values[key] for arg in (opt, values[key])
    ]
    bases = re.split(r"[\s,，、]+", values["bases"]) if values["bases"] else []
    if len(bases) > MAX_BASES:
        raise Refused(_("At most {n} bases at a time.").format(n=MAX_BASES), 400)
    # "--" first: a base typed as "--output" is a base (not found), never an option
    return Picked({k: v for k, v in values.items() if k in allowed or k == "bases"}, [*args, "--", *bases])


def run(
    workspace: Workspace, lang: str, report: Report, args: list[str], output: Path | None
) -> Shown | None:
    """The report's command on ``args`` (then ``--format`` table, or xlsx/csv to ``output``), in
    ``lang``, as the command line runs it; Refused with its message where it refuses."""
    module, attribute = report.command.split(":")
    command: click.Command = getattr(importlib.import_module(module), attribute)
    fmt = ["--format", output.suffix[1:], "--output", str(output)] if output is not None else []
    options, bases = args[: args.index("--")], args[args.index("--") :]
    try:
        with workspace.held() as settings:
            read = settings.speaking(lang)
            with command.make_context(" ".join(report.words), [*options, *fmt, *bases], obj=read) as ctx:
                kept = capture(ctx)
                command.invoke(ctx)
    except click.BadParameter as e:
        named = PARAMS.get((e.param.name or "") if e.param is not None else str(e.param_hint or ""))
        field = _(LABELS[named]) if named is not None else str(e.param_hint or "")
        raise Refused(f"{field}: {e.message}" if field else e.message, 400) from None
    except click.ClickException as e:
        raise Refused(e.format_message(), 400) from None
    except LedgerError as e:
        raise Refused(e.message, STATUS.get(e.exit_code, 500)) from None
    return kept.shown


def cells(shown: Shown) -> tuple[list[list[tuple[str, bool]]], list[tuple[str, bool]] | None]:
    """The table's rows and 合计 row as the terminal prints each cell, and whether it is a figure."""

    def row(values: list[Any]) -> list[tuple[str, bool]]:
        return [(cell_text(v), isinstance(v, Decimal | int) and not isinstance(v, bool)) for v in values]

    return [row(r) for r in shown.rows], None if shown.total is None else row(shown.total)


def _report(request: Request) -> Report | None:
    return REPORTS.get(request.path_params["name"])


async def index_page(app: App, request: Request, session: Session) -> Response:
    return app.page("reports.html", session, reports=list(REPORTS.values()))


async def report_page(app: App, request: Request, session: Session) -> Response:
    report = _report(request)
    if report is None:
        return app.page("error.html", session, status=404, message=_("There is no such report."))
    values = {key: request.query_params.get(key, "") for key in (*PICKERS, "bases")}
    shown, error, status = None, "", 200
    try:
        chosen = picked(report, request.query_params)
        values = chosen.values
        shown = await run_in_threadpool(run, app.workspace, session.lang, report, chosen.args, None)
    except Refused as e:
        error, status = e.message, e.status
    rows, total = cells(shown) if shown is not None else ([], None)
    query = str(request.query_params)
    return app.page(
        "report.html", session, status=status, report=report, values=values, shown=shown, rows=rows,
        total=total, error=error, query=query, labels=LABELS,
    )  # fmt: skip


async def download(app: App, request: Request, session: Session) -> Response:
    report = _report(request)
    fmt = request.path_params["fmt"]
    if report is None or fmt not in FILES:
        return app.page("error.html", session, status=404, message=_("There is no such report."))
    try:
        chosen = picked(report, request.query_params)
        with tempfile.TemporaryDirectory(prefix="grant-ledger-web-") as folder:
            path = Path(folder) / f"{report.slug}.{fmt}"
            await run_in_threadpool(run, app.workspace, session.lang, report, chosen.args, path)
            content = path.read_bytes()
    except Refused as e:
        return app.page("error.html", session, status=e.status, message=e.message)
    response = Response(content, media_type=FILES[fmt])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{file_name(report, chosen.values, fmt)}"'
    )
    return app.finish(response, None)


DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def file_name(report: Report, values: Mapping[str, str], fmt: str) -> str:
    """``balance-2024-06-30.xlsx``: the report and the day it is of, and nothing typed but a
    day the command has accepted (no quote, slash or line break reaches the header)."""
    day = values.get("to") or values.get("as_of") or ""
    return f"{report.slug}-{day}.{fmt}" if DAY.fullmatch(day) else f"{report.slug}.{fmt}"
