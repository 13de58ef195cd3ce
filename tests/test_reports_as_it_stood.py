"""The reports as the books stood: ``--as-of DATE`` (acts dated later left out) and ``--known-at
TIMESTAMP`` (acts recorded later left out) reach every fact a report shows, not only the money —
the build period an extension moved later, a base not yet recorded, the steps still waiting."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from tests.conftest import Ledger, approved_district_grant
from tests.test_findings_known_at import moment

EXTENDED = ("grant", "extend", "G1", "--end", "2026-09-30", "--document", "渝中人社〔2026〕7号",
            "--date", "2026-03-01")  # fmt: skip

# every read that takes base ids with --as-of and --known-at
READS = (
    ("balance",), ("report", "categories"), ("report", "sources"), ("report", "execution"),
    ("report", "matching"), ("report", "budget"), ("report", "findings"), ("grant", "pending"),
)  # fmt: skip


def execution(ledger: Ledger, *options: str) -> tuple[str, int, str | None]:
    """G1's build end, days left and build time elapsed in `report execution --format json`."""
    (row,) = json.loads(ledger.ok("report", "execution", "G1", "--format", "json", *options).stdout)
    return row["build_end"], row["days_left"], row["elapsed"]


def test_execution_reads_the_build_period_as_it_stood(ledger: Ledger) -> None:
    """G1 builds 2024-04-01 to 2026-03-31; an extension to 2026-09-30, dated 2026-03-01, is
    recorded after the moment. As of 2026-02-01 (before its date) and as known before it was
    recorded, the period ends 2026-03-31: its days left and time elapsed count to that end."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    ledger.ok("spend", "G1", "--amount", "3万", "--category", "equipment", "--source", "subsidy",
              "--voucher", "支-1", "--date", "2024-05-01")  # fmt: skip
    before = moment()
    ledger.ok(*EXTENDED, role="approver")

    assert execution(ledger, "--as-of", "2026-02-01") == ("2026-03-31", 58, "92.04")
    known = ("--known-at", before.isoformat())
    assert execution(ledger, "--as-of", "2026-04-15", *known) == ("2026-03-31", -15, "100.00")
    assert execution(ledger, *known)[0] == "2026-03-31"
    # as it stands, and as of a day after the extension's date: the period runs to 2026-09-30
    assert execution(ledger)[0] == "2026-09-30"
    assert execution(ledger, "--as-of", "2026-04-15") == ("2026-09-30", 168, "81.58")
    # the moment after the extension was recorded knows it
    assert execution(ledger, "--as-of", "2026-04-15", "--known-at", moment().isoformat())[0] == "2026-09-30"
    # before the approval's date there is no build period to count
    assert execution(ledger, "--as-of", "2024-03-31") == (None, None, None)


def test_a_base_not_yet_recorded_is_not_found(ledger: Ledger) -> None:
    """B0001 (grant G1) is applied for 2024-03-01, recorded after the moment: every report named
    it, as the ledger knew it before, says it is not found (exit 4), as it says of a base the
    ledger never held — not an empty report; as of a day before its application too."""
    from tests.conftest import register_bodies

    register_bodies(ledger)
    before = moment()
    approved_district_grant(ledger)
    for report in READS:
        for named in ("B0001", "G1"):
            for when in (("--known-at", before.isoformat()), ("--as-of", "2024-02-29")):
                got = ledger(*report, named, *when, "--format", "json")
                assert got.exit_code == 4, (report, named, when, got.stdout, got.stderr)
                assert got.stdout == "" and "Traceback" not in got.stderr, (report, got.stderr)
                lines = got.stderr.strip().splitlines()
                assert len(lines) == 1 and (named in lines[0] or "B0001" in lines[0]), (report, lines)
        never = ledger(*report, "B9999", "--format", "json")
        assert never.exit_code == 4 and "B9999" in never.stderr, (report, never.stderr)
        # known after it was recorded, and as of its application's day, the base is there
        for when in (("--known-at", moment().isoformat()), ("--as-of", "2024-03-01")):
            shown = ledger(*report, "B0001", *when, "--format", "json")
            assert shown.exit_code == 0, (report, when, shown.stderr)
            if report in (
                ("balance",),
                ("report", "sources"),
                ("report", "execution"),
                ("report", "matching"),
            ):
                assert "B0001" in shown.stdout, (report, when, shown.stdout)


def waiting(ledger: Ledger, *options: str) -> list[tuple[str, str, str | None]]:
    """(grant, step, since) of each row of `grant pending --format json` with ``options``."""
    shown = json.loads(ledger.ok("grant", "pending", "--format", "json", *options).stdout)
    return [(row["grant_id"], row["step"], row["since"]) for row in shown]


def test_pending_as_the_ledger_knew_it(ledger: Ledger) -> None:
    """G1 applied for 2024-03-01; its review (dated 2024-03-08) is recorded after the first
    moment: known then, on 2024-03-20 G1 still waited for its review; as it stands, for its
    notice. Approved later, its rectification R1 (due 2024-06-30) is completed 2024-06-20 but
    recorded after the second moment: known then, R1 was overdue on 2024-07-15; now it is not."""
    from tests.conftest import register_bodies, selected
    from tests.test_findings_known_at import order_r1

    register_bodies(ledger)
    ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    ledger.ok("grant", "apply", "G1", "--unit", "U1", "--base", "B0001", "--programme", "district_base",
              "--project", "电工", "--amount", "20万", "--date", "2024-03-01")  # fmt: skip
    applied = moment()
    selected(ledger, "G1")  # reviewed 2024-03-08, noticed 2024-03-11..15
    day = ("--as-of", "2024-03-20")
    assert waiting(ledger, *day, "--known-at", applied.isoformat()) == [("G1", "review", "2024-03-01")]
    assert waiting(ledger, *day) == [("G1", "approve", "2024-03-15")]
    assert waiting(ledger, "--as-of", "2024-03-09") == [("G1", "notice", "2024-03-08")]
    # before the application was recorded, nothing of G1 was known to wait
    assert waiting(ledger, *day, "--known-at", "2000-01-01T00:00:00+00:00") == []

    from tests.conftest import DISTRICT_BODIES

    ledger.ok("grant", "approve", "G1", "--amount", "200000", "--document", "渝中人社〔2024〕1号",
              *DISTRICT_BODIES, "--date", "2024-04-01", role="approver")  # fmt: skip
    order_r1(ledger)
    ordered = moment()
    ledger.ok("rectify", "complete", "G1", "--ref", "R1", "--date", "2024-06-20")
    later = ("--as-of", "2024-07-15")
    overdue = [("G1", "rectification", "2024-06-30")]
    assert waiting(ledger, *later, "--known-at", ordered.isoformat()) == overdue
    assert waiting(ledger, *later) == []
    assert waiting(ledger, *later, "--known-at", moment().isoformat()) == []
    # as known right after the application was recorded, its review still waited
    assert waiting(ledger, *later, "--known-at", applied.isoformat())[0][:2] == ("G1", "review")


def districts(ledger: Ledger, *options: str) -> list[tuple[str, str | None]]:
    """(base, district) of each row of `balance --format json` with ``options``."""
    rows = json.loads(ledger.ok("balance", "--format", "json", *options).stdout)
    return [(r["base_id"], r["district"]) for r in rows]


YUZHONG, SHAPINGBA = [("B0001", "500103")], [("B0001", "500106")]


def test_a_units_district_as_it_stood(ledger: Ledger) -> None:
    """U1, registered without a district, is set in 渝中区 (dated 2024-05-01), then, recorded
    after the moment, moved to 沙坪坝区 (dated 2024-09-01). `balance --district` and its
    district column read the district set by the day (--as-of) and recorded by the moment
    (--known-at), not the unit's district now; `projections rebuild` and `verify` keep it."""
    approved_district_grant(ledger)
    ledger.ok("unit", "set-district", "U1", "--district", "渝中区", "--date", "2024-05-01")
    before = moment()
    ledger.ok("unit", "set-district", "U1", "--district", "沙坪坝区", "--date", "2024-09-01")

    def check() -> None:
        assert districts(ledger, "--as-of", "2024-04-30") == [("B0001", None)]  # none set by then
        assert districts(ledger, "--as-of", "2024-06-30") == YUZHONG
        assert districts(ledger, "--as-of", "2024-06-30", "--district", "渝中区") == YUZHONG
        assert districts(ledger, "--as-of", "2024-06-30", "--district", "沙坪坝区") == []
        assert districts(ledger, "--known-at", before.isoformat()) == YUZHONG
        assert districts(ledger, "--known-at", before.isoformat(), "--district", "500106") == []
        assert districts(ledger, "--as-of", "2024-09-01", "--district", "沙坪坝区") == SHAPINGBA
        assert districts(ledger, "--district", "沙坪坝区") == SHAPINGBA  # as it stands
        assert districts(ledger, "--district", "渝中区") == []
        assert districts(ledger, "--known-at", moment().isoformat()) == SHAPINGBA

    check()
    ledger.ok("projections", "rebuild")
    check()
    verified = ledger("projections", "verify")
    assert verified.exit_code == 0, verified.stdout + verified.stderr


def test_a_district_kept_without_its_dates_stands_where_it_stands(ledger: Ledger) -> None:
    """A ledger whose districts an earlier version kept without their dates (the settings'
    table made empty, as a newer version finds it): as of any day its units stand where they
    stand now, not in no district; a rebuild brings the dates back."""
    from sqlalchemy import create_engine, text

    approved_district_grant(ledger)
    ledger.ok("unit", "set-district", "U1", "--district", "渝中区", "--date", "2024-05-01")
    engine = create_engine(ledger.url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE balance_unit_districts"))
    finally:
        engine.dispose()
    assert districts(ledger, "--as-of", "2024-04-30") == YUZHONG
    assert districts(ledger, "--as-of", "2024-06-30", "--district", "渝中区") == YUZHONG
    ledger.ok("projections", "rebuild")
    assert districts(ledger, "--as-of", "2024-04-30") == [("B0001", None)]
    assert districts(ledger, "--as-of", "2024-06-30", "--district", "渝中区") == YUZHONG


def test_a_grants_history_before_it_was_recorded_is_not_found(ledger: Ledger) -> None:
    """`history G1` as known before G1 was recorded, or as of a day before its application, says
    G1 is not found (exit 4, one sentence), as for a grant the ledger never held; from its
    application's day it lists the application."""
    from tests.conftest import register_bodies

    register_bodies(ledger)
    before = moment()
    approved_district_grant(ledger)
    for when in (("--known-at", before.isoformat()), ("--as-of", "2024-02-29")):
        got = ledger("history", "G1", *when, "--format", "json")
        assert got.exit_code == 4 and got.stdout == "", (when, got.stdout, got.stderr)
        assert len(got.stderr.strip().splitlines()) == 1 and "G1" in got.stderr, got.stderr
    shown = json.loads(ledger.ok("history", "G1", "--as-of", "2024-03-01", "--format", "json").stdout)
    assert [h["kind"] for h in shown] == ["apply"]


def statuses(ledger: Ledger, *options: str) -> list[tuple[str, str]]:
    rows = json.loads(ledger.ok("balance", "--format", "json", *options).stdout)
    return [(r["grant_id"], r["status"]) for r in rows]


def test_a_grants_status_as_it_stood(ledger: Ledger) -> None:
    """G1 applied for 2024-03-01 is rejected 2024-03-20, recorded after the moment: `balance`
    shows it applied as of a day before the rejection and as known before it was recorded,
    rejected after — as the balance as it stands does, never approved nor applied for ever."""
    ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    ledger.ok("grant", "apply", "G1", "--unit", "U1", "--base", "B0001", "--programme", "district_base",
              "--project", "电工", "--amount", "20万", "--date", "2024-03-01")  # fmt: skip
    before = moment()
    ledger.ok("grant", "reject", "G1", "--reason", "名额已满", "--date", "2024-03-20", role="approver")
    assert statuses(ledger) == [("G1", "rejected")]
    assert statuses(ledger, "--as-of", "2024-03-19") == [("G1", "applied")]
    assert statuses(ledger, "--known-at", before.isoformat()) == [("G1", "applied")]
    assert statuses(ledger, "--as-of", "2024-03-20") == [("G1", "rejected")]
    assert statuses(ledger, "--known-at", moment().isoformat()) == [("G1", "rejected")]
    assert statuses(ledger, "--from", "2024-01-01", "--to", "2024-12-31") == [("G1", "rejected")]


def half_matching_version(effective: date) -> str:
    """The shipped policy as version 2026.9, in force from ``effective``, asking district bases
    for matching of half the subsidy received (1:0.5)."""
    from importlib import resources

    shipped = (resources.files("ledger") / "policy" / "v1-2023.toml").read_text("utf-8")
    text = shipped.replace('version = "2023.1"', 'version = "2026.9"').replace(
        "effective_from = 2023-03-15\n", f"effective_from = {effective.isoformat()}\n", 1
    )
    start = text.index('[programmes.district_base]\ndocument = "003"')
    return text[:start] + text[start:].replace('matching_ratio = "1"', 'matching_ratio = "0.5"', 1)


def test_matching_asks_the_ratio_of_the_policy_in_force_on_the_day(ledger: Ledger, tmp_path: Path) -> None:
    """A version taking effect today asks district bases for matching of half the subsidy: as of
    yesterday `report matching` asks 1:1 (as the findings judge that day), from today 1:0.5."""
    from datetime import timedelta

    from ledger.clock import business_today

    today = business_today()
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    version = tmp_path / "v2.toml"
    version.write_text(half_matching_version(today), encoding="utf-8")

    def asked(*options: str) -> tuple[str, str, str]:
        (row,) = json.loads(ledger.ok("report", "matching", "--format", "json", *options).stdout)
        return row["ratio"], row["required"], row["shortfall"]

    def short(*options: str) -> list[str]:
        """The matching finding's messages (its shortfall) of `report findings`."""
        rows = json.loads(ledger.ok("report", "findings", "--format", "json", *options).stdout)
        return [r["message"] for r in rows if r["rule"] == "matching 1:1"]

    # read before the install in this same process (as a server reads): then 1:1 today
    assert asked() == ("1:1", "200000.00", "100000.00")
    assert ["100,000.00" in m for m in short()] == [True]
    ledger.ok("policy", "install", str(version), role="admin")
    yesterday = (today - timedelta(days=1)).isoformat()
    assert asked("--as-of", yesterday) == ("1:1", "200000.00", "100000.00")
    assert asked() == ("1:0.5", "100000.00", "50000.00")
    assert asked("--as-of", today.isoformat()) == ("1:0.5", "100000.00", "50000.00")
    # the findings judge each day by the same ratio as the report
    assert ["100,000.00" in m for m in short("--as-of", yesterday)] == [True]
    assert ["50,000.00" in m for m in short()] == [True]
