"""Races between agent replicas on one PostgreSQL database, through the stores the agent opens.

Each "replica" here is what `python -m agent` opens (`open_session_stores`): its own pool, its
own Parlant session store (whose in-process writer lock does nothing for the other replica).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import psycopg
import pytest
from parlant.core.agents import AgentId
from parlant.core.customers import CustomerId, CustomerStore
from parlant.core.sessions import EventKind, EventSource, SessionStore

from agent.key_locks import LOCK_CLASS
from agent.sample_customers import ensure_sample_customers
from agent.store.claims import SAMPLE_CUSTOMER_ID, SAMPLE_CUSTOMERS
from agent.store.postgres_claims import PostgresClaimsStore
from agent.store.session_stores import SessionStores, open_session_stores
from tests.support.postgres import PostgresCluster

_databases = itertools.count()


def fresh_database(cluster: PostgresCluster) -> str:
    return cluster.create_database(f"races_{next(_databases)}_{random.getrandbits(32)}")


@asynccontextmanager
async def replicas(url: str, home: Path, count: int) -> AsyncIterator[list[SessionStores]]:
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(open_session_stores(url, home / str(n)))
            for n in range(count)
        ]


def sessions_of(stores: SessionStores) -> SessionStore:
    assert isinstance(stores.sessions, SessionStore)
    return stores.sessions


# Who writes into a session: the customer, the AI, an operator (a human agent's message), tools.
WRITERS = (
    (EventSource.CUSTOMER, EventKind.MESSAGE),
    (EventSource.AI_AGENT, EventKind.MESSAGE),
    (EventSource.HUMAN_AGENT, EventKind.MESSAGE),
    (EventSource.HUMAN_AGENT_ON_BEHALF_OF_AI_AGENT, EventKind.MESSAGE),
    (EventSource.AI_AGENT, EventKind.TOOL),
    (EventSource.AI_AGENT, EventKind.STATUS),
)


async def test_events_written_at_once_through_two_replicas_get_distinct_contiguous_offsets(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """Parlant gives an event the session's last offset + 1, read before it writes: across two
    processes that read-then-write raced, two events shared an offset, and the bridge's mirror
    (whose cursor is an offset) skipped the second. Every writer goes through the store, so the
    store must refuse a taken offset and the write take the next one."""
    url = fresh_database(postgres_cluster)
    rng = random.Random(25)
    async with replicas(url, tmp_path, 2) as (a, b):
        stores = [sessions_of(a), sessions_of(b)]
        session = await stores[0].create_session(
            customer_id=CustomerId("c1"), agent_id=AgentId("a1")
        )

        async def write(n: int) -> int:
            source, kind = rng.choice(WRITERS)
            await asyncio.sleep(rng.random() * 0.01)
            event = await stores[n % 2].create_event(
                session.id, source, kind, "t", {"message": f"m{n}"}
            )
            return event.offset

        written = 120
        returned = await asyncio.gather(*(write(n) for n in range(written)))
        stored = [e.offset for e in await stores[1].list_events(session.id)]
    assert sorted(stored) == list(range(written))
    # What each writer was told is what was stored: the API returns it to the customer's chat
    # and the bridge.
    assert sorted(returned) == list(range(written))


@pytest.mark.parametrize("attempt", range(3))
async def test_replicas_started_at_once_on_a_fresh_database_all_start(
    postgres_cluster: PostgresCluster, tmp_path: Path, attempt: int
) -> None:
    """Schema changes (tables, columns, indexes, the change trigger) against another replica's
    first writes deadlocked two agents started together on a fresh database, most times."""
    url = fresh_database(postgres_cluster)

    async def start(n: int) -> None:
        async with open_session_stores(url, tmp_path / str(n)) as stores:
            store = sessions_of(stores)
            session = await store.create_session(
                customer_id=CustomerId(f"c{n}"), agent_id=AgentId("a1")
            )
            await store.create_event(
                session.id, EventSource.CUSTOMER, EventKind.MESSAGE, "t", {"message": "hi"}
            )

    await asyncio.gather(*(start(n) for n in range(4)))


async def test_replicas_started_at_once_create_each_sample_customer_once(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """Each agent makes sure the sample customers exist as it starts; Parlant looks for the id
    and then inserts, under a lock of its own process. Two agents started at once on a fresh
    database (the chaos run's first start) both looked, and the second to insert stopped
    with "Customer with id 'cust-bob' already exists", or both inserted."""
    for _ in range(3):
        url = fresh_database(postgres_cluster)
        async with replicas(url, tmp_path, 4) as started:
            stores = [s.customers for s in started]
            assert all(isinstance(s, CustomerStore) for s in stores)
            await asyncio.gather(
                *(ensure_sample_customers(s) for s in stores if isinstance(s, CustomerStore))
            )
            listed = await started[0].customers.list_customers()
            ids = sorted(c.id for c in listed if c.id in SAMPLE_CUSTOMERS)
            assert ids == sorted(SAMPLE_CUSTOMERS)  # each once


async def test_the_first_request_after_every_connection_was_cut_succeeds(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """A database restart, a failover or a proxy's idle time-out cuts the pooled connections
    while the database itself answers again at once. The pool handed out a dead connection and
    the customer's request failed (502, the chaos run's cut connections); each connection is
    now checked as it is handed out, as the bridge's are."""
    url = fresh_database(postgres_cluster)
    database = url.rsplit("/", 1)[1]
    async with replicas(url, tmp_path, 1) as (stores,):
        sessions = sessions_of(stores)
        session = await sessions.create_session(
            customer_id=CustomerId("c1"), agent_id=AgentId("a1")
        )
        claims = PostgresClaimsStore(url)
        try:
            claims.policy_for(SAMPLE_CUSTOMER_ID)
            postgres_cluster.psql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                f" WHERE datname = '{database}' AND pid <> pg_backend_pid()"
            )
            await sessions.read_session(session.id)
            assert claims.policy_for(SAMPLE_CUSTOMER_ID)
        finally:
            claims.close()


async def test_keys_held_at_once_do_not_wait_for_each_other(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """A handoff keeps its lock while it posts to Slack. When each lock held a connection of a
    pool of four, four slow handoffs held every operator reply's lock too (30 s, then a 500)."""
    url = fresh_database(postgres_cluster)
    async with replicas(url, tmp_path, 1) as (stores,):
        locks = stores.key_locks
        assert locks is not None
        posting = asyncio.Event()
        slack_answers = asyncio.Event()

        async def handoff(n: int) -> None:
            assert locks is not None
            async with locks.hold(f"handoff:s{n}"):
                posting.set()
                await slack_answers.wait()

        handoffs = [asyncio.create_task(handoff(n)) for n in range(20)]
        await posting.wait()
        try:
            async with asyncio.timeout(10):  # the pool's own wait was 30 s
                async with locks.hold("slack:C1:1.000001"):
                    pass
        finally:
            slack_answers.set()
            await asyncio.gather(*handoffs)


async def test_a_key_is_held_by_one_replica_at_a_time_and_let_go_by_a_dead_one(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """The same key through two replicas: the second waits until the first lets go; a replica
    whose connection dies (its process killed) lets go of its keys with it."""
    url = fresh_database(postgres_cluster)
    async with replicas(url, tmp_path, 2) as (a, b):
        assert a.key_locks is not None and b.key_locks is not None
        order: list[str] = []
        first_holds = asyncio.Event()
        first_done = asyncio.Event()

        async def first() -> None:
            assert a.key_locks is not None
            async with a.key_locks.hold("slack:C1:2.000002"):
                order.append("a in")
                first_holds.set()
                await first_done.wait()
                order.append("a out")

        async def second() -> None:
            await first_holds.wait()
            assert b.key_locks is not None
            async with b.key_locks.hold("slack:C1:2.000002"):
                order.append("b in")

        tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
        await first_holds.wait()
        await asyncio.sleep(0.5)
        assert order == ["a in"]  # b is still waiting
        first_done.set()
        await asyncio.gather(*tasks)
        assert order == ["a in", "a out", "b in"]

        # A holds a key and its connection is cut (as when its process is killed): B gets it.
        holding = asyncio.Event()
        never = asyncio.Event()

        async def dies_holding() -> None:
            assert a.key_locks is not None
            async with a.key_locks.hold("handoff:s9"):
                holding.set()
                await never.wait()

        doomed = asyncio.create_task(dies_holding())
        await holding.wait()
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND classid = %s",
                (LOCK_CLASS,),
            )
        async with asyncio.timeout(10):
            async with b.key_locks.hold("handoff:s9"):
                pass
        doomed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await doomed
