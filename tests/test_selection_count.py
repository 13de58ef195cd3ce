"""002 二: a round selects 3 national bases, 8 funded and 8 named municipal ones. An approval past
that count, in the order the round's approvals were made (by date, then as recorded), is a
finding on it in `report findings`, dated by the approval; a count of another programme or an
earlier day is not touched by it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import CITY_BODIES, Ledger, selected
from tests.test_application_conditions import install_version
from tests.test_core_rules import refused
from tests.test_programme_rules import apply_args, approve_municipal, findings, recommend, register

FIVE = ("电工", "焊工", "钳工", "车工", "数控车工")


def _national(ledger: Ledger, n: int, day: str, *approving: str) -> None:
    """N{n} applied for by U{n}, reviewed and noticed, recommended by a body of its own (002 五(一):
    one national base per recommender and round) and approved on ``day`` (``approving``: more of
    `grant approve`'s options)."""
    _ready(ledger, n)
    ledger.ok(*_approval(n, day), *approving, role="approver")


def _ready(ledger: Ledger, n: int) -> None:
    grant, unit, body = f"N{n}", f"U{n}", f"REC-{n}"
    register(ledger, unit, "enterprise")
    ledger.ok(*apply_args(grant, unit, f"B-{grant}", "national_base", *FIVE), "--amount", "100万",
              "--date", "2024-03-01")  # fmt: skip
    selected(ledger, grant)
    ledger.ok("body", "add", body, "--name", f"推荐单位{n}", "--kind", "sector_authority", "--duty", "sector",
              "--date", "2024-01-02", role="admin")  # fmt: skip
    ledger.ok("grant", "recommend", grant, "--by", body, "--round", "2024", "--date", "2024-03-05",
              role="approver")  # fmt: skip


def _approval(n: int, day: str) -> tuple[str, ...]:
    return (
        "grant",
        "approve",
        f"N{n}",
        "--amount",
        "100万",
        "--document",
        f"D{n}",
        *CITY_BODIES,
        "--date",
        day,
    )


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
    assert said == "补助项目 N4 是 2024 年度第 4 个获批的国家级高技能人才培训基地；该年度遴选 3 个"


def _install(
    ledger: Ledger, tmp_path: Path, text: str, today: str, monkeypatch: pytest.MonkeyPatch
) -> Result:
    path = tmp_path / "v2-2024.toml"
    path.write_text(text, encoding="utf-8")
    return install_version(ledger, path, today, monkeypatch)


def _version(effective_from: str, national: str | None) -> str:
    """The shipped text as version 2026.1 in force from ``effective_from``, its national count
    table replaced by ``national`` (None: left out)."""
    text = (resources.files("ledger") / "policy" / "v1-2023.toml").read_text("utf-8")
    start, end = text.index("[selection.national_base]\n"), text.index("[selection.municipal_base_funded]\n")
    assert 'version = "2023.1"' in text
    text = text[:start] + (national or "") + "\n" + text[end:]
    text = text.replace('version = "2023.1"', 'version = "2026.1"')
    return text.replace("effective_from = 2023-03-15\n", f"effective_from = {effective_from}\n", 1)


def test_a_later_version_stating_no_count_leaves_the_earlier_rounds_findings(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version of another round (a later notice selecting no national bases) does not drop the
    2024 round's count: the red-team pass's N4, flagged on 2025-12-31, was gone on 2026-06-30."""
    rule = "selection count"
    for n, day in ((1, "2024-04-01"), (2, "2024-04-02"), (3, "2024-04-03"), (4, "2024-04-04")):
        _national(sqlite_ledger, n, day)
    assert (
        _install(sqlite_ledger, tmp_path, _version("2026-01-01", None), "2025-12-01", monkeypatch).exit_code
        == 0
    )
    monkeypatch.setenv("GRANT_LEDGER_TODAY", "2026-12-31")
    assert [row[0] for row in _counted(sqlite_ledger, rule, "2025-12-31")] == ["N4"]
    assert [row[0] for row in _counted(sqlite_ledger, rule, "2026-06-30")] == ["N4"]


def test_a_count_a_version_installed_mid_round_states_judges_the_approvals_after_it(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version in force from 2024-05-01 says the 2024 round selects 4: the fourth approval,
    made under it, is within the count and the fifth past it, though all five were applied for
    under the version saying 3."""
    rule = "selection count"
    four = '[selection.national_base]\ncount = 4\nclause = "national_count"\n'
    assert (
        _install(sqlite_ledger, tmp_path, _version("2024-05-01", four), "2024-04-15", monkeypatch).exit_code
        == 0
    )
    monkeypatch.setenv("GRANT_LEDGER_TODAY", "2024-12-31")
    for n in range(1, 6):
        _national(sqlite_ledger, n, f"2024-08-0{n}")
    assert [(row[0], row[3].split("; ")[-1]) for row in _counted(sqlite_ledger, rule, "2024-12-31")] == [
        ("N5", "the round selects 4")
    ]


def test_a_version_counting_a_programme_it_does_not_name_is_refused(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    typo = '[selection.national_bse]\ncount = 3\nclause = "national_count"\n'
    before = sqlite_ledger.event_count()
    result = _install(sqlite_ledger, tmp_path, _version("2027-01-01", typo), "2026-12-01", monkeypatch)
    assert result.exit_code == 2 and "[selection.national_bse] names no programme" in result.stderr, (
        result.stderr
    )
    assert result.stderr.count("\n") == 1 and sqlite_ledger.event_count() == before


def test_a_national_base_is_counted_by_its_tier_too(ledger: Ledger) -> None:
    """002 二(一): of the 3, A or B 2 and C or D 1. The third of A or B is past its tiers' count
    though within the round's 3; the fourth, of C, is past the 3. A tier the programme does not
    have, or a tier for a programme without tiers, is refused with nothing written."""
    rule = "selection count"
    _ready(ledger, 9)
    said = refused(ledger, *_approval(9, "2024-04-09"), "--tier", "E", role="approver", clause="002 二(一)")
    assert "tier E is none of the national_base's tiers A, B, C, D" in said
    for n, tier in ((1, "A"), (2, "B"), (3, "A"), (4, "C")):
        _national(ledger, n, f"2024-04-0{n}", "--tier", tier)
    found = _counted(ledger, rule, "2024-06-30")
    assert [(row[0], row[2]) for row in found] == [("N3", "2024-04-03"), ("N4", "2024-04-04")]
    national = "a national_base (国家级高技能人才培训基地) in round 2024"
    assert found[0][3] == f"grant N3 is approval 3 of tier A or B of {national}; the round selects 2 of them"
    assert found[1][3] == f"grant N4 is approval 4 of {national}; the round selects 3"
    register(ledger, "U8", "enterprise")
    ledger.ok(*apply_args("M8", "U8", "M-M8", "municipal_base_funded", "a", "b"), "--amount", "50万",
              "--date", "2024-02-01")  # fmt: skip
    selected(ledger, "M8")
    recommend(ledger, "M8")
    said = refused(ledger, "grant", "approve", "M8", "--amount", "50万", "--document", "D", *CITY_BODIES,
                   "--tier", "A", "--date", "2024-04-01", role="approver", clause="002 二(一)")  # fmt: skip
    assert "grant M8 is a municipal_base_funded, which has no tiers: approve it without --tier" in said


def test_an_approval_naming_its_tier_is_exported_and_verified(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """The tier is a field of the approval event: the auditor's verifier replays it as any other."""
    _national(sqlite_ledger, 1, "2024-04-01", "--tier", "B")
    sqlite_ledger.ok("audit", "checkpoint", role="approver")
    bundle = tmp_path / "bundle"
    sqlite_ledger.ok("audit", "export", str(bundle), role="auditor")
    approved = [
        line for line in (bundle / "events.jsonl").read_text("utf-8").splitlines() if "Grant.Approved" in line
    ]
    assert len(approved) == 1 and '"tier":"B"' in approved[0].replace(" ", "")
    result = sqlite_ledger("audit", "verify", str(bundle), "--root", str(sqlite_ledger.root), role="auditor")
    assert result.exit_code == 0, result.stdout + result.stderr


def _municipal(ledger: Ledger, n: int, day: str, track: str) -> None:
    """M{n}, a funded municipal base of kind ``track``, recommended by a body of its own and
    approved on ``day``."""
    grant, unit, body = f"M{n}", f"UM{n}", f"REC-M{n}"
    register(ledger, unit, "enterprise")
    ledger.ok(*apply_args(grant, unit, f"M-{grant}", "municipal_base_funded", "a", "b"), "--amount", "50万",
              "--track", track, "--date", "2024-02-01")  # fmt: skip
    selected(ledger, grant)
    ledger.ok("body", "add", body, "--name", f"推荐单位M{n}", "--kind", "sector_authority",
              "--duty", "sector", "--date", "2024-01-02", role="admin")  # fmt: skip
    ledger.ok("grant", "recommend", grant, "--by", body, "--round", "2024", "--rank", "1",
              "--date", "2024-03-05", role="approver")  # fmt: skip
    ledger.ok("grant", "approve", grant, "--amount", "50万", "--document", f"DM{n}", *CITY_BODIES,
              "--date", day, role="approver")  # fmt: skip


def test_a_municipal_base_is_counted_by_its_kind_too(sqlite_ledger: Ledger) -> None:
    """002 二(二): of the 8, 国际合作类 2, 数字技能类 3, 其他类 3. The third international base (the
    fourth approved) is past its kind's count though within the 8; a kind on a programme without
    kinds is refused."""
    rule = "selection count"
    for n, track in ((1, "international"), (2, "digital"), (3, "international"), (4, "international")):
        _municipal(sqlite_ledger, n, f"2024-04-0{n}", track)
    found = _counted(sqlite_ledger, rule, "2024-06-30")
    funded = "a municipal_base_funded (市级高技能人才培训基地（资金补助类）) in round 2024"
    assert [(row[0], row[1], row[3]) for row in found] == [
        ("M4", "002 二(二)1", f"grant M4 is approval 3 of kind international cooperation of {funded}; "
                             "the round selects 2 of them"),
    ]  # fmt: skip
    sqlite_ledger.lang = "zh"
    try:
        (said,) = [row[3] for row in _counted(sqlite_ledger, rule, "2024-06-30", "M-M4")]
    finally:
        sqlite_ledger.lang = "en"
    kind = "国际合作类市级高技能人才培训基地（资金补助类）"
    assert said == f"补助项目 M4 是 2024 年度第 3 个获批的{kind}；该年度此类遴选 2 个"
    register(sqlite_ledger, "U9", "enterprise")
    said = refused(sqlite_ledger, *apply_args("N9", "U9", "B-N9", "national_base", *FIVE),
                   "--amount", "100万", "--track", "digital", "--date", "2024-03-01",
                   clause="002 二(")  # fmt: skip
    assert "grant N9 is a national_base, which has no kinds: apply without --track" in said


def test_an_approval_or_application_typed_again_with_another_tier_or_kind_is_refused(
    sqlite_ledger: Ledger,
) -> None:
    """The third red-team pass: typed again with another tier, or none, an approval had been taken
    for the one recorded ("already approved", exit 0), and an application with another kind the
    same. Now the same command is a repeat and another is refused, exit 5, nothing written."""
    _national(sqlite_ledger, 1, "2024-04-01", "--tier", "A")
    again = _approval(1, "2024-04-01")
    assert "already" in sqlite_ledger.ok(*again, "--tier", "A", role="approver").stdout
    for other in (("--tier", "C"), ()):
        said = refused(sqlite_ledger, *again, *other, role="approver", code=5)
        assert "grant N1 is already approved with tier A" in said
    said = refused(sqlite_ledger, *again, "--tier", "E", role="approver", clause="002 二(一)")
    assert "tier E is none of the national_base's tiers" in said
    _municipal(sqlite_ledger, 1, "2024-04-02", "digital")
    applied = (*apply_args("M1", "UM1", "M-M1", "municipal_base_funded", "a", "b"), "--amount", "50万")
    assert "already" in sqlite_ledger.ok(*applied, "--track", "digital", "--date", "2024-02-01").stdout
    said = refused(sqlite_ledger, *applied, "--track", "other", "--date", "2024-02-01", code=5)
    assert "grant M1 is already recorded" in said


def test_the_web_overview_counts_an_approval_recorded_after_it_was_last_shown(sqlite_ledger: Ledger) -> None:
    """The overview keeps the round's count between requests (counting every grant's approvals
    took most of the page on a ledger of many bases); an approval recorded since, by the command
    line, is counted at the next request, as `report findings` counts it."""
    from starlette.testclient import TestClient

    from commands.web.app import create_app
    from tests.test_web import PASSWORD, Clock, cells, set_password, sign_in

    for n in (1, 2, 3):
        _national(sqlite_ledger, n, f"2024-04-0{n}")
    _ready(sqlite_ledger, 4)
    assert set_password(sqlite_ledger, "tester", PASSWORD, "officer").exit_code == 0
    today = "2026-12-31"
    with TestClient(create_app(sqlite_ledger.url, clock=Clock())) as client:
        sign_in(client)
        before = cells(client.get("/?lang=en").text, "N4")
        assert before["findings"] == "0", before  # applied for, not yet approved
        for _ in range(2):  # shown again, with nothing new: the same
            assert cells(client.get("/?lang=en").text, "N4") == before
        sqlite_ledger.ok(*_approval(4, "2024-04-04"), role="approver")
        after = cells(client.get("/?lang=en").text, "N4")
    counted = _counted(sqlite_ledger, "selection count", today)
    assert [g for g, *_ in counted] == ["N4"]
    reported = [f for f in findings(sqlite_ledger, today) if f["grant_id"] == "N4"]
    assert after["findings"] == str(len(reported)) != "0"


def test_a_version_another_process_installs_judges_the_running_web_server_too(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An administrator installs, from the command line (a process of its own), a version saying
    the round selects 4 from 2024-08-01: the web server that was running finds the fourth approval
    within the count, as `report findings` does, without a restart (it had gone on judging by
    the versions it read when it opened the ledger)."""
    import os
    import subprocess
    import sys

    from starlette.testclient import TestClient

    from commands.web.app import create_app
    from tests.conftest import KEYRING
    from tests.test_web import PASSWORD, Clock, cells, set_password, sign_in

    for n in (1, 2, 3, 4):
        _national(sqlite_ledger, n, f"2024-08-0{n}")
    assert set_password(sqlite_ledger, "tester", PASSWORD, "officer").exit_code == 0
    four = _version("2024-08-01", '[selection.national_base]\ncount = 4\nclause = "national_count"\n')
    path = tmp_path / "v2-2024.toml"
    path.write_text(four, encoding="utf-8")
    monkeypatch.setenv("GRANT_LEDGER_TODAY", "2024-12-31")
    assert sqlite_ledger.root is not None
    admin = ["--db", sqlite_ledger.url, "--key", str(KEYRING[sqlite_ledger.root]["admin"]), "--role", "admin"]
    with TestClient(create_app(sqlite_ledger.url, clock=Clock())) as client:
        sign_in(client)
        assert cells(client.get("/?lang=en").text, "N4")["findings"] == "1"  # the fourth of 3
        installed = subprocess.run(
            [
                sys.executable,
                "-c",
                "from commands.cli import main; main()",
                *admin,
                "policy",
                "install",
                str(path),
            ],
            env={**os.environ, "GRANT_LEDGER_TODAY": "2024-07-15"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert installed.returncode == 0, installed.stderr
        assert cells(client.get("/?lang=en").text, "N4")["findings"] == "0"
    assert _counted(sqlite_ledger, "selection count", "2024-12-31") == []
