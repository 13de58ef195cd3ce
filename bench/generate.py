"""A deterministic, seeded generator of a realistic subsidy ledger in the import format.

N bases of the seeds' programmes; approvals, tranches, matching commitments and receipts,
spending across permitted categories, sources and construction contents, about 1% reversals,
never overspending a fund source and always inside the build period.
"""

from __future__ import annotations

import contextlib
import csv
import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

HEADER = [
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
]
CATEGORIES = [
    "equipment",
    "materials",
    "instructor_hire",
    "teacher_training",
    "infrastructure",
    "curriculum",
    "research",
    "other_training",
]
CONTENTS = ["training_system", "cooperation", "patterns"]
START = date(2024, 1, 15)


def base_ids(events: int) -> list[str]:
    bases = max(10, events // 2000)
    return [f"B{n:04d}" for n in range(1, bases + 1)]


def rows(events: int, seed: int = 20241) -> Iterator[list[str]]:
    """About ``events`` rows (each row is one stored event, an approval a few)."""
    rng = random.Random(seed)
    bases = base_ids(events)
    per_base = max(8, events // len(bases))
    for n, base in enumerate(bases, start=1):
        unit, grant = f"U{n:04d}", f"G{n:04d}"
        district = n % 3 != 0
        programme = "district_base" if district else "municipal_base_funded"
        approved = Decimal(200000) if district else Decimal(rng.randrange(50, 101) * 10000)
        approved_on = START + timedelta(days=rng.randrange(0, 30))
        end = approved_on + timedelta(days=700)

        def row(
            day: date,
            kind: str,
            amount: Decimal,
            voucher: str,
            source: str = "",
            category: str = "",
            content: str = "",
            payee: str = "",
            memo: str = "",
            base: str = base,
            grant: str = grant,
            unit: str = unit,
            programme: str = programme,
        ) -> list[str]:
            return [
                day.isoformat(),
                unit,
                base,
                grant,
                programme,
                kind,
                f"{amount:.2f}",
                source,
                category,
                content,
                voucher,
                payee,
                memo,
            ]

        yield [
            approved_on.isoformat(),
            unit,
            base,
            grant,
            programme,
            "approve",
            f"{approved:.2f}",
            "",
            "",
            "",
            f"批复〔2024〕{n}号",
            "",
            "",
        ]
        first = (approved * Decimal("0.6")).quantize(Decimal("0.01"))
        yield row(approved_on + timedelta(days=5), "disburse", first, f"{grant}-T1", memo="1")
        yield row(approved_on + timedelta(days=200), "disburse", approved - first, f"{grant}-T2", memo="2")
        yield row(
            approved_on + timedelta(days=3),
            "match_commit",
            approved,
            f"{grant}-MC",
            source="matching",
            payee="host unit",
        )
        half = (approved / 2).quantize(Decimal("0.01"))
        yield row(approved_on + timedelta(days=10), "match_receive", half, f"{grant}-MR1", source="matching")
        yield row(
            approved_on + timedelta(days=220),
            "match_receive",
            approved - half,
            f"{grant}-MR2",
            source="matching",
        )
        received = {"subsidy": first, "matching": half}
        spent = {"subsidy": Decimal(0), "matching": Decimal(0)}
        recorded: list[tuple[str, str, Decimal]] = []
        budget_rows = per_base - 6
        for k in range(budget_rows):
            offset = 11 + (k * 680) // max(1, budget_rows)
            day = approved_on + timedelta(days=offset)
            if offset >= 220:
                received = {"subsidy": approved, "matching": approved}
            if recorded and rng.random() < 0.01:
                source, voucher, original = recorded.pop(rng.randrange(len(recorded)))
                spent[source] -= original
                yield row(day, "reverse", original, "更正", source=source, memo=voucher)
                continue
            source = "subsidy" if rng.random() < 0.6 else "matching"
            amount = Decimal(rng.randrange(100, 15000)) / 100
            if spent[source] + amount > received[source]:
                source = "matching" if source == "subsidy" else "subsidy"
                if spent[source] + amount > received[source]:
                    continue
            spent[source] += amount
            voucher = f"{grant}-S{k:05d}"
            recorded.append((source, voucher, amount))
            yield row(
                day,
                "spend",
                amount,
                voucher,
                source=source,
                category=rng.choice(CATEGORIES),
                content=rng.choice(CONTENTS),
                payee=f"供应商{rng.randrange(1, 200):03d}",
            )
        _ = end


def write_csv(path: Path, events: int, seed: int = 20241, approvals: Path | None = None) -> int:
    """All rows in ``path``; with ``approvals``, the approve rows (an approver imports them) go
    there and the rest (an officer's) to ``path``. Returns the number of rows in all."""
    count = 0
    with contextlib.ExitStack() as files:
        handle = files.enter_context(path.open("w", newline="", encoding="utf-8"))
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        approver = writer
        if approvals is not None:
            approver = csv.writer(files.enter_context(approvals.open("w", newline="", encoding="utf-8")))
            approver.writerow(HEADER)
        for r in rows(events, seed):
            (approver if r[5] == "approve" else writer).writerow(r)
            count += 1
    return count
