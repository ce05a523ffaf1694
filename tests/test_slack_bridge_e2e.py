"""The escalation round trip end to end, in Socket Mode and in HTTP mode.

Real agent process (offline NLP), real bridge process, fake Slack with real clients.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dashboard import copilot
from dashboard.model import RawEvent
from slack_bridge import notices
from slack_bridge.ai_reply_form import EDIT_BLOCK, EDIT_INPUT, VIEW_EDIT_HELD
from slack_bridge.resolve_form import (
    ANSWER_BLOCK,
    ANSWER_INPUT,
    VIEW_RESOLVE,
    WHY_BLOCK,
    WHY_INPUT,
)
from slack_kit.root_message import ACTION_RESOLVE
from tests.fakes import signed_headers
from tests.support.chat import say, wait_for_ai_reply
from tests.support.slack_shots import thread_screenshot
from tests.support.slack_world import (
    QUIET_S,
    SIGNING_SECRET,
    SlackWorld,
    eventually,
    start_world,
    stop_world,
)
from tests.support.waits import stays


@pytest.fixture(scope="module", params=["socket", "http"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SlackWorld]:
    setup = start_world(request.param, tmp_path_factory.mktemp(f"world-{request.param}"))
    yield setup
    stop_world(setup)


def human_messages(world: SlackWorld, session_id: str, text: str) -> list[Any]:
    return [
        e
        for e in world.parlant_events(session_id, kinds="message")
        if e.data.get("message") == text
    ]


def handback_form(world: SlackWorld, session_id: str) -> dict[str, Any] | None:
    forms = [
        v
        for v in world.opened_views()
        if json.loads(v["private_metadata"])["session_id"] == session_id
    ]
    return forms[-1] if forms else None


def handbacks(world: SlackWorld, session_id: str) -> list[Any]:
    return [
        e
        for e in world.parlant_events(session_id, kinds="custom")
        if e.data.get("type") == "handback"
    ]


def test_escalation_round_trip(world: SlackWorld) -> None:
    session, root = world.escalated_session()

    # One root message, carrying the session id, linked from the session's metadata.
    record = world.client.sessions.retrieve(session).metadata["handoff"]
    assert record["slack"]["state"] == "posted"
    assert record["slack"]["ts"] == root.ts and record["slack"]["channel"] == world.channel
    assert "Waiting for an operator" in str(root.blocks)
    assert f"http://dashboard.test/?session={session}" in str(root.blocks)

    # The AI's handoff message and the customer's next message appear in the thread.
    world.wait_in_thread(root.ts, "person will join")
    say(world.client, session, "My car was stolen last night <!channel>")
    mirrored = world.wait_in_thread(root.ts, "My car was stolen last night")
    assert "<!channel>" not in mirrored.text and "&lt;!channel&gt;" in str(mirrored.blocks)

    # An operator's reply reaches the customer under the operator's name, marked ✅.
    event, event_id = world.operator_writes(
        world.dana, "Hi, I'm Dana. Looking into it now.", root.ts
    )
    delivered = eventually(
        lambda: human_messages(world, session, "Hi, I'm Dana. Looking into it now."),
        what="the operator's reply in Parlant",
    )
    assert delivered[0].source == "human_agent"
    assert delivered[0].data["participant"]["display_name"] == "Dana"
    eventually(lambda: "white_check_mark" in world.reactions(event["ts"]), what="the ✅ reaction")
    # The first reply claims the escalation; the root message says who.
    eventually(
        lambda: "Claimed by Dana" in str(world.root_for(session).blocks), what="claimed root"
    )

    # The same event redelivered changes nothing.
    world.redeliver(event, event_id)

    def delivered_once() -> None:
        assert len(human_messages(world, session, "Hi, I'm Dana. Looking into it now.")) == 1

    stays(delivered_once, QUIET_S)

    # `ai:` replies go out as the AI, with the real operator recorded.
    world.operator_writes(world.lee, "AI: Your claim is being reviewed.", root.ts)
    as_ai = eventually(
        lambda: human_messages(world, session, "Your claim is being reviewed."), what="ai reply"
    )
    assert as_ai[0].source == "human_agent_on_behalf_of_ai_agent"
    assert as_ai[0].metadata["operator"]["name"] == "Lee Park"

    # `note:` replies are kept for review and never shown to the customer.
    world.operator_writes(world.dana, "note: check the fraud flags first", root.ts)
    notes = eventually(
        lambda: [
            e
            for e in world.parlant_events(session, kinds="custom")
            if e.data.get("type") == "internal_note"
        ],
        what="the internal note",
    )
    assert notes[0].data["text"] == "check the fraud flags first"
    assert not [
        e
        for e in world.parlant_events(session, kinds="message")
        if "fraud" in str(e.data.get("message"))
    ]

    # Return to AI opens the handback form for this session.
    world.click(root.ts, "escalation_return", world.dana)
    form = eventually(lambda: handback_form(world, session), what="the handback form")
    assert form["callback_id"] == "escalation_handback"
    assert json.loads(form["private_metadata"]) == {
        "session_id": session,
        "channel": world.channel,
        "thread_ts": root.ts,
    }
    # An empty note is refused in the form itself, and nothing changes.
    refused = world.submit_view(form["id"], world.dana, {"handback_note": {"note": "   "}})
    assert refused is not None and refused["response_action"] == "errors"
    assert "handback_note" in refused["errors"]
    assert world.client.sessions.retrieve(session).metadata["handoff"]["status"] == "claimed"

    # With a note the session goes back to the AI, which continues from the note.
    note = "Refund of $420 approved <!channel>, it arrives in 3 days"
    assert world.submit_view(form["id"], world.dana, {"handback_note": {"note": note}}) is None
    eventually(lambda: world.client.sessions.retrieve(session).mode == "auto", what="auto mode")
    record = world.client.sessions.retrieve(session).metadata["handoff"]
    assert record["status"] == "returned" and record["returned_by"]["name"] == "Dana"
    assert [e.data["note"] for e in handbacks(world, session)] == [note]
    line = world.wait_in_thread(root.ts, "Handed back to the AI by Dana")
    assert "&lt;!channel&gt;" in line.text and "<!channel>" not in line.text
    # The AI tells the customer at once, without waiting for them to write.
    handed_back_at = handbacks(world, session)[0].offset
    answer = wait_for_ai_reply(world.client, session, handed_back_at).data["message"]
    assert "$420" in answer and "3 days" in answer and "person will join" not in answer
    eventually(
        lambda: "Back with the AI" in str(world.root_for(session).blocks), what="returned root"
    )

    # Submitting the form again hands back nothing twice; the operator is told why.
    world.submit_view(form["id"], world.dana, {"handback_note": {"note": "again"}})
    eventually(
        lambda: any(
            "returned" in e.text
            for e in world.slack.call(world.fake.ephemeral_messages, world.channel)
        ),
        what="the refusal",
    )
    assert len(handbacks(world, session)) == 1
    assert len([m for m in world.thread(root.ts) if "Handed back to the AI" in m.text]) == 1

    # A late reply in the thread is refused privately, not forwarded silently.
    late, _ = world.operator_writes(world.dana, "one more thing", root.ts)
    eventually(lambda: "warning" in world.reactions(late["ts"]), what="the ⚠️ reaction")
    assert not human_messages(world, session, "one more thing")

    # Told to the operator who wrote it, privately, with the reason (the session is back
    # with the AI) and what to do: after the reaction, so waited for in its own right.
    def told() -> list[Any]:
        return [
            e
            for e in world.slack.call(world.fake.ephemeral_messages, world.channel)
            if e.user == world.dana and "was NOT sent to the customer" in e.text
        ]

    refusals = eventually(told, what="the private refusal")
    assert len(refusals) == 1, refusals
    assert "handed back to the AI" in refusals[0].text and "Take over" in refusals[0].text


def test_bridge_killed_mid_conversation_loses_and_repeats_nothing(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    say(world.client, session, "first message before the crash")
    world.wait_in_thread(root.ts, "first message before the crash")

    world.bridge.kill()
    say(world.client, session, "second message while the bridge is down")
    say(world.client, session, "third message while the bridge is down")
    world.bridge.start()

    world.wait_in_thread(root.ts, "third message while the bridge is down")
    texts = world.thread_texts(root.ts)
    for needle in (
        "first message before the crash",
        "second message while the bridge is down",
        "third message while the bridge is down",
    ):
        assert sum(needle in t for t in texts) == 1, (needle, texts)
    order = [
        next(i for i, t in enumerate(texts) if needle in t)
        for needle in ("first message", "second message", "third message")
    ]
    assert order == sorted(order)

    event, _ = world.operator_writes(world.dana, "Back after the restart", root.ts)
    eventually(
        lambda: human_messages(world, session, "Back after the restart"), what="reply after restart"
    )
    eventually(lambda: "white_check_mark" in world.reactions(event["ts"]), what="✅ after restart")


def test_forged_and_stale_signatures_are_refused(world: SlackWorld) -> None:
    if world.mode != "http":
        pytest.skip("Socket Mode frames are not signed; the app token authenticates the connection")
    body = b'{"type": "event_callback", "event": {"type": "message"}}'
    forged = signed_headers("not-the-secret", body)
    stale = signed_headers(SIGNING_SECRET, body, timestamp=int(time.time()) - 600)
    for headers in (forged, stale, {"Content-Type": "application/json"}):
        response = httpx.post(world.bridge_url, content=body, headers=headers, timeout=10)
        assert response.status_code == 401


def test_replies_outside_escalation_threads_are_ignored(world: SlackWorld, tmp_path: Path) -> None:
    other = world.slack.call(world.fake.add_channel, "random")
    event = world.slack.call(world.fake.add_user_message, other, world.dana, "hello random")
    world.deliver(event, f"EvOther{time.time_ns()}")
    top = world.slack.call(
        world.fake.add_user_message, world.channel, world.dana, "top-level chatter"
    )
    world.deliver(top, f"EvTop{time.time_ns()}")

    def untouched() -> None:
        for message in (event, top):
            assert world.reactions(message["ts"]) == {}

    stays(untouched, QUIET_S)


def held_notes(world: SlackWorld, user: str) -> list[Any]:
    return [
        m
        for m in world.slack.call(world.fake.ephemeral_messages, world.channel)
        if m.user == user and "NOT sent to the customer in the agent's name" in m.text
    ]


def test_an_ai_reply_the_agent_would_not_send_waits_for_its_operator(world: SlackWorld) -> None:
    """agent/ai_reply_rules.py from Slack: an `ai:` reply promising an outcome is held (✋, a
    private note naming the rule, nothing in Parlant); another operator cannot release it;
    *Send anyway* sends it once, recorded in the thread; a second held reply is edited in
    the form and what the customer gets is the edited text."""
    session, root = world.escalated_session()
    world.wait_in_thread(root.ts, "AI agent:")  # Dana answers what she has read
    promise = "Your claim has guaranteed approval."
    event, _ = world.operator_writes(world.dana, f"ai: {promise}", root.ts)
    note = eventually(lambda: held_notes(world, world.dana), what="the held note")[-1]
    assert "guaranteed approval" in note.text
    eventually(lambda: "raised_hand" in world.reactions(event["ts"]), what="the ✋")
    assert human_messages(world, session, promise) == []
    if world.mode == "socket":  # the README's; one mode is enough
        thread_screenshot(world, root.ts, world.dana, "slack-held-reply.png")

    world.click_ephemeral(note.ts, notices.ACTION_SEND_HELD)
    sent = eventually(lambda: human_messages(world, session, promise), what="sent anyway")
    assert sent[0].metadata["sent_despite_rule"] == "guaranteed_approval"
    world.click_ephemeral(note.ts, notices.ACTION_SEND_HELD)  # a second click: nothing more
    eventually(
        lambda: any(
            "already sent" in m.text
            for m in world.slack.call(world.fake.ephemeral_messages, world.channel)
        ),
        what="the second click's answer",
    )

    def sent_once() -> None:
        assert len(human_messages(world, session, promise)) == 1

    stays(sent_once, QUIET_S)
    world.wait_in_thread(root.ts, "despite the rule")
    eventually(lambda: "white_check_mark" in world.reactions(event["ts"]), what="the ✅")

    world.operator_writes(world.dana, "ai: Call our adjuster on 555-123-4567.", root.ts)
    second = eventually(lambda: held_notes(world, world.dana)[1:], what="the second held note")[-1]
    world.click_ephemeral(second.ts, notices.ACTION_EDIT_HELD)
    form = eventually(
        lambda: [v for v in world.opened_views() if v.get("callback_id") == VIEW_EDIT_HELD],
        what="the edit form",
    )[-1]
    assert "555-123-4567" in json.dumps(form["blocks"])
    edited = "Call us on +1-555-INSURE, Monday to Friday."
    world.submit_view(form["id"], world.dana, {EDIT_BLOCK: {EDIT_INPUT: edited}})
    eventually(lambda: human_messages(world, session, edited), what="the edited reply")
    assert human_messages(world, session, "Call our adjuster on 555-123-4567.") == []
    world.wait_in_thread(root.ts, "held, edited and sent")
    # What the insights page counts (dashboard/copilot.py), from what the agent recorded.
    events = [
        RawEvent(e.offset, str(e.source), str(e.kind), e.creation_utc, e.data, e.metadata or {})
        for e in world.parlant_events(session, kinds="message,custom")
    ]
    assert [(h.rule, h.then) for h in copilot.holds(session, events)] == [
        ("guaranteed_approval", "sent anyway"),
        ("phone_number", "edited"),
    ]
    assert "555-123-4567" not in str([e.data for e in events if e.kind == "custom"])


def test_the_customers_rating_after_a_resolve_shows_on_the_root(world: SlackWorld) -> None:
    """handoff/satisfaction.py end to end: Resolve in Slack asks the customer in the chat;
    their answer shows on the thread's root message."""
    session, root = world.escalated_session()
    world.operator_writes(world.dana, "Sorted: the tow truck is on its way.", root.ts)
    eventually(
        lambda: human_messages(world, session, "Sorted: the tow truck is on its way."),
        what="the reply in Parlant",
    )
    world.click(root.ts, ACTION_RESOLVE, world.dana)
    form = eventually(
        lambda: [v for v in world.opened_views() if v.get("callback_id") == VIEW_RESOLVE],
        what="the resolve form",
    )[-1]
    # Resolving needs the reason: the form stays open, saying so, and nothing changes.
    refused = world.submit_view(form["id"], world.dana, {ANSWER_BLOCK: {ANSWER_INPUT: "x"}})
    assert refused is not None and WHY_BLOCK in refused["errors"]
    world.submit_view(form["id"], world.dana, {WHY_BLOCK: {WHY_INPUT: "customer_preference"}})
    eventually(
        lambda: any(
            e.source == "human_agent_on_behalf_of_ai_agent"
            and "how would you rate" in str(e.data.get("message"))
            for e in world.parlant_events(session, kinds="message")
        ),
        what="the satisfaction question in the chat",
    )
    say(world.client, session, "5 - thanks Dana")
    eventually(
        lambda: "rated the help 5/5" in json.dumps(world.root_for(session).blocks),
        what="the rating on the root message",
        timeout=30,
    )
