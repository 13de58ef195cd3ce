"""Bulk import: rows in the DESIGN.md import format, validated as a whole, then recorded in batches.

``check`` simulates the whole file on in-memory aggregates (the real domain rules, balances
carried from row to row) and returns every bad row; ``record`` applies the rows again and saves
many aggregates' events per transaction. Both are idempotent: a row already in the ledger with the
same content records nothing.

The file format (one row per action)::

    date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo

- ``approve`` brings a grant approved elsewhere: unit, base, programme required; ``voucher`` is the
  approval document number; ``amount`` the approved amount; ``memo`` may hold the build period as
  ``YYYY-MM-DD..YYYY-MM-DD`` (or only its end), needed when the programme sets none; ``content``
  may hold the base's name and ``payee`` the unit's name (used when the unit is new).
- ``disburse``: ``memo`` may hold the tranche number (default 1).
- ``match_commit``: ``payee`` is the funder.
- ``reverse``: ``memo`` holds the reversed voucher; ``voucher`` the reversal's own reference (its
  reason); ``amount``, when given, must equal the original expenditure's.

This module imports neither ``projections`` nor ``commands``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ledger.application import GrantLedger
from ledger.errors import BadInputError, ConflictError, LedgerError, NotFoundError
from ledger.grant import Grant, grant_uuid
from ledger.money import parse_amount
from ledger.policy import Policy, policy_in_force
from ledger.rules import SOURCES, raise_first, role_may_record
from ledger.unit import Unit, unit_uuid

HEADER = (
    "date",
    "unit_id",
    "base_id",
    "grant_id",
    "programme",
    "kind",
    "amount",
    "source",
    "category",
    "content",
    "voucher",
    "payee",
    "memo",
)
KINDS = ("approve", "disburse", "match_commit", "match_receive", "spend", "reverse")
BATCH_ROWS = 5000
KEEP_EVENTS = 250_000
_PERIOD = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})?\s*(?:\.\.|~|/)?\s*(\d{4}-\d{2}-\d{2})\s*$")
_APPROVE_TAKES_IMPORTED = "imported" in inspect.signature(Grant.approve).parameters

Row = Mapping[str, Any]


@dataclass(frozen=True)
class RowError:
    line: int
    message: str
    exit_code: int


@dataclass
class ImportResult:
    rows: int = 0
    events: int = 0
    errors: list[RowError] = field(default_factory=list)
    # The checked file's events, kept (up to a limit) so that a good file is written without a
    # second pass over it; None when the file was too large to keep them.
    staged: list[Any] | None = field(default=None, repr=False)
    touched: dict[Any, tuple[Grant | Unit, int]] = field(default_factory=dict, repr=False)

    @property
    def exit_code(self) -> int:
        if not self.errors:
            return 0
        return 2 if any(e.exit_code == 2 for e in self.errors) else 3


def _text(row: Row, key: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _day(row: Row) -> date:
    value = row.get("date")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(row, "date")
    if not text:
        raise BadInputError("date is empty")
    try:
        return date.fromisoformat(text[:10] if len(text) > 10 and text[10] in "T " else text)
    except ValueError:
        msg = f"date {text!r} is not a date; write it like 2024-05-10"
        raise BadInputError(msg) from None


def _amount(row: Row) -> Decimal:
    value = row.get("amount")
    if isinstance(value, float):  # a number cell in a workbook
        value = Decimal(repr(value))
    if isinstance(value, int | Decimal):
        return parse_amount(value)
    text = _text(row, "amount")
    if not text:
        raise BadInputError("amount is empty")
    return parse_amount(text)


def _required(row: Row, key: str, kind: str) -> str:
    value = _text(row, key)
    if not value:
        msg = f"{key} is required for a {kind} row"
        raise BadInputError(msg)
    return value


class _Books:
    """The aggregates an import touches, each loaded once, with the import's changes applied."""

    def __init__(self, app: GrantLedger, actor: str, role: str) -> None:
        self.app = app
        self.actor = actor
        self.role = role
        self.grants: dict[str, Grant | None] = {}
        self.units: dict[str, Unit | None] = {}
        self.touched: dict[Any, Grant | Unit] = {}
        self._policies: dict[date, Policy] = {}

    def policy(self, on: date) -> Policy:
        policy = self._policies.get(on)
        if policy is None:
            policy = self._policies[on] = policy_in_force(on)
        return policy

    def grant(self, grant_id: str) -> Grant | None:
        if grant_id not in self.grants:
            try:
                found: Any = self.app.repository.get(grant_uuid(grant_id))
            except AggregateNotFoundError:
                found = None
            self.grants[grant_id] = found
        return self.grants[grant_id]

    def unit(self, unit_id: str) -> Unit | None:
        if unit_id not in self.units:
            try:
                found: Any = self.app.repository.get(unit_uuid(unit_id))
            except AggregateNotFoundError:
                found = None
            self.units[unit_id] = found
        return self.units[unit_id]

    def _touch(self, aggregate: Grant | Unit) -> None:
        self.touched[aggregate.id] = aggregate

    # ------------------------------------------------------------------ one row

    def apply(self, row: Row) -> None:
        """Apply one row to the aggregates (pending events), or raise the reason it is bad."""
        kind = _text(row, "kind").lower()
        if kind not in KINDS:
            msg = f"kind {_text(row, 'kind')!r} is unknown; use one of {', '.join(KINDS)}"
            raise BadInputError(msg)
        on = _day(row)
        policy = self.policy(on)
        raise_first([role_may_record(self.role, "import", policy)])
        if kind == "approve":
            self._approve(row, on, policy)
            return
        grant_id = _required(row, "grant_id", kind)
        grant = self.grant(grant_id)
        if grant is None:
            msg = f"grant {grant_id} is neither in the ledger nor approved by an earlier row of the file"
            raise NotFoundError(msg)
        base_id = _text(row, "base_id")
        if base_id and base_id != grant.base_id:
            msg = f"grant {grant_id} belongs to base {grant.base_id}, not {base_id}"
            raise BadInputError(msg)
        who: dict[str, Any] = {"actor": self.actor, "role": self.role, "on": on, "policy": policy}
        changed: bool
        if kind == "reverse":
            original = _required(row, "memo", kind)
            reason = _text(row, "voucher") or "imported reversal"
            before = grant.expenditures.get(original)
            if _text(row, "amount") and before is not None and _amount(row) != before["amount"]:
                msg = (
                    f"reversal of {original} gives {_amount(row)} but expenditure {original} of grant "
                    f"{grant_id} is {before['amount']}"
                )
                raise BadInputError(msg)
            changed = grant.reverse(voucher=original, reason=reason, **who)
        else:
            amount = _amount(row)
            voucher = _required(row, "voucher", kind)
            if kind == "disburse":
                memo = _text(row, "memo")
                tranche = int(memo) if memo.isdigit() else 1
                changed = grant.disburse(amount=amount, voucher=voucher, tranche=tranche, **who)
            elif kind == "match_commit":
                funder = _text(row, "payee")
                changed = grant.commit_matching(amount=amount, voucher=voucher, funder=funder, **who)
            elif kind == "match_receive":
                changed = grant.receive_matching(amount=amount, voucher=voucher, **who)
            else:
                source = _required(row, "source", kind).lower()
                if source not in SOURCES:
                    msg = f"fund source {source!r} is unknown; use subsidy (财政补助) or matching (配套经费)"
                    raise BadInputError(msg)
                changed = grant.spend(
                    amount=amount,
                    category=_required(row, "category", kind),
                    source=source,
                    content=_text(row, "content"),
                    project="",
                    voucher=voucher,
                    payee=_text(row, "payee"),
                    memo=_text(row, "memo"),
                    attachments=[],
                    **who,
                )
        if changed:
            self._touch(grant)

    def _approve(self, row: Row, on: date, policy: Policy) -> None:
        unit_id = _required(row, "unit_id", "approve")
        base_id = _required(row, "base_id", "approve")
        grant_id = _required(row, "grant_id", "approve")
        programme = policy.programme(_required(row, "programme", "approve"))
        document = _required(row, "voucher", "approve")
        amount = _amount(row)
        start: date | None = None
        end: date | None = None
        memo = _text(row, "memo")
        if memo:
            found = _PERIOD.match(memo)
            if found is None:
                msg = f"memo {memo!r} of an approve row is not a build period like 2024-04-01..2026-03-31"
                raise BadInputError(msg)
            start = date.fromisoformat(found.group(1)) if found.group(1) else None
            end = date.fromisoformat(found.group(2))
        grant = self.grant(grant_id)
        if grant is not None:
            if (grant.unit_id, grant.base_id, grant.programme) != (unit_id, base_id, programme.code):
                msg = (
                    f"grant {grant_id} is already recorded for unit {grant.unit_id}, base "
                    f"{grant.base_id} ({grant.programme})"
                )
                raise ConflictError(msg)
            if grant.status != "applied":
                if (grant.approved, grant.document) == (amount, document):
                    return  # already imported
                msg = (
                    f"grant {grant_id} is already approved ({grant.approved} yuan, {grant.document}); "
                    f"the row says {amount} yuan, {document}"
                )
                raise ConflictError(msg)
        else:
            unit = self.unit(unit_id)
            if unit is None:
                name = _text(row, "payee") or unit_id
                unit = Unit.register(
                    unit_id=unit_id, name=name, kind="other", on=on, actor=self.actor, role=self.role
                )
                self.units[unit_id] = unit
            unit.take_base(
                base_id=base_id,
                grant_id=grant_id,
                programme=programme,
                on=on,
                actor=self.actor,
                role=self.role,
                policy=policy,
            )
            self._touch(unit)
            grant = Grant.create(
                grant_id=grant_id,
                unit_id=unit_id,
                base_id=base_id,
                base_name=_text(row, "content") or base_id,
                programme=programme.code,
                level=programme.level,
                projects=[],
                requested=amount,
                on=on,
                actor=self.actor,
                role=self.role,
            )
            self.grants[grant_id] = grant
        extra: dict[str, Any] = {"imported": True} if _APPROVE_TAKES_IMPORTED else {}
        grant.approve(
            amount=amount,
            document=document,
            bodies=list(programme.approving_bodies),
            build_start=start,
            build_end=end,
            on=on,
            actor=self.actor,
            role=self.role,
            policy=policy,
            **extra,
        )
        self._touch(grant)

    # ------------------------------------------------------------------ saving

    def pending(self) -> int:
        return sum(len(a.pending_events) for a in self.touched.values())

    def discard(self) -> None:
        for aggregate in self.touched.values():
            aggregate.collect_events()
        self.touched.clear()

    def save(self) -> int:
        if not self.touched:
            return 0
        count = self.pending()
        self.app.save(*self.touched.values())
        self.touched.clear()
        return count


def _error(line: int, error: LedgerError) -> RowError:
    code = 2 if isinstance(error, BadInputError | NotFoundError) else 3
    return RowError(line, error.message, code)


def check(
    app: GrantLedger,
    rows: Iterable[tuple[int, Row]],
    *,
    actor: str,
    role: str,
    keep: int | None = None,
) -> ImportResult:
    """Simulate every row in order on in-memory aggregates; nothing is written.

    Up to ``keep`` events are kept in ``staged`` for ``save_staged``; a larger file is written
    by ``record``, which reads it again.
    """
    keep = KEEP_EVENTS if keep is None else keep
    books = _Books(app, actor, role)
    result = ImportResult(staged=[])
    for line, row in rows:
        result.rows += 1
        try:
            books.apply(row)
        except LedgerError as e:
            result.errors.append(_error(line, e))
            result.staged = None
            continue
        for aggregate in books.touched.values():
            events = aggregate.collect_events()
            result.events += len(events)
            if result.staged is not None:
                result.staged.extend(events)
                _, before = result.touched.get(aggregate.id, (aggregate, 0))
                result.touched[aggregate.id] = (aggregate, before + len(events))
                if len(result.staged) > keep:
                    result.staged = None
                    result.touched.clear()
        books.touched.clear()
    return result


def save_staged(
    app: GrantLedger,
    checked: ImportResult,
    *,
    batch_events: int = BATCH_ROWS,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the events ``check`` kept, one transaction per ``batch_events``; then snapshot."""
    staged = checked.staged or []
    for start in range(0, len(staged), batch_events):
        chunk = staged[start : start + batch_events]
        try:
            app.save(*chunk)
        except IntegrityError:
            msg = (
                f"the ledger was changed by another writer during the import; {start} events were "
                "recorded: import the file again to record the rest (rows already in are skipped)"
            )
            raise ConflictError(msg) from None
        if progress is not None:
            progress(len(chunk))
    if app.snapshots is not None:
        snapshots = []
        for aggregate, added in checked.touched.values():
            interval = app.snapshotting_intervals.get(type(aggregate))
            if interval and aggregate.version // interval > (aggregate.version - added) // interval:
                snapshots.append(aggregate.Snapshot.take(aggregate))
        if snapshots:
            app.snapshots.put(snapshots)
    return len(staged)


def record(
    app: GrantLedger,
    rows: Iterable[tuple[int, Row]],
    *,
    actor: str,
    role: str,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Apply the rows and save them in batches: one transaction per ``batch_rows`` rows.

    Call ``check`` first: a row refused here (the ledger changed in between) stops the import
    after the batches already saved, and is reported.
    """
    books = _Books(app, actor, role)
    result = ImportResult()
    in_batch = 0
    for line, row in rows:
        try:
            books.apply(row)
        except LedgerError as e:
            result.events += books.save()
            result.errors.append(_error(line, e))
            return result
        result.rows += 1
        in_batch += 1
        if in_batch >= batch_rows:
            result.events += books.save()
            if progress is not None:
                progress(in_batch)
            in_batch = 0
    result.events += books.save()
    if progress is not None and in_batch:
        progress(in_batch)
    return result


def read_rows(lines: Iterator[list[Any]], first_line: int = 1) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows (lists of cells, header first) as ``(line number, {column: value})``; checks the header."""
    try:
        header = next(lines)
    except StopIteration:
        raise BadInputError("the file is empty; its first line must be the header") from None
    names = [str(h or "").strip().lstrip("\ufeff").lower() for h in header]
    while names and not names[-1]:
        names.pop()
    missing = [h for h in HEADER if h not in names]
    if missing:
        msg = f"the header lacks {', '.join(missing)}; it must be {','.join(HEADER)}"
        raise BadInputError(msg)
    for n, cells in enumerate(lines, start=first_line + 1):
        if not any(c not in (None, "") and str(c).strip() for c in cells):
            continue
        yield n, dict(zip(names, cells, strict=False))
