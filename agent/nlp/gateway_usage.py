"""Every request the model endpoint answered, counted as the endpoint billed it.

Parlant's adapters report a generation's usage only when it succeeds, so a draft the gateway
answered but Parlant rejected (malformed JSON, a missing field) and retried, a turn that ended
without a reply, Parlant's start-up evaluation and every embedding were billed but counted
nowhere. So the openai SDK clients inside Parlant's generators and embedders (OpenAI, Azure and
every adapter built on that SDK) get an httpx response hook: each answered POST to
`/chat/completions` or `/embeddings` adds the `usage` the endpoint sent (zero for an error
answer, which is not billed) to the usage book, by UTC day, model and kind
(agent/store/usage_book.py), and a generation inside an AI turn to the turn's usage
(agent/nlp/token_usage.py), whichever attempt of a retry it was.

A service whose clients are not the openai SDK's (the offline one, LiteLLM, Ollama, ...) is
counted from the usage Parlant reports for each successful generation instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from parlant.core.engines.alpha.entity_context import EntityContext

from agent.nlp.wrapping import WrappedGenerator
from agent.store.usage_book import Kind, UsageBook, UsageRow

if TYPE_CHECKING:
    from agent.nlp.token_usage import UsageLedger

log = logging.getLogger(__name__)

_PATHS: dict[str, Kind] = {"/chat/completions": "generation", "/embeddings": "embedding"}


def request_kind(path: str) -> Kind | None:
    return next((kind for end, kind in _PATHS.items() if path.endswith(end)), None)


def billed_tokens(body: Any) -> tuple[int, int]:
    """(input, output) tokens from an answer's `usage`; (0, 0) when it has none."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return 0, 0
    try:
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    except (TypeError, ValueError):
        return 0, 0


def _billed(response: Any) -> tuple[str, int, int]:
    """The model the request named and the (input, output) tokens its answer billed."""
    try:
        model = str(json.loads(response.request.content or b"{}").get("model") or "?")
    except ValueError:
        model = "?"
    if not response.is_success:
        return model, 0, 0
    try:
        return (model, *billed_tokens(response.json()))
    except ValueError:  # not JSON: nothing billed that we can read
        return model, 0, 0


def _openai_http_client(target: object) -> Any | None:
    """The HTTP client of the openai SDK client a Parlant generator or embedder holds (under
    our own wrappers, agent/nlp/wrapping.py): an httpx AsyncClient, or the openai SDK's own
    copy of httpx (`httpx2`) in its newer releases, with the same event hooks."""
    import openai

    while isinstance(target, WrappedGenerator):
        target = target.inner
    sdk = getattr(target, "_client", None)
    if not isinstance(sdk, openai.AsyncOpenAI):
        return None
    http = getattr(sdk, "_client", None)
    hooks = getattr(http, "event_hooks", None)
    return http if isinstance(hooks, dict) and "response" in hooks else None


class GatewayUsage:
    """Installs the response hook and writes what it counts."""

    def __init__(self, book: UsageBook | None, ledger: UsageLedger | None = None) -> None:
        self._book = book
        self._ledger = ledger
        self._hooked: weakref.WeakSet[Any] = weakref.WeakSet()

    def hook(self, target: object) -> bool:
        """Count `target`'s requests at the HTTP level; False when it has no openai client
        (then the caller counts its generations' reported usage)."""
        http = _openai_http_client(target)
        if http is None:
            return False
        if http not in self._hooked:  # a generator Parlant hands out twice is counted once
            http.event_hooks["response"] = [*http.event_hooks["response"], self._on_response]
            self._hooked.add(http)
        return True

    async def _on_response(self, response: Any) -> None:
        kind = request_kind(response.request.url.path)
        if response.request.method != "POST" or kind is None:
            return
        if "text/event-stream" in response.headers.get("content-type", ""):
            return  # a stream's usage comes in its last chunk; Parlant does not stream here
        if response.is_success:
            # httpx keeps the bytes for the SDK; a connection lost here fails the SDK's read too.
            await response.aread()
        try:
            model, input_tokens, output_tokens = _billed(response)
        except Exception:
            # Counting must never fail the model call it counts.
            log.exception("a model answer's usage could not be read")
            return
        await self.count(model, kind, input_tokens, output_tokens, answered=response.is_success)

    async def count(
        self,
        model: str,
        kind: Kind,
        input_tokens: int,
        output_tokens: int,
        answered: bool = True,
    ) -> None:
        """One request: into the book and, a generation the endpoint answered, into the
        running turn's usage."""
        if self._ledger is not None and kind == "generation" and answered:
            self._ledger.record_tokens(EntityContext.get(), model, input_tokens, output_tokens)
        if self._book is None:
            return
        row = UsageRow(
            day=datetime.now(UTC).date().isoformat(),
            model=model,
            kind=kind,
            requests=1,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )
        try:
            await asyncio.to_thread(self._book.add, row)
        except Exception:
            # Counting must never fail the model call it counts.
            log.exception("the usage book did not take a request's usage")
