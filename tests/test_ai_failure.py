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

import httpx
import pytest
from parlant.client import ParlantClient

from tests.support.agent_process import AgentProcess, copy_evaluations
from tests.support.chat import new_session, say, wait_for_ai_reply

# The dashboard process of the browser test, serving this module's `agent` (defined below).
from tests.test_dashboard_browser import dashboard  # noqa: F401

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
def guarded_agent(
    llm: FakeOpenAIThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    agent = _start(
        llm,
        tmp_path_factory.mktemp("ai-failure") / "parlant",
        AI_TURN_TIMEOUT_SECONDS=str(DEADLINE_S),
    )
    yield agent
    agent.stop()


@pytest.fixture(scope="module")
def guarded(guarded_agent: AgentProcess) -> ParlantClient:
    return ParlantClient(base_url=guarded_agent.url)


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


def failed_turns_recorded(client: ParlantClient, session: str) -> list[dict[str, Any]]:
    """The failed-turn records in the session (handoff/failed_turn.py), once it is labelled."""
    deadline = time.monotonic() + 20
    while "ai_failure" not in (client.sessions.retrieve(session).labels or []):
        assert time.monotonic() < deadline, "the session was never labelled ai_failure"
        time.sleep(0.2)
    events = client.sessions.list_events(session, kinds="custom", wait_for_data=0)
    return [e.data or {} for e in events if (e.data or {}).get("type") == "ai_turn_failed"]


def _fails_over(client: ParlantClient, text: str = "What does my policy cover?") -> str:
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
    return session


@pytest.mark.parametrize(
    ("kind", "schema", "causes"),
    [
        ("http_500", None, {"error", "deadline"}),
        # Guideline matching works; every draft is prose, which Parlant drops: no reply.
        ("malformed", "CannedResponseDraftSchema", {"no_reply", "error"}),
        # The SDK and Parlant wait out Retry-After: an error or the deadline, whichever is first.
        ("rate_limited", None, {"error", "deadline"}),
        ("hang", None, {"deadline"}),
        ("silent", None, {"no_reply"}),
    ],
)
def test_a_failing_model_gives_one_honest_line_and_a_handoff(
    kind: str,
    schema: str | None,
    causes: set[str],
    guarded: ParlantClient,
    guarded_agent: AgentProcess,
    fault: Any,
) -> None:
    fault(kind, schema=schema)
    session = _fails_over(guarded)
    # Recorded for supervisors: one failed turn, its cause, handed off, and counted.
    [recorded] = failed_turns_recorded(guarded, session)
    assert recorded["cause"] in causes, recorded
    assert recorded["handed_off"] is True
    counted = failed_turns_counted(guarded_agent, recorded["cause"])
    assert counted >= 1


def failed_turns_counted(agent: AgentProcess, cause: str) -> float:
    """The agent's ai_turns_failed_total for `cause`, handed off."""
    metrics = httpx.get(f"{agent.url}/metrics", timeout=10).text
    for line in metrics.splitlines():
        labelled = f'cause="{cause}"' in line and 'handed_off="true"' in line
        if line.startswith("ai_turns_failed_total{") and labelled:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


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
    llm: FakeOpenAIThread, guarded_agent: AgentProcess, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("ai-calls") / "parlant"
    # The module's agent evaluated the same guidelines at its start: this one reuses that.
    copy_evaluations(guarded_agent.home, home)
    agent = _start(llm, home, AI_TURN_MAX_MODEL_CALLS="3")
    try:
        before = llm.fake.requests
        _fails_over(ParlantClient(base_url=agent.url))
        # A normal turn asks the model a dozen questions or more; this one three, each of which
        # may reach the model at most three times (the openai SDK retries twice).
        assert llm.fake.requests - before <= 3 * 3, llm.fake.schemas[before:]
    finally:
        agent.stop()


def test_supervisors_see_each_failed_turn_on_the_dashboard(
    guarded: ParlantClient,
    guarded_agent: AgentProcess,
    fault: Any,
    llm: FakeOpenAIThread,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    fault("silent")
    no_reply = _fails_over(guarded)
    fault("http_500")
    erred = _fails_over(guarded)
    llm.clear_fault()
    monkeypatch.setenv("PARLANT_URL", guarded_agent.url)
    monkeypatch.setenv("DASHBOARD_URL", "http://dashboard.test:8501")
    monkeypatch.setenv("DOTENV_PATH", "/nonexistent/.env")
    monkeypatch.delenv("DASHBOARD_PASSWORD", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()

    at = AppTest.from_file("../dashboard/app.py", default_timeout=30)
    at.run()
    at.switch_page("views/failed_turns.py")
    at.run()

    assert not at.exception, at.exception
    table = at.dataframe[0].value.set_index("session")
    assert table.loc[no_reply, "cause"] == "no reply"
    assert table.loc[erred, "cause"] in ("error", "deadline passed")
    assert table.loc[erred, "error"] == "InternalServerError (HTTP 500)"
    assert set(table.loc[[no_reply, erred], "handed off"]) == {"yes"}
    assert table.loc[erred, "transcript"] == (f"http://dashboard.test:8501/session?session={erred}")
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Failed AI turns"]) >= 2
    assert metrics["Not handed off"] == "0"

    # The session's transcript shows the failed turn where it happened.
    session_page = AppTest.from_file("../dashboard/app.py", default_timeout=30)
    session_page.query_params["session"] = erred
    session_page.run()
    assert not session_page.exception, session_page.exception
    texts = [t.value for bubble in session_page.chat_message for t in bubble.text]
    assert "Cause: error; handed off to a person." in texts or (
        "Cause: deadline passed; handed off to a person." in texts
    ), texts


@pytest.fixture(scope="module")
def agent(guarded_agent: AgentProcess) -> AgentProcess:
    """The agent `dashboard` (test_dashboard_browser.py's) serves: the one whose model fails."""
    return guarded_agent


def test_the_failed_turns_page_renders_in_a_real_browser(
    chromium: Path, guarded: ParlantClient, fault: Any, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.support.browser import CHROMIUM_ARGS, VIEWPORT

    dashboard_url = request.getfixturevalue("dashboard")

    fault("silent")
    _fails_over(guarded)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{dashboard_url}/failed-turns")
            expect(page.get_by_role("heading", name="Failed AI turns")).to_be_visible(
                timeout=30_000
            )
            expect(page.get_by_test_id("stDataFrame")).to_be_visible(timeout=30_000)
            failed = page.get_by_test_id("stMetric").filter(has_text="Failed AI turns")
            expect(failed.get_by_test_id("stMetricValue")).not_to_have_text("0")
            expect(page.get_by_role("link", name="Failed AI turns")).to_be_visible()  # the nav
        finally:
            browser.close()
