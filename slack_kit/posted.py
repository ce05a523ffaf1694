"""Finding a message the bridge already posted, by the metadata it posted it with.

Every post the bridge makes exactly once (root messages, mirrored events, SLA notices) carries
Slack message metadata naming what it is. When Slack's answer to a post is lost, or the bridge
was killed mid-post, these lookups decide whether to post again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

from slack_kit.slack_api import SlackCaller

Message = dict[str, Any]
K = TypeVar("K")
PAGE = 200


async def thread_messages(
    caller: SlackCaller, channel: str, thread_ts: str
) -> AsyncIterator[Message]:
    """The thread's messages, oldest first, a page of conversations.replies at a time."""
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {
            "channel": channel,
            "ts": thread_ts,
            "include_all_metadata": True,
            "limit": PAGE,
        }
        if cursor:
            params["cursor"] = cursor
        page = await caller.call("conversations.replies", **params)
        for message in page.get("messages", []):
            yield message
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return


async def find_in_thread(
    caller: SlackCaller, channel: str, thread_ts: str, is_it: Callable[[Message], bool]
) -> str | None:
    """The ts of the first reply in the thread that `is_it`, reading every page."""
    async for message in thread_messages(caller, channel, thread_ts):
        if is_it(message):
            return str(message["ts"])
    return None


async def find_all_in_thread(
    caller: SlackCaller,
    channel: str,
    thread_ts: str,
    keys_of: Callable[[Message], Iterable[K]],
    wanted: set[K],
) -> dict[K, str]:
    """The ts of the reply carrying each of `wanted` (`keys_of` says what a message carries),
    reading the thread once however many are looked for, and no further than the last."""
    found: dict[K, str] = {}
    async for message in thread_messages(caller, channel, thread_ts):
        for key in keys_of(message):
            if key in wanted:
                found.setdefault(key, str(message["ts"]))
        if len(found) == len(wanted):
            break
    return found


async def find_in_channel(
    caller: SlackCaller, channel: str, is_it: Callable[[Message], bool]
) -> str | None:
    """The ts of a recent top-level message that `is_it`: a lost answer is retried soon after
    the post, so the newest page is enough."""
    page = await caller.call(
        "conversations.history", channel=channel, limit=PAGE, include_all_metadata=True
    )
    for message in page.get("messages", []):
        if is_it(message):
            return str(message["ts"])
    return None
