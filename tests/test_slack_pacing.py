"""Pacing is per channel: a routed channel's posts never wait on another channel's budget."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_kit.slack_api import SlackCaller

# Guards against a hang when a post waits on the wrong bucket; no post should take this long.
HANG_GUARD_S = 30


class RecordingClient:
    """Stands in for AsyncWebClient at the one method SlackCaller posts through."""

    def __init__(self) -> None:
        self.posted: list[str] = []

    async def chat_postMessage(self, channel: str, **arguments: Any) -> dict[str, Any]:
        self.posted.append(channel)
        return {"ok": True, "ts": f"{len(self.posted)}.000"}


async def post(caller: SlackCaller, channel: str) -> str:
    async def nothing_posted() -> None:
        return None

    return await caller.post_message(nothing_posted, channel=channel, text="hello")


async def test_each_routed_channel_has_its_own_token_bucket() -> None:
    client = RecordingClient()
    # One post of burst and practically no refill: a channel's second post waits "forever".
    caller = SlackCaller(client, posts_per_second=1e-6, burst=1)  # type: ignore[arg-type]

    await asyncio.wait_for(post(caller, "C0DEFAULT"), HANG_GUARD_S)
    waiting = asyncio.create_task(post(caller, "C0DEFAULT"))
    await asyncio.wait_for(post(caller, "C0CLAIMS"), HANG_GUARD_S)
    await asyncio.wait_for(post(caller, "C0VIP"), HANG_GUARD_S)

    assert client.posted == ["C0DEFAULT", "C0CLAIMS", "C0VIP"]
    assert not waiting.done()  # the default channel's budget is spent; the others had their own
    waiting.cancel()
