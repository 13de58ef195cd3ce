"""The web workspace (``grant-ledger serve``): a Starlette app over the ledger in use.

Pages read the command line's queries (``commands.web.pages``); forms build the command line's
actions and record them through the same application handler, signed with the key the person's
password unlocked at sign-in. Every POST carries its session's CSRF token; cookies are HttpOnly and
SameSite=Strict (and Secure under TLS); sign-in attempts are recorded and limited.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from commands.dates import local_time
from commands.web import audit_page, credentials, import_page, reports
from commands.web.forms import (
    FORMS,
    choice,
    may_record,
    next_step,
    page_forms,
    reversed_vouchers,
    write,
)
from commands.web.i18n import _
from commands.web.live import READ_AT, Feed, events
from commands.web.numbers import whole_number
from commands.web.pages import category_names, grant_page, overview, programme_names
from commands.web.sessions import IDLE_SECONDS, LIFETIME_SECONDS, Session, Sessions
from commands.web.status import STATUS
from commands.web.workspace import Workspace
from ledger.clock import business_today
from ledger.district import district_name
from ledger.errors import LedgerError, NotFoundError, RuleViolationError
from ledger.grant import grant_uuid
from ledger.i18n import LANGUAGES, use
from ledger.labels import label
from ledger.money import format_yuan

HERE = Path(__file__).parent
COOKIE = "grant_ledger_session"
MAX_FORM_BYTES = 64 * 1024
# passwords checked at once (each argon2id check holds 64 MiB for about a tenth of a second)
PASSWORD_CHECKS = 2
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class Headed:
    """Every response carries the security headers: the app's pages set them, and this sets them on
    those Starlette makes itself (static files, its own 404, a malformed upload's 400), which had
    none. A static file may be kept by the browser (no Cache-Control: no-store)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def headed(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers and not (static and name == "Cache-Control"):
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, headed)


def _yuan(value: Any) -> str:
    return "" if value is None else format_yuan(value)


def _percent(value: Any) -> str:
    return "" if value is None else f"{value}%"


def _elapsed(shown: Any, b: Any) -> str | None:
    line = shown.execution.get(b.grant_id)
    return None if line is None or line.elapsed is None else str(line.elapsed)


def utf8_form(body: bytes) -> bool:
    """Whether every name and value of a url-encoded form is UTF-8 once its escapes are undone:
    the parser puts U+FFFD for bytes that are not (or reads raw bytes as Latin-1), so that two
    vouchers of other bytes were stored as one, the second "already recorded"."""
    from urllib.parse import unquote_to_bytes

    for pair in body.split(b"&"):
        try:
            unquote_to_bytes(pair.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


class _Named(dict[str, str]):
    """Each code of one kind of label (``ledger.labels``) by its name, looked up once a page: a
    grant's page names a role, an act and a fund source on each of its history's lines."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def __missing__(self, code: str) -> str:
        named = self[code] = label(self.kind, code)
        return named


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the templates are the package's: no stat of each file per page
    )
    env.globals["_"] = _
    env.globals["label"] = label
    env.globals["named"] = _Named
    env.filters["yuan"] = _yuan
    env.filters["percent"] = _percent
    env.filters["recorded"] = lambda t: local_time(t).replace(microsecond=0)  # as `history` shows it
    return env


def signed_in(
    handler: Callable[[App, Request, Session], Awaitable[Response]],
) -> Callable[[App, Request], Awaitable[Response]]:
    async def wrapped(self: App, request: Request) -> Response:
        # a page's live refresh (static/live.js) is no activity of its person
        touch = request.headers.get("x-live-refresh") != "true"
        session, fresh, registered = await self.session(request, touch=touch, registered=True)
        if not session.signed_in:
            return self.redirect("/sign-in", session if fresh else None)
        try:
            if isinstance(registered, LedgerError):  # the registry cannot be trusted (exit 6)
                raise registered
            if not registered:
                return self.redirect("/sign-in")
            return await handler(self, request, session)
        except LedgerError as e:
            status = STATUS.get(e.exit_code, 500)
            return self.page("error.html", session, status=status, message=e.message)

    return wrapped


class App:
    def __init__(
        self,
        db: str | None,
        *,
        secure: bool,
        idle: float,
        lifetime: float,
        clock: Callable[[], float],
        session_secret: bytes | None = None,
        processes: int = 1,
    ) -> None:
        self.workspace = Workspace(db, processes)
        # each session's row is read with the people registry's place in the store beside it,
        # for the check that its person is still registered (``registered``)
        also = self.workspace.registry_columns()
        self.sessions = Sessions(lambda: self.workspace.engine, clock, idle, lifetime, session_secret, also)
        self.secure = secure
        self.env = templates()
        self.checking = threading.BoundedSemaphore(PASSWORD_CHECKS)
        # the sign-ins being checked, by name and by address: a burst of guesses sent at once
        # counts against the limit before any of them is recorded
        self._limiting = threading.Lock()
        self._in_check: Counter[tuple[str, str]] = Counter()
        self.live = Feed(lambda: self.workspace.engine, self.workspace.channel)

    # ------------------------------------------------------------------ plumbing

    async def session(
        self, request: Request, touch: bool = True, registered: bool = False
    ) -> tuple[Session, bool, bool | LedgerError]:
        """The request's live session (or a new anonymous one: ``True``), in the language asked
        for by ``?lang=`` or kept by the session; every message from here on is in it. Its idle
        time restarts unless not ``touch``. With ``registered``, the third value says whether a
        signed-in session's person is still registered (False ends the session; the error when
        the registry cannot be trusted), asked in the same worker thread. The session's row is
        read and written in a worker thread, never on the event loop, which serves every other
        request meanwhile."""
        session, fresh, held = await run_in_threadpool(
            self._session, request.cookies.get(COOKIE), touch, request.query_params.get("lang"), registered
        )
        use(session.lang)  # in the request's own context, which a worker thread's does not reach
        if session.signed_in:
            READ_AT.set(self.live.position)
        return session, fresh, held

    def _session(
        self, cookie: str | None, touch: bool, asked: str | None, registered: bool = False
    ) -> tuple[Session, bool, bool | LedgerError]:
        session = self.sessions.get(cookie, touch)
        fresh = session is None
        if session is None:
            session = self.sessions.new("zh")
        if asked in LANGUAGES:
            self.sessions.set_lang(session, asked)
        try:
            if registered and session.signed_in:  # a policy installed by another process judges here too
                self.workspace.refresh_installed_policy()
            held: bool | LedgerError = registered and session.signed_in and self.registered(session)
        except LedgerError as e:
            held = e
        return session, fresh, held

    def registered(self, session: Session) -> bool:
        """Is the session's person still registered and unrevoked (an administrator may have
        revoked them since they signed in, from the command line)? If not, the session ends."""
        person = self.workspace.registry(session.also).people.get(session.person or "")
        if person is not None and person.active:
            if session.key_fingerprint is not None and person.key != session.key_fingerprint:
                session.forget_key()  # rotated since sign-in: it signs nothing, as a new sign-in gives none
            return True
        self.sessions.drop(session.id)
        self.live.wake()  # its live pages' streams end now
        return False

    def page(
        self, template: str, session: Session, *, status: int = 200, set_cookie: bool = False, **values: Any
    ) -> Response:
        text = self.env.get_template(template).render(
            session=session, lang=session.lang, position=READ_AT.get(), **values
        )
        return self.finish(HTMLResponse(text, status_code=status), session if set_cookie else None)

    def finish(self, response: Response, session: Session | None) -> Response:
        response.headers.update(SECURITY_HEADERS)
        if session is not None:
            response.set_cookie(
                COOKIE, session.id, httponly=True, samesite="strict", secure=self.secure, path="/"
            )
        return response

    def redirect(self, to: str, session: Session | None = None) -> Response:
        return self.finish(RedirectResponse(to, status_code=303), session)

    async def form(self, request: Request, session: Session, fresh: bool) -> FormData | Response:
        """The posted form, or the refusal: too large (413), or without this session's CSRF token
        (403: a form of another session or site, or one kept past its session)."""
        length = whole_number(request.headers.get("content-length", ""))
        if length is None:
            message = _("The form was sent without its length (Content-Length); nothing was written.")
            return self.page("error.html", session, status=411, set_cookie=fresh, message=message)
        if length > MAX_FORM_BYTES:
            return self.page(
                "error.html", session, status=413, set_cookie=fresh, message=_("The form is too large.")
            )
        # as a browser sends a form without a file: Starlette reads any other body's text that is
        # not UTF-8 as Latin-1 (a payee typed in GBK and posted as multipart was stored garbled)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            message = _("The form was not sent as a web form (url-encoded); nothing was written.")
            return self.page("error.html", session, status=415, set_cookie=fresh, message=message)
        if not utf8_form(await request.body()):  # the body is kept: form() parses it from there
            message = _("The form holds text that is not UTF-8; nothing was written.")
            return self.page("error.html", session, status=400, set_cookie=fresh, message=message)
        form = await request.form()
        refused = self.csrf_refusal(session, fresh, form.get("csrf"))
        return form if refused is None else refused

    def csrf_refusal(self, session: Session, fresh: bool, token: object) -> Response | None:
        """403 unless ``token`` is this session's CSRF token."""
        if fresh or not isinstance(token, str) or not hmac.compare_digest(token, session.csrf):
            message = _(
                "This form has expired or did not come from this page; reload the page and try again."
            )
            return self.page("error.html", session, status=403, set_cookie=fresh, message=message)
        return None

    # ------------------------------------------------------------------ sign-in

    async def sign_in_page(self, request: Request) -> Response:
        session, fresh, _held = await self.session(request)
        if session.signed_in:
            return self.redirect("/")
        return self.page("sign_in.html", session, set_cookie=fresh, name="", error="")

    async def sign_in(self, request: Request) -> Response:
        session, fresh, _held = await self.session(request)
        form = await self.form(request, session, fresh)
        if isinstance(form, Response):
            return form
        name = str(form.get("name", "")).strip()[:200]
        password = str(form.get("password", ""))
        address = request.client.host if request.client else "unknown"
        outcome, person = await run_in_threadpool(self._check_sign_in, name, password, address)
        if outcome == "limited":
            error = _("Too many wrong passwords for this name or from this address; wait a minute.")
            return self.page("sign_in.html", session, status=429, name=name, error=error)
        if person is None:
            error = _("Wrong name or password.")
            return self.page("sign_in.html", session, status=401, name=name, error=error)
        signed = await run_in_threadpool(self.sessions.sign_in, session, *person)
        return self.redirect("/", signed)

    def _check_sign_in(self, name: str, password: str, address: str) -> tuple[str, Any]:
        engine = self.workspace.engine
        now = credentials.utcnow()
        keys = (("name", name), ("address", address))
        with self._limiting:
            checking = (self._in_check[keys[0]], self._in_check[keys[1]])
            if credentials.limited(engine, name, address, now, checking):
                # not kept: refused unchecked, a row each let anyone grow the table without bound,
                # and counted as a failure it kept a name shut while anyone went on trying it
                return "limited", None
            self._in_check.update(keys)
        try:
            return self._checked_sign_in(engine, name, password, address, now)
        finally:  # recorded by now: counted there
            with self._limiting:
                self._in_check.subtract(keys)
                self._in_check += Counter()  # drops the keys at zero

    def _checked_sign_in(
        self, engine: Engine, name: str, password: str, address: str, now: datetime
    ) -> tuple[str, Any]:
        with self.checking:  # argon2id takes 64 MiB a check: a flood of sign-ins queues here
            unlocked = credentials.unlock(engine, name, password)
        registry = self.workspace.registry()
        person = registry.people.get(name)
        if unlocked is None or person is None or not person.active:
            credentials.record_attempt(engine, name, address, "wrong", now)
            return "wrong", None
        credentials.record_attempt(engine, name, address, "signed in", now)
        signer = unlocked.signer
        if signer is not None and signer.fingerprint != person.key:
            signer = None  # a key rotated away since the password was set signs nothing
        return "signed in", (name, person.role_on(business_today()), signer)

    async def sign_out(self, request: Request) -> Response:
        session, fresh, _held = await self.session(request)
        form = await self.form(request, session, fresh)
        if isinstance(form, Response):
            return form
        await run_in_threadpool(self.sessions.sign_out, session.id)
        self.live.wake()  # its live pages' streams end now
        response = self.redirect("/sign-in")
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=self.secure)
        return response

    # ------------------------------------------------------------------ pages

    @signed_in
    async def overview_page(self, request: Request, session: Session) -> Response:
        q = request.query_params
        page_text = q.get("page", "1")
        number = whole_number(page_text, 6) or 1
        engine = await run_in_threadpool(self.workspace.reading)
        shown = await run_in_threadpool(
            overview, engine, q.get("programme", ""), q.get("status", ""), number, q.get("district", "")
        )
        return self.page(
            "overview.html",
            session,
            view=shown,
            rates=[
                {
                    "base": b.base_id,
                    "grant": b.grant_id,
                    "rate": str(b.execution_rate),
                    "elapsed": _elapsed(shown, b),
                }
                for b in shown.rows
                if b.execution_rate is not None
            ],
            programmes=programme_names(session.lang),
            statuses=("applied", "approved", "rejected", "closed"),
            district_name=lambda code: district_name(code, session.lang),
        )

    @signed_in
    async def grant_page(self, request: Request, session: Session) -> Response:
        # a live refresh (static/live.js) keeps only the page's live regions: the notice waits
        if request.headers.get("hx-request") != "true":
            notice = await run_in_threadpool(
                self.sessions.take_notice, session, request.path_params["grant_id"]
            )
            if notice is not None:
                return await self._grant(request, session, form=notice[0], done=notice[1])
        return await self._grant(request, session)

    async def _grant(
        self,
        request: Request,
        session: Session,
        *,
        status: int = 200,
        form: str = "",
        values: dict[str, str] | None = None,
        error: LedgerError | None = None,
        done: str = "",
    ) -> Response:
        grant_id = request.path_params["grant_id"]
        engine = await run_in_threadpool(self.workspace.reading)
        before = whole_number(request.query_params.get("before", "")) or None
        shown = await run_in_threadpool(grant_page, engine, grant_id, self.workspace.provenance, before)
        step = None
        if session.role in ("approver", "officer"):  # an overdue rectification waits for both
            step = await run_in_threadpool(next_step, engine, shown.balance.base_id, grant_id)
        return self.page(
            "grant.html",
            session,
            status=status,
            grant_id=grant_id,
            view=shown,
            programmes=programme_names(session.lang),
            categories=category_names(session.lang),
            may_record=session.role == "officer" and session.signer is not None,
            form=form,
            values=values or {},
            error=error,
            rule_error=error if isinstance(error, RuleViolationError) else None,
            done=done,
            today=business_today().isoformat(),
            forms=page_forms(session, step[0] if step else None),
            step=step,
            choice=choice,
            may_reverse=may_record(session, FORMS["reverse"]),
            reversed=reversed_vouchers(shown.reversals),
            request_before=before,
            aggregate=grant_uuid(grant_id).hex,
        )

    # ------------------------------------------------------------------ forms

    @signed_in
    async def spend(self, request: Request, session: Session) -> Response:
        return await write(self, request, session, FORMS["spend"])

    @signed_in
    async def disburse(self, request: Request, session: Session) -> Response:
        return await write(self, request, session, FORMS["disburse"])

    @signed_in
    async def record(self, request: Request, session: Session) -> Response:
        """Any other form of commands.web.forms.FORMS."""
        form = FORMS.get(request.path_params["form"])
        if form is None:
            raise NotFoundError(_("There is no such form."))
        return await write(self, request, session, form)


# what ``serve --workers N`` tells each of its processes (``served``), as JSON
SERVED = "GRANT_LEDGER_SERVED"


def served() -> Starlette:
    """The app of one process of ``serve --workers N``: the ledger, cookies and 编制单位 that
    ``serve`` was given."""
    from commands.context import work_begins

    given = json.loads(os.environ.pop(SERVED))  # the secret kept in memory only, from here on
    work_begins()
    secret = bytes.fromhex(given["secret"])
    return create_app(
        given["db"],
        secure=bool(given["secure"]),
        org=given["org"],
        session_secret=secret,
        processes=int(given["processes"]),
    )


def create_app(
    db: str | None,
    *,
    secure: bool = False,
    idle: float = IDLE_SECONDS,
    lifetime: float = LIFETIME_SECONDS,
    clock: Callable[[], float] = time.time,
    org: str | None = None,
    session_secret: bytes | None = None,
    processes: int = 1,
) -> Starlette:
    """The web workspace over the ledger at ``db`` (NotFoundError if there is none); ``org``:
    the 编制单位 its report workbooks print, as the command line's --org; ``session_secret``:
    what the sessions' rows are authenticated under, the same for every process of one server
    (a new one when not given: the sessions of another run are then none of this one's)."""
    app = App(
        db,
        secure=secure,
        idle=idle,
        lifetime=lifetime,
        clock=clock,
        session_secret=session_secret,
        processes=processes,
    )
    app.workspace.settings.org = org

    def bound(method: Any) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            response: Response = await method(app, request)
            return response

        return endpoint

    routes = [
        Route("/", bound(App.overview_page), name="overview"),
        Route("/sign-in", bound(App.sign_in_page), methods=["GET"], name="sign_in"),
        Route("/sign-in", bound(App.sign_in), methods=["POST"]),
        Route("/sign-out", bound(App.sign_out), methods=["POST"], name="sign_out"),
        Route("/grants/{grant_id}", bound(App.grant_page), name="grant"),
        Route("/events", bound(events), name="events"),
        Route("/grants/{grant_id}/spend", bound(App.spend), methods=["POST"], name="spend"),
        Route("/grants/{grant_id}/disburse", bound(App.disburse), methods=["POST"], name="disburse"),
        Route("/import", bound(signed_in(import_page.import_page)), methods=["GET"], name="import"),
        Route("/import", bound(signed_in(import_page.import_file)), methods=["POST"]),
        Route("/audit", bound(signed_in(audit_page.audit_page)), methods=["GET"], name="audit"),
        Route("/audit/bundle", bound(signed_in(audit_page.download_bundle)), methods=["GET"], name="bundle"),
        Route("/audit/verify", bound(signed_in(audit_page.verify_upload)), methods=["POST"], name="verify"),
        Route("/reports", bound(signed_in(reports.index_page)), name="reports"),
        Route("/reports/{name}", bound(signed_in(reports.report_page)), name="report"),
        Route("/reports/{name}/{fmt}", bound(signed_in(reports.download)), name="report_file"),
        Route("/grants/{grant_id}/record/{form}", bound(App.record), methods=["POST"], name="record"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_web: Starlette) -> AsyncIterator[None]:
        yield
        app.live.stop()
        app.workspace.close()

    web = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(Headed)])
    web.state.workspace = app
    return web
