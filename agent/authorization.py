"""Who may do what on Parlant's API once PARLANT_OPERATOR_TOKEN is set.

Out of the box anyone who can reach the Parlant port may post as a human operator, switch
modes, read every session and stream the server's logs. With an operator token, a caller
that presents `Authorization: Bearer <token>` (the bridge, the dashboard) may do everything;
any other caller (a customer, through the chat page at /support) may only:

- read the agent (its name and description);
- start a guest session, giving nothing but the agent id: no customer id, title, labels or
  metadata, so nobody can plant a fake handoff record (which names a Slack thread) or a
  `handoff` label that would put the session in the operators' queue;
- write customer messages (`source=customer`, `kind=message`) with only a text: no
  participant and no metadata, because the bridge and the dashboard read operator identity
  and Slack origin from event metadata;
- list a session's events of kinds `message` and `status` only (the `kinds` query must be
  given and hold nothing else), so internal notes and hand-backs (custom events) and tool
  calls with their results stay with the operators.

Everything else needs the token: human and on-behalf messages, notes and other custom events,
status events, mode, title, label and metadata updates, reading a session record, listing
sessions, agents or customers, deleting anything, the API docs, Parlant's developer sandbox at
/chat and the /logs WebSocket (which streams the server log, customer messages included).

What a customer still can do: read and write any session whose id they hold. A guest session
has no login; its id is random and unguessable and only ever shown to the browser that created
it, so the id is the capability, as in Parlant's own production policy. A customer-scoped
listing (GET /sessions?customer_id=...) would not help: every chat visitor is Parlant's one
guest customer, so that listing is every customer's sessions. For the same reason Parlant's
/chat sandbox cannot be made safe by widening this policy: it lists all sessions, agents and
customers, and deletes and renames sessions.

Message events are shown whole, metadata included: a reply an operator sent "as the AI" is
visible as `human_agent_on_behalf_of_ai_agent` with the operator's name in its metadata.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Mapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from parlant.api.authorization import AuthorizationPolicy, Operation
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.customer_chat import CHAT_PATH

ANONYMOUS_OPERATIONS: frozenset[Operation] = frozenset(
    {
        Operation.READ_AGENT,
        Operation.CREATE_GUEST_SESSION,
        Operation.CREATE_CUSTOMER_EVENT,
        Operation.LIST_EVENTS,
    }
)

CUSTOMER_VISIBLE_KINDS: frozenset[str] = frozenset({"message", "status"})

# The only body fields a caller without the token may send, per operation.
ANONYMOUS_BODY_FIELDS: Mapping[Operation, frozenset[str]] = {
    Operation.CREATE_GUEST_SESSION: frozenset({"agent_id"}),
    Operation.CREATE_CUSTOMER_EVENT: frozenset({"kind", "source", "message"}),
}


def lists_only_customer_visible_kinds(request: Request) -> bool:
    # Every `kinds` value counts: a repeated query parameter must not smuggle one past us.
    values = request.query_params.getlist("kinds")
    if not values:
        return False
    kinds = {kind.strip() for value in values for kind in value.split(",")}
    return bool(kinds) and kinds <= CUSTOMER_VISIBLE_KINDS


def sets_only(body: Any, allowed: frozenset[str]) -> bool:
    if not isinstance(body, dict):
        return False
    # Clients send unset fields as null or empty; only a value that says something counts.
    return all(key in allowed for key, value in body.items() if value not in (None, "", [], {}))


async def request_body(request: Request) -> Any:
    # FastAPI has read and cached the body on this same Request before the endpoint (which
    # calls the policy) runs, so this re-parses bytes already in memory.
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return None


# Parlant checks these in an HTTP middleware whose refusal surfaces as a 500, and does not
# check its /logs WebSocket at all: they are refused here, before Parlant sees them.
OPERATOR_ONLY_PREFIXES: tuple[str, ...] = ("/chat/", "/docs", "/redoc", "/openapi.json")


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


class OperatorTokenPolicy(AuthorizationPolicy):
    def __init__(self, operator_token: str) -> None:
        self._expected = bearer(operator_token)

    def is_operator(self, request: Request) -> bool:
        presented = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(presented, self._expected)

    async def check_permission(self, request: Request, operation: Operation) -> bool:
        if self.is_operator(request):
            return True
        if operation not in ANONYMOUS_OPERATIONS:
            return False
        if operation is Operation.LIST_EVENTS:
            return lists_only_customer_visible_kinds(request)
        allowed_fields = ANONYMOUS_BODY_FIELDS.get(operation)
        if allowed_fields is not None:
            return sets_only(await request_body(request), allowed_fields)
        return True

    async def check_rate_limit(self, request: Request, operation: Operation) -> bool:
        return True

    @property
    def name(self) -> str:
        return "operator-token"
