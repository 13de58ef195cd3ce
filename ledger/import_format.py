"""The import file format: its header, its row kinds, and each row as the action it records.

One row per action::

    date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo

``ROW_KINDS`` says which action a row kind records and which column carries each of its
fields; the action's own field rules (ledger.actions) check it, as they check a command's
options. Columns that carry a field of another name:

- ``approve`` brings a grant approved elsewhere: unit, base, programme required; ``voucher`` is the
  approval document number; ``amount`` the approved amount; ``memo`` may hold the build period as
  ``YYYY-MM-DD..YYYY-MM-DD`` (or only its end), needed when the programme sets none; ``content``
  may hold the base's name and ``payee`` the unit's name (used when the unit is new).
- ``disburse``: ``memo`` may hold the tranche number (default 1).
- ``match_commit``: ``payee`` is the funder.
- ``reverse``: ``memo`` holds the reversed voucher; ``voucher`` the reversal's own reference (its
  reason); ``amount``, when given, must equal the original expenditure's.
- ``recover_order``: ``voucher`` is the order's document number, ``memo`` its reason.
- ``recover_receive``: ``voucher`` is the receipt's voucher.
- ``dispose``: ``source`` the fund source, ``voucher`` the approval reference, ``memo`` how
  (``returned`` or ``carried_forward``).

A cell starting with an apostrophe followed by ``=``, ``+``, ``-`` or ``@`` is read without the
apostrophe: the export writes such text so, that a spreadsheet shows it instead of running it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from ledger.actions import (
    Action,
    ApprovedElsewhere,
    CommitMatching,
    Disburse,
    Dispose,
    OrderRecovery,
    ReceiveMatching,
    ReceiveRecovery,
    Reverse,
    Spend,
    explain,
)
from ledger.errors import BadInputError
from ledger.rules import OFFICER_ACTIONS
from ledger.text import CONTROL_BUT_TAB, WHITE_SPACE

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
KINDS = (
    "approve",
    "disburse",
    "match_commit",
    "match_receive",
    "spend",
    "reverse",
    "recover_order",
    "recover_receive",
    "dispose",
)
_PERIOD = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})?\s*(?:\.\.|~|/)?\s*(\d{4}-\d{2}-\d{2})\s*$")

Row = Mapping[str, Any]


class Cells(dict[str, str]):
    """A row of a text file: every column of the header present, every cell a stripped str."""


def _cell(value: Any) -> str:
    """A workbook's cell as the text a CSV file would hold."""
    if value.__class__ is str:
        return value.strip(WHITE_SPACE)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip(WHITE_SPACE)


# A text cell that a spreadsheet opening the file would run as a formula (CSV injection) is
# written with an apostrophe in front, as Excel marks typed text; the import takes one off again.
FORMULA_STARTS = ("=", "+", "-", "@")


def escape_formula(value: str) -> str:
    """``=1+1`` as ``'=1+1``, and ``'=1+1`` as ``''=1+1``: what the import reads back exactly."""
    return "'" + value if value.lstrip("'")[:1] in FORMULA_STARTS else value


def unescape_formulas(cells: Cells) -> None:
    for column, value in cells.items():
        if value[:1] == "'" and value.lstrip("'")[:1] in FORMULA_STARTS:
            cells[column] = value[1:]


def as_cells(row: Row) -> Cells:
    cells = Cells({column: "" for column in HEADER})
    cells.update((column, _cell(value)) for column, value in row.items())
    return cells


def _period(memo: str) -> tuple[str | None, str | None]:
    if not memo:
        return None, None
    found = _PERIOD.match(memo)
    if found is None:
        msg = f"memo {memo!r} of an approve row is not a build period like 2024-04-01..2026-03-31"
        raise BadInputError(msg)
    return found.group(1), found.group(2)


# Each row kind: the action it records, and the column that carries each of the action's fields
# (fields not named here are the column of their own name; ``on`` is ``date``).
def _approve_row(row: Cells) -> Action:
    start, end = _period(row["memo"])
    return ApprovedElsewhere.model_validate(
        dict(
            on=row["date"],
            grant_id=row["grant_id"],
            unit_id=row["unit_id"],
            base_id=row["base_id"],
            programme=row["programme"],
            amount=row["amount"],
            document=row["voucher"],
            build_start=start,
            build_end=end,
            base_name=row["content"],
            unit_name=row["payee"],
        )
    )


def _disburse_row(row: Cells) -> Action:
    return Disburse.model_validate(
        dict(
            on=row["date"],
            grant_id=row["grant_id"],
            amount=row["amount"],
            voucher=row["voucher"],
            tranche=row["memo"] or 1,
        )
    )


def _match_commit_row(row: Cells) -> Action:
    return CommitMatching.model_validate(
        dict(
            on=row["date"],
            grant_id=row["grant_id"],
            amount=row["amount"],
            voucher=row["voucher"],
            funder=row["payee"],
        )
    )


def _match_receive_row(row: Cells) -> Action:
    return ReceiveMatching.model_validate(
        dict(on=row["date"], grant_id=row["grant_id"], amount=row["amount"], voucher=row["voucher"])
    )


def _spend_row(row: Cells) -> Action:
    return Spend.model_validate(
        dict(
            on=row["date"],
            grant_id=row["grant_id"],
            amount=row["amount"],
            category=row["category"],
            source=row["source"],
            content=row["content"],
            voucher=row["voucher"],
            payee=row["payee"],
            memo=row["memo"],
        )
    )


def _reverse_row(row: Cells) -> Action:
    return Reverse.model_validate(
        dict(
            on=row["date"],
            grant_id=row["grant_id"],
            voucher=row["memo"],
            reason=row["voucher"],
        )
    )


def _recover_order_row(row: Cells) -> Action:
    return OrderRecovery.model_validate(
        dict(
            on=row["date"],
            grant_id=row["grant_id"],
            amount=row["amount"],
            document=row["voucher"],
            reason=row["memo"],
        )
    )


def _recover_receive_row(row: Cells) -> Action:
    return ReceiveRecovery.model_validate(
        dict(on=row["date"], grant_id=row["grant_id"], amount=row["amount"], voucher=row["voucher"])
    )


def _dispose_row(row: Cells) -> Action:
    return Dispose.model_validate(
        dict(
            on=row["date"],
            grant_id=row["grant_id"],
            source=row["source"],
            amount=row["amount"],
            how=row["memo"],
            approval=row["voucher"],
        )
    )


ROW_KINDS: dict[str, tuple[Callable[[Cells], Action], dict[str, str]]] = {
    "approve": (
        _approve_row,
        {
            "document": "voucher",
            "build_start": "memo",
            "build_end": "memo",
            "base_name": "content",
            "unit_name": "payee",
        },
    ),
    "disburse": (_disburse_row, {"tranche": "memo"}),
    "match_commit": (_match_commit_row, {"funder": "payee"}),
    "match_receive": (_match_receive_row, {}),
    "spend": (_spend_row, {}),
    "reverse": (_reverse_row, {"voucher": "memo", "reason": "voucher"}),
    "recover_order": (_recover_order_row, {"document": "voucher", "reason": "memo"}),
    "recover_receive": (_recover_receive_row, {}),
    "dispose": (_dispose_row, {"approval": "voucher", "how": "memo"}),
}
assert tuple(ROW_KINDS) == KINDS
# the action each row kind records (whose name says which role records it)
ROW_ACTIONS: dict[str, type[Action]] = {
    "approve": ApprovedElsewhere,
    "disburse": Disburse,
    "match_commit": CommitMatching,
    "match_receive": ReceiveMatching,
    "spend": Spend,
    "reverse": Reverse,
    "recover_order": OrderRecovery,
    "recover_receive": ReceiveRecovery,
    "dispose": Dispose,
}


def role_of_kind(kind: str) -> str:
    """Who records a row of this kind: the role its action needs (``ledger.rules``)."""
    return "officer" if ROW_ACTIONS[kind].name in OFFICER_ACTIONS else "approver"


def runs_by_role(rows: Iterable[list[Any]]) -> Iterator[tuple[str, list[list[Any]]]]:
    """Rows (kind in the sixth column) cut into runs of consecutive rows that one role records,
    in order: an import is one person's act, so a file of both roles' acts is imported run by run."""
    role, run = "", list[list[Any]]()
    for row in rows:
        this = role_of_kind(row[5])
        if run and this != role:
            yield role, run
            run = []
        role = this
        run.append(row)
    if run:
        yield role, run


def row_action(row: Cells, kind: str) -> Action:
    """The action a row records, or BadInputError naming the column and the field's rule."""
    build, columns = ROW_KINDS[kind]
    try:
        return build(row)
    except ValidationError as e:
        raise BadInputError(
            explain(e, lambda field: columns.get(field) or _COLUMN.get(field, field))
        ) from None


_COLUMN = {"on": "date"}


def refuse_control_character(row: Row) -> None:
    for column, value in row.items():
        found = CONTROL_BUT_TAB.search(value) if value.__class__ is str else None
        if found is not None:
            msg = (
                f"{column} holds a control character (U+{ord(found.group()):04X}); the command line "
                "refuses them too: write the text without it"
            )
            raise BadInputError(msg)


def read_rows(lines: Iterator[list[Any]], first_line: int = 1) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows (lists of cells, header first) as ``(line number, {column: value})``; checks the header."""
    try:
        header = next(lines)
    except StopIteration:
        raise BadInputError("the file is empty; its first line must be the header") from None
    names = [str(h or "").strip().lstrip("\ufeff").lower() for h in header]
    while names and not names[-1]:
        names.pop()
    twice = sorted({n for n in names if n and names.count(n) > 1})
    if twice:
        msg = f"the header names {', '.join(twice)} more than once; each column is named once"
        raise BadInputError(msg)
    missing = [h for h in HEADER if h not in names]
    if missing:
        msg = f"the header lacks {', '.join(missing)}; it must be {','.join(HEADER)}"
        raise BadInputError(msg)
    width = len(names)
    for n, cells in enumerate(lines, start=first_line + 1):
        try:
            stripped = [c.strip(WHITE_SPACE) for c in cells]
        except AttributeError:  # a workbook's cells: numbers, dates, None
            if any(c not in (None, "") and str(c).strip() for c in cells):
                yield n, dict(zip(names, cells, strict=False))
            continue
        if not any(stripped):
            continue
        if len(stripped) < width:
            stripped += [""] * (width - len(stripped))
        yield n, Cells(zip(names, stripped, strict=False))
