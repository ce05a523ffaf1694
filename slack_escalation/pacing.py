"""Pacing posts to a Slack channel within its allowance (about one a second, short bursts).

One rule, the generic cell rate algorithm: a channel's "theoretical arrival time" (tat) moves
one interval forward per post; a post may go once the tat is no more than `burst - 1` intervals
ahead of now. `next_slot` is that rule as a pure function, so the same arithmetic paces one
process in memory (`LocalPacer`) and every bridge replica through the shared database
(`SharedPacer` over the store's `post_slot`), where the database's clock and row lock make the
replicas take turns.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


def next_slot(tat: float | None, now: float, interval: float, burst: int) -> tuple[float, float]:
    """(when this post may go, the channel's new tat) for a post asked for at `now`."""
    start = now if tat is None else max(tat, now)
    send_at = max(now, start - (burst - 1) * interval)
    return send_at, start + interval


def free_slot(tat: float | None, now: float, interval: float, burst: int) -> float | None:
    """The channel's new tat if a call may go at `now` without waiting, else None."""
    send_at, new_tat = next_slot(tat, now, interval, burst)
    return new_tat if send_at <= now else None


def deferred(tat: float | None, now: float, seconds: float, burst: int, interval: float) -> float:
    """The tat after Slack answered 429 with Retry-After `seconds`: no post before then, and
    no burst right after it."""
    return max(tat or now, now + seconds + (burst - 1) * interval)


class Pacer(Protocol):
    async def turn(self, channel: str) -> None:
        """Waits until a post to `channel` may go, and counts it."""

    async def defer(self, channel: str, seconds: float) -> None:
        """Slack refused a post with Retry-After `seconds`: the channel waits that long."""


class PostSlots(Protocol):
    """A shared record of each channel's tat (the bridge replicas' database)."""

    async def post_slot(self, channel: str, interval: float, burst: int) -> float:
        """Takes the channel's next slot; returns the seconds to wait for it."""

    async def defer_posts(self, channel: str, seconds: float, interval: float, burst: int) -> None:
        """Moves the channel's tat past Slack's Retry-After."""

    async def try_slot(self, key: str, interval: float, burst: int) -> bool:
        """Takes `key`'s next slot if it is free now; False (nothing taken) if not."""


class MemorySlots:
    """PostSlots kept in this process's memory: where it is the only poster (the agent's root
    posts; a single bridge on its SQLite file)."""

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}

    async def post_slot(self, channel: str, interval: float, burst: int) -> float:
        now = time.monotonic()
        send_at, self._tats[channel] = next_slot(self._tats.get(channel), now, interval, burst)
        return send_at - now

    async def defer_posts(self, channel: str, seconds: float, interval: float, burst: int) -> None:
        self._tats[channel] = deferred(
            self._tats.get(channel), time.monotonic(), seconds, burst, interval
        )

    async def try_slot(self, key: str, interval: float, burst: int) -> bool:
        taken = free_slot(self._tats.get(key), time.monotonic(), interval, burst)
        if taken is None:
            return False
        self._tats[key] = taken
        return True


class SharedPacer:
    """Every replica's posts to a channel share one allowance, kept in the shared store."""

    def __init__(self, slots: PostSlots, posts_per_second: float, burst: int) -> None:
        self._slots = slots
        self._interval = 1 / posts_per_second if posts_per_second > 0 else 0.0
        self._burst = burst

    async def turn(self, channel: str) -> None:
        if self._interval <= 0:
            return
        wait = await self._slots.post_slot(channel, self._interval, self._burst)
        if wait > 0:
            await asyncio.sleep(wait)

    async def defer(self, channel: str, seconds: float) -> None:
        if self._interval > 0:
            await self._slots.defer_posts(channel, seconds, self._interval, self._burst)


class MethodBudget:
    """A share of one Web API method's per-workspace allowance (its tier), shared by every
    replica through the store, for calls that may be left out when it is spent: the ✅ on a
    delivered reply is one; a ⚠️ on a refused one is not and never asks."""

    def __init__(self, slots: PostSlots, method: str, per_minute: float, burst: int) -> None:
        self._slots = slots
        self._key = f"method:{method}"
        self._interval = 60 / per_minute
        self._burst = burst

    async def try_take(self) -> bool:
        return await self._slots.try_slot(self._key, self._interval, self._burst)

    async def try_idle(self) -> bool:
        """A call only while nothing waits for the method: calls that may be skipped never
        take a slot from one that must go (`turn`)."""
        return await self._slots.try_slot(self._key, self._interval, 1)

    async def turn(self) -> None:
        """Waits for the method's next slot and takes it: a call that must go."""
        wait = await self._slots.post_slot(self._key, self._interval, self._burst)
        if wait > 0:
            await asyncio.sleep(wait)


class LocalPacer(SharedPacer):
    """One process's own pace per channel (the agent's root posts)."""

    def __init__(self, posts_per_second: float, burst: int) -> None:
        super().__init__(MemorySlots(), posts_per_second, burst)
