"""What stands in front of the dashboard's Streamlit app: the sign-in and short-lived exports.

With DASHBOARD_PASSWORD set, nothing of the dashboard answers without the signed sign-in
cookie: pages redirect to /signin, the websocket is refused, and export downloads (Streamlit's
/media/ files) answer 401, so a copied export link is no use to anyone who has not signed in.
Without a password the gate is open.
Either way an export's link stops working shortly after its download.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from dashboard.http_guard import HostCheck, SecurityHeaders, allowed_hosts
from dashboard.settings import DashboardSettings
from dashboard.signin import (
    COOKIE_NAME,
    DEVICE_COOKIE_DAYS,
    DEVICE_COOKIE_NAME,
    LogTally,
    Throttle,
    device_key,
    issue_token,
    password_matches,
    signing_key,
    token_expiry,
)

log = logging.getLogger(__name__)

SIGN_IN = "/signin"
SIGN_OUT = "/signout"
# What answers without the cookie: the sign-in itself, the health checks (dashboard/health.py;
# nothing in them is customer data), the page assets. Matched whole, but for the assets'
# folder: as prefixes, `/signin-anything` also passed the gate.
OPEN_PATHS = frozenset(
    {SIGN_IN, SIGN_OUT, "/_stcore/health", "/healthz", "/readyz", "/favicon.png", "/favicon.ico"}
)
OPEN_PREFIXES = ("/static/",)

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def safe_next(target: str | None) -> str:
    """Only a path on this server: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _cookie(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            jar.load(value.decode("latin-1"))
            if COOKIE_NAME in jar:
                return jar[COOKIE_NAME].value
    return None


class SignInGate:
    """ASGI middleware: everything but OPEN_PATHS and OPEN_PREFIXES needs a valid sign-in
    cookie."""

    def __init__(self, app: ASGIApp, key: bytes) -> None:
        self.app = app
        self.key = key

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        is_open = path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)
        if scope["type"] not in ("http", "websocket") or is_open:
            return await self.app(scope, receive, send)
        if token_expiry(self.key, _cookie(scope), time.time()) is not None:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401})
            return
        query = scope.get("query_string", b"").decode("latin-1")
        target = path + (f"?{query}" if query else "")
        if path.startswith(("/_stcore/", "/media/", "/component/")):
            response: Response = Response("sign in first", status_code=401)
        else:
            response = RedirectResponse(f"{SIGN_IN}?{urlencode({'next': target})}", 303)
        await response(scope, receive, send)


class ExportExpiry:
    """ASGI middleware: an export's download link (Streamlit's /media/ file) works for
    `window_s` after its first download, then answers 410, so a link copied from the browser
    (or left in its history) is no way into a transcript later. Streamlit itself keeps a closed
    tab's files until the process ends."""

    def __init__(
        self, app: ASGIApp, window_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self.window_s = window_s
        self.clock = clock
        self._first_served: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/media/"):
            return await self.app(scope, receive, send)
        now = self.clock()
        first = self._first_served.setdefault(path, now)
        if now - first > self.window_s:
            await Response("this export link has expired", status_code=410)(scope, receive, send)
            return
        if len(self._first_served) > 10_000:  # bounded: forget the oldest links
            for old in sorted(self._first_served, key=self._first_served.__getitem__)[:1_000]:
                del self._first_served[old]
        await self.app(scope, receive, send)


def sign_in_page(next_path: str, message: str = "") -> str:
    warning = f'<p class="error">{html.escape(message)}</p>' if message else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Escalations · sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; display: grid; place-items: center;
       min-height: 90vh; background: #f6f7f9; }}
form {{ background: white; padding: 2rem 2.5rem; border-radius: 10px;
       box-shadow: 0 2px 12px #0001; display: grid; gap: .8rem; min-width: 18rem; }}
input, button {{ font-size: 1rem; padding: .5rem; }}
button {{ background: #ff4b4b; color: white; border: 0; border-radius: 6px; }}
.error {{ color: #b00020; margin: 0; }}
</style></head>
<body><form method="post" action="{SIGN_IN}">
<h1>Supervisor dashboard</h1>{warning}
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" autofocus>
<input type="hidden" name="next" value="{html.escape(next_path)}">
<button type="submit">Sign in</button>
</form></body></html>"""


def sign_in_routes(settings: DashboardSettings, throttle: Throttle) -> list[Route]:
    assert settings.password is not None
    password = settings.password
    key = signing_key(password)
    device = device_key(password)
    lifetime_s = settings.sign_in_hours * 3600
    # A spray of wrong passwords logged 2,000 warnings in two minutes: one line per 10 s.
    throttled, refused = LogTally(), LogTally()

    async def show(request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        message = "Wrong password." if request.query_params.get("error") else ""
        return HTMLResponse(sign_in_page(next_path, message), headers={"Cache-Control": "no-store"})

    async def submit(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        next_path = safe_next((form.get("next") or ["/"])[0])
        client = request.client.host if request.client else "unknown"
        now = time.time()
        known = token_expiry(device, request.cookies.get(DEVICE_COOKIE_NAME), now) is not None
        wait = throttle.wait_s(client, now, known_browser=known)
        if wait > 0:
            if (count := throttled.count(now)) is not None:
                log.warning("dashboard sign-in throttled tries=%d wait_s=%.1f", count, wait)
            return HTMLResponse(
                sign_in_page(next_path, f"Too many wrong passwords: try again in {wait:.0f} s."),
                status_code=429,
                headers={"Retry-After": str(max(1, round(wait))), "Cache-Control": "no-store"},
            )
        if not password_matches((form.get("password") or [""])[0], password):
            throttle.failed(client, now)
            if (count := refused.count(now)) is not None:
                log.warning("dashboard password refused tries=%d", count)
            return RedirectResponse(f"{SIGN_IN}?error=1&next={quote(next_path)}", 303)
        throttle.succeeded(client)
        log.info("dashboard sign-in for %d h", settings.sign_in_hours)
        response = RedirectResponse(next_path, 303)
        secure = settings.public_url.startswith("https://")
        response.set_cookie(
            COOKIE_NAME,
            issue_token(key, now + lifetime_s),
            max_age=lifetime_s,
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/",
        )
        device_lifetime_s = DEVICE_COOKIE_DAYS * 86400
        response.set_cookie(
            DEVICE_COOKIE_NAME,
            issue_token(device, now + device_lifetime_s),
            max_age=device_lifetime_s,
            httponly=True,
            samesite="strict",
            secure=secure,
            path=SIGN_IN,
        )
        return response

    async def sign_out(request: Request) -> Response:
        response = RedirectResponse(SIGN_IN, 303)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    return [
        Route(SIGN_IN, show, methods=["GET"]),
        Route(SIGN_IN, submit, methods=["POST"]),
        Route(SIGN_OUT, sign_out, methods=["GET"]),
    ]


def app_options(settings: DashboardSettings) -> dict[str, Any]:
    """st.App's routes and middleware: the host check and security headers
    (dashboard/http_guard.py), short-lived export links, and the sign-in when a password is
    set. The first listed runs first."""
    edges = [
        Middleware(HostCheck, hosts=allowed_hosts(settings)),
        Middleware(SecurityHeaders),
    ]
    expiry = Middleware(ExportExpiry)
    if settings.password is None:
        return {"middleware": [*edges, expiry]}
    return {
        "routes": sign_in_routes(settings, Throttle()),
        "middleware": [*edges, Middleware(SignInGate, key=signing_key(settings.password)), expiry],
    }
