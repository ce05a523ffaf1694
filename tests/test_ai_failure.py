"""When the AI fails, a person takes over (issue 28): through Parlant's real OpenAIService, the
openai SDK and HTTP against tests/fakes/fake_openai.py, a turn whose model answers malformed
drafts, 500s, 429s with Retry-After, nothing at all or an empty draft (a turn with no message)
gives the customer one honest line and
hands off with category ai_failure, within the turn's deadline; a turn that would need more
model calls than allowed does the same; a model that recovers after a 429 answers normally.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from parlant.client import ParlantClient

from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say, wait_for_ai_reply

if TYPE_CHECKING:
    from tests.fakes.fake_openai import FakeOpenAIThread

TROUBLE = "I'm having trouble answering; a person will pick this up."
DEADLINE_S = 6.0
# Time for the handoff itself and a loaded machine, beyond the deadline.
SLACK_S = 10.0


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIThread]:
    from tests.fakes.fake_openai import FakeOpenAI

    fake = FakeOpenAI().run_in_thread()
    yield fake
    fake.stop()


def _start(llm: FakeOpenAIThread, home: Path, **env: str) -> AgentProcess:
    return AgentProcess(home=home, extra_env={**llm.fake.env(), **env}).start()


@pytest.fixture(scope="module")
def guarded(llm: FakeOpenAIThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    agent = _start(
        llm,
        tmp_path_factory.mktemp("ai-failure") / "parlant",
        AI_TURN_TIMEOUT_SECONDS=str(DEADLINE_S),
    )
    yield ParlantClient(base_url=agent.url)
    agent.stop()


@pytest.fixture
def fault(llm: FakeOpenAIThread) -> Iterator[Any]:
    """Sets the fake's fault for one test; the model is healthy again afterwards."""
    fake = llm.fake

    def set_fault(kind: str, requests: int | None = None, schema: str | None = None) -> None:
        fake.fault_requests = requests
        fake.fault_schema = schema
        fake.fault = kind

    yield set_fault
    llm.clear_fault()


def _handed_off_for_ai_failure(client: ParlantClient, session: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        state = client.sessions.retrieve(session)
        record = (state.metadata or {}).get("handoff")
        if state.mode == "manual" and isinstance(record, dict):
            return record
        assert time.monotonic() < deadline, f"no handoff: mode {state.mode}, record {record}"
        time.sleep(0.2)


def _fails_over(client: ParlantClient, text: str = "What does my policy cover?") -> None:
    session = new_session(client)
    started = time.monotonic()
    asked = say(client, session, text)
    reply = wait_for_ai_reply(client, session, asked, timeout=DEADLINE_S + SLACK_S + 30)
    took = time.monotonic() - started
    assert reply.data["message"] == TROUBLE
    record = _handed_off_for_ai_failure(client, session)
    assert record["reason_category"] == "ai_failure", record
    assert record["reason"].startswith("AI failure"), record
    assert took < DEADLINE_S + SLACK_S, f"the customer waited {took:.1f} s"
    # One honest line, nothing else from the AI.
    ai_messages = [
        e
        for e in client.sessions.list_events(session, kinds="message", wait_for_data=0)
        if e.source == "ai_agent"
    ]
    assert [m.data["message"] for m in ai_messages] == [TROUBLE]


@pytest.mark.parametrize(
    ("kind", "schema"),
    [
        ("http_500", None),
        ("malformed", "CannedResponseDraftSchema"),  # matching works; every draft is prose
        ("rate_limited", None),
        ("hang", None),
        ("silent", None),
    ],
)
def test_a_failing_model_gives_one_honest_line_and_a_handoff(
    kind: str, schema: str | None, guarded: ParlantClient, fault: Any
) -> None:
    fault(kind, schema=schema)
    _fails_over(guarded)


def test_a_model_that_recovers_after_a_429_answers_normally(
    guarded: ParlantClient, fault: Any
) -> None:
    fault("rate_limited", requests=1)
    session = new_session(guarded)
    asked = say(guarded, session, "What does my policy cover?")
    reply = wait_for_ai_reply(guarded, session, asked, timeout=60)
    assert "POL-1001" in reply.data["message"]
    assert guarded.sessions.retrieve(session).mode == "auto"


def test_a_turn_past_its_model_calls_hands_off(
    llm: FakeOpenAIThread, tmp_path_factory: pytest.TempPathFactory
) -> None:
    agent = _start(
        llm, tmp_path_factory.mktemp("ai-calls") / "parlant", AI_TURN_MAX_MODEL_CALLS="3"
    )
    try:
        before = llm.fake.requests
        _fails_over(ParlantClient(base_url=agent.url))
        # A normal turn asks the model a dozen questions or more; this one three, each of which
        # may reach the model at most three times (the openai SDK retries twice).
        assert llm.fake.requests - before <= 3 * 3, llm.fake.schemas[before:]
    finally:
        agent.stop()
