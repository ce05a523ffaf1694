"""The canned replies supervisors keep (the dashboard writes them, operators send them from
Slack): SQLite in the data dir here; PostgreSQL, shared by replicas, in
postgres_canned_replies.py. A few hundred at most: searching is done on the whole list
(agent/canned_text.py `matches`), the same on both.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

_SCHEMA = """
CREATE TABLE IF NOT EXISTS canned_replies (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    category   TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
"""
COLUMNS = "id, title, body, category, updated_at, updated_by"
ORDER = "ORDER BY category, title, id"


@dataclass(frozen=True)
class CannedReply:
    id: str
    title: str
    body: str
    category: str  # "" when none
    updated_at: str  # ISO 8601, UTC
    updated_by: str  # the supervisor's name, "" when not given


@dataclass(frozen=True)
class CannedDraft:
    """What a supervisor writes: the reply without its id and stamps."""

    title: str
    body: str
    category: str
    by: str

    def saved(self, reply_id: str) -> CannedReply:
        return CannedReply(
            reply_id,
            self.title.strip(),
            self.body.strip(),
            self.category.strip(),
            datetime.now(UTC).isoformat(),
            self.by.strip(),
        )


def new_id() -> str:
    return uuid.uuid4().hex


class CannedReplies(Protocol):
    """Blocking calls, safe from any thread (the route calls them from worker threads)."""

    def all(self) -> list[CannedReply]:
        """Every reply, by category and title."""
        ...

    def get(self, reply_id: str) -> CannedReply | None: ...

    def add(self, draft: CannedDraft) -> CannedReply: ...

    def replace(self, reply_id: str, draft: CannedDraft) -> CannedReply | None:
        """The reply as saved; None when there is no such reply."""
        ...

    def remove(self, reply_id: str) -> bool:
        """False when there was no such reply."""
        ...

    def close(self) -> None: ...


class SqliteCannedReplies:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def all(self) -> list[CannedReply]:
        with self._lock:
            rows = self._db.execute(f"SELECT {COLUMNS} FROM canned_replies {ORDER}").fetchall()
        return [CannedReply(*row) for row in rows]

    def get(self, reply_id: str) -> CannedReply | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {COLUMNS} FROM canned_replies WHERE id = ?", (reply_id,)
            ).fetchone()
        return CannedReply(*row) if row else None

    def add(self, draft: CannedDraft) -> CannedReply:
        reply = draft.saved(new_id())
        with self._lock:
            self._db.execute(
                f"INSERT INTO canned_replies ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                as_row(reply),
            )
        return reply

    def replace(self, reply_id: str, draft: CannedDraft) -> CannedReply | None:
        reply = draft.saved(reply_id)
        with self._lock:
            changed = self._db.execute(
                "UPDATE canned_replies SET title = ?, body = ?, category = ?, updated_at = ?, "
                "updated_by = ? WHERE id = ?",
                (*as_row(reply)[1:], reply_id),
            ).rowcount
        return reply if changed else None

    def remove(self, reply_id: str) -> bool:
        with self._lock:
            removed = self._db.execute(
                "DELETE FROM canned_replies WHERE id = ?", (reply_id,)
            ).rowcount
        return bool(removed)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def as_row(reply: CannedReply) -> tuple[str, str, str, str, str, str]:
    return (
        reply.id,
        reply.title,
        reply.body,
        reply.category,
        reply.updated_at,
        reply.updated_by,
    )
