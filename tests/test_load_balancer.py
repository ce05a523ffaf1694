"""The documented HAProxy configuration (tests/support/haproxy.py renders it) keeps sending to
the last replica when its health checks are slow.

With one agent replica left carrying every session on a loaded machine, its /readyz took longer
than `timeout check`, HAProxy marked it down and answered 503 to every customer and bridge. A
replica here whose checks answer after the time-out, but which serves requests, must keep
getting them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from aiohttp import web

from tests.support.agent_process import free_port
from tests.support.haproxy import Backend, LoadBalancer, haproxy_binary

# Above the configuration's `timeout check 2s`.
SLOW_CHECK_S = 2.5


class Replica:
    """Answers requests at once; its health check at once, or slowly once `slow` is set."""

    def __init__(self) -> None:
        self.slow = False
        self.port = free_port()

    async def readyz(self, _: web.Request) -> web.Response:
        if self.slow:
            await asyncio.sleep(SLOW_CHECK_S)
        return web.json_response({"ready": True})

    async def hello(self, _: web.Request) -> web.Response:
        return web.Response(text="served")


@pytest.fixture
async def replica() -> AsyncIterator[Replica]:
    replica = Replica()
    app = web.Application()
    app.router.add_get("/readyz", replica.readyz)
    app.router.add_get("/hello", replica.hello)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", replica.port).start()
    yield replica
    await runner.cleanup()


@pytest.fixture
def balancer_binary() -> Iterator[None]:
    if haproxy_binary() is None:
        pytest.skip("haproxy is not installed (scripts/ensure_haproxy.sh installs it)")
    yield


async def test_the_last_replica_with_slow_health_checks_is_still_sent_requests(
    balancer_binary: None, replica: Replica
) -> None:
    balancer = await asyncio.to_thread(LoadBalancer([Backend("agent1", replica.port)]).start)
    try:
        replica.slow = True
        # Long enough for `fall 2` slow checks to mark it down (each gives up after 2 s).
        await asyncio.sleep(2 * SLOW_CHECK_S + 1.5)
        assert "agent1" not in await asyncio.to_thread(balancer.up_servers)
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=balancer.url, timeout=10) as client:
            for _ in range(5):
                response = await client.get("/hello")
                assert response.status_code == 200, response.text
                assert response.text == "served"
        assert time.monotonic() - started < 5
    finally:
        await asyncio.to_thread(balancer.stop)
