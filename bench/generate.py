"""A deterministic, seeded generator of a realistic subsidy ledger in the import format.

``python -m bench.generate OUT.csv --events N [--bases B] [--order date|grant|interleaved]
[--approvals APPROVALS.csv]``: date order by default, as finance systems export vouchers.

N bases of the seeds' programmes; approvals, tranches, matching commitments and receipts,
spending across permitted categories, sources and construction contents, about 1% reversals,
never overspending a fund source and always inside the build period.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import heapq
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


ORDERS = ("date", "grant", "interleaved")


def base_ids(events: int, bases: int | None = None) -> list[str]:
    """The bases of a set of ``events`` rows: ``bases`` of them, or one per 2,000 rows (at least 10)."""
    count = bases if bases is not None else max(10, events // 2000)
    return [f"B{n:04d}" for n in range(1, count + 1)]


def rows(
    events: int, seed: int = 20241, bases: int | None = None, order: str = "date"
) -> Iterator[list[str]]:
    """About ``events`` rows (each row is one stored event, an approval a few), in ``order``:
    ``date`` (as a finance system exports a year's vouchers: by date, bases interleaved as their
    days fall), ``grant`` (each grant's rows together) or ``interleaved`` (one row of each grant in
    turn). Each grant's rows come in its own date order and from its own seeded generator, so the
    three orders hold the same rows."""
    if order not in ORDERS:
        raise ValueError(f"order {order!r}: use one of {', '.join(ORDERS)}")
    ids = base_ids(events, bases)
    per_base = max(8, events // len(ids))
    grants = [_grant_rows(n, base, per_base, seed) for n, base in enumerate(ids, start=1)]
    if order == "grant":
        for one in grants:
            yield from one
    elif order == "interleaved":
        live = grants
        while live:
            still = []
            for one in live:
                row = next(one, None)
                if row is not None:
                    yield row
                    still.append(one)
            live = still
    else:  # a stable merge: rows of one date keep the grants' order
        yield from heapq.merge(*grants, key=lambda r: r[0])


def _grant_rows(n: int, base: str, per_base: int, seed: int) -> Iterator[list[str]]:
    """One base's grant: approval, tranches, matching commitment and receipts, spending across
    permitted categories, sources and contents, about 1% reversals, in date order."""
    rng = random.Random(seed * 1_000_003 + n)
    unit, grant = f"U{n:04d}", f"G{n:04d}"
    district = n % 3 != 0
    programme = "district_base" if district else "municipal_base_funded"
    approved = Decimal(200000) if district else Decimal(rng.randrange(50, 101) * 10000)
    approved_on = START + timedelta(days=rng.randrange(0, 30))

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

    yield row(approved_on, "approve", approved, f"批复〔2024〕{n}号")
    first = (approved * Decimal("0.6")).quantize(Decimal("0.01"))
    half = (approved / 2).quantize(Decimal("0.01"))
    yield row(
        approved_on + timedelta(days=3),
        "match_commit",
        approved,
        f"{grant}-MC",
        "matching",
        payee="host unit",
    )
    yield row(approved_on + timedelta(days=5), "disburse", first, f"{grant}-T1", memo="1")
    yield row(approved_on + timedelta(days=10), "match_receive", half, f"{grant}-MR1", source="matching")
    # the second tranche (day 200) and receipt (day 220), each in its place among the spending
    later = [
        (200, row(approved_on + timedelta(days=200), "disburse", approved - first, f"{grant}-T2", memo="2")),
        (
            220,
            row(
                approved_on + timedelta(days=220),
                "match_receive",
                approved - half,
                f"{grant}-MR2",
                "matching",
            ),
        ),
    ]
    received = {"subsidy": first, "matching": half}
    spent = {"subsidy": Decimal(0), "matching": Decimal(0)}
    recorded: list[tuple[str, str, Decimal]] = []
    budget_rows = per_base - 6
    for k in range(budget_rows):
        offset = 11 + (k * 680) // max(1, budget_rows)
        day = approved_on + timedelta(days=offset)
        while later and later[0][0] <= offset:
            yield later.pop(0)[1]
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
    for _, late in later:
        yield late


def write_csv(
    path: Path,
    events: int,
    seed: int = 20241,
    approvals: Path | None = None,
    *,
    bases: int | None = None,
    order: str = "date",
) -> int:
    """All rows in ``path`` in ``order`` (see ``rows``); with ``approvals``, the approve rows (an
    approver imports them) go there and the rest (an officer's) to ``path``. Returns the number
    of rows in all."""
    count = 0
    with contextlib.ExitStack() as files:
        handle = files.enter_context(path.open("w", newline="", encoding="utf-8"))
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        approver = writer
        if approvals is not None:
            approver = csv.writer(files.enter_context(approvals.open("w", newline="", encoding="utf-8")))
            approver.writerow(HEADER)
        for r in rows(events, seed, bases, order):
            (approver if r[5] == "approve" else writer).writerow(r)
            count += 1
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the CSV file to write")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--bases", type=int, default=None, help="default: one per 2,000 events")
    parser.add_argument("--order", choices=ORDERS, default="date")
    parser.add_argument("--seed", type=int, default=20241)
    parser.add_argument("--approvals", type=Path, default=None, help="write the approve rows here")
    args = parser.parse_args(argv)
    count = write_csv(args.out, args.events, args.seed, args.approvals, bases=args.bases, order=args.order)
    print(f"{count} rows in {args.order} order")


if __name__ == "__main__":
    main()
