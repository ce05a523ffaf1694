"""Posts to a Slack channel paced within Slack's allowance, by one process and by every bridge
replica together (slack_kit/pacing.py, the stores' post_slot).

The allowance is the fake Slack's model of Slack's (tests/fakes/slack_rate_limits.py): the
schedule the pacer makes must never be refused by it, whatever the order and timing of the
requests, and two replicas on one database must share one channel's allowance, where each
pacing alone (as the bridge did before) gets 429s.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slack_bridge.store.postgres import QUEUE_STALE_S, PostgresBridgeStore
from slack_bridge.store.sqlite import SQLiteBridgeStore
from slack_kit.pacing import (
    FIRST,
    IN_TURN,
    LocalPacer,
    MethodBudget,
    Pacer,
    SharedPacer,
    deferred,
    next_slot,
)
from slack_kit.slack_api import SlackCaller, SlackUnavailable, client_session, web_client
from tests.fakes import FakeSlack, RateLimits
from tests.support.postgres import PostgresCluster

_databases = itertools.count()


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), min_size=1, max_size=40),
    burst=st.integers(min_value=1, max_value=3),
    interval=st.sampled_from([0.5, 1.0, 2.0]),
)
def test_the_schedule_is_never_refused_by_slacks_allowance(
    gaps: list[float], burst: int, interval: float
) -> None:
    """Requests at any moments; each post goes when next_slot says; Slack's bucket for the
    channel (burst as big as the pacer's, one post per interval) never refuses one."""
    clock = [0.0]
    slack = RateLimits(
        clock=lambda: clock[0],
        post_burst=burst,
        posts_per_second_per_channel=1 / interval,
        posts_per_minute_per_workspace=10_000,
    )
    tat: float | None = None
    asked = 0.0
    sends = []
    for gap in gaps:
        asked += gap
        send_at, tat = next_slot(tat, asked, interval, burst)
        assert send_at >= asked
        sends.append(send_at)
    for send_at in sorted(sends):
        clock[0] = send_at
        assert slack.retry_after("chat.postMessage", "C1") == 0, sends


def test_after_a_429_nothing_goes_before_retry_after_and_no_burst_follows() -> None:
    tat = deferred(None, now=100.0, seconds=5, burst=3, interval=1.0)
    first, tat = next_slot(tat, 100.0, 1.0, 3)
    second, tat = next_slot(tat, 100.0, 1.0, 3)
    assert (first, second) == (105.0, 106.0)


async def post_concurrently(
    fake: FakeSlack, channel: str, pacers: list[Pacer], posts_each: int
) -> int:
    """Each pacer posts `posts_each` messages at once through its own SlackCaller; returns how
    many posts Slack answered 429 (each then waited out and posted)."""

    async def nothing() -> None:
        return None

    async def poster(http: aiohttp.ClientSession, pacer: Pacer, n: int) -> None:
        caller = SlackCaller(web_client(fake.bot_token, fake.api_url, http), pacer=pacer)
        await asyncio.gather(
            *(
                caller.post_message(nothing, channel=channel, text=f"{n}-{k}")
                for k in range(posts_each)
            )
        )

    async with client_session() as http:
        await asyncio.gather(*(poster(http, pacer, n) for n, pacer in enumerate(pacers)))
    posted = {m.text for m in fake.messages(channel)}
    assert {f"{n}-{k}" for n in range(len(pacers)) for k in range(posts_each)} <= posted
    return sum(call.status == 429 for call in fake.calls("chat.postMessage"))


@pytest.fixture
def pace_database(postgres_cluster: PostgresCluster) -> str:
    return postgres_cluster.create_database(f"shared_pacing_{next(_databases)}")


async def test_two_replicas_share_one_channels_allowance(pace_database: str) -> None:
    async with (
        PostgresBridgeStore(pace_database) as a,
        PostgresBridgeStore(pace_database) as b,
        FakeSlack() as fake,
    ):
        channel = fake.add_channel("escalations")
        started = time.monotonic()
        shared: list[Pacer] = [SharedPacer(a, 1.0, 2), SharedPacer(b, 1.0, 2)]
        assert await post_concurrently(fake, channel, shared, posts_each=4) == 0
        # Eight posts, a burst of two then one a second: the replicas took turns.
        assert time.monotonic() - started >= 5.5


async def test_each_replica_pacing_alone_gets_429s() -> None:
    """Why the allowance is shared: two processes each at Slack's pace post twice as fast."""
    async with FakeSlack() as fake:
        channel = fake.add_channel("escalations")
        alone: list[Pacer] = [LocalPacer(1.0, 2), LocalPacer(1.0, 2)]
        assert await post_concurrently(fake, channel, alone, posts_each=4) > 0


async def test_a_single_bridges_sqlite_store_paces_in_memory(tmp_path: Path) -> None:
    store = SQLiteBridgeStore(tmp_path / "state.sqlite3")
    try:
        waits = [await store.post_slot("C1", 1.0, 2) for _ in range(4)]
        assert [round(w) for w in waits] == [0, 0, 1, 2]
        await store.defer_posts("C1", 10, 1.0, 2)
        assert 9.5 < await store.post_slot("C1", 1.0, 2) < 10.5
    finally:
        store.close()


async def test_a_methods_budget_is_shared_and_never_waits(pace_database: str) -> None:
    """Two replicas take from one method's budget (the ✅'s share of reactions.add): a burst,
    then nothing until it refills; a refused take takes nothing."""
    async with (
        PostgresBridgeStore(pace_database) as a,
        PostgresBridgeStore(pace_database) as b,
    ):
        budgets = [MethodBudget(a, "reactions.add", 60, 3), MethodBudget(b, "reactions.add", 60, 3)]
        taken = [await budgets[n % 2].try_take() for n in range(6)]
        assert taken == [True, True, True, False, False, False]
        await asyncio.sleep(1.1)  # one a second refills
        assert [await budgets[1].try_take(), await budgets[0].try_take()] == [True, False]


async def test_a_single_bridges_method_budget_in_memory(tmp_path: Path) -> None:
    store = SQLiteBridgeStore(tmp_path / "state.sqlite3")
    try:
        budget = MethodBudget(store, "reactions.add", 60, 2)
        assert [await budget.try_take() for _ in range(3)] == [True, True, False]
    finally:
        store.close()


async def test_calls_that_must_go_take_turns_and_skippable_ones_yield(pace_database: str) -> None:
    """chat.update across replicas: status changes (`turn`) share one pace; an SLA-only
    rewrite (`try_idle`) goes only while no status change waits."""
    async with (
        PostgresBridgeStore(pace_database) as a,
        PostgresBridgeStore(pace_database) as b,
    ):
        first, second = MethodBudget(a, "chat.update", 60, 2), MethodBudget(b, "chat.update", 60, 2)
        assert await first.try_idle()  # nothing waits: an SLA rewrite may go
        started = time.monotonic()
        await asyncio.gather(first.turn(), second.turn(), first.turn())
        assert time.monotonic() - started >= 1.5  # one a second across both, after the burst
        assert not await second.try_idle()  # a status change holds the next slot


async def test_the_most_urgent_waiting_post_takes_the_next_slot() -> None:
    """Four mirrors wait for a channel; a root asked for after them goes next, not fifth: slots are handed out as they come due, the most urgent waiter first."""
    pacer = LocalPacer(20.0, 1)
    order: list[str] = []

    async def post(name: str, priority: int) -> None:
        await pacer.turn("C1", priority)
        order.append(name)

    await post("mirror-0", IN_TURN)  # the channel's allowance is spent for this interval
    mirrors = [asyncio.create_task(post(f"mirror-{n}", IN_TURN)) for n in range(1, 5)]
    await asyncio.sleep(0)  # the four wait
    root = asyncio.create_task(post("root", FIRST))
    await asyncio.gather(*mirrors, root)
    assert order == ["mirror-0", "root", *(f"mirror-{n}" for n in range(1, 5))]


async def test_a_waiter_that_gives_up_leaves_its_slot_to_the_next() -> None:
    pacer = LocalPacer(20.0, 1)
    await pacer.turn("C1")
    gone = asyncio.create_task(pacer.turn("C1"))
    await asyncio.sleep(0)
    gone.cancel()
    started = time.monotonic()
    await asyncio.wait_for(pacer.turn("C1"), 2)
    assert time.monotonic() - started < 1.5  # one slot's wait, not the abandoned one's too


async def roots_among_saturating_replicas(database: str, count_roots: bool) -> int:
    """Two replicas post a channel's whole allowance while another process (the agent's
    handoff tool, pacing alone) posts two roots; the replicas count each root when they learn
    of it (`count_post`) or not. Returns the 429s Slack answered."""
    async with (
        PostgresBridgeStore(database) as a,
        PostgresBridgeStore(database) as b,
        FakeSlack() as fake,
        client_session() as http,
    ):
        channel = fake.add_channel("escalations")
        bridge = SlackCaller(
            web_client(fake.bot_token, fake.api_url, http), pacer=SharedPacer(a, 1.0, 2)
        )
        agent = SlackCaller(web_client(fake.bot_token, fake.api_url, http))

        async def nothing() -> None:
            return None

        async def roots() -> None:
            for n in range(2):
                await asyncio.sleep(2.5 if n == 0 else 2.0)
                ts = await agent.post_message(nothing, channel=channel, text=f"root {n}")
                if count_roots:
                    await bridge.count_post(channel, ts)

        mirrors = post_concurrently(
            fake, channel, [SharedPacer(a, 1.0, 2), SharedPacer(b, 1.0, 2)], posts_each=4
        )
        await asyncio.gather(mirrors, roots())
        return sum(call.status == 429 for call in fake.calls("chat.postMessage"))


async def test_roots_the_agent_posts_take_their_slot_in_the_replicas_allowance(
    pace_database: str,
) -> None:
    assert await roots_among_saturating_replicas(pace_database, count_roots=True) == 0


async def test_roots_the_replicas_do_not_count_meet_429s(pace_database: str) -> None:
    """Why they are counted: Slack's one spare post in the burst takes the first root; the
    second finds the channel full."""
    assert await roots_among_saturating_replicas(pace_database, count_roots=False) > 0


# Far longer than any test waits: a caller that slept on it would time the test out.
LONG_RETRY_AFTER_S = 600


async def test_a_post_that_may_not_wait_gives_up_at_the_first_429() -> None:
    """The agent's root post (rate_limit_waits=1): refused once, it is left to the bridges
    instead of retried into a channel whose allowance they spend, and at once: it did sleep the
    Retry-After first, in the handoff turn, under the session's handoff lock."""
    limits = RateLimits(post_burst=1, posts_per_second_per_channel=1 / LONG_RETRY_AFTER_S)
    async with FakeSlack(limits=limits) as fake, client_session() as http:
        channel = fake.add_channel("escalations")
        caller = SlackCaller(web_client(fake.bot_token, fake.api_url, http), rate_limit_waits=1)

        async def nothing() -> None:
            return None

        await caller.post_message(nothing, channel=channel, text="first")
        with pytest.raises(SlackUnavailable, match="rate limited"):
            await asyncio.wait_for(caller.post_message(nothing, channel=channel, text="second"), 30)
        assert [m.text for m in fake.messages(channel)] == ["first"]
        assert sum(call.status == 429 for call in fake.calls("chat.postMessage")) == 1


async def test_a_call_of_one_attempt_is_made_once_and_never_waits_out_a_429() -> None:
    """Reactions (slack_bridge/feedback.py) are made once: they are made while a reply's
    delivery holds its session's turn, where waiting out a 429 held the session's next replies."""
    async with FakeSlack() as fake, client_session() as http:
        channel = fake.add_channel("escalations")
        caller = SlackCaller(web_client(fake.bot_token, fake.api_url, http))
        fake.rate_limit("reactions.remove", times=None, retry_after=LONG_RETRY_AFTER_S)
        with pytest.raises(SlackUnavailable, match="rate limited"):
            await asyncio.wait_for(
                caller.call(
                    "reactions.remove", attempts=1, channel=channel, timestamp="1.000001", name="x"
                ),
                30,
            )
        assert [c.status for c in fake.calls("reactions.remove")] == [429]


async def test_replicas_hand_a_channels_slots_to_the_post_that_has_waited_longest(
    pace_database: str,
) -> None:
    """Two replicas' posts wait for one channel: each slot goes to the oldest across both, so
    every thread goes round at the channel's pace. Taken by whichever replica asks first, a
    replica with more threads waiting would go round at half the pace whatever its share."""
    async with (
        PostgresBridgeStore(pace_database) as a,
        PostgresBridgeStore(pace_database) as b,
    ):
        replicas = {"a": SharedPacer(a, 4.0, 1), "b": SharedPacer(b, 4.0, 1)}
        await replicas["a"].turn("C1")  # the slot is spent: everything below waits
        order: list[str] = []

        async def post(name: str) -> None:
            await replicas[name[0]].turn("C1")
            order.append(name)

        names = ["b1", "a1", "a2", "a3", "a4", "b2", "a5", "b3"]
        tasks = []
        for name in names:
            tasks.append(asyncio.create_task(post(name)))
            await asyncio.sleep(0.01)  # each begins waiting after the one before
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert order == names


async def test_a_replica_that_stops_asking_holds_no_slot(pace_database: str) -> None:
    """A replica whose oldest post gave up (or which died) stops counting once its queue is
    stale (`QUEUE_STALE_S`): the other replica's posts go."""
    async with (
        PostgresBridgeStore(pace_database) as a,
        PostgresBridgeStore(pace_database) as b,
    ):
        first, second = SharedPacer(a, 4.0, 1), SharedPacer(b, 4.0, 1)
        await first.turn("C1")
        gone = asyncio.create_task(first.turn("C1"))
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(second.turn("C1"))
        await asyncio.sleep(0.5)  # the first replica's queue is recorded, older than this one
        gone.cancel()
        started = time.monotonic()
        await asyncio.wait_for(waiting, QUEUE_STALE_S + 2)
        assert time.monotonic() - started < QUEUE_STALE_S + 1
