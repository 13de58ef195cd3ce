"""What each stored event does to each measure of a grant, per fund source: the one reading of
events behind the balances, the reports, ``history``, the journals and the audit bundle.

Measures: ``approved`` (subsidy), ``committed`` (matching), ``received``, ``spent``,
``reversed``, ``recovered`` (subsidy, returned on order), ``disposed``, and the reversals of a
receipt (``unreceived``) or of a commitment (``uncommitted``), each per fund source
(``subsidy`` 财政补助, ``matching`` 配套经费). The money a source holds is one formula over them,
``available``, the same as ``Grant.available`` on the write side.

The read models keep a grant's totals in columns (``projections.figures.MEASURES``) where
spending is net of reversals: ``COLUMNS`` says which column each measure of each source adds
to, and with which sign. The auditor's verifier (``audit/replay.py``) reads the same events with
its own code on purpose; ``tests/test_read_paths_agree.py`` holds the two equal.

Imports only the standard library and ``ledger.money``: the quick balance path reads it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from ledger.money import to_fen

SUBSIDY, MATCHING = "subsidy", "matching"
SOURCES = (SUBSIDY, MATCHING)
GRANT = "grant-ledger:Grant."

# (measure, source) -> (the read models' column it adds to, sign)
COLUMNS: dict[tuple[str, str], tuple[str, int]] = {
    ("approved", SUBSIDY): ("approved", 1),
    ("committed", MATCHING): ("matching_committed", 1),
    ("received", SUBSIDY): ("subsidy_received", 1),
    ("received", MATCHING): ("matching_received", 1),
    ("spent", SUBSIDY): ("subsidy_spent", 1),
    ("spent", MATCHING): ("matching_spent", 1),
    ("reversed", SUBSIDY): ("subsidy_spent", -1),
    ("reversed", MATCHING): ("matching_spent", -1),
    ("recovered", SUBSIDY): ("subsidy_recovered", 1),
    ("disposed", SUBSIDY): ("subsidy_disposed", 1),
    ("disposed", MATCHING): ("matching_disposed", 1),
    # a disbursement's, a matching receipt's or commitment's reversal takes back what it added
    ("unreceived", SUBSIDY): ("subsidy_received", -1),
    ("unreceived", MATCHING): ("matching_received", -1),
    ("uncommitted", MATCHING): ("matching_committed", -1),
}

# a spend's movement kind: its history line, which has no act (projections.acts)
SPEND = "spend"
# the movements' kinds of spending and its reversal (the spending lists and category reports)
SPENDING_KINDS = (SPEND, "reverse")

N = TypeVar("N", int, Decimal)


def available(received: N, spent: N, reversed_: N, recovered: N, disposed: N) -> N:
    """What a fund source holds: received − spent + reversed − recovered − disposed."""
    return received - spent + reversed_ - recovered - disposed


def column(measure: str, source: str) -> str | None:
    """The read models' column a measure of a source is kept in, or None if it has none."""
    found = COLUMNS.get((measure, source))
    return None if found is None else found[0]


# how each measure moves what its source holds (the sign it takes in ``available``)
HELD_SIGN = {"received": 1, "spent": -1, "reversed": 1, "recovered": -1, "disposed": -1, "unreceived": -1}


def available_in(columns: Mapping[str, N], source: str, zero: N) -> N:
    """``available`` over a grant's column totals (whose spending is net of reversals)."""

    def total(measure: str) -> N:
        name = column(measure, source)
        return zero if name is None else columns.get(name, zero)

    return available(total("received"), total("spent"), zero, total("recovered"), total("disposed"))


class Effect(NamedTuple):
    """One stored money event, read: ``fen`` (positive) added to ``measure`` of ``source``."""

    kind: str  # as history and the movements name it: approve, disburse, …, dispose_returned
    measure: str
    source: str
    fen: int
    category: str
    content: str
    voucher: str
    column: str  # the read models' column it changes
    signed: int  # what it adds to that column, in fen

    @property
    def amount(self) -> Decimal:
        """``fen`` as yuan, two places."""
        return Decimal(self.fen).scaleb(-2)


_PLAIN_FEN = re.compile(r"([0-9]{1,15})\.([0-9]{2})")


def fen(value: Mapping[str, str]) -> int:
    """A transcoded Decimal (``{"_type_": "decimal_str", "_data_": "120000.00"}``) in integer
    fen, exactly as ``to_fen(Decimal(...))``."""
    text = value["_data_"]
    plain = _PLAIN_FEN.fullmatch(text)
    if plain is not None:  # "1234.56", as every amount the ledger checks is written
        return int(plain[1]) * 100 + int(plain[2])
    return to_fen(Decimal(text))


# stored topic -> the measure it moves and the fund source (None: the event's own ``source``);
# events of other topics change no measure
MOVES: dict[str, tuple[str, str | None]] = {
    GRANT + "Approved": ("approved", SUBSIDY),
    GRANT + "SubsidyDisbursed": ("received", SUBSIDY),
    GRANT + "MatchingCommitted": ("committed", MATCHING),
    GRANT + "MatchingReceived": ("received", MATCHING),
    GRANT + "ExpenditureRecorded": ("spent", None),
    GRANT + "ExpenditureReversed": ("reversed", None),
    GRANT + "FundsRecovered": ("recovered", SUBSIDY),
    GRANT + "BalanceDisposed": ("disposed", None),
    GRANT + "DisbursementReversed": ("unreceived", SUBSIDY),
    GRANT + "MatchingCommitmentReversed": ("uncommitted", MATCHING),
    GRANT + "MatchingReceiptReversed": ("unreceived", MATCHING),
}


def moved(topic: str, d: Mapping[str, Any]) -> tuple[str, str, int] | None:
    """(measure, source, fen) the stored event moves, or None: the bare reading, for the
    projections that need no labels (the compliance judge)."""
    found = MOVES.get(topic)
    if found is None:
        return None
    measure, source = found
    return measure, source or d["source"], fen(d["amount"])


def _effect(
    kind: str,
    topic: str,
    d: Mapping[str, Any],
    voucher: str,
    category: str = "",
    content: str = "",
) -> Effect:
    measure, source = MOVES[topic]
    source = source or d["source"]
    found = COLUMNS.get((measure, source))
    if found is None:
        raise ValueError(f"no balance measure {measure!r} for the fund source {source!r}")
    amount = fen(d["amount"])
    return Effect(kind, measure, source, amount, category, content, voucher, found[0], found[1] * amount)


def _approved(d: Mapping[str, Any]) -> Effect:
    return _effect("approve", GRANT + "Approved", d, d["document"])


def _disbursed(d: Mapping[str, Any]) -> Effect:
    return _effect("disburse", GRANT + "SubsidyDisbursed", d, d["voucher"])


def _matching_committed(d: Mapping[str, Any]) -> Effect:
    return _effect("match_commit", GRANT + "MatchingCommitted", d, d["voucher"])


def _matching_received(d: Mapping[str, Any]) -> Effect:
    return _effect("match_receive", GRANT + "MatchingReceived", d, d["voucher"])


def _spent(d: Mapping[str, Any]) -> Effect:
    return _effect(SPEND, GRANT + "ExpenditureRecorded", d, d["voucher"], d["category"], d["content"])


def _reversed(d: Mapping[str, Any]) -> Effect:
    return _effect("reverse", GRANT + "ExpenditureReversed", d, d["voucher"], d["category"], d["content"])


def _recovered(d: Mapping[str, Any]) -> Effect:
    return _effect("recover", GRANT + "FundsRecovered", d, d["voucher"])


def _disposed(d: Mapping[str, Any]) -> Effect:
    return _effect(f"dispose_{d['how']}", GRANT + "BalanceDisposed", d, d["approval"])


def _receipt_reversed(kind: str, topic: str) -> Callable[[Mapping[str, Any]], Effect]:
    return lambda d: _effect(f"reverse_{kind}", GRANT + topic, d, d["voucher"])


# the kinds (in the movements and the history alike) of every reversal READINGS reads
REVERSAL_KINDS = ("reverse", "reverse_disburse", "reverse_match_commit", "reverse_match_receive")


# stored topic -> its reading (labels included: the movements, history, the journals)
READINGS: dict[str, Callable[[Mapping[str, Any]], Effect]] = {
    GRANT + "Approved": _approved,
    GRANT + "SubsidyDisbursed": _disbursed,
    GRANT + "MatchingCommitted": _matching_committed,
    GRANT + "MatchingReceived": _matching_received,
    GRANT + "ExpenditureRecorded": _spent,
    GRANT + "ExpenditureReversed": _reversed,
    GRANT + "FundsRecovered": _recovered,
    GRANT + "BalanceDisposed": _disposed,
    GRANT + "DisbursementReversed": _receipt_reversed("disburse", "DisbursementReversed"),
    GRANT + "MatchingCommitmentReversed": _receipt_reversed("match_commit", "MatchingCommitmentReversed"),
    GRANT + "MatchingReceiptReversed": _receipt_reversed("match_receive", "MatchingReceiptReversed"),
}
assert READINGS.keys() == MOVES.keys()


def effect(topic: str, data: Mapping[str, Any]) -> Effect | None:
    """What the stored event (its topic and parsed state) does to the measures, if anything."""
    read = READINGS.get(topic)
    return None if read is None else read(data)
