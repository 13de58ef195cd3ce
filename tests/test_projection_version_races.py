"""Two versions of grant-ledger at one ledger at once (an upgrade rolled out one machine at a
time): a process of one version that finds its projection's position taken away by another
version's rebuild while it runs rebuilds it as its own version writes it, as any command of it
would (projections/current.py), rather than replaying the events onto the other version's rows.

The other version is played in the same process by raising ``projections.names.VERSIONS`` for
its commands and putting it back for this one's, as tests/test_projection_versions.py does."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from projections import names
from tests.conftest import Ledger
from tests.test_projection_versions import _as_an_earlier_version_wrote, _funded, _keys

RAISED = names.VERSIONS[names.BALANCES] + 1  # the balances' version of a newer release


def test_a_running_server_whose_read_model_a_newer_version_rebuilt_rebuilds_it_back(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The web server remembers where its last catch-up left the projections. A newer version's
    command rebuilds the balances (its position now kept under its raised version's key) and records a
    spending; the server's next catch-up finds the position it remembered gone."""
    from commands.web.workspace import Workspace

    _funded(ledger)
    workspace = Workspace(ledger.url)
    try:
        workspace.catch_up()
        with monkeypatch.context() as newer:
            newer.setitem(names.VERSIONS, names.BALANCES, names.VERSIONS[names.BALANCES] + 1)
            ledger.ok("spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
                      "--voucher", "记-2", "--date", "2024-05-03")  # fmt: skip
            assert f"balances@{names.VERSIONS[names.BALANCES]}" in _keys(ledger.url)
        capsys.readouterr()
        workspace.catch_up()  # refused before: "its rows disagree with its recorded position"
        told = capsys.readouterr().err
    finally:
        workspace.close()
    assert "the balances read model was written by another version" in told
    assert _keys(ledger.url) == dict.fromkeys(map(names.tracked, names.KEPT), ledger.event_count())
    assert ledger.balances("B0001")["B0001"]["subsidy_spent"] == "2445.67"
    assert "all read models agree" in ledger.ok("projections", "verify").stdout


def test_a_command_waiting_longer_than_the_busy_timeout_for_anothers_rebuild_says_so(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another command is rebuilding (it holds the rebuild lock) longer than this one waits: it
    stops with the sentence a command waiting for another writer says, on both backends (on
    PostgreSQL it said "database error: … canceling statement due to lock timeout")."""
    from sqlalchemy.orm import Session

    from projections.rebuild import _rebuild_lock

    _funded(ledger)
    _as_an_earlier_version_wrote(ledger.url)
    monkeypatch.setitem(names.VERSIONS, names.BALANCES, RAISED)
    monkeypatch.setenv("GRANT_LEDGER_BUSY_TIMEOUT", "300")
    engine = create_engine(ledger.url)
    with engine.connect() as holder, Session(bind=holder) as rebuilding:
        _rebuild_lock(rebuilding)  # as another command's rebuild holds it
        waited = ledger("balance", "B0001")
        rebuilding.rollback()
    engine.dispose()
    assert waited.exit_code == 5, (waited.stdout, waited.stderr)
    assert waited.stderr.startswith("grant-ledger: the database is locked by another writer; try again")
    assert ledger.balances("B0001")["B0001"]["subsidy_spent"] == "2345.67"  # the next one rebuilds


def test_migrating_an_unsigned_ledger_an_earlier_version_projected_rebuilds_it_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`migrate` catches up without checking seals (the log it adopts has none): the balances an
    earlier version wrote are rebuilt there, and the person is told, as at any other command."""
    from click.testing import CliRunner

    from commands.cli import cli
    from tests.test_signed_audit import _unsigned_ledger

    url = _unsigned_ledger(tmp_path / "old.db")
    monkeypatch.setitem(names.VERSIONS, names.BALANCES, RAISED)
    migrated = CliRunner().invoke(
        cli,
        [
            "--db",
            url,
            "--lang",
            "en",
            "migrate",
            "--admin",
            "chen",
            "--admin-key",
            str(tmp_path / "chen.key"),
        ],
    )
    assert migrated.exit_code == 0, migrated.stderr
    assert migrated.stderr.count("the balances read model was written by another version") == 1
    assert "balances" not in _keys(url) and _keys(url)[f"balances@{RAISED}"] == max(_keys(url).values())


def test_the_notice_in_chinese_names_a_read_model_as_the_other_chinese_messages_do(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'read model' is 读模型 in every Chinese message (`projections verify`'s); the notice said
    投影 (projection) for it."""
    _funded(ledger)
    _as_an_earlier_version_wrote(ledger.url)
    monkeypatch.setitem(names.VERSIONS, names.BALANCES, RAISED)
    ledger.lang = "zh"
    told = ledger.ok("balance", "B0001").stderr
    assert (
        told == f"读模型 balances 由另一版本的 grant-ledger 写成，已根据 {ledger.event_count()} 个事项重建\n"
    )
    assert "全部读模型与" in ledger.ok("projections", "verify").stdout


def test_a_rebuild_of_another_ledger_in_the_same_postgresql_database_holds_up_none_of_this_one(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ledgers kept in schemas of one PostgreSQL database (each its own search path) rebuild
    apart: the rebuild lock is the ledger's, not the database's. (The test's ledger is a
    database of its own: the neighbour is made in it, as advisory locks are per database.)"""
    from click.testing import CliRunner
    from sqlalchemy import make_url
    from sqlalchemy.orm import Session

    from projections.rebuild import _rebuild_lock
    from tests.conftest import drop_pg_schema, fresh_pg_url

    if not ledger.url.startswith("postgresql"):
        pytest.skip("SQLite: one ledger a file")
    _funded(ledger)
    _as_an_earlier_version_wrote(ledger.url)
    neighbour = fresh_pg_url(beside=ledger.url)
    assert make_url(neighbour).database == make_url(ledger.url).database
    try:
        Ledger(neighbour, CliRunner()).ok("info")
        monkeypatch.setitem(names.VERSIONS, names.BALANCES, RAISED)
        monkeypatch.setenv("GRANT_LEDGER_BUSY_TIMEOUT", "300")
        engine = create_engine(neighbour)
        with engine.connect() as holder, Session(bind=holder) as rebuilding:
            _rebuild_lock(rebuilding)  # the neighbour's rebuild, still running
            upgraded = ledger("balance", "B0001", "--format", "json")
            rebuilding.rollback()
        engine.dispose()
    finally:
        drop_pg_schema(neighbour)
    assert upgraded.exit_code == 0, upgraded.stderr
    assert "the balances read model was written by another version" in upgraded.stderr
    assert '"2345.67"' in upgraded.stdout


def test_a_release_before_versions_rebuilding_after_this_one_leaves_rows_this_one_never_reads(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release from before versions were kept, still run on another machine, rebuilds the
    balances (`projections rebuild balances`, as its own error tells) after this version did: it
    deletes and writes the position under the bare name only, and this version's key stays where
    it stood, at the head. This version reads none of that release's rows: it rebuilds them."""
    _funded(ledger)
    monkeypatch.setitem(names.VERSIONS, names.BALANCES, RAISED)
    ledger.ok("balance")
    head = ledger.event_count()
    # what that release's rebuild leaves: the rows it writes, and its position under the bare name
    _as_an_earlier_version_wrote(ledger.url)
    engine = create_engine(ledger.url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO ledger_tracking VALUES ('balances', :head)"), {"head": head})
    engine.dispose()
    assert ledger.ok("projections", "status", "--format", "json").stdout.count('"position": 0') == 1
    shown = ledger.ok("balance", "B0001", "--format", "json")
    assert '"subsidy_spent": "2345.67"' in shown.stdout
    assert shown.stderr.count("the balances read model was written by another version") == 1
    assert _keys(ledger.url) == {names.tracked(n): head for n in names.KEPT}


def test_the_web_servers_rebuild_after_an_upgrade_forks_no_worker(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server runs threads: a forked child could inherit a lock another thread held and wait
    for ever, with the rebuild lock held here. Its rebuild computes every projection itself."""
    from commands.web.workspace import Workspace
    from projections import rebuild

    _funded(ledger)
    _as_an_earlier_version_wrote(ledger.url)
    forks: list[object] = []
    real = rebuild._computed_apart

    def counted(*args: object, **kwargs: object) -> object:
        forks.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rebuild, "_computed_apart", counted)
    monkeypatch.setattr(rebuild, "WORKER_MIN", 1)  # this small store would fork from the command line
    monkeypatch.setitem(names.VERSIONS, names.BALANCES, RAISED)
    monkeypatch.setitem(names.VERSIONS, names.COMPLIANCE, names.VERSIONS[names.COMPLIANCE] + 1)
    workspace = Workspace(ledger.url)
    try:
        workspace.catch_up()
    finally:
        workspace.close()
    assert forks == []
    assert _keys(ledger.url)[names.tracked(names.COMPLIANCE)] == ledger.event_count()
    assert ledger.balances("B0001")["B0001"]["subsidy_spent"] == "2345.67"
    # the command line's own rebuild of the same store does fork: the spy sees what it should
    monkeypatch.setitem(names.VERSIONS, names.COMPLIANCE, names.VERSIONS[names.COMPLIANCE] + 1)
    ledger.ok("balance")
    assert len(forks) == 1
