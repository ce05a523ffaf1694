"""Drafts (agent/drafts.py, `POST /escalations/{id}/draft`) against a real agent, offline NLP.

While a customer is with a person, the agent drafts the answer it would give from its own
tools and the customer's data, and nothing of the draft reaches the customer: no event in
their session, no session of theirs, no claim filed, no second handoff.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
from parlant.client import ParlantClient

from agent.store.claims import SAMPLE_CUSTOMER_ID
from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say, wait_for_ai_reply


def handed_off(client: ParlantClient) -> str:
    session = new_session(client)
    wait_for_ai_reply(client, session, say(client, session, "I want to talk to a human"))
    deadline = time.monotonic() + 20
    while client.sessions.retrieve(session).mode != "manual":
        assert time.monotonic() < deadline, "session never went manual"
        time.sleep(0.2)
    return session


def draft(agent: AgentProcess, session: str) -> httpx.Response:
    return httpx.post(f"{agent.url}/escalations/{session}/draft", timeout=90)


def customer_sessions(client: ParlantClient) -> set[str]:
    return {s.id for s in client.sessions.list(customer_id=SAMPLE_CUSTOMER_ID)}


def claims_filed(agent_home: Path) -> int:
    with sqlite3.connect(agent_home / "claims.sqlite3") as db:
        return int(db.execute("SELECT COUNT(*) FROM claims").fetchone()[0])


def snapshot(client: ParlantClient, session: str, agent_home: Path) -> tuple[Any, ...]:
    events = client.sessions.list_events(session, wait_for_data=0)
    return (
        [(e.offset, e.kind, e.source) for e in events],
        customer_sessions(client),
        claims_filed(agent_home),
        client.sessions.retrieve(session).metadata.get("handoff"),
    )


def test_a_draft_answers_from_the_customers_data_and_leaves_no_trace(
    client: ParlantClient, agent: AgentProcess, agent_home: Path
) -> None:
    session = handed_off(client)
    say(client, session, "What does my policy cover?")
    before = snapshot(client, session, agent_home)
    answer = draft(agent, session)
    assert answer.status_code == 200, answer.text
    drafted = answer.json()
    assert "POL-1001" in drafted["draft"], drafted
    assert "get_policy_details" in " ".join(drafted["tools"])
    assert snapshot(client, session, agent_home) == before


def test_drafting_never_files_a_claim_or_hands_off_again(
    client: ParlantClient, agent: AgentProcess, agent_home: Path
) -> None:
    session = handed_off(client)
    # One message the agent files a claim from in one turn (tests/test_conversation_scenarios.py).
    say(
        client,
        session,
        "I want to file a claim: someone rear-ended me at a red light on Oak Ave yesterday",
    )
    before = snapshot(client, session, agent_home)
    filing = draft(agent, session)
    assert filing.status_code == 200, filing.text
    assert "file_claim" in " ".join(filing.json()["tools"])  # it tried: the tool refused
    say(client, session, "Actually, get me a manager.")
    assert draft(agent, session).status_code in (200, 204)
    after = snapshot(client, session, agent_home)
    assert after[2] == before[2]  # no claim filed
    assert after[3] == before[3]  # the handoff record untouched


def test_no_draft_outside_a_handoff_or_for_an_unknown_session(
    client: ParlantClient, agent: AgentProcess
) -> None:
    session = new_session(client)
    wait_for_ai_reply(client, session, say(client, session, "Hello"))
    assert draft(agent, session).status_code == 409
    assert draft(agent, "no-such-session").status_code == 404
