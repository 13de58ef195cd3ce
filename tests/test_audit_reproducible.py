"""The same ledger up to the same checkpoint gives the same bundle, byte for byte, whenever it is
exported: an auditor who exports again (or compares a colleague's copy, or the web's download)
finds MANIFEST's digests unchanged, the workbook's included — its zip parts carry no time of
writing."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import Ledger, approved_district_grant


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_bundle_exported_an_hour_later_is_the_same_bytes(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
              "--voucher", "S1", "--date", "2024-05-10")  # fmt: skip
    ledger.ok("audit", "checkpoint", role="approver")
    ledger.ok("audit", "export", str(tmp_path / "now"), role="auditor")
    later = time.time() + 3600  # the clock zip files read their members' times from, an hour on
    monkeypatch.setattr(zipfile, "time", SimpleNamespace(time=lambda: later, localtime=time.localtime))
    ledger.ok("audit", "export", str(tmp_path / "later"), role="auditor")
    now, then = _files(tmp_path / "now"), _files(tmp_path / "later")
    assert "report.xlsx" in now and "MANIFEST" in now
    assert now.keys() == then.keys()
    assert [name for name in now if now[name] != then[name]] == []
    with zipfile.ZipFile(tmp_path / "later" / "report.xlsx") as book:
        assert {info.date_time for info in book.infolist()} == {(1980, 1, 1, 0, 0, 0)}
