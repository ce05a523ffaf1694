"""The change feed: a notification committed by any process wakes this process's waiters, and a
lost listening connection is replaced, after which every waiter re-reads (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from agent.session_listener import SessionChanges
from agent.store.change_feed import PostgresChangeFeed


async def notify(url: str, channel: str, payload: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        # Committed in its own transaction, as a store write sends it.
        await connection.execute("SELECT pg_notify(%s, %s)", (channel, payload))


async def test_a_committed_notification_wakes_only_that_sessions_waiters(postgres_url: str) -> None:
    channel = f"feed_{uuid.uuid4().hex[:12]}"
    changes = SessionChanges()
    async with PostgresChangeFeed(postgres_url, channel, changes):
        s1, s2 = changes.subscribe("s1"), changes.subscribe("s2")
        await notify(postgres_url, channel, "s1")
        await asyncio.wait_for(s1.wait(), timeout=5)
        assert not s2.is_set()


async def test_a_lost_connection_is_replaced_and_every_waiter_rereads(postgres_url: str) -> None:
    channel = f"feed_{uuid.uuid4().hex[:12]}"
    changes = SessionChanges()
    async with PostgresChangeFeed(postgres_url, channel, changes):
        waiting = changes.subscribe("s1")
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as admin:
            cursor = await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
                (f'LISTEN "{channel}"',),
            )
            assert await cursor.fetchall() == [(True,)]
        # A notification sent while it was down is lost: the reconnection wakes everyone instead.
        await asyncio.wait_for(waiting.wait(), timeout=10)
        again = changes.subscribe("s1")
        await asyncio.sleep(0.1)
        await notify(postgres_url, channel, "s1")
        await asyncio.wait_for(again.wait(), timeout=5)


async def test_a_replica_that_cannot_listen_does_not_start() -> None:
    changes = SessionChanges()
    feed = PostgresChangeFeed("postgresql://nobody@127.0.0.1:1/none", "c", changes)
    with pytest.raises(psycopg.OperationalError):
        async with feed:
            pass
