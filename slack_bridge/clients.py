"""Building the bridge's clients: Parlant (actions, listing, sharded long polls) and Slack."""

from __future__ import annotations

import zlib

import aiohttp
import httpx
from parlant.client import AsyncParlantClient

from slack_bridge import metrics
from slack_bridge.settings import BridgeSettings
from slack_escalation.settings import SlackSettings
from slack_escalation.slack_api import SlackCaller, web_client

# Each followed session holds one long poll open. httpcore scans its whole pool for every
# request, so one pool of a thousand connections costs a core; shards keep each scan short.
LONG_POLL_SHARDS = 32
CONNECTIONS_PER_SHARD = 64
ACTION_CONNECTIONS = 100


def operator_headers(settings: BridgeSettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.operator_token}"} if settings.operator_token else {}


def parlant_client(
    settings: BridgeSettings, max_connections: int = ACTION_CONNECTIONS
) -> AsyncParlantClient:
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(60.0, connect=5.0),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        headers=operator_headers(settings),
    )
    return AsyncParlantClient(base_url=settings.parlant_url, httpx_client=http)


def listing_client(settings: BridgeSettings) -> httpx.AsyncClient:
    """Discovery reads Parlant's session listing raw (listing.py), so it has its own client."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=5.0), headers=operator_headers(settings)
    )


def slack_caller(slack: SlackSettings, http: aiohttp.ClientSession) -> SlackCaller:
    client = web_client(slack.bot_token, slack.api_url, http)
    return SlackCaller(client, slack.posts_per_second, on_call=metrics.slack_call)


class LongPollClients:
    """Parlant clients for the mirrors' long polls, spread over small connection pools."""

    def __init__(self, settings: BridgeSettings) -> None:
        self._settings = settings
        self._shards: dict[int, AsyncParlantClient] = {}

    def for_session(self, session_id: str) -> AsyncParlantClient:
        shard = zlib.crc32(session_id.encode()) % LONG_POLL_SHARDS
        if shard not in self._shards:
            self._shards[shard] = parlant_client(self._settings, CONNECTIONS_PER_SHARD)
        return self._shards[shard]
