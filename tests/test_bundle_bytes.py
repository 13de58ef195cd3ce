"""What `audit export` writes, byte for byte, however fast it writes it: each line of
events.jsonl carries the canonical record of its stored event (a state of a known shape is written
from its canonical text, not parsed and encoded again), a workbook row is the XML that bundles
already filed hold, and a write that fails while the workbook deflates stops the export, leaving
nothing behind."""

from __future__ import annotations

import errno
import json
import uuid
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from audit.log import leaves
from audit.verifier.canonical import canonical_json, record_from_stored
from audit.verifier.layout import event_line
from audit.verifier.xlsx import Form, SheetStream
from ledger.database import EVENTS_TABLE
from projections.shapes import ShapeCache
from tests.conftest import Ledger, approved_district_grant


def _books(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    ledger.ok("match", "receive", "G1", "--amount", "5万", "--voucher", "R1", "--date", "2024-04-11")
    for n, (source, memo) in enumerate((("subsidy", ""), ("matching", 'a "quoted" & <odd> memo\\'),
                                        ("subsidy", "备注：第二次"), ("subsidy", ""))):  # fmt: skip
        ledger.ok("spend", "G1", "--amount", f"{100 + n}.5", "--category", "equipment", "--source", source,
                  "--voucher", f"S{n}", "--memo", memo, "--date", f"2024-05-1{n}")  # fmt: skip
    ledger.ok("reverse", "G1", "--voucher", "S1", "--reason", "录入错误", "--date", "2024-05-20")
    ledger.ok("audit", "checkpoint", role="approver")


def _stored_lines(url: str) -> list[bytes]:
    """events.jsonl as the general path writes it: every stored event parsed and encoded again."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT l.leaf_index, l.notification_id, l.leaf_hash, e.originator_id, "
                    f"e.originator_version, e.topic, e.state FROM {leaves.name} l JOIN {EVENTS_TABLE} e "
                    "ON e.id = l.notification_id ORDER BY l.leaf_index"
                )
            ).all()
    finally:
        engine.dispose()
    lines = []
    for index, nid, leaf, originator, version, topic, state in rows:
        name = str(originator if isinstance(originator, uuid.UUID) else uuid.UUID(bytes=bytes(originator)))
        record = record_from_stored(name, version, topic, bytes(state))
        lines.append(event_line(int(index), int(nid), leaf, canonical_json(record)))
    return lines


def test_every_line_of_events_jsonl_is_the_canonical_record_of_its_stored_event(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _books(ledger)
    shaped = []
    stamped = ShapeCache.stamped

    def counted(self: ShapeCache, topic: str, state: str) -> tuple[str, str] | None:
        found = stamped(self, topic, state)
        shaped.append(found is not None)
        return found

    monkeypatch.setattr(ShapeCache, "stamped", counted)
    ledger.ok("audit", "export", str(tmp_path / "bundle"), role="auditor")
    written = (tmp_path / "bundle" / "events.jsonl").read_bytes().splitlines(keepends=True)
    expected = _stored_lines(ledger.url)
    assert len(written) == len(expected) > 20
    assert [n for n, (a, b) in enumerate(zip(written, expected, strict=True)) if a != b] == []
    # most of them went out from their shape's canonical text, the rest through json
    assert sum(shaped) > len(written) // 2 and not all(shaped)
    result = ledger("audit", "verify", str(tmp_path / "bundle"), "--root", str(ledger.root), role="auditor")
    assert result.exit_code == 0, (result.stdout, result.stderr)


def _rows_of(stream_args: dict[str, Any], rows: list[list[Any]]) -> str:
    written: list[bytes] = []
    stream = SheetStream("log", ["a", "b", "c", "d", "e", "f"], lambda _name, data: written.append(data),
                         amount_columns=[4], **stream_args)  # fmt: skip
    for row in rows:
        stream.append(row)
    stream.close()
    return b"".join(written).decode("utf-8")


ROWS = [
    [7, "G1 & <x>\x01 ", None, date(2024, 5, 1), Decimal("1234.50"), "财务"],
    [8, "plain", "yes", None, 12, "之后 after"],
]


def test_a_row_is_the_xml_that_bundles_already_filed_hold() -> None:
    """Known answers: the verifier encodes the rows it expects and compares digests with the
    bundle's sheets, so a writer that encoded a row differently would fail every bundle filed
    before it (or pass only by the slow path)."""
    xml = _rows_of({}, ROWS)
    assert (
        '<row r="2"><c r="A2"><v>7</v></c>'
        '<c r="B2" t="inlineStr"><is><t xml:space="preserve">G1 &amp; &lt;x&gt;_x0001_ </t></is></c>'
        '<c r="D2" s="2"><v>45413</v></c><c r="E2" s="1"><v>1234.50</v></c>'
        '<c r="F2" t="inlineStr"><is><t xml:space="preserve">财务</t></is></c></row>'
        '<row r="3"><c r="A3"><v>8</v></c>'
        '<c r="B3" t="inlineStr"><is><t xml:space="preserve">plain</t></is></c>'
        '<c r="C3" t="inlineStr"><is><t xml:space="preserve">yes</t></is></c>'
        '<c r="E3" s="1"><v>12</v></c>'
        '<c r="F3" t="inlineStr"><is><t xml:space="preserve">之后 after</t></is></c></row>'
    ) in xml
    filed = _rows_of({"form": Form(title="支出明细", heading=("编制单位",), total=("合计",))}, ROWS[:1])
    assert (
        '<row r="5"><c r="A5" s="7"><v>7</v></c>'
        '<c r="B5" s="7" t="inlineStr"><is><t xml:space="preserve">G1 &amp; &lt;x&gt;_x0001_ </t></is></c>'
        '<c r="C5" s="7"/><c r="D5" s="6"><v>45413</v></c><c r="E5" s="5"><v>1234.50</v></c>'
        '<c r="F5" s="7" t="inlineStr"><is><t xml:space="preserve">财务</t></is></c></row>'
    ) in filed


def test_a_write_that_fails_while_the_workbook_deflates_stops_the_export_and_leaves_nothing(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _books(ledger)
    write = zipfile._ZipWriteFile.write  # type: ignore[attr-defined]
    calls: list[int] = []

    def full(self: Any, data: Any) -> int:
        calls.append(len(data))
        if len(calls) >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return int(write(self, data))

    monkeypatch.setattr(zipfile._ZipWriteFile, "write", full)  # type: ignore[attr-defined]
    result = ledger("audit", "export", str(tmp_path / "bundle"), role="auditor")
    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "No space left on device" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "bundle").exists() or not any((tmp_path / "bundle").iterdir())
    assert len(calls) == 2  # the failure stopped the writing: nothing was written after it
    monkeypatch.setattr(zipfile._ZipWriteFile, "write", write)  # type: ignore[attr-defined]
    ledger.ok("audit", "export", str(tmp_path / "again"), role="auditor")
    assert json.loads((tmp_path / "again" / "bundle.json").read_text("utf-8"))["tree_size"] > 20


def test_a_read_the_database_refuses_mid_export_is_a_storage_error_and_leaves_nothing(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export reads the stored events through SQLite's own cursor: a failure there (here the
    events' states made unreadable, as a damaged page would be) is reported as the database's,
    exit 5 in one line, not as an internal error."""
    if ledger.url.startswith("postgresql"):
        pytest.skip("SQLite's own cursor reads a SQLite file's events only")
    import sqlite3

    from ledger import database

    _books(ledger)
    connect = database._sqlite_on_connect

    def refusing(dbapi_connection: Any, record: Any) -> None:
        connect(dbapi_connection, record)
        dbapi_connection.set_authorizer(
            lambda action, table, column, *_: sqlite3.SQLITE_DENY
            if action == sqlite3.SQLITE_READ and (table, column) == ("ledger_events", "state")
            else sqlite3.SQLITE_OK
        )

    monkeypatch.setattr(database, "_sqlite_on_connect", refusing)
    result = ledger("audit", "export", str(tmp_path / "bundle"), role="auditor")
    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert result.stderr.startswith("grant-ledger: ") and result.stderr.count("\n") == 1
    assert "prohibited" in result.stderr and "internal error" not in result.stderr
    assert not (tmp_path / "bundle").exists() or not any((tmp_path / "bundle").iterdir())


def test_a_workbook_starts_its_writing_thread_at_its_first_write_and_one_dropped_unclosed_ends_it(
    tmp_path: Path,
) -> None:
    import gc
    import threading
    import time

    from audit.xlsx_writer import Workbook

    def writers() -> int:
        return sum(1 for t in threading.enumerate() if t.name == "xlsx-writing")

    before = writers()
    book = Workbook(tmp_path / "unused.xlsx")
    assert writers() == before  # nothing written, no thread
    sheet = book.sheet("s", ["a"])
    for n in range(5000):
        sheet.append([n])
    sheet.close()
    assert writers() == before + 1
    del book, sheet
    gc.collect()
    deadline = time.monotonic() + 10
    while writers() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writers() == before


def test_a_refused_read_on_the_projections_page_reader_is_the_database_s_error(
    sqlite_ledger: Ledger,
) -> None:
    """The projections read pages of events through SQLite's own cursor too: a refused read is
    SQLAlchemy's DBAPIError there as well, which the command line reports as storage (exit 5)."""
    import sqlite3

    from sqlalchemy.exc import DBAPIError

    from ledger.errors import is_storage_error
    from projections.runner import read_rows

    engine = create_engine(sqlite_ledger.url)
    try:
        with engine.connect() as conn:
            assert read_rows(conn, _events_table(conn), 0, 10)  # readable: rows come back
            conn.connection.driver_connection.set_authorizer(  # type: ignore[union-attr]
                lambda action, table, column, *_: sqlite3.SQLITE_DENY
                if action == sqlite3.SQLITE_READ and (table, column) == ("ledger_events", "state")
                else sqlite3.SQLITE_OK
            )
            with pytest.raises(DBAPIError) as raised:
                read_rows(conn, _events_table(conn), 0, 10)
            assert is_storage_error(raised.value) and "prohibited" in str(raised.value)
    finally:
        engine.dispose()


def _events_table(conn: Any) -> Any:
    from sqlalchemy import MetaData, Table

    return Table(EVENTS_TABLE, MetaData(), autoload_with=conn)


def test_a_reader_that_stops_early_leaves_no_cursor_open(ledger: Ledger) -> None:
    """``streamed_rows`` reads PostgreSQL through a server-side cursor: a reader that stops early
    (the checkpoint's signer at a missing leaf) closes it, and the connection's later statements
    are plain ones."""
    from contextlib import closing

    from ledger.database import streamed_rows

    approved_district_grant(ledger)
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            sql = f"SELECT id FROM {EVENTS_TABLE} WHERE id > :after ORDER BY id"
            with closing(streamed_rows(conn, sql, {"after": 0}, 2)) as rows:
                first = next(iter(rows))
            assert first[0] >= 1
            if conn.dialect.name == "postgresql":
                assert conn.execute(text("SELECT count(*) FROM pg_cursors")).scalar_one() == 0
            assert conn.execute(text(f"SELECT count(*) FROM {EVENTS_TABLE}")).scalar_one() > 2
    finally:
        engine.dispose()
