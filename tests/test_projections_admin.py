"""``projections status|rebuild``: positions, identical rows after a rebuild, atomic for readers."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from sqlalchemy import create_engine, select

from tests.conftest import Ledger
from tests.importdata import write_file


def _dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    from projections.schema import grants, movements

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: sorted(tuple(r) for r in conn.execute(select(t)).all()) for t in (grants, movements)
            }
    finally:
        engine.dispose()


def test_status_and_rebuild_gives_identical_rows(demo_ledger: Ledger) -> None:
    ledger = demo_ledger
    status = json.loads(ledger.ok("projections", "status", "--format", "json").stdout)
    assert {s["name"]: s["behind"] for s in status}["balances"] == 0
    before = _dump(ledger.url)
    result = ledger.ok("projections", "rebuild", "balances")
    assert "rebuilt balances" in result.stdout
    assert _dump(ledger.url) == before
    ledger.ok("projections", "rebuild")
    assert _dump(ledger.url) == before
    assert ledger("projections", "rebuild", "nope").exit_code == 4


def test_a_reader_during_a_rebuild_sees_complete_old_or_new_answers(ledger: Ledger, tmp_path: Path) -> None:
    from projections.queries import balances

    path = tmp_path / "books.csv"
    write_file(path, 3000, grants=6)
    ledger.import_ok(path)
    engine = create_engine(ledger.url)
    expected = balances(engine)
    seen: list[bool] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(balances(engine) == expected)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        from commands.cli import cli

        for _ in range(2):
            result = ledger.runner.invoke(
                cli, ["--db", ledger.url, "projections", "rebuild", "balances"], catch_exceptions=False
            )
            assert result.exit_code == 0, result.stderr
    finally:
        stop.set()
        reader.join()
        engine.dispose()
    assert seen and all(seen)


def test_report_findings_still_found_after_a_projections_command_in_the_same_process(
    demo_sqlite_ledger: Ledger,
) -> None:
    # commands load lazily: a fresh interpreter, so no earlier test has loaded `report` already
    import subprocess
    import sys

    sqlite_ledger = demo_sqlite_ledger
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from commands.cli import cli\n"
        "runner = CliRunner()\n"
        f"base = ['--db', {sqlite_ledger.url!r}, '--lang', 'en']\n"
        "for args in (['projections', 'status'], ['report', 'findings']):\n"
        "    result = runner.invoke(cli, base + args)\n"
        "    print(args[0], result.exit_code, result.output.splitlines()[:1])\n"
        "    if result.exit_code:\n"
        "        sys.exit(result.exit_code)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No such command" not in done.stdout


def test_a_projection_whose_rows_disagree_with_its_position_fails_clearly_not_forever(
    demo_sqlite_ledger: Ledger,
) -> None:
    import sqlite3

    from projections.names import tracked

    sqlite_ledger = demo_sqlite_ledger
    before = sqlite_ledger.balances()
    conn = sqlite3.connect(sqlite_ledger.url.removeprefix("sqlite:///"))
    with conn:  # the rows stay, the position is lost: catching up would apply every event twice
        kept = tracked("compliance")
        conn.execute("DELETE FROM ledger_tracking WHERE application_name = ?", (kept,))
    conn.close()
    result = sqlite_ledger("balance")
    assert result.exit_code == 5, (result.exit_code, result.stderr)
    assert "projection compliance cannot take events" in result.stderr
    assert "projections rebuild" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    sqlite_ledger.ok("projections", "rebuild")
    assert sqlite_ledger.balances() == before
