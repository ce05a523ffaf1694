"""An agent whose session store has no escalation feed (Parlant's own stores answer 404 on
/escalations/...): the bridge still mirrors, each mirrored session read from its own cursor
(slack_bridge/feed_follower.py, FALLBACK_CATCH_UP_S), and discovery uses the label listing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.bridge_world import (
    OPERATOR_TOKEN,
    World,
    eventually,
    running_world,
    shown_in_thread,
)


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    root: Path = tmp_path_factory.mktemp("without-feed")
    async with running_world(root, {"PARLANT_SESSION_STORE": "transient"}) as built:
        yield built


async def test_without_the_feed_customer_messages_are_still_mirrored_once(world: World) -> None:
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=10
    ) as http:
        answer = await http.get(f"{world.agent.url}/escalations/feed?after=0")
        assert answer.status_code == 404  # the agent really has no feed here
    session, root = await world.escalate()

    async def following() -> bool:
        return world.bridge.mirrors.following(session)

    await eventually(following, "the session's mirror")
    await asyncio.sleep(1)  # its first catch-up is done: what follows comes from later reads
    for n in range(2):
        await world.parlant.sessions.create_event(
            session, kind="message", source="customer", message=f"no feed {n}"
        )

    def shown() -> list[str]:
        # One post each, or both in one coalesced post: a section per message either way.
        return [text for _, text in shown_in_thread(world, root.ts) if "no feed" in text]

    async def mirrored() -> list[str] | None:
        return shown() if len(shown()) >= 2 else None

    texts = await eventually(mirrored, "both messages in the thread")
    assert [t.split("no feed ")[1][:1] for t in texts] == ["0", "1"]
    await asyncio.sleep(3)  # more reads of the session: nothing posted again
    assert len(shown()) == 2
