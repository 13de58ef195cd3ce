"""The grant page's forms, one table of them: each names the action the command line builds
(ledger.actions), the fields it takes as the command's options, and how the typed text becomes the
action's fields. Every POST is checked as the command line checks it: the CSRF token, then the
signed-in person's registered role (rules.role_may_record: an approver's act by an officer, any
write by an auditor → 403), then the action is built and recorded through the application handler,
signed with the session's key. A refusal re-renders the page with the form as it was typed and the
refusal beside it (its rule, clause and numbers, the command line's sentence)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from commands.web.i18n import _
from commands.web.status import STATUS
from ledger.actions import (
    Action,
    Approve,
    CommitMatching,
    Disburse,
    Evaluate,
    Extend,
    Notice,
    OrderRecovery,
    OrderRectification,
    ReceiveMatching,
    Recommend,
    Reject,
    ResolveObjections,
    Reverse,
    Review,
    Spend,
    build,
)
from ledger.clock import business_today
from ledger.errors import LedgerError
from ledger.grant import EVALUATION_KINDS, EVALUATION_RESULTS, REVERSIBLE
from ledger.i18n import N_
from ledger.i18n import _ as ledger_
from ledger.labels import label
from ledger.policy import policy_in_force
from ledger.rules import role_may_record

if TYPE_CHECKING:
    from commands.web.sessions import Session
    from commands.web.workspace import Workspace


class Host(Protocol):
    """What a form needs of the app (commands.web.app.App)."""

    workspace: Workspace

    async def form(self, request: Request, session: Session, fresh: bool) -> FormData | Response: ...

    def page(self, template: str, session: Session, *, status: int = 200, **values: Any) -> Response: ...

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
    for it (a refusal names the field so), ``kind`` text | date | number | select, ``choices``
    (code, label kind in ledger.labels) of a select."""

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
    def labels(self) -> dict[str, str]:
        """Each action field's word on the page (``recommended``: the review's select)."""
        named = {f.name: f.label for f in self.fields}
        return named | {"recommended": named.get("recommendation", "recommended"), "on": N_("date")}


AMOUNT = Field("amount", N_("amount"), required=True)
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
    "rectification": ("rectify-order", "recover-order"),
}
# the choices' words where ledger.labels has none
CHOICE_WORDS = {
    "recommendation": {"recommend": N_("recommend"), "reject": N_("do not recommend")},
    "reversible": {"": N_("(the voucher's only act)")},
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


async def write(app: Host, request: Request, session: Session, form: Form) -> Response:
    """Check the CSRF token and the role, build the form's action and record it as the command
    line does; re-render the grant page with what it did, or with the refusal beside the form."""
    posted = await app.form(request, session, False)
    if isinstance(posted, Response):
        return posted
    grant_id = request.path_params["grant_id"]
    values = {f.name: str(posted.get(f.name, "")).strip() for f in form.fields}
    values["on"] = str(posted.get("on", "")).strip()
    breach = role_may_record(session.role or "", form.action.name, policy_in_force(business_today()))
    if breach is not None or session.signer is None:
        message = (
            breach.describe()
            if breach is not None
            else _(
                "Your signing key is not on the server: set your web password with your own key "
                "(grant-ledger people password) to record here."
            )
        )
        return app.page("error.html", session, status=403, message=message)
    labels = form.labels
    try:
        given = form.shape(_typed(values, form.fields))
        on: str | date = values["on"] or form.default_on(values) or business_today()
        action = build(form.action, lambda name: _(labels.get(name, name)), grant_id=grant_id, on=on, **given)
        outcome = await run_in_threadpool(app.workspace.record, action, session.signer)
    except LedgerError as e:
        status = STATUS.get(e.exit_code, 500)
        return await app._grant(request, session, status=status, form=form.name, values=values, error=e)
    if outcome.recorded:
        done = outcome.message
    else:
        done = _("already recorded: {what}; nothing written").format(what=outcome.message)
    return await app._grant(request, session, form=form.name, done=done)
