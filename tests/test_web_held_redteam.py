"""A grant the server holds must never be ahead of the store: restored from a backup while the
server runs, the store no longer holds what the server last wrote, and the next write must be
decided on, and stored after, what the store holds."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from tests.conftest import Ledger, sqlite_backup
from tests.test_web import books, client, clock, sign_in  # noqa: F401  (fixtures)
from tests.test_web_held_grants import _available, _spend, _vouchers


def _versions(ledger: Ledger) -> list[int]:
    engine = create_engine(ledger.url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT originator_id, originator_version, state FROM ledger_events "
                    "WHERE topic = 'grant-ledger:Grant.ExpenditureRecorded'"
                )
            ).all()
            grant = found[0].originator_id
            return [
                v
                for (v,) in conn.execute(
                    text("SELECT originator_version FROM ledger_events WHERE originator_id = :o ORDER BY id"),
                    {"o": grant},
                )
            ]
    finally:
        engine.dispose()


def test_a_web_write_after_the_store_was_restored_builds_on_what_it_holds(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
    tmp_path: Path,
) -> None:
    database = books.url.removeprefix("sqlite:///")
    saved = str(tmp_path / "backup.db")
    sign_in(client)
    assert _spend(client, "1万", "网-1").status_code == 303
    sqlite_backup(database, saved)  # the night's backup
    assert _spend(client, "8万", "网-2").status_code == 303  # the server holds G1 as this left it
    sqlite_backup(saved, database)  # the store restored from the backup: 网-2 is no longer in it
    assert _vouchers(books) == ["网-1"]
    # 90,000.00 are available in the store: a write of 50,000.00 is recorded, as the command
    # line would record it, and stored as the grant's next version after what the store holds
    answer = _spend(client, "5万", "网-3")
    assert answer.status_code == 303, answer.text[-600:]
    versions = _versions(books)
    assert versions == list(range(1, len(versions) + 1))
    assert _vouchers(books) == ["网-1", "网-3"]
    assert _available(books) == "40000.00"
    books.ok("spend", "G1", "--amount", "1", "--category", "equipment", "--source", "subsidy",
             "--voucher", "命令-1", "--date", "2024-05-11")  # fmt: skip


def test_a_web_write_after_a_restore_and_another_write_in_its_place_builds_on_that_write(
    books: Ledger,  # noqa: F811
    client: TestClient,  # noqa: F811
    tmp_path: Path,
) -> None:
    """After the restore another process stores its spend as the very version the server's own
    lost spend had: the grant the server holds is at that version, but it is not the store's."""
    database = books.url.removeprefix("sqlite:///")
    saved = str(tmp_path / "backup.db")
    sign_in(client)
    assert _spend(client, "1万", "网-1").status_code == 303
    sqlite_backup(database, saved)
    assert _spend(client, "8万", "网-2").status_code == 303
    sqlite_backup(saved, database)
    books.ok("spend", "G1", "--amount", "2万", "--category", "equipment", "--source", "subsidy",
             "--voucher", "命令-1", "--date", "2024-05-11")  # fmt: skip
    answer = _spend(client, "5万", "网-3")  # 70,000.00 are available in the store
    assert answer.status_code == 303, answer.text[-600:]
    versions = _versions(books)
    assert versions == list(range(1, len(versions) + 1))
    assert _vouchers(books) == ["命令-1", "网-1", "网-3"]
    assert _available(books) == "20000.00"
