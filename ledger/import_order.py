"""An import file's rows by business date, for a file whose rows of one grant are not in date order.

Finance systems export vouchers by date, but not all oldest first: some list the newest first, or
by voucher number. Applied in the file's order, such a grant's spend comes before the tranche
that pays for it, and is refused though on its own date the money was there. So when a file
breaks a rule as it stands and some grant's rows in it are out of date order
(``first_disorder``), `import` applies its rows again by business date (``by_business_date``);
a file that imports as it stands is recorded as it stands.

By date, a date's rows go as its money stands at the day's end, which is where the ring-fence
and the budget lines are judged: first what brings money in (approvals, receipts of tranches and
matching, reversals of spending recorded before that date), then what takes it out (spending,
reversals of receipts, recovery orders, recoveries, disposals), each kind in the file's order. A
spend reversed on its own date goes first of the date's spending, its reversal right after it:
the pair takes nothing at the day's end, so nothing else waits on it. The rows wait in a scratch
SQLite file, sorted there, so memory does not grow with the file.
"""

from __future__ import annotations

import pickle
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date
from itertools import islice
from pathlib import Path

from ledger.actions import business_date
from ledger.i18n import T_, Text
from ledger.import_format import RECEIPT_KINDS, Cells, Row, as_cells

# the order of a date's rows: money in before money out, an act before its reversal
_APPROVAL, _RECEIPT, _REVERSAL_IN, _SPEND_UNDONE, _ITS_REVERSAL, _SPEND, _REVERSAL_OUT = range(7)
_KIND_ORDER = {
    "approve": _APPROVAL,
    "disburse": _RECEIPT,
    "match_commit": _RECEIPT,
    "match_receive": _RECEIPT,
    "spend": _SPEND,
    "reverse": _REVERSAL_IN,
    "recover_order": 7,
    "recover_receive": 8,
    "dispose": 9,
}
_OTHER_KIND = 10
# the date's order of the rows of each kind once the file's other rows are known (``_ranked``):
# a reversal naming a receipt of its grant in the file takes money out; a spend reversed on its
# own date goes before the date's other spending, then its reversal
_RANKED = (
    f"UPDATE rows SET kind = {_REVERSAL_OUT} WHERE kind = {_REVERSAL_IN} AND category = '' AND EXISTS "
    f"(SELECT 1 FROM rows r WHERE r.kind = {_RECEIPT} AND r.grant_id = rows.grant_id "
    "AND r.voucher = rows.memo)",
    f"UPDATE rows SET kind = {_SPEND_UNDONE} WHERE kind = {_SPEND} AND EXISTS (SELECT 1 FROM rows r "
    f"WHERE r.kind = {_REVERSAL_IN} AND r.day = rows.day AND r.grant_id = rows.grant_id "
    "AND r.memo = rows.voucher)",
    f"UPDATE rows SET kind = {_ITS_REVERSAL} WHERE kind = {_REVERSAL_IN} AND EXISTS (SELECT 1 FROM rows s "
    f"WHERE s.kind = {_SPEND_UNDONE} AND s.day = rows.day AND s.grant_id = rows.grant_id "
    "AND s.voucher = rows.memo)",
)
_UNDATED = 0  # a row whose date does not read sorts first; its own check refuses it
_SCRATCH_CACHE_KIB = 16 * 1024
_BATCH = 10_000


@dataclass(frozen=True)
class Disorder:
    """A grant's row dated before a row of that grant above it in the file."""

    grant_id: str
    line: int
    on: date
    above: int
    above_on: date

    def sentence(self) -> Text:
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


def first_disorder(rows: Iterable[tuple[int, Row]]) -> Disorder | None:
    """The first row of the file dated before a row of its grant above it, or None."""
    latest: dict[str, tuple[date, int]] = {}
    for line, row in rows:
        on = _day(row)
        if on is None:
            continue
        grant_id = str(row.get("grant_id") or "").strip()
        seen = latest.get(grant_id)
        if seen is not None and on < seen[0]:
            return Disorder(grant_id, line, on, seen[1], seen[0])
        if seen is None or on > seen[0]:
            latest[grant_id] = (on, line)
    return None


def _key(line: int, row: Row) -> tuple[int, int, int, str, str, str, str, bytes]:
    on = _day(row)
    # the row as its check reads it (``as_cells``), text only, with what it carries past its
    # cells: a row holding cells past the header's (``overflow``) or under a blank name
    # (``unnamed``) is refused at its line, not recorded cut to the header's width
    cells = row if row.__class__ is Cells else as_cells(row)
    kind = cells.get("kind", "").lower()
    order = _KIND_ORDER.get(kind, _OTHER_KIND)
    category = cells.get("category", "")
    if kind == "reverse" and category in RECEIPT_KINDS:
        order = _REVERSAL_OUT
    return (
        on.toordinal() if on is not None else _UNDATED,
        order,
        line,
        cells.get("grant_id", ""),
        cells.get("voucher", ""),
        cells.get("memo", ""),
        category,
        pickle.dumps(cells, protocol=5),
    )


def _ranked(conn: sqlite3.Connection) -> None:
    """Each reversal and spend ranked among its date's rows by what the file's other rows say of it."""
    if conn.execute(f"SELECT 1 FROM rows WHERE kind = {_REVERSAL_IN} LIMIT 1").fetchone() is None:
        return
    conn.execute("CREATE INDEX rows_voucher ON rows (grant_id, voucher, kind, day)")
    conn.execute("CREATE INDEX rows_memo ON rows (grant_id, memo, kind, day)")
    for ranking in _RANKED:
        conn.execute(ranking)


@contextmanager
def by_business_date(rows: Iterable[tuple[int, Row]]) -> Iterator[Iterator[tuple[int, Cells]]]:
    """The rows (line, row) by business date (see the module's notes), each with its own line;
    the scratch file they are sorted in goes when the block ends."""
    with tempfile.TemporaryDirectory(prefix="grant-ledger-import-") as scratch:
        with closing(sqlite3.connect(Path(scratch) / "rows.db")) as conn:
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute(f"PRAGMA cache_size = -{_SCRATCH_CACHE_KIB}")
            conn.execute("PRAGMA temp_store = FILE")
            conn.execute(
                "CREATE TABLE rows (day INTEGER, kind INTEGER, line INTEGER, grant_id TEXT, voucher TEXT, "
                "memo TEXT, category TEXT, row BLOB)"
            )
            keyed = (_key(line, row) for line, row in rows)
            while batch := list(islice(keyed, _BATCH)):
                conn.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
            _ranked(conn)
            conn.commit()
            ordered = conn.execute("SELECT line, row FROM rows ORDER BY day, kind, line")
            yield ((line, pickle.loads(row)) for line, row in ordered)
