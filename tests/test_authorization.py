"""With PARLANT_OPERATOR_TOKEN set, customers keep the chat and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest
from parlant.client import ParlantClient
from parlant.client.core.api_error import ApiError

from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say, wait_for_ai_reply

TOKEN = "test-operator-token-0123456789"


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
    assert "POL-1001" in wait_for_ai_reply(customer, session, asked).data["message"]
    page = httpx.get(f"{guarded.url}/chat", follow_redirects=True, timeout=10)
    assert page.status_code == 200


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_operator_calls_without_the_token_get_403(guarded: AgentProcess, token: str | None) -> None:
    caller = ParlantClient(base_url=guarded.url) if token is None else operator_client(guarded, token)
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
        lambda: caller.customers.list(),
    ]
    for attempt in attempts:
        with pytest.raises(ApiError) as refused:
            attempt()
        assert refused.value.status_code == 403
    events = operator_client(guarded).sessions.list_events(session, wait_for_data=0)
    assert not [e for e in events if e.source != "customer"]


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
