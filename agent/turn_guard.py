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

from agent.nlp_wrapping import NO_HINTS as _NO_HINTS
from agent.nlp_wrapping import WrappedGenerator, WrappedNLPService

# Turns that never reached their end (cancelled by a newer customer message) are forgotten.
_MAX_OPEN_TURNS = 1000


class TurnOverBudget(Exception):
    """The turn ran out of time or of model calls: it cannot answer."""


@dataclass(frozen=True)
class TurnLimits:
    timeout_seconds: float
    max_model_calls: int


class TurnGuard:
    """The model calls each running turn made, keyed by the turn's engine context."""

    def __init__(self, limits: TurnLimits) -> None:
        self.limits = limits
        self._calls: OrderedDict[int, tuple[weakref.ref[EngineContext], int]] = OrderedDict()

    def admit(self, context: EngineContext) -> float:
        """Count one more model call of the turn; the seconds it may take. Raises
        TurnOverBudget once the turn is past its deadline or its number of calls."""
        left = self.limits.timeout_seconds - context.creation.elapsed
        if left <= 0:
            raise TurnOverBudget(f"the turn's {self.limits.timeout_seconds:g} s deadline passed")
        entry = self._calls.get(id(context))
        calls = entry[1] if entry is not None and entry[0]() is context else 0
        self._calls[id(context)] = (weakref.ref(context), calls + 1)
        while len(self._calls) > _MAX_OPEN_TURNS:
            self._calls.popitem(last=False)
        if calls + 1 > self.limits.max_model_calls:
            raise TurnOverBudget(f"the turn made {self.limits.max_model_calls} model calls")
        return left

    def forget(self, context: EngineContext) -> None:
        self._calls.pop(id(context), None)


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
                f"a model call outlasted the turn's {self._guard.limits.timeout_seconds:g} s"
            ) from timeout


class GuardedNLPService(WrappedNLPService):
    """Any Parlant NLP service, with each turn's model calls bounded by a TurnGuard."""

    def __init__(self, inner: NLPService, guard: TurnGuard) -> None:
        super().__init__(inner)
        self._guard = guard

    def wrap(self, schema: type[T], generator: SchematicGenerator[T]) -> SchematicGenerator[T]:
        # Parametrised, because Parlant's container registers generators by __orig_class__.
        return GuardedGenerator[schema](generator, self._guard)  # type: ignore[valid-type]
