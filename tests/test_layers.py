"""The layers a tool enforces (pyproject.toml, [tool.importlinter]): the contracts hold, they
catch a breach, and the auditor's verifier runs with nothing of the ledger loaded."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from projections.names import BALANCES, tracked
from tests.conftest import Ledger, approved_district_grant
from tests.importdata import HEADER

PROJECT = Path(__file__).resolve().parent.parent
PACKAGES = ("ledger", "projections", "commands", "audit")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
# What the verifier may never load (DESIGN.md, "Layout"): an auditor reads and trusts it alone.
NOT_IN_THE_VERIFIER = (
    "ledger",
    "projections",
    "commands",
    "sqlalchemy",
    "eventsourcing",
    "eventsourcing_sqlalchemy",
    "pydantic",
    "click",
)
VERIFIER_MODULES = (
    "background",
    "canonical",
    "checkpoint",
    "description",
    "duties",
    "errors",
    "findings",
    "forms",
    "i18n",
    "layout",
    "manifest",
    "merkle",
    "ooxml_text",
    "people",
    "policy",
    "replay",
    "report",
    "scan",
    "seals",
    "sheets",
    "signatures",
    "verify",
    "vouchers",
    "who",
    "workbook",
    "xlsx",
    "zip_layout",
)


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_import_contracts_hold() -> None:
    done = _lint_imports(PROJECT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 5 kept, 0 broken." in done.stdout


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


def test_the_contracts_catch_every_kind_of_breach(tmp_path: Path) -> None:
    """A copy of the packages with one breach of each contract: every contract breaks."""
    for package in PACKAGES:
        shutil.copytree(PROJECT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "pyproject.toml", tmp_path / "pyproject.toml")
    # imports inside a function count as much as those at the top
    _append(tmp_path / "ledger/money.py", "\n\ndef _breach() -> None:\n    import projections.figures\n")
    _append(tmp_path / "projections/names.py", "\n\ndef _breach() -> None:\n    import commands.registry\n")
    _append(tmp_path / "audit/verifier/merkle.py", "\n\ndef _breach() -> None:\n    import sqlalchemy\n")
    _append(tmp_path / "projections/figures.py", "\n\ndef _breach() -> None:\n    import projections.quick\n")

    done = _lint_imports(tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Contracts: 0 kept, 5 broken." in done.stdout
    for breach in (
        "ledger.money -> projections.figures",
        "projections.names -> commands.registry",
        "audit.verifier.merkle -> sqlalchemy",
    ):
        assert breach in done.stdout
    assert "No cycles are allowed in projections." in done.stdout


def test_the_verifier_imports_only_the_standard_library_cryptography_and_openpyxl() -> None:
    """What the forbidden contract cannot list: any third-party package but the two is a breach."""
    import grimp

    graph = grimp.build_graph("audit", include_external_packages=True, cache_dir=None)
    verifier = {"audit.verifier", *graph.find_descendants("audit.verifier")}
    assert verifier == {"audit.verifier", *(f"audit.verifier.{m}" for m in VERIFIER_MODULES)}
    imported = {i for m in verifier for i in graph.find_modules_directly_imported_by(m)}
    outside = {
        m
        for m in imported
        if m not in verifier and m.split(".")[0] not in {*sys.stdlib_module_names, "cryptography", "openpyxl"}
    }
    assert outside == set()
    assert {"cryptography", "openpyxl"} <= imported


_VERIFY_ALONE = """
import json, sys
from pathlib import Path

from audit.verifier.verify import verify_bundle

loaded = sorted(sys.modules)
report = verify_bundle(Path(sys.argv[1]))
print(json.dumps({
    "after_import": loaded,
    "after_verify": sorted(sys.modules),
    "failures": report.failures,
    "events": report.events,
    "grants": report.grants,
}))
"""


def test_the_verifier_loads_and_verifies_a_bundle_without_the_ledger(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    ledger = sqlite_ledger
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok(
        "spend", "G1", "--amount", "3.5万", "--category", "equipment", "--source", "subsidy",
        "--voucher", "S1", "--date", "2024-05-10",
    )  # fmt: skip
    ledger.ok("audit", "checkpoint", role="approver")  # signed with tester.approver's key
    ledger.ok("audit", "export", str(tmp_path / "bundle"), role="auditor")

    done = subprocess.run(
        [sys.executable, "-c", _VERIFY_ALONE, str(tmp_path / "bundle")],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["failures"] == [] and seen["events"] == ledger.event_count() and seen["grants"] == 1
    for stage in ("after_import", "after_verify"):
        roots = {m.split(".")[0] for m in seen[stage]}
        assert roots.isdisjoint(NOT_IN_THE_VERIFIER), (stage, sorted(roots & set(NOT_IN_THE_VERIFIER)))
        assert {"audit.log", "audit.bundle", "audit.trail", "audit.signing"}.isdisjoint(seen[stage])
    # the workbook was checked, not skipped: its balances (grants == 1 above) by their bytes, an
    # honest workbook needing no openpyxl (tests/test_workbook_verified.py reads an edited one)
    assert "audit.verifier.sheets" in seen["after_verify"]


def test_every_error_of_the_verifier_is_an_audit_error() -> None:
    """One hierarchy: the command line maps AuditError to one sentence and its exit code."""
    from audit.verifier.errors import AuditError

    found = []
    for name in VERIFIER_MODULES:
        module = importlib.import_module(f"audit.verifier.{name}")
        defined = [v for v in vars(module).values() if inspect.isclass(v) and v.__module__ == module.__name__]
        for value in defined:
            if issubclass(value, Exception):
                found.append(value)
                assert issubclass(value, AuditError), value
    assert len(found) >= 6
    assert AuditError.exit_code == 6


@pytest.mark.parametrize("moved", [-1, 1])
def test_a_projection_moved_by_another_process_is_a_conflict_in_one_sentence(
    sqlite_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moved: int
) -> None:
    """The import finds a projection where it did not leave it (another process rebuilt or moved
    it): exit 5, one sentence that says to run the command again, nothing written."""
    from sqlalchemy import text

    import commands.importer

    ledger = sqlite_ledger
    approved_district_grant(ledger)
    books = tmp_path / "books.csv"
    books.write_text(f"{HEADER}\n2024-04-15,,B0001,G1,,disburse,100000,,,,拨-1,,1\n", encoding="utf-8")
    before = ledger.event_count()

    def another_process_moves_balances(conn: object, app: object, chosen: object) -> int:
        conn.execute(  # type: ignore[attr-defined]
            text(
                "UPDATE ledger_tracking SET notification_id = notification_id + :moved "
                "WHERE application_name = :key"
            ),
            {"moved": moved, "key": tracked(BALANCES)},
        )
        return before

    with monkeypatch.context() as patch:
        patch.setattr(commands.importer, "_catch_up_in", another_process_moves_balances)
        result = ledger("import", "--jobs", "1", str(books))

    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    (sentence,) = [line for line in result.stderr.splitlines() if line != "importing"]  # the progress bar
    assert sentence.startswith("grant-ledger: the balances projection stands at event ")
    assert sentence.endswith("(another process moved it); nothing was written: run the command again")
    assert ledger.event_count() == before
    ledger.ok("import", "--jobs", "1", str(books))  # run again, as the sentence says
    assert ledger.event_count() == before + 2  # the disbursement and the seal of its import batch


def test_the_projections_the_command_line_keeps_are_named_once() -> None:
    """The runner knows no projection by name; the command line hands it its list, whose names
    are the one constant the fast paths read."""
    from audit.log import AuditLogProjection
    from commands.registry import all_projections, projection_names
    from projections import names, quick

    kept = all_projections()
    assert tuple(p.name for p in kept) == projection_names() == names.KEPT == quick.PROJECTIONS
    assert len(set(names.KEPT)) == len(names.KEPT)
    assert any(isinstance(p, AuditLogProjection) for p in kept)


def test_an_audit_error_reaches_the_user_as_one_sentence_and_exit_6(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A checkpoint row forged below the application (its signed text damaged): `audit prove`
    names what is wrong with it in one sentence, exit 6, not an internal error."""
    from sqlalchemy import create_engine, insert

    from audit.log import checkpoints

    ledger = sqlite_ledger
    approved_district_grant(ledger)
    signed = ledger.ok("audit", "checkpoint", role="approver").stdout
    size = int(signed.split("\n")[1])
    engine = create_engine(ledger.url)
    with engine.begin() as conn:
        conn.execute(
            insert(checkpoints).values(
                origin="x", size=size, root="00" * 32, timestamp="2024-01-01T00:00:00Z",
                key_name="ledger", public_key="-", signed="not a signed note\n",
            )
        )  # fmt: skip
    engine.dispose()

    result = ledger("audit", "prove", "1")

    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("grant-ledger: The signed checkpoint has no blank line")
