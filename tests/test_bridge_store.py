"""The BridgeStore contract, run against both adapters: the SQLite file and PostgreSQL.

The PostgreSQL half runs on a real throwaway cluster (tests/support/postgres.py), each test in
a fresh database. The races at the end put two store objects on one database, as two bridge
replicas would be: one first sighting per key, no reply delivered by both, cursors that never
move back, and one lease holder per session.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slack_bridge.store import BridgeStore
from slack_bridge.store.postgres import PostgresBridgeStore
from slack_bridge.store.sqlite import SQLiteBridgeStore
from slack_bridge.store.sqlite_checkpoints import WAL_BYTES
from tests.support.postgres import PostgresCluster
from tests.support.waits import eventually

_databases = itertools.count()

OpenStore = Callable[[], Awaitable[BridgeStore]]


@pytest.fixture
def postgres_database(postgres_cluster: PostgresCluster) -> str:
    return postgres_cluster.create_database(f"bridge_store_{next(_databases)}")


@pytest.fixture(params=["sqlite", "postgres"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Opens store objects on one database (the same file, or the same PostgreSQL database)."""
    opened: list[BridgeStore] = []
    if request.param == "sqlite":

        async def open_sqlite() -> BridgeStore:
            store = SQLiteBridgeStore(tmp_path / "state.sqlite3")
            opened.append(store)
            return store

        yield open_sqlite
        for store in opened:
            assert isinstance(store, SQLiteBridgeStore)
            store.close()
        return
    url = request.getfixturevalue("postgres_database")

    async def open_postgres() -> BridgeStore:
        store = await PostgresBridgeStore(url).__aenter__()
        opened.append(store)
        return store

    yield open_postgres
    for store in opened:
        assert isinstance(store, PostgresBridgeStore)
        await store.close()


@pytest.fixture
async def store(open_store: OpenStore) -> BridgeStore:
    return await open_store()


async def enqueue(
    store: BridgeStore, session: str, ts: str, text: str = "hi", channel: str = "C1"
) -> int:
    reply = await store.enqueue_reply(
        session, channel, ts, "100.000001", "U1", "Dana", "human", text
    )
    return reply.id


async def test_a_dedupe_key_is_first_seen_once(store: BridgeStore) -> None:
    assert await store.first_sighting("msg:C1:1.1", "event:Ev1")
    assert not await store.first_sighting("msg:C1:1.1", "event:Ev1")
    # Slack redelivers under a new event id: the message key still marks it seen ...
    assert not await store.first_sighting("msg:C1:1.1", "event:Ev2")
    # ... and nothing of that refused set was recorded.
    assert await store.first_sighting("event:Ev2")


async def test_the_outbox_keeps_one_row_per_slack_message_in_slack_order(
    store: BridgeStore,
) -> None:
    later = await enqueue(store, "s1", "1700000000.000900", "second")
    # Slack's ts compares as a number: 10.5 comes after 9.9 whatever the text says.
    earlier = await enqueue(store, "s1", "1700000000.000100", "first")
    again = await store.enqueue_reply(
        "s1", "C1", "1700000000.000900", "100.000001", "U1", "Dana", "human", "second"
    )
    assert again.id == later
    await enqueue(store, "s2", "1700000000.000500")
    pending = await store.pending_replies("s1")
    assert [r.text for r in pending] == ["first", "second"]
    assert [r.id for r in pending] == [earlier, later]
    assert pending[0].accepted_at.tzinfo is not None
    assert abs(datetime.now(UTC) - pending[0].accepted_at) < timedelta(minutes=1)
    assert {r.session_id for r in await store.pending_replies()} == {"s1", "s2"}
    count, oldest = await store.outbox_summary()
    assert count == 3 and oldest is not None

    await store.reply_sending(earlier)
    await store.reply_attempted(earlier, "parlant down")
    await store.reply_pending_notified(earlier)
    [first, _] = await store.pending_replies("s1")
    assert first.attempts == 1 and first.pending_notified

    assert not await store.delivered_after("s1", "1700000000.000100")
    await store.reply_finished(later, "delivered", "ev-2")
    assert await store.delivered_after("s1", "1700000000.000100")
    assert not await store.delivered_after("s1", "1700000000.000900")
    assert [r.id for r in await store.pending_replies("s1")] == [earlier]
    await store.reply_finished(earlier, "rejected")
    assert await store.pending_replies("s1") == []
    assert (await store.outbox_summary())[0] == 1


async def test_a_held_reply_waits_and_is_released_once(store: BridgeStore) -> None:
    """An `ai:` reply the agent held leaves the queue; released (sent anyway: with its rule as
    the override; edited: with the new text and no override) it is back, once."""
    held = await enqueue(store, "s1", "1700000000.000100", "promise")
    edited = await enqueue(store, "s1", "1700000000.000200", "a phone number")
    await store.reply_held(held, "guaranteed_approval")
    await store.reply_held(edited, "phone_number")
    assert await store.pending_replies("s1") == []
    shown = await store.held_reply(held)
    assert shown is not None and shown.held_rule == "guaranteed_approval"

    anyway = await store.release_held(held, send_anyway=True)
    assert anyway is not None and anyway.override == "guaranteed_approval"
    assert await store.release_held(held, send_anyway=True) is None  # a second click
    assert await store.held_reply(held) is None
    changed = await store.release_held(edited, text="our number")
    assert changed is not None and (changed.text, changed.override) == ("our number", "")
    pending = await store.pending_replies("s1")
    assert [(r.text, r.override) for r in pending] == [
        ("promise", "guaranteed_approval"),
        ("our number", ""),
    ]


async def test_racing_replicas_release_a_held_reply_once(
    replicas: tuple[BridgeStore, BridgeStore],
) -> None:
    a, b = replicas
    reply = await enqueue(a, "s1", "1700000000.000100", "promise")
    await a.reply_held(reply, "guaranteed_approval")
    released = await asyncio.gather(*(s.release_held(reply, send_anyway=True) for s in (a, b)))
    assert sum(r is not None for r in released) == 1


async def test_a_cursor_never_moves_back(store: BridgeStore) -> None:
    assert await store.cursor("s1") is None
    await store.advance_cursor("s1", 5)
    await store.advance_cursor("s1", 3)
    assert await store.cursor("s1") == 5
    await store.advance_cursor("s1", 9)
    assert await store.cursor("s1") == 9


async def test_the_feed_cursor_is_stored_and_survives_a_reopen(open_store: OpenStore) -> None:
    store = await open_store()
    assert await store.feed_cursor("replica-1") is None
    await store.set_feed_cursor("replica-1", 40)
    await store.set_feed_cursor("replica-1", 75)
    assert await store.feed_cursor("replica-1") == 75
    # It may move back: the agent's data was reset below it.
    await store.set_feed_cursor("replica-1", 3)
    reopened = await open_store()
    assert await reopened.feed_cursor("replica-1") == 3


async def test_mirrored_posts_threads_roots_and_notices_are_remembered(
    store: BridgeStore,
) -> None:
    assert await store.mirror_status("s1", "ev1", 0) is None
    await store.mirror_attempting("s1", "ev1", 0)
    await store.mirror_attempting("s1", "ev1", 0)
    assert await store.mirror_status("s1", "ev1", 0) == ""
    await store.mirror_posted("s1", "ev1", 0, "200.1")
    assert await store.mirror_status("s1", "ev1", 0) == "200.1"
    assert await store.mirror_status("s1", "ev1", 1) is None

    await store.link_thread("s1", "C1", "100.1")
    await store.link_thread("s1", "C1", "999.9")  # the first link stays
    link = await store.thread_for_session("s1")
    assert link is not None and (link.channel, link.ts) == ("C1", "100.1")
    found = await store.session_for_thread("C1", "100.1")
    assert found is not None and found.session_id == "s1"
    assert await store.session_for_thread("C1", "999.9") is None
    assert await store.root_rendering("s1") is None
    await store.set_root_rendering("s1", "fp-1")
    assert await store.root_rendering("s1") == "fp-1"

    assert await store.sla_notice_status("s1", "breach") is None
    await store.sla_notice_attempting("s1", "breach")
    assert await store.sla_notice_status("s1", "breach") == ""
    await store.sla_notice_posted("s1", "breach", "300.1")
    assert await store.sla_notice_status("s1", "breach") == "300.1"


async def test_leases_are_taken_renewed_and_released(store: BridgeStore) -> None:
    assert await store.acquire_leases("a", ["s1", "s2"], 30) == {"s1", "s2"}
    assert await store.acquire_leases("a", ["s1"], 30) == {"s1"}  # its own: kept
    assert await store.renew_leases("a", ["s1", "s2", "s3"], 30) == {"s1", "s2"}
    await store.release_leases("a", ["s2"])
    assert await store.renew_leases("a", ["s1", "s2"], 30) == {"s1"}
    assert await store.acquire_leases("a", [], 30) == set()


async def test_the_outbox_turn_is_given(store: BridgeStore) -> None:
    await enqueue(store, "s1", "1.1")
    async with store.outbox_turn("s1") as mine:
        assert mine


# --- Two store objects on one PostgreSQL database, as two bridge replicas -------------------


@pytest.fixture
async def replicas(postgres_database: str) -> AsyncIterator[tuple[BridgeStore, BridgeStore]]:
    async with (
        PostgresBridgeStore(postgres_database) as a,
        PostgresBridgeStore(postgres_database) as b,
    ):
        yield a, b


async def test_racing_replicas_see_each_message_first_exactly_once(
    replicas: tuple[BridgeStore, BridgeStore],
) -> None:
    a, b = replicas
    keys = [(f"msg:C1:{i}.0", f"event:Ev{i}") for i in range(60)]
    firsts = await asyncio.gather(*(store.first_sighting(*k) for k in keys for store in (a, b)))
    per_key = [firsts[i] + firsts[i + 1] for i in range(0, len(firsts), 2)]
    assert per_key == [1] * len(keys)


async def test_racing_replicas_never_both_deliver_a_reply_and_keep_slack_order(
    replicas: tuple[BridgeStore, BridgeStore],
) -> None:
    a, b = replicas
    sessions = ["s1", "s2", "s3"]
    expected: dict[str, list[str]] = {s: [] for s in sessions}
    for n in range(12):
        for s in sessions:
            ts = f"1700000000.{n:06d}"
            await enqueue(random.choice((a, b)), s, ts, f"{s}-{n}", channel=f"C-{s}")
            expected[s].append(f"{s}-{n}")
    delivered: list[tuple[str, str, str]] = []  # (replica, session, text)
    turns_refused = 0

    async def deliver_round(name: str, store: BridgeStore, session: str) -> None:
        nonlocal turns_refused
        async with store.outbox_turn(session) as mine:
            if not mine:
                turns_refused += 1
                return
            for reply in await store.pending_replies(session):
                await asyncio.sleep(0.002)  # the Parlant call: other replicas run meanwhile
                delivered.append((name, session, reply.text))
                await store.reply_finished(reply.id, "delivered", f"ev-{reply.id}")
                if random.random() < 0.3:
                    return  # stopped part-way (Parlant unreachable): the rest waits

    for _ in range(40):
        await asyncio.gather(
            *(deliver_round(n, st, s) for s in sessions for n, st in (("a", a), ("b", b)))
        )
        if not await a.pending_replies():
            break
    assert await a.pending_replies() == []
    for s in sessions:
        assert [text for _, sid, text in delivered if sid == s] == expected[s]
    assert turns_refused > 0  # the replicas did contend for the same sessions
    assert {name for name, _, _ in delivered} == {"a", "b"}


async def test_racing_cursor_writes_never_move_a_cursor_back(
    replicas: tuple[BridgeStore, BridgeStore],
) -> None:
    a, b = replicas
    offsets = list(range(1, 201))
    random.shuffle(offsets)
    await asyncio.gather(
        *(random.choice((a, b)).advance_cursor("s1", offset) for offset in offsets)
    )
    assert await a.cursor("s1") == 200
    await b.advance_cursor("s1", 150)
    assert await a.cursor("s1") == 200


async def test_one_replica_holds_a_lease_until_it_expires_or_is_released(
    replicas: tuple[BridgeStore, BridgeStore],
) -> None:
    a, b = replicas
    results = await asyncio.gather(
        a.acquire_leases("replica-a", ["s1", "s2"], 1.0),
        b.acquire_leases("replica-b", ["s1", "s2"], 1.0),
    )
    assert sorted(len(r) for r in results) == [0, 2]  # one statement: all or nothing here
    winner, loser = ("replica-a", "replica-b") if results[0] else ("replica-b", "replica-a")
    assert await b.acquire_leases(loser, ["s1", "s2", "s3"], 1.0) == {"s3"}
    assert await a.renew_leases(winner, ["s1", "s2"], 1.0) == {"s1", "s2"}
    await asyncio.sleep(1.3)  # the winner stopped renewing: its leases expire
    assert await b.acquire_leases(loser, ["s1"], 30) == {"s1"}
    # The old holder learns on its next renewal that s1 is gone; s2 it may still renew.
    assert await a.renew_leases(winner, ["s1", "s2"], 30) == {"s2"}
    await a.release_leases(winner, ["s2"])
    assert await b.acquire_leases(loser, ["s2"], 30) == {"s2"}


async def test_each_replica_has_its_own_feed_cursor(
    replicas: tuple[BridgeStore, BridgeStore],
) -> None:
    a, b = replicas
    await a.set_feed_cursor("replica-a", 10)
    await b.set_feed_cursor("replica-b", 99)
    assert await b.feed_cursor("replica-a") == 10
    assert await a.feed_cursor("replica-b") == 99
    assert await a.feed_cursor("replica-c") is None


async def test_one_bridge_on_a_sqlite_file_resumes_its_feed_cursor_under_a_new_replica_id(
    tmp_path: Path,
) -> None:
    # The default replica id is new on every start; one process uses the file, so it resumes.
    first = SQLiteBridgeStore(tmp_path / "state.sqlite3")
    await first.set_feed_cursor("host-1-aaaa", 321)
    first.close()
    second = SQLiteBridgeStore(tmp_path / "state.sqlite3")
    assert await second.feed_cursor("host-2-bbbb") == 321
    second.close()


async def test_sqlite_commits_never_checkpoint_a_thread_of_their_own_does(tmp_path: Path) -> None:
    """A commit from the event loop only appends to the WAL; the pages reach the database file
    from the background thread (a checkpoint inside a commit held the loop ~100 ms)."""
    path = tmp_path / "state.sqlite3"
    store = SQLiteBridgeStore(path)
    try:
        assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
        before = path.stat().st_size
        # Well past the 1,000 pages at which a commit would checkpoint by itself.
        for n in range(600):
            assert await store.first_sighting(f"msg:C1:{n}:" + "x" * 3000)
        eventually(lambda: path.stat().st_size > before + 1_000_000, what="a checkpoint")
        # The next commit starts the WAL over and cuts it back: its size says what waits to
        # be copied, so an idle store is not checkpointed again every second.
        wal = path.with_name(path.name + "-wal")
        written = 600
        while written < 650 and wal.stat().st_size >= WAL_BYTES:
            assert await store.first_sighting(f"msg:C1:{written}")
            written += 1
            await asyncio.sleep(0.1)
        assert wal.stat().st_size < WAL_BYTES
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM inbound_seen").fetchone() == (written,)


OUTBOX_BEFORE_HELD_REPLIES = """CREATE TABLE outbox (
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
    UNIQUE (channel, ts)
)"""


async def test_a_state_file_from_before_held_replies_keeps_its_queue(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute(OUTBOX_BEFORE_HELD_REPLIES)
        old.execute(
            "INSERT INTO outbox (session_id, channel, ts, thread_ts, user_id, user_name, kind,"
            " text, created_at) VALUES ('s1', 'C1', '1.000100', '1.0', 'U1', 'Dana', 'ai',"
            " 'queued before the upgrade', ?)",
            (datetime.now(UTC).isoformat(),),
        )
    store = SQLiteBridgeStore(path)
    try:
        [reply] = await store.pending_replies("s1")
        assert (reply.text, reply.held_rule, reply.override) == (
            "queued before the upgrade",
            "",
            "",
        )
        await store.reply_held(reply.id, "phone_number")
        assert await store.release_held(reply.id, send_anyway=True) is not None
    finally:
        store.close()


async def test_a_replica_that_stops_writing_its_heartbeat_is_silent_to_the_others(
    replicas: tuple[BridgeStore, BridgeStore],
) -> None:
    a, b = replicas
    await a.replica_seen("bridge-a/1", 60)
    await b.replica_seen("bridge-b/1", 60)
    now = datetime.now(UTC)
    # Both seen just now: neither is silent for a reply taken in a moment ago.
    assert await a.silent_replicas("bridge-a/1", now - timedelta(seconds=5), 0.5) == []
    await asyncio.sleep(0.6)  # b stops writing (dies); a keeps writing
    await a.replica_seen("bridge-a/1", 60)
    silent = await a.silent_replicas("bridge-a/1", datetime.now(UTC), 0.5)
    assert len(silent) == 1 and silent[0] < datetime.now(UTC) - timedelta(seconds=0.5)
    # Never silent to itself, and a replica that stops cleanly is gone at once.
    assert await b.silent_replicas("bridge-b/1", datetime.now(UTC), 0.5) == []
    await b.replica_gone("bridge-b/1")
    assert await a.silent_replicas("bridge-a/1", datetime.now(UTC), 0.5) == []
    # A dead replica's row is forgotten after the time given.
    await b.replica_seen("bridge-b/2", 60)
    await asyncio.sleep(0.3)
    await a.replica_seen("bridge-a/1", 0.2)
    assert await a.silent_replicas("bridge-a/1", datetime.now(UTC), 0) == []


async def test_one_bridge_on_its_state_file_has_no_silent_replicas(tmp_path: Path) -> None:
    store = SQLiteBridgeStore(tmp_path / "state.sqlite3")
    try:
        await store.replica_seen("only/1", 60)
        assert await store.silent_replicas("other/1", datetime.now(UTC) + timedelta(1), 0) == []
    finally:
        store.close()
