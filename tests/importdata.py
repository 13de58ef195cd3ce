"""Generated import files in the DESIGN.md format (for tests and the import benchmark)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

HEADER = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"
CATEGORIES = ("equipment", "materials", "teacher_training", "curriculum")


def write_file(path: Path, rows: int, grants: int = 20) -> dict[str, dict[str, int]]:
    """About ``rows`` good rows over ``grants`` district bases; returns expected fen per base."""
    per_grant = max(rows // grants - 4, 1)
    expected: dict[str, dict[str, int]] = {}
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER.split(","))
        for g in range(grants):
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
