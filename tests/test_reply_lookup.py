"""Where a reply POSTed again finds the event stored for it (agent/reply_route.py): the store's
`operator_reply` answers exactly what reading the session's messages through Parlant's own store
and comparing origins answers (agent/reply_keys.py), on SQLite and PostgreSQL, with events
written by Parlant's own session store, and SQLite finds them through the session's index."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from parlant.core.agents import AgentId
from parlant.core.customers import CustomerId
from parlant.core.sessions import EventKind, EventSource, SessionDocumentStore, SessionId

from agent.reply_keys import reply_key, same_origin
from agent.store.escalations import EVENTS, EscalationIndex
from agent.store.sqlite_documents import SQLiteDocumentDatabase
from agent.store.sqlite_escalations import SQLiteEscalations
from tests.support.escalation_stores import session_database

HUMAN = EventSource.HUMAN_AGENT
ON_BEHALF = EventSource.HUMAN_AGENT_ON_BEHALF_OF_AI_AGENT


@asynccontextmanager
async def stores(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[SessionDocumentStore, EscalationIndex]]:
    async with (
        session_database(backend, tmp_path, request) as (database, index),
        SessionDocumentStore(database=database, allow_migration=True) as sessions,
    ):
        yield sessions, index


def origin(channel: str, ts: Any) -> dict[str, Any]:
    return {"slack": {"channel": channel, "ts": ts, "thread_ts": "1.0", "user": "U1"}}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_reply_is_found_by_its_slack_origin_exactly_as_reading_the_session_finds_it(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async with stores(backend, tmp_path, request) as (sessions, index):
        one = (await sessions.create_session(CustomerId("c"), AgentId("a"))).id
        other = (await sessions.create_session(CustomerId("c"), AgentId("a"))).id

        async def message(
            session_id: SessionId, source: EventSource, metadata: dict[str, Any]
        ) -> str:
            event = await sessions.create_event(
                session_id, source, EventKind.MESSAGE, "t", {"message": "hi"}, metadata
            )
            return str(event.id)

        human = await message(one, HUMAN, origin("C1", "1.1"))
        on_behalf = await message(one, ON_BEHALF, origin("C1", "1.2"))
        await message(one, EventSource.CUSTOMER, origin("C1", "1.3"))
        deleted = await message(one, HUMAN, origin("C1", "1.4"))
        await sessions.delete_event(deleted)  # type: ignore[arg-type]
        await message(one, HUMAN, origin("C1", 1.5))  # a number, not a Slack ts
        elsewhere = await message(other, HUMAN, origin("C1", "1.6"))
        await message(one, HUMAN, {"operator": {"id": "dashboard:d"}})  # no Slack origin
        await sessions.create_event(
            one, HUMAN, EventKind.CUSTOM, "t", {"n": 1}, origin("C1", "1.7")
        )  # not a message

        async def by_reading(session_id: SessionId, source: EventSource, ts: str) -> str | None:
            key = reply_key(origin("C1", ts))
            events = await sessions.list_events(
                session_id, source=source, kinds=[EventKind.MESSAGE]
            )
            found = [e for e in events if same_origin(dict(e.metadata or {}), key or "")]
            return str(found[0].id) if found else None

        expected = {
            (one, HUMAN, "1.1"): human,
            (one, ON_BEHALF, "1.2"): on_behalf,
            (other, HUMAN, "1.6"): elsewhere,
        }
        for session_id in (one, other):
            for source in (HUMAN, ON_BEHALF, EventSource.CUSTOMER):
                for ts in ("1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "9.9"):
                    found = await index.operator_reply(session_id, source.value, "C1", ts)
                    assert found == await by_reading(session_id, source, ts)
                    if source is not EventSource.CUSTOMER:
                        assert found == expected.get((session_id, source, ts))
        assert await index.operator_reply(one, HUMAN.value, "C2", "1.1") is None


async def test_sqlite_finds_a_reply_through_the_sessions_index(tmp_path: Path) -> None:
    captured: list[str] = []
    async with (
        SQLiteDocumentDatabase(tmp_path / "s.sqlite3", ordered=EVENTS) as database,
        SessionDocumentStore(database=database, allow_migration=True),
    ):
        index = SQLiteEscalations(database)
        await index.ensure_indexes()
        # The statement as SQLite ran it (parameters bound), to ask for its plan.
        await database.run(lambda c: c.set_trace_callback(captured.append))
        await index.operator_reply("s", HUMAN.value, "C1", "1.1")
        await database.run(lambda c: c.set_trace_callback(None))
        [query] = [q for q in captured if "metadata.slack.ts" in q]
        steps = await database.run(lambda c: c.execute(f"EXPLAIN QUERY PLAN {query}").fetchall())
    details = " ".join(str(step[-1]) for step in steps)
    assert "USING INDEX" in details and "SCAN documents" not in details, details
