"""Where Parlant keeps sessions and customers, as PARLANT_SESSION_STORE says.

`sqlite` (the default) is our own store: one file per Parlant store in PARLANT_HOME, each write
one durable transaction. A `postgresql://` URL puts both stores in that database, shared by
several agent replicas, which hear each other's event writes through LISTEN/NOTIFY. `local`,
`transient` and MongoDB URLs are passed through to Parlant.
An existing `local` store (sessions.json / customers.json) is imported into SQLite once, so
switching to the default loses nothing; the JSON files are left in place as a backup.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from parlant.core.common import IdGenerator
from parlant.core.customers import CustomerDocumentStore, CustomerStore
from parlant.core.sessions import SessionStore

from agent.key_locks import KeyLocks
from agent.session_listener import SessionChanges, SignallingSessionDocumentStore
from agent.settings import POSTGRES_SCHEMES
from agent.store.change_feed import SESSION_EVENTS_CHANNEL, PostgresChangeFeed
from agent.store.escalations import EVENTS, EscalationIndex
from agent.store.event_offsets import EVENT_OFFSETS, NumberedWithin, OffsetSafeSessionStore
from agent.store.postgres_documents import ChangeAnnouncement, PostgresDocumentDatabase, open_pool
from agent.store.postgres_escalations import PostgresEscalations
from agent.store.sqlite_documents import SQLiteDocumentDatabase, import_json_store
from agent.store.sqlite_escalations import SQLiteEscalations
from agent.turn_lease import TurnLeases

log = logging.getLogger(__name__)

# A customer's id is a group of its own, numbered by itself: two replicas creating the same id
# at once (the sample customers, as every replica starts) insert it once, the other is refused.
CUSTOMER_IDS = NumberedWithin(collection="customers", group="id", number="id")

# Connections one agent process may hold: Parlant's engine and API run many operations at once.
POSTGRES_POOL_SIZE = 10


def is_postgres_url(spec: str) -> bool:
    return spec.startswith(POSTGRES_SCHEMES)


@dataclass(frozen=True)
class SessionStores:
    """The session and customer stores for p.Server (a store or a name Parlant resolves), and,
    for our own stores only, the change signals and the open-handoff index with the event feed:
    those need writes we can observe and an order we keep."""

    sessions: str | SessionStore
    customers: str | CustomerStore
    changes: SessionChanges | None = None
    escalations: EscalationIndex | None = None
    # Replicas only: AI turns leased in the database, so a survivor runs a dead one's again.
    turns: TurnLeases | None = None
    # Replicas only: locks by key across them (agent/key_locks.py), for operator replies
    # (agent/reply_keys.py) and for handoffs (agent/tools.py).
    key_locks: KeyLocks | None = None


@asynccontextmanager
async def open_session_stores(spec: str, home: Path) -> AsyncIterator[SessionStores]:
    """The stores PARLANT_SESSION_STORE names, open for the block."""
    if is_postgres_url(spec):
        async with _postgres_stores(spec) as stores:
            yield stores
        return
    if spec != "sqlite":
        yield SessionStores(spec, spec)
        return
    async with AsyncExitStack() as stack:
        # One file per store: each keeps its schema version in a collection named `metadata`.
        sessions_db = await stack.enter_async_context(
            SQLiteDocumentDatabase(home / "sessions.sqlite3", ordered=EVENTS)
        )
        customers_db = await stack.enter_async_context(
            SQLiteDocumentDatabase(home / "customers.sqlite3")
        )
        for name, database in (("sessions", sessions_db), ("customers", customers_db)):
            legacy = home / f"{name}.json"
            if legacy.exists() and await import_json_store(legacy, database):
                log.info("imported %s into SQLite (the JSON file is kept as a backup)", legacy)
        changes = SessionChanges()
        session_store = await stack.enter_async_context(
            SignallingSessionDocumentStore(database=sessions_db, changes=changes)
        )
        customer_store = await stack.enter_async_context(
            CustomerDocumentStore(IdGenerator(), database=customers_db)
        )
        escalations = SQLiteEscalations(sessions_db)
        await escalations.ensure_indexes()
        yield SessionStores(session_store, customer_store, changes, escalations)


@asynccontextmanager
async def _postgres_stores(url: str) -> AsyncIterator[SessionStores]:
    async with AsyncExitStack() as stack:
        pool = await stack.enter_async_context(open_pool(url, max_size=POSTGRES_POOL_SIZE))
        # The namespaces play the part of the SQLite store's two files.
        sessions_db = await stack.enter_async_context(
            PostgresDocumentDatabase(
                pool,
                namespace="sessions",
                announce=ChangeAnnouncement(
                    channel=SESSION_EVENTS_CHANNEL, collection=EVENTS, key="session_id"
                ),
                ordered=EVENTS,
                # Replicas write one session at once: Parlant's offsets need the database's word.
                numbered=EVENT_OFFSETS,
            )
        )
        customers_db = await stack.enter_async_context(
            PostgresDocumentDatabase(pool, namespace="customers", numbered=CUSTOMER_IDS)
        )
        changes = SessionChanges()
        await stack.enter_async_context(PostgresChangeFeed(url, SESSION_EVENTS_CHANNEL, changes))
        turns = TurnLeases(pool)
        await turns.create_schema(sessions_db.lock_schema)
        session_store = await stack.enter_async_context(
            OffsetSafeSessionStore(
                database=sessions_db, changes=changes, before_customer_message=turns.owe
            )
        )
        customer_store = await stack.enter_async_context(
            CustomerDocumentStore(IdGenerator(), database=customers_db)
        )
        escalations = PostgresEscalations(sessions_db)
        await escalations.ensure_indexes()
        log.info("sessions and customers on PostgreSQL; listening for other replicas' writes")
        # One connection for every key's lock, however many are held (agent/key_locks.py).
        key_locks = await stack.enter_async_context(KeyLocks(url))
        yield SessionStores(session_store, customer_store, changes, escalations, turns, key_locks)
