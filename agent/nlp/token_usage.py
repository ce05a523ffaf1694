"""The tokens each AI reply cost, kept on the reply's message event (metadata `llm_usage`).

Parlant records the usage of every generation in the `GenerationInfo` it returns with the
result (input and output tokens as the LLM reported them, and the model), but in 3.3 it keeps
none of it: the engine discards the generation infos after composing the reply, and there is no
inspection API any more. So the NLP service is wrapped: each schematic generation's usage is
added to the turn it belongs to (Parlant's engine context of the running task), and when the
turn's messages are emitted, the total goes into the metadata of its last AI message, where the
dashboard's session page reads it. With an openai-SDK service the usage is counted per request
the endpoint answered, retried and rejected drafts included (agent/nlp/gateway_usage.py). Generations
outside a turn (Parlant evaluating guidelines at start) are not any reply's: they, and the
turns that ended without a reply, are in the usage book (agent/store/usage_book.py), which is
the dashboard's daily figure.
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from lagom import Container
from parlant.core.engines.alpha.engine_context import EngineContext
from parlant.core.engines.alpha.hooks import EngineHookResult, EngineHooks
from parlant.core.engines.alpha.prompt_builder import PromptBuilder
from parlant.core.nlp.embedding import Embedder
from parlant.core.nlp.generation import (
    SchematicGenerationResult,
    SchematicGenerator,
    T,
)
from parlant.core.nlp.service import NLPService
from parlant.core.sessions import EventKind, EventSource, SessionStore

from agent.nlp.gateway_usage import GatewayUsage
from agent.nlp.wrapping import NO_HINTS as _NO_HINTS
from agent.nlp.wrapping import WrappedGenerator, WrappedNLPService

log = logging.getLogger(__name__)

USAGE_KEY = "llm_usage"
# Turns whose messages were never emitted (an error, a handoff in silence) are forgotten after this.
_MAX_OPEN_TURNS = 1000


@dataclass
class TurnUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    generations: int = 0
    models: set[str] = field(default_factory=set)

    def add(self, model: str, input_tokens: int, output_tokens: int) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.generations += 1
        self.models.add(model)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "generations": self.generations,
            "models": sorted(self.models),
        }


class UsageLedger:
    """Usage per running turn, keyed by the turn's engine context; the store to write it to."""

    def __init__(self) -> None:
        self._turns: OrderedDict[int, tuple[weakref.ref[EngineContext], TurnUsage]] = OrderedDict()
        self.store: SessionStore | None = None

    def record_tokens(
        self, context: EngineContext | None, model: str, input_tokens: int, output_tokens: int
    ) -> None:
        """One generation's (or one request's) usage, into its turn's."""
        if context is None:
            return
        entry = self._turns.get(id(context))
        if entry is None or entry[0]() is not context:  # a new turn (or a recycled id)
            entry = (weakref.ref(context), TurnUsage())
            self._turns[id(context)] = entry
            while len(self._turns) > _MAX_OPEN_TURNS:
                self._turns.popitem(last=False)
        entry[1].add(model, input_tokens, output_tokens)

    def take(self, context: EngineContext) -> TurnUsage | None:
        entry = self._turns.pop(id(context), None)
        return entry[1] if entry is not None and entry[0]() is context else None

    async def on_messages_emitted(
        self, context: EngineContext, payload: Any = None, exception: Exception | None = None
    ) -> EngineHookResult:
        usage = self.take(context)
        trace_ids = {
            e.trace_id for e in context.state.message_events if e.kind == EventKind.MESSAGE
        }
        if usage is None or not trace_ids or self.store is None:
            return EngineHookResult.CALL_NEXT
        replies = [
            event
            for trace_id in trace_ids
            for event in await self.store.list_events(
                context.session.id,
                source=EventSource.AI_AGENT,
                trace_id=trace_id,
                kinds=[EventKind.MESSAGE],
            )
        ]
        if not replies:
            return EngineHookResult.CALL_NEXT
        last = max(replies, key=lambda e: e.offset)
        await self.store.update_event(
            context.session.id,
            last.id,
            {"metadata": {**(last.metadata or {}), USAGE_KEY: usage.as_metadata()}},
        )
        log.info(
            "reply tokens session=%s in=%d out=%d generations=%d",
            context.session.id,
            usage.input_tokens,
            usage.output_tokens,
            usage.generations,
        )
        return EngineHookResult.CALL_NEXT

    async def install(self, hooks: EngineHooks) -> EngineHooks:
        hooks.on_messages_emitted.append(self.on_messages_emitted)
        return hooks


def _without_waiting(coroutine: Coroutine[Any, Any, Embedder]) -> Embedder | None:
    """The coroutine's result if it finishes without suspending; None (and closed) if not."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: Embedder = done.value
        return result
    coroutine.close()
    return None


class UsageRecordingGenerator(WrappedGenerator[T]):
    """Counts each successful generation's reported usage: for a generator whose requests are
    not counted at the HTTP level."""

    def __init__(self, inner: SchematicGenerator[T], usage: GatewayUsage) -> None:
        super().__init__(inner)
        self._usage = usage

    async def generate(
        self, prompt: str | PromptBuilder, hints: Mapping[str, Any] = _NO_HINTS
    ) -> SchematicGenerationResult[T]:
        result = await self._inner.generate(prompt, hints)
        usage = result.info.usage
        await self._usage.count(
            result.info.model, "generation", usage.input_tokens, usage.output_tokens
        )
        return result


class UsageRecordingNLPService(WrappedNLPService):
    """Any Parlant NLP service, with every request's usage added to its turn and the book."""

    def __init__(self, inner: NLPService, usage: GatewayUsage) -> None:
        super().__init__(inner)
        self._usage = usage

    def share_embedder(self, container: Container) -> None:
        """Parlant's vector stores build their embedder from the container the service is
        made with, by the embedder's class, as they open, not through the service: the
        service's own embedder (its requests counted) becomes that class's instance there.
        Called from the (synchronous) service factory, before the stores open; a service
        whose `get_embedder` must wait for something is left as it is (its embeddings then
        go uncounted)."""
        embedder = _without_waiting(self.get_embedder())
        if embedder is not None:
            container[type(embedder)] = embedder

    def wrap(self, schema: type[T], generator: SchematicGenerator[T]) -> SchematicGenerator[T]:
        if self._usage.hook(generator):
            return generator
        # Parametrised, because Parlant's container registers generators by __orig_class__.
        return UsageRecordingGenerator[schema](generator, self._usage)  # type: ignore[valid-type]

    async def get_embedder(self, hints: Any = _NO_HINTS) -> Embedder:
        embedder = await self._inner.get_embedder(hints)
        self._usage.hook(embedder)  # an embedder reports no usage: only its requests count
        return embedder
