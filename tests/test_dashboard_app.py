"""The dashboard's pages run headless (AppTest) against a real Parlant server with the offline NLP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pandas as pd  # type: ignore[import-untyped]
import pytest
import streamlit as st
from parlant.client import ParlantClient
from streamlit.testing.v1 import AppTest

from dashboard.auth import UNLOCKED_KEY
from handoff import actions
from handoff.actions import Operator
from handoff.learning import Why, resolve_tag
from handoff.operator_api import AsyncOperatorClient
from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say, wait_for_ai_reply

APP = "../dashboard/app.py"
DASHBOARD_URL = "http://dashboard.test:8501"
DANA = Operator(id="slack:U0DANA", name="Dana", origin="slack")
LEE = Operator(id="slack:U0LEE", name="Lee", origin="slack")
PASSWORD = "correct horse battery"
HOSTILE = "<script>alert(1)</script> **bold** [bank](https://evil) <!channel>"


@pytest.fixture(autouse=True)
def dashboard_env(agent: AgentProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PARLANT_URL", agent.url)
    monkeypatch.setenv("DASHBOARD_URL", DASHBOARD_URL)
    monkeypatch.setenv("DOTENV_PATH", "/nonexistent/.env")
    monkeypatch.delenv("DASHBOARD_PASSWORD", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield


def hand_off(client: ParlantClient, text: str = "I want to talk to a human") -> str:
    session = new_session(client)
    wait_for_ai_reply(client, session, say(client, session, text))
    deadline = time.monotonic() + 20
    while client.sessions.retrieve(session).mode != "manual":
        assert time.monotonic() < deadline, "session never went manual"
        time.sleep(0.2)
    return session


def act(agent: AgentProcess, action: Any, session: str, *args: Any) -> Any:
    async def go() -> Any:
        return await action(AsyncOperatorClient(base_url=agent.url), session, *args)

    return asyncio.run(go())


def state_of(client: ParlantClient, session: str) -> tuple[str, dict[str, Any]]:
    """The session's mode and handoff record."""
    found = client.sessions.retrieve(session)
    return str(found.mode), dict(found.metadata.get("handoff") or {})


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def queue_page() -> AppTest:
    return run(AppTest.from_file(APP, default_timeout=30))


def session_page(session: str, supervisor: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    if supervisor:
        at.session_state["supervisor_name"] = supervisor
    at.query_params["session"] = session
    return run(at)


def queue_table(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value.set_index("session id")


def click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click()
    return run(at)


def transcript(at: AppTest) -> list[tuple[str, str, str]]:
    """(role, caption, text) of each chat bubble."""
    bubbles = []
    for bubble in at.chat_message:
        captions = [c.value for c in bubble.caption]
        texts = [t.value for t in bubble.text]
        bubbles.append((bubble.name, captions[0] if captions else "", texts[0] if texts else ""))
    return bubbles


def test_queue_shows_the_handed_off_session_with_status_reason_and_links(
    client: ParlantClient,
) -> None:
    session = hand_off(client)

    row = queue_table(queue_page()).loc[session]

    assert row["status"] == "waiting"
    assert "human" in row["reason"]
    assert row["session"] == f"{DASHBOARD_URL}/session?session={session}"
    assert row["assignee"] == ""
    assert row["customer"] == "Sam Carter"  # the sample customer's name, not its id


def report_slack_backlog(agent: AgentProcess, channels: dict[str, Any]) -> None:
    answer = httpx.put(
        f"{agent.url}/escalations/slack-backlog",
        json={"reporter": "bridge-a", "channels": channels},
        timeout=10,
    )
    assert answer.status_code == 204, answer.text


def test_queue_says_which_slack_channel_is_behind(agent: AgentProcess) -> None:
    """A bridge reports one channel four minutes behind and one a few seconds: the queue
    warns about the first only (SLACK_BEHIND_AFTER_SECONDS, two minutes by default)."""
    report_slack_backlog(
        agent,
        {
            "C0BUSY": {"waiting": 37, "oldest_wait_seconds": 250},
            "C0CALM": {"waiting": 2, "oldest_wait_seconds": 3},
        },
    )
    try:
        warnings = [w.value for w in queue_page().warning]
        assert any("C0BUSY is behind: 37 customer messages" in w for w in warnings), warnings
        assert not any("C0CALM" in w for w in warnings)
    finally:
        report_slack_backlog(agent, {})
    st.cache_data.clear()
    assert not any("is behind" in w.value for w in queue_page().warning)


def test_queue_filters_by_status_assignee_date_and_transcript_text(
    client: ParlantClient, agent: AgentProcess
) -> None:
    waiting = hand_off(client)
    claimed = hand_off(client)
    act(agent, actions.claim, claimed, DANA)
    say(client, waiting, "the zebra ate my windscreen")
    at = queue_page()
    assert {waiting, claimed} <= set(queue_table(at).index)

    at.multiselect(key="queue_status").set_value(["claimed"])
    shown = set(queue_table(run(at)).index)
    assert claimed in shown and waiting not in shown

    at.multiselect(key="queue_status").set_value(["waiting", "claimed"])
    at.multiselect(key="queue_operator").set_value(["Dana"])
    assert set(queue_table(run(at))["assignee"]) == {"Dana"}

    at.multiselect(key="queue_operator").set_value([])
    at.text_input(key="queue_search").input("ZEBRA windscreen")
    assert list(queue_table(run(at)).index) == [waiting]

    at.text_input(key="queue_search").input("")
    at.date_input(key="queue_since").set_value(date.today() + timedelta(days=2))
    assert queue_table(run(at)).empty


def test_queue_reads_open_handoffs_and_closed_ones_only_when_asked(
    client: ParlantClient, agent: AgentProcess
) -> None:
    still_open = hand_off(client)
    resolved = hand_off(client)
    act(agent, actions.resolve, resolved, DANA)
    at = queue_page()
    shown = set(queue_table(at).index)
    assert still_open in shown and resolved not in shown
    assert not [b for b in at.button if b.key == "queue_more"]

    at.multiselect(key="queue_status").set_value(["resolved"])
    table = queue_table(run(at))
    assert resolved in set(table.index) and still_open not in set(table.index)
    assert table.loc[resolved, "status"] == "resolved"
    assert "most recently closed" in at.caption[-1].value
    assert [b for b in at.button if b.key == "queue_more"]


def test_deep_link_opens_the_transcript_with_every_source_labelled(
    client: ParlantClient, agent: AgentProcess
) -> None:
    session = hand_off(client)
    act(agent, actions.send_as_human, session, DANA, "Hi, Dana here.")
    act(agent, actions.send_as_ai, session, LEE, "Writing as the assistant.")
    act(agent, actions.add_note, session, DANA, "Customer sounds upset")
    handback = act(agent, actions.return_to_ai, session, LEE, "Refund already promised")
    # The AI writes to the customer at once; the page is read once it has.
    handed_back_at = next(
        e.offset
        for e in client.sessions.list_events(session, kinds="custom", wait_for_data=0)
        if e.id == handback.event_id
    )
    back = str(wait_for_ai_reply(client, session, handed_back_at).data["message"])

    at = session_page(session)

    assert [(role, caption.split(" · ")[0], text) for role, caption, text in transcript(at)] == [
        ("customer", "Customer", "I want to talk to a human"),
        ("tool", "Tool calls", ""),
        ("ai", "AI agent", transcript(at)[2][2]),
        ("human", "Dana \\(human operator\\)", "Hi, Dana here."),
        ("human_as_ai", "AI agent, written by Lee", "Writing as the assistant."),
        ("note", "Internal note by Dana \\(not shown to the customer\\)", "Customer sounds upset"),
        ("handback", "Handed back to the AI by Lee", "Handback note: Refund already promised"),
        ("ai", "AI agent", back),
    ]
    assert "Tool: initiate\\_human\\_handoff" in [e.label for e in at.expander]
    steps = at.dataframe[0].value
    assert list(steps["step"]) == ["handed off", "claimed", "first human reply", "returned to AI"]
    assert list(steps["by"]) == ["AI agent", "Dana", "Dana", "Lee"]
    # Back with the AI: the note it continues from is shown above the transcript.
    assert "Handback note\\: Refund already promised" in [i.value for i in at.info]


def test_new_events_appear_on_the_next_refresh_fetching_only_new_ones(
    client: ParlantClient, agent: AgentProcess
) -> None:
    session = hand_off(client)
    at = session_page(session)
    seen = at.session_state[f"transcript:{session}"].next_offset
    before = len(transcript(at))

    act(agent, actions.send_as_human, session, DANA, "Still there?")
    run(at)

    assert len(transcript(at)) == before + 1
    assert transcript(at)[-1][2] == "Still there?"
    cache = at.session_state[f"transcript:{session}"]
    assert cache.next_offset > seen
    assert [e.offset for e in cache.events] == sorted({e.offset for e in cache.events})


def test_stepping_in_runs_each_action_against_parlant(client: ParlantClient) -> None:
    session = hand_off(client)
    at = session_page(session, supervisor="Sam Supervisor")

    click(at, "Claim")
    record = state_of(client, session)[1]
    assert record["status"] == "claimed"
    assert record["claimed_by"] == {"id": "dashboard:sam-supervisor", "name": "Sam Supervisor"}
    assert not [b for b in at.button if b.label == "Claim"]  # claimed: nothing left to claim

    for label, text in [
        ("Send as me", "Sam here"),
        ("Send as the AI", "As the AI"),
        ("Add internal note", "needs a callback"),
    ]:
        at.text_area(key="reply_text").input(text)
        click(at, label)
    events = client.sessions.list_events(session, min_offset=0, wait_for_data=0)
    mine = [
        e
        for e in events
        if (e.metadata.get("operator") or {}).get("id") == "dashboard:sam-supervisor"
    ]
    assert [(e.source, e.kind) for e in mine] == [
        ("human_agent", "message"),
        ("human_agent_on_behalf_of_ai_agent", "message"),
        ("human_agent", "custom"),
    ]
    assert (mine[0].data or {})["participant"]["display_name"] == "Sam Supervisor"

    # A handback needs a note, as in Slack: without one nothing changes.
    click(at, "Return to AI")
    assert "Write a short note for the AI" in at.error[0].value
    assert state_of(client, session)[1]["status"] == "claimed"
    at.text_area(key="handback_note").input("Customer is happy")
    click(at, "Return to AI")
    mode, record = state_of(client, session)
    assert (mode, record["status"]) == ("auto", "returned")
    handback = client.sessions.list_events(session, kinds="custom", wait_for_data=0)[-1]
    assert (handback.data or {})["note"] == "Customer is happy"

    at.text_area(key="reply_text").input("too late")
    click(at, "Send as me")
    assert "take it over first" in at.error[0].value

    click(at, "Take over")
    mode, record = state_of(client, session)
    assert (mode, record["status"]) == ("manual", "claimed")

    # Resolving asks why the AI could not finish, as in Slack: without a reason nothing changes.
    click(at, "Resolve")
    assert "Choose why the AI could not finish" in at.error[0].value
    assert state_of(client, session)[1]["status"] == "claimed"
    at.radio(key="resolve_why").set_value(Why.AI_MISTAKE)
    at.text_area(key="resolve_answer").input("Towing is covered up to 50 miles.")
    click(at, "Resolve")
    mode, record = state_of(client, session)
    assert (mode, record["status"]) == ("auto", "resolved")
    assert at.success[0].value.startswith("Resolved")
    assert record["learning"]["why"] == "ai_mistake"
    assert record["learning"]["answer"] == "Towing is covered up to 50 miles."
    assert record["learning"]["by"] == {"id": "dashboard:sam-supervisor", "name": "Sam Supervisor"}


def test_a_reply_as_the_ai_that_breaks_a_rule_is_held_until_sent_anyway(
    client: ParlantClient,
) -> None:
    """agent/ai_reply_rules.py from the dashboard: held, nothing stored, the reason shown;
    *Send anyway as the AI* stores it once with the rule it went out despite."""
    session = hand_off(client)
    at = session_page(session, supervisor="Sam Supervisor")
    promise = "Your claim will definitely be approved."
    at.text_area(key="reply_text").input(promise)
    click(at, "Send as the AI")
    assert any("never promises a claim's outcome" in w.value for w in at.warning)

    def as_ai() -> list[Any]:
        return [
            e
            for e in client.sessions.list_events(session, wait_for_data=0)
            if e.source == "human_agent_on_behalf_of_ai_agent"
        ]

    assert as_ai() == []
    click(at, "Send anyway as the AI")
    [sent] = as_ai()
    assert sent.data["message"] == promise
    assert sent.metadata["sent_despite_rule"] == "guaranteed_approval"
    assert not [b for b in at.button if b.label == "Send anyway as the AI"]


def test_actions_need_a_supervisor_name(client: ParlantClient) -> None:
    at = session_page(hand_off(client))

    assert "Enter your name" in at.info[0].value
    assert not [b for b in at.button if b.label == "Claim"]


def signed_in(at: AppTest) -> AppTest:
    """The browser session showed a valid sign-in cookie (the /signin route sets it; AppTest
    cannot send cookies, see tests/test_dashboard_signin.py for the real thing)."""
    at.session_state[UNLOCKED_KEY] = time.time() + 3600
    return at


def test_password_gate_shows_nothing_without_a_sign_in(
    client: ParlantClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    hand_off(client)
    monkeypatch.setenv("DASHBOARD_PASSWORD", PASSWORD)
    at = queue_page()
    assert [b.proto.url for b in at.get("link_button")] == ["/signin"]
    assert not at.dataframe and not at.metric and not at.sidebar.children

    at = signed_in(AppTest.from_file(APP, default_timeout=60))
    at.run()
    assert len(at.dataframe) == 1
    assert [b.proto.url for b in at.get("link_button")] == ["/signout"]


def test_an_expired_sign_in_shows_nothing(
    client: ParlantClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHBOARD_PASSWORD", PASSWORD)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[UNLOCKED_KEY] = time.time() - 1
    at.run()
    assert not at.dataframe and [b.proto.url for b in at.get("link_button")] == ["/signin"]


def test_hostile_customer_text_is_shown_as_plain_text(client: ParlantClient) -> None:
    session = hand_off(client, f"{HOSTILE} I want to talk to a human")
    say(client, session, HOSTILE)

    at = session_page(session)

    assert HOSTILE in [t.value for t in at.text]
    rendered_as_markdown = [m.value for m in (*at.markdown, *at.caption, *at.title, *at.subheader)]
    for live in ("<script>", "**bold**", "[bank](https://evil)", "<!channel>"):
        assert not any(live in value for value in rendered_as_markdown), live


def everything_rendered(at: AppTest) -> str:
    return "\n".join(str(node.proto) for node in (*at.main, *at.sidebar))


def test_card_number_masked_in_slack_is_shown_in_full_only_after_sign_in(
    client: ParlantClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = "4242 4242 4242 4242"  # what SLACK_MASK's default hides in the Slack copy
    session = hand_off(client)
    say(client, session, f"My card number is {card}")
    monkeypatch.setenv("DASHBOARD_PASSWORD", PASSWORD)

    at = session_page(session)
    assert [b.proto.url for b in at.get("link_button")] == ["/signin"]
    assert card not in everything_rendered(at) and "4242" not in everything_rendered(at)

    at = signed_in(AppTest.from_file(APP, default_timeout=60))
    at.query_params["session"] = session
    at.run()
    assert f"My card number is {card}" in [t.value for t in at.text]


def test_unknown_session_id_is_a_clear_message(client: ParlantClient) -> None:
    at = session_page("no-such-session")

    assert "No session with id no\\-such\\-session" in at.error[0].value
    assert not at.chat_message


def test_insights_page_charts_the_handoffs(client: ParlantClient, agent: AgentProcess) -> None:
    session = hand_off(client)
    act(agent, actions.send_as_human, session, DANA, "Hello")
    at = queue_page()
    at.switch_page("views/insights.py")
    run(at)

    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Handoffs"]) >= 1
    assert metrics["First human reply, median"] != "–"
    # per day, per reason, response times, breaches per day (+ per reason once any breach)
    assert len(at.get("vega_lite_chart")) >= 4


def test_insights_show_what_customers_rated_after_a_resolve(
    client: ParlantClient, agent: AgentProcess
) -> None:
    session = hand_off(client)
    act(agent, actions.send_as_human, session, DANA, "Fixed it for you.")
    act(agent, actions.resolve, session, DANA)
    wait_for_ai_reply(client, session, say(client, session, "4 - quick, thank you Dana"))
    at = queue_page()
    at.switch_page("views/insights.py")
    run(at)
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Rated"]) >= 1
    assert metrics["Average (1-5)"] != "–"
    shown = " ".join(str(frame.value.to_dict()) for frame in at.dataframe)
    assert "quick, thank you Dana" in shown and "Dana" in shown


def test_the_learning_page_says_what_a_proposal_lacks_and_proposes_it(
    client: ParlantClient, agent: AgentProcess
) -> None:
    """The agent's own checks (handoff/learned.py) reach the supervisor as they are; a valid
    proposal is listed for review with its conversation."""
    session = hand_off(client, "I want a human, my windscreen cracked in the frost")
    # Tagged "other", which no other test of this module's agent uses: its group is the only one.
    act(agent, actions.resolve, session, DANA, resolve_tag("other", "Glass is covered."))
    at = queue_page()
    at.session_state["supervisor_name"] = "Sam Supervisor"
    at.switch_page("views/learning.py")
    run(at)
    at.multiselect(key="learning_whys").set_value([Why.OTHER])
    run(at)

    def field(label: str) -> Any:
        return next(t for t in [*at.text_input, *at.text_area] if t.label == label)

    # The offline line starts as the operator's answer.
    assert field("What the AI says (offline)").value == "Glass is covered."
    click(at, "Propose")
    assert "Write the condition." in at.error[0].value
    assert not [m for m in at.markdown if m.value == "**Proposed guideline**"]

    field("When (the condition)").input("The customer asks whether windscreen damage is covered")
    field("Then (the action)").input("Say glass damage is covered")
    click(at, "Propose")
    assert not at.error, [e.value for e in at.error]
    shown = " ".join(t.value for t in at.text)
    assert "When: The customer asks whether windscreen damage is covered" in shown
    # Beside it, what was said in the conversation it came from.
    assert "I want a human, my windscreen cracked in the frost" in shown


def test_queue_marks_a_breach_and_insights_chart_it(
    client: ParlantClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLA_CLAIM_TARGET_MINUTES", "0.01")
    monkeypatch.setenv("SLA_FIRST_REPLY_TARGET_MINUTES", "0.02")
    session = hand_off(client)
    time.sleep(1.5)  # past both sub-second targets

    at = queue_page()
    assert queue_table(at).loc[session, "SLA"] == "🔴 claim and first reply breached"
    assert any("breached" in w.value for w in at.warning)

    page = session_page(session)
    lines = [t.value for t in page.text if t.value.startswith("SLA")]
    assert len(lines) == 2 and all("breached, running" in line for line in lines)

    at.switch_page("views/insights.py")
    run(at)
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Claim target (0 s) breached"]) >= 1
    # the two breach charts included; no tokens per day: the offline service's replies spend
    # none (test_dashboard_tokens.py)
    assert len(at.get("vega_lite_chart")) == 5


def test_oidc_login_is_required_when_auth_is_configured(client: ParlantClient) -> None:
    hand_off(client)
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["auth"] = {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": "test-cookie-secret",
        "client_id": "dashboard",
        "client_secret": "test-client-secret",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
    }
    run(at)
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.dataframe and not at.sidebar.children

    at.user["is_logged_in"] = True
    at.user["name"] = "Olga Oidc"
    run(at)
    assert len(at.dataframe) == 1
    assert "Signed in as Olga Oidc" in [c.value for c in at.sidebar.caption]


def test_session_page_shows_what_the_ai_knew_at_handoff(client: ParlantClient) -> None:
    session = new_session(client)
    wait_for_ai_reply(client, session, say(client, session, "What does my policy cover?"))
    hand_off_in = say(client, session, "I want to talk to a human")
    wait_for_ai_reply(client, session, hand_off_in)

    at = session_page(session)

    [packet] = [e for e in at.expander if e.label == "What the AI knew at handoff"]
    lines = [t.value for t in packet.text]
    assert lines[0] == (
        "Journey: Explain Policy Coverage – step: "
        "Explain the coverage from the policy details in plain words, without legal interpretation"
    )
    assert any(line.startswith("• When the customer asks to speak with a human") for line in lines)
    [policy_call] = [line for line in lines if line.startswith("• get_policy_details(): ")]
    assert "POL-1001" in policy_call
    assert not any("initiate_human_handoff()" in line for line in lines)


def test_session_page_says_who_answers_and_names_the_customer(client: ParlantClient) -> None:
    """It said "AI mode: manual" (Parlant's word) and showed the customer's id only."""
    at = session_page(hand_off(client))

    assert "Status: waiting · the AI is paused; a person answers" in [s.value for s in at.subheader]
    captions = [c.value.replace("\\", "") for c in at.caption]  # Markdown escapes taken out
    assert any(c.endswith("· customer Sam Carter (cust-sam)") for c in captions), captions
