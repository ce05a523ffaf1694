"""With PARLANT_OPERATOR_TOKEN set, Parlant's API is the operators' alone.

Customers reach their own sessions through the customer gateway with a signed token
(tests/test_customers.py); here: nobody else gets anything from Parlant's API, a customer's
token opens none of the operators' calls, and refusals repeat nothing of the request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.exceptions
import websockets.sync.client
from parlant.client import ParlantClient
from parlant.client.core.api_error import ApiError
from parlant.client.types import Participant

from agent.store.claims import SAMPLE_CUSTOMER_ID
from tests.support.agent_process import AgentProcess
from tests.support.chat import AGENT_ID, new_session
from tests.support.customers import (
    OPERATOR_HEADERS,
    SIGNED_IN_ENV,
    customer_token,
    operator_client,
    token_client,
)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    home: Path = tmp_path_factory.mktemp("guarded") / "parlant"
    process = AgentProcess(home=home, extra_env=SIGNED_IN_ENV).start()
    yield process
    process.stop()


def test_parlants_sandbox_docs_and_logs_need_the_token(guarded: AgentProcess) -> None:
    for path in ("/chat/", "/docs", "/openapi.json"):
        assert httpx.get(f"{guarded.url}{path}", timeout=10).status_code == 403, path
        allowed = httpx.get(f"{guarded.url}{path}", headers=OPERATOR_HEADERS, timeout=10)
        assert allowed.status_code == 200, path

    front_door = httpx.get(f"{guarded.url}/", timeout=10, follow_redirects=True)
    assert front_door.status_code == 200 and front_door.url.path == "/support"

    logs_url = guarded.url.replace("http://", "ws://") + "/logs"
    with (
        pytest.raises(websockets.exceptions.InvalidStatus) as refused,
        websockets.sync.client.connect(logs_url, open_timeout=10),
    ):
        pass
    assert refused.value.response.status_code == 403
    with websockets.sync.client.connect(
        logs_url, additional_headers=OPERATOR_HEADERS, open_timeout=10
    ):
        pass


def operator_only_calls(caller: ParlantClient, session: str) -> list[Callable[[], Any]]:
    return [
        lambda: caller.sessions.create_event(
            session,
            kind="message",
            source="human_agent",
            message="I am totally an operator",
            participant=Participant(id="x", display_name="Fake Operator"),
        ),
        lambda: caller.sessions.create_event(
            session, kind="message", source="human_agent_on_behalf_of_ai_agent", message="fake AI"
        ),
        lambda: caller.sessions.update(session, mode="manual"),
        lambda: caller.sessions.update(session, metadata={"handoff": {"status": "waiting"}}),  # type: ignore[arg-type]
        lambda: caller.sessions.update(session, labels={"upsert": ["handoff"]}),  # type: ignore[arg-type]
        lambda: caller.sessions.delete(session),
        lambda: caller.customers.list(),
        lambda: caller.agents.list(),
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
            participant=Participant(id="someone-else", display_name="Someone Else"),
        ),
        # A label or a handoff record would put a forged session in the operators' queue.
        lambda: caller.sessions.create(agent_id=AGENT_ID, labels=["handoff"]),
        lambda: caller.sessions.create(
            agent_id=AGENT_ID, metadata={"handoff": {"status": "waiting"}}
        ),
        # Internal notes and hand-backs are custom events; tool events carry tool results.
        lambda: caller.sessions.list_events(session, kinds="message,custom", wait_for_data=0),
        lambda: caller.sessions.list_events(session, kinds="tool", wait_for_data=0),
    ]


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789"])
def test_without_the_token_parlants_api_refuses_everything(
    guarded: AgentProcess, token: str | None
) -> None:
    caller = (
        ParlantClient(base_url=guarded.url)
        if token is None
        else operator_client(guarded.url, token)
    )
    session = new_session(operator_client(guarded.url))
    # The session id alone, as Slack and the dashboard show it, opens nothing.
    attempts = [
        *operator_only_calls(caller, session),
        lambda: caller.sessions.retrieve(session),
        lambda: caller.sessions.list_events(session, kinds="message,status", wait_for_data=0),
        lambda: caller.sessions.create_event(
            session, kind="message", source="customer", message="hi"
        ),
        lambda: caller.sessions.create(agent_id=AGENT_ID),
        lambda: caller.sessions.list(),
        lambda: caller.sessions.list(customer_id=SAMPLE_CUSTOMER_ID),
    ]
    for attempt in attempts:
        with pytest.raises(ApiError) as refused:
            attempt()
        assert refused.value.status_code == 403
    assert operator_client(guarded.url).sessions.list_events(session, wait_for_data=0) == []


def test_the_sessions_own_customer_gets_no_operator_call(guarded: AgentProcess) -> None:
    owner = token_client(guarded.url, customer_token(SAMPLE_CUSTOMER_ID, "Sam Carter"))
    session = owner.sessions.create(agent_id=AGENT_ID).id
    for attempt in operator_only_calls(owner, session):
        with pytest.raises(ApiError) as refused:
            attempt()
        assert refused.value.status_code == 403, refused.value.body
    assert operator_client(guarded.url).sessions.list_events(session, wait_for_data=0) == []


def test_a_repeated_kinds_parameter_cannot_smuggle_custom_events(guarded: AgentProcess) -> None:
    token = customer_token(SAMPLE_CUSTOMER_ID, "Sam Carter")
    session = token_client(guarded.url, token).sessions.create(agent_id=AGENT_ID).id
    response = httpx.get(
        f"{guarded.url}/sessions/{session}/events",
        params=[("kinds", "message"), ("kinds", "custom"), ("wait_for_data", "0")],
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 403


def test_refusals_repeat_nothing_of_the_request(guarded: AgentProcess) -> None:
    secret_cookie = "session=cookie-value-that-must-not-echo"
    for headers in (
        {"Authorization": "Bearer wrong-token-0123456789", "Cookie": secret_cookie},
        {"Authorization": "Bearer not.a.jwt", "Cookie": secret_cookie},
    ):
        for method, path in (("GET", "/sessions"), ("GET", "/customers"), ("DELETE", "/sessions")):
            answer = httpx.request(method, f"{guarded.url}{path}", headers=headers, timeout=10)
            assert answer.status_code in (401, 403), (path, answer.status_code)
            assert "wrong-token" not in answer.text and "cookie-value" not in answer.text
            assert "not.a.jwt" not in answer.text


def test_operators_with_the_token_may_act(guarded: AgentProcess) -> None:
    operator = operator_client(guarded.url)
    session = new_session(operator)
    operator.sessions.create_event(
        session,
        kind="message",
        source="human_agent",
        message="Hello from a real operator",
        participant=Participant(id="dashboard:sam", display_name="Sam"),
    )
    operator.sessions.update(session, mode="manual")
    assert session in [s.id for s in operator.sessions.list()]
