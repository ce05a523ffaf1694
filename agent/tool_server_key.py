"""Parlant's tool server answers only the agent: a key that only the agent's process holds.

Parlant's SDK serves the agent's tools (file_claim, the handoff, …) over HTTP on
127.0.0.1:PARLANT_TOOL_PORT to its own client in the same process, and asks nothing of the
caller: any local process could call a tool for any session (a local caller filed a claim for
another customer). Its client is an httpx client on that URL, so the server cannot leave TCP;
instead `install` gives this process a random key, kept in memory only (never in the
environment or a file another process could read), makes the tool server refuse every request
without it, and makes Parlant's client send it to that server and no other.

Both sides are Parlant's classes, replaced where Parlant looks them up (`parlant.sdk` creates
the server, the service registry the client); tests/test_authorization.py checks both against
the installed Parlant: a caller without the key is refused, and the agent's own tool calls work.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

import parlant.core.services.tools.service_registry as service_registry
import parlant.sdk as sdk
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from parlant.core.services.tools.plugins import PluginClient, PluginServer
from starlette.types import ASGIApp, Receive, Scope, Send

HEADER = "x-agent-tool-key"


class RequireKey:
    """ASGI middleware: every HTTP request needs the key in HEADER."""

    def __init__(self, app: ASGIApp, key: bytes) -> None:
        self.app = app
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            presented = dict(scope.get("headers") or []).get(HEADER.encode(), b"")
            if not hmac.compare_digest(presented, self.key):
                refusal = JSONResponse({"detail": "only the agent calls its tools"}, 403)
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(port: int) -> None:
    """Call once before `p.Server` starts: its tool server on `port` then needs this process's key."""
    key = secrets.token_urlsafe(32)
    own_url = f"http://127.0.0.1:{port}"

    async def keyed(app: FastAPI) -> FastAPI:
        app.add_middleware(RequireKey, key=key.encode())
        return app

    class KeyedPluginServer(PluginServer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("on_app_created", keyed)
            super().__init__(*args, **kwargs)

    class KeyedPluginClient(PluginClient):
        async def __aenter__(self) -> PluginClient:
            entered = await super().__aenter__()
            if self.url.rstrip("/") == own_url:
                self._http_client.headers[HEADER] = key
            return entered

    sdk.PluginServer = KeyedPluginServer  # type: ignore[misc]
    service_registry.PluginClient = KeyedPluginClient  # type: ignore[attr-defined]
