"""Before the agent starts: does the configured LLM answer? One line saying what to fix if not.

Without this, a refused key, an unreachable endpoint or a model the endpoint does not serve
shows up as a traceback on the first customer message (or at start, deep inside Parlant).
For `openai` (and any OpenAI-compatible endpoint set with OPENAI_BASE_URL) it asks the
endpoint for its models with the real openai SDK, and, where an endpoint has no model list,
makes a one-token request per model; an HTML page where the API should answer, or a base URL
that lacks `/v1`, is named as such. `azure`, `ollama` and `litellm` get a real request too
(agent/nlp/service_checks.py); then every service other than openai gets Parlant's own check of
its variables.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping

import httpx
import openai

from agent.nlp.service_checks import (
    check_azure,
    check_litellm,
    check_ollama,
    register_azure_deployments,
)

# The models Parlant 3.3's OpenAIService asks for (parlant/adapters/nlp/openai_service.py,
# `get_schematic_generator` with no hints, as Parlant's engine calls it, and `get_embedder`).
# tests/test_llm_contract.py checks this list against the installed Parlant.
OPENAI_CHAT_MODELS: tuple[str, ...] = (
    "gpt-4o-2024-08-06",
    "gpt-4o-2024-11-20",
    "gpt-4.1",
    "gpt-4.1-mini",
)
OPENAI_EMBEDDING_MODELS: tuple[str, ...] = ("text-embedding-3-large",)
OPENAI_MODELS = OPENAI_CHAT_MODELS + OPENAI_EMBEDDING_MODELS
OPENAI_DEFAULT_ENDPOINT = "https://api.openai.com/v1"
TIMEOUT_S = 20.0

# Parlant services whose own `verify_environment` names the variables they need.
_SERVICE_CLASSES = {
    "azure": "parlant.adapters.nlp.azure_service:AzureService",
    "litellm": "parlant.adapters.nlp.litellm_service:LiteLLMService",
    "ollama": "parlant.adapters.nlp.ollama_service:OllamaService",
    "anthropic": "parlant.adapters.nlp.anthropic_service:AnthropicService",
    "gemini": "parlant.adapters.nlp.gemini_service:GeminiService",
    "mistral": "parlant.adapters.nlp.mistral_service:MistralService",
}


def _endpoint(base_url: str | None) -> str:
    return base_url or OPENAI_DEFAULT_ENDPOINT


def _problem(error: Exception, base_url: str | None) -> str:
    """One line naming what is wrong and the setting that fixes it."""
    where = _endpoint(base_url)
    if isinstance(error, openai.AuthenticationError):
        return f"the LLM endpoint {where} refused OPENAI_API_KEY (401); set a valid OPENAI_API_KEY"
    if isinstance(error, openai.PermissionDeniedError):
        return (
            f"the LLM endpoint {where} does not allow this OPENAI_API_KEY (403); use a key "
            "with access to the models, or check the gateway's policy"
        )
    if isinstance(error, (openai.APITimeoutError, openai.APIConnectionError)):
        return (
            f"the LLM endpoint {where} is unreachable ({type(error).__name__}); check "
            "OPENAI_BASE_URL and that this host may connect to it"
        )
    if isinstance(error, openai.APIStatusError):
        return (
            f"the LLM endpoint {where} answered {error.status_code}; check OPENAI_BASE_URL "
            "and OPENAI_API_KEY"
        )
    return f"the LLM endpoint {where} failed ({type(error).__name__}); check OPENAI_BASE_URL"


async def _served_by_probe(client: openai.AsyncOpenAI, models: Iterable[str]) -> list[str]:
    """For endpoints without a model list: the models a one-token request finds missing."""
    missing = []
    for model in models:
        try:
            if model in OPENAI_EMBEDDING_MODELS:
                await client.embeddings.create(model=model, input=["ping"])
            else:
                await client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "ping"}], max_tokens=1
                )
        except openai.NotFoundError:
            missing.append(model)
    return missing


def _is_html(answer: httpx.Response) -> bool:
    return "html" in answer.headers.get("content-type", "") or answer.text.lstrip().startswith("<")


def _answers_the_api(answer: httpx.Response) -> bool:
    try:
        return answer.status_code < 400 and isinstance(answer.json().get("data"), list)
    except ValueError:
        return False


async def api_shape_problem(api_key: str, base_url: str | None) -> str | None:
    """What is wrong with OPENAI_BASE_URL itself, if the endpoint answers at all: an HTML page
    where OpenAI's `GET /models` should answer (a web UI, a login page, a proxy's error page),
    or a base URL without `/v1` whose `/v1` is the API. None when neither (or unreachable:
    the SDK's check says so)."""
    where = _endpoint(base_url).rstrip("/")
    with_v1 = None if where.endswith("/v1") else f"{where}/v1"
    try:
        async with httpx.AsyncClient(
            timeout=TIMEOUT_S, headers={"Authorization": f"Bearer {api_key}"}
        ) as http:
            answer = await http.get(f"{where}/models")
            if answer.status_code != 404 and not _is_html(answer):
                return None
            if with_v1 is not None and _answers_the_api(await http.get(f"{with_v1}/models")):
                return (
                    f"OPENAI_BASE_URL={where} lacks /v1: the endpoint answers OpenAI's API at "
                    f"{with_v1}; set OPENAI_BASE_URL={with_v1}"
                )
    except httpx.HTTPError:
        return None
    if _is_html(answer):
        return (
            f"the LLM endpoint {where} answered GET /models with an HTML page "
            f"({answer.status_code}), not OpenAI's API; set OPENAI_BASE_URL to the API's base "
            "URL (usually ending in /v1), not a web page or login page"
        )
    return None


async def check_openai(
    api_key: str, base_url: str | None, models: Iterable[str] = OPENAI_MODELS
) -> str | None:
    """None if the endpoint accepts the key and serves every model; else what to fix."""
    shape = await api_shape_problem(api_key, base_url)
    if shape is not None:
        return shape
    wanted = list(models)
    client = openai.AsyncOpenAI(
        api_key=api_key, base_url=base_url, max_retries=0, timeout=TIMEOUT_S
    )
    try:
        try:
            listed: set[str] | None = {model.id async for model in client.models.list()}
        except openai.NotFoundError:
            listed = None  # e.g. a gateway that does not expose /models
        if listed is None:
            missing = await _served_by_probe(client, wanted)
        else:
            missing = [m for m in wanted if m not in listed]
    except openai.OpenAIError as error:
        return _problem(error, base_url)
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        # An answer that is not OpenAI's shape, which the SDK fails to read.
        return (
            f"the LLM endpoint {_endpoint(base_url)} answered something that is not OpenAI's "
            f"API ({type(error).__name__}); check OPENAI_BASE_URL"
        )
    finally:
        await client.close()
    if missing:
        return (
            f"the LLM endpoint {_endpoint(base_url)} does not serve {', '.join(missing)}, which "
            "Parlant's openai service uses; serve them under these names (a gateway alias), or "
            "set PARLANT_NLP to your provider's service (see docs/llm.md)"
        )
    return None


def check_service_environment(service: str) -> str | None:
    """Parlant's own check of a service's variables, as one line."""
    target = _SERVICE_CLASSES.get(service)
    if target is None:
        return None
    module_name, class_name = target.split(":")
    try:
        service_class = getattr(importlib.import_module(module_name), class_name)
    except ImportError as error:
        return (
            f"PARLANT_NLP={service} needs a package that is not installed ({error.name}); "
            f"install parlant[{service}]"
        )
    message = service_class.verify_environment()
    if not message:
        return None
    first = next((line.strip() for line in str(message).splitlines() if line.strip()), "")
    return f"PARLANT_NLP={service}: {first}"


async def preflight(
    service: str,
    api_key: str | None,
    base_url: str | None,
    env: Mapping[str, str] | None = None,
    azure_deployment_models: Mapping[str, str] | None = None,
) -> str | None:
    """None when `service` can be used from here; else one line saying what to fix. `env` is
    where the service's variables are (the process environment, .env exported into it)."""
    if service == "openai":
        return await check_openai(api_key or "", base_url)
    env = env if env is not None else {}
    if service == "azure":
        problem = register_azure_deployments(env, azure_deployment_models or {})
        problem = problem or await check_azure(env)
    elif service == "ollama":
        problem = await check_ollama(env)
    elif service == "litellm":
        problem = await check_litellm(env)
    else:
        problem = None
    return problem or check_service_environment(service)
