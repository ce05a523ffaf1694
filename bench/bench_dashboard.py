"""Dashboard benchmark: the queue with 5,000 escalated sessions, a transcript of 2,000 messages.

Starts the real agent (`python -m agent`, offline NLP, transient in-memory session store so the
fill is quick), fills it through the REST API concurrently, then measures the dashboard's own
code: the reads (data.py), the pure render functions, and whole page runs through Streamlit's
AppTest (script execution and element building, no browser paint). Run:

    .venv/bin/python bench/bench_dashboard.py [--sessions 5000] [--messages 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run as a script: make the repo's packages (dashboard, tests.support) importable.
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("PARLANT_HOME", tempfile.mkdtemp(prefix="parlant-bench-import-"))

import httpx  # noqa: E402
import streamlit as st  # noqa: E402
from parlant.client import AsyncParlantClient  # noqa: E402
from parlant.client.types import Participant  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from dashboard import data  # noqa: E402
from dashboard.queue_rows import QueueFilter, filter_rows, queue_csv, queue_frame, queue_rows  # noqa: E402
from dashboard.settings import DashboardSettings  # noqa: E402
from dashboard.transcript import transcript_entries, transcript_json, transcript_markdown  # noqa: E402
from handoff.record import HANDOFF_LABEL, METADATA_KEY  # noqa: E402
from tests.support.agent_process import AgentProcess  # noqa: E402
from tests.support.chat import AGENT_ID  # noqa: E402

APP = str(REPO_ROOT / "dashboard" / "app.py")
TARGET_S = 2.0
CONCURRENCY = 32
REASONS = [
    "customer asked for a human",
    "claim dispute",
    "legal question",
    "angry customer",
    "billing error",
    "policy cancellation",
]
STATUSES = ["waiting", "claimed", "returned", "resolved"]
T = TypeVar("T")


def record(i: int, now: datetime) -> dict[str, Any]:
    requested = now - timedelta(minutes=7 * i % 20_000)
    status = STATUSES[i % 4]
    rec: dict[str, Any] = {
        "status": status,
        "reason": REASONS[i % len(REASONS)],
        "requested_at": requested.isoformat(),
        "slack": {"state": "disabled"},
    }
    if status != "waiting":
        rec["claimed_by"] = {"id": f"dashboard:op{i % 7}", "name": f"Operator {i % 7}"}
        rec["claimed_at"] = (requested + timedelta(seconds=30 + i % 600)).isoformat()
        rec["first_human_reply_at"] = (requested + timedelta(seconds=60 + i % 900)).isoformat()
    if status == "returned":
        rec["returned_at"] = (requested + timedelta(minutes=20)).isoformat()
    return rec


async def retrying(call: Callable[[], Awaitable[T]], attempts: int = 4) -> T:
    """A loaded server closes idle keep-alive connections; a request caught by that is retried.
    A retried create may leave a duplicate session, which only makes the queue longer."""
    for attempt in range(attempts):
        try:
            return await call()
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


async def fill(url: str, sessions: int, messages: int) -> str:
    """Creates the escalated sessions and one long transcript; returns that session's id."""
    now = datetime.now(UTC)
    gate = asyncio.Semaphore(CONCURRENCY)
    api = AsyncParlantClient(base_url=url, timeout=120)

    async def create(i: int) -> str:
        async with gate:
            created = await retrying(
                lambda: api.sessions.create(
                    agent_id=AGENT_ID,
                    customer_id="guest",
                    labels=[HANDOFF_LABEL],
                    metadata={METADATA_KEY: record(i, now)},
                )
            )
            return created.id

    ids = await asyncio.gather(*(create(i) for i in range(sessions)))
    long_one = ids[0]
    await api.sessions.update(long_one, mode="manual")  # customer messages must not wake the AI

    async def post(i: int) -> None:
        async with gate:
            if i % 2:
                await retrying(
                    lambda: api.sessions.create_event(
                        long_one,
                        kind="message",
                        source="human_agent",
                        message=f"Operator reply {i}: checking your claim now.",
                        participant=Participant(id="dashboard:op1", display_name="Operator 1"),
                    )
                )
            else:
                await retrying(
                    lambda: api.sessions.create_event(
                        long_one,
                        kind="message",
                        source="customer",
                        message=f"Customer message {i} about the dent in my car door.",
                    )
                )

    await asyncio.gather(*(post(i) for i in range(messages)))
    return long_one


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Median wall time over `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def app_run(session_id: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if session_id:
        at.query_params["session"] = session_id
    at.run()
    assert not at.exception, at.exception
    return at


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="dashboard-bench-")) / "parlant"
    agent = AgentProcess(home=home, extra_env={"PARLANT_SESSION_STORE": "transient"}).start()
    try:
        start = time.perf_counter()
        long_one = asyncio.run(fill(agent.url, args.sessions, args.messages))
        print(
            f"filled {args.sessions} sessions and {args.messages} messages in "
            f"{time.perf_counter() - start:.1f} s (not part of the table)\n",
            file=sys.stderr,
        )

        os.environ.update(PARLANT_URL=agent.url, DOTENV_PATH=str(home.parent / "no.env"))
        os.environ.pop("DASHBOARD_PASSWORD", None)
        settings = DashboardSettings.from_env()
        now = datetime.now(UTC)
        rows_table: list[tuple[str, float]] = []

        def uncached_escalations() -> list[Any]:
            data.escalations.clear()
            return data.escalations(settings)

        t, escalations = timed(uncached_escalations)
        assert len(escalations) >= args.sessions
        rows_table.append(
            (f"queue: read {len(escalations)} sessions from Parlant (one labelled list call)", t)
        )
        t, rows = timed(lambda: queue_rows(escalations, now, settings.session_page_url))
        rows_table.append(("queue: rows, sorted (pure)", t))
        t, _ = timed(
            lambda: (
                filter_rows(rows, QueueFilter(statuses=frozenset({"waiting", "claimed"}))),
                queue_frame(rows),
            )
        )
        rows_table.append(("queue: filter + table frame (pure)", t))
        t, _ = timed(lambda: queue_csv(rows))
        rows_table.append(("queue: CSV export (pure)", t))

        def cold_queue_page() -> AppTest:
            st.cache_data.clear()
            st.cache_resource.clear()
            return app_run()

        t, at = timed(cold_queue_page)
        assert len(at.dataframe[0].value) > 0
        rows_table.append(("queue page, AppTest run, cold cache (read + render)", t))
        t, _ = timed(lambda: at.run())
        rows_table.append(("queue page, AppTest rerun, warm cache (live refresh)", t))

        t, events = timed(lambda: data.events_since(settings, long_one, 0))
        rows_table.append((f"transcript: read {len(events)} events from Parlant", t))
        t, entries = timed(lambda: transcript_entries(events))
        rows_table.append(("transcript: entries with labels (pure)", t))
        t, _ = timed(
            lambda: (
                transcript_markdown(long_one, {}, entries),
                transcript_json(long_one, {}, events),
            )
        )
        rows_table.append(("transcript: Markdown + JSON export (pure)", t))
        t, session_at = timed(lambda: app_run(long_one))
        assert len(session_at.chat_message) == 100
        rows_table.append(
            ("session page, AppTest run, first load (read all + render newest 100)", t)
        )
        t, _ = timed(lambda: session_at.run())
        rows_table.append(("session page, AppTest rerun (live refresh: only new events)", t))
    finally:
        agent.stop()

    width = max(len(name) for name, _ in rows_table)
    print(f"{'measurement'.ljust(width)} | median s | ≤ {TARGET_S:.0f} s")
    print(f"{'-' * width}-|----------|------")
    for name, seconds in rows_table:
        print(f"{name.ljust(width)} | {seconds:8.3f} | {'yes' if seconds <= TARGET_S else 'NO'}")
    return 0 if all(seconds <= TARGET_S for _, seconds in rows_table) else 1


if __name__ == "__main__":
    sys.exit(main())
