"""What every operator route on one session (`/escalations/{session_id}/...`: replies, turn,
draft) checks first, in this order: the operator token (403; agent/authorization.py has
checked it already, this is the route's own second check), the agent started (503 until the
server has bound its container) and the session known (404)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from lagom import Container
from parlant.core.application import Application
from parlant.core.common import ItemNotFoundError
from parlant.core.sessions import Session, SessionId

from agent.authorization import OperatorCheck


def no_such_session() -> Response:
    return JSONResponse({"detail": "no such session"}, status_code=404)


class OperatorSessionRoute:
    """The base of those routes: `bind` gives it the server's container once it is built."""

    def __init__(self, operator_token: str | None) -> None:
        self._is_operator = OperatorCheck(operator_token)
        self._container: Container | None = None

    def bind(self, container: Container) -> None:
        self._container = container

    def not_operator(self, request: Request) -> Response | None:
        """403 unless the request carries the operator token."""
        if self._is_operator(request):
            return None
        return JSONResponse({"detail": "this needs the operator token"}, status_code=403)

    def starting(self) -> Response | None:
        """503 until the server has bound its container."""
        if self._container is not None:
            return None
        return JSONResponse({"detail": "the agent is starting"}, status_code=503)

    async def session(
        self, request: Request, session_id: str
    ) -> tuple[Container, Session] | Response:
        """The whole preamble: the container and the session, or the answer refusing."""
        refused = self.not_operator(request) or self.starting()
        if refused is not None:
            return refused
        assert self._container is not None  # starting() said so
        try:
            session = await self._container[Application].sessions.read(SessionId(session_id))
        except ItemNotFoundError:
            return no_such_session()
        return self._container, session
