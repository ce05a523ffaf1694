"""The in-process world: the bridge's parts, the Bolt app and the fake Slack in the test's
event loop, with a real agent process on the offline NLP (tests/test_bridge_in_process.py and
its neighbours run their scenarios in it, as slack-bolt's own scenario tests run an app).
Slack's requests are signed and dispatched with `AsyncApp.async_dispatch`, exactly as the HTTP
adapter would hand them over."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
import httpx
from parlant.client import AsyncParlantClient
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from config import EnvReader
from handoff.record import read_record
from slack_bridge.app import build_app
from slack_bridge.bridge import Bridge
from slack_bridge.clients import listing_client, parlant_client, slack_caller
from slack_bridge.settings import BridgeSettings
from slack_bridge.store.sqlite import SQLiteBridgeStore
from slack_kit import metadata
from slack_kit.slack_api import SlackCaller, client_session
from tests.fakes import FakeSlack, Message, event_callback, signed_headers
from tests.support.agent_process import AgentProcess
from tests.support.chat import AGENT_ID
from tests.support.slack_world import DISCOVERY_INTERVAL_S, OUTBOX_RETRY_S, RESYNC_S

SIGNING_SECRET = "in-process-signing-secret"
OPERATOR_TOKEN = "in-process-operator-token"
T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], what: str, timeout: float = 30) -> T:
    """Polls `check` while the loop keeps serving the fake Slack and the bridge."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass
class World:
    fake: FakeSlack
    channel: str
    dana: str
    mallory: str
    agent: AgentProcess
    parlant: AsyncParlantClient
    store: SQLiteBridgeStore
    bridge: Bridge
    app: AsyncApp
    # The bridge's Slack caller: its pacer is the channel's turns.
    caller: SlackCaller

    async def dispatch(self, raw: bytes) -> int:
        """Slack's signed request, handed to the app as the HTTP adapter does; its status."""
        headers = signed_headers(SIGNING_SECRET, raw)
        response = await self.app.async_dispatch(
            AsyncBoltRequest(body=raw.decode(), headers=dict(headers.items()))
        )
        return response.status

    async def event(self, event: dict[str, Any], event_id: str) -> None:
        raw = json.dumps(event_callback(event, event_id=event_id)).encode()
        assert await self.dispatch(raw) == 200

    async def interactive(self, payload: dict[str, Any]) -> None:
        assert await self.dispatch(urlencode({"payload": json.dumps(payload)}).encode()) == 200

    async def escalate(self, text: str = "I want to talk to a human") -> tuple[str, Message]:
        """A customer session handed off by the agent; returns it with its root message."""
        session = await self.parlant.sessions.create(agent_id=AGENT_ID, customer_id="guest")
        await self.parlant.sessions.create_event(
            session.id, kind="message", source="customer", message=text
        )
        return session.id, await self.posted_root(session.id)

    async def posted_root(self, session_id: str) -> Message:
        """The session's root message, once it is in the channel."""

        async def root() -> Message | None:
            return next(
                (
                    m
                    for m in self.fake.messages(self.channel)
                    if m.thread_ts is None
                    and metadata.root_session({"metadata": m.metadata}) == session_id
                ),
                None,
            )

        return await eventually(root, "the root message", timeout=90)

    async def reply(self, user: str, text: str, root_ts: str) -> tuple[dict[str, Any], str]:
        event = self.fake.add_user_message(self.channel, user, text, thread_ts=root_ts)
        event_id = f"Ev{time.time_ns()}"
        await self.event(event, event_id)
        return event, event_id

    async def click(self, root_ts: str, action_id: str, user: str) -> None:
        await self.interactive(self.fake.block_action(self.channel, root_ts, action_id, user=user))

    async def record(self, session_id: str) -> dict[str, Any]:
        return dict(read_record((await self.parlant.sessions.retrieve(session_id)).metadata) or {})

    async def status_is(self, session_id: str, status: str) -> bool:
        return (await self.record(session_id)).get("status") == status

    async def messages(self, session_id: str, source: str) -> list[str]:
        events = await self.parlant.sessions.list_events(
            session_id, kinds="message", source=source, wait_for_data=0
        )
        return [str(e.data.get("message")) for e in events]

    def thread(self, root_ts: str) -> list[Message]:
        return [m for m in self.fake.messages(self.channel, root_ts) if m.ts != root_ts]

    def root(self, root_ts: str) -> Message:
        return next(m for m in self.fake.messages(self.channel) if m.ts == root_ts)


@asynccontextmanager
async def running_world(
    root: Path, agent_env: dict[str, str] | None = None, env_overrides: dict[str, str] | None = None
) -> AsyncIterator[World]:
    """The fake Slack, a real agent (with `agent_env` on top) and the bridge in this loop;
    `env_overrides` change the settings both get."""
    fake = FakeSlack()
    await fake.start()
    dana = fake.add_user("dana", display_name="Dana")
    mallory = fake.add_user("mallory", display_name="Mallory")
    channel = fake.add_channel("escalations", members=[dana, mallory])
    env = {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_ESCALATION_CHANNEL": channel,
        "SLACK_API_URL": fake.api_url,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_OPERATOR_IDS": dana,
        "DASHBOARD_URL": "http://dashboard.test",
        "PARLANT_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "BRIDGE_DISCOVERY_INTERVAL_SECONDS": str(DISCOVERY_INTERVAL_S),
        "BRIDGE_RESYNC_SECONDS": str(RESYNC_S),
        "BRIDGE_OUTBOX_RETRY_SECONDS": str(OUTBOX_RETRY_S),
        "BRIDGE_DRAFTS": "off",
        **(env_overrides or {}),
    }
    agent = AgentProcess(home=root / "parlant", extra_env={**env, **(agent_env or {})})
    # Started from a worker thread: the agent's start-up must not stall the fake Slack.
    await asyncio.to_thread(agent.start)
    settings = BridgeSettings.from_env(
        EnvReader(
            {**env, "PARLANT_URL": agent.url, "BRIDGE_STATE_PATH": str(root / "state.sqlite3")},
            dotenv={},
        )
    )
    slack = settings.slack
    assert slack is not None
    store = SQLiteBridgeStore(settings.state_path)
    http: aiohttp.ClientSession = client_session()
    listing = listing_client(settings)
    caller = slack_caller(slack, http, store)
    bridge = Bridge(settings, slack, parlant_client(settings), listing, caller, store)
    app = build_app(slack, caller.client, bridge)
    running = asyncio.create_task(bridge.run())
    parlant = AsyncParlantClient(
        base_url=agent.url,
        httpx_client=httpx.AsyncClient(
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=60
        ),
    )
    try:
        yield World(fake, channel, dana, mallory, agent, parlant, store, bridge, app, caller)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await bridge.stop()
        await listing.aclose()
        await http.close()
        store.close()
        await asyncio.to_thread(agent.stop)
        await fake.stop()


def shown_in_thread(world: World, root_ts: str) -> list[tuple[str, str]]:
    """(post ts, section text) for every section of every post in the thread, in order."""
    return [
        (post.ts, block["text"]["text"])
        for post in world.thread(root_ts)
        for block in post.blocks or []
        if block.get("type") == "section"
    ]
