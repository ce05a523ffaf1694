"""Reading the agent's escalation feed, and the one event shape the mirror posts from.

`GET /escalations/feed?after=<cursor>` (agent/escalation_routes.py) answers the new events of
every session in an open handoff, in one global, gap-free order, long-polled. A session's
catch-up reads Parlant's `list_events` instead; both are turned into `MirrorEvent` here, so the
mirror has one path whatever the source.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handoff.operator_api import AsyncOperatorApi, RouteMissing

# Only these kinds are ever shown in a thread (messages and internal notes).
MIRRORED_KINDS = ("message", "custom")


@dataclass(frozen=True)
class MirrorEvent:
    session_id: str
    offset: int
    id: str
    kind: str
    source: str
    data: Any
    metadata: Mapping[str, Any] = field(default_factory=dict)
    creation_utc: datetime | None = None
    # Its feed position; None when it came from a catch-up read.
    position: int | None = None


@dataclass(frozen=True)
class FeedPage:
    events: list[MirrorEvent]
    next: int
    head: int


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def from_feed(entry: Mapping[str, Any]) -> MirrorEvent | None:
    """Pure: one feed entry as a MirrorEvent; None for what a thread never shows (deleted
    events, statuses, tool calls)."""
    if entry.get("deleted") or entry.get("kind") not in MIRRORED_KINDS:
        return None
    return MirrorEvent(
        session_id=str(entry["session_id"]),
        offset=int(entry["offset"]),
        id=str(entry["id"]),
        kind=str(entry["kind"]),
        source=str(entry.get("source") or ""),
        data=entry.get("data"),
        metadata=entry.get("metadata") or {},
        creation_utc=_when(entry.get("creation_utc")),
        position=int(entry["position"]),
    )


def from_parlant(session_id: str, event: Any) -> MirrorEvent:
    """An event of Parlant's client (a catch-up read) as a MirrorEvent."""
    return MirrorEvent(
        session_id=session_id,
        offset=int(event.offset),
        id=str(event.id),
        kind=str(event.kind),
        source=str(event.source),
        data=event.data,
        metadata=event.metadata or {},
        creation_utc=_when(getattr(event, "creation_utc", None)),
    )


def feed_page(payload: Mapping[str, Any]) -> FeedPage:
    """Pure: the feed's answer, keeping only the events a thread may show."""
    events = [e for e in (from_feed(entry) for entry in payload.get("events") or []) if e]
    return FeedPage(events, int(payload["next"]), int(payload["head"]))


class FeedMissing(Exception):
    """The agent has no escalation feed (its session store is Parlant's own: 404)."""


async def read_feed(api: AsyncOperatorApi, after: int, limit: int, wait_s: int) -> FeedPage:
    try:
        return feed_page(await api.feed(after, limit, wait_s))
    except RouteMissing:
        raise FeedMissing() from None


class FeedProgress:
    """Which feed position is safe to store as the cursor: every position at or below it was
    read and its event, if handed to a session's mirror, is done (posted, or no longer ours).

    Positions are handed out in increasing order, so the oldest unfinished one is the front of
    a queue; the cursor stays just below it until it finishes, whatever finished after it.
    """

    def __init__(self, start: int) -> None:
        self._read = start
        self._handed: deque[int] = deque()
        self._finished: set[int] = set()

    def handed(self, position: int) -> None:
        self._handed.append(position)

    def finished(self, position: int) -> None:
        self._finished.add(position)

    def read_to(self, position: int) -> None:
        self._read = max(self._read, position)

    def reset(self, position: int) -> None:
        """The agent's feed is behind the stored cursor (its data was reset): start over."""
        self._read = position
        self._handed.clear()
        self._finished.clear()

    def in_flight(self) -> int:
        return len(self._handed) - len(self._finished)

    def safe(self) -> int:
        while self._handed and self._handed[0] in self._finished:
            self._finished.discard(self._handed.popleft())
        return self._handed[0] - 1 if self._handed else self._read
