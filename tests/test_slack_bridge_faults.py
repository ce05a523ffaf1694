"""Nothing lost, nothing doubled: the bridge under Slack outages, 429s, lost answers and Parlant outages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from handoff import actions
from handoff.actions import Operator
from tests.support.chat import new_session, say, wait_for_ai_reply
from tests.support.slack_world import QUIET_S, SlackWorld, eventually, start_world, stop_world
from tests.support.waits import stays


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    setup = start_world("socket", tmp_path_factory.mktemp("faults"), operator_allowlist=True)
    yield setup
    stop_world(setup)


def roots_for(world: SlackWorld, session_id: str) -> list[Any]:
    return [
        m
        for m in world.top_level()
        if ((m.metadata or {}).get("event_payload") or {}).get("session_id") == session_id
    ]


def one_root(world: SlackWorld, session_id: str) -> None:
    roots = roots_for(world, session_id)
    assert len(roots) == 1, roots


def posted_once(world: SlackWorld, root_ts: str, needle: str) -> None:
    texts = world.thread_texts(root_ts)
    assert sum(needle in t for t in texts) == 1, texts


def test_slack_down_during_handoff_posts_the_escalation_once_when_back(world: SlackWorld) -> None:
    world.slack.run(world.fake.go_down())
    try:
        session = new_session(world.client)
        asked = say(world.client, session, "I want to talk to a human")
        reply = wait_for_ai_reply(world.client, session, asked)
        assert "person will join" in reply.data["message"]  # the handoff happened anyway
        state = world.client.sessions.retrieve(session)
        assert state.mode == "manual"
        assert state.metadata["handoff"]["slack"]["state"] == "pending"
    finally:
        world.slack.run(world.fake.come_up())

    root = world.root_for(session)
    eventually(
        lambda: world.record(session).get("slack", {}).get("ts") == root.ts,
        what="the thread link in the session metadata",
    )
    # A couple of discovery rounds: a second post would show up within the window.
    stays(lambda: one_root(world, session), QUIET_S)


def test_lost_answer_to_the_root_post_does_not_post_twice(world: SlackWorld) -> None:
    world.slack.call(world.fake.drop_response, "chat.postMessage")
    session, _root = world.escalated_session()
    eventually(
        lambda: world.record(session).get("slack", {}).get("state") == "posted",
        what="the escalation linked",
    )
    stays(lambda: one_root(world, session), QUIET_S)


def test_rate_limited_mirroring_delivers_every_message_once_in_order(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    world.wait_in_thread(root.ts, "person will join")
    world.slack.call(world.fake.rate_limit, "chat.postMessage", times=3, retry_after=1)
    sent = [f"burst message {i}" for i in range(5)]
    for text in sent:
        say(world.client, session, text)
    world.wait_in_thread(root.ts, sent[-1], timeout=30)
    texts = world.thread_texts(root.ts)
    positions = []
    for text in sent:
        hits = [i for i, t in enumerate(texts) if text in t]
        assert len(hits) == 1, (text, texts)
        positions.append(hits[0])
    assert positions == sorted(positions)


def test_replies_wait_while_parlant_is_down_and_arrive_once_in_order(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    world.agent.stop()
    try:
        first, _ = world.operator_writes(world.dana, "queued reply one", root.ts)
        second, _ = world.operator_writes(world.lee, "queued reply two", root.ts)
        eventually(
            lambda: "hourglass_flowing_sand" in world.reactions(first["ts"]), what="pending mark"
        )
        world.wait_in_thread(root.ts, "queued")
    finally:
        world.agent.start()

    def delivered() -> list[str]:
        return [
            e.data["message"]
            for e in world.parlant_events(session, kinds="message")
            if str(e.data.get("message", "")).startswith("queued reply")
        ]

    eventually(lambda: len(delivered()) == 2, timeout=40, what="both queued replies")

    def once_in_order() -> None:
        assert delivered() == ["queued reply one", "queued reply two"]

    stays(once_in_order, QUIET_S)
    for message in (first, second):
        eventually(lambda m=message: "white_check_mark" in world.reactions(m["ts"]), what="✅")  # type: ignore[misc]
    assert "hourglass_flowing_sand" not in world.reactions(first["ts"])


def test_edits_are_not_propagated_and_the_thread_is_told_once(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    original, _ = world.operator_writes(world.dana, "typo in this reply", root.ts)
    eventually(lambda: "white_check_mark" in world.reactions(original["ts"]), what="✅")
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel": world.channel,
        "ts": f"{time.time():.6f}",
        "hidden": True,
        "message": {**original, "text": "fixed reply", "edited": {"user": world.dana}},
        "previous_message": original,
    }
    world.deliver(edit, f"EvEdit{time.time_ns()}")
    world.deliver(edit, f"EvEditAgain{time.time_ns()}")
    world.wait_in_thread(root.ts, "not sent to the customer")

    def told_once() -> None:
        notices = [t for t in world.thread_texts(root.ts) if "not sent to the customer" in t]
        assert len(notices) == 1, notices

    stays(told_once, QUIET_S)
    assert not [
        e
        for e in world.parlant_events(session, kinds="message")
        if e.data.get("message") == "fixed reply"
    ]


def test_two_operators_at_once_are_both_delivered_in_slack_order(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    first = world.slack.call(
        world.fake.add_user_message, world.channel, world.dana, "simultaneous A", thread_ts=root.ts
    )
    second = world.slack.call(
        world.fake.add_user_message, world.channel, world.lee, "simultaneous B", thread_ts=root.ts
    )
    # Delivered to the bridge in the opposite order from Slack's.
    world.deliver(second, f"EvB{time.time_ns()}")
    world.deliver(first, f"EvA{time.time_ns()}")

    def delivered() -> list[str]:
        return [
            e.data["message"]
            for e in world.parlant_events(session, kinds="message")
            if str(e.data.get("message", "")).startswith("simultaneous")
        ]

    eventually(lambda: len(delivered()) == 2, what="both replies")
    # The thread's order (Slack's ts), not the order the bridge received them in.
    assert delivered() == ["simultaneous A", "simultaneous B"]
    assert not [t for t in world.thread_texts(root.ts) if "out of order" in t]


def test_a_straggler_is_delivered_late_and_the_thread_is_told(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    older = world.slack.call(
        world.fake.add_user_message, world.channel, world.dana, "straggler A", thread_ts=root.ts
    )
    newer, _ = world.operator_writes(world.lee, "straggler B", root.ts)
    eventually(lambda: "white_check_mark" in world.reactions(newer["ts"]), what="✅ on B")
    # Slack's retry of the older event, long after the settling window.
    world.deliver(older, f"EvLate{time.time_ns()}")
    eventually(lambda: "white_check_mark" in world.reactions(older["ts"]), what="✅ on A")

    def delivered() -> list[str]:
        return [
            e.data["message"]
            for e in world.parlant_events(session, kinds="message")
            if str(e.data.get("message", "")).startswith("straggler")
        ]

    assert delivered() == ["straggler B", "straggler A"]
    world.wait_in_thread(root.ts, "out of order")
    late = [t for t in world.thread_texts(root.ts) if "out of order" in t]
    assert len(late) == 1 and older["ts"] in late[0]


def test_socket_reconnect_delivers_nothing_twice(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    event, event_id = world.operator_writes(world.dana, "before the reconnect", root.ts)
    eventually(lambda: "white_check_mark" in world.reactions(event["ts"]), what="✅")
    connects = world.slack.call(lambda: world.fake.socket_connects)
    world.slack.run(world.fake.disconnect_socket(reason="refresh_requested"))
    eventually(
        lambda: world.slack.call(lambda: world.fake.socket_connects) > connects, what="reconnect"
    )
    world.deliver(event, event_id)  # Slack redelivers what was in flight over the new socket
    after, _ = world.operator_writes(world.dana, "after the reconnect", root.ts)
    eventually(
        lambda: "white_check_mark" in world.reactions(after["ts"]), what="✅ after reconnect"
    )
    texts = [e.data.get("message") for e in world.parlant_events(session, kinds="message")]
    assert texts.count("before the reconnect") == 1 and texts.count("after the reconnect") == 1


def test_redelivered_refused_and_empty_replies_are_answered_once(world: SlackWorld) -> None:
    """The outbox's unique key protects delivered replies; these never reach the outbox, so
    only the dedupe store keeps a redelivery from telling the operator twice."""
    session, root = world.escalated_session()
    refused, refused_id = world.operator_writes(world.mallory, "let me in, twice", root.ts)
    empty, empty_id = world.operator_writes(world.dana, "   ", root.ts)
    eventually(lambda: "warning" in world.reactions(refused["ts"]), what="the ⚠️ reaction")
    world.wait_in_thread(root.ts, "had no text")
    world.redeliver(refused, refused_id)
    world.redeliver(empty, empty_id)
    world.deliver(refused, f"EvRetry{time.time_ns()}")  # a new envelope for the same message
    world.deliver(empty, f"EvRetry{time.time_ns()}")

    def answered_once() -> None:
        told = [
            e
            for e in world.slack.call(world.fake.ephemeral_messages, world.channel)
            if e.user == world.mallory and e.thread_ts == root.ts and "not on the list" in e.text
        ]
        assert len(told) == 1, told
        notes = [t for t in world.thread_texts(root.ts) if "had no text" in t]
        assert len(notes) == 1, notes

    # What a second answer would take: a round trip to the fake Slack, well within this.
    stays(answered_once, QUIET_S)
    assert not [
        e
        for e in world.parlant_events(session, kinds="message")
        if e.data.get("message") == "let me in, twice"
    ]


def test_only_listed_operators_may_answer(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    refused, _ = world.operator_writes(world.mallory, "let me in", root.ts)
    eventually(lambda: "warning" in world.reactions(refused["ts"]), what="the ⚠️ reaction")
    assert not [
        e
        for e in world.parlant_events(session, kinds="message")
        if e.data.get("message") == "let me in"
    ]
    ephemeral = world.slack.call(world.fake.ephemeral_messages, world.channel)
    assert any(e.user == world.mallory and "not on the list" in e.text for e in ephemeral)


def test_only_listed_operators_may_hand_back(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    world.click(root.ts, "escalation_return", world.mallory)
    eventually(
        lambda: any(
            e.user == world.mallory and "not on this workspace's list" in e.text
            for e in world.slack.call(world.fake.ephemeral_messages, world.channel)
        ),
        what="the refusal",
    )
    assert not [v for v in world.slack.call(world.fake.views) if session in v["private_metadata"]]
    assert world.client.sessions.retrieve(session).metadata["handoff"]["status"] == "waiting"


def test_lost_answer_to_the_handback_line_does_not_post_it_twice(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    world.click(root.ts, "escalation_return", world.dana)
    form = eventually(
        lambda: [v for v in world.slack.call(world.fake.views) if session in v["private_metadata"]],
        what="the handback form",
    )[-1]
    world.wait_in_thread(root.ts, "person will join")  # the mirror's posts are done
    # Only the handback line's answer is lost: on a loaded run another thread's post may
    # still come first.
    world.slack.call(world.fake.drop_response, "chat.postMessage", text="Handed back to the AI")
    world.submit_view(form["id"], world.dana, {"handback_note": {"note": "Sorted out the billing"}})
    world.wait_in_thread(root.ts, "Sorted out the billing")
    posts = world.slack.call(world.fake.calls, "chat.postMessage")
    assert any(c.response is None and "Sorted out the billing" in str(c.params) for c in posts)
    stays(lambda: posted_once(world, root.ts, "Sorted out the billing"), QUIET_S)


def test_lost_answer_to_a_mirrored_post_does_not_post_twice(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    world.wait_in_thread(root.ts, "person will join")
    world.slack.call(world.fake.drop_response, "chat.postMessage")
    say(world.client, session, "this answer gets lost")
    world.wait_in_thread(root.ts, "this answer gets lost")
    stays(lambda: posted_once(world, root.ts, "this answer gets lost"), QUIET_S)


def test_supervisor_messages_from_the_dashboard_are_mirrored(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    supervisor = Operator(id="dashboard:sam", name="Sam", origin="dashboard")
    asyncio.run(actions.send_as_human(world.operator_api(), session, supervisor, "Sam here"))
    mirrored = world.wait_in_thread(root.ts, "Sam here")
    assert "Sam (dashboard)" in str(mirrored.blocks)


def test_resolve_from_slack_closes_the_escalation_and_removes_the_buttons(
    world: SlackWorld,
) -> None:
    session, root = world.escalated_session()
    world.resolve(root.ts, world.dana)
    eventually(
        lambda: world.client.sessions.retrieve(session).metadata["handoff"]["status"] == "resolved",
        what="resolved",
    )
    resolved_root = eventually(
        lambda: (lambda r: r if "Resolved by Dana" in str(r.blocks) else None)(
            world.root_for(session)
        ),
        what="the resolved root message",
    )
    action_ids = [
        element.get("action_id")
        for block in resolved_root.blocks or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]
    assert action_ids == ["escalation_open_dashboard"]
