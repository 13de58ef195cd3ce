"""A district base's count of professions is a finding (003 第六条 原则上), judged alike by
`report findings`, the bundle's findings sheet and the auditor's verifier; an application whose
professions are not known (an import's approve row names none) is no finding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from ledger.application import GrantLedger
from ledger.grant import Grant
from tests.conftest import Ledger
from tests.importdata import HEADER
from tests.signing import save_sealed
from tests.test_programme_rules import apply_args, assert_bundle_agrees, findings, register


def plant_application(ledger: Ledger, grant: str, unit: str, projects: Any) -> None:
    """An application stored below the aggregate, its professions as given."""
    app = GrantLedger(ledger.url)
    try:
        applied = Grant.create(
            grant_id=grant, unit_id=unit, base_id=f"B-{grant}", base_name="", programme="district_base",
            level="district", projects=projects, requested=Decimal(200000), on=date(2024, 3, 1),
            actor="elsewhere", role="officer", unit_kind="enterprise",
        )  # fmt: skip
        save_sealed(app, ledger, applied, actor="elsewhere", role="officer")
    finally:
        app.close()


def test_the_professions_an_application_names_are_counted_alike_everywhere(
    ledger: Ledger, tmp_path: Path
) -> None:
    register(ledger, "U5", "enterprise")
    # three once trimmed (a full-width space is a space), a repeat and an empty one not counted
    ledger.ok(*apply_args("G5", "U5", "B5", "district_base", "a", " a ", "\u3000a", "b", "c d"),
              "--amount", "20万", "--date", "2024-03-01")  # fmt: skip
    # a district base approved elsewhere: its approve row names no profession, which is not known,
    # not "names 0" (was a finding on every imported district grant)
    rows = tmp_path / "approved.csv"
    rows.write_text(
        f"{HEADER}\n2024-04-01,U1,B0001,G1,district_base,approve,200000,,,,渝中人社〔2024〕1号,,\n"
    )
    ledger.import_ok(rows)
    # an application stored with its professions as one text, not a list: the verifier reads no list
    # of professions there, so neither does the ledger (was "names 3", and `audit verify` failed)
    register(ledger, "U2", "enterprise")
    plant_application(ledger, "G2", "U2", "abc")
    # one stored naming one profession: within 1–2
    register(ledger, "U3", "enterprise")
    plant_application(ledger, "G3", "U3", ["电工", " 电工"])
    counted = [(f["grant_id"], f["message"]) for f in findings(ledger) if f["rule"] == "projects count"]
    assert counted == [
        ("G5", "a district_base (区级高技能人才培训基地) application names 1–2 professions or projects "
               "(--project); this one names 3"),
    ]  # fmt: skip
    assert_bundle_agrees(ledger, tmp_path)
