"""The bridge's state in one local SQLite file (WAL): the default, for one bridge process.

The SQLite adapter runs its statements inline in the interface's coroutines rather than in a
thread: each is one small indexed statement on a local file (well under a millisecond in WAL
mode), cheaper than a thread hop per call.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from config.private_files import make_private_file
from slack_bridge.store import (
    REPLY_COLUMNS,
    OutboxReply,
    ReplyKind,
    ReplyState,
    ThreadLink,
    reply_from_row,
)
from slack_bridge.store.sqlite_checkpoints import BackgroundCheckpoints
from slack_kit.pacing import MemorySlots, Queue

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbound_seen (
    key     TEXT PRIMARY KEY,
    seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id       TEXT NOT NULL,
    channel          TEXT NOT NULL,
    ts               TEXT NOT NULL,
    thread_ts        TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    user_name        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    text             TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    pending_notified INTEGER NOT NULL DEFAULT 0,
    parlant_event_id TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    held_rule        TEXT NOT NULL DEFAULT '',
    override         TEXT NOT NULL DEFAULT '',
    UNIQUE (channel, ts)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(state, session_id, id);
CREATE TABLE IF NOT EXISTS cursors (
    session_id  TEXT PRIMARY KEY,
    next_offset INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_cursor (
    one      INTEGER PRIMARY KEY CHECK (one = 1),
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mirror_posts (
    session_id TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    part       INTEGER NOT NULL,
    ts         TEXT,
    PRIMARY KEY (session_id, event_id, part)
);
CREATE TABLE IF NOT EXISTS threads (
    session_id TEXT PRIMARY KEY,
    channel    TEXT NOT NULL,
    ts         TEXT NOT NULL,
    root_fingerprint TEXT,
    UNIQUE (channel, ts)
);
CREATE TABLE IF NOT EXISTS session_leases (
    session_id TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sla_notices (
    session_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    ts         TEXT,
    PRIMARY KEY (session_id, kind)
);
"""


def _expiry(ttl_s: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=ttl_s)).isoformat(timespec="milliseconds")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class SQLiteBridgeStore:
    """BridgeStore on one SQLite file; safe to use from the event loop and worker threads."""

    def __init__(self, path: Path) -> None:
        make_private_file(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a reply acknowledged to Slack must survive a power cut, not only a crash.
        self._db.execute("PRAGMA synchronous=FULL")
        # Checkpoints run in a thread of their own (sqlite_checkpoints.py), never in a commit
        # made from the event loop. Once a checkpoint has copied the whole WAL, the next commit
        # starts it over and cuts the file back, so its size keeps saying how much waits to be
        # copied (without the limit the file stays at its largest and every check checkpoints).
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.execute("PRAGMA journal_size_limit=0")
        self._db.executescript(_SCHEMA)
        _add_missing_columns(self._db)
        self._checkpoints = BackgroundCheckpoints(path).start()
        self._slots = MemorySlots()

    def close(self) -> None:
        self._checkpoints.stop()
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Many rows in one commit: the leases of 10,000 sessions were 10,000 commits (each
        synced to disk) every renewal, most of the idle bridge's CPU (found with py-spy)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)

    async def first_sighting(self, *keys: str) -> bool:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                placeholders = ",".join("?" * len(keys))
                seen = self._db.execute(
                    f"SELECT 1 FROM inbound_seen WHERE key IN ({placeholders})", keys
                ).fetchone()
                if seen is None:
                    now = _now()
                    self._db.executemany(
                        "INSERT INTO inbound_seen VALUES (?, ?)", [(k, now) for k in keys]
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return seen is None

    async def reply_queued(self, channel: str, ts: str) -> bool:
        row = self._execute(
            "SELECT 1 FROM outbox WHERE channel = ? AND ts = ?", (channel, ts)
        ).fetchone()
        return row is not None

    async def enqueue_reply(
        self,
        session_id: str,
        channel: str,
        ts: str,
        thread_ts: str,
        user_id: str,
        user_name: str,
        kind: ReplyKind,
        text: str,
    ) -> OutboxReply:
        self._execute(
            """INSERT OR IGNORE INTO outbox
               (session_id, channel, ts, thread_ts, user_id, user_name, kind, text, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (session_id, channel, ts, thread_ts, user_id, user_name, kind, text, _now()),
        )
        row = self._execute(
            f"SELECT {REPLY_COLUMNS} FROM outbox WHERE channel = ? AND ts = ?", (channel, ts)
        ).fetchone()
        return reply_from_row(row)

    async def pending_replies(self, session_id: str | None = None) -> list[OutboxReply]:
        if session_id is None:
            rows = self._execute(
                f"SELECT {REPLY_COLUMNS} FROM outbox WHERE state = 'pending' ORDER BY ts, id"
            ).fetchall()
        else:
            rows = self._execute(
                f"SELECT {REPLY_COLUMNS} FROM outbox WHERE state = 'pending' AND session_id = ? ORDER BY ts, id",
                (session_id,),
            ).fetchall()
        return [reply_from_row(r) for r in rows]

    async def reply_attempted(self, reply_id: int, error: str) -> None:
        self._execute(
            "UPDATE outbox SET last_error = ? WHERE id = ?",
            (error, reply_id),
        )

    async def reply_sending(self, reply_id: int) -> None:
        self._execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (reply_id,))

    async def reply_pending_notified(self, reply_id: int) -> None:
        self._execute("UPDATE outbox SET pending_notified = 1 WHERE id = ?", (reply_id,))

    async def delivered_after(self, session_id: str, ts: str) -> bool:
        row = self._execute(
            """SELECT 1 FROM outbox WHERE session_id = ? AND state = 'delivered'
               AND CAST(ts AS REAL) > CAST(? AS REAL) LIMIT 1""",
            (session_id, ts),
        ).fetchone()
        return row is not None

    async def reply_finished(
        self, reply_id: int, state: ReplyState, parlant_event_id: str = ""
    ) -> None:
        self._execute(
            "UPDATE outbox SET state = ?, parlant_event_id = ? WHERE id = ?",
            (state, parlant_event_id, reply_id),
        )

    async def reply_held(self, reply_id: int, rule: str) -> None:
        self._execute(
            "UPDATE outbox SET state = 'held', held_rule = ? WHERE id = ?", (rule, reply_id)
        )

    async def held_reply(self, reply_id: int) -> OutboxReply | None:
        row = self._execute(
            f"SELECT {REPLY_COLUMNS} FROM outbox WHERE id = ? AND state = 'held'", (reply_id,)
        ).fetchone()
        return None if row is None else reply_from_row(row)

    async def release_held(
        self, reply_id: int, *, send_anyway: bool = False, text: str | None = None
    ) -> OutboxReply | None:
        row = self._execute(
            f"""UPDATE outbox SET state = 'pending', text = COALESCE(?, text),
                   override = CASE WHEN ? THEN held_rule ELSE '' END
               WHERE id = ? AND state = 'held' RETURNING {REPLY_COLUMNS}""",
            (text, send_anyway, reply_id),
        ).fetchone()
        return None if row is None else reply_from_row(row)

    async def cursor(self, session_id: str) -> int | None:
        row = self._execute(
            "SELECT next_offset FROM cursors WHERE session_id = ?", (session_id,)
        ).fetchone()
        return None if row is None else int(row[0])

    async def advance_cursor(self, session_id: str, next_offset: int) -> None:
        self._execute(
            """INSERT INTO cursors VALUES (?, ?)
               ON CONFLICT(session_id) DO UPDATE SET next_offset = MAX(next_offset, excluded.next_offset)""",
            (session_id, next_offset),
        )

    # One bridge process uses a SQLite file, so there is one feed cursor whatever the replica
    # id: the default id is new on every start, and a restart must resume where it was.
    async def feed_cursor(self, replica_id: str) -> int | None:
        row = self._execute("SELECT position FROM feed_cursor WHERE one = 1").fetchone()
        return None if row is None else int(row[0])

    async def set_feed_cursor(self, replica_id: str, position: int) -> None:
        self._execute(
            """INSERT INTO feed_cursor VALUES (1, ?)
               ON CONFLICT(one) DO UPDATE SET position = excluded.position""",
            (position,),
        )

    async def mirror_status(self, session_id: str, event_id: str, part: int) -> str | None:
        row = self._execute(
            "SELECT ts FROM mirror_posts WHERE session_id = ? AND event_id = ? AND part = ?",
            (session_id, event_id, part),
        ).fetchone()
        return None if row is None else (row[0] or "")

    async def mirror_attempting(self, session_id: str, event_id: str, part: int) -> None:
        self._execute(
            "INSERT OR IGNORE INTO mirror_posts (session_id, event_id, part) VALUES (?, ?, ?)",
            (session_id, event_id, part),
        )

    async def mirror_posted(self, session_id: str, event_id: str, part: int, ts: str) -> None:
        self._execute(
            "UPDATE mirror_posts SET ts = ? WHERE session_id = ? AND event_id = ? AND part = ?",
            (ts, session_id, event_id, part),
        )

    async def link_thread(self, session_id: str, channel: str, ts: str) -> None:
        self._execute(
            "INSERT OR IGNORE INTO threads (session_id, channel, ts) VALUES (?, ?, ?)",
            (session_id, channel, ts),
        )

    async def thread_for_session(self, session_id: str) -> ThreadLink | None:
        row = self._execute(
            "SELECT session_id, channel, ts FROM threads WHERE session_id = ?", (session_id,)
        ).fetchone()
        return ThreadLink(*row) if row else None

    async def session_for_thread(self, channel: str, ts: str) -> ThreadLink | None:
        row = self._execute(
            "SELECT session_id, channel, ts FROM threads WHERE channel = ? AND ts = ?",
            (channel, ts),
        ).fetchone()
        return ThreadLink(*row) if row else None

    async def root_rendering(self, session_id: str) -> str | None:
        row = self._execute(
            "SELECT root_fingerprint FROM threads WHERE session_id = ?", (session_id,)
        ).fetchone()
        return row[0] if row else None

    async def set_root_rendering(self, session_id: str, fingerprint: str) -> None:
        self._execute(
            "UPDATE threads SET root_fingerprint = ? WHERE session_id = ?",
            (fingerprint, session_id),
        )

    async def sla_notice_status(self, session_id: str, kind: str) -> str | None:
        row = self._execute(
            "SELECT ts FROM sla_notices WHERE session_id = ? AND kind = ?", (session_id, kind)
        ).fetchone()
        return None if row is None else (row[0] or "")

    async def sla_notice_attempting(self, session_id: str, kind: str) -> None:
        self._execute(
            "INSERT OR IGNORE INTO sla_notices (session_id, kind) VALUES (?, ?)", (session_id, kind)
        )

    async def sla_notice_posted(self, session_id: str, kind: str, ts: str) -> None:
        self._execute(
            "UPDATE sla_notices SET ts = ? WHERE session_id = ? AND kind = ?",
            (ts, session_id, kind),
        )

    # One bridge process per SQLite file: its memory is the place every poster shares.
    async def post_slot(self, channel: str, interval: float, burst: int) -> float:
        return await self._slots.post_slot(channel, interval, burst)

    async def defer_posts(self, channel: str, seconds: float, interval: float, burst: int) -> None:
        await self._slots.defer_posts(channel, seconds, interval, burst)

    async def take_slot(
        self, key: str, interval: float, burst: int, queue: Queue | None = None
    ) -> float:
        return await self._slots.take_slot(key, interval, burst, queue)

    async def count_post(self, channel: str, ago: float, interval: float) -> None:
        await self._slots.count_post(channel, ago, interval)

    async def outbox_summary(self) -> tuple[int, datetime | None]:
        count, oldest = self._execute(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending'"
        ).fetchone()
        return int(count), datetime.fromisoformat(oldest) if oldest else None

    @asynccontextmanager
    async def outbox_turn(self, session_id: str) -> AsyncIterator[bool]:
        # One process uses the file: the Inbound's per-session lock already gives the turn.
        yield True

    # One bridge process uses a SQLite file, so it always wins a lease: a restarted process
    # (a new replica id) takes its sessions back at once instead of waiting for the old expiry.
    async def acquire_leases(
        self, owner: str, session_ids: Sequence[str], ttl_s: float
    ) -> set[str]:
        with self._transaction():
            self._db.executemany(
                """INSERT INTO session_leases VALUES (?, ?, ?) ON CONFLICT(session_id)
                   DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at""",
                [(sid, owner, _expiry(ttl_s)) for sid in session_ids],
            )
        return set(session_ids)

    async def renew_leases(self, owner: str, session_ids: Sequence[str], ttl_s: float) -> set[str]:
        # Nothing to extend: no other process takes a lease from this file, and this one takes
        # them regardless of expiry. Only which are still its own is read, with no write:
        # rewriting 10,000 expiry times (one statement over a JSON array of ids) held the
        # event loop 20 ms every 5 s, which was the relay's p99 at 10,000 open escalations.
        with self._lock:
            rows = self._db.execute(
                "SELECT session_id FROM session_leases WHERE owner = ?", (owner,)
            ).fetchall()
        return {row[0] for row in rows}.intersection(session_ids)

    async def release_leases(self, owner: str, session_ids: Sequence[str]) -> None:
        with self._transaction():
            self._db.executemany(
                "DELETE FROM session_leases WHERE owner = ? AND session_id = ?",
                [(owner, sid) for sid in session_ids],
            )

    # The state file serves one bridge process: there is no other replica to have swallowed
    # a Slack event, so nothing is recorded.
    async def replica_seen(self, instance: str, forget_after_s: float) -> None:
        return None

    async def replica_gone(self, instance: str) -> None:
        return None

    async def silent_replicas(
        self, instance: str, since: datetime, stale_s: float
    ) -> list[datetime]:
        return []


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Columns added since a state file was made (CREATE TABLE IF NOT EXISTS keeps old ones)."""
    present = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
    for column in ("held_rule", "override"):
        if column not in present:
            db.execute(f"ALTER TABLE outbox ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
