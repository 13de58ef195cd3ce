"""Audit bundles at scale: the streaming verifier agrees with the whole-list Merkle functions, the
workbook's event log goes on past Excel's row limit, and the second-process check of the event log
catches what the in-process one catches."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from audit.bundle import write_manifest
from audit.verifier import workbook, xlsx
from audit.verifier.merkle import consistency_proof, consistency_ranges, root_from_leaf_hashes
from audit.verifier.scan import Tree
from audit.verifier.verify import verify_bundle
from tests.conftest import Ledger, approved_district_grant


def _leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]


@given(st.integers(1, 70), st.data())
def test_streamed_roots_and_consistency_proof_equal_the_whole_list_ones(
    new: int, data: st.DataObject
) -> None:
    old = data.draw(st.integers(0, new))
    sizes = set(data.draw(st.lists(st.integers(1, new), max_size=4))) | {new}
    leaves = _leaves(new)
    tree = Tree(sizes, consistency_ranges(old, new))
    for leaf in leaves:
        tree.add(leaf)
    tree.finish()
    assert tree.proof() == consistency_proof(old, leaves)
    assert {s: tree.roots_at[s] for s in sizes} == {s: root_from_leaf_hashes(leaves[:s]) for s in sizes}


def four_spends(ledger: Ledger) -> None:
    """One grant's disbursement and four spends whose payee needs escaping, then a checkpoint."""
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    for n in range(4):
        ledger.ok(
            "spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
            "--voucher", f"S{n}", "--content", "training_system", "--payee", "<&> 设备",
            "--date", "2024-05-10",
        )  # fmt: skip
    ledger.ok("audit", "checkpoint", role="approver")


@pytest.fixture
def bundle(ledger: Ledger, tmp_path: Path) -> tuple[Ledger, Path]:
    four_spends(ledger)
    return ledger, tmp_path


def test_a_sheet_longer_than_excel_allows_goes_on_in_numbered_sheets_and_still_verifies(
    bundle: tuple[Ledger, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, tmp_path = bundle
    monkeypatch.setattr(xlsx, "MAX_ROWS", 4)  # a header and three events per sheet
    ledger.ok("audit", "export", str(tmp_path / "b"), role="auditor")
    events = (tmp_path / "b" / "events.jsonl").read_text("utf-8").splitlines()
    book = load_workbook(tmp_path / "b" / "report.xlsx", read_only=True)
    logs = [name for name in book.sheetnames if name.startswith("event log")]
    assert logs == ["event log"] + [f"event log ({k})" for k in range(2, len(logs) + 1)]
    assert len(logs) == -(-len(events) // 3)
    rows = [row for name in logs for row in list(book[name].iter_rows(values_only=True))[1:]]
    assert [row[0] for row in rows] == list(range(len(events)))
    spending = [row for name in book.sheetnames if name.startswith("spending") for row in book[name].values]
    book.close()
    assert sorted(row[8] for row in spending if isinstance(row[0], int)) == ["S0", "S1", "S2", "S3"]
    assert {row[7] for row in spending if isinstance(row[0], int)} == {"training_system"}
    report = verify_bundle(tmp_path / "b")
    assert report.failures == [] and report.event_log_rows == len(events)


@pytest.mark.parametrize("second_process", [False, True])
def test_the_event_log_check_in_a_second_process_catches_an_edited_sheet(
    bundle: tuple[Ledger, Path], monkeypatch: pytest.MonkeyPatch, second_process: bool
) -> None:
    ledger, tmp_path = bundle
    b = tmp_path / "b"
    ledger.ok("audit", "export", str(b), role="auditor")
    if second_process:
        monkeypatch.setattr(workbook, "PARALLEL_BYTES", 0)
    passed = verify_bundle(b)
    assert passed.failures == [] and passed.event_log_rows == passed.events > 0

    book = load_workbook(b / "report.xlsx")
    book["event log"].cell(row=3, column=7, value="0" * 64)
    book.save(b / "report.xlsx")
    write_manifest(b)
    failed = verify_bundle(b)
    assert len(failed.failures) == 1
    assert failed.failures[0].startswith("report.xlsx event log row 3: shows (1, 2, ")
    assert "0" * 64 in failed.failures[0]


def test_an_edited_events_file_is_caught_by_its_manifest_digest_in_either_process(
    bundle: tuple[Ledger, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, tmp_path = bundle
    b = tmp_path / "b"
    ledger.ok("audit", "export", str(b), role="auditor")
    monkeypatch.setattr(workbook, "PARALLEL_BYTES", 0)
    path = b / "events.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"actor":"', b'"actor":"x', 1))
    failed = verify_bundle(b)
    assert "MANIFEST: sha256 of events.jsonl differs from the manifest (file changed)" in failed.failures
    assert any("recomputed leaf hash differs" in f for f in failed.failures)


@pytest.mark.parametrize("chosen", [(), ("--grant", "G2"), ("--as-of", "2024-04-30")])
def test_the_workbook_written_by_a_second_process_is_the_one_written_here(
    bundle: tuple[Ledger, Path], monkeypatch: pytest.MonkeyPatch, chosen: tuple[str, ...]
) -> None:
    """Every sheet the same, whether the workbook is written here or by a second process beside
    events.jsonl: every event in full, one grant's (the others withheld), or the books as of a day;
    nothing left in the temporary directory."""
    from audit import bundle as exporter

    ledger, tmp_path = bundle
    approved_district_grant(ledger, grant="G2", base="B0002", unit="U2")
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(tmp_path / "here"), *chosen, role="auditor")
    monkeypatch.setattr(exporter, "PARALLEL_EVENTS", 0)
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    ledger.ok("audit", "export", str(tmp_path / "beside"), *chosen, role="auditor")
    assert not list(spool.iterdir())
    assert (tmp_path / "here" / "events.jsonl").read_bytes() == (
        tmp_path / "beside" / "events.jsonl"
    ).read_bytes()
    sheets = {}
    for name in ("here", "beside"):
        book = load_workbook(tmp_path / name / "report.xlsx", read_only=True)
        sheets[name] = {sheet: list(book[sheet].values) for sheet in book.sheetnames}
        book.close()
    assert sheets["here"] == sheets["beside"]
    log = sheets["beside"]["event log"]
    assert ("withheld" in {row[7] for row in log}) == (chosen[:1] == ("--grant",))
    report = verify_bundle(tmp_path / "beside")
    assert report.failures == [] and report.event_log_rows == report.events > 0


def test_a_withheld_row_is_checked_for_what_events_jsonl_states_only(bundle: tuple[Ledger, Path]) -> None:
    ledger, tmp_path = bundle
    approved_district_grant(ledger, grant="G2", base="B0002", unit="U2")
    ledger.ok("audit", "checkpoint", role="approver")
    b = tmp_path / "b"
    ledger.ok("audit", "export", str(b), "--grant", "G2", role="auditor")
    book = load_workbook(b / "report.xlsx")
    sheet = book["event log"]
    # the first withheld row (the people registry and the seals always go out in full)
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(row=r, column=8).value == "withheld")
    sheet.cell(row=row, column=4, value="grant-ledger:Unit.Registered")  # as earlier versions showed it
    book.save(b / "report.xlsx")
    write_manifest(b)
    assert verify_bundle(b).failures == []
    sheet.cell(row=row, column=7, value="f" * 64)
    book.save(b / "report.xlsx")
    write_manifest(b)
    assert [f[:38] for f in verify_bundle(b).failures] == [
        f"report.xlsx event log row {row}: shows ({row - 2},"[:38]
    ]


def test_an_export_refused_with_the_workbook_beside_leaves_no_process_no_spool_and_no_bundle(
    bundle: tuple[Ledger, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grant the log does not hold is found out after events.jsonl is written, while the
    second process writes the workbook: the refusal is one sentence, the second process is
    stopped, nothing is left in the temporary directory and no partial bundle either."""
    import multiprocessing

    from audit import bundle as exporter

    ledger, tmp_path = bundle
    monkeypatch.setattr(exporter, "PARALLEL_EVENTS", 0)
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    result = ledger("audit", "export", str(tmp_path / "out" / "b"), "--grant", "G404", role="auditor")
    assert result.exit_code != 0 and "grant G404 is not in the audit log" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not list(spool.iterdir())
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("beside", [False, True])
def test_a_sheet_that_cannot_be_written_fails_the_export_and_leaves_no_bundle(
    bundle: tuple[Ledger, Path], monkeypatch: pytest.MonkeyPatch, beside: bool
) -> None:
    """Each sheet's XML is deflated to its file by a thread: a disk found full there is the
    export's error (one line, exit 5), not lost in the thread, and no bundle and no file of the
    workbook's is left; also with the workbook written by a second process and the event log
    here (``beside``), where the second process finds the disk full too."""
    import errno
    import threading

    from audit import bundle as exporter
    from audit import xlsx_writer

    def full(self: Any, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    ledger, tmp_path = bundle
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    monkeypatch.setattr(xlsx_writer._Deflating, "write", full)
    if beside:
        monkeypatch.setattr(exporter, "PARALLEL_EVENTS", 0)
    before = set(threading.enumerate())
    result = ledger("audit", "export", str(tmp_path / "b"), role="auditor")
    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert "No space left on device" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()
    assert not list(spool.iterdir())
    assert not [t for t in set(threading.enumerate()) - before if t.name == "xlsx-writing"]
