"""Bridge benchmarks: relay and mirror latency, idle cost, and pacing into one channel.

Runs the real agent (offline NLP) and the real bridge (HTTP mode) as processes against the
project's fake Slack, all on 127.0.0.1, and prints one table per figure. Targets are read off
the table, not asserted.

    .venv/bin/python bench/bench_bridge.py [--sessions 1,1000] [--samples 200]
        [--skip-pacing] [--py-spy DIR] [--prefill N]
    .venv/bin/python bench/bench_bridge.py --prefill 10000 --sessions 10000 --skip-pacing

With `--prefill N`, N open escalations are written into the agent's store before it starts
(creating them through HTTP takes about 5 minutes per 1,000 on a 2-core machine), each with the
root message the handoff tool would have posted; with `--roots-by-bridge` too, without one, as
the handoff tool leaves them when Slack did not answer, so the bridge posts all N at once.

Sizes are cumulative open escalations: each step creates the difference at once, through the
agent's HTTP API (as the handoff tool leaves them: record `pending`, so the bridge posts every
root message), and waits until every root is posted and the bridge is quiet before measuring.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PARLANT_HOME", tempfile.mkdtemp(prefix="bench-import-"))

import httpx
from parlant.client import AsyncParlantClient
from parlant.client.types import SessionLabelsUpdateParams, SessionMetadataUpdateParams

from bench import probes
from bench.bench_feed import fill, record
from handoff.record import METADATA_KEY, HandoffRecord, request_handoff, utc_now_iso
from handoff.sla import SlaSettings, sla_view
from slack_kit.masking import Masker
from slack_kit.root_message import escalation_view, root_message_post
from slack_kit.root_rendering import rendering_fingerprint
from tests.fakes import FakeSlack, FakeSlackThread, RateLimits
from tests.support.agent_process import AgentProcess
from tests.support.bridge_process import BridgeProcess
from tests.support.slack_world import SIGNING_SECRET

AGENT_ID = "insurance-support-agent"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


class Setup:
    def __init__(
        self, root: Path, posts_per_second: float, prefill: int = 0, roots_by_bridge: bool = False
    ) -> None:
        # The bridge's own cost, not Slack's pace: the fake's rate limits are off here (the
        # busy hour against Slack's limits is a bench of its own).
        self.slack: FakeSlackThread = FakeSlack(limits=RateLimits(enabled=False)).run_in_thread()
        self.channel = self.slack.call(self.slack.fake.add_channel, "escalations")
        self.operator = self.slack.call(self.slack.fake.add_user, "dana", display_name="Dana")
        self.prefilled: list[str] = []
        if prefill:
            self.prefilled = asyncio.run(
                self._prefill(root / "parlant", prefill, post_roots=not roots_by_bridge)
            )
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
            # No settling window: it holds every reply 1 s on purpose (Slack order), which the
            # relay figure would otherwise be made of.
            env_overrides={
                **env,
                "PARLANT_URL": self.agent.url,
                "BRIDGE_REPLY_SETTLE_SECONDS": "0",
            },
            ready=ready,
        )
        self.bridge.start()

    async def _prefill(self, home: Path, count: int, post_roots: bool) -> list[str]:
        """`count` open escalations written into the agent's store before it starts, each with
        the root message the handoff tool would have posted (so the bridge only follows them),
        or without one, as the handoff tool leaves them when Slack did not answer (the bridge
        posts every root)."""
        ids = [f"bench{n:07d}" for n in range(count)]
        links: dict[str, dict[str, str]] = {
            i: {"state": "pending", "channel": self.channel} for i in ids
        }
        # Requested now: no SLA clock is past its target, so no notices are due (an idle
        # bridge). Each root is drawn as the handoff tool draws it, SLA line and fingerprint
        # included, so the bridge only redraws the roots whose SLA line has moved on since.
        requested = datetime.now(UTC)
        now = requested.isoformat(timespec="seconds")
        drawn = cast(HandoffRecord, {**record("waiting", 0), "requested_at": now})
        sla = sla_view(drawn, SlaSettings.around_the_clock_defaults(), requested)
        rendered = rendering_fingerprint(drawn, sla)
        masker = Masker.from_setting(None)
        semaphore = asyncio.Semaphore(16)
        async with httpx.AsyncClient(
            headers={"Authorization": f"Bearer {self.slack.fake.bot_token}"}, timeout=60
        ) as http:

            async def post(session_id: str) -> None:
                async with semaphore:
                    view = escalation_view(
                        session_id, "Bench customer", drawn, (), "", masker=masker, sla=sla
                    )
                    answer = await http.post(
                        f"{self.slack.api_url}chat.postMessage",
                        json={"channel": self.channel, **root_message_post(view)},
                    )
                    links[session_id] = {
                        "state": "posted",
                        "channel": self.channel,
                        "ts": answer.json()["ts"],
                        "rendered": rendered,
                    }

            await asyncio.gather(*(post(i) for i in (ids if post_roots else [])))
        await fill(
            home, count, 0, open_fields=lambda sid: {"slack": links[sid], "requested_at": now}
        )
        return ids

    def close(self) -> None:
        self.bridge.stop()
        self.agent.stop()
        self.slack.stop()

    def roots(self) -> dict[str, str]:
        return probes.roots(self.slack, self.channel)

    def post_times(self) -> dict[str, float]:
        """Parlant event id -> when the fake received its first mirrored post."""
        return {event: times[0] for event, times in probes.post_times(self.slack).items()}


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


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_mb(pid: int) -> float:
    rss_kb = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS")
    )
    return rss_kb / 1024


def cpu_percent(pids: list[int], seconds: float) -> list[float]:
    """Each process's CPU over the same window, in % of one core."""
    before, start = [cpu_ticks(pid) for pid in pids], time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    return [
        100 * (cpu_ticks(pid) - ticks) / os.sysconf("SC_CLK_TCK") / elapsed
        for pid, ticks in zip(pids, before, strict=True)
    ]


def settle(pid: int, limit_s: float = 600) -> float:
    """Waits until the process is quiet (mirrors caught up, roots posted); returns how long."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s and cpu_percent([pid], 3)[0] > 10:
        pass
    return time.monotonic() - started


def py_spy(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    """Samples the process's stacks (collapsed, one line per stack with its count)."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--format",
            "raw",
            "--nonblocking",
            "-d",
            str(seconds),
            "-p",
            str(pid),
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def top_frames(raw: Path, count: int = 12) -> list[tuple[str, float]]:
    """Pure over the file: the functions most often on a sampled stack (inclusive share)."""
    totals: dict[str, int] = {}
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        samples += int(n)
        for frame in set(stack.split(";")):
            totals[frame] = totals.get(frame, 0) + int(n)
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:count]
    return [(frame, 100 * n / max(1, samples)) for frame, n in ranked]


def roots_posted_once(setup: Setup, sessions: list[str]) -> tuple[int, int]:
    """(sessions with no root message, root messages beyond one per session)."""
    posted = probes.roots_posted(setup.slack, setup.channel)
    missing = sum(1 for s in sessions if s not in posted)
    extra = sum(len(ts) - 1 for ts in posted.values())
    return missing, extra


async def mirror_latency(setup: Setup, sessions: list[str], samples: int) -> list[float]:
    stored_at = await probes.write_customer_messages(setup.agent.url, sessions, samples)
    wait_until(lambda: set(stored_at) <= set(setup.post_times()), 120, "every mirrored post")
    posted = setup.post_times()
    return [max(0.0, (posted[e] - t) * 1000) for e, t in stored_at.items()]


def mirrors_active(setup: Setup) -> float:
    text = httpx.get(f"http://127.0.0.1:{setup.bridge.metrics_port}/metrics", timeout=10).text
    line = next(x for x in text.splitlines() if x.startswith("bridge_mirrors_active "))
    return float(line.split()[1])


def run_latency(
    sizes: list[int], samples: int, spy_dir: Path | None, prefill: int, roots_by_bridge: bool
) -> None:
    relay_rows, mirror_rows, idle_rows, root_rows = [], [], [], []
    spied: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp:
        # Unpaced: the fake has no rate limits here.
        setup = Setup(
            Path(tmp), posts_per_second=0, prefill=prefill, roots_by_bridge=roots_by_bridge
        )
        assert setup.bridge.process is not None and setup.agent.process is not None
        bridge_pid, agent_pid = setup.bridge.process.pid, setup.agent.process.pid
        try:
            escalated: list[str] = list(setup.prefilled)
            if prefill:
                started = time.monotonic()
                if roots_by_bridge:
                    wait_until(
                        lambda: len(setup.roots()) >= prefill, 3600, f"{prefill} root messages"
                    )
                rooted_s = time.monotonic() - started
                wait_until(lambda: mirrors_active(setup) >= prefill, 1800, "every mirror")
                missing, extra = roots_posted_once(setup, escalated)
                print(
                    f"{prefill} open escalations written into the agent's store before it"
                    f" started (HTTP creation takes ~5 minutes per 1,000 on this machine),"
                    + (
                        f" every root posted by the bridge {rooted_s:.1f}s after start"
                        f" (missing {missing}, posted twice {extra});"
                        if roots_by_bridge
                        else " roots posted by the bench as the handoff tool would;"
                    )
                    + f" the bridge mirrors all {time.monotonic() - started:.1f}s after start,"
                    f" quiet {settle(bridge_pid):.1f}s later",
                    flush=True,
                )
                if roots_by_bridge:
                    root_rows.append(
                        [
                            f"{prefill} (store)",
                            str(prefill),
                            f"{rooted_s:.1f}",
                            str(missing),
                            str(extra),
                        ]
                    )
            for size in sizes:
                started = time.monotonic()
                batch = asyncio.run(escalate(setup.agent.url, size - len(escalated)))
                created_s = time.monotonic() - started
                escalated += batch
                if batch:
                    wait_until(
                        lambda size=size: len(setup.roots()) >= size, 1800, f"{size} root messages"
                    )
                rooted_s = time.monotonic() - started
                settled_s = settle(bridge_pid)
                missing, extra = roots_posted_once(setup, escalated)
                print(
                    f"{size} open: {len(batch)} escalations created at once through the agent's"
                    f" HTTP API in {created_s:.1f}s, every root posted {rooted_s:.1f}s after the"
                    f" first was created, bridge quiet {settled_s:.1f}s later;"
                    f" roots missing {missing}, posted twice {extra}",
                    flush=True,
                )
                if batch:
                    root_rows.append(
                        [str(size), str(len(batch)), f"{rooted_s:.1f}", str(missing), str(extra)]
                    )
                roots = setup.roots()
                # This process holds the fake Slack (every post of the run) and times both the
                # relay and the direct writes: its own full collections (300 ms at 10,000) would
                # land in either figure. Out of the collector's sight from here on.
                gc.collect()
                gc.freeze()
                relayed, direct = asyncio.run(
                    probes.relay_latency(
                        setup.slack,
                        setup.channel,
                        setup.operator,
                        setup.agent.url,
                        f"http://127.0.0.1:{setup.bridge.port}/slack/events",
                        escalated[0],
                        roots[escalated[0]],
                        samples,
                        with_direct=True,
                    )
                )
                target = 1.2 * percentile(direct, 99) + 5
                print(
                    f"  relay p50/p99 {statistics.median(relayed):.1f}/"
                    f"{percentile(relayed, 99):.1f} ms, direct {statistics.median(direct):.1f}/"
                    f"{percentile(direct, 99):.1f} ms, target p99 {target:.1f} ms",
                    flush=True,
                )
                relay_rows.append(
                    [
                        str(size),
                        f"{statistics.median(relayed):.1f}",
                        f"{percentile(relayed, 99):.1f}",
                        f"{statistics.median(direct):.1f}",
                        f"{percentile(direct, 99):.1f}",
                        f"{target:.1f}",
                    ]
                )
                spy = spy_dir is not None and size == sizes[-1]
                if spy:
                    assert spy_dir is not None
                    spied["mirror"] = spy_dir / f"bridge-mirror-{size}.txt"
                    spying = py_spy(bridge_pid, 15, spied["mirror"])
                latencies = asyncio.run(mirror_latency(setup, escalated, samples))
                if spy:
                    spying.wait()
                print(
                    f"  mirror p50/p99 {statistics.median(latencies):.1f}/"
                    f"{percentile(latencies, 99):.1f} ms",
                    flush=True,
                )
                mirror_rows.append(
                    [
                        str(size),
                        f"{statistics.median(latencies):.1f}",
                        f"{percentile(latencies, 99):.1f}",
                    ]
                )
                settle(bridge_pid)
                if spy:
                    assert spy_dir is not None
                    spied["idle"] = spy_dir / f"bridge-idle-{size}.txt"
                    spying = py_spy(bridge_pid, 30, spied["idle"])
                bridge_cpu, agent_cpu = cpu_percent([bridge_pid, agent_pid], 30)
                print(
                    f"  idle bridge {rss_mb(bridge_pid):.0f} MB {bridge_cpu:.2f}%,"
                    f" agent {rss_mb(agent_pid):.0f} MB {agent_cpu:.2f}%",
                    flush=True,
                )
                if spy:
                    spying.wait()
                idle_rows.append(
                    [
                        str(size),
                        f"{rss_mb(bridge_pid):.0f}",
                        f"{bridge_cpu:.2f}",
                        f"{rss_mb(agent_pid):.0f}",
                        f"{agent_cpu:.2f}",
                    ]
                )
        finally:
            setup.close()
    table(
        "1. Operator reply relay (ms): signed event reaching the bridge → event stored in Parlant",
        ["open escalations", "via bridge p50", "p99", "direct p50", "direct p99", "target p99"],
        relay_rows,
    )
    table(
        "2. Mirror latency (ms): customer message stored → fake Slack receives the post (no rate limits)",
        ["open escalations", "p50", "p99"],
        mirror_rows,
    )
    table(
        "3. Idle: bridge following the open escalations, and the agent serving it (30 s window)",
        ["open escalations", "bridge RSS MB", "bridge CPU %", "agent RSS MB", "agent CPU %"],
        idle_rows,
    )
    table(
        "4. Escalations created at once: root messages (posted by the bridge; record 'pending')",
        ["open escalations", "created now", "all posted after (s)", "missing", "posted twice"],
        root_rows,
    )
    for name, path in spied.items():
        if path.exists():
            table(
                f"py-spy, bridge at {sizes[-1]} open escalations, {name}: functions most often "
                f"on the stack ({path})",
                ["function", "% of samples"],
                [[frame[:110], f"{share:.1f}"] for frame, share in top_frames(path)],
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
    parser.add_argument("--sessions", default="1,1000")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--skip-pacing", action="store_true")
    parser.add_argument(
        "--py-spy", type=Path, default=None, help="record the bridge's stacks at the largest size"
    )
    parser.add_argument(
        "--prefill",
        type=int,
        default=0,
        help="write this many open escalations into the agent's store before it starts",
    )
    parser.add_argument(
        "--roots-by-bridge",
        action="store_true",
        help="prefill without root messages: the bridge posts all of them (created at once)",
    )
    args = parser.parse_args()
    if args.py_spy is not None:
        args.py_spy.mkdir(parents=True, exist_ok=True)
    run_latency(
        [int(s) for s in args.sessions.split(",")],
        args.samples,
        args.py_spy,
        args.prefill,
        args.roots_by_bridge,
    )
    if not args.skip_pacing:
        run_pacing()


if __name__ == "__main__":
    main()
