"""Where a command writes (issue 14, item 11): an --output that cannot be written is one sentence
naming the path, exit 2 (it was "database error", exit 5, with a traceback for xlsx); a file is
written whole or not at all; an id past any stored one is bad input, not an OverflowError."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import Ledger, approved_district_grant

WRITERS = [
    ("balance",),
    ("history", "G1"),
    ("report", "categories"),
    ("report", "sources"),
    ("report", "execution"),
    ("report", "matching"),
    ("export",),
]
CASES = [(c, f) for c in WRITERS for f in ("csv", "xlsx")]


@pytest.fixture
def books(sqlite_ledger: Ledger) -> Ledger:
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    return sqlite_ledger


@pytest.mark.parametrize(("command", "fmt"), CASES, ids=[f"{' '.join(c)} {f}" for c, f in CASES])
def test_an_output_in_a_missing_directory_is_one_sentence_naming_it(
    books: Ledger, tmp_path: Path, command: tuple[str, ...], fmt: str
) -> None:
    target = tmp_path / "missing" / f"out.{fmt}"
    result = books(*command, "--format", fmt, "--output", str(target))
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert (
        result.stderr
        == f"grant-ledger: cannot write {target}: No such file or directory; nothing was written\n"
    )
    assert not target.parent.exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_output_that_is_a_directory_is_one_sentence_and_the_directory_stays(
    books: Ledger, tmp_path: Path, fmt: str
) -> None:
    """click refuses a directory it can see; export --runs checks its directory itself."""
    folder = tmp_path / "taken"
    folder.mkdir()
    (tmp_path / "file").write_text("x")
    result = books("export", "--format", fmt, "--runs", str(tmp_path / "file" / "runs"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"grant-ledger: cannot make the directory {tmp_path / 'file' / 'runs'}: ")
    assert (tmp_path / "file").read_text() == "x"


def test_an_output_replaces_a_file_whole_keeping_its_mode_and_writes_through_a_link(
    books: Ledger, tmp_path: Path
) -> None:
    kept = tmp_path / "balance.csv"
    kept.write_text("old")
    kept.chmod(0o640)
    books.ok("balance", "--format", "csv", "--codes", "--output", str(kept))
    assert kept.read_text(encoding="utf-8").startswith("\ufeffbase_id,grant_id")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    target = tmp_path / "target.xlsx"
    target.write_bytes(b"old")
    link = tmp_path / "link.xlsx"
    link.symlink_to(target)
    books.ok("balance", "--format", "xlsx", "--output", str(link))
    assert link.is_symlink() and target.read_bytes()[:2] == b"PK"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "balance.csv",
        "ledger-keys",  # the fixture's people's keys
        "ledger.db",
        "link.xlsx",
        "target.xlsx",
    ]


def test_a_failed_workbook_leaves_the_file_it_would_replace_as_it_was(books: Ledger, tmp_path: Path) -> None:
    """A row a workbook cannot store stops the write: the old file stays, no partial file is left."""
    import sqlite3

    books.ok(
        "spend", "G1", "--amount", "100", "--category", "equipment", "--voucher", "S1", "--date", "2024-05-10"
    )
    old = tmp_path / "history.xlsx"
    books.ok("history", "G1", "--format", "xlsx", "--output", str(old))
    before = old.read_bytes()
    db = books.url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:  # a read model edited below the application: an XML-illegal byte
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        history = next(t for t in tables if "histor" in t or "movement" in t)
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({history})")]
        column = "voucher" if "voucher" in columns else next(c for c in columns if "voucher" in c)
        conn.execute(f"UPDATE {history} SET {column} = 'S\x01' WHERE {column} = 'S1'")
    result = books("history", "G1", "--format", "xlsx", "--output", str(old))
    assert result.exit_code == 2, result.stderr
    assert "holds a control character, which a workbook cannot store" in result.stderr
    assert old.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_audit_prove_of_an_id_past_any_stored_one_is_bad_input(books: Ledger) -> None:
    result = books("audit", "prove", "99999999999999999999999")
    assert result.exit_code == 2, result.stderr
    assert result.stderr == (
        "grant-ledger: event id 99999999999999999999999 is larger than any event id a ledger stores\n"
    )
    assert os.path.exists(books.url.removeprefix("sqlite:///"))


def test_audit_prove_of_a_version_past_any_stored_one_is_bad_input(books: Ledger) -> None:
    """ORIGINATOR:VERSION with a version past SQLite's integers had been an internal error, exit 1."""
    result = books("audit", "prove", "00000000-0000-0000-0000-000000000000:99999999999999999999999")
    assert result.exit_code == 2, result.stderr
    assert result.stderr == (
        "grant-ledger: version 99999999999999999999999 is larger than any version a ledger stores\n"
    )


def test_a_workbook_write_stopped_midway_leaves_no_file_and_nothing_for_python_to_complain_of(
    tmp_path: Path,
) -> None:
    """Ctrl-C (or any error) in the middle of the rows: no file, no partial file, and no sheet
    writer left open to fail later as an "Exception ignored" on the terminal."""
    import gc
    import sys
    from datetime import date
    from decimal import Decimal
    from typing import Any

    from commands.output import to_xlsx
    from commands.workbook import office_workbook

    class Interrupted(KeyboardInterrupt):
        pass

    def interrupt(_rows: int) -> None:
        raise Interrupted

    class Unreadable:
        def __str__(self) -> str:
            raise Interrupted

    rows: list[list[Any]] = [["x", Decimal("1.00")]] * 3000
    ignored: list[Any] = []
    hook, sys.unraisablehook = sys.unraisablehook, ignored.append
    try:
        with pytest.raises(Interrupted):
            to_xlsx(tmp_path / "a.xlsx", [("s", ["a", "b"], rows)], step=interrupt)
        with pytest.raises(Interrupted):
            office_workbook(
                tmp_path / "b.xlsx", title="t", keys=["a", "b"], headers=["a", "b"],
                rows=[*rows[:5], ["y", Unreadable()]], lang="en", org=None, report_date=date(2024, 1, 1),
            )  # fmt: skip
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert [repr(u.exc_value) for u in ignored] == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="a device that is always full")
@pytest.mark.parametrize("command", [("balance",), ("history", "G1"), ("export",)], ids=" ".join)
def test_a_workbook_on_a_full_disk_is_one_sentence_and_nothing_after_it(
    books: Ledger, command: tuple[str, ...]
) -> None:
    """The sentence was right, and then, as the process ended, Python printed "Exception ignored in
    ZipFile.__del__ … seek of closed file" with its traceback: run as a process, to see its end."""
    import subprocess
    import sys

    exe = str(Path(sys.executable).with_name("grant-ledger"))
    db = books.url.removeprefix("sqlite:///")
    result = subprocess.run(
        [exe, "--lang", "en", "--db", db, *command, "--format", "xlsx", "--output", "/dev/full"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # a full disk is no bad input (exit 2, a red-team pass found): as the ledger's own disk, exit 5
    assert result.returncode == 5, result.stderr
    assert (
        result.stderr
        == "grant-ledger: cannot write /dev/full: No space left on device; nothing was written\n"
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("balance", "--format", "csv"), ""),
        (("export", "--format", "hledger"), ""),
        (("history", "G1", "--format", "xlsx"), ""),
        (("report", "execution", "--format", "json"), "-wal"),
        (("balance", "--format", "csv"), "link"),
    ],
)
def test_an_output_naming_the_ledger_s_own_database_is_refused_and_the_books_stay(
    sqlite_ledger: Ledger, tmp_path: Path, args: tuple[str, ...], named: str
) -> None:
    """`--output` pointed at the ledger's own SQLite file, its write-ahead log or a link to it had
    replaced the books with the report (exit 0, the ledger gone): exit 2, one sentence, and the
    books as they were."""
    approved_district_grant(sqlite_ledger)
    database = Path(sqlite_ledger.url.removeprefix("sqlite:///"))
    before = sqlite_ledger.balances()
    target = database.with_name(database.name + "-wal") if named == "-wal" else database
    if named == "link":
        target = tmp_path / "books-link.db"
        target.symlink_to(database)
    size = target.stat().st_size if target.exists() else None  # no write-ahead log between commands
    result = sqlite_ledger(*args, "--output", str(target))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "the ledger's own database" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert (target.stat().st_size if target.exists() else None) == size
    assert sqlite_ledger.balances() == before


@pytest.mark.parametrize("encrypted", [False, True, "bom"], ids=["plain", "encrypted", "after other lines"])
def test_an_output_naming_a_private_key_is_refused_and_the_key_stays(
    sqlite_ledger: Ledger, tmp_path: Path, encrypted: bool | str
) -> None:
    """`balance -o` on the signing key in use (or anyone's key) replaced it with the report, exit 0
    (a red-team pass): exit 2, one sentence, the key as it was and still signing."""
    approved_district_grant(sqlite_ledger)
    target = sqlite_ledger.key("officer")  # the key in use itself
    if encrypted == "bom":  # as Notepad saves it, or after openssl's Bag Attributes and blank lines
        held_key = target.read_bytes()
        target = tmp_path / "saved.key"
        target.write_bytes(b"\xef\xbb\xbfBag Attributes\n    localKeyID: 01\n" + b"\n" * 70 + held_key)
    elif encrypted:  # another's, protected by a passphrase
        from cryptography.hazmat.primitives import serialization

        private = serialization.load_pem_private_key(target.read_bytes(), None)
        target = tmp_path / "other.key"
        target.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"passphrase-0123"),
            )
        )
    held = target.read_bytes()
    result = sqlite_ledger("balance", "--format", "csv", "--output", str(target))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "is a private key" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert target.read_bytes() == held
    sqlite_ledger.ok("disburse", "G1", "--amount", "1万", "--voucher", "T1", "--date", "2024-04-10")


@pytest.mark.parametrize(
    ("args", "name", "kind"),
    [
        (("balance",), "余额.xlsx", "xlsx"),
        (("balance",), "余额.json", "json"),
        (("report", "budget"), "预算.csv", "csv"),
        (("export",), "books.xlsx", "xlsx"),
        (("export",), "books.journal", "hledger"),
        (("balance", "--format", "csv"), "explicit.xlsx", "csv"),  # --format given decides
        (("find", "T1"), "found.xlsx", "xlsx"),  # commands with options of their own
        (("grant", "list"), "grants.json", "json"),
    ],
)
def test_without_format_an_output_is_written_in_the_format_its_name_says(
    sqlite_ledger: Ledger, tmp_path: Path, args: tuple[str, ...], name: str, kind: str
) -> None:
    """`balance -o 余额.xlsx` wrote a text table under that name, exit 0, which Excel refuses to open
    (a red-team pass)."""
    import json
    import zipfile

    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "1万", "--voucher", "T1", "--date", "2024-04-10")
    path = tmp_path / name
    sqlite_ledger.ok(*args, "--output", str(path))
    data = path.read_bytes()
    if kind == "xlsx":
        assert zipfile.is_zipfile(path), data[:40]
    elif kind == "json":
        assert json.loads(data)[0]["grant_id"] == "G1"
    elif kind == "hledger":
        assert b"  ; grant:G1, voucher:T1" in data, data[:200]
    else:
        assert not zipfile.is_zipfile(path) and b"," in data.splitlines()[0], data[:80]
