"""Every SQLite connection the product opens runs with the settings the README's durability
claims rest on: WAL and synchronous=FULL (an acknowledged commit is synced to disk, so it
survives a power cut, not only a process kill; SIGKILL tests cannot tell FULL from NORMAL).

`synchronous` is per connection, so each store is asked through the connection it holds.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from agent.store.claims import ClaimsStore
from agent.store.sqlite_documents import SQLiteDocumentDatabase
from slack_bridge.store.sqlite import SQLiteBridgeStore

SYNCHRONOUS_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def settings_of(connection: sqlite3.Connection) -> tuple[str, int]:
    journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    synchronous = connection.execute("PRAGMA synchronous").fetchone()[0]
    return str(journal).lower(), int(synchronous)


def test_the_session_store_syncs_every_commit(tmp_path: Path) -> None:
    async def read() -> tuple[str, int]:
        async with SQLiteDocumentDatabase(tmp_path / "sessions.sqlite3") as database:
            return await database.run(settings_of)

    assert asyncio.run(read()) == ("wal", SYNCHRONOUS_FULL)


def test_the_claims_store_syncs_every_commit(tmp_path: Path) -> None:
    store = ClaimsStore(tmp_path / "claims.sqlite3")
    try:
        assert settings_of(store._db) == ("wal", SYNCHRONOUS_FULL)
    finally:
        store.close()


def test_the_bridge_state_syncs_every_commit(tmp_path: Path) -> None:
    store = SQLiteBridgeStore(tmp_path / "state.sqlite3")
    try:
        assert settings_of(store._db) == ("wal", SYNCHRONOUS_FULL)
    finally:
        store.close()
