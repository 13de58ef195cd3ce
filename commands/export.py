"""``export``: the books in the import format (csv, xlsx) or as double-entry journals
(beancount, hledger) that Fava and hledger open.

Exports read the event store in its global order (an export is a full copy, not a report); the
journals are written in date order (the store's order within a date), as ``hledger check
ordereddates`` wants. Journal accounts, per base and fund source::

    Assets:B0001:Subsidy / Assets:B0001:Matching        money held (received − spent)
    Income:B0001:Subsidy                                 subsidy disbursed to the base
    Equity:B0001:Matching                                matching funds received
    Expenses:B0001:TrainingSystem:Subsidy:Equipment      spending per construction content, fund
                                                         source (a budget line of 003 表4-2), category
    Equity:B0001:Returned:Subsidy                        subsidy recovered (returned on order)
    Equity:B0001:Disposed:Subsidy                        balance disposed of at closure

In beancount, a budget plan is a Fava budget per line (``custom "budget"`` on
``Expenses:B0001:TrainingSystem:Subsidy``, its amount spread over the build period per year, the
plan's figure in ``plan``), Fava's language is Chinese, each transaction is tagged with its grant
(``#G-YZ-2024-01``) and linked by its voucher (``^G-YZ-2024-01/…``: a spending and its reversal
share it), and a receipt's payee is who paid it (the finance bureau among the approving bodies,
the matching funders). hledger carries grant and voucher as tags (``; grant:…, voucher:…``).

The csv/xlsx export carries every money act in the import format: approvals, disbursements,
matching, spending, reversals, recovery orders and receipts, and disposals. Text is written as
``commands.output`` writes every csv and workbook: a workbook holds it exactly, as text cells; a
csv cell that a spreadsheet would run as a formula has an apostrophe in front, which the import
of a csv file takes off again (``ledger.text.escape_formula``).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from commands.context import settings
from commands.i18n import _
from commands.output import to_csv, to_xlsx, write_csv, write_text
from commands.progress import Stages, Step, no_step
from commands.reading import bom_wanted, codes_wanted, file_options, format_of
from ledger.errors import BadInputError
from ledger.rules import BUDGET_TO_FUND

PAGE = 5000
STAGES = {
    "zh": {"read": "读取事件", "write": "写入工作簿"},
    "en": {"read": "reading events", "write": "writing the workbook"},
}  # the progress bars' labels


# the stored events the import format is made of: the other aggregates' (people, seals…) are
# not even mapped, whose classes a process that only exports has not imported
_BOOKS_TOPICS = ("grant-ledger:Grant.", "grant-ledger:Unit.")


def _events(app: Any, step: Step = no_step) -> Iterator[Any]:
    """The grants' and units' stored events, as domain events, in the store's order (``step``:
    told how many stored events each page read)."""
    start = 1
    while True:
        notifications = app.recorder.select_notifications(start=start, limit=PAGE)
        if not notifications:
            return
        step(len(notifications))
        for n in notifications:
            if n.topic.startswith(_BOOKS_TOPICS):
                yield app.mapper.to_domain_event(n)
        start = notifications[-1].id + 1


def _districts(app: Any) -> dict[str, str]:
    """Each unit's district as last recorded (its registration, then any amendment), read ahead:
    an approve row carries its unit's district as the ledger holds it now."""
    from ledger.unit import Unit

    topics = [Unit.Registered.TOPIC, Unit.DistrictSet.TOPIC]
    found: dict[str, str] = {}
    start = 1
    while True:
        notifications = app.recorder.select_notifications(start=start, limit=PAGE, topics=topics)
        if not notifications:
            return found
        for n in notifications:
            e = app.mapper.to_domain_event(n)
            if e.district:
                found[e.unit_id] = e.district
        start = notifications[-1].id + 1


def import_rows(app: Any, step: Step = no_step) -> Iterator[list[Any]]:
    """Every money event as a row of the import format, in the store's order (kinds and columns:
    ledger/importing.py; the optional columns last: district, tier, track and applied on approve
    rows, project on spend rows)."""
    for row in _rows(app, step):
        yield row if len(row) == _WIDTH else [*row, *_optional()]


_WIDTH = 18  # the import header and its optional columns (ledger.import_format.OPTIONAL)


def _optional(**values: str) -> list[str]:
    """A row's optional columns, in the format's order: those named, the rest empty."""
    from ledger.import_format import OPTIONAL

    return [values.get(column, "") for column in OPTIONAL]


def _rows(app: Any, step: Step = no_step) -> Iterator[list[Any]]:
    from ledger.grant import Grant
    from ledger.unit import Unit

    grants: dict[Any, Any] = {}
    units: dict[str, str] = {}
    districts = _districts(app)
    for e in _events(app, step):
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
                *_optional(
                    district=districts.get(g.unit_id, ""),
                    tier=e.tier,
                    track=g.track,
                    applied=g.occurred_on.isoformat(),
                ),
            ]
        elif isinstance(e, Grant.SubsidyDisbursed):
            yield [*head, "disburse", e.amount, "subsidy", "", "", e.voucher, "", str(e.tranche)]
        elif isinstance(e, Grant.MatchingCommitted):
            yield [*head, "match_commit", e.amount, "matching", "", "", e.voucher, e.funder, ""]
        elif isinstance(e, Grant.MatchingReceived):
            yield [*head, "match_receive", e.amount, "matching", "", "", e.voucher, "", ""]
        elif isinstance(e, Grant.ExpenditureRecorded):
            spent = [e.amount, e.source, e.category, e.content, e.voucher, e.payee, e.memo]
            yield [*head, "spend", *spent, *_optional(project=e.project)]
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
        elif isinstance(e, Grant.Extended):
            yield [*head, "extend", "", "", "", "", e.document, "", e.end.isoformat()]


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


def _plain(text: str) -> str:
    """Text of an hledger description, which has no escapes: ";" would begin a comment there and
    "|" split the payee from the note (重庆甲|乙设备公司 read as the payee 重庆甲), so each is
    written as its full-width form."""
    plain = text.replace(";", "；").replace("|", "｜").replace("\n", " ")
    # a description opening with "(" is read as a transaction code: (退款)设备公司 lost its (退款)
    return "（" + plain[1:] if plain.startswith("(") else plain


def _tag_value(text: str) -> str:
    """An hledger tag's value, which a comma ends: written with a full-width one."""
    return _plain(text).replace(",", "，")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _records(app: Any, step: Step = no_step) -> Iterator[Any]:
    """Every stored event as a light record (``projections.records``), in the store's order."""
    from projections.records import records

    start = 1
    while True:
        notifications = app.recorder.select_notifications(start=start, limit=PAGE)
        if not notifications:
            return
        step(len(notifications))
        yield from records(notifications)
        start = notifications[-1].id + 1


# measure -> the account on the other side of the money held (``{base}``, ``{src}``, ``{content}``,
# ``{category}``): spending per construction content and fund source, the lines of a budget plan
# (003 表4-2), then per category
_OTHER = {
    ("received", "subsidy"): "Income:{base}:Subsidy",
    ("received", "matching"): "Equity:{base}:Matching",
    ("unreceived", "subsidy"): "Income:{base}:Subsidy",
    ("unreceived", "matching"): "Equity:{base}:Matching",
    ("spent", ""): "Expenses:{base}:{content}:{src}:{category}",
    ("reversed", ""): "Expenses:{base}:{content}:{src}:{category}",
    ("recovered", ""): "Equity:{base}:Returned:{src}",
    ("disposed", ""): "Equity:{base}:Disposed:{src}",
}
_NO_CONTENT = "Unassigned"  # spending recorded without a construction content
_CODE = re.compile(r"[a-z][a-z0-9_]*")  # a policy's code, such as training_system


def content_account(content: str) -> str:
    """The account component of a construction content (``training_system`` -> ``TrainingSystem``);
    free text gets a digest of itself, as a base id does."""
    if not content:
        return _NO_CONTENT
    return account_part(content) if _CODE.fullmatch(content) else base_account(content)


def budget_account(base: str, content: str, source: str) -> str:
    """The account a budget line (content × fund source) is set on: the parent of that line's
    spending accounts."""
    return f"Expenses:{base}:{content_account(content)}:{account_part(source)}"


def _postings(base: str, e: Any) -> list[tuple[str, Decimal | None]]:
    """The journal's postings of one money event as ``projections.measures`` reads it: money held
    in ``Assets``, where it came from or went to on the other side (received money first, else
    the other side first); approvals and commitments move no money."""
    other = _OTHER.get((e.measure, e.source)) or _OTHER.get((e.measure, ""))
    if other is None:
        return []
    src = account_part(e.source)
    account = other.format(
        base=base, src=src, content=content_account(e.content), category=account_part(e.category)
    )
    held = f"Assets:{base}:{src}"
    if e.measure == "received":
        return [(held, e.amount), (account, -e.amount)]
    grows = e.measure == "reversed"
    return [(account, -e.amount if grows else e.amount), (held, e.amount if grows else -e.amount)]


class _Grant:
    """What the journal needs of a grant beyond its events: ids, and who pays it money."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.grant_id: str = data["grant_id"]
        self.base_id: str = data["base_id"]
        self.bodies: list[str] = []  # the approving bodies: the finance bureau pays the subsidy
        self.funders: list[str] = []  # who committed matching funds
        self.build: tuple[date, date] | None = None


def _title(e: Any, d: dict[str, Any], g: _Grant) -> tuple[str, str]:
    """A transaction's narration and payee: who pays in a receipt, who is paid in a spending."""
    if e.measure == "received":
        if e.source == "subsidy":
            finance = [b for b in g.bodies if "财政" in b] or g.bodies[-1:] or ["财政补助资金"]
            return f"补助拨付 第{d['tranche']}批", finance[0]
        return "配套经费到位", "、".join(dict.fromkeys(g.funders)) or "配套经费出资方"
    if e.measure == "spent":
        return f"{e.category} {e.content}".strip(), d["payee"]
    if e.measure == "reversed" or e.measure == "unreceived":
        return f"冲销 {e.voucher}: {d['reason']}", ""
    if e.measure == "recovered":
        return "资金收回", ""
    return f"结余处置 {d['how']}", ""


_NOT_IN_LINK = re.compile(r"[^A-Za-z0-9_./-]+")


def _link_text(text: str) -> str:
    """Text as a beancount tag or link, which take ASCII letters, digits and ``-_/.`` only: kept
    as it is where it can be, else what can be kept and a digest of the whole (``记-0101`` ->
    ``0101-3b2f…``), so two vouchers never share a link."""
    kept = _NOT_IN_LINK.sub("", text).strip("-./")
    if kept == text:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{kept}-{digest}" if kept else digest


def _amount(value: Any) -> Decimal:
    return Decimal(value["_data_"] if isinstance(value, dict) else str(value))


def _budget_entries(on: date, base: str, g: _Grant, lines: dict[str, Decimal]) -> list[str]:
    """A budget plan (or the plan as adjusted) as Fava budgets: one ``custom "budget"`` per
    content × fund source, the plan's amount spread over what is left of the build period as a
    yearly amount (Fava budgets by period; the plan's own figure is kept in ``plan``)."""
    start, end = g.build or (on, on + timedelta(days=364))
    days = max((end - max(start, on)).days + 1, 1)
    out = []
    for account, plan in sorted(_per_account(base, lines).items()):
        yearly = (plan * 365 / days).quantize(Decimal("0.01"))
        out += [
            f'{on.isoformat()} custom "budget" {account} "yearly" {yearly:.2f} CNY',
            f"  grant: {_quote(g.grant_id)}",
            f'  plan: "{plan:.2f}"',
            f'  build_period: "{start.isoformat()}..{end.isoformat()}"',
        ]
    return out


def _per_account(base: str, lines: dict[str, Decimal]) -> dict[str, Decimal]:
    """A plan's lines (``content/budget source``) summed per budget account (content × fund
    source: 行业企业 and 其他 are both matching funds)."""
    per_account: dict[str, Decimal] = {}
    for key, value in lines.items():
        content, _sep, bsource = key.partition("/")
        account = budget_account(base, content, BUDGET_TO_FUND.get(bsource, bsource))
        per_account[account] = per_account.get(account, Decimal(0)) + value
    return per_account


def _budget_ends(base: str, g: _Grant, lines: dict[str, Decimal]) -> tuple[date, list[str]] | None:
    """The plan's budgets set to zero the day after the build period (Fava keeps a budget until
    another replaces it)."""
    if g.build is None:
        return None
    after = g.build[1] + timedelta(days=1)
    return after, [
        f'{after.isoformat()} custom "budget" {account} "yearly" 0.00 CNY'
        for account in sorted(_per_account(base, lines))
    ]


class _ByDate:
    """A journal's entries, each its text, given out in date order and in the order given within
    a date: held in memory up to ``KEPT`` entries, then in a scratch SQLite file, which sorts
    them on disk (a journal of ten million events had held every entry in memory: 3 GB, growing)."""

    KEPT = 100_000

    def __init__(self) -> None:
        self._rows: list[tuple[str, int, str]] = []
        self._count = 0
        self._scratch: Any = None
        self._db: Any = None
        self.first: date | None = None
        self._accounts: set[str] = set()

    def open(self, accounts: Iterable[str]) -> None:
        """Accounts the journal opens (declared before its entries), each once."""
        self._accounts.update(accounts)
        if len(self._accounts) >= self.KEPT:
            self._spill()

    def accounts(self) -> Iterator[str]:
        """The accounts opened, in order (SQLite's byte order of UTF-8 is Python's of the text)."""
        if self._db is None:
            yield from sorted(self._accounts)
            return
        self._spill()
        for (name,) in self._db.execute("SELECT name FROM account ORDER BY name"):
            yield name

    def add(self, on: date, text: str) -> None:
        if self.first is None or on < self.first:
            self.first = on
        self._rows.append((on.isoformat(), self._count, text))
        self._count += 1
        if len(self._rows) >= self.KEPT:
            self._spill()

    def _spill(self) -> None:
        if self._db is None:
            import sqlite3
            import tempfile

            self._scratch = tempfile.TemporaryDirectory(prefix="grant-ledger-journal-")
            self._db = sqlite3.connect(Path(self._scratch.name) / "entries.db")
            self._db.execute("PRAGMA journal_mode = OFF")
            self._db.execute("PRAGMA synchronous = OFF")
            self._db.execute("CREATE TABLE entry (day TEXT, seq INTEGER, body TEXT)")
            self._db.execute("CREATE TABLE account (name TEXT PRIMARY KEY) WITHOUT ROWID")
        self._db.executemany("INSERT INTO entry VALUES (?, ?, ?)", self._rows)
        self._rows.clear()
        self._db.executemany("INSERT OR IGNORE INTO account VALUES (?)", ((a,) for a in self._accounts))
        self._accounts.clear()

    def __iter__(self) -> Iterator[str]:
        if self._db is None:
            self._rows.sort(key=lambda row: row[0])  # stable: the order given within a date
            yield from (body for _day, _seq, body in self._rows)
            return
        self._spill()
        try:
            for (body,) in self._db.execute("SELECT body FROM entry ORDER BY day, seq"):
                yield body
        finally:
            self._db.close()
            self._scratch.cleanup()


def journal(app: Any, style: str, step: Step = no_step) -> Iterator[str]:
    """Double-entry transactions, one per money event, in date order (the store's order within a
    date); for beancount, the budget plans as Fava budgets, and Fava's language set to Chinese.
    The events are read when this is called; the lines come as the iterator is read."""
    entries, first = _entries(app, style, step)
    return _journal_lines(style, entries, first)


def _entry(lines: list[str], postings: list[tuple[str, Decimal | None]]) -> str:
    return "\n".join(["", *lines, *(f"  {account:<48}  {amount:.2f} CNY" for account, amount in postings)])


def _journal_lines(style: str, entries: _ByDate, first: date) -> Iterator[str]:
    if style == "beancount":
        yield 'option "title" "grant-ledger 高技能人才培训基地补助资金台账"'
        yield 'option "operating_currency" "CNY"'
        yield f'{first.isoformat()} custom "fava-option" "language" "zh"'
        yield ""
        for account in entries.accounts():
            yield f"{first.isoformat()} open {account} CNY"
    else:
        yield "; grant-ledger 高技能人才培训基地补助资金台账"
        yield "commodity 1,000.00 CNY"
        for account in entries.accounts():
            yield f"account {account}"
    yield from entries


def _entries(app: Any, style: str, step: Step) -> tuple[_ByDate, date]:
    """The journal's entries in date order with the accounts it opens (for beancount, those a
    budget is set on too), and the first date."""
    from projections.measures import effect
    from projections.records import GRANT, day

    applied, approved = GRANT + "Applied", GRANT + "Approved"
    planned = (GRANT + "BudgetRegistered", GRANT + "BudgetAdjusted")
    grants: dict[str, _Grant] = {}
    bases: dict[str, str] = {}
    entries = _ByDate()
    plans: dict[str, dict[str, Decimal]] = {}
    names: dict[str, str] = {}  # a registered body's code -> its name (approvals name bodies by code)
    for r in _records(app, step):
        if r.topic == "grant-ledger:Bodies.Added":
            names[r.data["code"]] = r.data["name"]
            continue
        if r.topic == applied:
            grants[r.aggregate_id] = _Grant(r.data)
            continue
        g = grants.get(r.aggregate_id)
        if g is None:
            continue
        base = bases.get(g.base_id)
        if base is None:
            base = bases[g.base_id] = base_account(g.base_id)
        on = day(r.data["occurred_on"])
        if r.topic == approved:
            codes = list(r.data.get("bodies") or [])
            duties = list(r.data.get("approvers") or [])  # "kind:duty" of each body, when registered
            paying = [c for c, d in zip(codes, duties, strict=False) if d.endswith(":finance")]
            g.bodies = [names.get(c, c) for c in (paying or codes)]
            g.build = (day(r.data["build_start"]), day(r.data["build_end"]))
        elif r.topic == GRANT + "MatchingCommitted":
            g.funders.append(r.data["funder"])
        if r.topic in planned:
            plan = plans.setdefault(r.aggregate_id, {})
            plan.update({k: _amount(v) for k, v in r.data["lines"].items()})
            if style == "beancount":
                entries.add(on, _entry(_budget_entries(on, base, g, plan), []))
                entries.open(_per_account(base, plan))  # the accounts a budget is set on
            continue
        e = effect(r.topic, r.data)
        postings = _postings(base, e) if e is not None else []
        if e is None or not postings:
            continue
        title, payee = _title(e, r.data, g)
        entries.open(a for a, _ in postings)
        if style == "beancount":
            tags = f"#{_link_text(g.grant_id)} ^{_link_text(g.grant_id)}/{_link_text(e.voucher)}"
            meta = [f"grant: {_quote(g.grant_id)}", f"voucher: {_quote(e.voucher)}"]
            lines = [f"{on.isoformat()} * {_quote(payee)} {_quote(title)} {tags}", *(f"  {m}" for m in meta)]
        else:
            desc = f"{_plain(payee)} | {_plain(title)}" if payee else _plain(title)
            tags = f"grant:{_tag_value(g.grant_id)}, voucher:{_tag_value(e.voucher)}"
            lines = [f"{on.isoformat()} * {desc}  ; {tags}"]
        entries.add(on, _entry(lines, postings))
    if style == "beancount":
        for aggregate_id, plan in plans.items():
            g = grants[aggregate_id]
            ends = _budget_ends(bases[g.base_id], g, plan)
            if ends is not None:
                entries.add(ends[0], _entry(ends[1], []))
    return entries, entries.first or date.today()


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
@file_options
def export_command(fmt: str, output: Path | None, runs_dir: Path | None) -> None:
    """Export the books: csv/xlsx in the import format (import it into an empty ledger to get the
    same balances), or beancount/hledger double-entry journals (accounts per base and fund source).

    csv/xlsx are headed by the column names in the --lang (日期,单位编号,… under zh, which import
    reads as well; --codes: date,unit_id,…); a csv file starts with the BOM Excel needs (--no-bom:
    plain UTF-8). The journals are in date order; beancount carries the budget plans as Fava
    budgets, grants as tags and vouchers as links.

    An import is one person's act, every row within the importer's role: approvals and recovery
    orders are an approver's, the money an officer's. With --runs the csv/xlsx rows are written
    apart, one file per run of one role's rows, numbered in the order they must be imported.

    \b
    Examples:
      grant-ledger export --format csv -o books.csv
      grant-ledger export --format csv --codes --no-bom -o machine.csv
      grant-ledger export --format csv --runs books/      # books/01-approver.csv, 02-officer.csv…
      grant-ledger export --format xlsx -o books.xlsx
      grant-ledger export --format beancount -o books.beancount && bean-check books.beancount
      grant-ledger export --format hledger -o books.journal
    """
    from projections.status import head

    fmt = format_of(fmt, output, ("csv", "xlsx", "beancount", "hledger"))
    app = settings().ledger()
    header = _header()
    if fmt == "xlsx" and output is None and runs_dir is None:
        raise BadInputError(_("an xlsx export needs --output FILE.xlsx"))
    if runs_dir is not None:
        if fmt not in ("csv", "xlsx"):
            raise BadInputError(
                _("--runs writes the import format (csv or xlsx), not {format}").format(format=fmt)
            )
        if output is not None:
            raise BadInputError(_("give either --output FILE or --runs DIR, not both"))
    stages, labels = Stages(), STAGES[settings().lang]
    try:
        step = stages.stage(labels["read"], head(app.engine))
        if runs_dir is not None:
            _write_runs(runs_dir, fmt, header, list(import_rows(app, step)))
            return
        if fmt == "xlsx":
            assert output is not None
            rows = list(import_rows(app, step))
            to_xlsx(output, [("import", header, rows)], stages.stage(labels["write"], len(rows)))
            stages.close()
            click.echo(_("exported to {path}").format(path=output))
            return
        if fmt == "csv":
            text = to_csv(header, import_rows(app, step))
        else:
            pieces = _in_pieces(journal(app, fmt, step))  # the events read here, the lines as written
    finally:
        stages.close()
    if output is None:
        for piece in [text] if fmt == "csv" else pieces:
            click.echo(piece, nl=False)
        return
    if fmt == "csv":
        write_csv(output, text, bom_wanted())
    else:
        write_text(output, pieces)
    click.echo(_("exported to {path}").format(path=output))


def _in_pieces(lines: Iterator[str], size: int = 10_000) -> Iterator[str]:
    """The lines, each ended by a newline, ``size`` at a time: a journal is written as it is read."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield "\n".join(batch) + "\n"
            batch.clear()
    if batch:
        yield "\n".join(batch) + "\n"


def _header() -> tuple[str, ...]:
    """The import format's header: its column names, or (--lang zh, unless --codes) their Chinese
    names, which the import reads as well."""
    from ledger.import_format import EXPORTED, LABELS_ZH

    if codes_wanted() or settings().lang != "zh":
        return EXPORTED
    return tuple(LABELS_ZH[column][0] for column in EXPORTED)


def _write_runs(folder: Path, fmt: str, header: tuple[str, ...], rows: list[list[Any]]) -> None:
    from ledger.import_format import runs_by_role

    runs = list(runs_by_role(rows))
    try:
        made = not folder.exists()
        if not made and any(folder.iterdir()):
            raise BadInputError(
                _("--runs {path} is not empty; name a new or empty directory").format(path=folder)
            )
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        msg = _("cannot make the directory {path}: {error}; nothing was written").format(
            path=folder, error=e.strerror or e
        )
        raise BadInputError(msg) from None
    width = max(2, len(str(len(runs))))
    names: list[tuple[str, Path]] = []
    try:
        for n, (role, run) in enumerate(runs, 1):
            path = folder / f"{n:0{width}d}-{role}.{fmt}"
            names.append((role, path))
            if fmt == "xlsx":
                to_xlsx(path, [("import", header, run)])
            else:
                write_csv(path, to_csv(header, run), bom_wanted())
    except BaseException:  # a full disk, an interrupt: no run is left to be imported without the rest
        for _role, path in names:
            path.unlink(missing_ok=True)
        if made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    click.echo(
        _("exported {rows} rows in {runs} runs to {path}; import them in this order:").format(
            rows=len(rows), runs=len(runs), path=folder
        )
    )
    for role, path in names:
        click.echo(f"  grant-ledger --role {role} import {path}")


def register(cli: click.Group) -> None:
    cli.add_command(export_command)
