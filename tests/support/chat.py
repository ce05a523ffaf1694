"""Talking to the real Parlant server the way the chat UI does, and waiting for what follows."""

from __future__ import annotations

import time
from typing import Any

from parlant.client import ParlantClient
from parlant.client.core.api_error import ApiError

from agent.store.claims import SAMPLE_CUSTOMER_ID

AGENT_ID = "insurance-support-agent"


def new_session(client: ParlantClient, customer_id: str = SAMPLE_CUSTOMER_ID) -> str:
    return client.sessions.create(agent_id=AGENT_ID, customer_id=customer_id).id


def say(client: ParlantClient, session_id: str, text: str) -> int:
    """Post a customer message; returns its offset."""
    event = client.sessions.create_event(
        session_id, kind="message", source="customer", message=text
    )
    return event.offset


def events_after(client: ParlantClient, session_id: str, offset: int) -> list[Any]:
    return list(client.sessions.list_events(session_id, min_offset=offset + 1, wait_for_data=0))


def wait_for_ai_reply(
    client: ParlantClient,
    session_id: str,
    after_offset: int,
    timeout: float = 60,
    kinds: str | None = None,
) -> Any:
    """The first AI message after `after_offset`; fails if the turn ends in an error.

    A customer without the operator token must pass kinds="message,status"."""
    deadline = time.monotonic() + timeout
    offset = after_offset + 1
    while time.monotonic() < deadline:
        try:
            events = client.sessions.list_events(
                session_id, min_offset=offset, kinds=kinds, wait_for_data=5
            )
        except ApiError as error:
            if error.status_code == 504:
                continue
            raise
        for event in events:
            offset = max(offset, event.offset + 1)
            if event.kind == "status" and event.data.get("status") == "error":
                raise AssertionError(f"the agent's turn failed: {str(event.data)[-800:]}")
            if event.kind == "message" and event.source == "ai_agent":
                return event
    raise AssertionError(f"no AI reply within {timeout}s")


def tool_calls_after(client: ParlantClient, session_id: str, offset: int) -> list[dict[str, Any]]:
    return [
        call
        for event in events_after(client, session_id, offset)
        if event.kind == "tool"
        for call in event.data["tool_calls"]
    ]
