"""The "ready" block `make run` prints once every process answers, and the wait for it.

Printed after the processes' own start-up output (Parlant's logo included), so the addresses
are the last thing on the screen rather than scrolled away above it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import httpx

POLL_INTERVAL_S = 0.5


def ready_block(
    chat_url: str,
    dashboard_url: str,
    token_kept_in: str,
    slack_line: str,
    metrics_lines: tuple[str, ...],
) -> str:
    rule = "=" * 72
    lines = [
        rule,
        "READY: every process answers.",
        f"customer chat:  {chat_url}",
        f"dashboard:      {dashboard_url}",
        f"operator token: in {token_kept_in}; Parlant's API refuses operator calls without it",
        f"Slack bridge:   {slack_line}",
        *(f"metrics:        {line}" for line in metrics_lines),
        "stop:           Ctrl-C (stops every process)",
        rule,
    ]
    return "\n".join(lines)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_ready(
    health_urls: Mapping[str, str],
    on_ready: Callable[[], None],
    stopped: threading.Event,
    probe: Callable[[str], bool] = answers,
) -> threading.Thread:
    """Calls `on_ready` once, when every URL has answered 200; gives up when `stopped` is set."""

    def watch() -> None:
        waiting = dict(health_urls)
        while waiting and not stopped.is_set():
            for name, url in list(waiting.items()):
                if probe(url):
                    del waiting[name]
            if waiting:
                time.sleep(POLL_INTERVAL_S)
        if not stopped.is_set():
            on_ready()

    thread = threading.Thread(target=watch, name="ready-watch", daemon=True)
    thread.start()
    return thread
