"""``keys generate``: the Ed25519 key pair that signs the audit log's checkpoints."""

from __future__ import annotations

from pathlib import Path

import click

from commands.context import settings
from ledger.errors import BadInputError

DEFAULT_NAME = "ledger"


def default_key_dir(url: str) -> Path:
    """``keys/`` next to a SQLite file; for PostgreSQL, ``keys/`` in the user data directory."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///") :]).parent / "keys"
    from platformdirs import user_data_path

    return user_data_path("grant-ledger") / "keys"


def default_key_path(url: str) -> Path:
    return default_key_dir(url) / f"{DEFAULT_NAME}.key"


@click.group("keys")
def keys_group() -> None:
    """Signing keys of the audit log."""


@keys_group.command("generate")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="where to write NAME.key (owner-only, mode 0600) and NAME.pub [default: keys/ next to the "
    "SQLite database; for PostgreSQL ~/.local/share/grant-ledger/keys]",
)
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="key name, also the file name")
def generate_command(directory: Path | None, name: str) -> None:
    """Create an Ed25519 key pair for signing checkpoints; never replaces an existing key.

    Keep NAME.key private (it signs checkpoints: `audit checkpoint --key`); hand NAME.pub to
    auditors so they can check checkpoints with keys they got from you, not from a bundle.

    \b
    Examples:
      grant-ledger keys generate
      grant-ledger keys generate --dir /srv/ledger/keys --name bureau-2024
    """
    from audit.signing import generate_keypair
    from audit.verifier.checkpoint import KeyFileError

    target = directory or default_key_dir(settings().url)
    try:
        private, public = generate_keypair(target, name)
    except KeyFileError as e:
        raise BadInputError(e.message.rstrip(".")) from None
    click.echo(f"private key: {private} (readable by its owner only)")
    click.echo(f"public key:  {public}")


def register(cli: click.Group) -> None:
    cli.add_command(keys_group)
