"""Routing and the handoff packet end to end: real agent (offline NLP), real bridge, fake Slack
with two channels. Claim-journey handoffs go to #claims, everything else to the default channel;
the root message shows what the agent knew; replies in either thread reach the customer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from parlant.client.types import SessionMetadataUpdateParams

from tests.fakes.fake_slack import Message
from tests.support.chat import new_session, say, wait_for_ai_reply
from tests.support.slack_world import (
    OPERATOR_HEADERS,
    QUIET_S,
    SlackWorld,
    eventually,
    start_world,
    stop_world,
)
from tests.support.waits import stays

ROUTES = "journey:File an Insurance Claim={claims}; label:vip={claims}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    setup = start_world(
        "socket",
        tmp_path_factory.mktemp("routing"),
        routed_channels=("claims", "overflow"),
        routes=ROUTES,
        overflow="overflow",
    )
    yield setup
    stop_world(setup)


def converse(world: SlackWorld, *lines: str) -> str:
    session = new_session(world.client)
    for line in lines:
        wait_for_ai_reply(world.client, session, say(world.client, session, line))
    return session


def roots(world: SlackWorld, channel: str, session_id: str) -> list[Message]:
    return [
        m
        for m in world.slack.call(world.fake.messages, channel)
        if m.thread_ts is None
        and ((m.metadata or {}).get("event_payload") or {}).get("session_id") == session_id
    ]


def root_in(world: SlackWorld, channel: str, session_id: str) -> Message:
    def find() -> Message | None:
        found = roots(world, channel, session_id)
        assert len(found) <= 1, f"{len(found)} root messages for one handoff"
        return found[0] if found else None

    return eventually(find, what=f"the root message of {session_id} in {channel}")


def reply_and_wait(
    world: SlackWorld, channel: str, root: Message, session_id: str, text: str
) -> None:
    event = world.slack.call(
        world.fake.add_user_message, channel, world.dana, text, thread_ts=root.ts
    )
    world.deliver(event, f"Ev{time.time_ns()}")
    eventually(
        lambda: [
            e
            for e in world.parlant_events(session_id, kinds="message")
            if e.data.get("message") == text
        ],
        what=f"the operator reply {text!r} in Parlant",
    )
    eventually(
        lambda: any(
            m.ts == event["ts"] and "white_check_mark" in m.reactions
            for m in world.slack.call(world.fake.messages, channel, root.ts)
        ),
        what="the ✅ reaction",
    )


def test_policy_question_handoff_goes_to_the_default_channel_with_its_packet(
    world: SlackWorld,
) -> None:
    session = converse(
        world, "What does my policy cover?", "Check my claims please", "I want to talk to a human"
    )

    packet = world.record(session)["packet"]
    assert packet["journey"]["title"] == "Explain Policy Coverage"
    assert packet["journey"]["step"].startswith("Explain the coverage")
    assert any(
        g["condition"].startswith("The customer asks to speak with a human")
        for g in packet["guidelines"]
    )
    calls = {c["tool"]: c for c in packet["tool_calls"]}
    assert set(calls) == {"get_policy_details", "get_open_claims"}
    assert "POL-1001" in calls["get_policy_details"]["result_summary"]
    assert "CLM-0001" in calls["get_open_claims"]["result_summary"]

    root = root_in(world, world.channel, session)
    assert not roots(world, world.routed["claims"], session)
    assert world.record(session)["slack"]["channel"] == world.channel
    shown = json.dumps(root.blocks)
    for needle in (
        "Explain Policy Coverage",
        "The customer asks to speak with a human",
        "get_policy_details",
        "POL-1001",
        "CLM-0001",
    ):
        assert needle in shown, needle

    reply_and_wait(world, world.channel, root, session, "Hello from the default channel")


def test_claim_journey_handoff_goes_to_the_claims_channel_and_its_thread_works(
    world: SlackWorld,
) -> None:
    claims = world.routed["claims"]
    session = converse(world, "I want to file a claim", "I want to talk to a human")

    assert world.record(session)["packet"]["journey"] == {
        "title": "File an Insurance Claim",
        "step": "Ask the customer to describe the accident: what happened, when and where",
    }
    # Asking for a person mid-journey hands off; it is not taken as the accident's description.
    tool_calls = [
        call["tool_id"]
        for event in world.client.sessions.list_events(session, kinds="tool", wait_for_data=0)
        for call in (event.data or {}).get("tool_calls", [])
    ]
    assert not [t for t in tool_calls if t.endswith("file_claim")], tool_calls
    root = root_in(world, claims, session)
    assert not roots(world, world.channel, session)
    assert world.record(session)["slack"] == {
        **world.record(session)["slack"],
        "channel": claims,
        "ts": root.ts,
    }
    assert "File an Insurance Claim" in json.dumps(root.blocks)

    # The customer's messages are mirrored into the claims thread, replies come back from it.
    say(world.client, session, "It was a red car")
    eventually(
        lambda: any(
            "It was a red car" in m.text
            for m in world.slack.call(world.fake.messages, claims, root.ts)
        ),
        what="the mirrored customer message in #claims",
    )
    reply_and_wait(world, claims, root, session, "Hello from the claims channel")

    # Buttons in the claims channel act on the session and rewrite the root there.
    world.resolve(root.ts, world.dana, channel=claims)
    eventually(
        lambda: world.record(session).get("status") == "resolved", what="resolved from #claims"
    )
    eventually(
        lambda: "Resolved by Dana" in json.dumps(root_in(world, claims, session).blocks),
        what="resolved root",
    )


def test_pending_handoffs_are_posted_by_the_bridge_into_their_routed_channel_once(
    world: SlackWorld,
) -> None:
    claims = world.routed["claims"]
    world.slack.run(world.fake.go_down())
    try:
        in_claim = converse(world, "I want to file a claim", "I want to talk to a human")
        on_policy = converse(world, "What does my policy cover?", "I want to talk to a human")
        assert world.record(in_claim)["slack"] == {"state": "pending", "channel": claims}
        assert world.record(on_policy)["slack"] == {"state": "pending", "channel": world.channel}
        # A record written before routing existed has no channel: the bridge routes it itself.
        legacy = {**world.record(in_claim), "slack": {"state": "pending"}}
        world.client.sessions.update(
            in_claim, metadata=SessionMetadataUpdateParams(set_={"handoff": legacy})
        )
        assert world.record(in_claim)["slack"] == {"state": "pending"}
        world.bridge.kill()
    finally:
        world.slack.run(world.fake.come_up())
    world.bridge.start()

    claim_root = root_in(world, claims, in_claim)
    policy_root = root_in(world, world.channel, on_policy)
    eventually(
        lambda: world.record(in_claim)["slack"].get("ts") == claim_root.ts,
        what="claims thread linked",
    )
    eventually(
        lambda: world.record(on_policy)["slack"].get("ts") == policy_root.ts,
        what="default thread linked",
    )

    def each_once_in_its_channel() -> None:
        assert len(roots(world, claims, in_claim)) == 1
        assert not roots(world, world.channel, in_claim)
        assert len(roots(world, world.channel, on_policy)) == 1
        assert not roots(world, claims, on_policy)

    # A couple of discovery rounds: a second post would show up within the window.
    stays(each_once_in_its_channel, QUIET_S)
    reply_and_wait(world, claims, claim_root, in_claim, "Back after the outage, in #claims")


def report_backlog(world: SlackWorld, channels: dict[str, Any], token: bool = True) -> Any:
    return httpx.put(
        f"{world.agent.url}/escalations/slack-backlog",
        json={"reporter": "busy-morning", "channels": channels},
        headers=OPERATOR_HEADERS if token else {},
        timeout=10,
    )


def test_a_new_escalation_overflows_while_its_channel_is_behind(world: SlackWorld) -> None:
    """A bridge reports the default channel 40 messages behind, the oldest 5 minutes: the next
    handoff opens its thread in SLACK_OVERFLOW_CHANNEL, and the dashboard's figure shows it;
    once the channel has caught up, handoffs go back to it."""
    overflow = world.routed["overflow"]
    behind = {world.channel: {"waiting": 40, "oldest_wait_seconds": 300}}
    assert report_backlog(world, behind).status_code == 204
    try:
        shown = httpx.get(
            f"{world.agent.url}/escalations/slack-backlog", headers=OPERATOR_HEADERS, timeout=10
        ).json()["channels"]
        assert shown[world.channel]["waiting"] == 40
        assert shown[world.channel]["oldest_wait_seconds"] >= 300
        session = converse(world, "What does my policy cover?", "I want to talk to a human")
        root_in(world, overflow, session)
        assert roots(world, world.channel, session) == []
        assert world.record(session)["slack"]["channel"] == overflow
    finally:
        assert report_backlog(world, {}).status_code == 204
    later = converse(world, "What does my policy cover?", "I want to talk to a human")
    root_in(world, world.channel, later)


def test_backlog_reports_are_operators_only_and_checked(world: SlackWorld) -> None:
    behind = {world.channel: {"waiting": 1, "oldest_wait_seconds": 1}}
    assert report_backlog(world, behind, token=False).status_code == 403
    refused = report_backlog(world, {"#escalations": {"waiting": 1, "oldest_wait_seconds": 1}})
    assert refused.status_code == 422
    assert "not a channel id" in refused.json()["detail"]
    negative = report_backlog(world, {world.channel: {"waiting": -1, "oldest_wait_seconds": 1}})
    assert negative.status_code == 422
    assert "waiting" in negative.json()["detail"]


def test_a_root_is_left_to_the_bridges_while_posts_wait_for_its_channel(
    world: SlackWorld,
) -> None:
    """A bridge reports customer messages waiting for the default channel (not yet behind):
    the handoff tool does not post the root itself, where it would meet the bridges' spent
    allowance; the bridge posts it, first among its waiting posts, once."""
    waiting = {world.channel: {"waiting": 3, "oldest_wait_seconds": 2}}
    assert report_backlog(world, waiting).status_code == 204
    try:
        session = converse(world, "What does my policy cover?", "I want to talk to a human")
        root_in(world, world.channel, session)
        assert f"escalation left for the bridges to post session={session}" in (
            world.agent.log_path.read_text()
        )
        # The bridge links the record just after Slack took its post.
        eventually(
            lambda: world.record(session)["slack"]["state"] == "posted",
            what="the record linked to the bridge's root",
        )
    finally:
        assert report_backlog(world, {}).status_code == 204
