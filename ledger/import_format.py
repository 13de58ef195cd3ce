"""The import file format: its header, its row kinds, and each row as the action it records.

One row per action::

    date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo

``ROW_KINDS`` says which action a row kind records and which column carries each of its
fields; the action's own field rules (ledger.actions) check it, as they check a command's
options. Columns that carry a field of another name:

- ``approve`` brings a grant approved elsewhere: unit, base, programme required; ``voucher`` is the
  approval document number; ``amount`` the approved amount; ``memo`` may hold the build period as
  ``YYYY-MM-DD..YYYY-MM-DD`` (or only its end; dates in any form a date option takes), needed
  when the programme sets none; ``content`` may hold the base's name and ``payee`` the unit's
  name (used when the unit is new).
- ``approve`` may also hold, in an optional ``district`` column (区县), the district the unit
  stands in: its 6-digit 行政区划代码 or Chinese name (ledger.district), as ``unit register
  --district`` takes it; a file without the column is read as before.
- ``approve`` may also hold, in optional ``tier`` (档次) and ``track`` (基地类别) columns, a national
  base's tier (A, B, C or D, as ``grant approve --tier``) and a municipal base's kind
  (``international``, ``digital`` or ``other``, as ``grant apply --track``): what the count a round
  selects is judged by (002 二). Empty, or a file without them: none named.
- ``spend`` may also hold, in an optional ``project`` column (专业（项目）), the profession or project
  the spending serves, as ``spend --project`` takes it; a file without it names none.
- ``approve`` may also hold, in an optional ``applied`` column (申报日期), the date the grant was
  applied for: its round is its application's (002 二), and the unit's registration and its taking
  of the base are dated so too. Empty, or a file without it: the approval's date.
- ``disburse``: ``memo`` may hold the tranche number (default 1).
- ``match_commit``: ``payee`` is the funder.
- ``reverse``: ``memo`` holds the reversed voucher; ``voucher`` the reversal's own reference (its
  reason); ``category`` the reversed act's kind for a receipt (``disburse``, ``match_commit``,
  ``match_receive``), an expenditure's category for an expenditure, or nothing; ``amount`` and
  ``source``, when given, must be the reversed act's (found as ``reverse`` finds it, whether or
  not ``category`` names it).
- ``recover_order``: ``voucher`` is the order's document number, ``memo`` its reason.
- ``recover_receive``: ``voucher`` is the receipt's voucher.
- ``dispose``: ``source`` the fund source, ``voucher`` the approval reference, ``memo`` how
  (``returned`` or ``carried_forward``).
- ``extend``: ``memo`` the build period's new end, ``voucher`` the extension's document number.

A row holding non-empty cells past the header's columns is refused at its line, not cut to the
header's width: in a csv file an unquoted comma in a cell (``ACME, Ltd``) makes it two cells and moves
every later cell on. Empty cells past the header (as spreadsheets export rows) are nothing. So is
a column the header leaves blank before or between its names while its cells are empty; a row
holding a value under it is refused at its line (``refuse_unnamed``), as one past the header is:
the value belongs to no column (its name cleared, perhaps), and was once dropped unseen. A column
named otherwise than the format's is a finance system's own, and is not read.

A cell of a csv file starting with an apostrophe followed by ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is read without that apostrophe: the export writes such text so, that a
spreadsheet shows it instead of running it (``ledger.text.escape_formula``). A workbook's cells
are read as they are: the export writes text there as text cells, exactly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple, cast

from pydantic import ValidationError

from ledger.actions import (
    Action,
    ApprovedElsewhere,
    CommitMatching,
    Disburse,
    Dispose,
    Extend,
    OrderRecovery,
    ReceiveMatching,
    ReceiveRecovery,
    Reverse,
    Spend,
    explain,
)
from ledger.errors import BadInputError
from ledger.i18n import T_, _
from ledger.rules import OFFICER_ACTIONS
from ledger.text import CONTROL_BUT_TAB, WHITE_SPACE, control_named, read_date

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
# The header's names in Chinese, as a finance office's own system or spreadsheet heads its columns
# (the first of each is what `export --lang zh` writes); read as the columns they name.
LABELS_ZH: dict[str, tuple[str, ...]] = {
    "date": ("日期", "业务日期", "记账日期"),
    "unit_id": ("单位编号", "单位代码"),
    "base_id": ("基地编号", "基地", "基地代码"),
    "grant_id": ("项目编号", "补助项目编号"),
    "programme": ("项目类型", "类型"),
    "kind": ("业务类型", "事项"),
    "amount": ("金额", "金额（元）", "金额(元)"),
    "source": ("资金来源", "来源"),
    "category": ("支出类别", "开支类别"),
    "content": ("建设内容", "内容"),
    "voucher": ("凭证号", "凭证编号", "文号"),
    "payee": ("收款方", "收款单位", "收款人"),
    "memo": ("备注", "摘要"),
    "district": ("区县", "区县代码", "行政区划代码"),
    "tier": ("档次", "基地档次"),
    "track": ("基地类别", "市级基地类别"),
    "applied": ("申报日期",),
    "project": ("专业（项目）", "专业项目"),
}
# Columns a file may hold or leave out (an empty cell when left out).
OPTIONAL = ("district", "tier", "track", "applied", "project")
# What `export` writes: every column, the optional ones last.
EXPORTED = (*HEADER, *OPTIONAL)
ALIASES = {
    unicodedata.normalize("NFKC", label).lower(): column
    for column, labels in LABELS_ZH.items()
    for label in labels
}


def column_named(text: Any) -> str:
    """The column a header cell names: its code, or a Chinese name however its brackets and
    letters are typed (专业(项目) as 专业（项目）, which had left the column unread)."""
    name = unicodedata.normalize("NFKC", str(text or "").strip().lstrip("\ufeff")).lower()
    return ALIASES.get(name, name)


# a build period: start..end (or start~end, start至end, start end), or its end alone; each a
# business date in any of its forms (ledger.text.read_date); 2024-04-01/2026-03-31, as before, too
_PERIOD_SEPARATOR = re.compile(r"\s*(?:\.\.|~|～|至)\s*|\s+")
_ISO_SLASH_PERIOD = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})\s*/\s*([0-9]{4}-[0-9]{2}-[0-9]{2})")

Row = Mapping[str, Any]


class Overflow(NamedTuple):
    """A row holding non-empty cells past the header's columns: how many columns the header
    names, how many cells the row holds (through its last non-empty one), and whether it is a
    text file's row (where an unquoted comma in a cell makes one cell two)."""

    named: int
    held: int
    text: bool


class Cells(dict[str, str]):
    """A row of a text file: every column of the header present, every cell a stripped str.
    ``overflow``: the cells it holds past the header's, non-empty (refused where the row is
    checked: ``refuse_overflow``); ``unnamed``: the column (from 1) of its first value under a
    column the header leaves blank, or 0 (refused there too: ``refuse_unnamed``); both travel
    with the row to the process that checks it."""

    overflow: Overflow | None = None
    unnamed: int = 0


class Values(dict[str, Any]):
    """A workbook's row holding non-empty cells past the header's columns (``overflow``) or under
    a column it leaves unnamed (``unnamed``), its values as read (``as_cells`` makes it a row of
    text, both with it)."""

    def __init__(
        self, values: Iterable[tuple[str, Any]], overflow: Overflow | None, unnamed: int = 0
    ) -> None:
        super().__init__(values)
        self.overflow = overflow
        self.unnamed = unnamed


def cell_text(value: Any) -> str:
    """A workbook's cell as the text a CSV file would hold (as every row's check reads it)."""
    if value.__class__ is str:
        return value.strip(WHITE_SPACE)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        if abs(value) < 2**53:
            return str(int(value))
        # past a float's whole numbers (a 18-digit voucher or account number): the 15 significant
        # digits Excel shows, not the float's own tail (622202123456789000, not …788992)
        return format(Decimal(format(value, ".15g")), "f")
    return str(value).strip(WHITE_SPACE)


def as_cells(row: Row) -> Cells:
    cells = Cells({column: "" for column in HEADER})
    cells.update((column, cell_text(value)) for column, value in row.items())
    if row.__class__ is Values:
        cells.overflow = cast(Values, row).overflow
        cells.unnamed = cast(Values, row).unnamed
    return cells


def _period(memo: str) -> tuple[str | None, str | None]:
    if not memo:
        return None, None
    memo = memo.strip(WHITE_SPACE)
    slashed = _ISO_SLASH_PERIOD.fullmatch(memo)
    parts = list(slashed.groups()) if slashed else _PERIOD_SEPARATOR.split(memo)
    if len(parts) == 1:
        parts.insert(0, "")
    start, end = (p.strip(WHITE_SPACE) for p in parts) if len(parts) == 2 else ("", "")
    if not end or read_date(end) is None or (start and read_date(start) is None):
        msg = T_(
            "memo {memo!r} of an approve row is not a build period like 2024-04-01..2026-03-31",
            memo=memo,
        )
        raise BadInputError(msg)
    return start or None, end


def _build_period(values: dict[str, Any], row: Cells) -> None:
    values["build_start"], values["build_end"] = _period(row["memo"])


def _first_tranche(values: dict[str, Any], row: Cells) -> None:
    values["tranche"] = values["tranche"] or 1


RECEIPT_KINDS = ("disburse", "match_commit", "match_receive")


def _reversed_kind(values: dict[str, Any], row: Cells) -> None:
    """A reverse row's ``category`` says what it reverses: a receipt's kind (``disburse``,
    ``match_commit``, ``match_receive``), else the expenditure's category (an expenditure);
    empty: whatever the voucher names."""
    category = row["category"]
    if category:
        values["kind"] = category if category in RECEIPT_KINDS else "spend"


class RowKind(NamedTuple):
    """What a row of one kind records: its action, the column each of the action's fields is read
    from, and what is worked out of the cells beyond reading them."""

    action: type[Action]
    columns: dict[str, str]
    adjust: Callable[[dict[str, Any], Cells], None] | None = None


_ON_GRANT = {"on": "date", "grant_id": "grant_id"}
_MONEY = {**_ON_GRANT, "amount": "amount"}
ROW_KINDS: dict[str, RowKind] = {
    "approve": RowKind(
        ApprovedElsewhere,
        {
            **_MONEY,
            "unit_id": "unit_id",
            "base_id": "base_id",
            "programme": "programme",
            "document": "voucher",
            "build_start": "memo",
            "build_end": "memo",
            "base_name": "content",
            "unit_name": "payee",
            "district": "district",
            "tier": "tier",
            "track": "track",
            "applied_on": "applied",
        },
        _build_period,
    ),
    "disburse": RowKind(Disburse, {**_MONEY, "voucher": "voucher", "tranche": "memo"}, _first_tranche),
    "match_commit": RowKind(CommitMatching, {**_MONEY, "voucher": "voucher", "funder": "payee"}),
    "match_receive": RowKind(ReceiveMatching, {**_MONEY, "voucher": "voucher"}),
    "spend": RowKind(
        Spend,
        {
            **_MONEY,
            "category": "category",
            "source": "source",
            "content": "content",
            "voucher": "voucher",
            "payee": "payee",
            "memo": "memo",
            "project": "project",
        },
    ),
    "reverse": RowKind(Reverse, {**_ON_GRANT, "voucher": "memo", "reason": "voucher"}, _reversed_kind),
    "recover_order": RowKind(OrderRecovery, {**_MONEY, "document": "voucher", "reason": "memo"}),
    "recover_receive": RowKind(ReceiveRecovery, {**_MONEY, "voucher": "voucher"}),
    "dispose": RowKind(Dispose, {**_MONEY, "source": "source", "how": "memo", "approval": "voucher"}),
    "extend": RowKind(Extend, {**_ON_GRANT, "build_end": "memo", "document": "voucher"}),
}
KINDS = tuple(ROW_KINDS)
# the action each row kind records (whose name says which role records it)
ROW_ACTIONS: dict[str, type[Action]] = {kind: row_kind.action for kind, row_kind in ROW_KINDS.items()}


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


# the optional columns only an approve row's action reads: a value there on another row is refused,
# never dropped unseen (the district column, older, is read on approve rows alone as before)
APPROVE_ONLY = ("tier", "track", "applied")


# the category and free-text columns: one a row's kind does not read holding a value is refused,
# never dropped unseen (劳务费 on a match_receive row was dropped and the receipt recorded)
DESCRIBING = ("category", "content", "payee", "memo", "project")
# read besides the action's fields (a reverse row's category: what it reverses), or written by
# export as the reversed act has it (its content)
_READ_TOO = {"reverse": ("category", "content")}


def row_action(row: Cells, kind: str) -> Action:
    """The action a row records, or BadInputError naming the column and the field's rule."""
    action, columns, adjust = ROW_KINDS[kind]
    for column in DESCRIBING:
        if row.get(column) and column not in columns.values() and column not in _READ_TOO.get(kind, ()):
            msg = T_(
                "a {kind} row does not read the {column} column; this one holds {value!r} there: clear it, "
                "or give the row the kind that records it",
                column=column,
                kind=kind,
                value=row[column],
            )
            raise BadInputError(msg)
    if kind != "approve" and (row.get("tier") or row.get("track") or row.get("applied")):
        column = next(c for c in APPROVE_ONLY if row.get(c))
        msg = T_(
            "the {column} column is read on approve rows only; this {kind} row holds {value!r} there: "
            "clear it",
            column=column,
            kind=kind,
            value=row[column],
        )
        raise BadInputError(msg)
    values = {field: row.get(column, "") for field, column in columns.items()}
    if adjust is not None:
        adjust(values, row)
    try:
        return action.model_validate(values)
    except ValidationError as e:
        raise BadInputError(explain(e, lambda field: columns.get(field, field))) from None


def refuse_control_character(row: Row) -> None:
    for column, value in row.items():
        found = CONTROL_BUT_TAB.search(value) if value.__class__ is str else None
        if found is not None:
            c = found.group()
            named = control_named(c).removeprefix(f"U+{ord(c):04X}").lstrip(" ")
            msg = T_(
                "{column} holds a control character (U+{value:04X}){value2}; the command line refuses "
                "them too: write the text without it",
                column=column,
                value=ord(c),
                value2=", " + named if named else "",
            )
            raise BadInputError(msg)


def refuse_overflow(overflow: Overflow) -> None:
    """A row holding non-empty cells past the header's is refused, never cut to the header's width:
    in a csv file, a cell's unquoted comma (``ACME, Ltd``) has moved every later cell on."""
    if overflow.text:
        msg = T_(
            "the row holds {held} cells but the header names {named}; a cell holding a comma must be "
            'quoted ("ACME, Ltd"), as a spreadsheet saving csv quotes it',
            held=overflow.held,
            named=overflow.named,
        )
    else:
        msg = T_(
            "the row holds {held} cells but the header names {named}; a cell past the header's columns "
            "belongs to no column: clear it, or name its column in the header",
            held=overflow.held,
            named=overflow.named,
        )
    raise BadInputError(msg)


def refuse_unnamed(column: int) -> None:
    """A row holding a value under a column the header leaves blank is refused, never read as
    nothing: the value belongs to no column (``column``: its place, from 1)."""
    msg = T_(
        "the row holds a value in column {column} ({letter}), whose name the header leaves blank; a "
        "cell under no name belongs to no column: clear it, or name its column in the header",
        column=column,
        letter=column_letter(column),
    )
    raise BadInputError(msg)


def column_letter(column: int) -> str:
    """A column's letters as a spreadsheet shows them: 1 A, 26 Z, 27 AA."""
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _unnamed(cells: list[Any], blank: list[int]) -> int:
    """The column (from 1) of the first value under a blank name of the header, or 0."""
    for at in blank:
        if at < len(cells) and _filled(cells[at]):
            return at + 1
    return 0


def _filled(value: Any) -> bool:
    """Whether a cell holds something (not nothing, nor white space alone)."""
    return value is not None and (str(value).strip(WHITE_SPACE) != "")


class WideRow(list[Any]):
    """A workbook's row read within a bound of columns (commands.import_files) that holds a
    value past the bound: ``held``, the column of its last one."""

    def __init__(self, values: Iterable[Any], held: int) -> None:
        super().__init__(values)
        self.held = held


def _held(cells: list[Any], width: int) -> int:
    """How many cells a row holds through its last non-empty one, if past ``width`` (else 0)."""
    if cells.__class__ is WideRow:
        return cast(WideRow, cells).held
    if len(cells) <= width:
        return 0
    extra = cells[width:]
    if extra.count(None) == len(extra):  # a workbook's empty cells, at C speed
        return 0
    for at in range(len(cells) - 1, width - 1, -1):
        if _filled(cells[at]):
            return at + 1
    return 0


def read_rows(lines: Iterator[list[Any]], first_line: int = 1) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows (lists of cells, header first) as ``(line number, {column: value})``; checks the header.
    A row holding non-empty cells past the header's carries their count (``Overflow``), for its
    check to refuse it at its line; empty cells past the header are nothing."""
    try:
        header = next(lines)
    except StopIteration:
        raise BadInputError(_("the file is empty; its first line must be the header")) from None
    names = [column_named(h) for h in header]
    while names and not names[-1]:
        names.pop()
    twice = sorted({n for n in names if n and names.count(n) > 1})
    if twice:
        msg = T_(
            "the header names {value} more than once (by its name or a Chinese one); each column is "
            "named once",
            value=", ".join(twice),
        )
        raise BadInputError(msg)
    missing = [h for h in HEADER if h not in names]
    if missing:
        msg = T_(
            "the header lacks {value}; it must be {value2} (or in Chinese: {value3})",
            value=", ".join(missing),
            value2=",".join(HEADER),
            value3=",".join(LABELS_ZH[h][0] for h in HEADER),
        )
        raise BadInputError(msg)
    width = len(names)
    # the columns the header leaves blank before or between its names (past the last: none, above)
    blank = [at for at, name in enumerate(names) if not name]
    for n, cells in enumerate(lines, start=first_line + 1):
        try:
            stripped = [c.strip(WHITE_SPACE) for c in cells]
        except AttributeError:  # a workbook's cells: numbers, dates, None
            # a row holding values only past the columns read is refused too, not skipped as empty
            if cells.__class__ is WideRow or any(c not in (None, "") and str(c).strip() for c in cells):
                held = _held(cells, width)
                unnamed = _unnamed(cells, blank) if blank else 0
                if held or unnamed:
                    overflow = Overflow(width, held, False) if held else None
                    yield n, Values(zip(names, cells, strict=False), overflow, unnamed)
                else:
                    yield n, dict(zip(names, cells, strict=False))
            continue
        if not any(stripped):
            continue
        if len(stripped) < width:
            stripped += [""] * (width - len(stripped))
        row = Cells(zip(names, stripped, strict=False))
        if len(stripped) > width and any(stripped[width:]):
            row.overflow = Overflow(width, _held(stripped, width), True)
        if blank:
            row.unnamed = _unnamed(stripped, blank)
        yield n, row
