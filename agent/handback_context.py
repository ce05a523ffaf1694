"""What the AI sees after an operator hands a conversation back: the note, not the old handoff.

Parlant loads every stored event into the model's prompts. After a handback (or a resolve) the
handoff tool's earlier result ("a human operator has been asked to join") would still tell the
model a person is on the case, and earlier handbacks would offer stale notes. So, until the next
handoff:

- the interaction loses the handoff tool calls and handback events that the latest handback or
  resolution superseded (the messages themselves stay: they are what the customer saw);
- the latest handback's note becomes a context variable, which Parlant renders into guideline
  matching, tool calling and message generation prompts alike (a resolution has no note).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from parlant.core.context_variables import (
    ContextVariable,
    ContextVariableId,
    ContextVariableValue,
    ContextVariableValueId,
)
from parlant.core.sessions import EventKind

from handoff.actions import HANDBACK, RESOLUTION
from handoff.packet import is_handoff_call

HANDBACK_VARIABLE = "operator_handback_note"


def is_handback(event: Any) -> bool:
    return (
        event.kind == EventKind.CUSTOM
        and isinstance(event.data, dict)
        and event.data.get("type") == HANDBACK
    )


def is_resolution(event: Any) -> bool:
    return (
        event.kind == EventKind.CUSTOM
        and isinstance(event.data, dict)
        and event.data.get("type") == RESOLUTION
    )


def _ends_handoff(event: Any) -> bool:
    return is_handback(event) or is_resolution(event)


def _handoff_calls(event: Any) -> list[Any]:
    if event.kind != EventKind.TOOL or not isinstance(event.data, dict):
        return []
    return [c for c in event.data.get("tool_calls", []) if is_handoff_call(c)]


def handoff_ended_by(events: Sequence[Any]) -> Any | None:
    """The latest handback or resolution event, unless the AI handed off again after it."""
    for event in reversed(events):
        if _ends_handoff(event):
            return event
        if _handoff_calls(event):
            return None
    return None


def handback_in_force(events: Sequence[Any]) -> Any | None:
    """The handback whose note the AI should continue from, if the handoff ended with one."""
    ended_by = handoff_ended_by(events)
    return ended_by if ended_by is not None and is_handback(ended_by) else None


def _without_handoff_calls(event: Any) -> Any | None:
    calls = event.data.get("tool_calls", [])
    kept = [c for c in calls if not is_handoff_call(c)]
    return dataclasses.replace(event, data={**event.data, "tool_calls": kept}) if kept else None


def superseded_by_handback(events: Sequence[Any]) -> list[Any]:
    """`events` without the handoff tool calls and handbacks that precede the handback or
    resolution that ended the handoff."""
    latest = handoff_ended_by(events)
    if latest is None:
        return list(events)
    position = next(i for i, e in enumerate(events) if e is latest)
    kept: list[Any] = []
    for event in events[:position]:
        if _ends_handoff(event):
            continue
        if _handoff_calls(event):
            trimmed = _without_handoff_calls(event)
            if trimmed is not None:
                kept.append(trimmed)
            continue
        kept.append(event)
    return kept + list(events[position:])


def handback_variable(handback: Any) -> tuple[ContextVariable, ContextVariableValue]:
    """The note of `handback` as a context variable the prompts show under HANDBACK_VARIABLE."""
    data = handback.data
    operator = (data.get("operator") or {}).get("name") or "a support operator"
    at = handback.creation_utc
    variable = ContextVariable(
        id=ContextVariableId(HANDBACK_VARIABLE),
        name=HANDBACK_VARIABLE,
        description=(
            f"{operator} from the support team handled this conversation and handed it back to "
            f"you at {at:%Y-%m-%d %H:%M} UTC with this note: the outcome of their work. No human "
            "is handling the conversation any more; continue from this note."
        ),
        creation_utc=at,
        tool_id=None,
        freshness_rules=None,
        tags=[],
    )
    value = ContextVariableValue(
        id=ContextVariableValueId(f"{HANDBACK_VARIABLE}:{handback.id}"),
        last_modified=at,
        data=str(data.get("note") or ""),
    )
    return variable, value
