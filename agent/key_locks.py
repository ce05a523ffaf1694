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
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

# The advisory lock class, beside the document store's ("PRLT", "PRLN").
LOCK_CLASS = 0x50524C52  # "PRLR"
LOCAL_STRIPES = 64
# A lock waited for or held longer than this is logged: every holder pins a connection of a
# small pool, so one slow holder delays every other key's holders (the busy-hour bench's
# operator replies waited on it).
SLOW_S = 2.0

log = logging.getLogger(__name__)


class KeyLocks:
    """Locks by key: across replicas through `pool`, or within this process."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None) -> None:
        self._pool = pool
        self._local = [asyncio.Lock() for _ in range(LOCAL_STRIPES)]

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        asked = time.monotonic()
        held = asked
        try:
            if self._pool is None:
                async with self._local[hash(key) % LOCAL_STRIPES]:
                    held = time.monotonic()
                    yield
                return
            async with self._pool.connection() as connection, connection.transaction():
                await connection.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_CLASS, key)
                )
                held = time.monotonic()
                yield
        finally:
            done = time.monotonic()
            if done - asked > SLOW_S:
                # The key's kind only: the rest names a Slack message or a session.
                log.warning(
                    "slow key lock kind=%s waited=%.1fs held=%.1fs",
                    key.split(":", 1)[0],
                    held - asked,
                    done - held,
                )
