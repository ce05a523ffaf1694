"""Posting a message to Slack exactly once, across lost answers, crashes and restarts.

Each post the bridge must make once (a mirrored part, a handback line, an SLA notice) has a
record in the bridge's state: never attempted, attempted with an unknown outcome, or posted with
its ts. Only an unknown outcome costs a look-up in Slack (by the metadata the post carries), so
the history reads Slack limits hardest are spent only where they decide something.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from config.crash_points import crash_point
from slack_bridge.store import BridgeStore
from slack_kit.slack_api import SlackCaller

Find = Callable[[], Awaitable[str | None]]


class PostRecord(Protocol):
    @property
    def key(self) -> Hashable:
        """Names the post: two records with one key are the same post."""

    async def status(self) -> str | None:
        """None: never attempted; "": attempted, outcome unknown; otherwise the posted ts."""

    async def attempting(self) -> None: ...

    async def posted(self, ts: str) -> None: ...


@dataclass(frozen=True)
class KeyedPostRecord:
    """A post recorded under (session, key, part) in the bridge's state: a mirrored event's
    part (the event id), a handback line (its handback event's part 0) or a handoff's root
    message (`root:<requested_at>`)."""

    store: BridgeStore
    session_id: str
    event_id: str
    part: int

    @property
    def key(self) -> Hashable:
        return ("post", self.session_id, self.event_id, self.part)

    async def status(self) -> str | None:
        return await self.store.mirror_status(self.session_id, self.event_id, self.part)

    async def attempting(self) -> None:
        await self.store.mirror_attempting(self.session_id, self.event_id, self.part)

    async def posted(self, ts: str) -> None:
        await self.store.mirror_posted(self.session_id, self.event_id, self.part, ts)


@dataclass(frozen=True)
class SlaNoticeRecord:
    store: BridgeStore
    session_id: str
    kind: str

    @property
    def key(self) -> Hashable:
        return ("sla", self.session_id, self.kind)

    async def status(self) -> str | None:
        return await self.store.sla_notice_status(self.session_id, self.kind)

    async def attempting(self) -> None:
        await self.store.sla_notice_attempting(self.session_id, self.kind)

    async def posted(self, ts: str) -> None:
        await self.store.sla_notice_posted(self.session_id, self.kind, ts)


@dataclass(frozen=True)
class Posted:
    ts: str
    now: bool  # False: it was already in Slack (recorded, or found by its metadata)


@dataclass
class _KeyedLocks:
    """One lock per post in flight in this process, dropped when nobody holds or awaits it."""

    locks: dict[Hashable, tuple[asyncio.Lock, int]] = field(default_factory=dict)

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self.locks.get(key, (asyncio.Lock(), 0))
        self.locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self.locks[key]
            if users == 1:
                del self.locks[key]
            else:
                self.locks[key] = (lock, users - 1)


# Two paths of one process may want the same post at once (the handback line from the form and
# from discovery's check); while one waits for its turn in the channel's pacing the post is
# "attempted, outcome unknown", and the other's look-up would find nothing and post it again.
_IN_FLIGHT = _KeyedLocks()


async def post_once(
    caller: SlackCaller,
    record: PostRecord,
    find: Find,
    *,
    before_post: Callable[[], None] | None = None,
    crash_before: str | None = None,
    crash_after: str | None = None,
    **message: Any,
) -> Posted:
    """chat.postMessage `message` unless `record` or, when its outcome is unknown, `find` shows
    it was already posted. `before_post` may raise to stop just before the post (e.g. a lost
    lease); the crash points name the moments a test may kill the process at."""
    async with _IN_FLIGHT.hold(record.key):
        status = await record.status()
        if status:
            return Posted(status, now=False)
        if status == "":
            found = await find()
            if found:
                await record.posted(found)
                return Posted(found, now=False)
        if before_post is not None:
            before_post()
        await record.attempting()
        if crash_before:
            crash_point(crash_before)
        ts = await caller.post_message(find, **message)
        if crash_after:
            crash_point(crash_after)
        await record.posted(ts)
        return Posted(ts, now=True)
