"""A whole escalation set-up for tests: fake Slack, the real agent and the real bridge process.

`SlackWorld` hides the one difference between the modes: how Slack's events and clicks reach
the bridge (pushed over the Socket Mode WebSocket, or POSTed as signed HTTP requests).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
import yaml
from parlant.client import ParlantClient

from handoff.operator_api import AsyncOperatorClient
from handoff.record import read_record
from slack_bridge.resolve_form import VIEW_RESOLVE, WHY_BLOCK, WHY_INPUT
from slack_kit.root_message import ACTION_RESOLVE
from tests.fakes import FakeSlack, FakeSlackThread, event_callback, signed_headers
from tests.fakes.fake_slack import Message
from tests.support.agent_process import REPO_ROOT, AgentProcess
from tests.support.bridge_process import BridgeProcess
from tests.support.chat import new_session, say, wait_for_ai_reply
from tests.support.waits import (
    eventually as eventually,  # re-exported: the worlds' tests wait with it
)

Mode = Literal["socket", "http"]
SIGNING_SECRET = "test-signing-secret"
# The worlds run with Parlant's operator-token policy on, as `make run` does.
OPERATOR_TOKEN = "world-operator-token"
OPERATOR_HEADERS = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}

# The bridge's intervals in the worlds (BridgeSettings; production: 2 s, 15 s, 2 s), short so
# that "nothing more happens" needs only a short window: a discovery pass every 0.5 s, an
# unchanged session (SLA notices) resynced every 2 s, the outbox retried every 0.5 s.
DISCOVERY_INTERVAL_S = 0.5
RESYNC_S = 2.0
OUTBOX_RETRY_S = 0.5
# A fake Slack or Parlant round trip, with room for this loaded 2-core machine.
ROUND_TRIP_S = 1.0
# The bounded quiet window after a condition was met: two discovery passes and two outbox
# rounds and a round trip; a second root message, post or delivery would show within it.
QUIET_S = 2 * max(DISCOVERY_INTERVAL_S, OUTBOX_RETRY_S) + ROUND_TRIP_S
# For what only a resync of an unchanged session does (an SLA notice): a resync, then a pass.
RESYNC_QUIET_S = RESYNC_S + DISCOVERY_INTERVAL_S + ROUND_TRIP_S


@dataclass
class SlackWorld:
    mode: Mode
    slack: FakeSlackThread
    channel: str
    dana: str
    lee: str
    mallory: str
    agent: AgentProcess
    bridge: BridgeProcess
    client: ParlantClient
    # Extra channels by name (SLACK_ROUTES targets); `channel` is the default one.
    routed: dict[str, str] = field(default_factory=dict)
    # The channel SLA breach notices go to, when the world has one.
    supervisors: str | None = None

    @property
    def fake(self) -> FakeSlack:
        return self.slack.fake

    def record(self, session_id: str) -> dict[str, Any]:
        """The session's handoff record as every reader sees it (handoff/record.py)."""
        return dict(read_record(self.client.sessions.retrieve(session_id).metadata) or {})

    # -- what Slack shows ------------------------------------------------------------------

    def top_level(self) -> list[Message]:
        return [m for m in self.slack.call(self.fake.messages, self.channel) if m.thread_ts is None]

    def root_for(self, session_id: str) -> Message:
        def find() -> Message | None:
            roots = [
                m
                for m in self.top_level()
                if ((m.metadata or {}).get("event_payload") or {}).get("session_id") == session_id
            ]
            assert len(roots) <= 1, f"{len(roots)} root messages for one handoff"
            return roots[0] if roots else None

        return eventually(find, what=f"the root message of {session_id}")

    def thread(self, root_ts: str) -> list[Message]:
        return [
            m for m in self.slack.call(self.fake.messages, self.channel, root_ts) if m.ts != root_ts
        ]

    def thread_texts(self, root_ts: str) -> list[str]:
        return [" ".join([m.text, json.dumps(m.blocks or [])]) for m in self.thread(root_ts)]

    def wait_in_thread(self, root_ts: str, needle: str, timeout: float = 20) -> Message:
        def find() -> Message | None:
            for message in self.thread(root_ts):
                if needle in message.text or needle in json.dumps(message.blocks or []):
                    return message
            return None

        return eventually(find, timeout, what=f"{needle!r} in the thread")

    def reactions(self, ts: str) -> dict[str, list[str]]:
        for message in self.slack.call(self.fake.messages, self.channel):
            if message.ts == ts:
                return dict(message.reactions)
        for root in self.top_level():
            for message in self.thread(root.ts):
                if message.ts == ts:
                    return dict(message.reactions)
        return {}

    # -- what operators do -------------------------------------------------------------------

    def operator_writes(
        self, user: str, text: str, root_ts: str, event_id: str | None = None
    ) -> tuple[dict[str, Any], str]:
        """An operator's thread reply, delivered to the bridge; returns (event, event_id)."""
        event = self.slack.call(
            self.fake.add_user_message, self.channel, user, text, thread_ts=root_ts
        )
        envelope_id = event_id or f"Ev{time.time_ns()}"
        self.deliver(event, envelope_id)
        return event, envelope_id

    def deliver(self, event: dict[str, Any], event_id: str, retry: int = 0) -> None:
        body = event_callback(event, event_id=event_id)
        if self.mode == "socket":
            self.slack.run(self.fake.push_event(event, event_id=event_id))
            return
        raw = json.dumps(body).encode()
        response = httpx.post(
            self.bridge_url,
            content=raw,
            headers=signed_headers(SIGNING_SECRET, raw, retry_num=retry or None),
            timeout=10,
        )
        assert response.status_code == 200, response.text

    def redeliver(self, event: dict[str, Any], event_id: str) -> None:
        if self.mode == "socket":
            envelope = {
                "type": "events_api",
                "envelope_id": "first",
                "payload": event_callback(event, event_id=event_id),
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
            }
            self.slack.run(self.fake.redeliver(envelope))
        else:
            self.deliver(event, event_id, retry=1)

    def click(self, root_ts: str, action_id: str, user: str) -> None:
        payload = self.slack.call(
            self.fake.block_action, self.channel, root_ts, action_id, user=user
        )
        self._push_interactive(payload)

    def resolve(
        self, root_ts: str, user: str, why: str = "customer_preference", channel: str | None = None
    ) -> None:
        """`user` presses Resolve on a thread's root and submits the resolve form with `why`
        (slack_bridge/resolve_form.py: the reason the AI could not finish is required)."""
        opened = {v["id"] for v in self.opened_views()}
        payload = self.slack.call(
            self.fake.block_action, channel or self.channel, root_ts, ACTION_RESOLVE, user=user
        )
        self._push_interactive(payload)
        form = eventually(
            lambda: next(
                (
                    v
                    for v in self.opened_views()
                    if v.get("callback_id") == VIEW_RESOLVE and v["id"] not in opened
                ),
                None,
            ),
            what="the resolve form",
        )
        self.submit_view(form["id"], user, {WHY_BLOCK: {WHY_INPUT: why}})

    def click_ephemeral(self, ephemeral_ts: str, action_id: str) -> None:
        payload = self.slack.call(self.fake.ephemeral_block_action, ephemeral_ts, action_id)
        self._push_interactive(payload)

    def shortcut(self, message_ts: str, callback_id: str, user: str) -> None:
        """`user` chooses the app's message shortcut on a message of the channel."""
        payload = self.slack.call(
            self.fake.message_shortcut, self.channel, message_ts, callback_id, user=user
        )
        self._push_interactive(payload)

    def search(self, view_id: str, action_id: str, typed: str, user: str) -> list[dict[str, Any]]:
        """`user` types into an external_select of an open modal: the options Slack shows."""
        payload = self.slack.call(self.fake.block_suggestion, view_id, action_id, typed, user=user)
        answer = self._push_interactive(payload)
        return self.slack.call(self.fake.show_options, view_id, action_id, answer)

    def _push_interactive(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Sends an interactivity payload; returns the app's answer payload, if any."""
        if self.mode == "socket":
            return self.slack.run(self.fake.push_interactive(payload)).payload or None
        raw = urlencode({"payload": json.dumps(payload)}).encode()
        response = httpx.post(
            self.bridge_url, content=raw, headers=signed_headers(SIGNING_SECRET, raw), timeout=10
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] | None = response.json() if response.content else None
        return answer

    def submit_view(
        self,
        view_id: str,
        user: str,
        values: dict[str, dict[str, str]],
        selected: dict[str, dict[str, str]] | None = None,
    ) -> dict[str, Any] | None:
        """`user` submits an opened modal (typed `values`, options `selected` in its menus);
        returns the app's response payload (e.g. errors), if any."""
        payload = self.slack.call(
            self.fake.view_submission, view_id, user=user, values=values, selected=selected
        )
        return self._push_interactive(payload)

    def opened_views(self) -> list[dict[str, Any]]:
        return self.slack.call(self.fake.views)

    @property
    def bridge_url(self) -> str:
        return f"http://127.0.0.1:{self.bridge.port}/slack/events"

    # -- what customers do -------------------------------------------------------------------

    def escalated_session(self) -> tuple[str, Message]:
        session = new_session(self.client)
        asked = say(self.client, session, "I want to talk to a human")
        wait_for_ai_reply(self.client, session, asked)
        return session, self.root_for(session)

    def operator_api(self) -> AsyncOperatorClient:
        """An async client with the operator token, for calling the shared actions directly."""
        return AsyncOperatorClient(
            base_url=self.agent.url,
            httpx_client=httpx.AsyncClient(headers=OPERATOR_HEADERS, timeout=60),
        )

    def parlant_events(self, session_id: str, **filters: Any) -> list[Any]:
        return list(self.client.sessions.list_events(session_id, wait_for_data=0, **filters))


def manifest_shortcuts() -> dict[str, str]:
    """The shortcuts manifest.yml declares (callback_id -> type): all the fake offers."""
    manifest = yaml.safe_load((REPO_ROOT / "manifest.yml").read_text())
    declared = (manifest.get("features") or {}).get("shortcuts") or []
    return {str(s["callback_id"]): str(s["type"]) for s in declared}


def slack_env(slack: FakeSlackThread, channel: str, mode: Mode) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": slack.fake.bot_token,
        "SLACK_ESCALATION_CHANNEL": channel,
        "SLACK_API_URL": slack.api_url,
        # Pacing is measured by the benchmark; here it would only slow the suite down.
        "DASHBOARD_URL": "http://dashboard.test",
        "PARLANT_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "BRIDGE_DISCOVERY_INTERVAL_SECONDS": str(DISCOVERY_INTERVAL_S),
        "BRIDGE_RESYNC_SECONDS": str(RESYNC_S),
        "BRIDGE_OUTBOX_RETRY_SECONDS": str(OUTBOX_RETRY_S),
        # Drafts add a post under each customer message; tests/test_slack_drafts.py turns them on.
        "BRIDGE_DRAFTS": "off",
    }
    if mode == "socket":
        env["SLACK_APP_TOKEN"] = slack.fake.app_token
    else:
        env["SLACK_SIGNING_SECRET"] = SIGNING_SECRET
    return env


def start_world(
    mode: Mode,
    root: Path,
    operator_allowlist: bool = False,
    extra_env: dict[str, str] | None = None,
    routed_channels: tuple[str, ...] = (),
    routes: str = "",
    supervisor_channel: bool = False,
    overflow: str | None = None,
) -> SlackWorld:
    """`extra_env` goes to both the agent and the bridge, as one .env would; `routes` is
    SLACK_ROUTES with `{name}` standing for the id of routed channel `name`; `overflow` names
    the routed channel that is SLACK_OVERFLOW_CHANNEL."""
    slack = FakeSlack().run_in_thread()
    slack.call(slack.fake.shortcuts.update, manifest_shortcuts())
    dana = slack.call(slack.fake.add_user, "dana", display_name="Dana")
    lee = slack.call(slack.fake.add_user, "lee", real_name="Lee Park")
    mallory = slack.call(slack.fake.add_user, "mallory", display_name="Mallory")
    channel = slack.call(slack.fake.add_channel, "escalations", members=[dana, lee, mallory])
    routed = {
        name: slack.call(slack.fake.add_channel, name, members=[dana, lee, mallory])
        for name in routed_channels
    }
    env = slack_env(slack, channel, mode)
    if routes:
        env["SLACK_ROUTES"] = routes.format(**routed)
    if overflow:
        env["SLACK_OVERFLOW_CHANNEL"] = routed[overflow]
    if operator_allowlist:
        env["SLACK_OPERATOR_IDS"] = f"{dana},{lee}"
    supervisors = (
        slack.call(slack.fake.add_channel, "supervisors", members=[lee])
        if supervisor_channel
        else None
    )
    if supervisors:
        env["SLACK_SUPERVISOR_CHANNEL"] = supervisors
    env.update(extra_env or {})
    agent = AgentProcess(home=root / "parlant", extra_env=env).start()
    bridge_env = {**env, "PARLANT_URL": agent.url}

    def ready() -> bool:
        if mode == "socket":
            return slack.call(lambda: slack.fake.open_sockets) > 0
        try:
            return (
                httpx.get(f"http://127.0.0.1:{bridge.port}/healthz", timeout=1).status_code == 200
            )
        except httpx.HTTPError:
            return False

    bridge = BridgeProcess(workdir=root / "bridge", env_overrides=bridge_env, ready=ready)
    bridge.start()
    client = ParlantClient(
        base_url=agent.url, httpx_client=httpx.Client(headers=OPERATOR_HEADERS, timeout=60)
    )
    return SlackWorld(
        mode, slack, channel, dana, lee, mallory, agent, bridge, client, routed, supervisors
    )


def stop_world(world: SlackWorld) -> None:
    world.bridge.stop()
    world.agent.stop()
    world.slack.stop()
