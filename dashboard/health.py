"""The dashboard's /healthz and /readyz, beside Streamlit's own /_stcore/health.

- /healthz: the dashboard's server answers.
- /readyz: what the dashboard needs answers: Parlant at PARLANT_URL, and an operator call
  (listing one session) is accepted with PARLANT_OPERATOR_TOKEN, so a wrong or missing token
  shows here rather than as an empty queue. 200 when both answer, else 503; the body names
  each check. Nothing in it is customer data.

Streamlit has no hook for extra routes, so `install` wraps the function that builds its
Starlette routes (Streamlit's default server since it moved to Starlette) to put these two
first. On a Streamlit without that server nothing is added and a warning says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dashboard.settings import DashboardSettings

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 5.0


async def readiness(settings: DashboardSettings) -> tuple[bool, dict[str, str]]:
    headers = (
        {"Authorization": f"Bearer {settings.operator_token}"} if settings.operator_token else {}
    )
    results: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_S) as http:
        try:
            health = await http.get(f"{settings.parlant_url}/healthz")
            results["parlant"] = (
                "ok" if health.status_code == 200 else f"answered {health.status_code}"
            )
        except httpx.HTTPError as error:
            results["parlant"] = f"not reachable at {settings.parlant_url}: {error!r}"
        if results["parlant"] == "ok":
            listing = await http.get(
                f"{settings.parlant_url}/sessions", params={"limit": 1}, headers=headers
            )
            results["operator_calls"] = (
                "ok"
                if listing.status_code == 200
                else f"refused ({listing.status_code}): check PARLANT_OPERATOR_TOKEN"
            )
    return all(value == "ok" for value in results.values()), results


def routes(settings: DashboardSettings) -> list[Route]:
    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"alive": True})

    async def readyz(_: Request) -> JSONResponse:
        ready, results = await readiness(settings)
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    return [Route("/healthz", healthz), Route("/readyz", readyz)]


def install(settings: DashboardSettings) -> bool:
    try:
        from streamlit.web.server.starlette import starlette_app
    except ImportError:
        log.warning("this Streamlit has no Starlette server: /healthz and /readyz are not served")
        return False
    build: Callable[[Any], list[Any]] = starlette_app.create_streamlit_routes

    def with_health(runtime: Any) -> list[Any]:
        return [*routes(settings), *build(runtime)]

    starlette_app.create_streamlit_routes = with_health
    return True
