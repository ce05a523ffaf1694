"""The open-handoff index and the escalation feed on the SQLite session store."""

from __future__ import annotations

import json
import sqlite3
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
from agent.store.sqlite_documents import SQLiteDocumentDatabase, field_sql, transaction


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


# Written identically in the indexes and the queries: SQLite uses a partial index only when the
# query's WHERE contains the index's WHERE term for term.
_STATUS = "json_extract(body, '$.metadata.handoff.status')"
_IS_OPEN = f"collection = '{SESSIONS}' AND {_STATUS} IN ({_quoted(OPEN_STATUSES)})"
_IS_CLOSED = f"collection = '{SESSIONS}' AND {_STATUS} IN ({_quoted(tuple(CLOSED_AT))})"
_CLOSED_AT = (
    f"(CASE {_STATUS} "
    + " ".join(
        f"WHEN '{status}' THEN json_extract(body, '$.metadata.handoff.{field}')"
        for status, field in CLOSED_AT.items()
    )
    + " END)"
)

# A session view (escalations.session_view) built by SQLite, parsing each body once.
_VIEW = "json_remove(body, " + ", ".join(f"'$.{f}'" for f in INTERNAL_SESSION_FIELDS) + ")"

# INDEXED BY: without ANALYZE statistics the planner prefers the collection index (every session)
# to these partial ones; naming them also makes a query that cannot use them fail, not crawl.
_OPEN = "documents INDEXED BY sessions_in_open_handoff"
_CLOSED = "documents INDEXED BY sessions_by_handoff_closed"
_CHANGED = "documents INDEXED BY sessions_by_change"

_HAS_CHANGE = f"collection = '{SESSIONS}' AND changed IS NOT NULL"
_CHANGE_COLUMN = "ALTER TABLE documents ADD COLUMN changed INTEGER"


def _numbered_on(event: str) -> str:
    """A trigger giving a session document the next change number when it is written. The
    documents' one writer thread runs it inside the writing transaction, so numbers are
    given out in commit order; the inner UPDATE sets `changed` only, so it fires no trigger."""
    return (
        f"CREATE TRIGGER IF NOT EXISTS sessions_numbered_on_{event.split()[0].lower()} "
        f"AFTER {event} ON documents WHEN NEW.collection = '{SESSIONS}' BEGIN "
        f"UPDATE feed_counters SET last = last + 1 WHERE collection = '{SESSION_CHANGES}'; "
        f"UPDATE documents SET changed = "
        f"(SELECT last FROM feed_counters WHERE collection = '{SESSION_CHANGES}') "
        f"WHERE seq = NEW.seq; END"
    )


_INDEXES = (
    f"CREATE INDEX IF NOT EXISTS sessions_in_open_handoff ON documents (id) WHERE {_IS_OPEN}",
    f"CREATE INDEX IF NOT EXISTS sessions_by_handoff_closed "
    f"ON documents ({_CLOSED_AT}, id) WHERE {_IS_CLOSED}",
    f"CREATE INDEX IF NOT EXISTS sessions_by_change ON documents (changed) WHERE {_HAS_CHANGE}",
    f"INSERT OR IGNORE INTO feed_counters (collection, last) VALUES ('{SESSION_CHANGES}', 0)",
    _numbered_on("INSERT"),
    _numbered_on("UPDATE OF body"),
)


class SQLiteEscalations:
    def __init__(self, database: SQLiteDocumentDatabase) -> None:
        if database.ordered != EVENTS:
            raise ValueError("the session database must order its events collection")
        self._database = database

    async def ensure_indexes(self) -> None:
        def create(connection: sqlite3.Connection) -> None:
            columns = {row[1] for row in connection.execute("PRAGMA table_info(documents)")}
            with transaction(connection):
                # Sessions stored before the column existed have none: the full listing has them.
                if "changed" not in columns:
                    connection.execute(_CHANGE_COLUMN)
                for statement in _INDEXES:
                    connection.execute(statement)

        await self._database.run(create)

    async def open_listing(self, closed_since: str | None) -> Listing:
        def query(connection: sqlite3.Connection) -> Listing:
            rows = f"SELECT seq, body FROM {_OPEN} WHERE {_IS_OPEN}"
            params: tuple[str, ...] = ()
            if closed_since is not None:
                rows += (
                    f" UNION ALL SELECT seq, body FROM {_CLOSED} "
                    f"WHERE {_IS_CLOSED} AND {_CLOSED_AT} >= ?"
                )
                params = (closed_since,)
            (listing,) = connection.execute(
                f"SELECT json_group_array(json(view)) FROM "
                f"(SELECT {_VIEW} AS view FROM ({rows}) ORDER BY seq)",
                params,
            ).fetchone()
            # The one connection runs one operation at a time: no write falls in between.
            return Listing(str(listing), _counter(connection, SESSION_CHANGES))

        return await self._database.run(query)

    async def changed_listing(self, after: int, closed_since: str | None) -> Listing:
        def query(connection: sqlite3.Connection) -> Listing:
            listed = f"({_IS_OPEN}"
            params: list[object] = [after]
            if closed_since is not None:
                listed += f" OR ({_IS_CLOSED} AND {_CLOSED_AT} >= ?)"
                params.append(closed_since)
            listed += ")"
            (listing,) = connection.execute(
                f"SELECT json_group_array(json(view)) FROM (SELECT {_VIEW} AS view FROM {_CHANGED} "
                f"WHERE {_HAS_CHANGE} AND changed > ? AND {listed} ORDER BY changed)",
                params,
            ).fetchone()
            return Listing(str(listing), _counter(connection, SESSION_CHANGES))

        return await self._database.run(query)

    async def open_sessions(self, closed_since: str | None) -> list[dict[str, Any]]:
        listing: list[dict[str, Any]] = json.loads((await self.open_listing(closed_since)).items)
        return listing

    async def closed_sessions(
        self, before: tuple[str, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        def query(connection: sqlite3.Connection) -> list[str]:
            where, params = _IS_CLOSED, []
            if before is not None:
                where += f" AND ({_CLOSED_AT}, id) < (?, ?)"
                params += list(before)
            rows = connection.execute(
                f"SELECT body FROM {_CLOSED} WHERE {where} "
                f"ORDER BY {_CLOSED_AT} DESC, id DESC LIMIT ?",
                [*params, limit],
            )
            return [body for (body,) in rows]

        return [session_view(decode(body)) for body in await self._database.run(query)]

    async def events_after(self, after: int, limit: int) -> FeedPage:
        def query(connection: sqlite3.Connection) -> FeedPage:
            head = _counter(connection, EVENTS)
            upper = min(head, after + SCAN_WINDOW)
            rows = connection.execute(
                f"SELECT feed_position, body FROM documents "
                f"WHERE collection = '{EVENTS}' AND feed_position > ? AND feed_position <= ? "
                f"AND json_extract(body, '$.session_id') IN "
                f"(SELECT id FROM {_OPEN} WHERE {_IS_OPEN}) "
                f"ORDER BY feed_position LIMIT ?",
                (after, upper, limit),
            ).fetchall()
            events = [feed_event(position, decode(body)) for position, body in rows]
            positions = [position for position, _ in rows]
            return FeedPage(events, next_cursor(after, upper, positions, limit), head)

        return await self._database.run(query)

    async def head(self) -> int:
        return await self._database.run(lambda c: _counter(c, EVENTS))

    async def operator_reply(
        self, session_id: str, source: str, channel: str, ts: str
    ) -> str | None:
        def query(connection: sqlite3.Connection) -> str | None:
            # The session's events through Parlant's (session_id, offset) index: the same
            # expression and the same partial WHERE as `ensure_indexes` gave it.
            row = connection.execute(
                f"SELECT json_extract(body, '$.id') FROM documents "
                f"WHERE collection = '{EVENTS}' AND {field_sql('session_id')} = ? "
                "AND json_extract(body, '$.source') = ? "
                "AND json_extract(body, '$.kind') = 'message' "
                "AND json_extract(body, '$.deleted') = 0 "
                "AND json_extract(body, '$.metadata.slack.channel') = ? "
                "AND json_extract(body, '$.metadata.slack.ts') = ? LIMIT 1",
                (session_id, source, channel, ts),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._database.run(query)


def _counter(connection: sqlite3.Connection, name: str) -> int:
    """The last number a counter gave out: the feed's positions (EVENTS) or the sessions'
    change numbers (SESSION_CHANGES)."""
    row = connection.execute(
        "SELECT last FROM feed_counters WHERE collection = ?", (name,)
    ).fetchone()
    return int(row[0]) if row else 0
