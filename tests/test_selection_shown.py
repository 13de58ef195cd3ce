"""A national base's tier and a municipal base's kind (002 二) where people read them and where
files carry them: `grant list`, `history`, the web's grant page, and the import format's optional
``tier`` (档次) and ``track`` (基地类别) columns, which `export` writes and `import` reads back, judged
by the same rules as `grant approve --tier` and `grant apply --track`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import Ledger
from tests.importdata import HEADER
from tests.test_selection_count import _counted, _municipal, _national

NATIONAL = "national_base"
FUNDED = "municipal_base_funded"


def _row(day: str, n: str, programme: str, amount: str, tier: str = "", track: str = "") -> str:
    return f"{day},U{n},B{n},{n},{programme},approve,{amount},,,,批{n}号,单位{n},,,{tier},{track}"


def _file(tmp_path: Path, *lines: str, name: str = "approvals.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([f"{HEADER},district,tier,track,applied", *lines]) + "\n", encoding="utf-8")
    return path


def _verified(ledger: Ledger, tmp_path: Path) -> None:
    """A checkpoint signed, the bundle exported and verified against the trust root: it passes."""
    ledger.ok("audit", "checkpoint", role="approver")
    bundle = tmp_path / "bundle"
    ledger.ok("audit", "export", str(bundle), role="auditor")
    verified = ledger("audit", "verify", str(bundle), "--root", str(ledger.root), role="auditor")
    assert verified.exit_code == 0, verified.stdout + verified.stderr


def _listed(ledger: Ledger) -> dict[str, tuple[str, str]]:
    found = json.loads(ledger.ok("grant", "list", "--format", "json").stdout)
    return {g["grant_id"]: (g["tier"], g["track"]) for g in found}


def test_imported_approvals_name_their_tier_and_kind_and_are_counted_by_them(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Of a round's 3 national bases A or B may be 2 (002 二(一)): the third A, imported, is a
    finding as one typed at `grant approve --tier A` is; an imported municipal base keeps its kind."""
    path = _file(
        tmp_path,
        _row("2024-04-01", "N1", NATIONAL, "1000000", tier="A"),
        _row("2024-04-02", "N2", NATIONAL, "1000000", tier="B"),
        _row("2024-04-03", "N3", NATIONAL, "1000000", tier="A"),
        _row("2024-04-04", "M1", FUNDED, "500000", track="digital"),
        _row("2024-04-05", "M2", FUNDED, "500000"),
    )
    ledger.ok("import", str(path), role="approver")
    assert _listed(ledger) == {
        "N1": ("A", ""), "N2": ("B", ""), "N3": ("A", ""), "M1": ("", "digital"), "M2": ("", ""),
    }  # fmt: skip
    found = _counted(ledger, "selection count", "2024-06-30")
    assert [(g, clause) for g, clause, _day, _said in found] == [("N3", "002 二(一)")]
    assert "grant N3 is approval 3 of tier A or B" in found[0][3]
    # the same file again is a repeat; its tier retyped is refused as grant approve refuses it
    assert "already" in ledger.ok("import", str(path), role="approver").stdout
    before = ledger.event_count()
    retyped = _file(tmp_path, _row("2024-04-01", "N1", NATIONAL, "1000000", tier="C"), name="retyped.csv")
    result = ledger("import", str(retyped), role="approver")
    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert "grant N1 is already approved with tier A; this approval names C" in result.stderr
    assert ledger.event_count() == before


@pytest.mark.parametrize("jobs", ["1", "2"])  # the rows checked in this process, or in a second one
def test_an_import_row_with_a_tier_or_kind_its_programme_has_not_refuses_the_file(
    ledger: Ledger, tmp_path: Path, jobs: str
) -> None:
    path = _file(
        tmp_path,
        _row("2024-04-01", "N1", NATIONAL, "1000000", tier="A"),
        _row("2024-04-02", "N2", NATIONAL, "1000000", tier="E"),
        _row("2024-04-03", "N3", NATIONAL, "1000000", track="digital"),
        _row("2024-04-04", "M1", FUNDED, "500000", tier="A"),
        _row("2024-04-05", "M2", FUNDED, "500000", track="space"),
    )
    before = ledger.event_count()
    result = ledger("import", "--jobs", jobs, str(path), role="approver")
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    bad = {line.split(":")[1]: line for line in lines if line.startswith("approvals.csv:")}
    assert sorted(bad) == ["3", "4", "5", "6"]
    assert "tier E is none of the national_base's tiers" in bad["3"] and "002 二(一)" in bad["3"]
    assert "grant N3 is a national_base, which has no kinds" in bad["4"]
    assert "grant M1 is a municipal_base_funded, which has no tiers" in bad["5"]
    assert "space" in bad["6"] and "002 二(二)" in bad["6"]
    assert "nothing was imported" in result.stderr
    assert ledger.event_count() == before


def test_the_export_carries_tier_and_kind_and_imports_back(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """Typed at the command line, exported in the import format, imported into another ledger:
    the same tier and kind, and the same finding of the count."""
    from commands.export import _WIDTH
    from ledger.import_format import EXPORTED

    assert _WIDTH == len(EXPORTED) and EXPORTED[-4:] == ("tier", "track", "applied", "project")
    _national(sqlite_ledger, 1, "2024-04-01", "--tier", "C")
    _national(sqlite_ledger, 2, "2024-04-02", "--tier", "D")
    _municipal(sqlite_ledger, 1, "2024-04-03", "international")
    path = tmp_path / "books.csv"
    sqlite_ledger.ok("export", "--format", "csv", "--output", str(path))
    other = Ledger(f"sqlite:///{tmp_path / 'other.db'}", CliRunner())
    other.import_ok(path)
    assert _listed(other) == _listed(sqlite_ledger) == {
        "N1": ("C", ""), "N2": ("D", ""), "M1": ("", "international"),
    }  # fmt: skip
    said = [(g, clause) for g, clause, _day, _m in _counted(other, "selection count", "2024-06-30")]
    assert said == [(g, c) for g, c, _d, _m in _counted(sqlite_ledger, "selection count", "2024-06-30")]
    assert said == [("N2", "002 二(一)")]  # C or D: 1
    # the Chinese header names them too
    zh = tmp_path / "books-zh.csv"
    sqlite_ledger.ok("--lang", "zh", "export", "--format", "csv", "--output", str(zh))
    assert zh.read_text("utf-8-sig").splitlines()[0].endswith(",区县,档次,基地类别,申报日期,专业（项目）")


def test_list_history_and_the_grant_page_show_the_tier_and_kind(sqlite_ledger: Ledger) -> None:
    _national(sqlite_ledger, 1, "2024-04-01", "--tier", "B")
    _municipal(sqlite_ledger, 1, "2024-04-02", "digital")
    table = sqlite_ledger.ok("grant", "list").stdout
    header, _rule, *lines = table.splitlines()
    assert header.split()[-2:] == ["tier", "kind"]
    assert {line.split()[0]: line for line in lines}["M1"].rstrip().endswith("digital skills")
    assert {line.split()[0]: line for line in lines}["N1"].rstrip().split()[-1] == "B"
    sqlite_ledger.lang = "zh"
    try:
        zh = sqlite_ledger.ok("grant", "list").stdout
        approved = sqlite_ledger.ok("history", "N1").stdout
        applied = sqlite_ledger.ok("history", "M1").stdout
    finally:
        sqlite_ledger.lang = "en"
    assert "档次" in zh.splitlines()[0] and "数字技能" in zh
    assert "档次 B" in approved and "类别 数字技能" in applied
    assert "tier B" in sqlite_ledger.ok("history", "N1").stdout
    assert "kind digital skills" in sqlite_ledger.ok("history", "M1").stdout
    assert "tier" not in sqlite_ledger.ok("history", "M1").stdout


def test_the_web_grant_page_shows_the_tier_and_kind(sqlite_ledger: Ledger) -> None:
    from starlette.testclient import TestClient

    from commands.web.app import create_app
    from tests.test_web import PASSWORD, Clock, set_password, sign_in

    _national(sqlite_ledger, 1, "2024-04-01", "--tier", "B")
    _municipal(sqlite_ledger, 1, "2024-04-02", "digital")
    assert set_password(sqlite_ledger, "tester", PASSWORD, "officer").exit_code == 0
    with TestClient(create_app(sqlite_ledger.url, clock=Clock())) as client:
        sign_in(client)
        national, municipal = client.get("/grants/N1").text, client.get("/grants/M1").text
    assert '<span id="tier">档次 B</span>' in national and 'id="track"' not in national
    assert '<span id="track">数字技能</span>' in municipal and 'id="tier"' not in municipal


def test_a_kind_the_programme_has_not_is_refused_as_a_tier_is(sqlite_ledger: Ledger) -> None:
    """`--track` is judged by the rule, as `--tier` and the import's column are (exit 3, the clause
    named, the kinds the policy states listed), not by a list of choices fixed in the command."""
    from tests.test_core_rules import refused
    from tests.test_programme_rules import apply_args, register

    register(sqlite_ledger, "UM9", "enterprise")
    before = sqlite_ledger.event_count()
    said = refused(sqlite_ledger, *apply_args("M9", "UM9", "M-M9", FUNDED, "a", "b"), "--amount", "50万",
                   "--track", "space", "--date", "2024-02-01", clause="002 二(二)")  # fmt: skip
    assert "kind space is none of the municipal_base_funded's kinds international, digital, other" in said
    assert sqlite_ledger.event_count() == before


@pytest.mark.parametrize(
    ("groups", "said"),
    [
        (
            'tiers = ["A", "B"]\ncount = 2\n',
            "[selection.national_base] names B in more than one group of its tiers",
        ),
        (
            'tiers = ["C"]\ncount = 3\n',
            "the tiers groups of [selection.national_base] select 4, more than its count 3",
        ),
    ],
)
def test_a_version_whose_tier_groups_overlap_or_exceed_the_count_is_refused(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, groups: str, said: str
) -> None:
    """002 二(一): A or B 2, C or D 1 of the 3. A group naming a tier another names (counted in the
    first alone) or groups selecting more than the round are a policy text's error: refused at
    `policy install`, exit 2, nothing written."""
    from tests.test_selection_count import _install, _version

    national = (
        '[selection.national_base]\ncount = 3\nclause = "national_count"\n'
        '[[selection.national_base.tiers]]\ntiers = ["B"]\ncount = 1\n'
        f"[[selection.national_base.tiers]]\n{groups}"
    )
    before = sqlite_ledger.event_count()
    result = _install(sqlite_ledger, tmp_path, _version("2027-01-01", national), "2026-12-01", monkeypatch)
    assert result.exit_code == 2 and said in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and sqlite_ledger.event_count() == before
    fitting = national.replace(groups, 'tiers = ["C", "D"]\ncount = 1\n')
    assert (
        _install(
            sqlite_ledger, tmp_path, _version("2027-01-01", fitting), "2026-12-01", monkeypatch
        ).exit_code
        == 0
    )


def test_an_imported_approval_is_counted_in_the_round_of_its_application(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base applied for in the 2024 round and approved after the 2025 round's notice took effect
    is one of 2024's 3 (002 二): an import's optional ``applied`` column (申报日期) dates its
    application, where the approval's date had put it in 2025's round. A row without it is dated
    by its approval, as before."""
    from tests.test_selection_count import _install, _version

    for n in (1, 2, 3):
        _national(sqlite_ledger, n, f"2024-04-0{n}")
    later = _version("2025-01-01", '[selection.national_base]\ncount = 3\nclause = "national_count"\n')
    for line in ('round = "2024"', "round_opens = 2024-01-01", "applications_due = 2024-07-17",
                 "recommendations_due = 2024-07-24"):  # fmt: skip
        assert later.count(f"\n{line}\n") == 1
        later = later.replace(f"\n{line}\n", f"\n{line.replace('2024', '2025')}\n")
    assert _install(sqlite_ledger, tmp_path, later, "2024-12-01", monkeypatch).exit_code == 0
    monkeypatch.setenv("GRANT_LEDGER_TODAY", "2025-12-31")
    path = _file(
        tmp_path,
        _row("2025-02-01", "N4", NATIONAL, "1000000") + ",2024-03-01",
        _row("2025-02-02", "N5", NATIONAL, "1000000") + ",",
    )
    sqlite_ledger.ok("import", str(path), role="approver")
    listed = json.loads(sqlite_ledger.ok("grant", "list", "--format", "json").stdout)
    assert {g["grant_id"]: g["applied_on"] for g in listed if g["grant_id"] in ("N4", "N5")} == {
        "N4": "2024-03-01",
        "N5": "2025-02-02",
    }
    found = _counted(sqlite_ledger, "selection count", "2025-12-31")
    assert [(g, said.split("; ")[0]) for g, _clause, _day, said in found] == [
        ("N4", "grant N4 is approval 4 of a national_base (国家级高技能人才培训基地) in round 2024")
    ]
    # an application dated after its approval is refused (exit 3), nothing written
    before = sqlite_ledger.event_count()
    late = _file(tmp_path, _row("2025-02-03", "N6", NATIONAL, "1000000") + ",2025-03-01", name="late.csv")
    result = sqlite_ledger("import", str(late), role="approver")
    assert result.exit_code == 3 and "before its application of 2025-03-01" in result.stderr, result.stderr
    assert sqlite_ledger.event_count() == before
    # the same application typed again with another date is refused (exit 5)
    other = _file(tmp_path, _row("2025-02-01", "N4", NATIONAL, "1000000") + ",2024-03-02", name="other.csv")
    result = sqlite_ledger("import", str(other), role="approver")
    assert result.exit_code == 5 and "grant N4 was applied for on 2024-03-01" in result.stderr, result.stderr
    # the auditor's verifier replays the earlier application as any other
    _verified(sqlite_ledger, tmp_path)


# ------------------------------------------------- what a red-team pass found in the applied column


def test_an_application_the_row_dates_is_signed_in_the_role_held_then(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """An approver registered on 2024-06-01 cannot bring a grant applied for on 2024-03-01: the
    application's events would be signed by one who held no role that day, which the auditor's
    verifier finds (exit 6), though the ledger had taken them. Refused at its line (exit 3)."""
    from commands.cli import cli
    from ledger.seal import generate_key
    from tests.conftest import KEYRING

    key = tmp_path / "late.key"
    generate_key(key)
    admin = KEYRING[sqlite_ledger.root]["admin"]
    added = sqlite_ledger.runner.invoke(
        cli,
        [
            "--db",
            sqlite_ledger.url,
            "--key",
            str(admin),
            "people",
            "add",
            "late-approver",
            "--role",
            "approver",
            "--public-key",
            str(key.with_suffix(".pub")),
            "--date",
            "2024-06-01",
        ],
    )
    assert added.exit_code == 0, added.stderr

    def imported(*row: str) -> Any:
        path = _file(tmp_path, *row)
        return sqlite_ledger.runner.invoke(
            cli, ["--db", sqlite_ledger.url, "--key", str(key), "--lang", "en", "import", str(path)]
        )

    before = sqlite_ledger.event_count()
    result = imported(_row("2024-07-01", "D1", "district_base", "200000") + ",2024-03-01")
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "late-approver holds no role on 2024-03-01" in result.stderr
    assert sqlite_ledger.event_count() == before
    assert imported(_row("2024-07-01", "D1", "district_base", "200000") + ",2024-06-01").exit_code == 0
    _verified(sqlite_ledger, tmp_path)


def test_an_application_the_row_dates_is_held_to_its_rounds_closing_date(
    ledger: Ledger, tmp_path: Path
) -> None:
    """002 七(二): applications due 2024-07-17, 逾期不再受理. grant apply refuses one dated after it;
    so does an import naming such an application date (else any date would move a base into a
    round with room). Without the column the approval's date stands for it, after the round."""
    before = ledger.event_count()
    late = _file(tmp_path, _row("2024-09-01", "N1", NATIONAL, "1000000") + ",2024-08-01")
    result = ledger("import", str(late), role="approver")
    assert result.exit_code == 3 and "002 七(二)" in result.stderr, result.stderr
    assert "one dated 2024-08-01 is outside it" in result.stderr
    assert ledger.event_count() == before
    on_time = _file(tmp_path, _row("2024-09-01", "N1", NATIONAL, "1000000") + ",2024-07-17", name="ok.csv")
    ledger.ok("import", str(on_time), role="approver")
    undated = _file(tmp_path, _row("2024-09-02", "N2", NATIONAL, "1000000"), name="undated.csv")
    ledger.ok("import", str(undated), role="approver")


def test_a_kind_is_judged_by_its_applications_version_and_a_repeat_first(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base applied for in 2024 as digital, approved under a 2025 version stating no kinds: its
    export imports back as a repeat into the same ledger and afresh into another, where the kind had
    been judged by the approval's version and refused (exit 3). A recorded grant's other application
    date is a conflict (exit 5), before the round of that date is looked at."""
    from tests.conftest import CITY_BODIES, selected
    from tests.test_programme_rules import apply_args, register
    from tests.test_selection_count import _install, _version

    later = _version("2025-01-01", None)
    start, end = (
        later.index("[selection.municipal_base_funded]\n"),
        later.index("[selection.municipal_base_named]\n"),
    )
    funded = '[selection.municipal_base_funded]\ncount = 8\nclause = "municipal_funded_count"\n\n'
    later = later[:start] + funded + later[end:]
    for line in ('round = "2024"', "round_opens = 2024-01-01", "applications_due = 2024-07-17",
                 "recommendations_due = 2024-07-24"):  # fmt: skip
        later = later.replace(f"\n{line}\n", f"\n{line.replace('2024', '2025')}\n")
    register(sqlite_ledger, "UQ", "enterprise")
    sqlite_ledger.ok(
        *apply_args("MQ", "UQ", "BQ", FUNDED, "a", "b"),
        "--amount",
        "50万",
        "--track",
        "digital",
        "--date",
        "2024-03-01",
    )
    selected(sqlite_ledger, "MQ")
    sqlite_ledger.ok(
        "body",
        "add",
        "REC-Q",
        "--name",
        "推荐Q",
        "--kind",
        "sector_authority",
        "--duty",
        "sector",
        "--date",
        "2024-01-02",
        role="admin",
    )
    sqlite_ledger.ok("grant", "recommend", "MQ", "--by", "REC-Q", "--round", "2024", "--rank", "1",
                     "--date", "2024-03-05", role="approver")  # fmt: skip
    assert _install(sqlite_ledger, tmp_path, later, "2024-12-01", monkeypatch).exit_code == 0
    monkeypatch.setenv("GRANT_LEDGER_TODAY", "2025-12-31")
    sqlite_ledger.ok("grant", "approve", "MQ", "--amount", "50万", "--document", "DQ", *CITY_BODIES,
                     "--date", "2025-02-01", role="approver")  # fmt: skip
    path = tmp_path / "books.csv"
    sqlite_ledger.ok("export", "--format", "csv", "--output", str(path))
    before = sqlite_ledger.event_count()
    assert "already" in sqlite_ledger.ok("import", str(path), role="approver").stdout
    assert sqlite_ledger.event_count() == before
    other = Ledger(f"sqlite:///{tmp_path / 'other.db'}", CliRunner())
    assert _install(other, tmp_path, later, "2024-12-01", monkeypatch).exit_code == 0
    monkeypatch.setenv("GRANT_LEDGER_TODAY", "2025-12-31")
    other.import_ok(path)
    assert _listed(other)["MQ"] == ("", "digital")
    for day, code in (("2024-03-02", 5), ("2023-12-01", 5), ("2023-01-01", 2)):  # 2: no policy then
        conflicting = _row("2025-02-01", "MQ", FUNDED, "500000").replace(",UMQ,BMQ,", ",UQ,BQ,") + f",{day}"
        result = sqlite_ledger("import", str(_file(tmp_path, conflicting, name="c.csv")), role="approver")
        assert result.exit_code == code, result.stderr
        assert code != 5 or "grant MQ was applied for on 2024-03-01" in result.stderr, result.stderr
    assert sqlite_ledger.event_count() == before


def test_approve_only_columns_on_another_row_are_refused_and_shipped_groups_fit(
    ledger: Ledger, tmp_path: Path
) -> None:
    from ledger.policy import groups_fit, load_policies

    for version in load_policies():
        groups_fit(version)  # raises on a shipped version whose groups do not fit
    ledger.ok(
        "import", str(_file(tmp_path, _row("2024-04-01", "D1", "district_base", "200000"))), role="approver"
    )
    before = ledger.event_count()
    row = "2024-04-10,,BD1,D1,,disburse,100000,,,,拨1,,1,,A,,"
    result = ledger("import", str(_file(tmp_path, row, name="money.csv")))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "the tier column is read on approve rows only; this disburse row holds 'A' there" in result.stderr
    assert ledger.event_count() == before
