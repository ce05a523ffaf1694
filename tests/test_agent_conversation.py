"""The insurance agent end to end: real Parlant server, offline NLP service, real HTTP."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from parlant.client import ParlantClient

from agent.store.claims import SAMPLE_CUSTOMER_ID
from tests.support.agent_process import AgentProcess
from tests.support.chat import (
    events_after,
    new_session,
    say,
    tool_calls_after,
    wait_for_ai_reply,
)


def test_policy_question_is_answered_from_the_policy_tool(client: ParlantClient) -> None:
    from agent.nlp.offline_nlp import OFFLINE_MARKER  # loads the engine: not at collection

    session = new_session(client)
    asked = say(client, session, "What does my policy cover?")

    reply = wait_for_ai_reply(client, session, asked)

    tools = [c["tool_id"].split(":")[-1] for c in tool_calls_after(client, session, asked)]
    assert "get_policy_details" in tools
    text = reply.data["message"]
    assert text.startswith(OFFLINE_MARKER)
    assert "POL-1001" in text and "Deductible $500" in text


def test_filed_claim_is_stored_and_listed_as_open(client: ParlantClient, agent_home: Path) -> None:
    session = new_session(client)
    first = say(client, session, "I want to file a claim")
    ask = wait_for_ai_reply(client, session, first)
    assert "describe what happened" in ask.data["message"]

    details = "A delivery van hit my parked car on Elm Street this morning"
    described = say(client, session, details)
    confirmation = wait_for_ai_reply(client, session, described)

    filed = [
        c
        for c in tool_calls_after(client, session, described)
        if c["tool_id"].endswith("file_claim")
    ]
    assert len(filed) == 1
    claim_id = filed[0]["result"]["data"]["claim_id"]
    assert claim_id in confirmation.data["message"]
    with sqlite3.connect(agent_home / "claims.sqlite3") as db:
        row = db.execute(
            "SELECT customer_id, details, status FROM claims WHERE claim_id = ?", (claim_id,)
        ).fetchone()
    assert row == (SAMPLE_CUSTOMER_ID, details, "submitted")

    later = new_session(client)
    listed_at = say(client, later, "What are my open claims?")
    listing = wait_for_ai_reply(client, later, listed_at)
    assert claim_id in listing.data["message"]


def test_asking_for_a_human_hands_off_and_silences_the_ai(
    client: ParlantClient, agent: AgentProcess
) -> None:
    session = new_session(client)
    asked = say(client, session, "I want to talk to a human")
    reply = wait_for_ai_reply(client, session, asked)

    handoffs = [
        c
        for c in tool_calls_after(client, session, asked)
        if c["tool_id"].endswith("initiate_human_handoff")
    ]
    assert len(handoffs) == 1
    assert handoffs[0]["arguments"]["reason"]
    assert "person will join" in reply.data["message"]

    state = client.sessions.retrieve(session)
    assert state.mode == "manual"
    assert "handoff" in (state.labels or [])
    record = state.metadata["handoff"]
    assert record["status"] == "waiting"
    assert record["reason"] == handoffs[0]["arguments"]["reason"]
    assert record["requested_at"].endswith("+00:00")

    silent_from = say(client, session, "Hello? Is anyone there?")
    time.sleep(4)  # long enough for an offline turn (well under a second) to have replied
    after = events_after(client, session, silent_from)
    assert not [e for e in after if e.kind == "message" and e.source == "ai_agent"]

    events_before_restart = [
        (e.offset, e.kind, e.source) for e in client.sessions.list_events(session, wait_for_data=0)
    ]
    agent.stop()
    agent.start()
    restarted = ParlantClient(base_url=agent.url)
    state = restarted.sessions.retrieve(session)
    assert state.mode == "manual"
    assert state.metadata["handoff"]["status"] == "waiting"
    assert [
        (e.offset, e.kind, e.source)
        for e in restarted.sessions.list_events(session, wait_for_data=0)
    ] == events_before_restart


def test_off_topic_question_is_redirected(client: ParlantClient) -> None:
    session = new_session(client)
    asked = say(client, session, "Can you tell me a joke about the weather?")
    reply = wait_for_ai_reply(client, session, asked)
    assert "only help with insurance" in reply.data["message"]


def test_chat_ui_is_served(agent: AgentProcess) -> None:
    import httpx

    page = httpx.get(f"{agent.url}/chat", follow_redirects=True, timeout=10)
    assert page.status_code == 200
    assert "<html" in page.text.lower()
