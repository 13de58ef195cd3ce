"""An import file's rows by business date, for a file whose rows of one grant are not in date order.

Finance systems export vouchers by date, but not all oldest first: some list the newest first, or
by voucher number. Applied in the file's order, such a grant's spend comes before the tranche
that pays for it, and is refused though on its own date the money was there. So when a file
breaks a rule as it stands and some grant's rows in it are out of date order
(``first_disorder``), `import` applies its rows again by business date (``by_business_date``);
a file that imports as it stands is recorded as it stands.

By date, a date's rows go as its money stands at the day's end, which is where the ring-fence and
the budget lines are judged: first what brings money in (approvals, matching commitments, receipts
of tranches and matching, reversals of spending recorded before that date), then what takes it out
(a spend reversed on its own date, its reversal right after it: the pair takes nothing at the
day's end, so nothing else waits on it; recovery orders, recoveries and disposals, a disposal
judged on what is left for the recoveries before the spending takes it; spending; reversals of
receipts), then extensions of build periods, each kind in the file's order. A tranche reversed on
its own date where the date disburses again goes first of the date's receipts, its reversal right
after it: a tranche disbursed under a wrong voucher, reversed and disbursed again that
day, counts once against the approved amount when the new tranche comes (else the reversal waits
for the date's spending, which the receipt may have paid for; a matching receipt's always does,
as matching has no approved amount to keep under). A file refused in
that order is tried again, each grant refused in its next order of the date it was refused on,
from that date on (``DateOrder``): a receipt's reversal after the date's spending, or a receipt
of an earlier date reversed on a date receiving its kind again right before the receipt of its
amount (a tranche disbursed again), after the date's other receipts, or else first of the date's
receipts, or only those of an amount the date receives again. Once a grant refused has no order
left, the file cannot hold, and the refusal is a pass in each grant's best order tried
(``fewest_refused``). (The date's rows as the file lists them are no such order: a reversal naming by voucher
alone an act whose voucher another act of the date shares reverses the one recorded before it.)
A file listing a date's money out before its money in (a spend above the tranche of its date, as a
file newest first lists them) is out of order too. The rows wait in a scratch SQLite file, sorted
there, so memory does not grow with the file.
"""

from __future__ import annotations

import pickle
import sqlite3
import tempfile
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import islice
from pathlib import Path

from ledger.actions import business_date
from ledger.i18n import T_, Text
from ledger.import_format import RECEIPT_KINDS, Cells, Row, as_cells, cell_text

# the order of a date's rows: money in before money out, an act before its reversal; a disposal
# before the spending (it must leave what ordered recoveries still owe: the spending need not),
# after the spends reversed that date (which take nothing at its end), the recoveries before it
(
    _APPROVAL,
    _COMMITMENT,
    _EARLY_REVERSAL_IN,
    _EARLY_RECEIPT_REVERSAL,
    _RECEIPT_UNDONE,
    _ITS_RECEIPT_REVERSAL,
    _RECEIPT,
    _REDONE_REVERSAL,
    _REDONE_RECEIPT,
    _REVERSAL_IN,
    _SPEND_UNDONE,
    _ITS_REVERSAL,
    _RECOVERY_ORDER,
    _RECOVERY,
    _DISPOSAL,
    _SPEND,
    _REVERSAL_OUT,
    _SHARED_REVERSAL,
    _EXTENSION,
    _OTHER_KIND,
) = range(20)
# the bits of a date's order (``Orders``, ``_TURNS``); the third and fourth only with the second
_UNPAIRED, _EARLY_BIT, _EARLY_FIRST, _MATCHED_ONLY = 1, 2, 4, 8
_KIND_ORDER = {
    "approve": _APPROVAL,
    "match_commit": _COMMITMENT,  # a promise: before the matching it promises is received
    "disburse": _RECEIPT,
    "match_receive": _RECEIPT,
    "spend": _SPEND,
    "reverse": _REVERSAL_IN,
    "recover_order": _RECOVERY_ORDER,
    "recover_receive": _RECOVERY,
    "dispose": _DISPOSAL,
    "extend": _EXTENSION,  # a build period's new end: after its grant's approval
}
# a tranche reversed on its own date, where the date disburses again
_PAIRED_WHERE = (
    f"kind = {_RECEIPT} AND act = 'disburse' AND EXISTS (SELECT 1 FROM rows r "
    f"WHERE r.kind = {_REVERSAL_OUT} AND r.day = rows.day AND r.grant_id = rows.grant_id "
    "AND r.memo = rows.voucher AND r.act = rows.act) "
    # only where the date receives again what it reverses (a tranche disbursed again): else its
    # reversal waits for the date's spending, which the receipt may have paid for, to be reversed
    f"AND EXISTS (SELECT 1 FROM rows o WHERE o.kind IN ({_RECEIPT}, {_RECEIPT_UNDONE}) "
    "AND o.day = rows.day AND o.grant_id = rows.grant_id AND o.act = rows.act AND o.voucher != rows.voucher)"
)
# the date's order of the rows of each kind once the file's other rows are known (``_ranked``):
# a reversal naming a receipt of its grant in the file takes money out (``act``: the receipt's
# kind); a receipt reversed on its own date goes before the date's other receipts, then its
# reversal (the two leave the total disbursed as it was, for the tranches after them); a spend
# reversed on its own date goes before the date's other spending, then its reversal. ``act`` is a
# receipt's kind, or the kind of receipt a reversal names; a spend's is ''.
_RANKED = (
    f"UPDATE rows SET kind = {_REVERSAL_OUT}, act = (SELECT r.act FROM rows r WHERE r.kind IN "
    f"({_COMMITMENT}, {_RECEIPT}) AND r.grant_id = rows.grant_id AND r.voucher = rows.memo LIMIT 1) "
    f"WHERE kind = {_REVERSAL_IN} AND category = '' AND EXISTS (SELECT 1 FROM rows r WHERE r.kind IN "
    f"({_COMMITMENT}, {_RECEIPT}) AND r.grant_id = rows.grant_id AND r.voucher = rows.memo)",
    # only a tranche: the pair holds the total disbursed under the approved amount; matching
    # received has no such cap, and its pair, first of the date, only leaves less for the spending
    f"UPDATE rows SET kind = {_RECEIPT_UNDONE} WHERE {_PAIRED_WHERE}",
    f"UPDATE rows SET kind = {_ITS_RECEIPT_REVERSAL}, anchor = (SELECT max(s.line) FROM rows s "
    f"WHERE s.kind = {_RECEIPT_UNDONE} AND s.day = rows.day AND s.grant_id = rows.grant_id "
    f"AND s.voucher = rows.memo AND s.act = rows.act) WHERE kind = {_REVERSAL_OUT} AND EXISTS "
    f"(SELECT 1 FROM rows s WHERE s.kind = {_RECEIPT_UNDONE} AND s.day = rows.day "
    "AND s.grant_id = rows.grant_id AND s.voucher = rows.memo AND s.act = rows.act)",
    f"UPDATE rows SET kind = {_SPEND_UNDONE} WHERE kind = {_SPEND} AND EXISTS (SELECT 1 FROM rows r "
    f"WHERE r.kind = {_REVERSAL_IN} AND r.day = rows.day AND r.grant_id = rows.grant_id "
    "AND r.memo = rows.voucher)",
    f"UPDATE rows SET kind = {_ITS_REVERSAL}, anchor = (SELECT max(s.line) FROM rows s "
    f"WHERE s.kind = {_SPEND_UNDONE} AND s.day = rows.day AND s.grant_id = rows.grant_id "
    f"AND s.voucher = rows.memo AND s.act = '') WHERE kind = {_REVERSAL_IN} AND EXISTS (SELECT 1 "
    f"FROM rows s WHERE s.kind = {_SPEND_UNDONE} AND s.day = rows.day AND s.grant_id = rows.grant_id "
    "AND s.voucher = rows.memo)",
)
# a grant's third order of a date (``Orders.early``): a receipt of an earlier date reversed on a
# date that receives its kind again goes before the date's receipts (``_REDONE_BY``: right before
# the one of its amount), after the reversals of earlier spending (which only give money back): a
# tranche disbursed again counts once against the approved amount, whose cap is judged on the
# running total
_EARLY_WHERE = (
    f"kind = {_REVERSAL_OUT} AND act IN ('disburse', 'match_receive') "
    "AND EXISTS (SELECT 1 FROM rows o WHERE o.grant_id = rows.grant_id AND o.day = rows.day "
    f"AND o.act = rows.act AND o.kind IN ({_RECEIPT}, {_RECEIPT_UNDONE}) AND o.voucher != rows.memo) "
    "AND NOT EXISTS (SELECT 1 FROM rows r WHERE r.grant_id = rows.grant_id AND r.voucher = rows.memo "
    f"AND r.kind IN ({_RECEIPT}, {_RECEIPT_UNDONE}) AND r.day >= rows.day AND r.act = rows.act)"
)
_BY_DAY = (
    "CREATE INDEX IF NOT EXISTS rows_day ON rows (grant_id, day, act, kind, voucher)",
    "CREATE INDEX IF NOT EXISTS rows_amount ON rows (grant_id, day, act, kind, amount, line)",
)
# the date's receipt of the act's kind and amount (a tranche disbursed again): it goes after the
# date's other receipts, its reversal right before it (a second tranche of the date may be what
# leaves money enough for the reversal)
_REDONE_AMOUNT = (
    "(SELECT r.amount FROM rows r WHERE r.grant_id = rows.grant_id AND r.voucher = rows.memo "
    f"AND r.kind IN ({_RECEIPT}, {_RECEIPT_UNDONE}) AND r.day < rows.day AND r.act = rows.act LIMIT 1)"
)
_REDONE_BY = (
    f"SELECT min(o.line) FROM rows o WHERE o.grant_id = rows.grant_id AND o.day = rows.day "
    f"AND o.act = rows.act AND o.kind = {_RECEIPT} AND o.amount = {_REDONE_AMOUNT}"
)
_BY_AMOUNT = f"{_REDONE_AMOUNT} != '' AND ({_REDONE_BY}) IS NOT NULL"
_EARLY = (
    f"UPDATE rows SET kind = {_EARLY_RECEIPT_REVERSAL} WHERE turn & {_EARLY_BIT} AND {_EARLY_WHERE} "
    f"AND (turn & {_MATCHED_ONLY} = 0 OR ({_BY_AMOUNT}))",
    f"UPDATE rows SET kind = {_REDONE_REVERSAL}, anchor = ({_REDONE_BY}) "
    f"WHERE kind = {_EARLY_RECEIPT_REVERSAL} AND turn & {_EARLY_FIRST} = 0 AND {_BY_AMOUNT}",
    f"UPDATE rows SET kind = {_REDONE_RECEIPT} WHERE kind = {_RECEIPT} AND line IN (SELECT anchor FROM rows "
    f"WHERE kind = {_REDONE_REVERSAL})",
    f"UPDATE rows SET kind = {_EARLY_REVERSAL_IN} WHERE turn & {_EARLY_BIT} AND kind = {_REVERSAL_IN}",
)
# each row's order of its date: that of its grant's last date of a change of order (``Orders``)
_TURN_OF_DAY = (
    "UPDATE rows SET turn = coalesce((SELECT t.turn FROM turns t WHERE t.grant_id = rows.grant_id "
    "AND t.day <= rows.day ORDER BY t.day DESC LIMIT 1), 0) WHERE grant_id IN (SELECT grant_id FROM turns)"
)
# a receipt or spend reversed on its date and its reversal go together, in the order of the acts;
# the reversal after the act's last row (``anchor``): a repeat of the act, listed twice in the file,
# is "already recorded" before the reversal, not a reversed voucher recorded again
_SORTED = (
    f"SELECT line, row FROM rows ORDER BY day, CASE kind WHEN {_ITS_REVERSAL} THEN {_SPEND_UNDONE} "
    f"WHEN {_ITS_RECEIPT_REVERSAL} THEN {_RECEIPT_UNDONE} WHEN {_REDONE_REVERSAL} THEN {_REDONE_RECEIPT} "
    "ELSE kind END, anchor, kind, line"
)
_INSERT = (
    "INSERT INTO rows (day, kind, line, anchor, grant_id, voucher, memo, category, act, amount, row) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CENT = Decimal("0.01")
_UNDATED = 0  # a row whose date does not read sorts first; its own check refuses it
_SCRATCH_CACHE_KIB = 16 * 1024
_BATCH = 10_000


@dataclass(frozen=True)
class Disorder:
    """A grant's row dated before a row of that grant above it in the file, or of the same date
    and bringing money in (or a commitment) where the row above takes it out (``kind``, ``above_kind``)."""

    grant_id: str
    line: int
    on: date
    above: int
    above_on: date
    kind: str = ""
    above_kind: str = ""

    def sentence(self) -> Text:
        if self.on == self.above_on:
            return T_(
                "rows of grant {grant_id} of {on} are not in the order its money moves (line {line}, "
                "{kind}, comes after line {above}, {above_kind}) and the file breaks a rule in its own "
                "order: its rows are applied again by business date",
                grant_id=self.grant_id,
                on=self.on.isoformat(),
                line=self.line,
                kind=self.kind,
                above=self.above,
                above_kind=self.above_kind,
            )
        return T_(
            "rows of grant {grant_id} are not in date order (line {line}, {on}, comes after line "
            "{above}, {above_on}) and the file breaks a rule in its own order: its rows are applied "
            "again by business date",
            grant_id=self.grant_id,
            line=self.line,
            on=self.on.isoformat(),
            above=self.above,
            above_on=self.above_on.isoformat(),
        )


def _day(row: Row) -> date | None:
    try:
        return business_date(row.get("date"))
    except (ValueError, TypeError, AttributeError):
        return None


def day_of(row: Row) -> int:
    """A row's business date as the scratch file keeps it (ordinal; 0 where it does not read)."""
    on = _day(row)
    return on.toordinal() if on is not None else _UNDATED


class _Acts:
    """A date's spends (or receipts) as listed: each one's line, and which a reversal of the date
    names so far (``first_disorder``)."""

    # one of these is kept for each grant of a file checked for its order (a million grants
    # each named once kept 2 GB): what a date has not listed is not made
    __slots__ = ("lines", "listed", "open", "undone")

    def __init__(self) -> None:
        self.lines: dict[str, int] = {}  # voucher (a receipt's: kind/voucher): its line
        self.undone: set[str] | None = None  # those a reversal of the date names
        self.listed: list[tuple[int, str, str]] = []  # (line, voucher, kind) in the file's order
        self.open = 0  # the first of ``listed`` perhaps named by no reversal

    def add(self, voucher: str, line: int, kind: str) -> None:
        self.lines[voucher] = line
        if self.undone:
            self.undone.discard(voucher)
        self.listed.append((line, voucher, kind))

    def undo(self, voucher: str) -> bool:
        """Whether the date lists the act: named by a reversal from now on."""
        if voucher not in self.lines:
            return False
        if self.undone is None:
            self.undone = set()
        self.undone.add(voucher)
        return True

    def first_open(self) -> tuple[int, str] | None:
        """The first act listed (line, kind) that no reversal of the date names: each act is
        passed over once, not once for every reversal after it."""
        undone = self.undone or ()
        while self.open < len(self.listed):
            line, voucher, kind = self.listed[self.open]
            if voucher not in undone and self.lines[voucher] == line:
                return line, kind
            self.open += 1
        return None


_NONE_LISTED = _Acts()  # a date's acts of a kind it lists none of (never added to: ``_Date.listing``)
_NONE: dict[str, int] = {}  # a date's reversals or receipts where it has none (never written to)


class _Date:
    """What a grant's rows of its latest date in the file said so far (``first_disorder``)."""

    __slots__ = ("first", "on", "pending", "receipts", "received", "spends", "top", "top_kind", "top_line")

    def __init__(self, on: date, line: int) -> None:
        self.on = on
        self.first = line  # the date's first row
        self.top, self.top_line, self.top_kind = -1, line, ""  # the highest rank listed
        self.spends = _NONE_LISTED
        self.receipts = _NONE_LISTED
        self.pending = _NONE  # reversals naming nothing listed before them: line
        self.received = _NONE  # the date's first receipt of each kind: its line

    def listing(self, spends: bool) -> _Acts:
        """The date's spends (or receipts), to list one more."""
        acts = self.spends if spends else self.receipts
        if acts is _NONE_LISTED:
            acts = _Acts()
            if spends:
                self.spends = acts
            else:
                self.receipts = acts
        return acts

    def pend(self, memo: str, line: int) -> None:
        if self.pending is _NONE:
            self.pending = {}
        self.pending.setdefault(memo, line)

    def receive(self, kind: str, line: int) -> None:
        if self.received is _NONE:
            self.received = {}
        self.received.setdefault(kind, line)

    def listed(self, rank: int, line: int, kind: str) -> tuple[int, str] | None:
        """The row above (line, kind) the date's order takes after this one, if any."""
        if rank < self.top:
            return self.top_line, self.top_kind
        self.top, self.top_line, self.top_kind = rank, line, kind
        return None

    def paired(self, acts: _Acts, rank: int) -> tuple[int, str] | None:
        """For the reversal of an act of the date (one of ``acts``, of ``rank``), which goes with it
        first of the date's acts of that rank: the row above (line, kind) the date's order takes
        after the two, if any (an act no reversal names so far, or a row of a later rank)."""
        found = acts.first_open()
        if found is None and self.top > rank:
            found = self.top_line, self.top_kind
        return found


def approved_grants(rows: Iterable[tuple[int, Row]]) -> set[str]:
    """The grants the file's approval rows name (as its rows' checks read them)."""
    approving = (row for _line, row in rows if cell_text(row.get("kind")).lower() == "approve")
    return {cell_text(row.get("grant_id")) for row in approving}


def first_disorder(
    rows: Iterable[tuple[int, Row]],
    held: Held | None = None,
    refused: Container[str] = (),
    unmade: Callable[[str], bool] | None = None,
) -> Disorder | None:
    """The first row of the file that ``by_business_date`` takes before a row of its grant above
    it: dated before it, or of its date and ranked before it (money in before money out; a
    receipt or spend reversed on its date, then its reversal, before the date's other receipts or
    spending; an act before a reversal naming it); or None. ``held``: the receipts the ledger
    holds, which a reversal of a grant ``refused`` (the file's grant texts, as ``cell_text``
    gives them) may name by its voucher alone, as the file's own (the ledger is read for those
    grants only: no other grant's order changes its money). ``unmade``: whether a grant is one
    neither the ledger nor the file makes (the ledger lacks it and no row approves it), whose
    every row is refused in any order, so its order is not looked at (nor held in memory: a file
    of another ledger names a million of them)."""
    dates: dict[str, _Date] = {}
    # each grant's receipt and commitment vouchers in the file (or, found by ``held``, the ledger)
    receipts: dict[str, set[str]] = {}
    for line, row in rows:
        on = _day(row)
        if on is None:
            continue
        grant_id = cell_text(row.get("grant_id"))
        if unmade is not None and grant_id not in dates and unmade(grant_id):
            continue
        kind = cell_text(row.get("kind")).lower()
        rank = _KIND_ORDER.get(kind, _OTHER_KIND)
        seen = dates.get(grant_id)
        if seen is not None and on < seen.on:
            return Disorder(grant_id, line, on, seen.first, seen.on)
        if seen is None or on > seen.on:
            seen = dates[grant_id] = _Date(on, line)
        above: tuple[int, str] | None = None
        if kind == "reverse":
            memo = cell_text(row.get("memo"))
            category = cell_text(row.get("category"))
            if not category and held is not None and grant_id in refused and held(grant_id, [memo]):
                receipts.setdefault(grant_id, set()).add(memo)
            # as ``_RANKED`` reads it: a receipt's reversal, named by its kind or found by its voucher
            named = category in RECEIPT_KINDS or (not category and memo in receipts.get(grant_id, ()))
            acts = (category,) if category else ("disburse", "match_receive")
            if named and any(seen.receipts.undo(f"{act}/{memo}") for act in acts):
                # a receipt of its date: first of them with its receipt, or (matching, a tranche
                # the date does not disburse again, or the grant's other order) after the spending
                above = seen.paired(seen.receipts, _RECEIPT) or seen.listed(_REVERSAL_OUT, line, kind)
            elif not named and seen.spends.undo(memo):
                above = seen.paired(seen.spends, _SPEND)  # a spend of its date: first of the spending
            else:
                if not named:
                    seen.pend(memo, line)
                above = seen.listed(_REVERSAL_OUT if named else _REVERSAL_IN, line, kind)
                if above is None and named:
                    # a receipt of an earlier date reversed below the date's receipt of its kind:
                    # a grant's third order takes it before that receipt
                    above = min(
                        ((seen.received[act], act) for act in acts if act in seen.received), default=None
                    )
        else:
            voucher = cell_text(row.get("voucher"))
            if voucher in seen.pending:  # its reversal is listed above it
                above = (seen.pending[voucher], "reverse")
            elif kind == "spend":
                seen.listing(spends=True).add(voucher, line, kind)
            elif rank in (_COMMITMENT, _RECEIPT):
                receipts.setdefault(grant_id, set()).add(voucher)
                if rank == _RECEIPT:
                    seen.listing(spends=False).add(f"{kind}/{voucher}", line, kind)
                    seen.receive(kind, line)
            if above is None and rank != _OTHER_KIND:  # a kind not imported is refused at its row
                above = seen.listed(rank, line, kind)
        if above is not None:
            return Disorder(grant_id, line, on, above[0], on, kind, above[1])
    return None


def _amount(text: str) -> str:
    """A receipt's amount as the redone tranche's is compared with it (``_REDONE_BY``), or ''."""
    try:
        return str(Decimal(text.strip()).quantize(_CENT))
    except (InvalidOperation, ValueError):
        return ""


def _key(line: int, row: Row) -> tuple[int, int, int, int, str, str, str, str, str, str, bytes]:
    # the row as its check reads it (``as_cells``), text only, with what it carries past its
    # cells: a row holding cells past the header's (``overflow``) or under a blank name
    # (``unnamed``) is refused at its line, not recorded cut to the header's width
    cells = row if row.__class__ is Cells else as_cells(row)
    kind = cells.get("kind", "").lower()
    order = _KIND_ORDER.get(kind, _OTHER_KIND)
    category = cells.get("category", "")
    act = kind if order in (_COMMITMENT, _RECEIPT) else ""
    if kind == "reverse" and category in RECEIPT_KINDS:
        order, act = _REVERSAL_OUT, category
    return (
        day_of(row),
        order,
        line,
        line,
        cells.get("grant_id", ""),
        cells.get("voucher", ""),
        cells.get("memo", ""),
        category,
        act,
        _amount(cells.get("amount", "")) if order == _RECEIPT else "",
        pickle.dumps(cells, protocol=5),
    )


@dataclass(frozen=True)
class Orders:
    """Each grant's order of its dates (``by_business_date``) from a date on: ``turns[grant]``, the
    dates (ordinal days) from which it changes, each with its order (one of ``_TURNS``), the
    grant's earlier dates in the first; ``tried[grant]``, the orders already tried on its last such
    date. An order's bits: ``_UNPAIRED``, a receipt reversed on its own date with its reversal
    after the date's spending, not with the receipt first of the date's receipts; ``_EARLY_BIT``, a
    receipt of an earlier date reversed before the receipts of a date receiving its kind again
    (right before the one of its amount), not after the date's spending; with it, ``_EARLY_FIRST``,
    first of the date's receipts whatever the amounts, and ``_MATCHED_ONLY``, only those whose
    amount the date receives again (the others after the spending)."""

    turns: Mapping[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    tried: Mapping[str, frozenset[int]] = field(default_factory=dict)

    def rows(self) -> Iterator[tuple[str, int, int]]:
        """(grant, day, order) for each date from which a grant's order changes."""
        for grant, pieces in self.turns.items():
            for day, turn in pieces:
                yield grant, day, turn


def fewest_refused(
    tried: Sequence[tuple[Orders, Mapping[str, int], Callable[[str], int]]],
) -> Orders:
    """The orders in which a file refused in every pass by date is best shown refused, from its
    passes: each pass's orders, the date (ordinal) each grant was first refused on in it and how
    many of its rows were (``ImportResult.bad_rows_of``). Every grant in the last pass's order, but
    each grant refused there in that of the pass that refused the fewest of its rows on the same
    date (the first of those): one grant's order changes no other grant's money, so a pass in these
    orders refuses each grant's rows as its best order tried did, not rows of a date a later order
    held, nor a grant's rows in an order another grant's refusal moved it on to."""
    last_orders, last, _counts = tried[-1]
    turns = dict(last_orders.turns)
    for grant, day in last.items():
        _fewest, n = min(
            (bad_rows_of(grant), n)
            for n, (_o, days, bad_rows_of) in enumerate(tried)
            if days.get(grant) == day
        )
        pieces = tried[n][0].turns.get(grant)
        if pieces:
            turns[grant] = pieces
        else:
            turns.pop(grant, None)
    return Orders(turns)


# a date's orders, tried in turn while a grant's rows of it are refused: by kind, then a receipt's
# reversal unpaired, a receipt of an earlier date reversed early (by the amount disbursed again),
# both, reversed early first of the date's receipts whatever the amounts (before a tranche
# disbursed under a wrong voucher and reversed that date, which would pass the approved amount),
# and early only where the date receives its amount again, the others after the date's spending
# (a tranche disbursed again beside another returned: the approved amount needs the first's
# reversal before its new tranche, the money left the other's after it)
_TURNS = (
    0,
    _UNPAIRED,
    _EARLY_BIT,
    _UNPAIRED | _EARLY_BIT,
    _EARLY_BIT | _EARLY_FIRST,
    _UNPAIRED | _EARLY_BIT | _EARLY_FIRST,
    _EARLY_BIT | _MATCHED_ONLY,
    _UNPAIRED | _EARLY_BIT | _MATCHED_ONLY,
)


# a reversal naming by its voucher alone no act of its grant in the file: the ledger's (``Held``)
_NOT_IN_FILE = (
    f"SELECT DISTINCT grant_id, memo FROM rows WHERE kind = {_REVERSAL_IN} AND category = '' "
    "AND NOT EXISTS (SELECT 1 FROM rows r WHERE r.grant_id = rows.grant_id AND r.voucher = rows.memo "
    f"AND r.kind IN ({_COMMITMENT}, {_RECEIPT}, {_SPEND}))"
)
# a grant's receipts and commitments in the ledger among some vouchers: voucher -> the act's kind
# (asked once for each reversal by voucher alone: import reads each grant once, commands/importer.py)
Held = Callable[[str, list[str]], dict[str, str]]


def _held_in_ledger(conn: sqlite3.Connection, held: Held) -> None:
    """A reversal naming by its voucher a receipt (or commitment) its grant holds from an earlier
    import takes money out, as one naming a receipt of the file: after the date's spending."""
    named: dict[str, list[str]] = {}
    for grant, memo in conn.execute(_NOT_IN_FILE).fetchall():
        named.setdefault(grant, []).append(memo)
    for grant, memos in named.items():
        found = held(grant, memos)
        conn.executemany(
            f"UPDATE rows SET kind = {_REVERSAL_OUT}, act = ? WHERE grant_id = ? AND memo = ? "
            f"AND kind = {_REVERSAL_IN} AND category = ''",
            ((act, grant, memo) for memo, act in found.items()),
        )


# a reversal naming by its voucher alone a voucher under which the file has more than one kind of
# act of its grant by the reversal's date: which it reverses is the one recorded before it, which
# no order by kind knows; after the date's every act, where it finds them all (and is refused,
# naming them) or the one recorded by then. (One the ledger holds is there whatever the file's
# order: where the file has an act of another kind under the voucher, the reversal meets both in
# any order but one listing it first, where in date order it would meet both too.)
_SHARED_IN_FILE = (
    # each kind of act under each voucher of a grant, and its first date
    "CREATE TABLE acts (grant_id TEXT, voucher TEXT, act TEXT, day INTEGER, "
    "PRIMARY KEY (grant_id, voucher, act))",
    f"INSERT INTO acts SELECT grant_id, voucher, act, min(day) FROM rows WHERE kind IN ({_COMMITMENT}, "
    f"{_RECEIPT}, {_SPEND}) GROUP BY grant_id, voucher, act",
    # two kinds by the reversal's date: an act of a later date is never there before it
    f"UPDATE rows SET kind = {_SHARED_REVERSAL} WHERE kind IN ({_REVERSAL_IN}, {_REVERSAL_OUT}) "
    "AND category = '' AND (SELECT count(*) FROM acts a WHERE a.grant_id = rows.grant_id "
    "AND a.voucher = rows.memo AND a.day <= rows.day) > 1",
)


def _ranked(conn: sqlite3.Connection, orders: Orders, held: Held | None = None) -> bool:
    """Each reversal and spend ranked among its date's rows by what the file's other rows say of
    it, in its grant's order of that date (``orders``); whether the file holds a reversal."""
    reversals = f"SELECT 1 FROM rows WHERE kind IN ({_REVERSAL_IN}, {_REVERSAL_OUT}) LIMIT 1"
    if conn.execute(reversals).fetchone() is None:
        return False
    if orders.turns:
        conn.execute(
            "CREATE TABLE turns (grant_id TEXT, day INTEGER, turn INTEGER, PRIMARY KEY (grant_id, day))"
        )
        conn.executemany("INSERT INTO turns VALUES (?, ?, ?)", orders.rows())
        conn.execute(_TURN_OF_DAY)
    # each lookup an equality on an index's columns: a file of many rows under one voucher (a
    # column left empty) looks up each in one step, and the last line of a voucher is the
    # index's last entry for it
    conn.execute("CREATE INDEX rows_voucher ON rows (grant_id, voucher, kind, day, act, line)")
    conn.execute("CREATE INDEX rows_memo ON rows (grant_id, memo, kind, day, act)")
    if held is not None:
        _held_in_ledger(conn, held)
    for step in _SHARED_IN_FILE:
        conn.execute(step)
    receipt_pairs = _RANKED[1:3]
    for ranking in _RANKED:
        conn.execute(f"{ranking} AND turn & {_UNPAIRED} = 0" if ranking in receipt_pairs else ranking)
    if any(turn & _EARLY_BIT for _, _, turn in orders.rows()):
        for ranking in (*_BY_DAY, *_EARLY):
            conn.execute(ranking)
    return True


# a date's rows an order's bit moves, in this order or the other
_PAIRS = f"(kind = {_RECEIPT_UNDONE} OR {_PAIRED_WHERE})"
_EARLIER = f"(kind IN ({_EARLY_RECEIPT_REVERSAL}, {_REDONE_REVERSAL}) OR {_EARLY_WHERE})"
_REDONE = f"(kind = {_REDONE_REVERSAL} OR ({_EARLIER} AND {_BY_AMOUNT}))"
_UNMATCHED = f"((kind = {_EARLY_RECEIPT_REVERSAL} OR {_EARLY_WHERE}) AND NOT ({_BY_AMOUNT}))"


class DateOrder:
    """A file's rows by business date (iterated: (line, row), each with its own line), each grant's
    dates in its order (``Orders``). A receipt reversed on its own date goes with its reversal first
    of the date's receipts, or its reversal after the date's spending: the first holds a tranche
    disbursed again that day under the approved amount; the second, a receipt reversed once the
    spending it paid for that day is reversed. A receipt of an earlier date reversed on a date
    receiving its kind again: its reversal right before the receipt of its amount (after the date's
    other receipts), or first of them, holds a tranche disbursed again with the approved amount all
    disbursed; after the spending, one whose money is spent.
    No one order holds every history: a grant refused in one is tried in the next
    (``next_orders``)."""

    def __init__(
        self, rows: Iterator[tuple[int, Cells]], conn: sqlite3.Connection, orders: Orders, reversals: bool
    ) -> None:
        self._rows = rows
        self._conn = conn
        self._reversals = reversals  # without any, every order is the first
        self.orders = orders

    def __iter__(self) -> Iterator[tuple[int, Cells]]:
        return self._rows

    def next_orders(self, refused: Mapping[str, int]) -> Orders | None:
        """The orders to try next, once rows of the grants ``refused`` were refused (grant: the
        first date, ordinal, of its bad rows; every bad row's, not only the listed ones':
        ``ImportResult.grants``): each grant in its next order that moves some row of that date,
        from that date on (its rows of earlier dates all held); None once a grant has none left,
        as no other grant's order changes its money, so the file cannot hold. A date's money at
        its end is the same in any order of its rows, so a grant's next date starts from what its
        earlier dates left whatever their order."""
        if not self._reversals:
            return None
        for index in _BY_DAY:  # each row's receipt of its date and amount found in a step
            self._conn.execute(index)
        turns, tried = dict(self.orders.turns), dict(self.orders.tried)
        for grant, day in sorted(refused.items()):
            pieces = turns.get(grant, ())
            if pieces and day < pieces[-1][0]:
                return None  # refused before the date last moved: not the order's doing
            now = pieces[-1][1] if pieces else 0
            again = bool(pieces) and day == pieces[-1][0]
            # the bits of an order that move some row of the grant's date: the others change nothing
            moving = (
                (_UNPAIRED if self._has(_PAIRS, grant, day) else 0)
                | (_EARLY_BIT if self._has(_EARLIER, grant, day) else 0)
                | (_EARLY_FIRST if self._has(_REDONE, grant, day) else 0)
            )
            if moving & _EARLY_FIRST and self._has(_UNMATCHED, grant, day):  # some early, some not
                moving |= _MATCHED_ONLY
            before = tried[grant] if again else frozenset({now})  # ``now`` among them
            done = {t & moving for t in before}
            turn = next((t for t in _TURNS if t & moving not in done), None)
            if turn is None:
                return None
            turns[grant] = (*(pieces[:-1] if again else pieces), (day, turn))
            tried[grant] = before | {turn}
        return Orders(turns, tried) if refused else None

    def _has(self, where: str, grant: str, day: int) -> bool:
        found = self._conn.execute(
            f"SELECT 1 FROM rows WHERE grant_id = ? AND day = ? AND {where} LIMIT 1", (grant, day)
        )
        return found.fetchone() is not None


@contextmanager
def by_business_date(
    rows: Iterable[tuple[int, Row]], orders: Orders = Orders(), held: Held | None = None
) -> Iterator[DateOrder]:
    """The rows (line, row) by business date (see the module's notes and ``DateOrder``), each with
    its own line; ``held`` finds the receipts a reversal names by its voucher alone that the ledger
    holds, not the file. The scratch file they are sorted in goes when the block ends."""
    with tempfile.TemporaryDirectory(prefix="grant-ledger-import-") as scratch:
        with closing(sqlite3.connect(Path(scratch) / "rows.db")) as conn:
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute(f"PRAGMA cache_size = -{_SCRATCH_CACHE_KIB}")
            conn.execute("PRAGMA temp_store = FILE")
            conn.execute(
                "CREATE TABLE rows (day INTEGER, kind INTEGER, line INTEGER, anchor INTEGER, grant_id TEXT, "
                "voucher TEXT, memo TEXT, category TEXT, act TEXT, amount TEXT, row BLOB, "
                "turn INTEGER DEFAULT 0)"
            )
            keyed = (_key(line, row) for line, row in rows)
            while batch := list(islice(keyed, _BATCH)):
                conn.executemany(_INSERT, batch)
            reversals = _ranked(conn, orders, held)
            conn.commit()
            ordered = conn.execute(_SORTED)
            yield DateOrder(((line, pickle.loads(row)) for line, row in ordered), conn, orders, reversals)
