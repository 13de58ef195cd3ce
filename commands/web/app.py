"""The web workspace (``grant-ledger serve``): a Starlette app over the ledger in use.

Pages read the command line's queries (``commands.web.pages``); forms build the command line's
actions and record them through the same application handler, signed with the key the person's
password unlocked at sign-in. Every POST carries its session's CSRF token; cookies are HttpOnly and
SameSite=Strict (and Secure under TLS); sign-in attempts are recorded and limited.
"""

from __future__ import annotations

import contextlib
import hmac
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from commands.web import credentials
from commands.web.i18n import _
from commands.web.live import READ_AT, Feed, events
from commands.web.pages import category_names, grant_page, overview, programme_names
from commands.web.sessions import IDLE_SECONDS, LIFETIME_SECONDS, Session, Sessions
from commands.web.workspace import Workspace
from ledger.clock import business_today
from ledger.errors import LedgerError, RuleViolationError
from ledger.i18n import LANGUAGES, N_, use
from ledger.labels import label
from ledger.money import format_yuan

HERE = Path(__file__).parent
COOKIE = "grant_ledger_session"
MAX_FORM_BYTES = 64 * 1024
# passwords checked at once (each argon2id check holds 64 MiB for about a tenth of a second)
PASSWORD_CHECKS = 2
STATUS = {2: 400, 3: 422, 4: 404, 5: 409, 6: 500}
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
# the form fields of each write, as the page labels them (refusals name the field so)
FIELDS = {
    "amount": N_("amount"),
    "category": N_("category"),
    "source": N_("fund source"),
    "voucher": N_("voucher"),
    "content": N_("construction content"),
    "project": N_("project"),
    "payee": N_("payee"),
    "memo": N_("memo"),
    "on": N_("date"),
    "tranche": N_("tranche"),
}


def _yuan(value: Any) -> str:
    return "" if value is None else format_yuan(value)


def _percent(value: Any) -> str:
    return "" if value is None else f"{value}%"


def _elapsed(shown: Any, b: Any) -> str | None:
    line = shown.execution.get(b.grant_id)
    return None if line is None or line.elapsed is None else str(line.elapsed)


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["_"] = _
    env.globals["label"] = label
    env.filters["yuan"] = _yuan
    env.filters["percent"] = _percent
    return env


def signed_in(
    handler: Callable[[App, Request, Session], Awaitable[Response]],
) -> Callable[[App, Request], Awaitable[Response]]:
    async def wrapped(self: App, request: Request) -> Response:
        session, fresh = self.session(request)
        if not session.signed_in:
            return self.redirect("/sign-in", session if fresh else None)
        try:
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
    ) -> None:
        self.workspace = Workspace(db)
        self.sessions = Sessions(clock, idle, lifetime)
        self.secure = secure
        self.env = templates()
        self.checking = threading.BoundedSemaphore(PASSWORD_CHECKS)
        self.live = Feed(lambda: self.workspace.engine, self.workspace.channel)

    # ------------------------------------------------------------------ plumbing

    def session(self, request: Request) -> tuple[Session, bool]:
        """The request's live session (or a new anonymous one: ``True``), in the language asked
        for by ``?lang=`` or kept by the session; every message from here on is in it."""
        session = self.sessions.get(request.cookies.get(COOKIE))
        fresh = session is None
        if session is None:
            session = self.sessions.new("zh")
        asked = request.query_params.get("lang")
        if asked in LANGUAGES:
            session.lang = asked
        use(session.lang)
        if session.signed_in:
            READ_AT.set(self.live.position)
        return session, fresh

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
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > MAX_FORM_BYTES:
            return self.page(
                "error.html", session, status=413, set_cookie=fresh, message=_("The form is too large.")
            )
        form = await request.form()
        token = form.get("csrf")
        if fresh or not isinstance(token, str) or not hmac.compare_digest(token, session.csrf):
            message = _(
                "This form has expired or did not come from this page; reload the page and try again."
            )
            return self.page("error.html", session, status=403, set_cookie=fresh, message=message)
        return form

    # ------------------------------------------------------------------ sign-in

    async def sign_in_page(self, request: Request) -> Response:
        session, fresh = self.session(request)
        if session.signed_in:
            return self.redirect("/")
        return self.page("sign_in.html", session, set_cookie=fresh, name="", error="")

    async def sign_in(self, request: Request) -> Response:
        session, fresh = self.session(request)
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
        signed = self.sessions.sign_in(session, *person)
        return self.redirect("/", signed)

    def _check_sign_in(self, name: str, password: str, address: str) -> tuple[str, Any]:
        engine = self.workspace.engine
        now = credentials.utcnow()
        if credentials.limited(engine, name, address, now):
            credentials.record_attempt(engine, name, address, "limited", now)
            return "limited", None
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
        session, fresh = self.session(request)
        form = await self.form(request, session, fresh)
        if isinstance(form, Response):
            return form
        self.sessions.drop(session.id)
        self.live.wake()  # its live pages' streams end now
        response = self.redirect("/sign-in")
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=self.secure)
        return response

    # ------------------------------------------------------------------ pages

    @signed_in
    async def overview_page(self, request: Request, session: Session) -> Response:
        q = request.query_params
        page_text = q.get("page", "1")
        number = int(page_text) if page_text.isdigit() and len(page_text) < 7 else 1
        engine = await run_in_threadpool(self.workspace.reading)
        shown = await run_in_threadpool(overview, engine, q.get("programme", ""), q.get("status", ""), number)
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
        )

    @signed_in
    async def grant_page(self, request: Request, session: Session) -> Response:
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
        shown = await run_in_threadpool(grant_page, engine, grant_id)
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
        )

    # ------------------------------------------------------------------ forms

    @signed_in
    async def spend(self, request: Request, session: Session) -> Response:
        from ledger.actions import Spend

        return await self._write(request, session, Spend, "spend", ("amount", "category", "source",
                                 "voucher", "content", "project", "payee", "memo"))  # fmt: skip

    @signed_in
    async def disburse(self, request: Request, session: Session) -> Response:
        from ledger.actions import Disburse

        return await self._write(request, session, Disburse, "disburse", ("amount", "voucher", "tranche"))

    async def _write(
        self, request: Request, session: Session, kind: Any, form_name: str, fields: tuple[str, ...]
    ) -> Response:
        form = await self.form(request, session, False)
        if isinstance(form, Response):
            return form
        from ledger.actions import build
        from ledger.policy import policy_in_force
        from ledger.rules import role_may_record

        grant_id = request.path_params["grant_id"]
        values = {f: str(form.get(f, "")).strip() for f in (*fields, "on")}
        breach = role_may_record(session.role or "", kind.name, policy_in_force(business_today()))
        if breach is not None or session.signer is None:
            message = (
                breach.describe()
                if breach is not None
                else _(
                    "Your signing key is not on the server: set your web password with your own key "
                    "(grant-ledger people password) to record here."
                )
            )
            return self.page("error.html", session, status=403, message=message)
        try:
            given = {f: values[f] for f in fields if values[f] or f in ("amount", "voucher")}
            action = build(
                kind,
                lambda field: _(FIELDS.get(field, field)),
                grant_id=grant_id,
                on=values["on"] or business_today(),
                **given,
            )
            outcome = await run_in_threadpool(self.workspace.record, action, session.signer)
        except LedgerError as e:
            status = STATUS.get(e.exit_code, 500)
            return await self._grant(request, session, status=status, form=form_name, values=values, error=e)
        if outcome.recorded:
            done = outcome.message
        else:
            done = _("already recorded: {what}; nothing written").format(what=outcome.message)
        return await self._grant(request, session, form=form_name, done=done)


def create_app(
    db: str | None,
    *,
    secure: bool = False,
    idle: float = IDLE_SECONDS,
    lifetime: float = LIFETIME_SECONDS,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The web workspace over the ledger at ``db`` (NotFoundError if there is none)."""
    app = App(db, secure=secure, idle=idle, lifetime=lifetime, clock=clock)

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
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_web: Starlette) -> AsyncIterator[None]:
        yield
        app.live.stop()
        app.workspace.close()

    web = Starlette(routes=routes, lifespan=lifespan)
    web.state.workspace = app
    return web
