"""The customers' chat page, served by the agent's own Parlant server at /support.

Parlant's bundled /chat is a developer sandbox: it lists every session, agent and customer,
so it cannot run under the operator-token policy without exposing other customers. This page
uses only the calls the policy leaves to customers (agent/authorization.py), so the same page
works with the token on or off. It is one HTML file with inline script and style; the
Content-Security-Policy allows exactly those two blocks (by hash) and same-origin requests.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

CHAT_PATH = "/support"
TEMPLATE = Path(__file__).with_name("customer_chat.html")


def render_page(template: str, agent_id: str, agent_name: str) -> str:
    return template.replace("{{AGENT_ID}}", html.escape(agent_id, quote=True)).replace(
        "{{AGENT_NAME}}", html.escape(agent_name, quote=True)
    )


def _inline_hash(page: str, tag: str) -> str:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)
    if match is None:
        raise ValueError(f"the chat page has no inline <{tag}> block")
    digest = hashlib.sha256(match.group(1).encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def security_headers(page: str) -> dict[str, str]:
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_inline_hash(page, 'script')}",
            f"style-src {_inline_hash(page, 'style')}",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def installer(agent_id: str, agent_name: str) -> Callable[[FastAPI], Awaitable[None]]:
    """A `configure_api` hook for `p.Server` that adds the page."""
    page = render_page(TEMPLATE.read_text(encoding="utf-8"), agent_id, agent_name)
    headers = security_headers(page)

    async def install(app: FastAPI) -> None:
        @app.get(CHAT_PATH, include_in_schema=False)
        async def customer_chat() -> HTMLResponse:
            return HTMLResponse(page, headers=headers)

    return install
