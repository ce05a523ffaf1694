"""Token usage per gateway request (issue 28): through Parlant's real OpenAIService, the openai
SDK and HTTP against tests/fakes/fake_openai.py, what the agent's usage book holds
(`GET /escalations/llm-usage`, the dashboard's daily figure) equals what the fake served, per
kind: its start-up evaluation, every generation of every turn (a draft answered 500 and
retried, malformed drafts Parlant rejects, a turn that ends without a reply) and every
embedding. A reply's own usage counts every generation its turn made.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from parlant.client import ParlantClient

from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say, wait_for_ai_reply

if TYPE_CHECKING:
    from tests.fakes.fake_openai import FakeOpenAIThread


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIThread]:
    from tests.fakes.fake_openai import FakeOpenAI

    fake = FakeOpenAI().run_in_thread()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def agent(llm: FakeOpenAIThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    home: Path = tmp_path_factory.mktemp("gateway-usage") / "parlant"
    process = AgentProcess(
        home=home, extra_env={**llm.fake.env(), "AI_TURN_TIMEOUT_SECONDS": "20"}
    ).start()
    yield process
    process.stop()


def billed(agent: AgentProcess) -> dict[str, tuple[int, int, int]]:
    """The agent's usage book: (requests, input tokens, output tokens) per kind."""
    answer = httpx.get(f"{agent.url}/escalations/llm-usage", timeout=10)
    answer.raise_for_status()
    totals: dict[str, tuple[int, int, int]] = {}
    for row in answer.json()["items"]:
        requests, input_tokens, output_tokens = totals.get(row["kind"], (0, 0, 0))
        totals[row["kind"]] = (
            requests + row["requests"],
            input_tokens + row["input_tokens"],
            output_tokens + row["output_tokens"],
        )
    return totals


def served(llm: FakeOpenAIThread) -> dict[str, tuple[int, int, int]]:
    bill = llm.fake.served
    return {
        kind: (bill.requests[kind], bill.input_tokens[kind], bill.output_tokens[kind])
        for kind in bill.requests
    }


def generations_served(llm: FakeOpenAIThread) -> tuple[int, int, int]:
    return served(llm).get("generation", (0, 0, 0))


def test_the_usage_book_is_what_the_gateway_billed(
    agent: AgentProcess, llm: FakeOpenAIThread
) -> None:
    client = ParlantClient(base_url=agent.url)
    fake = llm.fake

    # A draft answered 500 once: the SDK retries it, the turn answers.
    session = new_session(client)
    before = generations_served(llm)
    fake.fault_requests, fake.fault_schema, fake.fault = 1, "CannedResponseDraftSchema", "http_500"
    reply = wait_for_ai_reply(client, session, say(client, session, "What does my policy cover?"))
    assert "POL-1001" in reply.data["message"]
    after = generations_served(llm)
    # The reply's usage is every generation its turn made that the gateway answered.
    usage = _usage_of(client, session, reply.offset)
    assert usage["input_tokens"] == after[1] - before[1]
    assert usage["output_tokens"] == after[2] - before[2]
    assert usage["generations"] == after[0] - before[0] - 1  # the 500 carried no tokens
    llm.clear_fault()

    # Malformed drafts, which Parlant rejects: the turn ends without a reply, its tokens billed.
    fake.fault_schema, fake.fault = "CannedResponseDraftSchema", "malformed"
    session = new_session(client)
    asked = say(client, session, "What does my policy cover?")
    wait_for_ai_reply(client, session, asked)  # the honest line of agent/ai_failure.py
    llm.clear_fault()

    deadline = time.monotonic() + 30
    while billed(agent) != served(llm):
        assert time.monotonic() < deadline, (billed(agent), served(llm))
        time.sleep(0.5)
    book = billed(agent)
    assert set(book) == {"generation", "embedding"}
    assert book["generation"][1] > 0 and book["embedding"][1] > 0


def _usage_of(client: ParlantClient, session: str, offset: int) -> dict[str, Any]:
    """The reply's llm_usage, once the agent has written it (just after the reply)."""
    deadline = time.monotonic() + 20
    while True:
        events = client.sessions.list_events(session, kinds="message", wait_for_data=0)
        reply = next(e for e in events if e.offset == offset)
        usage = (reply.metadata or {}).get("llm_usage")
        if usage:
            return dict(usage)
        assert time.monotonic() < deadline, "the reply never got its usage"
        time.sleep(0.2)
