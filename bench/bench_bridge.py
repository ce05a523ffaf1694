"""Bridge benchmarks: relay and mirror latency, idle cost, and pacing into one channel.

Runs the real agent (offline NLP) and the real bridge (HTTP mode) as processes against the
project's fake Slack, all on 127.0.0.1, and prints one table per figure. Targets are read off
the table, not asserted.

    .venv/bin/python bench/bench_bridge.py [--sessions 1,100,1000] [--samples 200] [--skip-pacing]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PARLANT_HOME", tempfile.mkdtemp(prefix="bench-import-"))

import httpx
from parlant.client import AsyncParlantClient
from parlant.client.types import SessionLabelsUpdateParams, SessionMetadataUpdateParams

from handoff.record import METADATA_KEY, request_handoff, utc_now_iso
from tests.fakes import FakeSlack, FakeSlackThread, event_callback, signed_headers
from tests.support.agent_process import AgentProcess
from tests.support.bridge_process import BridgeProcess
from tests.support.slack_world import SIGNING_SECRET

AGENT_ID = "insurance-support-agent"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


class Setup:
    def __init__(self, root: Path, posts_per_second: float) -> None:
        self.slack: FakeSlackThread = FakeSlack().run_in_thread()
        self.channel = self.slack.call(self.slack.fake.add_channel, "escalations")
        self.operator = self.slack.call(self.slack.fake.add_user, "dana", display_name="Dana")
        env = {
            "SLACK_BOT_TOKEN": self.slack.fake.bot_token,
            "SLACK_ESCALATION_CHANNEL": self.channel,
            "SLACK_API_URL": self.slack.api_url,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_POSTS_PER_SECOND": str(posts_per_second),
        }
        self.agent = AgentProcess(home=root / "parlant", extra_env=env).start()

        def ready() -> bool:
            try:
                return (
                    httpx.get(f"http://127.0.0.1:{self.bridge.port}/healthz", timeout=1).status_code
                    == 200
                )
            except httpx.HTTPError:
                return False

        self.bridge = BridgeProcess(
            workdir=root / "bridge",
            env_overrides={**env, "PARLANT_URL": self.agent.url},
            ready=ready,
        )
        self.bridge.start()

    def close(self) -> None:
        self.bridge.stop()
        self.agent.stop()
        self.slack.stop()

    def roots(self) -> dict[str, str]:
        """session id -> root ts, from the fake's channel."""
        found = {}
        for message in self.slack.call(self.slack.fake.messages, self.channel):
            payload = (message.metadata or {}).get("event_payload") or {}
            if message.thread_ts is None and payload.get("session_id"):
                found[payload["session_id"]] = message.ts
        return found

    def post_times(self) -> dict[str, float]:
        """Parlant event id -> when the fake received its mirrored post."""
        times = {}
        for call in self.slack.call(self.slack.fake.calls, "chat.postMessage"):
            metadata = call.params.get("metadata")
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            payload = (metadata or {}).get("event_payload") or {}
            if payload.get("event_id") and call.status == 200:
                times.setdefault(payload["event_id"], call.time)
        return times


async def escalate(parlant_url: str, count: int) -> list[str]:
    """Sessions handed off as the handoff tool leaves them (manual, labelled, record pending)."""
    client = AsyncParlantClient(base_url=parlant_url)
    semaphore = asyncio.Semaphore(32)

    async def one() -> str:
        async with semaphore:
            session = await client.sessions.create(agent_id=AGENT_ID, customer_id="guest")
            record = request_handoff(None, "benchmark", utc_now_iso(), "pending")
            await client.sessions.update(
                session.id,
                mode="manual",
                labels=SessionLabelsUpdateParams(upsert=["handoff"]),
                metadata=SessionMetadataUpdateParams(set_={METADATA_KEY: dict(record)}),
            )
            return session.id

    return list(await asyncio.gather(*(one() for _ in range(count))))


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.2)


def rss_and_cpu(pid: int, seconds: float) -> tuple[float, float]:
    def cpu_ticks() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    start_ticks, start = cpu_ticks(), time.monotonic()
    time.sleep(seconds)
    used = (cpu_ticks() - start_ticks) / os.sysconf("SC_CLK_TCK")
    rss_kb = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS")
    )
    return rss_kb / 1024, 100 * used / (time.monotonic() - start)


async def relay_latency(
    setup: Setup, session_id: str, root_ts: str, samples: int
) -> tuple[list[float], list[float]]:
    client = AsyncParlantClient(base_url=setup.agent.url)
    relayed: list[float] = []
    direct: list[float] = []
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(samples):
            existing = await client.sessions.list_events(session_id, wait_for_data=0)
            last = existing[-1].offset if existing else -1
            event = setup.slack.call(
                setup.slack.fake.add_user_message,
                setup.channel,
                setup.operator,
                f"relay {i}",
                thread_ts=root_ts,
            )
            raw = json.dumps(event_callback(event, event_id=f"EvBench{i}{time.time_ns()}")).encode()
            waiter = asyncio.create_task(
                client.sessions.list_events(
                    session_id, min_offset=last + 1, source="human_agent", wait_for_data=20
                )
            )
            headers = signed_headers(SIGNING_SECRET, raw)
            started = time.time()
            await http.post(
                f"http://127.0.0.1:{setup.bridge.port}/slack/events", content=raw, headers=headers
            )
            # Parlant stamps creation_utc when it stores the event: that is the end of the relay.
            stored = (await waiter)[0].creation_utc.timestamp()
            relayed.append((stored - started) * 1000)

            started = time.perf_counter()
            await client.sessions.create_event(
                session_id,
                kind="message",
                source="human_agent",
                message=f"direct {i}",
                participant={"id": "bench", "display_name": "Bench"},
            )
            direct.append((time.perf_counter() - started) * 1000)
    return relayed, direct


async def mirror_latency(setup: Setup, sessions: list[str], samples: int) -> list[float]:
    client = AsyncParlantClient(base_url=setup.agent.url)
    stored_at: dict[str, float] = {}
    for i in range(samples):
        session_id = sessions[i % len(sessions)]
        event = await client.sessions.create_event(
            session_id, kind="message", source="customer", message=f"mirror {i}"
        )
        stored_at[event.id] = event.creation_utc.timestamp()
        await asyncio.sleep(0.02)
    wait_until(lambda: set(stored_at) <= set(setup.post_times()), 120, "every mirrored post")
    posted = setup.post_times()
    return [max(0.0, (posted[e] - t) * 1000) for e, t in stored_at.items()]


def run_latency(sizes: list[int], samples: int) -> None:
    relay_rows, mirror_rows, idle_rows = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp:
        setup = Setup(Path(tmp), posts_per_second=0)  # unpaced: the fake has no rate limits here
        try:
            escalated: list[str] = []
            for size in sizes:
                started = time.monotonic()
                escalated += asyncio.run(escalate(setup.agent.url, size - len(escalated)))
                wait_until(
                    lambda size=size: len(setup.roots()) >= size, 600, f"{size} root messages"
                )
                time.sleep(3)  # followers start on the next discovery round
                print(f"escalated {size} sessions in {time.monotonic() - started:.1f}s", flush=True)
                if size == sizes[0]:
                    roots = setup.roots()
                    relayed, direct = asyncio.run(
                        relay_latency(setup, escalated[0], roots[escalated[0]], samples)
                    )
                    relay_rows.append(
                        [
                            "operator reply via bridge",
                            f"{statistics.median(relayed):.1f}",
                            f"{percentile(relayed, 99):.1f}",
                        ]
                    )
                    relay_rows.append(
                        [
                            "direct create_event",
                            f"{statistics.median(direct):.1f}",
                            f"{percentile(direct, 99):.1f}",
                        ]
                    )
                    target = 1.5 * percentile(direct, 99) + 10
                    relay_rows.append(["target p99 (1.5x direct + 10)", "", f"{target:.1f}"])
                latencies = asyncio.run(mirror_latency(setup, escalated, samples))
                mirror_rows.append(
                    [
                        str(size),
                        f"{statistics.median(latencies):.1f}",
                        f"{percentile(latencies, 99):.1f}",
                    ]
                )
                if size == sizes[-1]:
                    assert setup.bridge.process is not None
                    rss, cpu = rss_and_cpu(setup.bridge.process.pid, 30)
                    idle_rows.append([str(size), f"{rss:.0f}", f"{cpu:.2f}"])
        finally:
            setup.close()
    table(
        "1. Operator reply relay (ms): signed event reaching the bridge → event stored in Parlant",
        ["path", "p50", "p99"],
        relay_rows,
    )
    table(
        "2. Mirror latency (ms): customer message stored → fake Slack receives the post (no rate limits)",
        ["escalated sessions", "p50", "p99"],
        mirror_rows,
    )
    table(
        "3. Bridge following idle escalated sessions (30 s window)",
        ["sessions", "RSS MB", "CPU % of one core"],
        idle_rows,
    )


def run_pacing(threads: int = 20, messages: int = 100) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pacing-") as tmp:
        setup = Setup(Path(tmp), posts_per_second=1)
        try:
            sessions = asyncio.run(escalate(setup.agent.url, threads))
            wait_until(lambda: len(setup.roots()) >= threads, 120, "root messages")
            time.sleep(5)  # root posts drain their own budget first
            started = time.time()

            async def burst() -> dict[str, float]:
                client = AsyncParlantClient(base_url=setup.agent.url)
                stored = {}
                for i in range(messages):
                    event = await client.sessions.create_event(
                        sessions[i % threads],
                        kind="message",
                        source="customer",
                        message=f"burst {i}",
                    )
                    stored[event.id] = event.creation_utc.timestamp()
                return stored

            stored = asyncio.run(burst())
            wait_until(lambda: set(stored) <= set(setup.post_times()), 600, "every burst post")
            posted = setup.post_times()
            waits = sorted(posted[e] - t for e, t in stored.items())
            rate_limited = [
                c
                for c in setup.slack.call(setup.slack.fake.calls, "chat.postMessage")
                if c.status == 429
            ]
            span = max(posted[e] for e in stored) - started
        finally:
            setup.close()
    table(
        f"5. Pacing: a burst of {messages} customer messages across {threads} threads of one channel (1 post/s, burst 3)",
        ["figure", "value"],
        [
            ["all posted after (s)", f"{span:.1f}"],
            ["effective rate (posts/s)", f"{messages / span:.2f}"],
            ["median wait (s)", f"{statistics.median(waits):.1f}"],
            ["longest wait, the last message (s)", f"{waits[-1]:.1f}"],
            ["429 answers from Slack", str(len(rate_limited))],
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", default="1,100,1000")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--skip-pacing", action="store_true")
    args = parser.parse_args()
    run_latency([int(s) for s in args.sessions.split(",")], args.samples)
    if not args.skip_pacing:
        run_pacing()


if __name__ == "__main__":
    main()
