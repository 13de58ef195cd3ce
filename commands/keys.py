"""``keys generate``: a person's Ed25519 key pair, which signs what they record."""

from __future__ import annotations

import os
from pathlib import Path

import click

from commands.context import settings
from commands.i18n import _
from commands.secret import ask_secret
from ledger.location import user_dir

DEFAULT_NAME = "ledger"


def default_key_dir(url: str) -> Path:
    """``keys/`` next to a SQLite file; for PostgreSQL, ``keys/`` in the user data directory."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///") :]).parent / "keys"
    return user_dir("data") / "keys"


def default_key_path(url: str) -> Path:
    return default_key_dir(url) / f"{DEFAULT_NAME}.key"


def _key_file(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Path | None:
    """--out names a file: not nothing, not a folder (``new/``, which had written the key as ``new``)."""
    if value is None:
        return None
    if not value.strip() or value.endswith(("/", os.sep)):
        raise click.BadParameter(_("give the private key's file name, such as wang.key"))
    return Path(value)


def _key_name(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """--name is a file's name in --dir, never a path out of it (``../../x``)."""
    if not value.strip() or value in (".", "..") or any(c in value for c in ("/", "\\", "\0")):
        raise click.BadParameter(_("a key's name is a file name without / or \\, such as wang"))
    return value


@click.group("keys")
def keys_group() -> None:
    """Signing keys: each person's own."""


@keys_group.command("generate")
@click.option(
    "--out",
    callback=_key_file,
    help="the private key file to write (its public half goes beside it as .pub)",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="or: a directory for NAME.key and NAME.pub [default: keys/ next to the SQLite database; "
    "for PostgreSQL ~/.local/share/grant-ledger/keys]",
)
@click.option(
    "--name", default=DEFAULT_NAME, show_default=True, callback=_key_name, help="key name, also the file name"
)
@click.option(
    "--encrypt",
    is_flag=True,
    help="encrypt the private key with a passphrase (GRANT_LEDGER_KEY_PASSPHRASE, or a prompt)",
)
def generate_command(out: Path | None, directory: Path | None, name: str, encrypt: bool) -> None:
    """Create your Ed25519 key pair; never replaces an existing file.

    The private key (owner-only, mode 0600) signs everything you record; keep it yours alone.
    Give the public half (.pub) to an administrator, who registers it (`people add`).

    \b
    Examples:
      grant-ledger keys generate --out ~/.grant-ledger/li-min.key
      grant-ledger keys generate --out wang.key --encrypt
    """
    from ledger.seal import PASSPHRASE_ENV, generate_key, public_file

    target = out or (directory or default_key_dir(settings().url)) / f"{name}.key"
    passphrase = None
    if encrypt:
        passphrase = os.environ.get(PASSPHRASE_ENV) or ask_secret(
            _("passphrase for the new key"), PASSPHRASE_ENV, confirm=True
        )
    signer = generate_key(target, passphrase)
    if passphrase:
        click.echo(_("private key: {path} (readable by its owner only, encrypted)").format(path=target))
    else:
        click.echo(_("private key: {path} (readable by its owner only)").format(path=target))
    click.echo(_("public key:  {path}").format(path=public_file(target)))
    click.echo(_("fingerprint: {fingerprint}").format(fingerprint=signer.fingerprint))


def register(cli: click.Group) -> None:
    cli.add_command(keys_group)
