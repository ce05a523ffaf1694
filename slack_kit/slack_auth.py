"""Is Slack accepting the bot token: auth.test, remembered for a while so that a readiness
scraper cannot spend Slack's rate limit. The agent's and the bridge's /readyz both ask it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from slack_kit.slack_api import SlackCaller, SlackRejected, SlackUnavailable

SLACK_AUTH_CACHE_S = 30.0
# No answer at all spends none of Slack's rate limit: asked again sooner, so readiness follows
# Slack coming back within seconds rather than half a minute.
SLACK_UNREACHABLE_CACHE_S = 5.0


@dataclass
class _Remembered:
    problem: str | None
    at: float
    keep_s: float


class SlackAuthCheck:
    """auth.test at most every SLACK_AUTH_CACHE_S seconds (SLACK_UNREACHABLE_CACHE_S while
    Slack does not answer)."""

    def __init__(self, caller: SlackCaller) -> None:
        self._caller = caller
        self._last: _Remembered | None = None

    async def __call__(self) -> str | None:
        now = time.monotonic()
        if self._last is not None and now - self._last.at < self._last.keep_s:
            return self._last.problem
        keep_s = SLACK_AUTH_CACHE_S
        try:
            await self._caller.call("auth.test")
            problem = None
        except SlackUnavailable as error:
            problem, keep_s = f"auth.test failed: {error}", SLACK_UNREACHABLE_CACHE_S
        except SlackRejected as error:
            problem = f"auth.test failed: {error}"
        self._last = _Remembered(problem, now, keep_s)
        return problem
