"""`python -m agent`: the Parlant server with the insurance support agent."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from config import SettingsError
from config.private_files import make_private_dir, restrict_new_files

OFFLINE_BANNER = """\
+--------------------------------------------------------------------------+
| OFFLINE MODE: no LLM is configured, so the agent runs on the scripted    |
| offline NLP service (deterministic replies, no network).                 |
| For a real LLM set OPENAI_API_KEY in .env (or PARLANT_NLP=<service> plus |
| that service's key) and restart.                                         |
+--------------------------------------------------------------------------+"""


def main() -> int:
    try:
        from agent.settings import OFFLINE, AgentSettings

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
