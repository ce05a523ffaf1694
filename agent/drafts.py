"""Drafting: the answer the agent would give a customer who is with a person, for the operator.

During a handoff the AI is silent. When the customer writes, the bridge asks for a draft
(`POST /escalations/{session_id}/draft`) and shows it in the thread for the operator to send,
edit or dismiss. The draft is the agent's own turn (its guidelines, glossary, tools and this
customer's policy and claims) run on a scratch copy of the conversation: a session of the
customer's *draft twin* (`draft:<customer id>`), never one of the customer's own sessions, so
nothing of it reaches the customer, their session list or the escalation queue, and it is
deleted once read. Tools see the twin and act for the customer it stands for, read-only:
filing a claim or handing off answers that nothing was done (`is_draft`). A draft turn that
fails is no handoff: there is simply no draft.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lagom import Container
from parlant.core.application import Application
from parlant.core.async_utils import Timeout
from parlant.core.customers import CustomerId, CustomerStore
from parlant.core.sessions import Event, EventKind, EventSource, SessionId

log = logging.getLogger(__name__)

DRAFT_PREFIX = "draft:"
DRAFT_METADATA_KEY = "draft_of"
# Events a draft turn sees: what was said, by whom. Tool results, statuses and notes are the
# conversation's bookkeeping, not what the customer and the people said.
DRAFTED_SOURCES = (
    EventSource.CUSTOMER,
    EventSource.AI_AGENT,
    EventSource.HUMAN_AGENT,
    EventSource.HUMAN_AGENT_ON_BEHALF_OF_AI_AGENT,
)
NOT_WHILE_DRAFTING = (
    "Nothing was done: this is a draft for a support operator, who decides what happens."
)


def draft_customer_id(customer_id: str) -> str:
    return f"{DRAFT_PREFIX}{customer_id}"


def is_draft(customer_id: str) -> bool:
    return customer_id.startswith(DRAFT_PREFIX)


def drafted_customer(customer_id: str) -> str:
    """The customer a draft twin stands for (or the customer itself)."""
    return customer_id.removeprefix(DRAFT_PREFIX)


@dataclass(frozen=True)
class Draft:
    message: str
    tools: tuple[str, ...]  # the tools the draft turn called, by name


def _data(event: Event) -> Mapping[str, Any]:
    return event.data if isinstance(event.data, Mapping) else {}


def _said(events: Sequence[Event]) -> list[Event]:
    return [e for e in events if e.kind == EventKind.MESSAGE and e.source in DRAFTED_SOURCES]


async def draft_reply(container: Container, session_id: str, timeout_s: float) -> Draft | None:
    """The agent's answer to the conversation so far, from a scratch copy; None when the turn
    gave no message within `timeout_s` (or failed)."""
    app = container[Application]
    session = await app.sessions.read(SessionId(session_id))
    twin = await _twin(container, session.customer_id)
    events = await app.sessions.find_events(
        session_id=session.id, min_offset=0, source=None, kinds=[EventKind.MESSAGE], trace_id=None
    )
    said = _said(events)
    if not said or said[-1].source != EventSource.CUSTOMER:
        return None  # nothing of the customer's waits for an answer
    scratch = await app.sessions.create(
        customer_id=twin,
        agent_id=session.agent_id,
        title="draft",
        metadata={DRAFT_METADATA_KEY: session_id},
    )
    try:
        for event in said:
            await app.sessions.create_event(
                session_id=scratch.id,
                kind=EventKind.MESSAGE,
                data=_data(event),
                metadata={},
                source=event.source,
                trigger_processing=False,
            )
        first_new = len(said)
        await app.sessions.dispatch_processing_task(await app.sessions.read(scratch.id))
        answered = await app.sessions.wait_for_more_events(
            session_id=scratch.id,
            min_offset=first_new,
            kinds=[EventKind.MESSAGE],
            source=EventSource.AI_AGENT,
            timeout=Timeout(timeout_s),
        )
        if not answered:
            log.info("no draft within %ss session=%s", timeout_s, session_id)
            return None
        after = await app.sessions.find_events(
            session_id=scratch.id, min_offset=first_new, source=None, kinds=[], trace_id=None
        )
        messages = [
            str(_data(e).get("message", ""))
            for e in after
            if e.kind == EventKind.MESSAGE and e.source == EventSource.AI_AGENT
        ]
        tools = tuple(
            str(call.get("tool_id", ""))
            for e in after
            if e.kind == EventKind.TOOL
            for call in _data(e).get("tool_calls", [])
            if isinstance(call, Mapping)
        )
        text = "\n\n".join(m for m in messages if m.strip())
        return Draft(text, tools) if text else None
    finally:
        await app.sessions.delete(scratch.id)


async def _twin(container: Container, customer_id: str) -> CustomerId:
    """The customer's draft twin, made on first use (same name, so the turn greets them)."""
    customers = container[CustomerStore]  # type: ignore[type-abstract]
    twin = CustomerId(draft_customer_id(customer_id))
    try:
        await customers.read_customer(twin)
    except Exception:
        try:
            name = (await customers.read_customer(CustomerId(customer_id))).name
        except Exception:
            name = "Customer"
        try:
            await customers.create_customer(name=name, id=twin)
        except Exception:  # made meanwhile by a concurrent draft (or another replica)
            await customers.read_customer(twin)
    return twin
