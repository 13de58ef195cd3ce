"""``people``: the registry of who may record what, and ``migrate``, which adopts a ledger made
before records were signed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from commands.choices import Named
from commands.context import catch_up_as_told, record, settings
from commands.dates import DATE
from commands.i18n import N_, _
from commands.secret import ask_secret

# the list's column headers, by key
PEOPLE_HEADERS = {
    "name": N_("person"),
    "role": N_("role"),
    "from": N_("from"),
    "until": N_("until"),
    "key": N_("key fingerprint"),
    "root": N_("root administrator"),
}
ROLE_CHOICE = Named("role", ["officer", "approver", "auditor", "admin"])


@click.group("people")
def people_group() -> None:
    """Who may record: each person's role and public key, registered by an administrator.

    \b
    Examples:
      grant-ledger keys generate --out li-min.key
      grant-ledger --key admin.key people add 财务-李敏 --role officer --public-key li-min.pub
      grant-ledger --key admin.key people revoke 财务-李敏 --date 2025-01-01
      grant-ledger people list
    """


def _public_key(path: Path) -> str:
    from ledger.seal import load_public_raw

    return load_public_raw(path).hex()


@people_group.command("add")
@click.argument("name")
@click.option("--role", "person_role", required=True, type=ROLE_CHOICE, help="the person's role")
@click.option(
    "--public-key",
    "public_key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="the person's public key (NAME.pub from `keys generate`)",
)
@click.option("--date", "on", type=DATE, help="the business date the role begins [default: no limit before]")
def add_command(name: str, person_role: str, public_key: Path, on: datetime | None) -> None:
    """Register NAME with a role and a public key (an administrator's act).

    \b
    Examples:
      grant-ledger --key admin.key people add 区人力社保局-王强 --role approver --public-key wang.pub
      grant-ledger --key admin.key people add 审计-赵 --role auditor --public-key zhao.pub --date 2024-01-01
    """
    from commands.context import action
    from ledger.people import RegisterPerson

    record(
        action(
            RegisterPerson,
            person=name,
            person_role=person_role,
            public_key=_public_key(public_key),
            on=on.date() if on else None,
        )
    )


@people_group.command("rotate")
@click.argument("name")
@click.option("--public-key", "public_key", required=True, type=click.Path(dir_okay=False, path_type=Path))
def rotate_command(name: str, public_key: Path) -> None:
    """Give NAME a new key (a lost or retired one): the old key signs nothing from now on. The
    root administrator's key passes on only by a rotation the root signs with its current key.

    \b
    Example:
      grant-ledger --key admin.key people rotate 财务-李敏 --public-key li-min-2025.pub
    """
    from commands.context import action
    from ledger.people import RotateKey

    record(action(RotateKey, person=name, public_key=_public_key(public_key)))


@people_group.command("revoke")
@click.argument("name")
@click.option("--date", "on", type=DATE, required=True, help="the first business date without the role")
def revoke_command(name: str, on: datetime) -> None:
    """Revoke NAME: their key signs nothing more, and they hold no role from --date on.

    \b
    Example:
      grant-ledger --key admin.key people revoke 财务-李敏 --date 2025-01-01
    """
    from commands.context import action
    from ledger.people import RevokePerson

    record(action(RevokePerson, person=name, on=on.date()))


@people_group.command("password")
@click.argument("name")
@click.option(
    "--person-key",
    "person_key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="an administrator's first password for NAME: NAME's private key, sealed with it",
)
def password_command(name: str, person_key: Path | None) -> None:
    """Set NAME's password for the web workspace (grant-ledger serve), from a prompt or
    GRANT_LEDGER_PASSWORD. NAME themself, signing with their own key (sealed under the password,
    so the web signs as that key); or an administrator, for a first password only.

    \b
    Examples:
      grant-ledger --key li-min.key people password 财务-李敏
      grant-ledger --key admin.key people password 审计-赵
    """
    import os

    from commands.web.account import set_web_password

    password = os.environ.get("GRANT_LEDGER_PASSWORD") or ask_secret(
        _("web password of {name}").format(name=name), "GRANT_LEDGER_PASSWORD", confirm=True
    )
    click.echo(set_web_password(settings(), name, password, person_key))


@people_group.command("list")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True
)
def list_command(fmt: str) -> None:
    """Everyone registered: role, key fingerprint, since when, revoked from when.

    \b
    Example:
      grant-ledger people list --format json
    """
    s = settings()
    registry = s.ledger().trust.registry(fresh=True)
    rows = []
    for person in registry.people.values():
        for period in person.periods:
            rows.append(
                {
                    "name": person.name,
                    "role": period.role,
                    "from": period.start.isoformat() if period.start else "",
                    "until": period.end.isoformat() if period.end else "",
                    "key": person.key,
                    "root": "yes" if person.name == registry.root else "",
                }
            )
    from commands.json_output import to_json
    from commands.output import table, to_csv

    headers = ["name", "role", "from", "until", "key", "root"]
    if fmt == "json":
        click.echo(to_json(rows))
    elif fmt == "csv":
        click.echo(to_csv(headers, [[r[h] for h in headers] for r in rows]), nl=False)
    else:
        from ledger.labels import label

        shown = [
            [label("role", r[h]) if h == "role" else _("yes") if r[h] == "yes" else r[h] for h in headers]
            for r in rows
        ]
        click.echo(table([_(PEOPLE_HEADERS[h]) for h in headers], shown))


@click.command("migrate")
@click.option("--admin", "admin", required=True, help="the root administrator's name")
@click.option(
    "--admin-key",
    "admin_key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="where to write the root administrator's new private key (owner-only)",
)
def migrate_command(admin: str, admin_key: Path) -> None:
    """Adopt a ledger made before records were signed: a root administrator is created, and one
    statement it signs names the log as it stands (size and root hash) as adopted, not signed.
    Checkpoints auditors already hold stay valid: the log before the adoption is unchanged.

    \b
    Example:
      grant-ledger --db old.db migrate --admin 管理员-陈 --admin-key chen.key
    """
    from audit.log import ensure_records, tree_head
    from commands.registry import all_projections
    from commands.setup import check_admin_name
    from ledger.errors import ConflictError
    from ledger.seal import generate_key

    check_admin_name(admin)
    s = settings()
    app = s.ledger()
    if app.trust.registry(fresh=True).root is not None:
        raise ConflictError(_("this ledger already has its people registry; nothing to migrate"))
    # the unsigned log as it stands, to adopt
    catch_up_as_told(app, all_projections(), check=False)
    with s.engine().connect() as conn:
        head = tree_head(conn)
        through = int(conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM ledger_events").scalar() or 0)
    signer = generate_key(admin_key)
    app.adopt(signer, admin, head.size, head.root.hex(), through)
    s.catch_up()
    with s.engine().begin() as conn:
        ensure_records(conn)
    click.echo(
        _("adopted {count} unsigned events (root {root}); from now on every record is signed").format(
            count=head.size, root=head.root.hex()
        )
    )
    click.echo(_("root administrator: {name}, private key {path}").format(name=admin, path=admin_key))
    click.echo(_("trust root: {root}").format(root=signer.fingerprint))


def register(cli: click.Group) -> None:
    cli.add_command(people_group)
    cli.add_command(migrate_command)
