"""Locks by key that hold across agent replicas: an advisory lock in PostgreSQL, or, for one
agent on SQLite, a lock in the process.

Used where a check and a write must be one step whichever replica runs them: an operator
reply stored once per Slack reply (agent/reply_keys.py), a session handed off once however
many turns reach the handoff at once (agent/tools.py `start_handoff`).

Every lock of a process is a session-level advisory lock on one connection of its own, tried
(`pg_try_advisory_lock`) rather than waited for on the database. Before, each holder held a
transaction-level lock on a connection of a small pool: every holder pinned a connection, so
the pool's size was how many replies a replica could store at once, and in the busy-hour bench
replies waited 30 s for a connection (then failed) while other keys' holders worked. Now a
waiting key costs nothing but a retry now and then, and keys do not wait for each other.

A holder that dies lets go with its process's connection, as before. A connection cut while
locks are held lets them go too (before as now: the holder's work goes on, unprotected, for
the rest of that step); the next lock is taken on a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import AsyncConnection

# The advisory lock class, beside the document store's ("PRLT", "PRLN").
LOCK_CLASS = 0x50524C52  # "PRLR"
# How long a key is waited for before the caller gets TimeoutError (a holder that long is
# stuck; the pool this replaced waited as long for a connection).
WAIT_S = 30.0
# Retries while another replica holds the key: from 10 ms, doubling, to at most this.
MAX_RETRY_S = 0.2
# A lock waited for or held longer than this is logged.
SLOW_S = 2.0

log = logging.getLogger(__name__)


class KeyLocks:
    """Locks by key: across replicas through the database at `url`, or within this process.
    Enter it (`async with`) to connect; leaving it lets go of every lock it holds."""

    def __init__(self, url: str | None = None) -> None:
        self._url = url
        self._connection: AsyncConnection[Any] | None = None
        self._connecting = asyncio.Lock()
        # One lock per key in this process, kept while anyone holds or waits for it: the
        # database's lock is re-entrant within its session, so it orders replicas, not tasks.
        self._local: dict[str, asyncio.Lock] = {}
        self._users: Counter[str] = Counter()

    async def __aenter__(self) -> Self:
        if self._url is not None:
            await self._connect()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        asked = time.monotonic()
        held = asked
        self._users[key] += 1
        local = self._local.setdefault(key, asyncio.Lock())
        try:
            async with local:
                connection = await self._acquire(key, asked) if self._url is not None else None
                held = time.monotonic()
                try:
                    yield
                finally:
                    if connection is not None:
                        await self._release(connection, key)
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                self._local.pop(key, None)
            done = time.monotonic()
            if done - asked > SLOW_S:
                # The key's kind only: the rest names a Slack message or a session.
                log.warning(
                    "slow key lock kind=%s waited=%.1fs held=%.1fs",
                    key.split(":", 1)[0],
                    held - asked,
                    done - held,
                )

    async def _acquire(self, key: str, asked: float) -> AsyncConnection[Any]:
        """The connection the key's lock was taken on (its release goes there too)."""
        retry = 0.01
        while True:
            connection = None
            try:
                connection = await self._connect()
                cursor = await connection.execute(
                    "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_CLASS, key)
                )
                row = await cursor.fetchone()
                if row is not None and row[0]:
                    return connection
            except psycopg.OperationalError as error:
                log.warning("key lock connection lost, connecting again: %r", error)
                if connection is not None:
                    await self._drop(connection)
            if time.monotonic() - asked > WAIT_S:
                raise TimeoutError(
                    f"key lock kind={key.split(':', 1)[0]} not had within {WAIT_S:g}s"
                )
            await asyncio.sleep(retry)
            retry = min(retry * 2, MAX_RETRY_S)

    async def _release(self, connection: AsyncConnection[Any], key: str) -> None:
        if connection is not self._connection or connection.closed:
            return  # let go already, with the connection it was taken on
        try:
            await connection.execute(
                "SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_CLASS, key)
            )
        except psycopg.OperationalError as error:
            # The lock went with the connection; the next key connects again.
            log.warning("key lock connection lost while letting go: %r", error)
            await self._drop(connection)

    async def _connect(self) -> AsyncConnection[Any]:
        async with self._connecting:
            if self._connection is None or self._connection.closed:
                assert self._url is not None
                self._connection = await AsyncConnection.connect(self._url, autocommit=True)
            return self._connection

    async def _drop(self, connection: AsyncConnection[Any]) -> None:
        """Forget `connection` if it is still the one in use (another task may have connected
        again since: its locks are live)."""
        async with self._connecting:
            if connection is self._connection:
                self._connection = None
        with contextlib.suppress(psycopg.Error):
            await connection.close()
