"""``body add``: an administrator registers a recommending or approving body (ledger.bodies)."""

from __future__ import annotations

from typing import Any, ClassVar

from ledger.actions import Action, District, NewIdentifier, RequiredText
from ledger.bodies import BODY_KINDS, DUTIES, Bodies
from ledger.errors import BadInputError
from ledger.i18n import T_, _
from ledger.policy import Policy


class AddBody(Action):
    """``body add``: an administrator registers a recommending or approving body."""

    name: ClassVar[str] = "body add"
    code: NewIdentifier  # a body is found and counted by its code (ledger.bodies)
    body_name: RequiredText
    kind: str
    duty: str = ""
    district: District = None  # a district bureau's: the district whose grants it recommends and approves

    def check(self, policy: Policy) -> None:
        if self.district is not None and self.kind != "district_bureau":
            whole_city = _("a {kind} acts for the whole city; --district is a district bureau's")
            raise BadInputError(whole_city.format(kind=self.kind))
        if self.kind not in BODY_KINDS:
            raise BadInputError(
                _("--kind {kind!r} is unknown; use one of {value}").format(
                    kind=self.kind, value=", ".join(BODY_KINDS)
                )
            )
        if self.duty not in DUTIES and not (self.kind == "sector_authority" and self.duty == ""):
            msg = T_(
                "--duty {duty!r} is unknown; use hr (人力社保) or finance (财政) for a bureau, "
                "sector for a "
                "sector authority",
                duty=self.duty,
            )
            raise BadInputError(msg)
        if self.kind == "sector_authority" and self.duty not in ("", "sector"):
            raise BadInputError(_("a sector authority's duty is sector (行业主管)"))
        if self.kind != "sector_authority" and self.duty == "sector":
            raise BadInputError(
                _("a {kind} has the duty hr (人力社保) or finance (财政), not sector").format(kind=self.kind)
            )

    @property
    def body_duty(self) -> str:
        return "sector" if self.kind == "sector_authority" else self.duty

    def decide(self, books: Any) -> bool:
        bodies = books.find_bodies()
        if bodies is None:
            bodies = Bodies.open(on=self.on, actor=books.actor, role=books.role)
            books.add(bodies)
        return bodies.add(
            code=self.code,
            name=self.body_name,
            kind=self.kind,
            duty=self.body_duty,
            district=self.district,
            on=self.on,
            actor=books.actor,
            role=books.role,
        )

    def done(self, books: Any) -> str:
        return _("registered body {code} {body_name} ({kind}, {body_duty})").format(
            code=self.code, body_name=self.body_name, kind=self.kind, body_duty=self.body_duty
        )

    def repeat(self) -> str:
        return _("body {code} is already registered").format(code=self.code)
