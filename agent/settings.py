"""The agent process's settings, read once at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agent.customer_chat import CHAT_PATH
from agent.customers.settings import CustomerSettings
from agent.nlp.tokenizer_files import default_cache_dir
from config import EnvReader, SettingsError
from config.exposure import check_exposure
from config.logs import LogFormat, read_log_format
from config.ports import Listener
from config.urls import dashboard_url
from handoff.sla import SlaSettings
from slack_kit.settings import SlackSettings

OFFLINE = "offline"

# The LLM services Parlant 3.3 ships (names of `parlant.sdk.NLPServices` factories).
PARLANT_NLP_SERVICES: frozenset[str] = frozenset(
    {
        "openai",
        "anthropic",
        "azure",
        "gemini",
        "vertex",
        "mistral",
        "ollama",
        "litellm",
        "together",
        "cerebras",
        "deepseek",
        "emcie",
        "glm",
        "qwen",
        "zhipu",
        "novita",
        "snowflake",
        "modelscope",
    }
)

SESSION_STORES = ("sqlite", "local", "transient")
# PostgreSQL URLs (libpq's two spellings): sessions, customers and claims in that database.
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
MIN_OPERATOR_TOKEN_LENGTH = 16
# Beside agent/insurance.py: what the agent learned is declared as data like what it was given.
DEFAULT_LEARNED_FILE = Path(__file__).resolve().parent / "learned.json"


@dataclass(frozen=True)
class AgentSettings:
    nlp: str
    nlp_chosen_by_default: bool
    host: str
    port: int
    tool_port: int
    home: Path
    # Kept out of repr: a PostgreSQL URL may carry a password.
    session_store: str = field(repr=False)
    dashboard_url: str
    slack: SlackSettings | None
    # Kept out of repr so a logged or displayed settings object never shows it.
    operator_token: str | None = field(repr=False)
    log_level: str
    customers: CustomerSettings
    sla: SlaSettings
    # The openai SDK's endpoint: a gateway (LiteLLM, vLLM, Ollama's /v1) or None for OpenAI's own.
    openai_base_url: str | None = None
    # Where tiktoken finds its encodings, so Parlant's adapters never download them at start.
    tiktoken_cache_dir: Path = field(default_factory=default_cache_dir)
    # The LLM service's own variables (OPENAI_*, AZURE_*, ...) read from .env: Parlant's adapters
    # read os.environ, so the agent exports them before Parlant starts. Keys: kept out of repr.
    provider_environment: Mapping[str, str] = field(default_factory=dict, repr=False)
    log_format: LogFormat = "text"
    # PARLANT_OPEN_WITHOUT_TOKEN=on: serve a non-loopback PARLANT_HOST without the token.
    open_without_token: bool = False

    def check_exposure(self) -> None:
        """Stops a start that would give the network every operator call (config/exposure.py).

        Checked by the agent itself, not in from_env: `make run` reads these settings before it
        generates the token it then gives the agent."""
        check_exposure(
            host_setting="PARLANT_HOST",
            host=self.host,
            protected=self.operator_token is not None or self.open_without_token,
            protection="PARLANT_OPERATOR_TOKEN",
            override_setting="PARLANT_OPEN_WITHOUT_TOKEN",
        )

    # Each AI turn's bounds: past either, the turn fails and a person takes over (turn_guard).
    ai_turn_timeout_seconds: float = 60.0
    ai_turn_max_model_calls: int = 40
    # AZURE_DEPLOYMENT_MODELS: each Azure deployment's model, for tiktoken (service_checks).
    azure_deployment_models: Mapping[str, str] = field(default_factory=dict)
    # AGENT_LEARNED_FILE: guidelines and terms learned from handoffs (agent/learned_file.py).
    learned_file: Path = field(default_factory=lambda: DEFAULT_LEARNED_FILE)

    @property
    def listeners(self) -> tuple[Listener, ...]:
        return (
            Listener("the agent (Parlant)", "PARLANT_PORT", self.host, self.port),
            # Parlant always binds its tool server to 127.0.0.1.
            Listener("Parlant's tool server", "PARLANT_TOOL_PORT", "127.0.0.1", self.tool_port),
        )

    @property
    def chat_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}{CHAT_PATH}"

    @classmethod
    def from_env(cls, env: EnvReader | None = None) -> AgentSettings:
        env = env or EnvReader()
        explicit_nlp = env.choice("PARLANT_NLP", PARLANT_NLP_SERVICES | {OFFLINE}, default=None)
        if explicit_nlp is None:
            nlp = "openai" if env.has("OPENAI_API_KEY") else OFFLINE
        else:
            nlp = explicit_nlp
        if nlp == "openai" and not env.has("OPENAI_API_KEY"):
            raise SettingsError(
                "PARLANT_NLP=openai but OPENAI_API_KEY is not set; set OPENAI_API_KEY, "
                "or PARLANT_NLP=offline for the scripted offline agent"
            )
        port = env.port("PARLANT_PORT", 8800)
        tool_port = env.port("PARLANT_TOOL_PORT", 8818)
        if tool_port == port:
            raise SettingsError(
                f"PARLANT_TOOL_PORT={tool_port} equals PARLANT_PORT; set a different free port"
            )
        session_store = env.string("PARLANT_SESSION_STORE", "sqlite")
        if session_store not in SESSION_STORES and not session_store.startswith(
            ("mongodb", *POSTGRES_SCHEMES)
        ):
            raise SettingsError(
                f"PARLANT_SESSION_STORE={session_store!r} is not known; set one of "
                f"{', '.join(SESSION_STORES)}, a postgresql:// URL or a mongodb:// URL"
            )
        operator_token = env.secret(
            "PARLANT_OPERATOR_TOKEN",
            MIN_OPERATOR_TOKEN_LENGTH,
            "or leave it empty and `make run` generates one",
        )
        return cls(
            nlp=nlp,
            nlp_chosen_by_default=explicit_nlp is None,
            host=env.string("PARLANT_HOST", "127.0.0.1"),
            port=port,
            tool_port=tool_port,
            home=env.path("PARLANT_HOME", "./data/parlant"),
            session_store=session_store,
            dashboard_url=dashboard_url(env),
            slack=SlackSettings.from_env(env),
            operator_token=operator_token,
            log_level=env.choice("LOG_LEVEL", ("debug", "info", "warning", "error"), default="info")
            or "info",
            customers=CustomerSettings.from_env(env),
            sla=SlaSettings.from_env(env),
            openai_base_url=env.optional_url("OPENAI_BASE_URL", example="http://127.0.0.1:4000/v1"),
            tiktoken_cache_dir=env.path("TIKTOKEN_CACHE_DIR", str(default_cache_dir())),
            provider_environment=env.passthrough(),
            log_format=read_log_format(env),
            open_without_token=env.choice("PARLANT_OPEN_WITHOUT_TOKEN", ("on", "off"), "off")
            == "on",
            ai_turn_timeout_seconds=_positive_seconds(env, "AI_TURN_TIMEOUT_SECONDS", 60.0),
            ai_turn_max_model_calls=env.positive_int("AI_TURN_MAX_MODEL_CALLS", 40),
            azure_deployment_models=_deployment_models(env),
            learned_file=env.path("AGENT_LEARNED_FILE", str(DEFAULT_LEARNED_FILE)),
        )


def _deployment_models(env: EnvReader) -> dict[str, str]:
    from agent.nlp.service_checks import parse_deployment_models

    try:
        return parse_deployment_models(env.optional_str("AZURE_DEPLOYMENT_MODELS") or "")
    except ValueError as error:
        raise SettingsError(
            f"AZURE_DEPLOYMENT_MODELS: {error}; set deployment=model pairs separated by commas, "
            "e.g. my-gpt4o=gpt-4o,my-embedding=text-embedding-3-large"
        ) from None


def _positive_seconds(env: EnvReader, name: str, default: float) -> float:
    value = env.positive_float(name, default)
    if value <= 0:
        raise SettingsError(f"{name}={value} leaves a turn no time; set a number such as {default}")
    return value
