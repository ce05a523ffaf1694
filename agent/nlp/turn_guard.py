"""Every AI turn is bounded: a deadline and a number of model calls.

Parlant retries a failed model call, the openai SDK retries 429s and 5xx (waiting out
Retry-After), and a model that hangs holds the turn until the SDK's own ten-minute timeout: with
no bound, a customer waits minutes and then gets no answer at all. So the NLP service is
wrapped: each model call of a turn gets only what is left of `AI_TURN_TIMEOUT_SECONDS` (counted
from the turn's start, Parlant's engine context's creation) and counts against
`AI_TURN_MAX_MODEL_CALLS`; past either it fails at once with `TurnOverBudget`, which ends the
turn in an error that agent/ai_failure.py turns into an honest line and a handoff.

Calls outside a turn (Parlant evaluating guidelines at start) are not bounded here.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parlant.core.engines.alpha.engine_context import EngineContext
from parlant.core.engines.alpha.entity_context import EntityContext
from parlant.core.engines.alpha.prompt_builder import PromptBuilder
from parlant.core.nlp.generation import (
    SchematicGenerationResult,
    SchematicGenerator,
    T,
)
from parlant.core.nlp.service import NLPService

from agent.nlp.wrapping import NO_HINTS as _NO_HINTS
from agent.nlp.wrapping import WrappedGenerator, WrappedNLPService
from handoff.failed_turn import FailureCause

# Turns that never reached their end (cancelled by a newer customer message) are forgotten.
_MAX_OPEN_TURNS = 1000


class TurnOverBudget(Exception):
    """The turn ran out of time or of model calls: it cannot answer."""

    def __init__(self, message: str, limit: FailureCause) -> None:
        super().__init__(message)
        self.limit = limit  # DEADLINE or MODEL_CALLS: which bound the turn reached


@dataclass(frozen=True)
class TurnLimits:
    timeout_seconds: float
    max_model_calls: int


@dataclass
class _Turn:
    context: weakref.ref[EngineContext]
    calls: int = 0
    model_error: str | None = None  # the last error a model call of the turn raised


def describe_model_error(error: BaseException) -> str:
    """The error's type and, for an HTTP error, its status: never its text, which can quote
    a prompt."""
    status = getattr(error, "status_code", None)
    return f"{type(error).__name__} (HTTP {status})" if status else type(error).__name__


class TurnGuard:
    """The model calls each running turn made, keyed by the turn's engine context."""

    def __init__(self, limits: TurnLimits) -> None:
        self.limits = limits
        self._turns: OrderedDict[int, _Turn] = OrderedDict()

    def _turn(self, context: EngineContext) -> _Turn:
        turn = self._turns.get(id(context))
        if turn is None or turn.context() is not context:  # a new turn (or a recycled id)
            turn = self._turns[id(context)] = _Turn(weakref.ref(context))
            while len(self._turns) > _MAX_OPEN_TURNS:
                self._turns.popitem(last=False)
        return turn

    def admit(self, context: EngineContext) -> float:
        """Count one more model call of the turn; the seconds it may take. Raises
        TurnOverBudget once the turn is past its deadline or its number of calls."""
        left = self.limits.timeout_seconds - context.creation.elapsed
        if left <= 0:
            raise TurnOverBudget(
                f"the turn's {self.limits.timeout_seconds:g} s deadline passed",
                FailureCause.DEADLINE,
            )
        turn = self._turn(context)
        turn.calls += 1
        if turn.calls > self.limits.max_model_calls:
            raise TurnOverBudget(
                f"the turn made {self.limits.max_model_calls} model calls", FailureCause.MODEL_CALLS
            )
        return left

    def model_failed(self, context: EngineContext, error: BaseException) -> None:
        self._turn(context).model_error = describe_model_error(error)

    def forget(self, context: EngineContext) -> str | None:
        """Done with the turn; the last error its model calls raised, if any (what a turn
        that ran out of time was retrying)."""
        turn = self._turns.pop(id(context), None)
        return turn.model_error if turn is not None and turn.context() is context else None


class GuardedGenerator(WrappedGenerator[T]):
    def __init__(self, inner: SchematicGenerator[T], guard: TurnGuard) -> None:
        super().__init__(inner)
        self._guard = guard

    async def generate(
        self, prompt: str | PromptBuilder, hints: Mapping[str, Any] = _NO_HINTS
    ) -> SchematicGenerationResult[T]:
        context = EntityContext.get()
        if context is None:
            return await self._inner.generate(prompt, hints)
        left = self._guard.admit(context)
        try:
            return await asyncio.wait_for(self._inner.generate(prompt, hints), left)
        except TimeoutError as timeout:
            raise TurnOverBudget(
                f"a model call outlasted the turn's {self._guard.limits.timeout_seconds:g} s",
                FailureCause.DEADLINE,
            ) from timeout
        except Exception as error:
            self._guard.model_failed(context, error)
            raise


class GuardedNLPService(WrappedNLPService):
    """Any Parlant NLP service, with each turn's model calls bounded by a TurnGuard."""

    def __init__(self, inner: NLPService, guard: TurnGuard) -> None:
        super().__init__(inner)
        self._guard = guard

    def wrap(self, schema: type[T], generator: SchematicGenerator[T]) -> SchematicGenerator[T]:
        # Parametrised, because Parlant's container registers generators by __orig_class__.
        return GuardedGenerator[schema](generator, self._guard)  # type: ignore[valid-type]
