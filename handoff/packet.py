"""The handoff packet: what the agent knew when it handed off, kept in the handoff record.

Built from Parlant's own state at handoff time (agent/packet_capture.py): the journey and step
the conversation was in, the guidelines that matched on the handoff turn, and the tool calls the
agent made with their results. Pure functions only. The packet lives in session metadata and is
shown in Slack and the dashboard, so it is JSON-safe and bounded: lists and strings are capped
here, once, whatever the tools returned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

# The handoff tool's name (agent/tools.py): readers of tool events recognise its calls by it.
HANDOFF_TOOL = "initiate_human_handoff"

MAX_GUIDELINES = 8
MAX_TOOL_CALLS = 8
MAX_ARGUMENTS = 6
MAX_TEXT = 300
MAX_NAME = 100
ELLIPSIS = "…"


class JourneyAtHandoff(TypedDict):
    title: str
    step: str


class GuidelineAtHandoff(TypedDict):
    condition: str
    action: str  # empty for an observation (a condition with no action)


class ToolCallAtHandoff(TypedDict):
    tool: str
    arguments: dict[str, str]
    result_summary: str


class HandoffPacket(TypedDict):
    journey: JourneyAtHandoff | None
    guidelines: list[GuidelineAtHandoff]
    tool_calls: list[ToolCallAtHandoff]


def capped(text: Any, limit: int = MAX_TEXT) -> str:
    """`text` as a string of at most `limit` characters, ending in "…" when cut."""
    value = text if isinstance(text, str) else json.dumps(text, default=str, sort_keys=True)
    return value if len(value) <= limit else value[: limit - 1].rstrip() + ELLIPSIS


def tool_name(tool_id: str) -> str:
    """Parlant's tool ids are `service:name`; people know the tools by name."""
    return tool_id.rsplit(":", 1)[-1]


def is_handoff_call(call: Any) -> bool:
    """Is this entry of a tool event's `tool_calls` the handoff tool's call?"""
    return isinstance(call, Mapping) and tool_name(str(call.get("tool_id", ""))) == HANDOFF_TOOL


def handoff_turn_start(events: Iterable[Any]) -> int | None:
    """Where the Slack thread takes over from the root message: the offset of the
    acknowledgement of the turn in which the AI last handed off.

    Parlant acknowledges a turn (an `acknowledged` status event, with the turn's trace id) once
    it has read the session: what came before, that turn saw and the root message shows; what
    came after (a message the customer sent while the turn ran, the AI's handoff reply), the
    thread mirrors. Falls back to the latest acknowledgement before the handoff, then to the
    handoff's tool event; None when the AI never handed off. `events` are Parlant events with at
    least the status and tool kinds, oldest first.
    """
    acknowledged: dict[str, int] = {}
    latest: int | None = None
    start: int | None = None
    for event in events:
        data = event.data if isinstance(event.data, Mapping) else {}
        offset = int(event.offset)
        if event.kind == "status" and data.get("status") == "acknowledged":
            acknowledged[str(getattr(event, "trace_id", ""))] = offset
            latest = offset
        elif event.kind == "tool" and any(is_handoff_call(c) for c in data.get("tool_calls") or []):
            fallback = latest if latest is not None else offset
            start = acknowledged.get(str(getattr(event, "trace_id", "")), fallback)
    return start


def recorded_thread_start(record: Mapping[str, Any] | None) -> int | None:
    """The offset of the first event the Slack thread mirrors, as the handoff recorded it
    (HandoffRecord.thread_from); None for a record written before it was kept."""
    value = (record or {}).get("thread_from")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def thread_start(record: Mapping[str, Any] | None, events: Iterable[Any]) -> int | None:
    """The offset of the first event the Slack thread mirrors; the root message shows the
    messages before it. The record's own, else (older records) just after the acknowledgement
    of the handoff turn; None when neither tells."""
    recorded = recorded_thread_start(record)
    if recorded is not None:
        return recorded
    acknowledged = handoff_turn_start(events)
    return None if acknowledged is None else acknowledged + 1


def result_summary(result_data: Any) -> str:
    """The tool's own one-line `summary` when it wrote one, else its data as compact JSON."""
    if isinstance(result_data, Mapping) and isinstance(result_data.get("summary"), str):
        return capped(result_data["summary"])
    return capped(result_data)


def tool_call_entry(tool_id: str, arguments: Any, result_data: Any) -> ToolCallAtHandoff:
    shown = list(arguments.items())[:MAX_ARGUMENTS] if isinstance(arguments, Mapping) else []
    return ToolCallAtHandoff(
        tool=capped(tool_name(str(tool_id)), MAX_NAME),
        arguments={capped(str(k), MAX_NAME): capped(v) for k, v in shown},
        result_summary=result_summary(result_data),
    )


def tool_calls_from_events(tool_event_data: Iterable[Any]) -> list[ToolCallAtHandoff]:
    """The calls in Parlant tool events' data ({"tool_calls": [{tool_id, arguments, result}]}),
    oldest first, the most recent MAX_TOOL_CALLS; the handoff's own call is not one of them."""
    entries = []
    for data in tool_event_data:
        calls = data.get("tool_calls") if isinstance(data, Mapping) else None
        for call in calls if isinstance(calls, list) else []:
            if not isinstance(call, Mapping) or is_handoff_call(call):
                continue
            result = call.get("result")
            data_part = result.get("data") if isinstance(result, Mapping) else result
            entries.append(
                tool_call_entry(str(call.get("tool_id", "")), call.get("arguments"), data_part)
            )
    return entries[-MAX_TOOL_CALLS:]


def build_packet(
    journey: tuple[str, str] | None,
    guidelines: Iterable[tuple[str, str | None]],
    tool_calls: Iterable[ToolCallAtHandoff],
) -> HandoffPacket:
    """A bounded packet; `guidelines` are (condition, action) pairs, duplicates dropped."""
    seen: set[tuple[str, str]] = set()
    kept: list[GuidelineAtHandoff] = []
    for condition, action in guidelines:
        entry = (capped(condition), capped(action or ""))
        if entry in seen or not entry[0]:
            continue
        seen.add(entry)
        kept.append(GuidelineAtHandoff(condition=entry[0], action=entry[1]))
    return HandoffPacket(
        journey=JourneyAtHandoff(title=capped(journey[0], MAX_NAME), step=capped(journey[1]))
        if journey
        else None,
        guidelines=kept[:MAX_GUIDELINES],
        tool_calls=list(tool_calls)[-MAX_TOOL_CALLS:],
    )


def _strings(value: Any, keys: tuple[str, ...]) -> dict[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    return {k: capped(value.get(k) or "") for k in keys}


def read_packet(record: Mapping[str, Any] | None) -> HandoffPacket | None:
    """The packet of a handoff record, re-capped and typed: metadata can be written by anyone
    with the operator token, so renderers never trust its shape."""
    raw = (record or {}).get("packet")
    if not isinstance(raw, Mapping):
        return None
    journey = _strings(raw.get("journey"), ("title", "step"))
    guidelines = [
        GuidelineAtHandoff(condition=g["condition"], action=g["action"])
        for g in (_strings(item, ("condition", "action")) for item in _list(raw.get("guidelines")))
        if g and g["condition"]
    ]
    calls = []
    for item in _list(raw.get("tool_calls")):
        if isinstance(item, Mapping):
            arguments = item.get("arguments")
            calls.append(
                ToolCallAtHandoff(
                    tool=capped(item.get("tool") or "", MAX_NAME),
                    arguments={
                        capped(str(k), MAX_NAME): capped(v)
                        for k, v in (
                            list(arguments.items()) if isinstance(arguments, Mapping) else []
                        )[:MAX_ARGUMENTS]
                    },
                    result_summary=capped(item.get("result_summary") or ""),
                )
            )
    return HandoffPacket(
        journey=JourneyAtHandoff(title=journey["title"], step=journey["step"])
        if journey and journey["title"]
        else None,
        guidelines=guidelines[:MAX_GUIDELINES],
        tool_calls=calls[-MAX_TOOL_CALLS:],
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def journey_title(record: Mapping[str, Any] | None) -> str | None:
    packet = read_packet(record)
    return packet["journey"]["title"] if packet and packet["journey"] else None
