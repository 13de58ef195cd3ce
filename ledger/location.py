"""Where the ledger lives: the database URL from ``--db``, the environment or the default
file, the names of the store's tables and the schema version this build understands.

Free of SQLAlchemy, so that the command line starts and plain reports answer without it.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Literal

from ledger.errors import BadInputError, NotFoundError, StorageError
from ledger.i18n import T_

APP_NAME = "ledger"
EVENTS_TABLE = f"{APP_NAME}_events"
SNAPSHOTS_TABLE = f"{APP_NAME}_snapshots"
META_TABLE = "ledger_meta"
SCHEMA_VERSION = 1
# The prefixes of every table grant-ledger makes (the store's, the read models' in projections/
# and the audit log's in audit/).
OWN_TABLES = ("ledger_", "balance_", "compliance_", "audit_", "history_")
# GRANT_LEDGER_BUSY_TIMEOUT: how long a command waits for another writer, at most (ms)
MAX_BUSY_TIMEOUT_MS = 3_600_000


# a user directory's XDG variable, and where it is without one
_XDG = {"config": ("XDG_CONFIG_HOME", "~/.config"), "data": ("XDG_DATA_HOME", "~/.local/share")}


def user_dir(kind: Literal["config", "data"]) -> Path:
    """grant-ledger's directory of the user's ``config`` or ``data``, as platformdirs names it.

    Where the XDG directory is plain (Linux but not Android; an absolute ``$XDG_CONFIG_HOME`` or
    ``$XDG_DATA_HOME``, else an absolute ``$HOME``) it is named here as platformdirs 4.14.9 names
    it: importing platformdirs (it imports tempfile) was 5 ms of a 60 ms ``balance``, and every
    command looks for its settings file. Anything else is platformdirs' to decide.
    tests/test_settings_file.py holds the two equal."""
    variable, default = _XDG[kind]
    plain = (
        sys.platform == "linux"
        and not hasattr(sys, "getandroidapilevel")
        and "ANDROID_DATA" not in os.environ
    )
    if plain and os.path.isabs(xdg := os.environ.get(variable, "")):
        return Path(xdg) / "grant-ledger"
    if plain and os.path.isabs(os.environ.get("HOME", "")):
        return Path(os.path.expanduser(default)) / "grant-ledger"
    import platformdirs

    return (
        platformdirs.user_config_path("grant-ledger")
        if kind == "config"
        else platformdirs.user_data_path("grant-ledger")
    )


def default_db_path() -> Path:
    return user_dir("data") / "ledger.db"


def database_url(value: str | None = None) -> str:
    """A SQLAlchemy URL from ``--db PATH|URL``, ``GRANT_LEDGER_DB`` or the default file.

    Creates nothing: only ``init`` makes a ledger (``sqlite_file``, ``ledger.database``).
    A SQLite database in memory is refused: it would die with the command."""
    value = value or os.environ.get("GRANT_LEDGER_DB") or str(default_db_path())
    if "://" in value:
        if value.startswith(("postgresql://", "postgres://")):
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite", "postgresql")):
            msg = T_("database {value!r} is neither a SQLite file nor a postgresql:// URL", value=value)
            raise BadInputError(msg)
        if value.startswith("sqlite") and sqlite_file(value) is None:
            msg = T_(
                "database {value!r} is a SQLite database in memory, which is lost when the command "
                "ends; give a file name with --db",
                value=value,
            )
            raise BadInputError(msg)
        return value
    path = Path(value).expanduser().resolve()
    if path.is_dir():
        msg = T_(
            "database path {path} is a directory; give a file name such as {path}/ledger.db",
            path=path,
        )
        raise BadInputError(msg)
    return f"sqlite:///{path}"


def sqlite_file(url: str) -> Path | None:
    """The file behind a ``sqlite:`` URL (``sqlite:///PATH``, or a ``file:`` URI), None for a
    database in memory."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    database, _, query = rest[1:].partition("?") if rest.startswith("/") else ("", "", "")
    if database.startswith("file:"):
        database = database[len("file:") :]
    if not database or database == ":memory:" or "mode=memory" in query:
        return None
    return Path(database)


def missing_sqlite_ledger(url: str) -> NotFoundError | None:
    """NotFoundError when a ``sqlite:`` URL names no file, an empty one, or a database without
    the ledger's tables (looked at read-only, creating nothing); None otherwise (also when the
    file cannot be read: opening it says why)."""
    path = sqlite_file(url)
    if path is None:
        return None
    if path.is_file() and path.stat().st_size > 0:
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            finally:
                conn.close()
        except sqlite3.Error:
            return None
        names = {str(name) for (name,) in rows if not str(name).startswith("sqlite_")}
        if META_TABLE in names or any(not name.startswith(OWN_TABLES) for name in names):
            return None  # a ledger, or another program's file (refused as such on opening)
    return not_a_ledger(str(path.resolve()), str(path.resolve()))


def not_a_ledger(where: str, db: str) -> NotFoundError:
    msg = T_(
        "there is no ledger at {where}; create one with `grant-ledger --db {db} init`",
        where=where,
        db=db,
    )
    return NotFoundError(msg)


def describe_url(url: str) -> str:
    """The URL with any password hidden."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def check_version(value: str) -> None:
    try:
        version = int(value)
    except ValueError:
        version = SCHEMA_VERSION + 1
    if version > SCHEMA_VERSION:
        msg = T_(
            "this database has schema version {value}, written by a newer grant-ledger; this version "
            "understands up to {SCHEMA_VERSION}: upgrade grant-ledger",
            value=value,
            SCHEMA_VERSION=SCHEMA_VERSION,
        )
        raise StorageError(msg)
