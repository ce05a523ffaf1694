"""Finding a message the bridge already posted, by the metadata it posted it with.

Every post the bridge makes exactly once (root messages, mirrored events, SLA notices) carries
Slack message metadata naming what it is. When Slack's answer to a post is lost, or the bridge
was killed mid-post, these lookups decide whether to post again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_escalation.slack_api import SlackCaller

Message = dict[str, Any]
PAGE = 200


async def find_in_thread(
    caller: SlackCaller, channel: str, thread_ts: str, is_it: Callable[[Message], bool]
) -> str | None:
    """The ts of the first reply in the thread that `is_it`, reading every page."""
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
            if is_it(message):
                return str(message["ts"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None


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
