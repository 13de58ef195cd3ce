"""002 二: a round selects 3 national bases, 8 funded and 8 named municipal ones. An approval past
that count, in the order the round's approvals were made (by date, then as recorded), is a
finding on it in `report findings`, dated by the approval; a count of another programme or an
earlier day is not touched by it."""

from __future__ import annotations

from tests.conftest import CITY_BODIES, Ledger, selected
from tests.test_programme_rules import apply_args, approve_municipal, findings, register

FIVE = ("电工", "焊工", "钳工", "车工", "数控车工")


def _national(ledger: Ledger, n: int, day: str) -> None:
    """N{n} applied for by U{n}, reviewed and noticed, recommended by a body of its own (002 五(一):
    one national base per recommender and round) and approved on ``day``."""
    grant, unit, body = f"N{n}", f"U{n}", f"REC-{n}"
    register(ledger, unit, "enterprise")
    ledger.ok(*apply_args(grant, unit, f"B-{grant}", "national_base", *FIVE), "--amount", "100万",
              "--date", "2024-03-01")  # fmt: skip
    selected(ledger, grant)
    ledger.ok("body", "add", body, "--name", f"推荐单位{n}", "--kind", "sector_authority", "--duty", "sector",
              "--date", "2024-01-02", role="admin")  # fmt: skip
    ledger.ok("grant", "recommend", grant, "--by", body, "--round", "2024", "--date", "2024-03-05",
              role="approver")  # fmt: skip
    ledger.ok("grant", "approve", grant, "--amount", "100万", "--document", f"D{n}", *CITY_BODIES,
              "--date", day, role="approver")  # fmt: skip


def _counted(ledger: Ledger, rule: str, day: str, *bases: str) -> list[tuple[str, str, str, str]]:
    found = findings(ledger, day) if not bases else _findings_of(ledger, day, bases)
    return [
        (f["grant_id"], f["clause"], f["date"], f["message"]) for f in found if f["rule"] == "selection count"
    ]


def _findings_of(ledger: Ledger, day: str, bases: tuple[str, ...]) -> list[dict[str, str]]:
    import json

    return json.loads(ledger.ok("report", "findings", *bases, "--as-of", day, "--format", "json").stdout)


def test_an_approval_past_the_count_a_round_selects_is_a_finding(ledger: Ledger) -> None:
    rule = "selection count"  # as `report findings` names it
    # the fourth and fifth approved the same day: the fifth recorded after the fourth
    for n, day in (
        (1, "2024-04-01"),
        (2, "2024-04-02"),
        (3, "2024-04-03"),
        (4, "2024-04-04"),
        (5, "2024-04-04"),
    ):
        _national(ledger, n, day)
    register(ledger, "U9", "enterprise")
    approve_municipal(ledger, "M1", "U9")  # another programme, its own count of 8
    assert _counted(ledger, rule, "2024-04-03") == []
    past = "of a national_base (国家级高技能人才培训基地) in round 2024; the round selects 3"
    assert _counted(ledger, rule, "2024-06-30") == [
        ("N4", "002 二(一)", "2024-04-04", f"grant N4 is approval 4 {past}"),
        ("N5", "002 二(一)", "2024-04-04", f"grant N5 is approval 5 {past}"),
    ]
    # a report of some bases counts every base's approvals
    assert [row[0] for row in _counted(ledger, rule, "2024-06-30", "B-N5")] == ["N5"]
    assert _counted(ledger, rule, "2024-06-30", "B-N1", "M-M1") == []
    ledger.lang = "zh"
    try:
        (said,) = [row[3] for row in _counted(ledger, rule, "2024-06-30", "B-N4")]
    finally:
        ledger.lang = "en"
    assert (
        said
        == "补助项目 N4 是 2024 年度第 4 个获批的国家级高技能人才培训基地（national_base）；该年度遴选 3 个"
    )
