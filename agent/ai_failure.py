"""When the AI fails, a person takes over: a turn that ends in an error (a model error, a
malformed answer, the turn's deadline or its model calls spent, agent/nlp/turn_guard.py) or with no
message at all gives the customer one honest line and hands the session off, category
`ai_failure`, instead of leaving them with Parlant's bare error status or with silence.

Installed as engine hooks (agent/server.py): `on_error` for a turn that raised, and
`on_messages_emitted` for one that finished without a message.

Every failed turn, handed off or not, is recorded for supervisors: an `ai_turn_failed` event in
the session and the session's `ai_failure` label (handoff/failed_turn.py), which the
dashboard's failed-turns page lists, and the agent's `ai_turns_failed_total` counter.
"""

from __future__ import annotations

import logging
from typing import Any

import parlant.sdk as p
from parlant.core.engines.alpha.engine_context import EngineContext
from parlant.core.engines.alpha.hooks import EngineHookResult, EngineHooks
from parlant.core.sessions import EventKind, MessageEventData
from prometheus_client import Counter

from agent.drafts import is_draft
from agent.key_locks import KeyLocks
from agent.nlp.turn_guard import TurnGuard, TurnOverBudget
from agent.packet_capture import JourneySteps
from agent.tools import EscalationNotifier, start_handoff
from handoff.failed_turn import FAILED_TURN_LABEL, FailedTurn, FailureCause
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


def _causes(exception: BaseException | None) -> list[BaseException]:
    """The exception, what it was raised from and, for a group, what it groups."""
    found: list[BaseException] = []
    pending = [exception] if exception is not None else []
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.append(current)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return found


def failure_cause(exception: BaseException | None) -> FailureCause:
    """Why the turn failed: no reply, one of the turn's bounds (wherever Parlant re-raised or
    grouped the guard's TurnOverBudget), or another error."""
    if exception is None:
        return FailureCause.NO_REPLY
    for cause in _causes(exception):
        if isinstance(cause, TurnOverBudget):
            return cause.limit
    return FailureCause.ERROR


class FailSafe:
    """The hooks that turn a failed AI turn into an honest line and a handoff."""

    def __init__(
        self,
        guard: TurnGuard,
        notifier: EscalationNotifier,
        journey_steps: JourneySteps | None = None,
        failures: Counter | None = None,
        locks: KeyLocks | None = None,
    ) -> None:
        self._guard = guard
        self._notifier = notifier
        self._journey_steps = journey_steps
        self._failures = failures
        self._locks = locks

    async def on_error(
        self, context: EngineContext, payload: Any = None, exception: Exception | None = None
    ) -> EngineHookResult:
        model_error = self._guard.forget(context)
        if is_draft(context.session.customer_id):
            return EngineHookResult.CALL_NEXT  # a draft's turn (agent/drafts.py): no draft
        log.warning("AI turn failed session=%s: %s", context.session.id, type(exception).__name__)
        handed_off = await self._hand_off(context, failure_reason(exception))
        await self._record(context, exception, model_error, handed_off)
        if not handed_off:
            return EngineHookResult.CALL_NEXT  # Parlant's own error status, at least
        # Handled: the customer has the line and a person is coming; no bare error status.
        return EngineHookResult.BAIL

    async def on_messages_emitted(
        self, context: EngineContext, payload: Any = None, exception: Exception | None = None
    ) -> EngineHookResult:
        model_error = self._guard.forget(context)
        if is_draft(context.session.customer_id):
            return EngineHookResult.CALL_NEXT
        if not any(e.kind == EventKind.MESSAGE for e in context.state.message_events):
            log.warning("AI turn without a message session=%s", context.session.id)
            handed_off = await self._hand_off(context, failure_reason(None))
            await self._record(context, None, model_error, handed_off)
        return EngineHookResult.CALL_NEXT

    async def _record(
        self,
        context: EngineContext,
        exception: BaseException | None,
        model_error: str | None,
        handed_off: bool,
    ) -> None:
        """The failed turn, for supervisors: counted, and an event in the session, which is
        labelled so the dashboard finds it (logged when the store fails too). Its error is the
        model's last one where there was one (what Parlant kept retrying until the deadline),
        else, for an error, what ended the turn."""
        cause = failure_cause(exception)
        if model_error is None and cause is FailureCause.ERROR and exception is not None:
            model_error = type(exception).__name__
        turn = FailedTurn(cause=cause, error=model_error, handed_off=handed_off)
        if self._failures is not None:
            self._failures.labels(cause=turn.cause.value, handed_off=str(handed_off).lower()).inc()
        try:
            await context.session_event_emitter.emit_custom_event(
                trace_id=context.tracer.trace_id, data=turn.as_event_data()
            )
            await p.Session.current.labels.add(FAILED_TURN_LABEL)
        except Exception:
            log.exception("recording the failed AI turn failed session=%s", context.session.id)

    async def _hand_off(self, context: EngineContext, reason: str) -> bool:
        """Say the line and hand off; False when that failed too (it is logged). A draft's turn
        (agent/drafts.py) is no conversation: it fails with no draft, nothing more."""
        if is_draft(context.session.customer_id):
            return False
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
