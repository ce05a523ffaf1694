"""Locks by key that hold across agent replicas: an advisory lock in PostgreSQL, held in a
transaction on a connection of its own (a holder that dies lets go with its connection), or,
for one agent on SQLite, a lock in the process.

Used where a check and a write must be one step whichever replica runs them: an operator
reply stored once per Slack reply (agent/reply_keys.py), a session handed off once however
many turns reach the handoff at once (agent/tools.py `start_handoff`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

# The advisory lock class, beside the document store's ("PRLT", "PRLN").
LOCK_CLASS = 0x50524C52  # "PRLR"
LOCAL_STRIPES = 64


class KeyLocks:
    """Locks by key: across replicas through `pool`, or within this process."""

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
