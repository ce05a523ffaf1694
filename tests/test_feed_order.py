"""The feed order of Parlant's events in the document stores themselves (SQLite, PostgreSQL).

Stores made before feed positions existed are numbered on open, in insertion order and after
every position given out; a deleted last event never has its position reused; on PostgreSQL,
two "replicas" (databases on separate pools) inserting at once while a reader follows the feed
with one cursor: the reader sees every event once, and positions are 1..n.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import psycopg
from parlant.core.persistence.document_database import BaseDocument, identity_loader_for

from agent.store.escalations import EVENTS, SESSIONS
from agent.store.postgres_documents import PostgresDocumentDatabase, open_pool
from agent.store.postgres_escalations import PostgresEscalations
from agent.store.sqlite_documents import SQLiteDocumentDatabase
from agent.store.sqlite_escalations import SQLiteEscalations
from tests.support.postgres import PostgresCluster

load = identity_loader_for(BaseDocument)
OPEN = {"handoff": {"status": "waiting"}}


def event(n: int, session: str = "s1") -> BaseDocument:
    return cast(
        BaseDocument,
        {"id": f"e{n}", "creation_utc": f"t{n:05}", "version": "1", "session_id": session},
    )


def session(session_id: str, metadata: dict[str, Any]) -> BaseDocument:
    return cast(
        BaseDocument,
        {"id": session_id, "creation_utc": "t", "version": "1", "metadata": metadata},
    )


async def test_sqlite_numbers_a_store_made_before_feed_positions(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    # A file as the previous release wrote it: no feed_position column, no counter table.
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE collections (name TEXT PRIMARY KEY) WITHOUT ROWID;"
        "CREATE TABLE documents (seq INTEGER PRIMARY KEY, collection TEXT NOT NULL,"
        " id TEXT NOT NULL, creation_utc TEXT NOT NULL, body TEXT NOT NULL);"
        "INSERT INTO collections VALUES ('events'), ('sessions');"
    )
    for n in (3, 1, 2):  # insertion order, not creation order, is the feed order
        old.execute(
            "INSERT INTO documents (collection, id, creation_utc, body) VALUES (?, ?, ?, ?)",
            ("events", f"e{n}", f"t{n:05}", f'{{"id":"e{n}","session_id":"s1","version":"1"}}'),
        )
    old.commit()
    old.close()
    async with SQLiteDocumentDatabase(path, ordered=EVENTS) as database:
        events = await database.get_or_create_collection(EVENTS, BaseDocument, load)
        sessions = await database.get_or_create_collection(SESSIONS, BaseDocument, load)
        escalations = SQLiteEscalations(database)
        await escalations.ensure_indexes()
        await sessions.insert_one(session("s1", OPEN))
        await events.insert_one(event(4))
        page = await escalations.events_after(0, 100)
        assert [(e["position"], e["id"]) for e in page.events] == [
            (1, "e3"),
            (2, "e1"),
            (3, "e2"),
            (4, "e4"),
        ]
        # A deleted last event's position is not given out again: a reader past it misses nothing.
        await events.delete_one({"id": {"$eq": "e4"}})
        await events.insert_one(event(5))
        page = await escalations.events_after(3, 100)
        assert [(e["position"], e["id"]) for e in page.events] == [(5, "e5")]
    # Reopening numbers nothing again.
    async with SQLiteDocumentDatabase(path, ordered=EVENTS) as database:
        await database.get_or_create_collection(EVENTS, BaseDocument, load)
        assert await SQLiteEscalations(database).head() == 5


async def test_sqlite_feed_walks_a_bounded_window_past_other_sessions(tmp_path: Path) -> None:
    from agent.store.escalations import SCAN_WINDOW

    async with SQLiteDocumentDatabase(tmp_path / "s.sqlite3", ordered=EVENTS) as database:
        events = await database.get_or_create_collection(EVENTS, BaseDocument, load)
        sessions = await database.get_or_create_collection(SESSIONS, BaseDocument, load)
        escalations = SQLiteEscalations(database)
        await escalations.ensure_indexes()
        await sessions.insert_one(session("open", OPEN))
        await sessions.insert_one(session("ai", {}))
        for n in range(SCAN_WINDOW + 10):
            await events.insert_one(event(n, "ai"))
        await events.insert_one(event(99999, "open"))
        first = await escalations.events_after(0, 10)
        assert first.events == [] and first.next == SCAN_WINDOW < first.head
        second = await escalations.events_after(first.next, 10)
        assert [e["id"] for e in second.events] == ["e99999"]


@asynccontextmanager
async def replica(url: str, namespace: str) -> AsyncIterator[PostgresDocumentDatabase]:
    async with (
        open_pool(url, max_size=4) as pool,
        PostgresDocumentDatabase(pool, namespace, ordered=EVENTS) as database,
    ):
        yield database


async def test_postgres_numbers_events_stored_before_feed_positions(postgres_url: str) -> None:
    namespace = uuid.uuid4().hex
    # Written by a database that orders nothing: as rows written before the upgrade.
    async with (
        open_pool(postgres_url, max_size=2) as pool,
        PostgresDocumentDatabase(pool, namespace) as unordered,
    ):
        events = await unordered.get_or_create_collection(EVENTS, BaseDocument, load)
        for n in (2, 1):
            await events.insert_one(event(n))
    async with replica(postgres_url, namespace) as database:
        events = await database.get_or_create_collection(EVENTS, BaseDocument, load)
        sessions = await database.get_or_create_collection(SESSIONS, BaseDocument, load)
        escalations = PostgresEscalations(database)
        await escalations.ensure_indexes()
        await sessions.insert_one(session("s1", OPEN))
        await events.insert_one(event(3))
        page = await escalations.events_after(0, 100)
        assert [(e["position"], e["id"]) for e in page.events] == [(1, "e2"), (2, "e1"), (3, "e3")]


async def test_postgres_concurrent_replicas_leave_a_follower_no_gap(postgres_url: str) -> None:
    namespace = uuid.uuid4().hex
    async with replica(postgres_url, namespace) as a, replica(postgres_url, namespace) as b:
        collections = [await r.get_or_create_collection(EVENTS, BaseDocument, load) for r in (a, b)]
        sessions = await a.get_or_create_collection(SESSIONS, BaseDocument, load)
        escalations = PostgresEscalations(a)
        await escalations.ensure_indexes()
        await sessions.insert_one(session("s1", OPEN))
        done = asyncio.Event()
        seen: list[dict[str, Any]] = []

        async def write(writer: int) -> None:
            for n in range(40):
                await collections[writer % 2].insert_one(event(writer * 1000 + n))

        async def follow() -> None:
            cursor = 0
            while True:
                finished = done.is_set()
                page = await escalations.events_after(cursor, 5)
                seen.extend(page.events)
                cursor = page.next
                if finished and cursor >= page.head:
                    return
                await asyncio.sleep(0)

        follower = asyncio.create_task(follow())
        await asyncio.gather(*(write(w) for w in range(6)))
        done.set()
        await follower
    ids = [e["id"] for e in seen]
    assert len(ids) == 240 and len(set(ids)) == 240
    assert [e["position"] for e in seen] == list(range(1, 241))
    with psycopg.connect(postgres_url) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM parlant_documents WHERE collection = %s AND feed_position IS NULL",
            (f"{namespace}:{EVENTS}",),
        ).fetchone() or (None,)
    assert count == 0


async def test_postgres_upgrades_a_database_of_the_previous_release(
    postgres_cluster: PostgresCluster,
) -> None:
    url = postgres_cluster.create_database(f"t_feed_upgrade_{os.getpid()}")
    async with (
        open_pool(url, max_size=2) as pool,
        PostgresDocumentDatabase(pool, "sessions") as unordered,
    ):
        events = await unordered.get_or_create_collection(EVENTS, BaseDocument, load)
        for n in (1, 2):
            await events.insert_one(event(n))
    # Back to the previous release's schema: no position column, no counter table.
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ALTER TABLE parlant_documents DROP COLUMN feed_position")
        connection.execute("DROP TABLE parlant_feed_counters")
    async with replica(url, "sessions") as database:
        events = await database.get_or_create_collection(EVENTS, BaseDocument, load)
        await events.insert_one(event(3))
        escalations = PostgresEscalations(database)
        await escalations.ensure_indexes()
        sessions = await database.get_or_create_collection(SESSIONS, BaseDocument, load)
        await sessions.insert_one(session("s1", OPEN))
        page = await escalations.events_after(0, 100)
    assert [(e["position"], e["id"]) for e in page.events] == [(1, "e1"), (2, "e2"), (3, "e3")]
    assert page.head == 3
