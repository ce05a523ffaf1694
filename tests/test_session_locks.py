"""The agent's session store locks per session (agent/store/session_locks.py): a write held up
in one session holds up nothing in another, and within one session writes stay one at a time.

Through the store `python -m agent` opens on SQLite (`open_session_stores`), with a real write of
session A held open from inside its writer lock, as a slow database round trip would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from parlant.core.agents import AgentId
from parlant.core.customers import CustomerId
from parlant.core.sessions import EventKind, EventSource, Session, SessionStore

from agent.store.session_locks import PerSessionLocking, _about
from agent.store.session_stores import open_session_stores

# Generous: what is checked is that B's calls do not wait for A at all (before, they waited
# until A's write finished, i.e. forever here).
NOT_BLOCKED_S = 10.0


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SessionStore]:
    async with open_session_stores("sqlite", tmp_path) as stores:
        assert isinstance(stores.sessions, PerSessionLocking)
        yield stores.sessions


async def new_session(store: SessionStore, n: int) -> Session:
    return await store.create_session(customer_id=CustomerId(f"c{n}"), agent_id=AgentId("a"))


async def test_a_write_held_in_one_session_does_not_hold_up_another(store: SessionStore) -> None:
    a, b = await new_session(store, 1), await new_session(store, 2)
    assert isinstance(store, PerSessionLocking)
    release = asyncio.Event()

    async def slow_write_in_a() -> None:
        async with _about(a.id), store._lock.writer_lock:
            await release.wait()

    holder = asyncio.create_task(slow_write_in_a())
    await asyncio.sleep(0)
    try:
        # Another session: read, written, its events listed, while A's write is open.
        await asyncio.wait_for(store.read_session(b.id), NOT_BLOCKED_S)
        event = await asyncio.wait_for(
            store.create_event(b.id, EventSource.CUSTOMER, EventKind.MESSAGE, "t", {"m": 1}),
            NOT_BLOCKED_S,
        )
        await asyncio.wait_for(store.set_metadata(b.id, "k", "v"), NOT_BLOCKED_S)
        assert [e.id for e in await store.list_events(b.id)] == [event.id]
        # A itself can still be read; its next write waits for the one open.
        await asyncio.wait_for(store.read_session(a.id), NOT_BLOCKED_S)
        write_a = asyncio.create_task(
            store.create_event(a.id, EventSource.CUSTOMER, EventKind.MESSAGE, "t", {"m": 2})
        )
        await asyncio.sleep(0.2)
        assert not write_a.done()
    finally:
        release.set()
        await holder
    assert (await write_a).offset == 0


async def test_writes_in_one_session_stay_one_at_a_time(store: SessionStore) -> None:
    """Offsets read-then-written and metadata merged by read-modify-write: at once in one
    session, every event gets its own offset and no metadata key is lost."""
    session = await new_session(store, 3)
    events = await asyncio.gather(
        *(
            store.create_event(session.id, EventSource.CUSTOMER, EventKind.MESSAGE, "t", {"n": n})
            for n in range(40)
        )
    )
    assert sorted(e.offset for e in events) == list(range(40))
    await asyncio.gather(*(store.set_metadata(session.id, f"k{n}", n) for n in range(30)))
    metadata = (await store.read_session(session.id)).metadata
    assert {f"k{n}" for n in range(30)} <= set(metadata)
