"""Where Parlant keeps sessions and customers, as PARLANT_SESSION_STORE says.

`sqlite` (the default) is our own store: one file per Parlant store in PARLANT_HOME, each write
one durable transaction. `local`, `transient` and MongoDB URLs are passed through to Parlant.
An existing `local` store (sessions.json / customers.json) is imported into SQLite once, so
switching to the default loses nothing; the JSON files are left in place as a backup.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from parlant.core.common import IdGenerator
from parlant.core.customers import CustomerDocumentStore, CustomerStore
from parlant.core.sessions import SessionStore

from agent.session_listener import SessionChanges, SignallingSessionDocumentStore
from agent.store.sqlite_documents import SQLiteDocumentDatabase, import_json_store

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_session_stores(
    spec: str, home: Path
) -> AsyncIterator[tuple[str | SessionStore, str | CustomerStore, SessionChanges | None]]:
    """(session store, customer store, change signals) for p.Server, open for the block.

    Change signals exist only for our own store: it is the one whose writes we can observe.
    """
    if spec != "sqlite":
        yield spec, spec, None
        return
    async with AsyncExitStack() as stack:
        # One file per store: each keeps its schema version in a collection named `metadata`.
        sessions_db = await stack.enter_async_context(
            SQLiteDocumentDatabase(home / "sessions.sqlite3")
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
        yield session_store, customer_store, changes
