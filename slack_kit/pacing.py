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
import heapq
import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Protocol


def next_slot(tat: float | None, now: float, interval: float, burst: int) -> tuple[float, float]:
    """(when this post may go, the channel's new tat) for a post asked for at `now`."""
    start = now if tat is None else max(tat, now)
    send_at = max(now, start - (burst - 1) * interval)
    return send_at, start + interval


def take_if_free(
    tat: float | None, now: float, interval: float, burst: int
) -> tuple[float, float | None]:
    """(0, the channel's new tat) if a call may go at `now`; else (the seconds until it may,
    None): nothing is taken, so a slot is never held for a post that waits."""
    send_at, new_tat = next_slot(tat, now, interval, burst)
    return (0.0, new_tat) if send_at <= now else (send_at - now, None)


def counted(tat: float | None, now: float, ago: float, interval: float) -> float:
    """The tat after a post someone else made `ago` seconds before `now` (the agent's root
    post, which the bridge learns of from the handoff record): it takes its slot as if it had
    been paced here, so the bridges leave it its room. A post long past changes nothing."""
    posted_at = now - max(0.0, ago)
    return max(posted_at if tat is None else tat, posted_at) + interval


def deferred(tat: float | None, now: float, seconds: float, burst: int, interval: float) -> float:
    """The tat after Slack answered 429 with Retry-After `seconds`: no post before then, and
    no burst right after it."""
    return max(tat or now, now + seconds + (burst - 1) * interval)


# Which post goes first when several wait for a channel: a new escalation's root and the
# notices operators act on before the mirrored customer messages and handback lines.
FIRST = 0
IN_TURN = 1


class Pacer(Protocol):
    async def turn(self, channel: str, priority: int = IN_TURN) -> None:
        """Waits until a post to `channel` may go, and counts it; lower `priority` first."""

    async def defer(self, channel: str, seconds: float) -> None:
        """Slack refused a post with Retry-After `seconds`: the channel waits that long."""

    async def count(self, channel: str, ago: float) -> None:
        """Another process posted to `channel` `ago` seconds ago: that post takes its slot."""


@dataclass(frozen=True)
class Queue:
    """One replica's waiting posts for a channel, as the others see them: when its most urgent
    post began waiting (wall clock; 0 for one of priority FIRST) and, once that one goes, its
    next (None: nothing more waits). The replica whose post has waited longest takes the slot,
    so every replica's threads go round at the channel's pace rather than each replica's at
    its share of it."""

    replica: str
    since: float
    then: float | None


class PostSlots(Protocol):
    """A shared record of each channel's tat (the bridge replicas' database)."""

    async def post_slot(self, channel: str, interval: float, burst: int) -> float:
        """Takes the channel's next slot; returns the seconds to wait for it."""

    async def defer_posts(self, channel: str, seconds: float, interval: float, burst: int) -> None:
        """Moves the channel's tat past Slack's Retry-After."""

    async def take_slot(
        self, key: str, interval: float, burst: int, queue: Queue | None = None
    ) -> float:
        """Takes `key`'s next slot if it is free now (0); else the seconds until it is, and
        nothing taken (`take_if_free`). With `queue`, a free slot is left (a wait of one
        interval) while another replica's post has waited longer, and the queue is recorded."""

    async def count_post(self, channel: str, ago: float, interval: float) -> None:
        """Counts a post another process made `ago` seconds ago (`counted`)."""


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

    async def take_slot(
        self, key: str, interval: float, burst: int, queue: Queue | None = None
    ) -> float:
        # Nobody else posts from this store: there is no other queue to defer to.
        wait, taken = take_if_free(self._tats.get(key), time.monotonic(), interval, burst)
        if taken is not None:
            self._tats[key] = taken
        return wait

    async def count_post(self, channel: str, ago: float, interval: float) -> None:
        self._tats[channel] = counted(self._tats.get(channel), time.monotonic(), ago, interval)


@dataclass(order=True)
class _Waiter:
    priority: int
    arrival: int
    slot: asyncio.Future[None] = field(compare=False)
    since: float = field(compare=False, default=0.0)

    @property
    def waiting_since(self) -> float:
        return 0.0 if self.priority == FIRST else self.since


class SharedPacer:
    """Every replica's posts to a channel share one allowance, kept in the shared store.

    A process takes the channel's slot only once it is free, and gives it to the most urgent
    post waiting. Taking a slot per waiting post up front (fifty mirrors waiting hold fifty
    slots a minute ahead) would leave a root posted now behind all of them, and a post made
    elsewhere (`count`) no room until they had gone; a slot taken a burst ahead would too.
    A slot taken with nobody left waiting (all gave up) is lost: one post's second.
    """

    def __init__(self, slots: PostSlots, posts_per_second: float, burst: int) -> None:
        self._slots = slots
        self._replica = uuid.uuid4().hex
        self._interval = 1 / posts_per_second if posts_per_second > 0 else 0.0
        self._burst = burst
        self._waiting: dict[str, list[_Waiter]] = {}
        self._arrivals = itertools.count()
        self._dispatchers: dict[str, asyncio.Task[None]] = {}

    async def turn(self, channel: str, priority: int = IN_TURN) -> None:
        if self._interval <= 0:
            return
        waiter = _Waiter(
            priority, next(self._arrivals), asyncio.get_running_loop().create_future(), time.time()
        )
        heapq.heappush(self._waiting.setdefault(channel, []), waiter)
        if channel not in self._dispatchers:
            self._dispatchers[channel] = asyncio.create_task(self._dispatch(channel))
        await waiter.slot  # a cancelled waiter's future is cancelled too: the dispatcher skips it

    async def _dispatch(self, channel: str) -> None:
        waiting = self._waiting[channel]
        try:
            while _drop_abandoned(waiting):
                try:
                    wait = await self._slots.take_slot(
                        channel, self._interval, self._burst, self._queue(waiting)
                    )
                except Exception as error:  # the store is unreachable: the first waiter hears it
                    if _drop_abandoned(waiting):
                        heapq.heappop(waiting).slot.set_exception(error)
                    continue
                if wait > 0:  # taken by another replica or counted for another poster
                    await asyncio.sleep(wait)
                elif _drop_abandoned(waiting):
                    heapq.heappop(waiting).slot.set_result(None)
        except BaseException:
            for waiter in waiting:  # stopped (shutdown): nobody is left waiting for a slot
                waiter.slot.cancel()
            raise
        finally:
            del self._dispatchers[channel]
            if not _drop_abandoned(waiting):
                del self._waiting[channel]

    def _queue(self, waiting: list[_Waiter]) -> Queue:
        head = waiting[0]
        rest = [w.waiting_since for w in waiting[1:] if not w.slot.done()]
        return Queue(self._replica, head.waiting_since, min(rest) if rest else None)

    async def defer(self, channel: str, seconds: float) -> None:
        if self._interval > 0:
            await self._slots.defer_posts(channel, seconds, self._interval, self._burst)

    async def count(self, channel: str, ago: float) -> None:
        if self._interval > 0:
            await self._slots.count_post(channel, ago, self._interval)


def _drop_abandoned(waiting: list[_Waiter]) -> bool:
    """Drops the waiters that gave up (cancelled) from the top; True if any still waits."""
    while waiting and waiting[0].slot.done():
        heapq.heappop(waiting)
    return bool(waiting)


class MethodBudget:
    """A share of one Web API method's per-workspace allowance (its tier), shared by every
    replica through the store, for calls that may be left out when it is spent: the ✅ on a
    delivered reply is one; a ⚠️ on a refused one is not and never asks."""

    def __init__(self, slots: PostSlots, method: str, per_minute: float, burst: int) -> None:
        self._slots = slots
        self._key = f"method:{method}"
        self._interval = 60 / per_minute
        self._burst = burst

    @property
    def interval(self) -> float:
        """Seconds between two slots of the allowance."""
        return self._interval

    async def try_take(self) -> bool:
        return await self._slots.take_slot(self._key, self._interval, self._burst) == 0

    async def try_idle(self) -> bool:
        """A call only while nothing waits for the method: calls that may be skipped never
        take a slot from one that must go (`turn`)."""
        return await self._slots.take_slot(self._key, self._interval, 1) == 0

    async def turn(self) -> None:
        """Waits for the method's next slot and takes it: a call that must go."""
        wait = await self._slots.post_slot(self._key, self._interval, self._burst)
        if wait > 0:
            await asyncio.sleep(wait)


class LocalPacer(SharedPacer):
    """One process's own pace per channel (the agent's root posts)."""

    def __init__(self, posts_per_second: float, burst: int) -> None:
        super().__init__(MemorySlots(), posts_per_second, burst)
