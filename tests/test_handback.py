"""Handing a conversation back to the AI with a note: the real agent (offline NLP) continues
from the note, and the handoff it ended no longer steers it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from parlant.client import ParlantClient
from parlant.core.sessions import Event, EventId, EventKind, EventSource

from agent.handback_context import (
    HANDBACK_VARIABLE,
    handback_in_force,
    handback_variable,
    superseded_by_handback,
)
from handoff import actions
from handoff.actions import InvalidHandbackNote, Operator
from handoff.operator_api import AsyncOperatorClient
from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say, wait_for_ai_reply

DANA = Operator(id="slack:U0DANA", name="Dana", origin="slack")
REFUND_NOTE = "Refund of $420 for CLM-2041 approved, arrives in 3 days"
WAIVER_NOTE = "The deductible on CLM-2041 was waived after review"
HANDOFF_LINES = ("person will join", "handing this conversation")


def hand_off(client: ParlantClient, session: str) -> None:
    asked = say(client, session, "I want to talk to a human")
    assert "person will join" in wait_for_ai_reply(client, session, asked).data["message"]
    deadline = time.monotonic() + 20
    while client.sessions.retrieve(session).mode != "manual":
        assert time.monotonic() < deadline, "session never went manual"
        time.sleep(0.2)


def operator_hands_back(client: ParlantClient, agent: AgentProcess, session: str, note: str) -> str:
    """The handback, and the message the AI writes at once (not waiting for the customer)."""

    async def go() -> actions.Handback:
        api = AsyncOperatorClient(base_url=agent.url)
        await actions.send_as_human(api, session, DANA, "Dana here, checking with the claims team.")
        return await actions.return_to_ai(api, session, DANA, note)

    handback = asyncio.run(go())
    at = next(
        e.offset
        for e in client.sessions.list_events(session, kinds="custom", wait_for_data=0)
        if e.id == handback.event_id
    )
    return str(wait_for_ai_reply(client, session, at).data["message"])


def ai_answer(client: ParlantClient, session: str, text: str) -> str:
    asked = say(client, session, text)
    return str(wait_for_ai_reply(client, session, asked).data["message"])


def test_the_ai_continues_from_the_newest_handback_note(
    client: ParlantClient, agent: AgentProcess
) -> None:
    session = new_session(client)
    hand_off(client, session)
    reply = operator_hands_back(client, agent, session, REFUND_NOTE)
    assert "$420" in reply and "3 days" in reply
    assert not any(line in reply for line in HANDOFF_LINES)

    # Once the AI has passed the note on, it does not repeat it on every turn.
    later = ai_answer(client, session, "What does my policy cover?")
    assert "POL-1001" in later and "$420" not in later

    hand_off(client, session)
    reply = operator_hands_back(client, agent, session, WAIVER_NOTE)
    assert "deductible on CLM-2041 was waived" in reply
    assert "$420" not in reply
    assert not any(line in reply for line in HANDOFF_LINES)


def test_an_empty_or_overlong_note_changes_nothing(
    client: ParlantClient, agent: AgentProcess
) -> None:
    session = new_session(client)
    hand_off(client, session)

    async def go(note: str) -> None:
        await actions.return_to_ai(AsyncOperatorClient(base_url=agent.url), session, DANA, note)

    for note in ("   ", "x" * (actions.HANDBACK_NOTE_LIMIT + 1)):
        with pytest.raises(InvalidHandbackNote):
            asyncio.run(go(note))
    state = client.sessions.retrieve(session)
    assert (state.mode, state.metadata["handoff"]["status"]) == ("manual", "waiting")
    assert not [
        e
        for e in client.sessions.list_events(session, kinds="custom", wait_for_data=0)
        if e.data.get("type") == actions.HANDBACK
    ]


# --- The interaction the prompts are built from ----------------------------------------------

START = datetime(2025, 1, 1, tzinfo=UTC)


def event(
    offset: int, kind: EventKind, data: Any, source: EventSource = EventSource.SYSTEM
) -> Event:
    return Event(
        id=EventId(f"e{offset}"),
        source=source,
        kind=kind,
        creation_utc=START + timedelta(minutes=offset),
        offset=offset,
        trace_id="",
        data=data,
        metadata={},
        deleted=False,
    )


def handoff_call() -> dict[str, Any]:
    return {"tool_id": "plugin:initiate_human_handoff", "arguments": {}, "result": {"data": {}}}


def handback(offset: int, note: str) -> Event:
    return event(
        offset,
        EventKind.CUSTOM,
        {"type": actions.HANDBACK, "note": note, "operator": {"name": "Dana"}},
    )


def test_a_handback_supersedes_the_handoff_and_earlier_handbacks() -> None:
    policy_call = {"tool_id": "plugin:get_policy_details", "arguments": {}, "result": {"data": {}}}
    message = event(0, EventKind.MESSAGE, {"message": "human please"}, EventSource.CUSTOMER)
    first_handoff = event(1, EventKind.TOOL, {"tool_calls": [handoff_call()]})
    first_back = handback(2, "old")
    mixed_handoff = event(3, EventKind.TOOL, {"tool_calls": [policy_call, handoff_call()]})
    latest_back = handback(4, "new")
    events = [message, first_handoff, first_back, mixed_handoff, latest_back]

    shaped = superseded_by_handback(events)

    assert [e.id for e in shaped] == ["e0", "e3", "e4"]
    assert shaped[1].data["tool_calls"] == [policy_call]
    assert handback_in_force(events) is latest_back
    variable, value = handback_variable(latest_back)
    assert (variable.name, value.data) == (HANDBACK_VARIABLE, "new")
    assert "Dana" in str(variable.description)


def test_a_handoff_after_the_handback_ends_it() -> None:
    events = [handback(0, "old"), event(1, EventKind.TOOL, {"tool_calls": [handoff_call()]})]

    assert handback_in_force(events) is None
    assert superseded_by_handback(events) == events


def test_a_resolve_also_ends_the_handoff_in_the_ais_context_without_a_note() -> None:
    message = event(0, EventKind.MESSAGE, {"message": "human please"}, EventSource.CUSTOMER)
    handoff = event(1, EventKind.TOOL, {"tool_calls": [handoff_call()]})
    earlier = handback(2, "old")
    resolution = event(
        3, EventKind.CUSTOM, {"type": actions.RESOLUTION, "operator": {"name": "Lee"}}
    )
    events = [message, handoff, earlier, resolution]

    assert [e.id for e in superseded_by_handback(events)] == ["e0", "e3"]
    assert handback_in_force(events) is None  # a resolve leaves no note to continue from


def test_after_resolve_the_ai_answers_and_the_resolution_is_recorded(
    client: ParlantClient, agent: AgentProcess
) -> None:
    session = new_session(client)
    hand_off(client, session)
    asyncio.run(actions.resolve(AsyncOperatorClient(base_url=agent.url), session, DANA))

    reply = ai_answer(client, session, "What does my policy cover?")
    assert "POL-" in reply and not any(line in reply for line in HANDOFF_LINES)
    resolutions = [
        e
        for e in client.sessions.list_events(session, kinds="custom", wait_for_data=0)
        if (e.data or {}).get("type") == actions.RESOLUTION
    ]
    assert len(resolutions) == 1 and resolutions[0].data["operator"]["name"] == DANA.name
