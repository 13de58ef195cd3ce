"""A unit's district (区县): recorded at `unit register --district` (by code or Chinese name),
amended by `unit set-district`, brought by an import's approve row, kept by the balances read
model, filtered by `balance --district` and by the web overview (issue 19: 总览 filters by
district)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from commands.cli import cli
from commands.web.app import create_app
from tests.conftest import DISTRICT_BODIES, Ledger, prepared, register_bodies, selected
from tests.importdata import HEADER
from tests.test_web import PASSWORD, Clock, set_password, sign_in

UNSIGNED = Path(__file__).parent / "data" / "unsigned-ledger" / "unsigned.db"


def approved(ledger: Ledger, grant: str, base: str, unit: str, *district: str) -> None:
    """Unit ``unit`` registered (with ``--district …`` when given), its district base ``base``
    applied for, selected and approved: 200,000.00 of subsidy."""
    if not ledger.bodies_registered:
        register_bodies(ledger)
    ledger.ok("unit", "register", unit, "--name", f"单位{unit}", *district, "--date", "2024-02-01")
    ledger.ok("grant", "apply", grant, "--unit", unit, "--base", base, "--programme", "district_base",
              "--project", "电工", "--amount", "20万", "--date", "2024-03-01")  # fmt: skip
    selected(ledger, grant)
    ledger.ok("grant", "approve", grant, "--amount", "200000", "--document", f"渝中人社〔2024〕{grant}号",
              *DISTRICT_BODIES, "--date", "2024-04-01", role="approver")  # fmt: skip


def rows(ledger: Ledger, *args: str) -> list[dict[str, str]]:
    result = ledger.ok("balance", "--format", "json", *args)
    return list(json.loads(result.stdout))


@pytest.fixture
def three(backend: str, tmp_path: Path) -> Iterator[Ledger]:
    """G1 in 渝中区 (given by its code), G2 in 渝中区 (by its Chinese name), G3 in 万州区; each with
    money received and spent, so that a filter's figures can be checked to the fen."""
    yield from prepared(backend, tmp_path, _three)


def _three(ledger: Ledger) -> None:
    approved(ledger, "G1", "B0001", "U1", "--district", "500103")
    approved(ledger, "G2", "B0002", "U2", "--district", "渝中区")
    approved(ledger, "G3", "B0003", "U3", "--district", "万州区")
    for n, (grant, amount, spent) in enumerate(
        (("G1", "100000.00", "12345.67"), ("G2", "50000.00", "0.01"), ("G3", "80000.00", "999.99")), 1
    ):
        ledger.ok("disburse", grant, "--amount", amount, "--voucher", f"拨-{n}", "--date", "2024-04-15")
        ledger.ok("spend", grant, "--amount", spent, "--category", "equipment", "--voucher", f"记-{n}",
                  "--date", "2024-05-01")  # fmt: skip


def test_a_district_is_given_by_its_code_or_its_chinese_name_and_stored_as_the_code(three: Ledger) -> None:
    found = {r["grant_id"]: r["district"] for r in rows(three)}
    assert found == {"G1": "500103", "G2": "500103", "G3": "500101"}
    # the registration event itself holds the code, whichever way it was typed
    history = three.ok("history", "G2", "--format", "json")
    assert "Traceback" not in history.stderr


def test_balance_district_keeps_that_districts_bases_to_the_fen(three: Ledger) -> None:
    every = {r["grant_id"]: r for r in rows(three)}
    for typed in ("500103", "渝中区", " 渝中区 "):
        kept = rows(three, "--district", typed)
        assert [r["grant_id"] for r in kept] == ["G1", "G2"], typed
        for r in kept:
            assert r == every[r["grant_id"]]
        spent = sum(Decimal(r["subsidy_spent"]) for r in kept)
        assert spent == Decimal("12345.68")
    assert [r["grant_id"] for r in rows(three, "--district", "500101")] == ["G3"]
    assert rows(three, "--district", "500243") == []  # a district without a base: nothing, no error
    # the ordinary path (as of a date) filters the same way as the quick one
    dated = rows(three, "--district", "渝中区", "--as-of", "2024-12-31")
    assert [(r["grant_id"], r["subsidy_spent"]) for r in dated] == [("G1", "12345.67"), ("G2", "0.01")]
    table = three.ok("balance", "--district", "渝中区", "--format", "csv").stdout
    assert "B0001" in table and "B0002" in table and "B0003" not in table


@pytest.mark.parametrize("typed", ["火星区", "500100", "5001030", "渝中", "Yuzhong", "110101", "50010３"])
def test_an_unknown_district_is_refused_exit_2_and_nothing_is_written(ledger: Ledger, typed: str) -> None:
    before = ledger.event_count()
    result = ledger("unit", "register", "U1", "--name", "单位", "--district", typed, "--date", "2024-02-01")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "--district" in result.stderr and "grant-ledger unit districts" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert ledger.event_count() == before
    refused = ledger("balance", "--district", typed)
    assert refused.exit_code == 2 and "grant-ledger unit districts" in refused.stderr


def test_an_empty_district_option_is_refused(ledger: Ledger) -> None:
    before = ledger.event_count()
    for args in (("unit", "register", "U1", "--name", "单位", "--district", " "),
                 ("unit", "set-district", "U1", "--district", "")):  # fmt: skip
        result = ledger(*args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert "--district must not be empty" in result.stderr, result.stderr
    assert ledger.event_count() == before


def test_unit_districts_lists_the_38_divisions(ledger: Ledger) -> None:
    listed = ledger.ok("unit", "districts").stdout.splitlines()
    assert len(listed) == 38
    assert listed[0].split()[:2] == ["500101", "万州区"]
    assert listed[-1].split()[:2] == ["500243", "彭水苗族土家族自治县"]
    from ledger.district import DISTRICTS

    kinds = [d.kind for d in DISTRICTS]
    assert (kinds.count("市辖区"), kinds.count("县"), kinds.count("自治县")) == (26, 8, 4)
    assert len({d.code for d in DISTRICTS}) == 38 and len({d.zh for d in DISTRICTS}) == 38


def test_a_unit_without_a_district_reports_and_set_district_amends_it(ledger: Ledger) -> None:
    approved(ledger, "G1", "B0001", "U1")
    assert [(r["grant_id"], r["district"]) for r in rows(ledger)] == [("G1", None)]
    assert rows(ledger, "--district", "渝中区") == []
    before = ledger.event_count()
    unknown = ledger("unit", "set-district", "U9", "--district", "渝中区")
    assert unknown.exit_code == 4, unknown.stderr
    auditor = ledger("unit", "set-district", "U1", "--district", "渝中区", role="auditor")
    assert auditor.exit_code == 3, auditor.stderr
    assert ledger.event_count() == before
    done = ledger.ok("unit", "set-district", "U1", "--district", "渝中区", "--date", "2024-05-01")
    assert "渝中区" in done.stdout
    amended = ledger.event_count()
    assert amended > before
    again = ledger.ok("unit", "set-district", "U1", "--district", "500103", "--date", "2024-05-01")
    assert "already" in again.stdout and ledger.event_count() == amended
    assert [r["grant_id"] for r in rows(ledger, "--district", "渝中区")] == ["G1"]
    # a repeat of the registration (without --district) is a repeat; with another district, refused
    assert "already" in ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01").stdout
    moved = ledger("unit", "register", "U1", "--name", "单位U1", "--district", "万州区",
                   "--date", "2024-02-01")  # fmt: skip
    assert moved.exit_code == 5 and "set-district" in moved.stderr
    ledger.ok("unit", "set-district", "U1", "--district", "万州区", "--date", "2024-05-02")
    assert [r["grant_id"] for r in rows(ledger, "--district", "万州区")] == ["G1"]
    assert rows(ledger, "--district", "渝中区") == []


def test_a_ledger_stored_before_districts_loads_reports_and_takes_a_district(tmp_path: Path) -> None:
    """tests/data/unsigned-ledger: stored by an earlier version (its Unit.Registered has no
    district field, and its read models no balance_units table)."""
    db = tmp_path / "old.db"
    shutil.copy(UNSIGNED, db)
    os.chmod(db, 0o600)
    url = f"sqlite:///{db}"
    runner = CliRunner(env={"GRANT_LEDGER_LANG": "en"})

    def run(*args: str) -> object:
        result = runner.invoke(cli, ["--db", url, *args])
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return result

    run("migrate", "--admin", "管理员-陈", "--admin-key", str(tmp_path / "chen.key"))  # read after it
    before = json.loads(run("balance", "--format", "json").stdout)  # type: ignore[attr-defined]
    assert [(r["base_id"], r["district"]) for r in before] == [("B0001", None)]
    assert json.loads(run("balance", "--district", "渝中区", "--format", "json").stdout) == []  # type: ignore[attr-defined]
    key = tmp_path / "li.key"
    run("keys", "generate", "--out", str(key))
    run("--key", str(tmp_path / "chen.key"), "people", "add", "财务-李", "--role", "officer",
        "--public-key", str(key.with_suffix(".pub")))  # fmt: skip
    run("--key", str(key), "unit", "set-district", "U1", "--district", "500103", "--date", "2024-06-01")
    after = json.loads(run("balance", "--district", "渝中区", "--format", "json").stdout)  # type: ignore[attr-defined]
    assert [(r["base_id"], r["district"]) for r in after] == [("B0001", "500103")]
    assert {k: v for k, v in after[0].items() if k != "district"} == {
        k: v for k, v in before[0].items() if k != "district"
    }
    run("projections", "rebuild")
    rebuilt = json.loads(run("balance", "--format", "json").stdout)  # type: ignore[attr-defined]
    assert rebuilt == after
    verified = runner.invoke(cli, ["--db", url, "projections", "verify"])
    assert verified.exit_code == 0, verified.stdout + verified.stderr


def test_projections_rebuild_gives_the_same_districts(three: Ledger) -> None:
    three.ok("unit", "set-district", "U3", "--district", "500243", "--date", "2024-06-01")
    before = rows(three)
    assert [r["district"] for r in before] == ["500103", "500103", "500243"]
    three.ok("projections", "rebuild")
    assert rows(three) == before
    assert [r["grant_id"] for r in rows(three, "--district", "彭水苗族土家族自治县")] == ["G3"]
    verified = three("projections", "verify")
    assert verified.exit_code == 0, verified.stdout + verified.stderr


# ----------------------------------------------------------------------------- import


APPROVE = "2024-04-01,U1,B0001,G1,district_base,approve,200000,,,,渝中人社〔2024〕1号,单位一,"


def _file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "approvals.csv"
    path.write_text("\n".join([f"{HEADER},district", *lines]) + "\n", encoding="utf-8")
    return path


def test_an_import_approve_row_brings_its_units_district(ledger: Ledger, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        APPROVE + ",渝中区",
        "2024-04-01,U2,B0002,G2,district_base,approve,200000,,,,渝中人社〔2024〕2号,单位二,,500101",
        "2024-04-01,U3,B0003,G3,district_base,approve,200000,,,,渝中人社〔2024〕3号,单位三,,",
    )
    ledger.ok("import", str(path), role="approver")
    found = {r["grant_id"]: r["district"] for r in rows(ledger)}
    assert found == {"G1": "500103", "G2": "500101", "G3": None}
    again = ledger.ok("import", str(path), role="approver")
    assert "already recorded" in again.stdout
    # a file in the header's Chinese names, 区县 among them
    zh = tmp_path / "zh.csv"
    zh.write_text(
        "日期,单位编号,基地编号,项目编号,项目类型,业务类型,金额,资金来源,支出类别,建设内容,凭证号,收款方,备注,区县\n"
        "2024-04-01,U4,B0004,G4,district_base,approve,200000,,,,渝中人社〔2024〕4号,单位四,,彭水苗族土家族自治县\n",
        encoding="utf-8",
    )
    ledger.ok("import", str(zh), role="approver")
    assert {r["grant_id"]: r["district"] for r in rows(ledger)}["G4"] == "500243"


def test_an_import_without_the_district_column_is_read_as_before(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text(f"{HEADER}\n{APPROVE}\n", encoding="utf-8")
    ledger.ok("import", str(path), role="approver")
    assert [(r["grant_id"], r["district"]) for r in rows(ledger)] == [("G1", None)]


@pytest.mark.parametrize("jobs", ["1", "2"])  # the rows checked in this process, or in a second one
def test_an_import_row_with_a_bad_district_refuses_the_file(
    ledger: Ledger, tmp_path: Path, jobs: str
) -> None:
    path = _file(
        tmp_path,
        APPROVE + ",渝中区",
        "2024-04-01,U2,B0002,G2,district_base,approve,200000,,,,渝中人社〔2024〕2号,单位二,,火星区",
        "2024-04-01,U3,B0003,G3,district_base,approve,200000,,,,渝中人社〔2024〕3号,单位三,,500199",
    )
    before = ledger.event_count()
    result = ledger("import", "--jobs", jobs, str(path), role="approver")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    bad = [line for line in result.stderr.splitlines() if line.startswith("approvals.csv:")]
    assert [line.split(":")[1] for line in bad] == ["3", "4"]
    assert "火星区" in bad[0] and "district" in bad[0] and "grant-ledger unit districts" in bad[0]
    assert "500199" in bad[1]
    assert "nothing was imported" in result.stderr
    assert ledger.event_count() == before


def test_an_import_naming_another_district_for_a_registered_unit_is_refused(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.ok("unit", "register", "U1", "--name", "单位一", "--district", "万州区", "--date", "2024-02-01")
    before = ledger.event_count()
    result = ledger("import", str(_file(tmp_path, APPROVE + ",渝中区")), role="approver")
    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert "set-district" in result.stderr
    assert ledger.event_count() == before


# ----------------------------------------------------------------------------- the overview


@pytest.fixture
def client(three: Ledger) -> Iterator[TestClient]:
    result = set_password(three, "tester", PASSWORD, "officer")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    with TestClient(create_app(three.url, clock=Clock()), base_url="http://testserver") as c:
        sign_in(c)
        yield c


def _grants_shown(page: str) -> list[str]:
    return re.findall(r'<tr data-grant="([^"]+)">', page)


def test_the_overview_filters_by_district_and_shows_the_column(three: Ledger, client: TestClient) -> None:
    every = client.get("/").text
    assert _grants_shown(every) == ["G1", "G2", "G3"]
    # the select offers the districts present, by their Chinese names
    offered = dict(re.findall(r'<option value="(5\d{5})"\s*>([^<]+)</option>', every))
    assert offered == {"500101": "万州区", "500103": "渝中区"}
    yuzhong = client.get("/?district=500103").text
    assert _grants_shown(yuzhong) == ["G1", "G2"]
    assert 'data-key="district">渝中区</td>' in yuzhong
    assert _grants_shown(client.get("/?district=万州区").text) == ["G3"]
    assert _grants_shown(client.get("/?district=500101&status=approved").text) == ["G3"]
    assert _grants_shown(client.get("/?district=500101&status=applied").text) == []
    assert _grants_shown(client.get("/?district=火星区").text) == []
    assert _grants_shown(client.get("/?district=<script>").text) == []
    assert "<script>alert" not in client.get("/?district=<script>alert(1)</script>").text
    # the figures shown are the CLI's for the same filter
    cli_rows = {r["grant_id"]: r for r in rows(three, "--district", "500103")}
    for grant in ("G1", "G2"):
        cell = re.search(rf'<tr data-grant="{grant}">.*?data-key="subsidy_spent">([^<]+)</td>', yuzhong, re.S)
        assert cell is not None
        assert Decimal(cell.group(1).replace(",", "")) == Decimal(cli_rows[grant]["subsidy_spent"])
    english = client.get("/?district=500103&lang=en").text
    assert "Yuzhong District" in english


def test_the_overview_pages_keep_the_district_filter(three: Ledger, client: TestClient) -> None:
    from commands.web import pages

    old = pages.PAGE_SIZE
    pages.PAGE_SIZE = 1
    try:
        first = client.get("/?district=500103").text
        assert _grants_shown(first) == ["G1"]
        assert "district=500103&page=2" in first
        assert _grants_shown(client.get("/?district=500103&page=2").text) == ["G2"]
    finally:
        pages.PAGE_SIZE = old


def test_the_quick_balance_path_reads_the_read_models_own_names() -> None:
    from projections import quick, schema

    assert quick.UNITS_TABLE == schema.units.name
    assert {"unit_id", "district"} == set(schema.units.c.keys())


def test_the_quick_path_and_the_ordinary_path_agree_on_districts(three: Ledger) -> None:
    if not three.url.startswith("sqlite"):
        pytest.skip("the quick path reads SQLite files")
    from projections.quick import current_balances

    quick = current_balances(three.url)
    assert quick is not None
    assert [(b.grant_id, b.district) for b in quick] == [("G1", "500103"), ("G2", "500103"), ("G3", "500101")]
    with sqlite3.connect(three.url.removeprefix("sqlite:///")) as conn:
        stored = dict(conn.execute("SELECT unit_id, district FROM balance_units").fetchall())
    assert stored == {"U1": "500103", "U2": "500103", "U3": "500101"}


def test_export_carries_each_units_district_as_last_recorded_and_imports_back(
    three: Ledger, tmp_path: Path
) -> None:
    """An approve row carries its unit's district as the ledger holds it now: an amendment
    recorded after the approval included."""
    from commands.export import _WIDTH
    from ledger.import_format import EXPORTED

    assert _WIDTH == len(EXPORTED) and EXPORTED[-5:] == ("district", "tier", "track", "applied", "project")
    three.ok("unit", "set-district", "U3", "--district", "500243", "--date", "2024-06-01")
    path = tmp_path / "books.csv"
    three.ok("export", "--format", "csv", "--output", str(path))
    other = Ledger(f"sqlite:///{tmp_path / 'other.db'}", CliRunner())
    other.import_ok(path)
    assert [(r["grant_id"], r["subsidy_available"], r["district"]) for r in rows(other)] == [
        (r["grant_id"], r["subsidy_available"], r["district"]) for r in rows(three)
    ]
    assert [r["district"] for r in rows(other)] == ["500103", "500103", "500243"]
