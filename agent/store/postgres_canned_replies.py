"""The canned replies (agent/store/canned_replies.py) on PostgreSQL, beside the sessions, shared
by every agent replica: a reply a supervisor saves through one is offered by all."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from agent.store.canned_replies import COLUMNS, ORDER, CannedDraft, CannedReply, as_row, new_id
from agent.store.postgres_blocking_pool import open_blocking_pool

# Its own advisory lock class: only the schema set-up takes it.
_SCHEMA_LOCK = (0x43414E44, 0)  # "CAND"

_SCHEMA = """CREATE TABLE IF NOT EXISTS canned_replies (
    id         text PRIMARY KEY,
    title      text NOT NULL,
    body       text NOT NULL,
    category   text NOT NULL,
    updated_at text NOT NULL,
    updated_by text NOT NULL
)"""


def _create(db: Connection[Any]) -> None:
    db.execute(_SCHEMA)


class PostgresCannedReplies:
    def __init__(self, url: str, max_connections: int = 2) -> None:
        self._pool = open_blocking_pool(url, max_connections, _SCHEMA_LOCK, _create)

    def all(self) -> list[CannedReply]:
        with self._pool.connection() as db:
            rows = db.execute(f"SELECT {COLUMNS} FROM canned_replies {ORDER}").fetchall()
        return [CannedReply(*row) for row in rows]

    def get(self, reply_id: str) -> CannedReply | None:
        with self._pool.connection() as db:
            row = db.execute(
                f"SELECT {COLUMNS} FROM canned_replies WHERE id = %s", (reply_id,)
            ).fetchone()
        return CannedReply(*row) if row else None

    def add(self, draft: CannedDraft) -> CannedReply:
        reply = draft.saved(new_id())
        with self._pool.connection() as db:
            db.execute(
                f"INSERT INTO canned_replies ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",
                as_row(reply),
            )
        return reply

    def replace(self, reply_id: str, draft: CannedDraft) -> CannedReply | None:
        reply = draft.saved(reply_id)
        with self._pool.connection() as db:
            changed = db.execute(
                "UPDATE canned_replies SET title = %s, body = %s, category = %s, "
                "updated_at = %s, updated_by = %s WHERE id = %s",
                (*as_row(reply)[1:], reply_id),
            ).rowcount
        return reply if changed else None

    def remove(self, reply_id: str) -> bool:
        with self._pool.connection() as db:
            removed = db.execute("DELETE FROM canned_replies WHERE id = %s", (reply_id,)).rowcount
        return bool(removed)

    def close(self) -> None:
        self._pool.close()
