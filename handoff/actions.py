"""The operator actions, one implementation each, used by the Slack bridge and the dashboard.

Each action makes the Parlant calls and the handoff-record update in one place. Parlant has no
compare-and-set on metadata, so two operators acting on one session at the same instant can
overwrite each other's record fields; the events themselves are never lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from parlant.client import AsyncParlantClient
from parlant.client.types import Event, SessionLabelsUpdateParams, SessionMetadataUpdateParams

from handoff import record as records
from handoff import satisfaction
from handoff.copilot_events import COPILOT_LABEL, draft_offered_data, draft_outcome_metadata
from handoff.learning import ResolveTag, tag_entry
from handoff.operator_api import AsyncOperatorClient, reply_body

# Raised by the sends below; callers catch it as actions.ReplyHeld.
from handoff.operator_api import ReplyHeld as ReplyHeld
from handoff.record import HandoffNotActive, HandoffRecord, read_record, utc_now_iso

INTERNAL_NOTE = "internal_note"
HANDBACK = "handback"
# Written on resolve, so the AI's context stops showing the handoff it ends (agent/handback_context.py).
RESOLUTION = "handoff_resolved"
# The metadata of the opening message the official widget posts in the agent's voice
# (agent/customers/gateway.py): the chat page's words, which the record keeps as such.
PAGE_OPENING: Mapping[str, str] = {"opening": "chat_page"}


def is_page_opening(metadata: Mapping[str, Any] | None) -> bool:
    return (metadata or {}).get("opening") == PAGE_OPENING["opening"]


# The metadata of the message the customer gateway writes in the agent's voice when the official
# widget's first message is refused (too long, too many): the widget shows no failed call, only
# a session's messages. Written by the agent's own code, not by an operator.
NOT_SENT_NOTICE: Mapping[str, str] = {"notice": "message_not_sent"}


def is_not_sent_notice(metadata: Mapping[str, Any] | None) -> bool:
    return (metadata or {}).get("notice") == NOT_SENT_NOTICE["notice"]


HANDBACK_TEXT = (
    "The human operator has ended their part of this conversation and handed it back to you, "
    "the AI agent. No human is handling it any more: continue helping the customer yourself."
)
# Long enough for an outcome and a next step; short enough to fit a Slack section and a prompt.
HANDBACK_NOTE_LIMIT = 1000


class InvalidHandbackNote(ValueError):
    """The handback note is empty or too long; the message says what to change."""


def handback_note_problem(note: str) -> str | None:
    """Why `note` cannot be a handback note, in words for the operator; None when it can."""
    text = note.strip()
    if not text:
        return (
            "Write a short note for the AI: what was done and what the customer should hear next."
        )
    if len(text) > HANDBACK_NOTE_LIMIT:
        return f"Keep the note to {HANDBACK_NOTE_LIMIT:,} characters (it has {len(text):,})."
    return None


@dataclass(frozen=True)
class Handback:
    """A completed return to the AI: the record after it and the handback event carrying the note."""

    record: HandoffRecord
    event_id: str
    note: str


@dataclass(frozen=True)
class Operator:
    """A person acting on a session: `id` is namespaced by origin (slack:U123, dashboard:dana)."""

    id: str
    name: str
    origin: str

    def as_metadata(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "origin": self.origin}


async def current_record(client: AsyncParlantClient, session_id: str) -> HandoffRecord | None:
    session = await client.sessions.retrieve(session_id)
    return read_record(session.metadata)


async def _update_record(
    client: AsyncParlantClient,
    session_id: str,
    change: Callable[[HandoffRecord], HandoffRecord],
    *,
    require_active: bool = True,
) -> HandoffRecord:
    existing = await current_record(client, session_id)
    if existing is None or (
        require_active and existing.get("status") not in records.ACTIVE_STATUSES
    ):
        raise HandoffNotActive(session_id, existing.get("status") if existing else None)
    updated = change(existing)
    if updated != existing:
        await client.sessions.update(
            session_id,
            metadata=SessionMetadataUpdateParams(set_={records.METADATA_KEY: dict(updated)}),
        )
    return updated


async def send_as_human(
    client: AsyncOperatorClient,
    session_id: str,
    operator: Operator,
    text: str,
    origin_metadata: Mapping[str, Any] | None = None,
) -> Any:
    """A message to the customer under the operator's own name; claims a waiting handoff."""
    return await _send_message(
        client,
        session_id,
        operator,
        text,
        origin_metadata,
        source="human_agent",
    )


async def send_as_ai(
    client: AsyncOperatorClient,
    session_id: str,
    operator: Operator,
    text: str,
    origin_metadata: Mapping[str, Any] | None = None,
    override: str | None = None,
) -> Any:
    """A message shown as the AI's; the operator who really wrote it is kept in the metadata.
    The agent checks it first (agent/ai_reply_rules.py): `ReplyHeld` when it breaks a rule,
    unless `override` names that rule (the operator sends it anyway; recorded)."""
    # Parlant sets the agent as the participant of on-behalf messages itself.
    return await _send_message(
        client,
        session_id,
        operator,
        text,
        origin_metadata,
        source="human_agent_on_behalf_of_ai_agent",
        override=override,
    )


async def _send_message(
    client: AsyncOperatorClient,
    session_id: str,
    operator: Operator,
    text: str,
    origin_metadata: Mapping[str, Any] | None,
    *,
    source: Literal["human_agent", "human_agent_on_behalf_of_ai_agent"],
    override: str | None = None,
) -> Event:
    """One request to the agent's reply route (agent/reply_route.py), which checks the record,
    claims a waiting handoff and stores the message in-process: through Parlant's own API that is
    a record read, maybe a record write, then the event, two or three round trips a reply."""
    body = reply_body(
        "human" if source == "human_agent" else "ai",
        text,
        operator.as_metadata(),
        origin_metadata,
        override,
    )
    return await client.operator.reply(session_id, body)


async def add_note(
    client: AsyncParlantClient,
    session_id: str,
    operator: Operator,
    text: str,
    origin_metadata: Mapping[str, Any] | None = None,
) -> Any:
    """An internal note: stored in the session for review, never shown to the customer or the AI."""
    return await client.sessions.create_event(
        session_id,
        kind="custom",
        source="human_agent",
        data={"type": INTERNAL_NOTE, "text": text, "operator": operator.as_metadata()},
        metadata={"operator": operator.as_metadata(), **(origin_metadata or {})},
    )


async def record_draft_offered(client: AsyncParlantClient, session_id: str, slack_ts: str) -> None:
    """A draft was posted into the handoff's thread: counted on the insights page
    (handoff/copilot_events.py). Only that it was offered, never its text."""
    await client.sessions.create_event(
        session_id, kind="custom", source="human_agent", data=draft_offered_data(slack_ts)
    )
    await _label_copilot(client, session_id)


async def record_draft_outcome(
    client: AsyncParlantClient,
    session_id: str,
    operator: Operator,
    outcome: str,
    slack_ts: str,
    text: str,
) -> None:
    """An operator sent, edited or dismissed a draft: an internal note saying so (`text`),
    its metadata the outcome for the figures."""
    await add_note(client, session_id, operator, text, draft_outcome_metadata(outcome, slack_ts))
    await _label_copilot(client, session_id)


async def _label_copilot(client: AsyncParlantClient, session_id: str) -> None:
    await client.sessions.update(
        session_id, labels=SessionLabelsUpdateParams(upsert=[COPILOT_LABEL])
    )


# What an operator can write into a session: the Slack reply prefixes and the dashboard's
# three send buttons are both these kinds.
MessageKind = Literal["human", "ai", "note"]
SEND_BY_KIND = {"human": send_as_human, "ai": send_as_ai, "note": add_note}
# The Parlant event source each kind is stored with (to find an event whose answer was lost).
SOURCE_BY_KIND: dict[MessageKind, Literal["human_agent", "human_agent_on_behalf_of_ai_agent"]] = {
    "human": "human_agent",
    "ai": "human_agent_on_behalf_of_ai_agent",
    "note": "human_agent",
}


Transition = Callable[[HandoffRecord, str, str, str], HandoffRecord]


async def _move(
    client: AsyncParlantClient,
    session_id: str,
    operator: Operator,
    transition: Transition,
    *,
    require_active: bool = True,
) -> HandoffRecord:
    """Apply one of handoff.record's transitions, by `operator`, now."""
    return await _update_record(
        client,
        session_id,
        lambda r: transition(r, operator.id, operator.name, utc_now_iso()),
        require_active=require_active,
    )


async def claim(client: AsyncParlantClient, session_id: str, operator: Operator) -> HandoffRecord:
    return await _move(client, session_id, operator, records.claimed)


async def take_over(
    client: AsyncParlantClient, session_id: str, operator: Operator
) -> HandoffRecord:
    """Bring a returned or resolved session back to a human: manual mode, claimed by `operator`."""
    updated = await _move(client, session_id, operator, records.claimed, require_active=False)
    await client.sessions.update(session_id, mode="manual")
    return updated


async def return_to_ai(
    client: AsyncOperatorClient, session_id: str, operator: Operator, note: str
) -> Handback:
    """Hand the session back with a note: the AI writes to the customer from it at once,
    knowing no human is on (agent/handback_context.py puts the note into its context), and
    answers their next message from it."""
    problem = handback_note_problem(note)
    if problem:
        raise InvalidHandbackNote(problem)
    updated = await _move(client, session_id, operator, records.returned)
    event = await client.sessions.create_event(
        session_id,
        kind="custom",
        source="system",
        data={
            "type": HANDBACK,
            "text": HANDBACK_TEXT,
            "note": note.strip(),
            "operator": operator.as_metadata(),
        },
    )
    await client.sessions.update(session_id, mode="auto")
    # The customer hears the handback's outcome at once, not only once they write again.
    await client.operator.start_turn(session_id)
    return Handback(record=updated, event_id=str(event.id), note=note.strip())


async def resolve(
    client: AsyncParlantClient,
    session_id: str,
    operator: Operator,
    tag: ResolveTag | None = None,
) -> HandoffRecord:
    """Close the escalation; a later customer message is answered by the AI again. `tag` is the
    operator's word on why the AI could not finish (handoff/learning.py), kept in the record."""

    def tagged(record: HandoffRecord, operator_id: str, name: str, now: str) -> HandoffRecord:
        learning = tag_entry(tag, {"id": operator_id, "name": name}, now) if tag else None
        return records.resolved(record, operator_id, name, now, learning)

    updated = await _move(client, session_id, operator, tagged, require_active=False)
    await client.sessions.create_event(
        session_id,
        kind="custom",
        source="system",
        data={"type": RESOLUTION, "operator": operator.as_metadata()},
    )
    await client.sessions.update(session_id, mode="auto")
    # One question in the chat the customer uses; their next message answers it or not
    # (agent/satisfaction_hook.py).
    await client.sessions.create_event(
        session_id,
        kind="message",
        source="human_agent_on_behalf_of_ai_agent",
        message=satisfaction.QUESTION,
        metadata={"satisfaction": "question"},
    )
    return updated
