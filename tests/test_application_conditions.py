"""The application conditions of 002 四(一)1 (a national base), 002 四(一)2(2) and (4) (a municipal
one) and 003 第六条(四) (a district one) that rest on figures declared at `grant apply`: each
shortfall is a finding citing its clause, a bound met exactly is none, a national base's skilled
share is asked of an enterprise only, and the auditor's verifier words the same findings from the
bundle alone, whichever policy text the bundle ships."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from audit.bundle import write_manifest
from commands.cli import cli
from tests.conftest import Ledger
from tests.test_core_rules import refused
from tests.test_programme_rules import apply_args, assert_bundle_agrees, findings, register

FORMER_POLICY = Path(__file__).parent / "data" / "former-policy" / "890daa52" / "v1-2023.toml"
NATIONAL = ("电工", "焊工", "钳工", "车工", "数控车工")


def _national(ledger: Ledger, grant: str, unit: str, kind: str, *declared: str) -> None:
    register(ledger, unit, kind)
    ledger.ok(*apply_args(grant, unit, f"B-{grant}", "national_base", *NATIONAL), "--amount", "500万",
              *declared, "--date", "2024-03-01")  # fmt: skip


def _judged(ledger: Ledger, grant: str) -> list[tuple[str, str]]:
    return [(f["clause"], f["message"]) for f in findings(ledger, "2024-03-02") if f["grant_id"] == grant]


def _short_applications(ledger: Ledger) -> None:
    """A national base short of each of 002 四(一)1's figures, and one meeting each exactly."""
    _national(ledger, "N1", "U1", "enterprise", "--places", "1999", "--workforce", "1000",
              "--skilled-workers", "399", "--teachers", "80", "--integrated-teachers", "39",
              "--instructors", "50", "--technician-instructors", "19")  # fmt: skip
    _national(ledger, "N2", "U2", "enterprise", "--places", "2000", "--workforce", "1000",
              "--skilled-workers", "400", "--teachers", "80", "--integrated-teachers", "40",
              "--instructors", "50", "--technician-instructors", "20")  # fmt: skip


def test_a_national_application_is_judged_by_002_four_one_1(ledger: Ledger) -> None:
    _short_applications(ledger)
    assert _judged(ledger, "N1") == [
        ("002 四(一)1(2)", "grant N1 declared places 1999 at application; the programme asks at least 2000"),
        (
            "002 四(一)1(2)",
            "grant N1 declared skilled_workers 399 per workforce 1000 (39.90%) at application; the "
            "programme asks at least 40.00%",
        ),
        (
            "002 四(一)1(3)",
            "grant N1 declared integrated_teachers 39 per teachers 80 (48.75%) at application; the "
            "programme asks at least 50.00%",
        ),
        (
            "002 四(一)1(3)",
            "grant N1 declared technician_instructors 19 per instructors 50 (38.00%) at application; the "
            "programme asks at least 40.00%",
        ),
    ]
    assert _judged(ledger, "N2") == []  # 2000, 40%, 50% and 40% exactly
    # 依托企业建设的: a college's own staff are no enterprise's workforce, and its share is not asked
    _national(ledger, "N3", "U3", "technician_college", "--workforce", "1000", "--skilled-workers", "10")
    assert _judged(ledger, "N3") == []


def test_municipal_and_district_applications_are_judged_by_skilled_share_and_cooperation(
    ledger: Ledger,
) -> None:
    register(ledger, "U1", "enterprise")
    ledger.ok(*apply_args("M1", "U1", "B-M1", "municipal_base_funded", "a", "b"), "--amount", "50万",
              "--workforce", "200", "--skilled-workers", "69", "--partners", "2", "--joint-majors", "3",
              "--date", "2024-03-01")  # fmt: skip
    assert [clause for clause, _message in _judged(ledger, "M1")] == ["002 四(一)2(2)", "002 四(一)2(4)"]
    assert "skilled_workers 69 per workforce 200 (34.50%)" in _judged(ledger, "M1")[0][1]
    assert "partners 2 at application; the programme asks at least 3" in _judged(ledger, "M1")[1][1]
    register(ledger, "U2", "enterprise")
    ledger.ok(*apply_args("M2", "U2", "B-M2", "municipal_base_named", "a", "b"), "--workforce", "200",
              "--skilled-workers", "70", "--partners", "3", "--joint-majors", "3",
              "--date", "2024-03-01")  # fmt: skip
    assert _judged(ledger, "M2") == []
    register(ledger, "U3", "senior_technical_school")
    ledger.ok(*apply_args("D1", "U3", "B-D1", "district_base", "电工"), "--amount", "20万",
              "--partners", "2", "--joint-majors", "1", "--date", "2024-03-01")  # fmt: skip
    assert _judged(ledger, "D1") == [
        ("003 第六条(四)", "grant D1 declared joint_majors 1 at application; the programme asks at least 2")
    ]


def test_a_part_declared_above_its_whole_is_refused_and_nothing_written(ledger: Ledger) -> None:
    register(ledger, "U1", "enterprise")
    for part, whole in (
        ("--integrated-teachers", "--teachers"),
        ("--technician-instructors", "--instructors"),
        ("--skilled-workers", "--workforce"),
        ("--senior-instructors", "--technician-instructors"),  # 高级技师 are 技师以上
    ):
        said = refused(ledger, *apply_args("N1", "U1", "B1", "national_base", *NATIONAL), "--amount", "500万",
                       part, "81", whole, "80", "--date", "2024-03-01", code=2)  # fmt: skip
        assert f"{part} 81 is more than {whole} 80" in said


def test_the_verifier_words_the_same_findings_in_chinese(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    _short_applications(sqlite_ledger)
    assert_bundle_agrees(sqlite_ledger, tmp_path)


def _verify(bundle: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["--lang", "en", "--role", "auditor", "audit", "verify", "--unanchored", str(bundle)]
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, result.stdout


def test_a_bundle_shipping_the_former_policy_text_is_judged_by_the_conditions_added_since(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """The former text (fe37383's) lacks these conditions and is still a text the verifier knows:
    a bundle exported then ships it. Swapped into a new bundle, with the findings it would not
    state cut from the sheet, it fails; swapped in alone, it passes, the same findings expected."""
    _short_applications(sqlite_ledger)
    sqlite_ledger.ok("audit", "checkpoint", role="approver")
    honest = tmp_path / "honest"
    sqlite_ledger.ok("audit", "export", str(honest), role="auditor")
    (shipped,) = (honest / "policy").glob("*.toml")
    assert shipped.read_bytes() != FORMER_POLICY.read_bytes()

    swapped = tmp_path / "swapped"
    shutil.copytree(honest, swapped)
    shutil.copyfile(FORMER_POLICY, swapped / "policy" / shipped.name)
    write_manifest(swapped)
    code, out = _verify(swapped)
    assert code == 0, out

    forged = tmp_path / "forged"
    shutil.copytree(swapped, forged)
    path = forged / "report.xlsx"
    book = load_workbook(path)
    sheet = book["findings"]
    cut = [r for r in range(sheet.max_row, 4, -1) if sheet.cell(r, 2).value == "N1"]
    assert len(cut) == 4, [[c.value for c in row] for row in sheet.iter_rows()]
    for row in cut:
        sheet.delete_rows(row)
    last = sheet.max_row  # the 合计 row counts the findings left
    assert sheet.cell(last, 1).value == "合计"
    sheet.cell(last, 2).value = f"{last - 5} 条"
    book.save(path)
    write_manifest(forged)
    code, out = _verify(forged)
    assert code == 6 and "report.xlsx findings!" in out, out


# a version an administrator installs later, in force from IN_FORCE, that asks no partners of a
# district base (what a version written from the former text would do)
INSTALLED_ON, IN_FORCE, TODAY = "2026-12-01", "2026-12-10", "2026-12-20"
LOOSER = "v2-2026.toml"


def _looser() -> str:
    text = (resources.files("ledger") / "policy" / "v1-2023.toml").read_text("utf-8")
    partners = (
        '[[conditions.district_base]]\nfigure = "partners"\nat_least = 2\nclause = "district_cooperation"\n\n'
    )
    assert partners in text and 'version = "2023.1"' in text
    text = text.replace('version = "2023.1"', 'version = "2026.1"').replace(partners, "", 1)
    return text.replace("effective_from = 2023-03-15\n", f"effective_from = {IN_FORCE}\n", 1)


def _one_partner(ledger: Ledger) -> None:
    """D1 applied 2024-03-01 naming one partner enterprise (003 第六条(四) asks two)."""
    register(ledger, "U1", "senior_technical_school")
    ledger.ok(*apply_args("D1", "U1", "B-D1", "district_base", "电工"), "--amount", "20万",
              "--partners", "1", "--date", "2024-03-01")  # fmt: skip


def install_version(ledger: Ledger, path: Path, today: str, monkeypatch: pytest.MonkeyPatch) -> Result:
    """`policy install` of the version at ``path`` by the ledger's administrator on ``today``."""
    from tests.conftest import KEYRING

    assert ledger.root is not None
    monkeypatch.setenv("GRANT_LEDGER_TODAY", today)
    args = ["--db", ledger.url, "--key", str(KEYRING[ledger.root]["admin"]), "--role", "admin"]
    return ledger.runner.invoke(cli, [*args, "--lang", "en", "policy", "install", str(path)])


def _install(ledger: Ledger, path: Path, monkeypatch: pytest.MonkeyPatch) -> Result:
    result = install_version(ledger, path, INSTALLED_ON, monkeypatch)
    monkeypatch.setenv("GRANT_LEDGER_TODAY", TODAY)
    return result


def _findings_sheet(bundle: Path) -> list[tuple[Any, ...]]:
    book = load_workbook(bundle / "report.xlsx", read_only=True)
    rows = [r[:4] for r in book["findings"].iter_rows(min_row=5, values_only=True)]
    book.close()
    return rows


def test_a_later_version_neither_drops_nor_adds_an_applications_findings(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An application is judged by the version in force on its date, in `report findings`, in
    the bundle's sheet and by the verifier, whatever version the bundle's latest is."""
    _one_partner(sqlite_ledger)
    version = tmp_path / LOOSER
    version.write_text(_looser(), encoding="utf-8")
    assert _install(sqlite_ledger, version, monkeypatch).exit_code == 0
    sqlite_ledger.ok("audit", "checkpoint", role="approver")
    assert [f["clause"] for f in findings(sqlite_ledger, TODAY)] == ["003 第六条(四)"]
    bundle = tmp_path / "bundle"
    sqlite_ledger.ok("audit", "export", str(bundle), role="auditor")
    assert sorted(p.name for p in (bundle / "policy").iterdir()) == ["v1-2023.toml", LOOSER]
    assert [r[1:4] for r in _findings_sheet(bundle)[:-1]] == [("D1", "申报条件", "003 第六条(四)")]
    code, out = _verify(bundle)
    assert code == 0, out
    _cut_first_finding(bundle)  # judged by the latest version, the verifier had expected none
    code, out = _verify(bundle)
    assert code == 6, out
    assert "report.xlsx findings!B5 (项目编号): shows '0 条' but the events give 'D1'" in out, out


def _cut_first_finding(bundle: Path) -> None:
    """The findings sheet's first row deleted and its 合计 made to agree, the manifest recomputed."""
    path = bundle / "report.xlsx"
    book = load_workbook(path)
    sheet = book["findings"]
    assert sheet.cell(5, 2).value == "D1" and sheet.cell(6, 1).value == "合计"
    sheet.delete_rows(5)
    sheet.cell(5, 2).value = "0 条"
    book.save(path)
    write_manifest(bundle)


def test_a_cut_bundle_given_a_version_not_yet_in_force_fails(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forgery the red-team pass made: a bundle cut at 2026-06-30 ships the version then in
    force; the looser version installed later (its text is in the bundle's log) copied into
    policy/, D1's finding cut from the sheet and the manifest recomputed, had passed."""
    _one_partner(sqlite_ledger)
    version = tmp_path / LOOSER
    version.write_text(_looser(), encoding="utf-8")
    assert _install(sqlite_ledger, version, monkeypatch).exit_code == 0
    sqlite_ledger.ok("audit", "checkpoint", role="approver")
    bundle = tmp_path / "bundle"
    sqlite_ledger.ok("audit", "export", str(bundle), "--as-of", "2026-06-30", role="auditor")
    assert sorted(p.name for p in (bundle / "policy").iterdir()) == ["v1-2023.toml"]
    assert _verify(bundle)[0] == 0
    shutil.copyfile(version, bundle / "policy" / LOOSER)
    _cut_first_finding(bundle)
    code, out = _verify(bundle)
    assert code == 6, out
    assert f"policy/{LOOSER}: takes effect on {IN_FORCE}, after the bundle's date 2026-06-30" in out


def test_a_version_naming_kinds_of_unit_wrongly_is_not_installed(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = (resources.files("ledger") / "policy" / "v1-2023.toml").read_text("utf-8")
    for wrong, said in (
        ('kinds = "enterprise"', "kinds 'enterprise' is no list of kinds of unit"),
        ('kinds = ["enterprize"]', "kind of unit 'enterprize' is none of"),
    ):
        text = _looser().replace('kinds = ["enterprise"]', wrong, 1)
        assert wrong in text
        version = tmp_path / LOOSER
        version.write_text(text, encoding="utf-8")
        before = sqlite_ledger.event_count()
        result = _install(sqlite_ledger, version, monkeypatch)
        assert result.exit_code == 2 and said in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and sqlite_ledger.event_count() == before
    assert 'kinds = ["enterprise"]' in shipped
