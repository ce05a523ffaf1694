"""Building the bridge's clients: Parlant (actions, listing, the escalation feed) and Slack."""

from __future__ import annotations

import aiohttp
import httpx

from handoff.operator_api import AsyncOperatorClient
from slack_bridge import metrics
from slack_bridge.settings import BridgeSettings
from slack_kit.pacing import PostSlots, SharedPacer
from slack_kit.settings import SlackSettings
from slack_kit.slack_api import SlackCaller, web_client

ACTION_CONNECTIONS = 100


def operator_headers(settings: BridgeSettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.operator_token}"} if settings.operator_token else {}


def parlant_client(
    settings: BridgeSettings, max_connections: int = ACTION_CONNECTIONS
) -> AsyncOperatorClient:
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(60.0, connect=5.0),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        headers=operator_headers(settings),
    )
    return AsyncOperatorClient(base_url=settings.parlant_url, httpx_client=http)


def listing_client(settings: BridgeSettings) -> httpx.AsyncClient:
    """Discovery reads the open-handoff listing raw (listing.py) and the feed follower reads the
    escalation feed (feed.py, with a longer timeout per request), so they have their own client
    (for handoff.operator_api.AsyncOperatorApi)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=5.0), headers=operator_headers(settings)
    )


# Posts the bridge replicas make to one channel, in a burst: one fewer than Slack tolerates, so
# the agent's root posts and the jitter between the database's clock and Slack's arrivals do
# not cost 429s.
SHARED_BURST = 2


def slack_caller(
    slack: SlackSettings, http: aiohttp.ClientSession, slots: PostSlots
) -> SlackCaller:
    """The bridge's Slack caller: its posts take turns per channel with every replica's,
    through the shared store's `slots`."""
    client = web_client(slack.bot_token, slack.api_url, http)
    pacer = SharedPacer(slots, slack.posts_per_second, SHARED_BURST)
    return SlackCaller(client, on_call=metrics.slack_call, pacer=pacer)
