"""The escalation feed and the open-handoff index with many open escalations and a long history.

    .venv/bin/python bench/bench_feed.py [--open 1,1000,3000,10000] [--history 100000]
    .venv/bin/python bench/bench_feed.py --postgres-writers 8

For each size a fresh SQLite session store is filled *directly* (one transaction of rows cloned
from a session Parlant's own store wrote: creating 10,000 handoffs through the AI over HTTP
would take hours on this machine), with that many sessions in an open handoff (manual mode, a
`waiting` handoff record, labelled `handoff`), then the real agent (`python -m agent`) starts on
it. Measured through real HTTP:

- feed latency: a follower long-polls `GET /escalations/feed` (one request open, as the bridge
  will); customer messages are posted to random open sessions (POST /sessions/{id}/events);
  latency is from the start of the POST to the follower holding the event;
- idle agent CPU: the agent's CPU time (/proc) over a quiet stretch with the feed's long poll
  open, as a share of one core;
- discovery's listing: `GET /escalations/open` (what discovery and the dashboard queue now read)
  beside `GET /sessions?labels=handoff` (what they read before), median time and size;
- the open listing read straight from two stores (the same open count, empty history and
  `--history` resolved), alternately, to compare them under the same machine load;
- the same at `--history-open` open escalations with `--history` resolved ones in the store
  too, beside the same open count with an empty history: the listing and idle cost should not
  move. (The old listing reads every session labelled `handoff`, so it grows with history.)

`--postgres-writers N` measures instead what the feed order costs on PostgreSQL: event inserts
per second through the store with 1 and N concurrent writers on two pools (two replicas); each
insert holds the counter row until its commit, so they are serialised.
"""

import os
import sys
import tempfile

# Importing parlant.sdk or parlant.bin creates PARLANT_HOME; keep it out of the tree.
os.environ.setdefault("PARLANT_HOME", tempfile.mkdtemp(prefix="parlant-home-"))

import argparse
import asyncio
import json
import math
import random
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from parlant.core.agents import AgentId
from parlant.core.customers import CustomerId
from parlant.core.sessions import SessionDocumentStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.insurance import AGENT_ID
from agent.store.claims import SAMPLE_CUSTOMER_ID
from agent.store.escalations import EVENTS
from agent.store.sqlite_documents import SQLiteDocumentDatabase
from handoff.record import HANDOFF_LABEL, METADATA_KEY
from tests.support.agent_process import AgentProcess

MESSAGES = 200
MESSAGE_INTERVAL_S = 0.05
IDLE_SECONDS = 20.0
LISTING_REPEATS = 10
START = datetime(2025, 1, 1, tzinfo=UTC)
TICKS = os.sysconf("SC_CLK_TCK")


def record(status: str, n: int) -> dict[str, Any]:
    at = (START + timedelta(seconds=n)).isoformat(timespec="seconds")
    base = {
        "status": status,
        "reason": "customer asked for a human",
        "reason_category": "customer_asked",
        "requested_at": at,
        "slack": {"state": "disabled"},
    }
    if status == "resolved":
        base.update(resolved_at=at, resolved_by={"id": "dashboard:bench", "name": "Bench"})
    return base


async def fill(
    home: Path,
    open_count: int,
    history: int,
    open_fields: Callable[[str], dict[str, Any]] | None = None,
) -> None:
    """`open_count` open and `history` resolved escalations, written straight into the file;
    `open_fields` adds to an open one's record (bench_bridge.py: its root message, a recent
    request time)."""
    async with SQLiteDocumentDatabase(home / "sessions.sqlite3", ordered=EVENTS) as database:
        async with SessionDocumentStore(database=database, allow_migration=True) as store:
            template = await store.create_session(
                CustomerId(SAMPLE_CUSTOMER_ID), AgentId(AGENT_ID), title="template"
            )

        def linked(session_id: str, status: str, n: int) -> dict[str, Any]:
            made = record(status, n)
            if open_fields is not None and status == "waiting":
                made.update(open_fields(session_id))
            return made

        def clone(connection: sqlite3.Connection) -> None:
            (body,) = connection.execute(
                "SELECT body FROM documents WHERE collection = 'sessions' AND id = ?",
                (template.id,),
            ).fetchone()
            document = json.loads(body)
            rows = []
            for n in range(open_count + history):
                status = "waiting" if n < open_count else "resolved"
                session_id = f"bench{n:07d}"
                creation = (START + timedelta(seconds=n)).isoformat()
                rows.append(
                    (
                        session_id,
                        creation,
                        json.dumps(
                            {
                                **document,
                                "id": session_id,
                                "creation_utc": creation,
                                "mode": "manual" if status == "waiting" else "auto",
                                "title": None,
                                "metadata": {METADATA_KEY: linked(session_id, status, n)},
                                "labels": [HANDOFF_LABEL],
                            },
                            separators=(",", ":"),
                        ),
                    )
                )
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "DELETE FROM documents WHERE collection = 'sessions' AND id = ?", (template.id,)
            )
            connection.executemany(
                "INSERT INTO documents (collection, id, creation_utc, body) "
                "VALUES ('sessions', ?, ?, ?)",
                rows,
            )
            connection.execute("COMMIT")

        await database.run(clone)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def feed_latency(url: str, open_count: int) -> list[float]:
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        cursor = (await http.get("/escalations/feed")).json()["head"]

        async def follow() -> None:
            nonlocal cursor
            while len(arrived) < MESSAGES:
                page = (
                    await http.get(
                        "/escalations/feed",
                        params={"after": cursor, "wait_for_data": 30, "limit": 1000},
                    )
                ).json()
                now = time.perf_counter()
                for event in page["events"]:
                    arrived.setdefault(event["id"], now)
                cursor = page["next"]

        follower = asyncio.create_task(follow())
        await asyncio.sleep(0.5)
        rng = random.Random(14)
        for _ in range(MESSAGES):
            session = f"bench{rng.randrange(open_count):07d}"
            started = time.perf_counter()
            answer = await http.post(
                f"/sessions/{session}/events",
                json={"kind": "message", "source": "customer", "message": "still waiting"},
            )
            answer.raise_for_status()
            sent[answer.json()["id"]] = started
            await asyncio.sleep(MESSAGE_INTERVAL_S)
        await asyncio.wait_for(follower, 60)
    return [arrived[event_id] - sent[event_id] for event_id in sent]


async def idle_cpu(url: str, pid: int) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        head = (await http.get("/escalations/feed")).json()["head"]
        poll = asyncio.create_task(
            http.get("/escalations/feed", params={"after": head, "wait_for_data": 60})
        )
        await asyncio.sleep(2.0)  # settle after the start and the last writes
        before, started = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(IDLE_SECONDS)
        share = (cpu_seconds(pid) - before) / (time.monotonic() - started)
        poll.cancel()
    return share


def listing(url: str, path: str, params: dict[str, str], repeats: int) -> tuple[float, int]:
    times, size = [], 0
    with httpx.Client(base_url=url, timeout=600) as http:
        for _ in range(repeats):
            started = time.perf_counter()
            answer = http.get(path, params=params)
            times.append(time.perf_counter() - started)
            answer.raise_for_status()
            size = len(answer.content)
    return statistics.median(times), size


async def run_size(open_count: int, history: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bench-feed-"))
    home = root / "parlant"
    home.mkdir(parents=True)
    started = time.perf_counter()
    await fill(home, open_count, history)
    filled = time.perf_counter() - started
    agent = AgentProcess(home=home)
    started = time.perf_counter()
    agent.start()
    boot = time.perf_counter() - started
    try:
        assert agent.process is not None
        pid = agent.process.pid
        latencies = await feed_latency(agent.url, open_count)
        cpu = await idle_cpu(agent.url, pid)
        closed_since = (datetime.now(UTC) - timedelta(hours=24)).isoformat(timespec="seconds")
        open_s, open_bytes = listing(
            agent.url, "/escalations/open", {"closed_since": closed_since}, LISTING_REPEATS
        )
        label_s, label_bytes = listing(
            agent.url, "/sessions", {"labels": HANDOFF_LABEL}, 3 if history else LISTING_REPEATS
        )
    finally:
        agent.stop()
    return {
        "open": open_count,
        "history": history,
        "fill_s": filled,
        "start_s": boot,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "idle_cpu": cpu * 100,
        "open_ms": open_s * 1000,
        "open_kb": open_bytes / 1024,
        "label_ms": label_s * 1000,
        "label_kb": label_bytes / 1024,
    }


async def interleaved_listing(open_count: int, history: int) -> tuple[float, float, float, float]:
    """The open listing read straight from two stores, empty history and `history`, alternately
    (so the shared machine's load falls on both alike): (median, min) for each, in seconds."""
    from agent.store.sqlite_escalations import SQLiteEscalations

    databases = []
    for size in (0, history):
        home = Path(tempfile.mkdtemp(prefix="bench-feed-")) / "parlant"
        home.mkdir(parents=True)
        await fill(home, open_count, size)
        databases.append(SQLiteDocumentDatabase(home / "sessions.sqlite3", ordered=EVENTS))
    times: list[list[float]] = [[], []]
    closed_since = (datetime.now(UTC) - timedelta(hours=24)).isoformat(timespec="seconds")
    async with databases[0] as empty, databases[1] as full:
        indexes = [SQLiteEscalations(empty), SQLiteEscalations(full)]
        for index in indexes:
            await index.ensure_indexes()
        for _ in range(100):
            for n, index in enumerate(indexes):
                started = time.perf_counter()
                await index.open_listing(closed_since)
                times[n].append(time.perf_counter() - started)
    return (
        statistics.median(times[0]),
        min(times[0]),
        statistics.median(times[1]),
        min(times[1]),
    )


async def postgres_event_throughput(writers: int, seconds: float) -> tuple[int, float]:
    """Events inserted per second into the ordered events collection on PostgreSQL by `writers`
    concurrent inserters on two pools (two replicas), each insert its own durable commit: what
    the counter row's serialisation leaves. Returns (events, events per second)."""
    from parlant.core.persistence.document_database import BaseDocument, identity_loader

    from agent.store.postgres_documents import PostgresDocumentDatabase, open_pool
    from tests.support.postgres import PostgresCluster, postgres_bin_dir

    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed: run scripts/ensure_postgres.sh")
    cluster = PostgresCluster(bin_dir).start()
    try:
        url = cluster.create_database("bench_feed")
        async with (
            open_pool(url, max_size=writers) as pool_a,
            open_pool(url, max_size=writers) as pool_b,
            PostgresDocumentDatabase(pool_a, "sessions", ordered=EVENTS) as a,
            PostgresDocumentDatabase(pool_b, "sessions", ordered=EVENTS) as b,
        ):
            collections = [
                await db.get_or_create_collection(EVENTS, BaseDocument, identity_loader)
                for db in (a, b)
            ]
            deadline = time.monotonic() + seconds
            written = 0

            async def write(writer: int) -> None:
                nonlocal written
                n = 0
                while time.monotonic() < deadline:
                    document: Any = {
                        "id": f"w{writer}-{n}",
                        "creation_utc": datetime.now(UTC).isoformat(),
                        "session_id": f"s{writer}",
                        "version": "1",
                    }
                    await collections[writer % 2].insert_one(document)
                    n += 1
                    written += 1

            started = time.monotonic()
            await asyncio.gather(*(write(w) for w in range(writers)))
            return written, written / (time.monotonic() - started)
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--open", default="1,1000,3000,10000")
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument(
        "--history-open", type=int, default=1000, help="open escalations beside the history"
    )
    parser.add_argument(
        "--postgres-writers",
        type=int,
        default=0,
        help="only measure event inserts per second on PostgreSQL with this many writers",
    )
    args = parser.parse_args()
    if args.postgres_writers:
        for writers in (1, args.postgres_writers):
            events, rate = asyncio.run(postgres_event_throughput(writers, 10.0))
            print(f"PostgreSQL, {writers} writers on two pools: {events:,} events, {rate:,.0f}/s")
        return
    sizes = [(int(n), 0) for n in args.open.split(",")]
    if args.history:
        if (args.history_open, 0) not in sizes:
            sizes.append((args.history_open, 0))  # the empty-history baseline
        sizes.append((args.history_open, args.history))
    print(
        "| open | resolved in history | feed p50 | feed p99 | idle agent CPU "
        "| /escalations/open | /sessions?labels=handoff (before) | agent start |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for open_count, history in sizes:
        r = asyncio.run(run_size(open_count, history))
        print(
            f"| {r['open']:,} | {r['history']:,} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms "
            f"| {r['idle_cpu']:.2f}% | {r['open_ms']:.1f} ms ({r['open_kb']:,.0f} KiB) "
            f"| {r['label_ms']:.1f} ms ({r['label_kb']:,.0f} KiB) | {r['start_s']:.1f} s |",
            flush=True,
        )
    if args.history:
        empty_median, empty_min, full_median, full_min = asyncio.run(
            interleaved_listing(args.history_open, args.history)
        )
        print(
            f"\nOpen listing read straight from the store, {args.history_open:,} open, alternating "
            f"100 times: empty history median {empty_median * 1000:.2f} ms (min "
            f"{empty_min * 1000:.2f}), {args.history:,} resolved median "
            f"{full_median * 1000:.2f} ms (min {full_min * 1000:.2f})."
        )


if __name__ == "__main__":
    main()
