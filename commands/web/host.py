"""What a page handler outside app.py uses of the app (commands.web.app.App), so its module need
not import app.py, which imports it for its routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from starlette.responses import Response

    from commands.web.sessions import Session, Sessions
    from commands.web.workspace import Workspace


class Host(Protocol):
    workspace: Workspace
    sessions: Sessions

    def page(
        self, template: str, session: Session, *, status: int = 200, set_cookie: bool = False, **values: Any
    ) -> Response: ...

    def finish(self, response: Response, session: Session | None) -> Response: ...

    def csrf_refusal(self, session: Session, fresh: bool, token: object) -> Response | None: ...
