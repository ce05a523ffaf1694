"""The open-handoff index and the escalation feed on the PostgreSQL session store.

Each read runs in one REPEATABLE READ snapshot: the feed's head and its events are read from the
same state, and since positions become visible in commit order (the counter row in
agent/store/postgres_documents.py), every position up to the head is visible in it.
"""

from __future__ import annotations

import json
from typing import Any

from agent.store.escalations import (
    CLOSED_AT,
    EVENTS,
    INTERNAL_SESSION_FIELDS,
    OPEN_STATUSES,
    SCAN_WINDOW,
    SESSIONS,
    FeedPage,
    decode,
    feed_event,
    next_cursor,
    session_view,
)
from agent.store.postgres_documents import DOCUMENT_TEXT, PostgresDocumentDatabase

# A session view (escalations.session_view) built by PostgreSQL.
_VIEW = "(body" + "".join(f" - '{f}'" for f in INTERNAL_SESSION_FIELDS) + ")"


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


class PostgresEscalations:
    def __init__(self, database: PostgresDocumentDatabase) -> None:
        if database.ordered != EVENTS:
            raise ValueError("the session database must order its events collection")
        self._database = database
        sessions = database.qualified(SESSIONS)
        self._events = database.qualified(EVENTS)
        # Written identically in the indexes and the queries, so the planner proves the partial
        # indexes' predicates from the queries'.
        status = "(body #>> '{metadata,handoff,status}')"
        self._is_open = f"collection = '{sessions}' AND {status} IN ({_quoted(OPEN_STATUSES)})"
        self._is_closed = f"collection = '{sessions}' AND {status} IN ({_quoted(tuple(CLOSED_AT))})"
        self._closed_at = (
            f"(CASE {status} "
            + " ".join(
                f"WHEN '{s}' THEN (body #>> '{{metadata,handoff,{field}}}')"
                for s, field in CLOSED_AT.items()
            )
            + ' END COLLATE "C")'
        )
        prefix = "parlant_" + database.namespace
        self._indexes = (
            f"CREATE INDEX IF NOT EXISTS {prefix}_in_open_handoff "
            f"ON parlant_documents (id) WHERE {self._is_open}",
            f"CREATE INDEX IF NOT EXISTS {prefix}_by_handoff_closed "
            f"ON parlant_documents ({self._closed_at}, id) WHERE {self._is_closed}",
        )

    async def ensure_indexes(self) -> None:
        async with self._database.transaction() as connection:
            await self._database.lock_schema(connection)
            for statement in self._indexes:
                await connection.execute(statement)

    async def open_listing(self, closed_since: str | None) -> str:
        # Built from the jsonb body: for the rare document jsonb cannot hold exactly (a NUL in a
        # string, a number spelled 1e+16), the view shows jsonb's spelling, not the exact text.
        rows = f"SELECT seq, body FROM parlant_documents WHERE {self._is_open}"
        params: list[object] = []
        if closed_since is not None:
            rows += (
                " UNION ALL SELECT seq, body FROM parlant_documents "
                f"WHERE {self._is_closed} AND {self._closed_at} >= %s"
            )
            params.append(closed_since)
        async with self._database.snapshot() as connection:
            row = await (
                await connection.execute(
                    f"SELECT coalesce(json_agg({_VIEW} ORDER BY seq), '[]')::text FROM ({rows}) r",
                    params,
                )
            ).fetchone()
        return str(row[0]) if row else "[]"

    async def open_sessions(self, closed_since: str | None) -> list[dict[str, Any]]:
        listing: list[dict[str, Any]] = json.loads(await self.open_listing(closed_since))
        return listing

    async def closed_sessions(
        self, before: tuple[str, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        where, params = self._is_closed, []
        if before is not None:
            where += f" AND ({self._closed_at}, id) < (%s, %s)"
            params += list(before)
        async with self._database.snapshot() as connection:
            rows = await (
                await connection.execute(
                    f"SELECT {DOCUMENT_TEXT} FROM parlant_documents WHERE {where} "
                    f"ORDER BY {self._closed_at} DESC, id DESC LIMIT %s",
                    [*params, limit],
                )
            ).fetchall()
        return [session_view(decode(text)) for (text,) in rows]

    async def events_after(self, after: int, limit: int) -> FeedPage:
        async with self._database.snapshot() as connection:
            head = await self._head(connection)
            upper = min(head, after + SCAN_WINDOW)
            rows = await (
                await connection.execute(
                    f"SELECT feed_position, {DOCUMENT_TEXT} FROM parlant_documents "
                    "WHERE collection = %s AND feed_position > %s AND feed_position <= %s "
                    f"AND ((body ->> 'session_id') COLLATE \"C\") IN "
                    f"(SELECT id FROM parlant_documents WHERE {self._is_open}) "
                    "ORDER BY feed_position LIMIT %s",
                    (self._events, after, upper, limit),
                )
            ).fetchall()
        events = [feed_event(position, decode(text)) for position, text in rows]
        positions = [position for position, _ in rows]
        return FeedPage(events, next_cursor(after, upper, positions, limit), head)

    async def head(self) -> int:
        async with self._database.snapshot() as connection:
            return await self._head(connection)

    async def _head(self, connection: Any) -> int:
        row = await (
            await connection.execute(
                "SELECT last FROM parlant_feed_counters WHERE collection = %s", (self._events,)
            )
        ).fetchone()
        return int(row[0]) if row else 0
