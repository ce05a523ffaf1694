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
    SESSION_CHANGES,
    SESSIONS,
    FeedPage,
    Listing,
    decode,
    feed_event,
    next_cursor,
    session_view,
)
from agent.store.postgres_documents import (
    DOCUMENT_TEXT,
    RELATIONS_EXIST,
    PostgresDocumentDatabase,
    field_json,
)

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
        self._changes = database.qualified(SESSION_CHANGES)
        self._has_change = f"collection = '{sessions}' AND changed IS NOT NULL"
        prefix = "parlant_" + database.namespace
        self._index_names = (
            f"{prefix}_in_open_handoff",
            f"{prefix}_by_handoff_closed",
            f"{prefix}_by_change",
        )
        self._trigger = f"{prefix}_numbered"
        self._function = f"{prefix}_number_change"
        # The counter row stays locked until the writer commits, as for feed positions
        # (postgres_documents.py): numbers are taken, and become visible, in commit order,
        # so a reader that saw version V never later finds a change numbered V or below.
        self._function_body = (
            " BEGIN "
            f"UPDATE parlant_feed_counters SET last = last + 1 WHERE collection = '{self._changes}' "
            "RETURNING last INTO NEW.changed; RETURN NEW; END "
        )
        self._indexes = (
            f"CREATE INDEX IF NOT EXISTS {self._index_names[0]} "
            f"ON parlant_documents (id) WHERE {self._is_open}",
            f"CREATE INDEX IF NOT EXISTS {self._index_names[1]} "
            f"ON parlant_documents ({self._closed_at}, id) WHERE {self._is_closed}",
            # Sessions stored before the column existed have none: the full listing has them.
            "ALTER TABLE parlant_documents ADD COLUMN IF NOT EXISTS changed bigint",
            f"CREATE INDEX IF NOT EXISTS {self._index_names[2]} "
            f"ON parlant_documents (changed) WHERE {self._has_change}",
            f"INSERT INTO parlant_feed_counters (collection, last) VALUES ('{self._changes}', 0) "
            "ON CONFLICT DO NOTHING",
            f"CREATE OR REPLACE FUNCTION {self._function}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $${self._function_body}$$",
            f"CREATE OR REPLACE TRIGGER {self._trigger} "
            "BEFORE INSERT OR UPDATE OF body ON parlant_documents FOR EACH ROW "
            f"WHEN (NEW.collection = '{sessions}') EXECUTE FUNCTION {self._function}()",
        )

    async def ensure_indexes(self) -> None:
        async def create(connection: Any) -> None:
            for statement in self._indexes:
                await connection.execute(statement)

        # All there, and the trigger's function as written here (a changed body runs it all
        # again): the catalogs say so without locking parlant_documents (change_schema).
        await self._database.change_schema(
            "the open-handoff indexes and the change trigger",
            f"{RELATIONS_EXIST} AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = %s "
            "AND tgrelid = to_regclass('parlant_documents')) "
            "AND EXISTS (SELECT 1 FROM pg_proc WHERE proname = %s AND prosrc = %s)",
            # Unquoted names are stored in lower case.
            (
                list(self._index_names),
                self._trigger.lower(),
                self._function.lower(),
                self._function_body,
            ),
            create,
        )

    async def open_listing(self, closed_since: str | None) -> Listing:
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
            version = await self._counter(connection, self._changes)
        return Listing(str(row[0]) if row else "[]", version)

    async def changed_listing(self, after: int, closed_since: str | None) -> Listing:
        listed = f"({self._is_open}"
        params: list[object] = [after]
        if closed_since is not None:
            listed += f" OR ({self._is_closed} AND {self._closed_at} >= %s)"
            params.append(closed_since)
        listed += ")"
        async with self._database.snapshot() as connection:
            row = await (
                await connection.execute(
                    f"SELECT coalesce(json_agg({_VIEW} ORDER BY changed), '[]')::text "
                    f"FROM parlant_documents WHERE {self._has_change} AND changed > %s "
                    f"AND {listed}",
                    params,
                )
            ).fetchone()
            version = await self._counter(connection, self._changes)
        return Listing(str(row[0]) if row else "[]", version)

    async def open_sessions(self, closed_since: str | None) -> list[dict[str, Any]]:
        listing: list[dict[str, Any]] = json.loads((await self.open_listing(closed_since)).items)
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
            head = await self._counter(connection, self._events)
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
            return await self._counter(connection, self._events)

    async def operator_reply(
        self, session_id: str, source: str, channel: str, ts: str
    ) -> str | None:
        # The session's events through Parlant's (session_id, offset) index: the same
        # expression and the same partial WHERE (a literal, which the planner can prove) as
        # postgres_documents' `ensure_indexes` gave it. jsonb equality: a string, as a key is.
        async with self._database.snapshot() as connection:
            row = await (
                await connection.execute(
                    f"SELECT body ->> 'id' FROM parlant_documents "
                    f"WHERE collection = '{self._events}' "
                    f"AND {field_json('session_id')} = to_jsonb(%s::text) "
                    "AND body -> 'source' = to_jsonb(%s::text) "
                    "AND body -> 'kind' = '\"message\"'::jsonb "
                    "AND body -> 'deleted' = 'false'::jsonb "
                    "AND body #> '{metadata,slack,channel}' = to_jsonb(%s::text) "
                    "AND body #> '{metadata,slack,ts}' = to_jsonb(%s::text) LIMIT 1",
                    (session_id, source, channel, ts),
                )
            ).fetchone()
        return None if row is None else str(row[0])

    async def _counter(self, connection: Any, name: str) -> int:
        """The last number a counter gave out: the feed's positions or the change numbers."""
        row = await (
            await connection.execute(
                "SELECT last FROM parlant_feed_counters WHERE collection = %s", (name,)
            )
        ).fetchone()
        return int(row[0]) if row else 0
