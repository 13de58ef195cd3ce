"""Budget lines by business date against a brute-force model, through the command line.

A budget line (003 第十条(一), 表4-2) holds at the end of every date: what is spent on it by then,
net of the reversals dated by then, stays within the plan as it stood that day (the registration
and the adjustments dated on or before it, as ``report budget --as-of`` reads them). Random plans
(of one content or both: a line the plan lacks is nil), adjustments, spends and reversals on one
approved grant, dated out of order inside a short window: the model keeps every accepted act and
recomputes each line on every date; a command is accepted iff no date from its own on ends above
its line (the ring-fence and the other rules pass), and ``report budget --as-of`` any date shows
what the model holds, never a planned line above its plan, with no finding.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from tests.conftest import Ledger, approved_district_grant, built, copy_of

APPROVED_ON = date(2024, 4, 1)
RECEIVED = Decimal("200000.00")
CONTENTS = ("training_system", "cooperation")
dates = st.integers(0, 20).map(lambda n: APPROVED_ON + timedelta(days=n))
amounts = st.integers(1, 3_000_000).map(lambda fen: Decimal(fen) / 100)
lines = st.integers(0, 60_000).map(lambda yuan: Decimal(yuan))


def template() -> Ledger:
    """G1 approved on 2024-04-01 for 200,000.00, all of it disbursed that day."""

    def build(ledger: Ledger) -> None:
        approved_district_grant(ledger)
        ledger.ok(
            "disburse", "G1", "--amount", "200000", "--voucher", "T1", "--date", APPROVED_ON.isoformat()
        )

    return built("sqlite", build)


class BudgetLineModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="budget-line-"))
        self.ledger = copy_of(template(), f"sqlite:///{self.dir / 'ledger.db'}")
        self.settings: list[tuple[date, dict[str, Decimal]]] = []  # the plan's, in the order recorded
        self.moves: list[tuple[str, date, Decimal]] = []  # (content, date, signed amount) accepted
        self.spends: dict[str, tuple[str, date, Decimal]] = {}
        self.reversed: set[str] = set()
        self.n = 0

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------ the model

    def plan(
        self, at: date, settings: list[tuple[date, dict[str, Decimal]]] | None = None
    ) -> dict[str, Decimal]:
        plan: dict[str, Decimal] = {}
        for on, lines in self.settings if settings is None else settings:
            if on <= at:
                plan.update(lines)
        return plan

    def spent(self, content: str, at: date, moves: list[tuple[str, date, Decimal]] | None = None) -> Decimal:
        moves = self.moves if moves is None else moves
        return sum((a for c, on, a in moves if c == content and on <= at), Decimal(0))

    def holds(
        self,
        moves: list[tuple[str, date, Decimal]],
        settings: list[tuple[date, dict[str, Decimal]]],
        since: date,
        contents: tuple[str, ...] = CONTENTS,
    ) -> str:
        """Brute force: every date from ``since`` to the window's end ends with the subsidy not
        below zero ("ring-fence" if one does) and within the lines ("budget line" if one does
        not; a line the plan lacks is nil once it has a plan); "" when every date holds."""
        at = since
        while at <= APPROVED_ON + timedelta(days=31):
            if sum((a for _, on, a in moves if on <= at), Decimal(0)) > RECEIVED:
                return "ring-fence"
            at += timedelta(days=1)
        at = since
        while at <= APPROVED_ON + timedelta(days=31):
            plan = self.plan(at, settings)
            for content in contents:
                line = plan.get(f"{content}/local_finance", Decimal(0))
                if plan and self.spent(content, at, moves) > line:
                    return "budget line"
            at += timedelta(days=1)
        return ""

    def voucher(self) -> str:
        self.n += 1
        return f"V{self.n}"

    def expect(self, broken: str, *args: str, role: str = "officer") -> None:
        """The command is accepted if ``broken`` is "", else refused by that rule, writing nothing."""
        before = self.ledger.event_count()
        result = self.ledger(*args, role=role)
        state = (self.settings, self.moves)
        assert result.exit_code == (3 if broken else 0), (args, result.exit_code, result.stderr, state)
        assert self.ledger.event_count() == before + (0 if broken else 2)  # the act and its seal
        assert f"— {broken}, " in result.stderr if broken else not result.stderr, (broken, result.stderr)

    def check_report(self, at: date) -> None:
        out = self.ledger.ok("report", "budget", "B0001", "--format", "json", "--as-of", at.isoformat())
        shown = {
            row["content"]: (row["planned"], Decimal(row["spent"]))
            for row in json.loads(out.stdout)
            if row.get("grant_id") == "G1"
        }
        plan = self.plan(at)
        for content in CONTENTS:
            planned = plan.get(f"{content}/local_finance")
            spent = self.spent(content, at)
            if planned is None and not spent and content not in shown:
                continue
            got_plan, got_spent = shown[content]
            assert got_spent == spent and (got_plan is None) == (planned is None), (content, at, shown)
            if planned is not None:
                assert Decimal(got_plan) == planned and got_spent <= planned, (content, at, shown)

    # ------------------------------------------------------------------ acts

    @precondition(lambda self: not self.settings)
    @rule(on=dates, first=lines, second=lines, named=st.sets(st.sampled_from(CONTENTS), min_size=1))
    def register(self, on: date, first: Decimal, second: Decimal, named: set[str]) -> None:
        """A plan naming one content leaves the other's line at nil (refused if spent on by then)."""
        setting = {
            f"{content}/local_finance": value
            for content, value in zip(CONTENTS, (first, second), strict=True)
            if content in named
        }
        broken = self.holds(self.moves, [(on, setting)], on)
        args = ["grant", "budget", "G1", "--date", on.isoformat()]
        for key, value in setting.items():
            content = key.split("/")[0]
            args += ["--line", f"{content}:地方财政:{value}"]
        self.expect(broken, *args)
        if not broken:
            self.settings.append((on, setting))
        self.check_report(on)

    @precondition(lambda self: bool(self.settings))
    @rule(on=dates, content=st.sampled_from(CONTENTS), value=lines)
    def adjust(self, on: date, content: str, value: Decimal) -> None:
        setting = {f"{content}/local_finance": value}
        window = (on + timedelta(days=n) for n in range((APPROVED_ON + timedelta(days=31) - on).days + 1))
        if all(self.plan(at).get(f"{content}/local_finance") == value for at in window):
            # already so on every date from its own on: a repeat, nothing recorded
            before = self.ledger.event_count()
            args = ["grant", "adjust", "G1", "--line", f"{content}:地方财政:{value}", "--approval", "批"]
            done = self.ledger(*args, "--date", on.isoformat(), role="approver")
            assert done.exit_code == 0 and "already recorded" in done.stdout, (done.stdout, done.stderr)
            assert self.ledger.event_count() == before
            return
        broken = "budget first" if on < self.settings[0][0] else ""  # dated before the plan it changes
        broken = broken or self.holds(self.moves, [*self.settings, (on, setting)], on)
        args = [
            "grant",
            "adjust",
            "G1",
            "--line",
            f"{content}:地方财政:{value}",
            "--approval",
            self.voucher(),
        ]
        self.expect(broken, *args, "--date", on.isoformat(), role="approver")
        if not broken:
            self.settings.append((on, setting))
        self.check_report(on)

    @rule(amount=amounts, on=dates, content=st.sampled_from(CONTENTS))
    def spend(self, amount: Decimal, on: date, content: str) -> None:
        moves = [*self.moves, (content, on, amount)]
        broken = self.holds(moves, self.settings, on)
        v = self.voucher()
        args = ["spend", "G1", "--amount", str(amount), "--category", "equipment", "--content", content]
        self.expect(broken, *args, "--voucher", v, "--date", on.isoformat())
        if not broken:
            self.spends[v] = (content, on, amount)
            self.moves = moves
        self.check_report(on)

    @precondition(lambda self: len(self.spends) > len(self.reversed))
    @rule(data=st.data(), later=st.integers(0, 10))
    def reverse(self, data: st.DataObject, later: int) -> None:
        voucher = data.draw(st.sampled_from(sorted(set(self.spends) - self.reversed)))
        content, spent_on, amount = self.spends[voucher]
        on = spent_on + timedelta(days=later)
        self.expect("", "reverse", "G1", "--voucher", voucher, "--reason", "错账", "--date", on.isoformat())
        self.reversed.add(voucher)
        self.moves.append((content, on, -amount))
        self.check_report(on)

    @rule(on=dates)
    def look(self, on: date) -> None:
        """Any date's budget report is the model's, and the judge finds nothing to flag."""
        self.check_report(on)
        out = self.ledger.ok("report", "findings", "--format", "json")
        assert [f for f in json.loads(out.stdout) if f["rule"] == "budget line"] == []


BudgetLineModel.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_budget_lines_match_a_brute_force_model = pytest.mark.slow(BudgetLineModel.TestCase)
