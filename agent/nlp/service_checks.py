"""The start-up check's real requests for `azure`, `ollama` and `litellm` (agent/nlp/llm_preflight.py
runs them): an endpoint that is unreachable, refuses the key or lacks a model fails the check in
one line, instead of a long traceback once Parlant starts. Each needs only httpx or the openai
SDK, so it runs before Parlant's own check of the service's variables (which needs the
service's extra installed).

Azure deployments are named by their owner (`my-gpt4o`), but Parlant's Azure adapter counts
tokens with `tiktoken.encoding_for_model(<deployment>)`, which knows only OpenAI's model names
and raises KeyError for any other (Parlant PR #732). `AZURE_DEPLOYMENT_MODELS` maps each
deployment to the model it runs (`my-gpt4o=gpt-4o,my-embedding=text-embedding-3-large`);
`register_azure_deployments` teaches tiktoken those names before Parlant starts.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import openai
import tiktoken.model

TIMEOUT_S = 20.0
# The deployments Parlant's AzureService uses when AZURE_*_MODEL_NAME is not set.
AZURE_DEFAULT_GENERATIVE = "gpt-4o"
AZURE_DEFAULT_EMBEDDING = "text-embedding-3-large"
AZURE_DEFAULT_API_VERSION = "2024-08-01-preview"
# Parlant's OllamaService defaults.
OLLAMA_DEFAULT_URL = "http://localhost:11434"
OLLAMA_DEFAULT_MODEL = "gemma3:4b"
OLLAMA_DEFAULT_EMBEDDING = "nomic-embed-text"


def parse_deployment_models(raw: str) -> dict[str, str]:
    """`AZURE_DEPLOYMENT_MODELS`: `deployment=model` pairs separated by commas. ValueError
    names what is wrong."""
    found: dict[str, str] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        deployment, _, model = item.partition("=")
        if not deployment.strip() or not model.strip():
            raise ValueError(f"{item!r} is not deployment=model")
        try:
            tiktoken.model.encoding_name_for_model(model.strip())
        except KeyError:
            raise ValueError(
                f"{model.strip()!r} is not a model tiktoken knows (use OpenAI's name of the model "
                "the deployment runs, e.g. gpt-4o, gpt-4.1, text-embedding-3-large)"
            ) from None
        found[deployment.strip()] = model.strip()
    return found


def azure_deployments(env: Mapping[str, str]) -> tuple[str, str]:
    """The generative and embedding deployment names Parlant's AzureService will use."""
    return (
        env.get("AZURE_GENERATIVE_MODEL_NAME") or AZURE_DEFAULT_GENERATIVE,
        env.get("AZURE_EMBEDDING_MODEL_NAME") or AZURE_DEFAULT_EMBEDDING,
    )


def register_azure_deployments(env: Mapping[str, str], mapping: Mapping[str, str]) -> str | None:
    """Teach tiktoken each deployment's model; None, or one line naming a deployment tiktoken
    cannot count tokens for and how to map it."""
    for deployment in azure_deployments(env):
        if deployment in mapping:
            encoding = tiktoken.model.encoding_name_for_model(mapping[deployment])
            tiktoken.model.MODEL_TO_ENCODING[deployment] = encoding
            continue
        try:
            tiktoken.model.encoding_name_for_model(deployment)
        except KeyError:
            return (
                f"the Azure deployment {deployment!r} is not a model name tiktoken knows, and "
                "Parlant counts its tokens with tiktoken; set AZURE_DEPLOYMENT_MODELS="
                f"{deployment}=<the model it runs, e.g. gpt-4o> (see docs/llm.md)"
            )
    return None


def _unreachable(what: str, where: str, setting: str, error: Exception) -> str:
    return (
        f"the {what} {where} is unreachable ({type(error).__name__}); check {setting} and that "
        "this host may connect to it"
    )


async def check_azure(env: Mapping[str, str]) -> str | None:
    """A one-token request to the generative deployment and one embedding (API key only: with
    Azure AD, Parlant's own check gets the token)."""
    endpoint = env.get("AZURE_ENDPOINT", "")
    api_key = env.get("AZURE_API_KEY")
    if not endpoint or not api_key:
        return None
    client = openai.AsyncAzureOpenAI(
        api_key=api_key,
        azure_endpoint=endpoint,
        api_version=env.get("AZURE_API_VERSION") or AZURE_DEFAULT_API_VERSION,
        max_retries=0,
        timeout=TIMEOUT_S,
    )
    generative, embedding = azure_deployments(env)
    try:
        await client.chat.completions.create(
            model=generative, messages=[{"role": "user", "content": "ping"}], max_tokens=1
        )
        await client.embeddings.create(model=embedding, input=["ping"])
    except (openai.APIConnectionError, openai.APITimeoutError) as error:
        return _unreachable("Azure endpoint", endpoint, "AZURE_ENDPOINT", error)
    except openai.AuthenticationError:
        return f"the Azure endpoint {endpoint} refused AZURE_API_KEY (401); set a valid key"
    except openai.NotFoundError:
        return (
            f"the Azure endpoint {endpoint} has no deployment {generative!r} or {embedding!r} "
            "(404); set AZURE_GENERATIVE_MODEL_NAME and AZURE_EMBEDDING_MODEL_NAME to your "
            "deployments' names"
        )
    except openai.APIStatusError as error:
        return (
            f"the Azure endpoint {endpoint} answered {error.status_code}; check AZURE_ENDPOINT, "
            "AZURE_API_VERSION and AZURE_API_KEY"
        )
    except openai.OpenAIError as error:
        return (
            f"the Azure endpoint {endpoint} failed ({type(error).__name__}); check AZURE_ENDPOINT"
        )
    finally:
        await client.close()
    return None


def _ollama_names(payload: object) -> set[str]:
    models = payload.get("models") if isinstance(payload, dict) else None
    names: set[str] = set()
    for model in models if isinstance(models, list) else []:
        name = str(model.get("name") or model.get("model") or "") if isinstance(model, dict) else ""
        if name:
            names.add(name)
            if name.endswith(":latest"):
                names.add(name.removesuffix(":latest"))
    return names


async def check_ollama(env: Mapping[str, str]) -> str | None:
    """The server's model list (`GET /api/tags`) has the generation and embedding models."""
    base = (env.get("OLLAMA_BASE_URL") or OLLAMA_DEFAULT_URL).rstrip("/")
    wanted = [
        env.get("OLLAMA_MODEL") or OLLAMA_DEFAULT_MODEL,
        env.get("OLLAMA_EMBEDDING_MODEL") or OLLAMA_DEFAULT_EMBEDDING,
    ]
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
            answer = await http.get(f"{base}/api/tags")
    except httpx.HTTPError as error:
        return _unreachable("Ollama server", base, "OLLAMA_BASE_URL", error)
    try:
        answer.raise_for_status()
        names = _ollama_names(answer.json())
    except (httpx.HTTPStatusError, ValueError):
        return (
            f"{base}/api/tags did not answer Ollama's model list ({answer.status_code}); "
            "OLLAMA_BASE_URL must be the Ollama server itself, without /v1"
        )
    missing = [m for m in wanted if m not in names]
    if missing:
        return (
            f"the Ollama server {base} does not have {', '.join(missing)}; run `ollama pull "
            f"{missing[0]}` there, or set OLLAMA_MODEL / OLLAMA_EMBEDDING_MODEL to models it has"
        )
    return None


async def check_litellm(env: Mapping[str, str]) -> str | None:
    """With LITELLM_PROVIDER_BASE_URL set: that the endpoint answers at all (any HTTP answer).
    The one-token request through LiteLLM itself is Parlant's adapter's, at start."""
    base = env.get("LITELLM_PROVIDER_BASE_URL")
    if not base:
        return None
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
            await http.get(base)
    except httpx.HTTPError as error:
        return _unreachable("LiteLLM provider endpoint", base, "LITELLM_PROVIDER_BASE_URL", error)
    return None
