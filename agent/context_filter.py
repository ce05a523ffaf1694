"""Keep operators' internal notes out of the AI's context.

Notes are stored as session events so supervisors can review them beside the transcript, but
the engine loads every event into the model's prompt; these hooks drop the notes from the
interaction before each step that builds prompts.
"""

from __future__ import annotations

from typing import Any

from parlant.core.engines.alpha.engine_context import EngineContext, Interaction
from parlant.core.engines.alpha.hooks import EngineHookResult, EngineHooks
from parlant.core.sessions import EventKind

from handoff.actions import INTERNAL_NOTE


def is_internal_note(event: Any) -> bool:
    return (
        event.kind == EventKind.CUSTOM
        and isinstance(event.data, dict)
        and event.data.get("type") == INTERNAL_NOTE
    )


async def drop_internal_notes(
    context: EngineContext, payload: Any, exception: Exception | None = None
) -> EngineHookResult:
    events = context.interaction.events
    if any(is_internal_note(e) for e in events):
        context.interaction = Interaction(events=[e for e in events if not is_internal_note(e)])
    return EngineHookResult.CALL_NEXT


async def install(hooks: EngineHooks) -> EngineHooks:
    # The interaction is loaded at acknowledgement and reloaded between preparation iterations.
    hooks.on_acknowledged.append(drop_internal_notes)
    hooks.on_preparation_iteration_start.append(drop_internal_notes)
    hooks.on_preamble_emitted.append(drop_internal_notes)
    hooks.on_generating_messages.append(drop_internal_notes)
    return hooks
