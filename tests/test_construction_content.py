"""A spend names its construction content by one of 表4-2's (003), or names none. A content the
ledger does not know was kept as typed while the grant had no plan, and then no plan could ever be
registered: a plan is refused below what is spent on each line, and no line can name it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.conftest import Ledger, approved_district_grant
from tests.test_budget_line_dates import HEADER
from tests.test_one_rulebook import plant_spend

SPEND = ["spend", "G1", "--amount", "9000", "--category", "equipment", "--date", "2024-04-12"]
PLAN = ["grant", "budget", "G1", "--date", "2024-04-20", "--line", "training_system:地方财政:20万"]


def _funded(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "20万", "--voucher", "T1", "--date", "2024-04-10")


def test_an_unknown_content_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    _funded(ledger)
    before, books = ledger.event_count(), ledger.ok("balance", "B0001").stdout
    for typed in ("traning_system", "培训体系", "training system"):
        refused = ledger(*SPEND, "--voucher", "K1", "--content", typed)
        assert refused.exit_code == 3, refused.stderr
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert f"construction content {typed!r} is unknown" in refused.stderr
        assert "training_system, cooperation, patterns" in refused.stderr
        assert " — construction content, 003 第十条(一)" in refused.stderr, refused.stderr
    # an import row is judged by the same rule, and the whole file writes nothing
    path = tmp_path / "spending.csv"
    path.write_text(
        f"{HEADER}\n2024-04-11,,B0001,G1,,spend,100,subsidy,equipment,training_system,K0,,\n"
        "2024-04-12,,B0001,G1,,spend,9000,subsidy,equipment,traning_system,K1,,\n"
    )
    refused = ledger("import", str(path))
    assert refused.exit_code == 3 and "'traning_system' is unknown" in refused.stderr, refused.stderr
    assert refused.stderr.startswith("spending.csv:3: construction content"), refused.stderr
    assert ledger.event_count() == before
    assert ledger.ok("balance", "B0001").stdout == books
    # by its code, its Chinese label or its English one: stored under the code, and the plan holds it
    for voucher, typed in (("K1", "training_system"), ("K2", "构建完善的高技能人才培训体系"),
                           ("K3", "A Complete High-Skill Training System")):  # fmt: skip
        ledger.ok(*SPEND, "--voucher", voucher, "--content", typed)
    ledger.ok(*SPEND, "--voucher", "K4")  # no content while there is no plan
    refused = ledger(*PLAN[:-1], "training_system:地方财政:26999.99")
    assert refused.exit_code == 3 and "27,000.00 spent on it" in refused.stderr, refused.stderr
    ledger.ok(*PLAN)
    budget = ledger.ok("report", "budget", "--format", "csv").stdout
    assert "27000.00" in budget, budget


def test_a_content_an_earlier_version_kept_as_typed_is_a_finding_is_repeated_and_reversed(
    ledger: Ledger,
) -> None:
    """Stored before this rule: a finding, typing the same spend again records nothing new, and
    reversing it lets the plan be registered."""
    import json

    _funded(ledger)
    plant_spend(ledger, "K1", "9000.00", "培训体系", date(2024, 4, 12))
    found = json.loads(ledger.ok("report", "findings", "--format", "json", "--as-of", "2024-04-30").stdout)
    assert [(f["rule"], f["date"], "'培训体系' is unknown" in f["message"]) for f in found][:1] == [
        ("construction content", "2024-04-12", True)
    ], found
    before = ledger.event_count()
    ledger.ok(*SPEND, "--voucher", "K1", "--source", "subsidy", "--content", "培训体系")
    assert ledger.event_count() == before
    refused = ledger(*PLAN)
    assert refused.exit_code == 3 and "培训体系" in refused.stderr, refused.stderr
    ledger.ok("reverse", "G1", "--voucher", "K1", "--reason", "建设内容错记", "--date", "2024-04-13")
    ledger.ok(*PLAN)
    ledger.ok(*SPEND, "--voucher", "K2", "--content", "training_system")
    assert "191,000.00" in ledger.ok("balance", "B0001").stdout
