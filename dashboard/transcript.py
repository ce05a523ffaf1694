"""A session's events as the session page shows them and as its exports (Markdown, JSON)
write them, and the search over transcripts. Pure: no I/O, no Streamlit.

Message text is untrusted: it is returned as plain strings, and sits in code fences in the
Markdown export, so it is never rendered as markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from dashboard.formats import UNKNOWN_STATUS, escape_markdown, format_time, person_name
from dashboard.model import RawEvent
from dashboard.timeline import timeline
from handoff.actions import HANDBACK, INTERNAL_NOTE, RESOLUTION, is_not_sent_notice, is_page_opening
from handoff.copilot_events import DRAFT_OFFERED, read_held
from handoff.failed_turn import read_failed_turn
from handoff.record import HandoffRecord


def transcript_matches(text: str, query: str) -> bool:
    """Case-insensitive match of every word of the query (so word order does not matter)."""
    haystack = text.casefold()
    return all(word in haystack for word in query.casefold().split())


class Role(StrEnum):
    CUSTOMER = "customer"
    AI = "ai"
    HUMAN = "human"
    HUMAN_AS_AI = "human_as_ai"
    NOTE = "note"
    HANDBACK = "handback"
    TOOL = "tool"
    SYSTEM = "system"


ROLE_AVATARS: Mapping[Role, str] = {
    Role.CUSTOMER: "🧑",
    Role.AI: "🤖",
    Role.HUMAN: "🧑‍💼",
    Role.HUMAN_AS_AI: "🎭",
    Role.NOTE: "📝",
    Role.HANDBACK: "↩️",
    Role.TOOL: "🛠️",
    Role.SYSTEM: "⚙️",
}


@dataclass(frozen=True)
class ToolCallView:
    tool: str
    arguments: Any
    result: Any


@dataclass(frozen=True)
class TranscriptEntry:
    offset: int
    created: datetime
    role: Role
    label: str
    text: str
    tool_calls: tuple[ToolCallView, ...] = ()


def _operator_name(event: RawEvent) -> str:
    return person_name((event.metadata or {}).get("operator")) or "unknown operator"


def _tool_calls(data: Any) -> tuple[ToolCallView, ...]:
    calls = data.get("tool_calls", []) if isinstance(data, Mapping) else []
    return tuple(
        ToolCallView(
            # Parlant ids are "<service>:<tool>"; the tool name is what supervisors recognise.
            tool=str(call.get("tool_id", "?")).split(":")[-1],
            arguments=call.get("arguments", {}),
            result=(call.get("result") or {}).get("data"),
        )
        for call in calls
    )


def transcript_entry(event: RawEvent) -> TranscriptEntry | None:
    """How one event reads in the transcript; None for events supervisors do not need (status)."""
    data = event.data if isinstance(event.data, Mapping) else {}

    def entry(
        role: Role, label: str, text: str, calls: tuple[ToolCallView, ...] = ()
    ) -> TranscriptEntry:
        return TranscriptEntry(event.offset, event.created, role, label, text, calls)

    if event.kind == "message":
        text = str(data.get("message", ""))
        if event.source in ("customer", "customer_ui"):
            return entry(Role.CUSTOMER, "Customer", text)
        if event.source == "ai_agent":
            return entry(Role.AI, "AI agent", text)
        if event.source == "human_agent":
            participant = data.get("participant") or {}
            name = str(participant.get("display_name") or _operator_name(event))
            return entry(Role.HUMAN, f"{name} (human operator)", text)
        if event.source == "human_agent_on_behalf_of_ai_agent":
            if is_page_opening(event.metadata):
                # The widget's agentOpeningMessage, posted by the customer's browser
                # (agent/customers/gateway.py): the page's words, not the AI's or an operator's.
                return entry(Role.HUMAN_AS_AI, "AI agent, the chat page's opening message", text)
            if is_not_sent_notice(event.metadata):
                # Written by the customer gateway when the widget's first message was refused.
                return entry(
                    Role.SYSTEM, "AI agent, notice: the customer's message was not sent", text
                )
            return entry(Role.HUMAN_AS_AI, f"AI agent, written by {_operator_name(event)}", text)
        return entry(Role.SYSTEM, f"Message from {event.source}", text)
    if event.kind == "tool":
        calls = _tool_calls(data)
        return entry(Role.TOOL, "Tool calls", ", ".join(call.tool for call in calls), calls)
    if event.kind == "custom":
        if data.get("type") == INTERNAL_NOTE:
            name = person_name(data.get("operator")) or _operator_name(event)
            return entry(
                Role.NOTE,
                f"Internal note by {name} (not shown to the customer)",
                str(data.get("text", "")),
            )
        if data.get("type") == HANDBACK:
            name = person_name(data.get("operator")) or "an operator"
            note = str(data.get("note") or "")
            return entry(
                Role.HANDBACK,
                f"Handed back to the AI by {name}",
                f"Handback note: {note}" if note else "No handback note.",
            )
        failed = read_failed_turn(data)
        if failed is not None:
            outcome = "handed off to a person" if failed.handed_off else "the handoff failed too"
            return entry(
                Role.SYSTEM,
                "The AI's turn failed (not shown to the customer)",
                f"Cause: {failed.cause.label}; {outcome}.",
            )
        held = read_held(data)
        if held is not None:
            return entry(
                Role.SYSTEM,
                f"A reply in the agent's name by {held.operator_name} was held",
                f"Rule: {held.rule}. Not sent to the customer.",
            )
        if data.get("type") == DRAFT_OFFERED:
            return entry(Role.SYSTEM, "The agent drafted a reply", "Offered in the Slack thread.")
        if data.get("type") == RESOLUTION:
            name = person_name(data.get("operator")) or "an operator"
            return entry(
                Role.SYSTEM, f"Resolved by {name}", "The AI answers the customer's next message."
            )
        return entry(
            Role.SYSTEM,
            f"Event ({data.get('type', 'custom')})",
            json.dumps(data, default=str, sort_keys=True),
        )
    return None


def transcript_entries(events: Iterable[RawEvent]) -> list[TranscriptEntry]:
    return [e for e in map(transcript_entry, events) if e is not None]


def latest_handback(entries: Sequence[TranscriptEntry]) -> TranscriptEntry | None:
    """The newest handback in the transcript: the note the AI continues from."""
    return next((e for e in reversed(entries) if e.role == Role.HANDBACK), None)


def visible_window(
    entries: Sequence[TranscriptEntry], shown: int
) -> tuple[list[TranscriptEntry], int]:
    """The newest `shown` entries and how many earlier ones are hidden (long transcripts)."""
    hidden = max(0, len(entries) - shown)
    return list(entries[hidden:]), hidden


def _fence(text: str) -> str:
    """A Markdown code fence longer than any backtick run in the text, so it cannot be closed early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def transcript_markdown(
    session_id: str, record: HandoffRecord, entries: Sequence[TranscriptEntry]
) -> str:
    """A Markdown export; message text sits in code blocks so it is never rendered as markup."""
    lines = [f"# Session {escape_markdown(session_id)}", ""]
    if record:
        lines += [
            f"- Status: {escape_markdown(str(record.get('status', UNKNOWN_STATUS)))}",
            f"- Reason: {escape_markdown(str(record.get('reason', '')))}",
        ]
        lines += [
            f"- {step.step.capitalize()}: {format_time(step.at) if step.at else ''}"
            + (f" by {escape_markdown(step.by)}" if step.by else "")
            for step in timeline(record)
        ]
        lines.append("")
    for e in entries:
        lines.append(f"### {escape_markdown(e.label)} · {format_time(e.created)}")
        body = e.text
        if e.tool_calls:
            body = json.dumps([asdict(c) for c in e.tool_calls], indent=2, default=str)
        fence = _fence(body)
        lines += ["", fence, body, fence, ""]
    return "\n".join(lines)


def transcript_json(session_id: str, record: HandoffRecord, events: Sequence[RawEvent]) -> str:
    """A JSON export of the raw events, for audits and tooling."""
    return json.dumps(
        {
            "session_id": session_id,
            "handoff": dict(record),
            "events": [
                {**asdict(e), "created": e.created.isoformat(), "metadata": dict(e.metadata)}
                for e in events
            ],
        },
        indent=2,
        default=str,
    )
