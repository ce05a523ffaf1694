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
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
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


# Read-only for everyone, operators included: the agent's configuration is its code
# (agent/insurance.py, agent/tools.py), declared again at every start, so a change made over
# the API would silently differ between replicas and vanish at the next start. Writes here
# also reached Parlant's own failures (Schemathesis: POST /journeys with {} and PUT
# /services/{name} without `kind` answered 500), and PUT /services/{name} would make the agent
# fetch and call any URL as a tool service. Operators use sessions, events and customers only.
READ_ONLY_PREFIXES: tuple[str, ...] = (
    "/agents",
    "/canned_responses",
    "/capabilities",
    "/context-variables",
    "/evaluations",
    "/guidelines",
    "/journeys",
    "/relationships",
    "/services",
    "/tags",
    "/terms",
)

# What anyone may open without a token: the chat page and the health checks (GET or HEAD only).
OPEN_PATHS = frozenset({CHAT_PATH, "/healthz", "/readyz"})
# No route of ours or Parlant's takes more from an operator (a reply is at most 40,000
# characters); customers' bodies are capped lower by the gateway (agent/customers/gateway.py).
MAX_OPERATOR_BODY_BYTES = 1024 * 1024

CustomerCall = Callable[[Scope], bool]


class OperatorOnlyPaths:
    """The door in front of Parlant and our routes: a body larger than the caller may send is
    refused from its Content-Length, and a caller with neither the operator token nor a
    customer's token reaches only the open paths. Both before any byte of the body is read:
    FastAPI parses a route's body before Parlant's policy refuses the caller."""

    def __init__(
        self,
        app: ASGIApp,
        expected_authorization: bytes | None,
        is_customer_call: CustomerCall,
        customer_max_body: int,
    ) -> None:
        self.app = app
        self.expected_authorization = expected_authorization
        self.is_customer_call = is_customer_call
        self.customer_max_body = customer_max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        is_operator = self.expected_authorization is None or hmac.compare_digest(
            headers.get(b"authorization", b""), self.expected_authorization
        )
        if is_operator or (scope["type"] == "http" and self._open_to_anyone(scope)):
            refusal = self._body_refusal(headers, is_operator) if scope["type"] == "http" else None
            if refusal is None and scope["type"] == "http":
                refusal = _read_only_refusal(scope)
            if refusal is None:
                await self.app(scope, receive, send)
            else:
                await refusal(scope, receive, send)
        elif scope["type"] == "websocket":
            # Closing before accepting makes the server answer the handshake with 403.
            await receive()
            await send({"type": "websocket.close", "code": 1008})
        elif scope["path"] == "/":
            # Parlant sends "/" to its sandbox, which customers may not open: send them to theirs.
            await RedirectResponse(CHAT_PATH)(scope, receive, send)
        else:
            refusal = JSONResponse({"detail": "this needs the operator token"}, status_code=403)
            await refusal(scope, receive, send)

    def _body_refusal(self, headers: dict[bytes, bytes], is_operator: bool) -> Response | None:
        if b"transfer-encoding" in headers:
            # A chunked body has no length to refuse it by before reading it.
            return JSONResponse({"detail": "send the body with a Content-Length"}, status_code=411)
        declared = headers.get(b"content-length", b"0").decode("latin-1")
        limit = MAX_OPERATOR_BODY_BYTES if is_operator else self.customer_max_body
        if not declared.isascii() or not declared.isdigit():
            return JSONResponse({"detail": "Content-Length must be a number"}, status_code=400)
        if len(declared) > 12 or int(declared) > limit:
            return JSONResponse(
                {"detail": f"the request is larger than {limit // 1024} KiB"}, status_code=413
            )
        return None

    def _open_to_anyone(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if path.startswith(OPERATOR_ONLY_PREFIXES):
            return False
        if path in OPEN_PATHS:
            return scope["method"] in ("GET", "HEAD")
        return self.is_customer_call(scope)


def _read_only_refusal(scope: Scope) -> Response | None:
    path: str = scope["path"]
    read_only = any(path == p or path.startswith(f"{p}/") for p in READ_ONLY_PREFIXES)
    if read_only and scope["method"] not in ("GET", "HEAD"):
        return JSONResponse(
            {"detail": "the agent's configuration is its code, declared at start; not set here"},
            status_code=403,
        )
    return None


def guard_operator_only_paths(
    app: FastAPI,
    operator_token: str | None,
    is_customer_call: CustomerCall,
    customer_max_body: int,
) -> None:
    """Call last when configuring the app, so the guard is the outermost middleware. Without
    a token (development) every caller is an operator, and only the body cap applies."""
    app.add_middleware(
        OperatorOnlyPaths,
        expected_authorization=bearer(operator_token) if operator_token else None,
        is_customer_call=is_customer_call,
        customer_max_body=customer_max_body,
    )


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
    """Replaces Parlant's handlers, whose bodies echo the request headers, and FastAPI's
    validation answer, which echoes the invalid values."""

    async def refused(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": "this needs the operator token"}, status_code=403)

    async def limited(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": "too many requests; try again shortly"},
            status_code=429,
            headers={"Retry-After": "5"},
        )

    async def invalid(request: Request, error: Exception) -> JSONResponse:
        # FastAPI's own answer repeats each invalid field's value, however large. Each error
        # is pydantic's (or FastAPI's in its shape): `loc`, `msg` and `type` are always there.
        assert isinstance(error, RequestValidationError)
        problems = [
            {"loc": list(problem["loc"]), "msg": problem["msg"], "type": problem["type"]}
            for problem in error.errors()
        ]
        return JSONResponse({"detail": problems}, status_code=422)

    app.add_exception_handler(RateLimitExceededException, limited)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(AuthorizationException, refused)
