"""``init`` and ``info``: create the ledger, and say where it is and what it holds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from audit.verifier.people import Registry
    from commands.context import Settings

from commands.context import default_actor, settings
from commands.i18n import N_, _
from commands.secret import ask_secret
from ledger.database import describe_url


def default_admin_key(url: str, name: str) -> Path:
    """Beside a SQLite file (``books.db`` -> ``books.admin.key``); else in the current directory."""
    from ledger.location import sqlite_file

    path = sqlite_file(url)
    if path is not None:
        return Path(path).with_suffix(".admin.key")
    return Path("grant-ledger.admin.key")


@click.command("init")
@click.option("--admin", "admin", help="the root administrator's name [default: your login name]")
@click.option(
    "--admin-key",
    "admin_key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="where to write the root administrator's new private key, owner-only (its public half "
    "goes beside it as .pub) [default: beside the SQLite file as NAME.admin.key; for PostgreSQL "
    "./grant-ledger.admin.key]",
)
@click.option(
    "--encrypt",
    is_flag=True,
    help="encrypt the new private key with a passphrase (GRANT_LEDGER_KEY_PASSPHRASE, or a prompt)",
)
def init_command(admin: str | None, admin_key: Path | None, encrypt: bool) -> None:
    """Create the ledger: its tables, append-only triggers and read models, and its trust root,
    the first administrator with a new Ed25519 key pair. Keep the printed trust root: auditors
    pin it (`audit verify --root`). Only `init` creates a ledger: every other command on a
    database without one stops (exit 4). A SQLite file is created readable by its owner only.
    On a ledger that exists, init changes nothing and prints its trust root. On PostgreSQL, run
    by the owner login: it also creates the group roles <database>_officer, _approver and
    _auditor (if missing and this login may) and grants them exactly what recording or reading
    needs.

    \b
    Examples:
      grant-ledger init --admin 管理员-陈 --admin-key chen.key
      grant-ledger --db /srv/ledger/books.db init
      grant-ledger --db postgresql+psycopg://ledger_owner@db/ledger init --admin-key /secure/root.key
    """
    from ledger.location import sqlite_file
    from ledger.seal import refuse_existing_key

    s = settings()
    name = (admin or default_actor()).strip()
    check_admin_name(name)
    path = admin_key or default_admin_key(s.url, name)
    made: list[Path] = []  # what a failed init removes: the new ledger's files, the key files it wrote
    file = sqlite_file(s.url)
    if file is not None and not file.exists():  # a new ledger: its root's key files must be new too
        refuse_existing_key(path)
        made += [file.with_name(file.name + end) for end in ("", "-wal", "-shm")]
    try:
        registry = _founded(s, name, path, encrypt, made)
    except BaseException:  # no ledger without its root, no key of no ledger
        for left in made:
            left.unlink(missing_ok=True)
        raise
    s.catch_up()
    from audit.log import ensure_records

    with s.engine().begin() as conn:  # the signed checkpoints' tables: records, made by the owner
        ensure_records(conn)
    from commands.web.credentials import ensure_tables

    ensure_tables(s.engine())  # the web's passwords and sign-ins: the owner's too, granted below
    _grant_groups(s.engine())
    click.echo(_("ledger ready at {where}").format(where=describe_url(s.url)))
    if registry.root_fingerprint:
        click.echo(
            _("trust root: {root} (give it to auditors: `audit verify --root`)").format(
                root=registry.root_fingerprint
            )
        )


def _founded(s: Settings, name: str, path: Path, encrypt: bool, made: list[Path]) -> Registry:
    """The ledger made (or found) and its registry: founded with a new key at ``path`` for a new
    ledger (the key files it writes are added to ``made``)."""
    from ledger.seal import PASSPHRASE_ENV, generate_key, public_file
    from projections.status import stored_head

    s.create()
    app = s.ledger()
    registry = app.trust.registry(fresh=True)
    if registry.root is not None:
        return registry
    if stored_head(s.engine()) > 0:
        click.echo(
            _(
                "this ledger was made before records were signed: adopt it with "
                "`grant-ledger migrate --admin NAME --admin-key FILE`"
            ),
            err=True,
        )
        return registry
    passphrase = None
    if encrypt:
        passphrase = os.environ.get(PASSPHRASE_ENV) or ask_secret(
            _("passphrase for the new key"), PASSPHRASE_ENV, confirm=True
        )
    signer = generate_key(path, passphrase)
    made.extend((path, public_file(path)))
    app.found_registry(signer, name)
    click.echo(
        _("root administrator: {name}, private key {path} (public half {public})").format(
            name=name, path=path, public=public_file(path)
        )
    )
    return app.trust.registry(fresh=True)


def check_admin_name(name: str) -> None:
    """BadInputError (exit 2) unless ``name`` is one ``people add`` would register: no spaces,
    no '+', no look-alike character."""
    from ledger.actions import build
    from ledger.people import RootAdministrator

    build(RootAdministrator, lambda _: "--admin", person=name)


def _grant_groups(engine: Engine) -> None:
    """On PostgreSQL, the group roles people log in through, and their privileges."""
    from ledger.pg_roles import APPROVER, AUDITOR, OFFICER, grant_groups

    with engine.begin() as conn:
        granted = grant_groups(conn)
    if granted is None:
        return
    names = ", ".join(granted.missing)
    if granted.missing:
        click.echo(
            _(
                "note: the group roles {names} do not exist and this login may not create them; "
                "nothing was granted to them: create them (README, Roles on PostgreSQL) and run init again"
            ).format(names=names),
            err=True,
        )
        return
    officer, approver, auditor = (granted.roles[g] for g in (OFFICER, APPROVER, AUDITOR))
    click.echo(
        _("roles: {officer} and {approver} record, {auditor} reads; the tables stay this login's").format(
            officer=officer, approver=approver, auditor=auditor
        )
    )
    if granted.others:
        held = "; ".join(
            _("{role}: {privileges} on {tables}").format(
                role=role, privileges=", ".join(privileges), tables=_few(tables)
            )
            for role, (privileges, tables) in granted.others.items()
        )
        click.echo(
            _("note: other roles hold privileges on the ledger's tables ({held}); revoke them").format(
                held=held
            ),
            err=True,
        )
    if granted.owners:
        click.echo(
            _(
                "note: {owners} may act as this login, which owns the tables "
                "(and could lift their guards); revoke that membership"
            ).format(owners=", ".join(granted.owners)),
            err=True,
        )


def _few(names: list[str]) -> str:
    if len(names) <= 3:
        return ", ".join(names)
    return _("{count} tables ({first}, …)").format(count=len(names), first=", ".join(names[:2]))


# where a setting came from (commands.config's words)
SOURCES = {
    "flag": N_("flag"),
    "environment": N_("environment"),
    "default": N_("default"),
    "prompt": N_("prompt"),
}


def _source(word: str) -> str:
    if word.startswith("file "):
        return _("file {path}").format(path=word[5:])
    return _(SOURCES.get(word, word))


@click.command("info")
def info_command() -> None:
    """Print every setting in effect and where it came from, the database in use, the event
    count, the trust root and each projection's position.

    \b
    Settings come from a flag, else a GRANT_LEDGER_* variable, else the settings file
    (config.toml in the platform's config directory, or GRANT_LEDGER_CONFIG), else the default.

    \b
    Example:
      grant-ledger info
      GRANT_LEDGER_CONFIG=office.toml grant-ledger info
    """
    from commands.config import config_path
    from commands.registry import projection_names
    from projections.status import head, is_behind, positions, stored_head

    s = settings()
    shown = {
        "db": describe_url(s.url),
        "key": s.key,
        "lang": s.lang,
        "role": s.role,
        "actor": s.actor,
        "org": s.org,
    }
    where = config_path()
    if where.is_file():
        click.echo(_("settings file: {path}").format(path=where))
    else:
        click.echo(_("settings file: {path} (none there)").format(path=where))
    for name, value in shown.items():
        source = s.sources.get(name, "default")
        if name == "db" and source == "default" and os.environ.get("GRANT_LEDGER_DB"):
            source = "environment"
        shown_value = value if value is not None else _("(none)")
        click.echo(f"  {name + ':':7}{shown_value}  [{_source(source)}]")
    click.echo(_("database: {where}").format(where=describe_url(s.url)))
    engine = s.engine()
    if is_behind(engine, projection_names()) and stored_head(engine) == 0:
        click.echo(_("events:   0 (not initialised: run `grant-ledger init`)"))
        return
    click.echo(_("events:   {count} (last notification id)").format(count=head(engine)))
    root = s.ledger().trust.registry(fresh=True).root_fingerprint
    if root:
        click.echo(_("trust root: {root}").format(root=root))
    else:
        click.echo(_("trust root: none (made before records were signed: `grant-ledger migrate`)"))
    for name, position in positions(engine, projection_names()).items():
        click.echo(_("projection {name}: at {position}").format(name=name, position=position))


def register(cli: click.Group) -> None:
    cli.add_command(init_command)
    cli.add_command(info_command)
