"""The incremental open listing in the document stores themselves (SQLite, PostgreSQL): every
write of a session document takes the next change number, and the listing after version V is
exactly the listed sessions written since V (agent/store/escalations.py). On PostgreSQL, two
"replicas" writing at once while a follower keeps its view with changed listings only: the
follower ends with what a whole listing shows, so no change was skipped."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import pytest
from parlant.core.persistence.document_database import BaseDocument, identity_loader_for

from agent.store.escalations import EVENTS, SESSIONS, EscalationIndex, Listing
from agent.store.postgres_documents import PostgresDocumentDatabase, open_pool
from agent.store.postgres_escalations import PostgresEscalations
from agent.store.sqlite_documents import SQLiteDocumentDatabase
from agent.store.sqlite_escalations import SQLiteEscalations
from tests.support.escalation_stores import session_database

load = identity_loader_for(BaseDocument)
SINCE = "2026-01-01T00:00:00+00:00"


def session(session_id: str, metadata: dict[str, Any]) -> BaseDocument:
    return cast(
        BaseDocument,
        {"id": session_id, "creation_utc": "t", "version": "1", "metadata": metadata},
    )


def waiting(n: int = 0) -> dict[str, Any]:
    return {"handoff": {"status": "waiting", "n": n}}


def ids(listing: Listing) -> list[str]:
    return [s["id"] for s in json.loads(listing.items)]


@asynccontextmanager
async def store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Any, EscalationIndex]]:
    async with session_database(backend, tmp_path, request) as (database, index):
        yield await database.get_or_create_collection(SESSIONS, BaseDocument, load), index


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_the_listing_after_a_version_is_what_was_written_since(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async with store(backend, tmp_path, request) as (sessions, index):
        await sessions.insert_one(session("a", waiting()))
        await sessions.insert_one(session("b", waiting()))
        await sessions.insert_one(session("ai", {}))
        whole = await index.open_listing(SINCE)
        assert ids(whole) == ["a", "b"] and whole.version > 0
        nothing = await index.changed_listing(whole.version, SINCE)
        assert (ids(nothing), nothing.version) == ([], whole.version)

        await sessions.update_one(
            {"id": {"$eq": "b"}}, cast(BaseDocument, {"metadata": waiting(1)})
        )
        await sessions.update_one({"id": {"$eq": "ai"}}, cast(BaseDocument, {"metadata": {}}))
        await sessions.insert_one(session("c", waiting()))
        changed = await index.changed_listing(whole.version, SINCE)
        # In change order; an AI-only session written since is not a listed one.
        assert ids(changed) == ["b", "c"]
        assert json.loads(changed.items)[0]["metadata"] == waiting(1)
        assert changed.version > whole.version
        assert ids(await index.changed_listing(changed.version, SINCE)) == []

        resolved = {"handoff": {"status": "resolved", "resolved_at": "2026-06-01T00:00:00+00:00"}}
        await sessions.update_one({"id": {"$eq": "a"}}, cast(BaseDocument, {"metadata": resolved}))
        # Closed since the lookback: listed (its mirror stops); closed before it: not.
        assert ids(await index.changed_listing(changed.version, SINCE)) == ["a"]
        assert ids(await index.changed_listing(changed.version, "2026-07-01T00:00:00+00:00")) == []
        assert ids(await index.changed_listing(changed.version, None)) == []
        # Read with the listing, the version says how far it goes.
        assert (await index.open_listing(SINCE)).version == (
            await index.changed_listing(0, SINCE)
        ).version


async def test_sqlite_sessions_from_before_change_numbers_are_in_the_whole_listing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    async with SQLiteDocumentDatabase(path, ordered=EVENTS) as database:
        sessions = await database.get_or_create_collection(SESSIONS, BaseDocument, load)
        await sessions.insert_one(session("old", waiting()))
    # As the previous release left it: the escalation indexes without the change column.
    connection = sqlite3.connect(path)
    assert "changed" not in {row[1] for row in connection.execute("PRAGMA table_info(documents)")}
    connection.close()
    async with SQLiteDocumentDatabase(path, ordered=EVENTS) as database:
        sessions = await database.get_or_create_collection(SESSIONS, BaseDocument, load)
        index = SQLiteEscalations(database)
        await index.ensure_indexes()
        await index.ensure_indexes()  # again, as every start does: nothing changes
        whole = await index.open_listing(None)
        assert (ids(whole), whole.version) == (["old"], 0)
        assert ids(await index.changed_listing(0, None)) == []
        await sessions.update_one(
            {"id": {"$eq": "old"}}, cast(BaseDocument, {"metadata": waiting(2)})
        )
        assert ids(await index.changed_listing(0, None)) == ["old"]


async def test_postgres_a_follower_of_changes_misses_no_write_of_two_replicas(
    postgres_url: str,
) -> None:
    namespace = uuid.uuid4().hex
    async with (
        open_pool(postgres_url, max_size=4) as pool_a,
        open_pool(postgres_url, max_size=4) as pool_b,
        PostgresDocumentDatabase(pool_a, namespace, ordered=EVENTS) as a,
        PostgresDocumentDatabase(pool_b, namespace, ordered=EVENTS) as b,
    ):
        collections = [
            await r.get_or_create_collection(SESSIONS, BaseDocument, load) for r in (a, b)
        ]
        index = PostgresEscalations(a)
        await index.ensure_indexes()
        await PostgresEscalations(b).ensure_indexes()  # the second replica's start
        for n in range(10):
            await collections[0].insert_one(session(f"s{n}", waiting()))
        whole = await index.open_listing(None)
        view = {s["id"]: s for s in json.loads(whole.items)}
        version = whole.version
        done = asyncio.Event()

        async def write(writer: int) -> None:
            for n in range(30):
                target = f"s{(writer * 7 + n) % 10}"
                await collections[writer % 2].update_one(
                    {"id": {"$eq": target}},
                    cast(BaseDocument, {"metadata": waiting(writer * 100 + n)}),
                )

        async def follow() -> None:
            nonlocal version
            while True:
                finished = done.is_set()
                listing = await index.changed_listing(version, None)
                assert listing.version >= version
                view.update({s["id"]: s for s in json.loads(listing.items)})
                version = listing.version
                if finished:
                    return
                await asyncio.sleep(0)

        follower = asyncio.create_task(follow())
        await asyncio.gather(*(write(w) for w in range(4)))
        done.set()
        await follower
        final = await index.open_listing(None)
    assert version == final.version == 10 + 4 * 30
    assert sorted(view.values(), key=lambda s: str(s["id"])) == sorted(
        json.loads(final.items), key=lambda s: str(s["id"])
    )
