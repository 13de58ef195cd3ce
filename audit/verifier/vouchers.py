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
from decimal import Decimal

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


class Vouchers:
    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None
        self._rows: list[tuple[bytes, str, bytes, int, int, str, bytes]] = []

    def act(self, grant: str, kind: str, voucher: str, leaf: int, amount: Decimal, detail: str = "") -> None:
        """An act recorded under ``voucher`` (``detail``: what else a reversal must repeat)."""
        self._add((grant, kind, voucher, leaf, 0, str(amount), detail))

    def reversal(
        self, grant: str, kind: str, voucher: str, leaf: int, amount: Decimal, detail: str = ""
    ) -> None:
        self._add((grant, kind, voucher, leaf, 1, str(amount), detail))

    def _add(self, row: tuple[str, str, str, int, int, str, str]) -> None:
        grant, kind, voucher, leaf, undo, amount, detail = row
        # bytes: a forged record's text may hold a lone surrogate, which SQLite takes in no string
        self._rows.append((_bytes(grant), kind, _bytes(voucher), leaf, undo, amount, _bytes(detail)))
        if len(self._rows) >= _BATCH:
            self._write()

    def _write(self) -> None:
        if not self._rows:
            return
        if self._db is None:
            self._db = sqlite3.connect("")  # a private temporary database, deleted when closed
            self._db.execute(
                "CREATE TABLE acts (grant_id TEXT, kind TEXT, voucher TEXT, leaf INTEGER, undo INTEGER, "
                "amount TEXT, detail TEXT)"
            )
        self._db.executemany("INSERT INTO acts VALUES (?, ?, ?, ?, ?, ?, ?)", self._rows)
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


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _text(value: bytes) -> str:
    return value.decode("utf-8", "backslashreplace")


def _problems(db: sqlite3.Connection) -> list[Problem]:
    db.execute("CREATE INDEX acts_voucher ON acts (grant_id, kind, voucher, undo, leaf)")
    found: list[Problem] = []
    again = (
        "SELECT grant_id, kind, voucher, MIN(leaf), MAX(leaf) FROM acts WHERE undo = ? "
        "GROUP BY grant_id, kind, voucher HAVING COUNT(*) > 1"
    )
    for grant, kind, voucher, first, last in db.execute(again, (0,)):
        grant, voucher = _text(grant), _text(voucher)
        found.append(
            (
                last,
                _(
                    "{kind} voucher {voucher} of grant {grant} is recorded again (first at leaf {first}); "
                    "a voucher number is used once per grant and kind (ledger/grant.py)"
                ).format(voucher=voucher, grant=grant, kind=_(KINDS.get(kind, kind)), first=first),
            )
        )
    for grant, kind, voucher, first, last in db.execute(again, (1,)):
        grant, voucher = _text(grant), _text(voucher)
        found.append(
            (
                last,
                _(
                    "the {kind} {voucher} of grant {grant} is reversed again (first at leaf {first}); an "
                    "act is reversed once (ledger/grant.py reverse)"
                ).format(voucher=voucher, grant=grant, kind=_(KINDS.get(kind, kind)), first=first),
            )
        )
    undone = db.execute(
        "SELECT u.leaf, u.grant_id, u.kind, u.voucher, u.amount, u.detail, a.leaf, a.amount, a.detail "
        "FROM acts u LEFT JOIN acts a ON a.grant_id = u.grant_id AND a.kind = u.kind "
        "AND a.voucher = u.voucher AND a.undo = 0 AND a.leaf < u.leaf WHERE u.undo = 1 ORDER BY u.leaf"
    )
    matched: dict[int, str | None] = {}  # a reversal's leaf -> why it matches no act (None: it does)
    for leaf, grant, kind, voucher, amount, detail, original, was, was_detail in undone:
        if matched.get(leaf, "") is None:
            continue
        named = {"kind": _(KINDS.get(kind, kind)), "voucher": _text(voucher), "grant": _text(grant)}
        if original is None:
            why = _(
                "a reversal of the {kind} {voucher} of grant {grant}, which has no such {kind} before it "
                "(ledger/grant.py reverse)"
            ).format(**named)
        elif Decimal(amount) != Decimal(was) or detail != was_detail:
            why = _(
                "a reversal of the {kind} {voucher} of grant {grant} (leaf {original}) does not repeat it: "
                "{amount} against {was}{detail}; a reversal undoes the act as it was recorded "
                "(ledger/grant.py reverse)"
            ).format(
                **named,
                original=original,
                amount=amount,
                was=was,
                detail="" if detail == was_detail else f" ({_text(detail)} against {_text(was_detail)})",
            )
        else:
            why = None
        matched[leaf] = why
    found.extend((leaf, why) for leaf, why in matched.items() if why is not None)
    return found
