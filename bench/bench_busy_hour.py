"""The busy hour against Slack's limits: two bridge replicas, three routed channels, hundreds of
handoffs with customers and operators writing at once, the fake Slack holding Slack's published
rate limits (tests/fakes/slack_rate_limits.py).

Every process is real: `python -m agent` (offline NLP) on a throwaway PostgreSQL cluster, two
`python -m slack_bridge` in Socket Mode sharing that database (the fake spreads events over
both), and the project's fake Slack. Handoffs arrive evenly over `--minutes`; each conversation
stays active `--active-minutes`, its customer writing every 15 s ± 10 s and an operator replying
in its thread every 30 s ± 10 s. Then the load stops and the bench waits for everything to
arrive. Nothing is asserted: it prints, per channel,

- root posted after the customer asked for a person (the AI turn calls the handoff tool, which
  posts it), p50/p95/max (s);
- customer message stored in Parlant → in Slack, p50/p95/max (s), against the physical floor
  (the p95 an ideal bridge would reach with the same arrivals at one post a second,
  bench/slack_floor.py);
- operator reply pushed to the bridges → stored in Parlant, p50/p95 (s);
- posts a second used of the channel's allowance while it had a backlog, and Slack's 429s;
- Slack calls per method per minute against each method's tier;
- the checker over the whole history: customer messages lost, posted twice, out of order in
  their thread; operator replies lost, delivered twice, out of Slack's order.

    .venv/bin/python bench/bench_busy_hour.py [--handoffs 300] [--minutes 10]
        [--active-minutes 5] [--channels 3] [--limited-history-reads] [--seed 1]
        [--keep-logs DIR]

The defaults are the busy hour of issue 26 (about 50 active threads a channel at the peak);
`--handoffs 60 --minutes 2 --active-minutes 1` is a quick look.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PARLANT_HOME", tempfile.mkdtemp(prefix="bench-import-"))

import itertools

from parlant.client import AsyncParlantClient
from parlant.client.types import SessionLabelsUpdateParams

from bench.bench_bridge import percentile, table, wait_until
from bench.slack_floor import Arrival, ideal_waits
from slack_kit.metadata import mirrored_parts
from tests.fakes import FakeSlack, FakeSlackThread, RateLimits
from tests.fakes.slack_rate_limits import METHOD_TIERS, TIER_PER_MINUTE
from tests.support.agent_process import AgentProcess
from tests.support.bridge_process import BridgeProcess
from tests.support.chat import AGENT_ID
from tests.support.postgres import PostgresCluster, postgres_bin_dir

LABEL = "busy-ch{}"
# Slack's allowance for chat.postMessage per channel (tests/fakes/slack_rate_limits.py).
POSTS_PER_SECOND = 1.0


@dataclass
class CustomerMessage:
    session_id: str
    event_id: str
    offset: int
    stored_at: float


@dataclass
class OperatorReply:
    session_id: str
    slack_ts: str
    pushed_at: float


@dataclass
class Conversation:
    index: int
    channel: str
    session_id: str = ""
    handed_off_at: float = 0.0
    messages: list[CustomerMessage] = field(default_factory=list)
    replies: list[OperatorReply] = field(default_factory=list)


@dataclass
class Run:
    slack: FakeSlackThread
    channels: list[str]
    operators: list[str]
    parlant_url: str
    conversations: list[Conversation] = field(default_factory=list)
    load_errors: Counter[str] = field(default_factory=Counter)


def metadata_of(call_params: dict[str, Any]) -> dict[str, Any]:
    metadata = call_params.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return metadata if isinstance(metadata, dict) else {}


async def escalate(client: AsyncParlantClient, conversation: Conversation, run: Run) -> None:
    """A handoff as a customer gets one: a session labelled with its channel's route, the
    customer asking for a person, the agent's AI turn (offline NLP) calling the handoff tool,
    which posts the root message into the routed channel."""
    session = await client.sessions.create(agent_id=AGENT_ID, customer_id="guest")
    conversation.session_id = session.id
    await client.sessions.update(
        session.id,
        labels=SessionLabelsUpdateParams(
            upsert=[LABEL.format(conversation.index % len(run.channels))]
        ),
    )
    conversation.handed_off_at = time.time()
    await client.sessions.create_event(
        session.id, kind="message", source="customer", message="I want to talk to a human"
    )


def root_ts(run: Run, conversation: Conversation) -> str | None:
    for message in run.slack.call(run.slack.fake.messages, conversation.channel):
        payload = (message.metadata or {}).get("event_payload") or {}
        if message.thread_ts is None and payload.get("session_id") == conversation.session_id:
            return message.ts
    return None


async def handed_off(client: AsyncParlantClient, session_id: str, timeout: float = 120) -> None:
    """Until the AI's turn has handed the session to a person (manual mode): what the customer
    said before is shown in the root message, not mirrored into the thread."""
    deadline = time.monotonic() + timeout
    while (await client.sessions.retrieve(session_id)).mode != "manual":
        if time.monotonic() > deadline:
            raise TimeoutError(f"session {session_id} was not handed off")
        await asyncio.sleep(1)


async def customer(
    client: AsyncParlantClient, conversation: Conversation, until: float, rng: random.Random
) -> None:
    await handed_off(client, conversation.session_id)
    n = 0
    while True:
        await asyncio.sleep(max(1.0, rng.uniform(5, 25)))
        if time.time() >= until:
            return
        event = await client.sessions.create_event(
            conversation.session_id,
            kind="message",
            source="customer",
            message=f"customer {conversation.index}.{n}",
        )
        conversation.messages.append(
            CustomerMessage(
                conversation.session_id, event.id, event.offset, event.creation_utc.timestamp()
            )
        )
        n += 1


async def operator(run: Run, conversation: Conversation, until: float, rng: random.Random) -> None:
    root: str | None = None
    n = 0
    while True:
        await asyncio.sleep(max(1.0, rng.uniform(20, 40)))
        if time.time() >= until:
            return
        root = root or root_ts(run, conversation)
        if root is None:
            continue  # no thread yet: an operator cannot reply in it
        who = run.operators[n % len(run.operators)]
        fake = run.slack.fake
        event = run.slack.call(
            fake.add_user_message,
            conversation.channel,
            who,
            f"operator {conversation.index}.{n}",
            thread_ts=root,
        )
        pushed = time.time()
        try:
            await asyncio.to_thread(
                run.slack.run,
                fake.push_event(event, event_id=f"EvBusy{conversation.index}x{n}", timeout=10),
            )
        except Exception as error:
            run.load_errors[f"push: {type(error).__name__}"] += 1
        conversation.replies.append(OperatorReply(conversation.session_id, event["ts"], pushed))
        n += 1


async def drive(run: Run, handoffs: int, minutes: float, active_minutes: float, seed: int) -> None:
    client = AsyncParlantClient(base_url=run.parlant_url)
    rng = random.Random(seed)
    spacing = minutes * 60 / handoffs
    started = time.time()
    tasks: list[asyncio.Task[None]] = []

    async def conversation_of(index: int) -> None:
        conversation = Conversation(index, run.channels[index % len(run.channels)])
        run.conversations.append(conversation)
        try:
            await escalate(client, conversation, run)
        except Exception as error:
            run.load_errors[f"escalate: {type(error).__name__}"] += 1
            return
        until = time.time() + active_minutes * 60 * rng.uniform(0.8, 1.2)
        both = [
            customer(client, conversation, until, random.Random(rng.random())),
            operator(run, conversation, until, random.Random(rng.random())),
        ]
        results = await asyncio.gather(*both, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                run.load_errors[f"conversation: {type(result).__name__}"] += 1

    for index in range(handoffs):
        await asyncio.sleep(max(0.0, started + index * spacing - time.time()))
        tasks.append(asyncio.create_task(conversation_of(index)))
        if index % 25 == 0:
            active = sum(not t.done() for t in tasks)
            print(
                f"  t={time.time() - started:5.0f}s handoffs={index + 1} active={active}",
                flush=True,
            )
    await asyncio.gather(*tasks)


async def delivered_replies(parlant_url: str, session_ids: list[str]) -> dict[str, list[Any]]:
    """session -> its operator messages in Parlant, in offset order."""
    client = AsyncParlantClient(base_url=parlant_url)
    out: dict[str, list[Any]] = {}
    for session_id in session_ids:
        events = await client.sessions.list_events(
            session_id, kinds="message", source="human_agent", wait_for_data=0
        )
        out[session_id] = list(events)
    return out


def mirrored_posts(run: Run) -> dict[str, list[tuple[float, str]]]:
    """Parlant event id -> (when the fake received it, the post's ts) for each accepted post
    that carries it."""
    posts: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for call in run.slack.call(run.slack.fake.calls, "chat.postMessage"):
        metadata = metadata_of(call.params)
        if call.status != 200 or not call.response or not call.response.get("ok"):
            continue
        for event_id, part in mirrored_parts({"metadata": metadata}):
            if part == 0:
                posts[event_id].append((call.time, str(call.response["ts"])))
    return posts


def everything_arrived(run: Run) -> bool:
    posted = mirrored_posts(run)
    return all(m.event_id in posted for c in run.conversations for m in c.messages)


def floor_p95(convs: list[Conversation]) -> float:
    """The channel's physical floor at p95 of the customer messages: the same roots, the
    agent's handoff message in each thread (both at the handoff) and the customer messages
    under an ideal bridge at one post a second (bench/slack_floor.py)."""
    roots = [Arrival(c.session_id, c.handed_off_at) for c in convs]
    messages = [Arrival(c.session_id, m.stored_at) for c in convs for m in c.messages]
    handoff_messages = [Arrival(c.session_id, c.handed_off_at) for c in convs]
    waits = ideal_waits(roots, messages + handoff_messages, POSTS_PER_SECOND)[: len(messages)]
    return percentile(waits, 95) if waits else 0.0


def figures(run: Run, replies: dict[str, list[Any]]) -> None:
    calls = run.slack.call(run.slack.fake.calls)
    posts = mirrored_posts(run)
    roots: dict[str, float] = {}
    for call in calls:
        payload = metadata_of(call.params).get("event_payload") or {}
        if (
            call.method == "chat.postMessage"
            and call.status == 200
            and metadata_of(call.params).get("event_type") == "insurance_escalation"
        ):
            roots.setdefault(str(payload.get("session_id")), call.time)

    rows = []
    for channel in run.channels:
        convs = [c for c in run.conversations if c.channel == channel and c.session_id]
        root_waits = [roots[c.session_id] - c.handed_off_at for c in convs if c.session_id in roots]
        visible = [
            posts[m.event_id][0][0] - m.stored_at
            for c in convs
            for m in c.messages
            if m.event_id in posts
        ]
        relayed = []
        for c in convs:
            stored = {
                ((e.metadata or {}).get("slack") or {}).get("ts"): e.creation_utc.timestamp()
                for e in replies.get(c.session_id, [])
            }
            relayed += [stored[r.slack_ts] - r.pushed_at for r in c.replies if r.slack_ts in stored]
        channel_posts = sorted(
            call.time
            for call in calls
            if call.method == "chat.postMessage"
            and call.status == 200
            and call.params.get("channel") == channel
        )
        span = (channel_posts[-1] - channel_posts[0]) if len(channel_posts) > 1 else 1.0
        limited = sum(
            1
            for call in calls
            if call.method == "chat.postMessage"
            and call.status == 429
            and call.params.get("channel") == channel
        )
        rows.append(
            [
                channel,
                str(len(convs)),
                f"{len(root_waits)}",
                stat(root_waits),
                str(len(visible)),
                stat(visible),
                f"{floor_p95(convs):.0f}",
                stat(relayed, with_max=False),
                f"{len(channel_posts) / span:.2f}",
                str(limited),
            ]
        )
    table(
        "Per channel (seconds)",
        [
            "channel",
            "handoffs",
            "roots",
            "root p50/p95/max",
            "customer msgs",
            "customer→Slack p50/p95/max",
            "floor p95",
            "reply→customer p50/p95",
            "posts/s",
            "post 429s",
        ],
        rows,
    )

    per_method: Counter[str] = Counter(call.method for call in calls)
    refused: Counter[str] = Counter(call.method for call in calls if call.status == 429)
    span_min = max((calls[-1].time - calls[0].time) / 60, 1e-9) if calls else 1.0
    method_rows = []
    for method, count in sorted(per_method.items()):
        tier = METHOD_TIERS.get(method)
        allowance = f"Tier {tier}: {TIER_PER_MINUTE[tier]}/min" if tier else "per channel"
        method_rows.append(
            [method, str(count), f"{count / span_min:.1f}", allowance, str(refused[method])]
        )
    table(
        f"Slack calls over {span_min:.1f} min",
        ["method", "calls", "per minute", "allowance", "429s"],
        method_rows,
    )
    total = sum(per_method.values())
    print(
        f"429s: {sum(refused.values())} of {total} calls ({100 * sum(refused.values()) / max(total, 1):.2f} %)"
    )

    check(run, posts, replies)


def check(
    run: Run, posts: dict[str, list[tuple[float, str]]], replies: dict[str, list[Any]]
) -> None:
    """The whole history: every customer message in Slack once, in its thread's order; every
    operator reply in Parlant once, in Slack's order."""
    lost = doubled = disordered = 0
    for conversation in run.conversations:
        shown = []
        for message in sorted(conversation.messages, key=lambda m: m.offset):
            found = posts.get(message.event_id, [])
            if not found:
                lost += 1
                continue
            if len({ts for _, ts in found}) > 1:
                doubled += 1
            shown.append(float(found[0][1]))
        disordered += sum(1 for a, b in itertools.pairwise(shown) if b < a)
    r_lost = r_doubled = r_disordered = 0
    for conversation in run.conversations:
        stored = [
            ((e.metadata or {}).get("slack") or {}).get("ts")
            for e in replies.get(conversation.session_id, [])
        ]
        counts = Counter(stored)
        r_lost += sum(1 for r in conversation.replies if counts[r.slack_ts] == 0)
        r_doubled += sum(1 for r in conversation.replies if counts[r.slack_ts] > 1)
        order = [float(ts) for ts in dict.fromkeys(stored) if ts]
        r_disordered += sum(1 for a, b in itertools.pairwise(order) if b < a)
    table(
        "Checker (whole history)",
        ["what", "sent", "lost", "twice", "out of order"],
        [
            [
                "customer messages",
                str(sum(len(c.messages) for c in run.conversations)),
                str(lost),
                str(doubled),
                str(disordered),
            ],
            [
                "operator replies",
                str(sum(len(c.replies) for c in run.conversations)),
                str(r_lost),
                str(r_doubled),
                str(r_disordered),
            ],
        ],
    )
    if run.load_errors:
        print("load errors:", dict(run.load_errors))


def stat(values: list[float], with_max: bool = True) -> str:
    if not values:
        return "-"
    parts = [statistics.median(values), percentile(values, 95)]
    if with_max:
        parts.append(max(values))
    return "/".join(f"{v:.1f}" for v in parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handoffs", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--active-minutes", type=float, default=5)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--bridges", type=int, default=2)
    parser.add_argument("--limited-history-reads", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--drain-minutes", type=float, default=10)
    parser.add_argument(
        "--keep-logs",
        type=Path,
        help="copy the agent's and the bridges' logs, and the run's history, into this directory",
    )
    args = parser.parse_args()
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed: bash scripts/ensure_postgres.sh")

    with tempfile.TemporaryDirectory(prefix="bench-busy-") as tmp:
        root = Path(tmp)
        limits = RateLimits(limited_history_reads=args.limited_history_reads)
        slack = FakeSlack(spread_events=True, limits=limits).run_in_thread()
        cluster = PostgresCluster(bin_dir).start()
        agent: AgentProcess | None = None
        bridges: list[BridgeProcess] = []
        try:
            operators = [
                slack.call(slack.fake.add_user, name, display_name=name.title())
                for name in ("dana", "lee")
            ]
            channels = [
                slack.call(slack.fake.add_channel, f"escalations-{n}", members=operators)
                for n in range(args.channels)
            ]
            url = cluster.create_database("busy_hour")
            env = {
                "SLACK_BOT_TOKEN": slack.fake.bot_token,
                "SLACK_APP_TOKEN": slack.fake.app_token,
                "SLACK_ESCALATION_CHANNEL": channels[0],
                "SLACK_ROUTES": ";".join(
                    f"label:{LABEL.format(n)}={c}" for n, c in enumerate(channels)
                ),
                "SLACK_API_URL": slack.api_url,
                "PARLANT_SESSION_STORE": url,
            }
            agent = AgentProcess(home=root / "agent" / "parlant", extra_env=env).start()
            for n in range(args.bridges):
                bridge = BridgeProcess(
                    workdir=root / f"bridge-{n}",
                    env_overrides={
                        **env,
                        "PARLANT_URL": agent.url,
                        "BRIDGE_STATE_URL": url,
                        "BRIDGE_REPLICA_ID": f"busy-bridge-{n}",
                    },
                    ready=lambda: True,
                )
                bridges.append(bridge.start())
            wait_until(
                lambda: slack.call(lambda: slack.fake.open_sockets) >= args.bridges,
                60,
                "bridge sockets",
            )
            run = Run(slack, channels, operators, agent.url)
            print(
                f"busy hour: {args.handoffs} handoffs over {args.minutes:g} min, each active "
                f"~{args.active_minutes:g} min, {args.channels} channels, {args.bridges} bridges"
                + (", history reads 1/min" if args.limited_history_reads else ""),
                flush=True,
            )
            asyncio.run(drive(run, args.handoffs, args.minutes, args.active_minutes, args.seed))
            print("load done; waiting for every message to reach Slack", flush=True)
            drained = time.monotonic()
            try:
                wait_until(lambda: everything_arrived(run), args.drain_minutes * 60, "drain")
            except TimeoutError:
                print(f"  not drained after {args.drain_minutes:g} min", flush=True)
            print(f"  drained in {time.monotonic() - drained:.0f} s", flush=True)
            time.sleep(3)  # replies settle (outbox) and a late duplicate would show
            sessions = [c.session_id for c in run.conversations if c.session_id]
            replies = asyncio.run(delivered_replies(agent.url, sessions))
            figures(run, replies)
            if args.keep_logs is not None:
                keep_history(args.keep_logs, run)
        finally:
            for bridge in bridges:
                bridge.stop()
            if agent is not None:
                agent.stop()
            cluster.stop()
            slack.stop()
            if args.keep_logs is not None:
                keep_logs(args.keep_logs, agent, bridges)


def keep_history(directory: Path, run: Run) -> None:
    """The run's arrivals and posts (`history.json`), to compare a channel's schedule with the
    ideal one (bench/slack_floor.py) after the run: each conversation's channel, handoff and
    customer messages (stored in Parlant at), and each message's first post to Slack."""
    directory.mkdir(parents=True, exist_ok=True)
    posts = mirrored_posts(run)
    history = {
        "conversations": [
            {
                "channel": c.channel,
                "session_id": c.session_id,
                "handed_off_at": c.handed_off_at,
                "messages": [
                    {
                        "event_id": m.event_id,
                        "stored_at": m.stored_at,
                        "posted_at": posts[m.event_id][0][0] if m.event_id in posts else None,
                    }
                    for m in c.messages
                ],
            }
            for c in run.conversations
            if c.session_id
        ]
    }
    (directory / "history.json").write_text(json.dumps(history))


def keep_logs(directory: Path, agent: AgentProcess | None, bridges: list[BridgeProcess]) -> None:
    """The processes' logs outlive the run's temporary directory (slow key locks, pool time-outs
    and 429s are logged there, one line each)."""
    directory.mkdir(parents=True, exist_ok=True)
    logs = [("agent.log", agent.log_path)] if agent is not None else []
    logs += [(f"bridge-{n}.log", bridge.log_path) for n, bridge in enumerate(bridges)]
    for name, path in logs:
        if path.exists():
            shutil.copyfile(path, directory / name)
    print(f"  logs kept in {directory}", flush=True)


if __name__ == "__main__":
    main()
