"""Red-team review of the day's additions (policy install, bundle policy, bodies, settings):
each test an attack or an auditor's check through the command line."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commands.cli import cli
from tests.conftest import Ledger, approved_district_grant, spent_below


def _verify(bundle: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["--lang", "en", "--role", "auditor", "audit", "verify", "--unanchored", str(bundle)]
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, result.stdout + result.stderr


def _shipped() -> str:
    return (resources.files("ledger") / "policy" / "v1-2023.toml").read_text("utf-8")


def _version_from_today(change: str, into: str) -> str:
    from ledger.rules import business_today

    text = (
        _shipped()
        .replace('version = "2023.1"', 'version = "2026.9"')
        .replace("effective_from = 2023-03-15\n", f"effective_from = {business_today().isoformat()}\n", 1)
    )
    assert change in text
    return text.replace(change, into)


def _spend(ledger: Ledger, voucher: str, category: str, on: str) -> Result:
    return ledger("spend", "G1", "--amount", "500", "--category", category, "--source", "subsidy",
                  "--voucher", voucher, "--date", on)  # fmt: skip


def test_a_version_installed_today_does_not_rejudge_spending_recorded_under_the_old_one(
    ledger: Ledger, tmp_path: Path
) -> None:
    """An administrator installs a version, in force from today, that no longer allows materials.
    A materials spend of 2024, lawful under the version then in force, stays lawful: the ledger
    says so, and the auditor's verifier must too (it judged every spend by the one file shipped,
    the newest, so an honest ledger's bundle FAILED — and, the other way round, a version allowing
    travel from today let a travel spend of 2024 pass)."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "T1", "--date", "2024-04-15")
    assert _spend(ledger, "M1", "materials", "2024-05-01").exit_code == 0
    old = '[spending.district_base]\nallowed = ["equipment", "materials", '
    text = _version_from_today(old, '[spending.district_base]\nallowed = ["equipment", ')
    banned = 'banned = ["travel", "labour", "unrelated"]\nbanned_clause = "banned_uses"'
    text = text.replace(banned, banned.replace('"unrelated"]', '"unrelated", "materials"]'), 1)
    version = tmp_path / "v9.toml"
    version.write_text(text, encoding="utf-8")
    ledger.ok("policy", "install", str(version), role="admin")
    from ledger.rules import business_today

    assert _spend(ledger, "M2", "materials", business_today().isoformat()).exit_code == 3
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(tmp_path / "b"), role="auditor")
    code, out = _verify(tmp_path / "b")
    assert code == 0, out


def test_a_bundle_whose_policy_file_is_an_installed_calendar_fails_in_one_sentence(
    ledger: Ledger, tmp_path: Path
) -> None:
    """The verifier trusts a policy file whose text an administrator installed; a calendar year is
    such a text too, but it is no policy version: a forger who puts it in place of the bundle's
    policy must get a failure, not a traceback or a pass with nothing judged."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "T1", "--date", "2024-04-15")
    assert _spend(ledger, "M1", "travel", "2024-05-01").exit_code == 3
    assert _spend(ledger, "M1", "materials", "2024-05-01").exit_code == 0
    year = tmp_path / "2030.toml"
    year.write_text('[calendar."2030"]\nsource = "test"\ndays_off = [2030-01-01]\nworkdays = []\n', "utf-8")
    ledger.ok("policy", "install", str(year), role="admin")
    ledger.ok("audit", "checkpoint", role="approver")
    bundle = tmp_path / "b"
    ledger.ok("audit", "export", str(bundle), role="auditor")
    (bundle / "policy" / "v1-2023.toml").unlink()
    (bundle / "policy" / "2030.toml").write_text(year.read_text("utf-8"), encoding="utf-8")
    from audit.bundle import write_manifest

    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 6 and "policy/2030.toml" in out, out


def test_policy_data_nested_too_deep_is_refused_in_one_sentence(ledger: Ledger, tmp_path: Path) -> None:
    """A 10 KB TOML file of nested arrays ran tomllib out of recursion: internal error, exit 1."""
    before = ledger.event_count()
    deep = tmp_path / "deep.toml"
    deep.write_text("version = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    result = ledger("policy", "install", str(deep), role="admin")
    assert result.exit_code == 2, result.stderr
    assert "deep.toml" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert ledger.event_count() == before


def test_no_collection_runs_while_a_deep_file_is_parsed(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal above once came with 28 lines of "Exception ignored": a garbage collection
    started while tomllib was near the stack's limit ran the finaliser of an application closed
    earlier in the process, which ran out of stack. Policy data and the settings file are read
    with the collector off (when it would run cannot be chosen from here: it is watched)."""
    import gc
    import tomllib

    collecting: list[bool] = []
    loads = tomllib.loads

    def watched(text: str) -> dict[str, object]:
        collecting.append(gc.isenabled())
        return loads(text)

    monkeypatch.setattr(tomllib, "loads", watched)
    deep = tmp_path / "deep.toml"
    deep.write_text("version = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    result = ledger("policy", "install", str(deep), role="admin")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    settings = tmp_path / "config.toml"
    settings.write_text("db = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    told = ledger.runner.invoke(cli, ["--lang", "en", "info"], env={"GRANT_LEDGER_CONFIG": str(settings)})
    assert told.exit_code == 2 and "nested too deep" in told.stderr, told.stderr
    assert collecting == [False, False] and gc.isenabled()


def test_a_settings_file_nested_too_deep_is_refused_in_one_sentence(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    settings = tmp_path / "config.toml"
    settings.write_text("db = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    env = dict(os.environ, GRANT_LEDGER_CONFIG=str(settings))
    done = subprocess.run(
        [sys.executable, "-m", "commands", "info"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "config.toml" in done.stderr and "internal error" not in done.stderr, done.stderr


def test_a_bundle_with_json_nested_too_deep_fails_verification(ledger: Ledger, tmp_path: Path) -> None:
    """A forged bundle.json, or an events line, of 200,000 nested arrays: the verifier said
    'internal error (RecursionError)', exit 1, instead of failing the bundle (exit 6)."""
    from audit.bundle import write_manifest

    ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    ledger.ok("audit", "checkpoint", role="approver")
    deep = b"[" * 200_000 + b"]" * 200_000 + b"\n"
    for target in ("bundle.json", "events.jsonl"):
        bundle = tmp_path / target
        ledger.ok("audit", "export", str(bundle), role="auditor")
        kept = (bundle / target).read_bytes() if target == "events.jsonl" else b""
        (bundle / target).write_bytes(kept + deep)
        write_manifest(bundle)
        code, out = _verify(bundle)
        assert code == 6 and "internal error" not in out and target in out, (target, out)


def test_one_body_is_not_registered_twice_under_a_code_or_name_in_another_case_or_width(
    ledger: Ledger,
) -> None:
    """002 五(一)'s quota counts bodies by code: ``rs-yz`` or full-width ``ＲＳ-ＹＺ`` beside
    ``RS-YZ``, or ``…（一）`` beside ``…(一)``, were registered as new bodies, each with a quota of its
    own. (A full-width code is now refused as a look-alike before the registry is read: exit 2.)"""

    def add(code: str, name: str) -> Result:
        return ledger("body", "add", code, "--name", name, "--kind", "district_bureau", "--duty", "hr",
                      "--date", "2024-01-02", role="admin")  # fmt: skip

    assert add("RS-ZZ", "测试区人力社保局(一)").exit_code == 0
    before = ledger.event_count()
    for code, name, exit_code, said in (
        ("rs-zz", "测试区人力社保局B", 5, "RS-ZZ"),
        ("ＲＳ-ＺＺ", "测试区人力社保局C", 2, "which prints like 'R'"),
        ("RS-ZZ2", "测试区人力社保局（一）", 5, "RS-ZZ"),
        ("RS-ZZ3", "测试区人力社保局（一）".upper(), 5, "RS-ZZ"),
    ):
        refused = add(code, name)
        assert refused.exit_code == exit_code, (code, name, refused.stdout, refused.stderr)
        assert said in refused.stderr and refused.stderr.count("\n") == 1, refused.stderr
    assert ledger.event_count() == before
    listed = ledger.ok("body", "list").stdout
    assert "rs-zz" not in listed and "ＲＳ" not in listed and "RS-ZZ2" not in listed


def test_outputs_of_a_year_not_yet_begun_are_refused(ledger: Ledger) -> None:
    """An output report dated 2025-01-05 for the year 2030 was recorded, and the findings then
    judged a year nobody has lived ('reported advanced 20 for 2030, below the target 500')."""
    approved_district_grant(ledger)
    before = ledger.event_count()
    ahead = ledger("output", "report", "G1", "--trainees", "850", "--advanced", "20", "--year", "2030",
                   "--date", "2025-01-05")  # fmt: skip
    assert ahead.exit_code == 2, ahead.stderr
    assert "2030" in ahead.stderr and ahead.stderr.count("\n") == 1, ahead.stderr
    assert ledger.event_count() == before
    assert "2030" not in ledger.ok("report", "findings", "--as-of", "2026-06-01").stdout
    ledger.ok("output", "report", "G1", "--trainees", "850", "--advanced", "20", "--year", "2025",
              "--date", "2025-12-31")  # fmt: skip


def test_a_correction_is_never_dated_before_the_report_it_corrects(ledger: Ledger) -> None:
    """A correction dated 2026-01-04 of a report dated 2026-01-05 was recorded: the books as of
    2026-01-04 then hold a correction of a report that did not exist yet."""
    approved_district_grant(ledger)
    ledger.ok("output", "report", "G1", "--trainees", "850", "--advanced", "20", "--year", "2025",
              "--date", "2026-01-05")  # fmt: skip
    before = ledger.event_count()
    early = ledger("output", "report", "G1", "--trainees", "850", "--advanced", "600", "--corrects", "2025",
                   "--date", "2026-01-04")  # fmt: skip
    assert early.exit_code == 3, early.stderr
    assert "2026-01-05" in early.stderr and early.stderr.count("\n") == 1, early.stderr
    assert " — correction date, 003 第十三条: “" in early.stderr, early.stderr
    assert ledger.event_count() == before
    ledger.ok("output", "report", "G1", "--trainees", "850", "--advanced", "600", "--corrects", "2025",
              "--date", "2026-01-05")  # fmt: skip


def test_a_version_installed_today_does_not_rejudge_outputs_of_past_years(
    ledger: Ledger, tmp_path: Path
) -> None:
    """A version in force from today that raises the district output target from 500 to 5,000
    high-skill a year: the 2025 outputs (600 advanced), met under the version in force in 2025,
    became a finding in `report findings` the moment it was installed — stored history judged
    anew, which policy install promises never to do."""
    approved_district_grant(ledger)
    ledger.ok("output", "report", "G1", "--trainees", "900", "--advanced", "600", "--year", "2025",
              "--date", "2026-01-05")  # fmt: skip

    def targets() -> str:
        found = ledger.ok("report", "findings").stdout
        return "\n".join(line for line in found.splitlines() if "2025" in line and "target" in line)

    assert targets() == ""
    old = 'measure = "advanced"\nat_least = 500\nfrom_year = 2\nclause = "district_outputs_after"'
    version = tmp_path / "v9.toml"
    version.write_text(_version_from_today(old, old.replace("at_least = 500", "at_least = 5000")), "utf-8")
    ledger.ok("policy", "install", str(version), role="admin")
    assert targets() == ""
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(tmp_path / "b"), role="auditor")
    code, out = _verify(tmp_path / "b")
    assert code == 0, out


def _forge_travel_spend(ledger: Ledger, voucher: str) -> None:
    """A travel spend of 2024-05-01 stored past the rules (as a holder of an officer's key writing
    the database directly would), sealed by that key: only the verifier's replay can catch it."""
    from datetime import date

    from ledger.application import GrantLedger
    from tests.signing import save_sealed

    app = GrantLedger(ledger.url)
    try:
        grant = app.get_grant("G1")
        spent_below(grant, voucher, date(2024, 5, 1), category="travel", amount="500", actor="tester")
        save_sealed(app, ledger, grant)
    finally:
        app.close()


def test_a_version_allowing_travel_from_today_does_not_let_a_forged_2024_travel_spend_pass(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    ledger = sqlite_ledger
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "T1", "--date", "2024-04-15")
    _forge_travel_spend(ledger, "X1")
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(tmp_path / "before"), role="auditor")
    code, out = _verify(tmp_path / "before")
    assert code == 6 and "travel" in out, out  # the verifier catches it under the version of 2024
    travel = '[categories.travel]\nzh = "差旅费"\nen = "travel"\nallowed = false'
    text = _version_from_today(travel, travel.replace("allowed = false", "allowed = true"))
    district = '[spending.district_base]\nallowed = ["equipment", '
    text = text.replace(district, district.replace('["equipment"', '["travel", "equipment"'), 1)
    banned = 'banned = ["travel", "labour", "unrelated"]\nbanned_clause = "banned_uses"'
    text = text.replace(banned, banned.replace('["travel", ', "["), 1)
    version = tmp_path / "v9.toml"
    version.write_text(text, encoding="utf-8")
    ledger.ok("policy", "install", str(version), role="admin")
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(tmp_path / "after"), role="auditor")
    code, out = _verify(tmp_path / "after")
    assert code == 6 and "travel" in out, out  # a spend of 2024 is judged by the version of 2024
    # the forger's next move, shipping the new version alone, leaves the 2024 spend unjudged: fails
    from audit.bundle import write_manifest

    (tmp_path / "after" / "policy" / "v1-2023.toml").unlink()
    write_manifest(tmp_path / "after")
    code, out = _verify(tmp_path / "after")
    assert code == 6 and "before every policy version the bundle ships" in out, out


def test_an_org_setting_a_workbook_cannot_hold_is_refused_in_one_sentence(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """编制单位 from the settings file or GRANT_LEDGER_ORG heads every report workbook: a control
    character in it ended `report … --format xlsx` with 'internal error (IllegalCharacterError)'
    (exit 1), and 40,000 characters were cut to a cell's 32,767 without a word."""
    import json
    import os
    import subprocess
    import sys

    approved_district_grant(sqlite_ledger)
    out = tmp_path / "r.xlsx"
    report = ["report", "execution", "--format", "xlsx", "--output", str(out)]
    command = [sys.executable, "-m", "commands", *report]
    cases = (("渝中区\u0007人社局", "U+0007"), ("渝中区\u202e局", "U+202E"), ("x" * 40_000, "40,000"))
    for org, named in cases:
        settings = tmp_path / "config.toml"
        settings.write_text(f'db = "{sqlite_ledger.url}"\norg = {json.dumps(org)}\n', encoding="utf-8")
        for env in (
            dict(os.environ, GRANT_LEDGER_CONFIG=str(settings)),
            dict(os.environ, GRANT_LEDGER_ORG=org, GRANT_LEDGER_DB=sqlite_ledger.url),
        ):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 2, done.stderr
            assert named in done.stderr and "org" in done.stderr, done.stderr
            assert done.stderr.count("\n") == 1, done.stderr
            assert not out.exists()


def test_a_policy_version_sealed_by_an_officers_key_is_never_installed(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """An officer writes a PolicyBook.Installed event (travel allowed from today) into the database
    with their own key, past `policy install`'s role check. The ledger believed any sealed install:
    it judged with the version (a travel spend recorded) and shipped it as the bundle's policy. The
    ledger must ignore it, and the verifier fail the bundle that ships it anyway."""
    import hashlib

    from ledger.application import GrantLedger
    from ledger.policy_book import BOOK_ID, PolicyBook
    from ledger.rules import business_today
    from tests.signing import save_sealed

    ledger = sqlite_ledger
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "100000", "--voucher", "T1", "--date", "2024-04-15")
    travel = '[categories.travel]\nzh = "差旅费"\nen = "travel"\nallowed = false'
    text = _version_from_today(travel, travel.replace("allowed = false", "allowed = true"))
    district = '[spending.district_base]\nallowed = ["equipment", '
    text = text.replace(district, district.replace('["equipment"', '["travel", "equipment"'), 1)
    banned = 'banned = ["travel", "labour", "unrelated"]\nbanned_clause = "banned_uses"'
    text = text.replace(banned, banned.replace('["travel", ', "["), 1)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    app = GrantLedger(ledger.url)
    try:
        who = {"actor": "tester", "role": "officer", "occurred_on": None}
        book = PolicyBook._create(PolicyBook.Opened, id=BOOK_ID, **who)
        book.trigger_event(PolicyBook.Installed, name="v9.toml", kind="version", sha256=sha, text=text, **who)
        save_sealed(app, ledger, book)
    finally:
        app.close()
    ledger.ok("grant", "extend", "G1", "--end", "2099-12-31", "--document", "渝中人社〔2026〕7号",
              "--date", "2026-03-01", role="approver")  # fmt: skip
    spent = _spend(ledger, "X9", "travel", business_today().isoformat())
    assert spent.exit_code == 3 and "travel" in spent.stderr, spent.stderr
    ledger.ok("audit", "checkpoint", role="approver")
    bundle = tmp_path / "b"
    ledger.ok("audit", "export", str(bundle), role="auditor")
    assert sorted(p.name for p in (bundle / "policy").iterdir()) == ["v1-2023.toml"]
    from audit.bundle import write_manifest

    (bundle / "policy" / "v9.toml").write_text(text, encoding="utf-8")  # the forger ships it
    write_manifest(bundle)
    code, out = _verify(bundle)
    assert code == 6 and "'policy install' is recorded by admin" in out, out


def test_an_act_without_a_date_is_dated_today_in_shanghai_whatever_the_machines_zone(
    sqlite_ledger: Ledger,
) -> None:
    """The default business date was the machine's date.today(), the judge's today Asia/Shanghai:
    on a machine at UTC-12 an act typed without --date was dated the day before Chongqing's (and
    judged by the version in force then); at UTC+14, some hours a day, the day after (refused as
    dated ahead). Of the two zones, one differs from Shanghai's date at any hour."""
    import json
    import os
    import subprocess
    import sys

    from ledger.rules import business_today

    ledger = sqlite_ledger
    for n, zone in enumerate(("Etc/GMT+12", "Etc/GMT-14")):
        env = dict(os.environ, TZ=zone)
        add = ["body", "add", f"ZB-{n}", "--name", f"测试{n}局", "--kind", "district_bureau", "--duty", "hr"]
        done = subprocess.run(
            [sys.executable, "-m", "commands", "--db", ledger.url, "--key", str(ledger.key("admin")),
             "--role", "admin", *add],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, (zone, done.stderr)
    listed = json.loads(ledger.ok("body", "list", "--format", "json").stdout)
    days = {b["code"]: b["on"] for b in listed if b["code"].startswith("ZB-")}
    assert days == {"ZB-0": business_today().isoformat(), "ZB-1": business_today().isoformat()}, days
