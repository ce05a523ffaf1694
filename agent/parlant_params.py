"""Requests Parlant's own routes answer with a 500 for the caller's mistake, answered as such.

Found by Schemathesis (`make fuzz`) on the operators' routes:
- `GET /sessions/{id}/events` reads `kinds` as free text and converts each item with the
  event-kind enum inside the handler: `kinds=0` raised ValueError (500, a traceback logged);
  refused first, 422 naming the kinds.
- `GET /relationships` splits `tool_id` on ":" into a service and a tool: `tool_id=0` raised
  ValueError (500); refused first, 422.
- `POST /customers` with an id that exists raised ValueError ("... already exists"): 409.
The customers' routes never reach these (the gateway builds its own calls).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

EVENT_KINDS = frozenset({"message", "tool", "status", "custom"})
EVENTS_PATH = re.compile(r"/sessions/[^/]+/events")


def problem(scope: Scope) -> str | None:
    """Why the request's query cannot be answered, or None."""
    if scope["type"] != "http":
        return None
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if scope["path"] == "/relationships":
        if any(v and v.count(":") != 1 for v in query.get("tool_id", [])):
            return "tool_id is a service's name and a tool's, as service:tool"
        return None
    if not EVENTS_PATH.fullmatch(scope["path"]):
        return None
    for value in query.get("kinds", []):
        unknown = sorted({k for k in value.split(",") if k} - EVENT_KINDS)
        if unknown:
            return f"kinds may be {', '.join(sorted(EVENT_KINDS))} (not {', '.join(unknown)})"
    return None


class ParlantQueryCheck:
    """ASGI middleware: a 422 naming the value for what Parlant would answer with a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = problem(scope)
        if reason is None:
            await self.app(scope, receive, send)
        else:
            await JSONResponse({"detail": reason}, status_code=422)(scope, receive, send)


def install_conflict_handler(app: FastAPI) -> None:
    """Parlant's stores raise ValueError for an id that exists; anything else stays a 500."""

    async def conflict(request: Request, error: Exception) -> JSONResponse:
        if "already exists" not in str(error):
            raise error
        return JSONResponse({"detail": "an item with this id already exists"}, status_code=409)

    app.add_exception_handler(ValueError, conflict)
