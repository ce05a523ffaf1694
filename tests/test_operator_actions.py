"""The shared operator actions against a real Parlant server (the bridge and dashboard use these)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest
from parlant.client import ParlantClient

from handoff import actions, satisfaction
from handoff.actions import Operator
from handoff.operator_api import AsyncOperatorClient
from handoff.record import HandoffNotActive
from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say, wait_for_ai_reply

DANA = Operator(id="slack:U0DANA", name="Dana", origin="slack")
LEE = Operator(id="dashboard:lee", name="Lee", origin="dashboard")


def handed_off_session(client: ParlantClient) -> str:
    session = new_session(client)
    asked = say(client, session, "I want to talk to a human")
    wait_for_ai_reply(client, session, asked)
    deadline = time.monotonic() + 20
    while client.sessions.retrieve(session).mode != "manual":
        assert time.monotonic() < deadline, "session never went manual"
        time.sleep(0.2)
    return session


def run(coro):
    return asyncio.run(coro)


def test_human_reply_claims_and_keeps_first_reply_time(
    client: ParlantClient, agent: AgentProcess
) -> None:
    session = handed_off_session(client)

    async def go() -> None:
        api = AsyncOperatorClient(base_url=agent.url)
        event = await actions.send_as_human(api, session, DANA, "Hi, Dana here.")
        assert event.source == "human_agent"
        assert event.data["participant"] == {"id": DANA.id, "display_name": "Dana"}
        await actions.send_as_ai(api, session, LEE, "Following up as the assistant.")

    run(go())
    record = client.sessions.retrieve(session).metadata["handoff"]
    assert record["status"] == "claimed"
    assert record["claimed_by"] == {"id": DANA.id, "name": "Dana"}
    assert record["first_human_reply_at"] == record["claimed_at"]
    on_behalf = [
        e
        for e in client.sessions.list_events(session, wait_for_data=0)
        if e.source == "human_agent_on_behalf_of_ai_agent"
    ]
    assert on_behalf[0].metadata["operator"]["name"] == "Lee"


def test_return_to_ai_lets_the_ai_answer_again(client: ParlantClient, agent: AgentProcess) -> None:
    session = handed_off_session(client)

    async def go() -> None:
        api = AsyncOperatorClient(base_url=agent.url)
        await actions.add_note(api, session, DANA, "Customer is calm now")
        await actions.return_to_ai(api, session, DANA, "Calmed the customer; nothing else is open")
        with pytest.raises(HandoffNotActive):
            await actions.send_as_human(api, session, DANA, "too late")

    run(go())
    state = client.sessions.retrieve(session)
    assert state.mode == "auto"
    assert state.metadata["handoff"]["status"] == "returned"
    # The AI's next turn sees, after the handoff tool's "a person is joining", that it ended.
    handbacks = [
        e
        for e in client.sessions.list_events(session, kinds="custom", wait_for_data=0)
        if e.data.get("type") == actions.HANDBACK
    ]
    assert len(handbacks) == 1 and "No human is handling it" in handbacks[0].data["text"]
    assert handbacks[0].data["note"] == "Calmed the customer; nothing else is open"
    # The AI tells the customer at once; the part about them stays with the AI.
    back = wait_for_ai_reply(client, session, handbacks[0].offset).data["message"]
    assert "nothing else is open" in back and "Calmed" not in back
    asked = say(client, session, "What does my policy cover?")
    assert "POL-1001" in wait_for_ai_reply(client, session, asked).data["message"]


def test_resolve_and_take_over(client: ParlantClient, agent: AgentProcess) -> None:
    session = handed_off_session(client)

    async def go() -> None:
        api = AsyncOperatorClient(base_url=agent.url)
        await actions.resolve(api, session, LEE)
        assert (await actions.current_record(api, session))["status"] == "resolved"
        await actions.take_over(api, session, DANA)

    run(go())
    state = client.sessions.retrieve(session)
    assert state.mode == "manual"
    assert state.metadata["handoff"]["status"] == "claimed"


def test_internal_notes_are_dropped_from_the_ai_context() -> None:
    from parlant.core.sessions import EventKind

    from agent.context_filter import drop_internal_notes  # loads the engine: not at collection

    note = SimpleNamespace(kind=EventKind.CUSTOM, data={"type": actions.INTERNAL_NOTE, "text": "x"})
    message = SimpleNamespace(kind=EventKind.MESSAGE, data={"message": "hi"})
    handback = SimpleNamespace(kind=EventKind.CUSTOM, data={"type": actions.HANDBACK})
    context = SimpleNamespace(interaction=SimpleNamespace(events=[message, note, handback]))

    asyncio.run(drop_internal_notes(context, None))  # type: ignore[arg-type]

    assert context.interaction.events == [message, handback]


def test_an_ai_turn_is_started_only_for_a_session_with_the_ai(
    client: ParlantClient, agent: AgentProcess
) -> None:
    import httpx

    assert httpx.post(f"{agent.url}/escalations/no-such-session/turn").status_code == 404
    session = handed_off_session(client)
    before = len(client.sessions.list_events(session, wait_for_data=0))
    # With a person the AI stays silent: no turn, nothing written.
    assert httpx.post(f"{agent.url}/escalations/{session}/turn").status_code == 409
    time.sleep(1)
    assert len(client.sessions.list_events(session, wait_for_data=0)) == before


def test_an_ai_reply_that_breaks_a_rule_is_held_until_sent_anyway(
    client: ParlantClient, agent: AgentProcess
) -> None:
    """agent/ai_reply_rules.py through the reply route: a held `ai` reply stores nothing and
    claims nothing; sent anyway (naming that very rule) it is stored once, with the rule in
    its metadata; the operator's own words are never checked."""
    session = handed_off_session(client)
    promise = "Good news: your claim has guaranteed approval."

    async def go() -> None:
        api = AsyncOperatorClient(base_url=agent.url)
        with pytest.raises(actions.ReplyHeld) as held:
            await actions.send_as_ai(api, session, LEE, promise)
        assert held.value.rule == "guaranteed_approval"
        assert client.sessions.retrieve(session).metadata["handoff"]["status"] == "waiting"
        with pytest.raises(actions.ReplyHeld) as other:  # an override names one rule only
            await actions.send_as_ai(
                api,
                session,
                LEE,
                "Call our adjuster on 555-123-4567.",
                override="guaranteed_approval",
            )
        assert other.value.rule == "phone_number"
        await actions.send_as_human(api, session, DANA, "I can't promise guaranteed approval.")
        sent = await actions.send_as_ai(api, session, LEE, promise, override="guaranteed_approval")
        assert sent.metadata["sent_despite_rule"] == "guaranteed_approval"

    run(go())
    as_ai = [
        e.data["message"]
        for e in client.sessions.list_events(session, wait_for_data=0)
        if e.source == "human_agent_on_behalf_of_ai_agent"
    ]
    assert as_ai == [promise]


def resolved_session(client: ParlantClient, agent: AgentProcess) -> str:
    session = handed_off_session(client)

    async def go() -> None:
        api = AsyncOperatorClient(base_url=agent.url)
        await actions.send_as_human(api, session, DANA, "All sorted, Dana here.")
        await actions.resolve(api, session, DANA)

    run(go())
    return session


def ai_messages_after(client: ParlantClient, session: str, offset: int) -> list[str]:
    return [
        str(e.data["message"])
        for e in client.sessions.list_events(session, min_offset=offset, wait_for_data=0)
        if e.kind == "message" and e.source in ("ai_agent", "human_agent_on_behalf_of_ai_agent")
    ]


def test_after_a_resolve_the_customer_rates_the_help_in_the_chat(
    client: ParlantClient, agent: AgentProcess
) -> None:
    """handoff/satisfaction.py: the question in the chat, the next message a rating: recorded
    in the handoff record and thanked for, no other answer."""
    session = resolved_session(client, agent)
    assert satisfaction.QUESTION in ai_messages_after(client, session, 0)
    asked = say(client, session, "4 - quick and kind")
    wait_for_ai_reply(client, session, asked)
    assert ai_messages_after(client, session, asked) == [satisfaction.THANKS]
    rated = client.sessions.retrieve(session).metadata["handoff"]["satisfaction"]
    assert (rated["rating"], rated["comment"]) == (4, "quick and kind")


def test_a_customer_who_carries_on_is_answered_and_not_asked_again(
    client: ParlantClient, agent: AgentProcess
) -> None:
    session = resolved_session(client, agent)
    asked = say(client, session, "What is my deductible?")
    wait_for_ai_reply(client, session, asked)
    answers = ai_messages_after(client, session, asked)
    assert answers and satisfaction.THANKS not in answers
    assert client.sessions.retrieve(session).metadata["handoff"]["satisfaction"] == {
        "skipped": True
    }
    later = say(client, session, "5")  # too late: the question was passed over
    wait_for_ai_reply(client, session, later)
    assert satisfaction.THANKS not in ai_messages_after(client, session, later)
