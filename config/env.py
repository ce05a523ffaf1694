"""Typed reads of settings from the environment, with errors that say what to set.

Each process (agent, bridge, dashboard) builds its own frozen settings object from an
`EnvReader`. A bad value raises `SettingsError` naming the setting and what to put there;
`__main__` modules turn that into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlparse

from dotenv import dotenv_values

# Every setting the project reads, so a typo in .env (PARLANT_NPL=...) stops the start
# instead of being silently ignored.
KNOWN_SETTINGS: frozenset[str] = frozenset(
    {
        "PARLANT_NLP",
        "OPENAI_API_KEY",
        "PARLANT_HOST",
        "PARLANT_PORT",
        "PARLANT_TOOL_PORT",
        "PARLANT_HOME",
        "PARLANT_URL",
        "PARLANT_SESSION_STORE",
        "PARLANT_OPERATOR_TOKEN",
        "PARLANT_OPEN_WITHOUT_TOKEN",
        "DASHBOARD_URL",
        "DASHBOARD_PORT",
        "DASHBOARD_PASSWORD",
        "DASHBOARD_HOST",
        "DASHBOARD_OPEN_WITHOUT_PASSWORD",
        "DASHBOARD_SIGN_IN_HOURS",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_BRIDGE_HOST",
        "SLACK_BRIDGE_PORT",
        "SLACK_POSTS_PER_SECOND",
        "SLACK_ESCALATION_CHANNEL",
        "SLACK_API_URL",
        "SLACK_OPERATOR_IDS",
        "SLACK_MASK",
        "SLACK_ROUTES",
        "SLACK_SUPERVISOR_CHANNEL",
        "SLACK_OVERFLOW_CHANNEL",
        "SLACK_BEHIND_AFTER_SECONDS",
        "SLA_CLAIM_TARGET_MINUTES",
        "SLA_FIRST_REPLY_TARGET_MINUTES",
        "SLA_BUSINESS_HOURS",
        "SLA_TIMEZONE",
        "BRIDGE_STATE_PATH",
        "BRIDGE_STATE_URL",
        "BRIDGE_REPLICA_ID",
        "BRIDGE_LEASE_SECONDS",
        "BRIDGE_DRAFTS",
        "AGENT_LEARNED_FILE",
        "LOG_LEVEL",
        "CUSTOMER_TOKEN_SECRET",
        "CUSTOMER_TOKEN_PUBLIC_KEY_FILE",
        "CUSTOMER_TOKEN_ISSUER",
        "CUSTOMER_TOKEN_AUDIENCE",
        "CUSTOMER_TOKEN_MAX_LIFETIME_MINUTES",
        "CUSTOMER_GUESTS",
        "CUSTOMER_GUEST_TOKEN_MINUTES",
        "CUSTOMER_GUEST_SECRET",
        "CUSTOMER_DEMO",
        "CUSTOMER_ALLOWED_ORIGINS",
        "CUSTOMER_TRUSTED_PROXIES",
        "CUSTOMER_MAX_MESSAGE_CHARS",
        "CUSTOMER_SESSION_RATE",
        "CUSTOMER_MESSAGE_RATE",
        "CUSTOMER_LISTING_RATE",
        "CUSTOMER_READ_RATE",
        "CUSTOMER_TOKEN_RATE",
        "CUSTOMER_MAX_LONG_POLLS",
        # Where tiktoken reads its encodings (agent/nlp/tokenizer_files.py fills it).
        "TIKTOKEN_CACHE_DIR",
        "LOG_FORMAT",
        "BRIDGE_METRICS_HOST",
        "BRIDGE_METRICS_PORT",
        "BRIDGE_REPLY_SETTLE_SECONDS",
        "BRIDGE_DISCOVERY_INTERVAL_SECONDS",
        "BRIDGE_RESYNC_SECONDS",
        "BRIDGE_OUTBOX_RETRY_SECONDS",
        # Each AI turn's bounds (agent/nlp/turn_guard.py).
        "AI_TURN_TIMEOUT_SECONDS",
        "AI_TURN_MAX_MODEL_CALLS",
        # Each Azure deployment's model, for tiktoken (agent/nlp/service_checks.py).
        "AZURE_DEPLOYMENT_MODELS",
    }
)

# Variables Parlant itself (or one of its NLP adapters) reads; allowed in .env as-is.
PASSTHROUGH_PREFIXES: tuple[str, ...] = (
    "PARLANT_ENV",
    "PARLANT_TOOL_TIMEOUT",
    "PARLANT_TOOL_RESULT_MAX_PAYLOAD_KB",
    "PARLANT_DATA_COLLECTION",
    "OPENAI_",
    "ANTHROPIC_",
    "AZURE_",
    "GEMINI_",
    "GOOGLE_",
    "VERTEX_",
    "MISTRAL_",
    "OLLAMA_",
    "LITELLM_",
    "TOGETHER_",
    "CEREBRAS_",
    "DEEPSEEK_",
    "EMCIE_",
    "SNOWFLAKE_",
    "MODELSCOPE_",
    "GLM_",
    "QWEN_",
    "ZHIPU_",
    "NOVITA_",
    # An outbound proxy and a private CA for the LLM endpoint (docs/llm.md): httpx and the
    # openai SDK read these, requests (tiktoken, Hugging Face downloads) REQUESTS_CA_BUNDLE.
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
)

# Prefixes that mark a variable as ours: an unknown one of these in the environment is a typo.
OWN_PREFIXES: tuple[str, ...] = (
    "PARLANT_",
    "SLACK_",
    "DASHBOARD_",
    "BRIDGE_",
    "SLA_",
    "CUSTOMER_",
)


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says what to set."""


def load_dotenv_file(path: Path | None = None) -> dict[str, str]:
    """Read `.env` (if present) without touching os.environ, rejecting unknown keys."""
    env_path = path or Path(os.environ.get("DOTENV_PATH", ".env"))
    if not env_path.is_file():
        return {}
    values = {k: v for k, v in dotenv_values(env_path).items() if v is not None}
    unknown = sorted(k for k in values if not _is_known(k))
    if unknown:
        raise SettingsError(
            f"{env_path}: unknown setting(s) {', '.join(unknown)}; "
            "see .env.example for the settings this project reads"
        )
    return values


def _is_known(name: str) -> bool:
    return name in KNOWN_SETTINGS or name.startswith(PASSTHROUGH_PREFIXES)


class EnvReader:
    """Typed access to settings: the process environment wins over `.env`."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        dotenv: Mapping[str, str] | None = None,
    ) -> None:
        process_env = dict(os.environ if environ is None else environ)
        file_env = load_dotenv_file() if dotenv is None else dict(dotenv)
        self._values = {**file_env, **process_env}
        unknown = sorted(k for k in process_env if k.startswith(OWN_PREFIXES) and not _is_known(k))
        if unknown:
            raise SettingsError(
                f"unknown setting(s) {', '.join(unknown)} in the environment; "
                "see .env.example for the settings this project reads"
            )

    def has(self, name: str) -> bool:
        return bool(self._values.get(name, "").strip())

    def string(self, name: str, default: str | None = None, *, hint: str = "") -> str:
        """A required setting (or `default`); `hint` says how to set it when it is missing."""
        value = self._values.get(name, "").strip()
        if value:
            return value
        if default is not None:
            return default
        raise SettingsError(f"{name} is not set; {hint or 'set it in .env or the environment'}")

    def optional_str(self, name: str) -> str | None:
        value = self._values.get(name, "").strip()
        return value or None

    def secret(self, name: str, min_chars: int, otherwise: str) -> str | None:
        """A key or token of at least `min_chars`, or None; `otherwise` ends the error line."""
        value = self.optional_str(name)
        if value is not None and len(value) < min_chars:
            raise SettingsError(
                f"{name} is {len(value)} characters; set at least {min_chars} random ones "
                f"(python -c 'import secrets; print(secrets.token_urlsafe(32))'), {otherwise}"
            )
        return value

    def port(self, name: str, default: int) -> int:
        raw = self._values.get(name, "").strip()
        if not raw:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= 65535:
            raise SettingsError(f"{name}={raw!r} is not a port; set a number from 1 to 65535")
        return int(raw)

    def number(self, name: str, default: float) -> float:
        """A finite number, of any sign."""
        raw = self._values.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise SettingsError(f"{name}={raw!r} is not a number; set a number such as {default}")
        return value

    def positive_float(self, name: str, default: float) -> float:
        """A number, zero or more."""
        value = self.number(name, default)
        if value < 0:
            raise SettingsError(
                f"{name}={self._values[name].strip()!r} is negative; "
                f"set zero or more, such as {default}"
            )
        return value

    def positive_int(self, name: str, default: int) -> int:
        raw = self._values.get(name, "").strip()
        if not raw:
            return default
        if not raw.isdigit():
            raise SettingsError(f"{name}={raw!r} is not a whole number; set one such as {default}")
        if int(raw) < 1:
            raise SettingsError(f"{name}={raw!r} is below 1; set 1 or more, such as {default}")
        return int(raw)

    def choice(self, name: str, choices: Iterable[str], default: str | None) -> str | None:
        options = sorted(choices)
        raw = self._values.get(name, "").strip().lower()
        if not raw:
            return default
        if raw not in options:
            raise SettingsError(f"{name}={raw!r} is not known; set one of: {', '.join(options)}")
        return raw

    def url(self, name: str, default: str) -> str:
        raw = self._values.get(name, "").strip() or default
        parsed = urlparse(raw)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SettingsError(
                f"{name}={raw!r} is not an http(s) URL; set something like {default}"
            )
        return raw.rstrip("/")

    def optional_url(self, name: str, example: str) -> str | None:
        raw = self._values.get(name, "").strip()
        if not raw:
            return None
        parsed = urlparse(raw)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SettingsError(
                f"{name}={raw!r} is not an http(s) URL; set something like {example}"
            )
        return raw.rstrip("/")

    def passthrough(self) -> dict[str, str]:
        """The values of variables Parlant or its NLP adapters read themselves (OPENAI_*, ...)."""
        return {
            k: v
            for k, v in self._values.items()
            if k.startswith(PASSTHROUGH_PREFIXES) and v.strip()
        }

    def path(self, name: str, default: str) -> Path:
        return Path(self._values.get(name, "").strip() or default).expanduser().resolve()

    def id_list(self, name: str, pattern: str = r"^[A-Z0-9]+$") -> tuple[str, ...]:
        raw = self._values.get(name, "").strip()
        if not raw:
            return ()
        items = tuple(item.strip() for item in raw.split(",") if item.strip())
        bad = [item for item in items if not re.match(pattern, item)]
        if bad:
            raise SettingsError(
                f"{name} has malformed entries {bad}; set a comma-separated list like U012AB3CD,U045EF6GH"
            )
        return items
