"""The bridge's state on PostgreSQL, shared by several bridge replicas (BRIDGE_STATE_URL).

The same BridgeStore as the SQLite file, with what sharing needs:
- dedupe keys are inserted with ON CONFLICT DO NOTHING in one transaction: the replica whose
  inserts all took sees the first sighting; any other sees a duplicate;
- a session's outbox is delivered by one replica at a time: `outbox_turn` holds the session's
  row in `bridge_outbox_turns` with FOR UPDATE SKIP LOCKED for the whole delivery, so another
  replica skips that session instead of waiting, and a dead replica's hold ends with its
  connection (no expiry to tune);
- cursors only move forward (a conditional upsert), whichever replica writes last; each
  replica has its own escalation feed cursor;
- per-session leases (`bridge_session_leases`) say which replica does a session's outbound work;
  their expiry is the database's clock, so replicas' clocks need not agree.

Tables are prefixed `bridge_` so they can live in the agent's database beside its own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Self

from psycopg import AsyncConnection, Rollback
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from slack_bridge.store import (
    REPLY_COLUMNS,
    OutboxReply,
    ReplyKind,
    ReplyState,
    ThreadLink,
    reply_from_row,
)
from slack_kit.pacing import Queue, take_if_free

log = logging.getLogger(__name__)

# Statements are small and short; the outbox turns hold their own connections (below).
POOL_SIZE = 10
# Sessions whose replies may be delivered at once by this replica; each holds a connection
# for its whole delivery, so they come from a pool of their own and never starve the
# statements the delivery itself makes (one pool would deadlock once all were held).
TURN_POOL_SIZE = 16
# A turn not had within this is "not now": the outbox loop tries again on its next round.
TURN_WAIT_S = 5.0
# Only the schema set-up takes it; a different class from the agent stores' locks.
_SCHEMA_LOCK = (0x42524447, 0)  # "BRDG"

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS bridge_inbound_seen (
        key     text PRIMARY KEY,
        seen_at timestamptz NOT NULL DEFAULT now()
    )""",
    """CREATE TABLE IF NOT EXISTS bridge_outbox (
        id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session_id       text NOT NULL,
        channel          text NOT NULL,
        ts               text NOT NULL,
        thread_ts        text NOT NULL,
        user_id          text NOT NULL,
        user_name        text NOT NULL,
        kind             text NOT NULL,
        text             text NOT NULL,
        state            text NOT NULL DEFAULT 'pending',
        attempts         integer NOT NULL DEFAULT 0,
        last_error       text NOT NULL DEFAULT '',
        pending_notified boolean NOT NULL DEFAULT false,
        parlant_event_id text NOT NULL DEFAULT '',
        created_at       timestamptz NOT NULL,
        UNIQUE (channel, ts)
    )""",
    "CREATE INDEX IF NOT EXISTS bridge_outbox_pending ON bridge_outbox (state, session_id, id)",
    # Held `ai:` replies (slack_bridge/store/sqlite.py ReplyState), added since the table was made.
    "ALTER TABLE bridge_outbox ADD COLUMN IF NOT EXISTS held_rule text NOT NULL DEFAULT ''",
    "ALTER TABLE bridge_outbox ADD COLUMN IF NOT EXISTS override text NOT NULL DEFAULT ''",
    """CREATE TABLE IF NOT EXISTS bridge_outbox_turns (
        session_id text PRIMARY KEY
    )""",
    """CREATE TABLE IF NOT EXISTS bridge_cursors (
        session_id  text PRIMARY KEY,
        next_offset bigint NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS bridge_feed_cursors (
        replica_id text PRIMARY KEY,
        position   bigint NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS bridge_mirror_posts (
        session_id text NOT NULL,
        event_id   text NOT NULL,
        part       integer NOT NULL,
        ts         text,
        PRIMARY KEY (session_id, event_id, part)
    )""",
    """CREATE TABLE IF NOT EXISTS bridge_threads (
        session_id       text PRIMARY KEY,
        channel          text NOT NULL,
        ts               text NOT NULL,
        root_fingerprint text,
        UNIQUE (channel, ts)
    )""",
    """CREATE TABLE IF NOT EXISTS bridge_sla_notices (
        session_id text NOT NULL,
        kind       text NOT NULL,
        ts         text,
        PRIMARY KEY (session_id, kind)
    )""",
    """CREATE TABLE IF NOT EXISTS bridge_session_leases (
        session_id text PRIMARY KEY,
        owner      text NOT NULL,
        expires_at timestamptz NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS bridge_session_leases_owner ON bridge_session_leases (owner)",
    # Each running replica process's heartbeat (slack_bridge/replica_watch.py), by process, not
    # by BRIDGE_REPLICA_ID: a replica restarted under its name must not hide that the process
    # before it died. Unlogged: after a database crash every live replica writes its row again.
    """CREATE UNLOGGED TABLE IF NOT EXISTS bridge_replicas (
        instance text PRIMARY KEY,
        seen_at  timestamptz NOT NULL
    )""",
    # Each channel's posting pace, shared by the replicas (slack_kit/pacing.py). Unlogged:
    # after a database crash an empty table only lets one short burst through.
    """CREATE UNLOGGED TABLE IF NOT EXISTS bridge_post_pace (
        channel text PRIMARY KEY,
        tat     double precision NOT NULL
    )""",
    # Each replica's waiting posts per channel (slack_kit/pacing.py Queue): since when its most
    # urgent one waits, and when it last asked (the database's clock), so a replica that
    # stopped asking stops counting.
    """CREATE UNLOGGED TABLE IF NOT EXISTS bridge_post_queues (
        channel text NOT NULL,
        replica text NOT NULL,
        since   double precision NOT NULL,
        seen    double precision NOT NULL,
        PRIMARY KEY (channel, replica)
    )""",
]

# A replica's queue counts for this long after it last asked for a slot: it asks at least once
# per interval while it waits, so a queue older than this belongs to a replica that stopped.
QUEUE_STALE_S = 3.0


def _pool(url: str, size: int) -> AsyncConnectionPool[AsyncConnection[Any]]:
    # Each connection is checked (one empty round trip) as it is handed out: one cut while
    # idle (a database restart, a proxy's idle time-out) is replaced instead of failing the
    # statement, which for an inbound Slack event would leave an operator's reply unstored
    # until Slack's retry (it is acknowledged only once stored: slack_bridge/app.py).
    return AsyncConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs={"autocommit": True},
        check=AsyncConnectionPool.check_connection,
        open=False,
    )


class PostgresBridgeStore:
    """BridgeStore on PostgreSQL. Enter it (`async with`) before use: that opens its pools and
    creates the tables (under an advisory lock, so replicas starting together do not race)."""

    def __init__(self, url: str) -> None:
        self._pool = _pool(url, POOL_SIZE)
        self._turns = _pool(url, TURN_POOL_SIZE)

    async def __aenter__(self) -> Self:
        await self._pool.open(wait=True)
        try:
            await self._turns.open(wait=True)
            async with self._pool.connection() as db, db.transaction():
                await db.execute("SELECT pg_advisory_xact_lock(%s, %s)", _SCHEMA_LOCK)
                for statement in _SCHEMA:
                    await db.execute(statement)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._turns.close()
        await self._pool.close()

    async def _one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        async with self._pool.connection() as db:
            cursor = await db.execute(sql, params)
            return await cursor.fetchone()

    async def _all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        async with self._pool.connection() as db:
            cursor = await db.execute(sql, params)
            return await cursor.fetchall()

    async def _run(self, sql: str, params: Sequence[object] = ()) -> None:
        async with self._pool.connection() as db:
            await db.execute(sql, params)

    async def first_sighting(self, *keys: str) -> bool:
        # Sorted, so two replicas inserting the same keys wait on each other in one order
        # (no deadlock); a partly new set is rolled back, as "seen" means none is recorded.
        wanted = sorted(set(keys))
        async with self._pool.connection() as db, db.transaction():
            taken = 0
            for key in wanted:
                cursor = await db.execute(
                    "INSERT INTO bridge_inbound_seen (key) VALUES (%s) "
                    "ON CONFLICT DO NOTHING RETURNING 1",
                    (key,),
                )
                taken += len(await cursor.fetchall())
            first = taken == len(wanted)
            if not first:
                raise Rollback()  # leaves the block quietly, with nothing recorded
        return first

    async def reply_queued(self, channel: str, ts: str) -> bool:
        row = await self._one(
            "SELECT 1 FROM bridge_outbox WHERE channel = %s AND ts = %s", (channel, ts)
        )
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
        await self._run(
            "INSERT INTO bridge_outbox_turns VALUES (%s) ON CONFLICT DO NOTHING", (session_id,)
        )
        await self._run(
            """INSERT INTO bridge_outbox
               (session_id, channel, ts, thread_ts, user_id, user_name, kind, text, created_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now())
               ON CONFLICT (channel, ts) DO NOTHING""",
            (session_id, channel, ts, thread_ts, user_id, user_name, kind, text),
        )
        row = await self._one(
            f"SELECT {REPLY_COLUMNS} FROM bridge_outbox WHERE channel = %s AND ts = %s",
            (channel, ts),
        )
        assert row is not None
        return reply_from_row(row)

    async def pending_replies(self, session_id: str | None = None) -> list[OutboxReply]:
        if session_id is None:
            rows = await self._all(
                f"SELECT {REPLY_COLUMNS} FROM bridge_outbox WHERE state = 'pending' "
                "ORDER BY ts::numeric, id"
            )
        else:
            rows = await self._all(
                f"SELECT {REPLY_COLUMNS} FROM bridge_outbox "
                "WHERE state = 'pending' AND session_id = %s ORDER BY ts::numeric, id",
                (session_id,),
            )
        return [reply_from_row(r) for r in rows]

    @asynccontextmanager
    async def outbox_turn(self, session_id: str) -> AsyncIterator[bool]:
        # Entered by hand: only a time-out getting the connection means "not now"; one raised
        # by the delivery inside the block (its own statements) must propagate as it is.
        connection = self._turns.connection(timeout=TURN_WAIT_S)
        try:
            db = await connection.__aenter__()
        except PoolTimeout:
            log.warning("outbox turn not had within %ss session=%s", TURN_WAIT_S, session_id)
            yield False
            return
        try:
            async with db.transaction():
                cursor = await db.execute(
                    "SELECT 1 FROM bridge_outbox_turns WHERE session_id = %s FOR UPDATE SKIP LOCKED",
                    (session_id,),
                )
                yield await cursor.fetchone() is not None
        finally:
            await connection.__aexit__(None, None, None)

    async def reply_attempted(self, reply_id: int, error: str) -> None:
        await self._run("UPDATE bridge_outbox SET last_error = %s WHERE id = %s", (error, reply_id))

    async def reply_sending(self, reply_id: int) -> None:
        await self._run(
            "UPDATE bridge_outbox SET attempts = attempts + 1 WHERE id = %s", (reply_id,)
        )

    async def reply_pending_notified(self, reply_id: int) -> None:
        await self._run(
            "UPDATE bridge_outbox SET pending_notified = true WHERE id = %s", (reply_id,)
        )

    async def delivered_after(self, session_id: str, ts: str) -> bool:
        row = await self._one(
            """SELECT 1 FROM bridge_outbox WHERE session_id = %s AND state = 'delivered'
               AND ts::numeric > %s::numeric LIMIT 1""",
            (session_id, ts),
        )
        return row is not None

    async def reply_finished(
        self, reply_id: int, state: ReplyState, parlant_event_id: str = ""
    ) -> None:
        await self._run(
            "UPDATE bridge_outbox SET state = %s, parlant_event_id = %s WHERE id = %s",
            (state, parlant_event_id, reply_id),
        )

    async def reply_held(self, reply_id: int, rule: str) -> None:
        await self._run(
            "UPDATE bridge_outbox SET state = 'held', held_rule = %s WHERE id = %s",
            (rule, reply_id),
        )

    async def held_reply(self, reply_id: int) -> OutboxReply | None:
        row = await self._one(
            f"SELECT {REPLY_COLUMNS} FROM bridge_outbox WHERE id = %s AND state = 'held'",
            (reply_id,),
        )
        return None if row is None else reply_from_row(row)

    async def release_held(
        self, reply_id: int, *, send_anyway: bool = False, text: str | None = None
    ) -> OutboxReply | None:
        # One statement: of two clicks (or two replicas) only one finds it held.
        row = await self._one(
            f"""UPDATE bridge_outbox SET state = 'pending', text = COALESCE(%s, text),
                   override = CASE WHEN %s THEN held_rule ELSE '' END
               WHERE id = %s AND state = 'held' RETURNING {REPLY_COLUMNS}""",
            (text, send_anyway, reply_id),
        )
        return None if row is None else reply_from_row(row)

    async def cursor(self, session_id: str) -> int | None:
        row = await self._one(
            "SELECT next_offset FROM bridge_cursors WHERE session_id = %s", (session_id,)
        )
        return None if row is None else int(row[0])

    async def advance_cursor(self, session_id: str, next_offset: int) -> None:
        # Never backwards: a replica that lost the session and writes late cannot undo one
        # that moved further.
        await self._run(
            """INSERT INTO bridge_cursors AS c VALUES (%s, %s)
               ON CONFLICT (session_id) DO UPDATE SET next_offset = excluded.next_offset
               WHERE c.next_offset < excluded.next_offset""",
            (session_id, next_offset),
        )

    # Each replica follows the feed for the sessions it holds, so each has its own cursor (a
    # stable BRIDGE_REPLICA_ID resumes it after a restart; a new id starts at the feed's head).
    async def feed_cursor(self, replica_id: str) -> int | None:
        row = await self._one(
            "SELECT position FROM bridge_feed_cursors WHERE replica_id = %s", (replica_id,)
        )
        return None if row is None else int(row[0])

    async def set_feed_cursor(self, replica_id: str, position: int) -> None:
        await self._run(
            """INSERT INTO bridge_feed_cursors VALUES (%s, %s)
               ON CONFLICT (replica_id) DO UPDATE SET position = excluded.position""",
            (replica_id, position),
        )

    async def mirror_status(self, session_id: str, event_id: str, part: int) -> str | None:
        row = await self._one(
            "SELECT ts FROM bridge_mirror_posts WHERE session_id = %s AND event_id = %s "
            "AND part = %s",
            (session_id, event_id, part),
        )
        return None if row is None else (row[0] or "")

    async def mirror_attempting(self, session_id: str, event_id: str, part: int) -> None:
        await self._run(
            "INSERT INTO bridge_mirror_posts (session_id, event_id, part) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            (session_id, event_id, part),
        )

    async def mirror_posted(self, session_id: str, event_id: str, part: int, ts: str) -> None:
        await self._run(
            "UPDATE bridge_mirror_posts SET ts = %s WHERE session_id = %s AND event_id = %s "
            "AND part = %s",
            (ts, session_id, event_id, part),
        )

    async def link_thread(self, session_id: str, channel: str, ts: str) -> None:
        await self._run(
            "INSERT INTO bridge_threads (session_id, channel, ts) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            (session_id, channel, ts),
        )

    async def thread_for_session(self, session_id: str) -> ThreadLink | None:
        row = await self._one(
            "SELECT session_id, channel, ts FROM bridge_threads WHERE session_id = %s",
            (session_id,),
        )
        return ThreadLink(*row) if row else None

    async def session_for_thread(self, channel: str, ts: str) -> ThreadLink | None:
        row = await self._one(
            "SELECT session_id, channel, ts FROM bridge_threads WHERE channel = %s AND ts = %s",
            (channel, ts),
        )
        return ThreadLink(*row) if row else None

    async def root_rendering(self, session_id: str) -> str | None:
        row = await self._one(
            "SELECT root_fingerprint FROM bridge_threads WHERE session_id = %s", (session_id,)
        )
        return row[0] if row else None

    async def set_root_rendering(self, session_id: str, fingerprint: str) -> None:
        await self._run(
            "UPDATE bridge_threads SET root_fingerprint = %s WHERE session_id = %s",
            (fingerprint, session_id),
        )

    async def sla_notice_status(self, session_id: str, kind: str) -> str | None:
        row = await self._one(
            "SELECT ts FROM bridge_sla_notices WHERE session_id = %s AND kind = %s",
            (session_id, kind),
        )
        return None if row is None else (row[0] or "")

    async def sla_notice_attempting(self, session_id: str, kind: str) -> None:
        await self._run(
            "INSERT INTO bridge_sla_notices (session_id, kind) VALUES (%s, %s) "
            "ON CONFLICT DO NOTHING",
            (session_id, kind),
        )

    async def sla_notice_posted(self, session_id: str, kind: str, ts: str) -> None:
        await self._run(
            "UPDATE bridge_sla_notices SET ts = %s WHERE session_id = %s AND kind = %s",
            (ts, session_id, kind),
        )

    async def post_slot(self, channel: str, interval: float, burst: int) -> float:
        # next_slot (slack_kit/pacing.py) in one statement, on the database's clock; the
        # row lock makes concurrent replicas take consecutive slots.
        row = await self._one(
            """INSERT INTO bridge_post_pace AS p (channel, tat)
            VALUES (%s, extract(epoch FROM clock_timestamp()) + %s)
            ON CONFLICT (channel) DO UPDATE
                SET tat = GREATEST(p.tat, extract(epoch FROM clock_timestamp())) + %s
            RETURNING tat, extract(epoch FROM clock_timestamp())::float8""",
            (channel, interval, interval),
        )
        assert row is not None
        tat, now = float(row[0]), float(row[1])
        send_at = max(now, tat - interval - (burst - 1) * interval)
        return send_at - now

    async def defer_posts(self, channel: str, seconds: float, interval: float, burst: int) -> None:
        await self._run(
            """INSERT INTO bridge_post_pace AS p (channel, tat)
            VALUES (%s, extract(epoch FROM clock_timestamp()) + %s)
            ON CONFLICT (channel) DO UPDATE SET tat = GREATEST(p.tat, EXCLUDED.tat)""",
            (channel, seconds + (burst - 1) * interval),
        )

    async def count_post(self, channel: str, ago: float, interval: float) -> None:
        # counted (slack_kit/pacing.py) on the database's clock.
        await self._run(
            """INSERT INTO bridge_post_pace AS p (channel, tat)
            VALUES (%s, extract(epoch FROM clock_timestamp()) - %s + %s)
            ON CONFLICT (channel) DO UPDATE SET tat = GREATEST(p.tat, EXCLUDED.tat - %s) + %s""",
            (channel, max(0.0, ago), interval, interval, interval),
        )

    async def take_slot(
        self, key: str, interval: float, burst: int, queue: Queue | None = None
    ) -> float:
        # take_if_free (slack_kit/pacing.py) on the database's clock, the row locked
        # while it decides; a row for the key is made first so there is one to lock.
        async with self._pool.connection() as db, db.transaction():
            await db.execute(
                "INSERT INTO bridge_post_pace (channel, tat) VALUES (%s, 0) "
                "ON CONFLICT (channel) DO NOTHING",
                (key,),
            )
            cursor = await db.execute(
                "SELECT tat, extract(epoch FROM clock_timestamp())::float8 "
                "FROM bridge_post_pace WHERE channel = %s FOR UPDATE",
                (key,),
            )
            row = await cursor.fetchone()
            assert row is not None
            tat, now = float(row[0]), float(row[1])
            wait, taken = take_if_free(tat, now, interval, burst)
            if queue is not None:
                if taken is not None and await _waited_longer_elsewhere(db, key, queue, now):
                    wait, taken = interval, None
                since = queue.since if taken is None else queue.then
                await _record_queue(db, key, queue.replica, since, now)
            if taken is not None:
                await db.execute(
                    "UPDATE bridge_post_pace SET tat = %s WHERE channel = %s", (taken, key)
                )
            return wait

    async def outbox_summary(self) -> tuple[int, datetime | None]:
        row = await self._one(
            "SELECT COUNT(*), MIN(created_at) FROM bridge_outbox WHERE state = 'pending'"
        )
        assert row is not None
        return int(row[0]), row[1]

    async def acquire_leases(
        self, owner: str, session_ids: Sequence[str], ttl_s: float
    ) -> set[str]:
        if not session_ids:
            return set()
        rows = await self._all(
            """INSERT INTO bridge_session_leases AS l (session_id, owner, expires_at)
               SELECT id, %s, now() + make_interval(secs => %s) FROM unnest(%s::text[]) AS id
               ON CONFLICT (session_id) DO UPDATE
                 SET owner = excluded.owner, expires_at = excluded.expires_at
                 WHERE l.owner = excluded.owner OR l.expires_at < now()
               RETURNING session_id""",
            (owner, ttl_s, sorted(set(session_ids))),
        )
        return {str(r[0]) for r in rows}

    async def renew_leases(self, owner: str, session_ids: Sequence[str], ttl_s: float) -> set[str]:
        if not session_ids:
            return set()
        rows = await self._all(
            """UPDATE bridge_session_leases SET expires_at = now() + make_interval(secs => %s)
               WHERE owner = %s AND session_id = ANY(%s::text[])
               RETURNING session_id""",
            (ttl_s, owner, sorted(set(session_ids))),
        )
        return {str(r[0]) for r in rows}

    async def release_leases(self, owner: str, session_ids: Sequence[str]) -> None:
        if session_ids:
            await self._run(
                "DELETE FROM bridge_session_leases WHERE owner = %s AND session_id = ANY(%s)",
                (owner, list(session_ids)),
            )

    async def replica_seen(self, instance: str, forget_after_s: float) -> None:
        async with self._pool.connection() as db, db.transaction():
            await db.execute(
                """INSERT INTO bridge_replicas (instance, seen_at) VALUES (%s, now())
                   ON CONFLICT (instance) DO UPDATE SET seen_at = now()""",
                (instance,),
            )
            await db.execute(
                "DELETE FROM bridge_replicas WHERE seen_at < now() - make_interval(secs => %s)",
                (forget_after_s,),
            )

    async def replica_gone(self, instance: str) -> None:
        await self._run("DELETE FROM bridge_replicas WHERE instance = %s", (instance,))

    async def silent_replicas(
        self, instance: str, since: datetime, stale_s: float
    ) -> list[datetime]:
        rows = await self._all(
            """SELECT seen_at FROM bridge_replicas WHERE instance <> %s
               AND seen_at < LEAST(%s, now() - make_interval(secs => %s))""",
            (instance, since, stale_s),
        )
        return [row[0] for row in rows]


async def _waited_longer_elsewhere(
    db: AsyncConnection[Any], channel: str, queue: Queue, now: float
) -> bool:
    """Whether another replica, still asking, has a post for `channel` waiting since before
    this replica's most urgent one."""
    cursor = await db.execute(
        "SELECT 1 FROM bridge_post_queues WHERE channel = %s AND replica <> %s "
        "AND since < %s AND seen > %s LIMIT 1",
        (channel, queue.replica, queue.since, now - QUEUE_STALE_S),
    )
    return await cursor.fetchone() is not None


async def _record_queue(
    db: AsyncConnection[Any], channel: str, replica: str, since: float | None, now: float
) -> None:
    if since is None:
        await db.execute(
            "DELETE FROM bridge_post_queues WHERE channel = %s AND replica = %s",
            (channel, replica),
        )
        return
    await db.execute(
        """INSERT INTO bridge_post_queues (channel, replica, since, seen) VALUES (%s, %s, %s, %s)
           ON CONFLICT (channel, replica) DO UPDATE SET since = EXCLUDED.since,
               seen = EXCLUDED.seen""",
        (channel, replica, since, now),
    )
