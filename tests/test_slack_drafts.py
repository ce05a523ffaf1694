"""Drafts in the thread (slack_bridge/drafts.py, agent/drafts.py): real agent (offline NLP),
real bridge, the fake Slack. Under a customer's message during a handoff the agent's draft
appears with Send as AI, Edit and send, Dismiss; nothing reaches the customer until an
operator sends it, and then once; each decision is recorded in the session.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from handoff.copilot_events import COPILOT_LABEL, DRAFT_OFFERED
from slack_bridge import draft_message
from slack_bridge.ai_reply_form import EDIT_BLOCK, EDIT_INPUT
from slack_bridge.draft_message import VIEW_EDIT_DRAFT
from tests.fakes.fake_slack import Message
from tests.support.chat import say
from tests.support.slack_shots import thread_screenshot
from tests.support.slack_world import QUIET_S, SlackWorld, eventually, start_world, stop_world
from tests.support.waits import stays


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    setup = start_world(
        "socket", tmp_path_factory.mktemp("drafts"), extra_env={"BRIDGE_DRAFTS": "on"}
    )
    yield setup
    stop_world(setup)


def drafts(world: SlackWorld, root_ts: str) -> list[Message]:
    return [
        m
        for m in world.thread(root_ts)
        if (m.metadata or {}).get("event_type") == draft_message.DRAFT_EVENT_TYPE
    ]


def draft_under(world: SlackWorld, root_ts: str, count: int) -> Message:
    return eventually(lambda: drafts(world, root_ts)[count - 1 : count], what="a draft")[0]


def as_ai(world: SlackWorld, session: str) -> list[str]:
    return [
        str(e.data["message"])
        for e in world.parlant_events(session, kinds="message")
        if e.source == "human_agent_on_behalf_of_ai_agent"
    ]


def outcomes(world: SlackWorld, session: str) -> list[Any]:
    return [
        (e.metadata or {}).get("draft", {}).get("outcome")
        for e in world.parlant_events(session, kinds="custom")
        if (e.metadata or {}).get("draft")
    ]


def current(world: SlackWorld, root_ts: str, ts: str) -> Message:
    return next(m for m in world.thread(root_ts) if m.ts == ts)


def shown_text(message: Message) -> str:
    return next(
        str(b["text"]["text"])
        for b in message.blocks or []
        if b.get("block_id") == draft_message.DRAFT_BLOCK
    )


def test_a_draft_waits_for_an_operator_and_is_sent_once(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    say(world.client, session, "What does my policy cover?")
    draft = draft_under(world, root.ts, 1)
    text = shown_text(draft)
    assert "POL-1001" in text
    assert "Send as AI" in json.dumps(draft.blocks)
    assert as_ai(world, session) == []  # nothing reached the customer
    thread_screenshot(world, root.ts, world.dana, "slack-draft.png")  # the README's

    # Two operators click Send at the same moment (both saw the buttons).
    clicks = [
        world.slack.call(
            world.fake.block_action,
            world.channel,
            draft.ts,
            draft_message.ACTION_DRAFT_SEND,
            user=user,
        )
        for user in (world.dana, world.lee)
    ]
    for click in clicks:
        world.slack.run(world.fake.push_interactive(click))
    eventually(lambda: as_ai(world, session) == [text], what="the draft sent as the AI")
    eventually(
        lambda: "sent as the AI by" in current(world, root.ts, draft.ts).text,
        what="the draft's message updated",
    )

    def once() -> None:
        assert as_ai(world, session) == [text]

    stays(once, QUIET_S)
    assert outcomes(world, session) == ["sent"]


def test_a_draft_edited_then_sent_and_one_dismissed(world: SlackWorld) -> None:
    session, root = world.escalated_session()
    say(world.client, session, "What does my policy cover?")
    draft = draft_under(world, root.ts, 1)
    world.click(draft.ts, draft_message.ACTION_DRAFT_EDIT, world.dana)
    form = eventually(
        lambda: [v for v in world.opened_views() if v.get("callback_id") == VIEW_EDIT_DRAFT],
        what="the edit form",
    )[-1]
    assert shown_text(draft) in json.dumps(form["blocks"])
    edited = "Your policy POL-1001 covers collision and theft; Dana here if you need more."
    world.submit_view(form["id"], world.dana, {EDIT_BLOCK: {EDIT_INPUT: edited}})
    eventually(lambda: as_ai(world, session) == [edited], what="the edited draft sent")

    say(world.client, session, "Is flood covered?")
    second = draft_under(world, root.ts, 2)
    world.click(second.ts, draft_message.ACTION_DRAFT_DISMISS, world.dana)
    eventually(lambda: outcomes(world, session) == ["edited", "dismissed"], what="outcomes")
    assert as_ai(world, session) == [edited]

    # Both offers are in the session for the insights page, which finds it by its label.
    def offered() -> list[Any]:
        return [
            e.data.get("slack_ts")
            for e in world.parlant_events(session, kinds="custom")
            if isinstance(e.data, dict) and e.data.get("type") == DRAFT_OFFERED
        ]

    eventually(lambda: offered() == [draft.ts, second.ts], what="both offers recorded")
    assert COPILOT_LABEL in (world.client.sessions.retrieve(session).labels or [])
    assert "dismissed by" in current(world, root.ts, second.ts).text
