"""Is Slack accepting the bot token: auth.test, remembered for a while so that a readiness
scraper cannot spend Slack's rate limit. The agent's and the bridge's /readyz both ask it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from slack_escalation.slack_api import SlackCaller, SlackRejected, SlackUnavailable

SLACK_AUTH_CACHE_S = 30.0


@dataclass
class _Remembered:
    problem: str | None
    at: float


class SlackAuthCheck:
    """auth.test at most every SLACK_AUTH_CACHE_S seconds."""

    def __init__(self, caller: SlackCaller) -> None:
        self._caller = caller
        self._last: _Remembered | None = None

    async def __call__(self) -> str | None:
        now = time.monotonic()
        if self._last is not None and now - self._last.at < SLACK_AUTH_CACHE_S:
            return self._last.problem
        try:
            await self._caller.call("auth.test")
            problem = None
        except (SlackUnavailable, SlackRejected) as error:
            problem = f"auth.test failed: {error}"
        self._last = _Remembered(problem, now)
        return problem
