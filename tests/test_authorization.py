"""With PARLANT_OPERATOR_TOKEN set, Parlant's API is the operators' alone.

Customers reach their own sessions through the customer gateway with a signed token
(tests/test_customers.py); here: nobody else gets anything from Parlant's API, a customer's
token opens none of the operators' calls, and refusals repeat nothing of the request.
"""

from __future__ import annotations

import socket
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

from agent.authorization import MAX_OPERATOR_BODY_BYTES
from agent.store.claims import SAMPLE_CUSTOMER_ID
from tests.support.agent_process import AgentProcess
from tests.support.chat import AGENT_ID, new_session, say, tool_calls_after, wait_for_ai_reply
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
    # The one exception: the widget's agentOpeningMessage, in the agent's voice, as the first
    # event of the customer's new session; recorded as the page's opening. Once only.
    owner.sessions.create_event(
        session, kind="message", source="human_agent_on_behalf_of_ai_agent", message="Hi there!"
    )
    for attempt in operator_only_calls(owner, session):
        with pytest.raises(ApiError) as refused:
            attempt()
        assert refused.value.status_code == 403, refused.value.body
    events = operator_client(guarded.url).sessions.list_events(session, wait_for_data=0)
    assert [(e.source, (e.data or {})["message"], e.metadata) for e in events] == [
        ("human_agent_on_behalf_of_ai_agent", "Hi there!", {"opening": "chat_page"})
    ]


def test_an_opening_message_cannot_follow_the_customers_first(guarded: AgentProcess) -> None:
    owner = token_client(guarded.url, customer_token(SAMPLE_CUSTOMER_ID, "Sam Carter"))
    session = owner.sessions.create(agent_id=AGENT_ID).id
    owner.sessions.create_event(session, kind="message", source="customer", message="hello")
    with pytest.raises(ApiError) as refused:
        owner.sessions.create_event(
            session, kind="message", source="human_agent_on_behalf_of_ai_agent", message="I agree"
        )
    assert refused.value.status_code == 403, refused.value.body
    assert refused.value.body == {"detail": "an opening message only opens a new session"}
    # Nor on another customer's new session, whose id proves nothing.
    other = token_client(guarded.url, customer_token("cust-other", "Other")).sessions
    theirs = other.create(agent_id=AGENT_ID).id
    with pytest.raises(ApiError) as hidden:
        owner.sessions.create_event(
            theirs, kind="message", source="human_agent_on_behalf_of_ai_agent", message="Hi"
        )
    assert hidden.value.status_code == 404
    assert operator_client(guarded.url).sessions.list_events(theirs, wait_for_data=0) == []


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


def answer_before_the_body(agent_url: str, head: str) -> str:
    """Sends a request's head only, promising a body it never sends, and returns the status
    line: the agent must answer without waiting for (or reading) the body."""
    host, port = agent_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as connection:
        connection.sendall(head.encode() + b"\r\n\r\n")
        # A server waiting for the promised body never answers: the read times out.
        first = connection.recv(4096).decode("latin-1")
    return first.split("\r\n", 1)[0]


@pytest.mark.parametrize("path", ["/sessions", "/customers", "/agents", "/metrics"])
def test_an_anonymous_body_is_refused_before_it_is_sent(guarded: AgentProcess, path: str) -> None:
    # Issue 27: a 100 MB anonymous POST /sessions was parsed (RSS 222 -> 514 MB) before the 403.
    head = f"POST {path} HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\nContent-Length: 100000000"
    assert answer_before_the_body(guarded.url, head) == "HTTP/1.1 403 Forbidden"


def test_an_operators_body_beyond_the_cap_is_refused_before_it_is_sent(
    guarded: AgentProcess,
) -> None:
    authorization = OPERATOR_HEADERS["Authorization"]
    head = (
        f"POST /sessions HTTP/1.1\r\nHost: agent\r\nAuthorization: {authorization}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {MAX_OPERATOR_BODY_BYTES + 1}"
    )
    assert answer_before_the_body(guarded.url, head) == "HTTP/1.1 413 Request Entity Too Large"
    chunked = head.replace(
        f"Content-Length: {MAX_OPERATOR_BODY_BYTES + 1}", "Transfer-Encoding: chunked"
    )
    assert answer_before_the_body(guarded.url, chunked) == "HTTP/1.1 411 Length Required"


def test_a_customers_body_beyond_the_cap_is_refused_before_it_is_sent(
    guarded: AgentProcess,
) -> None:
    token = customer_token(SAMPLE_CUSTOMER_ID)
    head = (
        f"POST /sessions HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: 100000000"
    )
    assert answer_before_the_body(guarded.url, head) == "HTTP/1.1 413 Request Entity Too Large"


def test_an_invalid_field_is_not_repeated_in_the_answer(guarded: AgentProcess) -> None:
    # Issue 27: a 20 MB field came back whole in a 422.
    big = "A" * 500_000
    answer = httpx.post(
        f"{guarded.url}/sessions",
        json={"agent_id": [big], "title": {"x": big}},
        headers=OPERATOR_HEADERS,
        timeout=30,
    )
    assert answer.status_code == 422
    assert "AAAA" not in answer.text and len(answer.text) < 2000
    assert {tuple(problem["loc"]) for problem in answer.json()["detail"]} >= {("body", "agent_id")}


def test_the_tool_server_answers_only_the_agent(guarded: AgentProcess) -> None:
    # Issue 27: a local process filed a claim for another customer through Parlant's tool server.
    tools = f"http://127.0.0.1:{guarded.tool_port}"
    call = {
        "agent_id": AGENT_ID,
        "session_id": "any",
        "customer_id": SAMPLE_CUSTOMER_ID,
        "arguments": {},
    }
    for answer in (
        httpx.get(f"{tools}/tools", timeout=10),
        httpx.post(f"{tools}/tools/file_claim/calls", json=call, timeout=10),
        httpx.get(f"{tools}/tools", headers={"X-Agent-Tool-Key": "guess"}, timeout=10),
    ):
        assert answer.status_code == 403, answer.text
    # The agent's own calls still reach it, with the key only the agent holds.
    operator = operator_client(guarded.url)
    session = new_session(operator)
    asked = say(operator, session, "What does my policy cover?")
    reply = wait_for_ai_reply(operator, session, asked)
    called = [c["tool_id"].split(":")[-1] for c in tool_calls_after(operator, session, asked)]
    assert "get_policy_details" in called and "POL-1001" in reply.data["message"]


def test_the_agents_configuration_cannot_be_changed_over_the_api(guarded: AgentProcess) -> None:
    # Found by Schemathesis: PUT /services/{name} without `kind` and POST /journeys with {} were
    # 500s; a service with a `kind` would make the agent fetch and call any URL as a tool
    # service, and DELETE would drop its tools.
    for method, path, body in (
        ("PUT", "/services/x", {}),
        ("PUT", "/services/x", {"kind": "sdk", "sdk": {"url": "http://x"}}),
        ("POST", "/journeys", {}),
        ("POST", "/guidelines", {"condition": "always", "action": "say hi"}),
        ("DELETE", f"/agents/{AGENT_ID}", None),
    ):
        answer = httpx.request(
            method, f"{guarded.url}{path}", json=body, headers=OPERATOR_HEADERS, timeout=10
        )
        assert answer.status_code == 403, (method, path, answer.text)
    assert httpx.get(f"{guarded.url}/journeys", headers=OPERATOR_HEADERS, timeout=10).is_success
    listed = httpx.get(f"{guarded.url}/services", headers=OPERATOR_HEADERS, timeout=10)
    assert listed.status_code == 200
    gone = httpx.delete(f"{guarded.url}/services/built-in", headers=OPERATOR_HEADERS, timeout=10)
    assert gone.status_code == 403


def test_an_unknown_event_kind_is_a_422_not_a_500(guarded: AgentProcess) -> None:
    # Found by Schemathesis: Parlant converted `kinds` inside its handler, and `kinds=0` was a 500.
    session = new_session(operator_client(guarded.url))
    url = f"{guarded.url}/sessions/{session}/events"
    bad = httpx.get(url, params={"kinds": "0", "wait_for_data": 0}, headers=OPERATOR_HEADERS)
    assert bad.status_code == 422 and "kinds may be" in bad.json()["detail"]
    good = httpx.get(url, params={"kinds": "message", "wait_for_data": 0}, headers=OPERATOR_HEADERS)
    assert good.status_code == 200


def test_a_customer_that_exists_is_a_409_not_a_500(guarded: AgentProcess) -> None:
    # Found by Schemathesis: Parlant raised ValueError for an id that exists, answered 500.
    body = {"id": "twice-created", "name": "Twice"}
    first = httpx.post(f"{guarded.url}/customers", json=body, headers=OPERATOR_HEADERS)
    assert first.status_code == 201
    again = httpx.post(f"{guarded.url}/customers", json=body, headers=OPERATOR_HEADERS)
    assert again.status_code == 409, again.text


def test_only_operators_reach_the_canned_replies(guarded: AgentProcess) -> None:
    """agent/canned_route.py: every caller but the operator is refused, a customer too."""
    customer = {"Authorization": f"Bearer {customer_token('cust-nosy', 'Nosy')}"}
    session = new_session(operator_client(guarded.url))
    for headers in ({}, customer, {"Authorization": "Bearer wrong"}):
        with httpx.Client(base_url=guarded.url, headers=headers, timeout=30) as http:
            assert http.get("/escalations/canned-replies").status_code == 403
            made = http.post("/escalations/canned-replies", json={"title": "T", "body": "B"})
            assert made.status_code == 403
            assert http.put("/escalations/canned-replies/x", json={}).status_code == 403
            assert http.delete("/escalations/canned-replies/x").status_code == 403
            assert http.get(f"/escalations/{session}/canned-replies/x").status_code == 403
    with httpx.Client(base_url=guarded.url, headers=OPERATOR_HEADERS, timeout=30) as http:
        assert http.get("/escalations/canned-replies").status_code == 200
