"""Who may do what on Parlant's API once PARLANT_OPERATOR_TOKEN is set.

Out of the box anyone who can reach the Parlant port may post as a human operator, switch
modes, read every session and stream the server's logs. With an operator token, a caller
that presents `Authorization: Bearer <token>` (the bridge, the dashboard) may do everything,
and Parlant's API refuses everyone else: every operation, the API docs, Parlant's developer
sandbox at /chat and the /logs WebSocket (which streams the server log).

Customers never reach Parlant's API directly: they present a signed customer token or a guest
token, and agent/customers/gateway.py serves them their own sessions, in Parlant's shapes,
with nothing internal in them. A session id alone opens nothing.

Refusals say what is missing and nothing else: Parlant's own 403 and 429 bodies repeat the
request's headers, Authorization and Cookie included.
"""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from parlant.api.authorization import (
    AuthorizationException,
    AuthorizationPolicy,
    Operation,
    RateLimitExceededException,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.customer_chat import CHAT_PATH

# Parlant checks these in an HTTP middleware whose refusal surfaces as a 500, and does not
# check its /logs WebSocket at all: they are refused here, before Parlant sees them.
# /escalations/ is ours (agent/escalation_routes.py): every open handoff's events, operators' only.
OPERATOR_ONLY_PREFIXES: tuple[str, ...] = (
    "/chat/",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/escalations/",
)


class OperatorOnlyPaths:
    """Refuses Parlant's sandbox, API docs and every WebSocket to callers without the token."""

    def __init__(self, app: ASGIApp, expected_authorization: bytes) -> None:
        self.app = app
        self.expected_authorization = expected_authorization

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = scope["type"] == "websocket" or (
            scope["type"] == "http" and scope["path"].startswith(OPERATOR_ONLY_PREFIXES)
        )
        presented = dict(scope.get("headers") or []).get(b"authorization", b"")
        is_operator = hmac.compare_digest(presented, self.expected_authorization)
        if scope["type"] == "http" and scope["path"] == "/" and not is_operator:
            # Parlant sends "/" to its sandbox, which customers may not open: send them to theirs.
            await RedirectResponse(CHAT_PATH)(scope, receive, send)
        elif not guarded or is_operator:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            # Closing before accepting makes the server answer the handshake with 403.
            await receive()
            await send({"type": "websocket.close", "code": 1008})
        else:
            refusal = JSONResponse({"detail": "this needs the operator token"}, status_code=403)
            await refusal(scope, receive, send)


def guard_operator_only_paths(app: FastAPI, operator_token: str) -> None:
    """Call last when configuring the app, so the guard is the outermost middleware."""
    app.add_middleware(OperatorOnlyPaths, expected_authorization=bearer(operator_token))


def bearer(operator_token: str) -> bytes:
    return f"Bearer {operator_token}".encode()


class OperatorCheck:
    """Whether a request carries the operator token. With no token set (development) every
    request does, as the rest of Parlant's API is open then."""

    def __init__(self, operator_token: str | None) -> None:
        self._expected = bearer(operator_token) if operator_token else None

    def __call__(self, request: Request) -> bool:
        if self._expected is None:
            return True
        presented = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(presented, self._expected)


class OperatorTokenPolicy(AuthorizationPolicy):
    def __init__(self, operator_token: str) -> None:
        self.is_operator = OperatorCheck(operator_token)

    async def check_permission(self, request: Request, operation: Operation) -> bool:
        return self.is_operator(request)

    async def check_rate_limit(self, request: Request, operation: Operation) -> bool:
        # Operators are our own processes; customers are limited in the gateway.
        return True

    @property
    def name(self) -> str:
        return "operator-token"


def install_refusal_handlers(app: FastAPI) -> None:
    """Replaces Parlant's handlers, whose bodies echo the request headers."""

    async def refused(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": "this needs the operator token"}, status_code=403)

    async def limited(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": "too many requests; try again shortly"},
            status_code=429,
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(RateLimitExceededException, limited)
    app.add_exception_handler(AuthorizationException, refused)
