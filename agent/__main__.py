"""`python -m agent`: the Parlant server with the insurance support agent."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from agent.settings import OFFLINE, AgentSettings
from config import SettingsError
from config.private_files import make_private_dir, restrict_new_files

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
    from agent.llm_preflight import preflight
    from agent.tokenizer_files import ensure_cache

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
                settings.nlp, os.environ.get("OPENAI_API_KEY"), os.environ.get("OPENAI_BASE_URL")
            )
        )
    finally:
        for log, level in zip(http_logs, levels, strict=True):
            log.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = AgentSettings.from_env()
    except SettingsError as error:
        print(f"agent: configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # Parlant logs to the console itself; propagating would print every line twice.
    logging.getLogger("parlant").propagate = False
    # Parlant creates its home dir and log file when first imported: point it at ours first,
    # made private before anything is written into it.
    restrict_new_files()
    make_private_dir(settings.home)
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

    if settings.nlp == OFFLINE:
        print(OFFLINE_BANNER, file=sys.stderr)
    if settings.slack is None:
        print(
            "agent: Slack is not configured; handoffs show in the dashboard only", file=sys.stderr
        )
    print(f"agent: customer chat at {settings.chat_url} (NLP: {settings.nlp})", file=sys.stderr)
    if settings.operator_token is not None:
        print(
            "agent: operator token on: operator calls, /chat (Parlant's sandbox) and /logs need it",
            file=sys.stderr,
        )
    try:
        asyncio.run(serve(settings))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
