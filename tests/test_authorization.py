"""With PARLANT_OPERATOR_TOKEN set, customers keep the chat and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest
import websockets.exceptions
import websockets.sync.client
from parlant.client import ParlantClient
from parlant.client.core.api_error import ApiError

from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say, wait_for_ai_reply

TOKEN = "test-operator-token-0123456789"
OPERATOR_HEADERS = {"Authorization": f"Bearer {TOKEN}"}
AGENT_ID = "insurance-support-agent"
CUSTOMER_KINDS = "message,status"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    home: Path = tmp_path_factory.mktemp("guarded") / "parlant"
    process = AgentProcess(home=home, extra_env={"PARLANT_OPERATOR_TOKEN": TOKEN}).start()
    yield process
    process.stop()


def operator_client(agent: AgentProcess, token: str = TOKEN) -> ParlantClient:
    return ParlantClient(
        base_url=agent.url,
        httpx_client=httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60),
    )


def test_customers_can_still_chat(guarded: AgentProcess) -> None:
    customer = ParlantClient(base_url=guarded.url)
    session = customer.sessions.create(agent_id="insurance-support-agent").id
    asked = say(customer, session, "What does my policy cover?")
    assert (
        "POL-1001"
        in wait_for_ai_reply(customer, session, asked, kinds=CUSTOMER_KINDS).data["message"]
    )
    page = httpx.get(f"{guarded.url}/support", timeout=10)
    assert page.status_code == 200
    assert "insurance-support-agent" in page.text


def test_parlants_sandbox_docs_and_logs_need_the_token(guarded: AgentProcess) -> None:
    for path in ("/chat/", "/docs", "/openapi.json"):
        assert httpx.get(f"{guarded.url}{path}", timeout=10).status_code == 403, path
        allowed = httpx.get(f"{guarded.url}{path}", headers=OPERATOR_HEADERS, timeout=10)
        assert allowed.status_code == 200, path

    front_door = httpx.get(f"{guarded.url}/", timeout=10, follow_redirects=True)
    assert front_door.status_code == 200 and front_door.url.path == "/support"

    logs_url = guarded.url.replace("http://", "ws://") + "/logs"
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        with websockets.sync.client.connect(logs_url, open_timeout=10):
            pass
    assert refused.value.response.status_code == 403
    with websockets.sync.client.connect(
        logs_url, additional_headers=OPERATOR_HEADERS, open_timeout=10
    ):
        pass


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_operator_calls_without_the_token_get_403(guarded: AgentProcess, token: str | None) -> None:
    caller = (
        ParlantClient(base_url=guarded.url) if token is None else operator_client(guarded, token)
    )
    session = caller.sessions.create(agent_id="insurance-support-agent").id
    attempts = [
        lambda: caller.sessions.create_event(
            session,
            kind="message",
            source="human_agent",
            message="I am totally an operator",
            participant={"id": "x", "display_name": "Fake Operator"},
        ),
        lambda: caller.sessions.create_event(
            session, kind="message", source="human_agent_on_behalf_of_ai_agent", message="fake AI"
        ),
        lambda: caller.sessions.update(session, mode="manual"),
        lambda: caller.sessions.list(),
        lambda: caller.sessions.list(customer_id="guest"),
        lambda: caller.customers.list(),
        lambda: caller.agents.list(),
        lambda: caller.sessions.retrieve(session),
        lambda: caller.sessions.create_event(
            session,
            kind="custom",
            source="human_agent",
            data={"type": "internal_note", "text": "x"},
        ),
        lambda: caller.sessions.create_event(
            session, kind="status", source="ai_agent", status="typing"
        ),
        # Metadata and participants are what the bridge and dashboard read identities from.
        lambda: caller.sessions.create_event(
            session,
            kind="message",
            source="customer",
            message="hi",
            metadata={"operator": {"origin": "slack", "name": "Dana"}},
        ),
        lambda: caller.sessions.create_event(
            session,
            kind="message",
            source="customer",
            message="hi",
            participant={"id": "someone-else", "display_name": "Someone Else"},
        ),
        # A label or a handoff record would put a forged session in the operators' queue.
        lambda: caller.sessions.create(agent_id=AGENT_ID, labels=["handoff"]),
        lambda: caller.sessions.create(
            agent_id=AGENT_ID, metadata={"handoff": {"status": "waiting"}}
        ),
        lambda: caller.sessions.create(agent_id=AGENT_ID, customer_id="guest"),
        # Internal notes and hand-backs are custom events; tool events carry tool results.
        lambda: caller.sessions.list_events(session, wait_for_data=0),
        lambda: caller.sessions.list_events(session, kinds="message,custom", wait_for_data=0),
        lambda: caller.sessions.list_events(session, kinds="tool", wait_for_data=0),
    ]
    for attempt in attempts:
        with pytest.raises(ApiError) as refused:
            attempt()
        assert refused.value.status_code == 403
    events = operator_client(guarded).sessions.list_events(session, wait_for_data=0)
    assert events == []


def test_a_repeated_kinds_parameter_cannot_smuggle_custom_events(guarded: AgentProcess) -> None:
    session = ParlantClient(base_url=guarded.url).sessions.create(agent_id=AGENT_ID).id
    response = httpx.get(
        f"{guarded.url}/sessions/{session}/events",
        params=[("kinds", "message"), ("kinds", "custom"), ("wait_for_data", "0")],
        timeout=10,
    )
    assert response.status_code == 403


def test_customers_see_messages_but_not_internal_notes(guarded: AgentProcess) -> None:
    customer = ParlantClient(base_url=guarded.url)
    session = customer.sessions.create(agent_id=AGENT_ID).id
    wait_for_ai_reply(
        customer, session, say(customer, session, "I want to talk to a human"), kinds=CUSTOMER_KINDS
    )
    operator = operator_client(guarded)
    operator.sessions.create_event(
        session,
        kind="custom",
        source="human_agent",
        data={"type": "internal_note", "text": "Customer filed twice last month"},
    )
    operator.sessions.create_event(
        session,
        kind="message",
        source="human_agent",
        message="Hi, Dana here.",
        participant={"id": "slack:U0DANA", "display_name": "Dana"},
    )
    seen = customer.sessions.list_events(session, kinds="message,status", wait_for_data=0)
    assert "Hi, Dana here." in [e.data.get("message") for e in seen if e.kind == "message"]
    assert {e.kind for e in seen} <= {"message", "status"}
    assert "Customer filed twice" not in str([e.data for e in seen])


def test_operators_with_the_token_may_act(guarded: AgentProcess) -> None:
    operator = operator_client(guarded)
    session = new_session(operator)
    operator.sessions.create_event(
        session,
        kind="message",
        source="human_agent",
        message="Hello from a real operator",
        participant={"id": "dashboard:sam", "display_name": "Sam"},
    )
    operator.sessions.update(session, mode="manual")
    assert session in [s.id for s in operator.sessions.list()]
