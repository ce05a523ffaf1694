"""Session changes made by other agent replicas, heard through PostgreSQL LISTEN/NOTIFY.

Every event write on the PostgreSQL store sends `pg_notify(channel, session_id)` in its own
transaction (agent/store/postgres_documents.py, ChangeAnnouncement), so a notification is
delivered only once the write is committed and visible. Each agent process keeps one listening
connection and wakes the long polls waiting on that session (agent/session_listener.py): no
process polls the store for other replicas' writes.

A notification sent while the connection is down is lost, so after every (re)connection all
waiters are woken once to re-read the store: a lost connection delays a wake-up by at most the
reconnection time, and never loses an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import sql

from agent.session_listener import SessionChanges

log = logging.getLogger(__name__)

SESSION_EVENTS_CHANNEL = "parlant_session_events"

START_TIMEOUT_S = 30.0
MAX_RECONNECT_DELAY_S = 5.0

# A listener that only receives never writes, so a dead peer is noticed by TCP keepalives.
_KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


class PostgresChangeFeed:
    """`async with` it: listens until the block ends, reconnecting as needed."""

    def __init__(self, url: str, channel: str, changes: SessionChanges) -> None:
        self._url = url
        self._channel = channel
        self._changes = changes
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="postgres-change-feed")
        # The first connection must succeed: a replica that cannot hear others must not start.
        listening = asyncio.create_task(self._listening.wait())
        done, _ = await asyncio.wait(
            {listening, self._task}, timeout=START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
        if listening in done:
            return self
        listening.cancel()
        if self._task in done:
            self._task.result()  # raises why the first connection failed
        await self.__aexit__(None, None, None)
        raise RuntimeError(f"could not LISTEN on {self._channel} within {START_TIMEOUT_S}s")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            # Cancelled, or ended by a failed first connection that __aenter__ already reported.
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                await self._task
            self._task = None

    async def _run(self) -> None:
        delay = 0.2
        while True:
            try:
                await self._listen()
            except psycopg.OperationalError as e:
                if not self._listening.is_set():
                    raise  # never connected: the start fails with the reason
                log.warning(
                    "change feed lost its connection (%s); reconnecting in %.1fs",
                    type(e).__name__,
                    delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RECONNECT_DELAY_S)

    async def _listen(self) -> None:
        connection = await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, **_KEEPALIVES
        )
        async with connection:
            await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            if self._listening.is_set():
                # Notifications sent while disconnected are gone: every waiter re-reads once.
                self._changes.notify_all()
                log.info("change feed listening again on %s", self._channel)
            self._listening.set()
            async for notification in connection.notifies():
                self._changes.notify(notification.payload)
