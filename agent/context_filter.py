"""Engine hooks that shape what the AI's prompts show of a session.

- Operators' internal notes, the records of failed AI turns (handoff/failed_turn.py) and the
  copilot's records (drafts offered, `ai:` replies held: handoff/copilot_events.py) are
  stored as session events so supervisors can review them beside the transcript, but they are
  never the AI's business: they are dropped.
- After a handback, the handoff it ended no longer steers the AI, and the operator's note is
  given as context (agent/handback_context.py).

The engine loads the interaction at acknowledgement and reloads it between preparation
iterations, so the interaction hooks run before every step that builds prompts.
"""

from __future__ import annotations

from typing import Any

from parlant.core.engines.alpha.engine_context import EngineContext, Interaction
from parlant.core.engines.alpha.hooks import EngineHookResult, EngineHooks
from parlant.core.sessions import EventKind

from agent.handback_context import (
    HANDBACK_VARIABLE,
    handback_in_force,
    handback_variable,
    superseded_by_handback,
)
from handoff.actions import INTERNAL_NOTE
from handoff.copilot_events import AI_REPLY_HELD, DRAFT_OFFERED
from handoff.failed_turn import AI_TURN_FAILED

_FOR_SUPERVISORS_ONLY = frozenset({INTERNAL_NOTE, AI_TURN_FAILED, DRAFT_OFFERED, AI_REPLY_HELD})


def is_internal_note(event: Any) -> bool:
    """An event for supervisors only: an internal note or a record of a failed turn, a draft
    offered or a held reply."""
    return (
        event.kind == EventKind.CUSTOM
        and isinstance(event.data, dict)
        and event.data.get("type") in _FOR_SUPERVISORS_ONLY
    )


async def drop_internal_notes(
    context: EngineContext, payload: Any, exception: Exception | None = None
) -> EngineHookResult:
    events = context.interaction.events
    if any(is_internal_note(e) for e in events):
        context.interaction = Interaction(events=[e for e in events if not is_internal_note(e)])
    return EngineHookResult.CALL_NEXT


async def drop_superseded_handoff(
    context: EngineContext, payload: Any, exception: Exception | None = None
) -> EngineHookResult:
    events = list(context.interaction.events)
    shaped = superseded_by_handback(events)
    if len(shaped) != len(events) or any(a is not b for a, b in zip(shaped, events, strict=True)):
        context.interaction = Interaction(events=shaped)
    return EngineHookResult.CALL_NEXT


async def add_handback_note(
    context: EngineContext, payload: Any, exception: Exception | None = None
) -> EngineHookResult:
    # Context variables are loaded once per turn, just before this hook.
    handback = handback_in_force(context.interaction.events)
    variables = context.state.context_variables
    if handback is not None and not any(v.name == HANDBACK_VARIABLE for v, _ in variables):
        variables.append(handback_variable(handback))
    return EngineHookResult.CALL_NEXT


async def install(hooks: EngineHooks) -> EngineHooks:
    for stage in (
        hooks.on_acknowledged,
        hooks.on_preparation_iteration_start,
        hooks.on_preamble_emitted,
        hooks.on_generating_messages,
    ):
        stage.append(drop_internal_notes)
        stage.append(drop_superseded_handoff)
    hooks.on_preparing.append(add_handback_note)
    return hooks
