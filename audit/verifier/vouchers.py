"""Each reversal against the act it reverses, as the ledger's write side ties them
(``ledger/grant.py``, ``Grant.reverse``): a reversal undoes one earlier act of its grant recorded
under its voucher, with that act's amount (and, for an expenditure, its fund source, category and
content), and at most once; a voucher number is used once per grant and kind of act.

Without this a reversal of 500,000.00 against a spend of 86,000.00 put money back into a fund
source that was never in it, and a later spend passed the ring-fence on it. The acts are kept in
a temporary SQLite database (on disk past its cache: a bundle's every spend would be a dict of
some 130 MB at a million events) and compared once, at the end of the replay."""

from __future__ import annotations

import sqlite3
from datetime import date

from audit.verifier.i18n import N_, _

_BATCH = 10000
# the kinds of act a reversal undoes, as the ledger names them (ledger.grant.REVERSIBLE)
KINDS = {
    "spend": N_("expenditure"),
    "disburse": N_("disbursement"),
    "match_commit": N_("matching commitment"),
    "match_receive": N_("matching receipt"),
}

Problem = tuple[int, str]  # the leaf of the event at fault, and why


# the act's key, leaf, 1 if a reversal, amount and detail, and the act's date (a day number): its
# own, or for a reversal the date it says the act it reverses bears (0: it says none); last, a
# reversal's own date (0 for an act)
Row = tuple[bytes, int, int, bytes, int, int]
SEP = "\x1f"


def row(
    grant: str,
    kind: str,
    voucher: str,
    leaf: int,
    undo: int,
    amount: str,
    detail: str,
    day: int = 0,
    own: int = 0,
) -> Row:
    """An act as it is kept: ``amount`` to the fen as text (1200.00), ``detail`` what else a
    reversal must repeat; bytes, since a forged record's text may hold a lone surrogate, which
    SQLite takes in no string."""
    return (
        f"{grant}{SEP}{kind}{SEP}{voucher}".encode("utf-8", "surrogatepass"),
        leaf,
        undo,
        f"{amount}{SEP}{detail}".encode("utf-8", "surrogatepass"),
        day,
        own,
    )


class Vouchers:
    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None
        self._rows: list[Row] = []

    def act(
        self, grant: str, kind: str, voucher: str, leaf: int, amount: str, detail: str = "", day: int = 0
    ) -> None:
        """An act recorded under ``voucher``: ``amount`` to the fen as text (1200.00), ``detail``
        what else a reversal must repeat, ``day`` its date."""
        self.extend([row(grant, kind, voucher, leaf, 0, amount, detail, day)])

    def reversal(
        self, grant: str, kind: str, voucher: str, leaf: int, amount: str, detail: str, day: int, own: int
    ) -> None:
        """``day``: the date the reversal says its act bears (0: none); ``own``: its own."""
        self.extend([row(grant, kind, voucher, leaf, 1, amount, detail, day, own)])

    def extend(self, rows: list[Row]) -> None:
        """Acts and reversals as ``row`` makes them (a caller with many builds them itself)."""
        self._rows.extend(rows)
        if len(self._rows) >= _BATCH:
            self._write()

    def _write(self) -> None:
        if not self._rows:
            return
        if self._db is None:
            self._db = sqlite3.connect("")  # a private temporary database, deleted when closed
            columns = "key BLOB, leaf INTEGER, undo INTEGER, what BLOB, day INTEGER, own INTEGER"
            table = f"CREATE TABLE acts ({columns})"
            self._db.execute(table)
        self._db.executemany("INSERT INTO acts VALUES (?, ?, ?, ?, ?, ?)", self._rows)
        self._rows = []

    def problems(self) -> list[Problem]:
        """Every reversal that undoes no earlier act of its voucher, or not as it was, and every
        voucher used twice for one grant and kind, in leaf order; the database is closed."""
        self._write()
        db, self._db = self._db, None
        if db is None:
            return []
        try:
            return sorted(_problems(db))
        finally:
            db.close()


def _parts(key: bytes) -> dict[str, str]:
    grant, kind, voucher = key.decode("utf-8", "backslashreplace").split(SEP, 2)
    return {"grant": grant, "kind": _(KINDS.get(kind, kind)), "voucher": voucher}


def _problems(db: sqlite3.Connection) -> list[Problem]:
    found: list[Problem] = []
    again = "SELECT key, undo, MIN(leaf), MAX(leaf) FROM acts GROUP BY key, undo HAVING COUNT(*) > 1"
    for key, undo, first, last in db.execute(again):
        message = (
            _(
                "the {kind} {voucher} of grant {grant} is reversed again (first at leaf {first}); an act is "
                "reversed once (ledger/grant.py reverse)"
            )
            if undo
            else _(
                "{kind} voucher {voucher} of grant {grant} is recorded again (first at leaf {first}); a "
                "voucher number is used once per grant and kind (ledger/grant.py)"
            )
        )
        found.append((last, message.format(**_parts(key), first=first)))
    # each reversal with the acts of its voucher (one scan: the reversals are few)
    tied = db.execute(
        "SELECT key, leaf, undo, what, day, own FROM acts WHERE key IN (SELECT key FROM acts WHERE undo = 1) "
        "ORDER BY key, leaf"
    )
    acts: list[tuple[int, bytes, int]] = []  # the acts of the key read so far, in leaf order
    current = None
    for key, leaf, undo, what, day, own in tied:
        if key != current:
            current, acts = key, []
        if not undo:
            acts.append((leaf, what, day))
            continue
        why = _unmatched(key, what, day, own, acts)
        if why is not None:
            found.append((leaf, why))
    return found


def _shown(detail: str) -> str:
    return detail.replace(SEP, "/")


def _unmatched(key: bytes, what: bytes, day: int, own: int, acts: list[tuple[int, bytes, int]]) -> str | None:
    """Why a reversal (``what``: its amount and detail; ``day``: the date it says its act bears,
    0 for none; ``own``: its date) undoes none of ``acts``, the earlier acts of its voucher, or
    undoes one dated after it; None if it undoes one as it was, on or after its date."""
    named = _parts(key)
    undone = [(leaf, on) for leaf, was, on in acts if was == what and (not day or not on or on == day)]
    if undone:
        original, on = undone[-1]
        if day or not on or not own or own >= on:
            return None  # a date it names is judged against its own where the replay meets it
        return _(
            "a reversal of the {kind} {voucher} of grant {grant} (leaf {original}) is dated {own}, before "
            "the act it reverses, dated {day}; a reversal is dated on or after its act (ledger/rules.py "
            "reversed_after_spending)"
        ).format(**named, original=original, own=_date(own), day=_date(on))
    if not acts:
        return _(
            "a reversal of the {kind} {voucher} of grant {grant}, which has no such {kind} before it "
            "(ledger/grant.py reverse)"
        ).format(**named)
    same = [(leaf, on) for leaf, was, on in acts if was == what]
    if same:  # as it was but for its date: the ledger judges a reversal's date against its act's
        original, on = same[-1]
        return _(
            "a reversal of the {kind} {voucher} of grant {grant} (leaf {original}) says it was dated "
            "{said}, but it was dated {day}; a reversal names the act it reverses as it was recorded "
            "(ledger/grant.py reverse)"
        ).format(**named, original=original, said=_date(day), day=_date(on))
    original, was, _on = acts[-1]
    amount, detail = what.decode("utf-8", "backslashreplace").split(SEP, 1)
    was_amount, was_detail = was.decode("utf-8", "backslashreplace").split(SEP, 1)
    return _(
        "a reversal of the {kind} {voucher} of grant {grant} (leaf {original}) does not repeat it: "
        "{amount} against {was}{detail}; a reversal undoes the act as it was recorded "
        "(ledger/grant.py reverse)"
    ).format(
        **named,
        original=original,
        amount=amount,
        was=was_amount,
        detail="" if detail == was_detail else f" ({_shown(detail)} against {_shown(was_detail)})",
    )


def _date(day: int) -> str:
    return date.fromordinal(day).isoformat() if 0 < day <= date.max.toordinal() else str(day)
