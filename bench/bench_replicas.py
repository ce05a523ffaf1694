"""Replica benchmark: relay and mirror latency with 2 agents + 2 bridges on PostgreSQL behind
HAProxy, beside 1 agent + 1 bridge on SQLite, in the same run.

Every process is real: `python -m agent` (offline NLP), `python -m slack_bridge` in HTTP mode,
Debian's HAProxy in front of the agents and of the bridges (tests/support/haproxy.py), a
throwaway PostgreSQL cluster (tests/support/postgres.py) and the project's fake Slack. Targets
are read off the table, not asserted.

- relay: a signed operator reply POSTed to the bridges' address → the event stored in Parlant
  (its creation_utc). Includes the outbox's settling window (BRIDGE_REPLY_SETTLE_SECONDS, the
  product's default 1 s unless --settle-seconds says otherwise), the same in both set-ups.
- mirror: a customer message stored in Parlant (creation_utc) → the fake Slack receives the
  thread post from the replica holding the session's lease.
- chaos: a few short seeds of the randomized fault run (tests/support/chaos.py, `make chaos`
  runs ten long ones): 2 agents + 2 Socket Mode bridges on PostgreSQL, agents and bridges
  SIGKILLed at random and database connections cut while customers and two operators per
  thread write; the checker's table (tests/support/chaos_check.py) and its totals: lost,
  duplicated and reordered customer messages and operator replies, roots, failed requests,
  unanswered turns, the slowest takeover. `--chaos-seeds 0` leaves it out.

    .venv/bin/python bench/bench_replicas.py [--samples 100] [--sessions 20] [--replicas 2]
        [--settle-seconds 1] [--chaos-seeds 2] [--chaos-load-seconds 20] [--chaos-only]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PARLANT_HOME", tempfile.mkdtemp(prefix="bench-import-"))
# Ports from a slice of their own (tests/support/agent_process.py free_port), not the first
# test worker's: a chaos seed restarts a killed replica on its port, and a test suite running
# beside could take it meanwhile (scripts/chaos.py uses gw7).
os.environ.setdefault("PYTEST_XDIST_WORKER", "gw6")

import httpx

from bench import probes
from bench.bench_bridge import escalate, percentile, table, wait_until
from tests.fakes import FakeSlack, FakeSlackThread, RateLimits
from tests.support.agent_process import AgentProcess, free_port
from tests.support.bridge_process import BridgeProcess
from tests.support.chaos import ChaosSettings, describe, run_seed
from tests.support.chaos_check import format_table, totals_row
from tests.support.haproxy import Backend, LoadBalancer
from tests.support.postgres import PostgresCluster, postgres_bin_dir
from tests.support.slack_world import SIGNING_SECRET

# Short enough that a bench run never waits long on a lease, as in the failover test.
LEASE_SECONDS = "5"


def bridge_healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Topology:
    """One set-up: N agents and N bridges, on SQLite (N = 1) or PostgreSQL behind HAProxy."""

    label: str
    root: Path
    replicas: int
    postgres: bool
    settle_s: float
    slack: FakeSlackThread = field(init=False)
    channel: str = field(init=False)
    operator: str = field(init=False)
    agents: list[AgentProcess] = field(default_factory=list)
    bridges: list[BridgeProcess] = field(default_factory=list)
    balancers: list[LoadBalancer] = field(default_factory=list)
    cluster: PostgresCluster | None = None
    parlant_url: str = ""
    events_url: str = ""

    def start(self) -> Topology:
        # Replica overhead and takeover, not Slack's pace: the fake's rate limits are off.
        self.slack = FakeSlack(limits=RateLimits(enabled=False)).run_in_thread()
        self.channel = self.slack.call(self.slack.fake.add_channel, "escalations")
        self.operator = self.slack.call(self.slack.fake.add_user, "dana", display_name="Dana")
        env = {
            "SLACK_BOT_TOKEN": self.slack.fake.bot_token,
            "SLACK_ESCALATION_CHANNEL": self.channel,
            "SLACK_API_URL": self.slack.api_url,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_POSTS_PER_SECOND": "0",  # unpaced: the fake has no rate limits here
            "BRIDGE_REPLY_SETTLE_SECONDS": f"{self.settle_s:g}",
        }
        bridge_env: dict[str, str] = {}
        if self.postgres:
            bin_dir = postgres_bin_dir()
            if bin_dir is None:
                raise SystemExit("PostgreSQL is not installed: bash scripts/ensure_postgres.sh")
            self.cluster = PostgresCluster(bin_dir).start()
            url = self.cluster.create_database("bench_replicas")
            env["PARLANT_SESSION_STORE"] = url
            bridge_env = {"BRIDGE_STATE_URL": url, "BRIDGE_LEASE_SECONDS": LEASE_SECONDS}
        for i in range(self.replicas):
            home = self.root / f"agent-{i}" / "parlant"
            self.agents.append(AgentProcess(home=home, extra_env=env).start())
        if self.postgres:
            agents = LoadBalancer([Backend(f"agent{i}", a.port) for i, a in enumerate(self.agents)])
            self.balancers.append(agents.start())
            self.parlant_url = agents.url
        else:
            self.parlant_url = self.agents[0].url
        for i in range(self.replicas):
            overrides = {**env, **bridge_env, "PARLANT_URL": self.parlant_url}
            if self.postgres:
                overrides["BRIDGE_REPLICA_ID"] = f"bench-bridge-{i}"
            port = free_port()
            bridge = BridgeProcess(
                workdir=self.root / f"bridge-{i}",
                env_overrides=overrides,
                ready=lambda port=port: bridge_healthy(port),  # type: ignore[misc]
                port=port,
            )
            self.bridges.append(bridge.start())
        if self.postgres:
            bridges = LoadBalancer(
                [Backend(f"bridge{i}", b.port) for i, b in enumerate(self.bridges)],
                health_path="/healthz",
                name="bridges",
            )
            self.balancers.append(bridges.start())
            self.events_url = f"{bridges.url}/slack/events"
        else:
            self.events_url = f"http://127.0.0.1:{self.bridges[0].port}/slack/events"
        return self

    def close(self) -> None:
        for balancer in self.balancers:
            balancer.stop()
        for bridge in self.bridges:
            bridge.stop()
        for agent in self.agents:
            agent.stop()
        if self.cluster is not None:
            self.cluster.stop()
        self.slack.stop()

    def roots(self) -> dict[str, str]:
        return probes.roots(self.slack, self.channel)


def mirror_latency(top: Topology, sessions: list[str], samples: int) -> tuple[list[float], int]:
    """Latencies, and how many messages were posted more than once (must be 0)."""
    stored_at = asyncio.run(probes.write_customer_messages(top.parlant_url, sessions, samples))
    wait_until(
        lambda: set(stored_at) <= set(probes.post_times(top.slack)), 120, "every mirrored post"
    )
    time.sleep(1)  # a duplicate would come within a discovery round
    posted = probes.post_times(top.slack)
    duplicates = sum(1 for e in stored_at if len(posted[e]) > 1)
    return [max(0.0, (posted[e][0] - t) * 1000) for e, t in stored_at.items()], duplicates


def measure(top: Topology, sessions: int, samples: int) -> list[list[str]]:
    started = time.monotonic()
    escalated = asyncio.run(escalate(top.parlant_url, sessions))
    wait_until(lambda: len(top.roots()) >= sessions, 300, f"{sessions} root messages")
    time.sleep(3)  # followers start on the next discovery round
    print(
        f"{top.label}: {sessions} sessions escalated in {time.monotonic() - started:.1f}s",
        flush=True,
    )
    roots = top.roots()
    relayed, _ = asyncio.run(
        probes.relay_latency(
            top.slack,
            top.channel,
            top.operator,
            top.parlant_url,
            top.events_url,
            escalated[0],
            roots[escalated[0]],
            samples,
        )
    )
    mirrored, duplicates = mirror_latency(top, escalated, samples)
    return [
        [
            top.label,
            "relay",
            f"{statistics.median(relayed):.1f}",
            f"{percentile(relayed, 99):.1f}",
            "",
        ],
        [
            top.label,
            "mirror",
            f"{statistics.median(mirrored):.1f}",
            f"{percentile(mirrored, 99):.1f}",
            str(duplicates),
        ],
    ]


def chaos(seeds: int, load_s: float) -> None:
    """A few short chaos seeds and the checker's totals; a set-up that failed (before any
    fault) is said and not counted."""
    rows: list[list[str]] = []
    problems: list[str] = []
    for seed in range(1, seeds + 1):
        began = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"bench-chaos-{seed}-") as workdir:
            try:
                result = run_seed(
                    ChaosSettings(
                        seed=seed,
                        customers=4,
                        load_s=load_s,
                        drain_s=45.0,
                        workdir=Path(workdir),
                    )
                )
            except (RuntimeError, TimeoutError) as error:
                print(f"chaos seed {seed}: set-up failed, not counted: {error}"[:300], flush=True)
                continue
        rows.append(result.row())
        print(f"chaos seed {seed} done in {time.monotonic() - began:.0f}s", flush=True)
        if not result.verdict.ok:
            problems.append(describe(result))
    if not rows:
        return
    print(
        f"\nChaos: {len(rows)} seed(s) of {load_s:g} s, 4 customers, 2 operators per thread, "
        f"lease {ChaosSettings(seed=0).lease_s:g} s (takeover bound "
        f"{ChaosSettings(seed=0).takeover_bound_s:g} s)"
    )
    print(format_table([*rows, totals_row(rows)]))
    for text in problems:
        print("\n" + text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--replicas", type=int, default=2, help="agents and bridges on PostgreSQL")
    parser.add_argument(
        "--settle-seconds", type=float, default=1.0, help="BRIDGE_REPLY_SETTLE_SECONDS"
    )
    parser.add_argument("--chaos-seeds", type=int, default=2)
    parser.add_argument("--chaos-load-seconds", type=float, default=20.0)
    parser.add_argument("--chaos-only", action="store_true", help="the chaos seeds alone")
    args = parser.parse_args()
    if args.chaos_only:
        chaos(args.chaos_seeds, args.chaos_load_seconds)
        return
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
        for label, replicas, postgres in (
            ("1+1 SQLite", 1, False),
            (f"{args.replicas}+{args.replicas} PostgreSQL", args.replicas, True),
        ):
            top = Topology(
                label, Path(tmp) / label.split()[0], replicas, postgres, args.settle_seconds
            )
            try:
                rows += measure(top.start(), args.sessions, args.samples)
            finally:
                top.close()
    table(
        f"Relay (operator reply → stored in Parlant) and mirror (customer message stored → posted "
        f"in the thread), ms, {args.samples} samples each, {args.sessions} escalated sessions, "
        f"reply settling window {args.settle_seconds:g} s",
        ["set-up", "path", "p50", "p99", "posted twice"],
        rows,
    )
    chaos(args.chaos_seeds, args.chaos_load_seconds)


if __name__ == "__main__":
    main()
