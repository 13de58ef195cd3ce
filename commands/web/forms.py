"""The grant page's forms, one table of them: each names the action the command line builds
(ledger.actions), the fields it takes as the command's options, and how the typed text becomes the
action's fields. Every POST is checked as the command line checks it: the CSRF token, then the
signed-in person's registered role (rules.role_may_record: an approver's act by an officer, any
write by an auditor → 403), then the action is built and recorded through the application handler,
signed with the session's key. A refusal re-renders the page with the form as it was typed and the
refusal beside it (its rule, clause and numbers, the command line's sentence)."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from commands.web.host import Host as Pages
from commands.web.i18n import _
from commands.web.status import STATUS
from commands.web.uploads import received
from ledger.actions import (
    Action,
    AddToDossier,
    AdjustBudget,
    Approve,
    Close,
    CommitMatching,
    CompleteRectification,
    Disburse,
    Dispose,
    Evaluate,
    Extend,
    Notice,
    OrderRecovery,
    OrderRectification,
    ReceiveMatching,
    ReceiveRecovery,
    Recommend,
    RegisterBudget,
    Reject,
    ReportOutput,
    ResolveObjections,
    Reverse,
    Review,
    Spend,
    build,
    business_date,
)
from ledger.clock import business_today
from ledger.errors import BadInputError, LedgerError
from ledger.grant import DISPOSALS, DOSSIER_KINDS, EVALUATION_KINDS, EVALUATION_RESULTS, REVERSIBLE
from ledger.i18n import N_
from ledger.i18n import _ as ledger_
from ledger.labels import label
from ledger.policy import policy_in_force
from ledger.rules import role_may_record

if TYPE_CHECKING:
    from commands.web.sessions import Session, Sessions
    from commands.web.workspace import Workspace
    from ledger.actions import Action
    from ledger.seal import Signer


class Host(Pages, Protocol):
    """What a form needs of the app (commands.web.app.App)."""

    workspace: Workspace
    sessions: Sessions

    async def form(self, request: Request, session: Session, fresh: bool) -> FormData | Response: ...

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
    ) -> Response: ...


@dataclass(frozen=True)
class Field:
    """One input: ``name`` the action's field (and the input's name), ``label`` the page's word
    for it (a refusal names the field so), ``kind`` text | date | number | select | lines (a
    textarea, one line a row) | file (an upload: the action's field is the file's sha256),
    ``choices`` (code, label kind in ledger.labels) of a select."""

    name: str
    label: str
    kind: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    labels: str = ""  # the ledger.labels kind naming each choice ("" : the code itself)
    hidden: bool = False


def _typed(values: dict[str, str], fields: tuple[Field, ...]) -> dict[str, Any]:
    """The action's fields as the command passes its options: a required one always (so an empty
    one is refused by its rule), an optional one only when typed (so its default holds)."""
    return {f.name: values[f.name] for f in fields if values[f.name] or f.required}


def _review(given: dict[str, Any]) -> dict[str, Any]:
    """``--recommendation recommend|reject`` is the action's ``recommended`` (as grant review)."""
    choice = given.pop("recommendation", "")
    if choice in ("recommend", "reject"):
        given["recommended"] = choice == "recommend"
    return given


def _approve(given: dict[str, Any]) -> dict[str, Any]:
    """``--body`` repeated: here the codes typed in one field, apart by spaces or commas."""
    text = str(given.pop("bodies", ""))
    given["bodies"] = [b for b in text.replace("，", " ").replace(",", " ").replace("、", " ").split() if b]
    return given


def _same(given: dict[str, Any]) -> dict[str, Any]:
    return given


def _budget(given: dict[str, Any]) -> dict[str, Any]:
    """``--line content:source:amount`` repeated: here one a row, as ``content:source:amount`` or
    ``content source amount`` (read by grant budget's own parser, for the policy of the act's date)."""
    from commands.grant import _lines

    rows = [r.strip().replace("：", ":") for r in str(given.pop("lines", "")).splitlines()]
    specs = [r if ":" in r else ":".join(r.rsplit(None, 2)) for r in rows if r]
    try:
        policy_on = business_date(given.get("on"))
    except ValueError:  # the date's own rule refuses it when the action is built
        policy_on = business_today()
    given["lines"] = _lines(tuple(specs), policy_on)
    return given


def _output(given: dict[str, Any]) -> dict[str, Any]:
    """``--corrects YEAR``: here a choice beside the year reported."""
    given["corrects"] = given.pop("corrects", "") == "corrects"
    return given


@dataclass(frozen=True)
class Form:
    """``name``: the form's path (/grants/G/record/NAME) and id; ``title`` its heading."""

    name: str
    action: type[Action]
    title: str
    fields: tuple[Field, ...]
    shape: Callable[[dict[str, Any]], dict[str, Any]] = _same
    # the business date when none is typed (grant notice: the notice's last day)
    default_on: Callable[[dict[str, str]], str] = field(default=lambda values: "")

    @property
    def upload(self) -> bool:
        """Posted as a file upload (multipart), read within uploads.received's bound."""
        return any(f.kind == "file" for f in self.fields)

    @property
    def labels(self) -> dict[str, str]:
        """Each action field's word on the page (``recommended``: the review's select)."""
        named = {f.name: f.label for f in self.fields}
        return named | {"recommended": named.get("recommendation", "recommended"), "on": N_("date")}


AMOUNT = Field("amount", N_("amount"), required=True)
APPROVAL = Field("approval", N_("approval reference"), required=True)
BUDGET_LINES = Field("lines", N_("budget lines (one a row: content source amount)"), "lines", True)
VOUCHER = Field("voucher", N_("voucher"), required=True)
DOCUMENT = Field("document", N_("document number"), required=True)

FORMS: dict[str, Form] = {
    f.name: f
    for f in (
        # ------------------------------------------------------------------ an officer's
        Form(
            "spend",
            Spend,
            N_("Record a spend"),
            (
                AMOUNT,
                Field("category", N_("category"), required=True),
                Field("source", N_("fund source")),
                VOUCHER,
                Field("content", N_("construction content")),
                Field("project", N_("project")),
                Field("payee", N_("payee")),
                Field("memo", N_("memo")),
            ),
        ),
        Form(
            "disburse",
            Disburse,
            N_("Record a disbursement"),
            (AMOUNT, VOUCHER, Field("tranche", N_("tranche"))),
        ),
        Form(
            "match-commit",
            CommitMatching,
            N_("Record a matching commitment"),
            (AMOUNT, Field("funder", N_("funder"), required=True), VOUCHER),
        ),
        Form("match-receive", ReceiveMatching, N_("Record matching funds received"), (AMOUNT, VOUCHER)),
        Form(
            "reverse",
            Reverse,
            N_("Reverse a recorded voucher"),
            (
                VOUCHER,
                Field("kind", N_("which act"), "select", choices=("", *REVERSIBLE), labels="reversible"),
                Field("reason", N_("reason"), required=True),
            ),
        ),
        # ------------------------------------------------------------------ an approver's: selection
        Form(
            "recommend",
            Recommend,
            N_("Record a recommendation"),
            (
                Field("recommender", N_("recommending body (code)"), required=True),
                Field("round_", N_("round (year)"), required=True),
                Field("rank", N_("rank"), "number"),
            ),
        ),
        Form(
            "review",
            Review,
            N_("Record the expert review"),
            (
                Field("panel", N_("number of experts"), "number", required=True),
                Field(
                    "recommendation",
                    N_("the panel's recommendation"),
                    "select",
                    required=True,
                    choices=("recommend", "reject"),
                    labels="recommendation",
                ),
                Field("opinion", N_("opinion")),
                Field("rereview_reason", N_("reason for a new review")),
            ),
            _review,
        ),
        Form(
            "notice",
            Notice,
            N_("Record the public notice"),
            (
                Field("start", N_("first day"), "date", required=True),
                Field("end", N_("last day"), "date", required=True),
                Field("objections", N_("objections"), "number"),
                Field("where", N_("where published")),
            ),
            default_on=lambda values: values.get("end", ""),
        ),
        Form(
            "resolve-objections",
            ResolveObjections,
            N_("Settle the objections to the notice"),
            (DOCUMENT,),
        ),
        Form(
            "approve",
            Approve,
            N_("Approve the grant"),
            (
                Field("amount", N_("approved subsidy")),
                DOCUMENT,
                Field("bodies", N_("approving bodies (codes)")),
                Field("build_start", N_("build period start"), "date"),
                Field("build_end", N_("build period end"), "date"),
                Field("tier", N_("tier (a national base: A, B, C or D)")),
            ),
            _approve,
        ),
        Form(
            "reject",
            Reject,
            N_("Reject the application"),
            (Field("reason", N_("reason"), required=True), Field("document", N_("document number"))),
        ),
        # ------------------------------------------------------------------ an approver's: oversight
        Form(
            "extend",
            Extend,
            N_("Extend the build period"),
            (Field("build_end", N_("build period end"), "date", required=True), DOCUMENT),
        ),
        Form(
            "evaluate",
            Evaluate,
            N_("Record an evaluation"),
            (
                Field("kind", N_("evaluation"), "select", True, EVALUATION_KINDS, "evaluation"),
                Field("result", N_("result"), "select", True, EVALUATION_RESULTS, "result"),
                Field("evaluator", N_("evaluator")),
                Field("summary", N_("summary")),
            ),
        ),
        Form(
            "rectify-order",
            OrderRectification,
            N_("Order a rectification"),
            (
                Field("ref", N_("reference"), required=True),
                Field("finding", N_("what must be put right"), required=True),
                Field("deadline", N_("deadline"), "date", required=True),
            ),
        ),
        Form(
            "recover-order",
            OrderRecovery,
            N_("Order a recovery"),
            (AMOUNT, Field("reason", N_("reason"), required=True), DOCUMENT),
        ),
        Form(
            "budget-adjust",
            AdjustBudget,
            N_("Adjust the budget"),
            (BUDGET_LINES, APPROVAL, Field("reason", N_("reason"))),
            _budget,
        ),
        Form("close", Close, N_("Close the grant"), (Field("document", N_("document number")),)),
        # ------------------------------------------------------------------ an officer's: plan, end of life
        Form("budget", RegisterBudget, N_("Register the budget plan"), (BUDGET_LINES,), _budget),
        Form(
            "output",
            ReportOutput,
            N_("Report a year's outputs"),
            (
                Field("year", N_("year"), "number", required=True),
                Field("corrects", N_("this report"), "select", choices=("", "corrects"), labels="corrects"),
                Field("trainees", N_("people trained"), "number", required=True),
                Field("advanced", N_("of them advanced level"), "number"),
                Field("evaluations", N_("skill evaluations"), "number"),
                Field("advanced_evaluations", N_("of them advanced level evaluations"), "number"),
            ),
            _output,
        ),
        Form(
            "rectify-complete",
            CompleteRectification,
            N_("Record a rectification as completed"),
            (Field("ref", N_("reference"), required=True), Field("note", N_("what was done"))),
        ),
        Form(
            "dossier-add",
            AddToDossier,
            N_("Add a document to the dossier"),
            (
                Field("kind", N_("document kind"), "select", True, DOSSIER_KINDS, "dossier"),
                Field("title", N_("title"), required=True),
                Field("sha256", N_("document file"), "file", required=True),
            ),
        ),
        Form("recover-receive", ReceiveRecovery, N_("Record a recovery received"), (AMOUNT, VOUCHER)),
        Form(
            "dispose",
            Dispose,
            N_("Dispose of a remaining balance"),
            (
                Field("source", N_("fund source"), "select", True, ("subsidy", "matching"), "source"),
                AMOUNT,
                Field("how", N_("how"), "select", True, DISPOSALS, "disposal"),
                APPROVAL,
            ),
        ),
    )
}
# drawn by grant.html itself (their ids are the browser tests'); the rest by grant_forms.html
OWN_TEMPLATE = ("spend", "disburse")
# grant pending's next step -> the forms that take it
STEP_FORMS = {
    "recommend": ("recommend",),
    "review": ("review",),
    "rereview_or_reject": ("review", "reject"),
    "notice": ("notice",),
    "resolve_objections": ("resolve-objections",),
    "approve": ("approve", "reject"),
    "rectification": ("rectify-order", "recover-order", "rectify-complete"),
}
# the choices' words where ledger.labels has none
CHOICE_WORDS = {
    "recommendation": {"recommend": N_("recommend"), "reject": N_("do not recommend")},
    "reversible": {"": N_("(the voucher's only act)")},
    "corrects": {"": N_("the year's first report"), "corrects": N_("replaces the year's earlier report")},
    "dossier": {
        "application": N_("application"),
        "approval": N_("approval"),
        "activity": N_("activity record"),
        "achievement": N_("achievement"),
        "summary": N_("summary"),
        "image": N_("image"),
    },
    "disposal": {"returned": N_("returned"), "carried_forward": N_("carried forward")},
}


def choice(field: Field, code: str) -> str:
    """A select's option as the page names it."""
    own = CHOICE_WORDS.get(field.labels, {}).get(code)
    if own is not None:
        return _(own)
    if field.labels == "reversible":
        return ledger_(REVERSIBLE[code])
    return label(field.labels, code) if field.labels else code


def may_record(session: Session, form: Form) -> bool:
    """What the server allows (record refuses the rest): a role that records the act, and the
    person's own key unlocked at sign-in."""
    if session.signer is None or not session.role:
        return False
    return role_may_record(session.role, form.action.name, policy_in_force(business_today())) is None


def page_forms(session: Session, step: str | None) -> list[tuple[Form, bool]]:
    """The forms the page shows this person, with whether each takes grant pending's next step
    (those first)."""
    wanted = STEP_FORMS.get(step or "", ())
    shown = [
        (f, f.name in wanted) for f in FORMS.values() if f.name not in OWN_TEMPLATE and may_record(session, f)
    ]
    return sorted(shown, key=lambda pair: not pair[1])


def next_step(engine: Any, base_id: str, grant_id: str) -> tuple[str, str] | None:
    """``grant pending``'s line for the grant, read with its own query: (step code, detail)."""
    from projections.pending import pending

    today = business_today()
    levels = {code: p.level for code, p in policy_in_force(today).programmes.items()}
    for p in pending(engine, today, levels, [base_id]):
        if p.grant_id == grant_id:
            return p.step, p.detail
    return None


def reversed_vouchers(reversals: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """(kind, voucher) of every money act already reversed, from its reversals (kind, voucher)."""
    done = {"reverse": "spend"} | {f"reverse_{kind}": kind for kind in REVERSIBLE if kind != "spend"}
    return {(done[kind], voucher) for kind, voucher in reversals if kind in done}


def refused(app: Host, session: Session, form: Form) -> Response | None:
    """403 unless the signed-in person's registered role records the form's act (as the command
    line checks it) and their own key was unlocked at sign-in."""
    breach = role_may_record(session.role or "", form.action.name, policy_in_force(business_today()))
    if breach is None and session.signer is not None:
        return None
    message = (
        breach.describe()
        if breach is not None
        else _(
            "Your signing key is not on the server: set your web password with your own key "
            "(grant-ledger people password) to record here."
        )
    )
    return app.page("error.html", session, status=403, message=message)


async def write(app: Host, request: Request, session: Session, form: Form) -> Response:
    """Check the CSRF token and the role, build the form's action and record it as the command
    line does; answer with the grant's page (303) showing what it did, or re-render it with the
    refusal beside the form."""
    if form.upload:
        return await _write_upload(app, request, session, form)
    refusal = refused(app, session, form)  # before the body is read, as for an upload
    if refusal is not None:
        return refusal
    posted = await app.form(request, session, False)
    if isinstance(posted, Response):
        return posted
    values = {f.name: str(posted.get(f.name, "")).strip() for f in form.fields}
    values["on"] = str(posted.get("on", "")).strip()
    return await _record(app, request, session, form, values)


async def _write_upload(app: Host, request: Request, session: Session, form: Form) -> Response:
    """A form with a file: the role is checked before a byte of the body is read, the upload read
    within its bound (uploads.received, which checks the CSRF token), each file field's value the
    file's sha256 (as ``--file`` is recorded); the file itself is not kept."""
    refusal = refused(app, session, form)
    if refusal is not None:
        return refusal
    with tempfile.TemporaryDirectory(prefix="grant-ledger-form-") as folder:
        upload = await received(app, request, session, Path(folder))
        if isinstance(upload, Response):
            return upload
        values = {f.name: upload.fields.get(f.name, "").strip() for f in form.fields if f.kind != "file"}
        values["on"] = upload.fields.get("on", "").strip()
        missing = [f for f in form.fields if f.kind == "file" and f.name not in upload.files]
        for f in form.fields:
            if f.kind == "file" and f.name in upload.files:
                values[f.name] = await run_in_threadpool(_sha256, upload.files[f.name])
    if missing:
        error = BadInputError(_("{field}: choose the file to record").format(field=_(missing[0].label)))
        return await app._grant(request, session, status=400, form=form.name, values=values, error=error)
    return await _record(app, request, session, form, values)


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


async def _record(
    app: Host, request: Request, session: Session, form: Form, values: dict[str, str]
) -> Response:
    grant_id = request.path_params["grant_id"]
    refusal = refused(app, session, form)
    if refusal is not None:
        return refusal
    assert session.signer is not None
    signer = session.signer
    labels = form.labels
    try:
        on: str | date = values["on"] or form.default_on(values) or business_today()
        given = form.shape(_typed(values, form.fields) | {"on": on})
        action = build(form.action, lambda name: _(labels.get(name, name)), grant_id=grant_id, **given)
        await run_in_threadpool(_recorded, app, action, signer, session, grant_id, form.name)
    except LedgerError as e:
        status = STATUS.get(e.exit_code, 500)
        return await app._grant(request, session, status=status, form=form.name, values=values, error=e)
    # Post/Redirect/Get: the answer is the grant's page fetched anew, so a reload shows it again
    # instead of sending the form twice, and the write itself renders nothing
    return app.finish(RedirectResponse(f"/grants/{quote(grant_id, safe='')}", status_code=303), None)


def _recorded(
    app: Host,
    action: Action,
    signer: Signer,
    session: Session,
    grant_id: str,
    form: str,
) -> None:
    """The action recorded, and what it did kept for the grant's page to show once: in one worker
    thread, where each would otherwise take a hop of its own."""
    outcome = app.workspace.record(action, signer)
    if outcome.recorded:
        done = outcome.message
    else:
        done = _("already recorded: {what}; nothing written").format(what=outcome.message)
    app.sessions.notify(session, grant_id, (form, done))
