"""An import file's rows by business date, for a file whose rows of one grant are not in date order.

Finance systems export vouchers by date, but not all oldest first: some list the newest first, or
by voucher number. Applied in the file's order, such a grant's spend comes before the tranche
that pays for it, and is refused though on its own date the money was there. So when a file
breaks a rule as it stands and some grant's rows in it are out of date order
(``first_disorder``), `import` applies its rows again by business date (``by_business_date``);
a file that imports as it stands is recorded as it stands.

By date, rows of one date go in the order money moves: approvals, then receipts (tranches and
matching), then spending, then reversals, recovery orders, recoveries and disposals, each kind
in the file's order. The rows wait in a scratch SQLite file, sorted there, so memory does not
grow with the file.
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
from ledger.import_format import Cells, Row, as_cells

# the order of a date's rows by kind: money in before money out, an act before its reversal
_KIND_ORDER = {
    "approve": 0,
    "disburse": 1,
    "match_commit": 1,
    "match_receive": 1,
    "spend": 2,
    "reverse": 3,
    "recover_order": 4,
    "recover_receive": 5,
    "dispose": 6,
}
_OTHER_KIND = len(_KIND_ORDER)
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


def _key(line: int, row: Row) -> tuple[int, int, int, bytes]:
    on = _day(row)
    kind = str(row.get("kind") or "").strip().lower()
    order = _KIND_ORDER.get(kind, _OTHER_KIND)
    # the row as its check reads it (``as_cells``), text only, with what it carries past its
    # cells: a row holding cells past the header's (``overflow``) or under a blank name
    # (``unnamed``) is refused at its line, not recorded cut to the header's width
    cells = row if row.__class__ is Cells else as_cells(row)
    return (on.toordinal() if on is not None else _UNDATED, order, line, pickle.dumps(cells, protocol=5))


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
            conn.execute("CREATE TABLE rows (day INTEGER, kind INTEGER, line INTEGER, row BLOB)")
            keyed = (_key(line, row) for line, row in rows)
            while batch := list(islice(keyed, _BATCH)):
                conn.executemany("INSERT INTO rows VALUES (?, ?, ?, ?)", batch)
            conn.commit()
            ordered = conn.execute("SELECT line, row FROM rows ORDER BY day, kind, line")
            yield ((line, pickle.loads(row)) for line, row in ordered)
