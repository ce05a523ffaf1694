"""Wrapping a Parlant NLP service to act around each model call, leaving the rest as it is.

Parlant asks an NLPService for a schematic generator per schema; the usage ledger
(token_usage.py) and the turn guard (turn_guard.py) each wrap those generators and delegate
everything else: embedders, streaming, moderation, the generator's id, token limit and
tokenizer. That delegation is written once here.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from parlant.core.nlp.embedding import Embedder
from parlant.core.nlp.generation import SchematicGenerator, StreamingTextGenerator, T
from parlant.core.nlp.moderation import ModerationService
from parlant.core.nlp.service import NLPService
from parlant.core.nlp.tokenization import EstimatingTokenizer

NO_HINTS: Mapping[str, Any] = MappingProxyType({})


class WrappedGenerator(SchematicGenerator[T]):
    """A schematic generator around `inner`: a subclass writes `generate`; the rest is the
    inner generator's."""

    def __init__(self, inner: SchematicGenerator[T]) -> None:
        self._inner = inner

    @property
    def inner(self) -> SchematicGenerator[T]:
        return self._inner

    @property
    def id(self) -> str:
        return self._inner.id

    @property
    def max_tokens(self) -> int:
        return self._inner.max_tokens

    @property
    def tokenizer(self) -> EstimatingTokenizer:
        return self._inner.tokenizer


class WrappedNLPService(NLPService):
    """Any Parlant NLP service, its schematic generators passed through `wrap`."""

    def __init__(self, inner: NLPService) -> None:
        self._inner = inner

    @abstractmethod
    def wrap(self, schema: type[T], generator: SchematicGenerator[T]) -> SchematicGenerator[T]:
        """The generator Parlant gets for `schema` (a subclass's own wrapper)."""

    @property
    def supports_streaming(self) -> bool:
        return self._inner.supports_streaming

    async def get_schematic_generator(
        self, t: type[T], hints: Any = NO_HINTS
    ) -> SchematicGenerator[T]:
        return self.wrap(t, await self._inner.get_schematic_generator(t, hints))

    async def get_streaming_text_generator(self, hints: Any = NO_HINTS) -> StreamingTextGenerator:
        return await self._inner.get_streaming_text_generator(hints)

    async def get_embedder(self, hints: Any = NO_HINTS) -> Embedder:
        return await self._inner.get_embedder(hints)

    async def get_moderation_service(self) -> ModerationService:
        return await self._inner.get_moderation_service()
