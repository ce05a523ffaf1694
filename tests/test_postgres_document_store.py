"""The PostgreSQL document store where it differs from SQLite: several processes share it.

Semantics against Parlant's own store are in test_sqlite_document_store.py (one parametrised
suite for both stores). Here: Parlant's stores on it, its indexes, exact storage of what JSONB
would change, two "replicas" (databases on separate pools) agreeing under concurrency, and the
notification a write sends.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import psycopg
import pytest
from parlant.core.agents import AgentId
from parlant.core.common import IdGenerator
from parlant.core.customers import CustomerDocumentStore
from parlant.core.persistence.common import SortDirection
from parlant.core.persistence.document_database import (
    BaseDocument,
    CollectionIndex,
    identity_loader_for,
)
from parlant.core.sessions import EventKind, EventSource, SessionDocumentStore

from agent.store.postgres_documents import (
    FAILED_MIGRATIONS,
    ChangeAnnouncement,
    PostgresDocumentCollection,
    PostgresDocumentDatabase,
    open_pool,
)

load = identity_loader_for(BaseDocument)


@asynccontextmanager
async def replica(
    url: str, namespace: str, announce: ChangeAnnouncement | None = None
) -> AsyncIterator[PostgresDocumentDatabase]:
    """One process's view: its own pool and database object, as each agent replica has."""
    async with (
        open_pool(url, max_size=4) as pool,
        PostgresDocumentDatabase(pool, namespace, announce) as database,
    ):
        yield database


def doc(**fields: Any) -> BaseDocument:
    return cast(BaseDocument, {"creation_utc": "t", "version": "1", **fields})


async def test_parlant_session_and_customer_stores_run_on_it(postgres_url: str) -> None:
    namespace = uuid.uuid4().hex
    async with (
        replica(postgres_url, f"{namespace}-sessions") as sessions_db,
        SessionDocumentStore(database=sessions_db, allow_migration=True) as sessions,
        replica(postgres_url, f"{namespace}-customers") as customers_db,
        CustomerDocumentStore(IdGenerator(), database=customers_db, allow_migration=True) as cs,
    ):
        customer = await cs.create_customer(name="Ada")
        session = await sessions.create_session(customer_id=customer.id, agent_id=AgentId("a1"))
        for i in range(4):
            await sessions.create_event(
                session.id, EventSource.CUSTOMER, EventKind.MESSAGE, "t", {"message": f"m{i}"}
            )
        status = await sessions.create_event(
            session.id, EventSource.AI_AGENT, EventKind.STATUS, "t", {"status": "typing"}
        )
        await sessions.delete_event(status.id)
        await sessions.upsert_labels(session.id, {"handoff"})

    # Another process opening the same stores sees everything.
    async with (
        replica(postgres_url, f"{namespace}-sessions") as sessions_db,
        SessionDocumentStore(database=sessions_db) as sessions,
        replica(postgres_url, f"{namespace}-customers") as customers_db,
        CustomerDocumentStore(IdGenerator(), database=customers_db) as cs,
    ):
        events = await sessions.list_events(session.id, kinds=[EventKind.MESSAGE])
        assert [(e.offset, e.data) for e in events] == [(i, {"message": f"m{i}"}) for i in range(4)]
        assert len(await sessions.list_events(session.id, exclude_deleted=False)) == 5
        listing = await sessions.list_sessions(customer_id=customer.id, labels={"handoff"})
        assert [s.id for s in listing.items] == [session.id]
        assert (await cs.read_customer(customer.id)).name == "Ada"


async def test_parlants_own_filters_run_as_sql(postgres_url: str) -> None:
    """The fallback is exact but reads the whole collection; the session store's queries must not."""
    async with replica(postgres_url, uuid.uuid4().hex) as database:
        events = cast(
            PostgresDocumentCollection[BaseDocument],
            await database.get_or_create_collection("events", BaseDocument, load),
        )
        await events.insert_one(
            doc(id="e1", session_id="s1", offset=0, kind="message", deleted=False, data={})
        )
        filters: list[Any] = [
            {"id": {"$eq": "e1"}},
            {"session_id": {"$eq": "s1"}, "offset": {"$gte": 1}, "deleted": {"$eq": False}},
            {"$or": [{"session_id": {"$eq": "s1"}, "kind": {"$eq": k}} for k in ("message", "x")]},
            {"id": {"$eq": "e1"}, "session_id": {"$eq": "s1"}, "deleted": {"$ne": True}},
        ]
        async with database.snapshot() as connection:
            for where in filters:
                await events._condition(connection, where)  # raises Untranslatable on fallback


async def test_ensure_indexes_creates_partial_expression_indexes_that_queries_use(
    postgres_url: str,
) -> None:
    async with replica(postgres_url, uuid.uuid4().hex) as database:
        events = await database.get_or_create_collection("events", BaseDocument, load)
        indexes = [
            CollectionIndex(fields=(("session_id", SortDirection.ASC),)),
            CollectionIndex(
                fields=(("session_id", SortDirection.ASC), ("offset", SortDirection.DESC)),
                unique=True,
            ),
        ]
        await events.ensure_indexes(indexes)
        await events.ensure_indexes(indexes[:1])  # again: nothing new
        await events.insert_one(doc(id="e1", session_id="s1", offset=0))
        qualified = database.qualified("events")

        async def definitions() -> list[str]:
            with psycopg.connect(postgres_url) as connection:
                rows = connection.execute(
                    "SELECT indexdef FROM pg_indexes WHERE indexdef LIKE %s",
                    (f"%{qualified}%",),
                ).fetchall()
                return [r[0] for r in rows]

        created = await definitions()
        assert len(created) == 2
        assert any(d.startswith("CREATE UNIQUE INDEX") and "DESC" in d for d in created)
        assert all("session_id" in d and f"'{qualified}'" in d for d in created)

        with psycopg.connect(postgres_url) as connection:
            # A handful of rows would be read sequentially anyway; ask whether the index serves.
            connection.execute("SET enable_seqscan = off")
            plan = connection.execute(
                "EXPLAIN SELECT body FROM parlant_documents "
                f"WHERE collection = '{qualified}' AND (body -> 'session_id') = '\"s1\"'::jsonb"
            ).fetchall()
        assert "parlant_ix_" in str(plan)

        await database.delete_collection("events")
        assert await definitions() == []


async def test_documents_come_back_exactly_as_written(postgres_url: str) -> None:
    """JSONB alone would turn 1e16 into an int, -0.0 into 0.0 and cannot hold NUL."""
    written = doc(
        id="d1",
        big=1e16,
        negative_zero=-0.0,
        nul="a\x00b",
        nested={"k\x00": [1.5, "x\x00"]},
        wide=2**70,
    )
    namespace = uuid.uuid4().hex
    async with replica(postgres_url, namespace) as database:
        collection = await database.get_or_create_collection("docs", BaseDocument, load)
        await collection.insert_one(written)
    async with replica(postgres_url, namespace) as database:
        collection = await database.get_or_create_collection("docs", BaseDocument, load)
        (read,) = (await collection.find({})).items
    assert json.dumps(read, sort_keys=True) == json.dumps(written, sort_keys=True)
    assert isinstance(read["big"], float) and str(read["negative_zero"]) == "-0.0"  # type: ignore[typeddict-item]


async def test_two_replicas_never_both_win_a_check_then_write(postgres_url: str) -> None:
    """update_one's match and write are one step across processes: of many replicas racing to
    claim the same unclaimed document, exactly one matches."""
    namespace = uuid.uuid4().hex
    async with (
        replica(postgres_url, namespace) as first,
        replica(postgres_url, namespace) as second,
    ):
        setup = await first.get_or_create_collection("tasks", BaseDocument, load)
        for n in range(5):
            await setup.insert_one(doc(id=f"t{n}", owner=""))
        collections = [
            await db.get_or_create_collection("tasks", BaseDocument, load)
            for db in (first, second)
            for _ in range(4)
        ]

        async def claim(worker: int, task: str) -> int:
            collection = collections[worker]
            result = await collection.update_one(
                {"id": {"$eq": task}, "owner": {"$eq": ""}},
                cast(BaseDocument, {"owner": f"w{worker}"}),
            )
            return result.matched_count

        for n in range(5):
            wins = await asyncio.gather(*(claim(w, f"t{n}") for w in range(len(collections))))
            assert sum(wins) == 1
        owners = [d["owner"] for d in (await setup.find({})).items]  # type: ignore[typeddict-item]
        assert all(owner.startswith("w") for owner in owners)


async def test_inserts_from_two_replicas_are_all_kept_and_seen_by_both(postgres_url: str) -> None:
    namespace = uuid.uuid4().hex
    async with (
        replica(postgres_url, namespace) as first,
        replica(postgres_url, namespace) as second,
    ):
        a = await first.get_or_create_collection("events", BaseDocument, load)
        b = await second.get_or_create_collection("events", BaseDocument, load)
        await asyncio.gather(
            *(
                c.insert_one(doc(id=f"{i}-{n}", n=n))
                for n in range(20)
                for i, c in enumerate((a, b))
            )
        )
        for collection in (a, b):
            result = await collection.find({"n": {"$lt": 10}}, limit=7)
            assert result.total_count == 20 and len(result.items) == 7 and result.has_more


async def test_a_write_notifies_listeners_once_committed(postgres_url: str) -> None:
    channel = f"test_{uuid.uuid4().hex[:12]}"
    announce = ChangeAnnouncement(channel=channel, collection="events", key="session_id")
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as listener:
        await listener.execute(f"LISTEN {channel}")
        async with replica(postgres_url, uuid.uuid4().hex, announce) as database:
            events = await database.get_or_create_collection("events", BaseDocument, load)
            other = await database.get_or_create_collection("other", BaseDocument, load)
            await other.insert_one(doc(id="o1", session_id="not-announced"))
            await events.insert_one(doc(id="e1", session_id="s1"))
            await events.update_one({"id": {"$eq": "e1"}}, cast(BaseDocument, {"seen": True}))
        heard = []
        async for notification in listener.notifies(timeout=5, stop_after=2):
            heard.append((notification.channel, notification.payload))
    assert heard == [(channel, "s1"), (channel, "s1")]


async def test_loading_migrates_documents_and_sets_aside_failures(postgres_url: str) -> None:
    namespace = uuid.uuid4().hex
    async with replica(postgres_url, namespace) as database:
        collection = await database.get_or_create_collection("docs", BaseDocument, load)
        for version in ("1", "2", "bad"):
            await collection.insert_one(doc(id=f"d{version}", version=version))

    async def migrate(document: BaseDocument) -> BaseDocument | None:
        if document["version"] == "bad":
            return None
        return cast(BaseDocument, {**document, "version": "2"})

    async with replica(postgres_url, namespace) as database:
        collection = await database.get_collection("docs", BaseDocument, migrate)
        assert [d["version"] for d in (await collection.find({})).items] == ["2", "2"]
        failed = await database.get_collection(FAILED_MIGRATIONS, BaseDocument, load)
        assert [d["id"] for d in (await failed.find({})).items] == ["dbad"]
        with pytest.raises(ValueError):
            await database.get_collection("never-created", BaseDocument, load)
