"""A bridge replica's leases (slack_bridge/leases.py) on a real PostgreSQL store: renewed while
the replica lives, lost (and reported at once) when another replica took them or when the
database did not answer before they ran out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from slack_bridge.leases import Leases
from slack_bridge.store.postgres import PostgresBridgeStore
from tests.support.postgres import PostgresCluster


@pytest.fixture
async def stores(
    postgres_cluster: PostgresCluster, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[PostgresBridgeStore, PostgresBridgeStore]]:
    url = postgres_cluster.create_database(f"leases_{request.node.name[:40].lower()}")
    async with PostgresBridgeStore(url) as a, PostgresBridgeStore(url) as b:
        yield a, b


async def test_renewed_leases_stay_and_a_released_one_is_taken_at_once(
    stores: tuple[PostgresBridgeStore, PostgresBridgeStore],
) -> None:
    a, b = Leases(stores[0], "a", 1.5), Leases(stores[1], "b", 1.5)
    assert await a.acquire(["s1", "s2"]) == {"s1", "s2"}
    assert await b.acquire(["s1", "s2", "s3"]) == {"s3"}
    for _ in range(4):  # well past the lease time, renewed every half second
        await asyncio.sleep(0.5)
        await a.renew()
    assert a.held() == {"s1", "s2"}
    assert await b.acquire(["s1"]) == set()
    await a.release(["s1"])
    assert not a.holds("s1")
    assert await b.acquire(["s1"]) == {"s1"}


async def test_a_lease_taken_by_another_replica_is_reported_lost_on_renewal(
    stores: tuple[PostgresBridgeStore, PostgresBridgeStore],
) -> None:
    a, b = Leases(stores[0], "a", 1.0), Leases(stores[1], "b", 30)
    lost: list[str] = []
    a.on_lost(lost.append)
    assert await a.acquire(["s1", "s2"]) == {"s1", "s2"}
    await asyncio.sleep(1.2)  # a stalled: no renewal in time
    assert not a.holds("s1")  # its own clock already says so
    assert await b.acquire(["s1"]) == {"s1"}
    await a.renew()  # s2 was free to keep; s1 is b's now
    assert lost == ["s1"]
    assert a.held() == {"s2"} and b.held() == {"s1"}


async def test_leases_run_out_when_the_database_does_not_answer(
    stores: tuple[PostgresBridgeStore, PostgresBridgeStore],
) -> None:
    a = Leases(stores[0], "a", 1.0)
    lost: list[str] = []
    a.on_lost(lost.append)
    assert await a.acquire(["s1"]) == {"s1"}
    await stores[0].close()  # the database is gone for this replica
    await a.renew()
    assert lost == [] and a.holds("s1")  # still within its time
    await asyncio.sleep(1.1)
    await a.renew()
    assert lost == ["s1"] and not a.holds("s1")


class AnswersThenWaits:
    """The store, with its renewal held after the database answered: the instant a stop's
    cancel can land on."""

    def __init__(self, store: PostgresBridgeStore) -> None:
        self._store = store
        self.answered = asyncio.Event()
        self.release = asyncio.Event()

    async def acquire_leases(self, owner: str, ids: list[str], ttl_s: float) -> set[str]:
        return set(await self._store.acquire_leases(owner, ids, ttl_s))

    async def renew_leases(self, owner: str, ids: list[str], ttl_s: float) -> set[str]:
        kept = set(await self._store.renew_leases(owner, ids, ttl_s))
        self.answered.set()
        await self.release.wait()
        return kept


async def test_a_stop_that_lands_as_a_renewal_answers_stops_the_replica(
    stores: tuple[PostgresBridgeStore, PostgresBridgeStore],
) -> None:
    store = AnswersThenWaits(stores[0])
    leases = Leases(store, "a", 0.6)  # type: ignore[arg-type]
    assert await leases.acquire(["s1"]) == {"s1"}
    renewing = asyncio.create_task(leases.run())
    await store.answered.wait()
    store.release.set()
    await asyncio.sleep(0)  # one turn: the renewal's answer is in
    renewing.cancel()
    # asyncio.wait_for (Python 3.11) returned the answer here and the loop went on renewing:
    # a stopped replica kept its leases and nobody could take its sessions over.
    done, _ = await asyncio.wait({renewing}, timeout=3)
    assert renewing in done and renewing.cancelled()
