"""Slack's published rate limits, as the fake Slack enforces them.

Slack (docs.slack.dev/apis/web-api/rate-limits) limits each Web API method per workspace per app
by tier, in calls per minute, "bursts tolerated"; chat.postMessage instead allows about one
message per second per channel with short bursts, under a workspace-wide ceiling; over a limit
the answer is HTTP 429 with `Retry-After` seconds and the call has no effect. Since 2025-05-29
(existing installs from 2026-03-03) apps distributed outside the Marketplace get
conversations.replies and conversations.history at 1 call a minute and at most 15 objects a page.

Each limit is a token bucket: it holds a tier's per-minute allowance and refills at that rate,
so a quiet app may burst a minute's worth, as Slack tolerates. Slack does not publish the size
of chat.postMessage's per-channel burst nor the workspace ceiling; the values here are this
project's reading (a burst of 3, 300 posts a minute) and are settings of the fake.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
# Each method the fake serves, by its published tier. chat.postMessage is "special" (per channel).
METHOD_TIERS = {
    "apps.connections.open": 1,
    "auth.test": 4,  # "special" in Slack's table: hundreds a minute; Tier 4 is the closest bound
    "chat.delete": 3,
    "chat.getPermalink": 4,  # "special": also generous
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "conversations.history": 3,
    "conversations.info": 3,
    "conversations.members": 4,
    "conversations.replies": 3,
    "reactions.add": 3,
    "reactions.remove": 2,
    "users.info": 4,
    "views.open": 4,
    "views.update": 4,
}
# Socket Mode apps reconnect on every restart; Tier 1's "small amount of burst behaviour" is
# read as this many opens before the one-a-minute pace applies.
TIER_1_BURST = 10
HISTORY_METHODS = ("conversations.history", "conversations.replies")
LIMITED_HISTORY_PER_MINUTE = 1
LIMITED_HISTORY_PAGE = 15


@dataclass
class _Bucket:
    capacity: float
    per_second: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """0 if a call may go now (and takes its token), else the seconds until it could."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1 - 1e-9:  # float dust is not a refusal
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_second


@dataclass
class RateLimits:
    """Slack's limits for one fake workspace; `enabled=False` for tests of something else."""

    enabled: bool = True
    posts_per_second_per_channel: float = 1.0
    post_burst: int = 3
    posts_per_minute_per_workspace: int = 300
    # The Marketplace rule for distributed apps: history reads at 1 a minute, 15 objects a page.
    limited_history_reads: bool = False
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)

    def page_limit(self, method: str) -> int | None:
        """The most objects a page of `method` may hold, where Slack caps it below `limit`."""
        if self.limited_history_reads and method in HISTORY_METHODS:
            return LIMITED_HISTORY_PAGE
        return None

    def retry_after(self, method: str, channel: str | None) -> int:
        """0 when the call may go (its tokens are taken), else Retry-After in whole seconds."""
        if not self.enabled:
            return 0
        now = self.clock()
        waits = [
            self._bucket(key, capacity, rate, now).take(now)
            for key, capacity, rate in self._limits(method, channel)
        ]
        wait = max(waits, default=0.0)
        if wait > 0:
            self._give_back(method, channel, waits)
        return math.ceil(wait) if wait > 0 else 0

    def _limits(
        self, method: str, channel: str | None
    ) -> list[tuple[tuple[str, str], float, float]]:
        if method == "chat.postMessage":
            ceiling = self.posts_per_minute_per_workspace
            return [
                (("post", channel or ""), self.post_burst, self.posts_per_second_per_channel),
                (("post", "*workspace*"), ceiling, ceiling / 60),
            ]
        if self.limited_history_reads and method in HISTORY_METHODS:
            return [((method, ""), 1, LIMITED_HISTORY_PER_MINUTE / 60)]
        tier = METHOD_TIERS.get(method)
        if tier is None:
            return []
        per_minute = TIER_PER_MINUTE[tier]
        capacity = TIER_1_BURST if tier == 1 else per_minute
        return [((method, ""), capacity, per_minute / 60)]

    def _give_back(self, method: str, channel: str | None, waits: list[float]) -> None:
        # A refused call has no effect: the buckets that did let it through get their token back.
        for (key, _, _), wait in zip(self._limits(method, channel), waits, strict=True):
            if wait == 0:
                self._buckets[key].tokens += 1

    def _bucket(
        self, key: tuple[str, str], capacity: float, per_second: float, now: float
    ) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            # Full as of `now`, the call's own moment: made a moment later, a bucket of one
            # token refused the very first call (it refilled a negative time).
            bucket = self._buckets[key] = _Bucket(capacity, per_second, capacity, now)
        return bucket
