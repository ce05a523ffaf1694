"""What the bridge benchmarks measure, through the fake Slack and Parlant's API: root messages
and mirrored posts as the fake received them, operator replies relayed, customer messages
written. Shared by bench_bridge.py (one agent, one bridge) and bench_replicas.py (replicas)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from parlant.client import AsyncParlantClient
from parlant.client.types import Participant

from slack_kit.metadata import mirrored_parts
from tests.fakes import FakeSlackThread, event_callback, signed_headers
from tests.support.slack_world import SIGNING_SECRET


def roots_posted(slack: FakeSlackThread, channel: str) -> dict[str, list[str]]:
    """session id -> the ts of every root message posted for it, from the fake's channel."""
    found: dict[str, list[str]] = {}
    for message in slack.call(slack.fake.messages, channel):
        payload = (message.metadata or {}).get("event_payload") or {}
        if message.thread_ts is None and payload.get("session_id"):
            found.setdefault(payload["session_id"], []).append(message.ts)
    return found


def roots(slack: FakeSlackThread, channel: str) -> dict[str, str]:
    """session id -> its first root message's ts."""
    return {session: posted[0] for session, posted in roots_posted(slack, channel).items()}


def post_times(slack: FakeSlackThread) -> dict[str, list[float]]:
    """Parlant event id -> when the fake received each accepted mirrored post of it."""
    times: dict[str, list[float]] = {}
    for call in slack.call(slack.fake.calls, "chat.postMessage"):
        metadata = call.params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if call.status != 200:
            continue
        # One event per post, or several coalesced in one (their first parts).
        for event_id, part in mirrored_parts({"metadata": metadata}):
            if part == 0:
                times.setdefault(event_id, []).append(call.time)
    return times


async def relay_latency(
    slack: FakeSlackThread,
    channel: str,
    operator: str,
    parlant_url: str,
    events_url: str,
    session_id: str,
    root_ts: str,
    samples: int,
    with_direct: bool = False,
) -> tuple[list[float], list[float]]:
    """Milliseconds from a signed operator reply POSTed to `events_url` to the event stored in
    Parlant (its creation_utc), one reply at a time; with `with_direct`, each sample is
    followed by a `create_event` of the same kind straight to Parlant, timed by the caller."""
    client = AsyncParlantClient(base_url=parlant_url)
    relayed: list[float] = []
    direct: list[float] = []
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(samples):
            existing = await client.sessions.list_events(session_id, wait_for_data=0)
            last = existing[-1].offset if existing else -1
            event = slack.call(
                slack.fake.add_user_message, channel, operator, f"relay {i}", thread_ts=root_ts
            )
            raw = json.dumps(event_callback(event, event_id=f"EvBench{i}{time.time_ns()}")).encode()
            waiter = asyncio.create_task(
                client.sessions.list_events(
                    session_id, min_offset=last + 1, source="human_agent", wait_for_data=20
                )
            )
            started = time.time()
            answer = await http.post(
                events_url, content=raw, headers=signed_headers(SIGNING_SECRET, raw)
            )
            answer.raise_for_status()
            # Parlant stamps creation_utc when it stores the event: that is the end of the relay.
            stored = (await waiter)[0].creation_utc.timestamp()
            relayed.append((stored - started) * 1000)
            if with_direct:
                began = time.perf_counter()
                await client.sessions.create_event(
                    session_id,
                    kind="message",
                    source="human_agent",
                    message=f"direct {i}",
                    participant=Participant(id="bench", display_name="Bench"),
                )
                direct.append((time.perf_counter() - began) * 1000)
    return relayed, direct


async def write_customer_messages(
    parlant_url: str, sessions: list[str], samples: int
) -> dict[str, float]:
    """`samples` customer messages spread over `sessions`, 20 ms apart: Parlant event id ->
    when Parlant stored it."""
    client = AsyncParlantClient(base_url=parlant_url)
    stored_at: dict[str, float] = {}
    for i in range(samples):
        event = await client.sessions.create_event(
            sessions[i % len(sessions)], kind="message", source="customer", message=f"mirror {i}"
        )
        stored_at[event.id] = event.creation_utc.timestamp()
        await asyncio.sleep(0.02)
    return stored_at
