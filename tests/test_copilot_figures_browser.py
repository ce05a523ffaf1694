"""The copilot's figures end to end: a real agent holds `ai:` replies (one then sent anyway,
one edited, one left) and records them in the session, the bridge's own calls record a draft
offered and one edited, and the insights page shows the counts in a real browser (chromium).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from parlant.client import ParlantClient
from playwright.sync_api import Page, expect, sync_playwright

from handoff import actions
from handoff.actions import Operator
from handoff.copilot_events import AI_REPLY_HELD, COPILOT_LABEL
from handoff.operator_api import AsyncOperatorClient
from tests.support.agent_process import AgentProcess
from tests.support.browser import CHROMIUM_ARGS, docs_screenshot
from tests.support.chat import new_session, say, wait_for_ai_reply
from tests.support.dashboard_process import running_dashboard

DANA = Operator("slack:U0DANA", "Dana", "slack")
PROMISE = "Good news: your claim has guaranteed approval."


@pytest.fixture(scope="module")
def own_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """An agent of its own: the copilot sessions it counts are this module's only."""
    process = AgentProcess(home=tmp_path_factory.mktemp("figures") / "parlant").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def dashboard(own_agent: AgentProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_dashboard(own_agent.url, tmp_path_factory.mktemp("dashboard"), {}) as running:
        yield running.url


def handed_off(client: ParlantClient) -> str:
    session = new_session(client)
    wait_for_ai_reply(client, session, say(client, session, "I want to talk to a human"))
    deadline = time.monotonic() + 20
    while client.sessions.retrieve(session).mode != "manual":
        assert time.monotonic() < deadline, "session never went manual"
        time.sleep(0.2)
    return session


def slack(ts: str) -> dict[str, dict[str, str]]:
    return {"slack": {"channel": "C0CLAIMS", "ts": ts, "thread_ts": "1.0", "user": "U0DANA"}}


async def held(api: AsyncOperatorClient, session: str, text: str, ts: str) -> str:
    with pytest.raises(actions.ReplyHeld) as refused:
        await actions.send_as_ai(api, session, DANA, text, slack(ts))
    return refused.value.rule


async def operate(url: str, session: str) -> None:
    api = AsyncOperatorClient(base_url=url)
    assert await held(api, session, PROMISE, "2.0") == "guaranteed_approval"
    await actions.send_as_ai(api, session, DANA, PROMISE, slack("2.0"), "guaranteed_approval")
    assert await held(api, session, "Call 555-123-4567.", "3.0") == "phone_number"
    await actions.send_as_ai(api, session, DANA, "Call +1-555-INSURE.", slack("3.0"))
    assert await held(api, session, "We admit liability.", "4.0") == "admit_liability"
    await actions.record_draft_offered(api, session, "5.0")
    await actions.record_draft_outcome(
        api, session, DANA, "edited", "5.0", "Draft edited and sent by Dana."
    )
    await actions.record_draft_offered(api, session, "6.0")  # not decided yet


def row(page: Page, label: str) -> list[str]:
    """A table row's counts (the row's label is its header cell), once it is shown."""
    found = page.get_by_role("row").filter(has_text=label).first
    expect(found).to_be_visible(timeout=30_000)
    return [c.strip() for c in found.get_by_role("cell").all_inner_texts()]


def test_held_replies_and_drafts_reach_the_insights_page(
    chromium: Path, dashboard: str, own_agent: AgentProcess
) -> None:
    client = ParlantClient(base_url=own_agent.url)
    session = handed_off(client)
    asyncio.run(operate(own_agent.url, session))

    assert COPILOT_LABEL in (client.sessions.retrieve(session).labels or [])
    holds = [
        e
        for e in client.sessions.list_events(session, kinds="custom", wait_for_data=0)
        if (e.data or {}).get("type") == AI_REPLY_HELD
    ]
    assert [h.data["rule"] for h in holds] == [
        "guaranteed_approval",
        "phone_number",
        "admit_liability",
    ]
    assert all("admit liability" not in str(h.data) for h in holds)  # the text is never kept
    metrics = httpx.get(f"{own_agent.url}/metrics").text
    assert 'ai_replies_held_total{rule="admit_liability"} 1.0' in metrics

    now = datetime.now(UTC).date()
    week = (now - timedelta(days=now.weekday())).isoformat()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(f"{dashboard}/insights")
            expect(page.get_by_role("heading", name="Drafts in the thread")).to_be_visible(
                timeout=30_000
            )
            # offered, sent as is, edited, dismissed
            assert row(page, week)[-4:] == ["2", "0", "1", "0"]
            # held, sent anyway, edited, not sent
            assert row(page, "guaranteed_approval")[-4:] == ["1", "1", "0", "0"]
            assert row(page, "phone_number")[-4:] == ["1", "0", "1", "0"]
            assert row(page, "admit_liability")[-4:] == ["1", "0", "0", "1"]
            page.get_by_role("tab", name="Drafts per operator").click()
            assert row(page, "Dana")[-3:] == ["0", "1", "0"]
            page.get_by_role("heading", name="Drafts in the thread").scroll_into_view_if_needed()
            docs_screenshot(page, "dashboard-copilot-figures.png")
        finally:
            browser.close()
