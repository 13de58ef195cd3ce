"""Journals other tools read well (issue 18, item 8): beancount and hledger journals in date order
(``hledger check ordereddates``), budget plans as Fava budgets, Fava in Chinese, each transaction
tagged with its grant and linked by its voucher (a spending and its reversal share the link),
and every receipt with the payer as its payee."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Ledger, approved_district_grant
from tests.test_one_rulebook import plant_spend

DATED = re.compile(r"^(\d{4}-\d{2}-\d{2}) [*!]")


def _beancount(ledger: Ledger, tmp_path: Path) -> tuple[Path, list[Any]]:
    from beancount import loader

    path = tmp_path / "books.beancount"
    ledger.ok("export", "--format", "beancount", "--output", str(path))
    entries, errors, _ = loader.load_file(str(path))
    assert not errors, errors
    return path, entries


def _in_file_order(text: str) -> list[date]:
    return [date.fromisoformat(m.group(1)) for line in text.splitlines() if (m := DATED.match(line))]


def _backdated(ledger: Ledger) -> None:
    """Two grants whose events are recorded in another order than their dates."""
    approved_district_grant(ledger)
    approved_district_grant(ledger, "G2", "B0002", "U2")
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "T1", "--date", "2024-10-15")
    ledger.ok("disburse", "G2", "--amount", "10万", "--voucher", "T1", "--date", "2024-04-20")
    ledger.ok("spend", "G2", "--amount", "100", "--category", "equipment", "--source", "subsidy",
              "--voucher", "S1", "--date", "2024-05-01")  # fmt: skip
    ledger.ok("disburse", "G1", "--amount", "1万", "--voucher", "T0", "--tranche", "2",
              "--date", "2024-11-01")  # fmt: skip


@pytest.mark.parametrize("style", ["beancount", "hledger"])
def test_journals_are_in_date_order_whatever_order_the_acts_were_recorded_in(
    sqlite_ledger: Ledger, tmp_path: Path, style: str
) -> None:
    _backdated(sqlite_ledger)
    path = tmp_path / f"books.{style}"
    sqlite_ledger.ok("export", "--format", style, "--output", str(path))
    dates = _in_file_order(path.read_text(encoding="utf-8"))
    assert len(dates) == 4
    assert dates == sorted(dates)
    if style == "hledger" and shutil.which("hledger"):
        done = subprocess.run(
            ["hledger", "-f", str(path), "check", "ordereddates"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr


def test_the_demo_journals_pass_hledger_and_bean_check_in_date_order(
    demo_sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    journal = tmp_path / "books.journal"
    demo_sqlite_ledger.ok("export", "--format", "hledger", "--output", str(journal))
    dates = _in_file_order(journal.read_text(encoding="utf-8"))
    assert dates == sorted(dates) and len(dates) > 10
    if shutil.which("hledger"):
        for check in (["check", "ordereddates"], ["balance"]):
            done = subprocess.run(["hledger", "-f", str(journal), *check], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
    path, _ = _beancount(demo_sqlite_ledger, tmp_path)
    check = shutil.which("bean-check") or str(Path(sys.executable).with_name("bean-check"))
    done = subprocess.run([check, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _in_file_order(path.read_text(encoding="utf-8")) == sorted(_in_file_order(path.read_text()))


@pytest.mark.parametrize("style", ["hledger", "beancount"])
def test_a_journal_sorted_on_disk_is_the_one_sorted_in_memory(
    demo_sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, style: str
) -> None:
    """A large ledger's journal is sorted in a scratch file, not held whole in memory (ten million
    events had grown the export past 3 GB): the same bytes, to the file and to stdout, and the
    scratch file gone after."""
    import tempfile

    import commands.export

    held = tmp_path / f"held.{style}"
    demo_sqlite_ledger.ok("export", "--format", style, "--output", str(held))
    monkeypatch.setattr(commands.export._ByDate, "KEPT", 3)  # every third entry spills to disk
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    spilled = tmp_path / f"spilled.{style}"
    demo_sqlite_ledger.ok("export", "--format", style, "--output", str(spilled))
    assert spilled.read_bytes() == held.read_bytes()
    assert demo_sqlite_ledger.ok("export", "--format", style).stdout == held.read_text(encoding="utf-8")
    assert list((tmp_path / "scratch").iterdir()) == [], "the scratch file is removed"
    assert len(_in_file_order(held.read_text(encoding="utf-8"))) > 10


def test_a_budget_plan_is_fava_budgets_on_its_lines_and_fava_speaks_chinese(
    demo_sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    from beancount.core.data import Custom, Transaction

    _, entries = _beancount(demo_sqlite_ledger, tmp_path)
    customs = [e for e in entries if isinstance(e, Custom)]
    assert [c.values[0].value for c in customs if c.type == "fava-option"] == ["language"]
    assert [c.values[1].value for c in customs if c.type == "fava-option"] == ["zh"]
    budgets = [c for c in customs if c.type == "budget"]
    planned = {c.values[0].value: Decimal(c.meta["plan"]) for c in budgets if "plan" in c.meta}
    # the demo's plan for G-YZ-2024-01 (003 表4-2): 地方财政 -> subsidy, 行业企业 -> matching
    assert planned == {
        "Expenses:B0001:TrainingSystem:Subsidy": Decimal("110000.00"),
        "Expenses:B0001:Cooperation:Subsidy": Decimal("50000.00"),
        "Expenses:B0001:Patterns:Subsidy": Decimal("40000.00"),
        "Expenses:B0001:TrainingSystem:Matching": Decimal("120000.00"),
        "Expenses:B0001:Cooperation:Matching": Decimal("80000.00"),
    }
    for c in budgets:
        _, period, amount = (v.value for v in c.values)
        assert period == "yearly" and amount.currency == "CNY"
        if "plan" in c.meta:  # the plan spread over the rest of its build period, to the fen
            start, end = (date.fromisoformat(d) for d in c.meta["build_period"].split(".."))
            assert (start, end) == (date(2024, 4, 1), date(2026, 3, 31))
            days = (end - max(start, c.date)).days + 1
            assert abs(amount.number * days / 365 - Decimal(c.meta["plan"])) < Decimal("0.01") * days / 365
        else:  # ended the day after the build period
            assert c.date == date(2026, 3, 31) + timedelta(days=1) and amount.number == 0
    ended = {c.values[0].value for c in budgets if "plan" not in c.meta}
    assert ended == planned.keys()
    # each budget account is the parent of the spending on its line, as Fava compares them
    spent_under = {
        p.account.rsplit(":", 1)[0]
        for e in entries
        if isinstance(e, Transaction)
        for p in e.postings
        if p.account.startswith("Expenses:B0001:")
    }
    assert spent_under <= planned.keys(), spent_under - planned.keys()


def test_each_transaction_is_tagged_with_its_grant_linked_by_its_voucher_and_receipts_have_a_payee(
    demo_sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    from beancount.core.data import Transaction

    _, entries = _beancount(demo_sqlite_ledger, tmp_path)
    txns = [e for e in entries if isinstance(e, Transaction)]
    assert txns
    by_link: dict[str, list[Any]] = {}
    for t in txns:
        assert t.tags == {t.meta["grant"]}, (t.tags, t.meta)  # the demo's grant ids are tags as they are
        (link,) = t.links
        assert link.startswith(t.meta["grant"] + "/")
        by_link.setdefault(link, []).append(t)
        receipt = any(p.account.startswith(("Income:", "Equity:")) and p.units.number < 0 for p in t.postings)
        if receipt:
            assert t.payee, t
    payees = {t.payee for t in txns if any(p.account.startswith("Income:B0001") for p in t.postings)}
    assert payees == {"渝中区财政局"}  # of the bodies approving G-YZ-2024-01, the one that pays, by name
    matching = {
        t.payee for t in txns if any(p.account.startswith("Equity:B0001:Matching") for p in t.postings)
    }
    assert matching == {"重庆市渝中区职业教育中心"}  # the funder that committed the matching funds
    # a spending and its reversal share their voucher's link, and no other transaction does
    reversals = [t for t in txns if t.narration.startswith("冲销")]
    assert reversals
    for r in reversals:
        (link,) = r.links
        assert len(by_link[link]) == 2 and {t.meta["voucher"] for t in by_link[link]} == {r.meta["voucher"]}
    vouchers = {(t.meta["grant"], t.meta["voucher"]) for t in txns}
    assert len({link for t in txns for link in t.links}) == len(vouchers)


def test_vouchers_alike_but_for_their_chinese_are_two_links(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """A link takes ASCII only: 记-1 and 付-1 must not both become the link 1."""
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "记-1", "--date", "2024-04-10")
    sqlite_ledger.ok("disburse", "G1", "--amount", "1万", "--voucher", "付-1", "--tranche", "2",
                     "--date", "2024-04-11")  # fmt: skip
    _, entries = _beancount(sqlite_ledger, tmp_path)
    links = [link for e in entries for link in getattr(e, "links", ())]
    assert len(links) == 2 and len(set(links)) == 2


def test_export_runs_in_a_process_of_its_own(demo_sqlite_ledger: Ledger) -> None:
    """`grant-ledger export` in a new process mapped every stored event, the people registry's
    too, whose classes such a process has not imported: TopicError, an internal error."""
    script = Path(sys.executable).with_name("grant-ledger")
    for fmt in ("csv", "beancount"):
        done = subprocess.run(
            [str(script), "--db", demo_sqlite_ledger.url, "export", "--format", fmt, "--codes"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "G-YZ-2024-01" in done.stdout


def test_free_text_content_a_budget_adjusted_and_a_late_plan_still_pass_bean_check(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """Spending on a content an earlier version kept as typed (an import's 实训基地建设), on none, and a plan
    adjusted after spending began: accounts bean-check accepts, budgets replaced on the
    adjustment's date, and the books still balance to the fen. (A plan has no line for a
    free-text content, so that spending is reversed the day it was spent, before the plan is
    registered: left standing, it would be refused as above a line of 0.00.)"""
    from beancount.core.data import Custom

    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    for voucher, content in (("S2", "实训基地建设"), ("S3", ""), ("S1", "training_system")):
        if (
            voucher == "S2"
        ):  # today a spend names one of 表4-2's contents (tests/test_construction_content.py)
            plant_spend(sqlite_ledger, voucher, "1000.00", content, date(2024, 5, 10))
            continue
        if voucher == "S1":  # once a plan exists, spending stays on its lines
            reverse = ["reverse", "G1", "--voucher", "S2", "--reason", "无预算明细"]
            sqlite_ledger.ok(*reverse, "--date", "2024-05-10")
            sqlite_ledger.ok("grant", "budget", "G1", "--line", "training_system:地方财政:10万",
                             "--line", "cooperation:地方财政:10万", "--date", "2024-04-12")  # fmt: skip
        sqlite_ledger.ok("spend", "G1", "--amount", "1000", "--category", "equipment", "--source", "subsidy",
                         "--content", content, "--voucher", voucher, "--date", "2024-05-10")  # fmt: skip
    sqlite_ledger.ok("grant", "adjust", "G1", "--line", "cooperation:地方财政:8万", "--line",
                     "patterns:地方财政:2万", "--approval", "渝人社〔2024〕9号", "--date", "2024-06-01",
                     role="approver")  # fmt: skip
    path, entries = _beancount(sqlite_ledger, tmp_path)
    check = shutil.which("bean-check") or str(Path(sys.executable).with_name("bean-check"))
    done = subprocess.run([check, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    text = path.read_text(encoding="utf-8")
    assert "Expenses:B0001:Unassigned:Subsidy:Equipment" in text
    assert re.search(r"Expenses:B0001:X-[0-9a-f]{8}:Subsidy:Equipment", text)
    plans = {
        (c.date, c.values[0].value): Decimal(c.meta["plan"])
        for c in entries
        if isinstance(c, Custom) and c.type == "budget" and "plan" in c.meta
    }
    adjusted = {account: plan for (on, account), plan in plans.items() if on == date(2024, 6, 1)}
    assert adjusted == {
        "Expenses:B0001:TrainingSystem:Subsidy": Decimal("100000.00"),
        "Expenses:B0001:Cooperation:Subsidy": Decimal("80000.00"),
        "Expenses:B0001:Patterns:Subsidy": Decimal("20000.00"),
    }
    dates = _in_file_order(text)
    assert dates == sorted(dates)


def test_hledger_reads_a_payee_and_a_voucher_holding_its_own_punctuation_as_typed(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """hledger's description has no escapes: a payee's ";" began a comment and its "|" split the
    payee from the note, and a voucher's "," ended its tag (a red-team pass). They are written in
    their full-width forms, and the rest of the line reads as before."""
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "T1", "--date", "2024-04-10")
    for voucher, payee in (
        ("P1", "重庆甲|乙设备公司"),
        ("P2,3", "重庆丙公司;分公司"),
        ("P4", "(退款)设备公司"),
    ):
        sqlite_ledger.ok("spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", voucher,
                         "--payee", payee, "--date", "2024-05-10")  # fmt: skip
    path = tmp_path / "books.journal"
    sqlite_ledger.ok("export", "--format", "hledger", "--output", str(path))
    heads = [line for line in path.read_text(encoding="utf-8").splitlines() if "voucher:P" in line]
    assert heads == [
        "2024-05-10 * 重庆甲｜乙设备公司 | equipment  ; grant:G1, voucher:P1",
        "2024-05-10 * 重庆丙公司；分公司 | equipment  ; grant:G1, voucher:P2，3",
        "2024-05-10 * （退款)设备公司 | equipment  ; grant:G1, voucher:P4",  # "(" opens a code
    ], heads
    if shutil.which("hledger"):
        done = subprocess.run(
            ["hledger", "-f", str(path), "payees"], capture_output=True, text=True, timeout=60, check=True
        )
        assert {"重庆甲｜乙设备公司", "重庆丙公司；分公司", "（退款)设备公司"} <= set(
            done.stdout.splitlines()
        ), done.stdout
