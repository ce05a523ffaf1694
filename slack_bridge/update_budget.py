"""A global budget of chat.update calls per minute, so SLA ticks never crowd out status changes.

chat.update is a Tier 3 method (about 50 calls a minute per workspace). Status changes (claim,
return, resolve) are always rewritten at once and count against the window; an SLA-only rewrite
waits for the next discovery pass while the window holds `sla_share` of the limit or more.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0
# Slack's Tier 3 figure, with room left for the status changes that must never wait.
UPDATES_PER_MINUTE = 50
SLA_SHARE = 0.6


class UpdateBudget:
    def __init__(
        self,
        per_minute: int = UPDATES_PER_MINUTE,
        sla_share: float = SLA_SHARE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sla_limit = int(per_minute * sla_share)
        self._clock = clock
        self._recent: deque[float] = deque()

    def _used(self) -> int:
        cutoff = self._clock() - WINDOW_S
        while self._recent and self._recent[0] <= cutoff:
            self._recent.popleft()
        return len(self._recent)

    def status_change(self) -> None:
        """Record a status rewrite; it never waits."""
        self._used()
        self._recent.append(self._clock())

    def try_sla_tick(self) -> bool:
        """Take a slot for an SLA-only rewrite; False when the SLA share of the window is spent."""
        if not self.sla_room():
            return False
        self._recent.append(self._clock())
        return True

    def sla_room(self) -> int:
        """How many SLA-only rewrites the window takes now."""
        return max(0, self._sla_limit - self._used())

    def seconds_until_room(self, slots: int) -> float:
        """How long until the window takes `slots` more SLA-only rewrites (0 if it does now)."""
        excess = self._used() + slots - self._sla_limit
        if excess <= 0:
            return 0.0
        if excess > len(self._recent):
            return WINDOW_S  # more than the share ever takes: as often as the window turns
        return max(0.0, self._recent[excess - 1] + WINDOW_S - self._clock())
