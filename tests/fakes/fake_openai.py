"""A local OpenAI-compatible server whose model is the offline service's rules.

Parlant's real `OpenAIService`, through the real openai SDK and real HTTP, talks to it as to
api.openai.com (OPENAI_BASE_URL). It serves what that adapter calls:

- `POST /v1/chat/completions`: the prompt is read as text (tests/fakes/prompt_reading.py), the
  question identified (from `response_format.json_schema.name` when Parlant asks for a strict
  schema, else from the prompt, since Parlant 3.3 sends `json_object` and puts the schema in the
  prompt), answered by `agent.nlp.offline_nlp.RULES` and validated against Parlant's own pydantic
  schema before it is sent. Prompts it cannot read get a 400, so the agent's turn fails loudly.
- `POST /v1/embeddings`: the offline embedder's hashed bag of words, zero-padded to the size
  asked for (cosine similarity is unchanged).
- `GET /v1/models`, `POST /v1/moderations`; a wrong key gets 401 and an unknown model 404 with
  OpenAI's error shapes, for the preflight.

Fault modes (`fault`, set by a test once the agent is up) make every schema request fail the
way a real model or gateway does: `malformed` answers text that is not JSON, `http_500` a server
error, `rate_limited` 429 with `Retry-After`, `hang` never answers, `silent` drafts an empty
reply (the turn ends with no message). `fault_schema` limits a fault to one question (the
drafts, say), `fault_requests` limits a
fault to that many requests (then the model recovers); `requests` counts schema requests.

Every prompt is kept (`prompts`), so tests can check what Parlant really sent; usage is counted
with tiktoken's o200k_base from the offline cache. `served` adds up what the fake answered, as a
gateway's bill would: every chat and embeddings request it answered (errors included) and the
`usage` tokens it sent.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import threading
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import tiktoken
from aiohttp import web
from parlant.core.common import DefaultBaseModel
from pydantic import ValidationError

from agent import insurance
from agent.nlp.llm_preflight import OPENAI_MODELS
from agent.nlp.offline_nlp import RULES, OfflineEmbedder, OfflineScript, conservative_answer
from agent.nlp.tokenizer_files import default_cache_dir, ensure_cache
from agent.server import offline_script
from handoff.packet import HANDOFF_TOOL
from tests.fakes.prompt_reading import UnknownPrompt, read_prompt, schema_of

HOST = "127.0.0.1"
T = TypeVar("T")
DEFAULT_EMBEDDING_SIZE = 3072  # text-embedding-3-large, as Parlant's adapter declares it

# Where Parlant 3.3 defines each schema it asks for, to validate answers and fill the
# questions the offline rules leave to a conservative answer.
_SCHEMA_MODULES = {
    "GuidelineContinuousPropositionSchema": "services.indexing.guideline_continuous_proposer",
    "CustomerDependentActionSchema": "services.indexing.customer_dependent_action_detector",
    "AgentIntentionProposerSchema": "services.indexing.guideline_agent_intention_proposer",
    "ToolRunningActionSchema": "services.indexing.tool_running_action_detector",
    "RelativeActionSchema": "services.indexing.relative_action_proposer",
    "ReachableNodesEvaluationSchema": "services.indexing.journey_reachable_nodes_evaluation",
    "GenericObservationalGuidelineMatchesSchema": "engines.alpha.guideline_matching.generic."
    "observational_batch",
    "GenericActionableGuidelineMatchesSchema": "engines.alpha.guideline_matching.generic."
    "guideline_actionable_batch",
    "DisambiguationGuidelineMatchesSchema": "engines.alpha.guideline_matching.generic."
    "disambiguation_batch",
    "CannedResponseDraftSchema": "engines.alpha.canned_response_generator",
    "JourneyNextStepSelectionSchema": "engines.alpha.guideline_matching.generic.journey."
    "journey_next_step_selection",
    "JourneyBacktrackCheckSchema": "engines.alpha.guideline_matching.generic.journey."
    "journey_backtrack_check",
    "NonConsequentialToolBatchSchema": "engines.alpha.tool_calling.single_tool_batch",
    "SingleToolBatchSchema": "engines.alpha.tool_calling.single_tool_batch",
    "GenericResponseAnalysisSchema": "engines.alpha.guideline_matching.generic."
    "response_analysis_batch",
    "GenericPreviouslyAppliedActionableGuidelineMatchesSchema": "engines.alpha.guideline_matching."
    "generic.guideline_previously_applied_actionable_batch",
    "GenericPreviouslyAppliedActionableCustomerDependentGuidelineMatchesSchema": "engines.alpha."
    "guideline_matching.generic.guideline_previously_applied_actionable_customer_dependent_batch",
}


def schema_class(name: str) -> type[DefaultBaseModel]:
    module = importlib.import_module(f"parlant.core.{_SCHEMA_MODULES[name]}")
    model: type[DefaultBaseModel] = getattr(module, name)
    return model


def _error(status: int, message: str, kind: str, code: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status)


@dataclass(frozen=True)
class Prompt:
    schema_name: str
    model: str
    text: str


FAULTS = ("malformed", "http_500", "rate_limited", "hang", "silent")
BILLED_PATHS = ("/v1/chat/completions", "/v1/embeddings")


@dataclass
class Served:
    """What the fake answered on the billed paths, by kind (generation, embedding)."""

    requests: dict[str, int] = field(default_factory=dict)
    input_tokens: dict[str, int] = field(default_factory=dict)
    output_tokens: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, usage: Any) -> None:
        usage = usage if isinstance(usage, dict) else {}
        self.requests[kind] = self.requests.get(kind, 0) + 1
        self.input_tokens[kind] = self.input_tokens.get(kind, 0) + int(
            usage.get("prompt_tokens") or 0
        )
        self.output_tokens[kind] = self.output_tokens.get(kind, 0) + int(
            usage.get("completion_tokens") or 0
        )


@dataclass
class FakeOpenAI:
    api_key: str = "sk-fake-contract-test-key"
    models: frozenset[str] = frozenset(OPENAI_MODELS)
    script: OfflineScript = field(default_factory=offline_script)
    prompts: list[Prompt] = field(default_factory=list)
    embedded_texts: int = 0
    fault: str | None = None
    fault_requests: int | None = None  # None: every request while `fault` is set
    fault_schema: str | None = None  # None: requests for every schema
    retry_after_seconds: int = 2
    requests: int = 0
    schemas: list[str] = field(default_factory=list)  # of every schema request, in order
    served: Served = field(default_factory=lambda: Served())
    _hung: asyncio.Event | None = None
    _runner: web.AppRunner | None = None
    _port: int = 0

    def __post_init__(self) -> None:
        self._handoff_conditions = tuple(
            b.condition for b in insurance.BEHAVIOURS if HANDOFF_TOOL in b.tools
        )
        # The suite has no internet either: tiktoken reads the offline cache the install made.
        cache_dir = Path(os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(default_cache_dir())))
        problem = ensure_cache(cache_dir)
        if problem:
            raise RuntimeError(problem)
        self._encoding = tiktoken.get_encoding("o200k_base")

    # -- the server ----------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=64 * 1024 * 1024, middlewares=[self._bill, self._auth]
        )
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/moderations", self._moderations)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self._port = site._server.sockets[0].getsockname()[1]

    def release_hung_requests(self) -> None:
        """Answer (with an error) every request the `hang` fault holds."""
        if self._hung is not None:
            self._hung.set()
            self._hung = None

    async def stop(self) -> None:
        self.release_hung_requests()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self._port}/v1"

    def env(self) -> dict[str, str]:
        """What the agent needs to use this server through Parlant's openai service."""
        return {
            "PARLANT_NLP": "openai",
            "OPENAI_API_KEY": self.api_key,
            "OPENAI_BASE_URL": self.base_url,
        }

    def run_in_thread(self) -> FakeOpenAIThread:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-openai", daemon=True)
        thread.start()
        handle = FakeOpenAIThread(self, loop, thread)
        handle.run(self.start())
        return handle

    # -- what Parlant sent ---------------------------------------------------------------------

    def prompts_for(self, *schema_names: str) -> list[Prompt]:
        return [p for p in self.prompts if not schema_names or p.schema_name in schema_names]

    # -- handlers ------------------------------------------------------------------------------

    @web.middleware
    async def _bill(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if request.method == "POST" and request.path in BILLED_PATHS:
            kind = "embedding" if request.path.endswith("/embeddings") else "generation"
            body = getattr(response, "body", None)
            try:
                usage = json.loads(body).get("usage") if isinstance(body, bytes) else None
            except ValueError:
                usage = None
            self.served.add(kind, usage)
        return response

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        response: web.StreamResponse = await handler(request)
        return response

    async def _list_models(self, request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return web.json_response({"object": "list", "data": sorted(data, key=lambda m: m["id"])})

    def _unknown_model(self, model: str) -> web.Response:
        return _error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        )

    def _count(self, text: str) -> int:
        return len(self._encoding.encode(text, disallowed_special=()))

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        model = str(body.get("model"))
        if model not in self.models:
            return self._unknown_model(model)
        prompt = "\n".join(_text_of(m.get("content")) for m in body.get("messages", []))
        response_format = body.get("response_format") or {}
        fault = self._fault_for(response_format, prompt)
        faulty = await self._failure(fault)
        if faulty is not None:
            return faulty
        try:
            content = (
                "Sure! Here is what I think, in prose."
                if fault == "malformed"
                else self._answer(prompt, model, response_format, silent=fault == "silent")
            )
        except UnknownPrompt as error:
            return _error(400, str(error), "invalid_request_error")
        except ValidationError as error:
            return _error(500, f"the fake's answer broke the schema: {error}", "server_error")
        return web.json_response(
            {
                "id": f"chatcmpl-fake-{len(self.prompts)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": self._count(prompt),
                    "completion_tokens": self._count(content),
                    "total_tokens": self._count(prompt) + self._count(content),
                    "prompt_tokens_details": {"cached_tokens": 0},
                },
            }
        )

    def _fault_for(self, response_format: dict[str, Any], prompt: str) -> str | None:
        """The fault this request gets, if any (the preflight's plain probe is left alone, and
        start-up too: a test sets a fault once the agent is up)."""
        if response_format.get("type") not in ("json_object", "json_schema"):
            return None
        self.requests += 1
        try:
            schema = (response_format.get("json_schema") or {}).get("name") or schema_of(prompt)
        except UnknownPrompt:
            schema = "?"
        self.schemas.append(schema)
        if self.fault is None or self.fault_schema not in (None, schema):
            return None
        if self.fault_requests is not None:
            if self.fault_requests <= 0:
                self.fault = None
                return None
            self.fault_requests -= 1
        return self.fault

    async def _failure(self, fault: str | None) -> web.Response | None:
        """The error response `fault` answers with; None for the faults that answer badly."""
        if fault == "http_500":
            return _error(500, "The server had an error processing your request.", "server_error")
        if fault == "rate_limited":
            response = _error(429, "Rate limit reached.", "requests", "rate_limit_exceeded")
            response.headers["Retry-After"] = str(self.retry_after_seconds)
            return response
        if fault == "hang":
            # Until the test clears the fault (or the fake stops): then a late error, which the
            # agent, having given up on the call, never reads.
            self._hung = self._hung or asyncio.Event()
            await self._hung.wait()
            return _error(500, "The model did not answer in time.", "server_error")
        return None  # malformed and silent: answered, badly

    def _answer(
        self, prompt: str, model: str, response_format: dict[str, Any], silent: bool = False
    ) -> str:
        if response_format.get("type") not in ("json_object", "json_schema"):
            return "pong"  # a plain request (the preflight's probe)
        schema_name = (response_format.get("json_schema") or {}).get("name") or schema_of(prompt)
        self.prompts.append(Prompt(schema_name, model, prompt))
        schema = schema_class(schema_name) if schema_name in _SCHEMA_MODULES else None
        rule = RULES.get(schema_name)
        if rule is not None:
            question = read_prompt(prompt, self.script, schema_name, self._handoff_conditions)
            raw = rule(question, self.script)
        elif schema is not None:
            raw = conservative_answer(schema)
        else:
            raise UnknownPrompt(f"no rule and no schema for {schema_name}")
        if silent and schema_name == "CannedResponseDraftSchema":
            raw = {**raw, "response_body": None}
        if schema is not None:
            raw = schema.model_validate(raw).model_dump(mode="json")
        return json.dumps(raw)

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        model = str(body.get("model"))
        if model not in self.models:
            return self._unknown_model(model)
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        size = int(body.get("dimensions") or DEFAULT_EMBEDDING_SIZE)
        embedder = OfflineEmbedder()
        data = []
        for index, text in enumerate(texts):
            vector = embedder._vector(str(text))
            data.append(
                {
                    "object": "embedding",
                    "index": index,
                    "embedding": (vector + [0.0] * size)[:size],
                }
            )
        self.embedded_texts += len(texts)
        tokens = sum(self._count(str(t)) for t in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _moderations(self, request: web.Request) -> web.Response:
        body = await request.json()
        inputs = body.get("input")
        count = 1 if isinstance(inputs, str) else len(inputs or [])
        result = {"flagged": False, "categories": {}, "category_scores": {}}
        return web.json_response(
            {"id": "modr-fake", "model": body.get("model"), "results": [result] * count}
        )


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Iterable):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


@dataclass
class FakeOpenAIThread:
    """A FakeOpenAI serving from its own event loop in a daemon thread (for synchronous tests)."""

    fake: FakeOpenAI
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def clear_fault(self) -> None:
        """The model is healthy again; requests the fault still holds are let go."""
        self.fake.fault = None
        self.fake.fault_requests = None
        self.fake.fault_schema = None
        self.loop.call_soon_threadsafe(self.fake.release_hung_requests)

    def stop(self) -> None:
        self.run(self.fake.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
