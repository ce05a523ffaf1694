"""The agent's /readyz under load: the load balancer's health check must not wait on a busy store.

HAProxy gives a check 2 s (`timeout check`, docs/replicas.md). With one agent replica left
carrying every session, /readyz ran its store queries while the check waited, took longer than
that, and HAProxy took the last replica out. /readyz now answers from the last result of probes
that run beside it; these tests give it dependencies slower than the check's time-out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lagom import Container
from parlant.core.sessions import SessionStore

from agent.ops import AgentOps
from agent.store.session_stores import open_session_stores
from handoff.sla import SlaSettings

# Slower than HAProxy's `timeout check 2s`.
SLOW_S = 2.5


class ClaimsDatabase:
    """The claims store's ping, as slow as a loaded machine makes it, or failing."""

    def __init__(self) -> None:
        self.failing = False

    def ping(self) -> None:
        time.sleep(SLOW_S)
        if self.failing:
            raise ConnectionError("the claims database went away")


@pytest.fixture
async def ops(tmp_path: Path) -> AsyncIterator[tuple[AgentOps, ClaimsDatabase]]:
    claims = ClaimsDatabase()
    ops = AgentOps(None, SlaSettings.around_the_clock_defaults(), claims.ping)
    async with open_session_stores("sqlite", tmp_path) as stores:
        assert stores.escalations is not None
        ops.use_index(stores.escalations)
        # Parlant's container, as far as /readyz reads it.
        container = Container()
        container[SessionStore] = stores.sessions  # type: ignore[type-abstract, assignment]
        ops.bind(container)
        yield ops, claims
        await ops.close()


async def timed_readiness(ops: AgentOps) -> tuple[float, bool, dict[str, str]]:
    started = time.monotonic()
    ready, results = await ops.readiness()
    return time.monotonic() - started, ready, results


async def test_readiness_answers_at_once_while_its_checks_are_slow(
    ops: tuple[AgentOps, ClaimsDatabase],
) -> None:
    agent, _ = ops
    await agent.readiness()  # the first answer may wait for the first probe
    for _ in range(5):
        took, ready, results = await timed_readiness(agent)
        assert ready, results
        assert took < 0.2, f"/readyz took {took:.2f}s"


async def test_readiness_reports_a_failing_dependency_within_a_probe_round(
    ops: tuple[AgentOps, ClaimsDatabase],
) -> None:
    agent, claims = ops
    assert (await agent.readiness())[0]
    claims.failing = True
    failed_at = time.monotonic()
    while (await agent.readiness())[0]:
        assert time.monotonic() - failed_at < 2 * SLOW_S + 3, "the failure never showed"
        await asyncio.sleep(0.1)
    took, ready, results = await timed_readiness(agent)
    assert not ready and "went away" in results["claims_store"]
    assert took < 0.2
