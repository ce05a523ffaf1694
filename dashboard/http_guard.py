"""What every answer of the dashboard's server carries, and which names it answers to.

- Framing: the dashboard's buttons step into chats, post and hand back; a page of another site
  must not frame it to trick a click (X-Frame-Options and CSP frame-ancestors: this origin only,
  which Streamlit's own components, in srcdoc frames, need).
- Host: a page on any site can point its own name at 127.0.0.1 (DNS rebinding) and then talk to
  the dashboard as its own origin; with no password the dashboard would show it every
  transcript. Only requests naming the dashboard's own host (DASHBOARD_URL's, DASHBOARD_HOST, or
  loopback) are answered, the websocket included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse

from dashboard.settings import DashboardSettings

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"content-security-policy", b"frame-ancestors 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def allowed_hosts(settings: DashboardSettings) -> frozenset[str]:
    names = set(LOOPBACK_NAMES)
    public = urlsplit(settings.public_url).hostname
    if public:
        names.add(public.lower())
    if settings.host not in WILDCARDS:
        names.add(settings.host.lower())
    return frozenset(names)


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port (and an IPv6 literal's brackets)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class HostCheck:
    """ASGI middleware: answers only requests whose Host names this dashboard."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if host_name(headers.get(b"host", b"").decode("latin-1")) in self.hosts:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            # Closing before accepting makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        refusal = PlainTextResponse(
            "this dashboard does not answer to that host name; "
            "open it at DASHBOARD_URL (or set DASHBOARD_URL to the address people use)",
            status_code=421,
        )
        await refusal(scope, receive, send)


class SecurityHeaders:
    """ASGI middleware: adds SECURITY_HEADERS to every HTTP answer that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
