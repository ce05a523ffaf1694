"""When the AI fails, a person takes over: a turn that ends in an error (a model error, a
malformed answer, the turn's deadline or its model calls spent, agent/turn_guard.py) or with no
message at all gives the customer one honest line and hands the session off, category
`ai_failure`, instead of leaving them with Parlant's bare error status or with silence.

Installed as engine hooks (agent/server.py): `on_error` for a turn that raised, and
`on_messages_emitted` for one that finished without a message.
"""

from __future__ import annotations

import logging
from typing import Any

import parlant.sdk as p
from parlant.core.engines.alpha.engine_context import EngineContext
from parlant.core.engines.alpha.hooks import EngineHookResult, EngineHooks
from parlant.core.sessions import EventKind, MessageEventData

from agent.key_locks import KeyLocks
from agent.packet_capture import JourneySteps
from agent.tools import EscalationNotifier, start_handoff
from agent.turn_guard import TurnGuard
from handoff.record import ReasonCategory

log = logging.getLogger(__name__)

TROUBLE_LINE = "I'm having trouble answering; a person will pick this up."
NO_MESSAGE = "the turn ended with no message"


def failure_reason(exception: BaseException | None) -> str:
    """The handoff's free-text reason: what failed, never the exception's text (which can
    quote a prompt, so a customer's words)."""
    if exception is None:
        return f"AI failure: {NO_MESSAGE}"
    return f"AI failure: {type(exception).__name__}"


class FailSafe:
    """The hooks that turn a failed AI turn into an honest line and a handoff."""

    def __init__(
        self,
        guard: TurnGuard,
        notifier: EscalationNotifier,
        journey_steps: JourneySteps | None = None,
        locks: KeyLocks | None = None,
    ) -> None:
        self._guard = guard
        self._notifier = notifier
        self._journey_steps = journey_steps
        self._locks = locks

    async def on_error(
        self, context: EngineContext, payload: Any = None, exception: Exception | None = None
    ) -> EngineHookResult:
        self._guard.forget(context)
        log.warning("AI turn failed session=%s: %s", context.session.id, type(exception).__name__)
        if not await self._hand_off(context, failure_reason(exception)):
            return EngineHookResult.CALL_NEXT  # Parlant's own error status, at least
        # Handled: the customer has the line and a person is coming; no bare error status.
        return EngineHookResult.BAIL

    async def on_messages_emitted(
        self, context: EngineContext, payload: Any = None, exception: Exception | None = None
    ) -> EngineHookResult:
        self._guard.forget(context)
        if not any(e.kind == EventKind.MESSAGE for e in context.state.message_events):
            log.warning("AI turn without a message session=%s", context.session.id)
            await self._hand_off(context, failure_reason(None))
        return EngineHookResult.CALL_NEXT

    async def _hand_off(self, context: EngineContext, reason: str) -> bool:
        """Say the line and hand off; False when that failed too (it is logged)."""
        try:
            message: MessageEventData = {
                "message": TROUBLE_LINE,
                "participant": {"id": context.agent.id, "display_name": context.agent.name},
            }
            await context.session_event_emitter.emit_message_event(
                trace_id=context.tracer.trace_id, data=message
            )
            session = p.Session.current
            await start_handoff(
                session,
                reason,
                ReasonCategory.AI_FAILURE,
                self._notifier,
                self._journey_steps,
                self._locks,
            )
            await session.update(mode="manual")
            await context.session_event_emitter.emit_status_event(
                trace_id=context.tracer.trace_id, data={"status": "ready", "data": {}}
            )
        except Exception:
            log.exception("the AI-failure handoff failed session=%s", context.session.id)
            return False
        return True

    async def install(self, hooks: EngineHooks) -> EngineHooks:
        hooks.on_error.append(self.on_error)
        hooks.on_messages_emitted.append(self.on_messages_emitted)
        return hooks
