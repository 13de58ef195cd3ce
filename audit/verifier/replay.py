"""Balances by replaying exported event records, and the money rules judged on the way:
independent of ``ledger/`` and ``projections/``.

Reads only the records of ``events.jsonl`` (the stored state as JSON, with eventsourcing's
``{"_type_": "decimal_str", "_data_": "…"}`` values), so an auditor's replay shares no code
with the read models whose numbers it checks, nor with the rules whose verdicts it checks.

The rules judged, each as the ledger's write side refuses it (``ledger/rules.py``), at the
event's place in the log (the grant as it stood just before it):

- money only between approval and closure: every money event of a grant whose status is
  approved, none dated before the approval (a reversal excepted, as in ``RULES["reverse"]``);
- tranches: the subsidy disbursed never exceeds the approved amount;
- build period: spending is dated within the build period as it stood on its date (the
  approval's, or the latest end an extension dated by then set);
- recoveries: the recoveries ordered stay within the subsidy received, those received within
  the orders and, by every date, within the orders dated by then; a disposal of the subsidy
  leaves what the orders still call back;
- category: spending names a category the bundle's policy allows for the grant's programme
  (its own list: 003 第九条 for district bases, 000 第十三条 for institutes);
- ring-fence: spending, a recovery, a disposal or the reversal of a receipt leaves its fund
  source's balance
  (received − spent + reversed − recovered − disposed) non-negative at the end of its business
  date and of every later date, acts of one date netted together.

A breach is reported as ``ReplayError`` after the event has been applied, so the balances (and
the workbook compared with them) go on as the events say. The ring-fence and the tranches of a
sealed act are judged again once its write (the events its seal covers) has ended, and reported
if they still break: an import judges a backdated file with its own receipts and reversals and
holds every date once all of it is in. The recovery rules compare totals as recorded, in a
bundle cut at a date with the acts dated after the cut (shown, not replayed) counted too.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import IO, Any

from audit.verifier import forms
from audit.verifier.background import Background, BackgroundError
from audit.verifier.errors import AuditError
from audit.verifier.i18n import N_, _
from audit.verifier.layout import MEASURES, SPENDING_SHEET
from audit.verifier.people import REGISTRY_ID
from audit.verifier.policy import BOOK_ID, BundlePolicy
from audit.verifier.seals import ADOPTION_TOPIC, SEAL_TOPIC
from audit.verifier.vouchers import SEP, Problem, Vouchers
from audit.verifier.vouchers import Row as VoucherRow
from audit.verifier.vouchers import row as act_row
from audit.verifier.xlsx import SheetStream

__all__ = ["MEASURES", "GrantTotals", "Replay", "ReplayError", "SpendingRow"]

_TOPIC = "grant-ledger:Grant."
_REGISTRY = str(REGISTRY_ID)
_ALWAYS = frozenset({_REGISTRY, BOOK_ID})  # the aggregates that go out with any bundle
_FIXED = {
    "Approved": "approved",
    "SubsidyDisbursed": "subsidy_received",
    "MatchingCommitted": "matching_committed",
    "MatchingReceived": "matching_received",
    "FundsRecovered": "subsidy_recovered",
}
# a receipt's or commitment's reversal: the column it takes back from, the fund source it moves
_UNDONE = {
    "DisbursementReversed": ("subsidy_received", "subsidy"),
    "MatchingCommitmentReversed": ("matching_committed", None),
    "MatchingReceiptReversed": ("matching_received", "matching"),
}
_MONEY = frozenset(
    (*_FIXED, *_UNDONE, "ExpenditureRecorded", "ExpenditureReversed", "BalanceDisposed", "RecoveryOrdered")
)
# the acts that take money out of a fund source: none may leave it below zero on any date
_TAKES = frozenset(
    (
        "ExpenditureRecorded",
        "FundsRecovered",
        "BalanceDisposed",
        "DisbursementReversed",
        "MatchingReceiptReversed",
    )
)
# the act a receipt's or commitment's reversal undoes, and the event recording it, as the
# ledger names its kind (ledger.grant.REVERSIBLE)
_RECEIPTS = {
    "SubsidyDisbursed": "disburse",
    "MatchingCommitted": "match_commit",
    "MatchingReceived": "match_receive",
}
_RECEIPT_UNDONE = {
    "DisbursementReversed": "disburse",
    "MatchingCommitmentReversed": "match_commit",
    "MatchingReceiptReversed": "match_receive",
}
# the money events that may be dated before the grant's approval: the reversals
_UNDATED_BY_APPROVAL = frozenset(("ExpenditureReversed", *_UNDONE))
_SOURCES = ("subsidy", "matching")
# a budget plan's line "content/budget source" (003 表4-2) and the fund source it is paid from
# (ledger/rules.py BUDGET_TO_FUND)
_BUDGET_TO_FUND = {"local_finance": "subsidy", "industry": "matching", "other": "matching"}
_SPENT = {source: f"{source}_spent" for source in _SOURCES}
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_ZERO, _CENT = Decimal(0), Decimal("0.01")
_PLAIN_AMOUNT = re.compile(r"-?[0-9]{1,18}(?:\.[0-9]{1,6})?")

SpendingRow = list[Any]  # a row of the workbook's spending sheet (audit/verifier/layout.py)
_ROWS_A_CHUNK = 1000  # spending rows pickled at a time: one call a row cost a tenth of a verify


def _spending_stream(sink: Callable[[str, bytes], None]) -> SheetStream:
    """The spending sheet's data rows as export writes them (format 3), handed to ``sink``."""
    return SheetStream(
        SPENDING_SHEET,
        forms.headers(SPENDING_SHEET),
        sink,
        amount_columns=forms.AMOUNTS[SPENDING_SHEET],
        form=forms.filed(SPENDING_SHEET, None, "", ()),
        heads=False,  # the head and the total are known at the end (audit/verifier/sheets.py)
        errors="surrogatepass",  # the records' texts are untrusted
    )


class _Encoded:
    """The digest of a sheet's data rows as they are encoded, and the names of the sheets they
    fill (a sheet goes on in numbered ones past Excel's row limit); and each spend's reversal
    against the spend (``audit.verifier.vouchers``), read off the same rows, which hold all it
    needs: judged where the rows are encoded, it costs the verifying process nothing."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.names: list[str] = []
        self.stream = _spending_stream(self.sink)
        self.vouchers = Vouchers()
        self._acts: list[VoucherRow] = []

    def add(self, spent: SpendingRow, said: int = 0) -> None:
        """``said``: for a reversal, the date it says its expenditure bears (a day number; 0: none)."""
        self.stream.append(spent)
        acts = self._acts
        detail = f"{spent[5]}{SEP}{spent[6]}{SEP}{spent[7]}"
        undo = spent[4] != "spend"
        on = spent[1].toordinal()
        day, own = (said, on) if undo else (on, 0)  # a reversal: the date it names, and its own
        acts.append(act_row(spent[2], "spend", spent[8], spent[0], undo, str(spent[9]), detail, day, own))
        if len(acts) >= _ROWS_A_CHUNK:
            self.vouchers.extend(acts)
            acts.clear()

    def sink(self, name: str, data: bytes) -> None:
        if not self.names or self.names[-1] != name:
            self.names.append(name)
        self.digest.update(data)

    def finish(self) -> _Found:
        self.stream.close()
        self.vouchers.extend(self._acts)
        self._acts = []
        return self.digest.digest(), self.names, self.stream.rows, self.vouchers.problems()


_Found = tuple[bytes, list[str], int, list[Problem]]  # digest, sheet names, rows, reversals at fault


def _packed(row: SpendingRow) -> tuple[Any, ...]:
    """A row as plain values (the date as its day number, the amount as its text), as it is kept
    and sent: pickling a date and a Decimal took a fourteenth of a million-event bundle's
    verification; last, for a reversal, the date it says its expenditure bears (``_Encoded.add``;
    none here)."""
    return (row[0], row[1].toordinal(), *row[2:9], str(row[9]), row[10], 0)


def _unpacked(r: tuple[Any, ...]) -> SpendingRow:
    return [r[0], date.fromordinal(r[1]), *r[2:9], Decimal(r[9]), r[10]]


def encoded_apart(inbox: Any) -> _Found:
    """In a second process: the chunks of packed rows sent to ``inbox`` (b"" ends them), encoded
    as export writes them; their digest, sheet names and count, and the reversals at fault."""
    encoded = _Encoded()
    append = encoded.add
    while chunk := inbox.recv():
        for r in pickle.loads(chunk):  # the verifying process's own pickles of plain values
            append(_unpacked(r), r[11])
    return encoded.finish()


class SpendingRows:
    """The rows the spending sheet must show, in leaf order, kept in a temporary file (memory
    does not grow with the bundle), and the digest of their rows' XML as ``audit export`` writes it, so
    an unchanged sheet is checked by digest and only a changed one cell by cell.

    ``apart()`` (a large bundle) has the rows encoded for the digest by a second process, to which
    each chunk written to the file is sent too: the encoding, a fifth of the replay, leaves the
    verifying process. Should that process fail, the digest is computed here from the file."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile()
        self._here: _Encoded | None = _Encoded()
        self._apart: Background | None = None
        self._found: _Found | None = None
        self.stream = _spending_stream(_dropped)  # for the sheets' heads and tails
        self.names: list[str] = []
        self.net = Decimal(0)  # spent less reversed: the sheet's 合计
        self._count = 0
        self._pending: list[tuple[Any, ...]] = []  # packed rows, written to the file a chunk at a time

    def apart(self) -> None:
        """Encode the rows in a second process from now on (before the first row only)."""
        assert self._count == 0 and self._apart is None, "rows encoded here already"
        self._apart = Background(encoded_apart, inbox=True)
        self._here = None

    def close(self) -> None:
        """Stops the second process, if it still runs; a digest asked for later is computed here,
        from the rows kept in the file."""
        apart, self._apart = self._apart, None
        if apart is not None:
            apart.__exit__(None, None, None)

    def append(self, row: SpendingRow) -> None:
        self.add(_packed(row), row[9] if row[4] == "spend" else -row[9])

    def add(self, packed: tuple[Any, ...], change: Decimal) -> None:
        """A row as ``_packed`` gives it (the replay makes it so, without the list between), and
        what it adds to the net spent (its amount, or less its amount for a reversal)."""
        pending = self._pending
        pending.append(packed)
        if len(pending) >= _ROWS_A_CHUNK:
            self._write_pending()
        if self._here is not None:
            self._here.add(_unpacked(packed), packed[11])
        self._count += 1
        self.net += change

    def __len__(self) -> int:
        return self._count

    def digest(self) -> bytes:
        """Of the data rows' XML as export writes them (format 3), without the sheets' heads."""
        if self._found is None:
            self._found = self._finish()
            self.names = self._found[1]
        return self._found[0]

    def problems(self) -> list[Problem]:
        """Each spend's reversal at fault (``_Encoded``), once every row is added."""
        self.digest()
        assert self._found is not None
        return self._found[3]

    def _finish(self) -> _Found:
        if self._here is not None:
            return self._here.finish()
        self._write_pending()
        found: _Found = (b"", [], -1, [])
        if self._apart is not None:
            self._apart.tell(b"")
            try:
                found = self._apart.result()
            except BackgroundError:
                pass
            finally:
                self.close()
        if found[2] == self._count:
            return found
        encoded = _Encoded()  # the second process failed or was stopped: the rows kept in the file, here
        for r in self._kept():
            encoded.add(_unpacked(r), r[11])
        return encoded.finish()

    def _write_pending(self) -> None:
        if self._pending:
            data = pickle.dumps(self._pending)
            self._file.write(data)
            if self._apart is not None:
                self._apart.tell(data)
            self._pending = []

    def __iter__(self) -> Iterator[SpendingRow]:
        for r in self._kept():
            yield _unpacked(r)

    def _kept(self) -> Iterator[tuple[Any, ...]]:
        """The rows kept in the file, packed."""
        self._write_pending()
        self._file.flush()
        self._file.seek(0)
        while True:
            try:
                chunk: list[tuple[Any, ...]] = pickle.load(self._file)  # our own temporary file
            except EOFError:
                return
            yield from chunk


def _dropped(_name: str, _data: bytes) -> None:
    pass


class ReplayError(AuditError):
    pass


@dataclass
class GrantTotals:
    grant_id: str
    base_id: str
    base_name: str
    programme: str
    amounts: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(MEASURES, Decimal(0)))
    status: str = "applied"
    applied_on: str = ""  # the application's business date: its findings are judged by the version then
    approved_on: str = ""
    build_start: str = ""
    build_end: str = ""
    # the build period's end by the ISO date it was set from: "" the approval's, then each extension's
    extensions: dict[str, str] = field(default_factory=dict)
    # recoveries ordered: the first order's date, and per ISO date ordered less received
    ordered_on: str = ""
    recovery_days: dict[str, Decimal] = field(default_factory=dict)
    # as recorded, acts dated after a bundle's cut included (the rules comparing these totals
    # judge each act against the acts recorded before it, whatever their dates)
    ordered: Decimal = _ZERO
    recorded_received: Decimal = _ZERO
    recorded_recovered: Decimal = _ZERO
    recorded_end: str = ""  # the build period's latest end, an extension dated after the cut too

    def as_recorded(self, kind: str, amount: Decimal) -> None:
        if kind == "SubsidyDisbursed":
            self.recorded_received += amount
        elif kind == "DisbursementReversed":
            self.recorded_received -= amount
        elif kind == "RecoveryOrdered":
            self.ordered += amount
        elif kind == "FundsRecovered":
            self.recorded_recovered += amount

    # per fund source: the net change per ISO business date, and its latest date
    days: dict[str, dict[str, Decimal]] = field(default_factory=lambda: {s: {} for s in _SOURCES})
    last_day: dict[str, str] = field(default_factory=lambda: dict.fromkeys(_SOURCES, ""))
    # the subsidy disbursed, net of reversals, per ISO business date (the tranche cap by date)
    received_days: dict[str, Decimal] = field(default_factory=dict)
    # what the findings read: the latest output report of each year, rectifications
    outputs: dict[int, dict[str, int]] = field(default_factory=dict)
    rectifications: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # ref -> deadline, done
    # what the application stated: the unit's kind and the figures declared (its findings)
    unit_kind: str = ""
    declared: dict[str, int] = field(default_factory=dict)
    projects: int | None = None  # the professions the application named (None: no list)
    # the budget plan's settings (ISO date, lines by "content/budget source"), in the order
    # recorded, and the spending per line (content as stored, fund source) by ISO date, in fen
    # (kept for every grant, a plan may come later: ints where Decimals had cost a million-event
    # replay 60 MB)
    plans: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    line_days: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    line_spent: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def planned(self) -> bool:
        """A plan with a line stands, whatever its date (ledger/grant.py budget_line)."""
        return any(lines for _on, lines in self.plans)

    def lines_spent(self, policy: BundlePolicy | None) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """Each line spent on (content code, fund source), with the lines its spending is kept
        under: the code, or a content's label as an earlier version kept it (ledger/rules.py
        stored_as). Spending naming no content is on none."""
        found: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for text, source in self.line_days:
            if text:
                code = policy.content(text) if policy is not None else text
                found.setdefault((code, source), []).append((text, source))
        return found

    def spent_on_line(self, text: str, source: str, on: str, change: int) -> None:
        key = (text, source)
        book = self.line_days.setdefault(key, {})
        book[on] = book.get(on, 0) + change
        self.line_spent[key] = self.line_spent.get(key, 0) + change

    def line_room(
        self,
        keys: list[tuple[str, str]],
        content: str,
        source: str,
        day: str,
        plans: list[tuple[str, dict[str, int]]] | None = None,
    ) -> _LineRoom | None:
        """The least room on the line ``content`` × ``source`` at the end of ``day`` and of every
        later date, with the plan as it stood on each (ledger/rules.py least_line_room); ``keys``:
        the lines its spending is kept under; ``plans``: the settings, if not the grant's own.
        None: no plan stood on any of them."""
        plans = self.plans if plans is None else plans
        books = [self.line_days.get(key, {}) for key in keys]
        later = {d for d, _lines in plans if d > day}
        for book in books:
            later.update(d for d in book if d > day)
        spent = sum(self.line_spent.get(key, 0) for key in keys)
        spent -= sum(book.get(d, 0) for book in books for d in later)
        least: _LineRoom | None = None
        for point in (day, *sorted(later)):
            if point != day:
                spent += sum(book.get(point, 0) for book in books)
            line = _plan_line(plans, point, content, source)
            if line is not None and (least is None or line - spent < least[0]):
                least = (line - spent, point, line)
        return least

    def held(self, source: str) -> Decimal:
        a = self.amounts
        if source == "subsidy":
            return a["subsidy_received"] - a["subsidy_spent"] - a["subsidy_recovered"] - a["subsidy_disposed"]
        return a["matching_received"] - a["matching_spent"] - a["matching_disposed"]

    def least_after(self, source: str, day: str, without: dict[str, Decimal] | None = None) -> Decimal:
        """The least balance of ``source`` at the end of ``day`` and of every later date;
        ``without``: as it stands with those changes (by ISO date) taken out."""
        balance = self.held(source)
        if without:
            book = dict(self.days[source])
            for on, change in without.items():
                book[on] = book.get(on, _ZERO) - change
                balance -= change
            return min(_balances_after(balance, book, day))
        if day >= self.last_day[source]:
            return balance
        return min(_balances_after(balance, self.days[source], day))

    def received_peak(self, day: str) -> Decimal:
        """The greatest subsidy disbursed at the end of ``day`` and of every later date: a tranche
        dated before a later reversal is judged with the tranche it reversed."""
        return max(_balances_after(self.amounts["subsidy_received"], self.received_days, day))

    def build_end_on(self, day: str) -> str:
        """The end of the build period as it stood on ``day``: an extension dated later does not
        reach back over days the period had already ended on (ledger/grant.py build_end_on)."""
        extensions = self.extensions
        if len(extensions) == 1 and "" in extensions:
            return extensions[""]  # the approval's end, never extended: read for every spend
        return max((end for since, end in self.extensions.items() if since <= day), default=self.build_end)

    def unanswered_after(self, day: str) -> Decimal:
        """The recoveries ordered and not yet received at the end of ``day`` and of every later
        date, the least of it (ledger/rules.py unanswered_from)."""
        return min(_balances_after(sum(self.recovery_days.values(), _ZERO), self.recovery_days, day))

    def received(self, day: str, change: Decimal) -> None:
        self.received_days[day] = self.received_days.get(day, _ZERO) + change

    def move(self, source: str, day: str, change: Decimal) -> None:
        book = self.days[source]
        book[day] = book.get(day, _ZERO) + change
        if day > self.last_day[source]:
            self.last_day[source] = day


_LineRoom = tuple[int, str, int]  # the least room, the date it is found at, the line (fen)


def _plan_line(plans: list[tuple[str, dict[str, int]]], day: str, content: str, source: str) -> int | None:
    """The plan's amount for ``content`` paid from ``source`` as it stood at the end of ``day``
    (the settings dated by then, in the order recorded; ledger/rules.py plan_on, plan_line);
    None: no plan stood."""
    plan = _plan_on(plans, day)
    if not plan:
        return None
    total = 0
    for key, value in plan.items():
        line_content, _slash, budget_source = key.partition("/")
        if line_content == content and _BUDGET_TO_FUND.get(budget_source) == source:
            total += value
    return total


def _plan_on(settings: list[tuple[str, dict[str, int]]], day: str) -> dict[str, int]:
    """The plan as it stood at the end of ``day`` (ledger/rules.py plan_on)."""
    plan: dict[str, int] = {}
    for on, lines in settings:
        if on <= day:
            plan.update(lines)
    return plan


def _cents(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def _fen(amount: Decimal) -> int:
    return int(amount.scaleb(2))  # an amount past the fen fails on its own (the amount rule)


def _lines(state: dict[str, Any]) -> dict[str, int]:
    """A plan's or an adjustment's lines, in fen, each a plain amount to the fen and above nothing."""
    lines = state.get("lines")
    if not isinstance(lines, dict):
        raise ReplayError(_("a budget plan without its lines"))
    found: dict[str, int] = {}
    for key, raw in lines.items():
        if str(key).partition("/")[2] not in _BUDGET_TO_FUND:
            raise ReplayError(
                _("budget line {line}: not a construction content and a source of table 4-2").format(line=key)
            )
        amount = _amount({"amount": raw})
        if amount < 0 or amount != amount.quantize(_CENT):
            raise ReplayError(
                _("budget line {line}: {amount} is no amount to the fen").format(line=key, amount=amount)
            )
        found[str(key)] = _fen(amount)
    return found


def _balances_after(total: Decimal, book: dict[str, Decimal], day: str) -> Iterator[Decimal]:
    """The balance at the end of ``day`` and of every later date, of a figure standing at ``total``
    whose net change per ISO date is ``book``: back from the latest date, each earlier one's."""
    yield total
    for key in sorted((k for k in book if k > day), reverse=True):
        total -= book[key]
        yield total


def _said_on(state: dict[str, Any], kind: str) -> str:
    """The date a reversal says the act it reverses bears ("" where it says none: a reversal of
    an act an earlier version kept without its date)."""
    key = "spent_on" if kind == "ExpenditureReversed" else "received_on"
    return "" if _value(state.get(key)) is None else _day(state, key)


def _ordinal(day: str) -> int:
    return date.fromisoformat(day).toordinal() if day else 0


def _value(raw: Any) -> Any:
    if isinstance(raw, dict) and "_type_" in raw:
        return raw.get("_data_")
    return raw


def _amount(state: dict[str, Any]) -> Decimal:
    try:
        text = str(_value(state["amount"]))
    except KeyError as exc:
        raise ReplayError(_("no decimal amount (no 'amount')")) from exc
    if _PLAIN_AMOUNT.fullmatch(text) is None:  # the ledger writes amounts as plain numerals
        raise ReplayError(
            _("no decimal amount ({text!r} is not a plain amount like 1200.00)").format(text=text[:40])
        )
    return Decimal(text)


_DAYS_REMEMBERED = 1 << 16  # business dates known to be days of the calendar (ten characters each)
# each such date's one text: the books keyed by date share it, where each record decoded holds
# its own copy (a million-event replay's books held a copy an entry)
_days: dict[str, str] = {}


def _day(state: dict[str, Any], key: str = "occurred_on") -> str:
    text = _value(state.get(key))
    if text.__class__ is str:
        known = _days.get(text)
        if known is not None:
            return known  # found a day of the calendar before
    if not isinstance(text, str) or _ISO_DATE.fullmatch(text) is None:
        raise ReplayError(
            _("no business date ({key} {text!r} is not a date like 2024-05-01)").format(
                key=key, text=str(text)[:40]
            )
        )
    try:
        date.fromisoformat(text)
    except ValueError as exc:
        raise ReplayError(
            _("no business date ({key} {text!r} is no day of the calendar)").format(key=key, text=text)
        ) from exc
    if len(_days) < _DAYS_REMEMBERED:
        _days[text] = text
    return text


def _text(state: dict[str, Any], key: str) -> str:
    value = state.get(key, "")
    if not isinstance(value, str):
        raise ReplayError(_("{key} is not text").format(key=key))
    return value


# the words for a grant's status and a fund source in the replay's failures
_NAMES = {
    "applied": N_("applied"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "closed": N_("closed"),
    "subsidy": N_("fiscal subsidy"),
    "matching": N_("matching funds"),
}


def _name(code: str) -> str:
    name = _NAMES.get(code)
    return _(name) if name else code


def _yuan(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,.2f}"


def _extension(totals: GrantTotals, since: str, end: str) -> str | None:
    """An extension as the ledger records one (ledger/grant.py extend): of an approved grant,
    dated on or after its approval, ending after the end it extends (ledger/rules.py
    build_period_extended). The replay takes the latest end standing on a date, so an extension
    outside these would widen the period the spending is judged by."""
    grant = totals.grant_id
    if totals.status != "approved":
        return _(
            "build period: an extension of grant {grant}, which is {status}; only an approved grant's "
            "build period is extended (ledger/grant.py extend)"
        ).format(grant=grant, status=_name(totals.status))
    if since < totals.approved_on:
        return _(
            "approval first: an extension of grant {grant} dated {day} is before its approval on {approved}"
        ).format(grant=grant, day=since, approved=totals.approved_on)
    if end <= totals.recorded_end:  # as recorded: an extension dated after a bundle's cut counts
        return _(
            "build period: an extension of grant {grant} ends {end}, not after {current}, when its build "
            "period ended already (ledger/rules.py build_period_extended)"
        ).format(grant=grant, end=end, current=totals.recorded_end)
    return None


@dataclass(frozen=True)
class _Pending:
    """A sealed act's ring-fence or tranche breach, judged again when its write has ended."""

    event_id: Any
    leaf: int
    totals: GrantTotals
    kind: str
    source: str  # "" for a tranche
    on: str
    amount: Decimal


def _ring_fence(totals: GrantTotals, kind: str, source: str, on: str, amount: Decimal, least: Decimal) -> str:
    return _(
        "ring-fence: {kind} of {amount} leaves the {source} of grant {grant} at {least} at the "
        "end of {day} or a later date (ledger/rules.py paid_from_own_source; 003 第十条)"
    ).format(
        kind=kind,
        amount=_yuan(amount),
        source=_name(source),
        grant=totals.grant_id,
        least=_yuan(least),
        day=on,
    )


def _tranche(totals: GrantTotals, on: str, amount: Decimal, total: Decimal) -> str:
    return _(
        "tranches within approval: disbursing {amount} on {day} brings grant {grant}'s subsidy "
        "disbursed to {total} at that date or a later one, above the approved {approved}"
    ).format(
        amount=_yuan(amount),
        day=on,
        grant=totals.grant_id,
        total=_yuan(total),
        approved=_yuan(totals.amounts["approved"]),
    )


class Replay:
    """Feed records in leaf order; ``grants`` holds the totals per grant, ``spending`` the rows
    of the workbook's spending sheet. ``policy``: the bundle's policy once verified (without it
    categories are not judged: the policy's own failure says why)."""

    def __init__(self, policy: BundlePolicy | None = None) -> None:
        self.grants: dict[str, GrantTotals] = {}  # originator id -> totals
        # the write being read (its seal's id) and the ring-fence and tranche breaches of its
        # sealed acts, judged again when it ends: an import judges its acts with the receipts and
        # reversals of the same file, and holds the rules once all of it is in
        self._write = ""
        self._pending: list[_Pending] = []
        # per grant and fund source with a breach put off: the write's later moves of it, (leaf,
        # ISO date, change), its receipts aside (the ledger's import counts those alone)
        self._later: dict[tuple[int, str], list[tuple[int, str, Decimal]]] = {}
        self.late: list[tuple[Any, int, str]] = []  # (event id, leaf, why) of a write that has ended
        self._event: Any = None
        self._leaf = 0
        self.policy = policy
        self.spending = SpendingRows()
        self.judged = policy is not None
        self.latest = ""  # the latest business date of an included event
        self.foreign: set[str] = set()  # originators of included events that are no grant's
        self.vouchers = Vouchers()  # each reversal against the act it reverses, judged at the end
        self._applied: dict[str, str] = {}  # grant id -> the aggregate that applied for it

    def recorded(self, record: dict[str, Any]) -> None:
        """An event a bundle cut at a date shows but does not replay (dated after the cut): the
        totals as recorded take it in."""
        topic, state = record.get("topic", ""), record.get("state")
        totals = self.grants.get(str(record.get("originator_id")))
        if totals is None or not isinstance(topic, str) or not isinstance(state, dict):
            return
        kind = topic[len(_TOPIC) :] if topic.startswith(_TOPIC) else ""
        if kind == "Extended":
            try:
                totals.recorded_end = max(totals.recorded_end, _day(state, "end"))
            except ReplayError:
                return  # not judged after the cut
        if kind in ("SubsidyDisbursed", "DisbursementReversed", "RecoveryOrdered", "FundsRecovered"):
            try:
                totals.as_recorded(kind, _amount(state))
            except ReplayError:
                return  # not judged after the cut

    def settle(self) -> None:
        """The write read last has ended: its acts' ring-fence and tranche breaches, judged again
        with all of it in, go to ``late`` where they still hold. An act's ring-fence counts, of
        what the write recorded after it, its receipts alone, as the ledger's import judged it
        (ledger/importing.py coming_receipts): a spend reversed later in the same write was
        refused there all the same."""
        found: list[tuple[Any, int, str]] = []
        taken_out: dict[tuple[int, str], tuple[int, dict[str, Decimal]]] = {}
        for p in reversed(self._pending):  # the later moves gathered from the write's end back
            totals = p.totals
            if p.kind == "SubsidyDisbursed":
                peak = totals.received_peak(p.on)
                if peak > totals.amounts["approved"]:
                    found.append((p.event_id, p.leaf, _tranche(totals, p.on, p.amount, peak)))
                continue
            key = (id(totals), p.source)
            later = self._later.get(key, [])
            at, without = taken_out.get(key, (len(later), {}))
            while at and later[at - 1][0] > p.leaf:
                at -= 1
                _leaf, on, change = later[at]
                without[on] = without.get(on, _ZERO) + change
            taken_out[key] = (at, without)
            least = totals.least_after(p.source, p.on, without)
            if least < 0:
                found.append(
                    (p.event_id, p.leaf, _ring_fence(totals, p.kind, p.source, p.on, p.amount, least))
                )
        self.late.extend(reversed(found))
        self._pending.clear()
        self._later.clear()

    def _move(self, totals: GrantTotals, source: str, on: str, change: Decimal, leaf: int) -> None:
        """A move that is no receipt: noted for the breaches of its write put off before it."""
        totals.move(source, on, change)
        if self._later:
            later = self._later.get((id(totals), source))
            if later is not None:
                later.append((leaf, on, change))

    def finish(self) -> list[Problem]:
        """What can be judged only once every event is read: each reversal against the act it
        reverses (``audit.verifier.vouchers``; a spend's, where the spending sheet's rows are
        encoded), as (leaf, why)."""
        return sorted([*self.vouchers.problems(), *self.spending.problems()])

    def use_policy(self, policy: BundlePolicy | None) -> None:
        self.policy = policy
        self.judged = policy is not None

    def feed(self, record: dict[str, Any], leaf_index: int = 0, event_id: Any = None) -> None:
        topic = record.get("topic", "")
        state = record.get("state")
        originator = str(record.get("originator_id"))
        write = state.get("seal") if isinstance(state, dict) else None
        write = write if isinstance(write, str) and topic != SEAL_TOPIC else ""
        if write != self._write:
            self.settle()
            self._write = write
        self._event, self._leaf = event_id, leaf_index
        on = _value(state.get("occurred_on")) if isinstance(state, dict) else None
        if isinstance(on, str) and on > self.latest:
            self.latest = on
        if not isinstance(topic, str) or not topic.startswith(_TOPIC):
            if originator not in _ALWAYS and topic not in (SEAL_TOPIC, ADOPTION_TOPIC):
                # the registry, the policy book and the seals go out with any bundle
                self.foreign.add(originator)
            return
        kind = topic[len(_TOPIC) :]
        if not isinstance(state, dict):
            raise ReplayError(_("the state is not a JSON object"))
        if kind == "Applied":
            grant_id = str(state.get("grant_id"))
            known = self._applied.get(grant_id)
            if originator in self.grants or (known is not None and known != originator):
                # an application is its grant's first event, one per grant id: acts are tied to
                # their grant by its id (each reversal to the act it undoes), and a second
                # application would start the grant's books again
                raise ReplayError(
                    _("a second application of grant {grant}: a grant is applied for once").format(
                        grant=grant_id
                    )
                )
            self._applied[grant_id] = originator
            self.grants[originator] = GrantTotals(
                grant_id=str(state.get("grant_id")),
                base_id=str(state.get("base_id")),
                base_name=str(state.get("base_name")),
                programme=str(state.get("programme")),
            )
            self.grants[originator].applied_on = _day(state)
            kind_of_unit = state.get("unit_kind")
            declared = state.get("declared")
            self.grants[originator].unit_kind = kind_of_unit if isinstance(kind_of_unit, str) else ""
            if isinstance(declared, dict):
                self.grants[originator].declared = {
                    str(k): v for k, v in declared.items() if type(v) is int and v >= 0
                }
            # none named is not known (an import's approve row names none), as ledger.rules.named_projects
            projects = state.get("projects")
            if isinstance(projects, list) and all(isinstance(p, str) for p in projects):
                self.grants[originator].projects = len({p.strip() for p in projects if p.strip()}) or None
            return
        totals = self.grants.get(originator)
        if totals is None:
            if kind in _MONEY:
                raise ReplayError(
                    _("a {kind} event of a grant whose application is not in the bundle").format(kind=kind)
                )
            return
        if kind in _MONEY:
            self._money(totals, kind, state, leaf_index)
        else:
            self._other(totals, kind, state)

    def _other(self, totals: GrantTotals, kind: str, state: dict[str, Any]) -> None:
        if kind == "Extended":
            end, since = _day(state, "end"), _day(state)
            breach = _extension(totals, since, end)
            if breach is not None:
                raise ReplayError(breach)
            totals.build_end = end
            totals.recorded_end = max(totals.recorded_end, end)
            totals.extensions[since] = max(totals.extensions.get(since, ""), end)
        elif kind == "BudgetRegistered" or kind == "BudgetAdjusted":
            on, lines = _day(state), _lines(state)
            breach = self._plan(totals, kind, state, on, lines)
            if breach is not None:
                raise ReplayError(breach)
            totals.plans.append((on, lines))
        elif kind == "Closed":
            totals.status = "closed"
        elif kind == "Rejected":
            totals.status = "rejected"
        elif kind == "OutputReported":
            year = state.get("year")
            counts = {
                k: state.get(k) for k in ("trainees", "advanced", "evaluations", "advanced_evaluations")
            }
            if type(year) is int and all(type(v) is int for v in counts.values()):
                totals.outputs[year] = counts  # type: ignore[assignment]
        elif kind == "RectificationOrdered":
            totals.rectifications[_text(state, "ref")] = (_day(state, "deadline"), None)
        elif kind == "RectificationCompleted":
            ref = _text(state, "ref")
            if ref in totals.rectifications:
                totals.rectifications[ref] = (totals.rectifications[ref][0], _day(state))

    def _money(self, totals: GrantTotals, kind: str, state: dict[str, Any], leaf_index: int) -> None:
        amount = _amount(state)
        on = _day(state)
        breach = self._judge(totals, kind, state, amount, on)
        totals.as_recorded(kind, amount)
        if kind == "RecoveryOrdered":
            totals.ordered_on = min(totals.ordered_on or on, on)
            totals.recovery_days[on] = totals.recovery_days.get(on, _ZERO) + amount
            if breach is not None:
                raise ReplayError(breach)
            return
        if kind == "FundsRecovered":
            totals.recovery_days[on] = totals.recovery_days.get(on, _ZERO) - amount
        if kind == "Approved":
            totals.status = "approved"
            totals.approved_on = on
            totals.build_start = _day(state, "build_start")
            totals.build_end = _day(state, "build_end")
            totals.recorded_end = max(totals.recorded_end, totals.build_end)
            totals.extensions[""] = totals.build_end
        receipt = _RECEIPTS.get(kind) or _RECEIPT_UNDONE.get(kind)
        if receipt is not None:
            voucher, fen = _text(state, "voucher"), str(amount.quantize(_CENT))
            if kind in _RECEIPTS:
                self.vouchers.act(totals.grant_id, receipt, voucher, leaf_index, fen, "", _ordinal(on))
            else:
                said = _ordinal(_said_on(state, kind))
                self.vouchers.reversal(
                    totals.grant_id, receipt, voucher, leaf_index, fen, "", said, _ordinal(on)
                )
        if kind in _FIXED:
            totals.amounts[_FIXED[kind]] += amount
            if kind in ("SubsidyDisbursed", "MatchingReceived"):
                totals.move("subsidy" if kind == "SubsidyDisbursed" else "matching", on, amount)
                if kind == "SubsidyDisbursed":
                    totals.received(on, amount)
            elif kind == "FundsRecovered":
                self._move(totals, "subsidy", on, -amount, leaf_index)
        elif kind in _UNDONE:
            column, held = _UNDONE[kind]
            totals.amounts[column] -= amount
            if held is not None:
                self._move(totals, held, on, -amount, leaf_index)
            if kind == "DisbursementReversed":
                totals.received(on, -amount)
        else:
            source = state.get("source")
            if source not in _SOURCES:
                raise ReplayError(
                    _("fund source {source!r} is neither subsidy nor matching").format(source=source)
                )
            if kind == "BalanceDisposed":
                totals.amounts[f"{source}_disposed"] += amount
                self._move(totals, source, on, -amount, leaf_index)
            else:
                sign = 1 if kind == "ExpenditureRecorded" else -1
                totals.amounts[_SPENT[source]] += sign * amount
                self._move(totals, source, on, -sign * amount, leaf_index)
                category = _text(state, "category")
                content = _text(state, "content")
                voucher = _text(state, "voucher")
                totals.spent_on_line(content, source, on, sign * _fen(amount))
                shown = amount.quantize(_CENT)
                # the row as the spending sheet shows it, packed (SpendingRows.add)
                self.spending.add(
                    (
                        leaf_index,
                        date.fromisoformat(on).toordinal(),
                        totals.grant_id,
                        totals.base_id,
                        "spend" if sign == 1 else "reverse",
                        source,
                        category,
                        content,
                        voucher,
                        str(shown),
                        _text(state, "actor"),
                        0 if sign == 1 else _ordinal(_said_on(state, kind)),
                    ),
                    shown if sign == 1 else -shown,
                )
        if breach is None and kind in _TAKES:
            undone = _UNDONE.get(kind)
            if undone is not None:
                source = str(undone[1])
            else:
                source = "subsidy" if kind == "FundsRecovered" else str(state.get("source"))
            least = totals.least_after(source, on)
            if least < 0 and self._write:
                self._pending.append(_Pending(self._event, leaf_index, totals, kind, source, on, amount))
                self._later.setdefault((id(totals), source), [])
            elif least < 0:
                breach = _ring_fence(totals, kind, source, on, amount, least)
        if breach is None and kind == "BalanceDisposed" and state.get("source") == "subsidy":
            # judged now, its ring-fence put off or not: the ledger judges it without the
            # receipts its write brings in later
            breach = self._disposed_after_recoveries(totals, amount, on)
            if breach is not None and self._pending and self._pending[-1].leaf == leaf_index:
                self._pending.pop()
        if breach is not None:
            raise ReplayError(breach)

    def _judge(
        self, totals: GrantTotals, kind: str, state: dict[str, Any], amount: Decimal, on: str
    ) -> str | None:
        """The rule the money event breaks before it is applied (the ring-fence is judged after)."""
        grant = totals.grant_id
        if amount < 0 or (amount == 0 and kind != "Approved") or amount != amount.quantize(_CENT):
            return _(
                "amount: {kind} of {amount} of grant {grant}; the ledger records amounts above zero (an "
                "approval of nothing aside) and to the fen, a reversal being an act of its own "
                "(ledger/money.py check_amount)"
            ).format(kind=kind, amount=amount, grant=grant)
        if kind == "Approved":
            if totals.status == "applied":
                return None
            return _(
                "approval first: Approved of grant {grant}, which is {status}; only an application is "
                "approved, once (ledger/grant.py approve)"
            ).format(grant=grant, status=_name(totals.status))
        if totals.status != "approved":
            return (
                _(
                    "grant closed: {kind} of grant {grant}, which is {status}; money moves only between "
                    "approval and closure"
                )
                if totals.status == "closed"
                else _(
                    "approval first: {kind} of grant {grant}, which is {status}; money moves only between "
                    "approval and closure"
                )
            ).format(kind=kind, grant=grant, status=_name(totals.status))
        if kind not in _UNDATED_BY_APPROVAL and on < totals.approved_on:
            return _(
                "approval first: {kind} dated {day} is before grant {grant}'s approval on {approved}"
            ).format(kind=kind, day=on, grant=grant, approved=totals.approved_on)
        said = _said_on(state, kind) if kind in _UNDATED_BY_APPROVAL else ""
        if said and on < said:
            return _(
                "reversal date: {kind} dated {day} reverses an act of grant {grant} dated {said}; a reversal "
                "is dated on or after the act it reverses (ledger/rules.py reversed_after_spending)"
            ).format(kind=kind, day=on, grant=grant, said=said)
        if kind == "SubsidyDisbursed":
            total = totals.received_peak(on) + amount
            if total > totals.amounts["approved"] and self._write:
                self._pending.append(_Pending(self._event, self._leaf, totals, kind, "", on, amount))
            elif total > totals.amounts["approved"]:
                return _tranche(totals, on, amount, total)
        recovery = self._recovery(totals, kind, state, amount, on)
        if recovery is not None:
            return recovery
        if kind == "ExpenditureRecorded" and self.policy is not None:
            policy = self.policy.in_force(on)
            if policy is None:
                return _(
                    "policy in force: spending of grant {grant} dated {day} is before every policy version "
                    "the bundle ships"
                ).format(grant=grant, day=on)
            text = _text(state, "category")
            found = policy.category(text)
            if found is None:
                return _(
                    "permitted category: spending category {category!r} of grant {grant} is unknown to the "
                    "policy {policy}"
                ).format(category=text, grant=grant, policy=policy.name)
            programme = policy.programme(totals.programme)
            allowed = None if programme is None else programme.allowed
            if not found[1] or (programme is not None and found[0] in programme.banned):
                return _(
                    "banned category: spending category '{category}' of grant {grant} is banned by the "
                    "policy {policy}"
                ).format(category=found[0], grant=grant, policy=policy.name)
            if allowed is not None and found[0] not in allowed:
                return _(
                    "permitted category: spending category '{category}' of grant {grant} is not a "
                    "permitted use of a {programme} in the policy {policy}"
                ).format(category=found[0], grant=grant, programme=totals.programme, policy=policy.name)
        if kind == "ExpenditureRecorded" and totals.build_start:
            end = totals.build_end_on(on)
            if not totals.build_start <= on <= end:
                return _(
                    "build period: spending of grant {grant} dated {day} is outside its build period "
                    "{start} to {end} as it stood that day (ledger/rules.py spent_in_build_period)"
                ).format(grant=grant, day=on, start=totals.build_start, end=end)
        if kind == "ExpenditureRecorded" and totals.plans:
            return self._budget_line(totals, state, amount, on)
        return None

    def _plan(
        self, totals: GrantTotals, kind: str, state: dict[str, Any], on: str, lines: dict[str, int]
    ) -> str | None:
        """A budget plan or adjustment as the ledger records one (ledger/grant.py register_budget,
        adjust_budget; 003 第十条(一), 表4-2): of an approved grant, dated on or after its approval;
        a plan once, an adjustment after it with its approval reference; the subsidy lines within
        the approved subsidy on every date, and every line at or above what is spent on it from
        the act's date on (ledger/rules.py planned_above_spending)."""
        grant = totals.grant_id
        what = _("the budget plan") if kind == "BudgetRegistered" else _("the budget adjustment")
        if totals.status != "approved":
            return _(
                "approval first: {what} of grant {grant}, which is {status}; a grant's budget is set between "
                "its approval and its closure"
            ).format(what=what, grant=grant, status=_name(totals.status))
        if on < totals.approved_on:
            return _(
                "approval first: {what} of grant {grant} dated {day} is before its approval on {approved}"
            ).format(what=what, grant=grant, day=on, approved=totals.approved_on)
        if kind == "BudgetRegistered" and totals.planned:
            return _(
                "budget plan: grant {grant} already has a budget plan; a change is an adjustment with its "
                "approval reference (ledger/grant.py register_budget)"
            ).format(grant=grant)
        if kind == "BudgetAdjusted":
            if not totals.plans or on < totals.plans[0][0]:
                return _(
                    "budget first: the budget adjustment of grant {grant} dated {day} comes before any plan "
                    "dated by then (ledger/rules.py adjusted_after_its_plan)"
                ).format(grant=grant, day=on)
            if not _text(state, "approval").strip():
                return _("approval reference: the budget adjustment of grant {grant} names none").format(
                    grant=grant
                )
        policy = self.policy.in_force(on) if self.policy is not None else None
        contents = policy.data.get("contents", {}) if policy is not None else None
        for key in lines:
            if contents is not None and key.partition("/")[0] not in contents:
                # the ledger keeps a line under its content's code, one of table 4-2's
                return _(
                    "budget line: {what} of grant {grant} sets a line {line} of no construction content of "
                    "the policy {policy} (ledger/grant.py register_budget)"
                ).format(what=what, grant=grant, line=key, policy=policy.name if policy else "")
        settings = [*totals.plans, (on, lines)]
        approved = _fen(totals.amounts["approved"])
        for point in sorted({on, *(d for d, _setting in totals.plans if d > on)}):
            subsidy = sum(
                v
                for k, v in _plan_on(settings, point).items()
                if _BUDGET_TO_FUND[k.partition("/")[2]] == "subsidy"
            )
            if subsidy > approved:
                return _(
                    "budget total: the subsidy (地方财政) lines of grant {grant}'s budget plan add up to "
                    "{lines} on {day}, above the approved subsidy of {approved} (ledger/rules.py "
                    "plan_within_subsidy)"
                ).format(
                    grant=grant, lines=_yuan(_cents(subsidy)), day=point, approved=_yuan(_cents(approved))
                )
        return self._plan_covers_spending(totals, what, on, lines, settings)

    def _plan_covers_spending(
        self,
        totals: GrantTotals,
        what: str,
        on: str,
        lines: dict[str, int],
        settings: list[tuple[str, dict[str, int]]],
    ) -> str | None:
        """Each line the act sets covers what is spent on it from its date on; so does each line
        spent on that it leaves out, held at nil, where the act changes it (ledger/rules.py
        planned_above_spending). Spending naming no content is on no line."""
        policy = self.policy.in_force(on) if self.policy is not None else None
        named = {(key.partition("/")[0], _BUDGET_TO_FUND[key.partition("/")[2]]) for key in lines}
        spent = totals.lines_spent(policy)
        for content, source in sorted(named | spent.keys()):
            keys = spent.get((content, source), [])
            room = totals.line_room(keys, content, source, on, settings)
            if room is None or room[0] >= 0:
                continue
            is_named = (content, source) in named
            if not is_named and room == totals.line_room(keys, content, source, on):
                continue  # as it stood before the act
            fields = {
                "what": what,
                "grant": totals.grant_id,
                "content": content,
                "source": _name(source),
                "line": _yuan(_cents(room[2])),
                "spent": _yuan(_cents(room[2] - room[0])),
                "day": room[1],
            }
            if not is_named and room[2] == 0:
                return _(
                    "budget line: {what} of grant {grant} has no line for {content} from {source}, which "
                    "leaves that line at {line}, below the {spent} spent on it by the end of {day} "
                    "(ledger/rules.py planned_above_spending)"
                ).format(**fields)
            return _(
                "budget line: {what} of grant {grant} sets {content} from {source} at {line}, below the "
                "{spent} spent on it by the end of {day} (ledger/rules.py planned_above_spending)"
            ).format(**fields)
        return None

    def _budget_line(
        self, totals: GrantTotals, state: dict[str, Any], amount: Decimal, on: str
    ) -> str | None:
        """A spend of a grant with a budget plan names its construction content and leaves its
        line within the plan as it stood at the end of its date and of every later date
        (ledger/rules.py spent_within_budget_line; 003 第十条(一)). Spending kept under a content's
        label is on its code's line, as the ledger finds it (ledger/rules.py stored_as)."""
        source = str(state.get("source"))
        if not totals.planned:
            return None
        text = _text(state, "content")
        if not text:
            return _(
                "budget line: spending {amount} of grant {grant} names no construction content, and the "
                "grant has a budget plan (ledger/rules.py spent_within_budget_line)"
            ).format(amount=_yuan(amount), grant=totals.grant_id)
        policy = self.policy.in_force(on) if self.policy is not None else None
        content = policy.content(text) if policy is not None else text
        room = totals.line_room(totals.lines_spent(policy).get((content, source), []), content, source, on)
        if room is None or _fen(amount) <= room[0]:
            return None
        least, day, line = (_cents(room[0]), room[1], _cents(room[2]))
        return _(
            "budget line: spending {amount} on {content} from {source} of grant {grant} brings that budget "
            "line to {value} at the end of {day}, above its {line} (ledger/rules.py spent_within_budget_line)"
        ).format(
            amount=_yuan(amount),
            content=content,
            source=_name(source),
            grant=totals.grant_id,
            value=_yuan(line - least + amount),
            day=day,
            line=_yuan(line),
        )

    def _recovery(
        self, totals: GrantTotals, kind: str, state: dict[str, Any], amount: Decimal, on: str
    ) -> str | None:
        """The recovery rules (003 第十三条; ledger/rules.py): orders within the subsidy received
        and kept within it by a tranche's reversal, receipts within the orders (the totals as
        recorded) and dated on or after what they answer."""
        grant = totals.grant_id
        received = totals.recorded_recovered
        if kind == "DisbursementReversed":
            left = totals.recorded_received - amount
            if totals.ordered > left:
                return _(
                    "recovery within order: reversing {amount} of subsidy leaves grant {grant} {left} "
                    "received, below the {ordered} of recoveries ordered (ledger/rules.py "
                    "reversal_keeps_received)"
                ).format(amount=_yuan(amount), grant=grant, left=_yuan(left), ordered=_yuan(totals.ordered))
        if kind == "RecoveryOrdered" and totals.ordered + amount > totals.recorded_received:
            return _(
                "recovery within order: ordering {amount} back from grant {grant} brings the recoveries "
                "ordered to {total}, above the {received} subsidy it received (ledger/rules.py "
                "ordered_within_received)"
            ).format(
                amount=_yuan(amount),
                grant=grant,
                total=_yuan(totals.ordered + amount),
                received=_yuan(totals.recorded_received),
            )
        if kind == "FundsRecovered":
            if received + amount > totals.ordered:
                return _(
                    "recovery within order: receiving {amount} back for grant {grant} brings recoveries to "
                    "{total}, above the {ordered} ordered (ledger/rules.py recovered_within_order)"
                ).format(
                    amount=_yuan(amount),
                    grant=grant,
                    total=_yuan(received + amount),
                    ordered=_yuan(totals.ordered),
                )
            room = totals.unanswered_after(on)
            if on < totals.ordered_on or amount > room:
                return _(
                    "recovery date: a recovery of {amount} for grant {grant} received on {day} is more than "
                    "the orders dated by then leave to receive, {room} (ledger/rules.py received_after_order)"
                ).format(amount=_yuan(amount), grant=grant, day=on, room=_yuan(max(room, _ZERO)))
        return None

    @staticmethod
    def _disposed_after_recoveries(totals: GrantTotals, amount: Decimal, on: str) -> str | None:
        """A disposal of the subsidy, applied, leaves what ordered recoveries still call back
        (judged after the ring-fence, as the ledger's rules are listed)."""
        owed = totals.ordered - totals.recorded_recovered
        left = totals.least_after("subsidy", on)
        if owed <= 0 or left >= owed:
            return None
        return _(
            "recoveries before disposal: disposing of {amount} of the subsidy of grant {grant} on "
            "{day} leaves {left} for the {owed} of ordered recoveries not yet received "
            "(ledger/rules.py disposed_after_recoveries)"
        ).format(
            amount=_yuan(amount),
            grant=totals.grant_id,
            day=on,
            left=_yuan(max(left, _ZERO)),
            owed=_yuan(owed),
        )

    def by_grant(self) -> dict[str, GrantTotals]:
        return {t.grant_id: t for t in self.grants.values()}
