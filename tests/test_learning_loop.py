"""The learning loop end to end on the real agent and the offline NLP: a handoff resolved with
the operator's tag and answer, a proposal from it, accepted into the learned file, and the agent
started again from that file answers the conversation it came from differently.

The learned guideline takes effect through the agent's own declarations (agent/learned.py into
agent/server.py's `declare_agent` and `offline_script`), not through anything in this test.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from parlant.client import ParlantClient

from handoff import actions
from handoff.actions import Operator
from handoff.learning import Why, resolve_tag
from handoff.operator_api import AsyncOperatorClient
from handoff.record import read_record
from tests.support.agent_process import AgentProcess
from tests.support.chat import AGENT_ID, new_session, say, wait_for_ai_reply
from tests.support.customers import OPERATOR_HEADERS, OPERATOR_TOKEN, operator_client

DANA = Operator(id="slack:U0DANA", name="Dana", origin="slack")
QUESTION = "Do you offer roadside assistance if my car breaks down on the motorway?"
ANSWER = (
    "Yes: roadside assistance comes with every car policy. Call +1-555-INSURE and a tow truck "
    "is sent to you, at no cost."
)


def operator_async(url: str) -> AsyncOperatorClient:
    return AsyncOperatorClient(
        base_url=url, httpx_client=httpx.AsyncClient(headers=OPERATOR_HEADERS, timeout=30)
    )


def customer_messages(client: ParlantClient, session: str) -> list[str]:
    return [
        str(e.data["message"])
        for e in client.sessions.list_events(session, kinds="message", wait_for_data=0)
        if e.source == "customer"
    ]


def handed_off(client: ParlantClient, session: str) -> None:
    wait_for_ai_reply(client, session, say(client, session, "Then I want to talk to a person"))
    deadline = time.monotonic() + 20
    while read_record(client.sessions.retrieve(session).metadata) is None:
        assert time.monotonic() < deadline, "the session was never handed off"
        time.sleep(0.2)


def glossary(client: ParlantClient) -> dict[str, list[Any]]:
    """The agent's glossary as Parlant serves it: name -> [description, synonyms]."""
    terms = client.glossary.list_terms(tag_id=f"agent:{AGENT_ID}")
    return {t.name: [t.description, list(t.synonyms or [])] for t in terms}


@pytest.fixture
def learned_file(tmp_path: Path) -> Path:
    return tmp_path / "learned.json"


def agent_on(home: Path, learned_file: Path) -> AgentProcess:
    return AgentProcess(
        home=home,
        extra_env={
            "PARLANT_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "AGENT_LEARNED_FILE": str(learned_file),
        },
    )


def test_an_accepted_guideline_changes_the_answer_to_the_conversation_it_came_from(
    tmp_path: Path, learned_file: Path
) -> None:
    agent = agent_on(tmp_path / "parlant", learned_file).start()
    try:
        client = operator_client(agent.url)
        session = new_session(client)
        before = wait_for_ai_reply(client, session, say(client, session, QUESTION))
        assert "roadside" not in str(before.data["message"]).lower()
        handed_off(client, session)
        asyncio.run(actions.send_as_human(operator_async(agent.url), session, DANA, ANSWER))
        tag = resolve_tag(Why.MISSING_KNOWLEDGE.value, ANSWER)
        asyncio.run(actions.resolve(operator_async(agent.url), session, DANA, tag))

        record = read_record(client.sessions.retrieve(session).metadata)
        assert record is not None and record["status"] == "resolved"
        assert record["learning"]["why"] == "missing_knowledge"
        assert record["learning"]["answer"] == ANSWER
        assert record["learning"]["by"] == {"id": DANA.id, "name": DANA.name}

        routes = f"{agent.url}/escalations/learning"
        # Behind the operator token, like every /escalations/ path.
        assert httpx.get(routes, timeout=10).status_code == 403
        proposal = {
            "kind": "guideline",
            "condition": "The customer asks whether roadside assistance or towing is covered",
            "action": "Say roadside assistance comes with every car policy and give the number",
            "customer_words": ["roadside assistance", "breaks down", "tow"],
            "reply": ANSWER,
            "sessions": [session],
            "proposed_by": {"id": "dashboard:sam", "name": "Sam"},
            "group_category": record["reason_category"],
        }
        assert httpx.post(f"{routes}/proposals", json=proposal, timeout=10).status_code == 403
        # Nothing was written by the refused call; nothing is declared from a proposal.
        assert not learned_file.exists()
        created = httpx.post(
            f"{routes}/proposals", json=proposal, headers=OPERATOR_HEADERS, timeout=10
        )
        assert created.status_code == 201, created.text
        entry_id = created.json()["id"]
        accepted = httpx.post(
            f"{routes}/{entry_id}/accept",
            json={"by": {"id": "dashboard:lee", "name": "Lee"}},
            headers=OPERATOR_HEADERS,
            timeout=10,
        )
        assert accepted.status_code == 200, accepted.text
        again = httpx.post(
            f"{routes}/{entry_id}/reject",
            json={"by": {"id": "dashboard:lee", "name": "Lee"}},
            headers=OPERATOR_HEADERS,
            timeout=10,
        )
        assert again.status_code == 409

        # A glossary term from the same handoff, accepted too.
        term = httpx.post(
            f"{routes}/proposals",
            json={
                "kind": "term",
                "name": "Roadside Assistance",
                "description": "Towing and breakdown help, included with every car policy.",
                "synonyms": ["towing", "breakdown cover"],
                "sessions": [session],
                "proposed_by": {"id": "dashboard:sam", "name": "Sam"},
            },
            headers=OPERATOR_HEADERS,
            timeout=10,
        )
        assert term.status_code == 201, term.text
        assert (
            httpx.post(
                f"{routes}/{term.json()['id']}/accept",
                json={"by": {"id": "dashboard:lee", "name": "Lee"}},
                headers=OPERATOR_HEADERS,
                timeout=10,
            ).status_code
            == 200
        )
        # Accepted, not yet declared: the running agent took its glossary at start.
        assert "Roadside Assistance" not in glossary(client)

        stored, _term = json.loads(learned_file.read_text())["entries"]
        assert stored["status"] == "accepted"
        assert stored["origin"]["sessions"] == [session]
        assert stored["origin"]["accepted_by"] == {"id": "dashboard:lee", "name": "Lee"}
        assert stored["origin"]["accepted_at"]
        replayed = customer_messages(client, session)[0]
    finally:
        agent.stop()

    # The real agent again, on the same store, from the file the supervisor accepted into.
    agent = agent_on(tmp_path / "parlant", learned_file).start()
    try:
        client = operator_client(agent.url)
        replay = new_session(client)
        after = wait_for_ai_reply(client, replay, say(client, replay, replayed))
        assert ANSWER in str(after.data["message"])
        assert str(after.data["message"]) != str(before.data["message"])
        assert glossary(client)["Roadside Assistance"] == [
            "Towing and breakdown help, included with every car policy.",
            ["towing", "breakdown cover"],
        ]
        # And in the conversation itself, asked again after the resolve.
        same = wait_for_ai_reply(client, session, say(client, session, replayed))
        assert ANSWER in str(same.data["message"])
    finally:
        agent.stop()


def test_a_malformed_learned_file_stops_the_start_with_one_line(
    tmp_path: Path, learned_file: Path
) -> None:
    learned_file.write_text('{"entries": [{"id": "x"}]}')
    agent = agent_on(tmp_path / "parlant", learned_file)
    with pytest.raises(RuntimeError) as stopped:
        agent.start()
    assert "agent: learned file:" in str(stopped.value)
    assert "AGENT_LEARNED_FILE" in str(stopped.value)


def test_the_tag_is_kept_with_the_record_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """The tag lives in the handoff record (session metadata): the closed-handoff listing the
    dashboard's Learning page reads has it on PostgreSQL as on SQLite."""
    agent = AgentProcess(
        home=tmp_path / "parlant",
        extra_env={"PARLANT_OPERATOR_TOKEN": OPERATOR_TOKEN, "PARLANT_SESSION_STORE": postgres_url},
    ).start()
    try:
        client = operator_client(agent.url)
        session = new_session(client)
        wait_for_ai_reply(client, session, say(client, session, QUESTION))
        handed_off(client, session)
        tag = resolve_tag(Why.NEEDS_AUTHORITY.value, "Only a person may waive the fee.")
        asyncio.run(actions.resolve(operator_async(agent.url), session, DANA, tag))
        history = httpx.get(
            f"{agent.url}/escalations/history", headers=OPERATOR_HEADERS, timeout=10
        ).json()
        [item] = [i for i in history["items"] if i["id"] == session]
        learning = item["metadata"]["handoff"]["learning"]
        assert (learning["why"], learning["answer"]) == (
            "needs_authority",
            "Only a person may waive the fee.",
        )
    finally:
        agent.stop()
