"""The block `make run` prints once every process is ready (or has not become ready), and the
watch that decides when.

Printed after the processes' own start-up output (Parlant's logo included), so the addresses
are the last thing on the screen rather than scrolled away above it. "Ready" is each process's
own /readyz, not merely an answer: with Slack unreachable the bridge answers but is not ready,
and the block used to say "Slack bridge: on" all the same. A process that answers but is still
not ready after SETTLE_S is named in the block with what its /readyz says is wrong; the block is
printed again whenever the set of processes that are not ready changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

POLL_INTERVAL_S = 0.5
# How long a process may answer without being ready before the block says so (the bridge's
# first Slack check, the agent's first probe round).
SETTLE_S = 10.0
# Once the block is out, readiness is read this often (each read is one /readyz per process).
WATCH_INTERVAL_S = 5.0


@dataclass(frozen=True)
class Readiness:
    ready: bool
    # (check, what is wrong) from the process's /readyz; empty when ready or when it said nothing
    problems: tuple[tuple[str, str], ...] = ()


PROBLEM_CHARS = 160


def describe(name: str, readiness: Readiness) -> str:
    if not readiness.problems:
        return name
    problems = "; ".join(f"{check}: {_cut(what)}" for check, what in readiness.problems)
    return f"{name} ({problems})"


def _cut(text: str) -> str:
    return text if len(text) <= PROBLEM_CHARS else text[: PROBLEM_CHARS - 1] + "…"


def ready_block(
    status: Mapping[str, Readiness],
    chat_url: str,
    dashboard_url: str,
    token_kept_in: str,
    slack_line: str,
    metrics_lines: tuple[str, ...],
) -> str:
    rule = "=" * 72
    not_ready = [describe(name, r) for name, r in status.items() if not r.ready]
    if not_ready:
        heading = [
            "NOT READY: " + "; ".join(not_ready),
            "READY follows here once every process is ready; the addresses answer meanwhile.",
        ]
    else:
        heading = ["READY: every process is ready."]
    lines = [
        rule,
        *heading,
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


def read_readiness(url: str, token: str) -> Readiness:
    """A process's /readyz; the token lets the agent's name its checks."""
    try:
        response = httpx.get(url, timeout=5, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as error:
        return Readiness(False, (("answer", f"no answer ({type(error).__name__})"),))
    try:
        checks = response.json().get("checks") or {}
    except (ValueError, AttributeError):
        checks = {}
    problems = tuple((str(k), str(v)) for k, v in checks.items() if v != "ok")
    return Readiness(response.status_code == 200, problems)


def watch_readiness(
    health_urls: Mapping[str, str],
    ready_urls: Mapping[str, str],
    read: Callable[[str], Readiness],
    on_change: Callable[[Mapping[str, Readiness]], None],
    stopped: threading.Event,
) -> threading.Thread:
    """Once every process answers its health URL: calls `on_change` when all are ready or
    SETTLE_S has passed, then whenever the set of processes that are not ready changes, until
    `stopped` is set."""

    def watch() -> None:
        waiting = dict(health_urls)
        while waiting and not stopped.is_set():
            for name, url in list(waiting.items()):
                if answers(url):
                    del waiting[name]
            if waiting:
                stopped.wait(POLL_INTERVAL_S)
        settled_at = time.monotonic() + SETTLE_S
        reported: frozenset[str] | None = None
        while not stopped.is_set():
            status = {name: read(url) for name, url in ready_urls.items()}
            not_ready = frozenset(name for name, r in status.items() if not r.ready)
            if (not not_ready or time.monotonic() >= settled_at) and not_ready != reported:
                on_change(status)
                reported = not_ready
            stopped.wait(POLL_INTERVAL_S if reported is None else WATCH_INTERVAL_S)

    thread = threading.Thread(target=watch, name="ready-watch", daemon=True)
    thread.start()
    return thread
