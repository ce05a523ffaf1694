"""A session database with its escalation index (agent/store/escalations.py), on SQLite or on
PostgreSQL (a fresh namespace in the module's database), for the tests that hold both backends
to one contract."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from parlant.core.persistence.document_database import DocumentDatabase

from agent.store.escalations import EVENTS, EscalationIndex
from agent.store.postgres_documents import PostgresDocumentDatabase, open_pool
from agent.store.postgres_escalations import PostgresEscalations
from agent.store.sqlite_documents import SQLiteDocumentDatabase
from agent.store.sqlite_escalations import SQLiteEscalations

BACKENDS = ["sqlite", "postgresql"]


@asynccontextmanager
async def session_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[DocumentDatabase, EscalationIndex]]:
    """The database, its events ordered as the agent's are, and its index, indexes ensured."""
    if backend == "sqlite":
        async with SQLiteDocumentDatabase(tmp_path / "s.sqlite3", ordered=EVENTS) as database:
            sqlite_index = SQLiteEscalations(database)
            await sqlite_index.ensure_indexes()
            yield database, sqlite_index
        return
    url = request.getfixturevalue("postgres_url")
    async with (
        open_pool(url, max_size=4) as pool,
        PostgresDocumentDatabase(pool, uuid.uuid4().hex, ordered=EVENTS) as pg,
    ):
        postgres_index = PostgresEscalations(pg)
        await postgres_index.ensure_indexes()
        yield pg, postgres_index
