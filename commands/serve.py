"""``serve``: the web workspace over the ledger in use (its modules, and Starlette, load only here)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import click

from commands.i18n import _
from ledger.errors import BadInputError, StorageError


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="port")
@click.option(
    "--certfile",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="TLS certificate (PEM): serve HTTPS, and cookies are Secure",
)
@click.option(
    "--keyfile", type=click.Path(dir_okay=False, exists=True, path_type=Path), help="its private key"
)
@click.option(
    "--forwarded-allow-ips",
    "proxies",
    default="",
    help="behind a reverse proxy: the proxy's address, whose X-Forwarded-For and -Proto are believed "
    "(sign-in attempts are limited per client address)",
)
@click.option(
    "--secure-cookies", is_flag=True, help="cookies Secure without --certfile (a TLS proxy in front)"
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="server processes sharing the port (one per core for many writers; sessions are kept in "
    "the ledger's database, so any process serves any session)",
)
def serve_command(
    host: str,
    port: int,
    certfile: Path | None,
    keyfile: Path | None,
    proxies: str,
    secure_cookies: bool,
    workers: int,
) -> None:
    """Serve the web workspace: sign in with a web password (`people password`), see every base's
    balances and each grant's budget, history and findings, and record as the command line records,
    signed with your own key.

    \b
    Examples:
      grant-ledger serve
      grant-ledger serve --host 0.0.0.0 --port 8443 --certfile office.crt --keyfile office.key
      grant-ledger serve --workers 4
    """
    if (certfile is None) != (keyfile is None):
        raise BadInputError("--certfile and --keyfile go together")
    import uvicorn

    from commands.context import settings, work_begins
    from commands.web import processes
    from commands.web.app import SERVED, create_app, served

    work_begins()  # a server runs for days: collected, as every process past its start-up

    secure = certfile is not None or secure_cookies
    web: Any
    if workers == 1:
        web = create_app(settings().db, secure=secure, org=settings().org)  # no ledger: exit 4 here
    else:
        settings().ledger()  # no ledger: exit 4 here, not in each process
        # each process makes its own app (uvicorn imports the factory by name), told what this
        # one was told: handed to it by the pipe that starts it, not by this process's
        # environment, which every process of the server would show (/proc/PID/environ, ps e)
        web = f"{served.__module__}:{served.__name__}"
        secret = secrets.token_hex(32)  # the sessions' rows are authenticated under it
        given = json.dumps(
            {
                "db": settings().url,
                "secure": secure,
                "org": settings().org,
                "secret": secret,
                "processes": workers,
            }
        )
    scheme = "https" if certfile else "http"

    def announce() -> None:
        click.echo(f"serving {settings().url.split('@')[-1]} at {scheme}://{host}:{port}/ (Ctrl-C stops)")

    options: dict[str, Any] = {
        "ssl_certfile": str(certfile) if certfile else None,
        "ssl_keyfile": str(keyfile) if keyfile else None,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
        "server_header": False,
        "timeout_graceful_shutdown": 5,  # live pages' event streams end when stopped (they reconnect)
        "log_level": "info",
    }
    if workers > 1 and processes.reusable_port():
        try:
            status = processes.run(web, workers, host, port, options, announce, {SERVED: given})
        except OSError as e:
            reason = e.strerror or str(e)
            raise BadInputError(
                _("cannot listen on {host}:{port}: {reason}").format(host=host, port=port, reason=reason)
            ) from None
        if status:
            raise StorageError(_("a server process ended as it started; see the lines above"))
        return
    if workers > 1:  # uvicorn's own processes (no SO_REUSEPORT here) are told by the environment
        os.environ[SERVED] = given
    announce()
    uvicorn.run(web, factory=workers > 1, workers=workers, host=host, port=port, **options)


def register(cli: click.Group) -> None:
    cli.add_command(serve_command)
