"""The bridge's own durable state: what Parlant cannot hold about Slack.

Dedupe keys of Slack messages already taken in, the outbox of operator replies on their way to
Parlant, per-session mirror cursors, the escalation feed's cursor, mirrored posts (so a restart never posts twice), the
session ↔ thread links and the per-session leases of bridge replicas. `BridgeStore` is the
interface; `SQLiteBridgeStore` (one local file, WAL) is the default, for one bridge process;
`PostgresBridgeStore` (postgres.py, BRIDGE_STATE_URL) is shared by several replicas.

The interface is async so an adapter on a network database (PostgreSQL) never blocks the event
loop. The SQLite adapter runs its statements inline in those coroutines rather than in a thread:
each is one small indexed statement on a local file (well under a millisecond in WAL mode),
cheaper than a thread hop per call.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import psycopg
from psycopg_pool import PoolTimeout

from config.private_files import make_private_file
from slack_bridge.store.sqlite_checkpoints import BackgroundCheckpoints
from slack_kit.pacing import MemorySlots

# What a store raises while its database is out of reach for a moment (a dropped connection,
# a restarting server, a pool time-out): the bridge's loops log it and try again, as they do
# when Slack or Parlant is out of reach, instead of ending the process.
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (psycopg.OperationalError, PoolTimeout)

# An operator reply's kind, as handoff.actions names them.
# What an operator's reply is: MessageKind, or "draft": the agent's draft sent from its thread
# post (as the AI; keyed on the draft post's ts, so it is not "late" behind newer replies).
ReplyKind = Literal["human", "ai", "note", "draft"]
# held: an `ai:` reply the agent would not send in its name (agent/ai_reply_rules.py), waiting
# for its operator to send it anyway or edit it (`release_held`).
ReplyState = Literal["pending", "delivered", "rejected", "held"]


@dataclass(frozen=True)
class OutboxReply:
    id: int
    session_id: str
    channel: str
    ts: str
    thread_ts: str
    user_id: str
    user_name: str
    kind: ReplyKind
    text: str
    attempts: int
    pending_notified: bool
    # When the bridge took it in (its clock): the settling window counts from here.
    accepted_at: datetime
    # The rule the agent held it for, and (once its operator sent it anyway) the rule it goes
    # out despite; both empty for most replies.
    held_rule: str = ""
    override: str = ""


@dataclass(frozen=True)
class ThreadLink:
    session_id: str
    channel: str
    ts: str


class BridgeStore(Protocol):
    async def first_sighting(self, *keys: str) -> bool:
        """Record dedupe keys; True only if none of them was seen before (atomically)."""

    async def reply_queued(self, channel: str, ts: str) -> bool:
        """Whether the outbox holds the reply Slack posted at (channel, ts), in any state."""

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
    ) -> OutboxReply: ...

    async def pending_replies(self, session_id: str | None = None) -> list[OutboxReply]: ...

    async def reply_attempted(self, reply_id: int, error: str) -> None: ...

    async def reply_sending(self, reply_id: int) -> None:
        """Counted before Parlant is called: after a crash mid-call, the next attempt looks for
        the stored event instead of sending again."""

    async def reply_pending_notified(self, reply_id: int) -> None: ...

    async def delivered_after(self, session_id: str, ts: str) -> bool:
        """Whether a reply later in Slack's order than `ts` already reached this session."""

    async def reply_finished(
        self, reply_id: int, state: ReplyState, parlant_event_id: str = ""
    ) -> None: ...

    async def reply_held(self, reply_id: int, rule: str) -> None:
        """The agent held the reply for `rule`: it waits for its operator."""

    async def held_reply(self, reply_id: int) -> OutboxReply | None:
        """The reply if it is held now."""

    async def release_held(
        self, reply_id: int, *, send_anyway: bool = False, text: str | None = None
    ) -> OutboxReply | None:
        """A held reply back in the queue, once: sent despite its rule (`send_anyway`), or
        with the operator's edited `text` (checked again). None if it is not held (released
        already, by a second click or another replica)."""

    async def cursor(self, session_id: str) -> int | None: ...

    async def advance_cursor(self, session_id: str, next_offset: int) -> None: ...

    async def feed_cursor(self, replica_id: str) -> int | None:
        """The escalation feed position `replica_id` is done with; None before its first."""

    async def set_feed_cursor(self, replica_id: str, position: int) -> None:
        """Store it (any direction: after the agent's data was reset it moves back)."""

    async def mirror_status(self, session_id: str, event_id: str, part: int) -> str | None:
        """None: never attempted; "": attempted, outcome unknown; otherwise the posted ts."""

    async def mirror_attempting(self, session_id: str, event_id: str, part: int) -> None: ...

    async def mirror_posted(self, session_id: str, event_id: str, part: int, ts: str) -> None: ...

    async def link_thread(self, session_id: str, channel: str, ts: str) -> None: ...

    async def thread_for_session(self, session_id: str) -> ThreadLink | None: ...

    async def session_for_thread(self, channel: str, ts: str) -> ThreadLink | None: ...

    async def root_rendering(self, session_id: str) -> str | None: ...

    async def set_root_rendering(self, session_id: str, fingerprint: str) -> None: ...

    async def sla_notice_status(self, session_id: str, kind: str) -> str | None:
        """None: never attempted; "": attempted, outcome unknown; otherwise the posted ts."""

    async def sla_notice_attempting(self, session_id: str, kind: str) -> None: ...

    async def sla_notice_posted(self, session_id: str, kind: str, ts: str) -> None: ...

    async def post_slot(self, channel: str, interval: float, burst: int) -> float:
        """Takes `channel`'s next posting slot (slack_kit/pacing.py); returns the
        seconds to wait for it. Every replica on one store shares each channel's allowance."""

    async def defer_posts(self, channel: str, seconds: float, interval: float, burst: int) -> None:
        """Slack answered a post to `channel` with 429 and Retry-After `seconds`."""

    async def take_slot(self, key: str, interval: float, burst: int) -> float:
        """`key`'s next slot if it is free now (0); else the seconds until it is, nothing
        taken (slack_kit/pacing.py `take_if_free`)."""

    async def count_post(self, channel: str, ago: float, interval: float) -> None:
        """A post another process (the agent) made to `channel` `ago` seconds ago takes its
        slot in the channel's allowance."""

    async def outbox_summary(self) -> tuple[int, datetime | None]:
        """How many replies wait in the outbox, and when the oldest was accepted."""

    def outbox_turn(self, session_id: str) -> AbstractAsyncContextManager[bool]:
        """Held while this replica delivers the session's replies: True when it is this
        replica's turn (no other replica delivers that session's replies until the block ends),
        False when another replica is delivering them now."""

    async def acquire_leases(
        self, owner: str, session_ids: Sequence[str], ttl_s: float
    ) -> set[str]:
        """Take, for ttl_s, the leases that nobody holds, have expired or `owner` holds;
        returns the ids `owner` holds now."""

    async def renew_leases(self, owner: str, session_ids: Sequence[str], ttl_s: float) -> set[str]:
        """Extend `owner`'s leases by ttl_s; returns those still its own (the rest were lost)."""

    async def release_leases(self, owner: str, session_ids: Sequence[str]) -> None:
        """Give up `owner`'s leases, so another replica may take them at once."""

    async def replica_seen(self, instance: str, forget_after_s: float) -> None:
        """This replica process is alive now (its heartbeat, slack_bridge/replica_watch.py);
        replicas silent for longer than `forget_after_s` are forgotten."""

    async def replica_gone(self, instance: str) -> None:
        """This replica process stops cleanly: it swallows no Slack event from now on."""

    async def silent_replicas(
        self, instance: str, since: datetime, stale_s: float
    ) -> list[datetime]:
        """When each other replica process was last seen, for those seen neither since `since`
        (the database's clock, as an outbox reply's `accepted_at`) nor in the last `stale_s`."""


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

    async def take_slot(self, key: str, interval: float, burst: int) -> float:
        return await self._slots.take_slot(key, interval, burst)

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


# The outbox's columns in `reply_from_row`'s order; both adapters name them alike.
REPLY_COLUMNS = (
    "id, session_id, channel, ts, thread_ts, user_id, user_name, kind, text, attempts,"
    " pending_notified, created_at, held_rule, override"
)


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Columns added since a state file was made (CREATE TABLE IF NOT EXISTS keeps old ones)."""
    present = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
    for column in ("held_rule", "override"):
        if column not in present:
            db.execute(f"ALTER TABLE outbox ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")


def reply_from_row(row: tuple[Any, ...]) -> OutboxReply:
    """An outbox row of REPLY_COLUMNS (SQLite stores the time as text, PostgreSQL as a time)."""
    accepted = row[11]
    return OutboxReply(
        id=int(row[0]),
        session_id=str(row[1]),
        channel=str(row[2]),
        ts=str(row[3]),
        thread_ts=str(row[4]),
        user_id=str(row[5]),
        user_name=str(row[6]),
        kind=row[7],
        text=str(row[8]),
        attempts=int(row[9]),
        pending_notified=bool(row[10]),
        accepted_at=accepted
        if isinstance(accepted, datetime)
        else datetime.fromisoformat(str(accepted)),
        held_rule=str(row[12]),
        override=str(row[13]),
    )
