"""One stored event per operator reply, whichever agent replica a POST of it reaches.

A bridge posts a reply to `POST /escalations/{id}/replies` and may post it again when it
cannot tell whether the first landed; before sending again it looks for the stored event. A
bridge killed while its POST was still inside an agent lost its outbox hold with its database
connection; another bridge found no event yet, sent the reply again, and both POSTs stored it
(the chaos run's doubled operator replies). The reply's origin in Slack (channel, ts) is its
key: a POST holds the key's lock while it looks for an event with that origin and stores one,
so a second POST of the same reply waits for the first and then finds its event.

With replicas on PostgreSQL the lock is an advisory lock in the database, held in a transaction
on a connection of its own (a POST that dies lets go of it with its connection); with one agent
on SQLite, a lock in the process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

# The advisory lock class of reply keys, beside the document store's ("PRLT", "PRLN").
LOCK_CLASS = 0x50524C52  # "PRLR"
LOCAL_STRIPES = 64


def reply_key(metadata: Mapping[str, Any] | None) -> str | None:
    """Pure: the key of a reply from its origin metadata; None when it has no Slack origin."""
    slack = (metadata or {}).get("slack")
    if not isinstance(slack, Mapping):
        return None
    channel, ts = slack.get("channel"), slack.get("ts")
    if not isinstance(channel, str) or not isinstance(ts, str) or not channel or not ts:
        return None
    return f"slack:{channel}:{ts}"


def same_origin(event_metadata: Mapping[str, Any] | None, key: str) -> bool:
    return reply_key(event_metadata) == key


class ReplyKeys:
    """Locks by reply key: across replicas through `pool`, or within this process."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None) -> None:
        self._pool = pool
        self._local = [asyncio.Lock() for _ in range(LOCAL_STRIPES)]

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        if self._pool is None:
            async with self._local[hash(key) % LOCAL_STRIPES]:
                yield
            return
        async with self._pool.connection() as connection, connection.transaction():
            await connection.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_CLASS, key)
            )
            yield
