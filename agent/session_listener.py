"""Long polls that wake when a session changes, instead of polling the store.

Parlant's PollingSessionListener re-reads the store every 250 ms for every waiting
`list_events(wait_for_data=...)`. The Slack bridge keeps one such long poll open per escalated
session, so with a thousand escalations the agent process spent both cores on those reads. Here
the session store signals each write, and waiting requests sleep until their session changes
(with a slow safety re-check, so a missed signal delays but never loses an event).

With several agent replicas on PostgreSQL, writes made by the other replicas reach `SessionChanges`
through LISTEN/NOTIFY (agent/store/change_feed.py), so a long poll on one replica wakes for an
event written through another.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from parlant.core.async_utils import Timeout
from parlant.core.sessions import (
    Event,
    EventId,
    EventKind,
    EventSource,
    EventUpdateParams,
    PollingSessionListener,
    SessionId,
    SessionStore,
)

from agent.store.session_locks import PerSessionLocking

SAFETY_RECHECK_S = 5.0
# Parlant's own default for wait_for_more_events: one shared deadline that never passes.
NO_DEADLINE = Timeout.infinite()


class SessionChanges:
    """Who is waiting on which session, and waking them."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        # Woken by a write to any session: the escalation feed (agent/escalation_routes.py).
        self._any: set[asyncio.Event] = set()

    def subscribe_any(self) -> asyncio.Event:
        woken = asyncio.Event()
        self._any.add(woken)
        return woken

    def unsubscribe_any(self, woken: asyncio.Event) -> None:
        self._any.discard(woken)

    def subscribe(self, session_id: str) -> asyncio.Event:
        woken = asyncio.Event()
        self._waiters[session_id].add(woken)
        return woken

    def unsubscribe(self, session_id: str, woken: asyncio.Event) -> None:
        waiters = self._waiters.get(session_id)
        if waiters is not None:
            waiters.discard(woken)
            if not waiters:
                del self._waiters[session_id]

    def notify(self, session_id: str) -> None:
        for woken in self._waiters.get(session_id, ()):
            woken.set()
        for woken in self._any:
            woken.set()

    def notify_all(self) -> None:
        """Wakes every waiter to re-read, e.g. after signals may have been missed."""
        for waiters in (*self._waiters.values(), self._any):
            for woken in waiters:
                woken.set()


class SignallingSessionDocumentStore(PerSessionLocking):
    """Parlant's session store (locked per session, agent/store/session_locks.py), announcing
    every event write to `changes`."""

    def __init__(self, *args: Any, changes: SessionChanges, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._changes = changes

    async def create_event(self, session_id: SessionId, *args: Any, **kwargs: Any) -> Event:
        event = await super().create_event(session_id, *args, **kwargs)
        self._changes.notify(session_id)
        return event

    async def update_event(
        self, session_id: SessionId, event_id: EventId, params: EventUpdateParams
    ) -> Event:
        event = await super().update_event(session_id, event_id, params)
        self._changes.notify(session_id)
        return event


class NotifyingSessionListener(PollingSessionListener):
    def __init__(self, session_store: SessionStore, changes: SessionChanges) -> None:
        super().__init__(session_store)
        self._changes = changes

    async def wait_for_more_events(
        self,
        session_id: SessionId,
        kinds: Sequence[EventKind] = [],
        min_offset: int | None = None,
        source: EventSource | None = None,
        trace_id: str | None = None,
        timeout: Timeout = NO_DEADLINE,
    ) -> bool:
        _ = await self._session_store.read_session(session_id)  # raises for an unknown session
        while True:
            # Subscribed before reading, so a write between the read and the wait still wakes us.
            woken = self._changes.subscribe(session_id)
            try:
                events = await self._session_store.list_events(
                    session_id, min_offset=min_offset, source=source, kinds=kinds, trace_id=trace_id
                )
                if events:
                    return True
                if timeout.expired():
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), min(timeout.remaining(), SAFETY_RECHECK_S))
            finally:
                self._changes.unsubscribe(session_id, woken)
