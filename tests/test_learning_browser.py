"""The learning loop's pages in a real browser (chromium via Playwright) against a real agent
and `python -m dashboard`: resolve with a reason on the session page, propose a guideline from
the tagged handoff on the Learning page, review it beside its conversation, accept it into the
agent's learned file, and see it on Insights."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from parlant.client import ParlantClient
from playwright.sync_api import Page, expect, sync_playwright

from tests.support.agent_process import AgentProcess
from tests.support.browser import CHROMIUM_ARGS, docs_screenshot
from tests.support.chat import new_session, say, wait_for_ai_reply
from tests.support.dashboard_process import running_dashboard

QUESTION = "Do you offer roadside assistance if my car breaks down?"
ANSWER = "Yes: roadside assistance comes with every car policy; call +1-555-INSURE for a tow."
CONDITION = "The customer asks whether roadside assistance is covered"


@pytest.fixture(scope="module")
def own_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """An agent of its own: its learned file and tagged handoffs are this module's only."""
    process = AgentProcess(home=tmp_path_factory.mktemp("learning") / "parlant").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def dashboard(own_agent: AgentProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_dashboard(own_agent.url, tmp_path_factory.mktemp("dashboard"), {}) as running:
        yield running.url


def handed_off(client: ParlantClient) -> str:
    session = new_session(client)
    wait_for_ai_reply(client, session, say(client, session, QUESTION))
    wait_for_ai_reply(client, session, say(client, session, "Then let me talk to a person"))
    deadline = time.monotonic() + 20
    while client.sessions.retrieve(session).mode != "manual":
        assert time.monotonic() < deadline, "session never went manual"
        time.sleep(0.2)
    return session


def sign(page: Page, name: str) -> None:
    page.get_by_label("Your name (kept with your actions)").fill(name)
    page.keyboard.press("Enter")


def test_resolve_propose_review_and_accept_in_a_real_browser(
    chromium: Path, dashboard: str, own_agent: AgentProcess
) -> None:
    client = ParlantClient(base_url=own_agent.url)
    session = handed_off(client)
    learned_file = Path(own_agent.env()["AGENT_LEARNED_FILE"])

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(f"{dashboard}/session?session={session}")
            expect(page.get_by_text(QUESTION, exact=True)).to_be_visible(timeout=30_000)
            sign(page, "Dana Operator")
            page.get_by_text("Missing knowledge").click()
            page.get_by_role("textbox", name="The answer the AI should have given (optional)").fill(
                ANSWER
            )
            page.get_by_role("button", name="Resolve").click()
            expect(page.get_by_text("Resolved; the AI answers from now on.")).to_be_visible(
                timeout=30_000
            )
            record = client.sessions.retrieve(session).metadata["handoff"]
            assert record["learning"]["why"] == "missing_knowledge"
            assert record["learning"]["answer"] == ANSWER

            page.goto(f"{dashboard}/learning")
            expect(page.get_by_role("heading", name="Learning from handoffs")).to_be_visible(
                timeout=30_000
            )
            sign(page, "Sam Supervisor")
            expect(page.get_by_text("1 tagged handoffs")).to_be_visible(timeout=30_000)
            # The operator's answer is already the offline line of the proposal.
            expect(page.get_by_role("textbox", name="What the AI says (offline)")).to_have_value(
                ANSWER
            )
            page.get_by_label("When (the condition)").fill(CONDITION)
            page.get_by_label("Then (the action)").fill(
                "Say roadside assistance comes with every car policy and give the number"
            )
            page.get_by_role("textbox", name="The customer's words, one per line").fill(
                "roadside assistance\nbreaks down"
            )
            page.get_by_role("button", name="Propose").click()
            expect(page.get_by_text("Proposed: review it below")).to_be_visible(timeout=30_000)
            expect(page.get_by_label("When (the condition)")).to_have_value("")

            # Side by side: the proposal and the conversation it came from.
            expect(page.get_by_text(f"When: {CONDITION}")).to_be_visible()
            expect(page.get_by_text("The conversations it came from", exact=True)).to_be_visible()
            page.get_by_text(f"When: {CONDITION}").scroll_into_view_if_needed()
            expect(page.get_by_text(QUESTION, exact=True)).to_be_visible()
            docs_screenshot(page, "dashboard-learning.png")

            page.get_by_role("button", name="Accept").click()
            expect(page.get_by_text("Accepted into the learned file")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("No proposals waiting.")).to_be_visible()
            [entry] = json.loads(learned_file.read_text())["entries"]
            assert entry["status"] == "accepted" and entry["condition"] == CONDITION
            assert entry["origin"]["sessions"] == [session]
            assert entry["origin"]["proposed_by"]["name"] == "Sam Supervisor"
            assert entry["origin"]["accepted_by"]["name"] == "Sam Supervisor"

            page.goto(f"{dashboard}/insights")
            expect(
                page.get_by_role("heading", name="Handoffs before and after a learned change")
            ).to_be_visible(timeout=30_000)
            expect(page.get_by_text(f"Per week: {CONDITION}")).to_be_visible(timeout=30_000)
        finally:
            browser.close()
