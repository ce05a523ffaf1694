"""`python -m agent`: the Parlant server with the insurance support agent."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys

from agent.settings import OFFLINE, AgentSettings
from config import SettingsError
from config.home import ensure_writable_dir
from config.logs import adopt_parlant_logger, announce, configure_logging
from config.ports import check_listeners
from config.private_files import restrict_new_files

log = logging.getLogger("agent")

OFFLINE_BANNER = """\
+--------------------------------------------------------------------------+
| OFFLINE MODE: no LLM is configured, so the agent runs on the scripted    |
| offline NLP service (deterministic replies, no network).                 |
| For a real LLM set OPENAI_API_KEY in .env (or PARLANT_NLP=<service> plus |
| that service's key) and restart.                                         |
+--------------------------------------------------------------------------+"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m agent",
        description="The Parlant server with the insurance support agent. Settings come from "
        "the environment and .env (see .env.example).",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="only check that the configured LLM answers (key, endpoint, models) and exit",
    )
    return parser.parse_args(argv)


def llm_ready(settings: AgentSettings) -> str | None:
    """None when the configured LLM can be used from here; else one line saying what to fix.

    The LLM service's variables from .env go into the environment first, because Parlant's
    adapters and the openai SDK read os.environ."""
    from agent.nlp.llm_preflight import preflight
    from agent.nlp.tokenizer_files import ensure_cache

    for name, value in settings.provider_environment.items():
        os.environ.setdefault(name, value)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(settings.tiktoken_cache_dir)
    problem = ensure_cache(settings.tiktoken_cache_dir)
    if problem is not None:
        return problem
    # The check's own requests are not events worth a log line each (the result is one line);
    # the openai SDK's HTTP client logs as httpx2.
    http_logs = [logging.getLogger(name) for name in ("httpx", "httpx2")]
    levels = [log.level for log in http_logs]
    for log in http_logs:
        log.setLevel(logging.WARNING)
    try:
        return asyncio.run(
            preflight(
                settings.nlp,
                os.environ.get("OPENAI_API_KEY"),
                os.environ.get("OPENAI_BASE_URL"),
                dict(os.environ),
                settings.azure_deployment_models,
            )
        )
    finally:
        for log, level in zip(http_logs, levels, strict=True):
            log.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = AgentSettings.from_env()
        if not args.check:
            settings.check_exposure()
            check_listeners(settings.listeners)
        # Parlant creates its home dir and log file when first imported: point it at ours
        # first, made private (and proven writable) before anything is written into it.
        restrict_new_files()
        ensure_writable_dir(settings.home, "PARLANT_HOME", private=True)
    except SettingsError as error:
        print(f"agent: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format, "agent")
    os.environ["PARLANT_HOME"] = str(settings.home)
    # After PARLANT_HOME: checking a service other than openai imports Parlant's adapter.
    if settings.nlp != OFFLINE:
        problem = llm_ready(settings)
        if problem is not None:
            print(f"agent: LLM check failed: {problem}", file=sys.stderr)
            return 3
        if args.check:
            print(f"agent: LLM check passed ({settings.nlp})", file=sys.stderr)
            return 0
    elif args.check:
        print("agent: PARLANT_NLP is offline: no LLM to check", file=sys.stderr)
        return 0
    from agent.server import serve
    from agent.store.session_stores import is_postgres_url

    if is_postgres_url(settings.session_store):
        from config.postgres_check import postgres_problem

        problem = postgres_problem(settings.session_store, "PARLANT_SESSION_STORE")
        if problem is not None:
            print(f"agent: session store check failed: {problem}", file=sys.stderr)
            return 4
    adopt_parlant_logger(settings.log_format)
    if settings.nlp == OFFLINE:
        announce(OFFLINE_BANNER, settings.log_format, log)
    if settings.slack is None:
        log.info("Slack is not configured; handoffs show in the dashboard only")
    log.info("customer chat at %s (NLP: %s)", settings.chat_url, settings.nlp)
    if settings.operator_token is not None:
        log.info("operator token on: operator calls, /chat, /logs and /metrics need it")
    if settings.customers.demo and settings.customers.token_secret:
        # Accepted for a staging set-up (docs/security.md), never quietly.
        log.warning(
            "CUSTOMER_DEMO=on with CUSTOMER_TOKEN_SECRET: anyone can sign in as the sample "
            "customers with tokens signed by the insurer's key; set CUSTOMER_DEMO=off in production"
        )
    from agent.learned_file import LearnedFileError

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(settings))
    except LearnedFileError as error:
        print(
            f"agent: learned file: {error}; correct it, or set AGENT_LEARNED_FILE to another file",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
