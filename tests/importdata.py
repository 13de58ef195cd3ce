"""Generated import files in the DESIGN.md format (for tests and the import benchmark)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

HEADER = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"
KIND_COLUMN = 5
CATEGORIES = ("equipment", "materials", "teacher_training", "curriculum")


def role_of(kind: str) -> str:
    """Who records a row of this kind: the role its action needs (ledger.rules)."""
    from ledger.import_format import role_of_kind

    return role_of_kind(kind.strip().lower())


def runs_by_role(rows: list[list[object]]) -> list[tuple[str, list[list[object]]]]:
    """A file's rows (header first) in runs that one role records, in order, as (role, rows).
    Each run keeps the other rows as blank rows, so every row keeps its line number."""
    header, *body = rows
    runs: list[tuple[str, list[int]]] = []
    for n, row in enumerate(body):
        kind = str(row[KIND_COLUMN] or "") if len(row) > KIND_COLUMN else ""
        if not kind.strip():
            continue
        role = role_of(kind)
        if not runs or runs[-1][0] != role:
            runs.append((role, []))
        runs[-1][1].append(n)
    out = []
    for role, numbers in runs:
        chosen = set(numbers)
        out.append(
            (role, [header, *(row if n in chosen else [] for n, row in enumerate(body[: numbers[-1] + 1]))])
        )
    return out


def read_any(path: Path) -> list[list[object]]:
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
        book.close()
        return rows
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [list(r) for r in csv.reader(f)]


def write_any(path: Path, rows: list[list[object]]) -> None:
    if path.suffix == ".xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        for row in rows:
            sheet.append(row if row else [None])
        book.save(path)
        return
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def write_file(path: Path, rows: int, grants: int = 20, first: int = 0) -> dict[str, dict[str, int]]:
    """About ``rows`` good rows over ``grants`` district bases (B0000 on, or from B``first``: a base
    is one unit's, so a ledger holding B0001 takes the file's from further on); returns expected
    fen per base."""
    per_grant = max(rows // grants - 4, 1)
    expected: dict[str, dict[str, int]] = {}
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER.split(","))
        for g in range(first, first + grants):
            base, grant, unit = f"B{g:04d}", f"G{g:04d}", f"U{g:04d}"
            w.writerow(
                [
                    "2024-04-01",
                    unit,
                    base,
                    grant,
                    "district_base",
                    "approve",
                    "200000",
                    "",
                    "",
                    "",
                    f"渝人社〔2024〕{g}号",
                    "",
                    "",
                ]
            )
            w.writerow(
                ["2024-04-02", "", base, grant, "", "disburse", "200000", "", "", "", f"拨-{g}", "", "1"]
            )
            w.writerow(
                [
                    "2024-04-03",
                    "",
                    base,
                    grant,
                    "",
                    "match_commit",
                    "200000",
                    "",
                    "",
                    "",
                    f"承-{g}",
                    f"单位{g}",
                    "",
                ]
            )
            w.writerow(
                ["2024-04-04", "", base, grant, "", "match_receive", "200000", "", "", "", f"收-{g}", "", ""]
            )
            spent = {"subsidy": 0, "matching": 0}
            for i in range(per_grant):
                source = "subsidy" if i % 2 else "matching"
                fen = 100 + (i % 7)
                day = f"2024-{5 + (i % 7):02d}-{1 + (i % 28):02d}"
                w.writerow(
                    [
                        day,
                        "",
                        base,
                        grant,
                        "",
                        "spend",
                        f"{fen / 100:.2f}",
                        source,
                        CATEGORIES[i % 4],
                        "",
                        f"记-{i}",
                        "供应商",
                        "",
                    ]
                )
                spent[source] += fen
            expected[base] = {"subsidy_spent": spent["subsidy"], "matching_spent": spent["matching"]}
    return expected


if __name__ == "__main__":
    write_file(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 20)
