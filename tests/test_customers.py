"""Customers are people: signed tokens, their own sessions and data only, limits on callers.

One real agent with the operator token on, customer tokens signed with CUSTOMER_TOKEN_SECRET,
and the loopback address as a trusted proxy, so each test speaks from its own client address
(X-Forwarded-For) and the per-address limits of one test do not touch another.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from parlant.client.core.api_error import ApiError
from parlant.client.types import Participant

from agent.store.claims import SAMPLE_CUSTOMER_ID
from handoff.actions import Operator
from tests.support.agent_process import AgentProcess
from tests.support.chat import AGENT_ID, say, tool_calls_after, wait_for_ai_reply
from tests.support.customers import (
    CUSTOMER_SECRET,
    SIGNED_IN_ENV,
    customer_token,
    guest_token,
    operator_client,
    token_client,
)

ALLOWED_ORIGIN = "https://www.insurer.example"
MAX_CHARS = 500
MESSAGES_PER_MINUTE = 6
LONG_POLLS = 2
DANA = Operator(id="slack:U0DANA42", name="Dana", origin="slack")


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    home: Path = tmp_path_factory.mktemp("customers") / "parlant"
    process = AgentProcess(
        home=home,
        extra_env={
            **SIGNED_IN_ENV,
            "CUSTOMER_TRUSTED_PROXIES": "127.0.0.1",
            "CUSTOMER_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
            "CUSTOMER_MAX_MESSAGE_CHARS": str(MAX_CHARS),
            "CUSTOMER_MESSAGE_RATE": f"{MESSAGES_PER_MINUTE}/minute",
            "CUSTOMER_MAX_LONG_POLLS": str(LONG_POLLS),
            "CUSTOMER_DEMO": "on",
        },
    ).start()
    yield process
    process.stop()


def ask(client, session: str, text: str) -> str:
    reply = wait_for_ai_reply(client, session, say(client, session, text))
    return str(reply.data["message"])


def test_two_customers_see_only_their_own_claims_and_sessions(agent: AgentProcess) -> None:
    sam = token_client(agent.url, customer_token(SAMPLE_CUSTOMER_ID, "Sam Carter"), "203.0.113.1")
    alice = token_client(agent.url, customer_token("cust-alice", "Alice Martin"), "203.0.113.2")
    sams = sam.sessions.create(agent_id=AGENT_ID).id
    alices = alice.sessions.create(agent_id=AGENT_ID).id

    ask(sam, sams, "I want to file a claim")
    filed = ask(sam, sams, "A tree fell on my parked car on Elm Street last night")
    claim_id = next(word.strip(".,") for word in filed.split() if word.startswith("CLM-"))
    assert claim_id in ask(sam, sams, "Do I have any open claims?")
    alices_claims = ask(alice, alices, "Do I have any open claims?")
    assert "CLM-" not in alices_claims and "Elm Street" not in alices_claims
    assert "POL-2001" in ask(alice, alices, "What does my policy cover?")

    # Alice holds Sam's session id (as anyone in the Slack channel does): it opens nothing.
    for attempt in (
        lambda: alice.sessions.retrieve(sams),
        lambda: alice.sessions.list_events(sams, min_offset=0, wait_for_data=0),
        lambda: alice.sessions.create_event(
            sams, kind="message", source="customer", message="as Sam"
        ),
    ):
        with pytest.raises(ApiError) as refused:
            attempt()
        assert refused.value.status_code == 404
    assert [s.id for s in sam.sessions.list()] == [sams]
    assert [s.id for s in alice.sessions.list()] == [alices]
    operator = operator_client(agent.url)
    # A session the gateway has never seen (opened by an operator for Sam) is checked too.
    opened_for_sam = operator.sessions.create(agent_id=AGENT_ID, customer_id=SAMPLE_CUSTOMER_ID).id
    with pytest.raises(ApiError) as refused:
        alice.sessions.list_events(opened_for_sam, min_offset=0, wait_for_data=0)
    assert refused.value.status_code == 404
    assert sam.sessions.retrieve(opened_for_sam).id == opened_for_sam
    assert "as Sam" not in str(operator.sessions.list_events(sams, wait_for_data=0))
    assert operator.sessions.retrieve(sams).customer_id == SAMPLE_CUSTOMER_ID
    assert operator.sessions.retrieve(alices).customer_id == "cust-alice"


def test_a_customer_resumes_a_session_with_a_fresh_token(agent: AgentProcess) -> None:
    first = token_client(agent.url, customer_token("cust-bob", "Bob Okafor"), "203.0.113.3")
    session = first.sessions.create(agent_id=AGENT_ID, title="Windscreen").id
    say(first, session, "Hello")
    later = token_client(agent.url, customer_token("cust-bob", "Bob Okafor"), "203.0.113.3")
    listed = later.sessions.list()
    assert [(s.id, s.title) for s in listed] == [(session, "Windscreen")]
    seen = later.sessions.list_events(session, min_offset=0, wait_for_data=0)
    assert "Hello" in [e.data["message"] for e in seen if e.kind == "message"]


@pytest.mark.parametrize(
    "problem",
    ["wrong secret", "expired", "unsigned", "no expiry", "lives too long", "claims a guest id"],
)
def test_forged_expired_or_wrongly_signed_tokens_are_refused(
    agent: AgentProcess, problem: str
) -> None:
    now = int(time.time())
    claims: dict[str, object] = {"sub": SAMPLE_CUSTOMER_ID, "name": "Sam", "exp": now + 600}
    secret, algorithm = CUSTOMER_SECRET, "HS256"
    if problem == "wrong secret":
        secret = "another-secret-0123456789-0123456789-abc"
    elif problem == "expired":
        claims["exp"] = now - 120
    elif problem == "unsigned":
        secret, algorithm = "", "none"
    elif problem == "no expiry":
        del claims["exp"]
    elif problem == "lives too long":
        claims["exp"] = now + 3 * 24 * 3600
    elif problem == "claims a guest id":
        claims["sub"] = "guest-0123456789abcdef01234567"
    token = jwt.encode(claims, secret or None, algorithm=algorithm)  # type: ignore[arg-type]  # None: unsigned, on purpose
    for path in ("/sessions", f"/c/{token}/sessions"):
        headers = {} if path.startswith("/c/") else {"Authorization": f"Bearer {token}"}
        answer = httpx.get(f"{agent.url}{path}", headers=headers, timeout=10)
        assert answer.status_code == 401, (problem, path, answer.text)
        assert token not in answer.text


def test_a_guest_may_ask_and_hand_off_but_sees_no_customer_data(agent: AgentProcess) -> None:
    guest = token_client(agent.url, guest_token(agent.url), "203.0.113.4")
    session = guest.sessions.create(agent_id=AGENT_ID).id
    policy = ask(guest, session, "What does my policy cover?")
    assert "guest" in policy and "POL-" not in policy
    assert "CLM-" not in ask(guest, session, "Do I have any open claims?")
    handoff = say(guest, session, "Can I talk to a human?")
    wait_for_ai_reply(guest, session, handoff)
    operator = operator_client(agent.url)
    calls = [c["tool_id"] for c in tool_calls_after(operator, session, handoff - 1)]
    assert any(call.endswith("initiate_human_handoff") for call in calls)
    assert operator.sessions.retrieve(session).mode == "manual"
    # Another guest is another identity.
    other = token_client(agent.url, guest_token(agent.url), "203.0.113.4")
    with pytest.raises(ApiError) as refused:
        other.sessions.retrieve(session)
    assert refused.value.status_code == 404


def test_what_a_customer_receives_carries_nothing_internal(agent: AgentProcess) -> None:
    token = customer_token(SAMPLE_CUSTOMER_ID, "Sam Carter")
    sam = token_client(agent.url, token, "203.0.113.5")
    session = sam.sessions.create(agent_id=AGENT_ID).id
    ask(sam, session, "What does my policy cover?")
    wait_for_ai_reply(sam, session, say(sam, session, "I want to talk to a human"))
    operator = operator_client(agent.url)
    operator.sessions.create_event(
        session,
        kind="message",
        source="human_agent",
        message="Hi, Dana here.",
        participant=Participant(id=DANA.id, display_name=DANA.name),
        metadata={
            "slack": {"channel": "C0ESCALATE", "ts": "1764770000.123456", "user": "U0DANA42"}
        },
    )
    operator.sessions.create_event(
        session,
        kind="custom",
        source="human_agent",
        data={"type": "internal_note", "text": "Customer filed twice last month"},
    )
    raw = httpx.get(
        f"{agent.url}/sessions/{session}/events",
        params={"min_offset": 0, "wait_for_data": 0},
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.5"},
        timeout=10,
    )
    assert raw.status_code == 200
    text = raw.text
    events = raw.json()
    assert {e["kind"] for e in events} == {"message", "status"}
    for internal in ("U0DANA42", "C0ESCALATE", "1764770000", "slack", "Customer filed twice"):
        assert internal not in text, internal
    assert all(e["metadata"] == {} for e in events)
    statuses = [e["data"] for e in events if e["kind"] == "status"]
    assert statuses and all(set(s) == {"status", "data"} and s["data"] == {} for s in statuses)
    dana = next(e for e in events if e["data"].get("message") == "Hi, Dana here.")
    assert dana["data"]["participant"] == {"display_name": "Dana", "role": "support team"}
    session_view = httpx.get(
        f"{agent.url}/sessions/{session}",
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.5"},
        timeout=10,
    ).json()
    assert session_view["metadata"] == {} and session_view["labels"] == []
    assert "handoff" not in json.dumps(session_view)
    assert operator.sessions.retrieve(session).metadata.get("handoff")


def test_a_long_message_is_refused_with_413_and_nothing_is_stored(agent: AgentProcess) -> None:
    token = customer_token(SAMPLE_CUSTOMER_ID, "Sam Carter")
    sam = token_client(agent.url, token, "203.0.113.6")
    session = sam.sessions.create(agent_id=AGENT_ID).id
    answer = httpx.post(
        f"{agent.url}/sessions/{session}/events",
        json={"kind": "message", "source": "customer", "message": "x" * (MAX_CHARS + 1)},
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.6"},
        timeout=10,
    )
    assert answer.status_code == 413
    assert f"the limit is {MAX_CHARS}" in answer.json()["detail"]
    assert operator_client(agent.url).sessions.list_events(session, wait_for_data=0) == []
    huge = httpx.post(
        f"{agent.url}/sessions/{session}/events",
        content=b'{"kind": "message", "message": "' + b"y" * 200_000 + b'"}',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert huge.status_code == 413
    assert operator_client(agent.url).sessions.list_events(session, wait_for_data=0) == []


def test_a_flood_gets_429_with_retry_after_and_another_client_is_unaffected(
    agent: AgentProcess,
) -> None:
    flooder_token = customer_token("cust-alice", "Alice Martin")
    flooder = token_client(agent.url, flooder_token, "198.51.100.7")
    session = flooder.sessions.create(agent_id=AGENT_ID).id
    headers = {"Authorization": f"Bearer {flooder_token}", "X-Forwarded-For": "198.51.100.7"}
    answers = [
        httpx.post(
            f"{agent.url}/sessions/{session}/events",
            json={"kind": "message", "source": "customer", "message": f"flood {n}"},
            headers=headers,
            timeout=10,
        )
        for n in range(MESSAGES_PER_MINUTE + 2)
    ]
    assert [a.status_code for a in answers] == [201] * MESSAGES_PER_MINUTE + [429, 429]
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
    assert "try again in" in answers[-1].json()["detail"]
    stored = operator_client(agent.url).sessions.list_events(
        session, kinds="message", source="customer", wait_for_data=0
    )
    assert len(stored) == MESSAGES_PER_MINUTE
    # The same customer from another address, and another customer, carry on.
    calm = token_client(agent.url, customer_token("cust-bob", "Bob"), "198.51.100.8")
    calm_session = calm.sessions.create(agent_id=AGENT_ID).id
    assert "POL-3001" in ask(calm, calm_session, "What does my policy cover?")


def test_open_long_polls_are_capped_per_address(agent: AgentProcess) -> None:
    import concurrent.futures

    token = customer_token("cust-bob", "Bob Okafor")
    client = token_client(agent.url, token, "198.51.100.9")
    session = client.sessions.create(agent_id=AGENT_ID).id
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": "198.51.100.9"}

    def poll() -> int:
        return httpx.get(
            f"{agent.url}/sessions/{session}/events",
            params={"min_offset": 0, "wait_for_data": 3},
            headers=headers,
            timeout=30,
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(LONG_POLLS + 1) as pool:
        held = [pool.submit(poll) for _ in range(LONG_POLLS)]
        time.sleep(1)
        extra = poll()
        statuses = sorted(f.result() for f in held)
    assert extra == 429
    assert statuses == [504] * LONG_POLLS


def test_session_creation_takes_a_title_but_nothing_internal(agent: AgentProcess) -> None:
    token = customer_token("cust-bob", "Bob Okafor")
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": "198.51.100.10"}
    url = f"{agent.url}/sessions"
    ok = httpx.post(url, json={"agent_id": AGENT_ID, "title": "New Session"}, headers=headers)
    assert ok.status_code == 201 and ok.json()["title"] == "New Session"
    for params, body in (
        ({"allow_greeting": "true"}, {"agent_id": AGENT_ID}),
        ({}, {"agent_id": AGENT_ID, "labels": ["handoff"]}),
        ({}, {"agent_id": AGENT_ID, "metadata": {"handoff": {"status": "waiting"}}}),
        ({}, {"agent_id": AGENT_ID, "customer_id": SAMPLE_CUSTOMER_ID}),
    ):
        answer = httpx.post(url, params=params, json=body, headers=headers, timeout=10)
        assert answer.status_code == 403, (params, body, answer.text)
    answer = httpx.post(
        f"{agent.url}/sessions/{ok.json()['id']}/events",
        params={"moderation": "paranoid"},
        json={"kind": "message", "source": "customer", "message": "hi", "metadata": {"x": 1}},
        headers=headers,
        timeout=10,
    )
    assert answer.status_code == 403


def test_only_listed_origins_may_call(agent: AgentProcess) -> None:
    token = customer_token("cust-bob", "Bob Okafor")
    path = f"{agent.url}/c/{token}/sessions"
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    allowed = httpx.options(path, headers={"Origin": ALLOWED_ORIGIN, **preflight}, timeout=10)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    other = "https://evil.example"
    refused = httpx.options(path, headers={"Origin": other, **preflight}, timeout=10)
    assert refused.headers.get("access-control-allow-origin") != other
    # A simple request needs no preflight: the server refuses it too.
    sent = httpx.post(
        path,
        json={"agent_id": AGENT_ID},
        headers={"Origin": other, "X-Forwarded-For": "198.51.100.11"},
    )
    assert sent.status_code == 403
    listed = httpx.get(path, headers={"Origin": ALLOWED_ORIGIN, "X-Forwarded-For": "198.51.100.11"})
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


def test_the_demo_mints_real_tokens_for_sample_customers_only(agent: AgentProcess) -> None:
    options = httpx.get(f"{agent.url}/customer/options", timeout=10).json()
    assert {c["id"] for c in options["demo_customers"]} >= {SAMPLE_CUSTOMER_ID, "cust-alice"}
    minted = httpx.post(
        f"{agent.url}/customer/demo-token", json={"customer_id": "cust-alice"}, timeout=10
    )
    assert minted.status_code == 200
    claims = jwt.decode(minted.json()["token"], CUSTOMER_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "cust-alice" and claims["exp"] - claims["iat"] <= 3600
    refused = httpx.post(
        f"{agent.url}/customer/demo-token", json={"customer_id": "cust-zoe"}, timeout=10
    )
    assert refused.status_code == 422
