"""Parlant's session store, locked per session instead of as a whole.

Parlant's `SessionDocumentStore` guards every method with one reader-writer lock for the whole
store: each event written (three database round trips) holds every other session's reads and
writes. With hundreds of open conversations on PostgreSQL that lock was the agent's ceiling:
in the busy-hour bench (bench/bench_busy_hour.py) operator replies and handoffs queued behind it
for 30 s at a time while the process sat at a quarter of a core, and timed out.

What the lock protects is per session: an event's offset (read the last, write the next) and a
session document's read-modify-write (metadata, labels). So writers take a lock of their
session only. Readers take none: every write is one statement on one document, so a read never
sees half of one. Across replicas the database keeps offsets unique
(agent/store/event_offsets.py); this lock never did.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from typing import Any

from parlant.core.async_utils import ReaderWriterLock
from parlant.core.sessions import (
    Event,
    EventId,
    EventKind,
    EventSource,
    EventUpdateParams,
    Session,
    SessionDocumentStore,
    SessionId,
    SessionUpdateParams,
)

# The session the running store method is about; None for create_session and list_sessions.
_CURRENT: ContextVar[str | None] = ContextVar("session_store_current", default=None)
STRIPES = 256


class SessionScopedLock(ReaderWriterLock):
    """Parlant's ReaderWriterLock as the store uses it (`reader_lock` / `writer_lock`), scoped
    to the session of the method running (`_about`)."""

    def __init__(self) -> None:  # no aiorwlock: nothing of the whole store is locked
        self._stripes = [asyncio.Lock() for _ in range(STRIPES)]
        # Writes about no session yet (create_session): one at a time, as before.
        self._unscoped = asyncio.Lock()

    @property
    def reader_lock(self) -> AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    @property
    def writer_lock(self) -> AbstractAsyncContextManager[None]:
        session_id = _CURRENT.get()
        if session_id is None:
            return self._unscoped
        return self._stripes[hash(session_id) % STRIPES]


@contextlib.asynccontextmanager
async def _about(session_id: SessionId) -> AsyncIterator[None]:
    token = _CURRENT.set(session_id)
    try:
        yield
    finally:
        _CURRENT.reset(token)


class PerSessionLocking(SessionDocumentStore):
    """Parlant's session store with its lock scoped per session."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = SessionScopedLock()

    async def delete_session(self, session_id: SessionId) -> None:
        async with _about(session_id):
            await super().delete_session(session_id)

    async def update_session(self, session_id: SessionId, params: SessionUpdateParams) -> Session:
        async with _about(session_id):
            return await super().update_session(session_id, params)

    async def set_metadata(self, session_id: SessionId, key: str, value: Any) -> Session:
        async with _about(session_id):
            return await super().set_metadata(session_id, key, value)

    async def unset_metadata(self, session_id: SessionId, key: str) -> Session:
        async with _about(session_id):
            return await super().unset_metadata(session_id, key)

    async def upsert_labels(self, session_id: SessionId, labels: set[str]) -> Session:
        async with _about(session_id):
            return await super().upsert_labels(session_id, labels)

    async def remove_labels(self, session_id: SessionId, labels: set[str]) -> Session:
        async with _about(session_id):
            return await super().remove_labels(session_id, labels)

    async def create_event(
        self,
        session_id: SessionId,
        source: EventSource,
        kind: EventKind,
        trace_id: str,
        data: Any,
        metadata: Mapping[str, Any] = {},
        creation_utc: Any = None,
    ) -> Event:
        async with _about(session_id):
            return await super().create_event(
                session_id, source, kind, trace_id, data, metadata, creation_utc
            )

    async def update_event(
        self, session_id: SessionId, event_id: EventId, params: EventUpdateParams
    ) -> Event:
        async with _about(session_id):
            return await super().update_event(session_id, event_id, params)
