"""The bridge's operations listener: /metrics, /healthz and /readyz on BRIDGE_METRICS_PORT.

Its own small aiohttp server rather than routes on the Slack events port: in HTTP mode that
port faces Slack through a public proxy, and metrics are operator data. It binds to
BRIDGE_METRICS_HOST (127.0.0.1 by default), so who may read it is decided by the bind.

- /healthz: the process and its event loop answer.
- /readyz: its dependencies answer: the bridge's store, Parlant (/healthz) and Slack
  (auth.test, remembered for a while so a scraper cannot spend Slack's rate limit). 200 when
  all answer, else 503; the body names each check.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

import httpx
from aiohttp import web

from slack_bridge import metrics
from slack_bridge.settings import BridgeSettings
from slack_bridge.store import BridgeStore
from slack_kit.slack_api import SlackCaller
from slack_kit.slack_auth import SlackAuthCheck

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 5.0

Check = Callable[[], Awaitable[str | None]]  # None: fine; else what is wrong


def parlant_check(parlant_url: str, http: httpx.AsyncClient) -> Check:
    async def check() -> str | None:
        try:
            response = await http.get(f"{parlant_url}/healthz", timeout=CHECK_TIMEOUT_S)
        except httpx.HTTPError as error:
            return f"not reachable at {parlant_url}: {error!r}"
        return None if response.status_code == 200 else f"answered {response.status_code}"

    return check


def store_check(store: BridgeStore) -> Check:
    async def check() -> str | None:
        try:
            await store.outbox_summary()
        except Exception as error:
            return repr(error)
        return None

    return check


async def readiness(checks: dict[str, Check]) -> tuple[bool, dict[str, str]]:
    async def run(check: Check) -> str | None:
        try:
            return await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        except TimeoutError:
            return f"no answer within {CHECK_TIMEOUT_S:g}s"

    problems = await asyncio.gather(*(run(check) for check in checks.values()))
    results = {name: problem or "ok" for name, problem in zip(checks, problems, strict=True)}
    return all(problem is None for problem in problems), results


class MirrorFigures(Protocol):
    def active(self) -> int: ...

    def backlog(self) -> dict[str, tuple[int, datetime | None]]: ...


def ops_app(
    store: BridgeStore, checks: dict[str, Check], mirrors: MirrorFigures
) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    # Logged when the answer changes, not at every request: a launcher or a balancer asks
    # every few seconds, and the same line each time buried everything else.
    last: dict[str, str] = {}

    async def readyz(_: web.Request) -> web.Response:
        ready, results = await readiness(checks)
        if results != last:
            if not ready:
                log.warning("not ready: %s", json.dumps(results))
            elif last:
                log.info("ready: %s", json.dumps(results))
            last.clear()
            last.update(results)
        return web.json_response({"ready": ready, "checks": results}, status=200 if ready else 503)

    async def metrics_page(_: web.Request) -> web.Response:
        pending, oldest = await store.outbox_summary()
        metrics.set_outbox(pending, oldest)
        metrics.set_mirrors(mirrors.active())
        metrics.set_backlog(mirrors.backlog())
        return web.Response(body=metrics.render(), headers={"Content-Type": metrics.CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    return app


class OpsServer:
    def __init__(self, runner: web.AppRunner, http: httpx.AsyncClient) -> None:
        self._runner = runner
        self._http = http

    async def cleanup(self) -> None:
        await self._runner.cleanup()
        await self._http.aclose()


async def ops_runner(
    settings: BridgeSettings,
    store: BridgeStore,
    caller: SlackCaller,
    mirrors: MirrorFigures,
) -> OpsServer:
    """Start the listener on BRIDGE_METRICS_HOST:BRIDGE_METRICS_PORT."""
    http = httpx.AsyncClient()
    checks: dict[str, Check] = {
        "store": store_check(store),
        "parlant": parlant_check(settings.parlant_url, http),
        "slack": SlackAuthCheck(caller),
    }
    runner = web.AppRunner(ops_app(store, checks, mirrors), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
    log.info(
        "metrics and health at http://%s:%s/metrics, /healthz, /readyz",
        settings.metrics_host,
        settings.metrics_port,
    )
    return OpsServer(runner, http)
